package decode

import (
	"errors"
	"strconv"
	"time"
)

// Errors reported in undecodable messages.
var (
	ErrTruncated   = errors.New("decode: stream ends inside a message")
	ErrReset       = errors.New("decode: connection reset inside a message")
	ErrGapInside   = errors.New("decode: message cut by a gap in the capture")
	ErrNoFraming   = errors.New("decode: no plausible message found")
	ErrUnknownType = errors.New("decode: unknown message type")
)

// Why a half lost its framing.
type lostReason uint8

const (
	lostMidStream lostReason = iota // the capture starts inside the stream
	lostGap                         // bytes missing from the capture
	lostError                       // bytes that did not decode
)

// half is one direction of a connection.
type half struct {
	buf     []byte // bytes not yet decoded (owned)
	off     int64  // stream offset of the next undecoded byte
	t       time.Time
	synced  bool // at a message boundary
	why     lostReason
	badOff  int64 // lostError: where the undecodable run starts
	badErr  error
	mid     bool // the half began mid-stream (no SYN)
	started bool
	ended   bool
	msgs    int64 // messages decoded
	auths   int64 // leading QuorumAuthPackets (quorum)
	skipped int64 // bytes dropped since framing was lost
	// While framing is lost: stream offsets of candidate messages that
	// need more bytes to be judged, and how far every offset was judged.
	pend    []int64
	scanned int64
}

// chunk is traffic held while a connection's channel is unknown.
type chunk struct {
	dir Dir // capture direction
	b   []byte
	t   time.Time
	gap int  // a hole of gap bytes instead of data
	end bool // the direction ended
}

// Conn is one TCP connection. The capture layer feeds each direction's
// reassembled bytes in order with Data, reports holes with Gap and the end
// of a direction with End, and calls Close when the connection is over.
type Conn struct {
	d    *Decoder
	info ConnInfo
	sure bool // roles known
	flip bool // capture directions are swapped relative to ToServer/FromServer
	h    [2]half

	pre      []chunk // held while the channel is unknown
	preBytes int
	acct     int64 // what Decoder.held counts for this connection
	ignored  bool
	closed   bool
	counted  bool
	reset    bool // an RST was seen
	// tls: the connection opened with a TLS record (tls.go); seen marks
	// the capture directions whose first bytes were looked at.
	tls  bool
	seen [2]bool

	client   clientState
	quorum   quorumState
	election electionState
}

// Info returns the connection's description (updated as it is decoded).
func (c *Conn) Info() *ConnInfo { return &c.info }

// swap exchanges the roles of the two sides (before any byte is decoded).
func (c *Conn) swap() {
	c.flip = !c.flip
	c.info.Client, c.info.Server = c.info.Server, c.info.Client
	c.h[0], c.h[1] = c.h[1], c.h[0]
}

func (c *Conn) setChannel(ch Channel) { c.info.Channel = ch }

// count counts the connection under its channel once it carries traffic
// (the stray ACK that follows a close opens a connection with none).
func (c *Conn) count() {
	if !c.counted {
		c.counted = true
		c.d.counts.Conns[c.info.Channel]++
	}
}

// MidStream marks capture direction dir as starting inside the stream (its
// first packet had no SYN): decoding starts by looking for a message
// boundary.
func (c *Conn) MidStream(dir Dir) {
	if c.flip {
		dir ^= 1
	}
	h := &c.h[dir]
	if !h.started {
		h.mid = true
		h.synced = false
		h.why = lostMidStream
	}
}

// Data feeds bytes of capture direction dir, received at t.
func (c *Conn) Data(dir Dir, b []byte, t time.Time) {
	if c.closed || len(b) == 0 {
		return
	}
	defer c.d.account(c)
	c.d.Observe(t)
	if c.tls || c.checkTLS(dir, b, t) {
		c.d.counts.TLSBytes += int64(len(b))
		return
	}
	if c.info.Channel == ChannelUnknown {
		if c.ignored {
			c.d.counts.IgnoredBytes += int64(len(b))
			return
		}
		c.pre = append(c.pre, chunk{dir: dir, b: append([]byte(nil), b...), t: t})
		c.preBytes += len(b)
		c.detect(false)
		return
	}
	if c.flip {
		dir ^= 1
	}
	c.feed(dir, b, t)
}

