package faults

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
)

// Ports every node uses inside its own namespace.
const (
	ClientPort   = 2181
	QuorumPort   = 2888
	ElectionPort = 3888
)

// Kind is who runs a node.
type Kind byte

// Node kinds, as letters of a mix.
const (
	Java Kind = 'j'
	Zkgo Kind = 'z'
)

func (k Kind) String() string {
	if k == Zkgo {
		return "zkgo"
	}
	return "java"
}

// NodeSpec is one member of an ensemble.
type NodeSpec struct {
	ID       int
	Kind     Kind
	Observer bool
}

// ParseMix reads a mix: one letter per node, j for Java and z for zkgo,
// lower case for a participant and upper case for an observer; "jjzZ" is
// two Java and one zkgo participant plus a zkgo observer. Node ids follow
// the letters from 1.
func ParseMix(mix string) ([]NodeSpec, error) {
	var specs []NodeSpec
	voters := 0
	for i, c := range mix {
		s := NodeSpec{ID: i + 1}
		switch c {
		case 'j', 'J':
			s.Kind = Java
		case 'z', 'Z':
			s.Kind = Zkgo
		default:
			return nil, fmt.Errorf("faults: mix %q: %q is not j, z, J or Z", mix, c)
		}
		s.Observer = c == 'J' || c == 'Z'
		if !s.Observer {
			voters++
		}
		specs = append(specs, s)
	}
	if voters < 3 {
		return nil, fmt.Errorf("faults: mix %q has %d participants, want at least 3", mix, voters)
	}
	return specs, nil
}

// Timing is the ensemble's zoo.cfg timing.
type Timing struct {
	TickTime, InitLimit, SyncLimit int // ms, ticks, ticks
}

// DefaultTiming keeps elections and syncs quick on a loaded two-CPU box:
// a follower that misses syncLimit*tickTime = 1.25 s is dropped.
var DefaultTiming = Timing{TickTime: 250, InitLimit: 20, SyncLimit: 5}

// Node is one server process in its namespace.
type Node struct {
	NodeSpec
	Host    *Host
	Dir     string
	DataDir string
	Config  string
	LogPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	paused bool
	starts int
}

// ClientAddr is the node's client address as the root namespace reaches it.
func (n *Node) ClientAddr() string { return n.Host.IP + ":" + strconv.Itoa(ClientPort) }

// Ensemble is a running mixed ensemble.
type Ensemble struct {
	Net    *Network
	Nodes  []*Node // Nodes[i].ID == i+1
	Timing Timing
	Mix    string
	zkgo   string
	java   *harness.Java
	logf   func(format string, args ...any)
	relays map[int]*Relay // with EnsembleConfig.Relay
	// dynamic: reconfigEnabled=true, so a node's role may change during a
	// run (EnsembleConfig.Reconfig).
	dynamic bool
	// unseated are the nodes a reconfig (acknowledged or indeterminate)
	// removed or demoted while they led (the log checker's allowance).
	unseatedMu sync.Mutex
	unseated   map[int]bool
}

// markUnseated records that a reconfig may have removed or demoted node
// id while it led.
func (e *Ensemble) markUnseated(id int) {
	e.unseatedMu.Lock()
	defer e.unseatedMu.Unlock()
	if e.unseated == nil {
		e.unseated = map[int]bool{}
	}
	e.unseated[id] = true
}

func (e *Ensemble) wasUnseated(id int) bool {
	e.unseatedMu.Lock()
	defer e.unseatedMu.Unlock()
	return e.unseated[id]
}

// EnsembleConfig configures NewEnsemble.
type EnsembleConfig struct {
	Mix    string
	Dir    string // root of the nodes' dirs
	Zkgo   string // the zkgo binary (needed when the mix has z)
	Java   *harness.Java
	Timing Timing
	Net    *Network
	Logf   func(format string, args ...any)
	// Relay routes every quorum and election connection through a relay
	// in the destination's namespace (RelayQuorumPort, RelayElectionPort),
	// so the nemesis can delay links.
	Relay bool
	// Reconfig starts every node with reconfigEnabled=true, the servers
	// in Java's split layout (zoo.cfg names zoo.cfg.dynamic.0 next to it)
	// and the super user's digest (harness.SuperDigest), so that reconfigs
	// can change the membership while the run goes on. Not with Relay:
	// the relays give each node its own server lines, and a reconfig
	// writes the leader's to every member.
	Reconfig bool
}

