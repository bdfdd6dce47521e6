package sim

import (
	"fmt"

	"github.com/zkgo/zkgo/node/fle"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

type role uint8

const (
	roleDown role = iota
	roleLooking
	roleLeading
	roleFollowing
)

func (r role) String() string {
	return [...]string{"down", "looking", "leading", "following"}[r]
}

// Peer is one simulated server: its disk (Store), its database (a
// node/tree built from the log), the committed log, its election
// (node/fle) and, by role, a leader or learner driver around node/zab.
// The Peer is the driver: it carries out each Ready in the contract's
// order (persist, then send, then apply), and a crash can fall between the
// persist and the send.
type Peer struct {
	s           *Sim
	id          int64
	observer    bool
	gen         int // incarnation: bumped at each crash
	up          bool
	pausedUntil int64
	nextTick    int64

	store     Store
	db        *tree.Tree
	applied   []Rec                   // the txns db holds, oldest first (what a snapshot of it holds)
	sessions  map[wire.SessionID]bool // the sessions db's txns created and did not close
	committed zab.CommittedLog
	el        *fle.Election
	role      role
	ld        *leaderDrv
	lr        *learnerDrv

	// armed: crash at the next Ready between its persist and its send,
	// and restart after armRestart ms.
	armed      bool
	armAt      readyKind // readyAny, or the only kind of Ready it fires at
	armSkip    int       // Readies of that kind to let pass first
	armRestart int64
}

func newPeer(s *Sim, id int64) *Peer { return &Peer{s: s, id: id} }

// readyKind says which Ready a driver is carrying out, for crashes armed
// at one kind.
type readyKind uint8

const (
	readyAny          readyKind = iota
	readyNewLeaderAck           // a learner's ACK of NEWLEADER (its sync's txns and current epoch)
	readyLeader                 // a leader's epochs
	readyLearner                // any other step of a learner's sync
	readyFollowerAck            // a follower's ACK of logged proposals
	readyLeaderCommit           // a leader's COMMIT of what its fsync and the ACKs committed
)

func (k readyKind) String() string {
	return [...]string{"any", "newleader-ack", "leader-epochs", "learner-sync", "follower-ack", "leader-commit"}[k]
}

// start boots the peer from its disk and starts an election.
func (p *Peer) start() {
	p.up = true
	// Java's notification backoff (node's defaults): see livenessWindow.
	cfg := fle.Config{ID: p.id, Voters: p.s.voters, Verifier: p.s.verifier, CanLead: true,
		MinNotificationInterval: fle.DefaultMinNotificationInterval, MaxNotificationInterval: fle.DefaultMaxNotificationInterval}
	if p.s.cfg.Trace && p.s.cfg.TraceElection {
		cfg.Trace = p.traceFLE
	}
	el, err := fle.New(cfg)
	if err != nil {
		panic(err)
	}
	p.el = el
	p.s.tracef("%d: start, %s", p.id, p.store.String())
	p.becomeLooking("start")
	p.s.net.reconnected(p.id)
}

func (p *Peer) restart() {
	p.start()
}

// loadDB rebuilds the database from the disk (the newest snapshot, then
// the log after it), as a restart or a role change does (Java reloads the
// database from disk); the committed log holds what was replayed from the
// log (node's loadDatabase: db.recent).
func (p *Peer) loadDB() {
	p.setDB(p.store.History().Flat(), p.store.Replayed())
}

// setDB makes hist the database; the committed log starts with recent.
func (p *Peer) setDB(hist, recent []Rec) {
	p.db = tree.New(tree.Options{})
	p.sessions = map[wire.SessionID]bool{}
	for _, r := range hist {
		p.db.Apply(r.E)
		p.noteSession(r)
	}
	p.applied = hist[:len(hist):len(hist)]
	entries := make([]*wire.TxnEntry, 0, len(recent))
	for _, r := range recent {
		entries = append(entries, r.E)
	}
	p.committed = zab.NewCommittedLog(p.s.commitLogCount())
	p.committed.Reset(entries)
}

// noteSession keeps the session table (ZKDatabase's sessions) up to date
// with an applied txn.
func (p *Peer) noteSession(r Rec) {
	switch r.E.Hdr.Type {
	case wire.OpCreateSession:
		p.sessions[r.E.Hdr.ClientID] = true
	case wire.OpCloseSession:
		delete(p.sessions, r.E.Hdr.ClientID)
	}
}

// apply applies a committed txn to the database.
func (p *Peer) apply(r Rec) tree.Result {
	res := p.db.Apply(r.E)
	p.noteSession(r)
	p.applied = append(p.applied, r)
	p.committed.Add(r.E, nil)
	return res
}

// becomeLooking ends the current role and starts an election round.
func (p *Peer) becomeLooking(why string) {
	if p.role == roleLeading || p.role == roleFollowing {
		p.s.tracef("%d: %s ends: %s", p.id, p.role, why)
	}
	old := p.role
	p.role = roleLooking
	p.ld, p.lr = nil, nil
	p.s.clients.peerLost(p)
	p.s.net.closeAll(p.id, "role ends")
	if old != roleDown && old != roleLooking {
		// The txn log writer finishes what it was given (Java's
		// SyncRequestProcessor flushes at shutdown).
		if p.store.Unsynced() > 0 {
			if err := p.store.Sync(); err != nil {
				p.halt("fsync at role change failed")
				return
			}
		}
	}
	p.loadDB()
	p.el.Start(p.store.LastZxid(), p.store.CurrentEpoch)
	p.collectFLE()
}

func (p *Peer) collectFLE() {
	r := p.el.Ready()
	for _, m := range r.Messages {
		if p.s.cfg.Trace && p.s.cfg.TraceElection {
			p.s.tracef("%d: fle send to %d: %v %s round %d", p.id, m.To, m.State, fleVote(m.Leader, m.Zxid, m.PeerEpoch), m.ElectionEpoch)
		}
		p.s.net.sendFLE(p.id, m)
	}
	if r.ReconnectAll && p.s.cfg.Trace && p.s.cfg.TraceElection {
		p.s.tracef("%d: fle reconnect to all", p.id)
	}
	if d := r.Decision; d != nil && p.role == roleLooking {
		p.s.tracef("%d: decided %v, leader %d", p.id, d.State, d.Vote.Leader)
		switch d.State {
		case wire.ServerLeading:
			p.becomeLeader()
		case wire.ServerFollowing, wire.ServerObserving:
			p.becomeFollower(d.Vote.Leader)
		}
	}
}

func (p *Peer) onFLE(from int64, m fle.Message) {
	p.el.Step(fle.Notification{From: from, State: m.State, Leader: m.Leader, Zxid: m.Zxid,
		ElectionEpoch: m.ElectionEpoch, PeerEpoch: m.PeerEpoch, Version: wire.NotificationVersion})
	p.collectFLE()
}

func (p *Peer) tick() {
	p.el.Tick(tickMs*1e6, true)
	p.collectFLE()
	switch {
	case p.ld != nil:
		p.ld.tick()
	case p.lr != nil:
		p.lr.tick()
	}
}

func (p *Peer) onQuorum(c *conn, from int64, qp wire.QuorumPacket, snap []Rec) {
	switch {
	case p.ld != nil && c.leader == p.id:
		p.ld.onPacket(c, qp)
	case p.lr != nil && p.lr.c == c:
		p.lr.onPacket(qp, snap)
	}
}

func (p *Peer) connClosed(c *conn) {
	switch {
	case p.ld != nil && c.leader == p.id:
		p.ld.connClosed(c)
	case p.lr != nil && p.lr.c == c:
		p.becomeLooking("connection to the leader closed")
	}
}

// appendAsync logs records for the txn log writer: durable after a later
// fsync (group commit).
func (p *Peer) appendAsync(rs ...Rec) bool { return p.appendAfter(1+int64(p.s.rng.IntN(8)), rs...) }

// appendAfter is appendAsync with an fsync that completes in d ms.
func (p *Peer) appendAfter(d int64, rs ...Rec) bool {
	if err := p.store.Append(rs...); err != nil {
		p.s.chk.fail("order", "peer %d: %v", p.id, err)
		return false
	}
	for _, r := range rs {
		p.s.chk.seen(p, r)
	}
	p.s.push(&event{at: p.s.now + d, kind: evFsync, peer: p.id, gen: p.gen})
	return true
}

// fsyncDone: the txn log writer's fsync completed (it makes everything
// appended so far durable); the roles acknowledge what it covers.
func (p *Peer) fsyncDone() {
	if p.store.Unsynced() == 0 {
		return
	}
	if err := p.store.Sync(); err != nil && !p.s.sab.ignoreFsyncErr {
		p.halt("fsync failed")
		return
	}
	switch {
	case p.ld != nil && p.ld.bc != nil:
		p.ld.bc.synced()
	case p.lr != nil && p.lr.bc != nil:
		p.lr.bc.synced()
	}
}

// acked is how far the peer may acknowledge its log: its durable part
// (all of it under the ignore-fsync-error sabotage).
func (p *Peer) acked() wire.Zxid {
	if p.s.sab.ignoreFsyncErr {
		return p.store.LastZxid()
	}
	return p.store.LastDurable()
}

// midReady is the point between a Ready's persist and its send: an armed
// crash fires here. It reports whether the peer is still up.
func (p *Peer) midReady(kind readyKind, what string) bool {
	if p.armed && p.up && (p.armAt == readyAny || p.armAt == kind) {
		if p.armSkip > 0 {
			p.armSkip--
			return p.up
		}
		p.armed = false
		p.s.tracef("%d: crash between persist and send (%s)", p.id, what)
		p.crash(p.s.rng.IntN(3), p.armRestart)
	}
	return p.up
}

// crash stops the peer: the disk keeps what was durable and keep of the
// records after it (a torn record is dropped at recovery), every conn
// breaks, and the peer restarts after restartAfter ms.
func (p *Peer) crash(keep int, restartAfter int64) {
	if !p.up {
		return
	}
	p.s.tracef("%d: crash (keeps %d of %d unsynced)", p.id, min(keep, p.store.Unsynced()), p.store.Unsynced())
	p.up = false
	p.gen++
	p.s.clients.peerLost(p)
	p.role = roleDown
	p.ld, p.lr = nil, nil
	p.armed = false
	p.pausedUntil = 0
	p.s.chk.disturb(p.s.now + restartAfter)
	p.s.net.crashed(p.id)
	p.store.Crash(keep)
	p.s.chk.dirty = true
	p.s.push(&event{at: p.s.now + restartAfter, kind: evRestart, peer: p.id, gen: p.gen})
	p.s.push(&event{at: p.s.now + restartAfter + 1, kind: evTick, peer: p.id, gen: p.gen})
	p.s.hook(p, HookCrashed)
}

// halt is a fatal error (Java exits): a failed fsync or epoch write, an
// unexpected sync mode. The peer stops without acknowledging anything
// more and restarts later.
func (p *Peer) halt(why string) {
	p.s.tracef("%d: halts: %s", p.id, why)
	p.crash(0, 300+int64(p.s.rng.IntN(700)))
}

// writeEpochs persists the epochs, halting on a disk failure.
func (p *Peer) writeEpochs(hs zab.HardState) bool {
	if err := p.store.WriteEpochs(hs.AcceptedEpoch, hs.CurrentEpoch); err != nil {
		p.halt("epoch write failed")
		return false
	}
	p.s.tracef("%d: persist epochs %d/%d", p.id, hs.AcceptedEpoch, hs.CurrentEpoch)
	return true
}

// snapshot writes a snapshot of the database, as node does at random
// points of a peer's life (after snapCount txns, after a load): while it
// looks for a leader, leads or follows in broadcast, not during a sync
// (the learner's database is being rebuilt then). A failed write leaves
// no snapshot (node logs it and goes on).
func (p *Peer) snapshot() {
	if !p.up || p.pausedUntil > p.s.now {
		return
	}
	switch {
	case p.role == roleLooking:
	case p.ld != nil && p.ld.bc != nil:
	case p.lr != nil && p.lr.bc != nil:
	default:
		return
	}
	if len(p.applied) == 0 || p.applied[len(p.applied)-1].Zxid() <= p.store.snap().Zxid {
		return
	}
	if err := p.store.TakeSnapshot(p.applied); err == nil {
		p.s.chk.dirty = true
		p.s.tracef("%d: snapshot at %s", p.id, zx(p.applied[len(p.applied)-1].Zxid()))
	}
}

// traceFLE is the election's Config.Trace when the run is traced: a line
// per step of node/fle (notifications received and dropped, rounds,
// proposals, quorums, timeouts, decisions).
func (p *Peer) traceFLE(ev fle.Event) {
	n := ev.N
	switch ev.Kind {
	case fle.EventReceived, fle.EventPutBack:
		p.s.tracef("%d: fle %v from %d: %v %s round %d (my round %d)", p.id, ev.Kind, n.From, n.State,
			fleVote(n.Leader, n.Zxid, n.PeerEpoch), n.ElectionEpoch, ev.Round)
	case fle.EventDropped:
		p.s.tracef("%d: fle dropped from %d: %v %s round %d (my round %d): %s", p.id, n.From, n.State,
			fleVote(n.Leader, n.Zxid, n.PeerEpoch), n.ElectionEpoch, ev.Round, ev.Reason)
	case fle.EventNewerRound:
		p.s.tracef("%d: fle newer round %d from %d", p.id, ev.Round, n.From)
	case fle.EventNewRound, fle.EventProposal, fle.EventQuorum:
		v := "none"
		if ev.HasVote {
			v = fleVote(ev.Vote.Leader, ev.Vote.Zxid, ev.Vote.PeerEpoch)
		}
		p.s.tracef("%d: fle %v round %d: %s", p.id, ev.Kind, ev.Round, v)
	case fle.EventTimeout:
		p.s.tracef("%d: fle timeout round %d, next %d ms, delivered %v", p.id, ev.Round, ev.Timeout.Milliseconds(), ev.Delivered)
	case fle.EventDecided:
		p.s.tracef("%d: fle decided round %d: %v %s (%v)", p.id, ev.Round, ev.State,
			fleVote(ev.Vote.Leader, ev.Vote.Zxid, ev.Vote.PeerEpoch), ev.Path)
	}
}

// fleVote formats a vote as (leader, zxid, peer epoch).
func fleVote(leader int64, z wire.Zxid, peerEpoch int64) string {
	return fmt.Sprintf("(%d, %s, %d)", leader, zx(z), peerEpoch)
}
