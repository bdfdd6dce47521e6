package compattest

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
)

// gozkClusterConfig is the zoo.cfg go-zookeeper's own test cluster writes
// (v1.0.4 and its main branch alike: ServerConfig.Marshall in
// server_java_test.go, called by StartTestCluster in server_help_test.go
// with only DataDir, ClientPort and the server list set), line for line:
// the admin server off, dataDir, the default tickTime (500), initLimit
// (10) and syncLimit (5), clientPort, reconfigEnabled=true, every
// four-letter word; then, for two servers or more only,
// standaloneEnabled=false and "server.N=host:peerPort:electionPort" lines
// (no role, no client address). One server gets no server line at all,
// so it runs standalone.
func gozkClusterConfig(dataDir string, clientPort int, servers []string) string {
	var b strings.Builder
	b.WriteString("admin.enableServer=false\n")
	fmt.Fprintf(&b, "dataDir=%s\n", dataDir)
	b.WriteString("tickTime=500\ninitLimit=10\nsyncLimit=5\n")
	fmt.Fprintf(&b, "clientPort=%d\n", clientPort)
	b.WriteString("reconfigEnabled=true\n4lw.commands.whitelist=*\n")
	if len(servers) < 2 {
		return b.String()
	}
	b.WriteString("standaloneEnabled=false\n")
	for _, s := range servers {
		b.WriteString(s + "\n")
	}
	return b.String()
}

// gozkSysProps are the JVM flags go-zookeeper's NewIntegrationTestServer
// starts Java with (SERVER_JVMFLAGS): the super user (password "test"),
// TTL nodes.
var gozkSysProps = map[string]string{
	"zookeeper.DigestAuthenticationProvider.superDigest": "super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
	"zookeeper.extendedTypesEnabled":                     "true",
	"zookeeper.emulate353TTLNodes":                       "true",
}

// TestCompat_GozkClusterConfig (issue 17, Done when): zoo.cfg files
// written exactly as go-zookeeper's test cluster writes them, for 1, 3 and
// 5 servers, start all-Java, all-zkgo and mixed ensembles that serve
// writes on every member with one configuration. The one-server file has
// no server line: Java and zkgo both run it standalone, with
// reconfigEnabled=true (zkgo takes it there today). The multi-server rows
// with zkgo members are gated on harness.ZkgoReconfig: until zkgo takes
// reconfigEnabled=true for a quorum member they check that it refuses the
// file naming reconfigEnabled, and that the same file without that line
// is accepted (the report: the one line is what stops zkgo).
func TestCompat_GozkClusterConfig(t *testing.T) {
	harness.RequireJava(t)
	rows := []string{"j", "z", "jjj", "zzz", "zjz", "jjjjj", "jzjzj"}
	if reconfigAllRows() {
		rows = append(rows, "zzzzz")
	}
	for _, kinds := range rows {
		t.Run(kinds, func(t *testing.T) {
			specs, kind := parseKinds(t, kinds)
			m := harness.NewMixed(t, harness.MixedOptions{Members: specs, SysProps: gozkSysProps})
			e := &reconfEnsemble{t: t, m: m, kind: kind, zk: map[int64]*harness.Zkgo{}, begun: time.Now()}
			var servers []string
			for _, id := range e.ids() {
				servers = append(servers, fmt.Sprintf("server.%d=%s:%d", id, m.QuorumAddr(id), portOf(t, m.ElectionAddr(id))))
			}
			for _, id := range e.ids() {
				cfg := gozkClusterConfig(m.DataDir(id), portOf(t, m.ClientAddr(id)), servers)
				must(t, os.WriteFile(m.ConfigPath(id), []byte(cfg), 0o644))
			}
			if len(servers) > 1 && e.hasZkgo() && !harness.ZkgoReconfig() {
				e.checkZkgoRefuses()
				for _, id := range e.ids() {
					if kind[id] != 'z' {
						continue
					}
					b, err := os.ReadFile(m.ConfigPath(id))
					must(t, err)
					without := filepath.Join(t.TempDir(), "zoo.cfg")
					must(t, os.WriteFile(without, []byte(strings.Replace(string(b), "reconfigEnabled=true\n", "", 1)), 0o644))
					if err := harness.ZkgoAccepts(without); err != nil {
						t.Errorf("zkgo member %d refuses the file without reconfigEnabled=true too: %v", id, err)
					}
				}
				return
			}
			ids := e.ids()
			for i := len(ids) - 1; i >= 0; i-- {
				e.start(ids[i])
			}
			if len(ids) == 1 {
				checkFor(t, 60*time.Second, func() bool { return e.mode(1) == "standalone" }, "a standalone server")
			} else {
				e.waitLeader(ids, nil)
			}
			// go-zookeeper's ConnectAll: one session over every member.
			var addrs []string
			for _, id := range ids {
				addrs = append(addrs, e.addr(id))
			}
			c, _, err := zk.Connect(addrs, 15*time.Second, zk.WithLogger(quietLogger{}))
			must(t, err)
			defer c.Close()
			_, err = c.Create("/gozk", []byte(kinds), 0, open)
			must(t, err)
			var first string
			for _, id := range ids {
				one := zkConn(t, e.addr(id))
				_, err := one.Sync("/gozk")
				must(t, err)
				waitData(t, one, "/gozk", []byte(kinds))
				cfg, _, err := one.Get("/zookeeper/config")
				must(t, err)
				if len(ids) == 1 {
					// Standalone: no configuration (Java serves an empty
					// /zookeeper/config).
					if len(cfg) != 0 {
						t.Errorf("standalone member: /zookeeper/config %q, want empty", cfg)
					}
					continue
				}
				if got := harness.ServerLines(string(cfg)); len(got) != len(ids) {
					t.Errorf("member %d: /zookeeper/config %q does not list the %d servers", id, cfg, len(ids))
				}
				if first == "" {
					first = string(cfg)
				} else if string(cfg) != first {
					t.Errorf("member %d: /zookeeper/config differs from member %d's (-first +this):\n%s", id, ids[0], lineDiff(first, string(cfg)))
				}
			}
			// Java moves the servers of a static-only zoo.cfg with
			// reconfigEnabled=true into a dynamic file, zoo.cfg names it.
			if len(ids) > 1 {
				for _, id := range ids {
					checkFor(t, 20*time.Second, func() bool {
						dc, err := m.ReadDiskConfig(id)
						return err == nil && dc.DynamicPath != "" && maps.Equal(dc.Servers, harness.ServerLines(first))
					}, fmt.Sprintf("member %d's dynamic file with the served configuration", id))
				}
			}
			e.checkJavaLogs()
		})
	}
}
