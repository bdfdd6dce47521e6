package harness

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// CaptureOptions configure StartCapture.
type CaptureOptions struct {
	// Tool is "tcpdump" (writes pcap; the default) or "tshark" (pcapng).
	Tool string
	// Iface is the interface to capture on (default "lo").
	Iface string
	// Ports restricts the capture to TCP traffic on these ports.
	Ports []int
	// Path is the capture file (default: in t.TempDir()).
	Path string
}

// Capture is a packet capture running during a test: tcpdump or tshark on
// the loopback interface, filtered on the test's ports.
type Capture struct {
	Path string
	Tool string
	port int
	cmd  *exec.Cmd
	done chan error
	out  *lockedBuffer
	t    testing.TB
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// StartCapture starts a capture and returns once it is capturing: the
// tool has said so and has seen a marker connection (see Sync). The
// capture is stopped at cleanup if the test did not stop it. A missing
// tool is Unavailable.
func StartCapture(t testing.TB, opt CaptureOptions) *Capture {
	t.Helper()
	if opt.Tool == "" {
		opt.Tool = "tcpdump"
	}
	if opt.Iface == "" {
		opt.Iface = "lo"
	}
	bin, err := exec.LookPath(opt.Tool)
	if err != nil {
		Unavailable(t, "%s not on PATH (apt-get install %s)", opt.Tool, opt.Tool)
	}
	if len(opt.Ports) == 0 {
		t.Fatal("harness: StartCapture needs ports")
	}
	if opt.Path == "" {
		ext := ".pcap"
		if opt.Tool == "tshark" {
			ext = ".pcapng"
		}
		opt.Path = filepath.Join(t.TempDir(), "capture"+ext)
	}
	terms := make([]string, len(opt.Ports))
	for i, p := range opt.Ports {
		terms[i] = "tcp port " + strconv.Itoa(p)
	}
	filter := strings.Join(terms, " or ")
	var args []string
	var ready string
	// Both tools also print each packet as they take it (-l: unbuffered),
	// which is how Sync knows the capture has caught up. Not immediate
	// mode: its ring has room for a few snaplen-sized frames only and drops
	// packets on a busy machine; a 32 MiB buffer of TPACKET_V3 blocks does
	// not (a block is handed over within the tool's timeout; Sync waits).
	switch opt.Tool {
	case "tcpdump":
		args = []string{"-i", opt.Iface, "-n", "-l", "-U", "-B", "32768", "--print", "-s", "0", "-w", opt.Path, filter}
		ready = "listening on"
	case "tshark":
		args = []string{"-i", opt.Iface, "-n", "-l", "-P", "-B", "32", "-f", filter, "-w", opt.Path}
		ready = "Capture started"
	default:
		t.Fatalf("harness: unknown capture tool %q", opt.Tool)
	}
	c := &Capture{Path: opt.Path, Tool: opt.Tool, port: opt.Ports[0], done: make(chan error, 1), out: &lockedBuffer{}, t: t}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		Unavailable(t, "%s: %v", opt.Tool, err)
	}
	cmd := c.cmd
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() { _ = c.Stop() })
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(c.out.String(), ready) {
		select {
		case err := <-c.done:
			c.cmd = nil
			t.Fatalf("%s exited before capturing: %v\n%s", opt.Tool, err, c.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start capturing:\n%s", opt.Tool, c.out.String())
		}
	}
	if err := c.Sync(); err != nil {
		t.Fatal(err)
	}
	return c
}

// Sync makes a marker connection to the capture's first port (from a
// port of its own; a refused connection is fine, its SYN is captured) and
// waits until the tool has taken that packet: everything sent before Sync
// is then in the capture. Stop calls it.
func (c *Capture) Sync() error {
	deadline := time.Now().Add(20 * time.Second)
	for attempt := 0; ; attempt++ {
		local := FreePort(c.t)
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: local}, Timeout: time.Second}
		if conn, err := d.Dial("tcp", "127.0.0.1:"+strconv.Itoa(c.port)); err == nil {
			conn.Close()
		}
		p := strconv.Itoa(local)
		// tcpdump prints "127.0.0.1.PORT > ...", tshark "PORT → ...".
		marks := []string{"127.0.0.1." + p + " >", " " + p + " → "}
		for wait := time.Now().Add(3 * time.Second); time.Now().Before(wait); time.Sleep(20 * time.Millisecond) {
			out := c.out.String()
			for _, m := range marks {
				if strings.Contains(out, m) {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("harness: %s did not see marker connections:\n%s", c.Tool, tail(c.out.String(), 4000))
		}
	}
}

// Stop waits for the capture to catch up (Sync), ends it with SIGINT and
// waits until the file is complete (idempotent).
func (c *Capture) Stop() error {
	if c.cmd == nil {
		return nil
	}
	syncErr := c.Sync()
	cmd := c.cmd
	c.cmd = nil
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-c.done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			return err
		}
		return syncErr
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s did not stop on SIGINT:\n%s", c.Tool, c.out.String())
	}
}

// Output returns what the tool printed.
func (c *Capture) Output() string { return c.out.String() }

// The tools' drop reports on exit: tcpdump "N packets dropped by kernel"
// and "N packets dropped by interface" (always printed), tshark "N packets
// dropped from IFACE" or "N packets dropped" (printed when N > 0).
var droppedRe = regexp.MustCompile(`(?m)^(\d+) packets? dropped`)

// Dropped returns how many packets the tool reported dropping (its buffer
// overran, or the interface dropped them), summed over its report lines;
// the capture then lacks them. Meaningful after Stop.
func (c *Capture) Dropped() int64 {
	var n int64
	for _, m := range droppedRe.FindAllStringSubmatch(c.out.String(), -1) {
		v, _ := strconv.ParseInt(m[1], 10, 64)
		n += v
	}
	return n
}

// StopComplete stops the capture (Stop) and fails the test when the tool
// reported dropped packets: what is checked against such a capture would
// be judged on traffic it does not hold.
func (c *Capture) StopComplete() {
	c.t.Helper()
	if err := c.Stop(); err != nil {
		c.t.Fatal(err)
	}
	if n := c.Dropped(); n > 0 {
		c.t.Fatalf("%s dropped %d packets (its buffer overran): %s is incomplete\n%s", c.Tool, n, c.Path, tail(c.out.String(), 400))
	}
}
