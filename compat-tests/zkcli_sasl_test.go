package compattest

import (
	"os"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/compat-tests/harness"
)

// TestZkCliSASL runs zkCli.sh with SASL DIGEST-MD5 the way Java documents
// it (a JAAS Client section named by -Djava.security.auth.login.config in
// CLIENT_JVMFLAGS) against zkgo and Java 3.8 and requires the same
// transcript: as bob, whoami, a create with a sasl:bob ACL, getAcl and
// reads; with a wrong password every request fails AuthFailed; without
// SASL the node is refused; as bob again the node is still his.
func TestZkCliSASL(t *testing.T) {
	if _, err := os.Stat(zkCli); err != nil {
		harness.Unavailable(t, "%s missing (apt-get install zookeeper)", zkCli)
	}
	harness.RequireJava(t)
	props := map[string]string{"authProvider.1": "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"}
	z, jz := startSASLPair(t, props, "256m")
	login := func(user, password string) string {
		return "-Djava.security.auth.login.config=" + clientJAAS(t, user, password)
	}
	got := map[string]string{}
	for _, tg := range []target{{name: "zkgo", addr: z.Addr}, {name: "java", addr: jz.Addr}} {
		var b strings.Builder
		b.WriteString("# as bob\n")
		b.WriteString(runZkCliFlags(t, tg.addr, []string{
			"whoami",
			"create /zs secret sasl:bob:cdrwa",
			"getAcl /zs",
			"get /zs",
			"create /zs/c child",
			"set /zs changed",
		}, login("bob", "bobsecret")))
		b.WriteString("# bob, wrong password\n")
		b.WriteString(runZkCliFlags(t, tg.addr, []string{"get /zs", "set /zs stolen", "getAcl /zs"}, login("bob", "wrong")))
		b.WriteString("# no SASL\n")
		b.WriteString(runZkCliFlags(t, tg.addr, []string{"whoami", "get /zs", "set /zs stolen", "getAcl /zs"}, ""))
		b.WriteString("# as bob again\n")
		b.WriteString(runZkCliFlags(t, tg.addr, []string{"get /zs", "ls /zs"}, login("bob", "bobsecret")))
		got[tg.name] = b.String()
	}
	if got["zkgo"] != got["java"] {
		t.Fatalf("zkCli transcripts differ (- java, + zkgo):\n%s", lineDiff(got["java"], got["zkgo"]))
	}
	for _, want := range []string{
		"> whoami\nAuth scheme: User\nsasl: bob\n",
		"> getAcl /zs\n'sasl,'bob\n: cdrwa\n",
		"# bob, wrong password\n> get /zs\nKeeperErrorCode = AuthFailed for /zs\n",
		"# no SASL\n> whoami\nAuth scheme: User\nip: 127.0.0.1\n> get /zs\nInsufficient permission : /zs\n",
		"> set /zs stolen\nInsufficient permission : /zs\n",
		"# as bob again\n> get /zs\nchanged\n> ls /zs\n[c]\n",
	} {
		if !strings.Contains(got["zkgo"], want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
	t.Logf("transcript (both servers):\n%s", got["zkgo"])
}
