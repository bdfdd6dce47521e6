package compattest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/internal/zktls/zktlstest"
	"github.com/zkgo/zkgo/node"
	"github.com/zkgo/zkgo/wire"
)

// tlsTarget is a server with a TLS client port.
type tlsTarget struct {
	name      string
	addr      string // the TLS port
	plainAddr string // the plaintext port
	log       func() string
}

// javaNetty are the settings Java's server needs for TLS clients.
var javaNetty = map[string]string{"serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory"}

// startTLSTargets starts zkgo and Java 3.8 with the same ssl.* settings.
func startTLSTargets(t *testing.T, props map[string]string) []tlsTarget {
	t.Helper()
	ts, _ := startTLSTargetsZ(t, props)
	return ts
}

// startTLSTargetsZ is startTLSTargets, also returning the zkgo server.
func startTLSTargetsZ(t *testing.T, props map[string]string) ([]tlsTarget, *harness.Zkgo) {
	t.Helper()
	z := harness.StartZkgo(t, func(c *node.Config) {
		if c.Properties == nil {
			c.Properties = map[string]string{}
		}
		for k, v := range props {
			c.Properties["zookeeper."+k] = v
		}
		c.SecureClientPort = 1 // any: the harness listens on :0
	})
	jprops := map[string]string{"secureClientPort": strconv.Itoa(harness.FreePort(t))}
	for k, v := range javaNetty {
		jprops[k] = v
	}
	for k, v := range props {
		jprops[k] = v
	}
	j := harness.StartJavaZK(t, harness.JavaOptions{Props: jprops})
	plain := z.Addr
	if z.UnifiedAddr != "" {
		plain = z.UnifiedAddr // client.portUnification: the plaintext port takes TLS too
	}
	return []tlsTarget{
		{name: "zkgo", addr: z.SecureAddr, plainAddr: plain, log: func() string { return "" }},
		{name: "java", addr: "127.0.0.1:" + jprops["secureClientPort"], plainAddr: j.Addr, log: j.Log},
	}, z
}

// javaTLSArgs are the Java client's system properties for TLS with cert
// (nil: no client certificate).
func javaTLSArgs(certs *zktlstest.Set, client *zktlstest.Leaf, trust string) []string {
	a := []string{"-Dorg.slf4j.simpleLogger.defaultLogLevel=error", "-Xmx256m", "-XX:TieredStopAtLevel=1",
		"-Dzookeeper.client.secure=true", "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
		"-Dzookeeper.ssl.trustStore.location=" + trust, "-Dzookeeper.ssl.trustStore.type=PEM"}
	if client != nil {
		a = append(a, "-Dzookeeper.ssl.keyStore.location="+client.PEMPath, "-Dzookeeper.ssl.keyStore.type=PEM")
	}
	return a
}

func runJavaTLSClient(t *testing.T, j *harness.Java, classes string, jvm []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := j.Command(classes, "TLSClient", jvm, args...)
	cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("java TLS client: %v\n%s\n%s", err, out.String(), stderr.String())
	}
	return out.String()
}

func runKazooTLS(t *testing.T, py string, args ...string) string {
	t.Helper()
	return runKazooTLSWait(t, py, 8, args...)
}

// runKazooTLSWait is runKazooTLS giving up on a session after wait
// seconds (refusal cases).
func runKazooTLSWait(t *testing.T, py string, wait int, args ...string) string {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("python", "kazoo_tls.py"))
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("KAZOO_START_TIMEOUT=%d", wait))
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kazoo TLS: %v\n%s\n%s", err, out.String(), stderr.String())
	}
	return out.String()
}

// goTLSConn opens a go-zookeeper session over TLS.
func goTLSConn(t *testing.T, addr string, cfg *tls.Config) (*zk.Conn, error) {
	t.Helper()
	dialer := func(network, address string, timeout time.Duration) (net.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, network, address, cfg)
	}
	c, ev, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithDialer(dialer), zk.WithLogInfo(false),
		zk.WithLogger(quietLogger{}))
	if err != nil {
		return nil, err
	}
	deadline := time.After(8 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				return c, nil
			}
		case <-deadline:
			c.Close()
			return nil, errors.New("no session")
		}
	}
}

func clientTLS(t *testing.T, ca *x509.Certificate, leaf *zktlstest.Leaf) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	c := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	if leaf != nil {
		kp, err := tls.LoadX509KeyPair(leaf.CertPath, leaf.KeyPath)
		must(t, err)
		c.Certificates = []tls.Certificate{kp}
	}
	return c
}

