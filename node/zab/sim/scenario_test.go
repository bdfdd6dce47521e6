package sim

import (
	"testing"

	"github.com/zkgo/zkgo/wire"
)

func zxids(epoch uint32, from, to uint32) []wire.Zxid {
	var out []wire.Zxid
	for c := from; c <= to; c++ {
		out = append(out, wire.MakeZxid(epoch, c))
	}
	return out
}

// scenarioAckThenCrash is the ordering behind ZOOKEEPER-3911 and 4785: a
// follower syncs by DIFF, ACKs NEWLEADER, the leader counts it and is
// established, and then both crash; the follower must have had the txns
// of its sync on disk before its ACK, or the history the new epoch
// committed is lost when the follower leads next.
//
// Peer 2 holds 1:1..1:3, peers 1 and 3 only 1:1 (1:2 and 1:3 are not
// committed yet); peer 1 is paused, so peers 2 and 3 form the epoch-2
// quorum; peer 3 crashes (losing what it had not fsynced) and the leader
// with it, as soon as the leader is established. Peers 1 and 3 then go on
// without peer 2.
func scenarioAckThenCrash(sabotage string) Config {
	return Config{
		Seed: 7, Duration: 5000, FaultEvery: -1, ClientEvery: -1, Sabotage: sabotage,
		Init: map[int64]InitState{
			1: {Log: zxids(1, 1, 1), AcceptedEpoch: 1, CurrentEpoch: 1},
			2: {Log: zxids(1, 1, 3), AcceptedEpoch: 1, CurrentEpoch: 1},
			3: {Log: zxids(1, 1, 1), AcceptedEpoch: 1, CurrentEpoch: 1},
		},
		Schedule: []Fault{{At: 1, Kind: FaultPause, Peer: 1, Dur: 1500}},
		Hooks: []Hook{{Peer: 2, At: HookServing, Do: func(s *Sim, p *Peer) {
			s.Crash(3, 0, 300)
			s.Crash(2, 0, 1_000_000)
		}}},
	}
}

// scenarioEpochThenCrash is ZOOKEEPER-4643 and 4646: a follower syncing by
// DIFF crashes at NEWLEADER after it made its new current epoch durable;
// if the txns of its sync were not durable before that epoch, it comes
// back with the newer epoch and the older log, wins the next election
// and truncates committed txns away.
//
// Peers 1 and 2 hold 1:1..1:3 (committed), peer 3 only 1:1; peer 2 leads
// epoch 2 while peer 1 is paused; peer 3 crashes between persisting its
// NEWLEADER step and sending the ACK, and the leader crashes with it.
// Peers 1 and 3 then elect a leader between them.
func scenarioEpochThenCrash(sabotage string) Config {
	return Config{
		Seed: 11, Duration: 5000, FaultEvery: -1, ClientEvery: -1, Sabotage: sabotage,
		Init: map[int64]InitState{
			1: {Log: zxids(1, 1, 3), AcceptedEpoch: 1, CurrentEpoch: 1},
			2: {Log: zxids(1, 1, 3), AcceptedEpoch: 1, CurrentEpoch: 1},
			3: {Log: zxids(1, 1, 1), AcceptedEpoch: 1, CurrentEpoch: 1},
		},
		Schedule: []Fault{
			{At: 1, Kind: FaultPause, Peer: 1, Dur: 1500},
			{At: 2, Kind: FaultCrashMid, Peer: 3, Shape: int(readyNewLeaderAck), Dur: 300},
		},
		Hooks: []Hook{{Peer: 3, At: HookCrashed, Do: func(s *Sim, p *Peer) {
			s.Crash(2, 0, 1_000_000)
		}}},
	}
}

// scenarioEpochAtSyncThenCrash is scenarioEpochThenCrash with the crash
// earlier: peer 3 crashes once it carried out its DIFF (before the sync's
// txns and NEWLEADER came), and the leader with it. Its current epoch
// must still be the old one, or it comes back with epoch 2 and 1:1
// only, wins the election over peer 1 (epoch 1, 1:3) and truncates the
// committed 1:2 and 1:3 (the epoch-before-log sabotage).
func scenarioEpochAtSyncThenCrash(sabotage string) Config {
	cfg := scenarioEpochThenCrash(sabotage)
	cfg.Schedule = cfg.Schedule[:1]
	cfg.Hooks = []Hook{{Peer: 3, At: HookSyncStarted, Do: func(s *Sim, p *Peer) {
		s.Crash(3, 0, 300)
		s.Crash(2, 0, 1_000_000)
	}}}
	return cfg
}

