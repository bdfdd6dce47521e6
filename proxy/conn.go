package proxy

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/zkgo/zkgo/internal/hoptrace"
	"github.com/zkgo/zkgo/wire"
)

// conn is the front end's state for one client connection. Fields under
// "loop-owned" are touched only by the owning event loop; the atomics are
// shared with the Backend's goroutines, which call Send, Close and Resume.
type conn struct {
	// Every client connection has one, idle or not: the fields are
	// ordered so that it stays in the 112-byte size class, at 104 bytes
	// (TestConnLayout).
	id     uint64
	remote string
	fe     *Frontend
	gc     gnet.Conn // only its concurrency-safe methods are used off the loop
	handle any

	// admin is the answer socket of a four-letter-word connection: set
	// on the loop when the word is read, used by whichever of the
	// Backend's answer, its close, or the front end's close comes first.
	admin atomic.Pointer[adminSock]
	// direct: replies written from the sender's goroutine (direct.go);
	// set on the loop at the connection's first request other than a ping.
	direct atomic.Pointer[directWriter]

	// loop-owned
	// held: see flagBlocked. A pointer, allocated at the connection's
	// first refusal and kept: an idle connection pays 8 bytes, not a
	// slice header.
	held *[]wire.ClientPacket

	// outstanding: requests decoded, not yet answered. 32 bits (Config
	// bounds MaxOutstanding well below 2^31) and every flag in one word
	// keep the struct at 96 bytes with the direct pointer.
	outstanding atomic.Int32
	// flags: flagPaused, flagResume, flagClosed (shared with the
	// Backend's goroutines) and the loop's own flagStarted,
	// flagFourLetter, flagBlocked, flagAdminSubmitted (written only on
	// the loop; in the shared word rather than four bools, which would
	// take the struct to the 112-byte size class).
	flags atomic.Uint32
}

var _ Conn = (*conn)(nil)

const (
	flagPaused uint32 = 1 << iota // reading stopped until outstanding drops
	flagResume                    // the Backend has room again (Resume)
	flagClosed                    // gnet closed the connection
	// flagStarted: the first message (connect or four-letter word) was
	// read (loop-owned).
	flagStarted
	// flagFourLetter: the connection sent an admin command; ignore the
	// rest (loop-owned).
	flagFourLetter
	// flagBlocked: the Backend refused the batch in held (possibly empty:
	// the open notice) and has not called Resume yet. Decoding goes on
	// into held within MaxOutstanding; nothing is submitted meanwhile
	// (loop-owned).
	flagBlocked
	// flagAdminSubmitted: the four-letter word reached the Backend, which
	// answers it or closes the connection (either finishes admin;
	// loop-owned).
	flagAdminSubmitted
)

// is reports whether flag f is set.
func (c *conn) is(f uint32) bool { return c.flags.Load()&f != 0 }

// set sets flag f.
func (c *conn) set(f uint32) { c.flags.Or(f) }

// clear clears flag f if it is set (a plain load when it is not: the
// loop clears flagBlocked after every batch it submits).
func (c *conn) clear(f uint32) {
	if c.is(f) {
		c.flags.And(^f)
	}
}

// take clears flag f and reports whether it was set.
func (c *conn) take(f uint32) bool { return c.flags.And(^f)&f != 0 }

func (c *conn) ID() uint64         { return c.id }
func (c *conn) RemoteAddr() string { return c.remote }

// Send writes b to the client: from the caller's goroutine when nothing of
// the connection waits on the loop (direct.go), else with gnet AsyncWrite.
func (c *conn) Send(b []byte, completed int) bool { return c.send(b, completed, true) }

// SendLater is Send that always queues b on the loop (gnet AsyncWrite):
// for a Backend answering many connections at once, whose loops then
// write the replies in parallel with it.
func (c *conn) SendLater(b []byte, completed int) bool { return c.send(b, completed, false) }

func (c *conn) send(b []byte, completed int, direct bool) bool {
	if a := c.admin.Load(); a != nil {
		a.finish(b)
		return true
	}
	if c.is(flagClosed) {
		return false
	}
	var n int32
	if completed > 0 {
		n = c.outstanding.Add(-int32(completed))
		if n < int32(c.fe.cfg.MaxOutstanding)/2 && c.take(flagPaused) {
			// Resume reading: Wake runs OnTraffic on the loop, which
			// decodes what arrived while paused.
			_ = c.gc.Wake(nil)
		}
	} else {
		n = c.outstanding.Load()
	}
	if len(b) == 0 {
		return true
	}
	hoptrace.Mark(hoptrace.Flushed)
	// A client waiting for nothing else (n == 0: a serial client, or
	// the last reply of a burst) gets the reply without the hand-off to
	// the loop. Replies to a pipelining client, which has more requests
	// in flight, keep going through the loops, which write them in
	// parallel with the Backend's goroutine: the order holds either
	// way (direct.go).
	if d := c.direct.Load(); d != nil && d.acquire() {
		err := d.send(c.gc, b, directReplies && direct && n == 0)
		d.release()
		return err == nil
	}
	return c.gc.AsyncWrite(b, checkOutbound) == nil
}

