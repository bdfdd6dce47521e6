package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zkgo/zkgo/decode"
)

func init() {
	register("decode", "decode [flags] <capture|->: decode client, quorum and election traffic from a pcap/pcapng capture", runDecode)
}

const decodeUsage = `usage: zkgo decode [flags] <capture.pcap|capture.pcapng|record.jsonl|->

Decodes ZooKeeper traffic in a capture: the client protocol, the
leader/learner (quorum) channel and the election channel. It also reads
the JSON-lines file written by 'zkgo proxy --record'. "-" reads
standard input, so a live capture can be piped in:

  tcpdump -i any -w - 'port 2181 or port 2888 or port 3888' | zkgo decode -

Flags may come before or after the file.
`

// portList is a repeatable, comma-separated list of ports.
type portList []uint16

func (p *portList) String() string {
	s := make([]string, len(*p))
	for i, v := range *p {
		s[i] = strconv.Itoa(int(v))
	}
	return strings.Join(s, ",")
}

func (p *portList) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.ParseUint(f, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("bad port %q", f)
		}
		*p = append(*p, uint16(n))
	}
	return nil
}

// strList is a repeatable, comma-separated list.
type strList []string

func (s *strList) String() string { return strings.Join(*s, ",") }

func (s *strList) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			*s = append(*s, f)
		}
	}
	return nil
}

