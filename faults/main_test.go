package faults

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
)

func TestMain(m *testing.M) {
	HandleSignals()
	if Requirements() == nil {
		if removed, err := Sweep(); len(removed) > 0 || err != nil {
			fmt.Fprintf(os.Stderr, "faults: swept leftovers of crashed runs: %v (%v)\n", removed, err)
		}
	}
	code := m.Run()
	RunCleanups()
	os.Exit(code)
}

// requireSuite skips (or, under CI=true, fails) when the machine cannot run
// the suite.
func requireSuite(t *testing.T) {
	t.Helper()
	harness.SkipShort(t)
	if err := Requirements(); err != nil {
		harness.Unavailable(t, "%v", err)
	}
}

// startEnsemble starts mix in fresh namespaces; everything is removed at
// cleanup.
func startEnsemble(t *testing.T, mix string, seed uint64) *Ensemble {
	return startEnsembleWith(t, mix, seed, false)
}

// startEnsembleWith starts mix, with relays on every peer link if relay.
func startEnsembleWith(t *testing.T, mix string, seed uint64, relay bool) *Ensemble {
	t.Helper()
	return startEnsembleOpt(t, mix, seed, relay, false)
}

// startEnsembleOpt starts mix, with relays if relay, with
// reconfigEnabled=true and the split config layout if reconfig.
func startEnsembleOpt(t *testing.T, mix string, seed uint64, relay, reconfig bool) *Ensemble {
	t.Helper()
	requireSuite(t)
	specs, err := ParseMix(mix)
	if err != nil {
		t.Fatal(err)
	}
	var java *harness.Java
	var bin string
	for _, s := range specs {
		if s.Kind == Java && java == nil {
			java = harness.RequireJava(t)
		}
		if s.Kind == Zkgo && bin == "" {
			// ZKGO_FAULTS_ZKGO runs another build (e.g. a branch's).
			if bin = os.Getenv("ZKGO_FAULTS_ZKGO"); bin == "" {
				bin = harness.BuildZkgo(t)
			}
		}
	}
	nw, err := NewNetwork(rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano()))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := nw.Close(); err != nil {
			t.Errorf("removing network: %v", err)
		}
	})
	e, err := NewEnsemble(EnsembleConfig{Mix: mix, Dir: t.TempDir(), Zkgo: bin, Java: java, Net: nw, Logf: t.Logf,
		Relay: relay, Reconfig: reconfig})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("stopping nodes: %v", err)
		}
	})
	if err := e.StartAll(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.WaitHealthy(90 * time.Second); err != nil {
		t.Fatalf("%v\n%s", err, e.LogTail(1, 3000))
	}
	return e
}

func TestEnsembleSmoke(t *testing.T) {
	e := startEnsemble(t, "jjz", 1)
	c, _, err := zk.Connect(e.Servers(), 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Create("/smoke", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for _, n := range e.Nodes {
		one, _, err := zk.Connect([]string{n.ClientAddr()}, 4*time.Second, zk.WithLogInfo(false))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := one.Sync("/smoke"); err != nil {
			t.Fatal(err)
		}
		d, _, err := one.Get("/smoke")
		one.Close()
		if err != nil || string(d) != "x" {
			t.Fatalf("node %d: %q %v", n.ID, d, err)
		}
	}
}

// TestSweepLeftovers leaves what a crashed run would (a bridge whose owner
// is gone, a namespace with a veth pair and a process) and checks that the
// sweeper removes all of it and nothing of a live run.
func TestSweepLeftovers(t *testing.T) {
	requireSuite(t)
	live, err := NewNetwork(rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3)))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if _, err := live.AddHost(1); err != nil {
		t.Fatal(err)
	}
	dead, err := NewNetwork(rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 4)))
	if err != nil {
		t.Fatal(err)
	}
	unregisterCleanup(dead.Bridge)      // as if its process had crashed
	defer func() { _ = dead.Close() }() // in case the sweeper misses it
	h, err := dead.AddHost(1)
	if err != nil {
		t.Fatal(err)
	}
	// pid 1 runs, but not since this start time: the owner is gone.
	if err := run("ip", "link", "set", dead.Bridge, "alias", "zkgo-faults pid=1 start=0"); err != nil {
		t.Fatal(err)
	}
	sleeper := h.Exec("sleep", "600")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- sleeper.Wait() }()
	removed, err := Sweep()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(removed, dead.Bridge) || slices.Contains(removed, live.Bridge) {
		t.Fatalf("swept %v; want %s and not %s", removed, dead.Bridge, live.Bridge)
	}
	if linkExists(dead.Bridge) || linkExists(h.veth) {
		t.Errorf("the crashed run's bridge or veth is still there")
	}
	out, _ := output("ip", "netns", "list")
	if strings.Contains(out, h.NS+" ") {
		t.Errorf("the crashed run's namespace %s is still there:\n%s", h.NS, out)
	}
	if !strings.Contains(out, live.Host(1).NS+" ") {
		t.Errorf("the sweeper removed the live run's namespace %s:\n%s", live.Host(1).NS, out)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Errorf("the crashed run's process was not killed")
		_ = sleeper.Process.Kill()
	}
}

