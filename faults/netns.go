package faults

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// subnetBase is the /16 the runs take their /24 from: 10.213.X.0/24, X in
// [16, 250]. The bridge holds .1, node N holds .(10+N).
const subnetBase = "10.213."

// Network is one run's bridge and the namespaces of its nodes.
type Network struct {
	Octet  int    // X of 10.213.X.0/24
	Prefix string // zkfX: every name this run creates starts with it
	Bridge string // zkfbX
	hosts  map[int]*Host
	mu     sync.Mutex
}

// Host is one node's network namespace.
type Host struct {
	ID   int
	NS   string // zkfX-N
	IP   string // 10.213.X.(10+N)
	veth string // host side, on the bridge
}

// BridgeIP is the root namespace's address on the bridge, the address the
// nodes see clients come from.
func (n *Network) BridgeIP() string { return fmt.Sprintf("%s%d.1", subnetBase, n.Octet) }

// Host returns node id's namespace.
func (n *Network) Host(id int) *Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.hosts[id]
}

func run(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

func output(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return string(out), nil
}

// Requirements returns why this machine cannot run the suite, or nil.
func Requirements() error {
	if os.Geteuid() != 0 {
		return errors.New("faults: needs root (network namespaces, iptables)")
	}
	for _, bin := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("faults: %s not on PATH (apt-get install iproute2 iptables)", bin)
		}
	}
	return nil
}

// procStart is the start time of process pid (field 22 of /proc/pid/stat),
// "" when it does not exist; with the pid it names a process uniquely.
func procStart(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

func ownerAlias() string {
	pid := os.Getpid()
	return fmt.Sprintf("zkgo-faults pid=%d start=%s", pid, procStart(pid))
}

// ownerAlive reports whether the process an alias names still runs.
func ownerAlive(alias string) bool {
	var pid int
	var start string
	for _, f := range strings.Fields(alias) {
		if v, ok := strings.CutPrefix(f, "pid="); ok {
			pid, _ = strconv.Atoi(v)
		}
		if v, ok := strings.CutPrefix(f, "start="); ok {
			start = v
		}
	}
	return pid > 0 && procStart(pid) == start && start != ""
}

// Sweep removes what crashed runs left: for every bridge zkfbX whose owner
// (its alias) is gone, it kills the processes in the namespaces zkfX-*,
// deletes those namespaces and the bridge. It touches nothing of a live run
// and nothing without the prefix. It returns what it removed.
func Sweep() ([]string, error) {
	out, err := output("ip", "-o", "link", "show", "type", "bridge")
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name := strings.TrimSuffix(strings.SplitN(f[1], "@", 2)[0], ":")
		octet, ok := strings.CutPrefix(name, "zkfb")
		if !ok {
			continue
		}
		if _, err := strconv.Atoi(octet); err != nil {
			continue
		}
		alias := ""
		if i := strings.Index(line, "alias "); i >= 0 {
			alias = line[i+len("alias "):]
		}
		if ownerAlive(alias) {
			continue
		}
		errs = append(errs, removeRun("zkf"+octet, name))
		removed = append(removed, name)
	}
	return removed, errors.Join(errs...)
}

// removeRun kills the processes of every namespace prefix-*, deletes the
// namespaces and the bridge.
func removeRun(prefix, bridge string) error {
	var errs []error
	nss, _ := output("ip", "netns", "list")
	for _, line := range strings.Split(nss, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], prefix+"-") {
			continue
		}
		killNamespace(f[0])
		if err := run("ip", "netns", "delete", f[0]); err != nil {
			errs = append(errs, err)
		}
	}
	if err := run("ip", "link", "delete", bridge); err != nil && linkExists(bridge) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// killNamespace SIGKILLs every process left in namespace ns (by PID).
