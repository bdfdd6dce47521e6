package node

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestClientTLSConfig: secureClientPort and the client ssl.* keys are read
// as Java 3.8 reads them; what zkgo cannot honour is refused naming the
// key (issue 18).
func TestClientTLSConfig(t *testing.T) {
	base := "dataDir=/d\nclientPort=2181\nsecureClientPort=2281\nsecureClientPortAddress=127.0.0.1\n" +
		"ssl.keyStore.location=/etc/zk/server.pem\nssl.trustStore.location=/etc/zk/ca.pem\n"
	c, err := ParseConfig(strings.NewReader(base))
	if err == nil {
		err = c.validate()
	}
	if err != nil {
		t.Fatal(err)
	}
	if c.SecureClientAddr() != "127.0.0.1:2281" || c.NoClientPort || c.PortUnification() {
		t.Fatalf("secure addr %s, no client port %v", c.SecureClientAddr(), c.NoClientPort)
	}
	s, used, err := c.ClientTLS()
	if err != nil || !used || s.KeyStore.Type != "PEM" || s.TrustStore.Location != "/etc/zk/ca.pem" {
		t.Fatalf("ClientTLS %+v %v %v", s, used, err)
	}
	// secureClientPort alone: no plaintext listener, as in Java.
	c, err = ParseConfig(strings.NewReader("dataDir=/d\nsecureClientPort=2281\nssl.keyStore.location=/k.pem\nssl.clientAuth=none\n"))
	if err == nil {
		err = c.validate()
	}
	if err != nil || !c.NoClientPort {
		t.Fatalf("secure port only: %v, NoClientPort %v", err, c.NoClientPort)
	}
	for line, want := range map[string]string{
		"ssl.keyStore.type=JKS":                   "ssl.keyStore.type",
		"ssl.trustStore.location=/etc/zk/ts.jks":  "ssl.trustStore.type",
		"ssl.ciphersuites=TLS_NOT_A_SUITE":        "TLS_NOT_A_SUITE",
		"ssl.enabledProtocols=TLSv1":              "ssl.enabledProtocols",
		"ssl.crl=true":                            "ssl.crl",
		"zookeeper.ssl.ocsp=true":                 "ssl.ocsp",
		"ssl.keyStore.provider=BC":                "ssl.keyStore.provider",
		"ssl.quorum.keyStore.type=JKS":            "ssl.quorum.keyStore.type",
		"secureClientPort=70000":                  "secureClientPort",
		"ssl.handshakeDetectionTimeoutMillis=abc": "ssl.handshakeDetectionTimeoutMillis",
	} {
		c, err := ParseConfig(strings.NewReader(base + line + "\n"))
		if err == nil {
			err = c.validate()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want refused naming %s", line, err, want)
		}
	}
	// Client auth (need by default) without a trust store could verify no
	// client: refused, naming both keys.
	c, _ = ParseConfig(strings.NewReader("dataDir=/d\nclientPort=2181\nsecureClientPort=2281\nssl.keyStore.location=/k.pem\n"))
	if err := c.validate(); err == nil || !strings.Contains(err.Error(), "ssl.trustStore.location") ||
		!strings.Contains(err.Error(), "ssl.clientAuth") {
		t.Errorf("need without a trust store: %v", err)
	}
	// client.portUnification is read from zoo.cfg.
	c, err = ParseConfig(strings.NewReader(base + "client.portUnification=true\n"))
	if err != nil || !c.PortUnification() {
		t.Fatalf("portUnification: %v", err)
	}
}