// TestTLSClientsSameTranscript: the Java client (ClientCnxnSocketNetty,
// zookeeper.client.secure=true), kazoo (use_ssl, CA verified) and
// go-zookeeper over crypto/tls get the same answers from zkgo's and Java
// 3.8's TLS client ports, with PEM and with PKCS12 stores.
func TestTLSClientsSameTranscript(t *testing.T) {
	j := harness.RequireJava(t)
	py := requireKazoo(t)
	classes := j.Compile(t, filepath.Join("java", "TLSClient.java"))
	certs := zktlstest.NewSet(t)
	for _, store := range []string{"PEM", "PKCS12"} {
		t.Run(store, func(t *testing.T) {
			props := certs.ServerProps(nil)
			if store == "PKCS12" {
				props = map[string]string{
					"ssl.keyStore.location": certs.Server.P12Path, "ssl.keyStore.password": zktlstest.P12Password,
					"ssl.keyStore.type":       "PKCS12",
					"ssl.trustStore.location": certs.CA.TrustP12(t), "ssl.trustStore.password": zktlstest.P12Password,
					"ssl.trustStore.type": "PKCS12",
				}
			}
			got := map[string]string{}
			for _, tg := range startTLSTargets(t, props) {
				var b strings.Builder
				b.WriteString("java client:\n")
				b.WriteString(runJavaTLSClient(t, j, classes, javaTLSArgs(certs, certs.Client, certs.CA.PEMPath),
					tg.addr, "tls-java", "20"))
				b.WriteString("kazoo:\n")
				b.WriteString(runKazooTLS(t, py, tg.addr, "tls-kazoo", certs.CA.PEMPath, certs.Client.CertPath, certs.Client.KeyPath))
				c, err := goTLSConn(t, tg.addr, clientTLS(t, certs.CA.Cert, certs.Client))
				if err != nil {
					t.Fatalf("%s: go-zookeeper over TLS: %v\n%s", tg.name, err, tg.log())
				}
				data, st, err := c.Get("/tls-java")
				must(t, err)
				fmt.Fprintf(&b, "go-zookeeper: /tls-java=%s version %d\n", data, st.Version)
				c.Close()
				got[tg.name] = b.String()
			}
			if got["zkgo"] != got["java"] {
				t.Fatalf("transcripts differ:\n%s", lineDiff(got["java"], got["zkgo"]))
			}
			if !strings.Contains(got["zkgo"], "get: hello version 0") || strings.Count(got["zkgo"], "connect: ok") != 2 {
				t.Fatalf("unexpected transcript:\n%s", got["zkgo"])
			}
			t.Logf("transcript (both servers):\n%s", got["zkgo"])
		})
	}
}

// TestTLSRefusals: a client certificate from another CA, an expired one,
// none at all (ssl.clientAuth defaults to need) and a plaintext client on
// the TLS port get no session from either server, while a session opened
// before keeps working; zkgo logs why.
func TestTLSRefusals(t *testing.T) {
	j := harness.RequireJava(t)
	py := requireKazoo(t)
	classes := j.Compile(t, filepath.Join("java", "TLSClient.java"))
	certs := zktlstest.NewSet(t)
	other := zktlstest.NewCA(t, certs.Dir, "other-ca")
	stranger := other.Issue(t, zktlstest.LeafOptions{Subject: pkix.Name{CommonName: "stranger"}, Client: true, FileStem: "stranger"})
	expired := certs.CA.Issue(t, zktlstest.LeafOptions{Subject: pkix.Name{CommonName: "old"}, Client: true, Expired: true, FileStem: "expired"})
	targets, z := startTLSTargetsZ(t, certs.ServerProps(nil))
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			good, err := goTLSConn(t, tg.addr, clientTLS(t, certs.CA.Cert, certs.Client))
			if err != nil {
				t.Fatalf("good client: %v", err)
			}
			defer good.Close()
			_, err = good.Create("/survivor", []byte("x"), 0, zk.WorldACL(zk.PermAll))
			must(t, err)
			cases := []struct {
				name string
				leaf *zktlstest.Leaf
			}{{"wrong CA", stranger}, {"expired", expired}, {"no certificate", nil}}
			for _, c := range cases {
				// Java client and kazoo: no session.
				out := runJavaTLSClient(t, j, classes, javaTLSArgs(certs, c.leaf, certs.CA.PEMPath), tg.addr, "never", "3")
				if out != "connect: no session\n" {
					t.Errorf("%s, java client: %q", c.name, out)
				}
				args := []string{tg.addr, "never", certs.CA.PEMPath}
				if c.leaf != nil {
					args = append(args, c.leaf.CertPath, c.leaf.KeyPath)
				}
				if out := runKazooTLSWait(t, py, 3, args...); out != "connect: no session\n" {
					t.Errorf("%s, kazoo: %q", c.name, out)
				}
				// crypto/tls: the handshake or the first read fails.
				if err := tlsHandshakeAndConnect(tg.addr, clientTLS(t, certs.CA.Cert, c.leaf)); err == nil {
					t.Errorf("%s: a session was granted", c.name)
				}
			}
			// Java's default protocols are TLSv1.2 only: a client that
			// insists on TLS 1.3 is refused by both.
			only13 := clientTLS(t, certs.CA.Cert, certs.Client)
			only13.MinVersion = tls.VersionTLS13
			if err := tlsHandshakeAndConnect(tg.addr, only13); err == nil {
				t.Errorf("a TLS 1.3-only client got a session (ssl.protocol defaults to TLSv1.2)")
			}
			// A plaintext client on the TLS port gets no ConnectResponse.
			if err := plainConnect(tg.addr); err == nil {
				t.Errorf("plaintext client on the TLS port got a session")
			}
			// The session opened first is undisturbed.
			data, _, err := good.Get("/survivor")
			if err != nil || string(data) != "x" {
				t.Fatalf("good session after the refusals: %q %v", data, err)
			}
			if tg.name == "zkgo" {
				// Each refusal was a logged handshake failure
				// ("TLS handshake failed, closing the connection").
				if n := z.SecureFrontends()[0].HandshakeFailures(); n < 10 {
					t.Fatalf("%d handshake failures counted, want one per refused client (10 or more)", n)
				}
			} else if !strings.Contains(tg.log(), "Unsuccessful handshake") {
				t.Fatal("Java logged no handshake failure")
			}
		})
	}
}

