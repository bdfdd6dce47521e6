package compattest

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
)

// Hierarchical quorums (group.N / weight.N, QuorumHierarchical) in mixed
// ensembles (issue 14, point 5): zkgo, as follower and as leader, must
// take the same quorum decisions as its Java 3.8.0 peers where a plain
// majority count would decide otherwise.

// staysOut fails t if zkgo member z reaches one of the modes within d.
func staysOut(t *testing.T, z *harness.Zkgo, d time.Duration, modes ...string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		m := z.Server.Mode()
		for _, bad := range modes {
			if m == bad {
				t.Fatalf("zkgo became %s", m)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// javaNotServing fails t if Java member id serves within d.
func javaNotServing(t *testing.T, m *harness.Mixed, id int64, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if mode, err := m.Mode(id); err == nil && mode != "" {
			t.Fatalf("Java member %d serves as %s", id, mode)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Groups {1,2,3} {4} {5}: Java members 4 and 5 are a quorum on their own
// (two of three groups) though they are 2 of 5 servers. zkgo (3) must join
// them as a follower, which a majority count (3 votes) never allows, and
// must not follow anyone when only 3 and 5 are left (group 3 alone), though
// Java's former leader 5 still tells it whom it led.
func TestCompat_HierarchicalZkgoFollower(t *testing.T) {
	harness.RequireJava(t)
	m := harness.NewMixed(t, harness.MixedOptions{
		Members: []harness.MemberSpec{
			{ID: 1, Kind: harness.MemberJava}, {ID: 2, Kind: harness.MemberJava}, {ID: 3, Kind: harness.MemberExternal},
			{ID: 4, Kind: harness.MemberJava}, {ID: 5, Kind: harness.MemberJava},
		},
		TickTime: 200, InitLimit: 20, SyncLimit: 10,
		Props: map[string]string{"group.1": "1:2:3", "group.2": "4", "group.3": "5", "weight.1": "2"},
	})
	e := &zkgoEnsemble{t: t, m: m, zk: map[int64]*harness.Zkgo{}}
	m.Start(4)
	m.Start(5)
	m.WaitMode(t, 5, "leader", 60*time.Second)
	m.WaitMode(t, 4, "follower", 60*time.Second)
	z := e.start(3)
	harness.WaitZkgoMode(t, z, "follower", 60*time.Second)
	cz := zkConn(t, z.Addr)
	_, err := cz.Create("/via-zkgo", []byte("z"), 0, open)
	must(t, err)
	c4 := zkConn(t, m.ClientAddr(4))
	_, err = c4.Sync("/via-zkgo")
	must(t, err)
	waitData(t, c4, "/via-zkgo", []byte("z"))
	// /zookeeper/config holds QuorumHierarchical.toString (server, group and
	// weight lines) on both. (zkgo's own rendering of it is pinned by
	// TestQuorumConfigHierarchical, in the layout Java writes here.)
	jcfg, _, err := c4.Get("/zookeeper/config")
	must(t, err)
	zcfg, _, err := cz.Get("/zookeeper/config")
	must(t, err)
	if len(jcfg) == 0 || string(zcfg) != string(jcfg) {
		t.Errorf("/zookeeper/config differs (-java +zkgo):\n%s", lineDiff(string(jcfg), string(zcfg)))
	}
	_, err = c4.Create("/via-java", []byte("j"), 0, open)
	must(t, err)
	_, err = cz.Sync("/via-java")
	must(t, err)
	waitData(t, cz, "/via-java", []byte("j"))

	// Without 4, {3, 5} holds group 3 only (3 weighs 1 of group 1's 4):
	// Java's leader steps down, and nobody may lead or follow.
	m.Kill(4)
	harness.WaitZkgoMode(t, z, "looking", 30*time.Second)
	staysOut(t, z, 4*time.Second, "follower", "leader")
	javaNotServing(t, m, 5, time.Second)

	// With 4 back the ensemble forms again, zkgo following.
	m.Start(4)
	harness.WaitZkgoMode(t, z, "follower", 60*time.Second)
	cz2 := zkConn(t, z.Addr)
	_, err = cz2.Sync("/via-java")
	must(t, err)
	waitData(t, cz2, "/via-java", []byte("j"))
	checkJavaLogsOf(t, m, 5)
}

// Groups {1,2} {3,4} {5}, zkgo is 5 and leads. Frozen 2 and 4 leave the
// leader with 1, 3 and itself: 3 of 5 voters, a majority, but only group 3
// complete. A write must not commit then, the leader must step down, and
// zkgo's election must not crown anyone until 2 or 4 is back, as Java's.
func TestCompat_HierarchicalZkgoLeader(t *testing.T) {
	harness.RequireJava(t)
	m := harness.NewMixed(t, harness.MixedOptions{
		Members: []harness.MemberSpec{
			{ID: 1, Kind: harness.MemberJava}, {ID: 2, Kind: harness.MemberJava}, {ID: 3, Kind: harness.MemberJava},
			{ID: 4, Kind: harness.MemberJava}, {ID: 5, Kind: harness.MemberExternal},
		},
		TickTime: 200, InitLimit: 20, SyncLimit: 10,
		Props: map[string]string{"group.1": "1:2", "group.2": "3:4", "group.3": "5", "weight.5": "2"},
	})
	e := &zkgoEnsemble{t: t, m: m, zk: map[int64]*harness.Zkgo{}}
	z := e.start(5)
	m.Start(1)
	m.Start(2)
	if id := e.leader(); id != 5 {
		t.Fatalf("leader %d, want zkgo (5)", id)
	}
	m.WaitMode(t, 1, "follower", 60*time.Second)
	m.WaitMode(t, 2, "follower", 60*time.Second)
	m.Start(3)
	m.Start(4)
	m.WaitMode(t, 3, "follower", 60*time.Second)
	m.WaitMode(t, 4, "follower", 60*time.Second)
	cz := zkConn(t, z.Addr)
	_, err := cz.Create("/before", nil, 0, open)
	must(t, err)

	m.Signal(2, syscall.SIGSTOP)
	m.Signal(4, syscall.SIGSTOP)
	t.Cleanup(func() { m.Signal(2, syscall.SIGCONT); m.Signal(4, syscall.SIGCONT) })
	done := make(chan error, 1)
	go func() {
		_, err := cz.Create("/split", nil, 0, open)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a write committed with acks from 1, 3 and 5 only (groups 1 and 2 incomplete)")
		}
		if !errors.Is(err, zk.ErrConnectionClosed) && !errors.Is(err, zk.ErrSessionExpired) {
			t.Logf("write failed: %v", err)
		}
	case <-time.After(1500 * time.Millisecond):
		// Still waiting for acks, as it must.
	}
	// The leader loses its synced quorum within syncLimit ticks.
	deadline := time.Now().Add(15 * time.Second)
	for z.Server.Mode() == "leader" {
		if time.Now().After(deadline) {
			t.Fatal("zkgo still leads with 1, 3 and 5 only")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// 1, 3 and 5 are a majority but not a hierarchical quorum: no leader.
	staysOut(t, z, 4*time.Second, "leader", "follower")
	javaNotServing(t, m, 1, time.Second)
	javaNotServing(t, m, 3, time.Second)

	m.Signal(2, syscall.SIGCONT)
	m.Signal(4, syscall.SIGCONT)
	leader := e.leader()
	t.Logf("leader after 2 and 4 resumed: %d", leader)
	for _, id := range []int64{1, 2, 3, 4} {
		m.WaitMode(t, id, "follower", 60*time.Second)
	}
	// Everyone agrees on the data, whatever became of /split.
	var want *bool
	for _, addr := range []string{z.Addr, m.ClientAddr(1), m.ClientAddr(2), m.ClientAddr(3), m.ClientAddr(4)} {
		c := zkConn(t, addr)
		_, err := c.Sync("/")
		must(t, err)
		ok, _, err := c.Exists("/before")
		must(t, err)
		if !ok {
			t.Fatalf("%s: /before is missing", addr)
		}
		split, _, err := c.Exists("/split")
		must(t, err)
		if want == nil {
			want = &split
		} else if split != *want {
			t.Fatalf("%s: /split exists=%v, another member says %v", addr, split, *want)
		}
	}
	checkJavaLogsAllowing(t, m, leaderDeathRaces, 1, 2, 3, 4)
}
