// Package zktls reads Java ZooKeeper 3.8's ssl.* settings (X509Util,
// ClientX509Util, SSLContextAndOptions) and turns them into crypto/tls
// configurations, reloading the key and trust stores when their files
// change.
//
// Every ssl.* key is either implemented here or refused by name: a security
// setting is never silently ignored.
package zktls

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// ClientPrefix is the property prefix of the client port's settings
// (ClientX509Util); zoo.cfg spells them without "zookeeper.".
const ClientPrefix = "zookeeper.ssl."

// QuorumPrefix is the property prefix of the quorum ports' settings
// (QuorumX509Util, zoo.cfg ssl.quorum.*).
const QuorumPrefix = "zookeeper.ssl.quorum."

// ClientAuth is ssl.clientAuth: whether the server asks clients for a
// certificate.
type ClientAuth uint8

// ssl.clientAuth values (X509Util.ClientAuth).
const (
	ClientAuthNeed ClientAuth = iota // the default: a client without a certificate is refused
	ClientAuthWant                   // asked for; a client without one is let in, unauthenticated
	ClientAuthNone                   // not asked for
)

func (a ClientAuth) String() string {
	switch a {
	case ClientAuthNeed:
		return "need"
	case ClientAuthWant:
		return "want"
	case ClientAuthNone:
		return "none"
	}
	return fmt.Sprintf("ClientAuth(%d)", uint8(a))
}

// Store is a key or trust store file.
type Store struct {
	Location string
	Password string
	Type     string // PEM or PKCS12 (from ssl.*.type or the file name)
}

// Settings are the ssl.* settings of one prefix.
type Settings struct {
	KeyStore   Store
	TrustStore Store
	// MinVersion and MaxVersion come from ssl.protocol and
	// ssl.enabledProtocols (Java's default: TLSv1.2 only).
	MinVersion, MaxVersion uint16
	// CipherSuites are the TLS 1.2 suites (ssl.ciphersuites, Java names;
	// default: Java 9+'s list). TLS 1.3 suites are always Go's.
	CipherSuites []uint16
	ClientAuth   ClientAuth
	// HostnameVerification is ssl.hostnameVerification (default true):
	// a client checks the server's name. Java's client port never checks
	// the client's (ClientX509Util.shouldVerifyClientHostname is false).
	HostnameVerification bool
	// VerifyClientHostname is set for quorum ports (QuorumX509Util): a
	// server checks a peer's certificate against the peer's address too,
	// when HostnameVerification is on.
	VerifyClientHostname bool
	// AuthProvider is ssl.authProvider: the scheme that authenticates a
	// client certificate (only "x509").
	AuthProvider string
}

// javaDefaultCiphers is X509Util's default list on Java 9+ (GCM first).
var javaDefaultCiphers = []string{
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
	"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
}

// keys are the settings (after the prefix) this package implements;
// refusedValue says which values of a key it cannot honour.
var keys = map[string]func(v string) error{
	"keyStore.location":               nil,
	"keyStore.password":               nil,
	"keyStore.passwordPath":           nil,
	"keyStore.type":                   nil,
	"trustStore.location":             nil,
	"trustStore.password":             nil,
	"trustStore.passwordPath":         nil,
	"trustStore.type":                 nil,
	"protocol":                        nil,
	"enabledProtocols":                nil,
	"ciphersuites":                    nil,
	"clientAuth":                      nil,
	"hostnameVerification":            nil,
	"authProvider":                    nil,
	"handshakeDetectionTimeoutMillis": nil,
	"crl": func(v string) error {
		if javaBool(v) {
			return errors.New("certificate revocation lists are not checked by zkgo")
		}
		return nil
	},
	"ocsp": func(v string) error {
		if javaBool(v) {
			return errors.New("OCSP is not checked by zkgo")
		}
		return nil
	},
	"context.supplier.class": func(string) error {
		return errors.New("a Java SSLContext supplier class cannot be loaded by zkgo; use the key and trust store keys")
	},
}

// javaBool is Boolean.parseBoolean of the trimmed value.
func javaBool(v string) bool { return strings.EqualFold(strings.TrimSpace(v), "true") }

