package node_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/node"
	"github.com/zkgo/zkgo/node/quorum"
)

// reconfigEnsemble is an all-zkgo in-process ensemble with the reconfig
// protocol on (the test-only switch) and skipACL (a reconfig needs a
// super user or skipACL).
type reconfigEnsemble struct {
	m  *harness.Mixed
	zk map[int64]*harness.Zkgo
}

func startReconfigEnsemble(t *testing.T, ids ...int64) *reconfigEnsemble {
	t.Helper()
	var specs []harness.MemberSpec
	for _, id := range ids {
		specs = append(specs, harness.MemberSpec{ID: id, Kind: harness.MemberExternal})
	}
	m := harness.NewMixed(t, harness.MixedOptions{Members: specs})
	e := &reconfigEnsemble{m: m, zk: map[int64]*harness.Zkgo{}}
	for _, id := range ids {
		m.Release(id)
		e.zk[id] = harness.StartZkgoMember(t, m.ConfigPath(id), func(c *node.Config) {
			node.EnableReconfigForTest(c)
			c.SkipACL = true
		})
	}
	return e
}

// leader waits until one member leads and every other follows.
func (e *reconfigEnsemble) leader(t *testing.T) int64 {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var lead int64
		following := 0
		for id, z := range e.zk {
			switch z.Server.Mode() {
			case "leader":
				lead = id
			case "follower":
				following++
			}
		}
		if lead != 0 && following == len(e.zk)-1 {
			return lead
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader with %d followers within 60s", len(e.zk)-1)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func dialZk(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(20 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				return c
			}
		case <-deadline:
			t.Fatalf("no session with %s within 20s", addr)
		}
	}
}

// pollData polls path on c until it holds want.
func pollData(t *testing.T, c *zk.Conn, path string, want []byte) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, _, err := c.Get(path)
		if err == nil && bytes.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: got %q, %v; want %q", path, got, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkActivatedFiles waits until a member's files show that it
