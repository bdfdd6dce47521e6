package fle

import (
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/wire"
)

// Java's FastLeaderElection timing defaults.
const (
	DefaultFinalizeWait            = 200 * time.Millisecond // finalizeWait
	DefaultMinNotificationInterval = 200 * time.Millisecond // zookeeper.fastleader.minNotificationInterval
	DefaultMaxNotificationInterval = 60 * time.Second       // zookeeper.fastleader.maxNotificationInterval
)

// MaxQueue bounds the receive queue (Java's is unbounded); beyond it the
// oldest notification is dropped.
const MaxQueue = 4096

// Config errors.
var (
	ErrNoVoters  = errors.New("fle: no voters")
	ErrIntervals = errors.New("fle: bad notification intervals")
	ErrVerifier  = errors.New("fle: the verifier's voters are not Voters")
)

// Config configures an Election.
type Config struct {
	ID      int64   // my server id
	Voters  []int64 // participant ids (QuorumVerifier voting members), me included if I vote
	CanLead bool    // false: never propose or elect myself (see package doc)
	// NonVoting: I am not a voter but a participant (a server outside the
	// configuration, Java's non-voting participant, whose learner type
	// stays PARTICIPANT): an election I decide makes me FOLLOWING, where
	// an observer is OBSERVING (learningState).
	NonVoting bool
	// Verifier decides what a quorum of votes is and weighs candidates
	// (a weight-0 server is never elected). nil means a majority of
	// Voters (QuorumMaj).
	Verifier quorum.Verifier

	MinNotificationInterval time.Duration // default 200ms
	MaxNotificationInterval time.Duration // default 60s
	FinalizeWait            time.Duration // default 200ms

	// Trace, if set, is called for every step worth logging (see Event).
	Trace func(Event)
}

func (c Config) withDefaults() Config {
	if c.MinNotificationInterval <= 0 {
		c.MinNotificationInterval = DefaultMinNotificationInterval
	}
	if c.MaxNotificationInterval <= 0 {
		c.MaxNotificationInterval = DefaultMaxNotificationInterval
	}
	if c.FinalizeWait <= 0 {
		c.FinalizeWait = DefaultFinalizeWait
	}
	return c
}

func (c Config) validate() error {
	if len(c.Voters) == 0 {
		return ErrNoVoters
	}
	if c.MaxNotificationInterval < c.MinNotificationInterval {
		return ErrIntervals
	}
	if c.Verifier != nil {
		want := slices.Compact(slices.Sorted(slices.Values(c.Voters)))
		if !slices.Equal(c.Verifier.Voters(), want) {
			return ErrVerifier
		}
	}
	return nil
}

// Path says how a round was decided.
type Path uint8

// Decision paths.
const (
	PathQuorum        Path = iota // a quorum of LOOKING votes for my proposal, then finalizeWait passed
	PathInElection                // FOLLOWING/LEADING votes of my round formed a quorum (recvset)
	PathOutOfElection             // an established leader's votes formed a quorum (outofelection)
)

func (p Path) String() string {
	switch p {
	case PathQuorum:
		return "quorum"
	case PathInElection:
		return "in-election"
	case PathOutOfElection:
		return "out-of-election"
	}
	return "Path(?)"
}

// Decision is the outcome of a round: my new state and current vote
// (lookForLeader's return value).
type Decision struct {
	State wire.ServerState
	Vote  Vote // Leader, Zxid, ElectionEpoch, PeerEpoch of the elected leader
	Path  Path
}

// WouldWin reports that a CanLead=false voter would be the best candidate
// among the votes seen in round Round, so it stays LOOKING with no vote.
// It is reported once per round, when the condition has held for
// FinalizeWait or at a notification timeout, whichever comes first.
type WouldWin struct {
	Round int64
	Mine  Vote // my history: (myid, lastLoggedZxid, currentEpoch)
	Best  Vote // the best competing vote seen in the round
	Seen  int  // number of competing votes seen in the round
}

