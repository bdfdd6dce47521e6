package zab

import (
	"fmt"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/wire"
)

// readyString renders a LeaderReady for the tables: its flags and drops
// (the packets are the scripts' business, testdata/*.txt).
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
	for _, d := range r.Drops {
		parts = append(parts, fmt.Sprintf("drop %d: %s", d.Link, d.Reason))
	}
	if r.StepDown != "" {
		parts = append(parts, "step-down: "+r.StepDown)
	}
	return strings.Join(parts, "; ")
}

// learnerInfo is a learner's first packet: FOLLOWERINFO (OBSERVERINFO for
// an observer) with accepted epoch epoch.
func learnerInfo(sid, epoch int64, observer bool) *wire.QuorumPacket {
	t := wire.PacketFollowerInfo
	if observer {
		t = wire.PacketObserverInfo
	}
	li := wire.LearnerInfo{ServerID: sid, ProtocolVersion: wire.ProtocolVersion}
	return &wire.QuorumPacket{Type: t, Zxid: wire.MakeZxid(uint32(epoch), 0), Data: jute.Marshal(&li)}
}

// ackEpoch is ACKEPOCH with the learner's current epoch (-1: it acked
// this epoch before) and last zxid.
func ackEpoch(epoch int32, last wire.Zxid) *wire.QuorumPacket {
	return &wire.QuorumPacket{Type: wire.PacketAckEpoch, Zxid: last, Data: wire.EpochData(epoch)}
}

// inStep is the sync plan of a learner in step with the leader.
func inStep(last wire.Zxid) *SyncPlan {
	return &SyncPlan{Mode: wire.PacketDiff, Packets: []wire.QuorumPacket{{Type: wire.PacketDiff, Zxid: last}}, LastSeen: last}
}

// runLeader plays a script on a leader whose learners' links are their
// server ids: each line is "info SID EPOCH", "observer-info SID EPOCH",
// "ackepoch SID", "ackepoch-again SID", "ack SID" (the learner is synced
// in step first if it waits for its sync), "ping SID" (a PING from it),
// "tick N", or "ready", and the expected Ready (or "-" for none) after a
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
		link := LinkID(a)
		switch f[0] {
		case "info":
			l.Connect(link, learnerInfo(a, b, false))
		case "observer-info":
			l.Connect(link, learnerInfo(a, b, true))
		case "ackepoch":
			l.Receive(link, ackEpoch(0, 0))
		case "ackepoch-again":
			l.Receive(link, ackEpoch(-1, 0))
		case "ack":
			if st, ok := l.Learner(link); ok && st.State == HandlerWaitSync {
				if err := l.StartSync(link, inStep(0)); err != nil {
					t.Fatalf("line %d: %v", n+1, err)
				}
				l.Ready()
			}
			l.Receive(link, &wire.QuorumPacket{Type: wire.PacketAck, Zxid: l.NewLeaderZxid()})
		case "ping":
			l.Receive(link, &wire.QuorumPacket{Type: wire.PacketPing})
		case "tick":
			for i := int64(0); i < a; i++ {
				l.Tick()
			}
		case "ready":
		default:
			t.Fatalf("line %d: bad command %q", n+1, cmd)
		}
		got := "-"
		if l.HasReady() {
			got = readyString(l.Ready())
		}
		if got == "" {
			got = "-"
		}
		if want = strings.TrimSpace(want); got != want {
			t.Fatalf("line %d %q:\n got %s\nwant %s", n+1, strings.TrimSpace(cmd), got, want)
		}
	}
}

// members says who is in the configuration of v: its voters, and the
// observers up to 10.
func members(v quorum.Verifier) func(int64) (bool, bool) {
	return func(sid int64) (bool, bool) { return v.IsVoter(sid), sid >= 1 && sid <= 10 }
}

func newTestLeader(t *testing.T, v quorum.Verifier, id, accepted, current int64) *Leader {
	t.Helper()
	l, err := NewLeader(LeaderConfig{ID: id, Verifier: v, AcceptedEpoch: accepted, CurrentEpoch: current, PhaseTicks: 20,
		InitLimit: 10, SyncLimit: 5, Member: members(v)})
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
ackepoch 3 => -
ack 3 => serving
ack 2 => -
`)
	if l.Epoch() != 10 || l.NewLeaderZxid() != 0xa00000000 || !l.Serving() || l.NewLeaderVoters() != "1,3" || l.EpochVoters() != "1,2" {
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
ackepoch 2 => -
tick 21 => step-down: Timeout while waiting for epoch ACKs from a quorum
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
info 3 1 => -
ackepoch 3 => persist accepted=2 current=2; epoch-acked
tick 20 => -
tick 1 => step-down: Timeout while waiting for NEWLEADER ACKs from a quorum
`},
		{"no phase timeout once serving, the synced check every other tick instead", `
info 2 1 => persist accepted=2 current=1; epoch-decided
ackepoch 2 => persist accepted=2 current=2; epoch-acked
ack 2 => serving
tick 30 => -
tick 1 => step-down: Not sufficient followers synced, only synced with sids: [ 1 ]
tick 2 => -
`},
		{"a learner counts as synced while its packets come in time", `
info 2 1 => persist accepted=2 current=1; epoch-decided
ackepoch 2 => persist accepted=2 current=2; epoch-acked
ack 2 => serving
tick 28 => -
ping 2 => -
tick 10 => -
tick 1 => step-down: Not sufficient followers synced, only synced with sids: [ 1 ]
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
	runLeader(t, l, `tick 3 => -`)
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
	v := majority3o()
	if _, err := NewLeader(LeaderConfig{ID: 1, Verifier: v, AcceptedEpoch: MaxEpoch, PhaseTicks: 1, Member: members(v)}); err == nil {
		t.Fatal("an accepted epoch of MaxEpoch was taken")
	}
	if _, err := NewLeader(LeaderConfig{ID: 1, Verifier: v, AcceptedEpoch: MaxEpoch - 1, PhaseTicks: 1, Member: members(v)}); err != nil {
		t.Fatal(err)
	}
	l := newTestLeader(t, v, 1, 1, 1)
	runLeader(t, l, fmt.Sprintf("info 2 %d => drop 2: accepted epoch %#x (FOLLOWERINFO zxid %v) leaves no epoch to propose: a zxid's epoch is at most %#x",
		int64(MaxEpoch), uint32(MaxEpoch), wire.MakeZxid(uint32(MaxEpoch), 0), MaxEpoch))
}
