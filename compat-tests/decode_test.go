package compattest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/decode"
	"github.com/zkgo/zkgo/internal/rawzk"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// `zkgo decode` on real traffic: Java ZooKeeper 3.8 servers are captured
// with tcpdump/tshark on the loopback interface while a workload runs; the
// decoder must decode every message of every channel (no undecodable
// bytes, no lost framing), pair every reply, and its statistics must
// equal what the workload counted on its side.

// decodeOut is what `zkgo decode --json --stats` printed.
type decodeOut struct {
	file  string
	msgs  []map[string]any
	stats decodeStats
	raw   string
}

type decodeStats struct {
	Capture struct {
		Format    string   `json:"format"`
		LinkTypes []string `json:"link_types"`
		Packets   int64    `json:"packets"`
		Error     string   `json:"error"`
	} `json:"capture"`
	Messages struct {
		Total, Undecodable, Notes, Resyncs, Gaps int64
	} `json:"messages"`
	Connections map[string]int64 `json:"connections"`
	Ops         []struct {
		Op       string  `json:"op"`
		Requests int64   `json:"requests"`
		Replies  int64   `json:"replies"`
		Errors   int64   `json:"errors"`
		P50us    float64 `json:"p50_us"`
		MaxUs    float64 `json:"max_us"`
	} `json:"ops"`
	Errors []struct {
		Name  string `json:"name"`
		Count int64  `json:"count"`
	} `json:"errors"`
	Sessions []struct {
		Session     string `json:"session"`
		Connections int64  `json:"connections"`
		Requests    int64  `json:"requests"`
		Closed      bool   `json:"closed"`
	} `json:"sessions"`
	WatchEvents map[string]int64 `json:"watch_events"`
	FourLetter  map[string]int64 `json:"four_letter_words"`
	Connects    int64            `json:"connects"`
	Unpaired    int64            `json:"unpaired_replies"`
	Unanswered  int64            `json:"unanswered_requests"`
	Quorum      map[string]int64 `json:"quorum_packets"`
	Proposals   map[string]int64 `json:"proposals_by_txn"`
	Forwarded   map[string]int64 `json:"forwarded_requests"`
	SyncModes   map[string]int64 `json:"sync_modes"`
	Syncs       []struct {
		Learner  int64  `json:"learner"`
		Mode     string `json:"mode"`
		Snapshot *struct {
			Nodes     int64  `json:"nodes"`
			Sessions  int64  `json:"sessions"`
			Signature string `json:"signature"`
		} `json:"snapshot"`
	} `json:"syncs"`
	Notifications int64 `json:"notifications"`
	Elections     []struct {
		ElectionEpoch int64   `json:"election_epoch"`
		Notifications int64   `json:"notifications"`
		Senders       []int64 `json:"senders"`
		Leader        int64   `json:"leader"`
		Looking       []struct {
			Sid      int64 `json:"sid"`
			Instance int   `json:"instance"`
		} `json:"looking"`
	} `json:"elections"`
	PeerInstances map[string]int64 `json:"peer_instances"`
}

func (s *decodeStats) op(name string) (req, rep, errs int64) {
	for _, o := range s.Ops {
		if o.Op == name {
			return o.Requests, o.Replies, o.Errors
		}
	}
	return 0, 0, 0
}

// runDecode runs `zkgo decode --json --stats args... file`.
func runDecode(t *testing.T, file string, args ...string) decodeOut {
	t.Helper()
	bin := harness.BuildZkgo(t)
	cmd := exec.Command(bin, append(append([]string{"decode", "--json", "--stats"}, args...), file)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("zkgo decode %v: %v\n%s", args, err, stderr.String())
	}
	out := decodeOut{file: filepath.Base(file)}
	out.raw = stdout.String()
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.HasPrefix(line, []byte(`{"stats":`)) {
			var w struct {
				Stats decodeStats `json:"stats"`
			}
			if err := json.Unmarshal(line, &w); err != nil {
				t.Fatalf("stats line: %v\n%s", err, line)
			}
			out.stats = w.Stats
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("message line: %v\n%s", err, line)
		}
		out.msgs = append(out.msgs, m)
	}
	if out.stats.Capture.Format == "" {
		t.Fatalf("no stats line in the output")
	}
	return out
}

// requireClean fails unless every byte decoded: no undecodable message,
// no note (gap, resynchronisation), no capture error.
func requireClean(t *testing.T, out decodeOut) {
	t.Helper()
	requireCleanBut(t, out, nil)
}

