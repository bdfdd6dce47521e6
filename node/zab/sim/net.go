package sim

import (
	"github.com/zkgo/zkgo/node/fle"
	"github.com/zkgo/zkgo/wire"
)

// conn is a quorum connection (TCP) from a learner to a leader: two FIFO
// links. A closed conn drops what is in flight; both ends learn it at
// once (a reset), or by their timeouts when a partition or a pause
// silences it.
type conn struct {
	id                  int
	learner, leader     int64
	learnerGen, leadGen int
	open                bool
	closing             bool   // an end crashed: closes once its packets are delivered
	up, down            *qlink // learner->leader, leader->learner
}

type qpkt struct {
	at   int64
	pkt  wire.QuorumPacket
	snap []Rec // a SNAP's snapshot (the driver's stream)
}

// qlink is one direction of a conn.
type qlink struct {
	c         *conn
	from, to  int64
	q         []qpkt
	lastAt    int64
	scheduled bool
}

// network carries quorum packets on conns and election notifications
// between peers, with per-link delays, slow peers and partitions.
type network struct {
	s            *Sim
	conns        []*conn
	nextID       int
	base         map[[2]int64]int64 // per-link base delay, ms
	slow         map[int64]int64    // extra delay of a slow peer, ms
	group        map[int64]int      // partition: side of each peer; -1 bridges
	partitionGen int
	healAt       int64
	// lastFLE is the last election notification each peer sent to each
	// other (QuorumCnxManager's lastMessageSent), lost or not: a new
	// connection between the two re-sends it.
	lastFLE map[[2]int64]fle.Message
}

func (n *network) init(s *Sim) {
	n.s = s
	n.base = map[[2]int64]int64{}
	n.slow = map[int64]int64{}
	n.lastFLE = map[[2]int64]fle.Message{}
	for _, a := range s.ids {
		for _, b := range s.ids {
			if a != b {
				n.base[[2]int64{a, b}] = 1 + int64(s.rng.IntN(12))
			}
		}
	}
}

func (n *network) delay(from, to int64) int64 {
	b := n.base[[2]int64{from, to}]
	d := b + int64(n.s.rng.IntN(int(b)+1)) + n.slow[from] + n.slow[to]
	if n.s.rng.IntN(50) == 0 {
		d += int64(n.s.rng.IntN(60)) // a hiccup
	}
	return d
}

// blocked reports whether a partition separates a and b.
func (n *network) blocked(a, b int64) bool {
	if n.group == nil {
		return false
	}
	ga, gb := n.group[a], n.group[b]
	return ga != gb && ga != -1 && gb != -1
}

func (n *network) heal() {
	old := n.group
	n.group = nil
	n.s.tracef("net: healed")
	// The election's connections across the cut were broken by it; their
	// new connections re-send the last notification each way.
	for _, a := range n.s.ids {
		for _, b := range n.s.ids {
			ga, gb := old[a], old[b]
			if a != b && ga != gb && ga != -1 && gb != -1 {
				n.resendFLE(a, b)
			}
		}
	}
}

// reconnected: peer id (re)started and connects to the others (Java's
// connectAll): each up peer's new connection to it re-sends the last
// notification it sent it, as QuorumCnxManager's SendWorker does. Without
// that, a restarted peer can wait forever for the vote of a peer that
// sends only on its timeouts and never times out (it keeps hearing from
// the others): the sim found it with a weight-0 voter (TestFLEResendOnReconnect).
func (n *network) reconnected(id int64) {
	for _, a := range n.s.ids {
		if a != id {
			n.resendFLE(a, id)
		}
	}
}

// resendFLE re-sends the last notification from sent to, as the new
// connection's SendWorker does. A paused sender re-sends it when it
// resumes (its SendWorker runs again then), the notification it last
// sent by that time: skipping it lost the vote for good when the
// receiver had missed it (TestFLEResendAfterPause).
func (n *network) resendFLE(from, to int64) {
	f := n.s.peer(from)
	if !f.up {
		return
	}
	if f.pausedUntil > n.s.now {
		n.s.push(&event{at: f.pausedUntil, kind: evResendFLE, peer: from, to: to, gen: f.gen})
		return
	}
	if m, ok := n.lastFLE[[2]int64{from, to}]; ok {
		if n.s.cfg.Trace && n.s.cfg.TraceElection {
			n.s.tracef("net: fle %d->%d re-sent on a new connection: %v %s round %d", from, to, m.State,
				fleVote(m.Leader, m.Zxid, m.PeerEpoch), m.ElectionEpoch)
		}
		n.sendFLE(from, m)
	}
}

// open makes a conn from learner to leader.
func (n *network) open(learner, leader int64) *conn {
	n.nextID++
	c := &conn{id: n.nextID, learner: learner, leader: leader, open: true,
		learnerGen: n.s.peer(learner).gen, leadGen: n.s.peer(leader).gen}
	c.up = &qlink{c: c, from: learner, to: leader}
	c.down = &qlink{c: c, from: leader, to: learner}
	n.conns = append(n.conns, c)
	return c
}

