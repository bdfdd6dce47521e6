package zab

import (
	"fmt"
	"math"
	"slices"

	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/wire"
)

// MaxEpoch is the largest epoch a zxid can carry: Java's zxids are signed
// longs and ZxidUtils.getEpochFromZxid an arithmetic shift, so an epoch of
// 0x80000000 or more reads back as negative.
const MaxEpoch = math.MaxInt32

// Phase is where a leader is in establishing its leadership.
type Phase uint8

// Phases of a leader (Leader.lead).
const (
	// PhaseEpoch: waiting for a quorum of voters' accepted epochs
	// (getEpochToPropose).
	PhaseEpoch Phase = iota
	// PhaseEpochAck: the epoch is decided; waiting for a quorum of
	// ACKEPOCHs (waitForEpochAck).
	PhaseEpochAck
	// PhaseNewLeaderAck: the epoch is current; learners are synced and
	// the leader waits for a quorum of NEWLEADER ACKs
	// (waitForNewLeaderAck).
	PhaseNewLeaderAck
	// PhaseBroadcast: established; serving.
	PhaseBroadcast
)

func (p Phase) String() string {
	switch p {
	case PhaseEpoch:
		return "epoch from a quorum"
	case PhaseEpochAck:
		return "epoch ACKs from a quorum"
	case PhaseNewLeaderAck:
		return "NEWLEADER ACKs from a quorum"
	case PhaseBroadcast:
		return "broadcast"
	}
	return fmt.Sprintf("Phase(%d)", uint8(p))
}

// HardState is what a peer must have on disk before it acts on a Ready:
// its accepted and current epochs (the acceptedEpoch and currentEpoch
// files).
type HardState struct {
	AcceptedEpoch int64
	CurrentEpoch  int64
}

// LinkID names one learner connection of a leadership. The driver picks
// it (increasing, never reused within a leadership); the Leader keeps its
// learners in LinkID order, which is the order it sends in.
type LinkID uint64

// LeaderMsg is a packet for one learner connection.
type LeaderMsg struct {
	To     LinkID
	Packet wire.QuorumPacket
}

// LeaderDrop is a learner connection the Leader let go: the driver closes
// it. State is where the learner was, for the log.
type LeaderDrop struct {
	Link   LinkID
	SID    int64
	State  HandlerState
	Reason string
}

// LearnerPacket is a packet of a learner in sync that is the server
// layer's, not Zab's: PING (its touch table), REVALIDATE, REQUEST, or any
// other type (the driver logs it).
type LearnerPacket struct {
	Link   LinkID
	SID    int64
	Packet wire.QuorumPacket
}

// LeaderReady is what a Leader asks its driver to do, in this order:
//
//  1. persist HardState (if set); if that fails, step down and ignore the
//     rest;
//  2. close the connections of Drops;
//  3. start streaming a snapshot to each of Snaps (the driver walks its
//     tree and calls SnapReady once the stream's head is known); the
//     stream goes out before any of that learner's Messages;
//  4. send Messages, in order;
//  5. apply Commits, in order (the driver's proposals, oldest first);
//  6. hand Packets to the server layer;
//  7. plan the syncs of Syncs (PlanSync) and start them (StartSync).
//
// StepDown ends the leadership (the rest is empty); Rollover asks the
// driver to step down once the proposals it is handing to its log are
// handed (the zxid counter is spent).
type LeaderReady struct {
	HardState *HardState
	// EpochDecided: the epoch is decided (Epoch()); the LEADERINFOs to the
	// learners waiting for it are among Messages.
	EpochDecided bool
	// EpochAcked: a quorum acked the epoch, now current.
	EpochAcked bool
	// Serving: a quorum acked NEWLEADER; start serving (the UPTODATEs to
	// the learners that acked it are among Messages).
	Serving  bool
	Drops    []LeaderDrop
	Snaps    []LinkID
	Messages []LeaderMsg
	Commits  []wire.Zxid
	Packets  []LearnerPacket
	Syncs    []LinkID
	// NextConfig: a reconfiguration was proposed (ProposeReconfig); the
	// driver writes it as the .next dynamic file before it sends the
	// proposal (QuorumPeer.setLastSeenQuorumVerifier), i.e. before
	// Messages.
	NextConfig *quorum.Config
	// Activations are configurations that became the committed one, in
	// order (QuorumPeer.processReconfig): the driver writes each (the
	// dynamic file, the static rewrite) and switches to it before it
	// sends Messages. Only with LeaderConfig.Config.
	Activations []Activation
	// SyncDone: learners that acked NEWLEADER: from now on a read from
	// them may take syncLimit (Java's setSoTimeout after the sync).
	SyncDone []LinkID
	// Warnings are for the driver's log.
	Warnings []string
	StepDown string
	Rollover bool
}

