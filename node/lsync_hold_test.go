package node

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

// ZOOKEEPER-4394: a Java 3.8.0 follower forgets at NEWLEADER the proposals
// it got before it, and dies on a COMMIT after NEWLEADER that has no
// PROPOSAL after NEWLEADER. The zkgo leader therefore holds the proposals
// it forwards to a syncing follower: committed ones go out as PROPOSAL +
// COMMIT before NEWLEADER, the rest right after NEWLEADER. A scripted
// learner (sid 2) syncs from a zkgo leader (3) whose other follower (1)
// acknowledges everything; the test gates the leader's commits and SNAP
// walk (Config.CommitGate, SnapSyncGate) so proposals are outstanding while
// the learner syncs, and checks the exact order of what it receives.

// holdHarness is leader 3 and follower 1, with a client on the leader.
type holdHarness struct {
	t        *testing.T
	leader   *Server
	ports    map[int64]int
	commit   atomic.Bool // CommitGate: true lets the leader commit
	walk     atomic.Bool // SnapSyncGate: true lets SNAP walks go on
	walkHit  chan struct{}
	openOnNL atomic.Bool // open the commit gate when NEWLEADER is queued for sid 2
	cc       *fakeSink
	conn     any
	xid      int32
}

func newHoldHarness(t *testing.T, forceSnap bool) *holdHarness {
	t.Helper()
	hh := &holdHarness{t: t, walkHit: make(chan struct{}, 1)}
	hh.commit.Store(true)
	hh.walk.Store(true)
	hh.ports = map[int64]int{1: freePort(t), 2: freePort(t), 3: freePort(t)}
	cfg := quorumMember(t, 3, hh.ports, 50)
	cfg.CommitGate = hh.commit.Load
	cfg.SnapSyncGate = func() bool {
		if hh.walk.Load() {
			return true
		}
		select {
		case hh.walkHit <- struct{}{}:
		default:
		}
		return false
	}
	cfg.NewLeaderQueued = func(sid int64) {
		if sid == 2 && hh.openOnNL.Load() {
			hh.commit.Store(true)
		}
	}
	if forceSnap {
		cfg.Properties = map[string]string{"zookeeper.forceSnapshotSync": "true"}
	}
	hh.leader = startLearner(t, cfg)
	follower := startLearner(t, quorumMember(t, 1, hh.ports, 50))
	waitFor(t, func() bool { return hh.leader.qs.Mode() == "leader" && follower.qs.Mode() == "follower" })
	hh.cc = newFakeSink(1)
	hh.conn = hh.leader.Open(hh.cc)
	hh.leader.Submit(hh.conn, []wire.ClientPacket{{Kind: wire.KindConnect, Connect: &wire.Connect{
		ConnectRequest: wire.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}, HasReadOnly: true}}})
	hh.cc.frame(t) // ConnectResponse
	return hh
}

// create submits a create of path without waiting for its reply.
func (hh *holdHarness) create(path string) {
	hh.xid++
	body := &wire.CreateRequest{Path: path, Data: []byte("x"), ACL: []wire.ACL{{Perms: 31, ID: wire.ID{Scheme: "world", ID: "anyone"}}}}
	hh.leader.Submit(hh.conn, []wire.ClientPacket{{Kind: wire.KindRequest,
		Header: wire.RequestHeader{Xid: wire.Xid(hh.xid), Type: wire.OpCreate}, Body: body, Raw: jute.Marshal(body)}})
}

// owner runs fn on the leader's owner goroutine.
func (hh *holdHarness) owner(fn func(s *Server)) {
	hh.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hh.leader.Call(ctx, func() { fn(hh.leader) }); err != nil {
		hh.t.Fatal(err)
	}
}

// waitOutstanding waits until n proposals are outstanding on the leader.
func (hh *holdHarness) waitOutstanding(n int) {
	hh.t.Helper()
	waitFor(hh.t, func() bool {
		var got int
		hh.owner(func(s *Server) { got = len(s.wr.inflight) })
		return got == n
	})
}

// replies reads n OK replies from the client.
func (hh *holdHarness) replies(n int) {
	hh.t.Helper()
	for i := 0; i < n; i++ {
		if rep, _ := hh.cc.reply(hh.t); rep.Err != wire.ErrOk {
			hh.t.Fatalf("reply %+v", rep)
		}
	}
}

// syncLearner2 connects learner 2 and sends ACKEPOCH with lastZxid.
func (hh *holdHarness) syncLearner2(lastZxid wire.Zxid) *fakeLearner {
	hh.t.Helper()
	f := dialQuorum(hh.t, quorumAddrOf(hh.leader), nil)
	f.followerInfo(2, 0)
	qp := f.readPacket()
	if qp.Type != wire.PacketLeaderInfo {
		hh.t.Fatalf("first packet %v, want LEADERINFO", qp.Type)
	}
	// Epoch -1: already counted, so the leader skips the "ahead" check.
	ack := wire.QuorumPacket{Type: wire.PacketAckEpoch, Zxid: lastZxid, Data: wire.EpochData(-1)}
	if _, err := f.c.Write(jute.Marshal(&ack)); err != nil {
		hh.t.Fatal(err)
	}
	return f
}

func (f *fakeLearner) readPacket() wire.QuorumPacket {
	f.t.Helper()
	f.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	qp, err := wire.ReadQuorumPacket(f.br, jute.QuorumMaxBuffer)
	if err != nil {
		f.t.Fatalf("reading from the leader: %v", err)
	}
	return qp
}

