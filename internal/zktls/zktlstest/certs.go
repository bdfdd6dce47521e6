// Package zktlstest makes throwaway certificates for TLS tests: a CA, a
// server certificate for 127.0.0.1/localhost, client certificates, written
// as the PEM and PKCS12 files ZooKeeper's ssl.* keys name.
package zktlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// CA is a certificate authority.
type CA struct {
	Cert    *x509.Certificate
	Key     *ecdsa.PrivateKey
	PEMPath string // the CA certificate as a PEM trust store
	dir     string
}

var serial atomic.Int64

// Leaf is a certificate with its key, written to files.
type Leaf struct {
	Cert     *x509.Certificate
	Key      *ecdsa.PrivateKey
	PEMPath  string // key and certificate chain (Java's PEM key store)
	CertPath string // certificate alone (kazoo's certfile)
	KeyPath  string // key alone, PKCS#8 (kazoo's keyfile)
	P12Path  string // PKCS12 key store, password "secret"
}

// P12Password protects the PKCS12 stores written here.
const P12Password = "secret"

// NewCA makes a CA named cn with its files in dir.
func NewCA(t testing.TB, dir, cn string) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"zkgo test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &CA{Cert: cert, Key: key, dir: dir, PEMPath: filepath.Join(dir, cn+"-ca.pem")}
	writePEM(t, ca.PEMPath, pem.Block{Type: "CERTIFICATE", Bytes: der})
	return ca
}

// TrustP12 writes the CA as a PKCS12 trust store (Java's trusted
// certificate entry) and returns its path.
func (ca *CA) TrustP12(t testing.TB) string {
	t.Helper()
	b, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca.Cert}, P12Password)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(ca.dir, ca.Cert.Subject.CommonName+"-trust.p12")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// LeafOptions shape a certificate.
type LeafOptions struct {
	Subject  pkix.Name
	Server   bool // server certificate for 127.0.0.1 and localhost
	Client   bool // client authentication usage
	Expired  bool // valid until an hour ago
	FileStem string
}

// Issue makes a certificate signed by ca and writes its files.
func (ca *CA) Issue(t testing.TB, o LeafOptions) *Leaf {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)),
		Subject:      o.Subject,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	if o.Expired {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour)
	}
	if o.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	if o.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pk8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	stem := filepath.Join(ca.dir, o.FileStem)
	l := &Leaf{Cert: cert, Key: key, PEMPath: stem + ".pem", CertPath: stem + "-cert.pem", KeyPath: stem + "-key.pem",
		P12Path: stem + ".p12"}
	writePEM(t, l.PEMPath, pem.Block{Type: "PRIVATE KEY", Bytes: pk8}, pem.Block{Type: "CERTIFICATE", Bytes: der})
	writePEM(t, l.CertPath, pem.Block{Type: "CERTIFICATE", Bytes: der})
	writePEM(t, l.KeyPath, pem.Block{Type: "PRIVATE KEY", Bytes: pk8})
	p12, err := pkcs12.Modern.Encode(key, cert, []*x509.Certificate{ca.Cert}, P12Password)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.P12Path, p12, 0o600); err != nil {
		t.Fatal(err)
	}
	return l
}

func writePEM(t testing.TB, path string, blocks ...pem.Block) {
	t.Helper()
	var out []byte
	for _, b := range blocks {
		out = append(out, pem.EncodeToMemory(&b)...)
	}
	// Write then rename, so a watcher never reads half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Set is what most TLS tests need: a CA, a server certificate, a client
// certificate (CN=client,O=zkgo), and the server's ssl.* properties.
type Set struct {
	Dir    string
	CA     *CA
	Server *Leaf
	Client *Leaf
}

// NewSet makes a Set in a fresh temp dir.
func NewSet(t testing.TB) *Set {
	t.Helper()
	dir := t.TempDir()
	ca := NewCA(t, dir, "zkgo-test-ca")
	return &Set{
		Dir:    dir,
		CA:     ca,
		Server: ca.Issue(t, LeafOptions{Subject: pkix.Name{CommonName: "zkgo-server"}, Server: true, Client: true, FileStem: "server"}),
		Client: ca.Issue(t, LeafOptions{Subject: pkix.Name{CommonName: "client", Organization: []string{"zkgo"}}, Client: true, FileStem: "client"}),
	}
}

// ServerProps returns zoo.cfg lines (without "zookeeper.") for a server
// using the PEM files, plus extra.
func (s *Set) ServerProps(extra map[string]string) map[string]string {
	m := map[string]string{
		"ssl.keyStore.location":   s.Server.PEMPath,
		"ssl.keyStore.type":       "PEM",
		"ssl.trustStore.location": s.CA.PEMPath,
		"ssl.trustStore.type":     "PEM",
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}