// Activation is a configuration that became the committed one: by a
// reconfig txn's commit (Zxid is the txn's), or, with ReconfigEnabled,
// by the NEWLEADER quorum (Zxid is NEWLEADER's; Leader.startZkServer).
// Designated is the server that leads under it (Java's
// getDesignatedLeader): the leader itself if it votes in it with the same
// quorum address, else one of the new voters that acked the change and
// the most proposals after it. When it is not this leader, the leader
// commits nothing more (Java's allowedToCommit) and its learners leave it
// for the designated one; the driver ends the leadership once it lost its
// synced quorum and follows the designated leader.
type Activation struct {
	Zxid       wire.Zxid
	Config     *quorum.Config
	Designated int64
}

func (r *LeaderReady) empty() bool {
	return r.NextConfig == nil && len(r.Activations) == 0 && r.HardState == nil && !r.EpochDecided && !r.EpochAcked && !r.Serving && len(r.Drops) == 0 &&
		len(r.Snaps) == 0 && len(r.Messages) == 0 && len(r.Commits) == 0 && len(r.Packets) == 0 &&
		len(r.Syncs) == 0 && len(r.SyncDone) == 0 && len(r.Warnings) == 0 && r.StepDown == "" && !r.Rollover
}

// LeaderConfig configures a Leader.
type LeaderConfig struct {
	// ID is the leader's server id; Verifier counts quorums.
	ID       int64
	Verifier quorum.Verifier
	// AcceptedEpoch and CurrentEpoch are the leader's own, from its
	// epoch files; LastZxid is its last logged zxid. CurrentEpoch and
	// LastZxid are the state a learner may not be ahead of
	// (leaderStateSummary).
	AcceptedEpoch, CurrentEpoch int64
	LastZxid                    wire.Zxid
	// PhaseTicks bounds each phase before broadcast: 2*initLimit ticks of
	// tickTime/2.
	PhaseTicks int64
	// InitLimit and SyncLimit are the configuration's, in Java's ticks
	// (tickTime each, FullTick): a learner counts as synced until
	// InitLimit+SyncLimit full ticks after it connected, then SyncLimit
	// after each packet once it is in broadcast; a proposal not ACKed
	// within 2*SyncLimit ticks closes the learner's connection.
	InitLimit, SyncLimit int64
	// ConfigVersion is the leader's configuration version (a learner with
	// a newer one is refused); Member says whether a server id is in the
	// configuration and whether it votes.
	ConfigVersion int64
	Member        func(sid int64) (voter, ok bool)
	// NewLeaderData is NEWLEADER's data (the configuration's text).
	NewLeaderData []byte
	// Config, when set, is the committed configuration
	// (QuorumPeer.getQuorumVerifier) and the Leader does Java's
	// reconfiguration bookkeeping with it: it replaces Verifier,
	// ConfigVersion, Member and NewLeaderData; LastSeen (nil: Config) is
	// the last configuration proposed or received
	// (getLastSeenQuorumVerifier). With ReconfigEnabled, a configuration
	// of version 0 becomes, as the last seen one, version NEWLEADER's
	// zxid once the epoch is decided (ZOOKEEPER-1783; without it Java's
	// setLastSeenQuorumVerifier does nothing); NEWLEADER carries the last
	// seen text;
	// while it is newer than Config, every quorum (NEWLEADER's, each
	// proposal's, the synced learners') is one of both; a learner not in
	// the configuration may connect, as a non-voting follower (Java lets
	// it: that is how a server to be added syncs). Without Config, the
	// Leader counts with Verifier alone and ProposeReconfig fails.
	Config, LastSeen *quorum.Config
	// ReconfigEnabled is reconfigEnabled: once a quorum acked NEWLEADER,
	// the last seen configuration is activated (Ready.Activations).
	ReconfigEnabled bool
	// MaxSnapSyncs and MaxDiffSyncs bound the concurrent syncs of
	// observers (maxConcurrentSnapSyncs, maxConcurrentDiffSyncs).
	MaxSnapSyncs, MaxDiffSyncs int
	// MaxHeld bounds the proposals held for one syncing follower
	// (ZOOKEEPER-4394); past it the follower is dropped. 0: no bound.
	MaxHeld int
	// CommitGate, when set, is asked before commits (a test hook of the
	// driver): false holds them until RetryCommits.
	CommitGate func() bool
}

