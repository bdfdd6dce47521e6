package proxy

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/zkgo/zkgo/wire"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// connectTo opens a connection to addr and sends a ConnectRequest.
func connectTo(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(wire.AppendConnect(nil, wire.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}, false, true)); err != nil {
		t.Fatal(err)
	}
	return c
}

// wantClosedAtOnce checks that the server closed c without an answer.
func wantClosedAtOnce(t *testing.T, c net.Conn, what string) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := c.Read(make([]byte, 1))
	if n != 0 || err == nil || (!errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err)) {
		t.Fatalf("%s: read %d bytes, %v; want the connection closed", what, n, err)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// TestFrontendRebindMovesTheListener: a move of the client address (a
// reconfiguration, as Java's cnxnFactory.reconfigure) takes new
// connections on the new address only, while the connections open on
// the old one are served on; a move back serves the old address again.
func TestFrontendRebindMovesTheListener(t *testing.T) {
	be := newHeldBackend(false)
	fe := startFrontend(t, be, nil)
	old := fe.Addr().String()
	conns := func() int { _, got, _ := be.snapshot(); return len(got) }
	c1 := connectTo(t, old)
	waitFor(t, "first connection", func() bool { return conns() == 1 })

	moved := freeAddr(t)
	bound, err := fe.Rebind(moved)
	if err != nil {
		t.Fatal(err)
	}
	if bound.String() != moved {
		t.Fatalf("Rebind(%s) serves on %s", moved, bound)
	}
	connectTo(t, moved)
	waitFor(t, "connection on the new address", func() bool { return conns() == 2 })
	wantClosedAtOnce(t, connectTo(t, old), "new connection to the old address")
	if conns() != 2 {
		t.Fatalf("a connection to the old address reached the backend")
	}
	// The connection opened before the move is served on.
	req := wire.AppendRequest(nil, wire.RequestHeader{Xid: 1, Type: wire.OpGetData}, &wire.GetDataRequest{Path: "/a"})
	if _, err := c1.Write(req); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "request on the connection opened before the move", func() bool {
		_, got, _ := be.snapshot()
		for _, p := range got {
			if len(p) == 2 {
				return true
			}
		}
		return false
	})
	if _, _, closed := be.snapshot(); closed != 0 {
		t.Fatalf("%d connections closed by the move", closed)
	}

	// Moving back: the first listener serves again, the moved one
	// closes new connections.
	if bound, err := fe.Rebind(old); err != nil || bound.String() != old {
		t.Fatalf("Rebind back to %s: %v, %v", old, bound, err)
	}
	connectTo(t, old)
	waitFor(t, "connection on the old address again", func() bool { return conns() == 3 })
	wantClosedAtOnce(t, connectTo(t, moved), "new connection to the address moved away from")
	// Moving to the address already serving changes nothing.
	if bound, err := fe.Rebind(old); err != nil || bound.String() != old {
		t.Fatalf("Rebind to the address serving: %v, %v", bound, err)
	}
	// A move that cannot bind keeps the listener serving.
	blocker, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close()
	if _, err := fe.Rebind(blocker.Addr().String()); err == nil {
		t.Fatal("Rebind to a port in use succeeded")
	}
	connectTo(t, old)
	waitFor(t, "connection after a failed move", func() bool { return conns() == 4 })
}
