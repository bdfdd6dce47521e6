package compattest

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/compat-tests/xchk"
)

// Differential conformance (issue 5): Java ZooKeeper 3.8 and zkgo get the
// same operation stream through raw-wire sessions and must answer alike,
// reply by reply and event by event (compat-tests/xchk). The random runs
// take their seeds and sizes from the environment:
//
//	ZKGO_CONFORMANCE_SEEDS=1,2,3   seeds (default: the CI seeds below)
//	ZKGO_CONFORMANCE_OPS=5000      operations per seed
//	ZKGO_CONFORMANCE_EXPIRE=2000   mean ops between session expiries (-1: none)
//
// `make conformance` runs the long version.

// ciSeeds and ciOpsPerSeed are what `make test` runs: 20,000 operations.
var ciSeeds = []int64{1, 2, 3, 4}

const ciOpsPerSeed = 5000

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

func envSeeds(t *testing.T) []int64 {
	t.Helper()
	v := os.Getenv("ZKGO_CONFORMANCE_SEEDS")
	if v == "" {
		return ciSeeds
	}
	var out []int64
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil {
			t.Fatalf("ZKGO_CONFORMANCE_SEEDS=%q: %v", v, err)
		}
		out = append(out, n)
	}
	return out
}

// TestConformanceRandom runs seeded random operation streams against a
// fresh Java/zkgo pair per seed.
func TestConformanceRandom(t *testing.T) {
	harness.SkipShort(t)
	harness.RequireJava(t)
	ops := envInt(t, "ZKGO_CONFORMANCE_OPS", ciOpsPerSeed)
	expire := envInt(t, "ZKGO_CONFORMANCE_EXPIRE", 0)
	total, start := 0, time.Now()
	for _, seed := range envSeeds(t) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			n := runRandom(t, seed, ops, xchk.GenConfig{ExpireEvery: expire}, nil)
			total += n
		})
	}
	t.Logf("conformance: %d random operations in %v, 0 undocumented divergences", total, time.Since(start).Round(time.Millisecond))
}

// runRandom runs ops random steps of seed and returns how many ran; a
// divergence fails t with the report. wrap, when set, wraps zkgo's
// address (the harness self-test).
func runRandom(t *testing.T, seed int64, ops int, gc xchk.GenConfig, wrap func(string) string) int {
	t.Helper()
	tgs := xchk.StartPair(t, xchk.PairConfig{ExtendedTypes: true, WrapZkgo: wrap})
	replay := fmt.Sprintf("ZKGO_CONFORMANCE_SEEDS=%d ZKGO_CONFORMANCE_OPS=%d go test ./compat-tests -run 'TestConformanceRandom' -count=1 -v", seed, ops)
	c, err := xchk.NewChecker(tgs, xchk.Options{Seed: seed, Replay: replay})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %d: %d operations (replay: %s)", seed, ops, replay)
	g := xchk.NewGen(seed, gc)
	start := time.Now()
	for i := 0; i < ops; i++ {
		if d := c.Step(g.Next()); d != nil {
			c.Close()
			t.Fatal(d)
		}
		if (i+1)%50000 == 0 {
			t.Logf("seed %d: %d operations, %v", seed, i+1, time.Since(start).Round(time.Second))
		}
	}
	if d := c.Finish(); d != nil {
		t.Fatal(d)
	}
	t.Logf("seed %d: %d operations in %v; steps by kind: %v; documented differences: %s", seed, c.Ops(),
		time.Since(start).Round(time.Millisecond), c.Kinds, c.KnownSummary())
	t.Logf("seed %d: Java's replies by op and error: %s", seed, coverage(c.Coverage))
	return c.Ops()
}

// coverage renders the checker's reply counts sorted by key.
func coverage(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