// readSyncUntil reads the learner's packets after the sync packet (and
// the snapshot, for SNAP) until wantCommits COMMITs came after NEWLEADER,
// and renders them as "PROPOSAL /path", "COMMIT /path", "NEWLEADER". It
// fails on a COMMIT without an earlier PROPOSAL of the same zxid and on
// proposals out of zxid order.
func readSyncUntil(t *testing.T, f *fakeLearner, wantCommits int) []string {
	t.Helper()
	paths := map[wire.Zxid]string{}
	var out []string
	var last wire.Zxid
	afterNL := -1
	for afterNL < wantCommits {
		qp := f.readPacket()
		switch qp.Type {
		case wire.PacketPing:
			continue
		case wire.PacketProposal:
			e, err := wire.DecodeTxnEntry(qp.Data, jute.QuorumMaxBuffer)
			if err != nil {
				t.Fatal(err)
			}
			if e.Hdr.Zxid <= last {
				t.Fatalf("PROPOSAL %v after %v: zxids out of order (so far %v)", e.Hdr.Zxid, last, out)
			}
			last = e.Hdr.Zxid
			ct, _ := e.Body.(*wire.CreateTxn)
			if ct == nil {
				t.Fatalf("PROPOSAL %v is a %v, want a create", e.Hdr.Zxid, e.Hdr.Type)
			}
			paths[e.Hdr.Zxid] = ct.Path
			out = append(out, "PROPOSAL "+ct.Path)
		case wire.PacketCommit:
			p, ok := paths[qp.Zxid]
			if !ok {
				t.Fatalf("COMMIT %v without a PROPOSAL before it (so far %v)", qp.Zxid, out)
			}
			out = append(out, "COMMIT "+p)
			if afterNL >= 0 {
				afterNL++
			}
		case wire.PacketNewLeader:
			out = append(out, "NEWLEADER")
			afterNL = 0
		default:
			t.Fatalf("unexpected %v %v (so far %v)", qp.Type, qp.Zxid, out)
		}
	}
	return out
}

func TestLeaderHoldsProposalsForSyncingFollowerDiff(t *testing.T) {
	hh := newHoldHarness(t, false)
	hh.create("/before")
	hh.replies(1)
	// Two proposals acknowledged by the quorum, not committed, while
	// learner 2 syncs by DIFF; they commit as soon as its NEWLEADER is
	// queued (before it can be ACKed, the window of ZOOKEEPER-4394).
	hh.commit.Store(false)
	hh.openOnNL.Store(true)
	hh.create("/u1")
	hh.create("/u2")
	hh.waitOutstanding(2)
	var lastCommitted wire.Zxid
	hh.owner(func(s *Server) { lastCommitted = s.tree.LastZxid })
	f := hh.syncLearner2(lastCommitted)
	if qp := f.readPacket(); qp.Type != wire.PacketDiff || qp.Zxid != lastCommitted {
		t.Fatalf("sync packet %v %v, want DIFF %v", qp.Type, qp.Zxid, lastCommitted)
	}
	got := strings.Join(readSyncUntil(t, f, 2), ", ")
	want := "NEWLEADER, PROPOSAL /u1, PROPOSAL /u2, COMMIT /u1, COMMIT /u2"
	if got != want {
		t.Fatalf("learner 2 got\n  %s\nwant\n  %s", got, want)
	}
	hh.replies(2)
}

func TestLeaderHoldsProposalsForSyncingFollowerSnap(t *testing.T) {
	hh := newHoldHarness(t, true)
	hh.create("/before")
	hh.replies(1)
	hh.walk.Store(false)
	f := hh.syncLearner2(0)
	select {
	case <-hh.walkHit:
	case <-time.After(10 * time.Second):
		t.Fatal("the leader started no SNAP walk")
	}
	// Committed during the walk: PROPOSAL+COMMIT pairs before NEWLEADER.
	hh.create("/c1")
	hh.create("/c2")
	hh.replies(2)
	// Outstanding when the walk ends: after NEWLEADER.
	hh.commit.Store(false)
	hh.openOnNL.Store(true)
	hh.create("/u1")
	hh.create("/u2")
	hh.waitOutstanding(2)
	hh.walk.Store(true)
	qp := f.readPacket()
	if qp.Type != wire.PacketSnap {
		t.Fatalf("sync packet %v, want SNAP", qp.Type)
	}
	sr := storage.NewStreamReaderFrom(f.br, jute.QuorumMaxBuffer)
	ld := &loader{t: tree.NewEmpty(hh.leader.opts), sessions: map[wire.SessionID]int32{}}
	if err := storage.ReadSessions(sr, ld); err != nil {
		t.Fatal(err)
	}
	if err := storage.ReadDataTree(sr, ld); err != nil {
		t.Fatal(err)
	}
	if sig, err := sr.String(); err != nil || sig != wire.SnapSignature {
		t.Fatalf("signature %q %v", sig, err)
	}
	got := strings.Join(readSyncUntil(t, f, 2), ", ")
	want := "PROPOSAL /c1, COMMIT /c1, PROPOSAL /c2, COMMIT /c2, NEWLEADER, PROPOSAL /u1, PROPOSAL /u2, COMMIT /u1, COMMIT /u2"
	if got != want {
		t.Fatalf("learner 2 got\n  %s\nwant\n  %s", got, want)
	}
	hh.replies(2)
	if ld.t.Get("/before") == nil {
		t.Fatal("the snapshot lacks /before")
	}
}
