package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"net"
	"testing"
	"time"

	"github.com/zkgo/zkgo/internal/zktls/zktlstest"
	"github.com/zkgo/zkgo/wire"
)

func startSecure(t *testing.T, be Backend, unified bool, mutate func(*Config)) (*SecureFrontend, *zktlstest.Set) {
	t.Helper()
	certs := zktlstest.NewSet(t)
	kp, err := tls.LoadX509KeyPair(certs.Server.CertPath, certs.Server.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(certs.CA.Cert)
	cfg := Config{Addr: "127.0.0.1:0", Backend: be}
	if mutate != nil {
		mutate(&cfg)
	}
	fe, err := NewSecure(cfg, &tls.Config{Certificates: []tls.Certificate{kp}, ClientCAs: pool,
		ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12}, unified)
	if err != nil {
		t.Fatal(err)
	}
	if err := fe.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := fe.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return fe, certs
}

func dialTLS(t *testing.T, addr string, certs *zktlstest.Set, withCert bool) *tls.Conn {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(certs.CA.Cert)
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	if withCert {
		kp, err := tls.LoadX509KeyPair(certs.Client.CertPath, certs.Client.KeyPath)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func connectAndGets(n int) []byte {
	msg := wire.AppendConnect(nil, wire.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}, false, true)
	for xid := int32(1); xid <= int32(n); xid++ {
		msg = wire.AppendRequest(msg, wire.RequestHeader{Xid: wire.Xid(xid), Type: wire.OpGetData},
			&wire.GetDataRequest{Path: "/a"})
	}
	return msg
}

// TestSecureHoldsRefusedBatchesAndLimitsInFlight: the TLS front end keeps
// the gnet front end's contract: a refused batch is held (the connection
// stays open) and submitted once on Resume, in order; past
// MaxOutstanding unanswered requests it stops reading until replies are
// sent.
func TestSecureHoldsRefusedBatchesAndLimitsInFlight(t *testing.T) {
	be := newHeldBackend(true)
	fe, certs := startSecure(t, be, false, func(c *Config) { c.MaxOutstanding = 4 })
	c := dialTLS(t, fe.Addr().String(), certs, true)
	if _, err := c.Write(connectAndGets(9)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "open notice refused", func() bool { r, _, _ := be.snapshot(); return r >= 1 })
	time.Sleep(50 * time.Millisecond) // nothing may arrive while full
	if _, got, closed := be.snapshot(); len(got) != 0 || closed != 0 {
		t.Fatalf("while full: accepted %d, closed %d", len(got), closed)
	}
	be.open()
	var conn Conn
	waitFor(t, "first MaxOutstanding packets", func() bool {
		_, got, _ := be.snapshot()
		for k, p := range got {
			conn = k
			return len(p) == 4
		}
		return false
	})
	time.Sleep(50 * time.Millisecond)
	if _, got, _ := be.snapshot(); len(got[conn]) != 4 {
		t.Fatalf("read past MaxOutstanding: %d packets", len(got[conn]))
	}
	// Answer three: reading resumes.
	if !conn.Send([]byte{0, 0, 0, 0}, 3) {
		t.Fatal("Send refused")
	}
	waitFor(t, "rest after replies", func() bool { _, got, _ := be.snapshot(); return len(got[conn]) >= 7 })
	var hdr [4]byte
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatalf("reply not delivered: %v", err)
	}
	_, got, _ := be.snapshot()
	if got[conn][0].Kind != wire.KindConnect {
		t.Fatal("first packet is not the ConnectRequest")
	}
	for i, p := range got[conn][1:] {
		if p.Header.Xid != wire.Xid(i+1) {
			t.Fatalf("packet %d has xid %d: order lost", i+1, p.Header.Xid)
		}
	}
	sc := conn.(*secureConn)
	if subj, ok := sc.ClientCertSubject(); !ok || subj != "CN=client,O=zkgo" {
		t.Fatalf("client certificate subject %q %v", subj, ok)
	}
}

// TestSecureClosesAfterQueuedReplies: Close writes what was queued, then
// closes; the Backend hears Closed exactly once.
func TestSecureClosesAfterQueuedReplies(t *testing.T) {
	be := newHeldBackend(false)
	fe, certs := startSecure(t, be, false, nil)
	c := dialTLS(t, fe.Addr().String(), certs, false)
	if _, err := c.Write(connectAndGets(0)); err != nil {
		t.Fatal(err)
	}
	var conn Conn
	waitFor(t, "connect", func() bool {
		_, got, _ := be.snapshot()
		for k, p := range got {
			conn = k
			return len(p) == 1
		}
		return false
	})
	conn.Send([]byte("bye!"), 1)
	conn.Close("test")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if string(b) != "bye!" {
		t.Fatalf("read %q %v", b, err)
	}
	waitFor(t, "closed", func() bool { _, _, closed := be.snapshot(); return closed == 1 })
	if subj, ok := conn.(*secureConn).ClientCertSubject(); ok {
		t.Fatalf("no certificate was sent, subject %q", subj)
	}
}

// TestSecureUnifiedPort: with client.portUnification one port takes TLS
// and plaintext clients, and four-letter words in plaintext, told apart
// by the first bytes as Java's DualModeSslHandler does.
func TestSecureUnifiedPort(t *testing.T) {
	be := newHeldBackend(false)
	fe, certs := startSecure(t, be, true, nil)
	tc := dialTLS(t, fe.Addr().String(), certs, true)
	if _, err := tc.Write(connectAndGets(1)); err != nil {
		t.Fatal(err)
	}
	pc, err := net.Dial("tcp", fe.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.Write(connectAndGets(2)); err != nil {
		t.Fatal(err)
	}
	wc, err := net.Dial("tcp", fe.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	if _, err := wc.Write([]byte("ruok")); err != nil {
		t.Fatal(err)
	}
	// As nc -N does: the answer must still come.
	_ = wc.(*net.TCPConn).CloseWrite()
	var secure, plain, word int
	waitFor(t, "three connections decoded", func() bool {
		_, got, _ := be.snapshot()
		secure, plain, word = 0, 0, 0
		for c, p := range got {
			switch {
			case len(p) == 1 && p[0].Kind == wire.KindFourLetter && p[0].Word == "ruok":
				word++
				c.Send([]byte("imok"), 1)
			case len(p) == 2 && c.(*secureConn).Secure():
				secure++
			case len(p) == 3 && !c.(*secureConn).Secure():
				plain++
			}
		}
		return secure == 1 && plain == 1 && word == 1
	})
	_ = wc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, _ := io.ReadAll(wc); string(b) != "imok" {
		t.Fatalf("four-letter answer %q (the connection must close after it)", b)
	}
}

// TestSecureTLSPortRefusesPlaintext: a plaintext client on the TLS-only
// port is closed without reaching the Backend beyond its open notice.
func TestSecureTLSPortRefusesPlaintext(t *testing.T) {
	be := newHeldBackend(false)
	fe, _ := startSecure(t, be, false, nil)
	pc, err := net.Dial("tcp", fe.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.Write(connectAndGets(1)); err != nil {
		t.Fatal(err)
	}
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(pc)
	if len(b) > 0 && b[0] != 0x15 { // at most a TLS alert record
		t.Fatalf("plaintext client got %q", b)
	}
	waitFor(t, "closed", func() bool { _, _, closed := be.snapshot(); return closed == 1 })
	if _, got, _ := be.snapshot(); len(got) != 1 || len(got[firstKey(got)]) != 0 {
		t.Fatalf("packets reached the Backend: %v", got)
	}
	if fe.HandshakeFailures() != 1 {
		t.Fatalf("handshake failures %d", fe.HandshakeFailures())
	}
}

func firstKey(m map[Conn][]wire.ClientPacket) Conn {
	for k := range m {
		return k
	}
	return nil
}

func TestRFC2253MatchesJavaOrder(t *testing.T) {
	certs := zktlstest.NewSet(t)
	l := certs.CA.Issue(t, zktlstest.LeafOptions{Subject: pkix.Name{CommonName: "a,b", Organization: []string{"zkgo"},
		Country: []string{"NL"}}, Client: true, FileStem: "x"})
	// Go writes C, O, then CN; Java's getName() lists them last to first.
	if got := RFC2253(l.Cert); got != `CN=a\,b,O=zkgo,C=NL` {
		t.Fatalf("RFC2253 %q", got)
	}
}
