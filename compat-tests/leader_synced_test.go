package compattest

import (
	"testing"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
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
func TestLeader_CountsLearnerInHandshakeAsSynced(t *testing.T) {
	for _, java := range []bool{true, false} {
		name := "zkgo"
		if java {
			name = "java"
		}
		t.Run(name, func(t *testing.T) {
			var (
				leader    int64
				kill      func(id int64)
				mode      func(id int64) string
				quorum    func(id int64) string
				readLimit time.Duration
			)
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
						leader = id
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("no Java leader in 60 s")
					}
					time.Sleep(50 * time.Millisecond)
				}
				for id := int64(1); id <= 3; id++ {
					if id != leader {
						m.WaitMode(t, id, "follower", 60*time.Second)
					}
				}
				kill = m.Kill
				mode = func(id int64) string { s, _ := m.Mode(id); return s }
				quorum = m.QuorumAddr
				readLimit = 20 * 200 * time.Millisecond
			} else {
				e := newZkgoEnsemble(t, []harness.MemberSpec{
					{ID: 1, Kind: harness.MemberExternal}, {ID: 2, Kind: harness.MemberExternal}, {ID: 3, Kind: harness.MemberExternal}})
				for id := int64(1); id <= 3; id++ {
					e.start(id)
				}
				leader = e.leader()
				kill = e.stop
				mode = func(id int64) string { return e.zk[id].Server.Mode() }
				quorum = e.m.QuorumAddr
				readLimit = 20 * 200 * time.Millisecond // newZkgoEnsemble's initLimit and tickTime
			}
			var followers []int64
			for id := int64(1); id <= 3; id++ {
				if id != leader {
					followers = append(followers, id)
				}
			}
			// Follower A goes; a learner with A's id connects in its place
			// and stops after LEADERINFO.
			kill(followers[0])
			f := dialLearner(t, quorum(leader))
			f.followerInfo(followers[0], 0)
			qp, err := f.read(10 * time.Second)
			if err != nil || qp.Type != wire.PacketLeaderInfo {
				t.Fatalf("first packet %v (%v), want LEADERINFO", qp.Type, err)
			}
			connected := time.Now()
			// Follower B goes: the leader and the learner in its handshake
			// are what is left of the quorum.
			kill(followers[1])
			for mode(leader) == "leader" {
				if time.Since(connected) > 30*time.Second {
					t.Fatal("still leading 30 s after losing both followers")
				}
				time.Sleep(20 * time.Millisecond)
			}
			took := time.Since(connected)
			t.Logf("%s leader stepped down %v after the learner's FOLLOWERINFO (its read timeout: %v)", name, took.Round(time.Millisecond), readLimit)
			if took < readLimit/2 {
				t.Fatalf("%s leader stepped down %v after the learner connected; the learner counts as synced until its connection times out (%v)",
					name, took, readLimit)
			}
		})
	}
}
