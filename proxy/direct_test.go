package proxy

import (
	"bufio"
	"encoding/binary"
	"net"
	"os"
	"testing"
	"time"

	"github.com/zkgo/zkgo/wire"
)

// sizedBackend answers each request on one goroutine (as the server's
// owner goroutine does) with a reply whose payload is size bytes, each
// byte the low byte of the xid, so that a client can tell a reply cut or
// interleaved with another. It records the connections closed.
type sizedBackend struct {
	connRecorder // mu also guards closed
	size         int
	in           chan echoBatch
	quit         chan struct{}
	closed       int
}

func newSizedBackend(size int) *sizedBackend {
	b := &sizedBackend{size: size, in: make(chan echoBatch, 1<<14), quit: make(chan struct{})}
	go b.run()
	return b
}

func (b *sizedBackend) Submit(h any, pkts []wire.ClientPacket) bool {
	select {
	case b.in <- echoBatch{c: h.(Conn), pkts: pkts}:
		return true
	default:
		return false
	}
}

func (b *sizedBackend) Closed(any, error) {
	b.mu.Lock()
	b.closed++
	b.mu.Unlock()
}

func (b *sizedBackend) closedCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

func (b *sizedBackend) run() {
	for {
		select {
		case <-b.quit:
			return
		case ev := <-b.in:
			for i := range ev.pkts {
				p := &ev.pkts[i]
				var out []byte
				if p.Kind == wire.KindConnect {
					out = wire.AppendConnectResponse(nil, wire.ConnectResponse{TimeOut: 30000, SessionID: 1,
						Passwd: make([]byte, 16)}, false)
				} else {
					out = make([]byte, 20+b.size)
					binary.BigEndian.PutUint32(out, uint32(16+b.size))
					binary.BigEndian.PutUint32(out[4:], uint32(p.Header.Xid))
					for k := 20; k < len(out); k++ {
						out[k] = byte(p.Header.Xid)
					}
				}
				// One Send per reply: the order between Sends is what
				// the direct path must keep.
				ev.c.Send(out, 1)
			}
		}
	}
}

// checkReply reads one reply and checks it is xid's, whole.
func checkReply(t *testing.T, br *bufio.Reader, xid int32, size int) {
	t.Helper()
	body, err := readFrameBody(br)
	if err != nil {
		t.Fatalf("reply %d: %v", xid, err)
	}
	if len(body) != 16+size {
		t.Fatalf("reply %d: %d bytes, want %d", xid, len(body), 16+size)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != xid {
		t.Fatalf("reply %d came as xid %d: replies out of order", xid, got)
	}
	for k, c := range body[16:] {
		if c != byte(xid) {
			t.Fatalf("reply %d: byte %d is %d: replies interleaved", xid, k, c)
		}
	}
}

func getDataReq(xid int32) []byte {
	return wire.AppendRequest(nil, wire.RequestHeader{Xid: wire.Xid(xid), Type: wire.OpGetData},
		&wire.GetDataRequest{Path: "/a"})
}

// TestDirectRepliesSkipTheLoop: a serial client's replies are written by
// the Backend's goroutine itself, not handed to the event loop with
// AsyncWrite (issue 19 point 4: one cross-thread wake-up per request
// less). Only the first reply after the connection's first request goes
// through the loop (replies queued before may still wait there).
func TestDirectRepliesSkipTheLoop(t *testing.T) {
	enableDirectReplies(t)
	be := newSizedBackend(8)
	defer close(be.quit)
	fe := startFrontend(t, be, nil)
	c, br := handshake(t, fe.Addr().String())
	direct0, async0 := directCounters.direct.Load(), directCounters.async.Load()
	const n = 200
	for xid := int32(1); xid <= n; xid++ {
		if _, err := c.Write(getDataReq(xid)); err != nil {
			t.Fatal(err)
		}
		checkReply(t, br, xid, 8)
	}
	direct, async := directCounters.direct.Load()-direct0, directCounters.async.Load()-async0
	// Other tests of the package may run in parallel: at least.
	if direct < n-1 {
		t.Fatalf("%d of %d serial replies written directly (%d through the loop), want at least %d", direct, n, async, n-1)
	}
}

// TestDirectRepliesKeepOrder: a client that does not read for a while
// fills its socket buffer, so replies go through the loop's outbound
// buffer (short writes, EAGAIN) and back to direct writes once it drained:
// every reply still arrives whole and in order.
func TestDirectRepliesKeepOrder(t *testing.T) {
	enableDirectReplies(t)
	const size, n = 16 << 10, 1500
	be := newSizedBackend(size)
	defer close(be.quit)
	// A few requests in flight: the front end reads more as replies go
	// out, so replies are sent all the while the client drains the
	// backlog, some while gnet still holds earlier ones.
	fe := startFrontend(t, be, func(c *Config) { c.MaxOutstanding = 16 })
	c, br := handshake(t, fe.Addr().String())
	// The first request makes the connection write directly.
	if _, err := c.Write(getDataReq(1)); err != nil {
		t.Fatal(err)
	}
	checkReply(t, br, 1, size)
	direct0, async0 := directCounters.direct.Load(), directCounters.async.Load()
	var reqs []byte
	for xid := int32(2); xid <= n; xid++ {
		reqs = append(reqs, getDataReq(xid)...)
	}
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(reqs)
		werr <- err
	}()
	// Let the replies fill the socket buffers before reading them.
	waitFor(t, "replies pile up on the server", func() bool {
		return directCounters.async.Load()-async0 > 0
	})
	for xid := int32(2); xid <= n; xid++ {
		checkReply(t, br, xid, size)
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	// Serial again: the connection goes back to direct writes.
	d0 := directCounters.direct.Load()
	for xid := int32(n + 1); xid <= n+20; xid++ {
		if _, err := c.Write(getDataReq(xid)); err != nil {
			t.Fatal(err)
		}
		checkReply(t, br, xid, size)
	}
	if directCounters.direct.Load()-d0 < 19 || directCounters.direct.Load()-direct0 == 0 {
		t.Fatalf("no direct writes after the backlog drained (direct %d, async %d)",
			directCounters.direct.Load()-direct0, directCounters.async.Load()-async0)
	}
}

// openFDs counts this process's descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("count descriptors: %v", err)
	}
	return len(ents)
}

