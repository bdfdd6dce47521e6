package decode

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/wire"
)

// Election channel (spec §7): the initiator sends the QuorumCnxManager
// initial message, then both sides exchange i32-length-prefixed FLE
// notifications. The sender's sid is not in a notification: it is the
// initiator's sid (from the initial message) on the initiator's side. On
// the acceptor's side it is the sid whose election address is the
// acceptor's address, learned from any initial message (the address a
// member advertises) or from the config bytes of any notification or
// NEWLEADER (server.N=host:quorumPort:electionPort lines), whichever the
// capture shows first.
//
// Peer instances: a member that restarts starts its election logical clock
// again, so the decoder numbers each sid's processes (Message.Instance). A
// sid's notification starts a new instance when it is LOOKING with an
// electionEpoch lower than the last one it sent to the same peer (a live
// member's election clock never goes back, and its election's votes to one
// peer leave one queue in order; a vote that is not LOOKING may carry an
// older round: its receiver thread's answer with the vote the member held,
// which can follow the new round's vote on the link; votes to different
// peers do not keep their order either: a vote queued at the start of an
// election for a peer not connected yet goes out when the peer connects,
// after newer votes to the others), or when it is a fresh process's first
// vote (LOOKING, for itself, in electionEpoch 1) sent on a connection
// opened after every earlier election connection of the sid had ended,
// none of its live ones having carried a notification from it yet (the old
// process's connections end with it). Only connections that carried a
// notification count: Java drops a connection whose initiator has the
// smaller sid at once. A new instance forgets what the old one sent.

type electionState struct {
	initDone bool
	peerSid  int64 // the acceptor's sid, once known
	live     bool  // a notification went through
	// attached: the sids (initiator, acceptor) whose open-connection count
	// this connection is in; detached once it ends.
	attached [2]int64
	detached bool
	sent     [2]bool // a notification went in this direction
}

// electionPeer is what the decoder knows of one sid's election instances.
type electionPeer struct {
	inst int        // current instance, 1-based
	open []peerConn // the sid's live election connections, not yet ended
	// maxEpoch: the highest electionEpoch the current instance sent to
	// each peer sid (at most maxPeerConns peers are tracked).
	maxEpoch map[int64]int64
	sent     bool // the sid has sent a notification
}

type peerConn struct {
	id   int64 // ConnInfo.ID
	sent bool  // the sid sent a notification on it
}

// maxPeerConns bounds electionPeer.open; a sid with more live connections
// than that (not a real ensemble) is not tracked further.
const maxPeerConns = 64

// others reports whether a live connection of p other than id tells
// that the sid's current process still runs: the sid sent on it. (A live
// connection the sid has not sent on may be the new process's, its peer
// having spoken first.)
func (p *electionPeer) others(id int64) bool {
	for _, o := range p.open {
		if o.id != id && o.sent {
			return true
		}
	}
	return false
}

func (p *electionPeer) sentOn(id int64) {
	for i := range p.open {
		if p.open[i].id == id {
			p.open[i].sent = true
		}
	}
}

// maxLearned bounds the addresses and sids the decoder learns from
// initial messages and configs (a hostile capture cannot grow them).
const maxLearned = 4096

// electionPeer returns the tracking of sid, or nil past maxLearned sids.
func (d *Decoder) electionPeer(sid int64) *electionPeer {
	p := d.epeers[sid]
	if p == nil {
		if len(d.epeers) >= maxLearned {
			return nil
		}
		p = &electionPeer{inst: 1, maxEpoch: map[int64]int64{}}
		d.epeers[sid] = p
	}
	return p
}

// attach counts c as a live election connection of sid (slot 0: the
// initiator, 1: the acceptor).
func (c *Conn) attach(slot int, sid int64) {
	es := &c.election
	if sid < 0 || !es.live || es.attached[slot] >= 0 || es.detached {
		return
	}
	if p := c.d.electionPeer(sid); p != nil && len(p.open) < maxPeerConns {
		p.open = append(p.open, peerConn{id: c.info.ID})
		es.attached[slot] = sid
	}
}

