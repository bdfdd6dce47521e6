package bench

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zkgo/zkgo/wire"
)

// Kind names a server implementation.
type Kind string

// The servers compared.
const (
	Java Kind = "java"
	Zkgo Kind = "zkgo"
	// ZkgoBase is a second zkgo binary (`bench compare --zkgo-baseline`),
	// the baseline of a zkgo-vs-zkgo A/B run.
	ZkgoBase Kind = "zkgo-base"
)

// ServerSpec says how to start a server.
type ServerSpec struct {
	Kind Kind
	// ZkgoBin is the zkgo binary (Kind zkgo or zkgo-base).
	ZkgoBin string
	// JavaHeap is -Xms=-Xmx (e.g. "512m"); empty means as packaged (the
	// JVM's default heap, no -Xms/-Xmx).
	JavaHeap string
	// JavaLib holds ZooKeeper's jars (default /usr/share/java) and JavaConf
	// its conf directory (default /etc/zookeeper/conf).
	JavaLib, JavaConf string
	// Extra are extra arguments: JVM flags for Java, server flags for zkgo.
	Extra []string
	// Props are extra zoo.cfg lines.
	Props map[string]string
	// CPUs restricts the server to these CPUs (nil: inherited).
	CPUs []int
	// TLS, when set, adds a secureClientPort (SecureAddr) with these
	// certificates.
	TLS *TLSSetup
}

// Label is a short description ("java -Xmx512m", "zkgo").
func (s ServerSpec) Label() string {
	if s.Kind == Java {
		if s.JavaHeap == "" {
			return "java (packaged heap)"
		}
		return "java -Xmx" + s.JavaHeap
	}
	return string(s.Kind)
}

// Server is a running server process.
type Server struct {
	Spec ServerSpec
	Addr string
	// SecureAddr is the TLS client address (ServerSpec.TLS); dial speaks
	// TLS to it.
	SecureAddr string
	Dir        string
	DataDir    string
	LogPath    string
	// Ready is how long it took from exec until it served a session.
	Ready  time.Duration
	cmd    *exec.Cmd
	exited chan error
}

// Pid returns the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// javaJars are ZooKeeper 3.8's jars and their runtime dependencies, as
// compat-tests/harness starts them.
var javaJars = []string{"zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-simple.jar",
	"netty-handler.jar", "netty-common.jar", "netty-buffer.jar", "netty-transport.jar", "netty-codec.jar",
	"netty-resolver.jar", "netty-transport-native-epoll.jar", "netty-transport-native-unix-common.jar",
	"commons-cli.jar", "metrics-core.jar", "snappy-java.jar", "jline.jar", "audience-annotations.jar"}

// JavaAvailable reports whether java and ZooKeeper's jars are installed.
func JavaAvailable(lib string) error {
	if lib == "" {
		lib = "/usr/share/java"
	}
	if _, err := exec.LookPath("java"); err != nil {
		return errors.New("bench: java not on PATH (apt-get install zookeeper)")
	}
	if _, err := os.Stat(filepath.Join(lib, "zookeeper.jar")); err != nil {
		return fmt.Errorf("bench: %s/zookeeper.jar missing (apt-get install zookeeper)", lib)
	}
	return nil
}

