package compattest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/node"
)

const saslServerJAAS = `Server {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_super="adminsecret"
       user_bob="bobsecret";
};
`

func clientJAAS(t *testing.T, user, password string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "client-jaas.conf")
	must(t, os.WriteFile(p, []byte(fmt.Sprintf(`Client {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       username="%s"
       password="%s";
};
`, user, password)), 0o600))
	return p
}

func runKazooSASL(t *testing.T, py string, args ...string) string {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("python", "kazoo_sasl.py"))
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, append([]string{script}, args...)...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kazoo SASL: %v\n%s\n%s", err, out.String(), stderr.String())
	}
	return out.String()
}

// TestSASLDigestMD5: client SASL with DIGEST-MD5 from a JAAS Server
// section, the sasl ACL scheme (SASLAuthenticationProvider) and
// superUser, against zkgo and Java 3.8 with the same transcript: the Java
// client (JAAS Client section) and kazoo (pure-sasl) authenticate as bob,
// whoAmI shows sasl:bob, a node with a sasl:bob ACL is refused to a
// session without SASL and allowed to the SASL super user; a wrong
// password is refused (AUTHFAILED, connection closed) and an unknown user
// too, and other sessions go on.
func TestSASLDigestMD5(t *testing.T) {
	j := harness.RequireJava(t)
	py := requireKazoo(t)
	classes := j.Compile(t, filepath.Join("java", "TLSClient.java"))
	props := map[string]string{
		"authProvider.1": "org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
		"superUser":      "super",
	}
	z, jz := startSASLPair(t, props, "")
	javaArgs := func(user, password string) []string {
		return []string{"-Dorg.slf4j.simpleLogger.defaultLogLevel=error", "-Xmx256m", "-XX:TieredStopAtLevel=1",
			"-Djava.security.auth.login.config=" + clientJAAS(t, user, password)}
	}
	got := map[string]string{}
	for _, tg := range []target{{name: "zkgo", addr: z.Addr}, {name: "java", addr: jz.Addr}} {
		var b strings.Builder
		other, _, err := zk.Connect([]string{tg.addr}, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
		must(t, err)
		_, err = other.Create("/bystander", []byte("x"), 0, zk.WorldACL(zk.PermAll))
		must(t, err)
		b.WriteString("java client as bob:\n")
		b.WriteString(runJavaTLSClient(t, j, classes, javaArgs("bob", "bobsecret"), tg.addr, "sasl-java", "20", "whoami"))
		b.WriteString("kazoo as bob:\n")
		b.WriteString(runKazooSASL(t, py, tg.addr, "sasl-kazoo", "bob", "bobsecret"))
		b.WriteString("kazoo, wrong password:\n")
		b.WriteString(runKazooSASL(t, py, tg.addr, "never", "bob", "wrong"))
		b.WriteString("kazoo, unknown user:\n")
		b.WriteString(runKazooSASL(t, py, tg.addr, "never", "eve", "x"))
		b.WriteString("java client, wrong password:\n")
		b.WriteString(runJavaTLSClient(t, j, classes, javaArgs("bob", "wrong"), tg.addr, "never", "20"))
		_, _, err = other.Get("/sasl-kazoo")
		fmt.Fprintf(&b, "no SASL, get /sasl-kazoo: %v\n", errOrOK(err))
		// setACL with a sasl id is valid (the provider is registered).
		_, err = other.Create("/sasl-acl", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "sasl", ID: "carol"}})
		fmt.Fprintf(&b, "create with sasl:carol: %v\n", errOrOK(err))
		_, err = other.Create("/sasl-bad", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "sasl", ID: "a@b@c"}})
		fmt.Fprintf(&b, "create with sasl:a@b@c: %v\n", errOrOK(err))
		b.WriteString("kazoo as super:\n")
		b.WriteString(runKazooSASL(t, py, tg.addr, "sasl-super", "super", "adminsecret"))
		data, _, err := other.Get("/bystander")
		fmt.Fprintf(&b, "bystander session: %s %v\n", data, errOrOK(err))
		other.Close()
		got[tg.name] = b.String()
	}
	if got["zkgo"] != got["java"] {
		t.Fatalf("transcripts differ:\n%s", lineDiff(got["java"], got["zkgo"]))
	}
	for _, want := range []string{"whoami: sasl bob", "get: only bob", "error: AuthFailedError", "no SASL, get /sasl-kazoo: zk: not authenticated",
		"bystander session: x ok", "super reads /sasl-kazoo: only bob"} {
		if !strings.Contains(got["zkgo"], want) {
			t.Fatalf("transcript lacks %q:\n%s", want, got["zkgo"])
		}
	}
	t.Logf("transcript (both servers):\n%s", got["zkgo"])
}