func killNamespace(ns string) {
	for range 3 {
		pids, _ := output("ip", "netns", "pids", ns)
		f := strings.Fields(pids)
		if len(f) == 0 {
			return
		}
		for _, p := range f {
			if pid, err := strconv.Atoi(p); err == nil && pid > 1 && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGCONT)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func linkExists(name string) bool {
	return exec.Command("ip", "link", "show", name).Run() == nil
}

func subnetInUse(octet int) bool {
	out, err := output("ip", "-4", "-o", "addr")
	if err != nil {
		return true
	}
	return strings.Contains(out, fmt.Sprintf(" %s%d.", subnetBase, octet))
}

// namesInUse reports whether a link or a namespace named as a run with
// prefix names its own (prefix-N, prefixhN, prefixpN) exists. A run that
// closed can leave them for a while: `ip netns delete` only unmounts a
// namespace, which lives on with its veth pair until its last process has
// exited, after the bridge is gone. The same seed picks the same subnet
// first, so the next run would reserve the bridge and then fail to create
// its first veth ("File exists").
func namesInUse(prefix string) bool {
	links, err := output("ip", "-o", "link", "show")
	if err != nil {
		return true
	}
	for _, line := range strings.Split(links, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name := strings.TrimSuffix(strings.SplitN(f[1], "@", 2)[0], ":")
		if strings.HasPrefix(name, prefix+"h") || strings.HasPrefix(name, prefix+"p") {
			return true
		}
	}
	nss, err := output("ip", "netns", "list")
	if err != nil {
		return true
	}
	for _, line := range strings.Split(nss, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], prefix+"-") {
			return true
		}
	}
	return false
}

// NewNetwork reserves a free subnet (by creating its bridge, which fails
// if another run has it) and brings the bridge up with .1 on it.
func NewNetwork(rng *rand.Rand) (*Network, error) {
	if err := Requirements(); err != nil {
		return nil, err
	}
	for range 64 {
		octet := 16 + rng.IntN(235)
		if subnetInUse(octet) || namesInUse("zkf"+strconv.Itoa(octet)) {
			continue
		}
		n := &Network{Octet: octet, Prefix: "zkf" + strconv.Itoa(octet), Bridge: "zkfb" + strconv.Itoa(octet),
			hosts: map[int]*Host{}}
		if err := run("ip", "link", "add", n.Bridge, "type", "bridge"); err != nil {
			if linkExists(n.Bridge) {
				continue // taken by a concurrent run
			}
			return nil, err
		}
		err := errors.Join(
			run("ip", "link", "set", n.Bridge, "alias", ownerAlias()),
			run("ip", "addr", "add", n.BridgeIP()+"/24", "dev", n.Bridge),
			run("ip", "link", "set", n.Bridge, "up"))
		if err != nil {
			_ = n.Close()
			return nil, err
		}
		registerCleanup(n.Bridge, func() { _ = n.Close() })
		return n, nil
	}
	return nil, errors.New("faults: no free subnet in 10.213.16-250.0/24")
}