// TestDirectDescriptorClosed: the duplicate descriptor a connection writes
// through is closed with it, whoever closes: no descriptor leaks, and a
// connection the server closes reaches the client as EOF (an open
// duplicate would keep the socket open).
func TestDirectDescriptorClosed(t *testing.T) {
	enableDirectReplies(t)
	be := newSizedBackend(8)
	defer close(be.quit)
	fe := startFrontend(t, be, nil)
	// A first connection, closed: the runtime's own poller descriptors
	// (made at the first dial) are counted in before.
	c0, err := net.Dial("tcp", fe.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c0.Close()
	waitFor(t, "first connection closed", func() bool { return be.closedCount() == 1 })
	before := openFDs(t)
	const n = 20
	var conns []net.Conn
	for i := 0; i < n; i++ {
		c, br := handshake(t, fe.Addr().String())
		if _, err := c.Write(getDataReq(1)); err != nil {
			t.Fatal(err)
		}
		checkReply(t, br, 1, 8)
		conns = append(conns, c)
	}
	// The client closes half of them, the server the other half.
	for _, c := range conns[:n/2] {
		c.Close()
	}
	be.mu.Lock()
	server := append([]Conn(nil), be.conns...)
	be.mu.Unlock()
	for _, sc := range server {
		sc.Close("test")
	}
	for _, c := range conns[n/2:] {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("read data after the server closed")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the server closed the connection but the client saw no EOF")
		}
		c.Close()
	}
	waitFor(t, "every connection closed", func() bool { return be.closedCount() == n+1 })
	// Client sides, gnet's descriptors and the duplicates: all closed.
	waitFor(t, "descriptors released", func() bool { return openFDs(t) <= before })
}

// TestDirectDescriptorBudget: past the front end's budget of duplicate
// descriptors a connection's replies go through the loop, whole and in
// order, and a closed connection gives its duplicate back.
func TestDirectDescriptorBudget(t *testing.T) {
	enableDirectReplies(t)
	be := newSizedBackend(8)
	defer close(be.quit)
	fe := startFrontend(t, be, nil)
	fe.maxDups.Store(1)
	first, br1 := handshake(t, fe.Addr().String())
	if _, err := first.Write(getDataReq(1)); err != nil {
		t.Fatal(err)
	}
	checkReply(t, br1, 1, 8)
	second, br2 := handshake(t, fe.Addr().String())
	for xid := int32(1); xid <= 20; xid++ {
		if _, err := second.Write(getDataReq(xid)); err != nil {
			t.Fatal(err)
		}
		checkReply(t, br2, xid, 8)
	}
	if n := fe.dups.Load(); n != 1 {
		t.Fatalf("%d duplicates open, want 1 (the budget)", n)
	}
	first.Close()
	waitFor(t, "the duplicate given back", func() bool { return fe.dups.Load() == 0 })
}

// TestSendLaterQueuesOnTheLoop: SendLater (a Backend answering many
// connections in one round) never writes from the caller: the reply goes
// through the loop, in order with the direct ones around it.
func TestSendLaterQueuesOnTheLoop(t *testing.T) {
	enableDirectReplies(t)
	be := newSizedBackend(8)
	defer close(be.quit)
	fe := startFrontend(t, be, nil)
	c, br := handshake(t, fe.Addr().String())
	if _, err := c.Write(getDataReq(1)); err != nil {
		t.Fatal(err)
	}
	checkReply(t, br, 1, 8)
	be.mu.Lock()
	sc := be.conns[len(be.conns)-1].(*conn)
	be.mu.Unlock()
	reply := func(xid int32) []byte {
		out := make([]byte, 28)
		binary.BigEndian.PutUint32(out, 24)
		binary.BigEndian.PutUint32(out[4:], uint32(xid))
		for k := 20; k < len(out); k++ {
			out[k] = byte(xid)
		}
		return out
	}
	async0 := directCounters.async.Load()
	for xid := int32(2); xid <= 11; xid++ {
		if !sc.SendLater(reply(xid), 0) {
			t.Fatal("SendLater refused")
		}
	}
	for xid := int32(2); xid <= 11; xid++ {
		checkReply(t, br, xid, 8)
	}
	if a := directCounters.async.Load() - async0; a < 10 {
		t.Fatalf("%d of 10 SendLater replies went through the loop", a)
	}
}

// enableDirectReplies turns the direct reply path on for one test.
func enableDirectReplies(t *testing.T) {
	prev := directReplies
	directReplies = true
	t.Cleanup(func() { directReplies = prev })
}
