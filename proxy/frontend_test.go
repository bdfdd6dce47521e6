package proxy

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/zkgo/zkgo/wire"
)

// heldBackend is a Backend under the test's control: while full it refuses
// every batch (and remembers whom to resume); it keeps what it accepts
// unanswered until the test answers it.
type heldBackend struct {
	mu      sync.Mutex
	full    bool
	refused int
	parked  []Conn
	got     map[Conn][]wire.ClientPacket
	batches map[Conn]int
	closed  map[Conn]bool
}

func newHeldBackend(full bool) *heldBackend {
	return &heldBackend{full: full, got: map[Conn][]wire.ClientPacket{}, batches: map[Conn]int{}, closed: map[Conn]bool{}}
}

func (b *heldBackend) Open(c Conn) any { return c }

func (b *heldBackend) Submit(h any, pkts []wire.ClientPacket) bool {
	c := h.(Conn)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.full {
		b.refused++
		b.parked = append(b.parked, c)
		return false
	}
	b.got[c] = append(b.got[c], pkts...)
	b.batches[c]++
	return true
}

func (b *heldBackend) Closed(h any, _ error) {
	b.mu.Lock()
	b.closed[h.(Conn)] = true
	b.mu.Unlock()
}

// open takes batches again and resumes everyone it refused.
func (b *heldBackend) open() {
	b.mu.Lock()
	b.full = false
	parked := b.parked
	b.parked = nil
	b.mu.Unlock()
	for _, c := range parked {
		c.Resume()
	}
}

