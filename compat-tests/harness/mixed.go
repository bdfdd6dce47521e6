package harness

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// MemberKind says who runs a member of a mixed ensemble.
type MemberKind int

// Member kinds.
const (
	// MemberJava is a Java ZooKeeper 3.8 server the harness starts.
	MemberJava MemberKind = iota
	// MemberExternal gets ports, a data dir and a zoo.cfg, but the test
	// runs it (zkgo, in-process or not).
	MemberExternal
)

func (k MemberKind) String() string {
	if k == MemberExternal {
		return "external"
	}
	return "java"
}

// ClientForm is how a member's server.N line gives its client address.
type ClientForm int

// Client address forms.
const (
	// ClientHostPort: "...;127.0.0.1:port" (the default).
	ClientHostPort ClientForm = iota
	// ClientPortOnly: "...;port" (Java listens on 0.0.0.0:port).
	ClientPortOnly
	// ClientStatic: no client part; the member's zoo.cfg has clientPort
	// and clientPortAddress=127.0.0.1 instead.
	ClientStatic
)

// MemberSpec is one member of a mixed ensemble.
type MemberSpec struct {
	ID       int64
	Kind     MemberKind
	Observer bool
	Client   ClientForm
	// Spare members are not in the initial configuration: the other
	// members' files do not name them, and their own names the initial
	// members plus themselves, as Java's reconfig guide asks of a server
	// that is to join by reconfig (reconfig.go).
	Spare bool
}

// MixedOptions configure a mixed ensemble. Zero TickTime/InitLimit/SyncLimit
// mean 200ms/10/5, which keeps elections and syncs fast.
type MixedOptions struct {
	Members                        []MemberSpec
	TickTime, InitLimit, SyncLimit int
	Props                          map[string]string // extra zoo.cfg lines for every member
	SysProps                       map[string]string // extra -D system properties for Java members
	// Reconfig writes reconfigEnabled=true (false otherwise).
	Reconfig bool
	// Dynamic puts the server lines in a dynamic file next to zoo.cfg,
	// zoo.cfg.dynamic.<DynamicVersion in hex>, named by zoo.cfg's
	// dynamicConfigFile (Java's split layout) instead of in zoo.cfg.
	Dynamic        bool
	DynamicVersion int64
}

// Mixed is an ensemble of Java and external (zkgo) members on 127.0.0.1.
// Every member has a client, quorum and election port, a data dir with its
// myid file and a zoo.cfg with the same server.N lines. Java members are
// started with Start and killed at test cleanup.
type Mixed struct {
	t    testing.TB
	java *Java
	opt  MixedOptions
	dir  string

	mu      sync.Mutex
	members map[int64]*mixedMember
}

type mixedMember struct {
	spec                         MemberSpec
	clientPort, quorumPort, elec int
	dir, dataDir, cfgPath, log   string
	cmd                          *exec.Cmd
	exited                       chan struct{}
	holds                        []func() // port reservations until the member first starts
}

// NewMixed allocates ports and writes configs and data dirs for every
// member. It requires Java when any member is a Java one.
func NewMixed(t testing.TB, opt MixedOptions) *Mixed {
	t.Helper()
	SkipShort(t)
	if opt.TickTime == 0 {
		opt.TickTime = 200
	}
	if opt.InitLimit == 0 {
		opt.InitLimit = 10
	}
	if opt.SyncLimit == 0 {
		opt.SyncLimit = 5
	}
	m := &Mixed{t: t, opt: opt, dir: t.TempDir(), members: map[int64]*mixedMember{}}
	keepIfFailed(t, m.dir)
	for _, s := range opt.Members {
		if s.Kind == MemberJava && m.java == nil {
			m.java = RequireJava(t)
		}
		if _, dup := m.members[s.ID]; dup || s.ID <= 0 {
			t.Fatalf("mixed ensemble: bad or duplicate member id %d", s.ID)
		}
		mm := &mixedMember{spec: s}
		for _, port := range []*int{&mm.clientPort, &mm.quorumPort, &mm.elec} {
			p, release := ReservePort(t)
			*port = p
			mm.holds = append(mm.holds, release)
		}
		mm.dir = filepath.Join(m.dir, "member"+strconv.FormatInt(s.ID, 10))
		mm.dataDir = filepath.Join(mm.dir, "data")
		mm.cfgPath = filepath.Join(mm.dir, "zoo.cfg")
		mm.log = filepath.Join(mm.dir, "zk.log")
		if err := os.MkdirAll(mm.dataDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mm.dataDir, "myid"), []byte(strconv.FormatInt(s.ID, 10)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		m.members[s.ID] = mm
	}
	for _, mm := range m.members {
		m.writeConfig(mm)
	}
	t.Cleanup(func() {
		for _, id := range m.ids() {
			m.Kill(id)
		}
	})
	return m
}

func (m *Mixed) ids() []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]int64, 0, len(m.members))
	for id := range m.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (m *Mixed) member(id int64) *mixedMember {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	mm := m.members[id]
	if mm == nil {
		m.t.Fatalf("mixed ensemble: no member %d", id)
	}
	return mm
}

