package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zkgo/zkgo/bench"
)

func init() {
	register("bench", "bench run|compare: load generator, and zkgo side by side with Java ZooKeeper", runBench)
}

func benchUsage() {
	fmt.Fprintln(os.Stderr, `usage:
  zkgo bench run --addr host:port [flags]   drive one running server (table or --json)
  zkgo bench load --addr host:port --znodes N   create the memory scenario's tree (fan-out 1000)
  zkgo bench compare [flags]                start Java ZooKeeper and zkgo in turn, print ratios, write bench/RESULTS.md
  zkgo bench ensemble [flags]               3- and 5-node ensembles (all Java, all zkgo, mixed) side by side, write bench/ENSEMBLE.md
  zkgo bench proxy [flags]                  zkgo proxy overhead: the same load direct and through the proxy
  zkgo bench forwarder --listen A --upstream B   the baseline of bench proxy: a minimal gnet forwarder

Run 'zkgo bench run -h' or 'zkgo bench compare -h' for flags.`)
}

func runBench(args []string) int {
	if len(args) == 0 {
		benchUsage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "run":
		return runBenchRun(ctx, args[1:])
	case "compare":
		return runBenchCompare(ctx, args[1:])
	case "load":
		return runBenchLoad(ctx, args[1:])
	case "ensemble":
		return runBenchEnsemble(ctx, args[1:])
	case "proxy":
		return runBenchProxy(ctx, args[1:])
	case "forwarder":
		return runBenchForwarder(ctx, args[1:])
	case "-h", "--help", "help":
		benchUsage()
		return 0
	}
	fmt.Fprintf(os.Stderr, "zkgo bench: unknown subcommand %q\n", args[0])
	benchUsage()
	return 2
}

func runBenchRun(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("bench run", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:2181", "server address")
	mix := fs.String("mix", "get", `operations: "get", "get:90,set:10", or a read/write ratio "90/10"; ops: get exists children set create createseq createeph delete multi`)
	conns := fs.Int("conns", 16, "connections (sessions)")
	depth := fs.Int("depth", 8, "requests in flight per connection (closed loop)")
	rate := fs.Float64("rate", 0, "open loop: total ops/s at a fixed rate (coordinated-omission safe); 0 = closed loop")
	dur := fs.Duration("duration", 10*time.Second, "measured time")
	warm := fs.Duration("warmup", 2*time.Second, "warm-up time (discarded)")
	size := fs.Int("size", 1024, "payload bytes (keys, sets, creates)")
	keys := fs.Int("keys", 1000, "hot keys")
	children := fs.Int("children", 10, "children of the getChildren2 parent")
	root := fs.String("root", "/zkbench", "root of the benchmark tree")
	noSetup := fs.Bool("no-setup", false, "do not create the benchmark tree first")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	quiet := fs.Bool("quiet", false, "no progress line")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	m, err := bench.ParseMix(*mix)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	tree := bench.Tree{Root: *root, Keys: *keys, Size: *size, Children: *children}
	if !*noSetup {
		if err := bench.Setup(*addr, tree); err != nil {
			fmt.Fprintln(os.Stderr, "zkgo bench: setup:", err)
			return 1
		}
	}
	w := bench.Workload{Name: *mix, Mix: m, Conns: *conns, Depth: *depth, Rate: *rate,
		Warmup: *warm, Duration: *dur, Tree: tree}
	if !*quiet {
		w.Progress = os.Stderr
	}
	res, err := bench.Run(ctx, *addr, w)
	if res != nil {
		if *asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(res)
		} else {
			bench.PrintResults(os.Stdout, []*bench.Result{res})
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "zkgo bench:", err)
		return 1
	}
	return 0
}

