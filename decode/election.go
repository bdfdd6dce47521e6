package decode

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/zkgo/zkgo/wire"
)

// Election channel (spec §7): the initiator sends the QuorumCnxManager
// initial message, then both sides exchange i32-length-prefixed FLE
// notifications. The sender's sid is not in a notification: it is the
// initiator's sid (from the initial message) on the initiator's side, and
// on the acceptor's side the sid whose initial message advertised the
// acceptor's address, when the capture holds one.

type electionState struct {
	initDone bool
	peerSid  int64 // the acceptor's sid, once known
}

func (c *Conn) stepElection(dir Dir, b []byte) int {
	d := c.d
	h := &c.h[dir]
	es := &c.election
	if dir == ToServer && !es.initDone && !h.mid {
		im, n, ok, err := wire.DecodeInitialMessage(b)
		if err != nil {
			es.initDone = true
			c.fail(dir, errors.Join(errors.New("decode: election initial message"), err))
			return 0
		}
		if !ok {
			return 0
		}
		es.initDone = true
		h.msgs++
		c.info.Sid = im.Sid
		m := d.begin(c, dir, KindInitial, h.off, int64(n))
		m.Name = "initial"
		m.Sid = im.Sid
		f := newFields("org.apache.zookeeper.server.quorum.QuorumCnxManager.InitialMessage").long("protocolVersion", im.Protocol).long("sid", im.Sid)
		if im.Protocol < 0 {
			f.str("electionAddr", im.Addr)
		}
		m.Text = im.Addr
		m.add("initial", f)
		for _, a := range im.Addrs() {
			if ap, err := netip.ParseAddrPort(a); err == nil {
				d.sidByAddr[ap] = im.Sid
			}
		}
		d.emit(m)
		return n
	}
	bodyLen, ok, err := wire.PeekElectionFrame(b)
	if err != nil {
		c.fail(dir, err)
		return 0
	}
	if !ok || len(b) < 4+bodyLen {
		return 0
	}
	size := 4 + bodyLen
	h.msgs++
	m := d.begin(c, dir, KindNotification, h.off, int64(size))
	m.Name = "notification"
	if dir == FromServer {
		m.Sid = c.acceptorSid()
	}
	n, err := wire.DecodeNotification(b[4:size])
	if err != nil {
		m.Kind, m.Error = KindUndecodable, err
		d.emit(m)
		return size
	}
	d.notif = n
	m.Notification = &d.notif
	m.setZxid(n.Zxid)
	m.add("notification", notificationView{&d.notif})
	d.emit(m)
	return size
}

func (c *Conn) acceptorSid() int64 {
	if c.election.peerSid < 0 {
		if sid, ok := c.d.sidByAddr[c.info.Server]; ok {
			c.election.peerSid = sid
		}
	}
	return c.election.peerSid
}

// electionPlausible reports the size of a plausible notification frame at
// the start of b (see scanChain).
func electionPlausible(b []byte) int {
	if len(b) < 4 {
		return 0
	}
	l := int32(binary.BigEndian.Uint32(b))
	if l < 28 || l > wire.MaxElectionFrameSize {
		return -1
	}
	if len(b) < 4+int(l) {
		return 0
	}
	body := b[4 : 4+l]
	if !wire.ServerState(binary.BigEndian.Uint32(body)).Valid() {
		return -1
	}
	switch {
	case l == 28 || l == 40:
	case l >= 44:
		v := int32(binary.BigEndian.Uint32(body[36:]))
		cl := int32(binary.BigEndian.Uint32(body[40:]))
		if v < 2 || cl != l-44 {
			return -1
		}
	default:
		return -1
	}
	return 4 + int(l)
}
