package node

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/zkgo/zkgo/internal/digestmd5"
	"github.com/zkgo/zkgo/internal/jaas"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

// Client SASL (DIGEST-MD5), as Java 3.8's ServerCnxnFactory.
// configureSaslLogin, SaslServerCallbackHandler and
// ZooKeeperServer.processSasl run it. Java reads the JAAS file from the JVM
// flag -Djava.security.auth.login.config; zkgo has no JVM flags and takes
// the zoo.cfg key java.security.auth.login.config (or `zkgo server
// --jaas`) instead (compat-tests/DIFFERENCES.md).

const (
	// jaasKey names the JAAS file (zoo.cfg java.security.auth.login.config).
	jaasKey = "zookeeper.java.security.auth.login.config"
	// saslSectionKey is ZooKeeperSaslServer.LOGIN_CONTEXT_NAME_KEY.
	saslSectionKey    = "zookeeper.sasl.serverconfig"
	saslProviderClass = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
	digestLoginModule = "org.apache.zookeeper.server.auth.DigestLoginModule"
	saslSuperPassword = "zookeeper.SASLAuthenticationProvider.superPassword"
	saslSuperUserKey  = "zookeeper.superUser"
	allowSaslFailed   = "zookeeper.allowSaslFailedClients"
	removeHostKey     = "zookeeper.kerberos.removeHostFromPrincipal"
	removeRealmKey    = "zookeeper.kerberos.removeRealmFromPrincipal"
)

// saslSetup is the server's SASL configuration, read at New.
type saslSetup struct {
	users       map[string]string // DIGEST-MD5 user -> password (user_<name> of the Server section)
	superPass   string
	hasSuper    bool
	superUsers  []string
	allowFailed bool
	removeHost  bool
	removeRealm bool
}

// SASLEnabled reports whether the sasl ACL scheme's provider is
// registered (authProvider.N naming SASLAuthenticationProvider).
func (c Config) SASLEnabled() bool {
	for k, v := range c.Properties {
		if strings.HasPrefix(k, "zookeeper.authProvider.") && strings.TrimSpace(v) == saslProviderClass {
			return true
		}
	}
	return false
}

// loadSASL reads the JAAS file's server section; nil without a JAAS file
// (no SASL server: SASL packets get Java's answer for that, OK with no
// token).
func (c Config) loadSASL() (*saslSetup, error) {
	file := strings.TrimSpace(c.Properties[jaasKey])
	if file == "" {
		return nil, nil
	}
	section := strings.TrimSpace(c.Properties[saslSectionKey])
	explicit := section != ""
	if section == "" {
		section = "Server"
	}
	jc, err := jaas.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("java.security.auth.login.config: %w", err)
	}
	mods, ok := jc[section]
	if !ok && !explicit && quorumSASLOn(c.Raw) {
		// A JAAS file for quorum SASL only (QuorumServer and
		// QuorumLearner sections): no client SASL, as Java's
		// configureSaslLogin without a Server section.
		return nil, nil
	}
	if !ok {
		return nil, fmt.Errorf("No JAAS configuration section named '%s' was found in '%s'.", section, file)
	}
	st := &saslSetup{users: map[string]string{}}
	for _, m := range mods {
		if m.Class != digestLoginModule {
			return nil, fmt.Errorf("java.security.auth.login.config: section %s uses %s: only %s (DIGEST-MD5) is "+
				"implemented by zkgo; Kerberos (GSSAPI) is not", section, m.Class, digestLoginModule)
		}
		for k, v := range m.Options {
			if u, ok := strings.CutPrefix(k, "user_"); ok {
				st.users[u] = v
			}
		}
	}
	p := c.Properties
	st.superPass, st.hasSuper = p[saslSuperPassword]
	for _, k := range sortedKeys(p) {
		if k == saslSuperUserKey || strings.HasPrefix(k, saslSuperUserKey+".") {
			st.superUsers = append(st.superUsers, p[k])
		}
	}
	st.allowFailed = strings.EqualFold(strings.TrimSpace(p[allowSaslFailed]), "true")
	st.removeHost = strings.TrimSpace(p[removeHostKey]) == "true"
	st.removeRealm = strings.TrimSpace(p[removeRealmKey]) == "true"
	return st, nil
}

// validateSASL checks the SASL settings.
func (c Config) validateSASL() []error {
	var errs []error
	if _, err := c.loadSASL(); err != nil {
		errs = append(errs, err)
	}
	if _, ok := c.Properties[saslSectionKey]; ok && strings.TrimSpace(c.Properties[jaasKey]) == "" {
		// Java: "No JAAS configuration section named ... But
		// zookeeper.sasl.serverconfig was set."
		errs = append(errs, errors.New("sasl.serverconfig is set but no JAAS file (java.security.auth.login.config)"))
	}
	return errs
}