// TestSASLEnforced: enforce.auth.enabled=true with enforce.auth.schemes=sasl
// admits only SASL sessions: kazoo as bob works, a session without SASL
// and one with a wrong password are refused, on zkgo as on Java 3.8.
func TestSASLEnforced(t *testing.T) {
	py := requireKazoo(t)
	jaas := filepath.Join(t.TempDir(), "jaas.conf")
	must(t, os.WriteFile(jaas, []byte(saslServerJAAS), 0o600))
	props := map[string]string{
		"authProvider.1":       "org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
		"enforce.auth.enabled": "true",
		"enforce.auth.schemes": "sasl",
	}
	z := harness.StartZkgo(t, func(c *node.Config) {
		c.SetJAASFile(jaas)
		for k, v := range props {
			c.Properties["zookeeper."+k] = v
		}
		c.EnforceAuth, c.EnforceAuthSchemes = true, []string{"sasl"}
		c.SetJAASFile(jaas)
	})
	jz := harness.StartJavaZK(t, harness.JavaOptions{Props: props,
		SysProp: map[string]string{"java.security.auth.login.config": jaas}})
	got := map[string]string{}
	for _, tg := range []target{{name: "zkgo", addr: z.Addr}, {name: "java", addr: jz.Addr}} {
		var b strings.Builder
		b.WriteString(runKazooSASL(t, py, tg.addr, "enforced", "bob", "bobsecret"))
		b.WriteString(runKazooSASL(t, py, tg.addr, "never", "bob", "wrong"))
		c, _, err := zk.Connect([]string{tg.addr}, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}),
			zk.WithMaxConnBufferSize(1<<20))
		must(t, err)
		_, _, err = c.Get("/enforced")
		fmt.Fprintf(&b, "no SASL: %v\n", err != nil)
		c.Close()
		got[tg.name] = b.String()
	}
	if got["zkgo"] != got["java"] {
		t.Fatalf("transcripts differ:\n%s", lineDiff(got["java"], got["zkgo"]))
	}
	if !strings.Contains(got["zkgo"], "get: only bob") || !strings.Contains(got["zkgo"], "no SASL: true") {
		t.Fatalf("transcript:\n%s", got["zkgo"])
	}
	t.Logf("transcript (both servers):\n%s", got["zkgo"])
}

// startSASLPair starts zkgo and Java 3.8 with the client SASL server
// JAAS file (saslServerJAAS) and the zoo.cfg properties props (each also
// as a zookeeper.* system property for zkgo, as Java reads them); heap is
// Java's ("" for the harness default).
func startSASLPair(t *testing.T, props map[string]string, heap string) (*harness.Zkgo, *harness.JavaZK) {
	t.Helper()
	jaas := filepath.Join(t.TempDir(), "jaas.conf")
	must(t, os.WriteFile(jaas, []byte(saslServerJAAS), 0o600))
	z := harness.StartZkgo(t, func(c *node.Config) {
		if c.Properties == nil {
			c.Properties = map[string]string{}
		}
		for k, v := range props {
			c.Properties["zookeeper."+k] = v
		}
		c.SetJAASFile(jaas)
	})
	jz := harness.StartJavaZK(t, harness.JavaOptions{Heap: heap, Props: props,
		SysProp: map[string]string{"java.security.auth.login.config": jaas}})
	return z, jz
}
