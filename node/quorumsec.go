package node

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/internal/zktls"
)

// Quorum TLS (sslQuorum, portUnification, ssl.quorum.*) and quorum SASL
// (quorum.auth.*, quorumsasl.go) as Java 3.8's QuorumPeer, QuorumX509Util,
// UnifiedServerSocket, QuorumCnxManager and Learner set them up. Both the
// election port and the quorum (leader/learner) port are covered, in both
// directions, at the connection-establishment layer only: the protocols
// above see a net.Conn as before.
//
//   - Dialing (election initiator, learner): TLS when sslQuorum, then on
//     the learner's quorum connection the SASL exchange; on an election
//     connection the SASL exchange follows the initial message, as in Java.
//   - Accepting: with sslQuorum or portUnification the first five bytes
//     tell a TLS client from a plaintext one (UnifiedServerSocket);
//     plaintext is refused unless portUnification. The quorum port then
//     runs the server side of SASL before the learner's first packet; the
//     election port runs it after the initial message.

// Quorum security keys (QuorumPeerConfig spells them without
// "zookeeper.").
const (
	sslQuorumKey          = "sslQuorum"
	quorumUnificationKey  = "portUnification"
	sslQuorumReloadKey    = "sslQuorumReloadCertFiles"
	quorumSASLEnabledKey  = "quorum.auth.enableSasl"
	quorumLearnerReqKey   = "quorum.auth.learnerRequireSasl"
	quorumServerReqKey    = "quorum.auth.serverRequireSasl"
	quorumLearnerCtxKey   = "quorum.auth.learner.saslLoginContext"
	quorumServerCtxKey    = "quorum.auth.server.saslLoginContext"
	quorumKrbPrincipalKey = "quorum.auth.kerberos.servicePrincipal"
)

// quorumSecSettings are the quorum security settings of a Config.
type quorumSecSettings struct {
	ssl, unify, reload bool
	tls                zktls.Settings
	sasl               *quorumSASL // nil unless quorum.auth.enableSasl
}

// active reports whether any quorum connection needs more than TCP.
func (q quorumSecSettings) active() bool { return q.ssl || q.unify || q.sasl != nil }

