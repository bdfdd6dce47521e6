package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// CPU layouts of the proxy benchmark.
//
// "shared": every process may run on every CPU (what a sidecar proxy on a
// busy host sees). "split": the proxy (and the baseline forwarder) get
// CPUs of their own and the load generator and the server share the rest,
// in the direct runs too, so the comparison is the proxy's cost when it
// does not compete with the server for CPU (a proxy on its own host or
// cores). "server-side": the load generator gets CPUs of its own and the
// server shares the others with the proxy (a proxy on the server's host,
// clients elsewhere).
const (
	LayoutShared     = "shared"
	LayoutSplit      = "split"
	LayoutServerSide = "server-side"
)

// cpuSplit divides the CPUs this process may use into the proxy's share
// (the last quarter, at least one) and the rest.
func cpuSplit() (rest, proxy []int, err error) {
	cpus := affinityOf()
	if len(cpus) < 2 {
		return nil, nil, fmt.Errorf("bench: layout split needs at least 2 CPUs, have %d", len(cpus))
	}
	n := len(cpus) / 4
	if n < 1 {
		n = 1
	}
	return cpus[:len(cpus)-n], cpus[len(cpus)-n:], nil
}

// pinProcess restricts every thread of pid (0: this process) to cpus.
// Threads created later inherit the mask from their creator.
func pinProcess(pid int, cpus []int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	dir := "/proc/self/task"
	if pid != 0 {
		dir = filepath.Join("/proc", strconv.Itoa(pid), "task")
	}
	// Pin twice: a thread started while the first pass ran is caught by
	// the second.
	for pass := 0; pass < 2; pass++ {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("bench: pin thread %d of %d: %w", tid, pid, err)
			}
		}
	}
	if pid == 0 {
		runtime.GOMAXPROCS(len(cpus))
	}
	return nil
}

// startOn starts cmd with its CPU affinity set to cpus (nil: inherited).
// The child inherits the mask of the thread that forks it, so the fork
// runs on a locked thread whose mask is set for the occasion.
func startOn(cmd *exec.Cmd, cpus []int) error {
	if len(cpus) == 0 {
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return err
	}
	for _, c := range cpus {
		set.Set(c)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return err
	}
	err := cmd.Start()
	if rerr := unix.SchedSetaffinity(0, &old); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// affinityOf returns the CPUs this process may use now.
func affinityOf() []int {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) != nil {
		return nil
	}
	var cpus []int
	for i := 0; i < 1024; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus
}

func cpuList(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}
