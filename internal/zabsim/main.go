// Command zabsim runs the deterministic Zab simulator (node/zab/sim) on
// many seeds, or replays one (`make sim`; docs/zab.md, "The simulator").
//
//	go run ./internal/zabsim -seeds=10000            # seeds 1..10000
//	go run ./internal/zabsim -duration-wall=2h -j=2  # until the time is up
//	go run ./internal/zabsim -seed=42 -only=3,7 -trace
//
// It prints the throughput (seeds per minute, simulated client writes per
// second) as it goes, and for a failing seed the violation, a one-line
// replay command and the trace of the shrunk run; it exits 1 then.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkgo/zkgo/node/zab/sim"
)

func main() {
	var (
		seeds    = flag.Int("seeds", 1000, "number of seeds to run (ignored with -seed or -duration-wall)")
		first    = flag.Uint64("first", 1, "first seed")
		seed     = flag.Uint64("seed", 0, "replay this seed only")
		peers    = flag.Int("peers", 0, "voters (0: five for one seed in eight, else three)")
		obs      = flag.Int("observers", 0, "observers (0: one for one seed in three; -1: none)")
		hier     = flag.Int("hier", 0, "hierarchical quorum config (0: one seed in seven has one; -1: majority; n: the n-th for the voters)")
		duration = flag.Int64("duration", 9500, "virtual time per seed, ms")
		wall     = flag.Duration("duration-wall", 0, "run seeds until this much wall time passed")
		jobs     = flag.Int("j", 1, "seeds run in parallel")
		only     = flag.String("only", "", "replay: keep only these faults of the schedule (comma-separated indices)")
		trace    = flag.Bool("trace", false, "replay: print the whole trace, each peer's election steps included")
		sabotage = flag.String("sabotage", "", "a sabotage to apply (zabsabotage builds)")
		every    = flag.Duration("report", 30*time.Second, "progress report interval")
	)
	flag.Parse()
	base := sim.Config{Peers: *peers, Observers: *obs, Hier: *hier, Duration: *duration, Sabotage: *sabotage}
	if *seed != 0 {
		os.Exit(replay(base, *seed, *only, *trace))
	}
	start := time.Now()
	var next atomic.Uint64
	next.Store(*first)
	var done, steps, ops, reads, committed atomic.Int64
	var failMu sync.Mutex
	var syncMu sync.Mutex
	syncs := map[string]int{}
	var failed *sim.Config
	var failedRes sim.Result
	stop := func() bool {
		if *wall > 0 {
			return time.Since(start) >= *wall
		}
		return next.Load() >= *first+uint64(*seeds)
	}
	report := func(final bool) {
		el := time.Since(start)
		n := done.Load()
		word := "progress"
		if final {
			word = "done"
		}
		fmt.Printf("%s: %d seeds in %v: %.0f seeds/min, %.0f simulated client writes/s (%d answered, %d txns committed, %d reads checked, %d steps)\n",
			word, n, el.Round(time.Second), float64(n)/el.Minutes(), float64(ops.Load())/el.Seconds(), ops.Load(), committed.Load(), reads.Load(), steps.Load())
	}
	var wg sync.WaitGroup
	quit := make(chan struct{})
	go func() {
		t := time.NewTicker(*every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				report(false)
			}
		}
	}()
	for j := 0; j < max(*jobs, 1); j++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop() {
				s := next.Add(1) - 1
				if *wall == 0 && s >= *first+uint64(*seeds) {
					return
				}
				cfg := base
				cfg.Seed = s
				r := sim.Run(cfg)
				done.Add(1)
				steps.Add(int64(r.Steps))
				ops.Add(int64(r.Ops))
				reads.Add(int64(r.Reads))
				committed.Add(int64(r.Committed))
				syncMu.Lock()
				for k, v := range r.Syncs {
					syncs[k] += v
				}
				syncMu.Unlock()
				if r.Violation != nil {
					failMu.Lock()
					if failed == nil {
						failed, failedRes = &cfg, r
					}
					failMu.Unlock()
					return
				}
				failMu.Lock()
				f := failed != nil
				failMu.Unlock()
				if f {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(quit)
	report(true)
	fmt.Printf("syncs: %s\n", sim.SyncCounts(syncs))
	if failed != nil {
		fmt.Printf("FAIL: seed %d: %v\nshrinking...\n", failed.Seed, failedRes.Violation)
		scfg, sr := sim.Shrink(*failed, failedRes, 100)
		fmt.Printf("replay: %s\n%s", sim.ReplayCommand(scfg, sr), sr.Report(150))
		os.Exit(1)
	}
	fmt.Println("no violations")
}

func replay(cfg sim.Config, seed uint64, only string, trace bool) int {
	cfg.Seed, cfg.Trace, cfg.TraceElection = seed, true, trace
	if only != "" || strings.Contains(strings.Join(os.Args, " "), "-only") {
		probe := sim.Run(sim.Config{Seed: seed, Peers: cfg.Peers, Observers: cfg.Observers, Hier: cfg.Hier, Duration: cfg.Duration, Sabotage: cfg.Sabotage})
		var keep []int
		for _, s := range strings.Split(only, ",") {
			if s == "" {
				continue
			}
			i, err := strconv.Atoi(s)
			if err != nil {
				fmt.Fprintf(os.Stderr, "-only: %v\n", err)
				return 2
			}
			keep = append(keep, i)
		}
		cfg.Disabled = sim.Only(keep, len(probe.Schedule))
	}
	r := sim.Run(cfg)
	max := 150
	if trace {
		max = 0
	}
	fmt.Printf("seed %d: %d steps, %d client writes answered, %d txns committed, %d leaderships, %d faults\n",
		seed, r.Steps, r.Ops, r.Committed, r.Leaders, r.Faults)
	fmt.Printf("syncs: %s\n", sim.SyncCounts(r.Syncs))
	fmt.Print(r.Report(max))
	if r.Violation != nil {
		return 1
	}
	return 0
}
