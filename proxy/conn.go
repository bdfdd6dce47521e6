package proxy

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/zkgo/zkgo/wire"
)

// conn is the front end's state for one client connection. Fields under
// "loop-owned" are touched only by the owning event loop; the atomics are
// shared with the Backend's goroutines, which call Send and Close.
type conn struct {
	id         uint64
	remote     string
	fe         *Frontend
	gc         gnet.Conn // only its concurrency-safe methods are used off the loop
	handle     any
	afterWrite gnet.AsyncCallback

	// loop-owned
	started    bool // the first message (connect or four-letter word) was read
	fourLetter bool // the connection sent an admin command; ignore the rest

	// adminConn is a dup of the socket of a four-letter-word connection.
	// The client may half-close right after the command (nc -q, nc -N),
	// which makes gnet close its descriptor before the answer is ready;
	// the answer is written through this copy instead.
	adminConn net.Conn
	adminOnce sync.Once

	outstanding atomic.Int64 // requests submitted, not yet answered
	paused      atomic.Bool  // reading stopped until outstanding drops
	closed      atomic.Bool
}

var _ Conn = (*conn)(nil)

func (c *conn) ID() uint64         { return c.id }
func (c *conn) RemoteAddr() string { return c.remote }

// Send queues b for the client (gnet AsyncWrite: the single reply path).
func (c *conn) Send(b []byte, completed int) bool {
	if c.adminConn != nil {
		c.sendAdmin(b)
		return true
	}
	if c.closed.Load() {
		return false
	}
	if completed > 0 {
		n := c.outstanding.Add(-int64(completed))
		if n < int64(c.fe.cfg.MaxOutstanding)/2 && c.paused.CompareAndSwap(true, false) {
			// Resume reading: Wake runs OnTraffic on the loop, which
			// decodes what arrived while paused.
			_ = c.gc.Wake(nil)
		}
	}
	if len(b) == 0 {
		return true
	}
	return c.gc.AsyncWrite(b, c.afterWrite) == nil
}

// adminWriteTimeout bounds the write of a four-letter-word answer.
const adminWriteTimeout = 10 * time.Second

// sendAdmin writes a four-letter-word answer through the duplicated socket
// and closes it. Admin commands are rare, so a short-lived goroutine does
// the (possibly blocking) write off the server's goroutine.
func (c *conn) sendAdmin(b []byte) {
	c.adminOnce.Do(func() {
		nc := c.adminConn
		go func() {
			_ = nc.SetWriteDeadline(time.Now().Add(adminWriteTimeout))
			_, _ = nc.Write(b)
			_ = nc.Close()
		}()
	})
}

// dupForAdmin duplicates the socket so a four-letter-word answer survives
// a half-close by the client. Runs on the loop; dup is a cheap syscall.
func (c *conn) dupForAdmin(gc gnet.Conn) {
	fd, err := gc.Dup()
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "zk-admin")
	nc, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		return
	}
	c.adminConn = nc
}

// Close closes the connection once queued replies are written.
func (c *conn) Close(reason string) {
	if c.adminConn != nil {
		// The answer's writer closes the duplicate; close gnet's side.
		_ = c.gc.Close()
		return
	}
	if c.closed.Load() {
		return
	}
	c.fe.log.Debug().Str("remote", c.remote).Uint64("conn", c.id).Str("reason", reason).Msg("closing connection")
	_ = c.gc.Close()
}

// checkOutbound runs on the loop after each asynchronous write: a client
// that does not read its replies is closed instead of growing our buffer.
func (c *conn) checkOutbound(gc gnet.Conn, err error) error {
	if err != nil || gc == nil {
		return nil
	}
	if n := gc.OutboundBuffered(); n > c.fe.cfg.MaxOutboundBytes {
		c.fe.log.Warn().Str("remote", c.remote).Uint64("conn", c.id).Int("buffered", n).
			Msg("closing slow client: replies not read")
		_ = gc.Close()
	}
	return nil
}

