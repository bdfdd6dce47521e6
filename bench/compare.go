package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"time"
)

// Scenario is one cell of the throughput/latency matrix.
type Scenario struct {
	Name  string
	Mix   string
	Conns int
	Depth int
	// RateOf, if set, makes the scenario open loop at RateFrac of Java's
	// median ops/s in the scenario of that name (equal offered load).
	RateOf   string
	RateFrac float64
	Class    string // "read", "write", "mixed": which goal applies
	// TLS runs the scenario over TLS to the secureClientPort of a server
	// started for the TLS scenarios (Java with NettyServerCnxnFactory,
	// which its TLS needs; the plaintext scenarios keep Java's default
	// factory). A --tls run, where every scenario goes over TLS, drops
	// these.
	TLS bool `json:",omitempty"`
}

// DefaultScenarios is the matrix of `make bench`: 1 KiB payloads, 16
// connections x 8 in flight for saturation (BENCHMARKS.md §1), 64 writers
// x 1 for group commit, serial 1 x 1, and open loop at 80% of Java's
// saturation.
func DefaultScenarios() []Scenario {
	// Scenarios that leave the tree as it is come first and the ones that
	// grow it last, so every cell runs against a comparable tree (zkgo
	// creates more znodes than Java in the same time); each open-loop cell
	// follows the saturation cell its rate comes from.
	return []Scenario{
		{Name: "get", Mix: "get", Conns: 16, Depth: 8, Class: "read"},
		{Name: "get @80% Java max", Mix: "get", Conns: 16, Depth: 8, RateOf: "get", RateFrac: 0.8, Class: "read"},
		{Name: "exists", Mix: "exists", Conns: 16, Depth: 8, Class: "read"},
		{Name: "getChildren2", Mix: "children", Conns: 16, Depth: 8, Class: "read"},
		{Name: "serial get", Mix: "get", Conns: 1, Depth: 1, Class: "read"},
		{Name: "mix 90/10", Mix: "90/10", Conns: 16, Depth: 8, Class: "mixed"},
		{Name: "mix 70/30", Mix: "70/30", Conns: 16, Depth: 8, Class: "mixed"},
		{Name: "set", Mix: "set", Conns: 16, Depth: 8, Class: "write"},
		{Name: "set @80% Java max", Mix: "set", Conns: 16, Depth: 8, RateOf: "set", RateFrac: 0.8, Class: "write"},
		{Name: "set 64 writers", Mix: "set", Conns: 64, Depth: 1, Class: "write"},
		{Name: "serial set", Mix: "set", Conns: 1, Depth: 1, Class: "write"},
		{Name: "create+delete", Mix: "delete", Conns: 16, Depth: 8, Class: "write"},
		{Name: "create eph", Mix: "createeph", Conns: 16, Depth: 8, Class: "write"},
		{Name: "create", Mix: "create", Conns: 16, Depth: 8, Class: "write"},
		{Name: "create seq", Mix: "createseq", Conns: 16, Depth: 8, Class: "write"},
		{Name: "multi(chk+set+cre)", Mix: "multi", Conns: 16, Depth: 8, Class: "write"},
		// On a server of their own, after the scenarios above (issue 18:
		// zkgo's TLS listener against Java's Netty TLS, same certificates).
		{Name: "get over TLS", Mix: "get", Conns: 16, Depth: 8, Class: "read", TLS: true},
		{Name: "set over TLS", Mix: "set", Conns: 16, Depth: 8, Class: "write", TLS: true},
	}
}

// CompareConfig configures a side-by-side run.
type CompareConfig struct {
	Profile string // "quick" or "full" (a label; the fields below are the settings)
	ZkgoBin string // zkgo binary to benchmark
	// ZkgoBaseline, if set, is a second zkgo binary (Kind zkgo-base) that
	// takes Java's place: the run interleaves it with ZkgoBin and every
	// ratio is zkgo ÷ zkgo-base (an A/B of two builds on one machine).
	ZkgoBaseline string
	Reps         int           // repetitions per cell (interleaved J, G)
	Warmup       time.Duration // per scenario, discarded
	Duration     time.Duration // per scenario, measured
	ServerWarmup time.Duration // after each server start, a 90/10 run, discarded
	JavaHeap     string        // -Xms=-Xmx for the throughput scenarios
	JavaMemHeap  string        // -Xms=-Xmx for the memory scenarios (1M znodes)
	Size         int           // payload bytes
	MemZnodes    int           // znodes for the memory/startup scenario (0: skip)
	MemDataSize  int           // their data bytes
	IdleSessions int           // idle sessions for the memory scenario (0: skip)
	MemReps      int           // repetitions of the memory scenario
	Only         string        // regexp: run only the scenarios it matches
	Servers      []Kind        // default: java, zkgo
	WorkDir      string        // where data dirs go (default: os temp dir)
	ZkgoExtra    []string      // extra zkgo server flags
	JavaExtra    []string      // extra JVM flags
	Seed         int64
	// TLS runs the workloads over TLS to each server's secureClientPort
	// (tls.go); the memory scenarios are skipped.
	TLS bool
	Out io.Writer // the tables at the end
	Log io.Writer // progress
	tls *TLSSetup
}

