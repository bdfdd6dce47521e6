package faults

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// The reconfig checker's model on made-up histories: it must accept what
// Java's rules allow (an indeterminate reconfig either way, a guard that
// fails as BADVERSION after a change) and refuse an acknowledged reconfig
// that the final configuration or a later guard shows lost, a BADVERSION
// whose guard matched, and a new version that does not grow.
func TestReconfigModel(t *testing.T) {
	line := func(id int, role string) string {
		return "10.0.0." + string(rune('0'+id)) + ":2888:3888:" + role + ";10.0.0." + string(rune('0'+id)) + ":2181"
	}
	all := map[int]string{1: line(1, "participant"), 2: line(2, "participant"), 3: line(3, "participant")}
	no2 := map[int]string{1: all[1], 3: all[3]}
	obs2 := map[int]string{1: all[1], 2: line(2, "observer"), 3: all[3]}
	const v0, v1, v2 = 0x100000000, 0x100000010, 0x100000020
	remove2 := func(from int64, st Status, err string, v int64) reconfOp {
		return reconfOp{From: from, Leave: []int{2}, Status: st, Err: err, Version: v}
	}
	join2 := func(from int64, st Status, err string, v int64) reconfOp {
		return reconfOp{From: from, Join: map[int]string{2: all[2]}, Status: st, Err: err, Version: v}
	}
	cases := []struct {
		name    string
		ops     []reconfOp
		final   config
		illegal bool
	}{
		{"removed and added back", []reconfOp{remove2(v0, StatusOK, "", v1), join2(v1, StatusOK, "", v2)},
			config{v2, all}, false},
		{"non-incremental demotion", []reconfOp{{From: -1, Members: obs2, Status: StatusOK, Version: v1}},
			config{v1, obs2}, false},
		{"acknowledged removal lost", []reconfOp{remove2(v0, StatusOK, "", v1)}, config{v0, all}, true},
		{"acknowledged removal, final version differs", []reconfOp{remove2(v0, StatusOK, "", v1)}, config{v2, no2}, true},
		{"guard of the lost config acknowledged", []reconfOp{remove2(v0, StatusOK, "", v1),
			{From: v0, Join: map[int]string{2: line(2, "observer")}, Status: StatusOK, Version: v2}}, config{v2, obs2}, true},
		{"indeterminate, not applied", []reconfOp{remove2(v0, StatusInfo, "connection closed", 0)}, config{v0, all}, false},
		{"indeterminate, applied", []reconfOp{remove2(v0, StatusInfo, "connection closed", 0)}, config{v1, no2}, false},
		{"indeterminate applied, then a guard on its version", []reconfOp{remove2(v0, StatusInfo, "timeout", 0),
			join2(v1, StatusOK, "", v2)}, config{v2, all}, false},
		{"badversion after a change", []reconfOp{remove2(v0, StatusOK, "", v1), join2(v0, StatusFail, short(zk.ErrBadVersion), 0)},
			config{v1, no2}, false},
		{"badversion whose guard matched", []reconfOp{remove2(v0, StatusFail, short(zk.ErrBadVersion), 0)}, config{v0, all}, true},
		{"no quorum changes nothing", []reconfOp{remove2(v0, StatusFail, "unknown error: -13", 0)}, config{v0, all}, false},
		{"version does not grow", []reconfOp{remove2(v0, StatusOK, "", v0-1)}, config{v0 - 1, no2}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t0 := time.Now()
			r := &Reconfigs{hist: NewHistory("reconfigs", t0), initial: config{v0, all}}
			for i, op := range c.ops {
				op.Call, op.Return = int64(10*i+1), int64(10*i+5)
				r.ops = append(r.ops, op)
			}
			r.final = &c.final
			v := r.check()
			if v.Unknown || v.OK == c.illegal {
				t.Errorf("verdict ok=%v unknown=%v, want ok=%v: %s", v.OK, v.Unknown, !c.illegal, strings.Join(v.Details, "\n"))
			}
		})
	}
}