func runDecode(args []string) int {
	fs := flag.NewFlagSet("decode", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, decodeUsage)
		fmt.Fprintln(os.Stderr, "\nflags:")
		fs.PrintDefaults()
	}
	var clientPorts, quorumPorts, electionPorts portList
	var sessions, ops, channels strList
	fs.Var(&clientPorts, "client-port", "client port(s), comma-separated or repeated (default: detect by content, then 2181)")
	fs.Var(&quorumPorts, "quorum-port", "leader/learner port(s) (default: detect by content, then 2888)")
	fs.Var(&electionPorts, "election-port", "election port(s) (default: detect by content, then 3888)")
	noWellKnown := fs.Bool("no-default-ports", false, "do not fall back to 2181/2888/3888 when content does not tell the channel")
	verbose := fs.Bool("V", false, "print every field of every message as a tree")
	asJSON := fs.Bool("json", false, "JSON lines (one object per message; with --stats the report is the last line)")
	quiet := fs.Bool("q", false, "do not print messages (use with --stats)")
	stats := fs.Bool("stats", false, "print statistics at the end (of the messages that pass the filters): per-op counts and latency, top paths, errors, sessions, syncs, elections")
	top := fs.Int("top", 10, "number of paths in the --stats top paths")
	absTime := fs.Bool("abs-time", false, "print capture times instead of seconds since the first packet")
	fs.Var(&sessions, "session", "only messages of these session ids (hex 0x... or decimal)")
	pathPrefix := fs.String("path", "", "only messages whose path starts with this prefix")
	fs.Var(&ops, "op", "only these message types: client opcodes (create), quorum packets (PROPOSAL), notification, ...")
	zxid := fs.String("zxid", "", "only messages whose zxid is in the range A:B (inclusive; hex 0x... or decimal; A: or :B open)")
	fs.Var(&channels, "channel", "only these channels: client, quorum, election")
	maxFrame := fs.Int("max-frame", decode.DefaultMaxFrame, "largest client frame accepted, in bytes")
	maxFlows := fs.Int("max-flows", decode.DefaultMaxFlows, "TCP connections kept open at once; past it the least recently active one is closed (noted)")
	flowIdle := fs.Duration("flow-idle", decode.DefaultFlowIdle, "close a connection with no packet for this long in capture time (noted)")
	maxHeld := fs.Int64("max-held", decode.DefaultMaxHeld, "bytes all connections may hold for decoding (partial messages, pending requests); past it the largest holder is dropped (noted)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the decoding to this file")
	wiresharkLua := fs.Bool("wireshark-lua", false, "print a Wireshark Lua dissector for the three channels (generated from the record schema) and exit")

	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if *wiresharkLua {
		if _, err := os.Stdout.Write(decode.WiresharkLua()); err != nil {
			fmt.Fprintf(os.Stderr, "zkgo decode: %v\n", err)
			return 1
		}
		return 0
	}
	if len(files) != 1 {
		fs.Usage()
		return 2
	}
	var filter decode.Filter
	filter.PathPrefix = *pathPrefix
	filter.Ops = ops
	for _, s := range sessions {
		id, err := decode.ParseSessionID(s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "zkgo decode: bad --session %q: %v\n", s, err)
			return 2
		}
		filter.Sessions = append(filter.Sessions, id)
	}
	for _, c := range channels {
		ch, ok := decode.ParseChannel(strings.ToLower(c))
		if !ok || ch == decode.ChannelUnknown {
			fmt.Fprintf(os.Stderr, "zkgo decode: bad --channel %q (client, quorum, election)\n", c)
			return 2
		}
		filter.Channels = append(filter.Channels, ch)
	}
	if *zxid != "" {
		lo, hi, err := decode.ParseZxidRange(*zxid)
		if err != nil {
			fmt.Fprintf(os.Stderr, "zkgo decode: bad --zxid %q: %v\n", *zxid, err)
			return 2
		}
		filter.ZxidMin, filter.ZxidMax, filter.HasZxid = lo, hi, true
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "zkgo decode:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "zkgo decode:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}

	var in io.Reader = os.Stdin
	if files[0] != "-" {
		f, err := os.Open(files[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, "zkgo decode:", err)
			return 1
		}
		defer f.Close()
		in = f
	}

	// The Printer buffers by itself; a live capture piped in gets its
	// messages shown as they come (unbuffered Printer, periodic flush).
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	var w io.Writer = out
	stopFlusher := func() {}
	live := files[0] == "-"
	if live {
		fw := &flushingWriter{w: out}
		stopFlusher = fw.start(250 * time.Millisecond)
		defer stopFlusher()
		w = fw
	}
	format := decode.FormatLine
	switch {
	case *asJSON:
		format = decode.FormatJSON
	case *verbose:
		format = decode.FormatTree
	}
	var printer *decode.Printer
	if live {
		printer = decode.NewPrinter(w, format, *absTime)
		printer.SetUnbuffered()
	} else {
		printer = decode.NewPrinter(os.Stdout, format, *absTime)
	}
	var st *decode.Stats
	if *stats {
		st = decode.NewStats()
	}
	all := filter.Empty()
	sink := func(m *decode.Message) {
		if !all && !filter.Match(m) {
			return
		}
		if st != nil {
			st.Add(m)
		}
		if !*quiet {
			printer.Message(m)
		}
	}
	d := decode.New(decode.Config{
		ClientPorts:      clientPorts,
		QuorumPorts:      quorumPorts,
		ElectionPorts:    electionPorts,
		NoWellKnownPorts: *noWellKnown,
		MaxFrame:         *maxFrame,
		MaxFlows:         *maxFlows,
		FlowIdle:         *flowIdle,
		MaxHeld:          *maxHeld,
	}, sink)
	// A --record file of `zkgo proxy` (JSON lines) or a capture.
	br := bufio.NewReaderSize(in, 1<<20)
	var capStats decode.CaptureStats
	var err error
	if first, perr := br.Peek(1); perr == nil && decode.LooksLikeRecord(first) {
		_, err = d.ReadRecord(br)
	} else {
		capStats, err = d.ReadCapture(br)
	}
	perr := printer.Flush()
	if err != nil {
		stopFlusher()
		out.Flush()
		fmt.Fprintln(os.Stderr, "zkgo decode:", err)
		return 1
	}
	if st != nil {
		rep := st.Report(d.Counts(), &capStats, *top)
		if *asJSON {
			b, err := json.Marshal(struct {
				Stats *decode.Report `json:"stats"`
			}{rep})
			if err == nil {
				w.Write(append(b, '\n'))
			}
		} else {
			if !*quiet {
				io.WriteString(w, "\n")
			}
			_ = rep.WriteText(w)
		}
	}
	stopFlusher()
	if perr != nil {
		fmt.Fprintln(os.Stderr, "zkgo decode:", perr)
		return 1
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "zkgo decode:", err)
		return 1
	}
	c := d.Counts()
	if c.Undecodable > 0 || capStats.Err != nil {
		fmt.Fprintf(os.Stderr, "zkgo decode: %d undecodable message(s)\n", c.Undecodable)
	}
	if capStats.Clamped > 0 || capStats.SnapLens > 0 {
		fmt.Fprintf(os.Stderr, "zkgo decode: %d packet record(s) cut to %d bytes, %d snap length(s) clamped\n",
			capStats.Clamped, decode.MaxSnapLen, capStats.SnapLens)
	}
	if capStats.Evicted > 0 || c.Shed > 0 {
		fmt.Fprintf(os.Stderr, "zkgo decode: %d connection(s) closed at --max-flows, %d dropped at --max-held\n",
			capStats.Evicted, c.Shed)
	}
	if c.TLSConns > 0 {
		fmt.Fprintf(os.Stderr, "zkgo decode: %d TLS connection(s) (%d bytes) not decoded: their traffic is encrypted\n",
			c.TLSConns, c.TLSBytes)
	}
	if c.RecordDropped > 0 {
		fmt.Fprintf(os.Stderr, "zkgo decode: the record lacks %d frames its proxy dropped (queue or file full)\n", c.RecordDropped)
	}
	return 0
}

// flushingWriter flushes a bufio.Writer periodically, so that output of a
// piped live capture appears while the capture runs.
type flushingWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (f *flushingWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.w.Write(p)
}

func (f *flushingWriter) start(every time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				f.mu.Lock()
				_ = f.w.Flush()
				f.mu.Unlock()
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}