// Leader is a leadership (Leader.lead and its LearnerHandlers): the epoch
// agreed with a quorum of voters, made current once a quorum acked it,
// each learner's handshake and sync, the NEWLEADER quorum, each phase
// within PhaseTicks, then broadcast: proposals, ACKs, commits in zxid
// order, pings, the transaction timeout per learner and the synced-quorum
// check. The driver reports each learner connection (Connect, Receive,
// Drop), the leader's own proposals (Propose) and log (Durable), and
// ticks, and carries out each Ready (see LeaderReady). Once it asked to
// step down, a Leader ignores every input.
type Leader struct {
	cfg           LeaderConfig
	hard          HardState
	epoch         int64 // -1 until decided
	proposedEpoch int64
	connecting    Tracker
	electing      Tracker
	newLeaderAcks Tracker
	phase         Phase
	ticks         int64
	deadline      int64
	fullTick      int64 // Java's self.tick: every other tick once serving
	tickSkip      bool
	ready         LeaderReady
	down          bool // stepped down: every input is ignored

	learners map[LinkID]*handler
	list     []*handler // learners in LinkID order
	scratch  []*handler // learnerList's
	// outstanding counts the ACKs of the proposals not committed yet; props
	// are their PROPOSAL data, in the same order.
	outstanding *Outstanding
	props       []proposal
	// pendingSyncs: learners' SYNCs answered once the proposal outstanding
	// when they came commits (Leader.processSync).
	pendingSyncs         map[wire.Zxid][]LinkID
	snapSyncs, diffSyncs SyncThrottle
	commitsGated         bool
	// cur and lastSeen are the committed and last seen configurations
	// (with LeaderConfig.Config); noCommit: a reconfiguration designated
	// another leader (Java's allowedToCommit false).
	cur, lastSeen *quorum.Config
	noCommit      bool
}

// proposal is an outstanding proposal's zxid and PROPOSAL data; next is
// the configuration a reconfig proposes.
type proposal struct {
	zxid wire.Zxid
	data []byte
	next *quorum.Config
}

// NewLeader starts a leadership: the leader's own accepted epoch counts
// toward the epoch to propose (getEpochToPropose for itself). It fails
// when that epoch leaves no epoch to propose (Java would go on with
// negative zxids).
func NewLeader(cfg LeaderConfig) (*Leader, error) {
	if cfg.AcceptedEpoch >= MaxEpoch {
		return nil, fmt.Errorf("zab: accepted epoch %d leaves no epoch to propose (the largest zxid epoch is %d)",
			cfg.AcceptedEpoch, MaxEpoch)
	}
	if cfg.PhaseTicks <= 0 {
		return nil, fmt.Errorf("zab: PhaseTicks %d is not positive", cfg.PhaseTicks)
	}
	if cfg.Config != nil {
		if cfg.LastSeen == nil || cfg.LastSeen.Version < cfg.Config.Version {
			cfg.LastSeen = cfg.Config
		}
		cur := cfg.Config
		cfg.Verifier = cur.Verifier
		cfg.ConfigVersion = cur.Version
		cfg.Member = func(sid int64) (bool, bool) {
			s, ok := cur.Servers[sid]
			return ok && !s.Observer, true
		}
	}
	if cfg.Member == nil {
		return nil, fmt.Errorf("zab: LeaderConfig.Member is not set")
	}
	l := &Leader{
		cfg:           cfg,
		hard:          HardState{AcceptedEpoch: cfg.AcceptedEpoch, CurrentEpoch: cfg.CurrentEpoch},
		epoch:         -1,
		proposedEpoch: -1,
		connecting:    NewTracker(cfg.Verifier),
		electing:      NewTracker(cfg.Verifier),
		newLeaderAcks: NewTracker(cfg.Verifier),
		learners:      map[LinkID]*handler{},
		outstanding:   NewOutstanding(cfg.Verifier, 0),
		pendingSyncs:  map[wire.Zxid][]LinkID{},
		snapSyncs:     SyncThrottle{Max: cfg.MaxSnapSyncs},
		diffSyncs:     SyncThrottle{Max: cfg.MaxDiffSyncs},
	}
	l.cur, l.lastSeen = cfg.Config, cfg.LastSeen
	l.newLeaderAcks = NewTracker(cfg.Verifier, l.pendingVerifier()...)
	l.setPhase(PhaseEpoch)
	l.epochFrom(cfg.ID, cfg.AcceptedEpoch, true)
	l.maybeDecideEpoch()
	return l, nil
}

