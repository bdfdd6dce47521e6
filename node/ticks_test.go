package node

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/wire"
)

// The leader's deadlines are tick counts (docs/zab.md, "Ticks").

// A learner that gets LEADERINFO and never sends ACKEPOCH: the leader gives
// up the leadership initLimit*tickTime after the epoch was agreed (the
// phase is 2*initLimit ticks of tickTime/2), which closes the connection.
func TestLeaderStepsDownWhenEpochACKsDoNotCome(t *testing.T) {
	ports := map[int64]int{1: freePort(t), 2: freePort(t), 3: freePort(t)}
	cfg := quorumMember(t, 3, ports, 10) // tickTime 100: the phase is 1 s
	leader := startLearner(t, cfg)
	f := dialQuorum(t, quorumAddrOf(leader), nil)
	f.followerInfo(1, 0)
	f.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	qp, err := wire.ReadQuorumPacket(f.br, jute.QuorumMaxBuffer)
	if err != nil || qp.Type != wire.PacketLeaderInfo {
		t.Fatalf("first packet %v %v, want LEADERINFO", qp.Type, err)
	}
	start := time.Now()
	if !f.closedWithin(10 * time.Second) {
		t.Fatal("the leader kept the connection without an ACKEPOCH for 10 s")
	}
	// The phase began just before LEADERINFO went out; a tick the owner
	// took late may count up to half a tick early.
	phase := time.Duration(cfg.InitLimit*cfg.TickTime) * time.Millisecond
	if took := time.Since(start); took < phase-time.Duration(cfg.TickTime)*time.Millisecond {
		t.Fatalf("the leader gave up after %v, before initLimit*tickTime (%v)", took, phase)
	}
}

// A follower that answers the leader's pings but never ACKs a proposal is
// dropped syncLimit*tickTime after the proposal ("transaction timeout"),
// while the leader goes on with its other follower.
func TestLeaderDropsFollowerThatDoesNotAck(t *testing.T) {
	hh := newHoldHarness(t, false)
	var last wire.Zxid
	hh.owner(func(s *Server) { last = s.tree.LastZxid })
	f := hh.syncLearner2(last)
	if qp := f.readPacket(); qp.Type != wire.PacketDiff {
		t.Fatalf("sync packet %v, want DIFF", qp.Type)
	}
	qp := f.readPacket()
	for qp.Type == wire.PacketPing {
		qp = f.readPacket()
	}
	if qp.Type != wire.PacketNewLeader {
		t.Fatalf("got %v, want NEWLEADER", qp.Type)
	}
	nl := qp.Zxid
	f.write(wire.QuorumPacket{Type: wire.PacketAck, Zxid: nl})
	for qp = f.readPacket(); qp.Type != wire.PacketUpToDate; qp = f.readPacket() {
	}
	f.write(wire.QuorumPacket{Type: wire.PacketAck, Zxid: nl})
	hh.create("/unacked")
	var sent time.Time
	for {
		qp = f.readPacket()
		if qp.Type == wire.PacketProposal {
			sent = time.Now()
			break
		}
		if qp.Type == wire.PacketPing {
			f.write(wire.QuorumPacket{Type: wire.PacketPing, Zxid: qp.Zxid})
		}
	}
	hh.replies(1) // leader and follower 1 are a quorum
	// Answer pings (so the read timeout never fires) until the leader
	// closes the connection.
	f.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		qp, err := wire.ReadQuorumPacket(f.br, jute.QuorumMaxBuffer)
		if err != nil {
			break
		}
		if qp.Type == wire.PacketPing {
			f.write(wire.QuorumPacket{Type: wire.PacketPing, Zxid: qp.Zxid})
		}
	}
	if time.Since(sent) > 9*time.Second {
		t.Fatal("the leader did not drop the follower that never ACKed")
	}
	limit := time.Duration(hh.leader.cfg.SyncLimit*hh.leader.cfg.TickTime) * time.Millisecond
	if took := time.Since(sent); took < limit-time.Duration(hh.leader.cfg.TickTime)*time.Millisecond {
		t.Fatalf("dropped %v after the proposal, before syncLimit*tickTime (%v)", took, limit)
	}
}

