package compattest

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
)

// python3 is Debian's interpreter, where python3-kazoo is installed.
const python3 = "/usr/bin/python3"

// requireKazoo returns the interpreter, or skips/fails t when kazoo is
// missing.
func requireKazoo(t *testing.T) string {
	t.Helper()
	if err := exec.Command(python3, "-c", "import kazoo.client").Run(); err != nil {
		harness.Unavailable(t, "%s cannot import kazoo (apt-get install python3-kazoo): %v", python3, err)
	}
	return python3
}

// TestKazooScenario runs python/kazoo_scenario.py (Lock recipe,
// DataWatch/ChildrenWatch callbacks, transactions, ephemeral sequential
// nodes) against both servers and requires the same transcript.
func TestKazooScenario(t *testing.T) {
	py := requireKazoo(t)
	script, err := filepath.Abs(filepath.Join("python", "kazoo_scenario.py"))
	must(t, err)
	got := map[string]string{}
	var runs []target
	for _, tg := range servingTargets(t) {
		// Each server directly, then through `zkgo proxy` (same transcript).
		runs = append(runs, tg, target{name: tg.name + "-proxy", addr: tg.addr})
	}
	for _, tg := range runs {
		t.Run(tg.name, func(t *testing.T) {
			addr := tg.addr
			if strings.HasSuffix(tg.name, "-proxy") {
				wipeTree(t, tg.addr)
				addr = startZKProxy(t, nil, tg.addr).Addr().String()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, py, script, addr)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			got[tg.name] = stdout.String()
			if err != nil {
				t.Fatalf("kazoo scenario: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			if stderr.Len() > 0 {
				t.Logf("kazoo stderr:\n%s", stderr.String())
			}
			// Outcomes any correct server must produce, checked on both.
			for _, want := range []string{
				"contended: overlaps=0 badversion=0 errors=[] counter=30 version=30",
				"bad check: ['RolledBackError', 'BadVersionError']",
				"delete missing: ['RolledBackError', 'NoNodeError', 'RuntimeInconsistency']",
				"DataWatch after delete: data=None stat={None} event=DELETED",
				"ChildrenWatch after owner of c2 closed: [] event=CHILD",
				"## done",
			} {
				if !strings.Contains(stdout.String(), want+"\n") {
					t.Errorf("transcript lacks %q\n%s", want, stdout.String())
				}
			}
		})
	}
	if z, j := got["zkgo"], got["java"]; z != "" && j != "" && z != j {
		t.Errorf("kazoo transcripts differ (- java, + zkgo)\n%s", lineDiff(j, z))
	}
	for _, name := range []string{"zkgo", "java"} {
		if d, p := got[name], got[name+"-proxy"]; d != "" && p != "" && d != p {
			t.Errorf("%s: kazoo transcripts differ through the proxy (- direct, + proxy)\n%s", name, lineDiff(d, p))
		}
	}
}
