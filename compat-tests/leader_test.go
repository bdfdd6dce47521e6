package compattest

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/decode"
	"github.com/zkgo/zkgo/internal/rawzk"
	"github.com/zkgo/zkgo/node"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

// zkgo as a leader (issue 9): all-zkgo ensembles, Java learners behind a
// zkgo leader, failover in every direction, each sync mode on the wire.

// zkgoEnsemble runs every External member of a mixed ensemble in-process.
type zkgoEnsemble struct {
	t  *testing.T
	m  *harness.Mixed
	zk map[int64]*harness.Zkgo
}

func newZkgoEnsemble(t *testing.T, specs []harness.MemberSpec) *zkgoEnsemble {
	harness.SkipShort(t)
	m := harness.NewMixed(t, harness.MixedOptions{Members: specs, TickTime: 200, InitLimit: 20, SyncLimit: 10})
	return &zkgoEnsemble{t: t, m: m, zk: map[int64]*harness.Zkgo{}}
}

// zkgoLeadsTwoJava starts the common mixed ensemble of the leader tests:
// Java members 1 and 2 and zkgo member 3, zkgo started first so that it
// leads (highest id, first to look). It waits for zkgo to lead and both
// Java members to follow.
func zkgoLeadsTwoJava(t *testing.T) *zkgoEnsemble {
	t.Helper()
	harness.RequireJava(t)
	e := newZkgoEnsemble(t, []harness.MemberSpec{
		{ID: 1, Kind: harness.MemberJava}, {ID: 2, Kind: harness.MemberJava}, {ID: 3, Kind: harness.MemberExternal}})
	e.start(3)
	e.m.Start(1)
	e.m.Start(2)
	if id := e.leader(); id != 3 {
		t.Fatalf("leader %d, want zkgo (3)", id)
	}
	e.m.WaitMode(t, 1, "follower", 60*time.Second)
	e.m.WaitMode(t, 2, "follower", 60*time.Second)
	return e
}

func (e *zkgoEnsemble) start(id int64) *harness.Zkgo {
	e.t.Helper()
	if z := e.zk[id]; z != nil {
		z.Stop()
	}
	e.m.Release(id)
	z := harness.StartZkgoMember(e.t, e.m.ConfigPath(id), func(c *node.Config) {})
	e.zk[id] = z
	return z
}

func (e *zkgoEnsemble) stop(id int64) {
	if z := e.zk[id]; z != nil {
		z.Stop()
		delete(e.zk, id)
	}
}

