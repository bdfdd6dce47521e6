package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat. It
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// ProcSample is a reading of a process's CPU time and memory.
type ProcSample struct {
	UserSec, SysSec float64 // utime, stime of all its threads (incl. exited ones)
	RSSKB, HWMKB    int64   // VmRSS, VmHWM
	Threads         int
	VolCtx, InvCtx  int64 // context switches summed over its threads
	// JITSec is the utime+stime of its live HotSpot JIT compiler threads
	// ("C1 CompilerThre", "C2 CompilerThre"; 0 for a Go process). HotSpot
	// starts and stops compiler threads as needed, and an exited thread
	// takes its time with it, so a Δ of JITSec is a lower bound.
	JITSec float64
}

// CPUSec is user plus system time.
func (s ProcSample) CPUSec() float64 { return s.UserSec + s.SysSec }

// ReadProc samples /proc/<pid>.
func ReadProc(pid int) (ProcSample, error) {
	var s ProcSample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	if s.UserSec, s.SysSec, err = parseStat(b); err != nil {
		return s, err
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	f := parseStatus(st)
	s.RSSKB, s.HWMKB, s.Threads = f["VmRSS"], f["VmHWM"], int(f["Threads"])
	stats, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	for _, t := range stats {
		if tb, err := os.ReadFile(t); err == nil {
			s.JITSec += jitThreadSec(tb)
		}
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	for _, t := range tasks {
		if tb, err := os.ReadFile(t); err == nil {
			tf := parseStatus(tb)
			s.VolCtx += tf["voluntary_ctxt_switches"]
			s.InvCtx += tf["nonvoluntary_ctxt_switches"]
		}
	}
	return s, nil
}

// jitThreadSec is the CPU time of a thread from its /proc/<pid>/task/<tid>/stat
// line if it is a HotSpot JIT compiler thread, else 0.
func jitThreadSec(b []byte) float64 {
	i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if i < 0 || j < i {
		return 0
	}
	comm := string(b[i+1 : j])
	if !strings.HasPrefix(comm, "C1 CompilerThre") && !strings.HasPrefix(comm, "C2 CompilerThre") {
		return 0
	}
	u, s, err := parseStat(b)
	if err != nil {
		return 0
	}
	return u + s
}

// parseStat returns utime and stime (seconds) from a /proc/<pid>/stat line.
// The command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseStat(b []byte) (user, sys float64, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("bench: bad /proc stat %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("bench: short /proc stat %q", b)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("bench: bad /proc stat %q", b)
	}
	return float64(u) / clockTicks, float64(s) / clockTicks, nil
}

// parseStatus returns the numeric fields of /proc/<pid>/status (kB units
// dropped).
func parseStatus(b []byte) map[string]int64 {
	m := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		if n, err := strconv.ParseInt(fs[0], 10, 64); err == nil {
			m[k] = n
		}
	}
	return m
}

// MachineFacts describes the machine for the results file.
func MachineFacts() map[string]string {
	m := map[string]string{}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		n := 0
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			switch k {
			case "processor":
				n++
			case "model name":
				m["cpu"] = v
			case "cpu MHz":
				m["cpu_mhz"] = v
			}
		}
		m["cpus"] = strconv.Itoa(n)
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := parseStatus(b)
		m["mem_total"] = fmt.Sprintf("%.1f GiB", float64(f["MemTotal"])/(1<<20))
		m["mem_available"] = fmt.Sprintf("%.1f GiB", float64(f["MemAvailable"])/(1<<20))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/etc/debian_version"); err == nil {
		m["debian"] = strings.TrimSpace(string(b))
	}
	return m
}
