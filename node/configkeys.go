package node

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// zoo.cfg keys zkgo does not implement (issue 14: never run with a setting
// silently ignored). docs/config.md lists every key in one of three
// classes, implemented, refused, or accepted because it only tunes Java
// internals; this file holds the refused ones and those accepted with a
// warning. Keys are matched without a leading "zookeeper." (zkgo takes
// both spellings; Java prefixes every non-QuorumPeerConfig key with it).

// keyRule refuses (or warns about) a key when its value asks for something
// zkgo does not do.
type keyRule struct {
	key    string // exact key, or a prefix when it ends in '.'
	when   func(v string) bool
	reason string
	// quorumOnly rules apply to quorum members only.
	quorumOnly bool
}

func (r keyRule) matches(k string) bool {
	if strings.HasSuffix(r.key, ".") {
		return strings.HasPrefix(k, r.key)
	}
	return k == r.key
}

func anyValue(string) bool  { return true }
func isTrue(v string) bool  { return strings.EqualFold(strings.TrimSpace(v), "true") }
func isFalse(v string) bool { return strings.EqualFold(strings.TrimSpace(v), "false") }
func positive(v string) bool {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	return err != nil || n > 0 // a value Java cannot read either is no better
}

// builtinAuthProviders are the authProvider.N classes zkgo implements.
var builtinAuthProviders = map[string]bool{
	"org.apache.zookeeper.server.auth.DigestAuthenticationProvider": true,
	"org.apache.zookeeper.server.auth.IPAuthenticationProvider":     true,
	x509ProviderClass: true,
	saslProviderClass: true,
}

// refusedKeys make zkgo refuse to start, naming the key.
var refusedKeys = []keyRule{
	// Client TLS (secureClientPort, ssl.*, client.portUnification) is
	// checked by validateTLS, quorum TLS and SASL (sslQuorum,
	// portUnification, ssl.quorum.*, quorum.auth.*) by validateQuorumSec.
	{key: "authProvider.", when: func(v string) bool { return !builtinAuthProviders[strings.TrimSpace(v)] },
		reason: "only the digest, ip, x509 and sasl authentication providers are implemented by zkgo"},
	{key: "letAnySaslUserDoX", when: anyValue, reason: "letAnySaslUserDoX is not implemented by zkgo"},
	{key: "DigestAuthenticationProvider.enabled", when: isFalse,
		reason: "disabling the digest authentication provider is not implemented by zkgo"},
	{key: "DigestAuthenticationProvider.digestAlg",
		when: func(v string) bool {
			v = strings.ToUpper(strings.TrimSpace(v))
			return v != "SHA1" && v != "SHA-1"
		},
		reason: "zkgo computes digest ids with SHA1 only"},
	{key: "localSessionsEnabled", when: isTrue, reason: "local sessions are not implemented by zkgo"},
	{key: "observerMasterPort", when: positive,
		reason: "observer masters (observers syncing from followers) are not implemented by zkgo"},
	{key: "oraclePath", when: anyValue, reason: "QuorumOracleMaj (oracle quorums) is not implemented by zkgo"},
	{key: "enforceQuota", when: isTrue, reason: "quota enforcement is not implemented by zkgo"},
	{key: "leaderServes", when: func(v string) bool { return v == "no" },
		reason: "a leader that does not serve clients is not implemented by zkgo"},
	{key: "audit.enable", when: isTrue, reason: "audit logging is not implemented by zkgo"},
	{key: "maxCnxns", when: positive, reason: "a server-wide connection limit is not implemented by zkgo (maxClientCnxns, per client IP, is)"},
	{key: "connection_throttle_tokens", when: positive,
		reason: "connection throttling (BlueThrottle) is not implemented by zkgo"},
	// Features the quorum protocol would need: refusing beats joining an
	// ensemble whose peers cannot understand us.
	{key: "multiAddress.enabled", when: isTrue, reason: "multiple addresses per server are not implemented by zkgo", quorumOnly: true},
}

// warnedKeys ask for a feature zkgo lacks that neither guards data nor
// decides who may connect: zkgo starts and says so at WARN.
var warnedKeys = []keyRule{}

// configKey strips the "zookeeper." prefix a system-property spelling has.
func configKey(k string) string { return strings.TrimPrefix(k, "zookeeper.") }

// refusedSettings returns an error per zoo.cfg key that asks for something
// zkgo does not implement and that matters to safety, security or who can
// connect.
func refusedSettings(raw map[string]string, quorum bool) []error {
	var errs []error
	for _, k := range sortedKeys(raw) {
		ck := configKey(k)
		for _, r := range refusedKeys {
			if r.quorumOnly && !quorum {
				continue
			}
			if !r.matches(ck) {
				continue
			}
			if r.when(raw[k]) {
				errs = append(errs, fmt.Errorf("%s=%s is not supported: %s", k, strings.TrimSpace(raw[k]), r.reason))
			}
			break
		}
	}
	_, mpErrs, _ := ParseMetricsProvider(raw) // metricsprovider.go
	_, adErrs, _ := ParseAdminServer(raw)     // adminconfig.go
	return append(append(errs, mpErrs...), adErrs...)
}

// warnedSettings returns the keys (and reasons) to warn about at startup.
func warnedSettings(raw map[string]string) [][2]string {
	var out [][2]string
	for _, k := range sortedKeys(raw) {
		ck := configKey(k)
		for _, r := range warnedKeys {
			if !r.matches(ck) {
				continue
			}
			if r.when(raw[k]) {
				out = append(out, [2]string{k, r.reason})
			}
			break
		}
	}
	_, _, mpWarns := ParseMetricsProvider(raw) // metricsprovider.go
	_, _, adWarns := ParseAdminServer(raw)     // adminconfig.go
	return append(append(out, mpWarns...), adWarns...)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
