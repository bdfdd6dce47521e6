package zktls_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/internal/zktls"
	"github.com/zkgo/zkgo/internal/zktls/zktlstest"
)

func props(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out["zookeeper."+k] = v
	}
	return out
}

func TestParseDefaultsAreJavas(t *testing.T) {
	s, err := zktls.Parse(props(map[string]string{"ssl.keyStore.location": "/x/server.pem"}), zktls.ClientPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if s.ClientAuth != zktls.ClientAuthNeed {
		t.Errorf("clientAuth default %v, want need (X509Util.ClientAuth.fromPropertyValue)", s.ClientAuth)
	}
	if s.MinVersion != tls.VersionTLS12 || s.MaxVersion != tls.VersionTLS12 {
		t.Errorf("versions %x-%x, want TLSv1.2 only (DEFAULT_PROTOCOL, enabledProtocols = [protocol])", s.MinVersion, s.MaxVersion)
	}
	if s.KeyStore.Type != "PEM" {
		t.Errorf("type from the .pem extension: %q", s.KeyStore.Type)
	}
	if !s.HostnameVerification || len(s.CipherSuites) == 0 {
		t.Errorf("hostnameVerification %v, %d suites", s.HostnameVerification, len(s.CipherSuites))
	}
}

func TestParseRefusesNamingTheKey(t *testing.T) {
	cases := map[string]struct {
		k, v string
		want string
	}{
		"jks type":        {"ssl.keyStore.type", "JKS", "ssl.keyStore.type"},
		"jks extension":   {"ssl.trustStore.location", "/x/trust.jks", "ssl.trustStore.type"},
		"unknown key":     {"ssl.keyStore.algorithm", "x", "ssl.keyStore.algorithm"},
		"crl":             {"ssl.crl", "true", "ssl.crl"},
		"ocsp":            {"ssl.ocsp", "true", "ssl.ocsp"},
		"supplier":        {"ssl.context.supplier.class", "a.B", "ssl.context.supplier.class"},
		"clientAuth":      {"ssl.clientAuth", "maybe", "ssl.clientAuth"},
		"protocol":        {"ssl.protocol", "TLSv1.1", "ssl.protocol"},
		"enabled":         {"ssl.enabledProtocols", "TLSv1.2,SSLv3", "ssl.enabledProtocols"},
		"unknown cipher":  {"ssl.ciphersuites", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_FOO", "TLS_FOO"},
		"insecure cipher": {"ssl.ciphersuites", "TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_RC4_128_SHA"},
		"authProvider":    {"ssl.authProvider", "mycerts", "ssl.authProvider"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := props(map[string]string{"ssl.keyStore.location": "/x/s.pem", c.k: c.v})
			_, err := zktls.Parse(p, zktls.ClientPrefix)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%s=%s: error %v, want one naming %s", c.k, c.v, err, c.want)
			}
		})
	}
	// crl/ocsp false, hostnameVerification, quorum keys: accepted here.
	p := props(map[string]string{"ssl.keyStore.location": "/x/s.pem", "ssl.crl": "false", "ssl.ocsp": "false",
		"ssl.hostnameVerification": "false", "ssl.quorum.keyStore.location": "/q.pem", "ssl.clientAuth": "want",
		"ssl.ciphersuites": "SSL_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ssl.enabledProtocols": "TLSv1.2, TLSv1.3"})
	s, err := zktls.Parse(p, zktls.ClientPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if s.HostnameVerification || s.ClientAuth != zktls.ClientAuthWant || len(s.CipherSuites) != 1 ||
		s.CipherSuites[0] != tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 || s.MaxVersion != tls.VersionTLS12 {
		t.Fatalf("parsed %+v", s)
	}
}

func TestPasswordPath(t *testing.T) {
	f := t.TempDir() + "/pw"
	if err := os.WriteFile(f, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := zktls.Parse(props(map[string]string{"ssl.keyStore.location": "/x/s.p12", "ssl.keyStore.password": "other",
		"ssl.keyStore.passwordPath": f}), zktls.ClientPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyStore.Password != "s3cret" || s.KeyStore.Type != "PKCS12" {
		t.Fatalf("password %q type %q: the file wins, one newline dropped", s.KeyStore.Password, s.KeyStore.Type)
	}
}

// handshake runs a TLS handshake between cfg (server) and a client
// trusting ca with an optional client certificate; it returns the
// server's view of the client's certificate subject.
func handshake(t *testing.T, server *tls.Config, client *tls.Config) (string, error) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	errc := make(chan error, 1)
	var subj string
	go func() {
		s := tls.Server(a, server)
		err := s.Handshake()
		if err == nil && len(s.ConnectionState().PeerCertificates) > 0 {
			subj = s.ConnectionState().PeerCertificates[0].Subject.CommonName
		}
		errc <- err
		_ = a.Close()
	}()
	c := tls.Client(b, client)
	cerr := c.Handshake()
	serr := <-errc
	if serr != nil {
		return "", serr
	}
	return subj, cerr
}

// TestSourceReloadsChangedFiles: a new key store and a new trust store
// take effect for the next handshake without a restart, as Java's
// FileChangeWatcher makes them; an unreadable change keeps the old ones.
func TestSourceReloadsChangedFiles(t *testing.T) {
	old := zktls.PollInterval
	zktls.PollInterval = 20 * time.Millisecond
	defer func() { zktls.PollInterval = old }()
	certs := zktlstest.NewSet(t)
	s, err := zktls.Parse(props(map[string]string{"ssl.keyStore.location": certs.Server.PEMPath,
		"ssl.trustStore.location": certs.CA.PEMPath}), zktls.ClientPrefix)
	if err != nil {
		t.Fatal(err)
	}
	src, err := zktls.NewSource(s, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	srv, err := src.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	clientFor := func(ca *zktlstest.CA, leaf *zktlstest.Leaf) *tls.Config {
		c := &tls.Config{RootCAs: certPool(ca), ServerName: "127.0.0.1"}
		kp, err := tls.LoadX509KeyPair(leaf.CertPath, leaf.KeyPath)
		if err != nil {
			t.Fatal(err)
		}
		c.Certificates = []tls.Certificate{kp}
		return c
	}
	if subj, err := handshake(t, srv, clientFor(certs.CA, certs.Client)); err != nil || subj != "client" {
		t.Fatalf("first handshake: %q %v", subj, err)
	}
	// Rotate to a new CA: new server certificate, new trust store.
	ca2 := zktlstest.NewCA(t, t.TempDir(), "rotated-ca")
	srv2 := ca2.Issue(t, zktlstest.LeafOptions{Subject: pkix.Name{CommonName: "server2"}, Server: true, FileStem: "server"})
	cli2 := ca2.Issue(t, zktlstest.LeafOptions{Subject: pkix.Name{CommonName: "client2"}, Client: true, FileStem: "client"})
	copyFile(t, srv2.PEMPath, certs.Server.PEMPath)
	copyFile(t, ca2.PEMPath, certs.CA.PEMPath)
	deadline := time.Now().Add(10 * time.Second)
	for src.Reloads.Load() == 0 || len(readFile(t, certs.CA.PEMPath)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("stores not reloaded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for {
		subj, err := handshake(t, srv, clientFor(ca2, cli2))
		if err == nil && subj == "client2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rotated handshake: %q %v", subj, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := handshake(t, srv, clientFor(certs.CA, certs.Client)); err == nil {
		t.Fatal("the old CA's client is still trusted after the trust store changed")
	}
	// A broken file is not taken: the rotated stores stay in use.
	n := src.Reloads.Load()
	if err := os.WriteFile(certs.Server.PEMPath, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // several polls
	if src.Reloads.Load() != n {
		t.Fatal("a broken key store was loaded")
	}
	if subj, err := handshake(t, srv, clientFor(ca2, cli2)); err != nil || subj != "client2" {
		t.Fatalf("after a broken change: %q %v", subj, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b := readFile(t, from)
	tmp := to + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func certPool(ca *zktlstest.CA) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// TestLoadStores: PEM and PKCS12 (as Java 17's keytool writes them: AES
// and PBKDF2) key and trust stores load; an encrypted PEM key is refused
// with a message saying so.
func TestLoadStores(t *testing.T) {
	certs := zktlstest.NewSet(t)
	for name, p := range map[string]map[string]string{
		"pem": {"ssl.keyStore.location": certs.Server.PEMPath, "ssl.trustStore.location": certs.CA.PEMPath},
		"p12": {"ssl.keyStore.location": certs.Server.P12Path, "ssl.keyStore.password": zktlstest.P12Password,
			"ssl.trustStore.location": certs.CA.TrustP12(t), "ssl.trustStore.password": zktlstest.P12Password},
	} {
		s, err := zktls.Parse(props(p), zktls.ClientPrefix)
		if err != nil {
			t.Fatal(name, err)
		}
		src, err := zktls.NewSource(s, zerolog.Nop())
		if err != nil {
			t.Fatal(name, err)
		}
		srv, err := src.ServerConfig()
		if err != nil {
			t.Fatal(name, err)
		}
		c := &tls.Config{RootCAs: certPool(certs.CA), ServerName: "127.0.0.1"}
		kp, _ := tls.LoadX509KeyPair(certs.Client.CertPath, certs.Client.KeyPath)
		c.Certificates = []tls.Certificate{kp}
		if subj, err := handshake(t, srv, c); err != nil || subj != "client" {
			t.Errorf("%s: %q %v", name, subj, err)
		}
		src.Close()
	}
	enc := t.TempDir() + "/enc.pem"
	if err := os.WriteFile(enc, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := zktls.Parse(props(map[string]string{"ssl.keyStore.location": enc, "ssl.clientAuth": "none"}), zktls.ClientPrefix)
	if _, err := zktls.NewSource(s, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Fatalf("encrypted PEM key: %v", err)
	}
}

// TestVerifyHostnamesCNFallback: like Java's ZKHostnameVerifier, a
// certificate without subject alternative names matches a host by its
// CN; one with SANs matches by them only.
func TestVerifyHostnamesCNFallback(t *testing.T) {
	set := zktlstest.NewSet(t)
	cnOnly := set.CA.Issue(t, zktlstest.LeafOptions{Subject: pkix.Name{CommonName: "zk1.example.com"}, FileStem: "cn"})
	wild := set.CA.Issue(t, zktlstest.LeafOptions{Subject: pkix.Name{CommonName: "*.example.com"}, FileStem: "wild"})
	ipCN := set.CA.Issue(t, zktlstest.LeafOptions{Subject: pkix.Name{CommonName: "127.0.0.1"}, FileStem: "ipcn"})
	for _, c := range []struct {
		cert  *x509.Certificate
		names []string
		ok    bool
	}{
		{cnOnly.Cert, []string{"zk1.example.com"}, true},
		{cnOnly.Cert, []string{"ZK1.example.com."}, true},
		{cnOnly.Cert, []string{"127.0.0.1", "zk1.example.com"}, true},
		{cnOnly.Cert, []string{"zk2.example.com"}, false},
		{wild.Cert, []string{"zk3.example.com"}, true},
		{wild.Cert, []string{"a.b.example.com"}, false},
		{ipCN.Cert, []string{"127.0.0.1"}, true},
		{ipCN.Cert, []string{"127.0.0.2"}, false},
		{set.Server.Cert, []string{"127.0.0.1"}, true},
		{set.Server.Cert, []string{"zkgo-server"}, false}, // SANs present: the CN is not looked at
		{set.Server.Cert, []string{""}, false},
	} {
		err := zktls.VerifyHostnames(c.cert, c.names)
		if (err == nil) != c.ok {
			t.Errorf("%s %v: %v, want ok=%v", c.cert.Subject.CommonName, c.names, err, c.ok)
		}
	}
}
