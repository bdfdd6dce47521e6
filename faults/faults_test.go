package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The matrix TestFaults runs. The defaults are the short, deterministic CI
// version (make test); make faults sets the long one through these
// variables:
//
//	ZKGO_FAULTS_MIXES     comma-separated mixes (see ParseMix)      default jjz,zzz
//	ZKGO_FAULTS_SEEDS     comma-separated seeds, or FROM-TO         default 1
//	ZKGO_FAULTS_DURATION  the faulty part of each run               default 25s
//	ZKGO_FAULTS_NEMESES   comma-separated faults, or all            default all
//	ZKGO_FAULTS_RESULTS   where failed runs are saved               default faults/results
//	ZKGO_FAULTS_KEEP      non-empty: save passing runs too
//	ZKGO_FAULTS_ZKGO      a zkgo binary to run instead of building cmd/zkgo
//
// TestFaultsReconfig (reconfigs under faults, make faults-reconfig) reads
// its own mixes, seeds and duration, and ZKGO_FAULTS_NEMESES:
//
//	ZKGO_FAULTS_RECONFIG_MIXES     default jjz
//	ZKGO_FAULTS_RECONFIG_SEEDS     default 1
//	ZKGO_FAULTS_RECONFIG_DURATION  default 20s
func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func parseSeeds(s string) ([]uint64, error) {
	var out []uint64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if a, b, ok := strings.Cut(part, "-"); ok {
			lo, err1 := strconv.ParseUint(a, 10, 64)
			hi, err2 := strconv.ParseUint(b, 10, 64)
			if err1 != nil || err2 != nil || hi < lo {
				return nil, fmt.Errorf("bad seed range %q", part)
			}
			for s := lo; s <= hi; s++ {
				out = append(out, s)
			}
			continue
		}
		v, err := strconv.ParseUint(part, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad seed %q", part)
		}
		out = append(out, v)
	}
	return out, nil
}

func TestFaults(t *testing.T) {
	requireSuite(t)
	mixes := strings.Split(env("ZKGO_FAULTS_MIXES", "jjz,zzz"), ",")
	seeds, err := parseSeeds(env("ZKGO_FAULTS_SEEDS", "1"))
	if err != nil {
		t.Fatal(err)
	}
	dur, err := time.ParseDuration(env("ZKGO_FAULTS_DURATION", "25s"))
	if err != nil {
		t.Fatal(err)
	}
	faults, err := ParseFaults(env("ZKGO_FAULTS_NEMESES", "all"))
	if err != nil {
		t.Fatal(err)
	}
	for _, mix := range mixes {
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("%s/seed=%d", mix, seed), func(t *testing.T) {
				runOne(t, mix, seed, dur, faults)
			})
		}
	}
}

// TestFaultsReconfig is the suite with dynamic reconfiguration (issue 17):
// every node starts with reconfigEnabled=true in Java's split config
// layout, and while the workloads run and the nemesis injects its faults a
// driver issues reconfigs through random live members (Reconfigs). Besides
// every checker of TestFaults, the reconfig history must be linearizable
// with the final configuration (checker "reconfigs") and every member must
// serve, play and keep on disk the same configuration ("membership").
// Delay is not among the faults: its relays give each node different
// server lines, which a reconfig would overwrite.
func TestFaultsReconfig(t *testing.T) {
	requireSuite(t)
	mixes := strings.Split(env("ZKGO_FAULTS_RECONFIG_MIXES", "jjz"), ",")
	seeds, err := parseSeeds(env("ZKGO_FAULTS_RECONFIG_SEEDS", "1"))
	if err != nil {
		t.Fatal(err)
	}
	dur, err := time.ParseDuration(env("ZKGO_FAULTS_RECONFIG_DURATION", "20s"))
	if err != nil {
		t.Fatal(err)
	}
	faults, err := ParseFaults(env("ZKGO_FAULTS_NEMESES", "all"))
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(faults, FaultDelay) {
		t.Fatalf("the delay fault needs relays, which reconfig runs cannot have (docs/faults.md)")
	}
	for _, mix := range mixes {
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("%s/seed=%d", mix, seed), func(t *testing.T) {
				runOneWith(t, mix, seed, dur, faults, true)
			})
		}
	}
}

// runOne starts mix, runs the seeded schedule, prints the report and fails
// t on any violation (saving the run under the results folder).
func runOne(t *testing.T, mix string, seed uint64, dur time.Duration, faults []Fault) {
	runOneWith(t, mix, seed, dur, faults, false)
}

// runOneWith is runOne, with the reconfig driver if reconfig.
func runOneWith(t *testing.T, mix string, seed uint64, dur time.Duration, faults []Fault, reconfig bool) {
	// Delay needs the relays; the suite runs them whenever delay is one
	// of the faults.
	e := startEnsembleOpt(t, mix, seed, slices.Contains(faults, FaultDelay), reconfig)
	names := make([]string, len(faults))
	for i, f := range faults {
		names[i] = string(f)
	}
	replay := fmt.Sprintf("ZKGO_FAULTS_MIXES=%s ZKGO_FAULTS_SEEDS=%d ZKGO_FAULTS_DURATION=%s ZKGO_FAULTS_NEMESES=%s "+
		"go test -count=1 -v -timeout 0 -run '^TestFaults$' ./faults/", mix, seed, dur, strings.Join(names, ","))
	if reconfig {
		replay = fmt.Sprintf("ZKGO_FAULTS_RECONFIG_MIXES=%s ZKGO_FAULTS_RECONFIG_SEEDS=%d ZKGO_FAULTS_RECONFIG_DURATION=%s "+
			"ZKGO_FAULTS_NEMESES=%s go test -count=1 -v -timeout 0 -run '^TestFaultsReconfig$' ./faults/",
			mix, seed, dur, strings.Join(names, ","))
	}
	ctx, cancel := context.WithTimeout(context.Background(), dur+10*time.Minute)
	defer cancel()
	res, err := Run(ctx, e, RunConfig{Seed: seed, Faults: faults, Duration: dur, Dir: t.TempDir(), Replay: replay,
		Logf: t.Logf, Reconfig: reconfig})
	if err != nil {
		t.Fatalf("%v\nreplay: %s", err, replay)
	}
	if !res.OK() || os.Getenv("ZKGO_FAULTS_KEEP") != "" {
		dir := filepath.Join(env("ZKGO_FAULTS_RESULTS", "results"), fmt.Sprintf("%s-seed%d-%s", e.Mix, seed,
			time.Now().Format("20060102-150405")))
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		if err := res.Save(dir, e); err != nil {
			t.Errorf("saving the run: %v", err)
		}
	}
	if !res.OK() {
		t.Errorf("%s", res.Report())
		return
	}
	t.Logf("%s", res.Report())
}