// Ready is what the driver must act on.
type Ready struct {
	Messages     []Message
	ReconnectAll bool          // a poll timed out with every send queue busy: QuorumCnxManager.connectAll
	TimedOut     time.Duration // a poll timed out (the next, doubled timeout); 0 if none
	Decision     *Decision
	WouldWin     *WouldWin
}

// Stats are counters since New.
type Stats struct {
	Received       uint64 // notifications stepped in (loopback excluded)
	Sent           uint64 // messages produced (loopback excluded)
	Replies        uint64 // of Sent: immediate answers by the receive side
	Dropped        uint64 // notifications dropped or ignored, all reasons
	QueueOverflows uint64 // of Dropped: oldest queued notification dropped at MaxQueue
	Rounds         uint64 // Start calls
	Timeouts       uint64 // polls that timed out
	WouldWin       uint64 // rounds reported as WouldWin
}

// Election is one peer's election state (Java's FastLeaderElection plus the
// QuorumPeer fields it reads: state and current vote). Not safe for
// concurrent use.
type Election struct {
	cfg    Config
	voters map[int64]bool
	qv     quorum.Verifier

	state   wire.ServerState
	current Vote  // QuorumPeer.currentVote
	clock   int64 // logicalclock

	// proposal (proposedLeader/Zxid/Epoch); hasProp is false only for an
	// empty CanLead=false proposal.
	propLeader int64
	propZxid   wire.Zxid
	propEpoch  int64
	hasProp    bool

	queue []Notification // recvqueue

	// lastLooking is the last LOOKING vote seen from each voter, any round
	// (CanLead=false only: a covering one seeds the next round's proposal).
	lastLooking map[int64]Vote

	round round
	ready Ready
	stats Stats
}

// round is the state local to one lookForLeader call.
type round struct {
	active        bool
	lastZxid      wire.Zxid // getInitLastLoggedZxid
	epoch         int64     // getPeerEpoch
	recvset       map[int64]Vote
	outofelection map[int64]Vote
	notTimeout    time.Duration
	waited        time.Duration // time since the current poll started
	finalizing    bool
	reported      int64          // clock value last reported as WouldWin (0: none)
	seen          map[int64]Vote // LOOKING votes seen this round, any election epoch (WouldWin)
	wwArmed       bool           // the WouldWin condition holds and is not reported yet
	wwWaited      time.Duration  // how long it has held
	// answered: the voters whose worse vote of this round I answered with
	// my proposal (at most once each per round; processLooking).
	answered map[int64]bool
}

// New returns an Election in state LOOKING with logical clock 0 and current
// vote (myid, -1, -1): before the first Start nothing is known about my
// history, and Java ignores LOOKING votes with zxid -1.
func New(cfg Config) (*Election, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Election{
		cfg:         cfg,
		voters:      make(map[int64]bool, len(cfg.Voters)),
		lastLooking: make(map[int64]Vote),
		state:       wire.ServerLooking,
		// FastLeaderElection.starter: proposedLeader = proposedZxid = -1.
		propLeader: -1,
		propZxid:   -1,
		hasProp:    true,
	}
	for _, v := range cfg.Voters {
		e.voters[v] = true
	}
	e.cfg.Voters = slices.Sorted(maps.Keys(e.voters))
	e.qv = cfg.Verifier
	if e.qv == nil {
		e.qv = quorum.NewMajority(e.cfg.Voters)
	}
	e.current = Vote{Leader: cfg.ID, Zxid: -1, ElectionEpoch: -1, PeerEpoch: -1}
	if e.noSelf() {
		e.hasProp = false
	}
	return e, nil
}

// noSelf reports whether the CanLead=false rules apply (I vote but may not lead).
func (e *Election) noSelf() bool { return !e.cfg.CanLead && e.voters[e.cfg.ID] }

func (e *Election) isVoter(sid int64) bool { return e.voters[sid] }

// State is my server state.
func (e *Election) State() wire.ServerState { return e.state }

// CurrentVote is QuorumPeer.getCurrentVote: the last decision, or the
// initial vote.
func (e *Election) CurrentVote() Vote { return e.current }

// LogicalClock is the election round.
func (e *Election) LogicalClock() int64 { return e.clock }

