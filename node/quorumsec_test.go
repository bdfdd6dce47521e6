package node

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/internal/zktls/zktlstest"
	"github.com/zkgo/zkgo/wire"
)

// quorumCfg parses a 3-member zoo.cfg (myid 1) with extra lines.
func quorumCfg(t *testing.T, extra string) (Config, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/myid", []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(strings.NewReader("tickTime=2000\ninitLimit=5\nsyncLimit=2\nclientPort=2181\ndataDir=" + dir + "\n" +
		"server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890\n" + extra))
	if err != nil {
		return c, err
	}
	return c, c.validate()
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := t.TempDir() + "/" + name
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const quorumJAAS = `QuorumServer { org.apache.zookeeper.server.auth.DigestLoginModule required user_test="pw"; };
QuorumLearner { org.apache.zookeeper.server.auth.DigestLoginModule required username="test" password="pw"; };`

// TestQuorumSecConfig: quorum TLS and SASL settings are taken (main
// refused sslQuorum, portUnification, ssl.quorum.* and quorum.auth.*
// outright) and what zkgo cannot honour is refused naming the key.
func TestQuorumSecConfig(t *testing.T) {
	set := zktlstest.NewSet(t)
	stores := "ssl.quorum.keyStore.location=" + set.Server.PEMPath + "\nssl.quorum.trustStore.location=" + set.CA.PEMPath + "\n"
	jaasOK := writeFile(t, "jaas.conf", quorumJAAS)
	krb := writeFile(t, "krb.conf", "QuorumServer { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true; };\n"+
		"QuorumLearner { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true; };")
	sasl := "quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true\nquorum.auth.serverRequireSasl=true\n"
	for extra, want := range map[string]string{
		"sslQuorum=true\n" + stores:       "",
		"portUnification=true\n" + stores: "",
		"sslQuorum=true\nportUnification=true\nsslQuorumReloadCertFiles=true\n" + stores + "ssl.quorum.clientAuth=want\n" +
			"ssl.quorum.hostnameVerification=false\nssl.quorum.enabledProtocols=TLSv1.2,TLSv1.3\n": "",
		"sslQuorum=true\n": "ssl.quorum.keyStore.location",
		"sslQuorum=true\nssl.quorum.keyStore.location=" + set.Server.PEMPath + "\n": "ssl.quorum.trustStore.location",
		"sslQuorum=yes\n" + stores:                                                                                                 "sslQuorum",
		"sslQuorum=true\n" + stores + "ssl.quorum.ocsp=true\n":                                                                     "ssl.quorum.ocsp",
		"sslQuorum=true\n" + stores + "ssl.quorum.crl=true\n":                                                                      "ssl.quorum.crl",
		"sslQuorum=true\n" + stores + "ssl.quorum.keyStore.type=JKS\n":                                                             "JKS",
		"sslQuorum=true\n" + stores + "ssl.quorum.bogus=1\n":                                                                       "ssl.quorum.bogus",
		"sslQuorum=true\n" + stores + "ssl.quorum.protocol=TLSv1.1\n":                                                              "ssl.quorum.protocol",
		"sslQuorum=true\n" + stores + "ssl.quorum.ciphersuites=NOPE\n":                                                             "ssl.quorum.ciphersuites",
		"sslQuorum=true\n" + stores + "ssl.quorum.context.supplier.class=x\n":                                                      "ssl.quorum.context.supplier.class",
		sasl + "java.security.auth.login.config=" + jaasOK + "\n":                                                                  "",
		"quorum.auth.enableSasl=true\njava.security.auth.login.config=" + jaasOK + "\nquorum.auth.learner.saslLoginContext=Nope\n": "'Nope'",
		"quorum.auth.serverRequireSasl=true\n":                                                                                     "cannot enable quorum.auth.serverRequireSasl",
		"quorum.auth.learnerRequireSasl=true\n":                                                                                    "cannot enable quorum.auth.learnerRequireSasl",
		"quorum.auth.enableSasl=true\nquorum.auth.serverRequireSasl=true\njava.security.auth.login.config=" + jaasOK + "\n":        "quorum.auth.learnerRequireSasl is disabled",
		sasl: "no JAAS file",
		sasl + "java.security.auth.login.config=" + krb + "\n":                                                          "Kerberos",
		sasl + "java.security.auth.login.config=" + jaasOK + "\nquorum.auth.kerberos.servicePrincipal=zkquorum/_HOST\n": "quorum.auth.kerberos.servicePrincipal",
	} {
		_, err := quorumCfg(t, extra)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v, want %q", extra, err, want)
		}
	}
	// A JAAS file for quorum SASL only gives no client SASL (Java's
	// configureSaslLogin without a Server section).
	c, err := quorumCfg(t, sasl+"java.security.auth.login.config="+jaasOK+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := c.loadSASL(); st != nil || err != nil {
		t.Errorf("client SASL from a quorum-only JAAS file: %v %v", st, err)
	}
	// Standalone: Java ignores the quorum keys, so does zkgo.
	if _, err := ParseConfig(strings.NewReader("dataDir=/d\nclientPort=2181\nsslQuorum=true\n")); err != nil {
		t.Errorf("standalone with sslQuorum: %v", err)
	}
}