// NewEnsemble creates the namespaces, configs and data dirs of a mix; it
// starts nothing.
func NewEnsemble(c EnsembleConfig) (*Ensemble, error) {
	specs, err := ParseMix(c.Mix)
	if err != nil {
		return nil, err
	}
	if c.Timing == (Timing{}) {
		c.Timing = DefaultTiming
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	if c.Relay && c.Reconfig {
		return nil, fmt.Errorf("faults: mix %s: relays (delay) and reconfig do not go together", c.Mix)
	}
	e := &Ensemble{Net: c.Net, Timing: c.Timing, Mix: c.Mix, zkgo: c.Zkgo, java: c.Java, logf: c.Logf,
		dynamic: c.Reconfig}
	if c.Relay {
		e.Mix += "+relay"
	}
	if c.Reconfig {
		e.Mix += "+reconfig"
	}
	for _, s := range specs {
		h, err := c.Net.AddHost(s.ID)
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(c.Dir, fmt.Sprintf("node%d-%s", s.ID, s.Kind))
		n := &Node{NodeSpec: s, Host: h, Dir: dir, DataDir: filepath.Join(dir, "data"),
			Config: filepath.Join(dir, "zoo.cfg"), LogPath: filepath.Join(dir, "server.log")}
		if err := os.MkdirAll(n.DataDir, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(n.DataDir, "myid"), []byte(strconv.Itoa(s.ID)+"\n"), 0o644); err != nil {
			return nil, err
		}
		e.Nodes = append(e.Nodes, n)
	}
	if c.Relay {
		e.relays = map[int]*Relay{}
		for _, n := range e.Nodes {
			r, err := StartRelay(n.Host)
			if err != nil {
				_ = e.Close()
				return nil, err
			}
			e.relays[n.ID] = r
		}
	}
	for _, n := range e.Nodes {
		if err := e.writeConfig(n); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Relayed reports whether peer links go through relays (delay possible).
func (e *Ensemble) Relayed() bool { return e.relays != nil }

// SetDelay delays the link between nodes a and b (both directions, every
// connection either of them opened); 0 removes the delay.
func (e *Ensemble) SetDelay(a, b int, d time.Duration) {
	if e.relays == nil {
		return
	}
	e.relays[a].SetDelay(e.Node(b).Host, d)
	e.relays[b].SetDelay(e.Node(a).Host, d)
}

// ClearDelays removes every link delay.
func (e *Ensemble) ClearDelays() {
	for _, r := range e.relays {
		r.ClearDelays()
	}
}

func (e *Ensemble) writeConfig(n *Node) error {
	cfg := map[string]string{
		"tickTime":               strconv.Itoa(e.Timing.TickTime),
		"initLimit":              strconv.Itoa(e.Timing.InitLimit),
		"syncLimit":              strconv.Itoa(e.Timing.SyncLimit),
		"dataDir":                n.DataDir,
		"admin.enableServer":     "false",
		"4lw.commands.whitelist": "*",
		"maxClientCnxns":         "0",
		"standaloneEnabled":      "false",
		"reconfigEnabled":        "false",
		// Java's default snapCount (100000) would never snapshot in a
		// run; a small one makes followers sync from snapshots plus logs.
		"snapCount": "2000",
		// A follower behind by more than the 500 txns of the leader's
		// committed log gets a DIFF read from the leader's txn logs as long
		// as their size (preallocation included) is under this factor
		// times the newest snapshot. Java's defaults (0.33, 64 MB logs)
		// turn every such sync here into a SNAP; Java takes at most 1.
		"snapshotSizeFactor": "1",
		"preAllocSize":       "128", // KB
	}
	if n.Observer && !e.dynamic {
		// With reconfiguration the role comes from the server line
		// alone (Java's setupPeerType): a reconfig may change it, and a
		// peerType left in zoo.cfg would contradict the dynamic file.
		cfg["peerType"] = "observer"
	}
	servers := map[string]string{}
	for _, m := range e.Nodes {
		typ := "participant"
		if m.Observer {
			typ = "observer"
		}
		qp, ep := QuorumPort, ElectionPort
		if e.relays != nil && m.ID != n.ID {
			qp, ep = RelayQuorumPort, RelayElectionPort // others are reached through their relays
		}
		servers["server."+strconv.Itoa(m.ID)] = fmt.Sprintf("%s:%d:%d:%s;%s:%d", m.Host.IP, qp, ep, typ,
			m.Host.IP, ClientPort)
	}
	if e.dynamic {
		// Java's split layout, as compat-tests/harness writes it: the
		// servers in zoo.cfg.dynamic.<version> next to zoo.cfg, which
		// names it; each member rewrites both when it activates a
		// configuration (the first leader's NEWLEADER already does).
		cfg["reconfigEnabled"] = "true"
		cfg["DigestAuthenticationProvider.superDigest"] = harness.SuperDigest
		dyn := filepath.Join(n.Dir, "zoo.cfg.dynamic.0")
		if err := os.WriteFile(dyn, []byte(sortedLines(servers)), 0o644); err != nil {
			return err
		}
		cfg["dynamicConfigFile"] = dyn
	} else {
		maps.Copy(cfg, servers)
	}
	return os.WriteFile(n.Config, []byte(sortedLines(cfg)), 0o644)
}

// prepareRejoin: a member a reconfig removed cannot start from the files
// it wrote (Java's QuorumPeer.start refuses "My id N not in the peer
// list", zkgo "myid N has no server.N line"). As an operator brings such a
// server back (Java's reconfig guide, and the spares of the compat tests),
// its dynamic file becomes zoo.cfg.dynamic.0: the members of its last
// configuration plus itself in its initial role; at version 0 it takes the
// ensemble's configuration from the first notification or NEWLEADER, as a
// non-voting follower until a reconfig adds it again. It returns what was
// done ("" when the node is a member of its configuration).
func (e *Ensemble) prepareRejoin(n *Node) (string, error) {
	b, err := os.ReadFile(n.Config)
	if err != nil {
		return "", err
	}
	static := string(b)
	var dyn string
	for _, l := range strings.Split(static, "\n") {
		if v, ok := strings.CutPrefix(l, "dynamicConfigFile="); ok {
			dyn = strings.TrimSpace(v)
		}
	}
	if dyn == "" {
		return "", nil
	}
	d, err := os.ReadFile(dyn)
	if err != nil {
		return "", err
	}
	servers := map[string]string{}
	for id, line := range harness.ServerLines(string(d)) {
		servers["server."+strconv.FormatInt(id, 10)] = line
	}
	self := "server." + strconv.Itoa(n.ID)
	if _, ok := servers[self]; ok {
		return "", nil
	}
	servers[self] = e.ServerLine(n.ID, n.Observer)
	joiner := filepath.Join(n.Dir, "zoo.cfg.dynamic.0")
	if err := os.WriteFile(joiner, []byte(sortedLines(servers)), 0o644); err != nil {
		return "", err
	}
	static = strings.Replace(static, "dynamicConfigFile="+dyn, "dynamicConfigFile="+joiner, 1)
	if err := os.WriteFile(n.Config, []byte(static), 0o644); err != nil {
		return "", err
	}
	return fmt.Sprintf("node %d is not in its configuration (%s): restarting it as a joiner with %s (those members plus itself)",
		n.ID, filepath.Base(dyn), filepath.Base(joiner)), nil
}

// ServerLine is node id's server line (the value of server.N) as the
// configuration of a dynamic ensemble holds it, with the role asked.
func (e *Ensemble) ServerLine(id int, observer bool) string {
	typ := "participant"
	if observer {
		typ = "observer"
	}
	h := e.Node(id).Host
	return fmt.Sprintf("%s:%d:%d:%s;%s:%d", h.IP, QuorumPort, ElectionPort, typ, h.IP, ClientPort)
}

// sortedLines renders kv as "key=value" lines in key order.
func sortedLines(kv map[string]string) string {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + kv[k] + "\n")
	}
	return b.String()
}

// Node returns node id.
func (e *Ensemble) Node(id int) *Node { return e.Nodes[id-1] }

// Participants returns the ids of the voting members (of the initial
// configuration; with reconfiguration, whose roles change, every node).
func (e *Ensemble) Participants() []int {
	var ids []int
	for _, n := range e.Nodes {
		if !n.Observer || e.dynamic {
			ids = append(ids, n.ID)
		}
	}
	return ids
}

// Servers returns every node's client address.
func (e *Ensemble) Servers() []string {
	var out []string
	for _, n := range e.Nodes {
		out = append(out, n.ClientAddr())
	}
	return out
}

// Start starts node id's process in its namespace.
func (e *Ensemble) Start(id int) error {
	n := e.Node(id)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return fmt.Errorf("faults: node %d already running", id)
	}
	logf, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	n.starts++
	fmt.Fprintf(logf, "==== faults: starting node %d (%s) at %s\n", id, n.Kind, time.Now().Format("15:04:05.000"))
	if e.dynamic {
		note, err := e.prepareRejoin(n)
		if err != nil {
			_ = logf.Close()
			return fmt.Errorf("faults: node %d: %w", id, err)
		}
		if note != "" {
			fmt.Fprintf(logf, "==== faults: %s\n", note)
		}
	}
	var cmd *exec.Cmd
	switch n.Kind {
	case Zkgo:
		cmd = n.Host.Exec(e.zkgo, "server", "--config", n.Config)
	default:
		var args []string
		if e.dynamic {
			args = append(args, "-Dzookeeper.DigestAuthenticationProvider.superDigest="+harness.SuperDigest)
		}
		args = append(args, "-Xmx192m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
			"-Dzookeeper.admin.enableServer=false",
			"-Dorg.slf4j.simpleLogger.showDateTime=true",
			"-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
			"-Dzookeeper.digest.enabled=true",
			"-cp", e.java.Classpath("/etc/zookeeper/conf"),
			"org.apache.zookeeper.server.quorum.QuorumPeerMain", n.Config)
		cmd = n.Host.Exec(e.java.Java, args...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("faults: start node %d: %w", id, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(exited)
	}()
	n.cmd, n.exited, n.paused = cmd, exited, false
	pid := cmd.Process.Pid
	registerCleanup("proc:"+strconv.Itoa(pid), func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	return nil
}

// StartAll starts every node that is not running.
func (e *Ensemble) StartAll() error {
	var errs []error
	for _, n := range e.Nodes {
		if !n.Running() {
			errs = append(errs, e.Start(n.ID))
		}
	}
	return errors.Join(errs...)
}

// Running reports whether node id's process was started and has not exited.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Exited reports whether the node was started and its process ended by
// itself (not by Kill).
func (n *Node) Exited() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return true
	default:
		return false
	}
}

// Paused reports whether the node is SIGSTOPped.
func (n *Node) Paused() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.paused
}