// Proposal is my current proposal; ok is false when a CanLead=false voter
// has none.
func (e *Election) Proposal() (v Vote, ok bool) {
	return Vote{Leader: e.propLeader, Zxid: e.propZxid, ElectionEpoch: e.clock, PeerEpoch: e.propEpoch}, e.hasProp
}

// Running reports whether a round (Start without a decision or Abort) is in
// progress.
func (e *Election) Running() bool { return e.round.active }

// Stats returns the counters.
func (e *Election) Stats() Stats { return e.stats }

// Queued is the number of notifications waiting in the receive queue.
func (e *Election) Queued() int { return len(e.queue) }

// initVote is getInitId/getInitLastLoggedZxid/getPeerEpoch.
func (e *Election) initVote(lastZxid wire.Zxid, epoch int64) (int64, wire.Zxid, int64) {
	if !e.isVoter(e.cfg.ID) {
		return NoID, NoID, NoID
	}
	return e.cfg.ID, lastZxid, epoch
}

// SetLooking puts me in state LOOKING with current vote (myid,
// lastLoggedZxid, currentEpoch), as QuorumPeer.startLeaderElection does.
// Notifications are queued from now on.
func (e *Election) SetLooking(lastLoggedZxid wire.Zxid, currentEpoch int64) {
	e.state = wire.ServerLooking
	e.current = Vote{Leader: e.cfg.ID, Zxid: lastLoggedZxid, ElectionEpoch: -1, PeerEpoch: currentEpoch}
}

// SetVote is QuorumPeer.updateVote followed by updateServerState with
// reconfigFlag: a reconfiguration designated leader, and this server
// takes state (LEADING, FOLLOWING or OBSERVING) without an election. The
// vote is Java's Vote(leader, zxid): election and peer epochs -1 until a
// sync sets the peer epoch (SetPeerEpoch). A round running is abandoned.
func (e *Election) SetVote(state wire.ServerState, leader int64, zxid wire.Zxid) {
	e.round = round{}
	e.state = state
	e.current = Vote{Leader: leader, Zxid: zxid, ElectionEpoch: -1, PeerEpoch: -1}
}

// SetVoters switches to a new configuration's voters and verifier, as
// QuorumPeer.restartLeaderElection starts a new FastLeaderElection with
// it: the state and current vote are kept (they are the peer's), a round
// running is abandoned and the logical clock starts again at 0, as the new
// FastLeaderElection's does (its next round is round 1; peers adopt a
// higher round either way). Notifications from servers that are not voters
// of it are answered with the current vote (validVoter), and a server
// that is not one of them votes for no one (getInitId's Long.MIN_VALUE).
func (e *Election) SetVoters(voters []int64, v quorum.Verifier, nonVoting bool) error {
	c := e.cfg
	c.Voters, c.Verifier, c.NonVoting = voters, v, nonVoting
	if err := c.validate(); err != nil {
		return err
	}
	e.voters = make(map[int64]bool, len(voters))
	for _, id := range voters {
		e.voters[id] = true
	}
	e.cfg.Voters = slices.Sorted(maps.Keys(e.voters))
	e.cfg.Verifier, e.cfg.NonVoting = v, nonVoting
	e.qv = v
	if e.qv == nil {
		e.qv = quorum.NewMajority(e.cfg.Voters)
	}
	e.round = round{}
	e.clock = 0
	return nil
}

// SetPeerEpoch is QuorumPeer.updateElectionVote: after syncing with the
// leader, the current vote reports the new epoch.
func (e *Election) SetPeerEpoch(epoch int64) { e.current.PeerEpoch = epoch }

