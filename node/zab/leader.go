package zab

import (
	"fmt"
	"math"

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

// LeaderReady is what a Leader asks its driver to do, in this order:
// persist HardState (if set) and only then, if that worked, act on the
// rest. If persisting fails the driver steps down instead.
type LeaderReady struct {
	HardState *HardState
	// EpochDecided: the epoch is decided (Epoch()); send LEADERINFO to
	// the learners waiting for it.
	EpochDecided bool
	// EpochAcked: a quorum acked the epoch, now current; sync the learners
	// whose ACKEPOCH came in.
	EpochAcked bool
	// Serving: a quorum acked NEWLEADER; start serving and send UPTODATE
	// to the learners that acked it.
	Serving bool
	// CheckSynced: a tick on which the serving leader must still be in
	// sync with a quorum (every other tick, Leader.lead's tickSkip): call
	// Synced with the voters whose learners are in sync at FullTick.
	CheckSynced bool
	// StepDown, when set, says why the leadership is over; the rest of
	// the Ready is empty.
	StepDown string
}

func (r *LeaderReady) empty() bool {
	return r.HardState == nil && !r.EpochDecided && !r.EpochAcked && !r.Serving && !r.CheckSynced && r.StepDown == ""
}

// LeaderConfig configures a Leader.
type LeaderConfig struct {
	// ID is the leader's server id; Verifier counts quorums.
	ID       int64
	Verifier quorum.Verifier
	// AcceptedEpoch and CurrentEpoch are the leader's own, from its
	// epoch files.
	AcceptedEpoch, CurrentEpoch int64
	// PhaseTicks bounds each phase before broadcast: 2*initLimit ticks of
	// tickTime/2.
	PhaseTicks int64
}

// Leader is a new leadership being established (Leader.lead up to
// startZkServer): the epoch agreed with a quorum of voters, made current
// once a quorum acked it, and the NEWLEADER quorum, each phase within
// PhaseTicks. The per-learner handshake (what each learner sent, when it
// is synced) is its driver's: the driver reports each learner's
// FOLLOWERINFO, ACKEPOCH and NEWLEADER ACK, ticks, and acts on Ready.
// Once it asked to step down, a Leader ignores every input.
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
	l := &Leader{
		cfg:           cfg,
		hard:          HardState{AcceptedEpoch: cfg.AcceptedEpoch, CurrentEpoch: cfg.CurrentEpoch},
		epoch:         -1,
		proposedEpoch: -1,
		connecting:    NewTracker(cfg.Verifier),
		electing:      NewTracker(cfg.Verifier),
		newLeaderAcks: NewTracker(cfg.Verifier),
	}
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

// Ticks is the number of ticks since the leadership began.
func (l *Leader) Ticks() int64 { return l.ticks }

// EpochVoters lists, for the log, the voters whose accepted epoch counted
// toward the epoch ("1,2").
func (l *Leader) EpochVoters() string { return l.connecting.String() }

// NewLeaderVoters lists, for the log, the voters that acked NEWLEADER.
func (l *Leader) NewLeaderVoters() string { return l.newLeaderAcks.String() }

// LearnerInfo takes a learner's accepted epoch (FOLLOWERINFO or
// OBSERVERINFO, already checked by the driver); voter says whether it
// counts toward the epoch's quorum (a participant that sent FOLLOWERINFO).
func (l *Leader) LearnerInfo(sid, acceptedEpoch int64, voter bool) {
	if l.down {
		return
	}
	l.epochFrom(sid, acceptedEpoch, voter)
	l.maybeDecideEpoch()
}

// AckEpoch takes a learner's ACKEPOCH; counts says whether it counts
// toward the quorum (a voter whose ACKEPOCH carried its current epoch and
// a zxid, i.e. one that had not acked this epoch before).
func (l *Leader) AckEpoch(sid int64, counts bool) {
	if l.down {
		return
	}
	if counts && l.epoch >= 0 {
		l.electing.Ack(sid)
	}
	l.maybeEpochAcked()
}

// NewLeaderAck takes a learner's ACK of NEWLEADER; counts as for
// AckEpoch (a voter's ACK with the NEWLEADER zxid).
func (l *Leader) NewLeaderAck(sid int64, counts bool) {
	if l.down {
		return
	}
	if counts && l.EpochAcked() {
		l.newLeaderAcks.Ack(sid)
	}
	l.maybeStartServing()
}

// FullTick is Java's self.tick: it counts every other tick once the
// leader serves. The driver keeps each learner's ACK deadline in it.
func (l *Leader) FullTick() int64 { return l.fullTick }

// Tick advances time by one tick (tickTime/2). Before serving, a phase
// that took more than PhaseTicks ends the leadership; once serving, every
// other tick advances FullTick and asks for the synced check
// (CheckSynced).
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
		l.ready.CheckSynced = true
	}
	l.tickSkip = !l.tickSkip
}

// Synced takes the voters whose learners are in sync (acked in time, at
// FullTick): with the leader they must be a quorum, or the leadership
// ends (Leader.lead: "Not sufficient followers synced").
func (l *Leader) Synced(sids []int64) {
	if l.down {
		return
	}
	t := NewTracker(l.cfg.Verifier)
	t.Ack(l.cfg.ID)
	for _, sid := range sids {
		t.Ack(sid)
	}
	if !t.HasQuorum() {
		l.stepDown("Not sufficient followers synced, only synced with sids: [ " + t.String() + " ]")
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
// voters are in; it is to be persisted as the accepted epoch before
// LEADERINFO goes out.
func (l *Leader) maybeDecideEpoch() {
	if l.epoch >= 0 || !l.connecting.Acked(l.cfg.ID) || !l.connecting.HasQuorum() {
		return
	}
	if l.proposedEpoch > MaxEpoch {
		// The driver refuses learners whose accepted epoch would get here.
		l.stepDown(fmt.Sprintf("epoch %d does not fit a zxid", l.proposedEpoch))
		return
	}
	l.epoch = l.proposedEpoch
	l.hard.AcceptedEpoch = l.epoch
	h := l.hard
	l.ready.HardState = &h
	l.ready.EpochDecided = true
	l.electing.Ack(l.cfg.ID) // waitForEpochAck for the leader itself
	l.setPhase(PhaseEpochAck)
	l.maybeEpochAcked()
}

// maybeEpochAcked makes the epoch current once a quorum acked it; it is to
// be persisted as the current epoch before any learner is synced.
func (l *Leader) maybeEpochAcked() {
	if l.phase != PhaseEpochAck || !l.electing.HasQuorum() {
		return
	}
	l.hard.CurrentEpoch = l.epoch
	h := l.hard
	l.ready.HardState = &h
	l.ready.EpochAcked = true
	l.newLeaderAcks.Ack(l.cfg.ID) // waitForNewLeaderAck for the leader itself
	l.setPhase(PhaseNewLeaderAck)
	l.maybeStartServing()
}

// maybeStartServing ends the establishment once a quorum acked NEWLEADER
// (Leader.startZkServer).
func (l *Leader) maybeStartServing() {
	if l.phase != PhaseNewLeaderAck || !l.newLeaderAcks.HasQuorum() {
		return
	}
	l.phase = PhaseBroadcast
	l.ready.Serving = true
}