// Gap reports n bytes of capture direction dir missing from the capture.
func (c *Conn) Gap(dir Dir, n int, t time.Time) {
	if c.closed || n <= 0 {
		return
	}
	defer c.d.account(c)
	c.d.Observe(t)
	if c.info.Channel == ChannelUnknown {
		c.pre = append(c.pre, chunk{dir: dir, t: t, gap: n})
		return
	}
	if c.flip {
		dir ^= 1
	}
	c.gap(dir, n, t)
}

func (c *Conn) gap(dir Dir, n int, t time.Time) {
	c.count()
	d := c.d
	h := &c.h[dir]
	h.t = t
	h.started = true
	d.counts.Gaps++
	d.counts.GapBytes += int64(n)
	text := c.info.Channel == ChannelClient && c.client.fourLetter && dir == FromServer
	drop := func() {
		h.off += int64(len(h.buf))
		h.buf = h.buf[:0]
	}
	switch {
	case text:
		// A four-letter-word reply is text up to the end: keep appending.
	case c.quorum.snap[dir] != nil:
		s := c.quorum.snap[dir]
		c.quorum.snap[dir] = nil
		d.undecodable(c, dir, s.start, h.off+int64(len(h.buf))-s.start, ErrGapInside)
		drop()
	case !h.synced:
		h.skipped += int64(len(h.buf))
		drop()
		c.flushLost(dir, true)
	case len(h.buf) > 0:
		d.undecodable(c, dir, h.off, int64(len(h.buf)), ErrGapInside)
		drop()
	}
	d.note(c, dir, h.off, int64(n), "gap: "+strconv.Itoa(n)+" bytes missing from the capture")
	h.off += int64(n)
	if h.msgs == 0 {
		h.mid = true // the stream's first message is lost
	}
	if !text {
		h.synced = false
		h.why = lostGap
		h.skipped = 0
		h.pend, h.scanned = h.pend[:0], 0
	}
}

// Reset reports that the connection was reset (an RST in either
// direction): a message left unfinished when a direction ends was cut by
// the reset, and is reported with ErrReset rather than ErrTruncated (the
// sender's stack discarded the rest; Java's election SendWorker, writing
// the length and the body separately, leaves such a length behind when its
// peer has just dropped a duplicate connection).
func (c *Conn) Reset() { c.reset = true }

// End reports the end of capture direction dir (FIN or RST).
func (c *Conn) End(dir Dir, t time.Time) {
	if c.closed {
		return
	}
	defer c.d.account(c)
	c.d.Observe(t)
	if c.info.Channel == ChannelUnknown {
		c.pre = append(c.pre, chunk{dir: dir, t: t, end: true})
		return
	}
	if c.flip {
		dir ^= 1
	}
	c.end(dir, t)
}

func (c *Conn) end(dir Dir, t time.Time) {
	h := &c.h[dir]
	if h.ended {
		return
	}
	if !t.IsZero() {
		h.t = t
	}
	h.ended = true
	d := c.d
	if c.info.Channel == ChannelElection {
		c.detachElection()
	}
	switch {
	case c.info.Channel == ChannelClient && c.client.fourLetter:
		if dir == FromServer {
			c.fourLetterReply()
		}
		h.buf = h.buf[:0]
	case c.quorum.snap[dir] != nil:
		s := c.quorum.snap[dir]
		c.quorum.snap[dir] = nil
		d.undecodable(c, dir, s.start, h.off+int64(len(h.buf))-s.start, errors.Join(ErrTruncated, errors.New("decode: snapshot stream incomplete")))
	case !h.synced:
		h.skipped += int64(len(h.buf))
		h.off += int64(len(h.buf))
		h.buf = h.buf[:0]
		c.flushLost(dir, true)
	case len(h.buf) > 0:
		err := ErrTruncated
		if c.reset {
			err = ErrReset
		}
		d.undecodable(c, dir, h.off, int64(len(h.buf)), err)
	}
	h.off += int64(len(h.buf))
	h.buf = nil
}

