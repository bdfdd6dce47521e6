package zab

import (
	"testing"

	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/wire"
)

// TestResyncedLearnerAcksAgain: a follower's ACK of a proposal stops
// counting once the follower syncs again on a new connection and its sync
// ends before that proposal: its disk no longer holds it (a TRUNC dropped
// it), so the proposal must not commit on the strength of that ACK. The
// simulator found it (seed 1048 at i16-sim2's sessions commit): a leader
// paused with proposals 3:1..3:6 outstanding, two followers that had
// logged and ACKed them timed out and came back, each TRUNCated to the
// last committed txn (1:5) by the same leader; the leader then committed
// 3:1 and 3:2 counting their old ACKs while only it and one other voter
// of five had them on disk.
func TestResyncedLearnerAcksAgain(t *testing.T) {
	l := newTestLeader(t, quorum.NewMajority([]int64{1, 2, 3}), 1, 1, 1)
	runLeader(t, l, `
info 2 1 => persist accepted=2 current=1; epoch-decided
ackepoch 2 => persist accepted=2 current=2; epoch-acked
ack 2 => serving
`)
	z := wire.MakeZxid(2, 1)
	e := wire.TxnEntry{Hdr: wire.TxnHeader{ClientID: 1, Cxid: 1, Zxid: z, Time: 1, Type: wire.OpCreate},
		Body: &wire.CreateTxn{Path: "/a", Data: []byte("x")}}
	l.Propose(z, wire.AppendTxnEntry(nil, &e))
	l.Ready()
	l.Receive(2, &wire.QuorumPacket{Type: wire.PacketAck, Zxid: z}) // follower 2 logged and ACKed 2:1
	if r := l.Ready(); len(r.Commits) != 0 {
		t.Fatalf("committed %v with one ACK of three voters", r.Commits)
	}
	// Follower 2's connection breaks; it connects again, with 2:1 logged.
	l.Drop(2, "read timeout")
	l.Ready()
	l.Connect(12, learnerInfo(2, 2, false))
	l.Receive(12, ackEpoch(-1, z))
	if r := l.Ready(); len(r.Syncs) != 1 || r.Syncs[0] != 12 {
		t.Fatalf("syncs %v, want link 12's", r.Syncs)
	}
	// The leader has committed nothing of epoch 2: 2:1 is past its
	// committed log, and the follower is TRUNCated to what is committed.
	plan := PlanSync(SyncInput{Peer: z, LastProcessed: 0})
	if plan.Mode != wire.PacketTrunc || plan.LastSeen >= z {
		t.Fatalf("plan %v to %v, want a TRUNC before %v", plan.Mode, plan.LastSeen, z)
	}
	if err := l.StartSync(12, &plan); err != nil {
		t.Fatal(err)
	}
	l.Ready()
	// The leader's own log is durable: with follower 2's old ACK that
	// would be two of three, but follower 2 truncated 2:1 away.
	l.Durable(z)
	if r := l.Ready(); len(r.Commits) != 0 {
		t.Fatalf("committed %v counting the ACK of a follower that truncated it since", r.Commits)
	}
	// Follower 2 acks NEWLEADER, gets 2:1 again, logs and ACKs it: now it
	// commits.
	l.Receive(12, &wire.QuorumPacket{Type: wire.PacketAck, Zxid: l.NewLeaderZxid()})
	l.Ready()
	l.Receive(12, &wire.QuorumPacket{Type: wire.PacketAck, Zxid: z})
	if r := l.Ready(); len(r.Commits) != 1 || r.Commits[0] != z {
		t.Fatalf("commits %v after the new ACK, want [%v]", r.Commits, z)
	}
}