// onTraffic decodes every complete frame in the inbound buffer and submits
// them to the Backend in one batch. Runs on the connection's loop.
func (c *conn) onTraffic(gc gnet.Conn) gnet.Action {
	if c.fourLetter {
		// Java reads only the command; anything after it is ignored.
		_, _ = gc.Discard(gc.InboundBuffered())
		return gnet.None
	}
	var batch []wire.ClientPacket
	maxOut := int64(c.fe.cfg.MaxOutstanding)
	for {
		if c.outstanding.Load() >= maxOut {
			c.paused.Store(true)
			// Re-check after publishing paused: a reply may have raced us.
			if c.outstanding.Load() >= maxOut {
				if gc.InboundBuffered() > c.fe.cfg.MaxInboundBytes {
					c.fe.log.Warn().Str("remote", c.remote).Uint64("conn", c.id).Int("buffered", gc.InboundBuffered()).
						Msg("closing client: too many requests in flight and still sending")
					return gnet.Close
				}
				break
			}
			c.paused.Store(false)
		}
		avail := gc.InboundBuffered()
		if avail < wire.FrameHeaderSize {
			break
		}
		hdr, err := gc.Peek(wire.FrameHeaderSize)
		if err != nil {
			break
		}
		if !c.started {
			if w, ok := wire.IsFourLetterWord(hdr); ok {
				c.started, c.fourLetter = true, true
				var arg []byte
				if w == "stmk" && avail >= 12 {
					// stmk carries an 8-byte trace mask in the same read.
					if b, err := gc.Peek(12); err == nil {
						arg = append([]byte(nil), b[4:12]...)
					}
				}
				_, _ = gc.Discard(gc.InboundBuffered())
				c.dupForAdmin(gc)
				c.outstanding.Add(1)
				batch = append(batch, wire.ClientPacket{Kind: wire.KindFourLetter, Word: w, Raw: arg, Size: 4})
				break
			}
		}
		n, _, err := wire.PeekFrame(hdr, c.fe.cfg.MaxFrame)
		if err != nil {
			c.fe.log.Warn().Str("remote", c.remote).Uint64("conn", c.id).Err(err).Msg("closing client: bad frame length")
			return gnet.Close
		}
		if avail < wire.FrameHeaderSize+n {
			break
		}
		frame, err := gc.Peek(wire.FrameHeaderSize + n)
		if err != nil {
			break
		}
		body := make([]byte, n)
		copy(body, frame[wire.FrameHeaderSize:])
		_, _ = gc.Discard(wire.FrameHeaderSize + n)
		if !c.started {
			c.started = true
			cr, err := wire.DecodeConnect(body)
			if err != nil {
				c.fe.log.Warn().Str("remote", c.remote).Uint64("conn", c.id).Err(err).Msg("closing client: malformed ConnectRequest")
				return gnet.Close
			}
			c.outstanding.Add(1)
			batch = append(batch, wire.ClientPacket{Kind: wire.KindConnect, Connect: &cr, Size: n + wire.FrameHeaderSize})
			continue
		}
		pkt, err := wire.DecodeRequestFrame(body, c.fe.cfg.MaxFrame)
		if err != nil {
			c.fe.log.Warn().Str("remote", c.remote).Uint64("conn", c.id).Err(err).
				Msg("closing client: request frame too short for a header")
			return gnet.Close
		}
		if pkt.BodyErr != nil && c.fe.log.Debug().Enabled() {
			c.fe.log.Debug().Str("remote", c.remote).Uint64("conn", c.id).Err(pkt.BodyErr).
				Int32("xid", int32(pkt.Header.Xid)).Str("op", pkt.Header.Type.String()).Msg("undecodable request record")
		}
		c.outstanding.Add(1)
		batch = append(batch, pkt)
	}
	if len(batch) == 0 {
		return gnet.None
	}
	c.fe.received.Add(int64(len(batch)))
	if !c.fe.cfg.Backend.Submit(c.handle, batch) {
		c.fe.log.Warn().Str("remote", c.remote).Uint64("conn", c.id).Msg("closing client: server overloaded")
		return gnet.Close
	}
	return gnet.None
}