// Kill SIGKILLs node id's process group (continuing it first if paused)
// and waits for it to exit.
func (e *Ensemble) Kill(id int) error {
	n := e.Node(id)
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.cmd, n.exited, n.paused = nil, nil, false
	n.mu.Unlock()
	if cmd == nil {
		return nil
	}
	pid := cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(-pid, syscall.SIGCONT)
	unregisterCleanup("proc:" + strconv.Itoa(pid))
	select {
	case <-exited:
		return nil
	case <-time.After(15 * time.Second):
		return fmt.Errorf("faults: node %d (pid %d) did not exit after SIGKILL", id, pid)
	}
}

// DumpStuck makes every running zkgo node that does not serve print its
// goroutines to its log (SIGQUIT: the Go runtime dumps every goroutine and
// exits) and returns one line per node dumped. For a run that already
// failed its recovery: a member stuck in a sync or an election is then
// readable from its saved log instead of only from its last log line.
func (e *Ensemble) DumpStuck() []string {
	var out []string
	for _, n := range e.Nodes {
		if n.Kind != Zkgo || !n.Running() || n.Paused() {
			continue
		}
		if m, err := e.Mode(n.ID); err == nil && m != "" {
			continue
		}
		n.mu.Lock()
		cmd, exited := n.cmd, n.exited
		n.mu.Unlock()
		if cmd == nil {
			continue
		}
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
		_ = e.Kill(n.ID)
		out = append(out, fmt.Sprintf("node %d (zkgo) did not serve: its goroutines are dumped at the end of its log (SIGQUIT)", n.ID))
	}
	return out
}

