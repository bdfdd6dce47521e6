package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// EnsembleMix is one ensemble layout: member i has sid i+1 and runs
// Members[i]; the member with sid Leader must lead (see StartEnsemble).
type EnsembleMix struct {
	Name    string `json:"name"`
	Members []Kind `json:"members"`
	Leader  int    `json:"leader"`
	// Base is the mix its ratios divide by (the all-Java ensemble of the
	// same size); empty for a baseline.
	Base string `json:"base,omitempty"`
}

// Size is the number of members.
func (m EnsembleMix) Size() int { return len(m.Members) }

// LeaderKind is the implementation of the member that leads.
func (m EnsembleMix) LeaderKind() Kind { return m.Members[m.Leader-1] }

// The mixes' names, used as keys of the report.
const (
	MixJava3      = "java×3"
	MixZkgo3      = "zkgo×3"
	MixZkgoLeader = "zkgo leader + 2 java"
	MixJavaLeader = "java leader + 2 zkgo"
	MixJava5      = "java×5"
	MixZkgo5      = "zkgo×5"
)

// DefaultEnsembleMixes are the ensembles of `make bench-ensemble`. The
// member that must lead has the highest sid: with fresh data dirs every
// vote carries the same epoch and zxid, so fast leader election picks the
// highest sid, provided it is up when the others vote (StartEnsemble starts
// it first and checks the roles before anything is measured).
func DefaultEnsembleMixes() []EnsembleMix {
	return []EnsembleMix{
		{Name: MixJava3, Members: []Kind{Java, Java, Java}, Leader: 3},
		{Name: MixZkgo3, Members: []Kind{Zkgo, Zkgo, Zkgo}, Leader: 3, Base: MixJava3},
		{Name: MixZkgoLeader, Members: []Kind{Java, Java, Zkgo}, Leader: 3, Base: MixJava3},
		{Name: MixJavaLeader, Members: []Kind{Zkgo, Zkgo, Java}, Leader: 3, Base: MixJava3},
		{Name: MixJava5, Members: []Kind{Java, Java, Java, Java, Java}, Leader: 5},
		{Name: MixZkgo5, Members: []Kind{Zkgo, Zkgo, Zkgo, Zkgo, Zkgo}, Leader: 5, Base: MixJava5},
	}
}

// Where an ensemble scenario's connections go.
const (
	TargetAll       = "all"       // round robin over every member, leader included
	TargetFollowers = "followers" // round robin over the followers
	TargetFollower  = "follower"  // one follower (the lowest sid)
)

// EnsembleScenario is one cell of the ensemble matrix.
type EnsembleScenario struct {
	Name   string `json:"name"`
	Mix    string `json:"mix"`
	Conns  int    `json:"conns"`
	Depth  int    `json:"depth"`
	Target string `json:"target"`
	Class  string `json:"class"` // read, write, mixed
	// FiveNode: also run on the 5-node ensembles (which run only these).
	FiveNode bool `json:"five_node,omitempty"`
}

// DefaultEnsembleScenarios is the matrix of `make bench-ensemble`: 1 KiB
// payloads, 24 connections x 8 in flight spread over the members (8 per
// member of a 3-node ensemble), the serial write latency through one
// follower, and the rows that grow the tree last (as in DefaultScenarios).
func DefaultEnsembleScenarios() []EnsembleScenario {
	return []EnsembleScenario{
		{Name: "get (all members)", Mix: "get", Conns: 24, Depth: 8, Target: TargetAll, Class: "read"},
		{Name: "mix 90/10 (all members)", Mix: "90/10", Conns: 24, Depth: 8, Target: TargetAll, Class: "mixed"},
		{Name: "set (all members)", Mix: "set", Conns: 24, Depth: 8, Target: TargetAll, Class: "write", FiveNode: true},
		{Name: "set (followers only)", Mix: "set", Conns: 24, Depth: 8, Target: TargetFollowers, Class: "write"},
		{Name: "serial set (on a follower)", Mix: "set", Conns: 1, Depth: 1, Target: TargetFollower, Class: "write", FiveNode: true},
		{Name: "create seq (all members)", Mix: "createseq", Conns: 24, Depth: 8, Target: TargetAll, Class: "write"},
		{Name: "multi (all members)", Mix: "multi", Conns: 24, Depth: 8, Target: TargetAll, Class: "write"},
	}
}