// leader waits until exactly one running zkgo member leads and every other
// running member serves; it returns the leader's id.
func (e *zkgoEnsemble) leader() int64 {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var leaders []int64
		serving := 0
		for id, z := range e.zk {
			switch z.Server.Mode() {
			case "leader":
				leaders = append(leaders, id)
				serving++
			case "follower", "observer":
				serving++
			}
		}
		if len(leaders) == 1 && serving == len(e.zk) {
			if out, err := harness.FourLetter(e.zk[leaders[0]].Addr, "srvr"); err == nil && len(out) > 0 && out[0] == 'Z' {
				return leaders[0]
			}
		}
		if time.Now().After(deadline) {
			modes := map[int64]string{}
			for id, z := range e.zk {
				modes[id] = z.Server.Mode()
			}
			e.t.Fatalf("no stable zkgo leader within 60s: %v", modes)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLeader_AllZkgoThreeNodes(t *testing.T) {
	e := newZkgoEnsemble(t, []harness.MemberSpec{
		{ID: 1, Kind: harness.MemberExternal}, {ID: 2, Kind: harness.MemberExternal}, {ID: 3, Kind: harness.MemberExternal}})
	for id := int64(1); id <= 3; id++ {
		e.start(id)
	}
	first := e.leader()
	conns := map[int64]*zk.Conn{}
	for id, z := range e.zk {
		conns[id] = zkConn(t, z.Addr)
	}
	for id, c := range conns {
		p := fmt.Sprintf("/via-%d", id)
		_, err := c.Create(p, []byte(p), 0, open)
		must(t, err)
	}
	for _, c := range conns {
		for id := range conns {
			p := fmt.Sprintf("/via-%d", id)
			_, err := c.Sync(p)
			must(t, err)
			waitData(t, c, p, []byte(p))
		}
	}
	// Strings reach the tree in Java's form whichever member took the
	// request (a learner forwards the client's bytes, the leader decodes
	// them as Java would): an ACL id with a character outside the BMP is
	// stored, and read back, as two surrogates.
	for id, c := range conns {
		acl := []zk.ACL{{Perms: zk.PermAll, Scheme: "digest", ID: "\U0001F600:x"}, {Perms: zk.PermRead, Scheme: "world", ID: "anyone"}}
		_, err := c.Create(fmt.Sprintf("/acl-%d", id), nil, 0, acl)
		must(t, err)
	}
	for _, c := range conns {
		for id := range conns {
			p := fmt.Sprintf("/acl-%d", id)
			_, err := c.Sync(p)
			must(t, err)
			acl, _, err := c.GetACL(p)
			must(t, err)
			if len(acl) != 2 || acl[0].ID != "\xed\xa0\xbd\xed\xb8\x80:x" {
				t.Errorf("%s: ACL %q, want the digest id in Java's form", p, acl)
			}
		}
	}
	// Kill the leader: the two others elect one of them.
	e.stop(first)
	second := e.leader()
	if second == first {
		t.Fatal("same leader")
	}
	for id := range conns {
		if id == first {
			continue
		}
		c := zkConn(t, e.zk[id].Addr)
		_, err := c.Create(fmt.Sprintf("/after-%d", id), nil, 0, open)
		must(t, err)
	}
	e.start(first)
	e.leader()
	c := zkConn(t, e.zk[first].Addr)
	for id := range conns {
		if id == first {
			continue
		}
		_, err := c.Sync("/")
		must(t, err)
		waitData(t, c, fmt.Sprintf("/after-%d", id), []byte{})
	}
}

func TestLeader_JavaFollowersBehindZkgo(t *testing.T) {
	harness.RequireJava(t)
	e := newZkgoEnsemble(t, []harness.MemberSpec{
		{ID: 1, Kind: harness.MemberJava}, {ID: 2, Kind: harness.MemberJava}, {ID: 3, Kind: harness.MemberExternal},
		{ID: 4, Kind: harness.MemberJava, Observer: true}})
	// zkgo has the highest sid: with equal histories it wins.
	e.start(3)
	e.m.Start(1)
	e.m.Start(2)
	if id := e.leader(); id != 3 {
		t.Fatalf("leader %d", id)
	}
	e.m.WaitMode(t, 1, "follower", 60*time.Second)
	e.m.WaitMode(t, 2, "follower", 60*time.Second)
	cz := zkConn(t, e.zk[3].Addr)
	c1 := zkConn(t, e.m.ClientAddr(1))
	c2 := zkConn(t, e.m.ClientAddr(2))
	all := []*zk.Conn{cz, c1, c2}
	for i, c := range all {
		p := fmt.Sprintf("/w%d", i)
		_, err := c.Create(p, []byte(p), 0, open)
		must(t, err)
		_, err = c.Create(p+"/eph", nil, zk.FlagEphemeral|zk.FlagSequence, open)
		must(t, err)
		_, err = c.Set(p, []byte("v2"), 0)
		must(t, err)
		for _, r := range all {
			_, err := r.Sync(p)
			must(t, err)
			waitData(t, r, p, []byte("v2"))
		}
	}
	_, err := c1.Multi(&zk.CreateRequest{Path: "/m", Data: []byte("m"), Acl: open}, &zk.CheckVersionRequest{Path: "/w0", Version: 1})
	must(t, err)
	_, err = c2.Multi(&zk.CreateRequest{Path: "/m2", Acl: open}, &zk.CheckVersionRequest{Path: "/w0", Version: 7})
	if err == nil {
		t.Fatal("failing multi succeeded")
	}
	// A Java observer joins behind the zkgo leader.
	e.m.Start(4)
	e.m.WaitMode(t, 4, "observer", 60*time.Second)
	co := zkConn(t, e.m.ClientAddr(4))
	waitData(t, co, "/m", []byte("m"))
	_, err = co.Create("/from-observer", []byte("o"), 0, open)
	must(t, err)
	waitData(t, cz, "/from-observer", []byte("o"))
	checkJavaLogsOf(t, e.m, 1, 2, 4)
}

// leaderDeathRaces are what a Java 3.8.0 follower logs when its leader
// dies while it is forwarding writes, whatever the leader was: its request
// and sync threads race the learner's shutdown (a write to the closed
// leader socket, and SendAckRequestProcessor.flush dereferencing the
// learner socket after it was cleared). And what the new leader logs, at
// ERROR, when the killed leader rejoins holding a proposal of its lost epoch
// that it had logged but no follower received: LearnerHandler.syncFollower
// has no TRUNC across epochs for it and falls back to SNAP (the same line
// for a Java old leader; checkJavaLogs already ignores it for Java peers).
// Only tests that kill a leader under load accept them.
var leaderDeathRaces = regexp.MustCompile(strings.Join([]string{
	`Severe unrecoverable error, from thread : (FollowerRequestProcessor|SyncThread):\d+`,
	`NullPointerException: Cannot invoke "java\.net\.Socket\.isClosed\(\)" because "this\.learner\.sock" is null`,
	`SocketException: Socket closed`,
	`Unhandled scenario for peer sid: \d+ fall back to use snapshot`,
}, "|"))

// checkJavaLogsOf fails on exceptions and digest mismatches in the logs of
// the given Java members, apart from the expected effects of members going
// up and down and ZOOKEEPER-4394 in a Java follower of a Java leader
// (javaExceptions; behind a zkgo leader it is a failure).
func checkJavaLogsOf(t *testing.T, m *harness.Mixed, ids ...int64) {
	t.Helper()
	checkJavaLogsAllowing(t, m, nil, ids...)
}

func checkJavaLogsAllowing(t *testing.T, m *harness.Mixed, allow *regexp.Regexp, ids ...int64) {
	t.Helper()
	for _, id := range ids {
		for _, line := range javaExceptions(m, id) {
			if benignJavaLine(line) || (allow != nil && allow.MatchString(line)) {
				continue
			}
			t.Errorf("Java member %d logged: %s\n%s", id, line, logContext(m.Log(id), line, 25))
		}
		if log := m.Log(id); strings.Contains(log, "Digests are not matching") || strings.Contains(log, "digest mismatch") {
			t.Errorf("Java member %d reported a digest mismatch", id)
		}
	}
}

// ackedWriters writes unique keys through each address until stopped and
// records which writes were acknowledged.
type ackedWriters struct {
	mu    sync.Mutex
	acked map[string]bool
	stop  chan struct{}
	wg    sync.WaitGroup
	// gate is held shared by each write in flight and exclusively while
	// the writers are paused (pause, resume).
	gate sync.RWMutex
}

func startWriters(phase string, addrs map[string]string) *ackedWriters {
	w := &ackedWriters{acked: map[string]bool{}, stop: make(chan struct{})}
	for name, addr := range addrs {
		w.wg.Add(1)
		go func(name, addr string) {
			defer w.wg.Done()
			c, _, err := zk.Connect([]string{addr}, 8*time.Second, zk.WithLogger(quietLogger{}))
			if err != nil {
				return
			}
			defer c.Close()
			for i := 0; ; i++ {
				select {
				case <-w.stop:
					return
				default:
				}
				p := fmt.Sprintf("/%s-%s-%d", phase, name, i)
				w.gate.RLock()
				_, err := c.Create(p, []byte(p), 0, open)
				w.gate.RUnlock()
				if err == nil {
					w.mu.Lock()
					w.acked[p] = true
					w.mu.Unlock()
				} else {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}(name, addr)
	}
	return w
}

// pause returns once no write is in flight; no writer starts another
// until resume.
func (w *ackedWriters) pause() { w.gate.Lock() }

func (w *ackedWriters) resume() { w.gate.Unlock() }

func (w *ackedWriters) halt() map[string]bool {
	close(w.stop)
	w.wg.Wait()
	return w.acked
}

// checkAcked fails if any acknowledged key is missing at addr, and
// returns how many are.
func checkAcked(t *testing.T, addr string, acked map[string]bool) int {
	t.Helper()
	c := zkConn(t, addr)
	_, err := c.Sync("/")
	must(t, err)
	kids, _, err := c.Children("/")
	must(t, err)
	have := map[string]bool{}
	for _, k := range kids {
		have["/"+k] = true
	}
	lost := 0
	for p := range acked {
		if !have[p] {
			lost++
			if lost <= 5 {
				t.Errorf("%s: acknowledged write %s lost", addr, p)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%s: %d of %d acknowledged writes lost", addr, lost, len(acked))
	}
	return lost
}

func TestLeader_FailoverBothWays(t *testing.T) {
	e := zkgoLeadsTwoJava(t)

	// 1. Kill the zkgo leader under load: a Java node takes over.
	w := startWriters("a", map[string]string{"zkgo": e.zk[3].Addr, "j1": e.m.ClientAddr(1), "j2": e.m.ClientAddr(2)})
	time.Sleep(2 * time.Second)
	e.stop(3)
	var javaLeader int64
	deadline := time.Now().Add(60 * time.Second)
	for javaLeader == 0 {
		if id, ok := e.m.Leader(); ok {
			javaLeader = id
		}
		if time.Now().After(deadline) {
			t.Fatal("no Java leader after the zkgo leader died")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	acked := w.halt()
	// zkgo rejoins as a follower of the Java leader.
	e.start(3)
	harness.WaitZkgoMode(t, e.zk[3], "follower", 60*time.Second)
	for _, addr := range []string{e.m.ClientAddr(1), e.m.ClientAddr(2), e.zk[3].Addr} {
		checkAcked(t, addr, acked)
	}
	t.Logf("phase 1: %d acknowledged writes survived the zkgo leader's death; Java %d leads", len(acked), javaLeader)

	// 2. Kill the Java leader under load: zkgo (highest sid, same history)
	// takes over, the other Java node follows it.
	other := int64(3) - javaLeader
	w = startWriters("b", map[string]string{"zkgo": e.zk[3].Addr, "java": e.m.ClientAddr(other)})
	time.Sleep(2 * time.Second)
	e.m.Kill(javaLeader)
	// zkgo wins with the highest sid when its history is as long as the
	// other Java member's; under load that member may hold a txn zkgo had
	// not logged yet when the leader died, and then it wins by FLE's zxid
	// rule (seen once in a full run: zkgo at 0x200000dd7 voted for Java 1
	// at 0x200000dd8). Either is correct; what follows checks the data.
	deadline = time.Now().Add(60 * time.Second)
	zkgoLeads := false
	for {
		if e.zk[3].Server.Mode() == "leader" {
			zkgoLeads = true
			break
		}
		if id, ok := e.m.Leader(); ok && id == other && e.zk[3].Server.Mode() == "follower" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader after Java %d died (zkgo is %s)", javaLeader, e.zk[3].Server.Mode())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if zkgoLeads {
		e.m.WaitMode(t, other, "follower", 60*time.Second)
	} else {
		t.Logf("Java %d had a newer txn than zkgo when Java %d died and leads; zkgo follows it", other, javaLeader)
	}
	time.Sleep(time.Second)
	acked2 := w.halt()
	for p := range acked {
		acked2[p] = true
	}
	e.m.Start(javaLeader)
	e.m.WaitMode(t, javaLeader, "follower", 60*time.Second)
	for _, addr := range []string{e.zk[3].Addr, e.m.ClientAddr(other), e.m.ClientAddr(javaLeader)} {
		checkAcked(t, addr, acked2)
	}
	t.Logf("phase 2: %d acknowledged writes in all, none lost; zkgo leads: %v", len(acked2), zkgoLeads)
	checkJavaLogsAllowing(t, e.m, leaderDeathRaces, 1, 2)
}

func TestLeader_AllZkgoFiveNodesLoseTwo(t *testing.T) {
	var specs []harness.MemberSpec
	for id := int64(1); id <= 5; id++ {
		specs = append(specs, harness.MemberSpec{ID: id, Kind: harness.MemberExternal})
	}
	e := newZkgoEnsemble(t, specs)
	for id := int64(1); id <= 5; id++ {
		e.start(id)
	}
	first := e.leader()
	addrs := map[string]string{}
	for id, z := range e.zk {
		addrs[fmt.Sprint(id)] = z.Addr
	}
	w := startWriters("five", addrs)
	time.Sleep(time.Second)
	// Lose the leader and one follower: three of five still form a quorum.
	var victim int64
	for id := range e.zk {
		if id != first {
			victim = id
			break
		}
	}
	e.stop(first)
	e.stop(victim)
	second := e.leader()
	time.Sleep(time.Second)
	acked := w.halt()
	for _, z := range e.zk {
		checkAcked(t, z.Addr, acked)
	}
	e.start(first)
	e.start(victim)
	e.leader()
	for _, z := range e.zk {
		checkAcked(t, z.Addr, acked)
	}
	t.Logf("leader %d, then %d after losing %d and %d; %d acknowledged writes intact on all five", first, second, first, victim, len(acked))
}

// logContext returns the lines of log following the first occurrence of line.
func logContext(log, line string, n int) string {
	i := strings.Index(log, line)
	if i < 0 {
		return ""
	}
	rest := strings.SplitN(log[i:], "\n", n+1)
	if len(rest) > n {
		rest = rest[:n]
	}
	return strings.Join(rest, "\n")
}

// quorumSyncModes decodes a capture of a leader's quorum port and returns,
// per learner sid, the sync packet (the leader's packet after LEADERINFO)
// of each of its connections in order.
func quorumSyncModes(t *testing.T, path string, quorumPort int) map[int64][]string {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	type connState struct {
		sid      int64
		sawInfo  bool
		recorded bool
	}
	conns := map[int64]*connState{}
	var order []int64
	out := map[int64][]string{}
	d := decode.New(decode.Config{QuorumPorts: []uint16{uint16(quorumPort)}, NoWellKnownPorts: true}, func(m *decode.Message) {
		if m.Channel != decode.ChannelQuorum || m.Conn == nil {
			return
		}
		cs := conns[m.Conn.ID]
		if cs == nil {
			cs = &connState{sid: -1}
			conns[m.Conn.ID] = cs
			order = append(order, m.Conn.ID)
		}
		if m.Conn.Sid >= 0 {
			cs.sid = m.Conn.Sid
		}
		if m.Dir != decode.FromServer || cs.recorded {
			return
		}
		if m.Name == "LEADERINFO" {
			cs.sawInfo = true
			return
		}
		if cs.sawInfo {
			cs.recorded = true
			out[cs.sid] = append(out[cs.sid], m.Name)
		}
	})
	if _, err := d.ReadCapture(f); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	return out
}

func TestLeader_JavaFollowerSyncModesOnTheWire(t *testing.T) {
	harness.RequireJava(t)
	e := newZkgoEnsemble(t, []harness.MemberSpec{
		{ID: 1, Kind: harness.MemberJava}, {ID: 2, Kind: harness.MemberJava}, {ID: 3, Kind: harness.MemberExternal}})
	syncModesBehindZkgo(t, e, 3, 1, func() {
		e.m.Start(1)
		e.m.Start(2)
	})
	checkJavaLogsOf(t, e.m, 1, 2)
}

func TestLeader_AllZkgoSyncModesOnTheWire(t *testing.T) {
	e := newZkgoEnsemble(t, []harness.MemberSpec{
		{ID: 1, Kind: harness.MemberExternal}, {ID: 2, Kind: harness.MemberExternal}, {ID: 3, Kind: harness.MemberExternal}})
	syncModesBehindZkgo(t, e, 3, 1, func() {
		e.start(1)
		e.start(2)
	})
}

// syncModesBehindZkgo has the zkgo member leader lead (it starts first and
// has the highest id), then takes member f offline during writes (DIFF),
// wipes it (SNAP) and gives it a txn the leader never had (TRUNC), and
// checks each sync packet in a capture of the leader's quorum port.
func syncModesBehindZkgo(t *testing.T, e *zkgoEnsemble, leader, f int64, startOthers func()) {
	t.Helper()
	java := e.m.Members()[f-1].Kind == harness.MemberJava
	qport := portOf(t, e.m.QuorumAddr(leader))
	marker, _ := harness.ReservePort(t)
	capt := harness.StartCapture(t, harness.CaptureOptions{Tool: "tcpdump", Ports: []int{marker, qport}})
	e.start(leader)
	startOthers()
	if id := e.leader(); id != leader {
		t.Fatalf("leader %d, want zkgo (%d)", id, leader)
	}
	waitFollower := func() {
		t.Helper()
		if java {
			e.m.WaitMode(t, f, "follower", 60*time.Second)
		} else {
			harness.WaitZkgoMode(t, e.zk[f], "follower", 60*time.Second)
		}
	}
	waitFollower()
	addrOf := func() string {
		if java {
			return e.m.ClientAddr(f)
		}
		return e.zk[f].Addr
	}
	// c1 is the client on member f. Its session's end is committed before
	// f stops: a closeSession committed later (go-zookeeper's Close gives
	// up waiting after a second, and the session then expires) would take
	// the zxid the TRUNC step below gives to a txn the leader never had.
	cz := zkConn(t, e.zk[leader].Addr)
	var c1 *quietConn
	stopF := func() {
		if c1 != nil {
			c1.closeQuiet(t, cz)
			c1 = nil
		}
		if java {
			e.m.Kill(f)
		} else {
			e.stop(f)
		}
	}
	rejoin := func() *quietConn {
		t.Helper()
		if java {
			e.m.Start(f)
		} else {
			e.start(f)
		}
		waitFollower()
		c := openQuiet(t, addrOf())
		_, err := c.Sync("/")
		must(t, err)
		return c
	}
	for i := 0; i < 100; i++ {
		_, err := cz.Create(fmt.Sprintf("/a%d", i), []byte("a"), 0, open)
		must(t, err)
	}
	// Offline during writes: DIFF from the committed log.
	stopF()
	for i := 0; i < 50; i++ {
		_, err := cz.Create(fmt.Sprintf("/b%d", i), []byte("b"), 0, open)
		must(t, err)
	}
	c1 = rejoin()
	waitData(t, c1.Conn, "/b49", []byte("b"))
	// Wiped: SNAP.
	stopF()
	e.m.Wipe(f)
	c1 = rejoin()
	waitData(t, c1.Conn, "/a99", []byte("a"))
	// Holding a txn the leader never committed: TRUNC.
	stopF()
	lz := wire.Zxid(srvrZxid(t, e.zk[leader].Addr))
	l, err := storage.OpenTxnLog(storage.VersionDir(e.m.DataDir(f)), storage.Options{})
	must(t, err)
	must(t, l.Append(&wire.TxnEntry{
		Hdr:  wire.TxnHeader{Zxid: lz + 1, Time: time.Now().UnixMilli(), Type: wire.OpCreate},
		Body: &wire.CreateTxn{Path: "/phantom", Data: []byte("p"), ACL: tree.OpenACLUnsafe, ParentCVersion: -1},
	}))
	must(t, l.Sync())
	must(t, l.Close())
	c1 = rejoin()
	waitData(t, c1.Conn, "/phantom", nil)
	_, err = cz.Create("/after", []byte("x"), 0, open)
	must(t, err)
	waitData(t, c1.Conn, "/after", []byte("x"))
	must(t, capt.Stop())
	modes := quorumSyncModes(t, capt.Path, qport)
	// The first sync, at startup, is an empty DIFF when member f was in
	// the quorum that established the leader, and SNAP when it came after:
	// the leader's lastProcessedZxid is then the new epoch's zxid, its
	// committed log is empty and its txn log cannot reach zxid 0 (Java's
	// LearnerHandler.syncFollower, the same rule). Either is right.
	want := []string{"DIFF", "SNAP", "TRUNC"}
	if got := modes[f]; len(got) != 4 || (got[0] != "DIFF" && got[0] != "SNAP") || fmt.Sprint(got[1:]) != fmt.Sprint(want) {
		t.Fatalf("sync packets the zkgo leader sent member %d: %v, want DIFF or SNAP then %v (all: %v)", f, got, want, modes)
	}
	t.Logf("zkgo leader -> member %d on the wire: %v (all: %v)", f, modes[f], modes)
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	must(t, err)
	n, err := strconv.Atoi(p)
	must(t, err)
	return n
}

func TestLeader_SessionsOfJavaFollowers(t *testing.T) {
	e := zkgoLeadsTwoJava(t)
	cz := zkConn(t, e.zk[3].Addr)

	// A session on Java 1 lives on through Java 1's PING touch tables and
	// expires on the zkgo leader once its client goes silent.
	owner, err := rawzk.Dial(e.m.ClientAddr(1), rawzk.Options{TimeoutMs: 4000})
	must(t, err)
	h, err := owner.Do(wire.OpCreate, &wire.CreateRequest{Path: "/eph", Data: []byte("e"), ACL: tree.OpenACLUnsafe,
		Flags: int32(wire.ModeEphemeral)}, nil)
	must(t, err)
	if h.Err != wire.ErrOk {
		t.Fatal(h.Err)
	}
	if int64(owner.SessionID())>>56 != 1 {
		t.Fatalf("session %v was not created by Java 1", owner.SessionID())
	}
	_, _, gone, err := cz.ExistsW("/eph")
	must(t, err)
	for i := 0; i < 6; i++ {
		time.Sleep(time.Second)
		if _, err := owner.Do(wire.OpPing, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := cz.Get("/eph"); err != nil {
		t.Fatalf("session expired although its client pinged Java 1: %v", err)
	}
	// The session moves to Java 2: Java 2 revalidates it with the zkgo
	// leader, which makes Java 2 its owner.
	moved, err := rawzk.Dial(e.m.ClientAddr(2), rawzk.Options{SessionID: owner.SessionID(), Passwd: owner.Connect.Passwd, TimeoutMs: 4000})
	must(t, err)
	if moved.Connect.SessionID != owner.SessionID() {
		t.Fatalf("Java 2 refused the session: %+v", moved.Connect)
	}
	h, err = moved.Do(wire.OpSetData, &wire.SetDataRequest{Path: "/eph", Data: []byte("moved"), Version: -1}, nil)
	must(t, err)
	if h.Err != wire.ErrOk {
		t.Fatalf("write on the new server: %v", h.Err)
	}
	// Java 1 closed the old connection when the session moved, or a write
	// through it is refused with SESSIONMOVED by the leader.
	if h, err := owner.Do(wire.OpSetData, &wire.SetDataRequest{Path: "/eph", Data: []byte("old"), Version: -1}, nil); err == nil && h.Err != wire.ErrSessionMoved {
		t.Fatalf("write through the old server: %v", h.Err)
	}
	owner.Close()
	waitData(t, cz, "/eph", []byte("moved"))
	_, _, gone, err = cz.ExistsW("/eph") // the setData fired the first watch
	must(t, err)
	moved.Close()
	if ev := waitEvent(t, gone, "expiry"); ev.Type != zk.EventNodeDeleted {
		t.Fatalf("%+v", ev)
	}
	for _, addr := range []string{e.m.ClientAddr(1), e.m.ClientAddr(2)} {
		waitData(t, zkConn(t, addr), "/eph", nil)
	}
	// A session created on the leader expires there too.
	raw, err := rawzk.Dial(e.zk[3].Addr, rawzk.Options{TimeoutMs: 4000})
	must(t, err)
	if int64(raw.SessionID())>>56 != 3 {
		t.Fatalf("session %v was not created by the zkgo leader", raw.SessionID())
	}
	h, err = raw.Do(wire.OpCreate, &wire.CreateRequest{Path: "/eph3", ACL: tree.OpenACLUnsafe, Flags: int32(wire.ModeEphemeral)}, nil)
	must(t, err)
	c1 := zkConn(t, e.m.ClientAddr(1))
	_, _, gone, err = c1.ExistsW("/eph3")
	must(t, err)
	raw.Close()
	if ev := waitEvent(t, gone, "expiry"); ev.Type != zk.EventNodeDeleted {
		t.Fatalf("%+v", ev)
	}
	checkJavaLogsOf(t, e.m, 1, 2)
}

func TestLeader_StepsDownWithoutQuorum(t *testing.T) {
	e := zkgoLeadsTwoJava(t)
	e.m.Kill(1)
	// One follower is still a quorum (2 of 3): the leader keeps serving.
	time.Sleep(3 * time.Second)
	if m := e.zk[3].Server.Mode(); m != "leader" {
		t.Fatalf("zkgo %s after losing one of two followers", m)
	}
	c := zkConn(t, e.zk[3].Addr)
	_, err := c.Create("/still", nil, 0, open)
	must(t, err)
	e.m.Kill(2)
	// Without a synced quorum it steps down within syncLimit ticks (2 s
	// here) and stops serving.
	start := time.Now()
	for e.zk[3].Server.Mode() == "leader" {
		if time.Since(start) > 15*time.Second {
			t.Fatal("zkgo still leads without a quorum")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("zkgo stepped down %v after losing its quorum", time.Since(start).Round(time.Millisecond))
	if out, _ := harness.FourLetter(e.zk[3].Addr, "srvr"); !strings.Contains(out, "not currently serving") {
		t.Fatalf("srvr after stepping down: %q", out)
	}
	// A follower coming back restores the quorum; the data is there.
	e.m.Start(1)
	e.leader()
	waitData(t, zkConn(t, e.m.ClientAddr(1)), "/still", []byte{})
}