// scenarioLeaderCrashAfterCommit: a leader commits proposals with one
// follower's ACKs and crashes; the other follower, which missed them,
// must not be elected over the one that has them.
func scenarioLeaderCrashAfterCommit(sabotage string) Config {
	return Config{
		Seed: 3, Duration: 6000, FaultEvery: -1, ClientEvery: 30, Sabotage: sabotage,
		Schedule: []Fault{
			{At: 1200, Kind: FaultPartition, Peer: 3, Shape: 0, Dur: 1000},
			{At: 1900, Kind: FaultCrash, Peer: 0, Keep: 0, Dur: 2000},
		},
	}
}

// scenarioJoinWhileServing is the ordering of ZOOKEEPER-4785: a follower
// joins a serving leader while clients write, so proposals reach it
// between NEWLEADER and UPTODATE; it must ACK those only once they are on
// disk. It is armed to crash at its first ACK of proposals (after its
// log's fsync, before the send) and the leader crashes with it; the
// follower and the third peer go on.
func scenarioJoinWhileServing(sabotage string) Config {
	return Config{
		Seed: 22, Duration: 6000, FaultEvery: -1, ClientEvery: 10, Observers: -1, Sabotage: sabotage,
		Init: map[int64]InitState{
			1: {Log: zxids(1, 1, 3), AcceptedEpoch: 1, CurrentEpoch: 1},
			2: {Log: zxids(1, 1, 3), AcceptedEpoch: 1, CurrentEpoch: 1},
			3: {Log: zxids(1, 1, 3), AcceptedEpoch: 1, CurrentEpoch: 1},
		},
		Schedule: []Fault{
			{At: 1, Kind: FaultPartition, Peer: 3, Shape: 0, Dur: 700},
			{At: 600, Kind: FaultCrashMid, Peer: 3, Shape: int(readyFollowerAck), Dur: 200},
		},
		Hooks: []Hook{{Peer: 3, At: HookCrashed, Do: func(s *Sim, p *Peer) {
			s.Crash(s.leaderID(), 0, 1_000_000)
		}}},
	}
}

// scenarioTruncCommittedLog reaches the sync plan's TRUNC for the
// committed-log reason, which random runs never do: the learner's last
// txn is inside the leader's committed log's range but not in it, and
// the leader has a later txn of the same epoch. A leader's history never
// skips a zxid of an epoch (one leader per epoch proposes them in
// order), so only a disk made that way gets there: peers 1 and 2 have
// 1:1, 1:2, 1:4 (no 1:3), peer 3 has 1:1..1:3. Peer 2 leads (its 1:4 is
// newer); peer 3 is TRUNCated to 1:2 (its 1:3 was never committed) and
// gets 1:4; clients write on.
func scenarioTruncCommittedLog(sabotage string) Config {
	gap := append(zxids(1, 1, 2), wire.MakeZxid(1, 4))
	return Config{
		Seed: 5, Duration: 4000, FaultEvery: -1, ClientEvery: 50, Observers: -1, Hier: -1, Sabotage: sabotage,
		Sync: &SyncSettings{CommitLogCount: 500, TxnLog: true},
		Init: map[int64]InitState{
			1: {Log: gap, AcceptedEpoch: 1, CurrentEpoch: 1},
			2: {Log: gap, AcceptedEpoch: 1, CurrentEpoch: 1},
			3: {Log: zxids(1, 1, 3), AcceptedEpoch: 1, CurrentEpoch: 1},
		},
	}
}