// EnsembleConfig configures `zkgo bench ensemble`.
type EnsembleConfig struct {
	Profile      string
	ZkgoBin      string
	Reps         int
	Warmup       time.Duration // per scenario, discarded
	Duration     time.Duration // per scenario, measured
	ServerWarmup time.Duration // after each ensemble start, a 90/10 run over all members, discarded
	JavaHeap     string        // -Xms=-Xmx of every Java member
	Size         int
	Only         string // regexp over scenario names
	Mixes        string // regexp over mix names
	WorkDir      string
	ZkgoExtra    []string
	JavaExtra    []string
	Seed         int64
	// StartTimeout bounds one ensemble start (all members serving, the
	// intended leader leading); StartTries is how often a start whose
	// election picked another leader is retried on fresh data dirs.
	StartTimeout time.Duration
	StartTries   int
	// Failover, after the scenarios, kills the leader, times the first
	// acknowledged write through a survivor and the killed member's
	// rejoin (measureFailover).
	Failover bool
	// RejoinZnodes are the tree sizes of the follower restart rows
	// (rejoin.go; none: skipped), RejoinDataSize their znodes' data bytes,
	// RejoinJavaHeap the -Xms=-Xmx of Java members there (the largest tree
	// must fit).
	RejoinZnodes   []int
	RejoinDataSize int
	RejoinJavaHeap string
	// LogsDir is where the member logs of an ensemble run that failed are
	// copied ("": a new directory under the temp dir, made on the first
	// failure); the run's error line names it.
	LogsDir string
	Log     io.Writer
}

// EnsembleQuickProfile is `make bench-ensemble`: about 10 minutes on the
// 2-core box.
func EnsembleQuickProfile() EnsembleConfig {
	return EnsembleConfig{Profile: "quick", Reps: 3, Warmup: 500 * time.Millisecond, Duration: 2 * time.Second,
		ServerWarmup: 3 * time.Second, JavaHeap: "512m", Size: 1024, StartTimeout: 90 * time.Second, StartTries: 3, Failover: true,
		RejoinZnodes: []int{100_000}, RejoinDataSize: 100, RejoinJavaHeap: "1g"}
}

// EnsembleFullProfile is `make bench-ensemble-full`: BENCHMARKS.md's
// durations.
func EnsembleFullProfile() EnsembleConfig {
	return EnsembleConfig{Profile: "full", Reps: 5, Warmup: 5 * time.Second, Duration: 20 * time.Second,
		ServerWarmup: 60 * time.Second, JavaHeap: "512m", Size: 1024, StartTimeout: 90 * time.Second, StartTries: 3, Failover: true,
		RejoinZnodes: []int{100_000, 1_000_000}, RejoinDataSize: 100, RejoinJavaHeap: "1g"}
}

func (c *EnsembleConfig) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// memberPorts are one member's loopback ports.
type memberPorts struct{ Client, Quorum, Election int }

// ensembleConfig is the zoo.cfg of member id (1-based) of an ensemble
// whose members listen on ports (member i+1 on ports[i]): the same keys
// as StartServer's standalone config (fsync on), the server.N lines with
// each member's client address, and props on top.
func ensembleConfig(id int, ports []memberPorts, dataDir string, props map[string]string) string {
	cfg := map[string]string{
		"tickTime":               "2000",
		"initLimit":              "10",
		"syncLimit":              "5",
		"dataDir":                dataDir,
		"maxClientCnxns":         "0",
		"admin.enableServer":     "false",
		"4lw.commands.whitelist": "*",
		"forceSync":              "yes",
		"standaloneEnabled":      "false",
		"reconfigEnabled":        "false",
	}
	for i, p := range ports {
		cfg["server."+strconv.Itoa(i+1)] = fmt.Sprintf("127.0.0.1:%d:%d:participant;127.0.0.1:%d", p.Quorum, p.Election, p.Client)
	}
	_ = id // every member gets the same lines; id only names its myid file
	for k, v := range props {
		cfg[k] = v
	}
	return zooCfg(cfg)
}

// SrvrInfo is what the srvr four-letter word says about a member.
type SrvrInfo struct {
	Mode string // leader, follower, observer, standalone; "" while it does not serve
	Zxid int64  // -1 if absent
}