// Start begins a round (lookForLeader) with my history. If I was not
// LOOKING it puts me in LOOKING keeping my current vote, as
// QuorumPeer.updateServerState does when a role ends (call SetLooking first
// to reset the vote). A round already running is abandoned. Notifications
// queued while LOOKING are processed now.
func (e *Election) Start(lastLoggedZxid wire.Zxid, currentEpoch int64) {
	e.state = wire.ServerLooking
	e.stats.Rounds++
	e.round = round{
		active:        true,
		lastZxid:      lastLoggedZxid,
		epoch:         currentEpoch,
		recvset:       make(map[int64]Vote),
		outofelection: make(map[int64]Vote),
		seen:          make(map[int64]Vote),
		notTimeout:    e.cfg.MinNotificationInterval,
	}
	e.clock++
	if e.noSelf() {
		// Start from the best remembered vote that covers my history, if
		// any: my round is likely ahead of idle peers, and only a real vote
		// moves them to it (Java ignores probes).
		e.hasProp = false
		for _, sid := range e.cfg.Voters {
			v, ok := e.lastLooking[sid]
			if !ok || !e.covers(v.Leader, v.Zxid, v.PeerEpoch) {
				continue
			}
			if !e.hasProp || e.totalOrder(v.Leader, v.Zxid, v.PeerEpoch, e.propLeader, e.propZxid, e.propEpoch) {
				e.propLeader, e.propZxid, e.propEpoch, e.hasProp = v.Leader, v.Zxid, v.PeerEpoch, true
			}
		}
	} else {
		e.propLeader, e.propZxid, e.propEpoch = e.initVote(lastLoggedZxid, currentEpoch)
		e.hasProp = true
	}
	if e.cfg.Trace != nil {
		v, _ := e.Proposal()
		e.cfg.Trace(Event{Kind: EventNewRound, Round: e.clock, Vote: v, HasVote: e.hasProp})
	}
	e.sendNotifications()
	e.run()
}

// Abort abandons the running round (the caller stopped waiting); I stay
// LOOKING and keep queueing.
func (e *Election) Abort() { e.round = round{} }

// NextTimeout is how long until a Tick would time out the current poll (or
// end the finalize wait); ok is false when no round is waiting.
func (e *Election) NextTimeout() (d time.Duration, ok bool) {
	if !e.round.active {
		return 0, false
	}
	limit := e.round.notTimeout
	if e.round.finalizing {
		limit = e.cfg.FinalizeWait
	}
	d = max(limit-e.round.waited, 0)
	if e.round.wwArmed {
		d = min(d, max(e.cfg.FinalizeWait-e.round.wwWaited, 0))
	}
	return d, true
}

// HasReady reports whether Ready has anything.
func (e *Election) HasReady() bool {
	r := &e.ready
	return len(r.Messages) > 0 || r.ReconnectAll || r.TimedOut > 0 || r.Decision != nil || r.WouldWin != nil
}

// Ready returns and clears the pending outputs.
func (e *Election) Ready() Ready {
	r := e.ready
	e.ready = Ready{}
	return r
}

// WouldWinNow reports the live CanLead=false "would win" condition of the
// running round (see WouldWin), whether or not it was reported yet: no
// proposal, and LOOKING votes were seen (none of which covers me).
func (e *Election) WouldWinNow() (WouldWin, bool) {
	if !e.round.active || !e.noSelf() || e.hasProp {
		return WouldWin{}, false
	}
	w := WouldWin{Round: e.clock, Mine: Vote{Leader: e.cfg.ID, Zxid: e.round.lastZxid, ElectionEpoch: e.clock, PeerEpoch: e.round.epoch}}
	for _, sid := range e.cfg.Voters {
		v, ok := e.round.seen[sid]
		if !ok {
			continue
		}
		if w.Seen == 0 || e.totalOrder(v.Leader, v.Zxid, v.PeerEpoch, w.Best.Leader, w.Best.Zxid, w.Best.PeerEpoch) {
			w.Best = v
		}
		w.Seen++
	}
	return w, w.Seen > 0
}

