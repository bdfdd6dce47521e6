package harness

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// EnsembleOptions configure a Java ZooKeeper ensemble.
type EnsembleOptions struct {
	// Participants is the number of voting servers (default 3); Observers
	// the number of observers. Servers are numbered from 1, participants
	// first.
	Participants int
	Observers    int
	// Props are extra zoo.cfg lines for every server.
	Props map[string]string
	// SysProp are -D system properties for every server; ServerSysProp
	// adds per-server ones (by server id).
	SysProp       map[string]string
	ServerSysProp map[int]map[string]string
	// Heap is -Xmx (default 256m).
	Heap string
	// TickTime (ms, default 2000), InitLimit (default 5) and SyncLimit
	// (default 2).
	TickTime, InitLimit, SyncLimit int
	// Admin runs Java's AdminServer on every server, at
	// 127.0.0.1:EnsembleServer.AdminPort.
	Admin bool
}

func (o EnsembleOptions) withDefaults() EnsembleOptions {
	if o.Participants == 0 {
		o.Participants = 3
	}
	if o.Heap == "" {
		o.Heap = "256m"
	}
	if o.TickTime == 0 {
		o.TickTime = 2000
	}
	if o.InitLimit == 0 {
		o.InitLimit = 5
	}
	if o.SyncLimit == 0 {
		o.SyncLimit = 2
	}
	return o
}

// EnsembleServer is one server of a JavaEnsemble.
type EnsembleServer struct {
	ID           int
	Observer     bool
	ClientPort   int
	QuorumPort   int
	ElectionPort int
	AdminPort    int    // with EnsembleOptions.Admin
	ClientAddr   string // 127.0.0.1:ClientPort
	Dir          string // config and log
	DataDir      string
	ConfigPath   string
	LogPath      string
	cmd          *exec.Cmd
	exited       chan error
}

// Running reports whether the server's JVM is running.
func (s *EnsembleServer) Running() bool { return s.cmd != nil }

// JavaEnsemble is a Java ZooKeeper 3.8 ensemble of QuorumPeerMain JVMs on
// 127.0.0.1, each with its own ports, config and data directory. Servers
// can be stopped, killed, wiped and restarted one by one. Every JVM is
// killed at test cleanup.
type JavaEnsemble struct {
	Servers []*EnsembleServer // Servers[i].ID == i+1
	opt     EnsembleOptions
	j       *Java
	t       testing.TB
	adminCP []string // AdminServer jars, with EnsembleOptions.Admin
}

// NewJavaEnsemble picks ports (harness.FreePort) and writes the configs and
// myid files, without starting anything, so a test can start a capture on
// the ports first.
func NewJavaEnsemble(t testing.TB, opt EnsembleOptions) *JavaEnsemble {
	t.Helper()
	opt = opt.withDefaults()
	e := &JavaEnsemble{opt: opt, j: RequireJava(t), t: t}
	if opt.Admin {
		e.adminCP = AdminClasspath(t, e.j)
	}
	n := opt.Participants + opt.Observers
	root := t.TempDir()
	used := map[int]bool{}
	port := func() int {
		for {
			p := FreePort(t)
			if !used[p] {
				used[p] = true
				return p
			}
		}
	}
	for id := 1; id <= n; id++ {
		s := &EnsembleServer{ID: id, Observer: id > opt.Participants, ClientPort: port(), QuorumPort: port(), ElectionPort: port()}
		if opt.Admin {
			s.AdminPort = port()
		}
		s.ClientAddr = fmt.Sprintf("127.0.0.1:%d", s.ClientPort)
		s.Dir = filepath.Join(root, fmt.Sprintf("zk%d", id))
		s.DataDir = filepath.Join(s.Dir, "data")
		s.ConfigPath = filepath.Join(s.Dir, "zoo.cfg")
		s.LogPath = filepath.Join(s.Dir, "zk.log")
		e.Servers = append(e.Servers, s)
	}
	for _, s := range e.Servers {
		if err := e.writeConfig(s); err != nil {
			t.Fatal(err)
		}
		if err := e.initDataDir(s); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, s := range e.Servers {
			e.kill(s)
		}
	})
	return e
}