func runBenchCompare(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("bench compare", flag.ContinueOnError)
	f := addSideBySideFlags(fs, "bench/RESULTS.md", "quick (make bench, < 10 min) or full (make bench-full)",
		"Java -Xms=-Xmx for throughput scenarios (default: the profile's; \"packaged\": none)",
		"extra zkgo server flags (space separated), e.g. --pprof 127.0.0.1:6060")
	baseline := fs.String("zkgo-baseline", "", "a second zkgo binary that takes Java's place: an A/B of two builds, "+
		"ratios zkgo ÷ zkgo-base, no Java (RESULTS.md untouched unless --results is given, which it refuses)")
	servers := fs.String("servers", "java,zkgo", "servers to run (with --zkgo-baseline: zkgo-base,zkgo)")
	memHeap := fs.String("java-mem-heap", "", "Java -Xms=-Xmx for the memory scenarios (default: the profile's)")
	znodes := fs.Int("znodes", -1, "znodes for the memory/startup scenario (0: skip)")
	idle := fs.Int("idle-sessions", -1, "idle sessions for the memory scenario (0: skip)")
	znodeSize := fs.Int("znode-size", -1, "data bytes of each znode of the memory scenario (default: the profile's, 100)")
	useTLS := fs.Bool("tls", false, "run the workloads over TLS to each server's secureClientPort (Java: NettyServerCnxnFactory); no memory scenarios")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, ok := pickProfile("bench compare", *f.profile, map[string]func() bench.CompareConfig{
		"quick": bench.QuickProfile, "full": bench.FullProfile})
	if !ok {
		return 2
	}
	f.apply(sideBySide{bin: &cfg.ZkgoBin, only: &cfg.Only, workDir: &cfg.WorkDir, heap: &cfg.JavaHeap,
		seed: &cfg.Seed, reps: &cfg.Reps, dur: &cfg.Duration, warm: &cfg.Warmup, swarm: &cfg.ServerWarmup,
		zkgoExtra: &cfg.ZkgoExtra})
	cfg.TLS = *useTLS
	cfg.Log, cfg.Out = os.Stderr, os.Stdout
	setHeap(&cfg.JavaMemHeap, *memHeap)
	if *znodes >= 0 {
		cfg.MemZnodes = *znodes
	}
	if *idle >= 0 {
		cfg.IdleSessions = *idle
	}
	if *znodeSize >= 0 {
		cfg.MemDataSize = *znodeSize
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if *baseline != "" {
		if !set["servers"] {
			*servers = string(bench.ZkgoBase) + "," + string(bench.Zkgo)
		}
		if !set["results"] {
			*f.results = ""
		}
		if abs, err := filepath.Abs(*baseline); err == nil {
			cfg.ZkgoBaseline = abs
		}
	}
	cfg.Servers = nil
	for _, s := range strings.Split(*servers, ",") {
		cfg.Servers = append(cfg.Servers, bench.Kind(strings.TrimSpace(s)))
	}
	rep, err := bench.Compare(ctx, cfg)
	if rep != nil {
		if rc := f.write("zkgo bench compare", rep); rc != 0 {
			return rc
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "zkgo bench compare:", err)
		return 1
	}
	return 0
}

// sideBySideFlags are the flags `bench compare` and `bench ensemble`
// share: the profile, the binary, the output files and the settings
// that override the profile's.
type sideBySideFlags struct {
	profile, bin, results, jsonOut, only, heap, workDir, zkgoFlags *string
	reps                                                           *int
	dur, warm, swarm                                               *time.Duration
	seed                                                           *int64
}

func addSideBySideFlags(fs *flag.FlagSet, results, profileHelp, heapHelp, zkgoFlagsHelp string) *sideBySideFlags {
	return &sideBySideFlags{
		profile:   fs.String("profile", "quick", profileHelp),
		bin:       fs.String("zkgo", "bin/zkgo", "zkgo binary to benchmark"),
		results:   fs.String("results", results, "results file to rewrite (empty: none)"),
		jsonOut:   fs.String("json", "", "also write the raw report as JSON to this file"),
		only:      fs.String("only", "", "regexp: run only the scenarios (rows) whose name matches"),
		reps:      fs.Int("reps", 0, "repetitions (default: the profile's)"),
		dur:       fs.Duration("duration", 0, "measured time per scenario (default: the profile's)"),
		warm:      fs.Duration("warmup", -1, "warm-up per scenario (default: the profile's)"),
		swarm:     fs.Duration("server-warmup", -1, "warm-up after each server or ensemble start (default: the profile's)"),
		heap:      fs.String("java-heap", "", heapHelp),
		workDir:   fs.String("workdir", "", "where data dirs go (default: $TMPDIR)"),
		zkgoFlags: fs.String("zkgo-flags", "", zkgoFlagsHelp),
		seed:      fs.Int64("seed", 0, "seed of the interleaving order (0: random)"),
	}
}

// sideBySide points at the fields of a CompareConfig or an
// EnsembleConfig that sideBySideFlags set.
type sideBySide struct {
	bin, only, workDir, heap *string
	seed                     *int64
	reps                     *int
	dur, warm, swarm         *time.Duration
	zkgoExtra                *[]string
}

// apply overrides the profile's settings in c with the flags given.
func (f *sideBySideFlags) apply(c sideBySide) {
	*c.bin, *c.only, *c.workDir, *c.seed = *f.bin, *f.only, *f.workDir, *f.seed
	if abs, err := filepath.Abs(*c.bin); err == nil {
		*c.bin = abs
	}
	if *f.reps > 0 {
		*c.reps = *f.reps
	}
	if *f.dur > 0 {
		*c.dur = *f.dur
	}
	if *f.warm >= 0 {
		*c.warm = *f.warm
	}
	if *f.swarm >= 0 {
		*c.swarm = *f.swarm
	}
	setHeap(c.heap, *f.heap)
	if *f.zkgoFlags != "" {
		*c.zkgoExtra = strings.Fields(*f.zkgoFlags)
	}
}

// setHeap sets a -Xms=-Xmx setting from a flag: "" keeps the profile's,
// "packaged" means none.
func setHeap(dst *string, v string) {
	if v == "packaged" {
		*dst = ""
	} else if v != "" {
		*dst = v
	}
}

// pickProfile returns the config of the named profile.
func pickProfile[C any](cmd, name string, profiles map[string]func() C) (C, bool) {
	if p, ok := profiles[name]; ok {
		return p(), true
	}
	fmt.Fprintf(os.Stderr, "zkgo %s: unknown profile %q\n", cmd, name)
	var zero C
	return zero, false
}

// sideBySideReport is a bench.Report or a bench.EnsembleReport.
type sideBySideReport interface {
	WriteMarkdown(w io.Writer)
	WriteResultsFile(path string) error
}

// write prints rep's tables, rewrites the results file and writes the
// JSON file the flags name; it returns the exit code of a failure, or 0.
func (f *sideBySideFlags) write(cmd string, rep sideBySideReport) int {
	fmt.Fprintln(os.Stdout)
	rep.WriteMarkdown(os.Stdout)
	if *f.results != "" {
		if err := rep.WriteResultsFile(*f.results); err != nil {
			fmt.Fprintln(os.Stderr, cmd+":", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "wrote %s\n", *f.results)
	}
	if *f.jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*f.jsonOut, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, cmd+":", err)
			return 1
		}
	}
	return 0
}

