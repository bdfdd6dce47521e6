package node

import (
	"errors"
	"testing"
)

// TestLookingStartsElectionAtOnce (issue 19): a member that loses its
// leader or its leadership asks for an election in the same owner step,
// as Java's QuorumPeer goes to lookForLeader as soon as it is LOOKING.
// At cac73b3 it armed a 100 ms backoff timer first, which every failover
// paid on top of the election (docs/quorum.md, Elections). Counted in
// owner steps, not wall time: the request must be out before the step
// that went LOOKING returns.
func TestLookingStartsElectionAtOnce(t *testing.T) {
	ports := map[int64]int{1: freePort(t), 2: freePort(t), 3: freePort(t)}
	leader := startLearner(t, quorumMember(t, 3, ports, 10))
	follower := startLearner(t, quorumMember(t, 1, ports, 10))
	for _, tc := range []struct {
		name string
		s    *Server
		mode string
		lose func(s *Server)
	}{
		{"follower loses its leader", follower, "follower", func(s *Server) { s.qs.peer.learner.dropLink(errors.New("test: leader connection lost")) }},
		{"leader steps down", leader, "leader", func(s *Server) { s.qs.stepDown("test: lost the quorum") }},
	} {
		s := tc.s
		waitFor(t, func() bool { return leader.qs.Mode() == "leader" && follower.qs.Mode() == "follower" })
		var looking, requested bool
		call(t, s, func() {
			elections := s.qs.peer.stats.elections
			tc.lose(s)
			looking = s.qs.peer.role == roleLooking
			requested = s.qs.peer.looking && s.qs.peer.stats.elections == elections+1
		})
		if !looking {
			t.Fatalf("%s: the member did not go LOOKING", tc.name)
		}
		if !requested {
			t.Errorf("%s: no election requested in the step that went LOOKING (a backoff first)", tc.name)
		}
	}
}