// Pause SIGSTOPs node id; Resume SIGCONTs it.
func (e *Ensemble) Pause(id int) error { return e.signal(id, syscall.SIGSTOP, true) }

// Resume continues a paused node.
func (e *Ensemble) Resume(id int) error { return e.signal(id, syscall.SIGCONT, false) }

func (e *Ensemble) signal(id int, sig syscall.Signal, paused bool) error {
	n := e.Node(id)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return nil
	}
	n.paused = paused
	return syscall.Kill(-n.cmd.Process.Pid, sig)
}

// Wipe deletes node id's ZooKeeper data (version-2), keeping myid; the
// node must be stopped.
func (e *Ensemble) Wipe(id int) error {
	n := e.Node(id)
	if n.Running() {
		return fmt.Errorf("faults: wipe node %d while it runs", id)
	}
	return os.RemoveAll(filepath.Join(n.DataDir, "version-2"))
}

// Close kills every node and stops the relays.
func (e *Ensemble) Close() error {
	var errs []error
	for _, n := range e.Nodes {
		errs = append(errs, e.Kill(n.ID))
	}
	for _, r := range e.relays {
		errs = append(errs, r.Close())
	}
	return errors.Join(errs...)
}

// Mode asks node id for its role with srvr: leader, follower, observer, or
// "" while it does not serve.
func (e *Ensemble) Mode(id int) (string, error) {
	out, err := harness.FourLetter(e.Node(id).ClientAddr(), "srvr")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(out, "\n") {
		if mode, ok := strings.CutPrefix(line, "Mode: "); ok {
			return strings.TrimSpace(mode), nil
		}
	}
	return "", nil
}

