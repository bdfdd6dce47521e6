package compattest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node"
	"github.com/zkgo/zkgo/wire"
)

// Issue 14, point 8: a learner synced by SNAP while the leader commits
// txns must not report digest mismatches. The zkgo leader's tree walk is
// held (node.Config.SnapSyncGate) until writes have been committed, so the
// snapshot is certain to contain txns committed during the walk.

// snapWalkHold is a SnapSyncGate a test can close and open.
type snapWalkHold struct {
	hold atomic.Bool
	hit  chan struct{} // a walk was held
}

func newSnapWalkHold() *snapWalkHold { return &snapWalkHold{hit: make(chan struct{}, 1)} }

func (h *snapWalkHold) gate() bool {
	if !h.hold.Load() {
		return true
	}
	select {
	case h.hit <- struct{}{}:
	default:
	}
	return false
}

// waitHeld waits until the leader holds a SNAP walk.
func (h *snapWalkHold) waitHeld(t *testing.T) {
	t.Helper()
	select {
	case <-h.hit:
	case <-time.After(60 * time.Second):
		t.Fatal("the leader started no SNAP walk within 60s")
	}
}

// snapUnderWritesEnsemble has zkgo member 3 lead (it starts first, with the
// highest sid) with its SNAP walks under the test's control.
func snapUnderWritesEnsemble(t *testing.T, specs []harness.MemberSpec, startOthers func(e *zkgoEnsemble)) (*zkgoEnsemble, *snapWalkHold) {
	t.Helper()
	harness.SkipShort(t)
	// initLimit 50 x 200 ms: the learners wait 10 s for each sync packet,
	// far more than the held walk takes.
	m := harness.NewMixed(t, harness.MixedOptions{Members: specs, TickTime: 200, InitLimit: 50, SyncLimit: 10})
	e := &zkgoEnsemble{t: t, m: m, zk: map[int64]*harness.Zkgo{}}
	hold := newSnapWalkHold()
	m.Release(3)
	e.zk[3] = harness.StartZkgoMember(t, m.ConfigPath(3), func(c *node.Config) { c.SnapSyncGate = hold.gate })
	startOthers(e)
	if id := e.leader(); id != 3 {
		t.Fatalf("leader %d, want zkgo (3)", id)
	}
	return e, hold
}

// writesDuringHeldSnap restarts member f from an empty data directory (so
// the leader syncs it by SNAP), commits creates, sets and deletes while
// the leader's walk is held, then lets the walk finish and waits until f
// follows and has every write.
func writesDuringHeldSnap(t *testing.T, e *zkgoEnsemble, hold *snapWalkHold, f int64, java bool) {
	t.Helper()
	cz := zkConn(t, e.zk[3].Addr)
	for i := 0; i < 20; i++ {
		_, err := cz.Create(fmt.Sprintf("/base%d", i), []byte("v0"), 0, open)
		must(t, err)
	}
	if java {
		e.m.Kill(f)
	} else {
		e.stop(f)
	}
	e.m.Wipe(f)
	hold.hold.Store(true)
	if java {
		e.m.Start(f)
	} else {
		e.start(f)
	}
	hold.waitHeld(t)
	// Committed by the leader and the other follower while f's snapshot
	// is being walked: every one of them is in the snapshot f gets.
	for i := 0; i < 10; i++ {
		_, err := cz.Create(fmt.Sprintf("/during%d", i), []byte("d"), 0, open)
		must(t, err)
		_, err = cz.Set(fmt.Sprintf("/base%d", i), []byte("v1"), -1)
		must(t, err)
	}
	for i := 10; i < 15; i++ {
		must(t, cz.Delete(fmt.Sprintf("/base%d", i), -1))
	}
	hold.hold.Store(false)
	var addr string
	if java {
		e.m.WaitMode(t, f, "follower", 60*time.Second)
		addr = e.m.ClientAddr(f)
	} else {
		harness.WaitZkgoMode(t, e.zk[f], "follower", 60*time.Second)
		addr = e.zk[f].Addr
	}
	// And after the sync: txns the learner applies on the snapshot's tree.
	for i := 0; i < 5; i++ {
		_, err := cz.Create(fmt.Sprintf("/after%d", i), []byte("a"), 0, open)
		must(t, err)
	}
	c := zkConn(t, addr)
	_, err := c.Sync("/")
	must(t, err)
	waitData(t, c, "/during9", []byte("d"))
	waitData(t, c, "/base9", []byte("v1"))
	waitData(t, c, "/after4", []byte("a"))
	if ok, _, err := c.Exists("/base14"); err != nil || ok {
		t.Fatalf("/base14 exists=%v err=%v on member %d after the sync", ok, err, f)
	}
}

// zkgoMntr is the value of key in a zkgo member's mntr output.
func zkgoMntr(t *testing.T, z *harness.Zkgo, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := z.Server.Monitor(ctx)
	must(t, err)
	for _, p := range kv {
		if p[0] == key {
			return p[1]
		}
	}
	t.Fatalf("no %s in mntr", key)
	return ""
}

func zkgoDigestMismatches(t *testing.T, z *harness.Zkgo) string {
	t.Helper()
	return zkgoMntr(t, z, "digest_mismatches_count")
}

func TestLeader_SnapSyncDuringWritesZkgoFollower(t *testing.T) {
	e, hold := snapUnderWritesEnsemble(t, []harness.MemberSpec{
		{ID: 1, Kind: harness.MemberExternal}, {ID: 2, Kind: harness.MemberExternal}, {ID: 3, Kind: harness.MemberExternal}},
		func(e *zkgoEnsemble) {
			e.start(1)
			e.start(2)
		})
	writesDuringHeldSnap(t, e, hold, 1, false)
	for _, id := range []int64{1, 2, 3} {
		if n := zkgoDigestMismatches(t, e.zk[id]); n != "0" {
			t.Errorf("zkgo member %d counted %s digest mismatches", id, n)
		}
	}
}