// tlsHandshakeAndConnect dials, handshakes and asks for a session; nil
// means the server answered with one.
func tlsHandshakeAndConnect(addr string, cfg *tls.Config) error {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(8 * time.Second))
	tc := tls.Client(nc, cfg)
	if err := tc.Handshake(); err != nil {
		return err
	}
	return rawConnect(tc)
}

func plainConnect(addr string) error {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(8 * time.Second))
	return rawConnect(nc)
}

// rawConnect sends a ConnectRequest and reads a ConnectResponse.
func rawConnect(c net.Conn) error {
	req := wire.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)}
	if _, err := c.Write(wire.AppendConnect(nil, req, false, true)); err != nil {
		return err
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return err
	}
	n := int(hdr[0])<<24 | int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
	if n < 16 || n > 1<<16 {
		return fmt.Errorf("bad ConnectResponse length %d", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c, body); err != nil {
		return err
	}
	r, err := wire.DecodeConnectReply(body)
	if err != nil {
		return err
	}
	if r.SessionID == 0 {
		return errors.New("session refused")
	}
	return nil
}

// TestTLSPortUnification: with client.portUnification=true the plaintext
// client port also takes TLS clients (Java's DualModeSslHandler): the Java
// client and kazoo over TLS, kazoo in plaintext and a four-letter word all
// work on that one port, with the same transcript from zkgo and Java.
func TestTLSPortUnification(t *testing.T) {
	j := harness.RequireJava(t)
	py := requireKazoo(t)
	classes := j.Compile(t, filepath.Join("java", "TLSClient.java"))
	certs := zktlstest.NewSet(t)
	got := map[string]string{}
	for _, tg := range startTLSTargets(t, certs.ServerProps(map[string]string{"client.portUnification": "true"})) {
		var b strings.Builder
		b.WriteString("java client over TLS:\n")
		b.WriteString(runJavaTLSClient(t, j, classes, javaTLSArgs(certs, certs.Client, certs.CA.PEMPath),
			tg.plainAddr, "unified-java", "20"))
		b.WriteString("kazoo over TLS:\n")
		b.WriteString(runKazooTLS(t, py, tg.plainAddr, "unified-kazoo-tls", certs.CA.PEMPath, certs.Client.CertPath, certs.Client.KeyPath))
		if err := plainConnect(tg.plainAddr); err != nil {
			t.Fatalf("%s: plaintext client on the unified port: %v", tg.name, err)
		}
		b.WriteString("plaintext connect: ok\n")
		out, err := harness.FourLetter(tg.plainAddr, "ruok")
		if err != nil {
			t.Fatalf("%s: ruok: %v", tg.name, err)
		}
		fmt.Fprintf(&b, "ruok: %s\n", out)
		got[tg.name] = b.String()
	}
	if got["zkgo"] != got["java"] {
		t.Fatalf("transcripts differ:\n%s", lineDiff(got["java"], got["zkgo"]))
	}
	if strings.Count(got["zkgo"], "connect: ok") != 3 || !strings.Contains(got["zkgo"], "ruok: imok") {
		t.Fatalf("unexpected transcript:\n%s", got["zkgo"])
	}
}

