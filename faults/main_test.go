package faults

import (
	"fmt"
	"math/rand/v2"
	"os"
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
		Relay: relay})
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
