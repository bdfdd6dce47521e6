package sim

import (
	"flag"
	"testing"
	"time"
)

var (
	flagSeeds = flag.Int("sim.seeds", 0, "seeds TestSimSeeds runs (0: the default for the build)")
	flagFirst = flag.Uint64("sim.first", 1, "first seed TestSimSeeds runs")
)

// defaultSeeds is what `make test` runs: at least 2,000 seeds in a few
// tens of seconds (issue 16: 2,000 within its 3-minute budget).
const defaultSeeds = 2000

// TestSimSeeds runs the simulator on many seeds; a failing seed is shrunk
// and reported with its replay command.
func TestSimSeeds(t *testing.T) {
	n := *flagSeeds
	if n == 0 {
		n = defaultSeeds
		if testing.Short() {
			n = 200
		}
	}
	start := time.Now()
	var steps, ops, committed, leaders int
	var virt int64
	syncs := map[string]int{}
	for i := 0; i < n; i++ {
		cfg := Config{Seed: *flagFirst + uint64(i)}
		r := Run(cfg)
		steps += r.Steps
		ops += r.Ops
		committed += r.Committed
		leaders += r.Leaders
		virt += r.VirtualMs
		for k, v := range r.Syncs {
			syncs[k] += v
		}
		if r.Violation != nil {
			scfg, sr := Shrink(cfg, r, 80)
			t.Fatalf("seed %d: %v\nreplay: %s\n%s", cfg.Seed, r.Violation, ReplayCommand(scfg, sr), sr.Report(120))
		}
	}
	el := time.Since(start)
	t.Logf("%d seeds in %v (%.0f seeds/min): %d steps, %d client writes answered (%.0f/s of wall time), %d txns committed, %d leaderships, %.0f virtual s",
		n, el.Round(time.Millisecond), float64(n)/el.Minutes(), steps, ops, float64(ops)/el.Seconds(), committed, leaders, float64(virt)/1000)
	t.Logf("syncs: %v", syncs)
	// Every sync mode and the main reasons must occur, or the runs miss
	// part of the sync plan.
	for _, k := range []string{"DIFF/in-step", "DIFF/committed-log", "DIFF/txn-log", "TRUNC/ahead", "SNAP/forced",
		"SNAP/txn-log-unusable", "SNAP/unhandled", "SNAP/trunc-across-epochs"} {
		if syncs[k] == 0 && n >= defaultSeeds {
			t.Errorf("no %s sync in %d seeds", k, n)
		}
	}
	if leaders < n {
		t.Errorf("only %d leaderships in %d seeds: the runs do not get far", leaders, n)
	}
}