// requireCleanBut is requireClean with the undecodable messages allow
// accepts (each is logged).
func requireCleanBut(t *testing.T, out decodeOut, allow func(m map[string]any) bool) {
	t.Helper()
	s := out.stats
	var bad, allowed []string
	for _, m := range out.msgs {
		if m["kind"] != "undecodable" && m["kind"] != "note" {
			continue
		}
		b, _ := json.Marshal(m)
		if allow != nil && m["kind"] == "undecodable" && allow(m) {
			allowed = append(allowed, string(b))
			continue
		}
		bad = append(bad, string(b))
	}
	if len(allowed) > 0 {
		t.Logf("%s: %d undecodable messages allowed:\n%s", out.file, len(allowed), strings.Join(allowed, "\n"))
	}
	if s.Messages.Undecodable != int64(len(allowed)) || s.Messages.Notes != 0 || s.Messages.Gaps != 0 || s.Capture.Error != "" || len(bad) > 0 {
		t.Fatalf("decode of %s was not clean: %+v capture error %q\n%s", out.file, s.Messages, s.Capture.Error, strings.Join(bad, "\n"))
	}
}

// javaElectionResetCut accepts what Java's election SendWorker leaves on
// an accepted connection its peer has just dropped (simultaneous dials):
// it writes a frame's 4-byte length and then the body in separate writes
// (an unbuffered stream), the peer answers the length with an RST, and the
// body is never sent. Only that: a cut of at most the length, on the
// election channel, that the decoder attributes to an RST.
func javaElectionResetCut(m map[string]any) bool {
	size, _ := m["size"].(float64)
	return m["channel"] == "election" && m["error"] == decode.ErrReset.Error() && size >= 1 && size <= 4
}

func portList(ports ...int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}

// clientWorkload counts, on the client's side, what it sent and received.
type clientWorkload struct {
	t        *testing.T
	requests map[string]int64 // by opcode name
	replies  map[string]int64
	errors   map[string]int64
	events   int64
	words    map[string]int64
	connects int64
	creates  []string // paths created
}

func newClientWorkload(t *testing.T) *clientWorkload {
	return &clientWorkload{t: t, requests: map[string]int64{}, replies: map[string]int64{}, errors: map[string]int64{}, words: map[string]int64{}}
}

func (w *clientWorkload) dial(addr string, opt rawzk.Options) *rawzk.Client {
	w.t.Helper()
	c, err := rawzk.Dial(addr, opt)
	if err != nil {
		w.t.Fatalf("dial %s: %v", addr, err)
	}
	w.connects++
	w.t.Cleanup(func() { c.Close() })
	return c
}

// send issues a request with xid and waits for its reply.
func (w *clientWorkload) send(c *rawzk.Client, xid wire.Xid, op wire.OpCode, body jute.Record) wire.ReplyHeader {
	w.t.Helper()
	ch, err := c.Send(xid, op, body)
	if err != nil {
		w.t.Fatalf("%s: %v", op, err)
	}
	w.requests[op.String()]++
	select {
	case r, ok := <-ch:
		if !ok {
			w.t.Fatalf("%s: connection closed: %v", op, c.Err())
		}
		w.replies[op.String()]++
		if r.Header.Err != wire.ErrOk {
			w.errors[op.String()]++
		}
		return r.Header
	case <-time.After(20 * time.Second):
		w.t.Fatalf("%s: no reply", op)
	}
	return wire.ReplyHeader{}
}

func (w *clientWorkload) do(c *rawzk.Client, op wire.OpCode, body jute.Record) wire.ReplyHeader {
	w.t.Helper()
	xid := c.NextXid()
	if op == wire.OpPing {
		xid = wire.XidPing
	}
	h := w.send(c, xid, op, body)
	if req, ok := body.(*wire.CreateRequest); ok && h.Err == wire.ErrOk && (op == wire.OpCreate || op == wire.OpCreate2 || op == wire.OpCreateContainer) {
		w.creates = append(w.creates, req.Path)
	}
	return h
}

func (w *clientWorkload) close(c *rawzk.Client) {
	w.t.Helper()
	w.do(c, wire.OpCloseSession, nil)
	w.countEvents(c)
	c.Close()
}

func (w *clientWorkload) countEvents(c *rawzk.Client) {
	for _, p := range c.Stream() {
		if p.Event != nil {
			w.events++
		}
	}
}

func (w *clientWorkload) fourLetter(addr, word string) {
	w.t.Helper()
	if _, err := harness.FourLetter(addr, word); err != nil {
		w.t.Fatalf("%s: %v", word, err)
	}
	w.words[word]++
}

