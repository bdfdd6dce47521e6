package zktls

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// material is what the stores held when last read.
type material struct {
	cert  *tls.Certificate // nil without a key store
	roots *x509.CertPool   // nil without a trust store
}

// loadKeyStore reads a key store: a private key and its certificate chain.
func loadKeyStore(st Store) (*tls.Certificate, error) {
	data, err := os.ReadFile(st.Location)
	if err != nil {
		return nil, fmt.Errorf("key store: %w", err)
	}
	switch st.Type {
	case "PKCS12":
		key, leaf, chain, err := pkcs12.DecodeChain(data, st.Password)
		if err != nil {
			return nil, fmt.Errorf("key store %s: %w", st.Location, err)
		}
		c := &tls.Certificate{PrivateKey: key, Leaf: leaf, Certificate: [][]byte{leaf.Raw}}
		for _, ca := range chain {
			c.Certificate = append(c.Certificate, ca.Raw)
		}
		if _, ok := key.(crypto.Signer); !ok {
			return nil, fmt.Errorf("key store %s: unsupported private key type %T", st.Location, key)
		}
		return c, nil
	case "PEM":
		// Java's PemReader: the certificate chain and one private key in
		// one file; an encrypted key (ENCRYPTED PRIVATE KEY) would need
		// PKCS#8 decryption, which Go's library does not do.
		var certs, keys bytes.Buffer
		rest := data
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			switch {
			case b.Type == "CERTIFICATE":
				_ = pem.Encode(&certs, b)
			case b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "":
				return nil, fmt.Errorf("key store %s: the private key is encrypted; zkgo reads unencrypted PEM keys "+
					"only (keep the file readable by the server alone, or use a PKCS12 store with a password)", st.Location)
			case bytes.HasSuffix([]byte(b.Type), []byte("PRIVATE KEY")):
				_ = pem.Encode(&keys, b)
			}
		}
		c, err := tls.X509KeyPair(certs.Bytes(), keys.Bytes())
		if err != nil {
			return nil, fmt.Errorf("key store %s: %w", st.Location, err)
		}
		return &c, nil
	}
	return nil, fmt.Errorf("key store %s: unsupported type %q", st.Location, st.Type)
}

// loadTrustStore reads the trusted certificates of a trust store.
func loadTrustStore(st Store) (*x509.CertPool, error) {
	data, err := os.ReadFile(st.Location)
	if err != nil {
		return nil, fmt.Errorf("trust store: %w", err)
	}
	pool := x509.NewCertPool()
	switch st.Type {
	case "PKCS12":
		// Java keeps only entries marked trusted (keytool -importcert);
		// DecodeTrustStore reads exactly those.
		certs, err := pkcs12.DecodeTrustStore(data, st.Password)
		if err != nil {
			return nil, fmt.Errorf("trust store %s: %w", st.Location, err)
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
		if len(certs) == 0 {
			return nil, fmt.Errorf("trust store %s: no trusted certificate entries", st.Location)
		}
	case "PEM":
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("trust store %s: no certificate in the file", st.Location)
		}
	default:
		return nil, fmt.Errorf("trust store %s: unsupported type %q", st.Location, st.Type)
	}
	return pool, nil
}