// parseSrvr reads the Mode and Zxid lines of a srvr answer.
func parseSrvr(out string) SrvrInfo {
	info := SrvrInfo{Zxid: -1}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "Mode:"); ok {
			info.Mode = strings.TrimSpace(v)
		} else if v, ok := strings.CutPrefix(line, "Zxid:"); ok {
			v = strings.TrimSpace(v)
			v = strings.TrimPrefix(strings.TrimPrefix(v, "0x"), "0X")
			if z, err := strconv.ParseUint(v, 16, 64); err == nil {
				info.Zxid = int64(z)
			}
		}
	}
	return info
}

// Srvr asks addr for its srvr answer.
func Srvr(addr string) (SrvrInfo, error) {
	out, err := FourLetter(addr, "srvr")
	if err != nil {
		return SrvrInfo{Zxid: -1}, err
	}
	return parseSrvr(out), nil
}

// Ensemble is a running ensemble of member processes on loopback.
type Ensemble struct {
	Mix     EnsembleMix
	Members []*Server // Members[i] has sid i+1
	Ready   time.Duration
	ports   []memberPorts
}

// Leader is the leading member (the one Mix.Leader names, as verified by
// StartEnsemble).
func (e *Ensemble) Leader() *Server { return e.Members[e.Mix.Leader-1] }

// Followers are the other members, by sid.
func (e *Ensemble) Followers() []*Server {
	var out []*Server
	for i, s := range e.Members {
		if i+1 != e.Mix.Leader {
			out = append(out, s)
		}
	}
	return out
}

// Addrs returns the client addresses of servers.
func Addrs(servers []*Server) []string {
	out := make([]string, len(servers))
	for i, s := range servers {
		out[i] = s.Addr
	}
	return out
}

// Stop kills every member.
func (e *Ensemble) Stop() {
	for _, s := range e.Members {
		if s != nil {
			s.Stop()
		}
	}
}