var openACL = []wire.ACL{{Perms: int32(wire.PermAll), ID: wire.ID{Scheme: "world", ID: "anyone"}}}

// everyOpcode runs a workload that sends every opcode a client can send
// to a standalone server (sasl needs a SASL-enabled server; it is covered
// by the unit tests), with successes and failures, watch events, pings,
// auth and setWatches with the Java client's special xids, a connection
// without the readOnly byte and a session resumed on a second connection.
func (w *clientWorkload) everyOpcode(addr string) {
	c := w.dial(addr, rawzk.Options{TimeoutMs: 30000})
	data := []byte("decode-me")
	w.do(c, wire.OpCreate, &wire.CreateRequest{Path: "/dec", Data: data, ACL: openACL})
	w.do(c, wire.OpCreate, &wire.CreateRequest{Path: "/dec", Data: data, ACL: openACL}) // NODEEXISTS
	w.do(c, wire.OpCreate2, &wire.CreateRequest{Path: "/dec/c2", Data: data, ACL: openACL})
	w.do(c, wire.OpCreateContainer, &wire.CreateRequest{Path: "/dec/box", ACL: openACL, Flags: int32(wire.ModeContainer)})
	w.do(c, wire.OpCreateTTL, &wire.CreateTTLRequest{Path: "/dec/ttl", Data: data, ACL: openACL, Flags: int32(wire.ModePersistentWithTTL), TTL: 600000})
	w.do(c, wire.OpCreate, &wire.CreateRequest{Path: "/dec/eph", ACL: openACL, Flags: int32(wire.ModeEphemeral)})
	w.do(c, wire.OpCreate, &wire.CreateRequest{Path: "/dec/seq-", ACL: openACL, Flags: int32(wire.ModePersistentSequential)})
	w.do(c, wire.OpExists, &wire.ExistsRequest{Path: "/dec", Watch: true})
	w.do(c, wire.OpExists, &wire.ExistsRequest{Path: "/nope"}) // NONODE
	w.do(c, wire.OpGetData, &wire.GetDataRequest{Path: "/dec", Watch: true})
	w.do(c, wire.OpGetData, &wire.GetDataRequest{Path: "/nope"})
	w.do(c, wire.OpSetData, &wire.SetDataRequest{Path: "/dec", Data: []byte("changed"), Version: -1}) // fires the watches
	w.do(c, wire.OpSetData, &wire.SetDataRequest{Path: "/dec", Data: data, Version: 99})              // BADVERSION
	w.do(c, wire.OpGetACL, &wire.GetACLRequest{Path: "/dec"})
	w.do(c, wire.OpSetACL, &wire.SetACLRequest{Path: "/dec/c2", ACL: openACL, Version: -1})
	w.do(c, wire.OpGetChildren, &wire.GetChildrenRequest{Path: "/dec", Watch: true})
	w.do(c, wire.OpGetChildren2, &wire.GetChildren2Request{Path: "/dec"})
	w.do(c, wire.OpSync, &wire.SyncRequest{Path: "/dec"})
	w.do(c, wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
		{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/dec/m", Data: data, ACL: openACL}},
		{Type: wire.OpSetData, Op: &wire.SetDataRequest{Path: "/dec/m", Data: data, Version: 0}},
		{Type: wire.OpCheck, Op: &wire.CheckVersionRequest{Path: "/dec/m", Version: 1}},
		{Type: wire.OpDelete, Op: &wire.DeleteRequest{Path: "/dec/m", Version: -1}},
	}})
	w.do(c, wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
		{Type: wire.OpCheck, Op: &wire.CheckVersionRequest{Path: "/nope", Version: 0}},
		{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/dec/never", ACL: openACL}},
	}}) // fails as a whole
	w.do(c, wire.OpMultiRead, &wire.MultiRequest{Ops: []wire.MultiOp{
		{Type: wire.OpGetChildren, Op: &wire.GetChildrenRequest{Path: "/dec"}},
		{Type: wire.OpGetData, Op: &wire.GetDataRequest{Path: "/dec"}},
		{Type: wire.OpGetData, Op: &wire.GetDataRequest{Path: "/nope"}},
	}})
	w.do(c, wire.OpReconfig, &wire.ReconfigRequest{JoiningServers: "", LeavingServers: "2", NewMembers: "", CurConfigID: -1})
	w.do(c, wire.OpGetData, &wire.GetDataRequest{Path: "/dec", Watch: true})
	w.do(c, wire.OpCheckWatches, &wire.CheckWatchesRequest{Path: "/dec", Type: wire.WatcherData})
	w.do(c, wire.OpRemoveWatches, &wire.RemoveWatchesRequest{Path: "/dec", Type: wire.WatcherData})
	w.do(c, wire.OpCheckWatches, &wire.CheckWatchesRequest{Path: "/dec", Type: wire.WatcherData}) // NOWATCHER
	w.do(c, wire.OpAddWatch, &wire.AddWatchRequest{Path: "/dec", Mode: wire.AddWatchPersistentRecursive})
	w.do(c, wire.OpCreate, &wire.CreateRequest{Path: "/dec/watched", ACL: openACL}) // event for the recursive watch
	w.do(c, wire.OpGetEphemerals, &wire.GetEphemeralsRequest{PrefixPath: "/dec"})
	w.do(c, wire.OpGetAllChildrenNumber, &wire.GetAllChildrenNumberRequest{Path: "/dec"})
	w.do(c, wire.OpWhoAmI, nil)
	w.send(c, wire.XidAuth, wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("decoder:secret")})
	w.do(c, wire.OpWhoAmI, nil)
	w.send(c, wire.XidSetWatches, wire.OpSetWatches, &wire.SetWatches{RelativeZxid: 1, DataWatches: []string{"/dec"}, ExistWatches: []string{"/nope"}, ChildWatches: []string{}})
	w.send(c, wire.XidSetWatches, wire.OpSetWatches2, &wire.SetWatches2{RelativeZxid: 1, DataWatches: []string{}, ExistWatches: []string{},
		ChildWatches: []string{"/dec"}, PersistentWatches: []string{"/dec/c2"}, PersistentRecursiveWatches: []string{}})
	for range 3 {
		w.do(c, wire.OpPing, nil)
	}
	w.do(c, wire.OpDelete, &wire.DeleteRequest{Path: "/dec", Version: -1}) // NOTEMPTY
	w.do(c, wire.OpDelete, &wire.DeleteRequest{Path: "/dec/c2", Version: -1})
	w.close(c)

	// A client without the readOnly byte (go-zookeeper's form), whose
	// session then moves to a second connection.
	b := w.dial(addr, rawzk.Options{TimeoutMs: 20000, NoReadOnly: true})
	for range 5 {
		w.do(b, wire.OpGetData, &wire.GetDataRequest{Path: "/dec/box"})
	}
	w.countEvents(b)
	b.Close()
	b2 := w.dial(addr, rawzk.Options{TimeoutMs: 20000, SessionID: b.SessionID(), Passwd: b.Connect.Passwd, ReadOnly: true})
	if b2.SessionID() != b.SessionID() {
		w.t.Fatalf("session not resumed: %#x vs %#x", b2.SessionID(), b.SessionID())
	}
	w.do(b2, wire.OpExists, &wire.ExistsRequest{Path: "/dec"})
	w.close(b2)

	for _, word := range []string{"ruok", "srvr", "stat", "conf", "cons", "envi", "mntr", "dirs", "wchs", "isro"} {
		w.fourLetter(addr, word)
	}
	w.reusedPort(addr)
}

