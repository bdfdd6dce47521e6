package fle

import (
	"testing"
	"time"

	"github.com/zkgo/zkgo/wire"
)

const ms = time.Millisecond

func newElection(t *testing.T, id int64, voters []int64, canLead bool) *Election {
	t.Helper()
	e, err := New(Config{ID: id, Voters: voters, CanLead: canLead, MaxNotificationInterval: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func looking(from, leader int64, zxid wire.Zxid, round, peerEpoch int64) Notification {
	return Notification{From: from, State: wire.ServerLooking, Leader: leader, Zxid: zxid, ElectionEpoch: round,
		PeerEpoch: peerEpoch, Version: 2}
}

func outOf(from int64, st wire.ServerState, leader int64, zxid wire.Zxid, round, peerEpoch int64) Notification {
	return Notification{From: from, State: st, Leader: leader, Zxid: zxid, ElectionEpoch: round, PeerEpoch: peerEpoch,
		Version: 2}
}

// sentTo indexes the messages of rd by destination; it fails on duplicates.
func sentTo(t *testing.T, rd Ready) map[int64]Message {
	t.Helper()
	out := map[int64]Message{}
	for _, m := range rd.Messages {
		if _, dup := out[m.To]; dup {
			t.Fatalf("two messages to %d in one Ready: %+v", m.To, rd.Messages)
		}
		out[m.To] = m
	}
	return out
}

func wantVoteMsgs(t *testing.T, rd Ready, to []int64, leader int64, zxid wire.Zxid, round, peerEpoch int64) {
	t.Helper()
	got := sentTo(t, rd)
	if len(got) != len(to) {
		t.Fatalf("sent %+v, want messages to %v", rd.Messages, to)
	}
	for _, sid := range to {
		m, ok := got[sid]
		if !ok || m.State != wire.ServerLooking || m.Leader != leader || m.Zxid != zxid || m.ElectionEpoch != round ||
			m.PeerEpoch != peerEpoch || m.Probe {
			t.Fatalf("to %d: %+v, want LOOKING (%d, %v, round %d, epoch %d)", sid, m, leader, zxid, round, peerEpoch)
		}
	}
}

func TestStartSendsVoteToOthersAndLoopsBack(t *testing.T) {
	e := newElection(t, 1, []int64{1, 2, 3}, true)
	e.Start(0x100000005, 1)
	rd := e.Ready()
	wantVoteMsgs(t, rd, []int64{2, 3}, 1, 0x100000005, 1, 1)
	if e.LogicalClock() != 1 || !e.Running() || e.State() != wire.ServerLooking {
		t.Fatalf("clock %d running %v state %v", e.LogicalClock(), e.Running(), e.State())
	}
	// My own vote went through the queue into recvset.
	if v, ok := e.round.recvset[1]; !ok || v.Leader != 1 || v.ElectionEpoch != 1 {
		t.Fatalf("own vote not counted: %+v", e.round.recvset)
	}
	if d, ok := e.NextTimeout(); !ok || d != 200*ms {
		t.Fatalf("NextTimeout %v %v", d, ok)
	}
}

func TestThreeVotersAdoptBetterAndDecide(t *testing.T) {
	e := newElection(t, 1, []int64{1, 2, 3}, true)
	e.Start(0x100000005, 1)
	e.Ready()
	e.Step(looking(2, 2, 0x100000007, 1, 1))
	rd := e.Ready()
	wantVoteMsgs(t, rd, []int64{2, 3}, 2, 0x100000007, 1, 1)
	if e.round.finalizing != true {
		t.Fatal("my vote and 2's vote for 2 are a quorum: finalize wait expected")
	}
	e.Step(looking(3, 3, 0x100000006, 1, 1)) // worse: discarded during finalize wait
	if rd := e.Ready(); len(rd.Messages) != 0 || rd.Decision != nil {
		t.Fatalf("unexpected %+v", rd)
	}
	e.Tick(199*ms, true)
	if e.Ready().Decision != nil {
		t.Fatal("decided before finalizeWait")
	}
	e.Tick(1*ms, true)
	rd = e.Ready()
	want := Decision{State: wire.ServerFollowing, Vote: Vote{Leader: 2, Zxid: 0x100000007, ElectionEpoch: 1, PeerEpoch: 1},
		Path: PathQuorum}
	if rd.Decision == nil || *rd.Decision != want {
		t.Fatalf("decision %+v, want %+v", rd.Decision, want)
	}
	if e.State() != wire.ServerFollowing || e.CurrentVote() != want.Vote || e.Running() || e.Queued() != 0 {
		t.Fatalf("after decision: %v %+v %v %d", e.State(), e.CurrentVote(), e.Running(), e.Queued())
	}
}

func TestLeaderDecidesLeading(t *testing.T) {
	e := newElection(t, 3, []int64{1, 2, 3}, true)
	e.Start(0x100000005, 1)
	e.Ready()
	e.Step(looking(1, 3, 0x100000005, 1, 1))
	e.Tick(200*ms, true)
	rd := e.Ready()
	if rd.Decision == nil || rd.Decision.State != wire.ServerLeading || rd.Decision.Vote.Leader != 3 {
		t.Fatalf("decision %+v", rd.Decision)
	}
}

func TestFinalizeWaitPutsBackBetterVote(t *testing.T) {
	e := newElection(t, 1, []int64{1, 2, 3}, true)
	e.Start(5, 0)
	e.Step(looking(2, 2, 7, 1, 0))
	e.Ready()
	e.Tick(100*ms, true)
	// 3 has more: put back, adopted, and the round goes on.
	e.Step(looking(3, 3, 9, 1, 0))
	rd := e.Ready()
	wantVoteMsgs(t, rd, []int64{2, 3}, 3, 9, 1, 0)
	// recvset is now 1:(3), 2:(2), 3:(3): a quorum for 3, a new finalize wait.
	if !e.round.finalizing {
		t.Fatal("expected a new finalize wait")
	}
	e.Tick(199*ms, true)
	if e.Ready().Decision != nil {
		t.Fatal("decided early")
	}
	e.Tick(1*ms, true)
	if rd := e.Ready(); rd.Decision == nil || rd.Decision.Vote.Leader != 3 {
		t.Fatalf("%+v", rd.Decision)
	}
}

func TestFinalizeWaitPutBackThenQuorumAgain(t *testing.T) {
	e := newElection(t, 1, []int64{1, 2, 3, 4, 5}, true)
	e.Start(5, 0)
	e.Step(looking(2, 2, 7, 1, 0))
	e.Step(looking(3, 2, 7, 1, 0)) // 1, 2, 3 for 2: quorum of 5
	e.Ready()
	if !e.round.finalizing {
		t.Fatal("expected finalize wait")
	}
	e.Tick(150*ms, true)
	e.Step(looking(4, 4, 8, 1, 0)) // better: put back, processed, adopted
	rd := e.Ready()
	wantVoteMsgs(t, rd, []int64{2, 3, 4, 5}, 4, 8, 1, 0)
	if e.round.finalizing {
		t.Fatal("only 1 and 4 vote for 4: no quorum yet")
	}
	e.Tick(250*ms, true) // a poll timeout (200ms): re-send, not decide
	if rd := e.Ready(); rd.Decision != nil || rd.TimedOut != 400*ms {
		t.Fatalf("%+v", rd)
	}
	e.Step(looking(2, 4, 8, 1, 0))
	if !e.round.finalizing {
		t.Fatal("1, 2, 4 for 4: quorum")
	}
	e.Tick(200*ms, true)
	if rd := e.Ready(); rd.Decision == nil || rd.Decision.Vote.Leader != 4 {
		t.Fatalf("%+v", rd.Decision)
	}
}

func TestFinalizeWaitDiscardRestartsTimer(t *testing.T) {
	e := newElection(t, 1, []int64{1, 2, 3}, true)
	e.Start(5, 0)
	e.Step(looking(2, 1, 5, 1, 0))
	e.Ready()
	e.Tick(150*ms, true)
	e.Step(looking(3, 3, 1, 1, 0)) // worse: discarded, the poll restarts
	e.Tick(150*ms, true)
	if e.Ready().Decision != nil {
		t.Fatal("decided although a notification arrived 150ms ago")
	}
	e.Tick(50*ms, true)
	if rd := e.Ready(); rd.Decision == nil || rd.Decision.State != wire.ServerLeading {
		t.Fatalf("%+v", rd.Decision)
	}
}

func TestNotificationTimeoutBackoff(t *testing.T) {
	e, err := New(Config{ID: 1, Voters: []int64{1, 2, 3}, CanLead: true, MaxNotificationInterval: 1500 * ms})
	if err != nil {
		t.Fatal(err)
	}
	e.Start(5, 0)
	e.Ready()
	steps := []struct {
		wait      time.Duration
		delivered bool
		next      time.Duration
	}{
		{200 * ms, true, 400 * ms},
		{400 * ms, false, 800 * ms},
		{800 * ms, true, 1500 * ms},
		{1500 * ms, true, 1500 * ms},
	}
	for i, s := range steps {
		if d, _ := e.NextTimeout(); d != s.wait {
			t.Fatalf("step %d: NextTimeout %v want %v", i, d, s.wait)
		}
		e.Tick(s.wait-1, s.delivered)
		if rd := e.Ready(); rd.TimedOut != 0 {
			t.Fatalf("step %d: timed out early", i)
		}
		e.Tick(1, s.delivered)
		rd := e.Ready()
		if rd.TimedOut != s.next {
			t.Fatalf("step %d: TimedOut %v want %v", i, rd.TimedOut, s.next)
		}
		if s.delivered {
			wantVoteMsgs(t, rd, []int64{2, 3}, 1, 5, 1, 0)
			if rd.ReconnectAll {
				t.Fatalf("step %d: reconnect with delivered queues", i)
			}
		} else if !rd.ReconnectAll || len(rd.Messages) != 0 {
			t.Fatalf("step %d: want reconnect only, got %+v", i, rd)
		}
	}
	// A notification restarts the poll but keeps the doubled timeout.
	e.Tick(700*ms, true)
	e.Step(looking(2, 2, 1, 1, 0))
	if d, _ := e.NextTimeout(); d != 1500*ms {
		t.Fatalf("after a notification NextTimeout %v", d)
	}
	if e.Stats().Timeouts != 4 {
		t.Fatalf("timeouts %d", e.Stats().Timeouts)
	}
}

func TestHigherRoundResetsAndComparesWithInitialVote(t *testing.T) {
	e := newElection(t, 1, []int64{1, 2, 3, 4, 5}, true)
	e.Start(5, 0)
	e.Step(looking(3, 3, 9, 1, 0)) // adopt 3 in round 1
	e.Ready()
	// Round 4 from 2 proposing 2 with zxid 3: better than nothing? The
	// comparison is with my INITIAL vote (1, 5), which wins.
	e.Step(looking(2, 2, 3, 4, 0))
	rd := e.Ready()
	wantVoteMsgs(t, rd, []int64{2, 3, 4, 5}, 1, 5, 4, 0)
	if e.LogicalClock() != 4 {
		t.Fatalf("clock %d", e.LogicalClock())
	}
	if _, ok := e.round.recvset[3]; ok {
		t.Fatal("recvset not cleared")
	}
	if len(e.round.recvset) != 2 { // 2's vote and my loopback
		t.Fatalf("recvset %+v", e.round.recvset)
	}
}

func TestOlderRoundDroppedAndAnswered(t *testing.T) {
	e := newElection(t, 1, []int64{1, 2, 3}, true)
	e.Start(5, 0)
	e.Step(looking(2, 2, 3, 3, 0)) // jump to round 3, keep my vote
	e.Ready()
	before := e.Stats().Dropped
	e.Step(looking(3, 3, 100, 1, 0))
	rd := e.Ready()
	m := sentTo(t, rd)
	if len(m) != 1 || m[3].Leader != 1 || m[3].ElectionEpoch != 3 || m[3].State != wire.ServerLooking {
		t.Fatalf("reply %+v", rd.Messages)
	}
	if e.Stats().Dropped != before+1 {
		t.Fatal("older round not dropped by the election loop")
	}
	if v, _ := e.Proposal(); v.Leader != 1 {
		t.Fatal("older round changed my proposal")
	}
}

func TestIgnoresMinusOneZxids(t *testing.T) {
	e := newElection(t, 1, []int64{1, 2, 3}, true)
	e.Start(5, 0)
	e.Ready()
	e.Step(looking(2, 2, -1, 9, 5))
	if e.LogicalClock() != 1 || len(e.Ready().Messages) != 0 {
		t.Fatal("a zxid -1 vote was processed")
	}
	e2 := newElection(t, 1, []int64{1, 2, 3}, true)
	e2.Start(-1, 0)
	e2.Ready()
	e2.Step(looking(2, 2, 7, 9, 5))
	if e2.LogicalClock() != 1 {
		t.Fatal("with my zxid -1 every LOOKING vote is ignored")
	}
}

func TestNonVotersAndInvalidLeadersDropped(t *testing.T) {
	e := newElection(t, 1, []int64{1, 2, 3}, true)
	e.Start(5, 0)
	e.Ready()
	e.Step(looking(2, 9, 100, 1, 0)) // leader 9 is not a voter
	if v, _ := e.Proposal(); v.Leader != 1 {
		t.Fatal("adopted a non-voter leader")
	}
	e.Step(outOf(2, wire.ServerObserving, 3, 100, 1, 0))
	e.Step(Notification{From: 2, State: wire.ServerState(7), Leader: 3, Zxid: 100, ElectionEpoch: 1})
	if e.Stats().Dropped != 3 || e.Queued() != 0 {
		t.Fatalf("dropped %d queued %d", e.Stats().Dropped, e.Queued())
	}
}

func TestNonVoterSenderGetsCurrentVoteAtOnce(t *testing.T) {
	e := newElection(t, 1, []int64{1, 2, 3}, true)
	e.Start(5, 2)
	e.Step(looking(2, 2, 7, 1, 2))
	e.Tick(200*ms, true)
	e.Ready()
	// FOLLOWING 2 now; observer 4 asks.
	e.Step(looking(4, NoID, NoID, 1, NoID))
	rd := e.Ready()
	m := sentTo(t, rd)
	want := Message{To: 4, State: wire.ServerFollowing, Leader: 2, Zxid: 7, ElectionEpoch: 1, PeerEpoch: 2}
	if len(m) != 1 || m[4] != want {
		t.Fatalf("reply %+v want %+v", rd.Messages, want)
	}
	// While LOOKING too (the vote is kept when a round starts after a role
	// ends), with the logical clock rather than the vote's round.
	e.Start(7, 2)
	e.Ready()
	e.Step(looking(4, NoID, NoID, 1, NoID))
	m = sentTo(t, e.Ready())
	if m[4].State != wire.ServerLooking || m[4].Leader != 2 || m[4].ElectionEpoch != 2 {
		t.Fatalf("reply while looking %+v", m[4])
	}
	if e.Queued() != 0 {
		t.Fatal("non-voter notification queued")
	}
}

func TestNotLookingAnswersLookingWithCurrentVote(t *testing.T) {
	e := newElection(t, 1, []int64{1, 2, 3}, true)
	e.Start(5, 2)
	e.Step(looking(2, 2, 7, 1, 2))
	e.Tick(200*ms, true)
	e.Ready()
	e.SetPeerEpoch(3) // synced with leader 2 in epoch 3
	e.Step(looking(3, 3, 1, 6, 2))
	m := sentTo(t, e.Ready())
	want := Message{To: 3, State: wire.ServerFollowing, Leader: 2, Zxid: 7, ElectionEpoch: 1, PeerEpoch: 3}
	if m[3] != want {
		t.Fatalf("got %+v want %+v", m[3], want)
	}
	// FOLLOWING notifications are not answered nor queued.
	e.Step(outOf(3, wire.ServerFollowing, 2, 7, 1, 3))
	if rd := e.Ready(); len(rd.Messages) != 0 || e.Queued() != 0 {
		t.Fatalf("%+v", rd)
	}
}

func TestLateJoinerOutOfElection(t *testing.T) {
	e := newElection(t, 3, []int64{1, 2, 3}, true)
	e.Start(0x100000002, 1)
	e.Ready()
	e.Step(outOf(1, wire.ServerFollowing, 2, 0x200000000, 7, 2))
	if e.Ready().Decision != nil {
		t.Fatal("one follower is not a quorum")
	}
	e.Step(outOf(2, wire.ServerLeading, 2, 0x200000000, 7, 2))
	rd := e.Ready()
	want := Decision{State: wire.ServerFollowing, Vote: Vote{Leader: 2, Zxid: 0x200000000, ElectionEpoch: 7, PeerEpoch: 2},
		Path: PathOutOfElection}
	if rd.Decision == nil || *rd.Decision != want {
		t.Fatalf("decision %+v", rd.Decision)
	}
	if e.LogicalClock() != 7 {
		t.Fatalf("outofelection sets the clock: %d", e.LogicalClock())
	}
}

func TestCheckLeaderNeedsLeadersOwnVote(t *testing.T) {
	e := newElection(t, 5, []int64{1, 2, 3, 4, 5}, true)
	e.Start(1, 1)
	e.Ready()
	for _, from := range []int64{1, 3, 4} {
		e.Step(outOf(from, wire.ServerFollowing, 2, 9, 4, 2))
	}
	if e.Ready().Decision != nil {
		t.Fatal("decided without the leader saying LEADING")
	}
	e.Step(outOf(2, wire.ServerFollowing, 2, 9, 4, 2)) // 2 says FOLLOWING: still no
	if e.Ready().Decision != nil {
		t.Fatal("decided with the leader FOLLOWING")
	}
	e.Step(outOf(2, wire.ServerLeading, 2, 9, 4, 2))
	if rd := e.Ready(); rd.Decision == nil || rd.Decision.Vote.Leader != 2 {
		t.Fatal("no decision")
	}
}

func TestOutOfElectionPeerEpochMustMatch(t *testing.T) {
	e := newElection(t, 3, []int64{1, 2, 3}, true)
	e.Start(1, 1)
	e.Ready()
	e.Step(outOf(1, wire.ServerFollowing, 2, 9, 4, 2))
	e.Step(outOf(2, wire.ServerLeading, 2, 9, 4, 3)) // leader already in epoch 3
	if e.Ready().Decision != nil {
		t.Fatal("votes with different peer epochs counted as equal")
	}
	e.Step(outOf(1, wire.ServerFollowing, 2, 9, 4, 3))
	if rd := e.Ready(); rd.Decision == nil || rd.Decision.Vote.PeerEpoch != 3 {
		t.Fatalf("%+v", rd.Decision)
	}
}

// In the same round, recvset stores FOLLOWING/LEADING votes with version 0,
// so against a version-2 notification only the leader is compared.
func TestInElectionPathComparesLeaderOnly(t *testing.T) {
	e := newElection(t, 3, []int64{1, 2, 3}, true)
	e.Start(1, 1)
	e.Ready()
	e.Step(outOf(1, wire.ServerFollowing, 2, 9, 1, 2))
	e.Step(outOf(2, wire.ServerLeading, 2, 9, 1, 5))
	rd := e.Ready()
	if rd.Decision == nil || rd.Decision.Path != PathInElection || rd.Decision.Vote.PeerEpoch != 5 {
		t.Fatalf("%+v", rd.Decision)
	}
}

func TestLeaderIsMeOutOfElectionNeedsMyRound(t *testing.T) {
	e := newElection(t, 2, []int64{1, 2, 3}, true)
	e.Start(1, 1)
	e.Ready()
	e.Step(outOf(1, wire.ServerFollowing, 2, 9, 5, 2))
	e.Step(outOf(3, wire.ServerFollowing, 2, 9, 5, 2))
	if e.Ready().Decision != nil {
		t.Fatal("a leader-is-me vote from another round decided")
	}
	e2 := newElection(t, 2, []int64{1, 2, 3}, true)
	e2.Start(1, 1)
	e2.Step(outOf(1, wire.ServerFollowing, 2, 9, 1, 2))
	e2.Step(outOf(3, wire.ServerFollowing, 2, 9, 1, 2))
	if rd := e2.Ready(); rd.Decision == nil || rd.Decision.State != wire.ServerLeading {
		t.Fatalf("%+v", rd.Decision)
	}
}

func TestObserverDecidesObserving(t *testing.T) {
	e := newElection(t, 4, []int64{1, 2, 3}, true)
	e.Start(0x100000009, 1)
	rd := e.Ready()
	wantVoteMsgs(t, rd, []int64{1, 2, 3}, NoID, NoID, 1, NoID)
	e.Step(looking(1, 3, 5, 1, 1))
	rd = e.Ready()
	wantVoteMsgs(t, rd, []int64{1, 2, 3}, 3, 5, 1, 1)
	e.Step(looking(2, 3, 5, 1, 1))
	if !e.round.finalizing {
		t.Fatal("two voters for 3 are a quorum")
	}
	e.Tick(200*ms, true)
	rd = e.Ready()
	if rd.Decision == nil || rd.Decision.State != wire.ServerObserving || rd.Decision.Vote.Leader != 3 {
		t.Fatalf("%+v", rd.Decision)
	}
}

func TestObserverJoinsEstablishedLeader(t *testing.T) {
	e := newElection(t, 4, []int64{1, 2, 3}, false) // CanLead is moot for observers
	e.Start(0, 0)
	e.Ready()
	e.Step(outOf(1, wire.ServerFollowing, 3, 0x100000000, 2, 1))
	e.Step(outOf(3, wire.ServerLeading, 3, 0x100000000, 2, 1))
	rd := e.Ready()
	if rd.Decision == nil || rd.Decision.State != wire.ServerObserving || rd.Decision.Path != PathOutOfElection {
		t.Fatalf("%+v", rd.Decision)
	}
}

func TestQueueBeforeStartAndOverflow(t *testing.T) {
	e := newElection(t, 1, []int64{1, 2, 3}, true)
	e.Step(looking(2, 2, 7, 1, 0)) // queued before the round
	if e.Queued() != 1 || e.Running() {
		t.Fatal("not queued")
	}
	e.Start(5, 0)
	rd := e.Ready()
	// My vote first (round 1), then 2's vote is better: adopted.
	if len(rd.Messages) != 4 || rd.Messages[2].Leader != 2 {
		t.Fatalf("%+v", rd.Messages)
	}
	e.Abort()
	for i := 0; i < MaxQueue+10; i++ {
		e.Step(looking(3, 3, 1, 1, 0))
	}
	if e.Queued() != MaxQueue || e.Stats().QueueOverflows != 10 {
		t.Fatalf("queued %d overflows %d", e.Queued(), e.Stats().QueueOverflows)
	}
}

// --- CanLead=false ---

func noVoteForSelf(t *testing.T, e *Election, rd Ready) {
	t.Helper()
	for _, m := range rd.Messages {
		if m.Leader == e.cfg.ID {
			t.Fatalf("CanLead=false voter sent a vote for itself: %+v", m)
		}
	}
}

func TestNoSelfStartsWithProbes(t *testing.T) {
	e := newElection(t, 3, []int64{1, 2, 3}, false)
	e.Start(0x100000005, 1)
	rd := e.Ready()
	noVoteForSelf(t, e, rd)
	m := sentTo(t, rd)
	if len(m) != 2 {
		t.Fatalf("%+v", rd.Messages)
	}
	for _, sid := range []int64{1, 2} {
		p := m[sid]
		if !p.Probe || p.Zxid != -1 || p.PeerEpoch != -1 || p.Leader != 1 || p.ElectionEpoch != 1 ||
			p.State != wire.ServerLooking {
			t.Fatalf("probe %+v", p)
		}
	}
	if _, ok := e.Proposal(); ok {
		t.Fatal("proposal should be empty")
	}
	// Java ignores the probe in its election loop: so do we.
	j := newElection(t, 1, []int64{1, 2, 3}, true)
	j.Start(0, 0)
	j.Ready()
	j.Step(Notification{From: 3, State: m[1].State, Leader: m[1].Leader, Zxid: m[1].Zxid,
		ElectionEpoch: m[1].ElectionEpoch, PeerEpoch: m[1].PeerEpoch, Version: 2})
	if len(j.round.recvset) != 1 || j.LogicalClock() != 1 {
		t.Fatalf("probe counted: %+v", j.round.recvset)
	}
}

func TestNoSelfAdoptsEqualHistorySmallerSid(t *testing.T) {
	e := newElection(t, 3, []int64{1, 2, 3}, false)
	e.Start(0x100000005, 1)
	e.Ready()
	e.Step(looking(1, 1, 0x100000005, 1, 1))
	rd := e.Ready()
	noVoteForSelf(t, e, rd)
	wantVoteMsgs(t, rd, []int64{1, 2}, 1, 0x100000005, 1, 1)
	if !e.round.finalizing {
		t.Fatal("1's vote and mine for 1 are a quorum")
	}
	e.Tick(200*ms, true)
	if rd := e.Ready(); rd.Decision == nil || rd.Decision.State != wire.ServerFollowing || rd.Decision.Vote.Leader != 1 {
		t.Fatalf("%+v", rd.Decision)
	}
}

func TestNoSelfCoversRules(t *testing.T) {
	for _, tc := range []struct {
		name    string
		leader  int64
		zxid    wire.Zxid
		epoch   int64
		adopted bool
	}{
		{"behind zxid", 1, 0x100000004, 1, false},
		{"equal", 1, 0x100000005, 1, true},
		{"ahead zxid", 1, 0x100000006, 1, true},
		{"higher epoch lower zxid", 1, 0x3, 2, true},
		{"lower epoch higher zxid", 1, 0x200000000, 0, false},
		{"vote naming me", 3, 0x900000000, 9, false},
	} {
		e := newElection(t, 3, []int64{1, 2, 3}, false)
		e.Start(0x100000005, 1)
		e.Ready()
		e.Step(looking(1, tc.leader, tc.zxid, 1, tc.epoch))
		rd := e.Ready()
		noVoteForSelf(t, e, rd)
		v, ok := e.Proposal()
		if ok != tc.adopted || (ok && v.Leader != tc.leader) {
			t.Errorf("%s: proposal %+v %v", tc.name, v, ok)
		}
	}
}

func TestNoSelfPicksBestCovering(t *testing.T) {
	e := newElection(t, 5, []int64{1, 2, 3, 4, 5}, false)
	e.Start(10, 1)
	e.Ready()
	e.Step(looking(1, 1, 9, 1, 1))  // behind: no
	e.Step(looking(2, 2, 10, 1, 1)) // covers: adopt
	e.Step(looking(3, 1, 11, 1, 1)) // better
	e.Step(looking(4, 4, 11, 1, 1)) // better by sid
	e.Step(looking(1, 2, 10, 1, 1)) // worse than 4: no
	v, ok := e.Proposal()
	if !ok || v.Leader != 4 || v.Zxid != 11 {
		t.Fatalf("%+v %v", v, ok)
	}
	noVoteForSelf(t, e, e.Ready())
}

func TestNoSelfWouldWinReportedOncePerRound(t *testing.T) {
	e := newElection(t, 3, []int64{1, 2, 3}, false)
	e.Start(0x100000005, 1)
	e.Ready()
	e.Step(looking(1, 1, 0x100000004, 1, 1))
	e.Step(looking(2, 2, 0x100000003, 1, 1))
	if w, ok := e.WouldWinNow(); !ok || w.Best.Leader != 1 || w.Seen != 2 {
		t.Fatalf("WouldWinNow %+v %v", w, ok)
	}
	e.Tick(200*ms, true)
	rd := e.Ready()
	noVoteForSelf(t, e, rd)
	if rd.WouldWin == nil || rd.WouldWin.Round != 1 || rd.WouldWin.Best.Leader != 1 ||
		rd.WouldWin.Best.Zxid != 0x100000004 || rd.WouldWin.Mine.Zxid != 0x100000005 {
		t.Fatalf("%+v", rd.WouldWin)
	}
	for _, m := range rd.Messages {
		if !m.Probe {
			t.Fatalf("timeout without a proposal must only probe: %+v", m)
		}
	}
	e.Tick(400*ms, true)
	if rd := e.Ready(); rd.WouldWin != nil {
		t.Fatal("reported twice in one round")
	}
	// Java peers answer in older rounds with their proposal: I stay silent.
	e.Step(looking(1, 1, 0x100000004, 0, 1))
	if rd := e.Ready(); len(rd.Messages) != 0 {
		t.Fatalf("answered without a proposal: %+v", rd.Messages)
	}
	e.Start(0x100000005, 1)
	e.Step(looking(1, 1, 0x100000004, 2, 1))
	e.Tick(200*ms, true)
	if rd := e.Ready(); rd.WouldWin == nil || rd.WouldWin.Round != 2 {
		t.Fatalf("%+v", rd.WouldWin)
	}
	if e.Stats().WouldWin != 2 {
		t.Fatalf("stat %d", e.Stats().WouldWin)
	}
	if e.State() != wire.ServerLooking {
		t.Fatal("not looking")
	}
}

func TestNoSelfHigherRoundWithBehindVoteDropsProposal(t *testing.T) {
	e := newElection(t, 3, []int64{1, 2, 3, 4, 5}, false)
	e.Start(5, 1)
	e.Step(looking(1, 1, 6, 1, 1))
	if _, ok := e.Proposal(); !ok {
		t.Fatal("should have adopted 1")
	}
	e.Ready()
	e.Step(looking(2, 2, 4, 3, 1)) // newer round, behind me
	if _, ok := e.Proposal(); ok {
		t.Fatal("a behind vote in a newer round must empty the proposal")
	}
	if e.LogicalClock() != 3 {
		t.Fatal("clock")
	}
	noVoteForSelf(t, e, e.Ready())
}

func TestNoSelfNeverAnswersWithSelfVote(t *testing.T) {
	e := newElection(t, 3, []int64{1, 2, 3}, false)
	e.SetLooking(5, 1)
	e.Step(looking(4, NoID, NoID, 1, NoID)) // observer 4 asks; my current vote is me
	if rd := e.Ready(); len(rd.Messages) != 0 {
		t.Fatalf("%+v", rd.Messages)
	}
}

func TestNoSelfOutOfElectionJoinsBehindLeader(t *testing.T) {
	// The established leader is behind me: Java's path is unchanged, I follow
	// it (its sync truncates my uncommitted tail).
	e := newElection(t, 3, []int64{1, 2, 3}, false)
	e.Start(0x100000009, 1)
	e.Ready()
	e.Step(outOf(1, wire.ServerFollowing, 2, 0x100000002, 4, 2))
	e.Step(outOf(2, wire.ServerLeading, 2, 0x100000002, 4, 2))
	rd := e.Ready()
	if rd.Decision == nil || rd.Decision.State != wire.ServerFollowing || rd.Decision.Vote.Leader != 2 {
		t.Fatalf("%+v", rd.Decision)
	}
	// Votes naming me as leader are never followed.
	e2 := newElection(t, 3, []int64{1, 2, 3}, false)
	e2.Start(1, 1)
	e2.Step(outOf(1, wire.ServerFollowing, 3, 1, 1, 1))
	e2.Step(outOf(2, wire.ServerFollowing, 3, 1, 1, 1))
	if rd := e2.Ready(); rd.Decision != nil {
		t.Fatalf("%+v", rd.Decision)
	}
}

func TestConfigValidation(t *testing.T) {
	if _, err := New(Config{ID: 1}); err != ErrNoVoters {
		t.Fatalf("%v", err)
	}
	if _, err := New(Config{ID: 1, Voters: []int64{1}, MinNotificationInterval: time.Second,
		MaxNotificationInterval: time.Millisecond}); err != ErrIntervals {
		t.Fatalf("%v", err)
	}
}

func TestNoSelfAdoptsCoveringVoteFromOlderRound(t *testing.T) {
	e := newElection(t, 3, []int64{1, 2, 3}, false)
	e.Start(5, 1)
	e.Abort()
	e.Start(5, 1) // round 2; peer 1 is still in round 1
	e.Ready()
	e.Step(looking(1, 1, 5, 1, 1))
	rd := e.Ready()
	wantVoteMsgs(t, rd, []int64{1, 2}, 1, 5, 2, 1) // my round: moves 1 to round 2
	// 1 follows into round 2 with the same vote: quorum.
	e.Step(looking(1, 1, 5, 2, 1))
	e.Tick(200*ms, true)
	if rd := e.Ready(); rd.Decision == nil || rd.Decision.Vote.Leader != 1 || rd.Decision.Vote.ElectionEpoch != 2 {
		t.Fatalf("%+v", rd.Decision)
	}
	// A behind vote from an older round is still dropped, but counts as
	// seen for WouldWin.
	e2 := newElection(t, 3, []int64{1, 2, 3}, false)
	e2.Start(5, 1)
	e2.Abort()
	e2.Start(5, 1)
	e2.Ready()
	e2.Step(looking(1, 1, 4, 1, 1))
	if _, ok := e2.Proposal(); ok {
		t.Fatal("adopted a behind vote")
	}
	if w, ok := e2.WouldWinNow(); !ok || w.Best.Zxid != 4 {
		t.Fatalf("%+v %v", w, ok)
	}
}

func TestNoSelfNewRoundStartsFromRememberedVote(t *testing.T) {
	e := newElection(t, 3, []int64{1, 2, 3, 4, 5}, false)
	e.Start(5, 1)
	e.Step(looking(1, 1, 6, 1, 1))
	e.Step(looking(2, 2, 4, 1, 1))
	e.Abort()
	e.Ready()
	e.Start(5, 1)
	wantVoteMsgs(t, e.Ready(), []int64{1, 2, 4, 5}, 1, 6, 2, 1)
	// With a newer history the remembered votes no longer cover me.
	e.Abort()
	e.Start(7, 1)
	for _, m := range e.Ready().Messages {
		if !m.Probe {
			t.Fatalf("sent a vote: %+v", m)
		}
	}
}

func TestNoSelfWouldWinAfterFinalizeWait(t *testing.T) {
	e := newElection(t, 3, []int64{1, 2, 3}, false)
	e.Start(5, 1)
	e.Tick(200*ms, true)
	e.Tick(400*ms, true) // nobody around: the poll timeout is 800ms now
	e.Ready()
	e.Step(looking(1, 1, 4, 1, 1))
	if d, _ := e.NextTimeout(); d != 200*ms {
		t.Fatalf("NextTimeout %v: the would-win wait should be next", d)
	}
	e.Tick(150*ms, true)
	if e.Ready().WouldWin != nil {
		t.Fatal("reported before finalizeWait")
	}
	e.Tick(50*ms, true)
	if rd := e.Ready(); rd.WouldWin == nil || rd.WouldWin.Best.Zxid != 4 {
		t.Fatalf("%+v", rd.WouldWin)
	}
	// A covering vote right behind a behind one: no alarm.
	e2 := newElection(t, 3, []int64{1, 2, 3, 4, 5}, false)
	e2.Start(5, 1)
	e2.Tick(200*ms, true)
	e2.Tick(400*ms, true)
	e2.Step(looking(1, 1, 4, 1, 1))
	e2.Tick(100*ms, true)
	e2.Step(looking(2, 2, 6, 1, 1))
	e2.Tick(500*ms, true)
	if rd := e2.Ready(); rd.WouldWin != nil || e2.Stats().WouldWin != 0 {
		t.Fatalf("false alarm %+v", rd.WouldWin)
	}
}

func TestTraceReportsEachStep(t *testing.T) {
	var kinds []EventKind
	e, err := New(Config{ID: 1, Voters: []int64{1, 2, 3}, CanLead: true, Trace: func(ev Event) { kinds = append(kinds, ev.Kind) }})
	if err != nil {
		t.Fatal(err)
	}
	e.Start(5, 0)
	e.Tick(200*ms, true)           // timeout: re-send
	e.Step(looking(2, 9, 7, 1, 0)) // leader 9: dropped
	e.Step(looking(2, 2, 7, 3, 0)) // newer round, adopted, quorum
	e.Step(looking(3, 3, 9, 3, 0)) // better during the finalize wait; quorum again
	e.Tick(200*ms, true)
	seen := map[EventKind]bool{}
	for _, k := range kinds {
		seen[k] = true
	}
	for k := EventNewRound; k <= EventDecided; k++ {
		if !seen[k] {
			t.Errorf("no %v event in %v", k, kinds)
		}
	}
}

// TestSetVoteAnswersWithDesignatedLeader: a reconfiguration's designated
// leader, taken without an election (QuorumPeer.updateVote and
// updateServerState with reconfigFlag), is the state and vote LOOKING
// peers are told, with Java's Vote(leader, zxid) epochs until a sync sets
// the peer epoch; a round that was running is abandoned.
func TestSetVoteAnswersWithDesignatedLeader(t *testing.T) {
	e := newElection(t, 1, []int64{1, 2, 3}, true)
	e.Start(5, 2)
	e.Ready()
	e.SetVote(wire.ServerFollowing, 2, 9)
	if e.Running() || e.State() != wire.ServerFollowing {
		t.Fatalf("after SetVote: running %v, state %v", e.Running(), e.State())
	}
	e.Step(looking(3, 3, 1, 6, 2))
	m := sentTo(t, e.Ready())
	want := Message{To: 3, State: wire.ServerFollowing, Leader: 2, Zxid: 9, ElectionEpoch: -1, PeerEpoch: -1}
	if m[3] != want {
		t.Fatalf("got %+v want %+v", m[3], want)
	}
	e.SetPeerEpoch(4)
	e.Step(looking(3, 3, 1, 6, 2))
	want.PeerEpoch = 4
	if m := sentTo(t, e.Ready()); m[3] != want {
		t.Fatalf("after the sync: got %+v want %+v", m[3], want)
	}
}

// TestSetVotersSwitchesConfiguration: a new configuration's voters
// (QuorumPeer.restartLeaderElection) take effect at once: a sender that
// is no longer a voter is answered with the current vote (validVoter)
// instead of counted, this server, now outside the configuration, votes
// for no one (getInitId's Long.MIN_VALUE) and, as a non-voting
// participant, decides FOLLOWING where an observer decides OBSERVING.
func TestSetVotersSwitchesConfiguration(t *testing.T) {
	e := newElection(t, 1, []int64{1, 2, 3}, true)
	if err := e.SetVoters(nil, nil, false); err == nil {
		t.Fatal("SetVoters without voters accepted")
	}
	if err := e.SetVoters([]int64{2, 3, 4}, nil, true); err != nil {
		t.Fatal(err)
	}
	e.Start(5, 1)
	if p, _ := e.Proposal(); p.Leader != NoID || p.Zxid != NoID {
		t.Fatalf("outside the configuration, proposal %+v", p)
	}
	rd := e.Ready()
	for _, m := range rd.Messages {
		if m.Leader != NoID || m.Zxid != NoID {
			t.Fatalf("outside the configuration, sent %+v", m)
		}
	}
	e.Step(outOf(2, wire.ServerFollowing, 4, 0x100000000, 2, 1))
	e.Step(outOf(4, wire.ServerLeading, 4, 0x100000000, 2, 1))
	rd = e.Ready()
	if rd.Decision == nil || rd.Decision.State != wire.ServerFollowing || rd.Decision.Vote.Leader != 4 {
		t.Fatalf("non-voting participant decided %+v", rd.Decision)
	}
	// Back in, as a voter: 3, no longer one, gets the current vote.
	if err := e.SetVoters([]int64{1, 2, 4}, nil, false); err != nil {
		t.Fatal(err)
	}
	e.Step(looking(3, NoID, NoID, 1, NoID))
	m := sentTo(t, e.Ready())
	if m[3].State != wire.ServerFollowing || m[3].Leader != 4 {
		t.Fatalf("reply to a server no longer a voter: %+v", m[3])
	}
}

// TestSetVotersRestartsTheLogicalClock: a new configuration starts a new
// FastLeaderElection in Java 3.8 (QuorumPeer.restartLeaderElection, and
// the restart after a newer configuration received while looking), whose
// logical clock starts at 0: the next round is round 1 whatever the
// rounds before, as Java peers see it in the notifications.
func TestSetVotersRestartsTheLogicalClock(t *testing.T) {
	e := newElection(t, 1, []int64{1, 2, 3}, true)
	e.Start(5, 1)
	e.Step(looking(2, 2, 9, 6, 1)) // round 6 adopted
	e.Ready()
	if e.LogicalClock() != 6 {
		t.Fatalf("clock %d before the switch, want 6", e.LogicalClock())
	}
	if err := e.SetVoters([]int64{1, 2, 3, 4}, nil, false); err != nil {
		t.Fatal(err)
	}
	if e.LogicalClock() != 0 {
		t.Fatalf("clock %d after the switch, want 0 (a new FastLeaderElection)", e.LogicalClock())
	}
	e.Start(5, 1)
	wantVoteMsgs(t, e.Ready(), []int64{2, 3, 4}, 1, 5, 1, 1)
}

// TestSameRoundWorseVoteAnsweredOnce: a voter of my round that proposes
// worse than I do has not seen my proposal (it was out of the election
// when I sent it); I answer it with my proposal, once per round. Java
// waits for its poll to time out, which the others' notifications
// postpone: the simulator found elections stalled for seconds with no
// fault in effect (seed 3020818 and others; DIFFERENCES row 64).
func TestSameRoundWorseVoteAnsweredOnce(t *testing.T) {
	e := newElection(t, 2, []int64{1, 2, 3, 4, 5}, true) // no quorum in this test
	e.Start(0x100000008, 1)
	e.Ready()
	e.Step(looking(1, 1, 0x100000007, 1, 1)) // worse, same round
	rd := e.Ready()
	wantVoteMsgs(t, rd, []int64{1}, 2, 0x100000008, 1, 1)
	e.Step(looking(1, 1, 0x100000007, 1, 1)) // its re-send: answered already
	if rd := e.Ready(); len(rd.Messages) != 0 {
		t.Fatalf("answered the same voter twice in one round: %+v", rd.Messages)
	}
	e.Step(looking(3, 2, 0x100000008, 1, 1)) // the same vote as mine: nothing to tell
	if rd := e.Ready(); len(rd.Messages) != 0 {
		t.Fatalf("answered a voter that proposes what I do: %+v", rd.Messages)
	}
	// A newer round: answered again once it proposes worse there.
	e.Step(looking(1, 1, 0x100000007, 4, 1))
	e.Ready() // the jump to round 4 sends my vote to all
	e.Step(looking(1, 1, 0x100000007, 4, 1))
	rd = e.Ready()
	wantVoteMsgs(t, rd, []int64{1}, 2, 0x100000008, 4, 1)
}
