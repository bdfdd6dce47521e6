package compattest

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/node"
)

// TestDumpToolsReadJavaAndZkgoFiles runs `zkgo snapshot dump` and `zkgo
// txnlog dump` (text and JSON) on data directories written by Java 3.8 and
// by zkgo.
func TestDumpToolsReadJavaAndZkgoFiles(t *testing.T) {
	bin := harness.BuildZkgo(t)
	javaDir := filepath.Join(t.TempDir(), "java")
	j := harness.StartJavaZK(t, harness.JavaOptions{DataDir: javaDir, SysProp: map[string]string{"zookeeper.snapCount": "20"}})
	zkgoDir := filepath.Join(t.TempDir(), "zkgo")
	z := harness.StartZkgo(t, func(c *node.Config) { c.DataDir = zkgoDir; c.SnapCount = 20 })
	for _, addr := range []string{j.Addr, z.Addr} {
		c, _ := connect(t, addr, 10*time.Second)
		for i := 0; i < 60; i++ {
			_, err := c.Create("/tool-"+strings.Repeat("x", i%5)+string(rune('a'+i%26))+string(rune('a'+i/26)), []byte("v"), 0, open)
			must(t, err)
		}
		c.Close()
	}
	time.Sleep(500 * time.Millisecond) // let background snapshots finish
	j.Stop()
	z.Stop()
	for name, dir := range map[string]string{"java": javaDir, "zkgo": zkgoDir} {
		snaps, _ := filepath.Glob(filepath.Join(dir, "version-2", "snapshot.*"))
		logs, _ := filepath.Glob(filepath.Join(dir, "version-2", "log.*"))
		if len(snaps) == 0 || len(logs) == 0 {
			t.Fatalf("%s: no files (%v %v)", name, snaps, logs)
		}
		sort.Strings(snaps)
		sort.Strings(logs)
		for _, s := range snaps {
			out, err := exec.Command(bin, "snapshot", "dump", s).Output()
			if err != nil || !strings.Contains(string(out), "ZNode Details (count=") || !strings.Contains(string(out), "\n/zookeeper\n") {
				t.Fatalf("%s: snapshot dump %s: %v\n%s", name, s, err, out)
			}
			out, err = exec.Command(bin, "snapshot", "dump", "--json", s).Output()
			if err != nil {
				t.Fatalf("%s: snapshot dump --json %s: %v", name, s, err)
			}
			checkJSONLines(t, out)
		}
		txns := 0
		for _, l := range logs {
			out, err := exec.Command(bin, "txnlog", "dump", l).Output()
			if err != nil || !strings.Contains(string(out), "EOF reached after") {
				t.Fatalf("%s: txnlog dump %s: %v\n%s", name, l, err, out)
			}
			txns += strings.Count(string(out), " zxid 0x")
			out, err = exec.Command(bin, "txnlog", "dump", "--json", l).Output()
			if err != nil {
				t.Fatalf("%s: txnlog dump --json %s: %v", name, l, err)
			}
			checkJSONLines(t, out)
		}
		if txns < 61 {
			t.Fatalf("%s: only %d txns printed", name, txns)
		}
	}
}

func checkJSONLines(t *testing.T, out []byte) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, l)
		}
	}
}