func (f *fakeLearner) write(qp wire.QuorumPacket) {
	f.t.Helper()
	if _, err := f.c.Write(jute.Marshal(&qp)); err != nil {
		f.t.Fatal(err)
	}
}

// When the new epoch cannot be written as acceptedEpoch (the HardState of
// the leader's Ready), the leadership ends: the learner gets no LEADERINFO
// and its connection closes, and acceptedEpoch keeps its old value.
func TestLeaderStepsDownWhenTheEpochCannotBePersisted(t *testing.T) {
	ports := map[int64]int{1: freePort(t), 2: freePort(t), 3: freePort(t)}
	cfg := quorumMember(t, 3, ports, 50)
	leader := startLearner(t, cfg)
	waitFor(t, func() bool { return leader.qs.Mode() == "leader" })
	before, err := storage.ReadEpoch(leader.dur.snapDir(), storage.AcceptedEpochFile)
	if err != nil {
		t.Fatal(err)
	}
	// WriteEpoch writes acceptedEpoch.tmp first: a directory there makes
	// the write fail.
	if err := os.Mkdir(filepath.Join(leader.dur.snapDir(), storage.AcceptedEpochFile+".tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := dialQuorum(t, quorumAddrOf(leader), nil)
	f.followerInfo(1, 0)
	f.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	qp, err := wire.ReadQuorumPacket(f.br, jute.QuorumMaxBuffer)
	if err == nil {
		t.Fatalf("the leader sent %v %v although it could not persist the epoch", qp.Type, qp.Zxid)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the leader kept the connection after failing to persist the epoch")
	}
	if after, err := storage.ReadEpoch(leader.dur.snapDir(), storage.AcceptedEpochFile); err != nil || after != before {
		t.Fatalf("acceptedEpoch %d, %v; want %d", after, err, before)
	}
}

// The serving leader's quorum check counts a learner still in its
// handshake as synced, as Java's LearnerHandler.synced() does (its thread
// is alive and its initLimit+syncLimit deadline has not passed): with
// follower 1 gone and learner 2 waiting to send ACKEPOCH, leader and
// learner 2 are a quorum until 2's connection times out (initLimit*tickTime
// without a packet, Java's soTimeout during the sync). zkgo counted only
// learners whose NEWLEADER had gone out, and stepped down at the next full
// tick.
func TestLeaderCountsLearnerInHandshakeAsSynced(t *testing.T) {
	ports := map[int64]int{1: freePort(t), 2: freePort(t), 3: freePort(t)}
	cfg := quorumMember(t, 3, ports, 20) // tickTime 100: learner 2 counts for 2 s
	leader := startLearner(t, cfg)

	// Follower 1: a whole handshake, so that the leader serves.
	f1 := dialQuorum(t, quorumAddrOf(leader), nil)
	f1.followerInfo(1, 0)
	if qp := f1.readPacket(); qp.Type != wire.PacketLeaderInfo {
		t.Fatalf("first packet %v, want LEADERINFO", qp.Type)
	}
	// A fresh learner (current epoch 0, nothing logged): its ACKEPOCH
	// makes the epoch's quorum.
	f1.write(wire.QuorumPacket{Type: wire.PacketAckEpoch, Zxid: 0, Data: wire.EpochData(0)})
	var nl wire.Zxid
	for nl == 0 {
		if qp := f1.readPacket(); qp.Type == wire.PacketNewLeader {
			nl = qp.Zxid
		}
	}
	f1.write(wire.QuorumPacket{Type: wire.PacketAck, Zxid: nl})
	for qp := f1.readPacket(); qp.Type != wire.PacketUpToDate; qp = f1.readPacket() {
	}
	waitFor(t, func() bool { return leader.qs.Mode() == "leader" })

	// Learner 2 connects and gets LEADERINFO; its ACKEPOCH never comes.
	f2 := dialQuorum(t, quorumAddrOf(leader), nil)
	f2.followerInfo(2, 0)
	if qp := f2.readPacket(); qp.Type != wire.PacketLeaderInfo {
		t.Fatalf("first packet %v, want LEADERINFO", qp.Type)
	}
	var elections int64
	call(t, leader, func() { elections = leader.qs.peer.stats.elections })
	connected := time.Now()
	f1.c.Close()
	// The step-down: the leader goes LOOKING and asks for an election in
	// the same step (its test elector makes it lead again at once, so its
	// mode need not show it).
	waitFor(t, func() bool {
		var n int64
		call(t, leader, func() { n = leader.qs.peer.stats.elections })
		return n > elections
	})
	// 2's connection times out initLimit*tickTime after its FOLLOWERINFO;
	// until then the leader and 2 are a quorum. Half of that is far more
	// than the full tick the leader took to step down without counting 2.
	readTimeout := time.Duration(cfg.InitLimit*cfg.TickTime) * time.Millisecond
	if took := time.Since(connected); took < readTimeout/2 {
		t.Fatalf("the leader stepped down %v after learner 2 connected; it counts as synced for %v", took, readTimeout)
	}
}

// Once a quorum acked the epoch, the leader takes a learner's ACKEPOCH
// without comparing it with its own state when it began: Java's
// Leader.waitForEpochAck returns before that check once the election
// finished, and the sync brings back a learner that had logged more of the
// old epoch than the leader. zkgo refused it ("Follower is ahead of the
// leader") for as long as that leader led.
func TestLeaderSyncsLearnerAheadOfOldEpochAfterEstablishment(t *testing.T) {
	ports := map[int64]int{1: freePort(t), 2: freePort(t), 3: freePort(t)}
	leader := startLearner(t, quorumMember(t, 3, ports, 20))
	// Follower 1 makes the epoch's quorum: the leader serves epoch 1.
	f1 := dialQuorum(t, quorumAddrOf(leader), nil)
	f1.followerInfo(1, 0)
	if qp := f1.readPacket(); qp.Type != wire.PacketLeaderInfo {
		t.Fatalf("first packet %v, want LEADERINFO", qp.Type)
	}
	f1.write(wire.QuorumPacket{Type: wire.PacketAckEpoch, Zxid: 0, Data: wire.EpochData(0)})
	var nl wire.Zxid
	for nl == 0 {
		if qp := f1.readPacket(); qp.Type == wire.PacketNewLeader {
			nl = qp.Zxid
		}
	}
	f1.write(wire.QuorumPacket{Type: wire.PacketAck, Zxid: nl})
	waitFor(t, func() bool { return leader.qs.Mode() == "leader" })
	// Learner 2 logged five txns of epoch 0 the leader never had (its
	// current epoch is the leader's old one, 0).
	f2 := dialQuorum(t, quorumAddrOf(leader), nil)
	f2.followerInfo(2, 0)
	if qp := f2.readPacket(); qp.Type != wire.PacketLeaderInfo {
		t.Fatalf("first packet %v, want LEADERINFO", qp.Type)
	}
	f2.write(wire.QuorumPacket{Type: wire.PacketAckEpoch, Zxid: wire.MakeZxid(0, 5), Data: wire.EpochData(0)})
	f2.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	qp, err := wire.ReadQuorumPacket(f2.br, jute.QuorumMaxBuffer)
	if err != nil {
		t.Fatalf("no sync for the learner ahead of the leader's old epoch: %v", err)
	}
	switch qp.Type {
	case wire.PacketDiff, wire.PacketTrunc, wire.PacketSnap:
	default:
		t.Fatalf("first packet after ACKEPOCH %v, want DIFF, TRUNC or SNAP", qp.Type)
	}
}
