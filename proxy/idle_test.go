package proxy

import (
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zkgo/zkgo/wire"
)

// dropBackend counts the packets it is given and keeps none of them; it
// answers every request with reply (when set) through the connection.
type dropBackend struct {
	connRecorder
	packets atomic.Int64
	reply   []byte
}

// connRecorder is a test Backend's Open: it keeps every connection it is
// handed, under mu.
type connRecorder struct {
	mu    sync.Mutex
	conns []Conn
}

func (r *connRecorder) Open(c Conn) any {
	r.mu.Lock()
	r.conns = append(r.conns, c)
	r.mu.Unlock()
	return c
}

func (b *dropBackend) Submit(h any, pkts []wire.ClientPacket) bool {
	c := h.(Conn)
	for range pkts {
		b.packets.Add(1)
		c.Send(b.reply, 1)
	}
	return true
}

func (b *dropBackend) Closed(any, error) {}

// heapAfterGC is the live heap once sync.Pool caches (gnet pools its
// buffers) have been dropped: two collections empty a pool.
func heapAfterGC() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestIdleConnectionHoldsNoBuffers: an idle connection costs no buffer.
// The inbound bytes of a frame that has not fully arrived wait in gnet's
// per-connection ring buffer, which grows to the frame; once the frame is
// complete and decoded the buffer goes back (to gnet's pool, then to the
// GC), and a large reply's outbound buffer goes once written. 10k idle
// sessions (docs/memory.md) rely on it: their connections hold only
// their structs. A connection that sends again afterwards works.
func TestIdleConnectionHoldsNoBuffers(t *testing.T) {
	const conns = 32
	const dataSize = 192 << 10
	be := &dropBackend{reply: make([]byte, 8)}
	fe := startFrontend(t, be, nil)
	base := heapAfterGC()

	connect := wire.AppendConnect(nil, wire.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}, false, true)
	big := wire.AppendRequest(nil, wire.RequestHeader{Xid: 1, Type: wire.OpSetData},
		&wire.SetDataRequest{Path: "/a", Data: make([]byte, dataSize), Version: -1})
	small := wire.AppendRequest(nil, wire.RequestHeader{Xid: 2, Type: wire.OpGetData},
		&wire.GetDataRequest{Path: "/a"})
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", fe.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		cs[i] = c
		// The replies (8 bytes each) are read and dropped.
		go func() { _, _ = io.Copy(io.Discard, c) }()
		if _, err := c.Write(append(append([]byte(nil), connect...), big[:len(big)-100]...)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "connects decoded", func() bool { return be.packets.Load() == conns })
	// Every connection holds most of a frame: gnet buffers it.
	var held int64
	waitFor(t, "partial frames buffered", func() bool {
		held = heapAfterGC() - base
		return held >= conns*dataSize*3/4
	})
	for _, c := range cs {
		if _, err := c.Write(big[len(big)-100:]); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "large frames decoded", func() bool { return be.packets.Load() == 2*conns })
	// What stays is the connections' structs, the test's client side
	// included (about 10 KB a connection), not a buffer each.
	var idle int64
	waitFor(t, "buffers released", func() bool {
		idle = heapAfterGC() - base
		return idle < conns*dataSize/8
	})
	t.Logf("%d connections: %d KB while a frame was partly in, %d KB idle", conns, held>>10, idle>>10)

	// A large reply: the outbound buffer holds what the socket did not
	// take, and goes once the client has read it.
	be.mu.Lock()
	for _, c := range be.conns {
		c.Send(make([]byte, 1<<20), 0)
	}
	be.mu.Unlock()
	// Active again: every connection is still served.
	for _, c := range cs {
		if _, err := c.Write(small); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "requests after idle decoded", func() bool { return be.packets.Load() == 3*conns })
	waitFor(t, "outbound buffers released", func() bool {
		idle = heapAfterGC() - base
		return idle < conns*dataSize/8
	})
	if n := fe.Connections(); n != int64(conns) {
		t.Fatalf("%d connections open, want %d", n, conns)
	}
}
