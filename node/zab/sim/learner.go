package sim

import (
	"errors"

	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// The learner's driver: zab.LearnerSync decides every step of the sync;
// this carries out each LearnerReady in its order (truncate or take the
// snapshot, apply, write the snapshot, log and fsync, write the epochs)
// and only then sends its Messages. An armed crash falls between the two.

type learnerDrv struct {
	p         *Peer
	leader    int64
	c         *conn
	ls        *zab.LearnerSync
	db        []Rec     // the database a SNAP or TRUNC builds before NEWLEADER
	recent    []Rec     // its txns replayed or applied after its snapshot (the committed log)
	snapAt    wire.Zxid // the SNAP's zxid, once one was received
	lastHeard int64
	bc        followerBcast // from UPTODATE on
}

const connectRetryMs = 100

func (p *Peer) becomeFollower(leader int64) {
	p.role = roleFollowing
	p.lr = &learnerDrv{p: p, leader: leader}
	p.s.push(&event{at: p.s.now + 1 + int64(p.s.rng.IntN(5)), kind: evConnect, peer: p.id, gen: p.gen, to: leader})
}

// connect is Learner.connectToLeader: the leader must be leading and
// reachable, else try again, up to initLimit*tickTime.
func (p *Peer) connect(to int64, attempt int) {
	lr := p.lr
	if lr == nil || lr.leader != to || lr.c != nil {
		return
	}
	l := p.s.peer(to)
	if l.up && l.ld != nil && !p.s.net.blocked(p.id, to) {
		lr.c = p.s.net.open(p.id, to)
		lr.ls = zab.NewLearnerSync(zab.LearnerConfig{ID: p.id, Observer: p.observer, LastLogged: p.store.LastZxid(),
			AcceptedEpoch: p.store.AcceptedEpoch, CurrentEpoch: p.store.CurrentEpoch, MaxRecord: 1 << 20})
		lr.lastHeard = p.s.now
		p.s.tracef("%d: connected to %d (conn %d)", p.id, to, lr.c.id)
		p.s.net.send(lr.c, p.id, lr.ls.Start(), nil)
		return
	}
	if (attempt+1)*connectRetryMs >= initLimit*2*tickMs {
		p.becomeLooking("cannot connect to the leader")
		return
	}
	p.s.push(&event{at: p.s.now + connectRetryMs, kind: evConnect, peer: p.id, gen: p.gen, to: to, attempt: attempt + 1})
}

func (lr *learnerDrv) alive() bool { return lr.p.lr == lr && lr.p.up }

// tick is the socket's read timeout: initLimit during the sync, syncLimit
// once in broadcast.
func (lr *learnerDrv) tick() {
	if lr.c == nil {
		return
	}
	limit := int64(syncReadMs)
	if lr.bc != nil {
		limit = bcastReadMs
	}
	if lr.p.s.now-lr.lastHeard > limit {
		lr.p.becomeLooking("read timeout")
	}
}

func (lr *learnerDrv) send(qp wire.QuorumPacket) {
	lr.p.s.net.send(lr.c, lr.p.id, qp, nil)
}

func (lr *learnerDrv) onPacket(qp wire.QuorumPacket, snap []Rec) {
	p := lr.p
	lr.lastHeard = p.s.now
	if lr.bc != nil {
		lr.bc.onPacket(qp)
		return
	}
	before := lr.ls.State()
	r, err := lr.ls.Step(&qp)
	if err != nil {
		if errors.Is(err, zab.ErrLearnerFatal) {
			p.halt(err.Error())
			return
		}
		p.s.tracef("%d: sync fails: %v", p.id, err)
		p.becomeLooking("sync failed")
		return
	}
	if !lr.carryOut(r, snap, before) || !lr.alive() {
		return
	}
	if lr.ls.State() == zab.LearnerSynced {
		sy := lr.ls.Synced()
		p.s.tracef("%d: up to date in epoch %d (%v): %s", p.id, sy.NewEpoch, sy.Mode, p.store.String())
		p.el.SetPeerEpoch(sy.NewEpoch)
		lr.bc = newBcastFollower(lr, sy)
	}
}

// carryOut acts on a LearnerReady persist-first; false when the peer
// stopped.
func (lr *learnerDrv) carryOut(r zab.LearnerReady, snap []Rec, before zab.LearnerState) bool {
	p := lr.p
	st := &p.store
	if r.Truncate {
		if err := st.Truncate(r.TruncateTo); err != nil {
			if errors.Is(err, errCannotRebuild) {
				p.halt("cannot rebuild the database at the TRUNC zxid")
			} else if errors.Is(err, errDisk) {
				p.halt("truncate failed")
			} else {
				p.becomeLooking(err.Error())
			}
			return false
		}
		p.s.chk.dirty = true
		lr.db = st.History().Flat()
		lr.recent = append([]Rec(nil), st.Replayed()...)
		p.s.tracef("%d: truncated to %s: %s", p.id, zx(r.TruncateTo), st.String())
	}
	if r.ReceiveSnapshot {
		if snap == nil {
			p.becomeLooking("SNAP without a snapshot")
			return false
		}
		// node's rewindDisk: the logged txns and snapshots past the
		// leader's snapshot must not come back at a restart.
		if err := st.DropAfter(r.SnapshotZxid); err != nil {
			p.halt("dropping the log after the snapshot failed")
			return false
		}
		p.s.chk.dirty = true
		lr.db, lr.recent, lr.snapAt = snap, nil, r.SnapshotZxid
		p.s.tracef("%d: received the snapshot at %s: %s", p.id, zx(r.SnapshotZxid), st.String())
	}
	for _, e := range r.Apply {
		rec := NewRec(e)
		lr.db = append(lr.db, rec)
		lr.recent = append(lr.recent, rec)
	}
	if r.WriteSnapshot {
		if err := st.TakeSnapshot(lr.db); err != nil {
			p.halt("snapshot write failed")
			return false
		}
		for _, rec := range lr.db {
			p.s.chk.seen(p, rec)
		}
		if lr.snapAt != 0 && !p.s.sab.keepLogAtSnap {
			// The leader's snapshot is durable: the learner's own txns
			// up to its zxid are in it or were never committed (another
			// branch of the history); none may be read for a sync again
			// (see keep-log-at-snap in sabotage_on.go).
			st.DropThrough(lr.snapAt)
		}
		p.s.chk.dirty = true
		p.setDB(lr.db, lr.recent)
		p.s.tracef("%d: snapshot written: %s", p.id, st.String())
	}
	newLeaderAck := before != zab.LearnerAfterNewLeader && lr.ls.State() == zab.LearnerAfterNewLeader
	var recs []Rec
	for _, e := range r.Append {
		recs = append(recs, NewRec(e))
	}
	if len(recs) > 0 {
		if err := st.Append(recs...); err != nil {
			p.s.chk.fail("order", "peer %d: %v", p.id, err)
			return false
		}
		for _, rec := range recs {
			p.s.chk.seen(p, rec)
		}
		if err := st.Sync(); err != nil && !p.s.sab.ignoreFsyncErr {
			p.halt("fsync failed")
			return false
		}
		p.s.chk.dirty = true
		p.s.tracef("%d: logged %d txns, synced: %s", p.id, len(recs), st.String())
	}
	if r.HardState != nil && !p.writeEpochs(*r.HardState) {
		return false
	}
	if newLeaderAck {
		p.s.hook(p, HookNewLeaderPersisted)
		if !lr.alive() {
			return false
		}
	}
	kind := readyLearner
	if newLeaderAck {
		kind = readyNewLeaderAck
	}
	persisted := r.Truncate || r.ReceiveSnapshot || r.WriteSnapshot || len(recs) > 0 || r.HardState != nil
	if (len(r.Messages) > 0 || persisted) && !p.midReady(kind, "learner sync") {
		return false
	}
	for _, m := range r.Messages {
		lr.send(m)
	}
	if newLeaderAck {
		p.s.hook(p, HookNewLeaderAcked)
	}
	if before == zab.LearnerSyncMode && lr.alive() {
		p.s.hook(p, HookSyncStarted)
	}
	return lr.alive()
}
