package compattest

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
)

// The AdminServer's quorum commands (leader, voting_view, zabstate,
// observers, the leader's proposal stats...) on a Java 3.8 ensemble and a
// zkgo ensemble: on the leader and on a follower, every command answers
// with the same keys and value types. The zkgo members also serve Java's
// Prometheus metrics, checked against the Java leader's and follower's
// registries (the quorum gauges and learner counters).
func TestCompat_AdminServerEnsemble(t *testing.T) {
	harness.SkipShort(t)
	java := harness.StartJavaEnsemble(t, harness.EnsembleOptions{Participants: 3, Observers: 1, Admin: true})
	jleader := java.WaitLeader(60 * time.Second)
	adminWorkload(t, java.Server(jleader).ClientAddr)

	bin := harness.BuildZkgo(t)
	m := harness.NewMixed(t, harness.MixedOptions{Members: []harness.MemberSpec{
		{ID: 1, Kind: harness.MemberExternal}, {ID: 2, Kind: harness.MemberExternal}, {ID: 3, Kind: harness.MemberExternal},
		{ID: 4, Kind: harness.MemberExternal, Observer: true}}})
	zports, mports := map[int64]int{}, map[int64]int{}
	for id := int64(1); id <= 4; id++ {
		m.Release(id)
		zports[id], mports[id] = harness.FreePort(t), harness.FreePort(t)
		f, err := os.OpenFile(m.ConfigPath(id), os.O_APPEND|os.O_WRONLY, 0)
		must(t, err)
		_, err = fmt.Fprintf(f, "admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=%d\n"+
			"metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n"+
			"metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=%d\n", zports[id], mports[id])
		must(t, err)
		must(t, f.Close())
		harness.StartZkgoProc(t, bin, m.ConfigPath(id), m.ClientAddr(id))
	}
	var zleader int64
	deadline := time.Now().Add(60 * time.Second)
	for zleader == 0 {
		followers := 0
		for id := int64(1); id <= 3; id++ {
			switch mode, _ := m.Mode(id); mode {
			case "leader":
				zleader = id
			case "follower":
				followers++
			}
		}
		if mode, _ := m.Mode(4); followers != 2 || mode != "observer" {
			zleader = 0
		}
		if zleader == 0 {
			if time.Now().After(deadline) {
				t.Fatal("no zkgo leader within 60s")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	adminWorkload(t, m.ClientAddr(zleader))
	if mode := java.WaitServing(4, 60*time.Second); mode != "observer" {
		t.Fatalf("Java server 4 serves as %s", mode)
	}
	jfollower, zfollower := jleader%3+1, zleader%3+1

	for _, p := range []struct {
		role       string
		java, zkgo int64
	}{{"leader", int64(jleader), zleader}, {"follower", int64(jfollower), zfollower}} {
		jtext, err := harness.FourLetter(java.Server(int(p.java)).ClientAddr, "mntr")
		must(t, err)
		ztext, err := harness.FourLetter(m.ClientAddr(p.zkgo), "mntr")
		must(t, err)
		checkJavaMetrics(t, p.role, jtext, "http://127.0.0.1:"+strconv.Itoa(mports[p.zkgo])+"/metrics", ztext)
	}

	base := func(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) }
	pairs := []struct {
		role       string
		java, zkgo string
	}{
		{"leader", base(java.Server(jleader).AdminPort), base(zports[zleader])},
		{"follower", base(java.Server(jfollower).AdminPort), base(zports[zfollower])},
	}
	names := adminNames(t, pairs[0].java)
	for _, p := range pairs {
		for _, name := range names {
			_, _, jb := adminGet(t, "GET", p.java+"/commands/"+name)
			_, _, zb := adminGet(t, "GET", p.zkgo+"/commands/"+name)
			var jv, zv map[string]any
			must(t, json.Unmarshal(jb, &jv))
			if err := json.Unmarshal(zb, &zv); err != nil {
				t.Errorf("%s %s: %v\n%s", p.role, name, err, zb)
				continue
			}
			if name == "monitor" || name == "system_properties" {
				continue // TestCompat_AdminServerJava compares their values
			}
			if name == "observers" && p.role == "leader" && (fmt.Sprint(jv["synced_observers"]) != "1" || fmt.Sprint(zv["synced_observers"]) != "1") {
				t.Errorf("leader observers: Java %s\nzkgo %s", jb, zb)
			}
			var diffs []string
			compareShape(name, jv, zv, &diffs)
			sort.Strings(diffs)
			for _, d := range diffs {
				t.Errorf("%s %s: %s", p.role, name, d)
			}
		}
	}
}