// serverLine is the value of server.N: host:quorumPort:electionPort:type
// and the client part of the member's ClientForm.
func (mm *mixedMember) serverLine() string {
	typ := "participant"
	if mm.spec.Observer {
		typ = "observer"
	}
	line := fmt.Sprintf("127.0.0.1:%d:%d:%s", mm.quorumPort, mm.elec, typ)
	switch mm.spec.Client {
	case ClientPortOnly:
		line += fmt.Sprintf(";%d", mm.clientPort)
	case ClientStatic:
	default:
		line += fmt.Sprintf(";127.0.0.1:%d", mm.clientPort)
	}
	return line
}

// textLine is the member's line as QuorumServer.toString renders it: a
// port-only client address is 0.0.0.0:port, a static one is not shown.
func (mm *mixedMember) textLine() string {
	if mm.spec.Client == ClientPortOnly {
		return strings.TrimSuffix(mm.serverLine(), fmt.Sprintf(";%d", mm.clientPort)) +
			fmt.Sprintf(";0.0.0.0:%d", mm.clientPort)
	}
	return mm.serverLine()
}

func (m *Mixed) writeConfig(mm *mixedMember) {
	cfg := map[string]string{
		"tickTime":               strconv.Itoa(m.opt.TickTime),
		"initLimit":              strconv.Itoa(m.opt.InitLimit),
		"syncLimit":              strconv.Itoa(m.opt.SyncLimit),
		"dataDir":                mm.dataDir,
		"admin.enableServer":     "false",
		"4lw.commands.whitelist": "*",
		"maxClientCnxns":         "0",
		"standaloneEnabled":      "false",
		"reconfigEnabled":        strconv.FormatBool(m.opt.Reconfig),
	}
	if mm.spec.Observer {
		cfg["peerType"] = "observer"
	}
	if mm.spec.Client == ClientStatic {
		cfg["clientPort"] = strconv.Itoa(mm.clientPort)
		cfg["clientPortAddress"] = "127.0.0.1"
	}
	servers := map[string]string{}
	for id, o := range m.members {
		if !o.spec.Spare || o == mm {
			servers["server."+strconv.FormatInt(id, 10)] = o.serverLine()
		}
	}
	if m.opt.Dynamic {
		dyn := filepath.Join(mm.dir, "zoo.cfg.dynamic."+strconv.FormatInt(m.opt.DynamicVersion, 16))
		if err := os.WriteFile(dyn, []byte(sortedLines(servers)), 0o644); err != nil {
			m.t.Fatal(err)
		}
		cfg["dynamicConfigFile"] = dyn
	} else {
		maps.Copy(cfg, servers)
	}
	for k, v := range m.opt.Props {
		cfg[k] = v
	}
	if err := os.WriteFile(mm.cfgPath, []byte(sortedLines(cfg)), 0o644); err != nil {
		m.t.Fatal(err)
	}
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

// QuorumText is the QuorumVerifier text Java members derive from the
// config (QuorumMaj.toString): one server.N line per member but the
// spares (in id order,
// which is Java's HashMap order for ids below 16), then "version=0" with
// no trailing newline. External members send it in their election
// notifications.
func (m *Mixed) QuorumText() string {
	var b strings.Builder
	for _, id := range m.ids() {
		if mm := m.member(id); !mm.spec.Spare {
			b.WriteString("server." + strconv.FormatInt(id, 10) + "=" + mm.textLine() + "\n")
		}
	}
	b.WriteString("version=0")
	return b.String()
}

// Members returns the member specs, by id.
func (m *Mixed) Members() []MemberSpec {
	var out []MemberSpec
	for _, id := range m.ids() {
		out = append(out, m.member(id).spec)
	}
	return out
}

// Start starts Java member id (it must not be running). Its output (slf4j
// simple logger) is appended to LogPath(id).
func (m *Mixed) Start(id int64) {
	m.t.Helper()
	mm := m.member(id)
	if mm.spec.Kind != MemberJava {
		m.t.Fatalf("mixed ensemble: member %d is %v: the test runs it", id, mm.spec.Kind)
	}
	m.mu.Lock()
	running := mm.cmd != nil
	m.mu.Unlock()
	if running {
		m.t.Fatalf("mixed ensemble: member %d already running", id)
	}
	m.Release(id)
	args := []string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dzookeeper.admin.enableServer=false",
		"-Dorg.slf4j.simpleLogger.showDateTime=true",
		"-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
	}
	props := make([]string, 0, len(m.opt.SysProps))
	for k, v := range m.opt.SysProps {
		props = append(props, "-D"+k+"="+v)
	}
	sort.Strings(props)
	args = append(args, props...)
	args = append(args, "-cp", m.java.Classpath("/etc/zookeeper/conf"), "org.apache.zookeeper.server.quorum.QuorumPeerMain",
		mm.cfgPath)
	logf, err := os.OpenFile(mm.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		m.t.Fatal(err)
	}
	fmt.Fprintf(logf, "==== zkgo harness: starting member %d at %s\n", id, time.Now().Format("15:04:05.000"))
	cmd := exec.Command(m.java.Java, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		m.t.Fatalf("starting Java member %d: %v", id, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(exited)
	}()
	m.mu.Lock()
	mm.cmd, mm.exited = cmd, exited
	m.mu.Unlock()
}

// Release frees member id's reserved ports so the member can bind them
// (Start does it for Java members; call it before starting an external
// member). Idempotent.
func (m *Mixed) Release(id int64) {
	mm := m.member(id)
	m.mu.Lock()
	holds := mm.holds
	mm.holds = nil
	m.mu.Unlock()
	for _, release := range holds {
		release()
	}
}

// Running reports whether Java member id was started and has not exited.
func (m *Mixed) Running(id int64) bool {
	mm := m.member(id)
	m.mu.Lock()
	defer m.mu.Unlock()
	if mm.cmd == nil {
		return false
	}
	select {
	case <-mm.exited:
		return false
	default:
		return true
	}
}

// Kill SIGKILLs Java member id (and its process group) and waits for it to
// exit. It does nothing if the member is not running.
func (m *Mixed) Kill(id int64) {
	mm := m.member(id)
	m.mu.Lock()
	cmd, exited := mm.cmd, mm.exited
	mm.cmd, mm.exited = nil, nil
	m.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		m.t.Errorf("mixed ensemble: member %d did not exit after SIGKILL", id)
	}
}

