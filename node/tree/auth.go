package tree

import (
	"crypto/sha1"
	"encoding/base64"
	"strings"

	"github.com/zkgo/zkgo/wire"
)

// Auth schemes the server knows (ProviderRegistry defaults).
const (
	SchemeWorld  = "world"
	SchemeAuth   = "auth"
	SchemeDigest = "digest"
	SchemeIP     = "ip"
	SchemeSuper  = "super"
	SchemeX509   = "x509"
	SchemeSASL   = "sasl"
)

// AuthUser is AuthUtil.getUser: the user name whoAmI reports for an id.
func AuthUser(id wire.ID) string {
	switch id.Scheme {
	case SchemeIP:
		return id.ID
	case SchemeDigest:
		u, _, _ := strings.Cut(id.ID, ":")
		return u
	case SchemeX509, SchemeSASL:
		return id.ID
	}
	return ""
}

// DigestID returns the id Java's DigestAuthenticationProvider derives from
// "user:password": "user:" + base64(sha1("user:password")).
func DigestID(userPassword string) string {
	user, _, _ := strings.Cut(userPassword, ":")
	sum := sha1.Sum([]byte(userPassword))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// IsSuper reports whether the auth ids include the super user.
func IsSuper(auth []wire.ID) bool {
	for _, id := range auth {
		if id.Scheme == SchemeSuper {
			return true
		}
	}
	return false
}

// schemeAuthenticated mirrors ServerAuthenticationProvider.isAuthenticated:
// digest ids may stand in for the "auth" ACL scheme, ip ids may not.
func schemeAuthenticated(scheme string) bool {
	switch scheme {
	case SchemeDigest, "sasl", "x509":
		return true
	}
	return false
}

// knownScheme reports whether a provider exists for scheme.
func knownScheme(scheme string) bool {
	switch scheme {
	case SchemeDigest, SchemeIP:
		return true
	}
	return false
}

// validID mirrors the providers' isValid.
func validID(scheme, id string) bool {
	switch scheme {
	case SchemeDigest:
		return digestSplitValid(id)
	case SchemeIP:
		_, _, ok := parseIPExpr(id)
		return ok
	}
	return false
}

// digestSplitValid mirrors Java's id.split(":").length == 2, where split
// drops trailing empty strings ("a:" has length 1, ":b" has length 2).
func digestSplitValid(id string) bool {
	parts := strings.Split(id, ":")
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return len(parts) == 2
}

// javaParseInt is Integer.parseInt: an optional sign, then decimal digits,
// within int32.
func javaParseInt(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	neg := false
	switch s[0] {
	case '+', '-':
		neg = s[0] == '-'
		s = s[1:]
		if s == "" {
			return 0, false
		}
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
		if v > 1<<31 {
			return 0, false
		}
	}
	if neg {
		v = -v
	}
	if v > 1<<31-1 || v < -(1<<31) {
		return 0, false
	}
	return v, true
}

// ipv4Bytes is IPAuthenticationProvider.v4addr2Bytes: four dot-separated
// Integer.parseInt parts in 0..255 (IPv6 is not supported in 3.8).
func ipv4Bytes(addr string) ([4]byte, bool) {
	var b [4]byte
	parts := strings.Split(addr, ".")
	if len(parts) != 4 {
		return b, false
	}
	for i, p := range parts {
		v, ok := javaParseInt(p)
		if !ok || v < 0 || v > 255 {
			return b, false
		}
		b[i] = byte(v)
	}
	return b, true
}

// parseIPExpr parses "addr[/bits]" as the ip provider does.
func parseIPExpr(expr string) ([4]byte, int, bool) {
	addr, bitsPart, hasBits := strings.Cut(expr, "/")
	a, ok := ipv4Bytes(addr)
	if !ok {
		return a, 0, false
	}
	bits := 32
	if hasBits {
		v, ok := javaParseInt(bitsPart)
		if !ok || v < 0 || v > 32 {
			return a, 0, false
		}
		bits = int(v)
	}
	return a, bits, true
}

func maskIPv4(a [4]byte, bits int) [4]byte {
	for i := 0; i < 4; i++ {
		keep := bits - 8*i
		switch {
		case keep >= 8:
		case keep <= 0:
			a[i] = 0
		default:
			a[i] &= byte(0xff << (8 - keep))
		}
	}
	return a
}

// ipMatches is IPAuthenticationProvider.matches.
func ipMatches(id, expr string) bool {
	acl, bits, ok := parseIPExpr(expr)
	if !ok {
		return false
	}
	remote, ok := ipv4Bytes(id)
	if !ok {
		return false
	}
	return maskIPv4(acl, bits) == maskIPv4(remote, bits)
}

// CheckACL reports whether auth grants perm under acl
// (ZooKeeperServer.checkACL). An empty list and the super user allow all.
func CheckACL(acl []wire.ACL, perm wire.Perm, auth []wire.ID) bool {
	if len(acl) == 0 || IsSuper(auth) {
		return true
	}
	for _, a := range acl {
		if wire.Perm(a.Perms)&perm == 0 {
			continue
		}
		if a.ID.Scheme == SchemeWorld && a.ID.ID == "anyone" {
			return true
		}
		if !knownScheme(a.ID.Scheme) && a.ID.Scheme != SchemeX509 && a.ID.Scheme != SchemeSASL {
			// (x509 and sasl ids exist only where their provider is
			// registered)
			continue
		}
		for _, id := range auth {
			if id.Scheme != a.ID.Scheme {
				continue
			}
			switch a.ID.Scheme {
			case SchemeDigest:
				if id.ID == a.ID.ID {
					return true
				}
			case SchemeIP:
				if ipMatches(id.ID, a.ID.ID) {
					return true
				}
			case SchemeX509:
				// X509AuthenticationProvider.matches; its super user
				// also holds a super id, which allowed all above.
				if id.ID == a.ID.ID {
					return true
				}
			case SchemeSASL:
				// SASLAuthenticationProvider.matches (letAnySaslUserDoX
				// is refused at start).
				if id.ID == "super" || id.ID == a.ID.ID {
					return true
				}
			}
		}
	}
	return false
}

// FixupACL validates and expands a client's ACL list
// (PrepRequestProcessor.fixupACL): duplicates are dropped, an empty list is
// invalid, world must be "anyone", the "auth" scheme expands to the
// session's authenticated ids (none: invalid), and other schemes must have a
// provider that accepts the id.
func FixupACL(acl []wire.ACL, auth []wire.ID) ([]wire.ACL, wire.ErrCode) {
	return fixupACL(acl, auth, Options{})
}

// fixupACL is FixupACL with the providers opts registers (Options.X509,
// Options.SASL), whose ids are then valid in ACLs.
func fixupACL(acl []wire.ACL, auth []wire.ID, opts Options) ([]wire.ACL, wire.ErrCode) {
	uniq := make([]wire.ACL, 0, len(acl))
	for _, a := range acl {
		dup := false
		for _, u := range uniq {
			if aclEqual(a, u) {
				dup = true
				break
			}
		}
		if !dup {
			uniq = append(uniq, a)
		}
	}
	if len(uniq) == 0 {
		return nil, wire.ErrInvalidACL
	}
	out := make([]wire.ACL, 0, len(uniq))
	for _, a := range uniq {
		if a.ID.Nulls.Has(0) {
			return nil, wire.ErrInvalidACL
		}
		if a.ID.Nulls.Has(1) && a.ID.Scheme != SchemeAuth {
			// Java dereferences the null id (NPE): MARSHALLINGERROR.
			return nil, wire.ErrMarshallingError
		}
		switch {
		case a.ID.Scheme == SchemeWorld && a.ID.ID == "anyone":
			out = append(out, a)
		case a.ID.Scheme == SchemeAuth:
			valid := false
			for _, id := range JavaAuthOrder(auth) {
				if schemeAuthenticated(id.Scheme) {
					valid = true
					out = append(out, wire.ACL{Perms: a.Perms, ID: wire.ID{Scheme: id.Scheme, ID: id.ID}})
				}
			}
			if !valid {
				return nil, wire.ErrInvalidACL
			}
		case a.ID.Scheme == SchemeX509 && opts.X509:
			if !validX500(a.ID.ID) {
				return nil, wire.ErrInvalidACL
			}
			out = append(out, a)
		case a.ID.Scheme == SchemeSASL && opts.SASL:
			if _, _, _, ok := KerberosName(a.ID.ID); !ok {
				return nil, wire.ErrInvalidACL
			}
			out = append(out, a)
		default:
			if !knownScheme(a.ID.Scheme) || !validID(a.ID.Scheme, a.ID.ID) {
				return nil, wire.ErrInvalidACL
			}
			out = append(out, a)
		}
	}
	return out, wire.ErrOk
}

func aclEqual(a, b wire.ACL) bool {
	return a.Perms == b.Perms && a.ID.Scheme == b.ID.Scheme && a.ID.ID == b.ID.ID &&
		a.ID.Nulls.Has(0) == b.ID.Nulls.Has(0) && a.ID.Nulls.Has(1) == b.ID.Nulls.Has(1)
}