// TestX509AuthProvider: with a TLS client port the x509 provider is
// registered (QuorumPeerConfig.configureSSLAuth): the client
// certificate's subject is the session's x509 id (whoAmI), x509 ACLs
// admit exactly that subject, X509AuthenticationProvider.superUser's
// certificate passes every ACL, and another certificate or a plaintext
// session is refused with NOAUTH, on zkgo as on Java 3.8.
func TestX509AuthProvider(t *testing.T) {
	j := harness.RequireJava(t)
	classes := j.Compile(t, filepath.Join("java", "TLSClient.java"))
	certs := zktlstest.NewSet(t)
	admin := certs.CA.Issue(t, zktlstest.LeafOptions{Subject: pkix.Name{CommonName: "admin", Organization: []string{"zkgo"}},
		Client: true, FileStem: "admin"})
	other := certs.CA.Issue(t, zktlstest.LeafOptions{Subject: pkix.Name{CommonName: "other"}, Client: true, FileStem: "other"})
	const clientID = "CN=client,O=zkgo"
	props := certs.ServerProps(map[string]string{"X509AuthenticationProvider.superUser": "CN=admin,O=zkgo",
		"clientPort": ""})
	delete(props, "clientPort")
	got := map[string]string{}
	for _, tg := range startTLSTargets(t, props) {
		var b strings.Builder
		b.WriteString(runJavaTLSClient(t, j, classes, javaTLSArgs(certs, certs.Client, certs.CA.PEMPath),
			tg.addr, "x509-java", "20", "whoami", clientID))
		check := func(who string, leaf *zktlstest.Leaf) {
			c, err := goTLSConn(t, tg.addr, clientTLS(t, certs.CA.Cert, leaf))
			if err != nil {
				t.Fatalf("%s %s: %v", tg.name, who, err)
			}
			defer c.Close()
			_, _, err = c.Get("/x509-java/x509")
			fmt.Fprintf(&b, "%s get: %v\n", who, errOrOK(err))
		}
		check("other certificate", other)
		check("super user certificate", admin)
		b.WriteString("java client with the super user's certificate:\n")
		b.WriteString(runJavaTLSClient(t, j, classes, javaTLSArgs(certs, admin, certs.CA.PEMPath),
			tg.addr, "x509-admin", "20", "whoami"))
		pc, _, err := zk.Connect([]string{tg.plainAddr}, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
		must(t, err)
		_, _, err = pc.Get("/x509-java/x509")
		fmt.Fprintf(&b, "plaintext get: %v\n", errOrOK(err))
		// The x509 scheme is registered: an x509 ACL is valid from a
		// plaintext session too.
		_, err = pc.Create("/x509-plain", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "x509", ID: "CN=nobody"}})
		fmt.Fprintf(&b, "plaintext create with an x509 ACL: %v\n", errOrOK(err))
		_, err = pc.Create("/x509-bad", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "x509", ID: "not a name"}})
		fmt.Fprintf(&b, "x509 ACL that is not a name: %v\n", errOrOK(err))
		// addauth x509 without a certificate: AUTHFAILED.
		err = pc.AddAuth("x509", []byte("CN=client,O=zkgo"))
		fmt.Fprintf(&b, "plaintext addauth x509: %v\n", errOrOK(err))
		pc.Close()
		got[tg.name] = b.String()
	}
	if got["zkgo"] != got["java"] {
		t.Fatalf("transcripts differ:\n%s", lineDiff(got["java"], got["zkgo"]))
	}
	for _, want := range []string{"whoami: x509 " + clientID, "x509 node: mine", "other certificate get: zk: not authenticated",
		"super user certificate get: ok", "plaintext get: zk: not authenticated"} {
		if !strings.Contains(got["zkgo"], want) {
			t.Fatalf("transcript lacks %q:\n%s", want, got["zkgo"])
		}
	}
	t.Logf("transcript (both servers):\n%s", got["zkgo"])
}