// secPair starts a listener wrapped by qs and returns a function that
// accepts one connection and reads its first 4 bytes (what the server
// side of a quorum port would).
func secListen(t *testing.T, qs *quorumSec, sasl bool) (addr string, accept func() (net.Conn, []byte, error)) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sl := qs.listener(ln, sasl)
	t.Cleanup(func() { sl.Close() })
	return ln.Addr().String(), func() (net.Conn, []byte, error) {
		c, err := sl.Accept()
		if err != nil {
			return nil, nil, err
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b := make([]byte, 4)
		_, err = io.ReadFull(c, b)
		return c, b, err
	}
}

func mustQuorumSec(t *testing.T, extra string) *quorumSec {
	t.Helper()
	c, err := quorumCfg(t, extra)
	if err != nil {
		t.Fatal(err)
	}
	qs, err := newQuorumSec(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(qs.close)
	return qs
}

// TestQuorumPortTLS: with sslQuorum a quorum port refuses a plaintext peer
// (the bare TCP program of issue 18 that claimed a member's sid) and a
// peer whose certificate another CA signed, and takes a member's TLS
// connection; with portUnification it takes plaintext too.
func TestQuorumPortTLS(t *testing.T) {
	set := zktlstest.NewSet(t)
	other := zktlstest.NewSet(t)
	stores := "ssl.quorum.keyStore.location=" + set.Server.PEMPath + "\nssl.quorum.trustStore.location=" + set.CA.PEMPath + "\n"
	qs := mustQuorumSec(t, "sslQuorum=true\n"+stores)

	addr, accept := secListen(t, qs, true)
	// Plaintext: refused before a byte reaches the protocol.
	go func() {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Write([]byte("\x00\x00\x00\x0bplaintext FOLLOWERINFO"))
			time.Sleep(100 * time.Millisecond)
			c.Close()
		}
	}()
	if _, _, err := accept(); !errors.Is(err, errInsecure) {
		t.Fatalf("plaintext peer on a TLS quorum port: %v, want %v", err, errInsecure)
	}
	// Another CA's certificate: refused.
	go func() {
		cert, _ := tls.LoadX509KeyPair(other.Server.CertPath, other.Server.KeyPath)
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}})
		if err == nil {
			c.Write([]byte("abcd"))
			c.Close()
		}
	}()
	if _, _, err := accept(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("wrong-CA peer: %v", err)
	}
	// No certificate (clientAuth need by default): refused.
	go func() {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			c.Write([]byte("abcd"))
			c.Close()
		}
	}()
	if _, _, err := accept(); err == nil {
		t.Fatal("a peer without a certificate was accepted")
	}
	// A certificate of the right CA that does not name the peer's address:
	// refused (quorum ports verify client host names), unless
	// ssl.quorum.hostnameVerification=false.
	noName := set.CA.Issue(t, zktlstest.LeafOptions{Subject: pkix.Name{CommonName: "elsewhere"}, Client: true, FileStem: "noname"})
	dialNoName := func(addr string) {
		cert, _ := tls.LoadX509KeyPair(noName.CertPath, noName.KeyPath)
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}})
		if err == nil {
			c.Write([]byte("name"))
			time.Sleep(100 * time.Millisecond)
			c.Close()
		}
	}
	go dialNoName(addr)
	if _, _, err := accept(); err == nil || !strings.Contains(err.Error(), "does not match the client's address") {
		t.Fatalf("certificate not naming the peer: %v", err)
	}
	qn := mustQuorumSec(t, "sslQuorum=true\nssl.quorum.hostnameVerification=false\n"+stores)
	naddr, naccept := secListen(t, qn, false)
	go dialNoName(naddr)
	if _, b, err := naccept(); err != nil || string(b) != "name" {
		t.Fatalf("hostnameVerification=false: %q %v", b, err)
	}
	// A member: dialLearner's TLS, checked both ways.
	go func() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sc, err := qs.dialLearner(ctx, c, addr)
		if err != nil {
			t.Errorf("member dial: %v", err)
			return
		}
		sc.Write([]byte("good"))
		time.Sleep(100 * time.Millisecond)
		sc.Close()
	}()
	c, b, err := accept()
	if err != nil || string(b) != "good" || !c.(*secConn).TLS {
		t.Fatalf("member over TLS: %q %v", b, err)
	}

	// portUnification without sslQuorum: plaintext and TLS both taken.
	qu := mustQuorumSec(t, "portUnification=true\n"+stores)
	addr, accept = secListen(t, qu, false)
	go func() {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Write([]byte("plai"))
			time.Sleep(100 * time.Millisecond)
			c.Close()
		}
	}()
	if c, b, err := accept(); err != nil || string(b) != "plai" || c.(*secConn).TLS {
		t.Fatalf("plaintext on a unified port: %q %v", b, err)
	}
	go func() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sc, err := qs.secureDial(ctx, c, "127.0.0.1")
		if err != nil {
			t.Errorf("TLS dial to a unified port: %v", err)
			return
		}
		sc.Write([]byte("tls!"))
		time.Sleep(100 * time.Millisecond)
		sc.Close()
	}()
	if c, b, err := accept(); err != nil || string(b) != "tls!" || !c.(*secConn).TLS {
		t.Fatalf("TLS on a unified port: %q %v", b, err)
	}
}

