package compattest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/internal/testutil"
)

// Issue 20, point 5: the JSON log of `zkgo server` (stderr not a terminal)
// is one strict JSON object per line, each key once. A 3-node ensemble of
// zkgo processes at debug level goes through elections, a follower restart
// and a leader kill; every line of every member is then parsed with a
// decoder that rejects duplicate keys, and carries the member's myid once.
func TestIntegration_LogsStrictJSON(t *testing.T) {
	bin := harness.BuildZkgo(t)
	m := harness.NewMixed(t, harness.MixedOptions{Members: []harness.MemberSpec{
		{ID: 1, Kind: harness.MemberExternal}, {ID: 2, Kind: harness.MemberExternal}, {ID: 3, Kind: harness.MemberExternal}}})
	procs := map[int64]*harness.ZkgoProc{}
	start := func(id int64) {
		m.Release(id)
		procs[id] = harness.StartZkgoProc(t, bin, m.ConfigPath(id), m.ClientAddr(id), "--log-level", "debug")
	}
	leader := func(among ...int64) int64 {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			modes := map[int64]string{}
			var lead []int64
			followers := 0
			for _, id := range among {
				mode, _ := m.Mode(id)
				modes[id] = mode
				switch mode {
				case "leader":
					lead = append(lead, id)
				case "follower":
					followers++
				}
			}
			if len(lead) == 1 && followers == len(among)-1 {
				return lead[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("no leader among %v within 60s: %v", among, modes)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for id := int64(1); id <= 3; id++ {
		start(id)
	}
	first := leader(1, 2, 3)
	c := zkConn(t, m.ClientAddr(first))
	_, err := c.Create("/logs", []byte("x"), 0, open)
	must(t, err)
	c.Close()

	follower := first%3 + 1
	procs[follower].Kill()
	start(follower)
	leader(1, 2, 3)

	procs[first].Kill()
	var rest []int64
	for id := int64(1); id <= 3; id++ {
		if id != first {
			rest = append(rest, id)
		}
	}
	leader(rest...)
	start(first)
	leader(1, 2, 3)
	for _, p := range procs {
		if err := p.Term(); err != nil {
			t.Errorf("zkgo exit: %v", err)
		}
	}

	components := map[string]int{}
	for id := int64(1); id <= 3; id++ {
		b, err := os.ReadFile(m.ConfigPath(id) + ".log")
		must(t, err)
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
		n := 0
		for sc.Scan() {
			line := sc.Bytes()
			n++
			if err := testutil.StrictJSON(line); err != nil {
				t.Errorf("member %d line %d: %v\n%s", id, n, err, line)
				continue
			}
			var rec map[string]any
			must(t, json.Unmarshal(line, &rec))
			if got := fmt.Sprint(rec["myid"]); got != fmt.Sprint(id) {
				t.Errorf("member %d line %d: myid %q\n%s", id, n, got, line)
			}
			for _, k := range []string{"level", "time", "message"} {
				if _, ok := rec[k]; !ok {
					t.Errorf("member %d line %d: no %q\n%s", id, n, k, line)
				}
			}
			if comp, ok := rec["component"].(string); ok {
				components[comp]++
			}
		}
		must(t, sc.Err())
		if n == 0 {
			t.Errorf("member %d logged nothing", id)
		}
	}
	// The run must have gone through the code whose lines repeated keys.
	for _, comp := range []string{"server", "election", "frontend"} {
		if components[comp] == 0 {
			t.Errorf("no %s lines (%v)", comp, components)
		}
	}
	t.Logf("lines by component: %v", components)
}
