package compattest

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
)

// Stock clients' reconfig calls (issue 17, point 5): go-zookeeper's
// IncrementalReconfig, the Java client's ZooKeeperAdmin.reconfigure,
// `zkCli.sh reconfig` and kazoo's KazooClient.reconfig, each through a
// chosen member of a standalone-disabled single-member ensemble and of a
// three-member one. Each client adds an observer (a spare that is never
// started: observers do not count for the quorum), is refused a removal
// guarded by the configuration version from before the add (BADVERSION),
// then removes the observer. Rows with zkgo members are gated as in
// reconfig_interop_test.go (harness.ZkgoReconfig).

// clientStep is one step's outcome: "OK" and the configuration the client
// got back, or the error code's name.
type clientStep struct {
	status string
	config string
}

// reconfigClient runs the three steps (add spec, the stale removal of id
// from version stale, the removal of id) through addr.
type reconfigClient func(t *testing.T, addr, id, spec, stale string) map[string]clientStep

// parseSteps reads the "<step> OK|ERR <code>", config lines, "." blocks
// java/ReconfigClient.java and python/kazoo_reconfig.py print.
func parseSteps(out string) map[string]clientStep {
	steps := map[string]clientStep{}
	var name string
	var cur clientStep
	var cfg []string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case name == "":
			if n, rest, ok := strings.Cut(line, " "); ok && (rest == "OK" || strings.HasPrefix(rest, "ERR ")) {
				name, cur, cfg = n, clientStep{status: strings.TrimPrefix(rest, "ERR ")}, nil
			}
		case line == ".":
			cur.config = strings.Join(cfg, "\n")
			steps[name] = cur
			name = ""
		default:
			cfg = append(cfg, line)
		}
	}
	return steps
}

func gozkReconfigClient(t *testing.T, addr, id, spec, stale string) map[string]clientStep {
	staleVersion, err := strconv.ParseInt(stale, 16, 64)
	must(t, err)
	res := map[string]clientStep{}
	record := func(name, text string, err error) {
		switch {
		case err == nil:
			res[name] = clientStep{"OK", text}
		case errors.Is(err, zk.ErrBadVersion):
			res[name] = clientStep{status: "BADVERSION"}
		default:
			res[name] = clientStep{status: err.Error()}
		}
	}
	text, err := harness.Reconfig(addr, []string{spec}, nil, -1)
	record("add", text, err)
	text, err = harness.Reconfig(addr, nil, []string{id}, staleVersion)
	record("stale", text, err)
	text, err = harness.Reconfig(addr, nil, []string{id}, -1)
	record("remove", text, err)
	return res
}

func javaReconfigClient(t *testing.T, addr, id, spec, stale string) map[string]clientStep {
	j := harness.RequireJava(t)
	classes := j.Compile(t, filepath.Join("java", "ReconfigClient.java"))
	cmd := j.Command(classes, "ReconfigClient", []string{"-Dorg.slf4j.simpleLogger.defaultLogLevel=error",
		"-Xmx256m", "-XX:TieredStopAtLevel=1"}, addr, id, spec, stale)
	return runStepsCmd(t, cmd)
}

func kazooReconfigClient(t *testing.T, addr, id, spec, stale string) map[string]clientStep {
	py := requireKazoo(t)
	script, err := filepath.Abs(filepath.Join("python", "kazoo_reconfig.py"))
	must(t, err)
	return runStepsCmd(t, exec.Command(py, script, addr, id, spec, stale))
}

func runStepsCmd(t *testing.T, cmd *exec.Cmd) map[string]clientStep {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	must(t, cmd.Start())
	timer := time.AfterFunc(90*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", cmd.Path, err, stdout.String(), stderr.String())
	}
	return parseSteps(stdout.String())
}

func zkCliReconfigClient(t *testing.T, addr, id, spec, stale string) map[string]clientStep {
	cmds := []string{"addauth digest super:" + harness.SuperPassword,
		"reconfig -add " + spec, "reconfig -v " + stale + " -remove " + id, "reconfig -remove " + id}
	out := runZkCli(t, addr, cmds)
	res := map[string]clientStep{}
	names := map[string]string{cmds[1]: "add", cmds[2]: "stale", cmds[3]: "remove"}
	for _, chunk := range strings.Split(out, "> ")[1:] {
		cmd, body, _ := strings.Cut(chunk, "\n")
		name := names[cmd]
		if name == "" {
			continue
		}
		switch {
		case strings.HasPrefix(body, "Committed new configuration:\n"):
			res[name] = clientStep{"OK", strings.TrimSpace(strings.TrimPrefix(body, "Committed new configuration:\n"))}
		case strings.Contains(body, "version No is not valid"):
			res[name] = clientStep{status: "BADVERSION"}
		default:
			res[name] = clientStep{status: strings.TrimSpace(body)}
		}
	}
	return res
}

func TestCompat_ReconfigClients(t *testing.T) {
	clients := []struct {
		name string
		run  reconfigClient
	}{
		{"go-zookeeper", gozkReconfigClient},
		{"java ZooKeeperAdmin", javaReconfigClient},
		{"zkCli.sh", zkCliReconfigClient},
		{"kazoo", kazooReconfigClient},
	}
	runReconfigRows(t, []reconfigRow{
		{"java single", "j+j", 1, false},
		{"java three", "jjj+j", 2, false},
		{"zkgo single", "z+z", 1, false},
		{"zkgo three", "zzz+z", 2, true},
		{"mixed via zkgo", "zjj+j", 1, false},
		{"mixed via java", "zjj+j", 2, true},
	}, func(t *testing.T, e *reconfEnsemble, via int64) {
		e.startInitial()
		members := e.initial()
		obs := members[len(members)-1] + 1 // the spare, never started
		spec := e.m.JoinLine(obs, true)
		for _, c := range clients {
			t.Run(c.name, func(t *testing.T) {
				before := e.waitConfig(members, cfgWant{ids: members})
				v0 := harness.ConfigVersion(before)
				got := c.run(t, e.addr(via), strconv.FormatInt(obs, 10), spec, v0)
				t.Logf("%s through %d: %+v", c.name, via, got)
				add, stale, remove := got["add"], got["stale"], got["remove"]
				withObs := e.m.ConfigText(harness.ConfigVersion(add.config), map[int64]bool{obs: true}, append(members, obs)...)
				if add.status != "OK" || add.config != withObs || !versionAfter(harness.ConfigVersion(add.config), v0) {
					t.Errorf("add observer %d: %+v, want OK and (version after %s):\n%s", obs, add, v0, withObs)
				}
				if stale.status != "BADVERSION" {
					t.Errorf("removal guarded by version %s: %+v, want BADVERSION", v0, stale)
				}
				without := e.m.ConfigText(harness.ConfigVersion(remove.config), nil, members...)
				if remove.status != "OK" || remove.config != without ||
					!versionAfter(harness.ConfigVersion(remove.config), harness.ConfigVersion(add.config)) {
					t.Errorf("remove observer %d: %+v, want OK and:\n%s", obs, remove, without)
				}
				if after := e.waitConfig(members, cfgWant{ids: members}); after != remove.config {
					t.Errorf("members serve (-client +members):\n%s", lineDiff(remove.config, after))
				}
			})
		}
		e.checkDisk(members, e.waitConfig(members, cfgWant{ids: members}))
		e.checkJavaLogs()
	})
}

// versionAfter reports whether hex config version a is above b.
func versionAfter(a, b string) bool {
	x, err1 := strconv.ParseInt(a, 16, 64)
	y, err2 := strconv.ParseInt(b, 16, 64)
	return err1 == nil && err2 == nil && x > y
}