// reusedPort sends two four-letter words from one local port. The server
// closes such a connection first, so the second SYN finds its side in
// TIME_WAIT: Linux takes it and starts the new connection 65535+2 past the
// old sequence numbers, after the old connection's final ACK. The decoder
// must see two connections, not one with a gap.
func (w *clientWorkload) reusedPort(addr string) {
	w.t.Helper()
	port := harness.FreePort(w.t)
	d := net.Dialer{
		Timeout:   2 * time.Second,
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port},
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
			})
			if err != nil {
				return err
			}
			return serr
		},
	}
	for i := range 2 {
		var c net.Conn
		var err error
		// The port is free once the server's FIN has been answered; the
		// client's own socket may still be closing for a moment.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if c, err = d.DialContext(context.Background(), "tcp", addr); err == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			w.t.Fatalf("ruok %d from port %d: %v", i+1, port, err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Write([]byte("ruok"))
		var reply bytes.Buffer
		if err == nil {
			_, err = reply.ReadFrom(c)
		}
		_ = c.Close()
		if err != nil || reply.String() != "imok" {
			w.t.Fatalf("ruok %d from port %d: %q %v", i+1, port, reply.String(), err)
		}
		w.words["ruok"]++
	}
}

// compareClientStats checks the decoder's per-op counts against the
// workload's own.
func compareClientStats(t *testing.T, w *clientWorkload, s decodeStats) {
	t.Helper()
	ops := map[string]bool{}
	for op := range w.requests {
		ops[op] = true
	}
	for _, o := range s.Ops {
		ops[o.Op] = true
	}
	var names []string
	for op := range ops {
		names = append(names, op)
	}
	sort.Strings(names)
	for _, op := range names {
		req, rep, errs := s.op(op)
		if req != w.requests[op] || rep != w.replies[op] || errs != w.errors[op] {
			t.Errorf("%s: decoded %d requests, %d replies, %d errors; the workload sent %d, got %d replies, %d errors",
				op, req, rep, errs, w.requests[op], w.replies[op], w.errors[op])
		}
	}
	var events int64
	for _, n := range s.WatchEvents {
		events += n
	}
	if events != w.events {
		t.Errorf("decoded %d watch events, the workload received %d", events, w.events)
	}
	for word, n := range w.words {
		if s.FourLetter[word] != n {
			t.Errorf("4lw %s: decoded %d, sent %d", word, s.FourLetter[word], n)
		}
	}
	if s.Connects != w.connects || s.Unpaired != 0 || s.Unanswered != 0 {
		t.Errorf("connects %d (want %d), unpaired replies %d, unanswered requests %d", s.Connects, w.connects, s.Unpaired, s.Unanswered)
	}
}

