package faults

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSelfTestTamper shows the checkers catch what they must: a tamper
// proxy in front of node 1 carries one register worker and one set worker;
// it acknowledges some of their writes without sending them on (drop) or
// acknowledges them before sending them on (reorder: the reply overtakes
// the write). The register (porcupine) and set checkers must report both;
// through the same proxy with no tampering (none) every checker passes.
func TestSelfTestTamper(t *testing.T) {
	e := startEnsemble(t, "zzz", 7)
	for _, mode := range []TamperMode{TamperNone, TamperDrop, TamperReorder} {
		t.Run(string(mode), func(t *testing.T) {
			tp, err := StartTamper(mode, e.Node(1).ClientAddr(), 30, 15)
			if err != nil {
				t.Fatal(err)
			}
			defer tp.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			res, err := Run(ctx, e, RunConfig{Seed: 7, Duration: 8 * time.Second, Recovery: time.Second,
				Dir: t.TempDir(), Logf: t.Logf, Root: "/selftest-" + string(mode),
				AfterWork: func() { _ = tp.Close() }, // reordered writes land before the final reads
				Dial: func(workload string, worker int) ([]string, bool) {
					if worker == 0 && (workload == "registers" || workload == "set") {
						return []string{tp.Addr()}, true
					}
					return nil, false
				}})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s", res.Report())
			tampered := tp.Tampered()
			t.Logf("tampered with %d writes: %v", len(tampered), tampered)
			verdict := map[string]Verdict{}
			for _, v := range res.Verdicts {
				verdict[v.Checker] = v
			}
			if mode == TamperNone {
				if len(tampered) != 0 || !res.OK() {
					t.Fatalf("the untampered control run must pass every checker")
				}
				return
			}
			hasSet := slices.ContainsFunc(tampered, func(s string) bool { return strings.HasPrefix(s, "create") })
			hasReg := slices.ContainsFunc(tampered, func(s string) bool { return strings.HasPrefix(s, "setData") })
			if !hasSet || !hasReg {
				t.Fatalf("the proxy tampered with too little to test both checkers: %v", tampered)
			}
			if v := verdict["linearizable"]; v.OK {
				t.Errorf("the register checker missed %d tampered writes", len(tampered))
			}
			v := verdict["set"]
			if v.OK {
				t.Errorf("the set checker missed the tampered creates")
			}
			for _, s := range tampered {
				name, ok := strings.CutPrefix(s, "create ")
				if ok && !slices.ContainsFunc(v.Details, func(d string) bool { return strings.Contains(d, name) }) {
					t.Errorf("the set checker does not name the tampered create %s", name)
				}
			}
			for _, c := range []string{"convergence", "locks", "ephemerals", "watches"} {
				if !verdict[c].OK {
					t.Errorf("checker %s failed though only the register and set workers were tampered with: %v",
						c, verdict[c].Details)
				}
			}
		})
	}
}