func runBenchLoad(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("bench load", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:2181", "server address")
	n := fs.Int("znodes", 1_000_000, "znodes to create under /membench")
	size := fs.Int("size", 100, "data bytes per znode")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	t0 := time.Now()
	if err := bench.LoadZnodes(ctx, *addr, *n, *size, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "zkgo bench load:", err)
		return 1
	}
	fmt.Printf("created %d znodes in %.1fs\n", *n, time.Since(t0).Seconds())
	return 0
}

// runBenchForwarder runs the baseline of `zkgo bench proxy` (see
// bench.RunForwarder) until it is killed.
func runBenchForwarder(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("bench forwarder", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:2182", "client address")
	upstream := fs.String("upstream", "127.0.0.1:2181", "server address")
	loops := fs.Int("loops", runtime.NumCPU(), "event loops")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := bench.RunForwarder(ctx, *listen, *upstream, *loops, nil); err != nil {
		fmt.Fprintln(os.Stderr, "zkgo bench forwarder:", err)
		return 1
	}
	return 0
}

func runBenchProxy(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("bench proxy", flag.ContinueOnError)
	bin := fs.String("zkgo", "bin/zkgo", "zkgo binary (server and proxy)")
	server := fs.String("server", "", "upstream address (default: start a zkgo server)")
	java := fs.Bool("java", false, "start Java ZooKeeper as the upstream instead of zkgo")
	conns := fs.Int("conns", 64, "closed-loop connections")
	depth := fs.Int("depth", 8, "closed-loop requests in flight per connection")
	rate := fs.Float64("rate", 5000, "open-loop rate (ops/s, 16 connections) for the latency figures")
	mix := fs.String("mix", "get", "operation mix (see zkgo bench run)")
	reps := fs.Int("reps", 3, "repetitions (direct and proxy alternate)")
	dur := fs.Duration("duration", 10*time.Second, "measured time per run")
	warm := fs.Duration("warmup", 2*time.Second, "warm-up per run")
	results := fs.String("results", "", "also write the Markdown table to this file")
	jsonOut := fs.String("json", "", "write the raw reports (one per layout) as a JSON array to this file")
	proxyFlags := fs.String("proxy-flags", "", "extra zkgo proxy flags (space separated)")
	noBase := fs.Bool("no-baseline", false, "skip the baseline (a minimal gnet forwarder measured in the same rotation)")
	layouts := fs.String("layout", bench.LayoutShared, "CPU layouts to run, comma separated: shared (all processes on all CPUs), "+
		"split (the proxy on CPUs of its own, the load generator and the server on the rest)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var reports []*bench.ProxyReport
	for _, layout := range strings.Split(*layouts, ",") {
		cfg := bench.ProxyConfig{ZkgoBin: *bin, Server: *server, Java: *java, Conns: *conns, Depth: *depth, Rate: *rate,
			Mix: *mix, Reps: *reps, Duration: *dur, Warmup: *warm, NoBaseline: *noBase, Layout: strings.TrimSpace(layout), Log: os.Stderr}
		if *proxyFlags != "" {
			cfg.ProxyFlags = strings.Fields(*proxyFlags)
		}
		rep, err := bench.ProxyBench(ctx, cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "zkgo bench proxy:", err)
			return 1
		}
		rep.Write(os.Stdout)
		fmt.Println()
		reports = append(reports, rep)
	}
	if *results != "" {
		f, err := os.Create(*results)
		if err != nil {
			fmt.Fprintln(os.Stderr, "zkgo bench proxy:", err)
			return 1
		}
		fmt.Fprintln(f, "# zkgo proxy overhead")
		fmt.Fprintln(f)
		fmt.Fprintln(f, "Written by `make bench-proxy` (`zkgo bench proxy`). Direct and proxied runs alternate on one")
		fmt.Fprintln(f, "host. In the shared layout the load generator, the proxy and the server compete for the same")
		fmt.Fprintln(f, "cores; in the split layout the proxy has cores of its own (as on its own host) and the load")
		fmt.Fprintln(f, "generator and the server share the rest, in the direct runs too. Treat the figures as")
		fmt.Fprintln(f, "indicative: the host is shared with other work (see the load averages).")
		for _, rep := range reports {
			fmt.Fprintln(f)
			fmt.Fprintf(f, "## Layout %s\n\n", rep.Layout)
			rep.Write(f)
		}
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "zkgo bench proxy:", err)
			return 1
		}
	}
	if *jsonOut != "" {
		b, err := json.MarshalIndent(reports, "", "  ")
		if err == nil {
			err = os.WriteFile(*jsonOut, b, 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "zkgo bench proxy:", err)
			return 1
		}
	}
	return 0
}

