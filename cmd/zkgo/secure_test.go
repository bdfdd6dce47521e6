package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/internal/zktls/zktlstest"
	"github.com/zkgo/zkgo/node"
	"github.com/zkgo/zkgo/wire"
)

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// session asks for a session over c and reports whether one was granted.
func session(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	req := wire.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)}
	if _, err := c.Write(wire.AppendConnect(nil, req, false, true)); err != nil {
		return false
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return false
	}
	body := make([]byte, int(hdr[0])<<24|int(hdr[1])<<16|int(hdr[2])<<8|int(hdr[3]))
	if _, err := io.ReadFull(c, body); err != nil {
		return false
	}
	r, err := wire.DecodeConnectReply(body)
	return err == nil && r.SessionID != 0
}

// zkgo server's listeners from zoo.cfg: secureClientPort beside
// clientPort, secureClientPort alone (no plaintext listener; conf says
// clientPort=-1), and client.portUnification (TLS and plaintext on the
// client port).
func TestServeClientsFromZooCfg(t *testing.T) {
	certs := zktlstest.NewSet(t)
	pool := x509.NewCertPool()
	pool.AddCert(certs.CA.Cert)
	kp, err := tls.LoadX509KeyPair(certs.Client.CertPath, certs.Client.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	ccfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{kp}}
	tlsLines := fmt.Sprintf("ssl.keyStore.location=%s\nssl.trustStore.location=%s\n", certs.Server.PEMPath, certs.CA.PEMPath)
	for _, c := range []struct {
		name            string
		plain, unified  bool
		secure          bool
		extra           string
		wantConfPortNeg bool
	}{
		{name: "both", plain: true, secure: true},
		{name: "secure only", secure: true, wantConfPortNeg: true},
		{name: "unified", plain: true, unified: true, extra: "client.portUnification=true\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cp, sp := freeTCPPort(t), freeTCPPort(t)
			zc := fmt.Sprintf("dataDir=%s\n4lw.commands.whitelist=*\n%s%s", t.TempDir(), tlsLines, c.extra)
			if c.plain {
				zc += fmt.Sprintf("clientPort=%d\nclientPortAddress=127.0.0.1\n", cp)
			}
			if c.secure {
				zc += fmt.Sprintf("secureClientPort=%d\nsecureClientPortAddress=127.0.0.1\n", sp)
			}
			cfg, err := node.ParseConfig(strings.NewReader(zc))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Logger = zerolog.Nop()
			srv, err := node.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			fe, sec, err := serveClients(srv, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = sec.stop(ctx)
				sec.close()
				if fe != nil {
					_ = fe.Stop(ctx)
				}
				_ = srv.Stop(ctx)
			}()
			plainAddr, secAddr := fmt.Sprintf("127.0.0.1:%d", cp), fmt.Sprintf("127.0.0.1:%d", sp)
			dialTLS := func(addr string) bool {
				tc, err := tls.Dial("tcp", addr, ccfg)
				if err != nil {
					return false
				}
				defer tc.Close()
				return session(t, tc)
			}
			dialPlain := func(addr string) bool {
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					return false
				}
				defer nc.Close()
				return session(t, nc)
			}
			if got := dialTLS(secAddr); got != c.secure {
				t.Errorf("TLS session on the secure port: %v, want %v", got, c.secure)
			}
			if got := dialPlain(plainAddr); got != c.plain {
				t.Errorf("plaintext session on the client port: %v, want %v", got, c.plain)
			}
			if got := dialTLS(plainAddr); got != c.unified {
				t.Errorf("TLS session on the client port: %v, want %v", got, c.unified)
			}
			if c.secure && dialPlain(secAddr) {
				t.Error("plaintext session on the secure port")
			}
			var b strings.Builder
			if c.wantConfPortNeg {
				tc, err := tls.Dial("tcp", secAddr, ccfg)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = tc.Write([]byte("conf"))
				_ = tc.SetReadDeadline(time.Now().Add(5 * time.Second))
				out, _ := io.ReadAll(tc)
				tc.Close()
				b.Write(out)
				if !strings.Contains(b.String(), "clientPort=-1\n") || !strings.Contains(b.String(), fmt.Sprintf("secureClientPort=%d\n", sp)) {
					t.Errorf("conf over TLS:\n%s", b.String())
				}
			}
		})
	}
}
