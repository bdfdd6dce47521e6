package decode

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// Channel detection by content, for connections whose ports are not
// configured. Every channel opens with a message of its own shape from the
// connecting side: a four-letter word or a ConnectRequest (client), a
// FOLLOWERINFO/OBSERVERINFO or a QuorumAuthPacket (quorum), the
// QuorumCnxManager initial message (election). A connection seen from its
// middle is classified by finding a chain of plausible messages of one
// channel. When content says nothing, the well-known ports decide.

// detect tries to classify the connection from the held traffic; final is
// set when no more traffic will come.
func (c *Conn) detect(final bool) {
	ch, flip, verdict := c.classify()
	if verdict == chainMore && !final && c.preBytes < maxDetectBytes {
		return
	}
	if verdict != chainYes {
		ch, flip = ChannelUnknown, false
		if p, ok := c.d.portChannel(c.info.Server.Port(), true); ok {
			ch = p
		} else if !c.sure {
			if p, ok := c.d.portChannel(c.info.Client.Port(), true); ok {
				ch, flip = p, true
			}
		}
	}
	if ch == ChannelUnknown {
		c.ignored = true
		if c.preBytes > 0 {
			c.count()
			c.d.counts.IgnoredBytes += int64(c.preBytes)
		}
		c.pre = nil
		return
	}
	if flip {
		c.swap()
	}
	c.setChannel(ch)
	pre := c.pre
	c.pre = nil
	for _, k := range pre {
		dir := k.dir
		if c.flip {
			dir ^= 1
		}
		switch {
		case k.end:
			c.end(dir, k.t)
		case k.gap > 0:
			c.gap(dir, k.gap, k.t)
		default:
			c.feed(dir, k.b, k.t)
		}
	}
}

// classify looks at the held traffic. It returns chainYes with the channel
// (and whether the roles must be swapped), chainMore when more bytes could
// tell, or chainNo.
func (c *Conn) classify() (Channel, bool, chainResult) {
	var prefix [2][]byte
	var fromStart [2]bool
	for dir := range 2 {
		// Capture direction dir maps to half dir^flip.
		fromStart[dir] = !c.h[Dir(dir)^c.flipBit()].mid
	}
	for _, k := range c.pre {
		switch {
		case k.gap > 0:
			if len(prefix[k.dir]) == 0 {
				fromStart[k.dir] = false
			}
		case !k.end && len(prefix[k.dir]) < maxDetectBytes:
			prefix[k.dir] = append(prefix[k.dir], k.b...)
		}
	}
	verdict := chainNo
	// The connecting side opens every channel.
	toServer := ToServer ^ c.flipBit()
	order := []struct {
		dir  Dir
		flip bool
	}{{toServer, false}}
	if !c.sure {
		order = append(order, struct {
			dir  Dir
			flip bool
		}{toServer ^ 1, true})
	}
	for _, o := range order {
		if !fromStart[o.dir] {
			continue
		}
		ch, r := startShape(prefix[o.dir])
		switch r {
		case chainYes:
			return ch, o.flip, chainYes
		case chainMore:
			verdict = chainMore
		}
	}
	if fromStart[0] && fromStart[1] {
		return ChannelUnknown, false, verdict
	}
	// Seen from the middle: look for a chain of messages of one channel.
	best, bestSkip, bestFlip := ChannelUnknown, -1, false
	for _, o := range order {
		for _, role := range []Dir{ToServer, FromServer} {
			capDir := o.dir ^ role // the capture direction playing this role
			b := prefix[capDir]
			if len(b) == 0 {
				continue
			}
			for _, ch := range []Channel{ChannelClient, ChannelQuorum, ChannelElection} {
				var plausible func([]byte) int
				switch ch {
				case ChannelClient:
					plausible = c.d.clientPlausible(role)
				case ChannelQuorum:
					plausible = quorumPlausible(role)
				case ChannelElection:
					plausible = electionPlausible
				}
				skip, ok := scanChain(b, 0, plausible, 2)
				if ok {
					if best == ChannelUnknown || skip < bestSkip {
						best, bestSkip, bestFlip = ch, skip, o.flip
					}
				} else if skip < len(b) {
					verdict = chainMore
				}
			}
		}
	}
	if best != ChannelUnknown {
		return best, bestFlip, chainYes
	}
	return ChannelUnknown, false, verdict
}

func (c *Conn) flipBit() Dir {
	if c.flip {
		return 1
	}
	return 0
}

// startShape tells which channel's opening message b starts with.
func startShape(b []byte) (Channel, chainResult) {
	verdict := chainNo
	checks := [...]struct {
		ch Channel
		f  func([]byte) chainResult
	}{{ChannelClient, clientStart}, {ChannelQuorum, quorumStart}, {ChannelElection, electionStart}}
	for _, k := range checks {
		switch k.f(b) {
		case chainYes:
			return k.ch, chainYes
		case chainMore:
			verdict = chainMore
		}
	}
	return ChannelUnknown, verdict
}

// clientStart: a four-letter word, or a frame holding a ConnectRequest
// (protocolVersion 0, a 0- or 16-byte password, optional readOnly byte).
func clientStart(b []byte) chainResult {
	if len(b) < 4 {
		return chainMore
	}
	if _, ok := wire.IsFourLetterWord(b); ok {
		return chainYes
	}
	l := int(binary.BigEndian.Uint32(b))
	if l < 28 || l > 28+16+1 {
		return chainNo
	}
	if len(b) < 4+l {
		return chainMore
	}
	body := b[4 : 4+l]
	if binary.BigEndian.Uint32(body) != 0 {
		return chainNo
	}
	pw := int(int32(binary.BigEndian.Uint32(body[24:])))
	if pw != 0 && pw != 16 {
		return chainNo
	}
	if l != 28+pw && l != 29+pw {
		return chainNo
	}
	if int32(binary.BigEndian.Uint32(body[12:])) < 0 { // timeOut
		return chainNo
	}
	return chainYes
}

