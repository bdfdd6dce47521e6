package node

import (
	"strings"

	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

// x509ProviderClass is Java's X509AuthenticationProvider.
const x509ProviderClass = "org.apache.zookeeper.server.auth.X509AuthenticationProvider"

// x509SuperUserKey names the certificate subject that is a super user.
const x509SuperUserKey = "zookeeper.X509AuthenticationProvider.superUser"

// X509Enabled reports whether the x509 authentication provider is
// registered: QuorumPeerConfig.configureSSLAuth registers it for a secure
// client port (and client.portUnification), and authProvider.N may name
// it.
func (c Config) X509Enabled() bool {
	if c.SecureClientPort > 0 || c.PortUnification() {
		return true
	}
	for k, v := range c.Properties {
		if strings.HasPrefix(k, "zookeeper.authProvider.") && strings.TrimSpace(v) == x509ProviderClass {
			return true
		}
	}
	return false
}

// certIdentity is implemented by the connections of the TLS front end.
type certIdentity interface {
	// ClientCertSubject is the verified client certificate's subject in
	// RFC 2253 form (X500Principal.getName()), if the client sent one.
	ClientCertSubject() (string, bool)
}

// x509IDs is X509AuthenticationProvider.handleAuthentication: the
// certificate's subject as an x509 id, preceded by a super id when it is
// the configured super user. ok is false when the connection has no
// verified certificate (or the provider is not registered).
func (c *clients) x509IDs(cc *clientConn) (ids []wire.ID, ok bool) {
	ci, isTLS := cc.sink.(certIdentity)
	if !isTLS || !c.cfg.X509Enabled() {
		return nil, false
	}
	subject, has := ci.ClientCertSubject()
	if !has {
		return nil, false
	}
	if su, set := c.cfg.Properties[x509SuperUserKey]; set && su == subject {
		ids = append(ids, wire.ID{Scheme: tree.SchemeSuper, ID: subject})
		c.log.Info().Str("id", subject).Msg("Authenticated Id as super user")
	}
	return append(ids, wire.ID{Scheme: tree.SchemeX509, ID: subject}), true
}

// withCertAuth adds what the client's TLS certificate authenticates to a
// new session's ids, as Java's NettyServerCnxnFactory does right after
// the handshake (its CertificateVerifier), when the port asks for client
// certificates.
func (c *clients) withCertAuth(cc *clientConn, ids []wire.ID) []wire.ID {
	more, ok := c.x509IDs(cc)
	if !ok {
		return ids
	}
	out := append(ids[:len(ids):len(ids)], more...)
	c.log.Info().Str("remote", cc.remote).Str("id", more[len(more)-1].ID).Msg("Authenticated Id for Scheme x509")
	return out
}
