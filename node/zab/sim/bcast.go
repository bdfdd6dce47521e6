package sim

import (
	"errors"

	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// The broadcast phase is zab's on both sides: the leader's is zab.Leader's
// (leader.go drives it), the follower's and observer's zab.Broadcast's
// (bcastFollower drives it, as node does).

// leaderBcast is a serving leader's proposal path (leaderDrv, a driver of
// zab.Leader, once it serves).
type leaderBcast interface {
	// nextZxid is the zxid the next proposal gets (Prep needs it).
	nextZxid() (wire.Zxid, bool)
	// propose logs rec (fsynced later) and proposes it.
	propose(rec Rec)
	// synced: the leader's log is durable up to its last txn.
	synced()
}

// followerBcast is a follower's broadcast phase, from UPTODATE on.
type followerBcast interface {
	onPacket(qp wire.QuorumPacket)
	synced()
}

// bcastFollower drives zab.Broadcast, a follower's or an observer's
// broadcast phase, as node does: each BroadcastReady is carried out in its
// order (append, fsynced later; send, ACKs only once durable; apply).
type bcastFollower struct {
	lr *learnerDrv
	b  *zab.Broadcast
}

func newBcastFollower(lr *learnerDrv, sy zab.Synced) *bcastFollower {
	p := lr.p
	b, r, err := zab.NewBroadcast(zab.BroadcastConfig{Observer: p.observer, LastZxid: p.db.LastZxid, MaxRecord: 1 << 20}, sy)
	f := &bcastFollower{lr: lr, b: b}
	f.carryOut(r, err)
	return f
}

func (f *bcastFollower) onPacket(qp wire.QuorumPacket) {
	r, err := f.b.Step(&qp)
	f.carryOut(r, err)
}

func (f *bcastFollower) synced() {
	f.carryOut(f.b.Durable(f.lr.p.acked()), nil)
}

func (f *bcastFollower) carryOut(r zab.BroadcastReady, err error) {
	p := f.lr.p
	if len(r.Append) > 0 {
		recs := make([]Rec, len(r.Append))
		for i, e := range r.Append {
			recs[i] = NewRec(e)
		}
		if !p.appendAsync(recs...) {
			return
		}
	}
	if len(r.Messages) > 0 && !p.midReady(readyFollowerAck, "follower ACK") {
		return
	}
	for _, m := range r.Messages {
		f.lr.send(m)
	}
	if r.Ping != nil {
		f.lr.send(wire.QuorumPacket{Type: wire.PacketPing, Zxid: r.Ping.Zxid})
	}
	for _, e := range r.Apply {
		rec := NewRec(e)
		res := p.apply(rec)
		p.s.chk.applied(p, rec)
		p.s.clients.applied(p, rec, &res)
	}
	switch {
	case errors.Is(err, zab.ErrCommitMismatch):
		p.s.chk.fail("order", "peer %d: %v", p.id, err)
	case err != nil:
		p.becomeLooking(err.Error())
	}
}
