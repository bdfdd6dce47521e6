package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ProxyConfig configures ProxyBench: the proxy's overhead, measured by
// running the same workloads directly against a server and through
// `zkgo proxy` in front of it, interleaved, in one run.
type ProxyConfig struct {
	// ZkgoBin is the zkgo binary (server and proxy).
	ZkgoBin string
	// Server is the upstream to use; empty starts a zkgo server.
	Server string
	// Java starts a Java ZooKeeper as the upstream instead of zkgo (when
	// Server is empty).
	Java bool
	// WorkDir holds the server's data (default: a temp dir).
	WorkDir string
	// Conns and Depth: the closed-loop throughput workload (default 64x8).
	Conns, Depth int
	// Rate is the open-loop rate of the latency workload, ops/s (default
	// 5000 over 16 connections).
	Rate float64
	// Mix of both workloads (default "get").
	Mix string
	// Reps, Duration, Warmup per workload and side (defaults 3, 10 s, 2 s).
	Reps             int
	Duration, Warmup time.Duration
	// ProxyFlags are extra `zkgo proxy` flags.
	ProxyFlags []string
	// NoBaseline skips the baseline: a minimal gnet forwarder (`zkgo bench
	// forwarder`) measured in the same rotation, which separates the cost
	// of the extra socket hops from the proxy's own work.
	NoBaseline bool
	// Layout is LayoutShared (default) or LayoutSplit (the proxy and the
	// forwarder on CPUs of their own; see affinity.go).
	Layout string
	Log    io.Writer
}

