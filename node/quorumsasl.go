package node

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/internal/digestmd5"
	"github.com/zkgo/zkgo/internal/jaas"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// Quorum SASL (DIGEST-MD5) as Java 3.8's SaslQuorumAuthServer,
// SaslQuorumAuthLearner and SaslQuorumServerCallbackHandler run it. The
// JAAS file is the one client SASL reads (zoo.cfg
// java.security.auth.login.config); its QuorumServer section lists the
// users this server accepts (user_<name>="<password>"), its QuorumLearner
// section the username and password this server presents. Kerberos
// (GSSAPI) is refused: no Kerberos library is available to zkgo.

// QuorumAuth.Status values.
const (
	quorumAuthInProgress int32 = 0
	quorumAuthSuccess    int32 = 1
	quorumAuthError      int32 = -1
)

// quorumAuthMaxToken bounds a QuorumAuthPacket token (DIGEST-MD5 tokens
// are a few hundred bytes).
const quorumAuthMaxToken = 64 << 10

// quorumAuthMaxRetries is SaslQuorumAuthServer.MAX_RETRIES.
const quorumAuthMaxRetries = 5

// quorumSASL is a member's quorum SASL configuration.
type quorumSASL struct {
	learnerRequire, serverRequire bool
	user, password                string            // QuorumLearner section
	users                         map[string]string // QuorumServer section
	authzHosts                    map[string]bool   // the server.N hosts
}

// quorumSASLSettings reads the quorum.auth.* keys and the JAAS sections
// (QuorumPeerConfig and QuorumPeer.initialize); nil without
// quorum.auth.enableSasl.
func (c Config) quorumSASLSettings(get func(string) bool, quorum bool) (*quorumSASL, error) {
	enabled := get(quorumSASLEnabledKey)
	learnerReq, serverReq := get(quorumLearnerReqKey), get(quorumServerReqKey)
	// QuorumPeerConfig.parseProperties' checks, in its words.
	switch {
	case !enabled && serverReq:
		return nil, errors.New("quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.serverRequireSasl")
	case !enabled && learnerReq:
		return nil, errors.New("quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.learnerRequireSasl")
	case !learnerReq && serverReq:
		return nil, errors.New("quorum.auth.learnerRequireSasl is disabled, so cannot enable quorum.auth.serverRequireSasl")
	}
	if !enabled || !quorum {
		return nil, nil // standalone: no quorum to authenticate, as Java
	}
	raw := func(k, def string) string {
		if v, ok := c.Raw[k]; ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	if _, ok := c.Raw[quorumKrbPrincipalKey]; ok {
		return nil, fmt.Errorf("%s is set: Kerberos (GSSAPI) quorum authentication is not implemented by zkgo "+
			"(no Kerberos library); use DIGEST-MD5 (DigestLoginModule) in the QuorumServer and QuorumLearner sections",
			quorumKrbPrincipalKey)
	}
	file := strings.TrimSpace(c.Properties[jaasKey])
	if file == "" {
		return nil, errors.New("quorum.auth.enableSasl=true but no JAAS file: set java.security.auth.login.config " +
			"(Java's -Djava.security.auth.login.config) to a file with QuorumServer and QuorumLearner sections")
	}
	jc, err := jaas.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("java.security.auth.login.config: %w", err)
	}
	q := &quorumSASL{learnerRequire: learnerReq, serverRequire: serverReq, users: map[string]string{},
		authzHosts: map[string]bool{}}
	section := func(key, def string) ([]jaas.Module, error) {
		name := raw(key, def)
		mods, ok := jc[name]
		if !ok || len(mods) == 0 {
			return nil, fmt.Errorf("SASL-authentication failed because the specified JAAS configuration section '%s' "+
				"could not be found (%s, file %s)", name, key, file)
		}
		for _, m := range mods {
			if m.Class != digestLoginModule {
				return nil, fmt.Errorf("java.security.auth.login.config: section %s uses %s: only %s (DIGEST-MD5) is "+
					"implemented by zkgo for quorum SASL; Kerberos (GSSAPI) is not", name, m.Class, digestLoginModule)
			}
		}
		return mods, nil
	}
	srv, err := section(quorumServerCtxKey, "QuorumServer")
	if err != nil {
		return nil, err
	}
	for _, m := range srv {
		for k, v := range m.Options {
			if u, ok := strings.CutPrefix(k, "user_"); ok {
				q.users[u] = v
			}
		}
	}
	lrn, err := section(quorumLearnerCtxKey, "QuorumLearner")
	if err != nil {
		return nil, err
	}
	for _, m := range lrn {
		if v, ok := m.Options["username"]; ok {
			q.user = v
		}
		if v, ok := m.Options["password"]; ok {
			q.password = v
		}
	}
	if q.learnerRequire && q.user == "" {
		return nil, fmt.Errorf("quorum.auth.learnerRequireSasl=true but the %s section has no username",
			raw(quorumLearnerCtxKey, "QuorumLearner"))
	}
	if c.Quorum != nil {
		for _, m := range c.Quorum.Servers {
			q.authzHosts[m.Host] = true
		}
	}
	return q, nil
}

