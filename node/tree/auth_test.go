package tree

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// errNPE stands for a NullPointerException in the Java model below.
var errNPE = errors.New("NullPointerException")

// javaString is a Java String reference: nil is null.
type javaString *string

func jstr(id wire.ID, field int) javaString {
	if id.Nulls.Has(field) {
		return nil
	}
	if field == 0 {
		return &id.Scheme
	}
	return &id.ID
}

// javaEquals is the generated ACL.equals(peer) of Java 3.8: perms, then
// scheme.equals(peer.scheme), then id.equals(peer.id), each on the
// receiver's field (which throws when it is null).
func javaEquals(a, peer wire.ACL) (bool, error) {
	if a.Perms != peer.Perms {
		return false, nil
	}
	for f := 0; f < 2; f++ {
		x, y := jstr(a.ID, f), jstr(peer.ID, f)
		if x == nil {
			return false, errNPE
		}
		if y == nil || *x != *y {
			return false, nil
		}
	}
	return true, nil
}

// javaFixupACL is PrepRequestProcessor.fixupACL of Java 3.8.0 written out
// as Java runs it (removeDuplicates with List.contains, then the loop that
// validates and expands in order), as the reference FixupACL must agree
// with.
func javaFixupACL(acls []wire.ACL, auth []wire.ID) ([]wire.ACL, wire.ErrCode) {
	var uniq []wire.ACL
	for _, a := range acls {
		found := false
		for _, u := range uniq {
			eq, err := javaEquals(a, u)
			if err != nil {
				return nil, wire.ErrMarshallingError
			}
			if eq {
				found = true
				break
			}
		}
		if !found {
			uniq = append(uniq, a)
		}
	}
	if len(uniq) == 0 {
		return nil, wire.ErrInvalidACL
	}
	var rv []wire.ACL
	for _, a := range uniq {
		scheme, id := jstr(a.ID, 0), jstr(a.ID, 1)
		if scheme == nil {
			return nil, wire.ErrInvalidACL
		}
		if *scheme == "world" {
			if id == nil {
				return nil, wire.ErrMarshallingError
			}
			if *id == "anyone" {
				rv = append(rv, a)
				continue
			}
		}
		if *scheme == "auth" {
			valid := false
			for _, cid := range JavaAuthOrder(auth) {
				if cid.Scheme == SchemeDigest { // the only authenticated provider zkgo has
					valid = true
					rv = append(rv, wire.ACL{Perms: a.Perms, ID: cid})
				}
			}
			if !valid {
				return nil, wire.ErrInvalidACL
			}
			continue
		}
		if *scheme != SchemeDigest && *scheme != SchemeIP {
			return nil, wire.ErrInvalidACL
		}
		if id == nil {
			return nil, wire.ErrMarshallingError // isValid(null): id.split
		}
		if !validID(*scheme, *id) {
			return nil, wire.ErrInvalidACL
		}
		rv = append(rv, a)
	}
	return rv, wire.ErrOk
}

// TestFixupACLMatchesJava compares FixupACL with the Java model on random
// lists mixing duplicates, null schemes and ids, every scheme class and a
// few perms, so that equals throws in every way it can.
func TestFixupACLMatchesJava(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 2))
	pool := []wire.ID{
		{Scheme: "world", ID: "anyone"}, {Scheme: "world", ID: "nobody"}, {Scheme: "auth", ID: ""},
		{Scheme: "auth", ID: "x"}, {Scheme: "digest", ID: "u:h"}, {Scheme: "digest", ID: "bad"},
		{Scheme: "ip", ID: "10.0.0.1"}, {Scheme: "ip", ID: "10.0.0.0/33"}, {Scheme: "nosuch", ID: "x"},
		{Scheme: "", ID: ""}, {Scheme: "super", ID: ""},
	}
	auths := [][]wire.ID{
		nil,
		{{Scheme: SchemeIP, ID: "127.0.0.1"}},
		{{Scheme: SchemeIP, ID: "127.0.0.1"}, {Scheme: SchemeDigest, ID: "alice:h1"}, {Scheme: SchemeDigest, ID: "bob:h2"}},
	}
	counts := map[wire.ErrCode]int{}
	defer func() { t.Logf("outcomes: %v", counts) }()
	for n := 0; n < 20000; n++ {
		size := r.IntN(6)
		if r.IntN(10) == 0 {
			size = smallACL + r.IntN(10) // past the scanned size
		}
		acl := make([]wire.ACL, size)
		for i := range acl {
			id := pool[r.IntN(len(pool))]
			if r.IntN(6) == 0 {
				id.Nulls |= 1 << r.IntN(2)
				if id.Nulls.Has(0) {
					id.Scheme = ""
				}
				if id.Nulls.Has(1) {
					id.ID = ""
				}
			}
			acl[i] = wire.ACL{Perms: int32(r.IntN(3)), ID: id}
		}
		auth := auths[r.IntN(len(auths))]
		want, wantCode := javaFixupACL(acl, auth)
		got, code := FixupACL(acl, auth, 0)
		counts[code]++
		if code != wantCode || !sameACLs(got, want) {
			t.Fatalf("FixupACL(%+v, %v) = %+v, %v; Java: %+v, %v", acl, auth, got, code, want, wantCode)
		}
	}
}