func errOrOK(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// TestTLSMaxClientCnxns: TLS connections count toward maxClientCnxns per
// client IP from the moment they are accepted, as plaintext ones do (and
// as Java's NettyServerCnxnFactory counts them before the handshake): past
// the limit a TLS client gets no session, and the sessions within it go
// on.
func TestTLSMaxClientCnxns(t *testing.T) {
	certs := zktlstest.NewSet(t)
	z := harness.StartZkgo(t, func(c *node.Config) {
		c.Properties = map[string]string{}
		for k, v := range certs.ServerProps(map[string]string{"ssl.clientAuth": "none"}) {
			c.Properties["zookeeper."+k] = v
		}
		c.SecureClientPort = 1
		c.MaxClientCnxns = 2
	})
	cfg := clientTLS(t, certs.CA.Cert, nil)
	var open []*zk.Conn
	for i := 0; i < 2; i++ {
		c, err := goTLSConn(t, z.SecureAddr, cfg)
		if err != nil {
			t.Fatalf("TLS session %d within the limit: %v", i, err)
		}
		defer c.Close()
		open = append(open, c)
	}
	if err := tlsHandshakeAndConnect(z.SecureAddr, cfg); err == nil {
		t.Fatal("a third TLS connection from the same IP got a session past maxClientCnxns=2")
	}
	// A plaintext connection from the same IP is refused too: one count.
	if err := plainConnect(z.Addr); err == nil {
		t.Fatal("a plaintext connection past the limit got a session")
	}
	for i, c := range open {
		if _, _, err := c.Exists("/"); err != nil {
			t.Fatalf("session %d after the refusals: %v", i, err)
		}
	}
}

// TestZkCliOverTLS: zkCli.sh with the Java client's TLS properties gets
// the same answers from zkgo's and Java 3.8's TLS ports, x509 ACLs
// included.
func TestZkCliOverTLS(t *testing.T) {
	if _, err := os.Stat(zkCli); err != nil {
		harness.Unavailable(t, "%s missing (apt-get install zookeeper)", zkCli)
	}
	j := harness.RequireJava(t)
	certs := zktlstest.NewSet(t)
	// Debian's zkCli.sh puts only zookeeper.jar on its class path; the
	// Netty client socket needs the Netty jars (a later -cp wins).
	flags := "-cp " + j.Classpath("/etc/zookeeper/conf") + " " +
		strings.Join(javaTLSArgs(certs, certs.Client, certs.CA.PEMPath)[3:], " ")
	// (zkCli splits ACLs on ',', so an x509 id with a comma cannot be
	// written there; the Java client test sets one.)
	cmds := []string{"create /tlscli hello", "get /tlscli", "whoami", "getAcl /tlscli", "set /tlscli world",
		"get -s /tlscli", "delete /tlscli", "ls /"}
	got := map[string]string{}
	for _, tg := range startTLSTargets(t, certs.ServerProps(nil)) {
		got[tg.name] = runZkCliFlags(t, tg.addr, cmds, flags)
	}
	if got["zkgo"] != got["java"] {
		t.Fatalf("zkCli.sh transcripts differ:\n%s", lineDiff(got["java"], got["zkgo"]))
	}
	for _, want := range []string{"> get /tlscli\nhello\n", "CN=client,O=zkgo"} {
		if !strings.Contains(got["zkgo"], want) {
			t.Fatalf("transcript lacks %q:\n%s", want, got["zkgo"])
		}
	}
	t.Logf("zkCli.sh over TLS (both servers):\n%s", got["zkgo"])
}

// TestTLS13Only: ssl.protocol=TLSv1.3 with the TLS 1.3 suites serves TLS
// 1.3 and refuses a TLS 1.2 client, on zkgo as on Java 3.8.
func TestTLS13Only(t *testing.T) {
	certs := zktlstest.NewSet(t)
	props := certs.ServerProps(map[string]string{"ssl.protocol": "TLSv1.3", "ssl.enabledProtocols": "TLSv1.3",
		"ssl.ciphersuites": "TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256"})
	for _, tg := range startTLSTargets(t, props) {
		cfg := clientTLS(t, certs.CA.Cert, certs.Client)
		nc, err := tls.Dial("tcp", tg.addr, cfg)
		if err != nil {
			t.Fatalf("%s: TLS 1.3 client: %v\n%s", tg.name, err, tg.log())
		}
		if v := nc.ConnectionState().Version; v != tls.VersionTLS13 {
			t.Errorf("%s: negotiated %s", tg.name, tls.VersionName(v))
		}
		if err := rawConnect(nc); err != nil {
			t.Errorf("%s: no session over TLS 1.3: %v", tg.name, err)
		}
		nc.Close()
		old := clientTLS(t, certs.CA.Cert, certs.Client)
		old.MaxVersion = tls.VersionTLS12
		if err := tlsHandshakeAndConnect(tg.addr, old); err == nil {
			t.Errorf("%s: a TLS 1.2 client got a session from a TLSv1.3-only server", tg.name)
		}
	}
}