// Tick advances time by elapsed. delivered is QuorumCnxManager.haveDelivered
// (some peer's send queue is empty): when a poll times out it chooses
// between re-sending the proposal and asking the driver to reconnect. At
// most one timeout fires per Tick, as a poll returns once.
func (e *Election) Tick(elapsed time.Duration, delivered bool) {
	r := &e.round
	if !r.active {
		return
	}
	r.waited += elapsed
	if r.wwArmed {
		r.wwWaited += elapsed
		if r.wwWaited >= e.cfg.FinalizeWait {
			e.maybeReportWouldWin()
		}
	}
	if r.finalizing {
		if r.waited >= e.cfg.FinalizeWait {
			e.decide(e.propLeader, Vote{Leader: e.propLeader, Zxid: e.propZxid, ElectionEpoch: e.clock, PeerEpoch: e.propEpoch}, PathQuorum)
		}
		return
	}
	if r.waited < r.notTimeout {
		return
	}
	r.waited = 0
	e.stats.Timeouts++
	if delivered {
		e.sendNotifications()
	} else {
		e.ready.ReconnectAll = true
	}
	r.notTimeout = min(r.notTimeout*2, e.cfg.MaxNotificationInterval)
	e.ready.TimedOut = r.notTimeout
	if e.cfg.Trace != nil {
		e.cfg.Trace(Event{Kind: EventTimeout, Round: e.clock, Timeout: r.notTimeout, Delivered: delivered})
	}
	e.maybeReportWouldWin()
}

// armWouldWin starts (or stops) the wait after which a held WouldWin
// condition is reported: as long as Java's finalize wait, so a better vote
// arriving right behind a worse one does not raise a false alarm.
func (e *Election) armWouldWin() {
	_, ok := e.WouldWinNow()
	ok = ok && e.round.reported != e.clock
	if ok && !e.round.wwArmed {
		e.round.wwArmed, e.round.wwWaited = true, 0
	} else if !ok {
		e.round.wwArmed = false
	}
}

func (e *Election) maybeReportWouldWin() {
	w, ok := e.WouldWinNow()
	if !ok || e.round.reported == e.clock {
		return
	}
	e.round.reported = e.clock
	e.round.wwArmed = false
	e.stats.WouldWin++
	e.ready.WouldWin = &w
}

func (e *Election) send(m Message) {
	e.stats.Sent++
	e.ready.Messages = append(e.ready.Messages, m)
}

// sendNotifications sends my proposal to every voter, myself included
// through the receive queue. A CanLead=false voter without a proposal sends
// probes instead.
func (e *Election) sendNotifications() {
	if !e.hasProp {
		e.sendProbes()
		return
	}
	for _, sid := range e.cfg.Voters {
		m := Message{To: sid, State: wire.ServerLooking, Leader: e.propLeader, Zxid: e.propZxid,
			ElectionEpoch: e.clock, PeerEpoch: e.propEpoch}
		if sid == e.cfg.ID {
			e.loopback(m)
			continue
		}
		e.send(m)
	}
}

// sendProbes sends every other voter a LOOKING notification that no Java
// election loop counts (zxid -1) but that established peers answer.
func (e *Election) sendProbes() {
	var target int64
	found := false
	for _, sid := range e.cfg.Voters {
		if sid != e.cfg.ID {
			target, found = sid, true
			break
		}
	}
	if !found {
		return
	}
	for _, sid := range e.cfg.Voters {
		if sid == e.cfg.ID {
			continue
		}
		e.send(Message{To: sid, State: wire.ServerLooking, Leader: target, Zxid: -1, ElectionEpoch: e.clock,
			PeerEpoch: -1, Probe: true})
	}
}

// loopback delivers my own notification through the receive path, as
// QuorumCnxManager.toSend does for mySid.
func (e *Election) loopback(m Message) {
	e.receive(Notification{From: e.cfg.ID, State: m.State, Leader: m.Leader, Zxid: m.Zxid,
		ElectionEpoch: m.ElectionEpoch, PeerEpoch: m.PeerEpoch, Version: wire.NotificationVersion})
}

// Step handles a notification from n.From (WorkerReceiver, then the
// election loop if a round runs).
func (e *Election) Step(n Notification) {
	e.stats.Received++
	e.receive(n)
	e.run()
}

func (e *Election) drop(n Notification, why string) {
	e.stats.Dropped++
	if e.cfg.Trace != nil {
		e.cfg.Trace(Event{Kind: EventDropped, Round: e.clock, N: n, Reason: why})
	}
}

