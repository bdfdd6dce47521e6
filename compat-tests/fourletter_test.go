package compattest

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/node"
)

// shape reduces a 4lw answer to its structure: the key of each line
// (text before the first ':', '=', TAB or digit), so that values may
// differ but layouts must not.
func shape(out string) []string {
	var keys []string
	for _, l := range strings.Split(out, "\n") {
		k := l
		if i := strings.IndexAny(l, ":=\t"); i >= 0 {
			k = l[:i+1]
		}
		k = regexp.MustCompile(`0x[0-9a-f]+`).ReplaceAllString(k, "0xN")
		k = regexp.MustCompile(`[0-9]+`).ReplaceAllString(k, "N")
		keys = append(keys, k)
	}
	return keys
}

func TestFourLetterWordsMatchJava(t *testing.T) {
	z := harness.StartZkgo(t, nil)
	j := harness.StartJavaZK(t, harness.JavaOptions{})
	for _, addr := range []string{z.Addr, j.Addr} {
		c, _ := connect(t, addr, 10*time.Second)
		_, err := c.Create("/fl", []byte("x"), 0, open)
		must(t, err)
		_, _, _, err = c.GetW("/fl")
		must(t, err)
		_, err = c.Create("/fl/e", nil, zk.FlagEphemeral, open)
		must(t, err)
	}
	same := []string{"ruok", "srvr", "stat", "conf", "wchs", "wchc", "wchp", "isro", "dirs", "crst", "srst", "envi", "gtmk"}
	for _, cmd := range same {
		zo, err := harness.FourLetter(z.Addr, cmd)
		must(t, err)
		jo, err := harness.FourLetter(j.Addr, cmd)
		must(t, err)
		zs, js := shape(zo), shape(jo)
		if strings.Join(zs, "|") != strings.Join(js, "|") {
			t.Errorf("%s layout differs\nzkgo: %q\njava: %q", cmd, zo, jo)
		}
	}
	// mntr: every key zkgo prints exists in Java's output, and the keys
	// monitoring systems read are all there.
	zo, _ := harness.FourLetter(z.Addr, "mntr")
	jo, _ := harness.FourLetter(j.Addr, "mntr")
	javaKeys := map[string]bool{}
	for _, l := range strings.Split(jo, "\n") {
		if k, _, ok := strings.Cut(l, "\t"); ok {
			javaKeys[k] = true
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(zo), "\n") {
		k, _, ok := strings.Cut(l, "\t")
		if !ok || !javaKeys[k] {
			t.Errorf("mntr line %q has no Java counterpart", l)
		}
	}
	for _, k := range []string{"zk_version", "zk_server_state", "zk_avg_latency", "zk_max_latency", "zk_min_latency",
		"zk_packets_received", "zk_packets_sent", "zk_num_alive_connections", "zk_outstanding_requests",
		"zk_znode_count", "zk_watch_count", "zk_ephemerals_count", "zk_approximate_data_size"} {
		if !strings.Contains(zo, k+"\t") {
			t.Errorf("mntr lacks %s", k)
		}
	}
	// Same node count and data size as Java for the same tree.
	for _, k := range []string{"zk_znode_count", "zk_ephemerals_count", "zk_approximate_data_size", "zk_watch_count"} {
		if mntrValue(zo, k) != mntrValue(jo, k) {
			t.Errorf("%s: zkgo %s, java %s", k, mntrValue(zo, k), mntrValue(jo, k))
		}
	}
	// A command outside the whitelist.
	z2 := harness.StartZkgo(t, func(c *node.Config) { c.FourLetterWords = []string{"ruok"} })
	out, _ := harness.FourLetter(z2.Addr, "mntr")
	if out != "mntr is not executed because it is not in the whitelist.\n" {
		t.Errorf("not whitelisted: %q", out)
	}
	if out, _ := harness.FourLetter(z2.Addr, "srvr"); !strings.HasPrefix(out, "Zookeeper version: ") {
		t.Errorf("srvr must always be allowed: %q", out)
	}
}

func mntrValue(out, key string) string {
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "\t"); ok && k == key {
			return v
		}
	}
	return ""
}

// go-zookeeper's four-letter-word helpers parse zkgo's answers.
func TestFourLetterGoZKParsers(t *testing.T) {
	z := harness.StartZkgo(t, nil)
	c, _ := connect(t, z.Addr, 10*time.Second)
	_, err := c.Create("/x", nil, 0, open)
	must(t, err)
	if ok := zk.FLWRuok([]string{z.Addr}, 5*time.Second); len(ok) != 1 || !ok[0] {
		t.Fatal("FLWRuok")
	}
	stats, ok := zk.FLWSrvr([]string{z.Addr}, 5*time.Second)
	if !ok || stats[0].Error != nil {
		t.Fatalf("FLWSrvr: %+v", stats[0])
	}
	if stats[0].Mode != zk.ModeStandalone || stats[0].NodeCount != 6 || stats[0].Version == "" {
		t.Fatalf("FLWSrvr fields: %+v", stats[0])
	}
	// FLWCons reports ok=false against Java as well: the admin connection's
	// own line has no session and does not match its pattern. The session
	// lines must parse.
	cons, _ := zk.FLWCons([]string{z.Addr}, 5*time.Second)
	if cons[0].Error != nil || len(cons[0].Clients) != 1 || cons[0].Clients[0].SessionID != c.SessionID() {
		t.Fatalf("FLWCons: %+v %v %+v want sid %x", cons[0], cons[0].Error, cons[0].Clients[0], c.SessionID())
	}
}
