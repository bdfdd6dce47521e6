//go:build zabsabotage

package sim

import (
	"testing"
)

// maxSabotageSeeds bounds the seeds the simulator may take to find each
// sabotage.
const maxSabotageSeeds = 500

// TestSabotageFound breaks each rule of the core on purpose (zabsabotage
// builds only) and requires the simulator to find it within
// maxSabotageSeeds seeds.
func TestSabotageFound(t *testing.T) {
	for _, name := range Sabotages {
		t.Run(name, func(t *testing.T) {
			for seed := uint64(1); seed <= maxSabotageSeeds; seed++ {
				cfg := Config{Seed: seed, Sabotage: name}
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