// rawBool is QuorumPeerConfig.parseBoolean: "true" or "false" in any case,
// anything else refused; absent is false.
func rawBool(raw map[string]string, key string) (bool, error) {
	v, ok := raw[key]
	if !ok {
		v, ok = raw["zookeeper."+key]
	}
	if !ok {
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%s: invalid value %q: must be true or false", key, v)
}

// quorumSecurity reads and checks the quorum security settings. The key
// and trust stores are read when the peer starts; the JAAS file here.
func (c Config) quorumSecurity() (quorumSecSettings, error) {
	var q quorumSecSettings
	var errs []error
	get := func(k string) bool {
		b, err := rawBool(c.Raw, k)
		if err != nil {
			errs = append(errs, err)
		}
		return b
	}
	q.ssl, q.unify, q.reload = get(sslQuorumKey), get(quorumUnificationKey), get(sslQuorumReloadKey)
	s, err := zktls.Parse(c.Properties, zktls.QuorumPrefix)
	if err != nil {
		errs = append(errs, err)
	}
	q.tls = s
	quorum := c.Quorum != nil
	if quorum && (q.ssl || q.unify) {
		// Java starts and then fails every quorum handshake; zkgo says
		// why at once.
		if s.KeyStore.Location == "" {
			errs = append(errs, errors.New("sslQuorum or portUnification is set but ssl.quorum.keyStore.location is not: "+
				"quorum TLS needs this server's key and certificate"))
		}
		if s.TrustStore.Location == "" {
			errs = append(errs, errors.New("sslQuorum or portUnification is set but ssl.quorum.trustStore.location is not: "+
				"the other members' certificates could not be verified"))
		}
	}
	sasl, err := c.quorumSASLSettings(get, quorum)
	if err != nil {
		errs = append(errs, err)
	}
	q.sasl = sasl
	return q, errors.Join(errs...)
}

// validateQuorumSec is quorumSecurity's errors for validate. A standalone
// server checks the values only (Java's QuorumPeerConfig parses them
// before it knows it runs standalone), not what a quorum member needs.
func (c Config) validateQuorumSec() []error {
	if _, err := c.quorumSecurity(); err != nil {
		return []error{err}
	}
	return nil
}

// quorumSec is a running member's quorum connection security.
type quorumSec struct {
	quorumSecSettings
	log zerolog.Logger
	src *zktls.Source // with ssl or unify
	srv *tls.Config
}

// newQuorumSec reads the stores; nil, nil when nothing is configured.
func newQuorumSec(cfg Config) (*quorumSec, error) {
	st, err := cfg.quorumSecurity()
	if err != nil {
		return nil, err
	}
	if !st.active() {
		return nil, nil
	}
	qs := &quorumSec{quorumSecSettings: st, log: cfg.Logger.With().Str("component", "quorum_security").Logger()}
	if st.ssl || st.unify {
		if qs.src, err = zktls.NewSource(st.tls, qs.log); err != nil {
			return nil, fmt.Errorf("node: ssl.quorum stores: %w", err)
		}
		if !st.reload {
			// sslQuorumReloadCertFiles=false (the default): Java keeps
			// the stores it started with.
			qs.src.Close()
		}
		if qs.srv, err = qs.src.ServerConfig(); err != nil {
			qs.src.Close()
			return nil, fmt.Errorf("node: quorum TLS: %w", err)
		}
	}
	qs.log.Info().Bool("ssl_quorum", st.ssl).Bool("port_unification", st.unify).Bool("sasl", st.sasl != nil).
		Bool("learner_require_sasl", st.sasl != nil && st.sasl.learnerRequire).
		Bool("server_require_sasl", st.sasl != nil && st.sasl.serverRequire).Msg("quorum connection security")
	return qs, nil
}

func (qs *quorumSec) close() {
	if qs != nil && qs.src != nil {
		qs.src.Close()
	}
}

// secureDial makes a freshly dialed quorum connection secure: TLS when
// sslQuorum (the certificate checked against the address dialed and the
// configured host name, as ZKTrustManager does). host is the server.N
// line's host.
func (qs *quorumSec) secureDial(ctx context.Context, c net.Conn, host string) (net.Conn, error) {
	if qs == nil || !qs.ssl {
		return c, nil
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	ip, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	tc := tls.Client(c, qs.src.ClientConfigNames(ip, host))
	if err := tc.HandshakeContext(ctx); err != nil {
		qs.log.Warn().Str("remote", c.RemoteAddr().String()).Err(err).Msg("Cannot open secure channel: TLS handshake failed")
		return nil, fmt.Errorf("quorum TLS handshake with %s: %w", c.RemoteAddr(), err)
	}
	st := tc.ConnectionState()
	qs.log.Info().Str("remote", c.RemoteAddr().String()).Str("protocol", tls.VersionName(st.Version)).
		Str("cipher", tls.CipherSuiteName(st.CipherSuite)).Msg("SSL handshake complete")
	return tc, nil
}

// dialLearner is the learner's connection to the leader's quorum port
// after the TCP connect: TLS, then quorum SASL (Learner.connectToLeader,
// authLearner.authenticate).
func (qs *quorumSec) dialLearner(ctx context.Context, c net.Conn, addr string) (net.Conn, error) {
	if qs == nil {
		return c, nil
	}
	host, _, _ := net.SplitHostPort(addr)
	sc, err := qs.secureDial(ctx, c, host)
	if err != nil {
		c.Close()
		return nil, err
	}
	if qs.sasl != nil {
		if dl, ok := ctx.Deadline(); ok {
			_ = sc.SetDeadline(dl)
		}
		err := qs.sasl.learnerAuth(sc, qs.log)
		_ = sc.SetDeadline(time.Time{})
		if err != nil {
			sc.Close()
			return nil, err
		}
	}
	return sc, nil
}

// listener wraps a quorum or election port's listener: its connections
// set themselves up (TLS detection and handshake; on the quorum port,
// saslServer, the SASL exchange) on their first Read or Write, on the
// goroutine that handles them and within the deadline it set, never on
// the accept loop.
func (qs *quorumSec) listener(ln net.Listener, saslServer bool) net.Listener {
	if qs == nil || !qs.ssl && !qs.unify && !(saslServer && qs.sasl != nil) {
		return ln
	}
	return &secListener{Listener: ln, qs: qs, sasl: saslServer && qs.sasl != nil}
}

type secListener struct {
	net.Listener
	qs   *quorumSec
	sasl bool
}

func (l *secListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return &secConn{Conn: c, qs: l.qs, sasl: l.sasl}, nil
}

// secConn is an accepted quorum connection whose security preamble runs
// on first use. Deadlines and Close act on the TCP connection.
type secConn struct {
	net.Conn
	qs     *quorumSec
	sasl   bool
	once   sync.Once
	err    error
	stream net.Conn      // after setup: TLS or (replayed) plaintext
	r      *bufio.Reader // reads stream when sasl (the exchange peeks)
	// TLS reports whether the connection is TLS (after setup).
	TLS bool
}

func (c *secConn) setup() error {
	c.once.Do(func() { c.err = c.handshake() })
	return c.err
}

func (c *secConn) Read(b []byte) (int, error) {
	if err := c.setup(); err != nil {
		return 0, err
	}
	if c.r != nil {
		return c.r.Read(b)
	}
	return c.stream.Read(b)
}

func (c *secConn) Write(b []byte) (int, error) {
	if err := c.setup(); err != nil {
		return 0, err
	}
	return c.stream.Write(b)
}

// errInsecure is UnifiedServerSocket's refusal of plaintext.
var errInsecure = errors.New("Blocked insecure connection attempt")

func (c *secConn) handshake() error {
	qs := c.qs
	remote := c.Conn.RemoteAddr().String()
	c.stream = c.Conn
	if qs.ssl || qs.unify {
		pre, isTLS, err := zktls.Sniff(c.Conn)
		if err != nil && len(pre) == 0 {
			return fmt.Errorf("quorum connection from %s: %w", remote, err)
		}
		raw := &zktls.PrefixConn{Conn: c.Conn, Pre: pre}
		switch {
		case isTLS:
			tc := tls.Server(raw, qs.srv)
			if err := tc.Handshake(); err != nil {
				qs.log.Warn().Str("remote", remote).Err(err).Msg("quorum TLS handshake failed, closing the connection")
				return fmt.Errorf("quorum TLS handshake with %s: %w", remote, err)
			}
			st := tc.ConnectionState()
			qs.log.Info().Str("remote", remote).Str("protocol", tls.VersionName(st.Version)).
				Str("cipher", tls.CipherSuiteName(st.CipherSuite)).Msg("Accepted TLS connection")
			c.stream, c.TLS = tc, true
		case qs.unify:
			qs.log.Info().Str("remote", remote).Msg("Accepted plaintext connection")
			c.stream = raw
		default:
			qs.log.Warn().Str("remote", remote).Msg("Blocked insecure connection attempt (sslQuorum=true, portUnification=false)")
			return errInsecure
		}
	}
	if c.sasl {
		c.r = bufio.NewReader(c.stream)
		if err := qs.sasl.serverAuth(c.stream, c.r, qs.log); err != nil {
			qs.log.Error().Str("remote", remote).Err(err).
				Msg("Server failed to authenticate quorum learner, closing connection")
			return err
		}
	}
	return nil
}

// electionHooks returns what the election service needs to dial and
// authenticate securely (nil functions: plain TCP, no SASL).
func (qs *quorumSec) electionHooks(hostOf func(sid int64) string) (
	dial func(ctx context.Context, sid int64, addr string) (net.Conn, error),
	authLearner func(c net.Conn, sid int64) error,
	authServer func(c net.Conn, r *bufio.Reader) error) {
	if qs == nil {
		return nil, nil, nil
	}
	if qs.ssl {
		dial = func(ctx context.Context, sid int64, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			sc, err := qs.secureDial(ctx, c, hostOf(sid))
			if err != nil {
				c.Close()
				return nil, err
			}
			return sc, nil
		}
	}
	if qs.sasl != nil {
		authLearner = func(c net.Conn, sid int64) error { return qs.sasl.learnerAuth(c, qs.log) }
		authServer = func(c net.Conn, r *bufio.Reader) error {
			if err := qs.sasl.serverAuth(c, r, qs.log); err != nil {
				qs.log.Error().Str("remote", c.RemoteAddr().String()).Err(err).
					Msg("Exception handling connection, closing server connection")
				return err
			}
			return nil
		}
	}
	return dial, authLearner, authServer
}
