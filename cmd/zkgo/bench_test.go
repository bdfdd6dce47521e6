package main

import (
	"flag"
	"io"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/zkgo/zkgo/bench"
)

// The flags bench compare and bench ensemble share override the profile's
// settings only when given; "packaged" clears the Java heap.
func TestSideBySideFlagsOverrideTheProfile(t *testing.T) {
	parse := func(args ...string) bench.EnsembleConfig {
		t.Helper()
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		f := addSideBySideFlags(fs, "r.md", "", "", "")
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		cfg, ok := pickProfile("test", *f.profile, map[string]func() bench.EnsembleConfig{"quick": bench.EnsembleQuickProfile})
		if !ok {
			t.Fatal("quick profile refused")
		}
		f.apply(sideBySide{bin: &cfg.ZkgoBin, only: &cfg.Only, workDir: &cfg.WorkDir, heap: &cfg.JavaHeap,
			seed: &cfg.Seed, reps: &cfg.Reps, dur: &cfg.Duration, warm: &cfg.Warmup, swarm: &cfg.ServerWarmup,
			zkgoExtra: &cfg.ZkgoExtra})
		return cfg
	}
	q := bench.EnsembleQuickProfile()
	cfg := parse()
	if cfg.Reps != q.Reps || cfg.Duration != q.Duration || cfg.Warmup != q.Warmup || cfg.ServerWarmup != q.ServerWarmup ||
		cfg.JavaHeap != q.JavaHeap || cfg.ZkgoExtra != nil || !filepath.IsAbs(cfg.ZkgoBin) {
		t.Fatalf("no flags: %+v, want the quick profile's settings", cfg)
	}
	cfg = parse("--reps", "2", "--duration", "1s", "--warmup", "0", "--server-warmup", "0", "--java-heap", "packaged",
		"--zkgo-flags", "--pprof 127.0.0.1:6060", "--only", "set", "--seed", "7", "--zkgo", "/x/zkgo")
	if cfg.Reps != 2 || cfg.Duration != time.Second || cfg.Warmup != 0 || cfg.ServerWarmup != 0 || cfg.JavaHeap != "" ||
		!slices.Equal(cfg.ZkgoExtra, []string{"--pprof", "127.0.0.1:6060"}) || cfg.Only != "set" || cfg.Seed != 7 ||
		cfg.ZkgoBin != "/x/zkgo" {
		t.Fatalf("flags not applied: %+v", cfg)
	}
	if cfg = parse("--java-heap", "2g"); cfg.JavaHeap != "2g" {
		t.Fatalf("--java-heap 2g: %q", cfg.JavaHeap)
	}
	if _, ok := pickProfile("test", "slow", map[string]func() bench.EnsembleConfig{"quick": bench.EnsembleQuickProfile}); ok {
		t.Fatal("an unknown profile is accepted")
	}
}
