package harness

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Tap is a TCP relay that records what flows through it, so a test can
// decode the packets a real peer sent (e.g. a Java leader's sync packets
// to a zkgo learner) instead of trusting either side's logs.
type Tap struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []*TapConn
	wg    sync.WaitGroup
}

// TapConn is one relayed connection: Down holds what the target sent to
// the dialer, Up what the dialer sent to the target.
type TapConn struct {
	mu       sync.Mutex
	up, down bytes.Buffer
}

// Down returns a copy of the bytes the target sent so far.
func (c *TapConn) Down() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.down.Bytes()...)
}

// Up returns a copy of the bytes the dialer sent so far.
func (c *TapConn) Up() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.up.Bytes()...)
}

type tapWriter struct {
	c   *TapConn
	buf *bytes.Buffer
}

func (w tapWriter) Write(b []byte) (int, error) {
	w.c.mu.Lock()
	w.buf.Write(b)
	w.c.mu.Unlock()
	return len(b), nil
}

// NewTap relays 127.0.0.1:<port> to target until the test ends.
func NewTap(t testing.TB, target string) *Tap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &Tap{ln: ln, target: target}
	tp.wg.Add(1)
	go tp.serve()
	t.Cleanup(func() { ln.Close(); tp.wg.Wait() })
	return tp
}

// Port is the relay's port.
func (tp *Tap) Port() int { return tp.ln.Addr().(*net.TCPAddr).Port }

// Conns returns the connections relayed so far, oldest first.
func (tp *Tap) Conns() []*TapConn {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]*TapConn(nil), tp.conns...)
}

func (tp *Tap) serve() {
	defer tp.wg.Done()
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for {
		c, err := tp.ln.Accept()
		if err != nil {
			return
		}
		// A refused dial would look like an accepted connection that closes
		// at once, which callers do not retry the way they retry a refused
		// connect: keep trying the target for a moment first.
		var up net.Conn
		for deadline := time.Now().Add(2 * time.Second); ; {
			if up, err = net.Dial("tcp", tp.target); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			c.Close()
			continue
		}
		open = append(open, c, up)
		tc := &TapConn{}
		tp.mu.Lock()
		tp.conns = append(tp.conns, tc)
		tp.mu.Unlock()
		pipe := func(dst, src net.Conn, rec *bytes.Buffer) {
			io.Copy(io.MultiWriter(dst, tapWriter{c: tc, buf: rec}), src)
			dst.Close()
			src.Close()
		}
		go pipe(up, c, &tc.up)
		go pipe(c, up, &tc.down)
	}
}