// readQuorumAuth reads one QuorumAuthPacket.
func readQuorumAuth(r io.Reader) (wire.QuorumAuthPacket, error) {
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return wire.QuorumAuthPacket{}, fmt.Errorf("reading QuorumAuthPacket: %w", err)
	}
	p := wire.QuorumAuthPacket{
		Magic:  int64(binary.BigEndian.Uint64(hdr[0:8])),
		Status: int32(binary.BigEndian.Uint32(hdr[8:12])),
	}
	n := int32(binary.BigEndian.Uint32(hdr[12:16]))
	if n < -1 || n > quorumAuthMaxToken {
		return p, fmt.Errorf("QuorumAuthPacket token length %d out of range", n)
	}
	if n > 0 {
		p.Token = make([]byte, n)
		if _, err := io.ReadFull(r, p.Token); err != nil {
			return p, fmt.Errorf("reading QuorumAuthPacket token: %w", err)
		}
	}
	return p, nil
}

// writeQuorumAuth writes one QuorumAuthPacket with Java's magic.
func writeQuorumAuth(w io.Writer, status int32, token []byte) error {
	b := jute.Append(nil, &wire.QuorumAuthPacket{Magic: wire.QuorumAuthMagic, Status: status, Token: token})
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("writing QuorumAuthPacket: %w", err)
	}
	return nil
}

// nextIsQuorumAuth is QuorumAuth.nextPacketIsAuth: a peek at the magic.
func nextIsQuorumAuth(r *bufio.Reader) (bool, error) {
	b, err := r.Peek(8)
	if err != nil {
		return false, fmt.Errorf("reading the first packet: %w", err)
	}
	return int64(binary.BigEndian.Uint64(b)) == wire.QuorumAuthMagic, nil
}

// errNotTrying is SaslQuorumAuthServer's refusal of a learner that does
// not start with a QuorumAuthPacket when serverRequireSasl.
var errNotTrying = errors.New("Learner not trying to authenticate and authentication is required")

// serverAuth is SaslQuorumAuthServer.authenticate: a learner (or election
// initiator) that starts with a QuorumAuthPacket runs DIGEST-MD5 against
// the QuorumServer users; one that does not is let through unless
// serverRequireSasl. A failed exchange is answered with ERROR and, unless
// serverRequireSasl, let through as Java does (the learner gives up on
// ERROR itself). Every refusal is logged as "Failed to authenticate using
// SASL" with the reason, as Java logs it.
func (q *quorumSASL) serverAuth(c net.Conn, r *bufio.Reader, log zerolog.Logger) error {
	remote := c.RemoteAddr().String()
	isAuth, err := nextIsQuorumAuth(r)
	if err != nil {
		// Java reads the first packet in the same try: a peer that sends
		// nothing within the socket's timeout, or closes, fails the
		// authentication, and without serverRequireSasl is let through
		// (no ERROR: Java has no output stream yet). A Java 3.8.0 voter
		// dialing an observer sends no QuorumAuthPacket and nothing else
		// until it hears from the observer (ZOOKEEPER-4886); letting it
		// through is what lets such an observer join.
		return q.refuse(remote, fmt.Errorf("reading the first packet: %w", err), log)
	}
	if !isAuth {
		if q.serverRequire {
			return q.refuse(remote, errNotTrying, log)
		}
		return nil
	}
	srv := &digestmd5.Server{Password: q.userPassword, ServiceProtocol: digestmd5.QuorumProtocol,
		ServerName: digestmd5.QuorumServerName}
	fail := func(err error) error {
		_ = writeQuorumAuth(c, quorumAuthError, []byte{})
		return q.refuse(remote, err, log)
	}
	p, err := readQuorumAuth(r)
	if err != nil {
		return fail(err)
	}
	for tries := 0; ; {
		challenge, err := srv.Next(p.Token)
		if err != nil {
			return fail(err)
		}
		if srv.Complete() {
			if err := q.authorize(srv.User, srv.AuthzID); err != nil {
				return fail(err)
			}
			if err := writeQuorumAuth(c, quorumAuthSuccess, challenge); err != nil {
				return fail(err)
			}
			log.Info().Str("remote", remote).Str("user", srv.User).
				Msg("Successfully completed the authentication using SASL")
			return nil
		}
		if tries++; tries > quorumAuthMaxRetries {
			return fail(fmt.Errorf("retries=%d exceeded", tries))
		}
		if err := writeQuorumAuth(c, quorumAuthInProgress, challenge); err != nil {
			return fail(err)
		}
		if p, err = readQuorumAuth(r); err != nil {
			return fail(err)
		}
	}
}