// close closes c and tells both ends that are still there.
func (n *network) close(c *conn, why string) {
	if !c.open {
		return
	}
	c.open = false
	c.up.q, c.down.q = nil, nil
	for i, x := range n.conns {
		if x == c {
			n.conns = append(n.conns[:i], n.conns[i+1:]...)
			break
		}
	}
	n.s.tracef("net: conn %d (%d->%d) closed: %s", c.id, c.learner, c.leader, why)
	n.notifyClosed(c, c.learner, c.learnerGen)
	n.notifyClosed(c, c.leader, c.leadGen)
}

// notifyClosed tells end id of c that c closed, once it runs (a paused
// peer learns it when it resumes).
func (n *network) notifyClosed(c *conn, id int64, gen int) {
	p := n.s.peer(id)
	if !p.up || p.gen != gen {
		return
	}
	if p.pausedUntil > n.s.now {
		n.s.push(&event{at: p.pausedUntil, kind: evClosed, peer: id, gen: gen, link: c.up})
		return
	}
	p.connClosed(c)
}

// crashed: peer id's process died. What it sent is still delivered (the
// kernel sends it), what was on its way to it is lost, and each of its
// conns closes after its last packet arrived.
func (n *network) crashed(id int64) {
	for _, c := range append([]*conn(nil), n.conns...) {
		if c.learner != id && c.leader != id {
			continue
		}
		out, in := c.up, c.down
		if c.leader == id {
			out, in = c.down, c.up
		}
		in.q = nil
		if len(out.q) == 0 {
			n.close(c, "peer crashed")
			continue
		}
		c.closing = true
		n.s.push(&event{at: max(out.lastAt, n.s.now) + 1, kind: evClose, link: out})
	}
}

// closeAll closes every conn of peer id.
func (n *network) closeAll(id int64, why string) {
	for _, c := range append([]*conn(nil), n.conns...) {
		if c.learner == id || c.leader == id {
			n.close(c, why)
		}
	}
}

// send puts a packet on c from from (one of its ends).
func (n *network) send(c *conn, from int64, qp wire.QuorumPacket, snap []Rec) {
	if !c.open || c.closing {
		return
	}
	l := c.up
	if from == c.leader {
		l = c.down
	}
	at := max(n.s.now+n.delay(l.from, l.to), l.lastAt)
	l.lastAt = at
	l.q = append(l.q, qpkt{at: at, pkt: qp, snap: snap})
	if !l.scheduled {
		l.scheduled = true
		n.s.push(&event{at: at, kind: evQuorum, link: l})
	}
}

func (n *network) deliverHead(l *qlink) {
	l.scheduled = false
	if !l.c.open || len(l.q) == 0 {
		return
	}
	to := n.s.peer(l.to)
	switch {
	case to.pausedUntil > n.s.now:
		l.scheduled = true
		n.s.push(&event{at: to.pausedUntil, kind: evQuorum, link: l})
		return
	case n.blocked(l.from, l.to):
		// TCP holds it until the partition heals or the conn is closed.
		l.scheduled = true
		n.s.push(&event{at: max(n.healAt, n.s.now+1), kind: evQuorum, link: l})
		return
	}
	h := l.q[0]
	l.q = l.q[1:]
	gen := l.c.learnerGen
	if l.to == l.c.leader {
		gen = l.c.leadGen
	}
	if to.up && to.gen == gen {
		to.onQuorum(l.c, l.from, h.pkt, h.snap)
	}
	if l.c.open && len(l.q) > 0 && !l.scheduled {
		l.scheduled = true
		n.s.push(&event{at: max(l.q[0].at, n.s.now), kind: evQuorum, link: l})
	}
}

// sendFLE sends an election notification; it is lost if the receiver is
// down or cut off (the election re-sends on its timeouts).
func (n *network) sendFLE(from int64, m fle.Message) {
	n.lastFLE[[2]int64{from, m.To}] = m
	to := n.s.peer(m.To)
	if to == nil || !to.up {
		n.traceFLELost(from, m, "the receiver is down")
		return
	}
	n.s.push(&event{at: n.s.now + n.delay(from, m.To), kind: evFLE, from: from, msg: m, peer: m.To, gen: to.gen})
}

func (n *network) deliverFLE(e *event) {
	to := n.s.peer(e.peer)
	switch {
	case !to.up || to.gen != e.gen:
		n.traceFLELost(e.from, e.msg, "the receiver crashed")
		return
	case n.blocked(e.from, e.peer):
		n.traceFLELost(e.from, e.msg, "partitioned")
		return
	}
	if to.pausedUntil > n.s.now {
		e2 := *e
		e2.at = to.pausedUntil
		n.s.push(&e2)
		return
	}
	to.onFLE(e.from, e.msg)
}

// traceFLELost traces an election notification the network lost (with
// the election's trace on).
func (n *network) traceFLELost(from int64, m fle.Message, why string) {
	if n.s.cfg.Trace && n.s.cfg.TraceElection {
		n.s.tracef("net: fle %d->%d lost (%s): %v %s round %d", from, m.To, why, m.State,
			fleVote(m.Leader, m.Zxid, m.PeerEpoch), m.ElectionEpoch)
	}
}