// receive is WorkerReceiver.run for one message.
func (e *Election) receive(n Notification) {
	if !e.isVoter(n.From) {
		// The sender cannot vote (an observer): answer with my current vote.
		cv := e.current
		if e.noSelf() && cv.Leader == e.cfg.ID {
			e.drop(n, "non-voter sender; no vote to answer with")
			return
		}
		e.stats.Replies++
		e.send(Message{To: n.From, State: e.state, Leader: cv.Leader, Zxid: cv.Zxid, ElectionEpoch: e.clock,
			PeerEpoch: cv.PeerEpoch})
		return
	}
	if !n.State.Valid() {
		e.drop(n, "invalid state")
		return
	}
	if e.cfg.Trace != nil {
		e.cfg.Trace(Event{Kind: EventReceived, Round: e.clock, N: n})
	}
	if e.state == wire.ServerLooking {
		if len(e.queue) >= MaxQueue {
			e.stats.QueueOverflows++
			e.drop(e.queue[0], "receive queue full")
			e.queue = e.queue[1:]
		}
		e.queue = append(e.queue, n)
		if n.State == wire.ServerLooking && n.ElectionEpoch < e.clock && n.From != e.cfg.ID {
			// The sender is in an older round: tell it my proposal.
			if !e.hasProp {
				return
			}
			e.stats.Replies++
			e.send(Message{To: n.From, State: e.state, Leader: e.propLeader, Zxid: e.propZxid,
				ElectionEpoch: e.clock, PeerEpoch: e.propEpoch})
		}
		return
	}
	if n.State == wire.ServerLooking && n.From != e.cfg.ID {
		// I am out of election: tell the LOOKING peer whom I follow.
		cv := e.current
		if e.noSelf() && cv.Leader == e.cfg.ID {
			e.drop(n, "looking sender; no vote to answer with")
			return
		}
		e.stats.Replies++
		e.send(Message{To: n.From, State: e.state, Leader: cv.Leader, Zxid: cv.Zxid,
			ElectionEpoch: cv.ElectionEpoch, PeerEpoch: cv.PeerEpoch})
		return
	}
	if n.From != e.cfg.ID {
		e.drop(n, "not looking")
	}
}

// run is the lookForLeader loop over the queued notifications.
func (e *Election) run() {
	for e.round.active && len(e.queue) > 0 {
		n := e.queue[0]
		e.queue = e.queue[1:]
		e.round.waited = 0 // a poll returned
		if e.round.finalizing {
			if e.totalOrder(n.Leader, n.Zxid, n.PeerEpoch, e.propLeader, e.propZxid, e.propEpoch) {
				// A better vote arrived during the finalize wait: put it
				// back and go on electing.
				if e.cfg.Trace != nil {
					e.cfg.Trace(Event{Kind: EventPutBack, Round: e.clock, N: n})
				}
				e.round.finalizing = false
				e.queue = append(e.queue, n)
				continue
			}
			e.drop(n, "finalize wait")
			continue
		}
		e.process(n)
	}
	if e.round.active && e.noSelf() {
		e.armWouldWin()
	}
	if len(e.queue) == 0 {
		e.queue = nil // let the backing array go
	}
}

func (e *Election) process(n Notification) {
	if !e.isVoter(n.From) || !e.isVoter(n.Leader) {
		e.drop(n, "sender or leader not a voter")
		return
	}
	switch n.State {
	case wire.ServerLooking:
		e.processLooking(n)
	case wire.ServerObserving:
		e.drop(n, "from an observer")
	case wire.ServerFollowing, wire.ServerLeading:
		e.processOutOfElection(n)
	}
}

// covers reports whether a CanLead=false voter may vote for v: v is not me
// and its history is at least mine.
func (e *Election) covers(leader int64, zxid wire.Zxid, peerEpoch int64) bool {
	if leader == e.cfg.ID {
		return false
	}
	return peerEpoch > e.round.epoch || (peerEpoch == e.round.epoch && zxid >= e.round.lastZxid)
}

func (e *Election) updateProposal(leader int64, zxid wire.Zxid, epoch int64) {
	e.propLeader, e.propZxid, e.propEpoch, e.hasProp = leader, zxid, epoch, true
	if e.cfg.Trace != nil {
		v, _ := e.Proposal()
		e.cfg.Trace(Event{Kind: EventProposal, Round: e.clock, Vote: v, HasVote: true})
	}
}