func (s Settings) load() (*material, error) {
	m := &material{}
	var err error
	if s.KeyStore.Location != "" {
		if m.cert, err = loadKeyStore(s.KeyStore); err != nil {
			return nil, err
		}
	}
	if s.TrustStore.Location != "" {
		if m.roots, err = loadTrustStore(s.TrustStore); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Source holds the stores of one Settings, read at start and again
// whenever one of their files changes (Java's FileChangeWatcher: a change
// that cannot be read leaves the previous stores in use). Connections
// accepted after a reload use the new stores.
type Source struct {
	s    Settings
	log  zerolog.Logger
	cur  atomic.Pointer[material]
	stop context.CancelFunc
	wg   sync.WaitGroup
	// Reloads counts the successful reloads (tests, logs).
	Reloads atomic.Int64
}

// PollInterval is how often the store files are checked for changes.
var PollInterval = time.Second

// NewSource reads the stores of s and starts watching their files; Close
// stops the watch.
func NewSource(s Settings, log zerolog.Logger) (*Source, error) {
	m, err := s.load()
	if err != nil {
		return nil, err
	}
	src := &Source{s: s, log: log}
	src.cur.Store(m)
	ctx, cancel := context.WithCancel(context.Background())
	src.stop = cancel
	src.wg.Add(1)
	go src.watch(ctx)
	return src, nil
}

// Close stops watching the files. It is idempotent.
func (src *Source) Close() {
	src.stop()
	src.wg.Wait()
}

// Settings returns the settings the source was made from.
func (src *Source) Settings() Settings { return src.s }

// fileSig identifies a file's content cheaply.
type fileSig struct {
	mtime time.Time
	size  int64
	ino   uint64
}

func sigOf(path string) fileSig {
	if path == "" {
		return fileSig{}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fileSig{}
	}
	sig := fileSig{mtime: fi.ModTime(), size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		sig.ino = st.Ino
	}
	return sig
}

func (src *Source) watch(ctx context.Context) {
	defer src.wg.Done()
	ks, ts := sigOf(src.s.KeyStore.Location), sigOf(src.s.TrustStore.Location)
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		nks, nts := sigOf(src.s.KeyStore.Location), sigOf(src.s.TrustStore.Location)
		if nks == ks && nts == ts {
			continue
		}
		if nks == (fileSig{}) && src.s.KeyStore.Location != "" || nts == (fileSig{}) && src.s.TrustStore.Location != "" {
			// Deleted (or being replaced): Java ignores deletions; wait
			// for the new file.
			continue
		}
		ks, ts = nks, nts
		m, err := src.s.load()
		if err != nil {
			src.log.Warn().Err(err).Msg("TLS key or trust store changed but cannot be read; keeping the previous ones")
			continue
		}
		src.cur.Store(m)
		src.Reloads.Add(1)
		src.log.Info().Str("key_store", src.s.KeyStore.Location).Str("trust_store", src.s.TrustStore.Location).
			Msg("TLS key and trust stores reloaded")
	}
}

// ServerConfig returns the configuration of a TLS server port. It needs a
// key store, and a trust store whenever client certificates are asked for
// (Java would start and then refuse every certificate).
func (src *Source) ServerConfig() (*tls.Config, error) {
	s := src.s
	if s.KeyStore.Location == "" {
		return nil, errors.New("ssl.keyStore.location is not set: a TLS port needs the server's key and certificate")
	}
	if s.ClientAuth != ClientAuthNone && s.TrustStore.Location == "" {
		return nil, fmt.Errorf("ssl.clientAuth=%s but ssl.trustStore.location is not set: no client certificate "+
			"could be verified (set the trust store, or ssl.clientAuth=none)", s.ClientAuth)
	}
	base := &tls.Config{
		MinVersion:   s.MinVersion,
		MaxVersion:   s.MaxVersion,
		CipherSuites: s.CipherSuites,
	}
	switch s.ClientAuth {
	case ClientAuthNeed:
		base.ClientAuth = tls.RequireAndVerifyClientCert
	case ClientAuthWant:
		base.ClientAuth = tls.VerifyClientCertIfGiven
	default:
		base.ClientAuth = tls.NoClientCert
	}
	return &tls.Config{
		MinVersion: s.MinVersion,
		MaxVersion: s.MaxVersion,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			m := src.cur.Load()
			c := base.Clone()
			c.Certificates = []tls.Certificate{*m.cert}
			c.ClientCAs = m.roots
			if s.VerifyClientHostname && s.HostnameVerification && hello.Conn != nil {
				c.VerifyConnection = clientHostCheck(hello.Conn.RemoteAddr())
			}
			return c, nil
		},
	}, nil
}

