package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// BuildZkgo builds bin/zkgo once per test binary and returns its path.
func BuildZkgo(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "zkgo-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "zkgo")
		out, err := exec.Command("go", "build", "-o", buildPath, "../cmd/zkgo").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// ZkgoProc is zkgo running as a separate process (for crash tests).
type ZkgoProc struct {
	Addr    string
	Config  string
	LogPath string
	cmd     *exec.Cmd
	exited  chan error
}

// StartZkgoProc starts `zkgo server --config cfgPath [extra...]` and waits
// for imok. Its stderr and stdout go to LogPath (appended).
func StartZkgoProc(t testing.TB, bin, cfgPath, addr string, extra ...string) *ZkgoProc {
	t.Helper()
	return startZkgoProc(t, []string{bin}, cfgPath, addr, extra...)
}

// StartZkgoProcNice is StartZkgoProc under `nice -n nice`, for a test that
// measures the server's latency on a host shared with other work: nice
// starts zkgo all the same if it may not set the value (check Nice).
func StartZkgoProcNice(t testing.TB, bin string, nice int, cfgPath, addr string, extra ...string) *ZkgoProc {
	t.Helper()
	return startZkgoProc(t, []string{"nice", "-n", strconv.Itoa(nice), bin}, cfgPath, addr, extra...)
}

func startZkgoProc(t testing.TB, argv []string, cfgPath, addr string, extra ...string) *ZkgoProc {
	t.Helper()
	p := &ZkgoProc{Addr: addr, Config: cfgPath, LogPath: cfgPath + ".log"}
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	args := append(slices.Clone(argv[1:]), "server", "--config", cfgPath)
	p.cmd = exec.Command(argv[0], append(args, extra...)...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.exited = make(chan error, 1)
	go func() { p.exited <- p.cmd.Wait(); logf.Close() }()
	t.Cleanup(func() { p.Kill() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.exited:
			b, _ := os.ReadFile(p.LogPath)
			t.Fatalf("zkgo exited: %v\n%s", err, tail(string(b), 3000))
		default:
		}
		if out, err := FourLetter(addr, "ruok"); err == nil && out == "imok" {
			return p
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("zkgo did not answer ruok")
	return nil
}

// Nice is the process's nice value (field 19 of /proc/pid/stat).
func (p *ZkgoProc) Nice() (int, error) {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0, errors.New("harness: zkgo is not running")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("harness: zkgo's nice value: %w", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 17 {
		return 0, fmt.Errorf("harness: zkgo's nice value: short /proc/%d/stat", p.cmd.Process.Pid)
	}
	return strconv.Atoi(f[16])
}

// Kill sends SIGKILL and waits for the process to go.
func (p *ZkgoProc) Kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	p.cmd = nil
}

// Term sends SIGTERM (clean shutdown) and waits.
func (p *ZkgoProc) Term() error {
	if p.cmd == nil || p.cmd.Process == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	err := <-p.exited
	p.cmd = nil
	return err
}

// Log returns the process output.
func (p *ZkgoProc) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// WriteZooCfg writes a zoo.cfg with the given key/values.
func WriteZooCfg(t testing.TB, path string, kv map[string]string) {
	t.Helper()
	var b strings.Builder
	for k, v := range kv {
		b.WriteString(k + "=" + v + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
