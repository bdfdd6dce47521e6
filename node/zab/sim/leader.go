package sim

import (
	"sort"

	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// The leader's driver: zab.Leader decides the establishment (epoch,
// quorums, phase deadlines, the synced check); zab.CheckLearnerInfo and
// zab.CheckAckEpoch check each learner; zab.PlanSync (from the
// zab.CommittedLog and the txn log) plans its sync. What is left here is
// what node's learnerHandler still does: which learner is at which step,
// moving packets, and the per-learner ACK deadline; each learner's
// transaction timeout is zab.SyncLimitCheck. It is carried out as
// node does it: the epochs persisted before LEADERINFO, syncs or UPTODATE
// go out.

type hstate uint8

const (
	hEpoch     hstate = iota // FOLLOWERINFO in, waiting for the epoch
	hAckEpoch                // LEADERINFO sent
	hWaitSync                // ACKEPOCH in, waiting for the epoch quorum
	hNewLeader               // synced and NEWLEADER sent: forwarding
	hUpToDate                // NEWLEADER acked, waiting for the quorum
	hBroadcast               // UPTODATE sent
)

type handler struct {
	sid      int64
	c        *conn
	voter    bool
	st       hstate
	lastZxid wire.Zxid
	deadline int64 // Java's tickOfNextAckDeadline, in full ticks
	slc      zab.SyncLimitCheck
}

type leaderDrv struct {
	p            *Peer
	zl           *zab.Leader
	hs           map[int64]*handler
	summaryEpoch int64
	summaryZxid  wire.Zxid
	bc           leaderBcast // from serving on
}

func (p *Peer) becomeLeader() {
	zl, err := zab.NewLeader(zab.LeaderConfig{ID: p.id, Verifier: p.s.verifier,
		AcceptedEpoch: p.store.AcceptedEpoch, CurrentEpoch: p.store.CurrentEpoch, PhaseTicks: 2 * initLimit})
	if err != nil {
		p.s.tracef("%d: cannot lead: %v", p.id, err)
		p.becomeLooking("cannot lead")
		return
	}
	p.role = roleLeading
	p.ld = &leaderDrv{p: p, zl: zl, hs: map[int64]*handler{}, summaryEpoch: p.store.CurrentEpoch,
		summaryZxid: p.store.LastZxid()}
	p.s.tracef("%d: leads from %s", p.id, p.store.String())
	p.ld.processReady()
}

func (ld *leaderDrv) alive() bool { return ld.p.ld == ld && ld.p.up }

// handlers returns the learners at state st (all when st < 0), by sid.
func (ld *leaderDrv) handlers(pred func(*handler) bool) []*handler {
	var out []*handler
	for _, h := range ld.hs {
		if pred(h) {
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].sid < out[j].sid })
	return out
}

func (ld *leaderDrv) in(st hstate) []*handler {
	return ld.handlers(func(h *handler) bool { return h.st == st })
}

func (ld *leaderDrv) send(h *handler, qp wire.QuorumPacket, snap []Rec) {
	ld.p.s.net.send(h.c, ld.p.id, qp, snap)
}

// processReady carries out the zab.Leader's Ready: persist, then send.
func (ld *leaderDrv) processReady() {
	p := ld.p
	for ld.alive() && ld.zl.HasReady() {
		r := ld.zl.Ready()
		if r.StepDown != "" {
			p.s.tracef("%d: steps down: %s", p.id, r.StepDown)
			p.becomeLooking("step down")
			return
		}
		if hs := r.HardState; hs != nil {
			if !p.writeEpochs(*hs) {
				return
			}
			if !p.midReady(readyLeader, "leader epochs") {
				return
			}
		}
		if r.EpochDecided {
			p.s.tracef("%d: epoch %d decided by %s", p.id, ld.zl.Epoch(), ld.zl.EpochVoters())
			for _, h := range ld.in(hEpoch) {
				ld.sendLeaderInfo(h)
			}
		}
		if r.EpochAcked {
			for _, h := range ld.in(hWaitSync) {
				ld.syncLearner(h)
			}
		}
		if r.CheckSynced {
			ft := ld.zl.FullTick()
			var sids []int64
			for _, h := range ld.handlers(func(h *handler) bool { return h.voter && h.c.open && ft <= h.deadline }) {
				sids = append(sids, h.sid)
			}
			ld.zl.Synced(sids)
		}
		if r.Serving {
			p.s.leaders++
			p.s.tracef("%d: serving epoch %d; NEWLEADER acked by %s", p.id, ld.zl.Epoch(), ld.zl.NewLeaderVoters())
			p.s.chk.established(p, ld.zl.Epoch())
			p.el.SetPeerEpoch(ld.zl.Epoch())
			ld.bc = newBcastLeader(ld)
			for _, h := range ld.in(hUpToDate) {
				ld.sendUpToDate(h)
			}
			p.s.hook(p, HookServing)
		}
	}
}

func (ld *leaderDrv) tick() {
	ld.zl.Tick()
	ld.processReady()
	if !ld.alive() || ld.bc == nil {
		return
	}
	for _, h := range ld.handlers(func(h *handler) bool { return h.st >= hNewLeader }) {
		if h.slc.Expired(ld.zl.Ticks(), 2*syncLimit) {
			ld.drop(h, "transaction timeout")
			continue
		}
		ld.send(h, wire.QuorumPacket{Type: wire.PacketPing, Zxid: ld.bc.lastProposed()}, nil)
	}
}