// Epoch is the new epoch, or -1 until a quorum agreed on it.
func (l *Leader) Epoch() int64 { return l.epoch }

// NewLeaderZxid is NEWLEADER's zxid: the new epoch, counter 0.
func (l *Leader) NewLeaderZxid() wire.Zxid { return wire.MakeZxid(uint32(l.epoch), 0) }

// Phase is where the leadership is.
func (l *Leader) Phase() Phase { return l.phase }

// EpochAcked reports whether a quorum acked the epoch (it is current).
func (l *Leader) EpochAcked() bool { return l.phase >= PhaseNewLeaderAck }

// Serving reports whether a quorum acked NEWLEADER.
func (l *Leader) Serving() bool { return l.phase == PhaseBroadcast }

// Down reports whether the leadership is over (it asked to step down).
func (l *Leader) Down() bool { return l.down }

// Ticks is the number of ticks since the leadership began.
func (l *Leader) Ticks() int64 { return l.ticks }

// FullTick is Java's self.tick: it counts every other tick once the
// leader serves; the learners' ACK deadlines are in it.
func (l *Leader) FullTick() int64 { return l.fullTick }

// EpochVoters lists, for the log, the voters whose accepted epoch counted
// toward the epoch ("1,2").
func (l *Leader) EpochVoters() string { return l.connecting.String() }

// NewLeaderVoters lists, for the log, the voters that acked NEWLEADER.
func (l *Leader) NewLeaderVoters() string { return l.newLeaderAcks.String() }

// LastProposed is the newest proposal's zxid (PING's zxid).
func (l *Leader) LastProposed() wire.Zxid { return l.outstanding.LastProposed() }

// Outstanding is the number of proposals not committed yet.
func (l *Leader) Outstanding() int { return l.outstanding.Len() }

// PendingSyncs is the number of proposals learners' SYNCs wait for.
func (l *Leader) PendingSyncs() int { return len(l.pendingSyncs) }

// SyncsInProgress is the number of SNAP (snap) or DIFF/TRUNC syncs
// counted by the sync throttle, and its limit.
func (l *Leader) SyncsInProgress(snap bool) (n, limit int) {
	if snap {
		return l.snapSyncs.InProgress(), l.snapSyncs.Max
	}
	return l.diffSyncs.InProgress(), l.diffSyncs.Max
}

// Tick advances time by one tick (tickTime/2). Before serving, a phase
// that took more than PhaseTicks ends the leadership. Once serving, every
// other tick advances FullTick and checks that the leader is still in
// sync with a quorum (Leader.lead: each learner whose ACK deadline has
// not passed counts, whatever its state, as LearnerHandler.synced; "Not
// sufficient followers synced" otherwise); and every tick each learner
// whose NEWLEADER was sent is pinged, or dropped when a proposal waited
// more than 2*SyncLimit ticks for its ACK (LearnerHandler.ping).
func (l *Leader) Tick() {
	if l.down {
		return
	}
	l.ticks++
	if l.phase != PhaseBroadcast {
		if l.ticks > l.deadline {
			l.stepDown("Timeout while waiting for " + l.phase.String())
		}
		return
	}
	if !l.tickSkip {
		l.fullTick++
		t := NewTracker(l.cfg.Verifier, l.pendingVerifier()...)
		t.Ack(l.cfg.ID)
		for _, h := range l.list {
			if l.fullTick <= h.ackDeadline {
				t.Ack(h.sid)
			}
		}
		if !t.HasQuorum() {
			l.stepDown("Not sufficient followers synced, only synced with sids: [ " + t.String() + " ]")
			return
		}
	}
	l.tickSkip = !l.tickSkip
	limit := 2 * l.cfg.SyncLimit
	for _, h := range l.learnerList() {
		if !h.syncStarted {
			continue
		}
		if h.txnTimeout.Expired(l.ticks, limit) {
			l.drop(h, "Closing connection to peer due to transaction timeout.")
			continue
		}
		l.send(h, wire.QuorumPacket{Type: wire.PacketPing, Zxid: l.outstanding.LastProposed()})
	}
}