// AddHost creates node id's namespace, its veth pair to the bridge and the
// iptables chains the nemesis fills (ZKF_IN, ZKF_OUT).
func (n *Network) AddHost(id int) (*Host, error) {
	h := &Host{ID: id, NS: fmt.Sprintf("%s-%d", n.Prefix, id), IP: fmt.Sprintf("%s%d.%d", subnetBase, n.Octet, 10+id),
		veth: fmt.Sprintf("%sh%d", n.Prefix, id)}
	peer := fmt.Sprintf("%sp%d", n.Prefix, id)
	if err := run("ip", "netns", "add", h.NS); err != nil {
		return nil, err
	}
	n.mu.Lock()
	n.hosts[id] = h
	n.mu.Unlock()
	steps := [][]string{
		{"ip", "link", "add", h.veth, "type", "veth", "peer", "name", peer, "netns", h.NS},
		{"ip", "link", "set", h.veth, "master", n.Bridge, "up"},
		{"ip", "-n", h.NS, "addr", "add", h.IP + "/24", "dev", peer},
		{"ip", "-n", h.NS, "link", "set", peer, "up"},
		{"ip", "-n", h.NS, "link", "set", "lo", "up"},
		{"ip", "netns", "exec", h.NS, "iptables", "-w", "-N", "ZKF_IN"},
		{"ip", "netns", "exec", h.NS, "iptables", "-w", "-N", "ZKF_OUT"},
		{"ip", "netns", "exec", h.NS, "iptables", "-w", "-A", "INPUT", "-j", "ZKF_IN"},
		{"ip", "netns", "exec", h.NS, "iptables", "-w", "-A", "OUTPUT", "-j", "ZKF_OUT"},
	}
	for _, s := range steps {
		if err := run(s[0], s[1:]...); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Exec returns a command running name in host's namespace (ip netns exec
// execs in place, so the command's PID is the program's).
func (h *Host) Exec(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

func (h *Host) iptables(args ...string) error {
	return run("ip", append([]string{"netns", "exec", h.NS, "iptables", "-w"}, args...)...)
}

// Drop makes host h drop every packet that arrives from the given peers
// (one direction: h still sends to them).
func (h *Host) Drop(from ...*Host) error {
	var errs []error
	for _, p := range from {
		errs = append(errs, h.iptables("-A", "ZKF_IN", "-s", p.IP, "-j", "DROP"))
	}
	return errors.Join(errs...)
}

// Loss makes host h drop a random fraction p of the packets it receives
// from the given peers (iptables' statistic match).
func (h *Host) Loss(p float64, from ...*Host) error {
	var errs []error
	for _, o := range from {
		errs = append(errs, h.iptables("-A", "ZKF_IN", "-s", o.IP, "-m", "statistic", "--mode", "random",
			"--probability", strconv.FormatFloat(p, 'f', 3, 64), "-j", "DROP"))
	}
	return errors.Join(errs...)
}

// Heal removes every rule the nemesis added in h.
func (h *Host) Heal() error {
	return errors.Join(h.iptables("-F", "ZKF_IN"), h.iptables("-F", "ZKF_OUT"))
}

// Rules lists the rules in h's chains (for reports).
func (h *Host) Rules() string {
	out, _ := output("ip", "netns", "exec", h.NS, "iptables", "-w", "-S")
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "-A ZKF_") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// Heal removes every nemesis rule of every host.
func (n *Network) Heal() error {
	n.mu.Lock()
	hosts := make([]*Host, 0, len(n.hosts))
	for _, h := range n.hosts {
		hosts = append(hosts, h)
	}
	n.mu.Unlock()
	var errs []error
	for _, h := range hosts {
		errs = append(errs, h.Heal())
	}
	return errors.Join(errs...)
}

// Close kills whatever still runs in the namespaces, deletes them (their
// veth pairs and iptables rules go with them) and the bridge.
func (n *Network) Close() error {
	unregisterCleanup(n.Bridge)
	return removeRun(n.Prefix, n.Bridge)
}

// Interrupt handling: every live network and process registers a cleanup;
// the signal handler (installed by InstallSignalCleanup) runs them all.
var (
	cleanupMu sync.Mutex
	cleanups  = map[string]func(){}
	sigOnce   sync.Once
)

func registerCleanup(key string, f func()) {
	cleanupMu.Lock()
	cleanups[key] = f
	cleanupMu.Unlock()
}

func unregisterCleanup(key string) {
	cleanupMu.Lock()
	delete(cleanups, key)
	cleanupMu.Unlock()
}

// RunCleanups runs every registered cleanup (processes first: their keys
// start with "proc:").
func RunCleanups() {
	cleanupMu.Lock()
	fs := cleanups
	cleanups = map[string]func(){}
	cleanupMu.Unlock()
	for k, f := range fs {
		if strings.HasPrefix(k, "proc:") {
			f()
		}
	}
	for k, f := range fs {
		if !strings.HasPrefix(k, "proc:") {
			f()
		}
	}
}