// scenarioSnapLogGap reaches the sync plan's SNAP for a log gap (the txn
// log, read from the learner's zxid on, ends before the committed log
// starts), which random runs do not: peer 2's disk is what node leaves
// on a learner synced by SNAP at 1:6 that had logged 1:1..1:3 (a snapshot
// at 1:6, its log 1:1..1:3: node keeps the log up to the snapshot's
// zxid; the simulator's learners drop it, see keep-log-at-snap), so its
// committed log after a restart is empty (nothing replayed) and starts
// at 1:6. Peer 2 leads (1:6); peer 3, at 1:2, is older than the
// committed log; the txn log holds 1:2 but ends at 1:3: SNAP. Peer 1, at
// 1:5, is not in the txn log at all (SNAP, txn-log-unusable). No client
// writes: once the leader logged 2:1, the txn log read from 1:2 goes on
// from 1:3 to 2:1 (node's proposalsFromLog sees no hole between two
// epochs) and the learner is DIFFed past 1:4..1:6 (keep-log-at-snap).
func scenarioSnapLogGap(sabotage string) Config {
	return Config{
		Seed: 6, Duration: 4000, FaultEvery: -1, ClientEvery: -1, Observers: -1, Hier: -1, Sabotage: sabotage,
		Sync: &SyncSettings{CommitLogCount: 500, TxnLog: true},
		Init: map[int64]InitState{
			1: {Log: zxids(1, 1, 5), AcceptedEpoch: 1, CurrentEpoch: 1},
			2: {Log: zxids(1, 1, 3), Snap: zxids(1, 1, 6), AcceptedEpoch: 1, CurrentEpoch: 1},
			3: {Log: zxids(1, 1, 2), AcceptedEpoch: 1, CurrentEpoch: 1},
		},
	}
}

type scenario struct {
	name string
	cfg  func(sabotage string) Config
	// the committed history must reach this zxid, and a leader must be
	// established after the crashes
	min     wire.Zxid
	leaders int
	// syncs that must happen ("TRUNC/committed-log")
	syncs []string
}

var scenarios = []scenario{
	{"ack-then-crash (ZOOKEEPER-3911/4785)", scenarioAckThenCrash, wire.MakeZxid(1, 3), 2, nil},
	{"epoch-then-crash (ZOOKEEPER-4643/4646)", scenarioEpochThenCrash, wire.MakeZxid(1, 3), 1, nil},
	{"epoch-at-sync-then-crash (ZOOKEEPER-4643/4646)", scenarioEpochAtSyncThenCrash, wire.MakeZxid(1, 3), 1, nil},
	{"leader-crash-after-commit", scenarioLeaderCrashAfterCommit, wire.MakeZxid(1, 1), 2, nil},
	{"join-while-serving (ZOOKEEPER-4785)", scenarioJoinWhileServing, wire.MakeZxid(1, 1), 2, nil},
	{"trunc-committed-log", scenarioTruncCommittedLog, wire.MakeZxid(2, 1), 1, []string{"TRUNC/committed-log"}},
	{"snap-log-gap", scenarioSnapLogGap, wire.MakeZxid(1, 6), 1, []string{"SNAP/log-gap", "SNAP/txn-log-unusable"}},
}

// TestScenarios replays the orderings behind the Zab bugs of the
// ZOOKEEPER-3911 family against zkgo's core: each must end with no
// violation, the committed history intact, and a leader established
// after the crashes.
func TestScenarios(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			s := newSim(sc.cfg(""))
			s.cfg.Trace = true
			s.run()
			r := s.result()
			if r.Violation != nil {
				t.Fatalf("%v\n%s", r.Violation, r.Report(0))
			}
			if n := len(s.chk.committed); n == 0 || s.chk.committed[n-1].Zxid() < sc.min {
				t.Fatalf("committed history ends before %s\n%s", zx(sc.min), r.Report(0))
			}
			if r.Leaders < sc.leaders {
				t.Fatalf("%d leaderships established, want %d\n%s", r.Leaders, sc.leaders, r.Report(0))
			}
			for _, k := range sc.syncs {
				if r.Syncs[k] == 0 {
					t.Fatalf("no %s sync (%s)\n%s", k, SyncCounts(r.Syncs), r.Report(0))
				}
			}
		})
	}
}