// TestCompat_DecodeStandalone captures a standalone Java server under a
// workload that sends every client opcode and decodes the capture: by
// configured port and by content, in the one-line, tree and JSON forms,
// from pcap (tcpdump) and pcapng (tshark) files, with Ethernet (lo) and
// Linux cooked (any) headers.
func TestCompat_DecodeStandalone(t *testing.T) {
	if testing.Short() {
		t.Skip("compat test")
	}
	zk := harness.StartJavaZK(t, harness.JavaOptions{Heap: "256m", SysProp: map[string]string{"zookeeper.extendedTypesEnabled": "true"}})
	pcap := harness.StartCapture(t, harness.CaptureOptions{Tool: "tcpdump", Ports: []int{zk.Port}})
	pcapng := harness.StartCapture(t, harness.CaptureOptions{Tool: "tshark", Ports: []int{zk.Port}})
	cooked := harness.StartCapture(t, harness.CaptureOptions{Tool: "tcpdump", Iface: "any", Ports: []int{zk.Port}}) // Linux cooked headers
	for _, c := range []*harness.Capture{pcap, pcapng, cooked} {
		keepCapture(t, c)
	}
	w := newClientWorkload(t)
	w.everyOpcode(zk.Addr)
	for _, c := range []*harness.Capture{pcap, pcapng, cooked} {
		c.StopComplete()
	}

	// By port.
	out := runDecode(t, pcap.Path, "--client-port", strconv.Itoa(zk.Port))
	requireClean(t, out)
	compareClientStats(t, w, out.stats)
	if out.stats.Connections["client"] != w.connects+sumWords(w) { // a four-letter word is a connection of its own
		t.Errorf("connections %v", out.stats.Connections)
	}
	// Every request has its reply, paired with the right opcode and a
	// latency; the session is known on every message after the handshake.
	requests := map[float64]map[string]any{}
	for _, m := range out.msgs {
		switch m["kind"] {
		case "request":
			requests[m["n"].(float64)] = m
		case "reply":
			if m["paired"] != true {
				t.Errorf("unpaired reply %v", m)
				continue
			}
			req := requests[m["request"].(float64)]
			if req == nil || req["op"] != m["op"] || req["xid"] != m["xid"] || req["session"] != m["session"] {
				t.Errorf("reply %v paired with %v", m, req)
			}
		}
	}
	if len(out.stats.Sessions) != 2 || out.stats.Sessions[1].Connections != 2 || !out.stats.Sessions[0].Closed {
		t.Errorf("sessions %+v", out.stats.Sessions)
	}

	// By content (the port is not 2181 and is not given).
	auto := runDecode(t, pcap.Path, "--no-default-ports")
	requireClean(t, auto)
	compareClientStats(t, w, auto.stats)

	// pcapng from tshark.
	ng := runDecode(t, pcapng.Path)
	requireClean(t, ng)
	compareClientStats(t, w, ng.stats)
	if ng.stats.Capture.Format != "pcapng" || out.stats.Capture.Format != "pcap" {
		t.Errorf("formats %q %q", out.stats.Capture.Format, ng.stats.Capture.Format)
	}

	// tcpdump -i any: Linux cooked (SLL2) headers.
	sll := runDecode(t, cooked.Path)
	requireClean(t, sll)
	compareClientStats(t, w, sll.stats)
	if lt := sll.stats.Capture.LinkTypes; len(lt) != 1 || !strings.HasPrefix(lt[0], "Linux SLL") {
		t.Errorf("link types of the -i any capture: %v", lt)
	}

	// The Wireshark dissector finds the same messages in each capture.
	checkDissector(t, pcap.Path, out)
	checkDissector(t, pcapng.Path, ng)
	checkDissector(t, cooked.Path, sll)

	// The text forms print every message.
	bin := harness.BuildZkgo(t)
	for _, flags := range [][]string{{}, {"-V"}} {
		text, err := exec.Command(bin, append(append([]string{"decode"}, flags...), pcap.Path)...).Output()
		if err != nil {
			t.Fatalf("decode %v: %v", flags, err)
		}
		lines := strings.Count(string(text), "\n")
		if lines < len(out.msgs) || !strings.Contains(string(text), "client createTTL request") ||
			!strings.Contains(string(text), "client ruok 4lw-reply \"imok\"") {
			t.Errorf("decode %v printed %d lines for %d messages:\n%s", flags, lines, len(out.msgs), text[:min(len(text), 3000)])
		}
	}
	// Filters.
	creates := runDecode(t, pcap.Path, "--op", "create", "--path", "/dec")
	if n := creates.stats.Messages.Total; n == 0 {
		t.Error("no message matched --op create --path /dec")
	}
	for _, m := range creates.msgs {
		if m["op"] != "create" || !strings.HasPrefix(fmt.Sprint(m["path"]), "/dec") {
			t.Errorf("filter let through %v", m)
		}
	}
}