// Close ends the connection: both directions end and held state is
// reported (an unanswered four-letter word, unknown traffic).
func (c *Conn) Close(t time.Time) {
	if c.closed {
		return
	}
	if c.info.Channel == ChannelUnknown {
		c.detect(true)
	}
	if c.info.Channel != ChannelUnknown {
		c.end(ToServer, t)
		c.end(FromServer, t)
		if c.info.Channel == ChannelClient {
			c.d.counts.Unanswered += int64(len(c.client.pending) - c.client.head)
		}
	}
	c.closed = true
	c.pre = nil
	for i := range c.h {
		c.h[i].buf = nil
	}
	c.client.pending, c.client.head, c.client.pathBytes, c.client.text = nil, 0, 0, nil
	c.d.held -= c.acct
	c.acct = 0
	delete(c.d.open, c)
}

// pendingSize is what a pending request costs besides its path.
const pendingSize = 64

// held is the memory the connection holds for decoding: bytes waiting for
// the rest of a message or for channel detection, four-letter-word text,
// and the requests waiting for their replies.
func (c *Conn) held() int64 {
	n := int64(cap(c.h[0].buf)+cap(c.h[1].buf)+c.preBytes+cap(c.client.text)) +
		int64(cap(c.client.pending))*pendingSize + c.client.pathBytes
	return n
}

// feed appends b to half dir and decodes what it can.
func (c *Conn) feed(dir Dir, b []byte, t time.Time) {
	c.count()
	h := &c.h[dir]
	h.t = t
	h.started = true
	if h.ended {
		return
	}
	if len(h.buf) == 0 {
		n := c.parse(dir, b)
		if n < len(b) && !c.closed {
			h.buf = append(h.buf[:0], b[n:]...)
		}
		return
	}
	h.buf = append(h.buf, b...)
	n := c.parse(dir, h.buf)
	rest := copy(h.buf, h.buf[n:])
	h.buf = h.buf[:rest]
	if cap(h.buf) > 4<<20 && rest < 64<<10 {
		h.buf = append([]byte(nil), h.buf...)
	}
}

// parse decodes messages from b (the undecoded bytes of half dir) and
// returns how many bytes it used.
func (c *Conn) parse(dir Dir, b []byte) int {
	h := &c.h[dir]
	n := 0
	for n < len(b) {
		if !h.synced {
			from := 0
			if h.why == lostError && h.off == h.badOff {
				from = 1 // the byte where decoding failed cannot start a message
			}
			skip, ok := c.scan(dir, b[n:], from)
			if skip > 0 {
				h.skipped += int64(skip)
				h.off += int64(skip)
				n += skip
			}
			if !ok {
				break
			}
			c.flushLost(dir, false)
			c.d.counts.Resyncs++
			h.synced = true
			continue
		}
		k := c.step(dir, b[n:])
		if k > 0 {
			n += k
			h.off += int64(k)
			continue
		}
		if h.synced {
			break // needs more bytes
		}
	}
	return n
}

// fail records that the message at the half's current offset did not
// decode: framing is lost until scan finds the next plausible message.
func (c *Conn) fail(dir Dir, err error) {
	h := &c.h[dir]
	h.synced = false
	h.why = lostError
	h.badOff = h.off
	h.badErr = err
	h.skipped = 0
	h.pend, h.scanned = h.pend[:0], 0
}

// flushLost reports what was skipped while framing was lost: an undecodable
// run after an error, a note after a mid-stream start or a gap.
func (c *Conn) flushLost(dir Dir, atEnd bool) {
	h := &c.h[dir]
	if h.synced {
		return
	}
	d := c.d
	switch h.why {
	case lostError:
		size := h.off - h.badOff
		if size <= 0 {
			size = h.skipped
		}
		err := h.badErr
		if atEnd {
			err = errors.Join(err, ErrNoFraming)
		}
		d.undecodable(c, dir, h.badOff, size, err)
		h.why = lostGap // reported once
	case lostMidStream:
		if atEnd && h.skipped == 0 {
			break
		}
		text := "capture starts mid-stream: "
		if atEnd {
			text += "no message boundary found in " + strconv.FormatInt(h.skipped, 10) + " bytes"
		} else {
			text += "skipped " + strconv.FormatInt(h.skipped, 10) + " bytes, resynchronised at offset " + strconv.FormatInt(h.off, 10)
		}
		d.note(c, dir, h.off-h.skipped, h.skipped, text)
		h.why = lostGap
	case lostGap:
		if h.skipped == 0 {
			break
		}
		text := "resynchronised at offset " + strconv.FormatInt(h.off, 10) + " after skipping " + strconv.FormatInt(h.skipped, 10) + " bytes"
		if atEnd {
			text = "no message boundary found in the last " + strconv.FormatInt(h.skipped, 10) + " bytes"
		}
		d.note(c, dir, h.off-h.skipped, h.skipped, text)
	}
	h.skipped = 0
}