func TestLeader_SnapSyncDuringWritesJavaFollower(t *testing.T) {
	harness.RequireJava(t)
	e, hold := snapUnderWritesEnsemble(t, []harness.MemberSpec{
		{ID: 1, Kind: harness.MemberJava}, {ID: 2, Kind: harness.MemberExternal}, {ID: 3, Kind: harness.MemberExternal}},
		func(e *zkgoEnsemble) {
			e.start(2)
			e.m.Start(1)
		})
	e.m.WaitMode(t, 1, "follower", 60*time.Second)
	writesDuringHeldSnap(t, e, hold, 1, true)
	out, err := harness.FourLetter(e.m.ClientAddr(1), "mntr")
	must(t, err)
	if n := strings.TrimSpace(mntrValue(out, "zk_digest_mismatches_count")); n != "0" {
		t.Errorf("Java follower: zk_digest_mismatches_count %q, want 0", n)
	}
	checkJavaLogsOf(t, e.m, 1)
	for _, id := range []int64{2, 3} {
		if n := zkgoDigestMismatches(t, e.zk[id]); n != "0" {
			t.Errorf("zkgo member %d counted %s digest mismatches", id, n)
		}
	}
}

// Issue 14, point 7: a FOLLOWERINFO whose accepted epoch leaves no next
// epoch. Member 1 is a zkgo election service that votes and then plays the
// learner byte by byte; member 3 (Java or zkgo) leads and waits for it to
// complete the epoch quorum. Java 3.8.0 reads the epoch from the zxid with
// a signed shift: 0xffffffff is -1 and is ignored (epoch 1), 0x7fffffff
// makes it propose 0x80000000, a negative zxid it also persists. zkgo
// closes both connections and proposes epoch 1 to a real learner.
func TestCompat_LeaderForgedAcceptedEpoch(t *testing.T) {
	for _, java := range []bool{true, false} {
		name := "zkgo"
		if java {
			name = "java"
		}
		t.Run(name, func(t *testing.T) {
			for _, forged := range []uint32{0xffffffff, 0x7fffffff} {
				leader := harness.MemberJava
				if !java {
					leader = harness.MemberExternal
				}
				mx := newElectionEnsemble(t,
					harness.MemberSpec{ID: 1, Kind: harness.MemberExternal},
					harness.MemberSpec{ID: 2, Kind: harness.MemberJava},
					harness.MemberSpec{ID: 3, Kind: leader},
				)
				ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
				defer cancel()
				svc, _ := startElection(t, mx, 1, false)
				res := lookAsync(ctx, svc, 0, 0)
				var z *harness.Zkgo
				if java {
					mx.Start(3)
				} else {
					mx.Release(3)
					z = harness.StartZkgoMember(t, mx.ConfigPath(3), nil)
				}
				if out := waitElection(t, res, 30*time.Second); out.Vote.Leader != 3 {
					t.Fatalf("elected %d, want 3", out.Vote.Leader)
				}
				f := dialLearner(t, mx.QuorumAddr(3))
				f.followerInfo(1, wire.MakeZxid(forged, 0))
				qp, err := f.read(5 * time.Second)
				switch {
				case !java && err == nil:
					t.Fatalf("zkgo leader answered accepted epoch %#x with %v %v, want the connection closed", forged, qp.Type, qp.Zxid)
				case !java:
					// Refused; a real learner then gets epoch 1.
					f = dialLearner(t, mx.QuorumAddr(3))
					f.followerInfo(1, 0)
					qp, err = f.read(5 * time.Second)
					if err != nil || qp.Type != wire.PacketLeaderInfo || qp.Zxid != wire.MakeZxid(1, 0) {
						t.Fatalf("zkgo leader after refusing %#x: %v %v (%v), want LEADERINFO 0x100000000", forged, qp.Type, qp.Zxid, err)
					}
				case err != nil || qp.Type != wire.PacketLeaderInfo:
					t.Fatalf("Java leader: %v %v (%v), want LEADERINFO", qp.Type, qp.Zxid, err)
				default:
					want := wire.MakeZxid(1, 0) // -1 ignored
					if forged == 0x7fffffff {
						want = wire.MakeZxid(0x80000000, 0)
					}
					if qp.Zxid != want {
						t.Fatalf("Java leader answered accepted epoch %#x with LEADERINFO %v, want %v", forged, qp.Zxid, want)
					}
					t.Logf("Java 3.8.0 answers accepted epoch %#x with LEADERINFO %v", forged, qp.Zxid)
				}
				f.c.Close()
				svc.Close()
				if java {
					mx.Kill(3)
				} else {
					z.Stop()
				}
			}
		})
	}
}

type rawLearner struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialLearner(t *testing.T, addr string) *rawLearner {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			t.Cleanup(func() { c.Close() })
			return &rawLearner{t: t, c: c, br: bufio.NewReader(c)}
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *rawLearner) followerInfo(sid int64, z wire.Zxid) {
	f.t.Helper()
	info := wire.LearnerInfo{ServerID: sid, ProtocolVersion: wire.ProtocolVersion}
	qp := wire.QuorumPacket{Type: wire.PacketFollowerInfo, Zxid: z, Data: jute.Marshal(&info)}
	var w jute.Writer
	qp.Encode(&w)
	if _, err := f.c.Write(w.Bytes()); err != nil {
		f.t.Fatal(err)
	}
}

func (f *rawLearner) read(d time.Duration) (wire.QuorumPacket, error) {
	f.c.SetReadDeadline(time.Now().Add(d))
	return wire.ReadQuorumPacket(f.br, jute.QuorumMaxBuffer)
}
