package compattest

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/internal/zktls"
	"github.com/zkgo/zkgo/internal/zktls/zktlstest"
	"github.com/zkgo/zkgo/proxy"
)

// writeSSLFile writes a file of ssl.* settings as `zkgo proxy
// --tls-config` and `--upstream-tls-config` read them.
func writeSSLFile(t *testing.T, props map[string]string) string {
	t.Helper()
	var b strings.Builder
	for k, v := range props {
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	p := filepath.Join(t.TempDir(), "ssl.properties")
	must(t, os.WriteFile(p, []byte(b.String()), 0o600))
	return p
}

// TestProxyTLS: `zkgo proxy` terminates TLS from clients (--tls-listen,
// --tls-config) and originates TLS to TLS-only upstreams
// (--upstream-tls-config) in front of zkgo and Java 3.8: the Java client
// and kazoo over TLS, and go-zookeeper in plaintext, get the same
// transcript through it from both servers, the client's certificate is
// checked by the proxy (a certificate from another CA gets no session),
// and the proxy's own certificate is what the upstream sees.
func TestProxyTLS(t *testing.T) {
	j := harness.RequireJava(t)
	py := requireKazoo(t)
	classes := j.Compile(t, filepath.Join("java", "TLSClient.java"))
	certs := zktlstest.NewSet(t)
	proxyCert := certs.CA.Issue(t, zktlstest.LeafOptions{Subject: pkix.Name{CommonName: "proxy", Organization: []string{"zkgo"}},
		Client: true, FileStem: "proxy"})
	other := zktlstest.NewCA(t, certs.Dir, "other-ca")
	stranger := other.Issue(t, zktlstest.LeafOptions{Subject: pkix.Name{CommonName: "stranger"}, Client: true, FileStem: "stranger"})
	clientSide, err := zktls.ReadFile(writeSSLFile(t, certs.ServerProps(nil)))
	must(t, err)
	upSide, err := zktls.ReadFile(writeSSLFile(t, map[string]string{
		"zookeeper.ssl.keyStore.location": proxyCert.PEMPath, "zookeeper.ssl.trustStore.location": certs.CA.PEMPath}))
	must(t, err)
	got := map[string]string{}
	for _, tg := range startTLSTargets(t, certs.ServerProps(nil)) {
		cs, err := zktls.NewSource(clientSide, zerolog.Nop())
		must(t, err)
		t.Cleanup(cs.Close)
		ccfg, err := cs.ServerConfig()
		must(t, err)
		us, err := zktls.NewSource(upSide, zerolog.Nop())
		must(t, err)
		t.Cleanup(us.Close)
		p := startZKProxy(t, func(c *proxy.PassConfig) {
			c.TLSListen, c.ClientTLS, c.UpstreamTLS = "127.0.0.1:0", ccfg, us.ClientConfig
			c.Logger = harness.TestLogger(t, zerolog.InfoLevel)
		}, tg.addr)
		tlsAddr, plainAddr := p.TLSAddr().String(), p.Addr().String()
		var b strings.Builder
		b.WriteString("java client over TLS:\n")
		b.WriteString(runJavaTLSClient(t, j, classes, javaTLSArgs(certs, certs.Client, certs.CA.PEMPath),
			tlsAddr, "proxy-java", "20", "whoami"))
		b.WriteString("kazoo over TLS:\n")
		b.WriteString(runKazooTLS(t, py, tlsAddr, "proxy-kazoo", certs.CA.PEMPath, certs.Client.CertPath, certs.Client.KeyPath))
		b.WriteString("kazoo with another CA's certificate:\n")
		b.WriteString(runKazooTLSWait(t, py, 3, tlsAddr, "never", certs.CA.PEMPath, stranger.CertPath, stranger.KeyPath))
		c, _, err := zk.Connect([]string{plainAddr}, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
		must(t, err)
		data, _, err := c.Get("/proxy-java")
		fmt.Fprintf(&b, "go-zookeeper in plaintext, upstream over TLS: %s %v\n", data, errOrOK(err))
		c.Close()
		got[tg.name] = b.String()
	}
	if got["zkgo"] != got["java"] {
		t.Fatalf("transcripts differ:\n%s", lineDiff(got["java"], got["zkgo"]))
	}
	for _, want := range []string{"whoami: x509 CN=proxy,O=zkgo", "connect: no session", "go-zookeeper in plaintext, upstream over TLS: world ok"} {
		if !strings.Contains(got["zkgo"], want) {
			t.Fatalf("transcript lacks %q:\n%s", want, got["zkgo"])
		}
	}
	t.Logf("transcript (both servers):\n%s", got["zkgo"])
}

// TestProxyTLSOnly: with --listen ” the proxy takes TLS clients only, and
// its per-IP policies see a TLS client's own address (one connection per
// IP here: a second TLS client from the same address is closed).
func TestProxyTLSOnly(t *testing.T) {
	certs := zktlstest.NewSet(t)
	z := harness.StartZkgo(t, nil)
	s, err := zktls.ReadFile(writeSSLFile(t, certs.ServerProps(map[string]string{"ssl.clientAuth": "none"})))
	must(t, err)
	src, err := zktls.NewSource(s, zerolog.Nop())
	must(t, err)
	t.Cleanup(src.Close)
	ccfg, err := src.ServerConfig()
	must(t, err)
	p := startZKProxy(t, func(c *proxy.PassConfig) {
		c.Listen, c.TLSListen, c.ClientTLS = "", "127.0.0.1:0", ccfg
		c.Policy.MaxConnsPerIP = 1
	}, z.Addr)
	first, err := goTLSConn(t, p.TLSAddr().String(), clientTLS(t, certs.CA.Cert, nil))
	if err != nil {
		t.Fatalf("TLS client through a TLS-only proxy: %v", err)
	}
	defer first.Close()
	if _, err := first.Create("/tls-only", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if err := tlsHandshakeAndConnect(p.TLSAddr().String(), clientTLS(t, certs.CA.Cert, nil)); err == nil {
		t.Fatal("a second TLS client from the same IP got a session past max-conns-per-ip=1")
	}
	if data, _, err := first.Get("/tls-only"); err != nil || string(data) != "x" {
		t.Fatalf("first client after the refusal: %q %v", data, err)
	}
	first.Close()
	// A four-letter word over TLS, half-closed after the word as nc -N
	// does, still gets its answer.
	waitFor := time.Now().Add(10 * time.Second)
	for {
		tc, err := tls.Dial("tcp", p.TLSAddr().String(), clientTLS(t, certs.CA.Cert, nil))
		must(t, err)
		_, err = tc.Write([]byte("ruok"))
		must(t, err)
		must(t, tc.CloseWrite())
		_ = tc.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(tc)
		tc.Close()
		if string(b) == "imok" {
			break
		}
		// The first client's slot may not be free yet (max 1 per IP).
		if time.Now().After(waitFor) {
			t.Fatalf("ruok over TLS through the proxy: %q", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Stopping the proxy closes its TLS clients.
	tc, err := tls.Dial("tcp", p.TLSAddr().String(), clientTLS(t, certs.CA.Cert, nil))
	must(t, err)
	defer tc.Close()
	must(t, tc.Handshake())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, p.Stop(ctx))
	_ = tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := tc.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a TLS client is still open after Stop: %v", err)
	}
}