func (c ProxyConfig) withDefaults() ProxyConfig {
	if c.Conns == 0 {
		c.Conns = 64
	}
	if c.Depth == 0 {
		c.Depth = 8
	}
	if c.Rate == 0 {
		c.Rate = 5000
	}
	if c.Mix == "" {
		c.Mix = "get"
	}
	if c.Reps == 0 {
		c.Reps = 3
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Warmup == 0 {
		c.Warmup = 2 * time.Second
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.Layout == "" {
		c.Layout = LayoutShared
	}
	return c
}

// ProxyReport holds every run and the medians.
type ProxyReport struct {
	Upstream string `json:"upstream"`
	// Layout and the CPUs of each side (split layout only).
	Layout    string    `json:"layout"`
	RestCPUs  string    `json:"rest_cpus,omitempty"`
	ProxyCPUs string    `json:"proxy_cpus,omitempty"`
	Closed    []*Result `json:"closed"` // direct, proxy, direct, proxy, ...
	Open      []*Result `json:"open"`
	// Serial: one connection, one request in flight (added latency alone).
	Serial  []*Result `json:"serial"`
	Started time.Time `json:"started"`
	// LoadBefore and LoadAfter are /proc/loadavg at the start and end: the
	// host is shared, and this says how busy it was.
	LoadBefore string `json:"load_before"`
	// ClosedCPU is the CPU time per operation of the closed-loop runs, in
	// the order of Closed: what scheduling noise does not distort.
	ClosedCPU []CPUPerOp `json:"closed_cpu"`
	// Baseline runs: the minimal forwarder, one per rep (empty with
	// NoBaseline). BaselineCPU.Proxy is the forwarder's CPU per op.
	BaselineClosed []*Result  `json:"baseline_closed,omitempty"`
	BaselineOpen   []*Result  `json:"baseline_open,omitempty"`
	BaselineSerial []*Result  `json:"baseline_serial,omitempty"`
	BaselineCPU    []CPUPerOp `json:"baseline_cpu,omitempty"`
	LoadAfter      string     `json:"load_after"`
	Config         struct {
		Conns, Depth int
		Rate         float64
		Mix          string
		Reps         int
		Duration     string
	} `json:"config"`
}

// CPUPerOp is the CPU time the server and the proxy spent per operation
// during one run (µs); Server is -1 when the server is not ours.
type CPUPerOp struct {
	Server float64 `json:"server_us"`
	Proxy  float64 `json:"proxy_us"`
}

// ProxyBench runs the comparison.
func ProxyBench(ctx context.Context, cfg ProxyConfig) (*ProxyReport, error) {
	cfg = cfg.withDefaults()
	rep := &ProxyReport{Started: time.Now().UTC(), LoadBefore: loadAvg()}
	defer func() { rep.LoadAfter = loadAvg() }()
	rep.Config.Conns, rep.Config.Depth, rep.Config.Rate = cfg.Conns, cfg.Depth, cfg.Rate
	rep.Config.Mix, rep.Config.Reps, rep.Config.Duration = cfg.Mix, cfg.Reps, cfg.Duration.String()
	mix, err := ParseMix(cfg.Mix)
	if err != nil {
		return nil, err
	}
	rep.Layout = cfg.Layout
	var proxyCPUs, serverCPUs []int
	switch cfg.Layout {
	case LayoutShared:
	case LayoutSplit, LayoutServerSide:
		if cfg.Server != "" {
			return nil, fmt.Errorf("bench: layout %s starts the server itself (no --server)", cfg.Layout)
		}
		rest, pc, err := cpuSplit()
		if err != nil {
			return nil, err
		}
		// This process (the load generator) gets the rest; the proxy its
		// own CPUs, shared with the server in the server-side layout.
		orig := affinityOf()
		if err := pinProcess(0, rest); err != nil {
			return nil, err
		}
		defer pinProcess(0, orig)
		proxyCPUs = pc
		if cfg.Layout == LayoutServerSide {
			serverCPUs = pc
		}
		rep.RestCPUs, rep.ProxyCPUs = cpuList(rest), cpuList(pc)
		fmt.Fprintf(cfg.Log, "layout %s: load generator on CPUs %s, proxy on %s\n", cfg.Layout, rep.RestCPUs, rep.ProxyCPUs)
	default:
		return nil, fmt.Errorf("bench: unknown layout %q (shared or split)", cfg.Layout)
	}
	dir := cfg.WorkDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "zkgo-bench-proxy-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	upstream := cfg.Server
	rep.Upstream = upstream
	serverPid := 0
	if upstream == "" {
		spec := ServerSpec{Kind: Zkgo, ZkgoBin: cfg.ZkgoBin}
		if cfg.Java {
			spec = ServerSpec{Kind: Java, JavaHeap: "1g"}
		}
		spec.CPUs = serverCPUs
		srv, err := StartServer(spec, dir, filepath.Join(dir, "data"), 60*time.Second)
		if err != nil {
			return nil, err
		}
		defer srv.Stop()
		upstream = srv.Addr
		serverPid = srv.Pid()
		rep.Upstream = spec.Label()
	}
	px, err := startProxy(cfg, upstream, dir, proxyCPUs)
	if err != nil {
		return nil, err
	}
	defer px.stop()
	var fw *proxyProc
	if !cfg.NoBaseline {
		if fw, err = startChild(cfg.ZkgoBin, []string{"bench", "forwarder", "--upstream", upstream}, dir, "forwarder", proxyCPUs); err != nil {
			return nil, err
		}
		defer fw.stop()
	}
	tree := Tree{Root: "/zkbench"}
	if err := Setup(upstream, tree); err != nil {
		return nil, err
	}
	run := func(addr string, w Workload) (*Result, error) {
		w.Mix, w.Tree, w.Warmup, w.Duration = mix, tree, cfg.Warmup, cfg.Duration
		return Run(ctx, addr, w)
	}
	for r := 0; r < cfg.Reps; r++ {
		// Alternate which side goes first, so drift hits both.
		sides := []struct {
			name, addr string
			pid        int
		}{{"direct", upstream, px.cmd.Process.Pid}, {"proxy", px.addr, px.cmd.Process.Pid}}
		if r%2 == 1 {
			sides[0], sides[1] = sides[1], sides[0]
		}
		if fw != nil {
			// The baseline runs between the two, so drift hits it too.
			sides = append(sides[:1], append([]struct {
				name, addr string
				pid        int
			}{{"forwarder", fw.addr, fw.cmd.Process.Pid}}, sides[1:]...)...)
		}
		closed := make([]*Result, 2)
		open := make([]*Result, 2)
		serial := make([]*Result, 2)
		cpu := make([]CPUPerOp, 2)
		for _, s := range sides {
			var c0, c1 [2]float64
			w := Workload{Name: s.name, Conns: cfg.Conns, Depth: cfg.Depth}
			w.OnMeasure = func() { c0 = cpuOf(serverPid, s.pid) }
			w.OnMeasureEnd = func() { c1 = cpuOf(serverPid, s.pid) }
			res, err := run(s.addr, w)
			if err != nil {
				return rep, fmt.Errorf("bench: %s closed loop: %w", s.name, err)
			}
			per := CPUPerOp{Server: -1}
			if res.Ops > 0 {
				if serverPid != 0 {
					per.Server = (c1[0] - c0[0]) * 1e6 / float64(res.Ops)
				}
				per.Proxy = (c1[1] - c0[1]) * 1e6 / float64(res.Ops)
			}
			if s.name != "forwarder" {
				cpu[indexOf(s.name)] = per
			} else {
				rep.BaselineCPU = append(rep.BaselineCPU, per)
			}
			fmt.Fprintf(cfg.Log, "rep %d %-9s closed %dx%d: %8.0f ops/s p50 %5.0f us p99 %6.0f us\n", r+1, s.name,
				cfg.Conns, cfg.Depth, res.OpsPerSec, res.Latency.P50, res.Latency.P99)
			if s.name == "forwarder" {
				rep.BaselineClosed = append(rep.BaselineClosed, res)
			} else {
				closed[indexOf(s.name)] = res
			}
			res, err = run(s.addr, Workload{Name: s.name, Conns: 16, Depth: 64, Rate: cfg.Rate})
			if err != nil {
				return rep, fmt.Errorf("bench: %s open loop: %w", s.name, err)
			}
			fmt.Fprintf(cfg.Log, "rep %d %-9s open %.0f/s:   %8.0f ops/s p50 %5.0f us p99 %6.0f us\n", r+1, s.name,
				cfg.Rate, res.OpsPerSec, res.Latency.P50, res.Latency.P99)
			if s.name == "forwarder" {
				rep.BaselineOpen = append(rep.BaselineOpen, res)
			} else {
				open[indexOf(s.name)] = res
			}
			// One connection, one request in flight: nothing queues, so
			// the difference from direct is the pure added latency.
			res, err = run(s.addr, Workload{Name: s.name, Conns: 1, Depth: 1})
			if err != nil {
				return rep, fmt.Errorf("bench: %s serial: %w", s.name, err)
			}
			fmt.Fprintf(cfg.Log, "rep %d %-9s serial 1x1:   %8.0f ops/s p50 %5.0f us p99 %6.0f us\n", r+1, s.name,
				res.OpsPerSec, res.Latency.P50, res.Latency.P99)
			if s.name == "forwarder" {
				rep.BaselineSerial = append(rep.BaselineSerial, res)
			} else {
				serial[indexOf(s.name)] = res
			}
		}
		rep.Closed = append(rep.Closed, closed...)
		rep.ClosedCPU = append(rep.ClosedCPU, cpu...)
		rep.Open = append(rep.Open, open...)
		rep.Serial = append(rep.Serial, serial...)
	}
	return rep, nil
}

// cpuOf returns the CPU seconds used so far by the server (0 if pid 0)
// and the proxy.
func cpuOf(server, proxy int) [2]float64 {
	var out [2]float64
	if server != 0 {
		if s, err := ReadProc(server); err == nil {
			out[0] = s.CPUSec()
		}
	}
	if s, err := ReadProc(proxy); err == nil {
		out[1] = s.CPUSec()
	}
	return out
}

// loadAvg returns the first three fields of /proc/loadavg, or "?".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func indexOf(side string) int {
	if side == "direct" {
		return 0
	}
	return 1
}

// side returns the results of one side (0 direct, 1 proxy).
func side(rs []*Result, s int) []*Result {
	var out []*Result
	for i := s; i < len(rs); i += 2 {
		out = append(out, rs[i])
	}
	return out
}

func medianOf(rs []*Result, f func(*Result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// Write prints the report as a Markdown table (medians over the reps).
func (rep *ProxyReport) Write(w io.Writer) {
	c := rep.Config
	fmt.Fprintf(w, "zkgo proxy overhead, %s, upstream %s, mix %s, %d reps x %s (medians), one host\n\n",
		rep.Started.Format("2006-01-02 15:04 UTC"), rep.Upstream, c.Mix, c.Reps, c.Duration)
	fmt.Fprintf(w, "Host: %d CPUs; load average (1/5/15 min) %s at the start, %s at the end.\n\n",
		runtime.NumCPU(), rep.LoadBefore, rep.LoadAfter)
	switch rep.Layout {
	case LayoutSplit:
		fmt.Fprintf(w, "Layout split: load generator and server pinned to CPUs %s (in the direct runs too), proxy and baseline forwarder to CPUs %s.\n\n",
			rep.RestCPUs, rep.ProxyCPUs)
	case LayoutServerSide:
		fmt.Fprintf(w, "Layout server-side: load generator pinned to CPUs %s, server, proxy and baseline forwarder to CPUs %s (the server there in the direct runs too).\n\n",
			rep.RestCPUs, rep.ProxyCPUs)
	default:
		fmt.Fprintf(w, "Layout shared: load generator, server and proxy all run on every CPU.\n\n")
	}
	fmt.Fprintln(w, "| workload | figure | direct | through proxy | proxy vs direct |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|")
	ops := func(r *Result) float64 { return r.OpsPerSec }
	p50 := func(r *Result) float64 { return r.Latency.P50 }
	p99 := func(r *Result) float64 { return r.Latency.P99 }
	for _, wl := range []struct {
		name string
		rs   []*Result
		base []*Result
	}{
		{fmt.Sprintf("closed loop %d conns x %d pipelined", c.Conns, c.Depth), rep.Closed, rep.BaselineClosed},
		{fmt.Sprintf("open loop %.0f ops/s, 16 conns", c.Rate), rep.Open, rep.BaselineOpen},
		{"serial, 1 conn x 1 in flight", rep.Serial, rep.BaselineSerial},
	} {
		d, p := side(wl.rs, 0), side(wl.rs, 1)
		if len(d) == 0 || len(p) == 0 {
			continue
		}
		do, po := medianOf(d, ops), medianOf(p, ops)
		fmt.Fprintf(w, "| %s | ops/s | %.0f | %.0f | %.1f%% |\n", wl.name, do, po, 100*po/do)
		d50, p50v := medianOf(d, p50), medianOf(p, p50)
		fmt.Fprintf(w, "| %s | p50 µs | %.0f | %.0f | %+.0f µs |\n", wl.name, d50, p50v, p50v-d50)
		d99, p99v := medianOf(d, p99), medianOf(p, p99)
		fmt.Fprintf(w, "| %s | p99 µs | %.0f | %.0f | %+.0f µs |\n", wl.name, d99, p99v, p99v-d99)
		if len(wl.base) > 0 {
			name := wl.name + ", baseline forwarder"
			bo, b50, b99 := medianOf(wl.base, ops), medianOf(wl.base, p50), medianOf(wl.base, p99)
			fmt.Fprintf(w, "| %s | ops/s | %.0f | %.0f | %.1f%% |\n", name, do, bo, 100*bo/do)
			fmt.Fprintf(w, "| %s | p50 µs | %.0f | %.0f | %+.0f µs |\n", name, d50, b50, b50-d50)
			fmt.Fprintf(w, "| %s | p99 µs | %.0f | %.0f | %+.0f µs |\n", name, d99, b99, b99-d99)
		}
	}
	if len(rep.ClosedCPU) >= 2 && rep.ClosedCPU[0].Server >= 0 {
		var ds, ps, pp []float64
		for i, c := range rep.ClosedCPU {
			if i%2 == 0 {
				ds = append(ds, c.Server)
			} else {
				ps, pp = append(ps, c.Server), append(pp, c.Proxy)
			}
		}
		med := func(v []float64) float64 { sort.Float64s(v); return v[len(v)/2] }
		sd, sp, px := med(ds), med(ps), med(pp)
		fmt.Fprintf(w, "| closed loop, CPU per op | server µs | %.1f | %.1f | |\n", sd, sp)
		fmt.Fprintf(w, "| closed loop, CPU per op | proxy µs | | %.1f | proxy = %.0f%% of the server's CPU |\n", px, 100*px/sp)
		if len(rep.BaselineCPU) > 0 {
			var fc []float64
			for _, c := range rep.BaselineCPU {
				fc = append(fc, c.Proxy)
			}
			fx := med(fc)
			fmt.Fprintf(w, "| closed loop, CPU per op | baseline forwarder µs | | %.1f | forwarder = %.0f%% of the server's CPU |\n", fx, 100*fx/sp)
		}
	}
}

// proxyProc is a `zkgo proxy` child process.
type proxyProc struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

func startProxy(cfg ProxyConfig, upstream, dir string, cpus []int) (*proxyProc, error) {
	// Every load connection comes from one IP: the per-IP connection
	// limit (default 60) would refuse the 64-connection runs.
	args := append([]string{"proxy", "--upstream", upstream, "--log-level", "warn", "--max-conns-per-ip", "0"},
		cfg.ProxyFlags...)
	return startChild(cfg.ZkgoBin, args, dir, "proxy", cpus)
}

// startChild starts `bin args... --listen ADDR` on a free port and waits
// until it answers ruok (passed to the upstream); name labels its log; a
// non-empty cpus restricts it to those CPUs.
func startChild(bin string, args []string, dir, name string, cpus []int) (*proxyProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args = append(append([]string(nil), args...), "--listen", addr)
	cmd := exec.Command(bin, args...)
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := startOn(cmd, cpus); err != nil {
		logf.Close()
		return nil, err
	}
	p := &proxyProc{cmd: cmd, addr: addr, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if out, err := FourLetter(addr, "ruok"); err == nil && out == "imok" {
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("bench: zkgo %s exited: %s", name, strings.TrimSpace(tailFile(logPath, 2000)))
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("bench: zkgo %s did not serve: %s", name, tailFile(logPath, 2000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proxyProc) stop() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}