// TestX509ProviderConfig: the x509 provider is registered by a TLS client
// port or by authProvider.N; enforce.auth.schemes=x509 needs it.
func TestX509ProviderConfig(t *testing.T) {
	tlsBase := "dataDir=/d\nclientPort=2181\nsecureClientPort=2281\nssl.keyStore.location=/k.pem\nssl.trustStore.location=/ca.pem\n"
	for cfg, ok := range map[string]bool{
		tlsBase + "X509AuthenticationProvider.superUser=CN=admin\n":                                       true,
		tlsBase + "enforce.auth.enabled=true\nenforce.auth.schemes=x509\n":                                true,
		"dataDir=/d\nclientPort=2181\nauthProvider.1=" + x509ProviderClass + "\n":                         true,
		"dataDir=/d\nclientPort=2181\nenforce.auth.enabled=true\nenforce.auth.schemes=x509\n":             false,
		"dataDir=/d\nclientPort=2181\nauthProvider.x=org.apache.zookeeper.server.auth.KerberosProvider\n": false,
	} {
		c, err := ParseConfig(strings.NewReader(cfg))
		if err == nil {
			err = c.validate()
		}
		if (err == nil) != ok {
			t.Errorf("%q: %v, want ok=%v", cfg, err, ok)
		}
	}
}

// TestSASLConfig: the JAAS file named by java.security.auth.login.config
// is read at start as Java's configureSaslLogin reads it; what zkgo cannot
// do is refused.
func TestSASLConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.conf", "Server { org.apache.zookeeper.server.auth.DigestLoginModule required user_bob=\"pw\"; };")
	krb := write("krb.conf", "Server { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true; };")
	other := write("other.conf", "Client { org.apache.zookeeper.server.auth.DigestLoginModule required username=\"b\"; };")
	base := "dataDir=/d\nclientPort=2181\n"
	for cfg, want := range map[string]string{
		base + "java.security.auth.login.config=" + good + "\nauthProvider.1=" + saslProviderClass + "\nsuperUser=bob\n": "",
		base + "java.security.auth.login.config=" + krb + "\n":                                                           "Kerberos",
		base + "java.security.auth.login.config=" + other + "\n":                                                         "No JAAS configuration section named 'Server'",
		base + "java.security.auth.login.config=" + dir + "/missing.conf\n":                                              "missing.conf",
		base + "java.security.auth.login.config=" + other + "\nsasl.serverconfig=Client2\n":                              "Client2",
		base + "enforce.auth.enabled=true\nenforce.auth.schemes=sasl\n":                                                  "sasl is not available",
		base + "sessionRequireClientSASLAuth=true\nauthProvider.s=" + saslProviderClass + "\n":                           "",
	} {
		c, err := ParseConfig(strings.NewReader(cfg))
		if err == nil {
			err = c.validate()
		}
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v, want %q", cfg, err, want)
		}
	}
	c, _ := ParseConfig(strings.NewReader(base + "java.security.auth.login.config=" + good + "\nSASLAuthenticationProvider.superPassword=sp\n" +
		"kerberos.removeRealmFromPrincipal=true\n"))
	st, err := c.loadSASL()
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := st.password("bob"); !ok || p != "pw" {
		t.Errorf("bob's password %q %v", p, ok)
	}
	if p, ok := st.password("super"); !ok || p != "sp" {
		t.Errorf("super's password %q %v (superPassword)", p, ok)
	}
	if id := st.authorizationID("bob/host@REALM"); id != "bob/host" {
		t.Errorf("authorization id %q", id)
	}
}

// TestConfShowsSecureClientPort: the conf command prints the TLS client
// port as Java's dumpConf does (-1 without one).
func TestConfShowsSecureClientPort(t *testing.T) {
	for port, want := range map[int]string{2281: "secureClientPort=2281\n", 0: "secureClientPort=-1\n"} {
		cfg := DefaultConfig()
		cfg.DataDir = t.TempDir()
		if port > 0 {
			cfg.SecureClientPort = port
			cfg.Properties = map[string]string{"zookeeper.ssl.keyStore.location": "/k.pem", "zookeeper.ssl.clientAuth": "none"}
		}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.Call(ctx, func() { s.resp.writeConf(&b, dirSizes{}) }); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), want) {
			t.Errorf("conf lacks %q:\n%s", want, b.String())
		}
		_ = s.Stop(ctx)
		cancel()
	}
}
