package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// TLS benchmarks (`zkgo bench compare --tls`): both servers get a
// secureClientPort with the same certificates (Java with
// NettyServerCnxnFactory, which its TLS needs) and every workload
// connection goes to it over TLS, with a client certificate
// (ssl.clientAuth=need, Java's default). Four-letter words and mntr stay
// on the plaintext port.

// TLSSetup is the certificates of a TLS run.
type TLSSetup struct {
	ServerPEM string // key and chain, the servers' ssl.keyStore
	CAPEM     string // the servers' ssl.trustStore
	client    *tls.Config
}

// secureAddrs maps a server's secure address to the client TLS config
// dial uses for it.
var secureAddrs sync.Map

// NewTLSSetup writes a CA and a server certificate for 127.0.0.1 into dir
// and builds the load client's TLS configuration (with its own
// certificate from the same CA).
func NewTLSSetup(dir string) (*TLSSetup, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "zkgo bench CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caT, caT, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage) (*ecdsa.PrivateKey, []byte, error) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		t := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
		der, err := x509.CreateCertificate(rand.Reader, t, ca, &k.PublicKey, caKey)
		return k, der, err
	}
	sk, sder, err := leaf(2, "zkgo bench server", x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, err
	}
	ck, cder, err := leaf(3, "zkgo bench client", x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, err
	}
	sk8, err := x509.MarshalPKCS8PrivateKey(sk)
	if err != nil {
		return nil, err
	}
	st := &TLSSetup{ServerPEM: filepath.Join(dir, "server.pem"), CAPEM: filepath.Join(dir, "ca.pem")}
	server := append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: sk8}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: sder})...)
	if err := os.WriteFile(st.ServerPEM, server, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(st.CAPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	st.client = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1",
		Certificates: []tls.Certificate{{Certificate: [][]byte{cder}, PrivateKey: ck}}}
	return st, nil
}

// props are the zoo.cfg lines of a TLS server on port.
func (st *TLSSetup) props(k Kind, port int) map[string]string {
	p := map[string]string{
		"secureClientPort":        fmt.Sprint(port),
		"ssl.keyStore.location":   st.ServerPEM,
		"ssl.keyStore.type":       "PEM",
		"ssl.trustStore.location": st.CAPEM,
		"ssl.trustStore.type":     "PEM",
		"ssl.clientAuth":          "need",
	}
	if k == Java {
		p["serverCnxnFactory"] = "org.apache.zookeeper.server.NettyServerCnxnFactory"
	}
	return p
}

// clientConn wraps nc in TLS when addr is a secure address.
func clientConn(addr string, nc net.Conn) (net.Conn, error) {
	v, ok := secureAddrs.Load(addr)
	if !ok {
		return nc, nil
	}
	tc := tls.Client(nc, v.(*tls.Config))
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("bench: TLS handshake: %w", err)
	}
	_ = nc.SetDeadline(time.Time{})
	return tc, nil
}
