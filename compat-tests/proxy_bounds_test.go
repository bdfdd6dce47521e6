package compattest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/decode"
	"github.com/zkgo/zkgo/internal/rawzk"
	"github.com/zkgo/zkgo/node"
	"github.com/zkgo/zkgo/proxy"
	"github.com/zkgo/zkgo/wire"
)

// Bounds of `zkgo proxy` (issue 14, point 6): the opcodes and four-letter
// words a client may pass, the default connection and in-flight limits,
// and the memory of --record.

// serverZxid returns the zxid a server reports in srvr.
func serverZxid(t *testing.T, addr string) string {
	t.Helper()
	out, err := harness.FourLetter(addr, "srvr")
	must(t, err)
	for _, l := range strings.Split(out, "\n") {
		if z, ok := strings.CutPrefix(l, "Zxid: "); ok {
			return strings.TrimSpace(z)
		}
	}
	t.Fatalf("no zxid in srvr: %q", out)
	return ""
}

// policyVariants are the filters the opcode allow-list must hold under.
var policyVariants = []struct {
	name string
	pol  proxy.Policy
}{
	{"no-filter", proxy.Policy{}},
	{"read-only", proxy.Policy{ReadOnly: true}},
	{"allow", proxy.Policy{Allow: []wire.OpCode{wire.OpGetData, wire.OpExists}}},
	{"deny", proxy.Policy{Deny: []wire.OpCode{wire.OpSetData}}},
}