func (b *heldBackend) snapshot() (refused int, got map[Conn][]wire.ClientPacket, closed int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	got = make(map[Conn][]wire.ClientPacket, len(b.got))
	for c, p := range b.got {
		got[c] = append([]wire.ClientPacket(nil), p...)
	}
	return b.refused, got, len(b.closed)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFrontendHoldsRefusedBatches: a Backend that is full refuses the open
// notice and every batch after it (issue 14 point 3). The connection is
// not closed; what it sends meanwhile is kept, and when the Backend
// resumes it everything arrives once, in order.
func TestFrontendHoldsRefusedBatches(t *testing.T) {
	be := newHeldBackend(true)
	fe := startFrontend(t, be, nil)
	c, err := net.Dial("tcp", fe.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := wire.AppendConnect(nil, wire.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}, false, true)
	first := len(msg)
	for xid := int32(1); xid <= 5; xid++ {
		msg = wire.AppendRequest(msg, wire.RequestHeader{Xid: wire.Xid(xid), Type: wire.OpGetData},
			&wire.GetDataRequest{Path: "/a"})
	}
	// Two writes, two reads on the server: each while the Backend is full.
	if _, err := c.Write(msg[:first]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ConnectRequest decoded", func() bool { return fe.received.Load() == 1 })
	if _, err := c.Write(msg[first:]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all packets decoded", func() bool { return fe.received.Load() == 6 })
	if refused, got, closed := be.snapshot(); refused != 1 || len(got) != 0 || closed != 0 {
		t.Fatalf("while full: refused %d (want 1: one refusal, then wait), accepted %d, closed %d", refused, len(got), closed)
	}
	if fe.Connections() != 1 {
		t.Fatal("a refused connection was closed")
	}
	be.open()
	waitFor(t, "resubmitted", func() bool {
		_, got, _ := be.snapshot()
		for _, p := range got {
			return len(p) == 6
		}
		return false
	})
	_, got, closed := be.snapshot()
	for cn, p := range got {
		if p[0].Kind != wire.KindConnect {
			t.Fatalf("first packet %v", p[0].Kind)
		}
		for i, q := range p[1:] {
			if q.Header.Xid != wire.Xid(i+1) {
				t.Fatalf("packet %d has xid %d: order lost", i+1, q.Header.Xid)
			}
		}
		be.mu.Lock()
		batches := be.batches[cn]
		be.mu.Unlock()
		if batches != 1 {
			t.Fatalf("held packets came in %d batches, want 1", batches)
		}
	}
	if closed != 0 || fe.Connections() != 1 {
		t.Fatal("connection closed")
	}
}

// TestFrontendFourLetterSocketsAlwaysFinished: the duplicate socket kept
// for a four-letter word's answer is closed on every path (issue 14 point
// 4): answered after the client half-closed; never submitted because the
// Backend was full when the client half-closed; submitted but never
// answered when the front end stops.
func TestFrontendFourLetterSocketsAlwaysFinished(t *testing.T) {
	word := func(addr string) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Write([]byte("ruok")); err != nil {
			t.Fatal(err)
		}
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	readAll := func(c net.Conn) string {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("read: %v (got %q)", err, b)
		}
		return string(b)
	}

	t.Run("answered after half-close", func(t *testing.T) {
		be := newHeldBackend(false)
		fe := startFrontend(t, be, nil)
		c := word(fe.Addr().String())
		var conn Conn
		waitFor(t, "word submitted and socket closed by gnet", func() bool {
			_, got, closed := be.snapshot()
			for cn, p := range got {
				if len(p) == 1 && p[0].Word == "ruok" && closed == 1 {
					conn = cn
					return true
				}
			}
			return false
		})
		conn.Send([]byte("imok"), 1)
		conn.Close("four letter word")
		if got := readAll(c); got != "imok" {
			t.Fatalf("answer %q", got)
		}
		waitFor(t, "answer socket closed", func() bool { return fe.AdminSockets() == 0 })
	})
	t.Run("refused then half-closed", func(t *testing.T) {
		be := newHeldBackend(true)
		fe := startFrontend(t, be, nil)
		c := word(fe.Addr().String())
		if got := readAll(c); got != "" {
			t.Fatalf("answer %q from a full server", got)
		}
		waitFor(t, "answer socket closed", func() bool { return fe.AdminSockets() == 0 })
		if _, got, _ := be.snapshot(); len(got) != 0 {
			t.Fatal("Backend got the word")
		}
	})
	t.Run("never answered, front end stopped", func(t *testing.T) {
		be := newHeldBackend(false)
		fe := startFrontend(t, be, nil)
		c := word(fe.Addr().String())
		waitFor(t, "word submitted", func() bool {
			_, got, _ := be.snapshot()
			return len(got) == 1 && fe.AdminSockets() == 1
		})
		if err := fe.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
		if fe.AdminSockets() != 0 {
			t.Fatal("answer socket open after Stop")
		}
		if got := readAll(c); got != "" {
			t.Fatalf("answer %q", got)
		}
	})
}

// TestFrontendClosesOnlyPastBothLimits: with the Backend answering nothing,
// a connection at MaxOutstanding that sends a little more is only paused;
// one that goes on sending past MaxInboundBytes is closed as a flooder
// (gnet reads every readable socket, so this bounds what it can make the
// front end buffer).
func TestFrontendClosesOnlyPastBothLimits(t *testing.T) {
	be := newHeldBackend(false)
	fe := startFrontend(t, be, func(c *Config) { c.MaxOutstanding = 4; c.MaxInboundBytes = 64 << 10 })
	ping := wire.AppendRequest(nil, wire.RequestHeader{Xid: wire.XidPing, Type: wire.OpPing}, nil)
	session := func(extra int) net.Conn {
		c, err := net.Dial("tcp", fe.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		msg := wire.AppendConnect(nil, wire.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}, false, true)
		for i := 0; i < 3+extra; i++ {
			msg = append(msg, ping...)
		}
		go func() { _, _ = c.Write(msg) }() // the flooder's write blocks once we stop reading it
		return c
	}
	session(100)                        // patient: 1.2 KB past its limit
	flooder := session((256 << 10) / 8) // 256 KiB past it
	_ = flooder.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := flooder.Read(make([]byte, 1)); err == nil {
		t.Fatal("flooder got data")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("flooder not closed")
	}
	waitFor(t, "flooder gone", func() bool { return fe.Connections() == 1 })
	_, got, closed := be.snapshot()
	if closed != 1 || len(got) != 2 {
		t.Fatalf("closed %d, sessions %d", closed, len(got))
	}
	for _, p := range got {
		if len(p) != 4 {
			t.Fatalf("a connection got %d packets submitted, want MaxOutstanding (4)", len(p))
		}
	}
}