// Signal sends sig to Java member id's process group: SIGSTOP freezes the
// member with its connections open (it stops acking, pinging and voting),
// SIGCONT resumes it. It does nothing if the member is not running.
func (m *Mixed) Signal(id int64, sig syscall.Signal) {
	m.t.Helper()
	mm := m.member(id)
	m.mu.Lock()
	cmd := mm.cmd
	m.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil {
		m.t.Errorf("mixed ensemble: signal %v to member %d: %v", sig, id, err)
		return
	}
	if sig == syscall.SIGSTOP {
		// kill returns before every thread of the JVM has stopped; one
		// still running can send an ACK for a proposal made after this.
		if err := waitStopped(cmd.Process.Pid, 10*time.Second); err != nil {
			m.t.Errorf("mixed ensemble: member %d: %v", id, err)
		}
	}
}

// waitStopped waits until every thread of process pid is in the stopped
// state (T in /proc/pid/task/*/stat).
func waitStopped(pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		running := ""
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return fmt.Errorf("threads of pid %d: %w", pid, err)
		}
		for _, task := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
			if err != nil {
				continue // the thread ended
			}
			// The state follows the command name's closing parenthesis.
			if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] != 'T' && b[i+2] != 't' {
				running = task.Name()
				break
			}
		}
		if running == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("thread %s of pid %d still not stopped %v after SIGSTOP", running, pid, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// Restart kills and starts Java member id.
func (m *Mixed) Restart(id int64) {
	m.t.Helper()
	m.Kill(id)
	m.Start(id)
}

// Wipe deletes member id's ZooKeeper data (version-2), keeping myid. Kill
// a Java member first.
func (m *Mixed) Wipe(id int64) {
	m.t.Helper()
	if err := os.RemoveAll(filepath.Join(m.member(id).dataDir, "version-2")); err != nil {
		m.t.Fatal(err)
	}
}

// ConfigPath is member id's zoo.cfg.
func (m *Mixed) ConfigPath(id int64) string { return m.member(id).cfgPath }

// DataDir is member id's dataDir (holding myid and version-2).
func (m *Mixed) DataDir(id int64) string { return m.member(id).dataDir }

// ClientAddr is member id's client address (127.0.0.1:port).
func (m *Mixed) ClientAddr(id int64) string {
	return "127.0.0.1:" + strconv.Itoa(m.member(id).clientPort)
}

// ElectionAddr is member id's election address.
func (m *Mixed) ElectionAddr(id int64) string { return "127.0.0.1:" + strconv.Itoa(m.member(id).elec) }

// QuorumAddr is member id's quorum (Zab) address.
func (m *Mixed) QuorumAddr(id int64) string {
	return "127.0.0.1:" + strconv.Itoa(m.member(id).quorumPort)
}

// LogPath is member id's log file (Java members).
func (m *Mixed) LogPath(id int64) string { return m.member(id).log }

// Log returns member id's log so far.
func (m *Mixed) Log(id int64) string {
	b, _ := os.ReadFile(m.member(id).log)
	return string(b)
}

// Mode asks member id for its role with the srvr four-letter word:
// "leader", "follower", "observer" (or "standalone"), and "" while it does
// not serve requests. err is set when it does not answer.
func (m *Mixed) Mode(id int64) (string, error) {
	out, err := FourLetter(m.ClientAddr(id), "srvr")
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

// WaitMode polls member id until Mode returns want, failing t after
// timeout with the member's log tail.
func (m *Mixed) WaitMode(t testing.TB, id int64, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var got string
	var err error
	for {
		got, err = m.Mode(id)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("member %d: mode %q (%v), want %q after %v\n%s", id, got, err, want, timeout, tail(m.Log(id), 4000))
}

// Leader returns the Java member that reports Mode leader, if any.
func (m *Mixed) Leader() (int64, bool) {
	for _, id := range m.ids() {
		if m.member(id).spec.Kind != MemberJava || !m.Running(id) {
			continue
		}
		if mode, err := m.Mode(id); err == nil && mode == "leader" {
			return id, true
		}
	}
	return 0, false
}

// JavaExceptions returns the lines of member id's log that mention an
// exception or an ERROR, for tests that assert zkgo caused none; callers
// filter the ones they expect (e.g. connection refused by a member that is
// down).
func (m *Mixed) JavaExceptions(id int64) []string {
	f, err := os.Open(m.member(id).log)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "Exception") || strings.Contains(line, " ERROR ") {
			out = append(out, line)
		}
	}
	return out
}

// keepIfFailed registers a cleanup that, when the test failed and
// ZKGO_KEEP_FAILED names a directory, copies dir (every member's
// zoo.cfg and dynamic files, data dir and Java log) there before the
// temporary directory goes: the txn logs and snapshots of a failed
// ensemble are what explain it (docs/faults.md F6 was found that way).
// It runs after the members are killed (cleanups run last-in first-out,
// and the kill is registered after it).
func keepIfFailed(t testing.TB, dir string) {
	to := os.Getenv("ZKGO_KEEP_FAILED")
	if to == "" {
		return
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
		dst := filepath.Join(to, fmt.Sprintf("%s-%s", name, time.Now().Format("20060102-150405.000")))
		if err := os.CopyFS(dst, os.DirFS(dir)); err != nil {
			t.Logf("ZKGO_KEEP_FAILED: copying %s: %v", dir, err)
			return
		}
		t.Logf("ZKGO_KEEP_FAILED: the ensemble's files are in %s", dst)
	})
}