// TestNewNetworkSkipsLeftoverNames: a veth of a closed run can outlive its
// bridge (its namespace lives until its last process exits); a new run whose
// seed picks the same subnet first must take another one instead of failing
// to create its first host ("File exists").
func TestNewNetworkSkipsLeftoverNames(t *testing.T) {
	requireSuite(t)
	seed := uint64(time.Now().UnixNano())
	first := 16 + rand.New(rand.NewPCG(seed, 5)).IntN(235)
	prefix := "zkf" + fmt.Sprint(first)
	if subnetInUse(first) || namesInUse(prefix) || linkExists("zkfb"+fmt.Sprint(first)) {
		t.Fatalf("subnet %d is in use by another run; rerun", first)
	}
	leftover := prefix + "h1"
	if err := run("ip", "link", "add", leftover, "type", "veth", "peer", "name", prefix+"p1"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = run("ip", "link", "delete", leftover) }()
	n, err := NewNetwork(rand.New(rand.NewPCG(seed, 5)))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.Octet == first {
		t.Errorf("NewNetwork took subnet %d although %s exists", first, leftover)
	}
	if _, err := n.AddHost(1); err != nil {
		t.Fatalf("AddHost(1) on subnet %d: %v", n.Octet, err)
	}
}

// TestDumpStuck: a failed recovery leaves the goroutines of every zkgo
// node that does not serve in its log, and only of those (here: node 1,
// cut from the others, looks for a leader; 2 and 3 serve).
func TestDumpStuck(t *testing.T) {
	e := startEnsemble(t, "zzz", 1)
	h1, h2, h3 := e.Node(1).Host, e.Node(2).Host, e.Node(3).Host
	if err := errors.Join(h1.Drop(h2, h3), h2.Drop(h1), h3.Drop(h1)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		m1, _ := e.Mode(1)
		m2, _ := e.Mode(2)
		m3, _ := e.Mode(3)
		if m1 == "" && m2 != "" && m3 != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node 1 cut from the others: modes %q %q %q", m1, m2, m3)
		}
		time.Sleep(100 * time.Millisecond)
	}
	lines := e.DumpStuck()
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "node 1 ") {
		t.Fatalf("DumpStuck: %q; want node 1 only", lines)
	}
	if e.Node(1).Running() || !e.Node(2).Running() || !e.Node(3).Running() {
		t.Errorf("after the dump: running %v %v %v; want node 1 stopped only",
			e.Node(1).Running(), e.Node(2).Running(), e.Node(3).Running())
	}
	b, err := os.ReadFile(e.Node(1).LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "SIGQUIT") || !strings.Contains(string(b), "node.(*Server).run") {
		t.Errorf("node 1's log has no goroutine dump:\n%s", e.LogTail(1, 2000))
	}
}