// refusedAndClosed sends exists, op, exists pipelined on c and checks that
// the first is answered, op is refused with code, and the connection is
// closed without the third being passed on.
func refusedAndClosed(t *testing.T, c *rawzk.Client, op wire.OpCode, body []byte, code wire.ErrCode) {
	t.Helper()
	x1, x2, x3 := c.NextXid(), c.NextXid(), c.NextXid()
	r1, err := c.Send(x1, wire.OpExists, &wire.ExistsRequest{Path: "/"})
	must(t, err)
	r2, err := c.Send(x2, op, rawBytes(body))
	must(t, err)
	r3, _ := c.Send(x3, wire.OpExists, &wire.ExistsRequest{Path: "/"})
	for i, ch := range []<-chan rawzk.Reply{r1, r2} {
		select {
		case r, ok := <-ch:
			want := wire.ErrCode(0)
			if i == 1 {
				want = code
			}
			if !ok || r.Header.Err != want {
				t.Fatalf("op %d: reply %d: %+v (ok %v), want err %v", op, i+1, r.Header, ok, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("op %d: reply %d never came", op, i+1)
		}
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("op %d: connection not closed after the refusal", op)
	}
	if r3 != nil {
		if r, ok := <-r3; ok {
			t.Fatalf("op %d: the request after the refused one was answered: %+v", op, r.Header)
		}
	}
}

// TestProxyRefusesNonClientOpcodes sends, through the proxy under every
// filter, opcodes no client sends (createSession, error, notification,
// deleteContainer, unknown ones): each is answered with the deny code, the
// connection is closed, and the upstream (zkgo) logs nothing.
func TestProxyRefusesNonClientOpcodes(t *testing.T) {
	z := harness.StartZkgo(t, nil)
	timeout := make([]byte, 4)
	binary.BigEndian.PutUint32(timeout, 0x7fffffff)
	for _, v := range policyVariants {
		t.Run(v.name, func(t *testing.T) {
			p := startZKProxy(t, func(c *proxy.PassConfig) { c.Policy = v.pol }, z.Addr)
			for _, op := range []wire.OpCode{wire.OpCreateSession, wire.OpError, wire.OpNotification,
				wire.OpDeleteContainer, 999, -100} {
				// Its session's createSession is logged at the handshake;
				// nothing is logged after it (the session outlives the
				// test: closing the connection does not end it).
				c, err := rawzk.Dial(p.Addr().String(), rawzk.Options{})
				must(t, err)
				before := serverZxid(t, z.Addr)
				refusedAndClosed(t, c, op, timeout, wire.ErrNoAuth)
				c.Close()
				if after := serverZxid(t, z.Addr); after != before {
					t.Fatalf("op %d: upstream zxid moved %s -> %s: the refused frame reached it", op, before, after)
				}
			}
			waitMetric(t, p, "zkproxy_policy_decisions{key=not_client_opcode}", 6)
			// Real requests still pass.
			c, err := rawzk.Dial(p.Addr().String(), rawzk.Options{})
			must(t, err)
			defer c.Close()
			if h, err := c.Do(wire.OpGetData, &wire.GetDataRequest{Path: "/zookeeper"}, nil); err != nil || h.Err != 0 {
				t.Fatalf("getData: %+v %v", h, err)
			}
		})
	}
	t.Run("deny-code", func(t *testing.T) {
		p := startZKProxy(t, func(c *proxy.PassConfig) { c.Policy.DenyCode = wire.ErrUnimplemented }, z.Addr)
		c, err := rawzk.Dial(p.Addr().String(), rawzk.Options{})
		must(t, err)
		defer c.Close()
		refusedAndClosed(t, c, wire.OpCreateSession, timeout, wire.ErrUnimplemented)
	})
}

// TestProxyFourLetterWordPolicy: four-letter words are passed only when the
// policy lists them (default: ruok, isro, srvr, mntr, wchs), under every
// filter; the others get a Java server's not-in-the-whitelist answer, also
// when the client half-closes right after the word.
func TestProxyFourLetterWordPolicy(t *testing.T) {
	z := harness.StartZkgo(t, nil)
	for _, v := range policyVariants {
		t.Run(v.name, func(t *testing.T) {
			p := startZKProxy(t, func(c *proxy.PassConfig) { c.Policy = v.pol }, z.Addr)
			checkWordPolicy(t, p.Addr().String())
			waitMetric(t, p, "zkproxy_policy_decisions{key=four_letter_word}", 7)
		})
	}
	t.Run("listed", func(t *testing.T) {
		p := startZKProxy(t, func(c *proxy.PassConfig) { c.Policy.FourLetterWords = []string{"dump", "ruok"} }, z.Addr)
		if out, err := harness.FourLetter(p.Addr().String(), "dump"); err != nil || strings.Contains(out, "whitelist") {
			t.Fatalf("listed dump: %q %v", out, err)
		}
		if out, _ := harness.FourLetter(p.Addr().String(), "srvr"); out != "srvr is not executed because it is not in the whitelist.\n" {
			t.Fatalf("unlisted srvr: %q", out)
		}
	})
	t.Run("all", func(t *testing.T) {
		p := startZKProxy(t, func(c *proxy.PassConfig) { c.Policy.FourLetterWords = []string{"*"} }, z.Addr)
		if out, err := harness.FourLetter(p.Addr().String(), "cons"); err != nil || strings.Contains(out, "whitelist") {
			t.Fatalf("cons with *: %q %v", out, err)
		}
	})
}

// checkWordPolicy checks the default word policy through the proxy at
// addr; it makes 7 refusals.
func checkWordPolicy(t *testing.T, addr string) {
	t.Helper()
	if out, err := harness.FourLetter(addr, "ruok"); err != nil || out != "imok" {
		t.Fatalf("ruok: %q %v", out, err)
	}
	if out, err := harness.FourLetter(addr, "srvr"); err != nil || !strings.HasPrefix(out, "Zookeeper version:") {
		t.Fatalf("srvr: %q %v", out, err)
	}
	for _, w := range []string{"dump", "cons", "wchc", "envi", "crst", "stat"} {
		out, err := harness.FourLetter(addr, w)
		if want := w + " is not executed because it is not in the whitelist.\n"; err != nil || out != want {
			t.Fatalf("%s: %q %v, want %q", w, out, err, want)
		}
	}
	// Half-closed right after the word (nc -N).
	nc, err := net.Dial("tcp", addr)
	must(t, err)
	defer nc.Close()
	_, err = nc.Write([]byte("wchp"))
	must(t, err)
	must(t, nc.(*net.TCPConn).CloseWrite())
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(nc)
	if string(b) != "wchp is not executed because it is not in the whitelist.\n" {
		t.Fatalf("half-closed wchp: %q %v", b, err)
	}
}

// TestCompatProxyInternalOpcodeJava is the reproduction against
// Java 3.8: a createSession frame (-10) with a 24.8-day timeout sent
// through the proxy. Java itself would pass it to its session tracker,
// extend the session and log a txn; through the proxy it is refused, the
// connection is closed, Java's zxid does not move, and the session expires
// on its own timeout. Four-letter words follow the proxy's policy too.
func TestCompatProxyInternalOpcodeJava(t *testing.T) {
	harness.SkipShort(t)
	j := harness.StartJavaZK(t, harness.JavaOptions{})
	waitServing(t, "java", j.Addr)
	timeout := make([]byte, 4)
	binary.BigEndian.PutUint32(timeout, 0x7fffffff)
	for _, v := range policyVariants {
		t.Run(v.name, func(t *testing.T) {
			p := startZKProxy(t, func(c *proxy.PassConfig) { c.Policy = v.pol }, j.Addr)
			// A session with an ephemeral node, created directly, then
			// resumed through the proxy; another session watches the node,
			// which goes when the session expires.
			eph := "/eph-" + v.name
			cl, err := rawzk.Dial(j.Addr, rawzk.Options{TimeoutMs: 4000})
			must(t, err)
			h, err := cl.Do(wire.OpCreate, &wire.CreateRequest{Path: eph, ACL: openACL, Flags: 1}, nil)
			if err != nil || h.Err != 0 {
				t.Fatalf("create ephemeral: %+v %v", h, err)
			}
			cl.Close()
			oc, _ := connect(t, j.Addr, 10*time.Second)
			ok, _, watch, err := oc.ExistsW(eph)
			must(t, err)
			if !ok {
				t.Fatal("ephemeral missing")
			}
			c, err := rawzk.Dial(p.Addr().String(), rawzk.Options{SessionID: cl.SessionID(), Passwd: cl.Connect.Passwd,
				TimeoutMs: 4000})
			must(t, err)
			defer c.Close()
			if c.SessionID() != cl.SessionID() {
				t.Fatalf("session not resumed through the proxy: %#x", c.SessionID())
			}
			before := serverZxid(t, j.Addr)
			refusedAndClosed(t, c, wire.OpCreateSession, timeout, wire.ErrNoAuth)
			if after := serverZxid(t, j.Addr); after != before {
				t.Fatalf("Java's zxid moved %s -> %s: the createSession frame reached it", before, after)
			}
			select {
			case ev := <-watch:
				if ev.Type != zk.EventNodeDeleted {
					t.Fatalf("event %+v", ev)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the session did not expire on its 4 s timeout")
			}
			checkWordPolicy(t, p.Addr().String())
		})
	}
}

// TestProxyDefaultLimits: with a zero Policy the proxy takes 60
// connections per IP (Java's maxClientCnxns default) and stops reading a
// connection with 1000 requests unanswered.
func TestProxyDefaultLimits(t *testing.T) {
	z := harness.StartZkgo(t, func(c *node.Config) { c.MaxClientCnxns = 0 })
	p := startZKProxy(t, nil, z.Addr)
	var conns []*rawzk.Client
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 60; i++ {
		c, err := rawzk.Dial(p.Addr().String(), rawzk.Options{})
		if err != nil {
			t.Fatalf("connection %d refused: %v", i+1, err)
		}
		conns = append(conns, c)
	}
	if c, err := rawzk.Dial(p.Addr().String(), rawzk.Options{DialTimeout: 3 * time.Second}); err == nil {
		c.Close()
		t.Fatal("61st connection from one IP was served")
	}
	waitMetric(t, p, "zkproxy_policy_decisions{key=max_conns_per_ip}", 1)

	// 5000 pipelined requests in one write: the proxy holds at most 1000
	// of them unanswered, and every one is answered in the end.
	conns[0].Close()
	waitMetric(t, p, "zkproxy_connections{key=client}", 59)
	nc, err := rawzk.DialRaw(p.Addr().String())
	must(t, err)
	defer nc.Close()
	const n = 5000
	buf := wire.AppendConnect(nil, wire.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}, false, true)
	for i := 0; i < n; i++ {
		buf = wire.AppendRequest(buf, wire.RequestHeader{Xid: wire.Xid(i + 1), Type: wire.OpExists}, &wire.ExistsRequest{Path: "/"})
	}
	_ = nc.SetDeadline(time.Now().Add(60 * time.Second))
	_, err = nc.Write(buf)
	must(t, err)
	br := bufio.NewReader(nc)
	if _, err := readRawFrame(br); err != nil {
		t.Fatalf("connect reply: %v", err)
	}
	for i := 0; i < n; i++ {
		f, err := readRawFrame(br)
		if err != nil {
			t.Fatalf("reply %d: %v", i+1, err)
		}
		if len(f) < 16 || binary.BigEndian.Uint32(f) != uint32(i+1) || binary.BigEndian.Uint32(f[12:]) != 0 {
			t.Fatalf("reply %d: % x", i+1, f[:min(len(f), 16)])
		}
	}
	if v := metricValues(t, p)["zkproxy_policy_decisions{key=max_in_flight}"]; v < 1 {
		t.Fatalf("in-flight limit never applied (%v)", v)
	}
}

// TestProxyRecordMemoryBounded is the issue's --record reproduction: four
// clients read a 1 MB node in a loop through a recording proxy whose
// writer does not keep up (here: does not write at all until the end).
// The recorder's queue is bounded in bytes, so the heap stays small; the
// frames it had to drop are counted and reported in the stream.
func TestProxyRecordMemoryBounded(t *testing.T) {
	z := harness.StartZkgo(t, nil)
	w := &stalledWriter{release: make(chan struct{})}
	release := sync.OnceFunc(func() { close(w.release) })
	t.Cleanup(release)
	var rec *proxy.Recorder
	p := startZKProxy(t, func(c *proxy.PassConfig) {
		c.Metrics = proxy.NewMetrics()
		rec = proxy.NewRecorder(w, c.Metrics)
		c.Record = rec
	}, z.Addr)
	dc, err := rawzk.Dial(z.Addr, rawzk.Options{})
	must(t, err)
	big := make([]byte, 1000000)
	h, err := dc.Do(wire.OpCreate, &wire.CreateRequest{Path: "/big", Data: big, ACL: openACL}, nil)
	if err != nil || h.Err != 0 {
		t.Fatalf("create /big: %+v %v", h, err)
	}
	dc.Close()

	// The growth of the live heap (after a collection) of the whole test
	// process over what it held before the clients started: server, proxy
	// and clients. Without a bound in bytes the recorder's queue alone
	// would hold up to 600 MB here; with it, the queue holds at most 32 MiB
	// and the rest is frames in flight (about 100 MB alone, more when
	// goroutines of earlier tests are still winding down). NB: a growth,
	// not an absolute figure: earlier tests may leave memory behind.
	const limit = 320 << 20
	liveHeap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	base := liveHeap()
	var peak uint64
	var mu sync.Mutex
	sample := func() bool {
		h := liveHeap()
		grown := h - min(base, h)
		mu.Lock()
		defer mu.Unlock()
		peak = max(peak, grown)
		return grown < limit
	}
	// go-zookeeper clients: they keep nothing of a reply once returned
	// (rawzk keeps every packet, which would be the test's own memory).
	var clients []*zk.Conn
	for i := 0; i < 4; i++ {
		c, _ := connect(t, p.Addr().String(), 30*time.Second)
		clients = append(clients, c)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 150; k++ {
				if _, _, err := c.Get("/big"); err != nil {
					errs <- err
					return
				}
				if i == 0 && k%10 == 9 && !sample() {
					errs <- errors.New("heap over the limit")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("client: %v", err)
	}
	if peak >= limit {
		t.Fatalf("live heap grew by %d MB while recording 600 reads of 1 MB (limit %d MB)", peak>>20, limit>>20)
	}
	dropped := metricValues(t, p)["zkproxy_record_dropped{}"]
	if dropped == 0 {
		t.Fatal("no frame dropped by a recorder whose writer never wrote")
	}
	release()
	must(t, p.Stop(context.Background()))
	must(t, rec.Close())
	t.Logf("live heap grew by at most %d MB, %v frames dropped", peak>>20, dropped)
	checkDroppedLines(t, w.buf.String(), int64(dropped))
}

// stalledWriter blocks every write until release is closed.
type stalledWriter struct {
	release chan struct{}
	mu      sync.Mutex
	buf     strings.Builder
}

func (w *stalledWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// checkDroppedLines checks that the decode.RecordDropped lines of a record
// add up to dropped, and that `zkgo decode` counts as many.
func checkDroppedLines(t *testing.T, rec string, dropped int64) {
	t.Helper()
	var sum int64
	for _, l := range strings.Split(strings.TrimSpace(rec), "\n") {
		var line decode.RecordLine
		must(t, json.Unmarshal([]byte(l), &line))
		if line.Event == decode.RecordDropped {
			sum += line.Dropped
		}
	}
	if sum != dropped {
		t.Fatalf("dropped lines report %d frames, the metric %d", sum, dropped)
	}
	notes := 0
	d := decode.New(decode.Config{}, func(m *decode.Message) {
		if m.Kind == decode.KindNote && strings.Contains(m.Text, "dropped by the recorder") {
			notes++
		}
	})
	_, err := d.ReadRecord(bytes.NewReader([]byte(rec)))
	must(t, err)
	if got := d.Counts().RecordDropped; got != dropped || notes == 0 {
		t.Fatalf("decode counts %d dropped frames in %d notes, want %d", got, notes, dropped)
	}
}