// keepCapture keeps a capture for looking at it after the test: at the
// end of the test (the capture stopped) it is copied to $ZKGO_DECODE_KEEP
// when that is set, else, if the test failed, to zkgo-decode-captures in
// the system's temporary directory; the copy's path is logged.
func keepCapture(t *testing.T, c *harness.Capture) {
	t.Cleanup(func() {
		dir := os.Getenv("ZKGO_DECODE_KEEP")
		if dir == "" {
			if !t.Failed() {
				return
			}
			dir = filepath.Join(os.TempDir(), "zkgo-decode-captures")
		}
		_ = c.Stop()
		name := strings.ReplaceAll(t.Name(), "/", "_") + "-" + time.Now().UTC().Format("20060102T150405.000") + "-" + filepath.Base(c.Path)
		dst := filepath.Join(dir, name)
		b, err := os.ReadFile(c.Path)
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		if err == nil {
			err = os.WriteFile(dst, b, 0o644)
		}
		if err != nil {
			t.Logf("keeping the capture %s: %v", c.Path, err)
			return
		}
		t.Logf("%s capture kept: %s (tool output: %s)", c.Tool, dst, lastBytes(c.Output(), 200))
	})
}

// TestCompat_DecodeJavaClient captures ZooKeeper's own Java client driving
// a standalone Java server through every operation of its API
// (java/DecodeWorkload.java) and checks the decoder sees each request the
// program counted, each with its reply and the same errors.
func TestCompat_DecodeJavaClient(t *testing.T) {
	if testing.Short() {
		t.Skip("compat test")
	}
	j := harness.RequireJava(t)
	classes := j.Compile(t, "java/DecodeWorkload.java")
	zk := harness.StartJavaZK(t, harness.JavaOptions{Heap: "256m", SysProp: map[string]string{"zookeeper.extendedTypesEnabled": "true"}})
	capt := harness.StartCapture(t, harness.CaptureOptions{Tool: "tcpdump", Ports: []int{zk.Port}})
	keepCapture(t, capt)
	cmd := j.Command(classes, "DecodeWorkload", []string{"-Xmx128m", "-XX:TieredStopAtLevel=1"}, zk.Addr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("DecodeWorkload: %v\n%s", err, lastBytes(stderr.String(), 4000))
	}
	capt.StopComplete()
	want := map[string][2]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(stdout)), "\n") {
		var op string
		var n, e int64
		if _, err := fmt.Sscanf(line, "OP %s %d %d", &op, &n, &e); err != nil {
			t.Fatalf("DecodeWorkload printed %q", line)
		}
		want[op] = [2]int64{n, e}
	}
	out := runDecode(t, capt.Path)
	requireClean(t, out)
	s := out.stats
	for _, o := range s.Ops {
		switch o.Op {
		case "ping", "closeSession": // the client's own: every one answered
			if o.Requests != o.Replies || o.Errors != 0 {
				t.Errorf("%s: %+v", o.Op, o)
			}
			continue
		}
		w, ok := want[o.Op]
		if !ok || o.Requests != w[0] || o.Replies != w[0] || o.Errors != w[1] {
			t.Errorf("%s: decoded %d requests, %d replies, %d errors; the Java client sent %d and saw %d errors", o.Op, o.Requests, o.Replies, o.Errors, w[0], w[1])
		}
		delete(want, o.Op)
	}
	if len(want) != 0 {
		t.Errorf("not decoded: %v", want)
	}
	if s.Connects != 2 || s.Unpaired != 0 || s.Unanswered != 0 || len(s.Sessions) != 2 {
		t.Errorf("connects %d, unpaired %d, unanswered %d, sessions %+v", s.Connects, s.Unpaired, s.Unanswered, s.Sessions)
	}
}