// password is SaslServerCallbackHandler's lookup: user "super" takes
// SASLAuthenticationProvider.superPassword when it is set.
func (st *saslSetup) password(user string) (string, bool) {
	if user == "super" && st.hasSuper {
		return st.superPass, true
	}
	p, ok := st.users[user]
	return p, ok
}

// authorizationID is handleAuthorizeCallback: the authentication id as a
// Kerberos name, its host and realm kept unless the properties remove
// them.
func (st *saslSetup) authorizationID(user string) string {
	svc, host, realm, ok := tree.KerberosName(user)
	if !ok {
		return user
	}
	id := svc
	if host != "" && !st.removeHost {
		id += "/" + host
	}
	if realm != "" && !st.removeRealm {
		id += "@" + realm
	}
	return id
}

func (st *saslSetup) isSuper(id string) bool {
	for _, u := range st.superUsers {
		if u == id && id != "" {
			return true
		}
	}
	return false
}

// saslRequired is AuthenticationHelper.isSaslAuthRequired.
func (c *clients) saslRequired() bool {
	if !c.cfg.EnforceAuth {
		return false
	}
	for _, sc := range c.cfg.EnforceAuthSchemes {
		if sc == "sasl" {
			return true
		}
	}
	return false
}

// processSASL answers a SASL packet (ZooKeeperServer.processSasl).
func (c *clients) processSASL(cc *clientConn, xid wire.Xid, p *wire.ClientPacket) {
	if c.sasl == nil {
		// No SASL server is configured: Java's processSasl fails with a
		// caught NPE and answers OK with a null token.
		c.replyZxid(cc, xid, 0, wire.ErrOk, &wire.SetSASLResponse{})
		return
	}
	r, _ := p.Body.(*wire.GetSASLRequest)
	if r == nil {
		r = &wire.GetSASLRequest{}
	}
	if cc.sasl == nil {
		cc.sasl = &digestmd5.Server{Password: c.sasl.password}
	}
	tok, err := cc.sasl.Next(r.Token)
	if err != nil {
		c.stats.authFailed++
		c.log.Warn().Str("remote", cc.remote).Str("session", cc.session.String()).Err(err).
			Msg("Client failed to SASL authenticate")
		required := c.saslRequired()
		if c.sasl.allowFailed && !required {
			c.log.Warn().Msg("Maintaining client connection despite SASL authentication failure.")
			c.replyZxid(cc, xid, 0, wire.ErrOk, &wire.SetSASLResponse{})
			return
		}
		code := wire.ErrAuthFailed
		if required {
			c.log.Warn().Msg("Closing client connection due to server requires client SASL authentication, " +
				"but client SASL authentication has failed, or client is not configured with SASL authentication.")
			code = wire.ErrSessionClosedRequireSASLAuth
		} else {
			c.log.Warn().Msg("Closing client connection due to SASL authentication failure.")
		}
		c.replyZxid(cc, xid, 0, code, &wire.SetSASLResponse{})
		c.closeConn(cc, "SASL authentication failed")
		return
	}
	if cc.sasl.Complete() {
		id := c.sasl.authorizationID(cc.sasl.User)
		c.log.Info().Str("session", cc.session.String()).Str("id", id).Msg("adding SASL authorization for authorizationID")
		cc.addAuth(wire.ID{Scheme: tree.SchemeSASL, ID: id})
		if c.sasl.isSuper(id) {
			cc.addAuth(wire.ID{Scheme: tree.SchemeSuper, ID: ""})
			c.log.Info().Str("session", cc.session.String()).Str("id", id).Msg("Authenticated Id as super user")
		}
	}
	c.replyZxid(cc, xid, 0, wire.ErrOk, &wire.SetSASLResponse{Token: tok})
}

// saslUsers lists the DIGEST-MD5 users (for logs and tests).
func (st *saslSetup) saslUsers() []string {
	out := make([]string, 0, len(st.users))
	for u := range st.users {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// SetJAASFile names the JAAS file read for client SASL, as the zoo.cfg key
// java.security.auth.login.config does (`zkgo server --jaas`).
func (c *Config) SetJAASFile(path string) {
	if c.Properties == nil {
		c.Properties = map[string]string{}
	}
	c.Properties[jaasKey] = path
}

// quorumSASLOn reports quorum.auth.enableSasl=true.
func quorumSASLOn(raw map[string]string) bool {
	on, _ := rawBool(raw, quorumSASLEnabledKey)
	return on
}