func sameACLs(a, b []wire.ACL) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Perms != b[i].Perms || a[i].ID.Scheme != b[i].ID.Scheme || a[i].ID.ID != b[i].ID.ID {
			return false
		}
	}
	return true
}

// TestFixupACLLargeLists runs the lists a 1 MB request can carry (issue
// 14: 87,000 distinct entries took the owner goroutine 15 s with the
// quadratic duplicate removal): distinct valid entries, duplicates, an
// invalid entry at either end, and "auth" entries whose expansion would not
// fit in a txn.
func TestFixupACLLargeLists(t *testing.T) {
	const n = 87000
	distinct := make([]wire.ACL, n)
	for i := range distinct {
		distinct[i] = wire.ACL{Perms: int32(i), ID: wire.ID{Scheme: SchemeWorld, ID: "anyone"}}
	}
	out, code := FixupACL(distinct, nil, 0)
	if code != wire.ErrOk || len(out) != n || out[n-1].Perms != n-1 {
		t.Fatalf("distinct list: %v, %d entries", code, len(out))
	}
	dups := make([]wire.ACL, n)
	for i := range dups {
		dups[i] = wire.ACL{Perms: int32(i % 7), ID: wire.ID{Scheme: SchemeDigest, ID: "u:" + strconv.Itoa(i%5)}}
	}
	out, code = FixupACL(dups, nil, 0)
	if code != wire.ErrOk || len(out) != 35 {
		t.Fatalf("duplicates: %v, %d entries, want 35", code, len(out))
	}
	for i := 0; i < 35; i++ {
		if out[i] != dups[i] {
			t.Fatalf("duplicates: entry %d is %+v, want the first occurrence %+v", i, out[i], dups[i])
		}
	}
	last := append(append([]wire.ACL(nil), distinct...), wire.ACL{Perms: 1, ID: wire.ID{Scheme: "nosuch", ID: "x"}})
	if _, code := FixupACL(last, nil, 0); code != wire.ErrInvalidACL {
		t.Fatalf("invalid last entry: %v", code)
	}
	first := append([]wire.ACL{{Perms: 1, ID: wire.ID{Scheme: "", ID: ""}}}, distinct...)
	if _, code := FixupACL(first, nil, 0); code != wire.ErrInvalidACL {
		t.Fatalf("invalid first entry: %v", code)
	}
	// A null scheme behind an entry with the same perms: equals throws
	// while duplicates are removed, whatever comes before it.
	npe := append(append([]wire.ACL(nil), first...), wire.ACL{Perms: 5, ID: wire.ID{Nulls: 1}})
	if _, code := FixupACL(npe, nil, 0); code != wire.ErrMarshallingError {
		t.Fatalf("null scheme after the same perms: %v", code)
	}

	// 200 digest ids times 1000 "auth" entries would be 200,000 entries
	// (about 9 MB): refused before it is built, under jute.maxbuffer.
	var auth []wire.ID
	for i := 0; i < 200; i++ {
		auth = append(auth, wire.ID{Scheme: SchemeDigest, ID: DigestID("user" + strconv.Itoa(i) + ":pw")})
	}
	authACL := make([]wire.ACL, 1000)
	for i := range authACL {
		authACL[i] = wire.ACL{Perms: int32(i), ID: wire.ID{Scheme: SchemeAuth, ID: ""}}
	}
	if _, code := FixupACL(authACL, auth, jute.DefaultMaxBuffer); code != ErrACLTooLarge {
		t.Fatalf("auth expansion beyond jute.maxbuffer: %v, want %v", code, ErrACLTooLarge)
	}
	out, code = FixupACL(authACL[:10], auth, jute.DefaultMaxBuffer)
	if code != wire.ErrOk || len(out) != 2000 {
		t.Fatalf("auth expansion within the limit: %v, %d entries", code, len(out))
	}
}
