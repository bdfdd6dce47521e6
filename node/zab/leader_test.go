package zab

import (
	"fmt"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/node/quorum"
)

// readyString renders a LeaderReady for the tables.
func readyString(r LeaderReady) string {
	var parts []string
	if r.HardState != nil {
		parts = append(parts, fmt.Sprintf("persist accepted=%d current=%d", r.HardState.AcceptedEpoch, r.HardState.CurrentEpoch))
	}
	if r.EpochDecided {
		parts = append(parts, "epoch-decided")
	}
	if r.EpochAcked {
		parts = append(parts, "epoch-acked")
	}
	if r.Serving {
		parts = append(parts, "serving")
	}
	if r.CheckSynced {
		parts = append(parts, "check-synced")
	}
	if r.StepDown != "" {
		parts = append(parts, "step-down: "+r.StepDown)
	}
	return strings.Join(parts, "; ")
}

// runLeader plays a script on a leader: each line is "info SID EPOCH",
// "observer-info SID EPOCH", "ackepoch SID", "ackepoch-again SID",
// "ack SID", "tick N", and the expected Ready (or "-" for none) after a
// "=>".
func runLeader(t *testing.T, l *Leader, script string) {
	t.Helper()
	for n, line := range strings.Split(strings.TrimSpace(script), "\n") {
		cmd, want, ok := strings.Cut(line, "=>")
		if !ok {
			t.Fatalf("line %d: no =>", n+1)
		}
		f := strings.Fields(cmd)
		var a, b int64
		if len(f) > 1 {
			fmt.Sscan(f[1], &a)
		}
		if len(f) > 2 {
			fmt.Sscan(f[2], &b)
		}
		switch f[0] {
		case "info":
			l.LearnerInfo(a, b, true)
		case "observer-info":
			l.LearnerInfo(a, b, false)
		case "ackepoch":
			l.AckEpoch(a, true)
		case "ackepoch-again":
			l.AckEpoch(a, false)
		case "ack":
			l.NewLeaderAck(a, true)
		case "tick":
			for i := int64(0); i < a; i++ {
				l.Tick()
			}
		case "synced":
			var sids []int64
			for _, w := range f[1:] {
				var sid int64
				fmt.Sscan(w, &sid)
				sids = append(sids, sid)
			}
			l.Synced(sids)
		case "ready":
		default:
			t.Fatalf("line %d: bad command %q", n+1, cmd)
		}
		got := "-"
		if l.HasReady() {
			got = readyString(l.Ready())
		}
		if want = strings.TrimSpace(want); got != want {
			t.Fatalf("line %d %q:\n got %s\nwant %s", n+1, strings.TrimSpace(cmd), got, want)
		}
	}
}

func newTestLeader(t *testing.T, v quorum.Verifier, id, accepted, current int64) *Leader {
	t.Helper()
	l, err := NewLeader(LeaderConfig{ID: id, Verifier: v, AcceptedEpoch: accepted, CurrentEpoch: current, PhaseTicks: 20})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLeaderEstablishes(t *testing.T) {
	l := newTestLeader(t, majority3o(), 1, 4, 3)
	runLeader(t, l, `
ready => -
observer-info 4 9 => -
info 2 5 => persist accepted=10 current=3; epoch-decided
ackepoch 2 => persist accepted=10 current=10; epoch-acked
info 3 12 => -
ack 3 => serving
ack 2 => -
`)
	if l.Epoch() != 10 || l.NewLeaderZxid() != 0xa00000000 || !l.Serving() || l.NewLeaderVoters() != "1,2,3" || l.EpochVoters() != "1,2" {
		t.Fatalf("epoch %d, zxid %v, serving %v, acks %s, epoch voters %s", l.Epoch(), l.NewLeaderZxid(), l.Serving(), l.NewLeaderVoters(), l.EpochVoters())
	}
}

func TestLeaderQuorumsCountOnlyVotersThatCount(t *testing.T) {
	l := newTestLeader(t, majority3o(), 1, 1, 1)
	runLeader(t, l, `
observer-info 2 1 => -
info 4 1 => -
info 3 1 => persist accepted=2 current=1; epoch-decided
ackepoch-again 3 => -
ackepoch 4 => -
ackepoch 2 => persist accepted=2 current=2; epoch-acked
`)
}

func TestLeaderPhaseTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name, script string
	}{
		{"no quorum for the epoch", `
tick 20 => -
tick 1 => step-down: Timeout while waiting for epoch from a quorum
tick 5 => -
`},
		{"each phase has its own deadline", `
tick 15 => -
info 2 1 => persist accepted=2 current=1; epoch-decided
tick 20 => -
ackepoch 3 => persist accepted=2 current=2; epoch-acked
tick 20 => -
tick 1 => step-down: Timeout while waiting for NEWLEADER ACKs from a quorum
`},
		{"no phase timeout once serving, the synced check every other tick instead", `
info 2 1 => persist accepted=2 current=1; epoch-decided
ackepoch 2 => persist accepted=2 current=2; epoch-acked
ack 2 => serving
tick 1 => check-synced
tick 1 => -
tick 1 => check-synced
synced 2 => -
tick 100 => check-synced
synced 3 => -
synced => step-down: Not sufficient followers synced, only synced with sids: [ 1 ]
tick 2 => -
synced 2 3 => -
`},
		{"no ACKEPOCH quorum", `
info 2 1 => persist accepted=2 current=1; epoch-decided
tick 21 => step-down: Timeout while waiting for epoch ACKs from a quorum
ackepoch 2 => -
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runLeader(t, newTestLeader(t, majority3o(), 1, 1, 1), tc.script)
		})
	}
}

func TestLeaderAloneDecidesAtOnce(t *testing.T) {
	l := newTestLeader(t, quorum.NewMajority([]int64{1}), 1, 7, 7)
	runLeader(t, l, `ready => persist accepted=8 current=8; epoch-decided; epoch-acked; serving`)
	if l.Phase() != PhaseBroadcast || l.Ticks() != 0 {
		t.Fatalf("phase %v, ticks %d", l.Phase(), l.Ticks())
	}
	runLeader(t, l, `
tick 3 => check-synced
synced => -
`)
	if l.FullTick() != 2 || l.Ticks() != 3 {
		t.Fatalf("full tick %d, ticks %d", l.FullTick(), l.Ticks())
	}
}

func TestLeaderHierarchical(t *testing.T) {
	l := newTestLeader(t, hier9(t), 1, 1, 1)
	runLeader(t, l, `
info 2 1 => -
info 3 1 => -
info 9 1 => -
info 7 1 => -
info 8 1 => persist accepted=2 current=1; epoch-decided
`)
}

func TestNewLeaderRefusesEpochsThatDoNotFit(t *testing.T) {
	if _, err := NewLeader(LeaderConfig{ID: 1, Verifier: majority3o(), AcceptedEpoch: MaxEpoch, PhaseTicks: 1}); err == nil {
		t.Fatal("an accepted epoch of MaxEpoch was taken")
	}
	if _, err := NewLeader(LeaderConfig{ID: 1, Verifier: majority3o(), AcceptedEpoch: MaxEpoch - 1, PhaseTicks: 1}); err != nil {
		t.Fatal(err)
	}
	l := newTestLeader(t, majority3o(), 1, 1, 1)
	runLeader(t, l, fmt.Sprintf("info 2 %d => step-down: epoch %d does not fit a zxid", int64(MaxEpoch), int64(MaxEpoch)+1))
}
