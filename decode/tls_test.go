package decode

import (
	"crypto/tls"
	"crypto/x509"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/zkgo/zkgo/internal/zktls/zktlstest"
)

// recConn records what is written through it.
type recConn struct {
	net.Conn
	mu  *sync.Mutex
	log *[]seg
	dir Dir
}

func (r recConn) Write(b []byte) (int, error) {
	r.mu.Lock()
	*r.log = append(*r.log, seg{dir: r.dir, data: append([]byte(nil), b...)})
	r.mu.Unlock()
	return r.Conn.Write(b)
}

// tlsSegments runs a real TLS session (handshake, a request, a reply)
// and returns the bytes each side wrote, in order.
func tlsSegments(t *testing.T) []seg {
	t.Helper()
	certs := zktlstest.NewSet(t)
	kp, err := tls.LoadX509KeyPair(certs.Server.CertPath, certs.Server.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(certs.CA.Cert)
	a, b := net.Pipe()
	var mu sync.Mutex
	var log []seg
	done := make(chan error, 1)
	go func() {
		s := tls.Server(recConn{a, &mu, &log, FromServer}, &tls.Config{Certificates: []tls.Certificate{kp}})
		buf := make([]byte, 64)
		n, err := s.Read(buf)
		if err == nil {
			_, err = s.Write(buf[:n])
		}
		done <- err
	}()
	c := tls.Client(recConn{b, &mu, &log, ToServer}, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if _, err := c.Write([]byte("\x00\x00\x00\x08secret!!")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if _, err := c.Read(buf); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
	return log
}

// TestDecodeSaysTLS: a TLS connection, on the client port or on a port
// the decoder does not know, is reported once as TLS that cannot be
// decoded (no garbage, no undecodable messages), and a plaintext session
// in the same capture still decodes.
func TestDecodeSaysTLS(t *testing.T) {
	segs := tlsSegments(t)
	for _, port := range []uint16{2181, 2281} {
		cb := newCap(layers.LinkTypeEthernet, false)
		srv := netip.AddrPortFrom(srvAddr.Addr(), port)
		s := newScript(netip.MustParseAddrPort("10.0.0.9:40001"), srv, 1000).syn()
		for _, g := range segs {
			s.send(g.dir, g.data)
		}
		s.fin().write(cb)
		fr, want := clientSession(rand.New(rand.NewPCG(1, 2)))
		framesScript(cliAddr, srvAddr, fr).write(cb)
		got, counts := run(t, cb.bytes(), Config{})
		var notes []decoded
		var rest []decoded
		for _, m := range got {
			if m.kind == KindNote {
				notes = append(notes, m)
			} else {
				rest = append(rest, m)
			}
		}
		if len(notes) != 1 || !strings.Contains(notes[0].text, "TLS connection") {
			t.Fatalf("port %d: notes %+v", port, notes)
		}
		if counts.TLSConns != 1 || counts.Undecodable != 0 || counts.TLSBytes == 0 {
			t.Fatalf("port %d: counts %+v", port, counts)
		}
		requireSums(t, rest, want)
	}
}

// TestDecodeSaysQuorumTLS: a TLS connection to a quorum or election port
// (configured or well known) is named as quorum TLS, once, and nothing
// in it is decoded.
func TestDecodeSaysQuorumTLS(t *testing.T) {
	segs := tlsSegments(t)
	for _, c := range []struct {
		port uint16
		cfg  Config
		want string
	}{
		{2888, Config{}, "quorum TLS connection on the leader/learner port"},
		{3888, Config{}, "quorum TLS connection on the election port"},
		{40001, Config{QuorumPorts: []uint16{40001}}, "leader/learner port"},
		{40002, Config{ElectionPorts: []uint16{40002}}, "election port"},
	} {
		cb := newCap(layers.LinkTypeEthernet, false)
		srv := netip.AddrPortFrom(srvAddr.Addr(), c.port)
		s := newScript(netip.MustParseAddrPort("10.0.0.9:40101"), srv, 1000).syn()
		for _, g := range segs {
			s.send(g.dir, g.data)
		}
		s.fin().write(cb)
		got, counts := run(t, cb.bytes(), c.cfg)
		if len(got) != 1 || got[0].kind != KindNote || !strings.Contains(got[0].text, c.want) {
			t.Fatalf("port %d: %+v", c.port, got)
		}
		if counts.TLSConns != 1 || counts.Undecodable != 0 {
			t.Fatalf("port %d: counts %+v", c.port, counts)
		}
	}
}