// Resume is called by the Backend when it has room for the batch it
// refused: OnTraffic, run on the loop by Wake, submits it.
func (c *conn) Resume() {
	c.set(flagResume)
	_ = c.gc.Wake(nil)
}

// Close closes the connection once queued replies are written.
func (c *conn) Close(reason string) {
	if a := c.admin.Load(); a != nil {
		// A four-letter-word connection: after the answer this only
		// closes gnet's side; before it (the Backend refused the
		// connection, as for maxClientCnxns) it closes unanswered.
		a.finish(nil)
		_ = c.gc.Close()
		return
	}
	if c.is(flagClosed) {
		return
	}
	c.fe.log.Debug().Str("remote", c.remote).Uint64("conn", c.id).Str("reason", reason).Msg("closing connection")
	_ = c.gc.Close()
}

// adminWriteTimeout bounds the write of a four-letter-word answer.
const adminWriteTimeout = 10 * time.Second

// adminSock is a duplicate of a four-letter-word connection's socket. The
// client may half-close right after the command (nc -N), which makes gnet
// close its descriptor before the answer is ready; the answer is written
// through this copy instead. finish writes (or not) and closes it exactly
// once; every path that ends the connection calls it, and Frontend.Stop
// finishes those still open, so no descriptor is left to a finalizer.
type adminSock struct {
	fe   *Frontend
	nc   net.Conn
	once sync.Once
}

// finish writes b, if any, and closes the socket. The first call wins. The
// write may block on a client that does not read, so it runs on a
// short-lived goroutine (admin commands are rare), bounded by
// adminWriteTimeout.
func (a *adminSock) finish(b []byte) {
	a.once.Do(func() {
		a.fe.forgetAdmin(a)
		if len(b) == 0 {
			_ = a.nc.Close()
			return
		}
		go func() {
			_ = a.nc.SetWriteDeadline(time.Now().Add(adminWriteTimeout))
			_, _ = a.nc.Write(b)
			_ = a.nc.Close()
		}()
	})
}

// dupForAdmin duplicates the socket of a four-letter-word connection. Runs
// on the loop; dup is a cheap syscall. Without a duplicate the answer goes
// through gnet as usual (lost if the client half-closed).
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
	a := &adminSock{fe: c.fe, nc: nc}
	c.fe.trackAdmin(a)
	c.admin.Store(a)
}

// checkOutbound runs on the loop after each asynchronous write: a client
// that does not read its replies is closed instead of growing our buffer.
// One function for every connection (it finds the connection in gc's
// context), not a method value bound per connection, which cost each
// connection an allocation and a field.
func checkOutbound(gc gnet.Conn, err error) error {
	if err != nil || gc == nil {
		return nil
	}
	c, ok := gc.Context().(*conn)
	if !ok {
		return nil
	}
	hoptrace.Mark(hoptrace.Written)
	c.checkOutbound(gc)
	return nil
}

// checkOutboundDirect is checkOutbound for the AsyncWrites of a
// connection that has a directWriter (directWriter.send).
func checkOutboundDirect(gc gnet.Conn, err error) error {
	if gc == nil {
		return nil
	}
	c, ok := gc.Context().(*conn)
	if !ok {
		return nil
	}
	hoptrace.Mark(hoptrace.Written)
	if d := c.direct.Load(); d != nil {
		d.written(gc)
	}
	if err == nil {
		c.checkOutbound(gc)
	}
	return nil
}

// checkOutbound closes c if it holds too many unsent bytes (on the loop).
func (c *conn) checkOutbound(gc gnet.Conn) {
	if n := gc.OutboundBuffered(); n > c.fe.cfg.MaxOutboundBytes {
		c.fe.log.Warn().Str("remote", c.remote).Uint64("conn", c.id).Int("buffered", n).
			Msg("closing slow client: replies not read")
		_ = gc.Close()
	}
}