// Refused returns an error per property under prefix that zkgo cannot
// honour (an unknown key, or a value it does not implement), naming it as
// zoo.cfg spells it (without "zookeeper."). Keys under other ssl
// prefixes (ssl.quorum.*) are not looked at.
func Refused(props map[string]string, prefix string) []error {
	var errs []error
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		sub, ok := strings.CutPrefix(k, prefix)
		if !ok || strings.HasPrefix(sub, "quorum.") {
			continue
		}
		check, known := keys[sub]
		shown := strings.TrimPrefix(k, "zookeeper.")
		switch {
		case !known:
			errs = append(errs, fmt.Errorf("%s is not a setting zkgo knows; refusing to start rather than ignore a security setting", shown))
		case check != nil:
			if err := check(props[k]); err != nil {
				errs = append(errs, fmt.Errorf("%s=%s is not supported: %w", shown, strings.TrimSpace(props[k]), err))
			}
		}
	}
	return errs
}

// Parse reads the settings under prefix from props (system-property
// spelling, "zookeeper.ssl.keyStore.location"), with Java's defaults, and
// checks them. It reads password files (ssl.*.passwordPath) but not the
// stores: Load does.
func Parse(props map[string]string, prefix string) (Settings, error) {
	var errs []error
	get := func(k string) (string, bool) {
		v, ok := props[prefix+k]
		return strings.TrimSpace(v), ok
	}
	name := func(k string) string { return strings.TrimPrefix(prefix+k, "zookeeper.") }
	errs = append(errs, Refused(props, prefix)...)
	s := Settings{HostnameVerification: true, AuthProvider: "x509", VerifyClientHostname: prefix == QuorumPrefix}
	store := func(kind string) Store {
		var st Store
		st.Location, _ = get(kind + ".location")
		st.Password, _ = get(kind + ".password")
		if p, ok := get(kind + ".passwordPath"); ok && p != "" {
			// SecretUtils.readSecret: the file wins over the password
			// key; one trailing line separator is dropped.
			b, err := os.ReadFile(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name(kind+".passwordPath"), err))
			}
			st.Password = strings.TrimSuffix(string(b), "\n")
		}
		t, _ := get(kind + ".type")
		if st.Location == "" && t == "" {
			return st
		}
		typ, err := storeType(t, st.Location)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name(kind+".type"), err))
		}
		st.Type = typ
		return st
	}
	s.KeyStore = store("keyStore")
	s.TrustStore = store("trustStore")

	protocol, ok := get("protocol")
	if !ok || protocol == "" {
		protocol = "TLSv1.2" // X509Util.DEFAULT_PROTOCOL
	}
	if _, _, err := protocolVersions(protocol); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name("protocol"), err))
	}
	enabled := []string{protocol}
	if v, ok := props[prefix+"enabledProtocols"]; ok {
		// SSLContextAndOptions splits on "," without trimming; zkgo trims.
		enabled = strings.Split(v, ",")
	}
	for _, p := range enabled {
		lo, hi, err := protocolVersions(strings.TrimSpace(p))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name("enabledProtocols"), err))
			continue
		}
		if s.MinVersion == 0 || lo < s.MinVersion {
			s.MinVersion = lo
		}
		if hi > s.MaxVersion {
			s.MaxVersion = hi
		}
	}

	ciphers, explicit := javaDefaultCiphers, false
	if v, ok := props[prefix+"ciphersuites"]; ok {
		ciphers, explicit = strings.Split(v, ","), true
	}
	suites, has13, unknown := mapCiphers(ciphers)
	// Java's default list has four CBC suites Go does not offer (the
	// SHA-256/384 CBC ones); the default is what is left. A list the
	// operator wrote is honoured exactly or refused.
	if len(unknown) > 0 && explicit {
		errs = append(errs, fmt.Errorf("%s: cipher suites zkgo does not know or will not offer: %s",
			name("ciphersuites"), strings.Join(unknown, ", ")))
	}
	s.CipherSuites = suites
	if s.MaxVersion == tls.VersionTLS13 && !has13 {
		// Java cannot negotiate TLS 1.3 without one of its suites in the
		// list (the default list has none).
		if s.MinVersion <= tls.VersionTLS12 {
			s.MaxVersion = tls.VersionTLS12
		} else {
			errs = append(errs, fmt.Errorf("%s: TLSv1.3 only, but %s lists no TLS 1.3 suite",
				name("enabledProtocols"), name("ciphersuites")))
		}
	}
	if len(s.CipherSuites) == 0 && s.MinVersion <= tls.VersionTLS12 && s.MaxVersion == tls.VersionTLS12 {
		errs = append(errs, fmt.Errorf("%s: no TLS 1.2 suite left", name("ciphersuites")))
	}

	if v, ok := get("clientAuth"); ok && v != "" {
		switch strings.ToUpper(v) {
		case "NEED":
			s.ClientAuth = ClientAuthNeed
		case "WANT":
			s.ClientAuth = ClientAuthWant
		case "NONE":
			s.ClientAuth = ClientAuthNone
		default:
			errs = append(errs, fmt.Errorf("%s=%s: must be none, want or need", name("clientAuth"), v))
		}
	}
	if v, ok := get("hostnameVerification"); ok {
		s.HostnameVerification = javaBool(v)
	}
	if v, ok := get("authProvider"); ok && v != "" {
		if v != "x509" {
			errs = append(errs, fmt.Errorf("%s=%s is not supported: only the x509 provider authenticates certificates in zkgo", name("authProvider"), v))
		}
		s.AuthProvider = v
	}
	if v, ok := get("handshakeDetectionTimeoutMillis"); ok {
		var n int
		if _, err := fmt.Sscan(v, &n); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a number", name("handshakeDetectionTimeoutMillis"), v))
		}
	}
	return s, errors.Join(errs...)
}