func sumWords(w *clientWorkload) int64 {
	var n int64
	for _, v := range w.words {
		n += v
	}
	return n
}

// TestCompat_DecodeEnsemble captures a 3-server Java ensemble through its
// life: the first election, writes through a follower and the leader, the
// leader killed (a second election), the old leader restarted (it syncs by
// DIFF), a follower stopped and wiped and restarted after more writes
// (SNAP: its zxid 0 is older than every proposal the leader keeps in memory
// or in its txn log, so Java's LearnerHandler.syncFollower must send a
// snapshot; no system property is needed). The decoder must decode every
// message of the three channels and find the elections, the handshakes,
// both sync modes and every write of the workload.
func TestCompat_DecodeEnsemble(t *testing.T) {
	if testing.Short() {
		t.Skip("compat test")
	}
	ens := harness.NewJavaEnsemble(t, harness.EnsembleOptions{Participants: 3})
	capt := harness.StartCapture(t, harness.CaptureOptions{Tool: "tshark", Ports: ens.Ports()})
	keepCapture(t, capt)
	ens.StartAll()
	leader1 := ens.WaitLeader(60 * time.Second)
	t.Logf("first leader: %d", leader1)
	follower := 1
	for follower == leader1 {
		follower++
	}

	w := newClientWorkload(t)
	var forwarded int64 // writes sent through followers (forwarded to the leader as REQUEST)
	write := func(id int, n int, prefix string) {
		t.Helper()
		c := w.dial(ens.Server(id).ClientAddr, rawzk.Options{TimeoutMs: 30000})
		for i := range n {
			p := fmt.Sprintf("%s-%03d", prefix, i)
			if h := w.do(c, wire.OpCreate, &wire.CreateRequest{Path: p, Data: []byte(p), ACL: openACL}); h.Err != wire.ErrOk {
				t.Fatalf("create %s on %d: %v", p, id, h.Err)
			}
			if i%2 == 0 {
				w.do(c, wire.OpSetData, &wire.SetDataRequest{Path: p, Data: []byte("v2"), Version: -1})
			}
		}
		w.close(c)
		if m, err := ens.Mode(id); err == nil && m == "follower" {
			forwarded += int64(n + (n+1)/2 + 1) // creates, setData, and the session's close
		}
	}
	write(follower, 20, "/via-follower")
	write(leader1, 10, "/via-leader")

	// Kill the leader: the others elect a new one.
	ens.Kill(leader1)
	leader2 := ens.WaitLeader(60 * time.Second)
	t.Logf("second leader: %d", leader2)
	write(leader2, 10, "/after-kill")

	// The old leader comes back as a follower: DIFF.
	ens.Start(leader1)
	if m := ens.WaitServing(leader1, 60*time.Second); m != "follower" {
		t.Fatalf("old leader came back as %s", m)
	}
	write(leader1, 5, "/old-leader-back")

	// A follower loses its data: SNAP.
	wiped := 1
	for wiped == leader2 || wiped == leader1 {
		wiped++
	}
	ens.Stop(wiped)
	ens.Wipe(wiped)
	write(leader2, 10, "/while-wiped")
	beforeSnap := int64(len(w.creates))
	ens.Start(wiped)
	ens.WaitServing(wiped, 60*time.Second)
	write(wiped, 5, "/wiped-back")
	capt.StopComplete()

	var cp, qp, ep []int
	for _, s := range ens.Servers {
		cp, qp, ep = append(cp, s.ClientPort), append(qp, s.QuorumPort), append(ep, s.ElectionPort)
	}
	byPort := runDecode(t, capt.Path, "--client-port", portList(cp...), "--quorum-port", portList(qp...), "--election-port", portList(ep...))
	byContent := runDecode(t, capt.Path, "--no-default-ports")
	t.Run("wireshark", func(t *testing.T) { checkDissector(t, capt.Path, byContent) })
	for name, out := range map[string]decodeOut{"by port": byPort, "by content": byContent} {
		t.Run(name, func(t *testing.T) {
			requireCleanBut(t, out, javaElectionResetCut)
			s := out.stats
			compareClientStats(t, w, s)
			if s.Connections["quorum"] == 0 || s.Connections["election"] == 0 || s.Connections["other"] != 0 {
				t.Errorf("connections %v", s.Connections)
			}
			// The handshake of every learner, and both sync modes.
			for _, p := range []string{"FOLLOWERINFO", "LEADERINFO", "ACKEPOCH", "NEWLEADER", "UPTODATE", "ACK", "PING",
				"PROPOSAL", "COMMIT", "REQUEST", "DIFF", "SNAP"} {
				if s.Quorum[p] == 0 {
					t.Errorf("no %s packet decoded: %v", p, s.Quorum)
				}
			}
			var snapOK bool
			for _, sy := range s.Syncs {
				if sy.Mode == "SNAP" && sy.Learner == int64(wiped) && sy.Snapshot != nil && sy.Snapshot.Signature == "BenWasHere" &&
					sy.Snapshot.Nodes >= beforeSnap+4 { // and "", /zookeeper, /zookeeper/quota, /zookeeper/config
					snapOK = true
				}
			}
			if !snapOK || s.SyncModes["DIFF"] == 0 {
				b, _ := json.Marshal(s.Syncs)
				t.Errorf("syncs %s (wiped server %d, %d nodes created before)", b, wiped, beforeSnap)
			}
			// Two elections at least, won by the two leaders.
			leaders := map[int64]bool{}
			for _, e := range s.Elections {
				leaders[e.Leader] = true
			}
			if len(s.Elections) < 2 || !leaders[int64(leader1)] || !leaders[int64(leader2)] || s.Notifications == 0 {
				t.Errorf("elections %+v (leaders %d then %d)", s.Elections, leader1, leader2)
			}
			// Rounds are counted per process: the old leader and the wiped
			// follower each ran twice, and each restarted process went
			// LOOKING in a round of its own that the second leader won
			// (though its logical clock started again at 1).
			survivor := 6 - leader1 - wiped
			wantInst := map[string]int64{strconv.Itoa(leader1): 2, strconv.Itoa(wiped): 2, strconv.Itoa(survivor): 1}
			if !maps.Equal(s.PeerInstances, wantInst) {
				t.Errorf("peer instances %v, want %v (leader %d killed, %d wiped)", s.PeerInstances, wantInst, leader1, wiped)
			}
			for _, restarted := range []int{leader1, wiped} {
				var found bool
				for _, e := range s.Elections {
					for _, l := range e.Looking {
						if l.Sid == int64(restarted) && l.Instance == 2 {
							found = found || e.Leader == int64(leader2)
						}
					}
				}
				if !found {
					t.Errorf("no round where the restarted %d (instance 2) went LOOKING and %d won: %+v", restarted, leader2, s.Elections)
				}
			}
			// Every notification names its sender.
			for _, m := range out.msgs {
				if m["kind"] == "notification" && m["sid"] == nil {
					t.Errorf("notification without a sender: %v", m)
				}
			}
			// Every write of the workload became one proposal, and the
			// writes sent to followers were forwarded once each.
			zxids := map[string]string{}
			var fwd int64
			for _, m := range out.msgs {
				if m["name"] == "PROPOSAL" && m["op"] == "create" {
					zxids[fmt.Sprint(m["zxid"])] = fmt.Sprint(m["path"])
				}
				if m["name"] == "REQUEST" {
					fwd++
				}
			}
			created := map[string]bool{}
			for _, p := range zxids {
				created[p] = true
			}
			for _, p := range w.creates {
				if !created[p] {
					t.Errorf("no PROPOSAL creates %s", p)
				}
			}
			if int64(len(zxids)) != int64(len(w.creates)) {
				t.Errorf("%d create proposals, the workload created %d nodes", len(zxids), len(w.creates))
			}
			if fwd < forwarded {
				t.Errorf("%d REQUEST packets, want at least the %d writes sent through followers", fwd, forwarded)
			}
		})
	}
}

func lastBytes(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
