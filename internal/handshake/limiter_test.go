package handshake

import (
	"net"
	"sync/atomic"
	"testing"
)

// fakeConn is a net.Conn with a remote address that records Close.
type fakeConn struct {
	net.Conn
	remote net.Addr
	closed atomic.Bool
}

func (c *fakeConn) RemoteAddr() net.Addr { return c.remote }
func (c *fakeConn) Close() error         { c.closed.Store(true); return nil }

func conn(ip string, port int) *fakeConn {
	return &fakeConn{remote: &net.TCPAddr{IP: net.ParseIP(ip), Port: port}}
}

func TestLimiterEvictsOldestOfTheBusiestHost(t *testing.T) {
	l := NewLimiter(4)
	peer := conn("10.0.0.2", 1)
	flood := []*fakeConn{conn("10.0.0.9", 1), conn("10.0.0.9", 2), conn("10.0.0.9", 3)}
	l.Admit(flood[0])
	l.Admit(peer)
	l.Admit(flood[1])
	l.Admit(flood[2])
	if l.Pending() != 4 {
		t.Fatalf("pending %d", l.Pending())
	}
	// Full: the flooding host loses its oldest, the peer (older) stays.
	for i := 4; i < 20; i++ {
		l.Admit(conn("10.0.0.9", i))
		if peer.closed.Load() {
			t.Fatalf("the peer's connection was evicted after %d flood connections", i)
		}
	}
	if !flood[0].closed.Load() || !flood[1].closed.Load() || !flood[2].closed.Load() {
		t.Fatal("the oldest flood connections are still open")
	}
	if l.Pending() != 4 || l.Evicted() != 16 {
		t.Fatalf("pending %d evicted %d, want 4 and 16", l.Pending(), l.Evicted())
	}
	if !l.Done(peer) {
		t.Fatal("the peer's handshake was not pending")
	}
	if l.Done(flood[0]) {
		t.Fatal("an evicted connection was still pending")
	}
}

func TestLimiterSingleHostEvictsOldest(t *testing.T) {
	l := NewLimiter(2)
	a, b, c := conn("127.0.0.1", 1), conn("127.0.0.1", 2), conn("127.0.0.1", 3)
	l.Admit(a)
	l.Admit(b)
	l.Admit(c)
	if !a.closed.Load() || b.closed.Load() || c.closed.Load() {
		t.Fatalf("closed: a %v b %v c %v, want only a", a.closed.Load(), b.closed.Load(), c.closed.Load())
	}
}

func TestLimiterClose(t *testing.T) {
	l := NewLimiter(3)
	a := conn("127.0.0.1", 1)
	l.Admit(a)
	l.Close()
	if !a.closed.Load() || l.Pending() != 0 {
		t.Fatal("Close left a pending connection open")
	}
	b := conn("127.0.0.1", 2)
	if l.Admit(b) || !b.closed.Load() {
		t.Fatal("a closed Limiter admitted a connection")
	}
}