// FourLetter sends a four-letter word to node id.
func (e *Ensemble) FourLetter(id int, cmd string) (string, error) {
	return harness.FourLetter(e.Node(id).ClientAddr(), cmd)
}

// Leader returns the running, unpaused node that says it leads, or 0.
func (e *Ensemble) Leader() int {
	for _, n := range e.Nodes {
		if n.Observer && !e.dynamic || !n.Running() || n.Paused() {
			continue
		}
		if m, err := e.Mode(n.ID); err == nil && m == "leader" {
			return n.ID
		}
	}
	return 0
}

// WaitHealthy waits until every node runs and serves in its role with
// exactly one leader, and returns the leader's id.
func (e *Ensemble) WaitHealthy(timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		leader, ok := 0, true
		var modes []string
		for _, n := range e.Nodes {
			if n.Exited() {
				return 0, fmt.Errorf("faults: node %d (%s) exited\n%s", n.ID, n.Kind, e.LogTail(n.ID, 3000))
			}
			m, err := e.Mode(n.ID)
			modes = append(modes, fmt.Sprintf("%d=%s", n.ID, m))
			switch {
			case err != nil || !n.Running() || n.Paused():
				ok = false
			case m == "leader":
				if leader != 0 {
					ok = false
				}
				leader = n.ID
			case e.dynamic && (m == "observer" || m == "follower"):
				// roles change with reconfigs: the membership checker
				// compares each with the configuration
			case n.Observer && m != "observer", !n.Observer && m != "follower":
				ok = false
			}
		}
		if ok && leader != 0 {
			return leader, nil
		}
		last = strings.Join(modes, " ")
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("faults: ensemble %s not healthy after %v (modes: %s)", e.Mix, timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// LogTail returns the last n bytes of node id's log.
func (e *Ensemble) LogTail(id, n int) string {
	b, _ := os.ReadFile(e.Node(id).LogPath)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// LogLines returns the lines of node id's log that contain any of the
// given strings.
func (e *Ensemble) LogLines(id int, subs ...string) []string {
	f, err := os.Open(e.Node(id).LogPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		for _, s := range subs {
			if strings.Contains(line, s) {
				out = append(out, line)
				break
			}
		}
	}
	return out
}

// HandleSignals makes SIGINT and SIGTERM run every registered cleanup
// (kill the nodes, remove the namespaces and bridges) before the process
// exits. Call it once from TestMain.
func HandleSignals() {
	sigOnce.Do(func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		go func() {
			s := <-ch
			fmt.Fprintf(os.Stderr, "faults: %v: removing namespaces and killing nodes\n", s)
			RunCleanups()
			os.Exit(2)
		}()
	})
}

// logLinesWithNext is LogLines with the line that follows each match.
func (e *Ensemble) logLinesWithNext(id int, subs ...string) [][2]string {
	f, err := os.Open(e.Node(id).LogPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out [][2]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	pending := -1
	for sc.Scan() {
		line := sc.Text()
		if pending >= 0 {
			out[pending][1] = line
			pending = -1
		}
		for _, s := range subs {
			if strings.Contains(line, s) {
				out = append(out, [2]string{line, ""})
				pending = len(out) - 1
				break
			}
		}
	}
	return out
}
