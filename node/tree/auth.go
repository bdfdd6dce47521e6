package tree

import (
	"crypto/sha1"
	"encoding/base64"
	"hash/maphash"
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
//
// Java removes duplicates with List.contains (quadratic) and expands "auth"
// entries while it validates; here one linear pass finds the duplicates and
// the first invalid entry, and only a valid list is expanded. The outcome is
// Java's, null fields included: its duplicate removal calls ACL.equals, which
// throws on a null scheme (or a null id under the same scheme) met after an
// entry with the same perms, and the validation dereferences a null world
// id and hands a null id to the digest and ip providers; every such
// NullPointerException is MARSHALLINGERROR.
//
// maxBytes (> 0) bounds the encoded size of the expanded list: a list that
// would expand beyond it (many "auth" entries times many authenticated ids)
// fails with ErrACLTooLarge before anything is built. Java expands it and
// logs a txn it cannot read back (compat-tests/DIFFERENCES.md).
func FixupACL(acl []wire.ACL, auth []wire.ID, maxBytes int) ([]wire.ACL, wire.ErrCode) {
	return fixupACL(acl, auth, maxBytes, Options{})
}

// fixupACL is FixupACL with the providers opts registers (Options.X509,
// Options.SASL), whose ids are then valid in ACLs.
func fixupACL(acl []wire.ACL, auth []wire.ID, maxBytes int, opts Options) ([]wire.ACL, wire.ErrCode) {
	f := newACLFixup(acl, auth, maxBytes, opts)
	f.step(-1)
	return f.out, f.code
}

// aclFixup is FixupACL split in steps: the pass over the list (duplicates,
// validity) a bounded number of entries per step, then the expansion.
type aclFixup struct {
	acl      []wire.ACL
	auth     []wire.ID
	maxBytes int
	opts     Options
	nulls    bool // some entry has a null field
	hasAuth  bool // the session has an id "auth" expands to
	perms    map[int32]struct{}
	schemes  map[permScheme]struct{}
	seen     *aclSet
	uniq     []int // indexes of kept entries
	bad      wire.ErrCode
	i        int
	done     bool
	out      []wire.ACL
	code     wire.ErrCode
}

type permScheme struct {
	perms  int32
	scheme string
}

func newACLFixup(acl []wire.ACL, auth []wire.ID, maxBytes int, opts Options) *aclFixup {
	f := &aclFixup{acl: acl, auth: auth, maxBytes: maxBytes, opts: opts, seen: newACLSet(len(acl)), uniq: make([]int, 0, len(acl))}
	// Java's ACL.equals(other) compares perms, then scheme.equals, then
	// id.equals, on the entry being added; the others may hold nulls.
	// Only an entry with a null field can make equals throw; without one
	// the perms and scheme sets are not needed.
	for i := range acl {
		if acl[i].ID.Nulls != 0 {
			f.nulls = true
			f.perms, f.schemes = make(map[int32]struct{}), make(map[permScheme]struct{})
			break
		}
	}
	for _, id := range auth {
		if schemeAuthenticated(id.Scheme) {
			f.hasAuth = true
			break
		}
	}
	return f
}

// finish ends the fixup with a result.
func (f *aclFixup) finish(out []wire.ACL, code wire.ErrCode) {
	f.out, f.code, f.done = out, code, true
	f.seen, f.perms, f.schemes = nil, nil, nil
}

// step looks at up to budget entries (all when budget < 0), then expands
// the list, and reports how many it looked at and whether it is done.
func (f *aclFixup) step(budget int) (int, bool) {
	if f.done {
		return 0, true
	}
	used := 0
	for ; f.i < len(f.acl); f.i++ {
		if budget >= 0 && used >= budget {
			return used, false
		}
		used++
		a := &f.acl[f.i]
		nullScheme, nullID := a.ID.Nulls.Has(0), a.ID.Nulls.Has(1)
		switch {
		case nullScheme:
			if _, ok := f.perms[a.Perms]; ok {
				f.finish(nil, wire.ErrMarshallingError)
				return used, true
			}
		case nullID:
			if _, ok := f.schemes[permScheme{a.Perms, a.ID.Scheme}]; ok {
				f.finish(nil, wire.ErrMarshallingError)
				return used, true
			}
		default:
			if !f.seen.add(f.acl, f.i) {
				continue
			}
		}
		if f.nulls {
			f.perms[a.Perms] = struct{}{}
			if !nullScheme {
				f.schemes[permScheme{a.Perms, a.ID.Scheme}] = struct{}{}
			}
		}
		f.uniq = append(f.uniq, f.i)
		if f.bad == wire.ErrOk {
			f.bad = validACL(a, nullScheme, nullID, f.hasAuth, f.opts)
			if f.bad != wire.ErrOk && !f.nulls {
				// Nothing after it can throw: the first invalid entry
				// decides, as in Java's loop.
				f.finish(nil, f.bad)
				return used, true
			}
		}
	}
	switch {
	case len(f.uniq) == 0:
		f.finish(nil, wire.ErrInvalidACL)
	case f.bad != wire.ErrOk:
		f.finish(nil, f.bad)
	default:
		f.finish(f.expand())
	}
	return used, true
}

// expand builds the list of a valid fixup, once its size is known to fit.
func (f *aclFixup) expand() ([]wire.ACL, wire.ErrCode) {
	var authed []wire.ID // the session's ids "auth" expands to
	if f.hasAuth {
		for _, id := range JavaAuthOrder(f.auth) {
			if schemeAuthenticated(id.Scheme) {
				authed = append(authed, id)
			}
		}
	}
	authBytes := 0
	for _, id := range authed {
		authBytes += aclEncodedSize(id)
	}
	total, n := 4, 0
	for _, i := range f.uniq {
		if f.acl[i].ID.Scheme == SchemeAuth {
			total += authBytes
			n += len(authed)
		} else {
			total += aclEncodedSize(f.acl[i].ID)
			n++
		}
		if f.maxBytes > 0 && total > f.maxBytes {
			return nil, ErrACLTooLarge
		}
	}
	out := make([]wire.ACL, 0, n)
	for _, i := range f.uniq {
		a := f.acl[i]
		if a.ID.Scheme != SchemeAuth {
			out = append(out, a)
			continue
		}
		for _, id := range authed {
			out = append(out, wire.ACL{Perms: a.Perms, ID: wire.ID{Scheme: id.Scheme, ID: id.ID}})
		}
	}
	return out, wire.ErrOk
}

// aclSet is a set of ACL entries (no null fields) of one list, by index.
// Small lists (nearly all) are scanned; a large one gets a map from a
// seeded hash to the first index with it, and a chain of the other indexes
// with the same hash (a map keyed by the entries hashes and compares two
// strings per probe, several times slower).
type aclSet struct {
	small []int32 // the indexes added, while the list is small
	seed  maphash.Seed
	first map[uint64]int32
	next  []int32 // next[i]: the next index with i's hash, or -1
}

// smallACL is the list length up to which aclSet scans.
const smallACL = 16

func newACLSet(n int) *aclSet {
	if n <= smallACL {
		return &aclSet{small: make([]int32, 0, n)}
	}
	return &aclSet{seed: maphash.MakeSeed(), first: make(map[uint64]int32, n), next: make([]int32, n)}
}

func sameACL(a, b *wire.ACL) bool {
	return a.Perms == b.Perms && a.ID.Scheme == b.ID.Scheme && a.ID.ID == b.ID.ID
}

// add inserts acl[i] and reports whether it was not there yet.
func (s *aclSet) add(acl []wire.ACL, i int) bool {
	a := &acl[i]
	if s.first == nil {
		for _, j := range s.small {
			if sameACL(&acl[j], a) {
				return false
			}
		}
		s.small = append(s.small, int32(i))
		return true
	}
	// maphash.String runs the runtime's hash (not instrumented by -race).
	k := maphash.String(s.seed, a.ID.Scheme)*31 + maphash.String(s.seed, a.ID.ID)
	k = k*0x9e3779b97f4a7c15 ^ uint64(uint32(a.Perms))
	j, ok := s.first[k]
	if !ok {
		s.first[k] = int32(i)
		s.next[i] = -1
		return true
	}
	for {
		if sameACL(&acl[j], a) {
			return false
		}
		if s.next[j] < 0 {
			s.next[j] = int32(i)
			s.next[i] = -1
			return true
		}
		j = s.next[j]
	}
}

// ErrACLTooLarge is the error of an ACL list whose "auth" expansion would
// not fit in a txn (FixupACL's maxBytes).
const ErrACLTooLarge = wire.ErrBadArguments

// aclEncodedSize is the Jute size of an ACL with id: perms and two strings.
func aclEncodedSize(id wire.ID) int { return 4 + 4 + len(id.Scheme) + 4 + len(id.ID) }

// validACL is the check fixupACL's loop makes of one de-duplicated entry.
// hasAuth says whether the session has an id an "auth" entry expands to.
func validACL(a *wire.ACL, nullScheme, nullID, hasAuth bool, opts Options) wire.ErrCode {
	switch {
	case nullScheme:
		return wire.ErrInvalidACL
	case a.ID.Scheme == SchemeWorld:
		if nullID {
			return wire.ErrMarshallingError // id.getId().equals("anyone")
		}
		if a.ID.ID == "anyone" {
			return wire.ErrOk
		}
		return wire.ErrInvalidACL // no provider for "world"
	case a.ID.Scheme == SchemeAuth:
		if !hasAuth {
			return wire.ErrInvalidACL
		}
		return wire.ErrOk
	case a.ID.Scheme == SchemeX509 && opts.X509:
		if nullID {
			return wire.ErrMarshallingError // the provider's isValid(null)
		}
		if !validX500(a.ID.ID) {
			return wire.ErrInvalidACL
		}
		return wire.ErrOk
	case a.ID.Scheme == SchemeSASL && opts.SASL:
		if nullID {
			return wire.ErrMarshallingError
		}
		if _, _, _, ok := KerberosName(a.ID.ID); !ok {
			return wire.ErrInvalidACL
		}
		return wire.ErrOk
	case !knownScheme(a.ID.Scheme):
		return wire.ErrInvalidACL
	case nullID:
		return wire.ErrMarshallingError // the provider's isValid(null)
	case !validID(a.ID.Scheme, a.ID.ID):
		return wire.ErrInvalidACL
	}
	return wire.ErrOk
}