// TestLateEstablishment checks the checker on a leader established late:
// a leader of epoch 3 can become established after epoch 4 was, because
// the NEWLEADER ACK of a learner that moved on to epoch 4 stays counted
// (Java's newLeaderProposal keeps it too). That is no violation: it has
// everything the epochs before 3 committed, can commit nothing (a quorum
// accepted epoch 4) and steps down at its next synced check. A long `make
// sim` run found it (seed 1133416 at 952a4ca^), when the checker still
// required every established leader to hold what later epochs committed.
// What it may not do is add txns before what epoch 4 committed, or lack
// what the epochs before it committed.
func TestLateEstablishment(t *testing.T) {
	mk := func(leaderLog []wire.Zxid) (*Sim, *Peer) {
		s := newSim(Config{Seed: 1, FaultEvery: -1, ClientEvery: -1, Observers: -1})
		for _, z := range zxids(1, 1, 3) {
			s.chk.committed = append(s.chk.committed, NewRec(initTxn(z)))
		}
		s.chk.committed = append(s.chk.committed, NewRec(initTxn(wire.MakeZxid(4, 1))))
		s.chk.leaderOf[4] = 2
		p := s.peer(1)
		p.store = Store{}
		for _, z := range leaderLog {
			if err := p.store.Append(NewRec(initTxn(z))); err != nil {
				t.Fatal(err)
			}
		}
		return s, p
	}
	for _, c := range []struct {
		name  string
		log   []wire.Zxid
		epoch int64
		kind  string
	}{
		{"late, with the earlier epochs' history", zxids(1, 1, 3), 3, ""},
		{"late, adding a txn before epoch 4's", zxids(1, 1, 4), 3, "order"},
		{"late, lacking a txn of epoch 1", zxids(1, 1, 2), 3, "lost"},
		{"newer, lacking epoch 4's txn", zxids(1, 1, 3), 5, "lost"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, p := mk(c.log)
			s.chk.established(p, c.epoch)
			got := ""
			if s.chk.viol != nil {
				got = s.chk.viol.Kind
			}
			if got != c.kind {
				t.Fatalf("violation %q (%v), want %q", got, s.chk.viol, c.kind)
			}
		})
	}
}

// scenarioStaleLogAfterSnap is a run (seed 845, 8 of its faults) of the
// finding the simulator made once it modelled snapshot files as node
// keeps them (first at seed 338, before the clients had sessions and
// reads): node's learner keeps its own txns up to a SNAP's zxid. Here
// peer 3 had logged 1:17, never committed (it crashed with it unsynced
// and kept it), then got a SNAP at 2:1 from leader 2 (trunc-across-
// epochs) and kept 1:1..1:17 in its log; leading epoch 3 after leader 2's
// disk failed, it synced observer 4 from its txn log and sent it 1:17
// ("peer 4 applied 1:17, which is not committed"). The simulator's
// learner drops its log up to the snapshot's zxid once the snapshot is
// durable (the leader then has no usable log for peer 4 and sends a
// SNAP); the keep-log-at-snap sabotage is node's behaviour. The seed is
// pinned to the random streams and the election of this commit: a change
// to what the simulator draws, or to how elections unfold, can move the
// run (re-find it with `zabsim -sabotage=keep-log-at-snap`, a zabsabotage
// build: seed 156 served until node/fle answered same-round votes).
func scenarioStaleLogAfterSnap(sabotage string) Config {
	cfg := Config{Seed: 845, Peers: 3, Observers: 1, Hier: -1, Sabotage: sabotage}
	cfg.Disabled = Only([]int{0, 1, 2, 3, 4, 5, 6, 8}, len(genSchedule(cfg.withDefaults())))
	return cfg
}

// TestStaleLogAfterSnap: the run of scenarioStaleLogAfterSnap has no
// violation; the learner that node would DIFF from the stale log is
// synced by SNAP.
func TestStaleLogAfterSnap(t *testing.T) {
	cfg := scenarioStaleLogAfterSnap("")
	r := Run(cfg)
	if r.Violation != nil {
		cfg.Trace = true
		r = Run(cfg)
		t.Fatalf("%v\n%s", r.Violation, r.Report(80))
	}
	if r.Syncs["SNAP/trunc-across-epochs"] < 1 || r.Syncs["SNAP/txn-log-unusable"] < 1 {
		t.Fatalf("syncs %s: the run no longer reaches the SNAPs it is about", SyncCounts(r.Syncs))
	}
}