// quorumStart: a QuorumAuthPacket, or FOLLOWERINFO/OBSERVERINFO with an
// epoch-aligned zxid and LearnerInfo data.
func quorumStart(b []byte) chainResult {
	if len(b) < 8 {
		return chainMore
	}
	if int64(binary.BigEndian.Uint64(b)) == wire.QuorumAuthMagic {
		return chainYes
	}
	t := wire.PacketType(binary.BigEndian.Uint32(b))
	if t != wire.PacketFollowerInfo && t != wire.PacketObserverInfo {
		return chainNo
	}
	if len(b) < 16 {
		return chainMore
	}
	if binary.BigEndian.Uint32(b[8:]) != 0 { // zxid = acceptedEpoch << 32
		return chainNo
	}
	dl := int(int32(binary.BigEndian.Uint32(b[12:])))
	if dl != 8 && dl != 12 && dl != 20 {
		return chainNo
	}
	if len(b) < 16+dl+4 {
		return chainMore
	}
	if n := int32(binary.BigEndian.Uint32(b[16+dl:])); n != -1 && n != 0 {
		return chainNo
	}
	return chainYes
}

// electionStart: the initial message (V1/V2 with a host:port address, or a
// 3.4 bare sid followed by a notification frame).
func electionStart(b []byte) chainResult {
	if len(b) < 8 {
		return chainMore
	}
	v := int64(binary.BigEndian.Uint64(b))
	if v >= 0 {
		if v > 1<<20 {
			return chainNo
		}
		switch electionPlausible(b[8:]) {
		case -1:
			return chainNo
		case 0:
			return chainMore
		}
		return chainYes
	}
	if v != wire.ElectionProtocolV1 && v != wire.ElectionProtocolV2 {
		return chainNo
	}
	if len(b) < 20 {
		return chainMore
	}
	if int64(binary.BigEndian.Uint64(b[8:])) < 0 {
		return chainNo
	}
	l := int(int32(binary.BigEndian.Uint32(b[16:])))
	if l <= 0 || l > wire.MaxInitialAddrLen {
		return chainNo
	}
	if len(b) < 20+l {
		return chainMore
	}
	addr := b[20 : 20+l]
	if !utf8.Valid(addr) {
		return chainNo
	}
	colon := false
	for _, ch := range addr {
		if ch < 0x20 || ch == 0x7f {
			return chainNo
		}
		colon = colon || ch == ':'
	}
	if !colon {
		return chainNo
	}
	return chainYes
}

// clientPlausible returns the plausibility test for client frames sent by
// the side playing role.
func (d *Decoder) clientPlausible(role Dir) func([]byte) int {
	if role == ToServer {
		return d.requestPlausible
	}
	return d.replyPlausible
}

func (d *Decoder) requestPlausible(b []byte) int {
	if len(b) < 4 {
		return 0
	}
	l := int(int32(binary.BigEndian.Uint32(b)))
	if l < 8 || l > d.cfg.MaxFrame {
		return -1
	}
	if len(b) < 12 {
		return 0
	}
	xid := wire.Xid(binary.BigEndian.Uint32(b[4:]))
	op := wire.OpCode(binary.BigEndian.Uint32(b[8:]))
	if xid <= 0 && xid != wire.XidPing && xid != wire.XidAuth && xid != wire.XidSetWatches {
		return -1
	}
	rec, has, known := d.request(op)
	if !known || (op == wire.OpPing) != (xid == wire.XidPing) {
		return -1
	}
	if !has {
		if l != 8 {
			return -1
		}
		return 12
	}
	if len(b) < 4+l {
		return 0
	}
	r := d.reader(b[12:4+l], d.cfg.MaxFrame)
	rec.Decode(r)
	if r.Finish() != nil {
		return -1
	}
	return 4 + l
}

func (d *Decoder) replyPlausible(b []byte) int {
	if len(b) < 4 {
		return 0
	}
	l := int(int32(binary.BigEndian.Uint32(b)))
	if l < 16 || l > d.cfg.MaxFrame {
		return -1
	}
	if len(b) < 20 {
		return 0
	}
	xid := wire.Xid(binary.BigEndian.Uint32(b[4:]))
	zxid := int64(binary.BigEndian.Uint64(b[8:]))
	code := wire.ErrCode(binary.BigEndian.Uint32(b[16:]))
	switch {
	case xid == wire.XidWatchEvent:
		if zxid != -1 || code != wire.ErrOk {
			return -1
		}
		if len(b) < 4+l {
			return 0
		}
		var ev wire.WatcherEvent
		r := jute.NewReaderMax(b[20:4+l], d.cfg.MaxFrame)
		ev.Decode(&r)
		if r.Finish() != nil || ev.Type == 0 || ev.Type < wire.EventNone || ev.Type > wire.EventPersistentWatchRemoved {
			return -1
		}
	case xid == wire.XidPing:
		if l != 16 || code != wire.ErrOk {
			return -1
		}
	case xid <= 0 && xid != wire.XidAuth && xid != wire.XidSetWatches:
		return -1
	default:
		if zxid < -1 || !knownErr(code) {
			return -1
		}
	}
	if len(b) < 4+l {
		return 0
	}
	return 4 + l
}

func knownErr(e wire.ErrCode) bool {
	for _, k := range wire.AllErrCodes {
		if k == e {
			return true
		}
	}
	return false
}