// refuse is the end of a failed authentication: with serverRequireSasl
// the connection is refused, otherwise it is let through, as Java does.
func (q *quorumSASL) refuse(remote string, err error, log zerolog.Logger) error {
	if q.serverRequire {
		log.Error().Str("remote", remote).Err(err).Msg("Failed to authenticate using SASL")
		return fmt.Errorf("Failed to authenticate using SASL: %w", err)
	}
	log.Warn().Str("remote", remote).Err(err).Msg("Failed to authenticate using SASL")
	log.Warn().Str("remote", remote).Bool("server_require_sasl", false).
		Msg("Maintaining learner connection despite SASL authentication failure")
	return nil
}

func (q *quorumSASL) userPassword(u string) (string, bool) {
	p, ok := q.users[u]
	return p, ok
}

// authorize is SaslQuorumServerCallbackHandler.handleAuthorizeCallback:
// the authorization id must be the authenticated one, and a
// service/host@realm name must name a member's host.
func (q *quorumSASL) authorize(user, authzid string) error {
	if authzid == "" {
		authzid = user
	}
	if authzid != user {
		return fmt.Errorf("SASL authorization completed, %s is not authorized to connect (authorization id %q)", user, authzid)
	}
	parts := strings.FieldsFunc(authzid, func(r rune) bool { return r == '/' || r == '@' })
	if len(parts) == 3 && !q.authzHosts[parts[1]] {
		return fmt.Errorf("SASL authorization completed, %s is not authorized to connect", parts[1])
	}
	return nil
}

// learnerAuth is SaslQuorumAuthLearner.authenticate: nothing unless
// learnerRequireSasl; then DIGEST-MD5 with the QuorumLearner credentials,
// which must end in SUCCESS with the server's proof of the password.
func (q *quorumSASL) learnerAuth(c net.Conn, log zerolog.Logger) error {
	if !q.learnerRequire {
		log.Debug().Bool("learner_require_sasl", false).Msg("Skipping SASL authentication")
		return nil
	}
	remote := c.RemoteAddr().String()
	failed := func(err error) error { return err } // the caller logs, as Java's do
	cl := &digestmd5.Client{User: q.user, Password: q.password, ServiceProtocol: digestmd5.QuorumProtocol,
		ServerName: digestmd5.QuorumServerName}
	if err := writeQuorumAuth(c, quorumAuthInProgress, []byte{}); err != nil {
		return failed(err)
	}
	p, err := readQuorumAuth(c)
	if err != nil {
		return failed(err)
	}
	for !cl.Complete() {
		switch p.Status {
		case quorumAuthSuccess:
			out, err := cl.Next(p.Token)
			if err != nil {
				return failed(fmt.Errorf("Authentication failed against server addr: %s: %w", remote, err))
			}
			if out != nil || !cl.Complete() {
				return failed(errors.New("Protocol error: attempting to send response after completion"))
			}
		case quorumAuthInProgress:
			out, err := cl.Next(p.Token)
			if err != nil {
				return failed(fmt.Errorf("Authentication failed against server addr: %s: %w", remote, err))
			}
			if err := writeQuorumAuth(c, quorumAuthInProgress, out); err != nil {
				return failed(err)
			}
			if p, err = readQuorumAuth(c); err != nil {
				return failed(err)
			}
		default:
			return failed(fmt.Errorf("Authentication failed against server addr: %s (status %d)", remote, p.Status))
		}
	}
	if p.Status != quorumAuthSuccess {
		return failed(fmt.Errorf("Authentication failed against server addr: %s, qpStatus: %d", remote, p.Status))
	}
	log.Info().Str("remote", remote).Msg("Successfully completed the authentication using SASL")
	return nil
}
