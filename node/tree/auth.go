package tree

import (
	"crypto/sha1"
	"encoding/base64"
	"net/netip"
	"strconv"
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
)

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
		_, _, ok := parseIPMask(id)
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

// parseIPMask parses "addr" or "addr/bits" as IPAuthenticationProvider does.
func parseIPMask(s string) (netip.Addr, int, bool) {
	addrPart, bitsPart, hasBits := strings.Cut(s, "/")
	a, err := netip.ParseAddr(addrPart)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	bits := a.BitLen()
	if hasBits {
		b, err := strconv.Atoi(bitsPart)
		if err != nil || b < 0 {
			return netip.Addr{}, 0, false
		}
		if b < bits {
			bits = b
		}
	}
	return a, bits, true
}

// ipMatches reports whether client address id matches the ACL expression.
func ipMatches(id, expr string) bool {
	ip, err := netip.ParseAddr(id)
	if err != nil {
		return false
	}
	a, bits, ok := parseIPMask(expr)
	if !ok || a.BitLen() != ip.BitLen() {
		return false
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return false
	}
	return p.Contains(ip)
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
		if !knownScheme(a.ID.Scheme) {
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
		switch {
		case a.ID.Scheme == SchemeWorld && a.ID.ID == "anyone":
			out = append(out, a)
		case a.ID.Scheme == SchemeAuth:
			valid := false
			for _, id := range auth {
				if schemeAuthenticated(id.Scheme) {
					valid = true
					out = append(out, wire.ACL{Perms: a.Perms, ID: wire.ID{Scheme: id.Scheme, ID: id.ID}})
				}
			}
			if !valid {
				return nil, wire.ErrInvalidACL
			}
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