// diskMismatch accepts Java's split layout for the configuration and names
// every way a member's files can disagree with it.
func TestReconfigDiskMismatch(t *testing.T) {
	c := config{Version: 0x500000167, Servers: map[int]string{
		1: "10.0.0.1:2888:3888:participant;10.0.0.1:2181", 2: "10.0.0.2:2888:3888:observer;10.0.0.2:2181"}}
	dir := t.TempDir()
	n := &Node{Dir: dir, Config: filepath.Join(dir, "zoo.cfg")}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dyn := "server.1=10.0.0.1:2888:3888:participant;10.0.0.1:2181\nserver.2=10.0.0.2:2888:3888:observer;10.0.0.2:2181\n"
	r := &Reconfigs{}
	for _, tc := range []struct {
		static, dynName, dyn, want string
	}{
		{"dataDir=/x\ndynamicConfigFile=" + dir + "/zoo.cfg.dynamic.500000167\n", "zoo.cfg.dynamic.500000167", dyn, ""},
		{"dataDir=/x\ndynamicConfigFile=" + dir + "/zoo.cfg.dynamic.400000001\n", "zoo.cfg.dynamic.400000001", dyn,
			"want .../zoo.cfg.dynamic.500000167"},
		{"dynamicConfigFile=" + dir + "/zoo.cfg.dynamic.500000167\n", "zoo.cfg.dynamic.500000167",
			"server.1=10.0.0.1:2888:3888:participant;10.0.0.1:2181\n", "holds"},
		{"server.1=10.0.0.1:2888:3888\ndynamicConfigFile=" + dir + "/zoo.cfg.dynamic.500000167\n",
			"zoo.cfg.dynamic.500000167", dyn, "server lines"},
	} {
		write("zoo.cfg", tc.static)
		write(tc.dynName, tc.dyn)
		got := r.diskMismatch(n, c)
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("zoo.cfg %q, %s %q: %q, want %q", tc.static, tc.dynName, tc.dyn, got, tc.want)
		}
	}
}

// A member a reconfig removed restarts as a joiner: its zoo.cfg then names
// zoo.cfg.dynamic.0 with the members of its last configuration plus itself;
// a member of its configuration starts from its files unchanged.
func TestPrepareRejoin(t *testing.T) {
	dir := t.TempDir()
	e := &Ensemble{dynamic: true}
	for i := 1; i <= 3; i++ {
		e.Nodes = append(e.Nodes, &Node{NodeSpec: NodeSpec{ID: i, Kind: Zkgo}, Host: &Host{ID: i, IP: "10.0.0." + strconv.Itoa(i)},
			Dir: dir, Config: filepath.Join(dir, "zoo.cfg")})
	}
	dyn := filepath.Join(dir, "zoo.cfg.dynamic.500000167")
	static := "dataDir=/d\ndynamicConfigFile=" + dyn + "\nreconfigEnabled=true\n"
	two := "server.1=" + e.ServerLine(1, false) + "\nserver.3=" + e.ServerLine(3, false) + "\n"
	for _, f := range []struct{ path, text string }{{e.Node(1).Config, static}, {dyn, two}} {
		if err := os.WriteFile(f.path, []byte(f.text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if note, err := e.prepareRejoin(e.Node(1)); err != nil || note != "" {
		t.Fatalf("member 1: %q %v, want nothing done", note, err)
	}
	note, err := e.prepareRejoin(e.Node(2))
	if err != nil || !strings.Contains(note, "zoo.cfg.dynamic.0") {
		t.Fatalf("removed member 2: %q %v", note, err)
	}
	b, _ := os.ReadFile(e.Node(2).Config)
	if want := strings.Replace(static, dyn, filepath.Join(dir, "zoo.cfg.dynamic.0"), 1); string(b) != want {
		t.Errorf("zoo.cfg %q, want %q", b, want)
	}
	b, _ = os.ReadFile(filepath.Join(dir, "zoo.cfg.dynamic.0"))
	if want := "server.1=" + e.ServerLine(1, false) + "\nserver.2=" + e.ServerLine(2, false) + "\nserver.3=" + e.ServerLine(3, false) + "\n"; string(b) != want {
		t.Errorf("joiner's dynamic file %q, want %q", b, want)
	}
}