func (ld *leaderDrv) connClosed(c *conn) {
	if h := ld.hs[c.learner]; h != nil && h.c == c {
		delete(ld.hs, c.learner)
	}
}

func (ld *leaderDrv) drop(h *handler, why string) {
	ld.p.s.tracef("%d: drops learner %d: %s", ld.p.id, h.sid, why)
	ld.p.s.net.close(h.c, why)
}

func (ld *leaderDrv) onPacket(c *conn, qp wire.QuorumPacket) {
	p := ld.p
	h := ld.hs[c.learner]
	if h != nil && h.c != c {
		h = nil
	}
	if h != nil {
		h.deadline = ld.zl.FullTick() + syncLimit
	}
	switch qp.Type {
	case wire.PacketFollowerInfo, wire.PacketObserverInfo:
		li, err := zab.CheckLearnerInfo(&qp, 0, func(sid int64) (bool, bool) {
			l := p.s.peer(sid)
			return l != nil && !l.observer, l != nil
		})
		if err != nil || li.ID != c.learner {
			p.s.net.close(c, "bad learner info")
			return
		}
		if old := ld.hs[li.ID]; old != nil {
			p.s.net.close(old.c, "learner reconnected")
		}
		h = &handler{sid: li.ID, c: c, voter: !li.Observer, st: hEpoch,
			deadline: ld.zl.FullTick() + initLimit + syncLimit}
		ld.hs[h.sid] = h
		ld.zl.LearnerInfo(h.sid, li.AcceptedEpoch, h.voter)
		ld.processReady()
		if ld.alive() && ld.zl.Epoch() >= 0 && h.st == hEpoch && ld.hs[h.sid] == h {
			ld.sendLeaderInfo(h)
		}
	case wire.PacketAckEpoch:
		if h == nil || h.st != hAckEpoch {
			return
		}
		ack, err := zab.CheckAckEpoch(&qp, ld.summaryEpoch, ld.summaryZxid)
		if err != nil {
			ld.drop(h, err.Error())
			return
		}
		h.lastZxid, h.st = ack.LastZxid, hWaitSync
		if ld.zl.EpochAcked() {
			ld.syncLearner(h)
			return
		}
		ld.zl.AckEpoch(h.sid, ack.Counts && h.voter)
		ld.processReady()
	case wire.PacketAck:
		if h == nil {
			return
		}
		if h.st == hNewLeader && qp.Zxid == ld.zl.NewLeaderZxid() {
			h.st = hUpToDate
			if ld.zl.Serving() {
				ld.sendUpToDate(h)
				return
			}
			ld.zl.NewLeaderAck(h.sid, h.voter)
			ld.processReady()
			return
		}
		h.slc.Acked(qp.Zxid)
		if h.st == hBroadcast && ld.bc != nil {
			ld.bc.ack(h, qp.Zxid)
		}
	case wire.PacketRequest:
		if ld.bc != nil {
			p.s.clients.forwarded(p, c.learner, qp)
		}
	}
}

func (ld *leaderDrv) sendLeaderInfo(h *handler) {
	h.st = hAckEpoch
	ld.send(h, wire.QuorumPacket{Type: wire.PacketLeaderInfo, Zxid: ld.zl.NewLeaderZxid(),
		Data: wire.EpochData(wire.ProtocolVersion)}, nil)
}

func (ld *leaderDrv) sendUpToDate(h *handler) {
	h.st = hBroadcast
	ld.send(h, wire.QuorumPacket{Type: wire.PacketUpToDate, Zxid: -1}, nil)
}

// syncLearner plans h's sync with zab.PlanSync and sends it, the
// proposals outstanding after it (Leader.startForwarding), then NEWLEADER.
func (ld *leaderDrv) syncLearner(h *handler) {
	p := ld.p
	s := p.s
	last := p.db.LastZxid
	in := zab.SyncInput{Peer: h.lastZxid, LastProcessed: last, Committed: p.committed.Window(),
		ForceSnap: s.forceSnap, TxnLog: s.txnLogSync}
	plan := zab.PlanSync(in)
	if plan.ReadTxnLog {
		in.LogRead = true
		for _, r := range p.store.From(in.Peer) {
			in.FromLog = append(in.FromLog, zab.NewCommitted(r.E, nil))
		}
		plan = zab.PlanSync(in)
	}
	s.syncs[plan.Mode.String()+"/"+plan.Reason.String()]++
	s.tracef("%d: sync %d from %s: %v (%v), forwarding after %s", p.id, h.sid, zx(h.lastZxid), plan.Mode, plan.Reason, zx(plan.LastSeen))
	if plan.Mode == wire.PacketSnap {
		upto := p.store.Upto(last)
		ld.send(h, wire.QuorumPacket{Type: wire.PacketSnap, Zxid: last}, append(make([]Rec, 0, len(upto)), upto...))
	} else {
		for _, qp := range plan.Packets {
			ld.send(h, qp, nil)
		}
	}
	if ld.bc != nil && h.voter {
		ld.bc.forward(h, plan.LastSeen)
	}
	ld.send(h, wire.QuorumPacket{Type: wire.PacketNewLeader, Zxid: ld.zl.NewLeaderZxid()}, nil)
	h.st = hNewLeader
}