// JavaVersion returns the first line of `java -version`.
func JavaVersion() string {
	out, err := exec.Command("java", "-version").CombinedOutput()
	if err != nil {
		return "unknown"
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	v := lines[0]
	if len(lines) > 1 {
		v += "; " + strings.TrimSpace(lines[1])
	}
	return v
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartServer starts a server with its config in dir and its data in
// dataDir (created if missing; reused as it is, so a restart loads it) and
// waits until it serves a session: ruok answers imok and a session
// handshake plus exists("/") succeed.
func StartServer(spec ServerSpec, dir, dataDir string, timeout time.Duration) (*Server, error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Spec: spec, Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, DataDir: dataDir}
	cfg := map[string]string{
		"tickTime":               "2000",
		"initLimit":              "10",
		"syncLimit":              "5",
		"dataDir":                dataDir,
		"clientPort":             strconv.Itoa(port),
		"clientPortAddress":      "127.0.0.1",
		"maxClientCnxns":         "0",
		"admin.enableServer":     "false",
		"4lw.commands.whitelist": "*",
		"forceSync":              "yes",
	}
	for k, v := range spec.Props {
		cfg[k] = v
	}
	if spec.TLS != nil {
		sport, err := freePort()
		if err != nil {
			return nil, err
		}
		for k, v := range spec.TLS.props(spec.Kind, sport) {
			cfg[k] = v
		}
		s.SecureAddr = fmt.Sprintf("127.0.0.1:%d", sport)
		secureAddrs.Store(s.SecureAddr, spec.TLS.client)
	}
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(zooCfg(cfg)), 0o644); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := s.launch(cfgPath); err != nil {
		return nil, err
	}
	deadline := t0.Add(timeout)
	for {
		select {
		case err := <-s.exited:
			s.cmd = nil
			return nil, fmt.Errorf("bench: %s exited during startup: %v\n%s", spec.Label(), err, tailFile(s.LogPath, 2000))
		default:
		}
		if s.serves() {
			s.Ready = time.Since(t0)
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("bench: %s did not serve within %v\n%s", spec.Label(), timeout, tailFile(s.LogPath, 2000))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// zooCfg renders zoo.cfg lines, key=value, sorted by key.
func zooCfg(cfg map[string]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(cfg) {
		fmt.Fprintf(&b, "%s=%s\n", k, cfg[k])
	}
	return b.String()
}

// launch starts spec's process on the config at cfgPath, its output
// appended to s.Dir/server.log; it does not wait for anything.
func (s *Server) launch(cfgPath string) error {
	spec := s.Spec
	var cmd *exec.Cmd
	switch spec.Kind {
	case Java:
		lib, conf := spec.JavaLib, spec.JavaConf
		if lib == "" {
			lib = "/usr/share/java"
		}
		if conf == "" {
			conf = "/etc/zookeeper/conf"
		}
		cp := []string{conf}
		for _, j := range javaJars {
			if p := filepath.Join(lib, j); fileExists(p) {
				cp = append(cp, p)
			}
		}
		var args []string
		if spec.JavaHeap != "" {
			args = append(args, "-Xms"+spec.JavaHeap, "-Xmx"+spec.JavaHeap)
		}
		args = append(args, "-Dzookeeper.admin.enableServer=false")
		args = append(args, spec.Extra...)
		args = append(args, "-cp", strings.Join(cp, ":"), "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfgPath)
		cmd = exec.Command("java", args...)
	case Zkgo, ZkgoBase:
		args := append([]string{"server", "--config", cfgPath}, spec.Extra...)
		cmd = exec.Command(spec.ZkgoBin, args...)
	default:
		return fmt.Errorf("bench: unknown server kind %q", spec.Kind)
	}
	s.LogPath = filepath.Join(s.Dir, "server.log")
	logf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := startOn(cmd, spec.CPUs); err != nil {
		logf.Close()
		return err
	}
	s.cmd = cmd
	s.exited = make(chan error, 1)
	go func() { s.exited <- cmd.Wait(); logf.Close() }()
	return nil
}

// serves reports whether the server answers ruok and serves a read.
func (s *Server) serves() bool {
	if out, err := FourLetter(s.Addr, "ruok"); err != nil || out != "imok" {
		return false
	}
	c, err := dial(s.Addr, 30000)
	if err != nil {
		return false
	}
	defer c.closeSession(5 * time.Second)
	_ = c.nc.SetDeadline(time.Now().Add(30 * time.Second))
	h, _, err := c.do(1, wire.OpExists, &wire.ExistsRequest{Path: "/"})
	return err == nil && h.Err == wire.ErrOk
}

// Stop kills the server's process group (SIGKILL: both servers fsync every
// write, so nothing acknowledged is lost) and waits for it to go.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
	}
	s.cmd = nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func tailFile(p string, n int) string {
	b, _ := os.ReadFile(p)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// JavaGC asks a JVM for a full GC (jcmd <pid> GC.run) and returns the heap
// in use afterwards in KiB (from GC.heap_info), or -1.
func JavaGC(pid int) int64 {
	_ = exec.Command("jcmd", strconv.Itoa(pid), "GC.run").Run()
	out, err := exec.Command("jcmd", strconv.Itoa(pid), "GC.heap_info").Output()
	if err != nil {
		return -1
	}
	// " garbage-first heap   total 1048576K, used 512345K [...]"
	for _, line := range strings.Split(string(out), "\n") {
		if i := strings.Index(line, "used "); i >= 0 && strings.Contains(line, "heap") {
			f := strings.TrimSuffix(strings.Fields(line[i+5:])[0], "K")
			if n, err := strconv.ParseInt(strings.TrimSuffix(f, ","), 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}
