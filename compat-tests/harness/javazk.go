package harness

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// JavaZK is a Java ZooKeeper 3.8 server started by a test.
type JavaZK struct {
	Addr    string
	Port    int
	Dir     string // config and data
	DataDir string
	LogPath string
	cmd     *exec.Cmd
	t       testing.TB
	adminCP []string // AdminServer jars, with JavaOptions.AdminPort
}

// FreePort returns a port that was free a moment ago (bind :0, close).
// Java cannot take an already-open listener, so this is the best we can do
// for it; zkgo itself always binds :0.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ReservePort returns a port held by a socket that is bound but not
// listening until release is called: nobody can take it meanwhile (bind
// fails with EADDRINUSE and the kernel skips it for outgoing connections),
// and connections to it are refused as if the server were down. Use it for
// ports a server binds much later (ensemble members started on demand).
func ReservePort(t testing.TB) (port int, release func()) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { syscall.Close(fd) }) }
	t.Cleanup(release)
	return sa.(*syscall.SockaddrInet4).Port, release
}

// JavaOptions adjust a Java server.
type JavaOptions struct {
	Props   map[string]string // extra zoo.cfg lines
	SysProp map[string]string // -D system properties
	DataDir string            // use this data dir (default: fresh temp dir)
	Heap    string            // -Xmx (default 512m)
	// AdminPort, when set, runs Java's AdminServer on 127.0.0.1:AdminPort
	// (Jetty, Jackson and the servlet API added to the classpath).
	AdminPort int
}

// adminJars are the jars Java 3.8's JettyAdminServer needs (Debian's
// libservlet3.1-java, libjetty9-java, libjackson2-databind-java).
var adminJars = []string{"servlet-api", "jetty9-server", "jetty9-servlet", "jetty9-util", "jetty9-util-ajax",
	"jetty9-http", "jetty9-io", "jetty9-security", "jackson-databind", "jackson-core", "jackson-annotations"}

// AdminClasspath returns the AdminServer's jars, or fails (skips outside
// CI) the test when one is missing.
func AdminClasspath(t testing.TB, j *Java) []string {
	t.Helper()
	var out []string
	for _, n := range adminJars {
		p := filepath.Join(j.LibDir, n+".jar")
		if _, err := os.Stat(p); err != nil {
			Unavailable(t, "Java's AdminServer needs %s (apt-get install libservlet3.1-java libjetty9-java libjackson2-databind-java)", p)
		}
		out = append(out, p)
	}
	return out
}

// StartJavaZK starts a standalone Java ZooKeeper and waits until it answers
// ruok. It is killed at test cleanup.
func StartJavaZK(t testing.TB, opt JavaOptions) *JavaZK {
	t.Helper()
	j := RequireJava(t)
	dir := t.TempDir()
	z := &JavaZK{Dir: dir, DataDir: opt.DataDir, t: t}
	if opt.AdminPort != 0 {
		z.adminCP = AdminClasspath(t, j)
	}
	if z.DataDir == "" {
		z.DataDir = filepath.Join(dir, "data")
	}
	if err := os.MkdirAll(z.DataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		z.Port = FreePort(t)
		z.Addr = fmt.Sprintf("127.0.0.1:%d", z.Port)
		if lastErr = z.start(j, opt); lastErr == nil {
			t.Cleanup(z.Stop)
			return z
		}
		z.Stop()
	}
	t.Fatalf("Java ZooKeeper did not start: %v\n%s", lastErr, z.Log())
	return nil
}

func (z *JavaZK) start(j *Java, opt JavaOptions) error {
	cfg := map[string]string{
		"tickTime":               "2000",
		"dataDir":                z.DataDir,
		"clientPort":             strconv.Itoa(z.Port),
		"clientPortAddress":      "127.0.0.1",
		"admin.enableServer":     strconv.FormatBool(opt.AdminPort != 0),
		"4lw.commands.whitelist": "*",
		"maxClientCnxns":         "0",
	}
	if opt.AdminPort != 0 {
		cfg["admin.serverAddress"] = "127.0.0.1"
		cfg["admin.serverPort"] = strconv.Itoa(opt.AdminPort)
	}
	for k, v := range opt.Props {
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
	cfgPath := filepath.Join(z.Dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(b.String()), 0o644); err != nil {
		return err
	}
	heap := opt.Heap
	if heap == "" {
		heap = "512m"
	}
	args := []string{"-Xmx" + heap, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}
	if opt.AdminPort == 0 {
		args = append(args, "-Dzookeeper.admin.enableServer=false")
	}
	for k, v := range opt.SysProp {
		args = append(args, "-D"+k+"="+v)
	}
	args = append(args, "-cp", j.Classpath(append([]string{"/etc/zookeeper/conf"}, z.adminCP...)...), "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfgPath)
	z.LogPath = filepath.Join(z.Dir, "zk.log")
	logf, err := os.Create(z.LogPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(j.Java, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	z.cmd = cmd
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			z.cmd = nil
			return fmt.Errorf("java exited: %v", err)
		default:
		}
		// ruok answers before the ZooKeeperServer runs; srvr only once it
		// serves requests.
		if out, err := FourLetter(z.Addr, "srvr"); err == nil && strings.HasPrefix(out, "Zookeeper version:") {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no imok within 30s")
}

// Stop kills the server (idempotent).
func (z *JavaZK) Stop() {
	if z.cmd != nil && z.cmd.Process != nil {
		_ = syscall.Kill(-z.cmd.Process.Pid, syscall.SIGKILL)
		z.cmd = nil
	}
}

// Log returns the server's log output.
func (z *JavaZK) Log() string {
	b, _ := os.ReadFile(z.LogPath)
	return string(b)
}

// FourLetter sends a four-letter word and returns the whole answer.
func FourLetter(addr, cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(cmd)); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(c)
	return buf.String(), err
}