func (e *Election) processLooking(n Notification) {
	r := &e.round
	initID, initZxid, initEpoch := e.initVote(r.lastZxid, r.epoch)
	if initZxid == -1 {
		e.drop(n, "my zxid is -1")
		return
	}
	if n.Zxid == -1 {
		e.drop(n, "sender zxid is -1")
		return
	}
	if e.noSelf() {
		v := Vote{Leader: n.Leader, Zxid: n.Zxid, ElectionEpoch: n.ElectionEpoch, PeerEpoch: n.PeerEpoch,
			State: wire.ServerLooking}
		r.seen[n.From] = v
		e.lastLooking[n.From] = v
	}
	switch {
	case n.ElectionEpoch > e.clock:
		if e.cfg.Trace != nil {
			e.cfg.Trace(Event{Kind: EventNewerRound, Round: n.ElectionEpoch, N: n})
		}
		e.clock = n.ElectionEpoch
		clear(r.recvset)
		clear(r.answered)
		if e.noSelf() {
			if e.covers(n.Leader, n.Zxid, n.PeerEpoch) {
				e.updateProposal(n.Leader, n.Zxid, n.PeerEpoch)
				e.sendNotifications()
			} else {
				e.hasProp = false
			}
		} else {
			if e.totalOrder(n.Leader, n.Zxid, n.PeerEpoch, initID, initZxid, initEpoch) {
				e.updateProposal(n.Leader, n.Zxid, n.PeerEpoch)
			} else {
				e.updateProposal(initID, initZxid, initEpoch)
			}
			e.sendNotifications()
		}
	case n.ElectionEpoch < e.clock:
		if e.noSelf() && !e.hasProp && e.covers(n.Leader, n.Zxid, n.PeerEpoch) {
			// Java would drop it and answer with its proposal; I have none,
			// so I adopt this vote (it covers me) into my round, which
			// also moves the sender to my round.
			e.updateProposal(n.Leader, n.Zxid, n.PeerEpoch)
			e.sendNotifications()
			return
		}
		e.drop(n, "older round")
		return
	case e.noSelf():
		if e.covers(n.Leader, n.Zxid, n.PeerEpoch) &&
			(!e.hasProp || e.totalOrder(n.Leader, n.Zxid, n.PeerEpoch, e.propLeader, e.propZxid, e.propEpoch)) {
			e.updateProposal(n.Leader, n.Zxid, n.PeerEpoch)
			e.sendNotifications()
		}
	default:
		if e.totalOrder(n.Leader, n.Zxid, n.PeerEpoch, e.propLeader, e.propZxid, e.propEpoch) {
			e.updateProposal(n.Leader, n.Zxid, n.PeerEpoch)
			e.sendNotifications()
		} else if e.hasProp && n.From != e.cfg.ID && !r.answered[n.From] &&
			(n.Leader != e.propLeader || n.Zxid != e.propZxid || n.PeerEpoch != e.propEpoch) {
			// A voter of my round proposes worse than I do: it has not
			// seen my proposal (it missed it while it was out of the
			// election, or the connection was re-made). Java answers only
			// an older round and otherwise re-sends when its poll times
			// out, which every other notification postpones: the
			// election could wait seconds with no fault in effect
			// (simulator seed 3020818). I answer it once per round
			// (DIFFERENCES row 64).
			if r.answered == nil {
				r.answered = make(map[int64]bool)
			}
			r.answered[n.From] = true
			e.stats.Replies++
			e.send(Message{To: n.From, State: wire.ServerLooking, Leader: e.propLeader, Zxid: e.propZxid,
				ElectionEpoch: e.clock, PeerEpoch: e.propEpoch})
		}
	}
	r.recvset[n.From] = Vote{Leader: n.Leader, Zxid: n.Zxid, ElectionEpoch: n.ElectionEpoch, PeerEpoch: n.PeerEpoch,
		State: wire.ServerLooking}
	if !e.hasProp {
		return
	}
	target := Vote{Leader: e.propLeader, Zxid: e.propZxid, ElectionEpoch: e.clock, PeerEpoch: e.propEpoch,
		State: wire.ServerLooking}
	if e.hasQuorum(r.recvset, target) {
		if e.cfg.Trace != nil {
			e.cfg.Trace(Event{Kind: EventQuorum, Round: e.clock, Vote: target, HasVote: true})
		}
		r.finalizing = true
		r.waited = 0
	}
}