// activated the configuration text as Java 3.8 writes it:
// zoo.cfg.dynamic.<version> with the server lines, zoo.cfg pointing at it
// without server lines, no .next file left.
func checkActivatedFiles(t *testing.T, cfgPath, text string) {
	t.Helper()
	c, err := quorum.ParseConfigText(text, false)
	if err != nil {
		t.Fatal(err)
	}
	dyn := quorum.DynamicFileName(cfgPath, c.Version)
	check := func() error {
		b, err := os.ReadFile(dyn)
		if err != nil {
			return fmt.Errorf("dynamic file of version %x: %w", c.Version, err)
		}
		if want := quorum.DynamicFileText(text, false); string(b) != want {
			return fmt.Errorf("%s:\n%s\nwant:\n%s", filepath.Base(dyn), b, want)
		}
		static, err := os.ReadFile(cfgPath)
		if err != nil {
			return err
		}
		if strings.Contains(string(static), "server.") || !strings.Contains(string(static), "dynamicConfigFile=") ||
			!strings.Contains(string(static), filepath.Base(dyn)) {
			return fmt.Errorf("zoo.cfg after activating version %x:\n%s", c.Version, static)
		}
		if _, err := os.Stat(cfgPath + quorum.NextDynamicFileSuffix); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf(".next file after activating version %x: %v", c.Version, err)
		}
		return nil
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", cfgPath, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReconfigDrive_LeaderRemovesFollower: in an all-zkgo 3-member
// ensemble with the reconfig protocol on, the leader activates NEWLEADER's
// configuration (version NEWLEADER's zxid, ZOOKEEPER-1783) and writes it
// as Java does; an incremental reconfig through the leader removing a
// follower is proposed to both configurations, committed, written (the
// dynamic file of the reconfig's zxid, zoo.cfg rewritten, .next gone)
// and put in /zookeeper/config; later writes commit with the new
// configuration's quorum, and every acked write is on every remaining
// member.
func TestReconfigDrive_LeaderRemovesFollower(t *testing.T) {
	e := startReconfigEnsemble(t, 1, 2, 3)
	lead := e.leader(t)
	if _, err := os.Stat(e.m.ConfigPath(lead) + ".bak"); err != nil {
		t.Errorf("zoo.cfg.bak at start: %v", err)
	}
	lc := dialZk(t, e.zk[lead].Addr)
	boot, _, err := lc.Get("/zookeeper/config")
	if err != nil {
		t.Fatal(err)
	}
	v0, ok := quorum.VersionOf(string(boot))
	if !ok || v0 == 0 || v0&0xffffffff != 0 {
		t.Fatalf("/zookeeper/config on the leader after NEWLEADER: %q (want NEWLEADER's zxid as version)", boot)
	}
	checkActivatedFiles(t, e.m.ConfigPath(lead), string(boot))
	for id := range e.zk {
		// The followers activated NEWLEADER's configuration at UPTODATE.
		c := dialZk(t, e.zk[id].Addr)
		pollData(t, c, "/zookeeper/config", boot)
		checkActivatedFiles(t, e.m.ConfigPath(id), string(boot))
	}

	var acked []string
	write := func(c *zk.Conn, i int) {
		p := "/w" + strconv.Itoa(i)
		if _, err := c.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
		acked = append(acked, p)
	}
	for i := range 5 {
		write(lc, i)
	}
	var gone, stay int64
	for id := range e.zk {
		if id != lead {
			if gone == 0 {
				gone = id
			} else {
				stay = id
			}
		}
	}
	if _, err := lc.IncrementalReconfig(nil, []string{strconv.FormatInt(gone, 10)}, v0); err != nil {
		t.Fatalf("reconfig removing %d: %v", gone, err)
	}
	text, _, err := lc.Get("/zookeeper/config")
	if err != nil {
		t.Fatal(err)
	}
	c, err := quorum.ParseConfigText(string(text), false)
	if err != nil {
		t.Fatalf("/zookeeper/config after the reconfig: %v", err)
	}
	if _, in := c.Servers[gone]; in || len(c.Servers) != 2 || c.Version <= v0 {
		t.Fatalf("/zookeeper/config after removing %d: %q", gone, text)
	}
	checkActivatedFiles(t, e.m.ConfigPath(lead), string(text))
	// A second reconfig with the old version is refused (BADVERSION).
	if _, err := lc.IncrementalReconfig(nil, []string{strconv.FormatInt(stay, 10)}, v0); !errors.Is(err, zk.ErrBadVersion) {
		t.Errorf("reconfig with a stale version: %v, want %v", err, zk.ErrBadVersion)
	}
	for i := 5; i < 10; i++ {
		write(lc, i)
	}
	sc := dialZk(t, e.zk[stay].Addr)
	if _, err := sc.Sync("/"); err != nil {
		t.Fatal(err)
	}
	pollData(t, sc, "/zookeeper/config", text)
	for _, p := range acked {
		pollData(t, sc, p, []byte(p))
	}
	// The followers activated it too (COMMITANDACTIVATE), the removed one
	// included; it stays connected as a non-voting follower, as in Java.
	for _, id := range []int64{stay, gone} {
		checkActivatedFiles(t, e.m.ConfigPath(id), string(text))
	}
	if m := e.zk[gone].Server.Mode(); m != "follower" {
		t.Errorf("removed member %d is %s, want a (non-voting) follower", gone, m)
	}
	// The removed member is no quorum member any more: the leader and
	// the one that stays commit without it.
	e.zk[gone].Stop()
	write(lc, 10)
	pollData(t, sc, acked[len(acked)-1], []byte(acked[len(acked)-1]))
	t.Log(fmt.Sprintf("leader %d removed %d; configuration %x", lead, gone, c.Version))
}

// waitMode waits until member id reports mode.
func (e *reconfigEnsemble) waitMode(t *testing.T, id int64, mode string) {
	t.Helper()
	harness.WaitZkgoMode(t, e.zk[id], mode, 60*time.Second)
}

// TestReconfigDrive_LeaderRemoved: a reconfig through the leader that
// removes the leader itself commits; the leader designates the follower
// that acked it (getDesignatedLeader), which leads the new configuration
// without an election while the other follows it, as Java's
// reconfigFlag does; the old leader, having lost its followers, follows
// the designated leader as a non-voting member. Every acked write, before
// and after, is on every member.
func TestReconfigDrive_LeaderRemoved(t *testing.T) {
	e := startReconfigEnsemble(t, 1, 2, 3)
	old := e.leader(t)
	lc := dialZk(t, e.zk[old].Addr)
	var acked []string
	create := func(c *zk.Conn, p string) {
		t.Helper()
		if _, err := c.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
		acked = append(acked, p)
	}
	for i := range 5 {
		create(lc, "/before"+strconv.Itoa(i))
	}
	if _, err := lc.IncrementalReconfig(nil, []string{strconv.FormatInt(old, 10)}, -1); err != nil {
		t.Fatalf("reconfig removing the leader %d: %v", old, err)
	}
	var lead int64
	deadline := time.Now().Add(60 * time.Second)
	for lead == 0 || lead == old {
		if time.Now().After(deadline) {
			t.Fatalf("no new leader within 60s (old %d)", old)
		}
		time.Sleep(20 * time.Millisecond)
		for id, z := range e.zk {
			if id != old && z.Server.Mode() == "leader" {
				lead = id
			}
		}
	}
	for id := range e.zk {
		if id != lead {
			e.waitMode(t, id, "follower")
		}
	}
	nc := dialZk(t, e.zk[lead].Addr)
	text, _, err := nc.Get("/zookeeper/config")
	if err != nil {
		t.Fatal(err)
	}
	c, err := quorum.ParseConfigText(string(text), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, in := c.Servers[old]; in || len(c.Voters()) != 2 {
		t.Fatalf("/zookeeper/config after removing the leader %d: %q", old, text)
	}
	for i := range 5 {
		create(nc, "/after"+strconv.Itoa(i))
	}
	for id, z := range e.zk {
		checkActivatedFiles(t, e.m.ConfigPath(id), string(text))
		zc := dialZk(t, z.Addr)
		if _, err := zc.Sync("/"); err != nil {
			t.Fatal(err)
		}
		pollData(t, zc, "/zookeeper/config", text)
		for _, p := range acked {
			pollData(t, zc, p, []byte(p))
		}
	}
}

// startJoiner starts member id of e.m, whose zoo.cfg lists the ensemble
// and itself; the members already running were started without it.
func (e *reconfigEnsemble) startJoiner(t *testing.T, id int64) {
	t.Helper()
	e.m.Release(id)
	e.zk[id] = harness.StartZkgoMember(t, e.m.ConfigPath(id), func(c *node.Config) {
		node.EnableReconfigForTest(c)
		c.SkipACL = true
	})
}

// dropServerLine removes server.id from a member's zoo.cfg (the member
// is not started yet).
func dropServerLine(t *testing.T, cfgPath string, id int64) {
	t.Helper()
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "server."+strconv.FormatInt(id, 10)+"=") {
			keep = append(keep, l)
		}
	}
	if err := os.WriteFile(cfgPath, []byte(strings.Join(keep, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// serverSpec is member id's server line as a joiningServers entry.
func serverSpec(t *testing.T, cfgPath string, id int64) string {
	t.Helper()
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "server."+strconv.FormatInt(id, 10)+"=") {
			return l
		}
	}
	t.Fatalf("no server.%d in %s", id, cfgPath)
	return ""
}

// TestReconfigDrive_AddServerRemoveOne: a 4th zkgo server, started with
// the ensemble and itself in its zoo.cfg, finds the leader through the
// members' answers to a non-voter (validVoter) and syncs as a non-voting
// follower; an incremental reconfig adds it (a quorum of both
// configurations acks it) and a second one removes an original follower.
// Every member writes the configurations as Java does, the new member
// then counts toward the quorum (the leader commits with it while the
// other original follower is stopped), and every acked write is on every
// member that stays.
func TestReconfigDrive_AddServerRemoveOne(t *testing.T) {
	specs := []harness.MemberSpec{}
	for id := int64(1); id <= 4; id++ {
		specs = append(specs, harness.MemberSpec{ID: id, Kind: harness.MemberExternal})
	}
	m := harness.NewMixed(t, harness.MixedOptions{Members: specs})
	for id := int64(1); id <= 3; id++ {
		dropServerLine(t, m.ConfigPath(id), 4)
	}
	e := &reconfigEnsemble{m: m, zk: map[int64]*harness.Zkgo{}}
	for id := int64(1); id <= 3; id++ {
		e.startJoiner(t, id)
	}
	lead := e.leader(t)
	lc := dialZk(t, e.zk[lead].Addr)
	var acked []string
	create := func(c *zk.Conn, p string) {
		t.Helper()
		if _, err := c.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
		acked = append(acked, p)
	}
	for i := range 3 {
		create(lc, "/a"+strconv.Itoa(i))
	}
	line := serverSpec(t, m.ConfigPath(4), 4)
	e.startJoiner(t, 4)
	e.waitMode(t, 4, "follower")
	if _, err := lc.IncrementalReconfig([]string{line}, nil, -1); err != nil {
		t.Fatalf("reconfig adding 4 (%s): %v", line, err)
	}
	text, _, err := lc.Get("/zookeeper/config")
	if err != nil {
		t.Fatal(err)
	}
	c, err := quorum.ParseConfigText(string(text), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Voters()) != 4 {
		t.Fatalf("/zookeeper/config after adding 4: %q", text)
	}
	for id := range e.zk {
		checkActivatedFiles(t, m.ConfigPath(id), string(text))
		checkConfMembership(t, e.zk[id].Addr, string(text))
	}
	for i := range 3 {
		create(lc, "/b"+strconv.Itoa(i))
	}
	var gone, other int64
	for id := int64(1); id <= 3; id++ {
		if id != lead {
			if gone == 0 {
				gone = id
			} else {
				other = id
			}
		}
	}
	if _, err := lc.IncrementalReconfig(nil, []string{strconv.FormatInt(gone, 10)}, -1); err != nil {
		t.Fatalf("reconfig removing %d: %v", gone, err)
	}
	if text, _, err = lc.Get("/zookeeper/config"); err != nil {
		t.Fatal(err)
	}
	if c, err = quorum.ParseConfigText(string(text), false); err != nil {
		t.Fatal(err)
	}
	if _, in := c.Servers[gone]; in || len(c.Voters()) != 3 {
		t.Fatalf("/zookeeper/config after removing %d: %q", gone, text)
	}
	for _, id := range []int64{lead, other, 4} {
		checkActivatedFiles(t, m.ConfigPath(id), string(text))
	}
	// With the removed member and the other original follower stopped,
	// the leader and the new member are a quorum of {lead, other, 4}.
	e.zk[gone].Stop()
	e.zk[other].Stop()
	create(lc, "/c0")
	zc := dialZk(t, e.zk[4].Addr)
	if _, err := zc.Sync("/"); err != nil {
		t.Fatal(err)
	}
	pollData(t, zc, "/zookeeper/config", text)
	for _, p := range acked {
		pollData(t, zc, p, []byte(p))
	}
}

// TestReconfigDrive_ObserverPromoted: a reconfig issued through a
// follower that makes observer 4 a participant reaches it as INFORMANDACTIVATE; it changes role (Java's
// updateLearnerType with reconfigFlag) and follows the leader without an
// election, and then counts toward the quorum: with one original
// follower stopped, the leader commits with the other and 4 (3 of 4).
func TestReconfigDrive_ObserverPromoted(t *testing.T) {
	m, e := observerEnsemble(t)
	line := strings.Replace(serverSpec(t, m.ConfigPath(4), 4), ":observer", ":participant", 1)
	for id := int64(1); id <= 3; id++ {
		e.startJoiner(t, id)
	}
	log4 := &lockedBuf{}
	m.Release(4)
	e.zk[4] = harness.StartZkgoMember(t, m.ConfigPath(4), func(c *node.Config) {
		node.EnableReconfigForTest(c)
		c.SkipACL = true
		c.Logger = zerolog.New(io.MultiWriter(log4, zerolog.ConsoleWriter{Out: tWriter{t}, NoColor: true})).
			With().Timestamp().Int64("myid", 4).Logger()
	})
	e.waitMode(t, 4, "observer")
	// Java's Observer.observeLeader logs no "LEADER ELECTION TOOK" (only
	// Leader.lead and Follower.followLeader do).
	if l := log4.lines("LEADER ELECTION TOOK"); len(l) != 0 {
		t.Errorf("observer 4 logged an election time, as a Java observer does not: %q", l)
	}
	if len(log4.lines(`"message":"OBSERVING"`)) != 1 {
		t.Errorf("observer 4 did not log OBSERVING once")
	}
	var lead int64
	deadline := time.Now().Add(60 * time.Second)
	for lead == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no leader within 60s")
		}
		time.Sleep(20 * time.Millisecond)
		for id, z := range e.zk {
			if z.Server.Mode() == "leader" {
				lead = id
			}
		}
	}
	lc := dialZk(t, e.zk[lead].Addr)
	var acked []string
	create := func(p string) {
		t.Helper()
		if _, err := lc.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
		acked = append(acked, p)
	}
	create("/before")
	// Through a follower: it forwards the reconfig to the leader.
	var via int64
	for id := int64(1); id <= 3; id++ {
		if id != lead {
			via = id
			// The new configuration {1,2,3,4} needs a synced quorum of
			// its voters (the leader's forwarding followers; observer 4
			// is not one yet): both followers, or the reconfig fails with
			// NEWCONFIGNOQUORUM, as in Java.
			e.waitMode(t, id, "follower")
		}
	}
	fc := dialZk(t, e.zk[via].Addr)
	if _, err := fc.IncrementalReconfig([]string{line}, nil, -1); err != nil {
		t.Fatalf("reconfig promoting 4 (%s) through follower %d: %v", line, via, err)
	}
	fc.Close()
	text, _, err := lc.Get("/zookeeper/config")
	if err != nil {
		t.Fatal(err)
	}
	c, err := quorum.ParseConfigText(string(text), false)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := c.Servers[4]; !ok || s.Observer || len(c.Voters()) != 4 {
		t.Fatalf("/zookeeper/config after promoting 4: %q", text)
	}
	e.waitMode(t, 4, "follower")
	// Java's Follower.followLeader logs its line with or without an
	// election; zkgo says there was none.
	if l := log4.lines("FOLLOWING - LEADER ELECTION TOOK"); len(l) != 1 || !strings.Contains(l[0], `"without_election":true`) {
		t.Errorf("member 4 promoted without an election logged %q, want one FOLLOWING line with without_election", l)
	}
	for id := range e.zk {
		checkActivatedFiles(t, m.ConfigPath(id), string(text))
	}
	e.zk[via].Stop()
	create("/after")
	zc := dialZk(t, e.zk[4].Addr)
	if _, err := zc.Sync("/"); err != nil {
		t.Fatal(err)
	}
	for _, p := range acked {
		pollData(t, zc, p, []byte(p))
	}
}