// QuickProfile is `make bench`: under 10 minutes on a 2-core machine.
func QuickProfile() CompareConfig {
	return CompareConfig{Profile: "quick", Reps: 3, Warmup: 500 * time.Millisecond, Duration: 2 * time.Second,
		ServerWarmup: 5 * time.Second, JavaHeap: "512m", JavaMemHeap: "1g", Size: 1024,
		MemZnodes: 1_000_000, MemDataSize: 100, IdleSessions: 10_000, MemReps: 1}
}

// FullProfile is `make bench-full`: BENCHMARKS.md's durations, 5
// repetitions.
func FullProfile() CompareConfig {
	return CompareConfig{Profile: "full", Reps: 5, Warmup: 5 * time.Second, Duration: 20 * time.Second,
		ServerWarmup: 60 * time.Second, JavaHeap: "512m", JavaMemHeap: "1g", Size: 1024,
		MemZnodes: 1_000_000, MemDataSize: 100, IdleSessions: 10_000, MemReps: 2}
}

// Cell is one measurement of one scenario on one server.
type Cell struct {
	Server      Kind    `json:"server"`
	Rep         int     `json:"rep"`
	Result      *Result `json:"result"`
	CPUUsPerOp  float64 `json:"cpu_us_per_op"`
	UserUsPerOp float64 `json:"user_us_per_op"`
	SysUsPerOp  float64 `json:"sys_us_per_op"`
	CtxPerOp    float64 `json:"ctx_switches_per_op"`
	RSSKB       int64   `json:"rss_kb"`
	FsyncPerSec float64 `json:"fsyncs_per_sec"`
	TxnPerFsync float64 `json:"txns_per_fsync"`
	// FsyncAvgUs is the mean time of one txn log fsync in the window, µs
	// (Δ mntr sum_fsynctime ÷ Δ cnt_fsynctime; the sum is in ms, so
	// exact over many fsyncs for zkgo, which sums µs; Java rounds each
	// fsync to whole ms before summing).
	FsyncAvgUs float64 `json:"fsync_avg_us,omitempty"`
	Rate       float64 `json:"offered_rate,omitempty"`
}

// MemCell is one run of the memory and startup scenario.
type MemCell struct {
	Server            Kind    `json:"server"`
	Rep               int     `json:"rep"`
	BaseRSSKB         int64   `json:"base_rss_kb"`
	IdleSessions      int     `json:"idle_sessions"`
	IdleRSSKB         int64   `json:"idle_rss_kb"`   // with the sessions open
	IdleDeltaKB       int64   `json:"idle_delta_kb"` // minus base
	Znodes            int     `json:"znodes"`
	LoadSec           float64 `json:"load_sec"`
	LoadedRSSKB       int64   `json:"loaded_rss_kb"`  // right after the load
	SettledRSSKB      int64   `json:"settled_rss_kb"` // after jcmd GC.run (Java) and a few seconds
	PeakRSSKB         int64   `json:"peak_rss_kb"`    // VmHWM
	JavaHeapUsedKB    int64   `json:"java_heap_used_kb,omitempty"`
	StartupSec        float64 `json:"startup_sec"` // restart on the data dir until it serves a read
	StartupRSSKB      int64   `json:"startup_rss_kb"`
	TreeDeltaKB       int64   `json:"tree_delta_kb"` // settled minus base
	LoadCPUUsPerZnode float64 `json:"load_cpu_us_per_znode"`
}