// freePorts returns n distinct free loopback ports (all held open until
// every one is chosen, so none repeats).
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	out := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// StartEnsemble starts mix's members under dir (each with its own data
// dir and zoo.cfg, fsync on) and waits until every member serves a session
// in the role it must have: the member with sid mix.Leader leads, the
// others follow (see the start order below). A start in
// which another member won is stopped and reported as an error (the
// caller retries on fresh data dirs).
func StartEnsemble(mix EnsembleMix, spec func(Kind) ServerSpec, dir string, timeout time.Duration) (*Ensemble, error) {
	if mix.Leader < 1 || mix.Leader > mix.Size() {
		return nil, fmt.Errorf("bench: mix %q: leader sid %d out of range", mix.Name, mix.Leader)
	}
	ps, err := freePorts(3 * mix.Size())
	if err != nil {
		return nil, err
	}
	e := &Ensemble{Mix: mix, Members: make([]*Server, mix.Size())}
	for i := range mix.Members {
		e.ports = append(e.ports, memberPorts{Client: ps[3*i], Quorum: ps[3*i+1], Election: ps[3*i+2]})
	}
	var cfgs []string
	for i, k := range mix.Members {
		id := i + 1
		mdir := filepath.Join(dir, fmt.Sprintf("m%d-%s", id, k))
		data := filepath.Join(mdir, "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(data, "myid"), []byte(strconv.Itoa(id)+"\n"), 0o644); err != nil {
			return nil, err
		}
		sp := spec(k)
		cfgPath := filepath.Join(mdir, "zoo.cfg")
		if err := os.WriteFile(cfgPath, []byte(ensembleConfig(id, e.ports, data, sp.Props)), 0o644); err != nil {
			return nil, err
		}
		cfgs = append(cfgs, cfgPath)
		e.Members[i] = &Server{Spec: sp, Addr: fmt.Sprintf("127.0.0.1:%d", e.ports[i].Client), Dir: mdir, DataDir: data}
	}
	t0 := time.Now()
	deadline := t0.Add(timeout)
	fail := func(err error) (*Ensemble, error) {
		var logs strings.Builder
		for i, s := range e.Members {
			if s.LogPath != "" {
				fmt.Fprintf(&logs, "\n--- member %d (%s) ---\n%s", i+1, s.Spec.Kind, tailFile(s.LogPath, 1500))
			}
		}
		e.Stop()
		return nil, fmt.Errorf("%w%s", err, logs.String())
	}
	// Start the intended leader, then one follower at a time until a
	// quorum runs: no quorum can form without the leader's vote, and every
	// member that hears it votes for the highest sid. Then the leader must
	// lead before the rest start (they join it as followers). Starting
	// everything at once lets fast starters elect one of themselves before
	// a slow one (a JVM) casts its vote.
	waitFor := func(what string, ok func() bool) error {
		for !ok() {
			if err := e.exited(); err != nil {
				return err
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("bench: ensemble %s: %s within %v", mix.Name, what, timeout)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return nil
	}
	order := []int{mix.Leader - 1}
	for i := range mix.Members {
		if i != mix.Leader-1 {
			order = append(order, i)
		}
	}
	quorum := mix.Size()/2 + 1
	for n, i := range order {
		if n == quorum {
			if err := waitFor("no leader", func() bool { return e.roles()[mix.Leader-1] != "" }); err != nil {
				return fail(err)
			}
		}
		if err := e.Members[i].launch(cfgs[i]); err != nil {
			return fail(fmt.Errorf("bench: starting member %d: %w", i+1, err))
		}
		if n < quorum-1 {
			elec := fmt.Sprintf("127.0.0.1:%d", e.ports[i].Election)
			if err := waitFor(fmt.Sprintf("member %d's election port did not listen", i+1), func() bool { return listens(elec) }); err != nil {
				return fail(err)
			}
		}
	}
	for {
		if err := e.exited(); err != nil {
			return fail(err)
		}
		roles := e.roles()
		done := true
		for i, r := range roles {
			if r == "" {
				done = false
				continue
			}
			want := "follower"
			if i+1 == mix.Leader {
				want = "leader"
			}
			if r != want {
				return fail(fmt.Errorf("%w: member %d (%s) is %s, want %s", ErrWrongLeader, i+1, mix.Members[i], r, want))
			}
		}
		if done {
			ok := true
			for _, s := range e.Members {
				if !s.serves() {
					ok = false
					break
				}
			}
			if ok {
				e.Ready = time.Since(t0)
				for _, s := range e.Members {
					s.Ready = e.Ready
				}
				return e, nil
			}
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("bench: ensemble %s not serving within %v (roles %v)", mix.Name, timeout, roles))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ErrWrongLeader means an election picked another member than the one
// the mix needs as leader.
var ErrWrongLeader = errors.New("bench: wrong leader")

// roles returns each member's srvr Mode ("" while it does not answer or
// serve).
func (e *Ensemble) roles() []string {
	out := make([]string, len(e.Members))
	for i, s := range e.Members {
		if info, err := Srvr(s.Addr); err == nil {
			out[i] = info.Mode
		}
	}
	return out
}

// stillLeads returns the roles once the intended leader says it leads, or
// after a few tries (a srvr that times out under load is asked again).
func (e *Ensemble) stillLeads() []string {
	var roles []string
	for try := 0; try < 5; try++ {
		if roles = e.roles(); roles[e.Mix.Leader-1] == "leader" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return roles
}

// exited reports a member that has exited.
func (e *Ensemble) exited() error {
	for i, s := range e.Members {
		if s.cmd == nil {
			continue
		}
		select {
		case err := <-s.exited:
			s.cmd = nil
			return fmt.Errorf("bench: member %d (%s) exited: %v", i+1, s.Spec.Kind, err)
		default:
		}
	}
	return nil
}

func listens(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// EnsembleCell is one measurement of one scenario on one ensemble.
type EnsembleCell struct {
	Mix    string  `json:"mix"`
	Rep    int     `json:"rep"`
	Result *Result `json:"result"`
	// Committed is the number of transactions the leader committed in the
	// measured window (Δ of its srvr Zxid counter, same epoch).
	Committed int64 `json:"committed"`
	// LeaderCPUUsPerWrite is Δ(utime+stime) of the leader's process over
	// Committed; LeaderCPUUsPerOp divides by the client's ops instead.
	LeaderCPUUsPerWrite float64 `json:"leader_cpu_us_per_write,omitempty"`
	LeaderCPUUsPerOp    float64 `json:"leader_cpu_us_per_op"`
	// LeaderJITUsPerWrite is the part of LeaderCPUUsPerWrite spent by a
	// Java leader's JIT compiler threads (ProcSample.JITSec; 0 for zkgo):
	// compiling that depends on when the JVM started, not on the writes.
	LeaderJITUsPerWrite float64 `json:"leader_jit_us_per_write,omitempty"`
	// EnsembleCPUUsPerOp is the CPU of all members over the client's ops.
	EnsembleCPUUsPerOp float64 `json:"ensemble_cpu_us_per_op"`
	LeaderRSSKB        int64   `json:"leader_rss_kb"`
	// Followers is how many followers the ensemble has; FollowerFsyncs
	// the fsyncs of their txn logs in the measured window (Δ of each one's
	// mntr zk_cnt_fsynctime, 0 when a mntr failed). Each follower ACKs
	// the txns of one fsync together, so Committed × Followers ÷
	// FollowerFsyncs is how many ACKs the leader gets per batch: the
	// fewer, the more ACK packets it reads and handles per write.
	Followers      int   `json:"followers,omitempty"`
	FollowerFsyncs int64 `json:"follower_fsyncs,omitempty"`
}

// EnsembleReport is everything an ensemble run measured.
type EnsembleReport struct {
	Profile   string                    `json:"profile"`
	Date      time.Time                 `json:"date"`
	Machine   map[string]string         `json:"machine"`
	GoVersion string                    `json:"go_version"`
	Java      string                    `json:"java_version"`
	JavaHeap  string                    `json:"java_heap"`
	Reps      int                       `json:"reps"`
	Warmup    string                    `json:"warmup"`
	Duration  string                    `json:"duration"`
	ServerWU  string                    `json:"server_warmup"`
	Size      int                       `json:"size"`
	WorkDir   string                    `json:"work_dir"`
	Order     []string                  `json:"order"`
	Mixes     []EnsembleMix             `json:"mixes"`
	Scenarios []EnsembleScenario        `json:"scenarios"`
	Cells     map[string][]EnsembleCell `json:"cells"` // by scenario name
	Failover  []FailoverCell            `json:"failover,omitempty"`
	// RejoinRows are the follower restart rows run, RejoinDataSize their
	// znodes' data bytes; Rejoin their measurements.
	RejoinRows     []RejoinRow  `json:"rejoin_rows,omitempty"`
	RejoinDataSize int          `json:"rejoin_znode_size,omitempty"`
	RejoinJavaHeap string       `json:"rejoin_java_heap,omitempty"`
	Rejoin         []RejoinCell `json:"rejoin,omitempty"`
	Elapsed        float64      `json:"elapsed_sec"`
	Errors         []string     `json:"errors,omitempty"`
}

// RunEnsembles runs the ensemble benchmark: per repetition every mix in
// turn (the first repetition in the default order, later ones shuffled),
// each on fresh data dirs, with every scenario that applies to its size.
func RunEnsembles(ctx context.Context, cfg EnsembleConfig) (*EnsembleReport, error) {
	t0 := time.Now()
	if cfg.Reps <= 0 {
		cfg.Reps = 1
	}
	if cfg.StartTries <= 0 {
		cfg.StartTries = 1
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 90 * time.Second
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = os.TempDir()
	}
	rep := &EnsembleReport{Profile: cfg.Profile, Date: time.Now().UTC(), Machine: MachineFacts(), GoVersion: runtime.Version(),
		Java: JavaVersion(), JavaHeap: cfg.JavaHeap, Reps: cfg.Reps, Warmup: cfg.Warmup.String(),
		Duration: cfg.Duration.String(), ServerWU: cfg.ServerWarmup.String(), Size: cfg.Size, WorkDir: cfg.WorkDir,
		Cells: map[string][]EnsembleCell{}}
	var onlyRe, mixRe *regexp.Regexp
	var err error
	if cfg.Only != "" {
		if onlyRe, err = regexp.Compile(cfg.Only); err != nil {
			return nil, err
		}
	}
	if cfg.Mixes != "" {
		if mixRe, err = regexp.Compile(cfg.Mixes); err != nil {
			return nil, err
		}
	}
	for _, s := range DefaultEnsembleScenarios() {
		if onlyRe == nil || onlyRe.MatchString(s.Name) {
			rep.Scenarios = append(rep.Scenarios, s)
		}
	}
	for _, r := range rejoinRows(cfg.RejoinZnodes) {
		if onlyRe == nil || onlyRe.MatchString(r.Name()) {
			rep.RejoinRows = append(rep.RejoinRows, r)
		}
	}
	if len(rep.RejoinRows) > 0 {
		rep.RejoinDataSize, rep.RejoinJavaHeap = cfg.RejoinDataSize, cfg.RejoinJavaHeap
	}
	for _, m := range DefaultEnsembleMixes() {
		if mixRe == nil || mixRe.MatchString(m.Name) {
			rep.Mixes = append(rep.Mixes, m)
		}
	}
	for _, m := range rep.Mixes {
		if err := checkKinds(m.Members, cfg.ZkgoBin); err != nil {
			return nil, err
		}
	}
	work, err := os.MkdirTemp(cfg.WorkDir, "zkgo-bench-ensemble-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	rng := newRNG(cfg.Seed)
	for r := 0; r < cfg.Reps; r++ {
		order := append([]EnsembleMix(nil), rep.Mixes...)
		if r > 0 {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		for _, m := range order {
			if ctx.Err() != nil {
				rep.Elapsed = time.Since(t0).Seconds()
				return rep, ctx.Err()
			}
			main := len(cfg.scenariosFor(rep, m)) > 0 || cfg.Failover
			rejoin := len(rep.RejoinRows) > 0 && runsRejoin(m)
			if !main && !rejoin {
				continue
			}
			rep.Order = append(rep.Order, fmt.Sprintf("%s#%d", m.Name, r+1))
			dir := filepath.Join(work, fmt.Sprintf("r%d-%d", r, len(rep.Order)))
			if main {
				if err := cfg.runEnsembleRep(ctx, rep, m, r, dir); err != nil {
					rep.Errors = append(rep.Errors, fmt.Sprintf("%s rep %d: %v", m.Name, r+1, firstLine(err.Error())))
					cfg.logf("! %s rep %d: %v", m.Name, r+1, err)
				}
			}
			if rejoin && ctx.Err() == nil {
				if err := cfg.runRejoin(ctx, rep, m, r, dir+"-rejoin"); err != nil {
					rep.Errors = append(rep.Errors, fmt.Sprintf("%s rep %d restarts: %v", m.Name, r+1, firstLine(err.Error())))
					cfg.logf("! %s rep %d restarts: %v", m.Name, r+1, err)
				}
			}
		}
	}
	rep.Elapsed = time.Since(t0).Seconds()
	return rep, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// scenariosFor returns the scenarios mix m runs: all on 3-node ensembles,
// the FiveNode ones on larger ones.
func (cfg *EnsembleConfig) scenariosFor(rep *EnsembleReport, m EnsembleMix) []EnsembleScenario {
	var out []EnsembleScenario
	for _, s := range rep.Scenarios {
		if m.Size() <= 3 || s.FiveNode {
			out = append(out, s)
		}
	}
	return out
}

func (cfg *EnsembleConfig) spec(k Kind) ServerSpec {
	s := ServerSpec{Kind: k, ZkgoBin: cfg.ZkgoBin, JavaHeap: cfg.JavaHeap}
	if k == Zkgo {
		s.Extra = cfg.ZkgoExtra
	} else {
		s.Extra = cfg.JavaExtra
	}
	return s
}

// startEnsemble starts m under dir, retrying on fresh data dirs (up to
// StartTries) a start in which another member won the election.
func (cfg *EnsembleConfig) startEnsemble(m EnsembleMix, spec func(Kind) ServerSpec, dir string) (*Ensemble, error) {
	var err error
	for try := 1; try <= cfg.StartTries; try++ {
		tdir := filepath.Join(dir, fmt.Sprintf("try%d", try))
		var e *Ensemble
		if e, err = StartEnsemble(m, spec, tdir, cfg.StartTimeout); err == nil {
			return e, nil
		}
		_ = os.RemoveAll(tdir)
		if !errors.Is(err, ErrWrongLeader) {
			return nil, err
		}
		cfg.logf("  %s: %v; retrying on fresh data dirs", m.Name, firstLine(err.Error()))
	}
	return nil, err
}

func (cfg *EnsembleConfig) runEnsembleRep(ctx context.Context, rep *EnsembleReport, m EnsembleMix, r int, dir string) (err error) {
	defer os.RemoveAll(dir)
	e, err := cfg.startEnsemble(m, cfg.spec, dir)
	if err != nil {
		return err
	}
	defer e.Stop()
	defer func() {
		if err != nil && ctx.Err() == nil {
			err = cfg.failed(e, fmt.Sprintf("%s-rep%d", fileSlug(m.Name), r+1), err)
		}
	}()
	pids := make([]string, len(e.Members))
	for i, s := range e.Members {
		pids[i] = fmt.Sprintf("%d:%s/%d", i+1, s.Spec.Kind, s.Pid())
	}
	cfg.logf("== %s rep %d/%d: leader sid %d (%s), members %s, ready in %v", m.Name, r+1, cfg.Reps, m.Leader,
		m.LeaderKind(), strings.Join(pids, " "), e.Ready.Round(time.Millisecond))
	tree := Tree{Size: cfg.Size}
	leader := e.Leader()
	if err := Setup(leader.Addr, tree); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	all := Addrs(e.Members)
	if cfg.ServerWarmup > 0 {
		mx, _ := ParseMix("90/10")
		if _, err := Run(ctx, all[0], Workload{Name: "ensemble warm-up", Mix: mx, Conns: 24, Duration: cfg.ServerWarmup,
			Tree: tree, Addrs: all, Progress: cfg.Log}); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	for _, sc := range cfg.scenariosFor(rep, m) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		mx, err := ParseMix(sc.Mix)
		if err != nil {
			return err
		}
		var addrs []string
		switch sc.Target {
		case TargetFollowers:
			addrs = Addrs(e.Followers())
		case TargetFollower:
			addrs = Addrs(e.Followers()[:1])
		default:
			addrs = all
		}
		w := Workload{Name: sc.Name, Mix: mx, Conns: sc.Conns, Depth: sc.Depth, Warmup: cfg.Warmup,
			Duration: cfg.Duration, Tree: tree, Addrs: addrs, Progress: cfg.Log}
		var before, after []ProcSample
		var zBefore, zAfter SrvrInfo
		var fsBefore, fsAfter int64
		var fsOK bool
		fsyncs := func() (int64, bool) {
			var n int64
			for _, f := range e.Followers() {
				c, ok := FsyncCount(f.Addr)
				if !ok {
					return 0, false
				}
				n += c
			}
			return n, true
		}
		sample := func() []ProcSample {
			out := make([]ProcSample, len(e.Members))
			for i, s := range e.Members {
				out[i], _ = ReadProc(s.Pid())
			}
			return out
		}
		w.OnMeasure = func() {
			fsBefore, fsOK = fsyncs()
			zBefore, _ = Srvr(leader.Addr)
			before = sample()
		}
		w.OnMeasureEnd = func() {
			after = sample()
			zAfter, _ = Srvr(leader.Addr)
			var ok bool
			fsAfter, ok = fsyncs()
			fsOK = fsOK && ok
		}
		res, err := Run(ctx, addrs[0], w)
		if err != nil && res == nil {
			return fmt.Errorf("%s: %w", sc.Name, err)
		}
		if err != nil {
			cfg.logf("  %s: %v", sc.Name, err)
		}
		c := cellOf(m, r, res, m.Leader-1, before, after, zBefore, zAfter)
		if c.Followers = len(e.Followers()); fsOK && fsAfter > fsBefore {
			c.FollowerFsyncs = fsAfter - fsBefore
		}
		cfg.logf("  %-28s %-22s %9.0f ops/s  p50 %6.0f  p99 %7.0f µs  leader cpu %6.1f µs/op %6.1f µs/write  err %d",
			sc.Name, m.Name, res.OpsPerSec, res.Latency.P50, res.Latency.P99, c.LeaderCPUUsPerOp, c.LeaderCPUUsPerWrite, res.Errors)
		// The roles must not have changed under load (an election in the
		// middle would make the cell meaningless).
		if roles := e.stillLeads(); roles[m.Leader-1] != "leader" {
			return fmt.Errorf("after %s: member %d no longer leads (roles %v); cell dropped", sc.Name, m.Leader, roles)
		}
		rep.Cells[sc.Name] = append(rep.Cells[sc.Name], c)
	}
	if cfg.Failover && ctx.Err() == nil {
		fc := measureFailover(e, tree.withDefaults().keyPath(0), cfg.StartTimeout)
		fc.Rep = r
		rep.Failover = append(rep.Failover, fc)
		if fc.Err != "" {
			return fmt.Errorf("failover: %s", fc.Err)
		}
		cfg.logf("  %-28s %-22s first acked write %.0f ms after the kill (new leader %s); old leader back as follower in %.0f ms (%s)",
			"failover", m.Name, fc.FirstWriteMs, fc.NewLeader, fc.RejoinMs, fc.RejoinSync)
	}
	return nil
}

// cellOf computes a cell from the samples around the measured window.
func cellOf(m EnsembleMix, r int, res *Result, leader int, before, after []ProcSample, zb, za SrvrInfo) EnsembleCell {
	c := EnsembleCell{Mix: m.Name, Rep: r, Result: res}
	if leader < len(after) {
		c.LeaderRSSKB = after[leader].RSSKB
	}
	if zb.Zxid >= 0 && za.Zxid >= 0 && zb.Zxid>>32 == za.Zxid>>32 {
		c.Committed = za.Zxid - zb.Zxid
	}
	if len(before) != len(after) || leader >= len(after) {
		return c
	}
	lcpu := after[leader].CPUSec() - before[leader].CPUSec()
	var ecpu float64
	for i := range after {
		ecpu += after[i].CPUSec() - before[i].CPUSec()
	}
	if res != nil && res.Ops > 0 {
		c.LeaderCPUUsPerOp = lcpu * 1e6 / float64(res.Ops)
		c.EnsembleCPUUsPerOp = ecpu * 1e6 / float64(res.Ops)
	}
	if c.Committed > 0 {
		c.LeaderCPUUsPerWrite = lcpu * 1e6 / float64(c.Committed)
		if jit := after[leader].JITSec - before[leader].JITSec; jit > 0 {
			c.LeaderJITUsPerWrite = jit * 1e6 / float64(c.Committed)
		}
	}
	return c
}

// FsyncCount is the number of txn log fsyncs a member reports (mntr's
// zk_cnt_fsynctime, Java's and zkgo's alike).
func FsyncCount(addr string) (int64, bool) {
	out, err := FourLetter(addr, "mntr")
	if err != nil {
		return 0, false
	}
	return mntrInt(out, "zk_cnt_fsynctime")
}

// mntrInt reads the integer value of key from a mntr answer.
func mntrInt(out, key string) (int64, bool) {
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "\t"); ok && k == key {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// failed adds to err, from a run on e, the members' roles at that moment
// and where their logs were kept (the run's data dirs are removed).
func (cfg *EnsembleConfig) failed(e *Ensemble, label string, err error) error {
	roles := e.roles()
	dir, kerr := cfg.keepLogs(e, label)
	if kerr != nil {
		return fmt.Errorf("%w (roles %q; member logs not kept: %v)", err, roles, kerr)
	}
	return fmt.Errorf("%w (roles %q; member logs in %s/%s-m*.log)", err, roles, dir, label)
}

// keepLogs copies the server log of each of e's members to cfg.LogsDir
// (made on first use) as <label>-m<sid>-<kind>.log.
func (cfg *EnsembleConfig) keepLogs(e *Ensemble, label string) (string, error) {
	if cfg.LogsDir == "" {
		d, err := os.MkdirTemp("", "zkgo-bench-ensemble-logs-")
		if err != nil {
			return "", err
		}
		cfg.LogsDir = d
	} else if err := os.MkdirAll(cfg.LogsDir, 0o755); err != nil {
		return "", err
	}
	var errs error
	for i, s := range e.Members {
		if s.LogPath == "" {
			continue
		}
		b, err := os.ReadFile(s.LogPath)
		if err == nil {
			err = os.WriteFile(filepath.Join(cfg.LogsDir, fmt.Sprintf("%s-m%d-%s.log", label, i+1, s.Spec.Kind)), b, 0o644)
		}
		errs = errors.Join(errs, err)
	}
	return cfg.LogsDir, errs
}

// fileSlug turns a mix name into a file name part: "java leader + 2 zkgo"
// becomes "java-leader-2-zkgo", "zkgo×3" "zkgo-3".
func fileSlug(name string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(name) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
