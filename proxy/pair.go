package proxy

import (
	"encoding/binary"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// pair is one client connection and its upstream connection. Both are
// registered on the same event loop, so every field below is owned by
// that loop except where noted.
type pair struct {
	p      *Passthrough
	id     uint64
	client gnet.Conn
	up     gnet.Conn // nil until the upstream is registered
	upAddr string
	remote string
	ip     string
	opened time.Time

	ipst      *ipState // shared per-IP state (atomics), nil without IP policies
	countedIP bool

	started    bool // the first client message was read
	fourLetter bool // raw pass-through of an admin command
	connected  bool // the ConnectResponse was read
	connStart  time.Time
	session    wire.SessionID
	sessionUp  bool // counted in the open-sessions gauge
	lastZxid   wire.Zxid
	closed     bool // the client side is gone
	upGone     bool // the upstream side is gone

	pending []pending // requests awaiting a reply, in request order
	head    int       // index of the first live entry of pending

	inflightPaused bool
	// refusing: the client sent an opcode no client sends; nothing it
	// sends after it is read, and the pair closes once the refusal is out.
	refusing bool
	sh       *shadowState // --shadow; nil without it

	// adminConn is a dup of a four-letter-word client's socket: clients
	// often half-close right after the word (nc -N), which makes gnet
	// close its side before the upstream answers. The answer is collected
	// in adminBuf and written through the dup when the upstream closes.
	adminConn net.Conn
	adminBuf  []byte
	word      []byte // the four-letter word read before the upstream connected
	// wakeClient / wakeUp: a timed Wake of that side is scheduled (set
	// on the loop, cleared by the timer goroutine).
	wakeClient, wakeUp atomic.Bool
}

// pending is a request forwarded (or answered locally) and not yet replied.
type pending struct {
	xid  wire.Xid
	op   wire.OpCode
	t    time.Time
	path string
	// local is the reply the proxy made itself (policy); it is sent when
	// the entry reaches the head of the queue, keeping replies in order.
	local []byte
	code  wire.ErrCode
	// closeAfter closes the pair once local is written.
	closeAfter bool
}

func (pr *pair) logEvent(ev *zerolog.Event) *zerolog.Event {
	return ev.Str("remote", pr.remote).Uint64("conn", pr.id).Str("upstream", pr.upAddr)
}

// closePair closes both sides with a logged reason.
func (pr *pair) closePair(reason string, err error) {
	ev := pr.logEvent(pr.p.log.Warn()).Str("reason", reason)
	if err != nil {
		ev = ev.Err(err)
	}
	if pr.session != 0 {
		ev = ev.Str("session", "0x"+formatHex(uint64(pr.session)))
	}
	ev.Msg("closing client connection")
	_ = pr.client.Close()
	if pr.up != nil {
		_ = pr.up.Close()
	}
}

// upOpened runs on the loop when the upstream connection is registered.
func (pr *pair) upOpened(c gnet.Conn, addr string) ([]byte, gnet.Action) {
	if pr.closed && pr.adminConn == nil {
		return nil, gnet.Close
	}
	pr.up, pr.upAddr = c, addr
	pr.p.m.upConns.Inc()
	if pr.p.cfg.Record != nil {
		pr.p.cfg.Record.open(pr)
	}
	if pr.closed {
		// The client sent a four-letter word and half-closed while we
		// dialled: pass the word on; the answer goes through the dup.
		pr.started, pr.fourLetter = true, true
		if w, ok := wire.IsFourLetterWord(pr.word); ok {
			pr.p.m.fourLetter.WithLabelValues(w).Inc()
		}
		pr.p.m.bytesIn.Add(float64(len(pr.word)))
		return pr.word, gnet.None
	}
	// The client may have sent its ConnectRequest while we dialled.
	_ = pr.client.Wake(nil)
	return nil, gnet.None
}

// clientClosed runs on the loop when the client connection is gone.
func (pr *pair) clientClosed(err error) {
	if pr.closed {
		return
	}
	pr.closed = true
	pr.p.m.clientConns.Dec()
	pr.p.pol.release(pr)
	if pr.sessionUp {
		pr.sessionUp = false
		pr.p.m.sessions.Dec()
	}
	if pr.up != nil && !pr.upGone && pr.adminConn == nil {
		_ = pr.up.Close()
	}
	if pr.sh != nil && pr.sh.conn != nil {
		_ = pr.sh.conn.Close()
	}
	if pr.p.cfg.Record != nil && pr.up != nil {
		pr.p.cfg.Record.close(pr, "client")
	}
	if err != nil && pr.p.log.Debug().Enabled() {
		pr.logEvent(pr.p.log.Debug()).Err(err).Msg("client connection closed")
	}
}

// upClosed runs on the loop when the upstream connection is gone: the
// client is closed too, and its own reconnect logic moves the session to
// another server through a new pair.
func (pr *pair) upClosed(err error) {
	if pr.upGone {
		return
	}
	pr.upGone = true
	pr.p.m.upConns.Dec()
	if pr.adminConn != nil {
		pr.sendAdmin()
	}
	if !pr.closed {
		ev := pr.logEvent(pr.p.log.Info())
		if err != nil {
			ev = ev.Err(err)
		}
		ev.Msg("upstream connection closed; closing client")
		_ = pr.client.Close()
	}
}

// scheduleWake wakes c after d unless a wake is already scheduled.
func scheduleWake(flag *atomic.Bool, c gnet.Conn, d time.Duration) {
	if !flag.CompareAndSwap(false, true) {
		return
	}
	time.AfterFunc(d, func() {
		flag.Store(false)
		_ = c.Wake(nil)
	})
}

// backpressureRetry is how often a paused side checks whether the other
// side's outbound buffer drained (gnet has no writable callback).
const backpressureRetry = time.Millisecond

// fromClient forwards the client's complete frames to the upstream.
func (pr *pair) fromClient() gnet.Action {
	c := pr.client
	if pr.up == nil || pr.upGone {
		if pr.up == nil && !pr.started && pr.adminConn == nil && c.InboundBuffered() >= 4 {
			// A four-letter word before the upstream is there: keep the
			// socket and the word in case the client half-closes now.
			if b, err := c.Peek(-1); err == nil {
				if w, ok := wire.IsFourLetterWord(b[:4]); ok {
					if !pr.p.pol.wordAllowed(w) {
						return pr.refuseWord(w)
					}
					pr.dupForAdmin(c)
					pr.word = append([]byte(nil), b...)
				}
			}
		}
		if c.InboundBuffered() > pr.p.cfg.MaxRequest+wire.FrameHeaderSize {
			pr.closePair("client sent too much before the upstream connected", nil)
			return gnet.Close
		}
		return gnet.None
	}
	if pr.refusing {
		_, _ = c.Discard(c.InboundBuffered())
		return gnet.None
	}
	up := pr.up
	if up.OutboundBuffered() > pr.p.cfg.MaxOutbound {
		if c.InboundBuffered() > pr.p.cfg.MaxBuffered {
			pr.p.m.decision(DecisionSlowUpstream)
			pr.closePair("upstream not reading; client still sending", nil)
			return gnet.Close
		}
		scheduleWake(&pr.wakeClient, c, backpressureRetry)
		return gnet.None
	}
	buf, _ := c.Peek(-1)
	if len(buf) == 0 {
		return gnet.None
	}
	if pr.fourLetter {
		n := len(buf)
		_, _ = up.Write(buf)
		_, _ = c.Discard(n)
		pr.p.m.bytesIn.Add(float64(n))
		return gnet.None
	}
	m := pr.p.m
	pol := pr.p.pol
	now := time.Now()
	off, fwd := 0, 0
	flush := func(to int) {
		if to > fwd {
			_, _ = up.Write(buf[fwd:to])
			m.bytesIn.Add(float64(to - fwd))
			if pr.sh != nil {
				pr.shadowWrite(buf[fwd:to])
			}
		}
		fwd = to
	}
	for len(buf)-off >= wire.FrameHeaderSize {
		if !pr.started {
			if w, ok := wire.IsFourLetterWord(buf[off : off+4]); ok {
				if !pr.p.pol.wordAllowed(w) {
					return pr.refuseWord(w)
				}
				pr.started, pr.fourLetter = true, true
				if pr.adminConn == nil {
					pr.dupForAdmin(c)
				}
				m.fourLetter.WithLabelValues(w).Inc()
				pr.logEvent(pr.p.log.Debug()).Str("word", w).Msg("four-letter word")
				if pr.p.cfg.Record != nil {
					pr.p.cfg.Record.frame(pr, toServer, buf[off:], now, "", "")
				}
				off = len(buf)
				break
			}
		}
		n := int(int32(binary.BigEndian.Uint32(buf[off:])))
		if n < 0 {
			flush(off)
			pr.closePair("bad frame length from client", nil)
			return gnet.Close
		}
		if n > pr.p.cfg.MaxRequest {
			flush(off)
			m.decision(DecisionRequestSize)
			pr.closePair("request larger than the limit", nil)
			return gnet.Close
		}
		end := off + wire.FrameHeaderSize + n
		if end > len(buf) {
			break
		}
		body := buf[off+wire.FrameHeaderSize : end]
		if !pr.started {
			pr.started = true
			cr, err := wire.DecodeConnect(body)
			if err != nil {
				flush(off)
				pr.closePair("malformed ConnectRequest", err)
				return gnet.Close
			}
			if pr.sh != nil {
				// The shadow gets its own session: forward the original
				// to the primary only.
				flush(off)
				_, _ = up.Write(buf[off:end])
				m.bytesIn.Add(float64(end - off))
				fwd = end
				pr.shadowConnect(cr)
			}
			pr.connStart = now
			m.requests[opSlot(wire.OpCreateSession)].Inc()
			if pr.p.cfg.Record != nil {
				pr.p.cfg.Record.frame(pr, toServer, buf[off:end], now, "connect", "")
			}
			off = end
			continue
		}
		if n < 8 {
			flush(off)
			pr.closePair("request frame too short for a header", nil)
			return gnet.Close
		}
		xid := wire.Xid(int32(binary.BigEndian.Uint32(body)))
		op := wire.OpCode(int32(binary.BigEndian.Uint32(body[4:])))
		if lim := pol.pol.MaxInFlight; lim != NoLimit && pr.live() >= lim {
			if !pr.inflightPaused {
				pr.inflightPaused = true
				m.decision(DecisionInFlight)
			}
			break
		}
		if pol.interval > 0 {
			if wait := pol.take(pr.ipst, now.UnixNano()); wait > 0 {
				m.decision(DecisionRateLimited)
				scheduleWake(&pr.wakeClient, c, wait)
				break
			}
		}
		ent := pending{xid: xid, op: op, t: now}
		if pr.p.logReq || pr.p.cfg.Record != nil {
			ent.path = requestPath(op, body[8:])
		}
		m.requests[opSlot(op)].Inc()
		if code, decision, closeConn := pol.refuse(op); code != 0 {
			m.decision(decision)
			flush(off)
			fwd = end
			ent.local = wire.AppendReply(nil, wire.ReplyHeader{Xid: xid, Err: code}, nil)
			ent.code = code
			ent.closeAfter = closeConn
			if pr.p.cfg.Record != nil {
				pr.p.cfg.Record.frame(pr, toServer, buf[off:end], now, "", ent.path)
			}
			pr.push(ent)
			off = end
			if closeConn {
				// What follows is not read: the refusal is the last
				// reply, after those of the requests before it.
				pr.refusing = true
				pr.logEvent(pr.p.log.Warn()).Int32("op", int32(op)).Int32("xid", int32(xid)).
					Msg("client sent an opcode no client sends; refusing it and closing the connection")
				_, _ = c.Discard(c.InboundBuffered())
				if pr.live() == 1 && pr.sendLocalHead(now) {
					return gnet.Close
				}
				return gnet.None
			}
			if pr.live() == 1 {
				pr.sendLocalHead(now)
			}
			continue
		}
		if pr.p.cfg.Record != nil {
			pr.p.cfg.Record.frame(pr, toServer, buf[off:end], now, "", ent.path)
		}
		if pr.sh != nil {
			pr.shadowRequest(xid, op)
		}
		pr.push(ent)
		off = end
	}
	flush(off)
	if off > 0 {
		_, _ = c.Discard(off) // Discard(0) would drop everything
	}
	if c.InboundBuffered() > pr.p.cfg.MaxBuffered {
		pr.closePair("client buffered too much", nil)
		return gnet.Close
	}
	return gnet.None
}

func (pr *pair) live() int { return len(pr.pending) - pr.head }

func (pr *pair) push(e pending) {
	if pr.head > 0 && pr.head == len(pr.pending) {
		pr.pending, pr.head = pr.pending[:0], 0
	}
	pr.pending = append(pr.pending, e)
}

// take removes the pending entry for xid (normally the head; special xids
// such as auth may be answered out of order).
func (pr *pair) take(xid wire.Xid) (pending, bool) {
	for i := pr.head; i < len(pr.pending); i++ {
		if pr.pending[i].xid != xid || pr.pending[i].local != nil {
			continue
		}
		e := pr.pending[i]
		if i == pr.head {
			pr.pending[i] = pending{}
			pr.head++
		} else {
			copy(pr.pending[i:], pr.pending[i+1:])
			pr.pending[len(pr.pending)-1] = pending{}
			pr.pending = pr.pending[:len(pr.pending)-1]
		}
		if pr.head == len(pr.pending) {
			pr.pending, pr.head = pr.pending[:0], 0
		}
		return e, true
	}
	return pending{}, false
}

// sendLocalHead writes the proxy's own replies at the head of the queue.
// It reports whether it closed the pair (a refusal with closeAfter).
func (pr *pair) sendLocalHead(now time.Time) bool {
	for pr.head < len(pr.pending) && pr.pending[pr.head].local != nil {
		e := pr.pending[pr.head]
		pr.pending[pr.head] = pending{}
		pr.head++
		// The zxid is the last one seen when the reply goes out, after
		// the replies to earlier requests (Java: last processed zxid).
		binary.BigEndian.PutUint64(e.local[8:], uint64(pr.lastZxid))
		_, _ = pr.client.Write(e.local)
		pr.p.m.bytesOut.Add(float64(len(e.local)))
		pr.p.m.reply(e.op, e.code, now.Sub(e.t))
		pr.logRequest(e, e.code, now)
		if pr.p.cfg.Record != nil {
			pr.p.cfg.Record.frame(pr, fromServer, e.local, now, "", e.path)
		}
		if e.closeAfter {
			pr.closePair("opcode "+e.op.String()+" is not a client request", nil)
			return true
		}
	}
	if pr.head == len(pr.pending) {
		pr.pending, pr.head = pr.pending[:0], 0
	}
	return false
}

// refuseWord answers four-letter word w, which the policy does not pass
// on, and closes the client (the upstream, if any, goes with it).
func (pr *pair) refuseWord(w string) gnet.Action {
	c := pr.client
	pr.started, pr.fourLetter = true, true
	pr.p.m.decision(DecisionFourLetter)
	pr.logEvent(pr.p.log.Info()).Str("word", w).Msg("four-letter word refused by the policy")
	_, _ = c.Discard(c.InboundBuffered())
	_, _ = c.Write(wordRefusal(w))
	if pr.adminConn != nil {
		_ = pr.adminConn.Close()
		pr.adminConn, pr.adminBuf = nil, nil
	}
	return gnet.Close
}

func (pr *pair) logRequest(e pending, code wire.ErrCode, now time.Time) {
	if !pr.p.logReq {
		return
	}
	ev := pr.p.reqLog.Info()
	if ev == nil {
		return
	}
	ev.Str("session", "0x"+formatHex(uint64(pr.session))).Int32("xid", int32(e.xid)).Str("op", e.op.String()).
		Str("path", e.path).Int32("err", int32(code)).Dur("latency", now.Sub(e.t)).Str("upstream", pr.upAddr).
		Msg("request")
}

// fromUpstream forwards the upstream's complete frames to the client.
func (pr *pair) fromUpstream() gnet.Action {
	up, c := pr.up, pr.client
	if up == nil || (pr.closed && pr.adminConn == nil) {
		return gnet.None
	}
	if c.OutboundBuffered() > pr.p.cfg.MaxOutbound {
		if up.InboundBuffered() > pr.p.cfg.MaxBuffered {
			pr.p.m.decision(DecisionSlowClient)
			pr.closePair("client not reading its replies", nil)
			return gnet.Close
		}
		scheduleWake(&pr.wakeUp, up, backpressureRetry)
		return gnet.None
	}
	buf, _ := up.Peek(-1)
	if len(buf) == 0 {
		return gnet.None
	}
	m := pr.p.m
	if pr.fourLetter {
		n := len(buf)
		if pr.p.cfg.Record != nil {
			pr.p.cfg.Record.frame(pr, fromServer, buf, time.Now(), "", "")
		}
		if pr.adminConn != nil {
			if len(pr.adminBuf)+n > pr.p.cfg.MaxResponse {
				m.decision(DecisionResponseSize)
				pr.adminBuf = nil
				pr.closePair("four-letter-word answer larger than the limit", nil)
				return gnet.Close
			}
			pr.adminBuf = append(pr.adminBuf, buf...)
		} else {
			_, _ = c.Write(buf)
		}
		_, _ = up.Discard(n)
		m.bytesOut.Add(float64(n))
		return gnet.None
	}
	now := time.Now()
	off, fwd := 0, 0
	flush := func(to int) {
		if to > fwd {
			_, _ = c.Write(buf[fwd:to])
			m.bytesOut.Add(float64(to - fwd))
		}
		fwd = to
	}
	wasPaused := pr.inflightPaused
	for len(buf)-off >= wire.FrameHeaderSize {
		n := int(int32(binary.BigEndian.Uint32(buf[off:])))
		if n < 0 {
			flush(off)
			pr.closePair("bad frame length from upstream", nil)
			return gnet.Close
		}
		if n > pr.p.cfg.MaxResponse {
			flush(off)
			m.decision(DecisionResponseSize)
			pr.closePair("response larger than the limit", nil)
			return gnet.Close
		}
		end := off + wire.FrameHeaderSize + n
		if end > len(buf) {
			break
		}
		body := buf[off+wire.FrameHeaderSize : end]
		if !pr.connected {
			cr, err := wire.DecodeConnectReply(body)
			if err != nil {
				flush(off)
				pr.closePair("malformed ConnectResponse from upstream", err)
				return gnet.Close
			}
			pr.connected = true
			pr.session = cr.SessionID
			if cr.SessionID != 0 && cr.TimeOut > 0 {
				pr.sessionUp = true
				m.sessions.Inc()
			}
			m.reply(wire.OpCreateSession, 0, now.Sub(pr.connStart))
			if pr.p.cfg.Record != nil {
				pr.p.cfg.Record.frame(pr, fromServer, buf[off:end], now, "connect", "")
			}
			off = end
			continue
		}
		if n < 16 {
			flush(off)
			pr.closePair("reply frame too short for a header", nil)
			return gnet.Close
		}
		xid := wire.Xid(int32(binary.BigEndian.Uint32(body)))
		zxid := wire.Zxid(int64(binary.BigEndian.Uint64(body[4:])))
		code := wire.ErrCode(int32(binary.BigEndian.Uint32(body[12:])))
		if zxid > pr.lastZxid {
			pr.lastZxid = zxid
		}
		if xid == wire.XidWatchEvent {
			m.watchEvents.Inc()
			if pr.sh != nil {
				pr.shadowEvent(false, body[16:])
			}
			if pr.p.cfg.Record != nil {
				pr.p.cfg.Record.frame(pr, fromServer, buf[off:end], now, "", "")
			}
			off = end
			continue
		}
		e, ok := pr.take(xid)
		if ok {
			m.reply(e.op, code, now.Sub(e.t))
			pr.logRequest(e, code, now)
			if pr.sh != nil {
				pr.shadowReply(false, xid, code, body[16:])
			}
		} else {
			m.unmatched.Inc()
			if pr.p.log.Debug().Enabled() {
				pr.logEvent(pr.p.log.Debug()).Int32("xid", int32(xid)).Msg("reply matches no request")
			}
		}
		if pr.p.cfg.Record != nil {
			pr.p.cfg.Record.frame(pr, fromServer, buf[off:end], now, "", e.path)
		}
		off = end
		if pr.head < len(pr.pending) && pr.pending[pr.head].local != nil {
			flush(off)
			if pr.sendLocalHead(now) {
				_, _ = up.Discard(off)
				return gnet.Close
			}
		}
	}
	flush(off)
	if off > 0 {
		_, _ = up.Discard(off) // Discard(0) would drop everything
	}
	if wasPaused && pr.live() < pr.p.pol.pol.MaxInFlight {
		pr.inflightPaused = false
		_ = c.Wake(nil)
	}
	return gnet.None
}

// requestPath returns the path of a request body whose record starts with
// a path (most do), for logs and records; "" otherwise.
func requestPath(op wire.OpCode, rec []byte) string {
	switch op {
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL, wire.OpDelete, wire.OpExists,
		wire.OpGetData, wire.OpSetData, wire.OpGetACL, wire.OpSetACL, wire.OpGetChildren, wire.OpSync,
		wire.OpGetChildren2, wire.OpCheck, wire.OpCheckWatches, wire.OpRemoveWatches, wire.OpGetEphemerals,
		wire.OpGetAllChildrenNumber, wire.OpAddWatch:
	default:
		return ""
	}
	r := jute.NewReaderMax(rec, len(rec))
	s := r.String()
	if r.Err() != nil {
		return ""
	}
	return s
}

func formatHex(v uint64) string {
	const digits = "0123456789abcdef"
	if v == 0 {
		return "0"
	}
	var b [16]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b[i:])
}

// dupForAdmin duplicates a four-letter-word client's socket (a cheap
// syscall, on the loop).
func (pr *pair) dupForAdmin(c gnet.Conn) {
	fd, err := c.Dup()
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "zk-admin")
	nc, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		return
	}
	pr.adminConn = nc
}

// sendAdmin writes the collected four-letter-word answer through the dup
// and closes it, on a short-lived goroutine (the write may block).
func (pr *pair) sendAdmin() {
	nc, b := pr.adminConn, pr.adminBuf
	pr.adminConn, pr.adminBuf = nil, nil
	go func() {
		_ = nc.SetWriteDeadline(time.Now().Add(adminWriteTimeout))
		_, _ = nc.Write(b)
		_ = nc.Close()
	}()
}