// senderInstance updates and returns the instance of sid, which sent n in
// direction dir of c.
func (c *Conn) senderInstance(dir Dir, sid int64, n *wire.Notification) int {
	p := c.d.epeers[sid]
	if sid < 0 || p == nil {
		return 0
	}
	es := &c.election
	first := !es.sent[dir]
	es.sent[dir] = true
	// The peer the notification goes to: the acceptor, or the initiator.
	to := c.info.Sid
	if dir == ToServer {
		to = c.acceptorSid()
	}
	last, known := p.maxEpoch[to]
	if p.sent {
		fresh := n.State == wire.ServerLooking && n.Leader == sid && n.ElectionEpoch == 1
		// A lower round only in a LOOKING vote: a member's receiver
		// answers a LOOKING peer with the vote it holds (FOLLOWING or
		// LEADING, an older round), and that answer can follow the new
		// round's vote on the link; a new process's first votes are
		// LOOKING.
		lower := to >= 0 && known && n.ElectionEpoch < last && n.State == wire.ServerLooking
		if lower || first && fresh && !p.others(c.info.ID) {
			p.inst++
			clear(p.maxEpoch)
			last, known = n.ElectionEpoch, false
		}
	}
	p.sent = true
	p.sentOn(c.info.ID)
	if to >= 0 && (known || len(p.maxEpoch) < maxPeerConns) {
		p.maxEpoch[to] = max(last, n.ElectionEpoch)
	}
	return p.inst
}

// detachElection runs when an election connection ends.
func (c *Conn) detachElection() {
	es := &c.election
	if es.detached {
		return
	}
	es.detached = true
	for _, sid := range es.attached {
		if p := c.d.epeers[sid]; sid >= 0 && p != nil {
			p.open = slices.DeleteFunc(p.open, func(o peerConn) bool { return o.id == c.info.ID })
		}
	}
}

// learnConfig maps the election and quorum addresses of the
// server.N=host:quorumPort:electionPort[:role][;client] lines of a
// QuorumVerifier text to N. Hostnames are skipped: the capture has only
// addresses.
func (d *Decoder) learnConfig(cfg []byte) {
	if len(cfg) == 0 || string(cfg) == d.lastConfig {
		return
	}
	d.lastConfig = string(cfg)
	for _, line := range strings.Split(d.lastConfig, "\n") {
		key, val, ok := strings.Cut(strings.TrimSpace(line), "=")
		num, isServer := strings.CutPrefix(key, "server.")
		if !ok || !isServer {
			continue
		}
		sid, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			continue
		}
		val, _, _ = strings.Cut(val, ";")
		host, rest, ok := cutHost(val)
		if !ok {
			continue
		}
		addr, err := netip.ParseAddr(host)
		if err != nil {
			continue
		}
		ports := strings.Split(rest, ":")
		if len(ports) < 2 {
			continue
		}
		if qp, err := strconv.ParseUint(ports[0], 10, 16); err == nil && len(d.sidByQuorum) < maxLearned {
			d.sidByQuorum[netip.AddrPortFrom(addr, uint16(qp))] = sid
		}
		if ep, err := strconv.ParseUint(ports[1], 10, 16); err == nil && len(d.sidByAddr) < maxLearned {
			d.sidByAddr[netip.AddrPortFrom(addr, uint16(ep))] = sid
		}
	}
}

// cutHost splits "host:rest" or "[v6]:rest".
func cutHost(s string) (host, rest string, ok bool) {
	if strings.HasPrefix(s, "[") {
		i := strings.Index(s, "]:")
		if i < 0 {
			return "", "", false
		}
		return s[1:i], s[i+2:], true
	}
	return strings.Cut(s, ":")
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
			if ap, err := netip.ParseAddrPort(a); err == nil && len(d.sidByAddr) < maxLearned {
				d.sidByAddr[ap] = im.Sid
			}
		}
		d.emit(m)
		return n
	}
	if !es.sent[dir] && !h.mid && (dir == FromServer || es.initDone) {
		// Quorum SASL: QuorumCnxManager runs the QuorumAuthPacket
		// exchange after the initial message, before any notification.
		if len(b) < 8 {
			return 0 // a notification frame is longer than 8 bytes too
		}
		if int64(binary.BigEndian.Uint64(b)) == wire.QuorumAuthMagic {
			return c.quorumAuth(dir, b)
		}
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
	n, err := wire.DecodeNotification(b[4:size])
	if err != nil {
		if dir == FromServer {
			m.Sid = c.acceptorSid()
		}
		m.Kind, m.Error = KindUndecodable, err
		d.emit(m)
		return size
	}
	d.learnConfig(n.Config)
	m.setConfig(n.Config)
	if !c.election.live {
		c.election.live = true
		c.attach(0, c.info.Sid)
	}
	sid := c.acceptorSid()
	c.attach(1, sid)
	if dir == FromServer {
		m.Sid = sid
	}
	m.Instance = c.senderInstance(dir, m.Sid, &n)
	d.notif = n
	m.Notification = &d.notif
	m.setZxid(n.Zxid)
	m.add("notification", notificationView{&d.notif})
	d.emit(m)
	return size
}

// acceptorSid returns the acceptor's sid once known (-1 before), keeping
// it in ConnInfo.ServerSid.
func (c *Conn) acceptorSid() int64 {
	if c.election.peerSid < 0 {
		if sid, ok := c.d.sidByAddr[c.info.Server]; ok {
			c.election.peerSid = sid
			c.info.ServerSid = sid
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
