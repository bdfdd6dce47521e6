package compattest

import (
	"testing"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// The serving leader's quorum check (Leader.lead, every tick) counts every
// learner whose LearnerHandler is alive and whose ACK deadline has not
// passed, whatever its state (LearnerHandler.synced). A learner that got
// LEADERINFO and has not sent ACKEPOCH yet therefore keeps a leader that
// lost its last follower leading until its connection times out
// (initLimit*tickTime without a packet, 4 s here), Java's and zkgo's
// alike; zkgo used to count only learners whose NEWLEADER had gone out
// and stepped down within a tick.
// quorumLeader is a three-member ensemble, all Java or all zkgo
// (tickTime 200, initLimit 20, syncLimit 10), with its leader and two
// followers serving.
type quorumLeader struct {
	leader    int64
	followers []int64
	kill      func(id int64)
	mode      func(id int64) string
	quorum    func(id int64) string
}

func startQuorumLeader(t *testing.T, java bool) *quorumLeader {
	t.Helper()
	q := &quorumLeader{}
	if java {
		harness.RequireJava(t)
		harness.SkipShort(t)
		m := harness.NewMixed(t, harness.MixedOptions{TickTime: 200, InitLimit: 20, SyncLimit: 10, Members: []harness.MemberSpec{
			{ID: 1, Kind: harness.MemberJava}, {ID: 2, Kind: harness.MemberJava}, {ID: 3, Kind: harness.MemberJava}}})
		for id := int64(1); id <= 3; id++ {
			m.Start(id)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			if id, ok := m.Leader(); ok {
				q.leader = id
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no Java leader in 60 s")
			}
			time.Sleep(50 * time.Millisecond)
		}
		for id := int64(1); id <= 3; id++ {
			if id != q.leader {
				m.WaitMode(t, id, "follower", 60*time.Second)
			}
		}
		q.kill = m.Kill
		q.mode = func(id int64) string { s, _ := m.Mode(id); return s }
		q.quorum = m.QuorumAddr
	} else {
		e := newZkgoEnsemble(t, []harness.MemberSpec{
			{ID: 1, Kind: harness.MemberExternal}, {ID: 2, Kind: harness.MemberExternal}, {ID: 3, Kind: harness.MemberExternal}})
		for id := int64(1); id <= 3; id++ {
			e.start(id)
		}
		q.leader = e.leader()
		q.kill = e.stop
		q.mode = func(id int64) string { return e.zk[id].Server.Mode() }
		q.quorum = e.m.QuorumAddr
	}
	for id := int64(1); id <= 3; id++ {
		if id != q.leader {
			q.followers = append(q.followers, id)
		}
	}
	return q
}

func leaderKinds(t *testing.T, fn func(t *testing.T, java bool)) {
	for _, java := range []bool{true, false} {
		name := "zkgo"
		if java {
			name = "java"
		}
		t.Run(name, func(t *testing.T) { fn(t, java) })
	}
}

// The serving leader's quorum check (Leader.lead, every tick) counts every
// learner whose LearnerHandler is alive and whose ACK deadline has not
// passed, whatever its state (LearnerHandler.synced). A learner that got
// LEADERINFO and has not sent ACKEPOCH yet therefore keeps a leader that
// lost its last follower leading until its connection times out
// (initLimit*tickTime without a packet, 4 s here), Java's and zkgo's
// alike; zkgo used to count only learners whose NEWLEADER had gone out
// and stepped down within a tick.
func TestLeader_CountsLearnerInHandshakeAsSynced(t *testing.T) {
	leaderKinds(t, func(t *testing.T, java bool) {
		q := startQuorumLeader(t, java)
		readLimit := 20 * 200 * time.Millisecond // initLimit*tickTime
		// Follower A goes; a learner with A's id connects in its place and
		// stops after LEADERINFO.
		q.kill(q.followers[0])
		f := dialLearner(t, q.quorum(q.leader))
		f.followerInfo(q.followers[0], 0)
		qp, err := f.read(10 * time.Second)
		if err != nil || qp.Type != wire.PacketLeaderInfo {
			t.Fatalf("first packet %v (%v), want LEADERINFO", qp.Type, err)
		}
		connected := time.Now()
		// Follower B goes: the leader and the learner in its handshake are
		// what is left of the quorum.
		q.kill(q.followers[1])
		for q.mode(q.leader) == "leader" {
			if time.Since(connected) > 30*time.Second {
				t.Fatal("still leading 30 s after losing both followers")
			}
			time.Sleep(20 * time.Millisecond)
		}
		took := time.Since(connected)
		t.Logf("the leader stepped down %v after the learner's FOLLOWERINFO (its read timeout: %v)", took.Round(time.Millisecond), readLimit)
		if took < readLimit/2 {
			t.Fatalf("the leader stepped down %v after the learner connected; the learner counts as synced until its connection times out (%v)",
				took, readLimit)
		}
	})
}

// Once a quorum acked the epoch, Java's Leader.waitForEpochAck returns
// before its "Follower is ahead of the leader" check: a learner whose
// ACKEPOCH carries the leader's old current epoch (0 in a fresh ensemble)
// and more txns of it than the leader had is synced (TRUNC, or SNAP), not
// refused. zkgo refused it as long as that leader led.
func TestLeader_SyncsLearnerAheadOfOldEpochAfterEstablishment(t *testing.T) {
	leaderKinds(t, func(t *testing.T, java bool) {
		q := startQuorumLeader(t, java)
		q.kill(q.followers[0])
		f := dialLearner(t, q.quorum(q.leader))
		f.followerInfo(q.followers[0], 0)
		qp, err := f.read(10 * time.Second)
		if err != nil || qp.Type != wire.PacketLeaderInfo {
			t.Fatalf("first packet %v (%v), want LEADERINFO", qp.Type, err)
		}
		ack := wire.QuorumPacket{Type: wire.PacketAckEpoch, Zxid: wire.MakeZxid(0, 5), Data: wire.EpochData(0)}
		if _, err := f.c.Write(jute.Marshal(&ack)); err != nil {
			t.Fatal(err)
		}
		qp, err = f.read(10 * time.Second)
		if err != nil {
			t.Fatalf("no sync after an ACKEPOCH ahead of the leader's old epoch: %v", err)
		}
		t.Logf("after ACKEPOCH 0:5 the leader sent %v %#x", qp.Type, int64(qp.Zxid))
		switch qp.Type {
		case wire.PacketDiff, wire.PacketTrunc, wire.PacketSnap:
		default:
			t.Fatalf("first packet after ACKEPOCH %v, want DIFF, TRUNC or SNAP", qp.Type)
		}
	})
}