// Report is everything a compare run measured.
type Report struct {
	Profile   string            `json:"profile"`
	Date      time.Time         `json:"date"`
	Machine   map[string]string `json:"machine"`
	GoVersion string            `json:"go_version"`
	Java      string            `json:"java_version"`
	JavaHeap  string            `json:"java_heap"`
	JavaMem   string            `json:"java_mem_heap"`
	Reps      int               `json:"reps"`
	Warmup    string            `json:"warmup"`
	Duration  string            `json:"duration"`
	ServerWU  string            `json:"server_warmup"`
	Size      int               `json:"size"`
	// MemZnodes and MemDataSize describe the memory scenario.
	MemZnodes   int               `json:"mem_znodes,omitempty"`
	MemDataSize int               `json:"mem_znode_size,omitempty"`
	WorkDir     string            `json:"work_dir"`
	Order       []string          `json:"order"`
	Scenarios   []Scenario        `json:"scenarios"`
	Cells       map[string][]Cell `json:"cells"`
	Mem         []MemCell         `json:"memory"`
	Elapsed     float64           `json:"elapsed_sec"`
	Errors      []string          `json:"errors,omitempty"`
	// Base is what the ratios divide by: empty (Java) or zkgo-base, with
	// BaseBin and Bin the two zkgo binaries of an A/B run.
	Base    Kind   `json:"base,omitempty"`
	BaseBin string `json:"base_bin,omitempty"`
	Bin     string `json:"bin,omitempty"`
}

// base is the server the ratios divide by.
func (rep *Report) base() Kind {
	if rep.Base == "" {
		return Java
	}
	return rep.Base
}

