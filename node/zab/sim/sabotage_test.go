//go:build zabsabotage

package sim

import (
	"testing"
)

// maxSabotageSeeds bounds the seeds the simulator may take to find each
// sabotage.
const maxSabotageSeeds = 1500

// TestSabotageFound breaks each rule of the core on purpose (zabsabotage
// builds only) and requires the simulator to find it within
// maxSabotageSeeds seeds.
func TestSabotageFound(t *testing.T) { testSabotageFound(t, false) }

// TestSabotageFoundEndToEnd is TestSabotageFound without the durability
// check, the earliest to fire: the properties a user sees (the committed
// history kept by every new leader, logs that agree, linearizable
// answers) find each sabotage too.
func TestSabotageFoundEndToEnd(t *testing.T) { testSabotageFound(t, true) }

func testSabotageFound(t *testing.T, noDurable bool) {
	for _, name := range Sabotages {
		t.Run(name, func(t *testing.T) {
			for seed := uint64(1); seed <= maxSabotageSeeds; seed++ {
				cfg := Config{Seed: seed, Sabotage: name, NoDurableCheck: noDurable}
				r := Run(cfg)
				if r.Violation != nil {
					scfg, sr := Shrink(cfg, r, 40)
					t.Logf("found after %d seeds: %v\nreplay: %s\nshrunk to %d faults",
						seed, r.Violation, ReplayCommand(scfg, sr), len(Kept(scfg, sr)))
					return
				}
			}
			t.Fatalf("sabotage %s not found in %d seeds", name, maxSabotageSeeds)
		})
	}
}

// TestSabotageScenarios: the scenarios of the bugs each sabotage brings
// back fail under it (they pass on the real core: TestScenarios).
func TestSabotageScenarios(t *testing.T) {
	for _, c := range []struct {
		sabotage string
		sc       func(string) Config
	}{
		{"ack-before-sync", scenarioAckThenCrash},
		{"epoch-before-log", scenarioEpochAtSyncThenCrash},
		{"minority-commit", scenarioLeaderCrashAfterCommit},
		{"keep-log-at-snap", scenarioStaleLogAfterSnap},
	} {
		t.Run(c.sabotage, func(t *testing.T) {
			r := Run(c.sc(c.sabotage))
			if r.Violation == nil {
				t.Fatalf("the scenario passes under sabotage %s", c.sabotage)
			}
			t.Logf("caught: %v", r.Violation)
		})
	}
}