func runBenchEnsemble(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("bench ensemble", flag.ContinueOnError)
	f := addSideBySideFlags(fs, "bench/ENSEMBLE.md", "quick (make bench-ensemble, < 15 min) or full (make bench-ensemble-full)",
		"Java -Xms=-Xmx of every Java member (default: the profile's; \"packaged\": none)", "extra zkgo server flags (space separated)")
	mixes := fs.String("mixes", "", `regexp: run only the ensembles whose name matches (java×3, zkgo×3, "zkgo leader + 2 java", "java leader + 2 zkgo", java×5, zkgo×5)`)
	noFailover := fs.Bool("no-failover", false, "skip the failover measurement at the end of each ensemble run")
	logsDir := fs.String("logs", "", "where the member logs of an ensemble run that fails are copied (default: a new directory under $TMPDIR)")
	rejoin := fs.String("rejoin-znodes", "", `tree sizes of the follower restart rows (DIFF and SNAP), comma separated, e.g. "100000,1000000" (default: the profile's; "0": none)`)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, ok := pickProfile("bench ensemble", *f.profile, map[string]func() bench.EnsembleConfig{
		"quick": bench.EnsembleQuickProfile, "full": bench.EnsembleFullProfile})
	if !ok {
		return 2
	}
	f.apply(sideBySide{bin: &cfg.ZkgoBin, only: &cfg.Only, workDir: &cfg.WorkDir, heap: &cfg.JavaHeap,
		seed: &cfg.Seed, reps: &cfg.Reps, dur: &cfg.Duration, warm: &cfg.Warmup, swarm: &cfg.ServerWarmup,
		zkgoExtra: &cfg.ZkgoExtra})
	cfg.Mixes = *mixes
	cfg.LogsDir = *logsDir
	cfg.Log = os.Stderr
	if *noFailover {
		cfg.Failover = false
	}
	if *rejoin != "" {
		sizes, err := parseSizes(*rejoin)
		if err != nil {
			fmt.Fprintln(os.Stderr, "zkgo bench ensemble: --rejoin-znodes:", err)
			return 2
		}
		cfg.RejoinZnodes = sizes
	}
	rep, err := bench.RunEnsembles(ctx, cfg)
	if rep != nil {
		if rc := f.write("zkgo bench ensemble", rep); rc != 0 {
			return rc
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "zkgo bench ensemble:", err)
		return 1
	}
	return 0
}

// parseSizes reads a comma separated list of positive counts in
// increasing order; "0" is the empty list.
func parseSizes(s string) ([]int, error) {
	if strings.TrimSpace(s) == "0" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad size %q", f)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("sizes must increase: %s", s)
		}
		out = append(out, n)
	}
	return out, nil
}
