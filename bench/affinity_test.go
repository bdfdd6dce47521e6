package bench

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// The split layouts rest on two things: the CPUs divide into two
// non-empty, disjoint sets, and a child started with startOn runs only on
// its set while this process keeps its own mask.
func TestCPULayoutPinsChildren(t *testing.T) {
	all := affinityOf()
	if len(all) < 2 {
		if _, _, err := cpuSplit(); err == nil {
			t.Fatal("cpuSplit accepted a single CPU")
		}
		t.Logf("one CPU (%v): only the refusal is checked", all)
		return
	}
	rest, px, err := cpuSplit()
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) == 0 || len(px) == 0 || len(rest)+len(px) != len(all) || rest[len(rest)-1] >= px[0] {
		t.Fatalf("split %v into %v and %v", all, rest, px)
	}
	cmd := exec.Command("sleep", "5")
	if err := startOn(cmd, px); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if got := allowedCPUs(t, cmd.Process.Pid); got != cpuList(px) {
		t.Fatalf("child runs on %q, want %q", got, cpuList(px))
	}
	if got := affinityOf(); cpuList(got) != cpuList(all) {
		t.Fatalf("this process now runs on %v, want %v", got, all)
	}
}

// allowedCPUs reads Cpus_allowed_list of pid as "a,b,c".
func allowedCPUs(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			var out []string
			for _, part := range strings.Split(strings.TrimSpace(v), ",") {
				lo, hi, isRange := strings.Cut(part, "-")
				a, _ := strconv.Atoi(lo)
				z := a
				if isRange {
					z, _ = strconv.Atoi(hi)
				}
				for i := a; i <= z; i++ {
					out = append(out, strconv.Itoa(i))
				}
			}
			return strings.Join(out, ",")
		}
	}
	t.Fatal("no Cpus_allowed_list")
	return ""
}