// TestReconfigDrive_StaleMemberAdoptsNewerConfig: a follower that was
// down while a reconfig (removing observer 4) committed comes back with
// its old configuration; the members' election notifications carry the
// newer one, which it activates while LOOKING (FastLeaderElection's
// processReconfig: files, /zookeeper/config) before it restarts the
// election and follows the leader. The other members switched their
// election to the new configuration when they activated it.
func TestReconfigDrive_StaleMemberAdoptsNewerConfig(t *testing.T) {
	m, e := observerEnsemble(t)
	for id := int64(1); id <= 4; id++ {
		e.startJoiner(t, id)
	}
	e.waitMode(t, 4, "observer")
	var lead int64
	deadline := time.Now().Add(60 * time.Second)
	for lead == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no leader within 60s")
		}
		time.Sleep(20 * time.Millisecond)
		for id, z := range e.zk {
			if z.Server.Mode() == "leader" {
				lead = id
			}
		}
	}
	var stale int64
	for id := int64(1); id <= 3; id++ {
		if id != lead {
			e.waitMode(t, id, "follower")
			stale = id
		}
	}
	lc := dialZk(t, e.zk[lead].Addr)
	boot, _, err := lc.Get("/zookeeper/config")
	if err != nil {
		t.Fatal(err)
	}
	checkActivatedFiles(t, m.ConfigPath(stale), string(boot))
	e.zk[stale].Stop()
	if _, err := lc.IncrementalReconfig(nil, []string{"4"}, -1); err != nil {
		t.Fatalf("reconfig removing observer 4: %v", err)
	}
	text, _, err := lc.Get("/zookeeper/config")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lc.Create("/during", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	e.zk[stale] = harness.StartZkgoMember(t, m.ConfigPath(stale), func(c *node.Config) {
		node.EnableReconfigForTest(c)
		c.SkipACL = true
	})
	e.waitMode(t, stale, "follower")
	checkActivatedFiles(t, m.ConfigPath(stale), string(text))
	sc := dialZk(t, e.zk[stale].Addr)
	if _, err := sc.Sync("/"); err != nil {
		t.Fatal(err)
	}
	pollData(t, sc, "/zookeeper/config", text)
	pollData(t, sc, "/during", []byte("x"))
}

