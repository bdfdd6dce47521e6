package sim

import (
	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// The leader's driver: zab.Leader is the whole leadership (the epoch, each
// learner's handshake and sync, the NEWLEADER quorum, proposals, ACKs,
// commits, pings, deadlines, the synced check, the transaction timeout).
// The driver does what node does with it: each learner connection is a
// link (Connect, Receive, Drop), each sync it asks for is planned with
// zab.PlanSync (Ready.Syncs, StartSync), a SNAP's snapshot is streamed
// (Ready.Snaps, SnapReady), the leader's own log is appended and its
// fsync reported (Propose, Durable), and each LeaderReady is carried out
// in its order: persist the epochs, close the Drops, stream the Snaps,
// send the Messages, apply the Commits, hand the Packets to the server
// layer, start the Syncs.

type leaderDrv struct {
	p     *Peer
	zl    *zab.Leader
	links map[zab.LinkID]*conn
	props map[wire.Zxid]Rec // proposed, not committed yet
	bc    leaderBcast       // the leader itself once it serves
	// The session tracker: sessions created by a txn not applied yet,
	// and sessions whose close was prepared (Java's setSessionClosing).
	pendingSess, closing map[wire.SessionID]bool
}

// checkSession is PrepRequestProcessor's session check: a session the
// leader does not know, or one it is closing, is expired.
func (ld *leaderDrv) checkSession(id wire.SessionID) wire.ErrCode {
	if ld.closing[id] || !ld.p.sessions[id] && !ld.pendingSess[id] {
		return wire.ErrSessionExpired
	}
	return wire.ErrOk
}

func (p *Peer) becomeLeader() {
	zl, err := zab.NewLeader(zab.LeaderConfig{ID: p.id, Verifier: p.s.verifier,
		AcceptedEpoch: p.store.AcceptedEpoch, CurrentEpoch: p.store.CurrentEpoch, LastZxid: p.store.LastZxid(),
		PhaseTicks: 2 * initLimit, InitLimit: initLimit, SyncLimit: syncLimit,
		Member: func(sid int64) (bool, bool) {
			l := p.s.peer(sid)
			return l != nil && !l.observer, l != nil
		},
		MaxSnapSyncs: 10, MaxDiffSyncs: 100})
	if err != nil {
		p.s.tracef("%d: cannot lead: %v", p.id, err)
		p.becomeLooking("cannot lead")
		return
	}
	p.role = roleLeading
	p.ld = &leaderDrv{p: p, zl: zl, links: map[zab.LinkID]*conn{}, props: map[wire.Zxid]Rec{},
		pendingSess: map[wire.SessionID]bool{}, closing: map[wire.SessionID]bool{}}
	p.s.tracef("%d: leads from %s", p.id, p.store.String())
	p.ld.processReady()
}

func (ld *leaderDrv) alive() bool { return ld.p.ld == ld && ld.p.up }

// processReady carries out the zab.Leader's Readys, in their order.
func (ld *leaderDrv) processReady() {
	p := ld.p
	s := p.s
	for ld.alive() && ld.zl.HasReady() {
		r := ld.zl.Ready()
		if r.StepDown != "" {
			s.tracef("%d: steps down: %s", p.id, r.StepDown)
			p.becomeLooking("step down")
			return
		}
		if hs := r.HardState; hs != nil {
			if !p.writeEpochs(*hs) || !p.midReady(readyLeader, "leader epochs") {
				return
			}
		}
		if len(r.Commits) > 0 && !p.midReady(readyLeaderCommit, "leader commit") {
			return
		}
		if r.EpochDecided {
			s.tracef("%d: epoch %d decided by %s", p.id, ld.zl.Epoch(), ld.zl.EpochVoters())
		}
		for _, d := range r.Drops {
			if c := ld.links[d.Link]; c != nil {
				delete(ld.links, d.Link)
				s.tracef("%d: drops learner %d: %s", p.id, d.SID, d.Reason)
				s.net.close(c, d.Reason)
			}
		}
		for _, link := range r.Snaps {
			if c := ld.links[link]; c != nil {
				// a walk of the tree: the txns it holds
				s.net.send(c, p.id, wire.QuorumPacket{Type: wire.PacketSnap, Zxid: p.db.LastZxid}, p.applied[:len(p.applied):len(p.applied)])
			}
		}
		for _, m := range r.Messages {
			if c := ld.links[m.To]; c != nil {
				s.net.send(c, p.id, m.Packet, nil)
			}
		}
		for _, z := range r.Commits {
			ld.commit(z)
		}
		for _, pk := range r.Packets {
			if pk.Packet.Type == wire.PacketRequest && ld.bc != nil {
				s.clients.forwarded(p, pk.SID, pk.Packet)
			}
		}
		if r.Serving {
			s.leaders++
			s.tracef("%d: serving epoch %d; NEWLEADER acked by %s", p.id, ld.zl.Epoch(), ld.zl.NewLeaderVoters())
			s.chk.established(p, ld.zl.Epoch())
			p.el.SetPeerEpoch(ld.zl.Epoch())
			ld.bc = ld
			s.hook(p, HookServing)
		}
		for _, link := range r.Syncs {
			ld.syncLearner(link)
		}
		for _, link := range r.Snaps {
			ld.zl.SnapReady(link)
		}
		if r.Rollover {
			p.becomeLooking("zxid counter rollover")
			return
		}
	}
}

func (ld *leaderDrv) tick() {
	ld.zl.Tick()
	ld.processReady()
}

func (ld *leaderDrv) connClosed(c *conn) {
	link := zab.LinkID(c.id)
	if ld.links[link] == c {
		delete(ld.links, link)
		ld.zl.Drop(link, "connection closed")
		ld.processReady()
	}
}

func (ld *leaderDrv) onPacket(c *conn, qp wire.QuorumPacket) {
	link := zab.LinkID(c.id)
	if ld.links[link] == nil {
		ld.links[link] = c
		ld.zl.Connect(link, &qp)
	} else {
		ld.zl.Receive(link, &qp)
	}
	ld.processReady()
}

// syncLearner plans a learner's sync with zab.PlanSync (reading the txn
// log if the plan asks) and starts it.
func (ld *leaderDrv) syncLearner(link zab.LinkID) {
	p := ld.p
	s := p.s
	st, ok := ld.zl.Learner(link)
	if !ok {
		return
	}
	last := p.db.LastZxid
	in := zab.SyncInput{Peer: st.LastZxid, LastProcessed: last, Committed: p.committed.Window(),
		ForceSnap: s.forceSnap, TxnLog: s.txnLogSync}
	plan := zab.PlanSync(in)
	if plan.ReadTxnLog {
		in.LogRead = true
		for _, r := range p.store.ReadForSync(in.Peer, p.s.sab.keepLogAtSnap) {
			in.FromLog = append(in.FromLog, zab.NewCommitted(r.E, nil))
		}
		plan = zab.PlanSync(in)
	}
	s.syncs[plan.Mode.String()+"/"+plan.Reason.String()]++
	s.tracef("%d: sync %d from %s: %v (%v), forwarding after %s", p.id, st.SID, zx(st.LastZxid), plan.Mode, plan.Reason, zx(plan.LastSeen))
	if err := ld.zl.StartSync(link, &plan); err != nil {
		s.tracef("%d: sync of %d refused: %v", p.id, st.SID, err)
	}
}

// nextZxid, propose, synced: the serving leader's side of leaderBcast.

func (ld *leaderDrv) nextZxid() (wire.Zxid, bool) {
	z := ld.zl.LastProposed() + 1
	return z, z.Counter() < 0xfffffffe
}

func (ld *leaderDrv) propose(rec Rec) {
	p := ld.p
	if !p.appendAsync(rec) {
		return
	}
	ld.props[rec.Zxid()] = rec
	p.s.tracef("%d: propose %s", p.id, zx(rec.Zxid()))
	ld.zl.Propose(rec.Zxid(), wire.AppendTxnEntry(nil, rec.E))
	ld.processReady()
}

func (ld *leaderDrv) synced() {
	ld.zl.Durable(ld.p.acked())
	ld.processReady()
}

// commit applies a committed proposal (its COMMITs and INFORMs went out
// with the Ready's Messages).
func (ld *leaderDrv) commit(z wire.Zxid) {
	p := ld.p
	rec, ok := ld.props[z]
	if !ok {
		p.s.chk.fail("order", "leader %d commits %s, which it did not propose", p.id, zx(z))
		return
	}
	delete(ld.props, z)
	p.s.tracef("%d: commit %s", p.id, zx(z))
	p.s.chk.committedBy(p, rec)
	res := p.apply(rec)
	p.s.chk.applied(p, rec)
	p.s.clients.applied(p, rec, &res)
}