// TestQuorumSASLExchange: the QuorumAuthPacket exchange between zkgo's
// learner and server sides: matching credentials pass and the bytes after
// it reach the protocol; a wrong password is refused on both sides; a
// learner that does not authenticate is refused when serverRequireSasl
// and let through (its bytes intact) when not.
func TestQuorumSASLExchange(t *testing.T) {
	jf := writeFile(t, "jaas.conf", quorumJAAS)
	bad := writeFile(t, "bad.conf", strings.Replace(quorumJAAS, `password="pw"`, `password="nope"`, 1))
	req := "quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true\nquorum.auth.serverRequireSasl=true\n"
	server := mustQuorumSec(t, req+"java.security.auth.login.config="+jf+"\n")
	good := server
	wrong := mustQuorumSec(t, req+"java.security.auth.login.config="+bad+"\n")
	noSASL := mustQuorumSec(t, "quorum.auth.enableSasl=true\njava.security.auth.login.config="+jf+"\n")

	run := func(srv, lrn *quorumSec) (srvErr, lrnErr error, got []byte) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		done := make(chan error, 1)
		go func() {
			err := lrn.sasl.learnerAuth(b, lrn.log)
			if err == nil {
				_, err = b.Write(wire.AppendInitialMessage(nil, 2, "127.0.0.1:3889"))
			}
			done <- err
		}()
		r := bufio.NewReader(a)
		a.SetDeadline(time.Now().Add(5 * time.Second))
		srvErr = srv.sasl.serverAuth(a, r, srv.log)
		if srvErr == nil {
			got = make([]byte, 8)
			_, srvErr = io.ReadFull(r, got)
		} else {
			a.Close()
		}
		return srvErr, <-done, got
	}
	if s, l, got := run(server, good); s != nil || l != nil || len(got) != 8 {
		t.Fatalf("matching credentials: server %v learner %v, read %x", s, l, got)
	}
	if s, l, _ := run(server, wrong); s == nil || l == nil || !strings.Contains(l.Error(), "Authentication failed") {
		t.Fatalf("wrong password: server %v learner %v", s, l)
	}
	if s, _, _ := run(server, noSASL); s == nil || !strings.Contains(s.Error(), "authentication is required") {
		t.Fatalf("learner without SASL, serverRequireSasl: %v", s)
	}
	if s, l, got := run(noSASL, noSASL); s != nil || l != nil || len(got) != 8 {
		t.Fatalf("neither requires SASL: server %v learner %v, read %x", s, l, got)
	}
}

// TestQuorumSASLServerFirstPacketMissing: a peer that sends nothing after
// connecting (a Java 3.8.0 voter dialing an observer back runs no SASL and
// waits to hear from the observer, ZOOKEEPER-4886) fails the
// authentication when the first packet does not come in time, logged as
// Java logs it ("Failed to authenticate using SASL"). Without
// serverRequireSasl it is then let through, as Java does, and what it
// sends later is read; with serverRequireSasl it is refused.
func TestQuorumSASLServerFirstPacketMissing(t *testing.T) {
	jf := writeFile(t, "jaas.conf", quorumJAAS)
	base := "quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true\njava.security.auth.login.config=" + jf + "\n"
	for _, required := range []bool{false, true} {
		cfg := base
		if required {
			cfg += "quorum.auth.serverRequireSasl=true\n"
		}
		qs := mustQuorumSec(t, cfg)
		var logBuf syncLog
		log := zerolog.New(&logBuf)
		a, b := net.Pipe()
		r := bufio.NewReader(a)
		a.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		err := qs.sasl.serverAuth(a, r, log)
		if !strings.Contains(logBuf.String(), "Failed to authenticate using SASL") {
			t.Errorf("required=%v: no \"Failed to authenticate using SASL\" in the log: %s", required, logBuf.String())
		}
		if required {
			if err == nil {
				t.Errorf("required=%v: a peer that sent nothing was let through", required)
			}
		} else {
			if err != nil {
				t.Fatalf("required=%v: a peer that sent nothing in time was refused: %v", required, err)
			}
			// The peer's notification, once it sends one, is read.
			a.SetReadDeadline(time.Now().Add(5 * time.Second))
			msg := wire.AppendInitialMessage(nil, 4, "127.0.0.1:3888")
			go func() { _, _ = b.Write(msg) }()
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(r, got); err != nil || string(got) != string(msg) {
				t.Errorf("required=%v: after letting it through, read %x, %v; want %x", required, got, err, msg)
			}
		}
		a.Close()
		b.Close()
	}
}

// syncLog is a log sink safe for concurrent writes.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