// TestReconfigDrive_ClientPortMove: a reconfig that changes a follower's
// client port moves its client listener when the follower activates the
// configuration, as Java 3.8's QuorumPeer.processReconfig does
// (cnxnFactory.reconfigure): new clients are served on the new port, the
// session opened on the old one before the move is served on without a
// disconnect, a new connection to the old port is closed at once, and
// conf reports the new port (DIFFERENCES row 62).
func TestReconfigDrive_ClientPortMove(t *testing.T) {
	e := startReconfigEnsemble(t, 1, 2, 3)
	lead := e.leader(t)
	var f int64
	for id := range e.zk {
		if id != lead {
			f = id
		}
	}
	oldAddr := e.zk[f].Addr
	fc, fev, err := zk.Connect([]string{oldAddr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	for ev := range fev {
		if ev.State == zk.StateHasSession {
			break
		}
	}
	line := serverSpec(t, quorum.DynamicFileName(e.m.ConfigPath(f), 0x100000000), f)
	newPort, release := harness.ReservePort(t)
	release()
	moved := line[:strings.LastIndex(line, ":")+1] + strconv.Itoa(newPort)
	lc := dialZk(t, e.zk[lead].Addr)
	if _, err := lc.IncrementalReconfig([]string{moved}, nil, -1); err != nil {
		t.Fatalf("reconfig %s: %v", moved, err)
	}
	text, _, err := lc.Get("/zookeeper/config")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), ":"+strconv.Itoa(newPort)+"\n") {
		t.Fatalf("/zookeeper/config after moving %d's client port: %q", f, text)
	}
	checkActivatedFiles(t, e.m.ConfigPath(f), string(text))
	newAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(newPort))
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := harness.FourLetter(newAddr, "ruok")
		if err == nil && out == "imok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("member %d does not answer on its new client address %s: %q, %v", f, newAddr, out, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out, err := harness.FourLetter(oldAddr, "ruok"); err == nil && out == "imok" {
		t.Fatalf("member %d still takes new connections on its old client address %s", f, oldAddr)
	}
	if _, err := lc.Create("/moved", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	nc := dialZk(t, newAddr)
	for _, c := range []*zk.Conn{fc, nc} {
		if _, err := c.Sync("/"); err != nil {
			t.Fatal(err)
		}
		if ok, _, err := c.Exists("/moved"); err != nil || !ok {
			t.Fatalf("member %d: /moved %v %v", f, ok, err)
		}
	}
	for {
		select {
		case ev := <-fev:
			if ev.Type == zk.EventSession && ev.State != zk.StateHasSession {
				t.Fatalf("the session opened on the old client port before the move saw %v", ev.State)
			}
			continue
		default:
		}
		break
	}
	conf, err := harness.FourLetter(newAddr, "conf")
	if err != nil || !strings.Contains(conf, "clientPort="+strconv.Itoa(newPort)+"\n") {
		t.Fatalf("conf on the new address: %v\n%s", err, conf)
	}
}

