package compattest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/internal/rawzk"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

// zkgo as a follower or observer of real Java 3.8 ensembles (issue 6):
// replication both ways, watches, session lifetime, leader failover with
// zkgo's vote, and each sync mode (DIFF, SNAP, TRUNC) checked on the wire.

// learnerEnsemble is a mixed ensemble whose zkgo member dials the leaders'
// quorum ports through taps, so the test can decode what Java sent it.
type learnerEnsemble struct {
	t    *testing.T
	m    *harness.Mixed
	zkID int64
	zk   *harness.Zkgo
	taps map[int64]*harness.Tap // by Java member id
}

func newLearnerEnsemble(t *testing.T, specs []harness.MemberSpec) *learnerEnsemble {
	harness.SkipShort(t)
	harness.RequireJava(t)
	m := harness.NewMixed(t, harness.MixedOptions{Members: specs, TickTime: 200, InitLimit: 20, SyncLimit: 10})
	e := &learnerEnsemble{t: t, m: m, taps: map[int64]*harness.Tap{}}
	for _, s := range specs {
		if s.Kind == harness.MemberExternal {
			e.zkID = s.ID
			continue
		}
		e.taps[s.ID] = harness.NewTap(t, m.QuorumAddr(s.ID))
	}
	return e
}

// startZkgo starts (or restarts) the zkgo member.
func (e *learnerEnsemble) startZkgo() *harness.Zkgo {
	e.t.Helper()
	if e.zk != nil {
		e.zk.Stop()
	}
	e.m.Release(e.zkID)
	e.zk = harness.StartZkgoMember(e.t, e.m.ConfigPath(e.zkID), func(c *node.Config) {
		c.QuorumDialer = func(ctx context.Context, addr string) (net.Conn, error) {
			for id, tp := range e.taps {
				if e.m.QuorumAddr(id) == addr {
					addr = fmt.Sprintf("127.0.0.1:%d", tp.Port())
				}
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}
	})
	return e.zk
}

// waitLearner waits until zkgo serves as mode and its zxid matches the
// leader's.
func (e *learnerEnsemble) waitLearner(mode string) {
	e.t.Helper()
	harness.WaitZkgoMode(e.t, e.zk, mode, 60*time.Second)
}

// syncModes decodes the sync packet (the one after LEADERINFO) of every
// connection zkgo made to leader id, oldest first.
func (e *learnerEnsemble) syncModes(id int64) []wire.PacketType {
	var out []wire.PacketType
	for _, c := range e.taps[id].Conns() {
		r := bytes.NewReader(c.Down())
		first, err := wire.ReadQuorumPacket(r, jute.QuorumMaxBuffer)
		if err != nil || first.Type != wire.PacketLeaderInfo {
			continue
		}
		second, err := wire.ReadQuorumPacket(r, jute.QuorumMaxBuffer)
		if err != nil {
			continue
		}
		out = append(out, second.Type)
	}
	return out
}

// lastSyncMode waits for zkgo's newest connection to the leader to carry
// its sync packet and returns it.
func (e *learnerEnsemble) lastSyncMode(leader int64, conns int) wire.PacketType {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		modes := e.syncModes(leader)
		if len(modes) >= conns {
			return modes[len(modes)-1]
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no sync packet on connection %d to leader %d (saw %v)", conns, leader, modes)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *learnerEnsemble) leader() int64 {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if id, ok := e.m.Leader(); ok {
			return id
		}
		if time.Now().After(deadline) {
			e.t.Fatal("no Java leader within 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkJavaLogs fails the test on exceptions in the Java members' logs
// other than the connection errors that members going up and down cause,
// and ZOOKEEPER-4394 in a Java follower of a Java leader (javaExceptions)
// with its reload aftermath (javaHit4394), as the reconfig tests allow.
func (e *learnerEnsemble) checkJavaLogs() {
	e.t.Helper()
	for id := range e.taps {
		hit4394 := javaHit4394(e.m, id)
		for _, line := range javaExceptions(e.m, id) {
			if benignJavaLine(line) || (hit4394 && zk4394Reload.MatchString(line)) {
				continue
			}
			// Java's notes about another Java peer (e.g. the old leader
			// rejoining with txns of its lost epoch) are not about zkgo.
			if m := peerSid.FindStringSubmatch(line); m != nil && m[1] != strconv.FormatInt(e.zkID, 10) {
				continue
			}
			e.t.Errorf("Java member %d logged: %s", id, line)
		}
	}
}

// benignJavaLine reports whether a Java log line is an expected effect of
// a peer stopping, starting or being killed (what Java logs for its own
// peers too), not of anything zkgo sent.
var benignJava = regexp.MustCompile(strings.Join([]string{
	`ConnectException: Connection refused`,
	`java\.io\.EOFException`,
	`SocketException: (Connection reset|Socket closed|Broken pipe|Socket is closed)`,
	`SocketTimeoutException: Read timed out`,
	`Exception when following the leader`, // a Java follower whose leader was killed
	`Exception while listening|Exception while trying to get the leader`,
	`Exception while sending packets in LearnerHandler`, // the learner closed its socket (restart)
	`Failed connect to /`, // a learner dialing a leader that just stepped down
	`Cannot open channel to \d+ at election address`,
	`Unexpected exception causing shutdown while sock still open`, // LearnerHandler after a learner left
	`Unable to read additional data from (client|server)`,
	`Exception causing close of session`,
	`Unexpected exception, tries=|connectToLeader exceeded|Unexpected exception, connectToLeader exceeded|retries exceeded`,
	`Interrupted while waiting for message on queue`,
	`Unexpected exception in LearnerHandler`,
	`Exception reading or writing challenge`,
	`Connection broken for id`,
	`Failed to send last message\. Shutting down thread`, // QuorumCnxManager.SendWorker: the peer's election socket closed
	`Error sending data synchronously`,                   // NIOServerCnxn.sendBufferSync: a four-letter word's client left first
	`java\.nio\.channels\.(ClosedChannelException|AsynchronousCloseException)`,
	`java\.lang\.InterruptedException$`,        // threads stopped on a role change
	`IOException: ZooKeeperServer not running`, // a client connected while the member was electing
	`^\s*at `,
	`^\s*\.\.\. \d+ more`,
	`Caused by: java\.(net|io)\.`,
	`IOException: (Connection reset by peer|Broken pipe)`,
	`Leaving LEADING|LOOKING`,
	`WARN`, // warnings are not exceptions; only ERROR/Exception lines are judged
}, "|"))

var peerSid = regexp.MustCompile(`peer sid: (\d+)`)

func benignJavaLine(line string) bool {
	if strings.Contains(line, "Exception") || strings.Contains(line, "ERROR") {
		return benignJava.MatchString(line) && !strings.Contains(line, "NullPointerException") &&
			!strings.Contains(line, "IllegalArgumentException") && !strings.Contains(line, "ahead of the leader") &&
			!strings.Contains(line, "Digest mismatch")
	}
	return true
}

func zkConn(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, _ := connect(t, addr, 10*time.Second)
	return c
}

// quietConn is a session whose end a test can wait for. The sync-mode
// tests hand a stopped member a txn at the leader's next zxid; if a
// session of that member closed or expired on the leader after that zxid
// was read, its closeSession would take the same zxid, the leader would
// see nothing to truncate, and the phantom txn would rightly stay (as on
// Java). quietConn owns an ephemeral node so the test can wait until its
// session's end is committed before it reads the zxid.
type quietConn struct {
	*zk.Conn
	marker string
}

func openQuiet(t *testing.T, addr string) *quietConn {
	t.Helper()
	c := zkConn(t, addr)
	marker := fmt.Sprintf("/quiet-%x", c.SessionID())
	_, err := c.Create(marker, nil, zk.FlagEphemeral, open)
	must(t, err)
	return &quietConn{Conn: c, marker: marker}
}

// closeQuiet closes q's session and waits until its ephemeral node is gone
// as seen through other, a session on another member (closeSession
// committed, or the session expired when the close did not get through).
func (q *quietConn) closeQuiet(t *testing.T, other *zk.Conn) {
	t.Helper()
	q.Close()
	deadline := time.Now().Add(40 * time.Second)
	for {
		ok, _, err := other.Exists(q.marker)
		if err == nil && !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("session of %s still open on the ensemble: exists=%v err=%v", q.marker, ok, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitData polls path on c until it holds want (or, with want nil, until
// it does not exist).
func waitData(t *testing.T, c *zk.Conn, path string, want []byte) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, _, err := c.Get(path)
		switch {
		case want == nil && errors.Is(err, zk.ErrNoNode):
			return
		case want != nil && err == nil && bytes.Equal(got, want):
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: got %q, %v; want %q", path, got, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLearner_FollowerInJavaEnsemble(t *testing.T) {
	e := newLearnerEnsemble(t, []harness.MemberSpec{
		{ID: 1, Kind: harness.MemberExternal}, {ID: 2, Kind: harness.MemberJava}, {ID: 3, Kind: harness.MemberJava}})
	e.m.Start(2)
	e.m.Start(3)
	leader := e.leader()
	e.startZkgo()
	e.waitLearner("follower")
	if mode := e.lastSyncMode(leader, 1); mode != wire.PacketSnap && mode != wire.PacketDiff {
		t.Fatalf("first sync of an empty zkgo was %v", mode)
	}

	cz := zkConn(t, e.zk.Addr)
	c2 := zkConn(t, e.m.ClientAddr(2))
	c3 := zkConn(t, e.m.ClientAddr(3))
	all := []*zk.Conn{cz, c2, c3}

	// Writes through any node are visible on all.
	for i, c := range all {
		p := fmt.Sprintf("/w%d", i)
		_, err := c.Create(p, []byte(p), 0, open)
		must(t, err)
		for _, r := range all {
			_, err := r.Sync(p)
			must(t, err)
			waitData(t, r, p, []byte(p))
		}
	}
	// Sequential nodes, multi and setData through zkgo are the leader's txns.
	seq, err := cz.Create("/seq-", nil, zk.FlagSequence, open)
	must(t, err)
	if !strings.HasPrefix(seq, "/seq-000000") {
		t.Fatalf("sequential create through zkgo: %q", seq)
	}
	_, err = cz.Multi(&zk.CreateRequest{Path: "/m1", Data: []byte("a"), Acl: open},
		&zk.SetDataRequest{Path: "/w1", Data: []byte("b"), Version: 0})
	must(t, err)
	waitData(t, c3, "/w1", []byte("b"))
	_, err = cz.Create("/w0", nil, 0, open)
	wantErr(t, err, zk.ErrNodeExists)
	_, err = cz.Set("/w0", []byte("x"), 7)
	wantErr(t, err, zk.ErrBadVersion)

	// Watches set on zkgo fire for writes made through Java.
	_, _, dw, err := cz.GetW("/w2")
	must(t, err)
	_, _, cw, err := cz.ChildrenW("/")
	must(t, err)
	_, err = c2.Set("/w2", []byte("changed"), -1)
	must(t, err)
	if ev := waitEvent(t, dw, "data"); ev.Type != zk.EventNodeDataChanged || ev.Path != "/w2" {
		t.Fatalf("data watch: %+v", ev)
	}
	_, err = c3.Create("/new-child", nil, 0, open)
	must(t, err)
	if ev := waitEvent(t, cw, "children"); ev.Type != zk.EventNodeChildrenChanged {
		t.Fatalf("child watch: %+v", ev)
	}

	// An ephemeral of a zkgo session vanishes everywhere when the session
	// closes...
	owner := zkConn(t, e.zk.Addr)
	_, err = owner.Create("/eph", []byte("e"), zk.FlagEphemeral, open)
	must(t, err)
	waitData(t, c2, "/eph", []byte("e"))
	owner.Close()
	for _, c := range all {
		waitData(t, c, "/eph", nil)
	}
	// ...and when it expires: the session's client vanishes without a
	// closeSession and zkgo stops reporting it in its PING replies, so the
	// Java leader expires it.
	raw, err := rawzk.Dial(e.zk.Addr, rawzk.Options{TimeoutMs: 4000})
	must(t, err)
	h, err := raw.Do(wire.OpCreate, &wire.CreateRequest{Path: "/eph2", Data: []byte("e2"), ACL: tree.OpenACLUnsafe,
		Flags: int32(wire.ModeEphemeral)}, nil)
	must(t, err)
	if h.Err != wire.ErrOk {
		t.Fatal(h.Err)
	}
	waitData(t, c3, "/eph2", []byte("e2"))
	_, _, gone, err := c2.ExistsW("/eph2")
	must(t, err)
	// Longer than the 4s timeout: the client's pings to zkgo, relayed in
	// zkgo's PING replies, keep the session alive on the Java leader.
	for i := 0; i < 6; i++ {
		time.Sleep(time.Second)
		if _, err := raw.Do(wire.OpPing, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err = c2.Get("/eph2")
	must(t, err)
	raw.Close()
	if ev := waitEvent(t, gone, "expiry"); ev.Type != zk.EventNodeDeleted {
		t.Fatalf("expiry: %+v", ev)
	}
	for _, c := range all {
		waitData(t, c, "/eph2", nil)
	}
	// zkgo's tree digest agreed with the leader's on every txn.
	if out, _ := harness.FourLetter(e.zk.Addr, "mntr"); !strings.Contains(out, "zk_digest_mismatches_count\t0\n") ||
		!strings.Contains(out, "zk_server_state\tfollower\n") {
		t.Fatalf("mntr on zkgo:\n%s", out)
	}
	e.checkJavaLogs()
}

func TestLearner_ObserverInJavaEnsemble(t *testing.T) {
	e := newLearnerEnsemble(t, []harness.MemberSpec{
		{ID: 1, Kind: harness.MemberJava}, {ID: 2, Kind: harness.MemberJava}, {ID: 3, Kind: harness.MemberJava},
		{ID: 4, Kind: harness.MemberExternal, Observer: true}})
	for id := int64(1); id <= 3; id++ {
		e.m.Start(id)
	}
	leader := e.leader()
	e.startZkgo()
	e.waitLearner("observer")
	cz := zkConn(t, e.zk.Addr)
	cl := zkConn(t, e.m.ClientAddr(leader))
	_, _, w, err := cz.GetW("/obs")
	wantErr(t, err, zk.ErrNoNode)
	_, _, w, err = cz.ExistsW("/obs")
	must(t, err)
	_, err = cl.Create("/obs", []byte("1"), 0, open)
	must(t, err)
	if ev := waitEvent(t, w, "created"); ev.Type != zk.EventNodeCreated {
		t.Fatalf("%+v", ev)
	}
	_, err = cz.Create("/from-observer", []byte("2"), 0, open)
	must(t, err)
	waitData(t, cl, "/from-observer", []byte("2"))
	// The observer never counts in the quorum: with two of the three
	// voters gone, the last voter and zkgo cannot go on.
	var others []int64
	for id := int64(1); id <= 3; id++ {
		if id != leader {
			others = append(others, id)
		}
	}
	e.m.Kill(others[0])
	e.m.Kill(others[1])
	deadline := time.Now().Add(30 * time.Second)
	for e.zk.Server.Mode() == "observer" {
		if time.Now().After(deadline) {
			t.Fatal("zkgo still observing a leader that lost its quorum")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	if mode, _ := e.m.Mode(leader); mode == "leader" {
		t.Fatal("the Java leader kept leading with only an observer")
	}
	if e.zk.Server.Mode() == "observer" {
		t.Fatal("zkgo observes a leader although no quorum of voters exists")
	}
	// A voter comes back: a quorum forms, zkgo observes it again.
	e.m.Start(others[0])
	e.leader()
	e.waitLearner("observer")
	waitData(t, zkConn(t, e.zk.Addr), "/from-observer", []byte("2"))
	e.checkJavaLogs()
}

func TestLearner_LeaderFailover(t *testing.T) {
	e := newLearnerEnsemble(t, []harness.MemberSpec{
		{ID: 1, Kind: harness.MemberExternal}, {ID: 2, Kind: harness.MemberJava}, {ID: 3, Kind: harness.MemberJava}})
	e.m.Start(2)
	e.m.Start(3)
	first := e.leader()
	e.startZkgo()
	e.waitLearner("follower")

	// Writers through zkgo and through the Java follower record what was
	// acknowledged before and after the leader is killed.
	var mu sync.Mutex
	acked := map[string]bool{}
	other := int64(5) - first // the Java member that is not the leader
	writers := func(phase string) (stop func()) {
		done := make(chan struct{})
		var wg sync.WaitGroup
		write := func(name, addr string) {
			defer wg.Done()
			c, _, err := zk.Connect([]string{addr}, 8*time.Second, zk.WithLogger(quietLogger{}))
			if err != nil {
				return
			}
			defer c.Close()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				p := fmt.Sprintf("/%s-%s-%d", name, phase, i)
				if _, err := c.Create(p, []byte(p), 0, open); err == nil {
					mu.Lock()
					acked[p] = true
					mu.Unlock()
				} else {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}
		wg.Add(2)
		go write("zkgo", e.zk.Addr)
		go write("java", e.m.ClientAddr(other))
		return func() { close(done); wg.Wait() }
	}
	stop := writers("before")
	time.Sleep(2 * time.Second)
	stop()
	// zkgo cannot lead, so it only votes for a leader whose history covers
	// its own: the kill comes once the survivor has everything zkgo has
	// (otherwise zkgo would rightly refuse to elect it, see node/fle).
	deadline := time.Now().Add(10 * time.Second)
	for srvrZxid(t, e.zk.Addr) != srvrZxid(t, e.m.ClientAddr(other)) || srvrZxid(t, e.m.ClientAddr(first)) != srvrZxid(t, e.zk.Addr) {
		if time.Now().After(deadline) {
			t.Fatal("members did not converge")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop = writers("after")
	e.m.Kill(first)
	// The survivor can only lead with zkgo's vote (2 of 3).
	deadline = time.Now().Add(60 * time.Second)
	for {
		if mode, _ := e.m.Mode(other); mode == "leader" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Java member %d did not become leader with zkgo's vote", other)
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.waitLearner("follower")
	if mode := e.lastSyncMode(other, 1); mode != wire.PacketDiff && mode != wire.PacketSnap && mode != wire.PacketTrunc {
		t.Fatalf("resync with the new leader: %v", mode)
	}
	time.Sleep(2 * time.Second) // writes through the new leader, too
	stop()
	mu.Lock()
	var before, after int
	for p := range acked {
		if strings.Contains(p, "-before-") {
			before++
		} else {
			after++
		}
	}
	mu.Unlock()
	if before < 10 || after < 10 {
		t.Fatalf("acknowledged writes: %d before the kill, %d after", before, after)
	}
	// No acknowledged write is lost, on the new leader or on zkgo.
	for _, addr := range []string{e.m.ClientAddr(other), e.zk.Addr} {
		c := zkConn(t, addr)
		_, err := c.Sync("/")
		must(t, err)
		kids, _, err := c.Children("/")
		must(t, err)
		have := map[string]bool{}
		for _, k := range kids {
			have["/"+k] = true
		}
		for p := range acked {
			if !have[p] {
				t.Errorf("%s: acknowledged write %s lost", addr, p)
			}
		}
	}
	// The old leader comes back as a follower of the new one.
	e.m.Start(first)
	e.m.WaitMode(t, first, "follower", 60*time.Second)
	var sample string
	for p := range acked {
		if strings.Contains(p, "-after-") {
			sample = p
			break
		}
	}
	waitData(t, zkConn(t, e.m.ClientAddr(first)), sample, []byte(sample))
	e.checkJavaLogs()
}

func TestLearner_SyncModesOnTheWire(t *testing.T) {
	e := newLearnerEnsemble(t, []harness.MemberSpec{
		{ID: 1, Kind: harness.MemberExternal}, {ID: 2, Kind: harness.MemberJava}, {ID: 3, Kind: harness.MemberJava}})
	e.m.Start(2)
	e.m.Start(3)
	leader := e.leader()
	cl := zkConn(t, e.m.ClientAddr(leader))
	for i := 0; i < 50; i++ {
		_, err := cl.Create(fmt.Sprintf("/pre-%d", i), bytes.Repeat([]byte("x"), 100), 0, open)
		must(t, err)
	}
	conns := 0
	join := func(want wire.PacketType) {
		t.Helper()
		e.startZkgo()
		e.waitLearner("follower")
		conns++
		if got := e.lastSyncMode(leader, conns); got != want {
			t.Fatalf("join %d: leader sent %v, want %v (all: %v)", conns, got, want, e.syncModes(leader))
		}
	}
	// An empty zkgo behind a leader with history gets a snapshot.
	join(wire.PacketSnap)
	q := openQuiet(t, e.zk.Addr)
	waitData(t, q.Conn, "/pre-49", bytes.Repeat([]byte("x"), 100))
	q.closeQuiet(t, cl)

	// Restarted after a few more writes: the leader sends the difference.
	e.zk.Stop()
	for i := 0; i < 5; i++ {
		_, err := cl.Create(fmt.Sprintf("/mid-%d", i), []byte("m"), 0, open)
		must(t, err)
	}
	join(wire.PacketDiff)
	q = openQuiet(t, e.zk.Addr)
	waitData(t, q.Conn, "/mid-4", []byte("m"))
	// No session of zkgo's may end on the leader after lz is read below.
	q.closeQuiet(t, cl)

	// zkgo holds a txn the leader never had (as if an old leader's
	// proposal reached only zkgo before it died): the leader truncates it.
	e.zk.Stop()
	lz := wire.Zxid(srvrZxid(t, e.m.ClientAddr(leader)))
	dir := storage.VersionDir(e.m.DataDir(1))
	l, err := storage.OpenTxnLog(dir, storage.Options{})
	must(t, err)
	must(t, l.Append(&wire.TxnEntry{
		Hdr:  wire.TxnHeader{ClientID: 0, Cxid: 0, Zxid: lz + 1, Time: time.Now().UnixMilli(), Type: wire.OpCreate},
		Body: &wire.CreateTxn{Path: "/phantom", Data: []byte("p"), ACL: tree.OpenACLUnsafe, ParentCVersion: -1},
	}))
	must(t, l.Sync())
	must(t, l.Close())
	join(wire.PacketTrunc)
	cz := zkConn(t, e.zk.Addr)
	_, err = cz.Sync("/")
	must(t, err)
	waitData(t, cz, "/phantom", nil)
	_, err = cl.Create("/after-trunc", []byte("t"), 0, open)
	must(t, err)
	waitData(t, cz, "/after-trunc", []byte("t"))
	if z, l := srvrZxid(t, e.zk.Addr), srvrZxid(t, e.m.ClientAddr(leader)); z != l {
		t.Fatalf("zkgo at %x, leader at %x", z, l)
	}

	// Wiped: a snapshot again.
	e.zk.Stop()
	wipeVersionDir(t, e.m.DataDir(1))
	join(wire.PacketSnap)
	waitData(t, zkConn(t, e.zk.Addr), "/after-trunc", []byte("t"))
	e.checkJavaLogs()
}

func wipeVersionDir(t *testing.T, dataDir string) {
	t.Helper()
	must(t, os.RemoveAll(filepath.Join(dataDir, "version-2")))
}