func (c *CompareConfig) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// Compare runs the side-by-side benchmark.
func Compare(ctx context.Context, cfg CompareConfig) (*Report, error) {
	t0 := time.Now()
	base := Java
	if cfg.ZkgoBaseline != "" {
		base = ZkgoBase
	}
	if len(cfg.Servers) == 0 {
		cfg.Servers = []Kind{base, Zkgo}
	}
	if cfg.Reps <= 0 {
		cfg.Reps = 1
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = os.TempDir()
	}
	if err := checkKinds(cfg.Servers, cfg.ZkgoBin); err != nil {
		return nil, err
	}
	if slices.Contains(cfg.Servers, ZkgoBase) && cfg.ZkgoBaseline == "" {
		return nil, errors.New("bench: no zkgo baseline binary (--zkgo-baseline)")
	}
	work, err := os.MkdirTemp(cfg.WorkDir, "zkgo-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	var tlsSetup *TLSSetup
	if cfg.TLS {
		if tlsSetup, err = NewTLSSetup(work); err != nil {
			return nil, err
		}
		cfg.tls = tlsSetup
		cfg.MemZnodes, cfg.IdleSessions = 0, 0
		cfg.Profile += ", TLS (secureClientPort, clientAuth=need; Java: NettyServerCnxnFactory)"
	}
	rep := &Report{Profile: cfg.Profile, Date: time.Now().UTC(), Machine: MachineFacts(), GoVersion: runtime.Version(),
		Java: JavaVersion(), JavaHeap: cfg.JavaHeap, JavaMem: cfg.JavaMemHeap, Reps: cfg.Reps,
		Warmup: cfg.Warmup.String(), Duration: cfg.Duration.String(), ServerWU: cfg.ServerWarmup.String(),
		Size: cfg.Size, WorkDir: cfg.WorkDir, Cells: map[string][]Cell{}, MemZnodes: cfg.MemZnodes, MemDataSize: cfg.MemDataSize}
	if base == ZkgoBase {
		rep.Base, rep.BaseBin, rep.Bin = ZkgoBase, cfg.ZkgoBaseline, cfg.ZkgoBin
	}
	var only *regexp.Regexp
	if cfg.Only != "" {
		if only, err = regexp.Compile(cfg.Only); err != nil {
			return nil, err
		}
	}
	var plain, overTLS []Scenario
	rep.Scenarios, plain, overTLS = selectScenarios(DefaultScenarios(), only, cfg.TLS)
	if len(overTLS) > 0 {
		if tlsSetup, err = NewTLSSetup(work); err != nil {
			return nil, err
		}
	}
	rng := newRNG(cfg.Seed)
	// Throughput and latency: repetitions, servers interleaved; the first
	// repetition runs the baseline (Java, or zkgo-base) first (the
	// open-loop scenarios need its saturation rate), later ones in random
	// order.
	if len(rep.Scenarios) > 0 {
		for r := 0; r < cfg.Reps; r++ {
			order := append([]Kind(nil), cfg.Servers...)
			if r > 0 {
				rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			}
			for _, k := range order {
				if ctx.Err() != nil {
					return rep, ctx.Err()
				}
				rep.Order = append(rep.Order, fmt.Sprintf("%s%d", k, r+1))
				if len(plain) > 0 {
					if err := cfg.runRep(ctx, rep, k, r, filepath.Join(work, fmt.Sprintf("%s-%d", k, r)), plain, cfg.tls); err != nil {
						rep.Errors = append(rep.Errors, fmt.Sprintf("%s rep %d: %v", k, r+1, err))
						cfg.logf("! %s rep %d: %v", k, r+1, err)
					}
				}
				if len(overTLS) > 0 && ctx.Err() == nil {
					if err := cfg.runRep(ctx, rep, k, r, filepath.Join(work, fmt.Sprintf("%s-%d-tls", k, r)), overTLS, tlsSetup); err != nil {
						rep.Errors = append(rep.Errors, fmt.Sprintf("%s rep %d over TLS: %v", k, r+1, err))
						cfg.logf("! %s rep %d over TLS: %v", k, r+1, err)
					}
				}
			}
		}
	}
	if cfg.MemZnodes > 0 || cfg.IdleSessions > 0 {
		for r := 0; r < max(cfg.MemReps, 1); r++ {
			for _, k := range cfg.Servers {
				if ctx.Err() != nil {
					return rep, ctx.Err()
				}
				mc, err := cfg.runMemory(ctx, k, r, filepath.Join(work, fmt.Sprintf("mem-%s-%d", k, r)))
				if err != nil {
					rep.Errors = append(rep.Errors, fmt.Sprintf("%s memory rep %d: %v", k, r+1, err))
					cfg.logf("! %s memory rep %d: %v", k, r+1, err)
				}
				if mc != nil {
					rep.Mem = append(rep.Mem, *mc)
				}
			}
		}
	}
	rep.Elapsed = time.Since(t0).Seconds()
	return rep, nil
}

// checkKinds returns why a server of one of kinds cannot run: Java without
// its jars, zkgo without a binary.
func checkKinds(kinds []Kind, zkgoBin string) error {
	for _, k := range kinds {
		if k == Java {
			if err := JavaAvailable(""); err != nil {
				return err
			}
		}
		if k == Zkgo && zkgoBin == "" {
			return errors.New("bench: no zkgo binary")
		}
	}
	return nil
}

// newRNG is the source of a run's interleaving order: seed, or the clock
// when seed is 0.
func newRNG(seed int64) *rand.Rand {
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	return rand.New(rand.NewSource(seed))
}

// selectScenarios returns the scenarios of all that only matches (nil:
// all), in order, and split into those on the plaintext server and those
// over TLS (Scenario.TLS); a tlsRun, where every scenario goes over TLS,
// drops the TLS ones.
func selectScenarios(all []Scenario, only *regexp.Regexp, tlsRun bool) (sel, plain, overTLS []Scenario) {
	for _, s := range all {
		if (only != nil && !only.MatchString(s.Name)) || (s.TLS && tlsRun) {
			continue
		}
		sel = append(sel, s)
		if s.TLS {
			overTLS = append(overTLS, s)
		} else {
			plain = append(plain, s)
		}
	}
	return sel, plain, overTLS
}

func (cfg *CompareConfig) spec(k Kind, heap string) ServerSpec {
	s := ServerSpec{Kind: k, ZkgoBin: cfg.ZkgoBin, JavaHeap: heap}
	if k == ZkgoBase {
		s.ZkgoBin = cfg.ZkgoBaseline
	}
	if k == Zkgo || k == ZkgoBase {
		s.Extra = cfg.ZkgoExtra
	} else {
		s.Extra = cfg.JavaExtra
	}
	return s
}

// runRep starts server k on a fresh data dir (with a secureClientPort
// when tls is set, which the workloads then use) and runs scenarios.
func (cfg *CompareConfig) runRep(ctx context.Context, rep *Report, k Kind, r int, dir string, scenarios []Scenario, tls *TLSSetup) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	spec := cfg.spec(k, cfg.JavaHeap)
	spec.TLS = tls
	srv, err := StartServer(spec, dir, filepath.Join(dir, "data"), 60*time.Second)
	if err != nil {
		return err
	}
	defer srv.Stop()
	over := ""
	if tls != nil {
		over = ", secureClientPort " + srv.SecureAddr
	}
	cfg.logf("== %s rep %d/%d: %s pid %d ready in %v%s", k, r+1, cfg.Reps, srv.Spec.Label(), srv.Pid(), srv.Ready.Round(time.Millisecond), over)
	tree := Tree{Size: cfg.Size}
	load := srv.Addr // the workloads' address: the TLS port in a TLS run
	if srv.SecureAddr != "" {
		load = srv.SecureAddr
	}
	if err := Setup(load, tree); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if cfg.ServerWarmup > 0 {
		m, _ := ParseMix("90/10")
		if _, err := Run(ctx, load, Workload{Name: "server warm-up", Mix: m, Duration: cfg.ServerWarmup, Tree: tree, Progress: cfg.Log}); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	for _, sc := range scenarios {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		m, err := ParseMix(sc.Mix)
		if err != nil {
			return err
		}
		w := Workload{Name: sc.Name, Mix: m, Conns: sc.Conns, Depth: sc.Depth, Warmup: cfg.Warmup,
			Duration: cfg.Duration, Tree: tree, Progress: cfg.Log}
		if sc.RateOf != "" {
			w.Rate = sc.RateFrac * rep.javaRate(sc.RateOf)
			if w.Rate <= 0 {
				cfg.logf("  %s: no saturation figure for %q yet; skipped", sc.Name, sc.RateOf)
				continue
			}
		}
		var before, after ProcSample
		var mBefore, mAfter map[string]float64
		w.OnMeasure = func() {
			mBefore, _ = Mntr(srv.Addr)
			before, _ = ReadProc(srv.Pid())
		}
		w.OnMeasureEnd = func() {
			after, _ = ReadProc(srv.Pid())
			mAfter, _ = Mntr(srv.Addr)
		}
		res, err := Run(ctx, load, w)
		if err != nil && res == nil {
			return fmt.Errorf("%s: %w", sc.Name, err)
		}
		if err != nil {
			cfg.logf("  %s: %v", sc.Name, err)
		}
		c := Cell{Server: k, Rep: r, Result: res, RSSKB: after.RSSKB, Rate: w.Rate}
		if res.Ops > 0 {
			n := float64(res.Ops)
			c.UserUsPerOp = (after.UserSec - before.UserSec) * 1e6 / n
			c.SysUsPerOp = (after.SysSec - before.SysSec) * 1e6 / n
			c.CPUUsPerOp = c.UserUsPerOp + c.SysUsPerOp
			c.CtxPerOp = float64(after.VolCtx+after.InvCtx-before.VolCtx-before.InvCtx) / n
		}
		if mBefore != nil && mAfter != nil {
			fs := mAfter["zk_cnt_fsynctime"] - mBefore["zk_cnt_fsynctime"]
			tx := mAfter["zk_sum_sync_processor_batch_size"] - mBefore["zk_sum_sync_processor_batch_size"]
			c.FsyncPerSec = fs / res.Seconds
			if fs > 0 {
				c.TxnPerFsync = tx / fs
				c.FsyncAvgUs = (mAfter["zk_sum_fsynctime"] - mBefore["zk_sum_fsynctime"]) * 1000 / fs
			}
		}
		rep.Cells[sc.Name] = append(rep.Cells[sc.Name], c)
		cfg.logf("  %-20s %-5s %9.0f ops/s  p50 %6.0f  p99 %7.0f  p999 %7.0f µs  cpu %6.1f µs/op  rss %4d MB  err %d",
			sc.Name, k, res.OpsPerSec, res.Latency.P50, res.Latency.P99, res.Latency.P999, c.CPUUsPerOp, c.RSSKB>>10, res.Errors)
	}
	return nil
}

// javaRate is the median ops/s Java reached in scenario name so far (the
// other server's if Java was not run).
func (rep *Report) javaRate(name string) float64 {
	var java, other []float64
	for _, c := range rep.Cells[name] {
		if c.Result == nil {
			continue
		}
		if c.Server == rep.base() {
			java = append(java, c.Result.OpsPerSec)
		} else {
			other = append(other, c.Result.OpsPerSec)
		}
	}
	if len(java) > 0 {
		return median(java)
	}
	return median(other)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
