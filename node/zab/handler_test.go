package zab

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/wire"
)

// msgs renders a Ready's packets as "LINK TYPE EPOCH:COUNTER", one per
// packet, and its drops and commits.
func msgs(r LeaderReady) string {
	var out []string
	for _, d := range r.Drops {
		out = append(out, fmt.Sprintf("drop %d: %s", d.Link, d.Reason))
	}
	for _, m := range r.Messages {
		out = append(out, fmt.Sprintf("%d %v %d:%d", m.To, m.Packet.Type, m.Packet.Zxid.Epoch(), m.Packet.Zxid.Counter()))
	}
	for _, z := range r.Commits {
		out = append(out, fmt.Sprintf("commit %d:%d", z.Epoch(), z.Counter()))
	}
	if r.Rollover {
		out = append(out, "rollover")
	}
	return strings.Join(out, ", ")
}

// servingLeader is leader 1 of voters 1-3 (and observer 4) serving in
// epoch 2 with followers 2 and 3 in broadcast, in step at zxid 1:0; cfg
// changes its configuration first.
func servingLeader(t *testing.T, cfg func(*LeaderConfig)) *Leader {
	t.Helper()
	v := majority3o()
	c := LeaderConfig{ID: 1, Verifier: v, AcceptedEpoch: 1, CurrentEpoch: 1, LastZxid: wire.MakeZxid(1, 0), PhaseTicks: 20,
		InitLimit: 10, SyncLimit: 5, Member: members(v), MaxSnapSyncs: 10, MaxDiffSyncs: 10}
	if cfg != nil {
		cfg(&c)
	}
	l, err := NewLeader(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, sid := range []int64{2, 3} {
		l.Connect(LinkID(sid), learnerInfo(sid, 1, false))
	}
	for _, sid := range []int64{2, 3} {
		l.Receive(LinkID(sid), ackEpoch(1, wire.MakeZxid(1, 0)))
	}
	for _, sid := range []int64{2, 3} {
		if err := l.StartSync(LinkID(sid), inStep(wire.MakeZxid(1, 0))); err != nil {
			t.Fatal(err)
		}
		l.Receive(LinkID(sid), &wire.QuorumPacket{Type: wire.PacketAck, Zxid: l.NewLeaderZxid()})
	}
	if !l.Serving() {
		t.Fatalf("not serving: phase %v", l.Phase())
	}
	l.Ready()
	return l
}

func ack(l *Leader, sid int64, z wire.Zxid) {
	l.Receive(LinkID(sid), &wire.QuorumPacket{Type: wire.PacketAck, Zxid: z})
}

// A learner's SYNC is answered at once when nothing is outstanding, else
// after the COMMIT of the newest proposal outstanding when it came
// (Leader.processSync); a learner dropped meanwhile gets nothing.
func TestLeaderSyncRequest(t *testing.T) {
	l := servingLeader(t, nil)
	l.SyncRequest(2)
	if got := msgs(l.Ready()); got != "2 SYNC 0:0" {
		t.Fatalf("SYNC with nothing outstanding: %s", got)
	}
	l.Propose(wire.MakeZxid(2, 1), []byte("a"))
	l.Propose(wire.MakeZxid(2, 2), []byte("b"))
	l.Ready()
	l.SyncRequest(2)
	l.SyncRequest(3)
	if l.HasReady() || l.PendingSyncs() != 1 {
		t.Fatalf("SYNC answered before the commit (pending %d): %s", l.PendingSyncs(), msgs(l.Ready()))
	}
	l.Durable(wire.MakeZxid(2, 2))
	ack(l, 2, wire.MakeZxid(2, 1))
	if got := msgs(l.Ready()); got != "2 COMMIT 2:1, 3 COMMIT 2:1, commit 2:1" {
		t.Fatalf("first commit: %s", got)
	}
	l.Drop(3, "gone")
	ack(l, 2, wire.MakeZxid(2, 2))
	if got := msgs(l.Ready()); got != "drop 3: gone, 2 COMMIT 2:2, 2 SYNC 0:0, commit 2:2" {
		t.Fatalf("second commit: %s", got)
	}
	if l.PendingSyncs() != 0 {
		t.Fatalf("%d SYNCs still pending", l.PendingSyncs())
	}
}

// A follower that syncs while proposals are outstanding gets them right
// after its NEWLEADER (ZOOKEEPER-4394), and is dropped when more than
// MaxHeld wait for it during a SNAP walk.
func TestLeaderHoldsAtMostMaxHeld(t *testing.T) {
	l := servingLeader(t, func(c *LeaderConfig) { c.MaxHeld = 2 })
	l.Propose(wire.MakeZxid(2, 1), []byte("a"))
	l.Ready()
	l.Drop(3, "reconnecting")
	l.Connect(5, learnerInfo(3, 2, false))
	l.Receive(5, ackEpoch(-1, wire.MakeZxid(2, 0)))
	r := l.Ready()
	if len(r.Syncs) != 1 || r.Syncs[0] != 5 {
		t.Fatalf("syncs %v, want [5]", r.Syncs)
	}
	snap := &SyncPlan{Mode: wire.PacketSnap, LastSeen: wire.MakeZxid(2, 0)}
	if err := l.StartSync(5, snap); err != nil {
		t.Fatal(err)
	}
	if r := l.Ready(); len(r.Snaps) != 1 || len(r.Messages) != 0 {
		t.Fatalf("SNAP sync: snaps %v, messages %s", r.Snaps, msgs(r))
	}
	l.Propose(wire.MakeZxid(2, 2), []byte("b"))
	if got := msgs(l.Ready()); got != "2 PROPOSAL 2:2" {
		t.Fatalf("proposal during the walk: %s", got)
	}
	l.Propose(wire.MakeZxid(2, 3), []byte("c"))
	if got := msgs(l.Ready()); got != "drop 5: too many proposals held for the learner while it syncs, 2 PROPOSAL 2:3" {
		t.Fatalf("third held proposal: %s", got)
	}
	if n, _ := l.SyncsInProgress(true); n != 0 {
		t.Fatalf("%d SNAP syncs still counted after the drop", n)
	}
}

// The throttle refuses an observer's sync past its limit and counts a
// follower's anyway; a sync ends with its NEWLEADER ACK.
func TestLeaderSyncThrottle(t *testing.T) {
	l := servingLeader(t, func(c *LeaderConfig) { c.MaxDiffSyncs = 1 })
	l.Connect(4, learnerInfo(4, 2, true))
	l.Receive(4, ackEpoch(-1, wire.MakeZxid(2, 0)))
	l.Drop(3, "reconnecting")
	l.Connect(5, learnerInfo(3, 2, false))
	l.Receive(5, ackEpoch(-1, wire.MakeZxid(2, 0)))
	l.Ready()
	if err := l.StartSync(5, inStep(wire.MakeZxid(2, 0))); err != nil {
		t.Fatalf("a follower's sync is exempt: %v", err)
	}
	if err := l.StartSync(4, inStep(wire.MakeZxid(2, 0))); !errors.Is(err, ErrSyncThrottled) {
		t.Fatalf("observer past the limit: %v", err)
	}
	if got := msgs(l.Ready()); got != "5 DIFF 2:0, 5 NEWLEADER 2:0, drop 4: too many concurrent DIFF syncs (2 > 1)" &&
		got != "drop 4: too many concurrent DIFF syncs (2 > 1), 5 DIFF 2:0, 5 NEWLEADER 2:0" {
		t.Fatalf("ready: %s", got)
	}
	ack(l, 3, l.NewLeaderZxid()) // link 3 is gone: nothing
	l.Receive(5, &wire.QuorumPacket{Type: wire.PacketAck, Zxid: l.NewLeaderZxid()})
	if got := msgs(l.Ready()); got != "5 UPTODATE -1:4294967295" && !strings.HasPrefix(got, "5 UPTODATE") {
		t.Fatalf("NEWLEADER ACK: %s", got)
	}
	if n, _ := l.SyncsInProgress(false); n != 0 {
		t.Fatalf("%d DIFF syncs counted after the NEWLEADER ACK", n)
	}
}

// The same server connecting again replaces its older connection; a
// packet the handshake does not expect drops the learner.
func TestLeaderLearnerReconnectsAndOutOfTurnPackets(t *testing.T) {
	l := servingLeader(t, nil)
	l.Connect(7, learnerInfo(2, 2, false))
	r := l.Ready()
	if got := msgs(r); got != "drop 2: the same learner connected again, 7 LEADERINFO 2:0" {
		t.Fatalf("reconnect: %s", got)
	}
	l.Receive(7, &wire.QuorumPacket{Type: wire.PacketAck, Zxid: l.NewLeaderZxid()})
	if got := msgs(l.Ready()); got != "drop 7: ACK received while waiting for ACKEPOCH" {
		t.Fatalf("ACK instead of ACKEPOCH: %s", got)
	}
	if _, ok := l.Learner(7); ok {
		t.Fatal("dropped learner still known")
	}
}

// The proposal with counter 0xfffffffe is the epoch's last: Rollover.
func TestLeaderRollover(t *testing.T) {
	l := servingLeader(t, nil)
	l.Propose(wire.MakeZxid(2, 0xfffffffd), nil)
	if r := l.Ready(); r.Rollover {
		t.Fatal("rollover at 0xfffffffd")
	}
	l.Propose(wire.MakeZxid(2, 0xfffffffe), nil)
	if got := msgs(l.Ready()); got != "2 PROPOSAL 2:4294967294, 3 PROPOSAL 2:4294967294, rollover" {
		t.Fatalf("ready: %s", got)
	}
}