// cnMatches is Java's ZKHostnameVerifier fallback that Go no longer
// has: a certificate without DNS or IP subject alternative names matches
// a host (name or address) equal to its subject CN, case aside, or a
// host name matching a leftmost "*." wildcard CN.
func cnMatches(cert *x509.Certificate, host string) bool {
	if len(cert.DNSNames) > 0 || len(cert.IPAddresses) > 0 {
		return false
	}
	cn := strings.ToLower(strings.TrimSuffix(cert.Subject.CommonName, "."))
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if cn == "" {
		return false
	}
	if rest, ok := strings.CutPrefix(cn, "*."); ok && net.ParseIP(host) == nil {
		i := strings.IndexByte(host, '.')
		return i > 0 && host[i+1:] == rest && strings.Contains(rest, ".")
	}
	return cn == host
}

// clientHostCheck is ZKTrustManager's check of a client certificate
// against the client's address (quorum ports): the address itself, then
// the names it resolves back to.
func clientHostCheck(remote net.Addr) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return nil // ssl.clientAuth=want/none without a certificate
		}
		host, _, err := net.SplitHostPort(remote.String())
		if err != nil {
			return fmt.Errorf("zktls: client address %s: %w", remote, err)
		}
		names := []string{host}
		if err := VerifyHostnames(cs.PeerCertificates[0], names); err == nil {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		rev, _ := net.DefaultResolver.LookupAddr(ctx, host)
		for _, r := range rev {
			names = append(names, strings.TrimSuffix(r, "."))
		}
		if err := VerifyHostnames(cs.PeerCertificates[0], names); err != nil {
			return fmt.Errorf("zktls: client certificate does not match the client's address %s: %w", host, err)
		}
		return nil
	}
}

// ClientConfig returns the configuration of a TLS client of a ZooKeeper
// server at serverName: the trust store verifies the server (the system
// roots without one), with its host name checked unless
// ssl.hostnameVerification=false; the key store, if any, is the client's
// certificate.
func (src *Source) ClientConfig(serverName string) *tls.Config {
	return src.ClientConfigNames(serverName)
}

// ClientConfigNames is ClientConfig for a server known by several names
// (a quorum peer: its address and its configured host name, as Java's
// ZKTrustManager checks the socket's address then its host name): the
// certificate must match one of them. The first name is sent as SNI.
func (src *Source) ClientConfigNames(names ...string) *tls.Config {
	s := src.s
	serverName := ""
	if len(names) > 0 {
		serverName = names[0]
	}
	c := &tls.Config{
		MinVersion:   s.MinVersion,
		MaxVersion:   s.MaxVersion,
		CipherSuites: s.CipherSuites,
		ServerName:   serverName,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if m := src.cur.Load(); m.cert != nil {
				return m.cert, nil
			}
			return &tls.Certificate{}, nil
		},
	}
	// Verification is done here so that reloaded roots apply and the
	// host name check can be turned off on its own, as Java's
	// ZKTrustManager does.
	c.InsecureSkipVerify = true
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("zktls: server sent no certificate")
		}
		opts := x509.VerifyOptions{Roots: src.cur.Load().roots, Intermediates: x509.NewCertPool()}
		for _, ic := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(ic)
		}
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			return err
		}
		if s.HostnameVerification {
			return VerifyHostnames(cs.PeerCertificates[0], names)
		}
		return nil
	}
	return c
}

// VerifyHostnames checks that cert is valid for one of names (an IP
// address or a DNS name each; empty names are skipped).
func VerifyHostnames(cert *x509.Certificate, names []string) error {
	var first error
	tried := false
	for _, n := range names {
		if n == "" {
			continue
		}
		tried = true
		err := cert.VerifyHostname(n)
		if err == nil || cnMatches(cert, n) {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	if !tried {
		return errors.New("zktls: no host name to verify the certificate against")
	}
	return first
}