// StartJavaEnsemble creates an ensemble, starts every server and waits for
// a leader.
func StartJavaEnsemble(t testing.TB, opt EnsembleOptions) *JavaEnsemble {
	t.Helper()
	e := NewJavaEnsemble(t, opt)
	e.StartAll()
	e.WaitLeader(60 * time.Second)
	return e
}

func (e *JavaEnsemble) writeConfig(s *EnsembleServer) error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return err
	}
	cfg := map[string]string{
		"tickTime":               strconv.Itoa(e.opt.TickTime),
		"initLimit":              strconv.Itoa(e.opt.InitLimit),
		"syncLimit":              strconv.Itoa(e.opt.SyncLimit),
		"dataDir":                s.DataDir,
		"clientPort":             strconv.Itoa(s.ClientPort),
		"clientPortAddress":      "127.0.0.1",
		"admin.enableServer":     strconv.FormatBool(e.opt.Admin),
		"4lw.commands.whitelist": "*",
		"maxClientCnxns":         "0",
	}
	if e.opt.Admin {
		cfg["admin.serverAddress"] = "127.0.0.1"
		cfg["admin.serverPort"] = strconv.Itoa(s.AdminPort)
	}
	if s.Observer {
		cfg["peerType"] = "observer"
	}
	for _, m := range e.Servers {
		v := fmt.Sprintf("127.0.0.1:%d:%d", m.QuorumPort, m.ElectionPort)
		if m.Observer {
			v += ":observer"
		}
		cfg["server."+strconv.Itoa(m.ID)] = v
	}
	for k, v := range e.opt.Props {
		cfg[k] = v
	}
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, cfg[k])
	}
	return os.WriteFile(s.ConfigPath, []byte(b.String()), 0o644)
}

func (e *JavaEnsemble) initDataDir(s *EnsembleServer) error {
	if err := os.MkdirAll(s.DataDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.DataDir, "myid"), []byte(strconv.Itoa(s.ID)+"\n"), 0o644)
}

// Server returns server id.
func (e *JavaEnsemble) Server(id int) *EnsembleServer { return e.Servers[id-1] }

// Ports returns every client, quorum and election port.
func (e *JavaEnsemble) Ports() []int {
	var ps []int
	for _, s := range e.Servers {
		ps = append(ps, s.ClientPort, s.QuorumPort, s.ElectionPort)
	}
	return ps
}

// ConnectString returns host:port,host:port,... of every client port.
func (e *JavaEnsemble) ConnectString() string {
	addrs := make([]string, len(e.Servers))
	for i, s := range e.Servers {
		addrs[i] = s.ClientAddr
	}
	return strings.Join(addrs, ",")
}

// StartAll starts every server that is not running.
func (e *JavaEnsemble) StartAll() {
	e.t.Helper()
	for _, s := range e.Servers {
		if !s.Running() {
			e.Start(s.ID)
		}
	}
}