// onTraffic decodes every complete frame in the inbound buffer and submits
// them to the Backend in one batch, after what it held from an earlier
// refusal. Runs on the connection's loop.
func (c *conn) onTraffic(gc gnet.Conn) gnet.Action {
	if r := c.fe.receipt; r != nil {
		r.Received(c.handle)
	}
	var batch []wire.ClientPacket
	if c.held != nil {
		batch = *c.held
		*c.held = nil
	}
	if c.is(flagFourLetter) {
		// Java reads only the command; anything after it is ignored.
		_, _ = gc.Discard(gc.InboundBuffered())
	} else {
		had := len(batch)
		var act gnet.Action
		if batch, act = c.decode(gc, batch); act != gnet.None {
			return act
		}
		if n := len(batch) - had; n > 0 {
			c.fe.received.Add(int64(n))
		}
	}
	if c.is(flagBlocked) {
		if !c.take(flagResume) {
			// Still waiting for room: keep it all for Resume.
			c.hold(batch)
			return gnet.None
		}
	} else if len(batch) == 0 {
		return gnet.None
	}
	if !c.fe.cfg.Backend.Submit(c.handle, batch) {
		// The Backend is full (or others wait before us): hold the batch
		// and read on only within MaxOutstanding until it calls Resume.
		c.hold(batch)
		c.set(flagBlocked)
		c.fe.refused.Add(1)
		return gnet.None
	}
	c.clear(flagBlocked)
	if c.is(flagFourLetter) && !c.is(flagAdminSubmitted) {
		c.set(flagAdminSubmitted)
	}
	return gnet.None
}

// hold keeps batch for the next submission (loop-owned).
func (c *conn) hold(batch []wire.ClientPacket) {
	if c.held == nil {
		c.held = new([]wire.ClientPacket)
	}
	*c.held = batch
}

// decode appends every complete frame in the inbound buffer to batch, up
// to MaxOutstanding requests in flight. It returns gnet.Close for a client
// that broke the protocol or floods past its limits.
func (c *conn) decode(gc gnet.Conn, batch []wire.ClientPacket) ([]wire.ClientPacket, gnet.Action) {
	maxOut := int32(c.fe.cfg.MaxOutstanding)
	for {
		if c.outstanding.Load() >= maxOut {
			c.set(flagPaused)
			// Re-check after publishing paused: a reply may have raced us.
			if c.outstanding.Load() >= maxOut {
				// Only a client far past its limit is closed: MaxOutstanding
				// requests unanswered and MaxInboundBytes more sent
				// (gnet reads on whatever we do, so this is what bounds
				// a paused connection's memory).
				if gc.InboundBuffered() > c.fe.cfg.MaxInboundBytes {
					c.fe.log.Warn().Str("remote", c.remote).Uint64("conn", c.id).Int("buffered", gc.InboundBuffered()).
						Msg("closing client: too many requests in flight and still sending")
					return batch, gnet.Close
				}
				return batch, gnet.None
			}
			c.take(flagPaused)
		}
		avail := gc.InboundBuffered()
		if avail < wire.FrameHeaderSize {
			return batch, gnet.None
		}
		hdr, err := gc.Peek(wire.FrameHeaderSize)
		if err != nil {
			return batch, gnet.None
		}
		if !c.is(flagStarted) {
			if w, ok := wire.IsFourLetterWord(hdr); ok {
				c.set(flagStarted | flagFourLetter)
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
				return append(batch, wire.ClientPacket{Kind: wire.KindFourLetter, Word: w, Raw: arg, Size: 4}), gnet.None
			}
		}
		n, _, err := wire.PeekFrame(hdr, c.fe.cfg.MaxFrame)
		if err != nil {
			c.fe.log.Warn().Str("remote", c.remote).Uint64("conn", c.id).Err(err).Msg("closing client: bad frame length")
			return batch, gnet.Close
		}
		if avail < wire.FrameHeaderSize+n {
			return batch, gnet.None
		}
		frame, err := gc.Peek(wire.FrameHeaderSize + n)
		if err != nil {
			return batch, gnet.None
		}
		body := make([]byte, n)
		copy(body, frame[wire.FrameHeaderSize:])
		_, _ = gc.Discard(wire.FrameHeaderSize + n)
		if !c.is(flagStarted) {
			c.set(flagStarted)
			cr, err := wire.DecodeConnect(body)
			if err != nil {
				c.fe.log.Warn().Str("remote", c.remote).Uint64("conn", c.id).Err(err).Msg("closing client: malformed ConnectRequest")
				return batch, gnet.Close
			}
			c.outstanding.Add(1)
			batch = append(batch, wire.ClientPacket{Kind: wire.KindConnect, Connect: &cr, Size: n + wire.FrameHeaderSize})
			continue
		}
		pkt, err := wire.DecodeRequestFrame(body, c.fe.cfg.MaxFrame)
		if err != nil {
			c.fe.log.Warn().Str("remote", c.remote).Uint64("conn", c.id).Err(err).
				Msg("closing client: request frame too short for a header")
			return batch, gnet.Close
		}
		if pkt.BodyErr != nil && c.fe.log.Debug().Enabled() {
			c.fe.log.Debug().Str("remote", c.remote).Uint64("conn", c.id).Err(pkt.BodyErr).
				Int32("xid", int32(pkt.Header.Xid)).Str("op", pkt.Header.Type.String()).Msg("undecodable request record")
		}
		c.outstanding.Add(1)
		if pkt.Header.Type != wire.OpPing && c.direct.Load() == nil {
			c.startDirect(gc)
		}
		batch = append(batch, pkt)
	}
}