// HasReady reports whether there is something for the driver to do.
func (l *Leader) HasReady() bool { return !l.ready.empty() }

// Ready returns what the driver must do now and clears it (the driver
// acts on it before it calls the Leader again).
func (l *Leader) Ready() LeaderReady {
	r := l.ready
	l.ready = LeaderReady{}
	return r
}

func (l *Leader) setPhase(p Phase) {
	l.phase = p
	l.deadline = l.ticks + l.cfg.PhaseTicks
}

func (l *Leader) stepDown(reason string) {
	l.ready = LeaderReady{StepDown: reason}
	l.down = true
}

func (l *Leader) send(h *handler, qps ...wire.QuorumPacket) {
	for _, qp := range qps {
		l.ready.Messages = append(l.ready.Messages, LeaderMsg{To: h.link, Packet: qp})
	}
}

func (l *Leader) warn(s string) { l.ready.Warnings = append(l.ready.Warnings, s) }

// epochFrom is getEpochToPropose's bookkeeping for one server.
func (l *Leader) epochFrom(sid, acceptedEpoch int64, voter bool) {
	if l.epoch >= 0 {
		return
	}
	if acceptedEpoch >= l.proposedEpoch {
		l.proposedEpoch = acceptedEpoch + 1
	}
	if voter {
		l.connecting.Ack(sid)
	}
}

// maybeDecideEpoch fixes the new epoch once the leader and a quorum of
// voters are in; it is persisted as the accepted epoch before LEADERINFO
// goes out to the learners waiting for it.
func (l *Leader) maybeDecideEpoch() {
	if l.epoch >= 0 || !l.connecting.Acked(l.cfg.ID) || !l.connecting.HasQuorum() {
		return
	}
	if l.proposedEpoch > MaxEpoch {
		// CheckLearnerInfo refuses learners whose accepted epoch would
		// get here.
		l.stepDown(fmt.Sprintf("epoch %d does not fit a zxid", l.proposedEpoch))
		return
	}
	l.epoch = l.proposedEpoch
	if l.cfg.ReconfigEnabled && l.cur != nil && l.cur.Version == 0 && l.lastSeen.Version == 0 {
		// ZOOKEEPER-1783: an initial configuration takes the version of
		// the NEWLEADER that establishes it, through the last seen one.
		bumped := *l.cur
		bumped.Version = int64(l.NewLeaderZxid())
		l.lastSeen = &bumped
		l.newLeaderAcks = NewTracker(l.cfg.Verifier, l.pendingVerifier()...)
	}
	l.hard.AcceptedEpoch = l.epoch
	h := l.hard
	l.ready.HardState = &h
	l.ready.EpochDecided = true
	for _, h := range l.list {
		if h.state == HandlerEpoch {
			l.sendLeaderInfo(h)
		}
	}
	l.electing.Ack(l.cfg.ID) // waitForEpochAck for the leader itself
	l.setPhase(PhaseEpochAck)
	l.maybeEpochAcked()
}

// maybeEpochAcked makes the epoch current once a quorum acked it; it is
// persisted as the current epoch before any learner's sync goes out.
func (l *Leader) maybeEpochAcked() {
	if l.phase != PhaseEpochAck || !l.electing.HasQuorum() {
		return
	}
	l.hard.CurrentEpoch = l.epoch
	h := l.hard
	l.ready.HardState = &h
	l.ready.EpochAcked = true
	for _, h := range l.list {
		if h.state == HandlerWaitSync {
			l.ready.Syncs = append(l.ready.Syncs, h.link)
		}
	}
	l.newLeaderAcks.Ack(l.cfg.ID) // waitForNewLeaderAck for the leader itself
	l.setPhase(PhaseNewLeaderAck)
	l.maybeStartServing()
}

// maybeStartServing ends the establishment once a quorum acked NEWLEADER
// (Leader.startZkServer): UPTODATE to the learners that acked it.
func (l *Leader) maybeStartServing() {
	if l.phase != PhaseNewLeaderAck || !l.newLeaderAcks.HasQuorum() {
		return
	}
	l.phase = PhaseBroadcast
	l.outstanding = NewOutstanding(l.cfg.Verifier, l.NewLeaderZxid())
	l.outstanding.SetVerifiers(l.cfg.Verifier, l.pendingVerifier()...)
	l.props = nil
	l.ready.Serving = true
	if l.cfg.ReconfigEnabled && l.cur != nil {
		// Leader.startZkServer: the configuration NEWLEADER carried is
		// activated (ZOOKEEPER-1324).
		d := l.designatedLeader(l.lastSeen, l.newLeaderAcks, l.NewLeaderZxid())
		l.activate(l.lastSeen, l.NewLeaderZxid(), d)
	}
	for _, h := range l.list {
		if h.state == HandlerUpToDate {
			l.sendUpToDate(h)
		}
	}
}

