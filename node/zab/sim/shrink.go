package sim

import (
	"fmt"
	"strings"
)

// Shrink looks for a smaller fault schedule that still breaks the same
// property: it disables the faults of cfg's schedule one at a time, newest
// first, and keeps each removal after which the run still fails with the
// same kind of violation (at most budget runs). It returns the smallest
// configuration found and its run, traced.
func Shrink(cfg Config, failed Result, budget int) (Config, Result) {
	if failed.Violation == nil {
		return cfg, failed
	}
	kind := failed.Violation.Kind
	cfg.Trace = false
	dis := map[int]bool{}
	for i := range cfg.Disabled {
		dis[i] = true
	}
	// Faults after the violation never happened.
	for i, f := range failed.Schedule {
		if f.At > failed.Violation.At {
			dis[i] = true
		}
	}
	best := failed
	for i := len(failed.Schedule) - 1; i >= 0 && budget > 0; i-- {
		if dis[i] {
			continue
		}
		dis[i] = true
		try := cfg
		try.Disabled = dis
		budget--
		r := Run(try)
		if r.Violation != nil && r.Violation.Kind == kind {
			best = r
			continue
		}
		delete(dis, i)
	}
	cfg.Disabled = dis
	cfg.Trace = true
	r := Run(cfg)
	if r.Violation == nil {
		// Should not happen (runs are deterministic); keep the original.
		return cfg, best
	}
	return cfg, r
}

// Kept lists the schedule's faults a configuration keeps (not disabled),
// up to the violation.
func Kept(cfg Config, r Result) []int {
	var out []int
	for i, f := range r.Schedule {
		if !cfg.Disabled[i] && (r.Violation == nil || f.At <= r.Violation.At) {
			out = append(out, i)
		}
	}
	return out
}

// ReplayCommand is the one-line command that replays a run of cfg.
func ReplayCommand(cfg Config, r Result) string {
	cfg = cfg.withDefaults()
	args := []string{"go run ./internal/zabsim", fmt.Sprintf("-seed=%d", cfg.Seed), fmt.Sprintf("-peers=%d", cfg.Peers), fmt.Sprintf("-observers=%d", observersArg(cfg.Observers)),
		fmt.Sprintf("-hier=%d", cfg.Hier), fmt.Sprintf("-duration=%d", cfg.Duration)}
	if cfg.Sabotage != "" {
		args = append([]string{"go run -tags zabsabotage ./internal/zabsim"}, args[1:]...)
		args = append(args, "-sabotage="+cfg.Sabotage)
	}
	if len(cfg.Disabled) > 0 {
		kept := Kept(cfg, r)
		s := make([]string, len(kept))
		for i, k := range kept {
			s[i] = fmt.Sprint(k)
		}
		args = append(args, "-only="+strings.Join(s, ","))
	}
	return strings.Join(append(args, "-trace"), " ")
}

// Only returns the Disabled set that keeps just the faults listed, of a
// schedule of n faults.
func Only(keep []int, n int) map[int]bool {
	k := map[int]bool{}
	for _, i := range keep {
		k[i] = true
	}
	d := map[int]bool{}
	for i := 0; i < n; i++ {
		if !k[i] {
			d[i] = true
		}
	}
	return d
}

// observersArg is the -observers value that gives n observers (0 is the
// seed's default).
func observersArg(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
