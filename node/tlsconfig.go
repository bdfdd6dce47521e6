package node

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/internal/zktls"
)

// portUnificationKey is Java's NettyServerCnxnFactory.PORT_UNIFICATION_KEY
// (zoo.cfg client.portUnification): the plaintext client port takes TLS
// clients too.
const portUnificationKey = "zookeeper.client.portUnification"

// checkSecurePort is QuorumPeerConfig.parseProperties on the secure client
// port.
func checkSecurePort(c *Config, props map[string]string) error {
	if _, ok := props["secureClientPortAddress"]; ok && c.SecureClientPort == 0 {
		return errors.New("secureClientPortAddress is set but secureClientPort is not set")
	}
	if c.SecureClientPort < 0 || c.SecureClientPort > 65535 {
		return fmt.Errorf("secureClientPort %d out of range", c.SecureClientPort)
	}
	return nil
}

// PortUnification reports client.portUnification: the plaintext client
// port also takes TLS clients (told apart by their first bytes).
func (c Config) PortUnification() bool {
	return strings.EqualFold(strings.TrimSpace(c.Properties[portUnificationKey]), "true")
}

// SecureClientAddr returns the TLS client listen address host:port.
func (c Config) SecureClientAddr() string {
	host := c.SecureClientPortAddress
	if host == "" {
		host = "0.0.0.0"
	}
	return joinHostPort(host, c.SecureClientPort)
}

func joinHostPort(host string, port int) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

// ClientTLS returns the client port's TLS settings (the ssl.* keys of
// ClientX509Util) and whether any listener uses them (secureClientPort or
// client.portUnification).
func (c Config) ClientTLS() (zktls.Settings, bool, error) {
	s, err := zktls.Parse(c.Properties, zktls.ClientPrefix)
	return s, c.SecureClientPort > 0 || c.PortUnification(), err
}

// validateTLS checks the client TLS settings: every ssl.* key is known and
// holds a value zkgo honours, and a TLS listener has what it needs. The
// stores themselves are read when the listener starts.
func (c Config) validateTLS() []error {
	s, used, err := c.ClientTLS()
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if !used {
		return errs
	}
	if s.KeyStore.Location == "" {
		errs = append(errs, errors.New("secureClientPort or client.portUnification is set but ssl.keyStore.location is not: "+
			"a TLS port needs the server's key and certificate"))
	}
	if s.ClientAuth != zktls.ClientAuthNone && s.TrustStore.Location == "" {
		errs = append(errs, fmt.Errorf("ssl.clientAuth is %s (Java's default is need) but ssl.trustStore.location is not set: "+
			"no client certificate could be verified; set the trust store, or ssl.clientAuth=none", s.ClientAuth))
	}
	return errs
}

// secureClientPortShown is getSecureClientPort for the conf command: the
// TLS client port, or -1 without one.
func (c Config) secureClientPortShown() int {
	if c.SecureClientPort > 0 {
		return c.SecureClientPort
	}
	return -1
}