// pendingVerifier is the last seen configuration's verifier while it is
// newer than the committed one: every quorum counts with it too.
func (l *Leader) pendingVerifier() []quorum.Verifier {
	if l.cur == nil || l.lastSeen.Version <= l.cur.Version {
		return nil
	}
	return []quorum.Verifier{l.lastSeen.Verifier}
}

// Config returns the committed and the last seen configurations (nil
// without LeaderConfig.Config).
func (l *Leader) Config() (current, lastSeen *quorum.Config) { return l.cur, l.lastSeen }

// ReconfigPending reports whether a proposed configuration is not
// committed yet (PrepRequestProcessor's ReconfigInProgress).
func (l *Leader) ReconfigPending() bool { return l.cur != nil && l.lastSeen.Version > l.cur.Version }

// CommitsStopped reports whether a reconfiguration designated another
// leader: this one commits nothing more.
func (l *Leader) CommitsStopped() bool { return l.noCommit }

// designatedLeader is Java's getDesignatedLeader for a change to next
// whose ACKs are acks (the last verifier's ack set) at zxid z: the leader
// itself if it votes in next with the same quorum address; else, among
// next's voters that acked, the one that acked the most of the
// outstanding proposals after z, in order (ties: the lowest id, as
// Java's HashSet of small ids iterates).
func (l *Leader) designatedLeader(next *quorum.Config, acks Tracker, z wire.Zxid) int64 {
	me := l.cfg.ID
	if s, ok := next.Servers[me]; ok && !s.Observer {
		if old, ok := l.cur.Servers[me]; ok && old.Host == s.Host && old.QuorumPort == s.QuorumPort {
			return me
		}
	}
	var cands []int64
	for _, id := range acks.AckedBy(acks.Verifiers() - 1) {
		if id != me {
			cands = append(cands, id)
		}
	}
	if len(cands) == 0 {
		return me // cannot happen: a quorum of next acked without the leader
	}
	cur := cands[0]
	for _, t := range l.outstanding.After(z) {
		for i := 0; i < t.Verifiers(); i++ {
			set := t.AckedBy(i)
			kept := cands[:0]
			for _, c := range cands {
				if slices.Contains(set, c) {
					kept = append(kept, c)
				}
			}
			cands = kept
			if len(cands) == 0 {
				return cur
			}
			cur = cands[0]
			if len(cands) == 1 {
				return cur
			}
		}
	}
	return cur
}

// activate makes next the committed configuration (QuorumPeer.
// processReconfig on the leader): from now on quorums count with it
// alone, learners are checked against it, NEWLEADER carries it. When it
// designates another leader, nothing more commits.
func (l *Leader) activate(next *quorum.Config, z wire.Zxid, designated int64) {
	if next.Version > l.cur.Version {
		l.ready.Activations = append(l.ready.Activations, Activation{Zxid: z, Config: next, Designated: designated})
	}
	l.cur, l.lastSeen = next, next
	l.cfg.Verifier = next.Verifier
	l.cfg.ConfigVersion = next.Version
	l.cfg.Member = func(sid int64) (bool, bool) {
		s, ok := next.Servers[sid]
		return ok && !s.Observer, true
	}
	if l.outstanding != nil {
		l.outstanding.SetVerifiers(next.Verifier)
	}
	if designated != l.cfg.ID {
		l.noCommit = true
		l.warn(fmt.Sprintf("this leader is not the designated leader (%d) of configuration version %s; it commits nothing more",
			designated, quorum.HexVersion(next.Version)))
	}
}

// SyncedFollowers returns the followers in sync with the leader
// (Leader.isQuorumSynced: forwarding followers, from the start of their
// sync, whose ACK deadline has not passed), for a reconfig's
// NewConfigNoQuorum check; the leader is not among them.
func (l *Leader) SyncedFollowers() map[int64]bool {
	out := map[int64]bool{}
	for _, h := range l.list {
		if h.forwarding && !h.observer && l.fullTick <= h.ackDeadline {
			out[h.sid] = true
		}
	}
	return out
}