// Start starts server id (its log is appended to across restarts).
func (e *JavaEnsemble) Start(id int) {
	e.t.Helper()
	s := e.Server(id)
	if s.Running() {
		e.t.Fatalf("harness: server %d is already running", id)
	}
	args := []string{"-Xmx" + e.opt.Heap, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}
	if !e.opt.Admin {
		args = append(args, "-Dzookeeper.admin.enableServer=false")
	}
	props := map[string]string{}
	for k, v := range e.opt.SysProp {
		props[k] = v
	}
	for k, v := range e.opt.ServerSysProp[id] {
		props[k] = v
	}
	for k, v := range props {
		args = append(args, "-D"+k+"="+v)
	}
	args = append(args, "-cp", e.j.Classpath(append([]string{"/etc/zookeeper/conf"}, e.adminCP...)...), "org.apache.zookeeper.server.quorum.QuorumPeerMain", s.ConfigPath)
	logf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	fmt.Fprintf(logf, "==== harness: starting server %d at %s\n", id, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(e.j.Java, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		e.t.Fatal(err)
	}
	s.cmd = cmd
	s.exited = make(chan error, 1)
	go func() { s.exited <- cmd.Wait(); logf.Close() }()
}

// Stop shuts server id down with SIGTERM and waits for its JVM to exit
// (SIGKILL after 15 s).
func (e *JavaEnsemble) Stop(id int) { e.signal(e.Server(id), syscall.SIGTERM, 15*time.Second) }

// Kill kills server id with SIGKILL (a crash) and waits for it to exit.
func (e *JavaEnsemble) Kill(id int) { e.kill(e.Server(id)) }

func (e *JavaEnsemble) kill(s *EnsembleServer) { e.signal(s, syscall.SIGKILL, 0) }

func (e *JavaEnsemble) signal(s *EnsembleServer, sig syscall.Signal, grace time.Duration) {
	if s.cmd == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, sig)
	if grace > 0 {
		select {
		case <-s.exited:
			s.cmd = nil
			return
		case <-time.After(grace):
		}
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-s.exited
	s.cmd = nil
}

// Restart stops server id (if running) and starts it again.
func (e *JavaEnsemble) Restart(id int) {
	e.t.Helper()
	e.Stop(id)
	e.Start(id)
}

// Wipe deletes server id's data (snapshots, txn logs, epoch files) and
// writes its myid again. The server must be stopped.
func (e *JavaEnsemble) Wipe(id int) {
	e.t.Helper()
	s := e.Server(id)
	if s.Running() {
		e.t.Fatalf("harness: wipe server %d while it runs", id)
	}
	if err := os.RemoveAll(s.DataDir); err != nil {
		e.t.Fatal(err)
	}
	if err := e.initDataDir(s); err != nil {
		e.t.Fatal(err)
	}
}

// Mode returns what server id's srvr says after "Mode:" (leader, follower,
// observer, standalone).
func (e *JavaEnsemble) Mode(id int) (string, error) {
	out, err := FourLetter(e.Server(id).ClientAddr, "srvr")
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Mode:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", errors.New("harness: no Mode in srvr output: " + strings.TrimSpace(out))
}

// Leader returns the id of the running server whose srvr says leader.
func (e *JavaEnsemble) Leader() (int, error) {
	for _, s := range e.Servers {
		if !s.Running() {
			continue
		}
		if m, err := e.Mode(s.ID); err == nil && m == "leader" {
			return s.ID, nil
		}
	}
	return 0, errors.New("harness: no leader")
}

// WaitLeader waits until the running servers agree: one leader, the other
// participants following, the observers observing. It returns the
// leader's id.
func (e *JavaEnsemble) WaitLeader(timeout time.Duration) int {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		leader, ok := 0, true
		var modes []string
		for _, s := range e.Servers {
			if !s.Running() {
				continue
			}
			m, err := e.Mode(s.ID)
			modes = append(modes, fmt.Sprintf("%d=%s", s.ID, m))
			switch {
			case err != nil:
				ok = false
			case m == "leader":
				if leader != 0 {
					ok = false
				}
				leader = s.ID
			case s.Observer && m != "observer", !s.Observer && m != "follower":
				ok = false
			}
		}
		if ok && leader != 0 {
			return leader
		}
		last = strings.Join(modes, " ")
		time.Sleep(200 * time.Millisecond)
	}
	e.t.Fatalf("harness: no agreed leader within %v (last modes: %s)\n%s", timeout, last, e.Logs())
	return 0
}

// WaitServing waits until server id serves clients in an ensemble role.
func (e *JavaEnsemble) WaitServing(id int, timeout time.Duration) string {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if m, err := e.Mode(id); err == nil && (m == "leader" || m == "follower" || m == "observer") {
			return m
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.t.Fatalf("harness: server %d not serving within %v\n%s", id, timeout, e.Log(id))
	return ""
}

// Log returns server id's log.
func (e *JavaEnsemble) Log(id int) string {
	b, _ := os.ReadFile(e.Server(id).LogPath)
	return tail(string(b), 20000)
}

// Logs returns the tail of every server's log.
func (e *JavaEnsemble) Logs() string {
	var b strings.Builder
	for _, s := range e.Servers {
		fmt.Fprintf(&b, "==== server %d ====\n%s\n", s.ID, tail(e.Log(s.ID), 4000))
	}
	return b.String()
}
