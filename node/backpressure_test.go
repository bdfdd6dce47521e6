package node

import (
	"sync"
	"testing"

	"github.com/zkgo/zkgo/wire"
)

// resumeSink records the order in which the server resumes connections.
type resumeSink struct {
	id      uint64
	mu      *sync.Mutex
	resumed *[]uint64
}

func (c *resumeSink) ID() uint64                   { return c.id }
func (c *resumeSink) RemoteAddr() string           { return "127.0.0.1:1" }
func (c *resumeSink) Send([]byte, int) bool        { return true }
func (c *resumeSink) Close(string)                 {}
func (c *resumeSink) Resume()                      { c.mu.Lock(); *c.resumed = append(*c.resumed, c.id); c.mu.Unlock() }
func (c *resumeSink) handle(s *Server) any         { return s.Open(c) }
func (c *resumeSink) submit(s *Server, h any) bool { return s.Submit(h, nil) }

// drain takes n events off the queue as the owner goroutine would.
func drain(s *Server, n int) {
	for i := 0; i < n; i++ {
		ev := <-s.lp.events
		s.cl.queued.Add(-int64(max(len(ev.pkts), 1)))
	}
}

// TestSubmitParksAndResumesInOrder drives Submit and resumeParked by hand
// on a server whose owner goroutine is not running (issue 14 point 3): a
// full queue refuses and parks, never closes; connections are resumed
// oldest first once the queue is down to half, each admitted past the
// line once; while anyone waits, a newcomer queues behind them even if
// there is room; a connection that closed while parked is skipped.
func TestSubmitParksAndResumesInOrder(t *testing.T) {
	s, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var resumed []uint64
	sink := func(id uint64) (*resumeSink, any) {
		c := &resumeSink{id: id, mu: &mu, resumed: &resumed}
		return c, s.Open(c)
	}
	got := func() []uint64 {
		mu.Lock()
		defer mu.Unlock()
		return append([]uint64(nil), resumed...)
	}

	flooder, hf := sink(1)
	accepted := 0
	for flooder.submit(s, hf) {
		accepted++
		if accepted > eventQueueSize {
			t.Fatal("the queue took more than its bound")
		}
	}
	if accepted != eventQueuePackets {
		t.Fatalf("queue took %d events, want %d", accepted, eventQueuePackets)
	}
	if !s.cl.parking.Load() {
		t.Fatal("a refused connection is not parked")
	}
	good, hg := sink(2)
	gone, hx := sink(3)
	if good.submit(s, hg) || gone.submit(s, hx) {
		t.Fatal("a full queue took a batch")
	}
	s.Closed(hx, nil) // closes while parked

	// Below half: still nobody resumed (the owner has the queue to run).
	drain(s, eventQueuePackets/2-1)
	s.cl.resumeParked()
	if r := got(); len(r) != 0 {
		t.Fatalf("resumed %v with the queue over half full", r)
	}
	// A newcomer while connections wait is parked behind them although
	// the queue has room.
	late, hl := sink(4)
	if late.submit(s, hl) {
		t.Fatal("a newcomer passed connections waiting for room")
	}
	drain(s, 1)
	s.cl.resumeParked()
	if r := got(); len(r) != 3 || r[0] != 1 || r[1] != 2 || r[2] != 4 {
		t.Fatalf("resumed %v, want [1 2 4] (3 closed while parked)", r)
	}
	if s.cl.parking.Load() || len(s.cl.parked) != 0 || s.cl.parkedQ.Load() != nil {
		t.Fatal("line not empty after everyone was resumed")
	}
	// Each resumed connection gets in once, even while others still
	// have to queue.
	s.cl.parking.Store(true)
	for _, c := range []struct {
		sk *resumeSink
		h  any
	}{{flooder, hf}, {good, hg}, {late, hl}} {
		if !c.sk.submit(s, c.h) {
			t.Fatalf("resumed connection %d refused", c.sk.id)
		}
		if c.sk.submit(s, c.h) {
			t.Fatalf("connection %d passed the line twice", c.sk.id)
		}
	}
}

// TestSubmitConvertsStringsOnce: a batch Submit refuses comes back, with
// what the front end decoded since after it; its strings must be in
// Java's form once, not converted again (the conversion is not
// idempotent: a character outside the BMP becomes two surrogates, which
// a second pass takes for malformed input).
func TestSubmitConvertsStringsOnce(t *testing.T) {
	s, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	mu := &sync.Mutex{}
	var resumed []uint64
	c := &resumeSink{id: 1, mu: mu, resumed: &resumed}
	h := c.handle(s)
	const path = "/emoji-\U0001F600"
	want := wire.JavaString(path)
	if want == path || wire.JavaString(want) == want {
		t.Fatal("the test needs a path whose conversion is not idempotent")
	}
	get := func(p string) wire.ClientPacket {
		return wire.ClientPacket{Kind: wire.KindRequest, Header: wire.RequestHeader{Xid: 1, Type: wire.OpGetData},
			Body: &wire.GetDataRequest{Path: p}}
	}
	batch := []wire.ClientPacket{get(path)}
	s.cl.parking.Store(true) // others wait: the batch is refused and held
	if s.Submit(h, batch) {
		t.Fatal("the batch was taken while others wait")
	}
	s.cl.parking.Store(false)
	batch = append(batch, get(path)) // decoded while it waited
	if !s.Submit(h, batch) {
		t.Fatal("the batch was refused again")
	}
	for i, p := range batch {
		if got := p.Body.(*wire.GetDataRequest).Path; got != want {
			t.Fatalf("packet %d: path %q, want %q (converted once)", i, got, want)
		}
	}
}