// checkConfMembership checks that the conf four-letter word of the member
// at addr lists the activated configuration text (Java's dumpConf prints
// the current QuorumVerifier), not the one it started with.
func checkConfMembership(t *testing.T, addr, text string) {
	t.Helper()
	out, err := harness.FourLetter(addr, "conf")
	if err != nil {
		t.Fatalf("conf at %s: %v", addr, err)
	}
	_, membership, ok := strings.Cut(out, "membership: \n")
	if !ok {
		t.Fatalf("conf at %s has no membership:\n%s", addr, out)
	}
	var want, got []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "server.") {
			want = append(want, l)
		}
	}
	for _, l := range strings.Split(membership, "\n") {
		if strings.HasPrefix(l, "server.") {
			got = append(got, l)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("conf at %s lists the members\n%s\nwant the activated\n%s", addr, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// observerEnsemble lays out three zkgo participants and observer 4
// (started by the caller with startJoiner).
func observerEnsemble(t *testing.T) (*harness.Mixed, *reconfigEnsemble) {
	t.Helper()
	specs := []harness.MemberSpec{}
	for id := int64(1); id <= 4; id++ {
		specs = append(specs, harness.MemberSpec{ID: id, Kind: harness.MemberExternal, Observer: id == 4})
	}
	m := harness.NewMixed(t, harness.MixedOptions{Members: specs})
	return m, &reconfigEnsemble{m: m, zk: map[int64]*harness.Zkgo{}}
}

// lockedBuf collects a member's log lines (zerolog writes from several
// goroutines).
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the lines holding sub.
func (l *lockedBuf) lines(sub string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return out
}

// tWriter writes log lines to the test's log.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