// step decodes one message at the start of b for the connection's channel.
// It returns the bytes used, or 0 when b holds no whole message yet (or
// when it called fail).
func (c *Conn) step(dir Dir, b []byte) int {
	switch c.info.Channel {
	case ChannelClient:
		return c.stepClient(dir, b)
	case ChannelQuorum:
		return c.stepQuorum(dir, b)
	case ChannelElection:
		return c.stepElection(dir, b)
	}
	return len(b)
}

// maxPending bounds the candidates a lost half remembers.
const maxPendingCandidates = 64

// scan looks for the next plausible message in b (the undecoded bytes of
// half dir, b[0] at stream offset h.off), at or after from. It returns the
// bytes that can be dropped and whether b[skip:] starts a message. Offsets
// already judged are not judged again, so a long run of garbage costs
// linear time: only candidates that needed more bytes are looked at again.
func (c *Conn) scan(dir Dir, b []byte, from int) (skip int, ok bool) {
	var plausible func(b []byte) int
	switch c.info.Channel {
	case ChannelClient:
		if c.client.fourLetter {
			return 0, true
		}
		plausible = c.d.clientPlausible(dir)
	case ChannelQuorum:
		plausible = quorumPlausible(dir)
	case ChannelElection:
		plausible = electionPlausible
	default:
		return len(b), false
	}
	h := &c.h[dir]
	base := h.off
	best := -1
	keep := h.pend[:0]
	for _, p := range h.pend {
		i := int(p - base)
		if i < from || i >= len(b) {
			continue
		}
		switch chainAt(b[i:], plausible, 1) {
		case chainYes:
			if best < 0 {
				best = i
			}
		case chainMore:
			if best < 0 {
				keep = append(keep, p)
			}
		}
	}
	h.pend = keep
	start := from
	if v := int(h.scanned - base); v > start {
		start = v
	}
	for i := start; i < len(b) && (best < 0 || i < best); i++ {
		switch chainAt(b[i:], plausible, 1) {
		case chainYes:
			best = i
		case chainMore:
			if len(h.pend) < maxPendingCandidates {
				h.pend = append(h.pend, base+int64(i))
			}
		}
	}
	if best >= 0 {
		h.pend, h.scanned = h.pend[:0], 0
		return best, true
	}
	h.scanned = base + int64(len(b))
	if len(h.pend) > 0 {
		return int(h.pend[0] - base), false
	}
	return len(b), false
}

// scanChain finds the first offset >= from where a chain of plausible
// messages starts: minChain messages that end exactly at the end of b, or
// three in a row. plausible returns the size of a message at the start of
// its argument, 0 when more bytes are needed to tell, or -1 when no message
// starts there. Without a chain it returns the offset of the first
// candidate that needs more bytes (or len(b)).
func scanChain(b []byte, from int, plausible func([]byte) int, minChain int) (skip int, ok bool) {
	more := -1
	for i := from; i < len(b); i++ {
		switch chainAt(b[i:], plausible, minChain) {
		case chainYes:
			return i, true
		case chainMore:
			if more < 0 {
				more = i
			}
		}
	}
	if more >= 0 {
		return more, false
	}
	return len(b), false
}

type chainResult uint8

const (
	chainNo chainResult = iota
	chainYes
	chainMore
)

func chainAt(b []byte, plausible func([]byte) int, minChain int) chainResult {
	off := 0
	for k := 0; k < 3; k++ {
		n := plausible(b[off:])
		switch {
		case n < 0:
			return chainNo
		case n == 0:
			return chainMore
		}
		off += n
		if off > len(b) {
			return chainMore
		}
		if off == len(b) {
			if k+1 >= minChain {
				return chainYes
			}
			return chainMore
		}
	}
	return chainYes
}