// processOutOfElection is receivedFollowingNotification (and, for any
// verifier but QuorumOracleMaj, receivedLeadingNotification, which adds
// only the oracle).
func (e *Election) processOutOfElection(n Notification) {
	r := &e.round
	if e.noSelf() && n.Leader == e.cfg.ID {
		e.drop(n, "names me leader but I cannot lead")
		return
	}
	target := Vote{Leader: n.Leader, Zxid: n.Zxid, ElectionEpoch: n.ElectionEpoch, PeerEpoch: n.PeerEpoch,
		State: n.State, Version: n.Version}
	end := Vote{Leader: n.Leader, Zxid: n.Zxid, ElectionEpoch: n.ElectionEpoch, PeerEpoch: n.PeerEpoch}
	if n.ElectionEpoch == e.clock {
		// NB: recvset keeps version 0 here, so against target (version 2)
		// only the leader is compared, as in Java.
		r.recvset[n.From] = Vote{Leader: n.Leader, Zxid: n.Zxid, ElectionEpoch: n.ElectionEpoch,
			PeerEpoch: n.PeerEpoch, State: n.State}
		if e.hasQuorum(r.recvset, target) && e.checkLeader(r.recvset, n.Leader, n.ElectionEpoch) {
			e.decide(n.Leader, end, PathInElection)
			return
		}
	}
	r.outofelection[n.From] = target
	if e.hasQuorum(r.outofelection, target) && e.checkLeader(r.outofelection, n.Leader, n.ElectionEpoch) {
		e.clock = n.ElectionEpoch
		e.decide(n.Leader, end, PathOutOfElection)
	}
}

// hasQuorum is SyncedLearnerTracker.hasAllQuorums over the votes equal to
// target: the voters that cast them must form a quorum of the verifier.
func (e *Election) hasQuorum(votes map[int64]Vote, target Vote) bool {
	acks := make(map[int64]bool, len(votes))
	for sid, v := range votes {
		if e.isVoter(sid) && target.Equal(v) {
			acks[sid] = true
		}
	}
	return e.qv.ContainsQuorum(acks)
}

// totalOrder is FastLeaderElection.totalOrderPredicate: a candidate of
// weight 0 never wins; otherwise TotalOrder decides.
func (e *Election) totalOrder(newID int64, newZxid wire.Zxid, newEpoch int64, curID int64, curZxid wire.Zxid, curEpoch int64) bool {
	if e.qv.Weight(newID) == 0 {
		return false
	}
	return TotalOrder(newID, newZxid, newEpoch, curID, curZxid, curEpoch)
}

// checkLeader: the leader must have told us it leads, unless it is me, in
// which case the round must be mine.
func (e *Election) checkLeader(votes map[int64]Vote, leader, electionEpoch int64) bool {
	if leader != e.cfg.ID {
		v, ok := votes[leader]
		return ok && v.State == wire.ServerLeading
	}
	return e.clock == electionEpoch
}

func (e *Election) decide(leader int64, v Vote, path Path) {
	st := wire.ServerFollowing
	switch {
	case leader == e.cfg.ID:
		if e.noSelf() {
			panic("fle: CanLead=false voter decided to lead")
		}
		st = wire.ServerLeading
	case !e.isVoter(e.cfg.ID) && !e.cfg.NonVoting:
		st = wire.ServerObserving
	}
	e.state = st
	e.current = v
	e.round = round{}
	e.queue = nil // leaveInstance
	e.ready.Decision = &Decision{State: st, Vote: v, Path: path}
	if e.cfg.Trace != nil {
		e.cfg.Trace(Event{Kind: EventDecided, Round: e.clock, Vote: v, HasVote: true, State: st, Path: path})
	}
}
