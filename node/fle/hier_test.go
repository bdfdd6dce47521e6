package fle

import (
	"testing"
	"time"

	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/wire"
)

// hierElection is an Election over voters 1..5 in groups {1,2} {3,4} {5}
// (weights from cfg): a plain majority of 3 voters is not always a quorum
// and 2 voters can be one.
func hierElection(t *testing.T, id int64, cfg map[string]string) *Election {
	t.Helper()
	var members []quorum.Member
	for sid := int64(1); sid <= 5; sid++ {
		members = append(members, quorum.Member{ID: sid, Voter: true})
	}
	v, err := quorum.Parse(members, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{ID: id, Voters: v.Voters(), CanLead: true, Verifier: v, MaxNotificationInterval: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var threeGroups = map[string]string{"group.1": "1:2", "group.2": "3:4", "group.3": "5"}

// FastLeaderElection ends a round on a quorum of the QuorumVerifier, not on
// a count: LOOKING votes from 1, 3 and 5 are a plain majority of 5 voters
// but a majority of group 3 only (1 of {1,2} and 3 of {3,4} are half, not
// more); votes from 5, 1 and 2 complete groups 1 and 3, a quorum.
func TestHierarchicalLookingQuorum(t *testing.T) {
	e := hierElection(t, 5, threeGroups)
	e.Start(0x100000005, 1) // 5 votes for itself
	e.Ready()
	e.Step(looking(1, 5, 0x100000005, 1, 1))
	e.Step(looking(3, 5, 0x100000005, 1, 1))
	e.Tick(time.Second, true)
	if rd := e.Ready(); rd.Decision != nil || e.round.finalizing {
		t.Fatalf("3 of 5 voters in three different groups decided: %+v", rd.Decision)
	}
	e.Step(looking(2, 5, 0x100000005, 1, 1)) // group 1 now has both
	if !e.round.finalizing {
		t.Fatal("groups 1 and 3 complete: finalize wait expected")
	}
	e.Tick(200*ms, true)
	if rd := e.Ready(); rd.Decision == nil || rd.Decision.State != wire.ServerLeading {
		t.Fatalf("decision %+v", rd.Decision)
	}
}

// The same on the out-of-election path: a joiner follows an established
// leader only when the FOLLOWING/LEADING votes form a hierarchical quorum.
func TestHierarchicalOutOfElectionQuorum(t *testing.T) {
	e := hierElection(t, 5, threeGroups)
	e.Start(0x100000002, 1)
	e.Ready()
	e.Step(outOf(1, wire.ServerLeading, 1, 0x200000000, 7, 2))
	e.Step(outOf(3, wire.ServerFollowing, 1, 0x200000000, 7, 2))
	if rd := e.Ready(); rd.Decision != nil {
		t.Fatalf("joined on 2 votes in two half groups (plus my own would be 3 of 5): %+v", rd.Decision)
	}
	e.Step(outOf(4, wire.ServerFollowing, 1, 0x200000000, 7, 2))
	if rd := e.Ready(); rd.Decision != nil {
		t.Fatalf("group 2 alone is not a majority of 3 groups: %+v", rd.Decision)
	}
	e.Step(outOf(2, wire.ServerFollowing, 1, 0x200000000, 7, 2))
	rd := e.Ready()
	if rd.Decision == nil || rd.Decision.State != wire.ServerFollowing || rd.Decision.Vote.Leader != 1 {
		t.Fatalf("groups 1 and 2 complete: decision %+v", rd.Decision)
	}
}

// totalOrderPredicate: a server of weight 0 never beats the current
// proposal, whatever its history, so it is never elected.
func TestHierarchicalWeightZeroNeverWins(t *testing.T) {
	cfg := map[string]string{"group.1": "1:2", "group.2": "3:4", "group.3": "5", "weight.4": "0"}
	e := hierElection(t, 3, cfg)
	e.Start(0x100000005, 1)
	e.Ready()
	e.Step(looking(4, 4, 0x100000009, 1, 1)) // better history, weight 0
	if v, _ := e.Proposal(); v.Leader != 3 {
		t.Fatalf("adopted the weight-0 candidate: proposal %+v", v)
	}
	e.Step(looking(2, 2, 0x100000009, 1, 1)) // the same history, weight 1
	if v, _ := e.Proposal(); v.Leader != 2 {
		t.Fatalf("proposal %+v, want 2", v)
	}
	// Under QuorumMaj the same vote from 4 wins.
	m := newElection(t, 3, []int64{1, 2, 3, 4, 5}, true)
	m.Start(0x100000005, 1)
	m.Ready()
	m.Step(looking(4, 4, 0x100000009, 1, 1))
	if v, _ := m.Proposal(); v.Leader != 4 {
		t.Fatalf("majority proposal %+v, want 4", v)
	}
}