// storeType is KeyStoreFileType.fromPropertyValueOrFileName, limited to
// the types zkgo reads.
func storeType(prop, location string) (string, error) {
	t := strings.ToUpper(prop)
	if t == "" {
		switch {
		case strings.HasSuffix(location, ".pem"):
			t = "PEM"
		case strings.HasSuffix(location, ".p12"):
			t = "PKCS12"
		case strings.HasSuffix(location, ".jks"):
			t = "JKS"
		case strings.HasSuffix(location, ".bcfks"):
			t = "BCFKS"
		default:
			return "", fmt.Errorf("unable to auto-detect store file type from file name %s (set PEM or PKCS12)", location)
		}
	}
	switch t {
	case "PEM", "PKCS12":
		return t, nil
	case "JKS":
		return "", errors.New("JKS stores are not supported by zkgo (no maintained Go reader); convert with " +
			"keytool -importkeystore -deststoretype PKCS12, or use PEM files")
	case "BCFKS":
		return "", errors.New("BCFKS (Bouncy Castle FIPS) stores are not supported by zkgo; use PKCS12 or PEM")
	}
	return "", fmt.Errorf("unknown store type %s (PEM, PKCS12)", prop)
}

// protocolVersions maps a Java protocol name to the TLS versions it
// allows. TLSv1 and TLSv1.1 are refused (Java 17 disables them too).
func protocolVersions(p string) (lo, hi uint16, err error) {
	switch p {
	case "TLSv1.2":
		return tls.VersionTLS12, tls.VersionTLS12, nil
	case "TLSv1.3":
		return tls.VersionTLS13, tls.VersionTLS13, nil
	case "TLS":
		return tls.VersionTLS12, tls.VersionTLS13, nil
	case "TLSv1", "TLSv1.1", "SSLv3", "SSL", "SSLv2Hello":
		return 0, 0, fmt.Errorf("%s is not supported: insecure and disabled by Java 17 as well (use TLSv1.2 or TLSv1.3)", p)
	}
	return 0, 0, fmt.Errorf("unknown protocol %q (TLSv1.2, TLSv1.3, TLS)", p)
}

// mapCiphers maps Java cipher suite names (IANA names; "SSL_" spellings of
// old suites too) to Go's secure suites. TLS 1.3 suites are reported by
// has13 (Go always enables all three). Names Go does not know, or only
// knows as insecure, are returned in unknown.
func mapCiphers(names []string) (suites []uint16, has13 bool, unknown []string) {
	secure := map[string]*tls.CipherSuite{}
	for _, cs := range tls.CipherSuites() {
		secure[cs.Name] = cs
	}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		goName := n
		if strings.HasPrefix(goName, "SSL_") {
			goName = "TLS_" + goName[4:]
		}
		cs, ok := secure[goName]
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		if len(cs.SupportedVersions) == 1 && cs.SupportedVersions[0] == tls.VersionTLS13 {
			has13 = true
			continue
		}
		suites = append(suites, cs.ID)
	}
	return suites, has13, unknown
}

// ReadFile reads a properties file of ssl.* settings (zoo.cfg syntax:
// key=value lines, # and ! comments; keys with or without "zookeeper.",
// so a Java client's configuration file serves as is) and parses it.
func ReadFile(path string) (Settings, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Settings{}, fmt.Errorf("zktls: %w", err)
	}
	props := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			k, v, _ = strings.Cut(line, ":")
		}
		k = strings.TrimSpace(k)
		if !strings.HasPrefix(k, "zookeeper.") {
			k = "zookeeper." + k
		}
		props[k] = strings.TrimSpace(v)
	}
	s, err := Parse(props, ClientPrefix)
	if err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}
