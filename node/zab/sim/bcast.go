package sim

import (
	"sort"

	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// The broadcast phase (proposals, ACKs, commits) is not in node/zab yet:
// zab has the leader's ACK counting (zab.Outstanding) and LearnerSync's
// hand-over (zab.Synced), and node drives the rest. The simulator reaches
// broadcast through the two interfaces below, implemented for now by
// bcastLeader and bcastFollower: thin drivers of zab.Outstanding and of
// zab.Synced that do what node does today (log, fsync, ACK once durable,
// commit in zxid order, apply). When zab.Leader takes proposals and
// zab has a follower (issue 16, steps 3 and 4), these two are replaced by
// drivers of those, and nothing else in the simulator changes.

// leaderBcast is a serving leader's proposal/commit path.
type leaderBcast interface {
	// nextZxid is the zxid the next proposal gets (Prep needs it).
	nextZxid() (wire.Zxid, bool)
	// propose logs rec (fsynced later), and sends it to the forwarding
	// followers.
	propose(rec Rec)
	// ack takes a follower's ACK.
	ack(h *handler, z wire.Zxid)
	// synced: the leader's log is durable up to its last txn.
	synced()
	// forward sends a newly synced learner the proposals after lastSeen
	// (Leader.startForwarding).
	forward(h *handler, lastSeen wire.Zxid)
	// lastProposed is the newest zxid proposed (PING's zxid).
	lastProposed() wire.Zxid
}

// followerBcast is a follower's broadcast phase, from UPTODATE on.
type followerBcast interface {
	onPacket(qp wire.QuorumPacket)
	synced()
}

// bcastLeader counts ACKs with zab.Outstanding (the leader's own once its
// log is durable) and commits in zxid order.
type bcastLeader struct {
	ld   *leaderDrv
	out  *zab.Outstanding
	txns map[wire.Zxid]Rec
}

func newBcastLeader(ld *leaderDrv) *bcastLeader {
	var v quorum.Verifier = ld.p.s.verifier
	if ld.p.s.sab.minorityCommit {
		v = minority{ld.p.id} // SABOTAGE: the leader alone is a quorum
	}
	return &bcastLeader{ld: ld, out: zab.NewOutstanding(v, ld.zl.NewLeaderZxid()), txns: map[wire.Zxid]Rec{}}
}

func (b *bcastLeader) lastProposed() wire.Zxid { return b.out.LastProposed() }

func (b *bcastLeader) nextZxid() (wire.Zxid, bool) {
	z := b.out.LastProposed() + 1
	return z, z.Epoch() == b.out.LastProposed().Epoch() // a rollover needs a new epoch
}

func (b *bcastLeader) forwarding() []*handler {
	return b.ld.handlers(func(h *handler) bool { return h.voter && h.st >= hNewLeader })
}

func (b *bcastLeader) propose(rec Rec) {
	p := b.ld.p
	if !p.appendAsync(rec) {
		return
	}
	b.out.Propose(rec.Zxid())
	b.txns[rec.Zxid()] = rec
	p.s.tracef("%d: propose %s", p.id, zx(rec.Zxid()))
	data := wire.AppendTxnEntry(nil, rec.E)
	for _, h := range b.forwarding() {
		if h.st >= hUpToDate {
			// The transaction timeout counts from the NEWLEADER ACK
			// on (SyncLimitCheck.start), as node's limitCheck.
			h.slc.Sent(rec.Zxid(), b.ld.zl.Ticks())
		}
		b.ld.send(h, wire.QuorumPacket{Type: wire.PacketProposal, Zxid: rec.Zxid(), Data: data}, nil)
	}
}

func (b *bcastLeader) forward(h *handler, lastSeen wire.Zxid) {
	var zs []wire.Zxid
	for z := range b.txns {
		if z > lastSeen {
			zs = append(zs, z)
		}
	}
	sort.Slice(zs, func(i, j int) bool { return zs[i] < zs[j] })
	for _, z := range zs {
		b.ld.send(h, wire.QuorumPacket{Type: wire.PacketProposal, Zxid: z, Data: wire.AppendTxnEntry(nil, b.txns[z].E)}, nil)
	}
}

func (b *bcastLeader) ack(h *handler, z wire.Zxid) {
	if b.out.Ack(h.sid, z) == zab.AckCounted {
		b.commit()
	}
}

func (b *bcastLeader) synced() {
	b.out.AckThrough(b.ld.p.id, b.ld.p.acked())
	b.commit()
}

// commit takes off what has a quorum: applied, then COMMIT sent.
func (b *bcastLeader) commit() {
	p := b.ld.p
	for b.ld.alive() {
		z, ok := b.out.Commit()
		if !ok {
			return
		}
		rec := b.txns[z]
		delete(b.txns, z)
		p.s.tracef("%d: commit %s", p.id, zx(z))
		p.s.chk.committedBy(p, rec)
		res := p.db.Apply(rec.E)
		p.committed.Add(rec.E, nil)
		p.s.chk.applied(p, rec)
		p.s.clients.applied(p, rec, &res)
		if !p.midReady(readyLeaderCommit, "leader commit") {
			return
		}
		for _, h := range b.forwarding() {
			b.ld.send(h, wire.QuorumPacket{Type: wire.PacketCommit, Zxid: z}, nil)
		}
		var inform []byte
		for _, h := range b.ld.handlers(func(h *handler) bool { return !h.voter && h.st >= hNewLeader }) {
			if inform == nil {
				inform = wire.AppendTxnEntry(nil, rec.E)
			}
			b.ld.send(h, wire.QuorumPacket{Type: wire.PacketInform, Zxid: z, Data: inform}, nil)
		}
	}
}

// minority is the sabotaged verifier: any set with the leader is a
// quorum.
type minority struct{ leader int64 }

func (m minority) ContainsQuorum(set map[int64]bool) bool { return set[m.leader] }
func (m minority) Weight(int64) int64                     { return 1 }
func (m minority) IsVoter(int64) bool                     { return true }
func (m minority) Voters() []int64                        { return nil }
func (m minority) Text() string                           { return "" }

// bcastFollower logs PROPOSALs (ACKed once durable) and applies COMMITs
// in order, as node's follower does; as an observer it logs and applies
// each INFORM.
type bcastFollower struct {
	lr      *learnerDrv
	pending []Rec       // logged, not committed, in zxid order
	toAck   []wire.Zxid // logged, not yet durable
}

func newBcastFollower(lr *learnerDrv, sy zab.Synced) *bcastFollower {
	b := &bcastFollower{lr: lr}
	for _, e := range sy.Logged {
		b.pending = append(b.pending, NewRec(e))
	}
	for _, e := range sy.NotCommitted {
		b.log(NewRec(e))
	}
	for _, z := range sy.Committed {
		if !b.commit(z) {
			return b
		}
	}
	return b
}

func (b *bcastFollower) log(rec Rec) {
	if !b.lr.p.appendAsync(rec) {
		return
	}
	b.pending = append(b.pending, rec)
	if b.lr.p.observer {
		return
	}
	if b.lr.p.s.sab.ackUnsynced {
		// SABOTAGE: ACKed before the fsync.
		b.lr.send(wire.QuorumPacket{Type: wire.PacketAck, Zxid: rec.Zxid()})
		return
	}
	b.toAck = append(b.toAck, rec.Zxid())
}

func (b *bcastFollower) onPacket(qp wire.QuorumPacket) {
	p := b.lr.p
	switch qp.Type {
	case wire.PacketProposal:
		e, err := wire.DecodeTxnEntry(qp.Data, 1<<20)
		if err != nil {
			p.becomeLooking("bad PROPOSAL")
			return
		}
		b.log(NewRec(&e))
	case wire.PacketCommit:
		b.commit(qp.Zxid)
	case wire.PacketInform:
		// An observer logs and applies it at once (no ACK).
		e, err := wire.DecodeTxnEntry(qp.Data, 1<<20)
		if err != nil || e.Hdr.Zxid != qp.Zxid {
			p.becomeLooking("bad INFORM")
			return
		}
		b.log(NewRec(&e))
		b.commit(qp.Zxid)
	case wire.PacketPing:
		b.lr.send(wire.QuorumPacket{Type: wire.PacketPing, Zxid: qp.Zxid})
	}
}

// commit applies the first pending txn, which must be z (Java exits
// otherwise: FollowerZooKeeperServer.commit).
func (b *bcastFollower) commit(z wire.Zxid) bool {
	p := b.lr.p
	if len(b.pending) == 0 || b.pending[0].Zxid() != z {
		next := wire.Zxid(-1)
		if len(b.pending) > 0 {
			next = b.pending[0].Zxid()
		}
		p.s.chk.fail("order", "peer %d: COMMIT %s but the next pending txn is %s", p.id, zx(z), zx(next))
		return false
	}
	rec := b.pending[0]
	b.pending = b.pending[1:]
	res := p.db.Apply(rec.E)
	p.committed.Add(rec.E, nil)
	p.s.chk.applied(p, rec)
	p.s.clients.applied(p, rec, &res)
	return true
}

func (b *bcastFollower) synced() {
	p := b.lr.p
	d := p.acked()
	n := 0
	for n < len(b.toAck) && b.toAck[n] <= d {
		n++
	}
	if n == 0 {
		return
	}
	acks := b.toAck[:n]
	b.toAck = b.toAck[n:]
	if !p.midReady(readyFollowerAck, "follower ACK") {
		return
	}
	for _, z := range acks {
		b.lr.send(wire.QuorumPacket{Type: wire.PacketAck, Zxid: z})
	}
}
