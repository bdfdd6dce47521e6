package tree

import (
	"slices"
	"testing"

	"github.com/zkgo/zkgo/wire"
)

// TestFuzzySnapshotACLRefs: a fuzzy snapshot whose ACL map (written
// first) lacks the index a node in it already uses. Taken from a Java 3.8
// data directory (TestInteropJavaDataDirToZkgo, about one run in six):
// txn 0xb6 creates /secure with a digest ACL (index 3), 0xb8 sets /app00's
// ACL to the same list; the snapshot at 0xb3 has /app00 at index 3 and a
// map of {1, 2}. Replaying 0xb6..0xb8 over it, the setACL released /app00's
// uncounted reference to 3, which dropped the entry /secure still used:
// zkgo then answered getACL(/secure) with a null list and let anyone in.
// Also a node the snapshot caught with an index its map lacks whose own
// create is replayed (/late, 0xb9): it gets the create's list.
func TestFuzzySnapshotACLRefs(t *testing.T) {
	digest := []wire.ACL{{Perms: 31, ID: wire.ID{Scheme: "digest", ID: "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="}}}
	mixed := []wire.ACL{{Perms: 1, ID: wire.ID{Scheme: "world", ID: "anyone"}}, {Perms: 31, ID: wire.ID{Scheme: "ip", ID: "127.0.0.1"}}}
	tr := NewEmpty(Options{})
	tr.ACLs().Put(1, []wire.ACL{{Perms: 1, ID: wire.ID{Scheme: "world", ID: "anyone"}}})
	tr.ACLs().Put(2, OpenACLUnsafe)
	tr.Restore("/", nil, -1, wire.StatPersisted{})
	tr.Restore("/app00", []byte("/app00"), 3, wire.StatPersisted{Czxid: 2, Mzxid: 2, Aversion: 1})
	tr.Restore("/app01", nil, 2, wire.StatPersisted{Czxid: 3, Mzxid: 3})
	tr.Restore("/late", nil, 9, wire.StatPersisted{Czxid: 0xb9, Mzxid: 0xb9})
	tr.ACLs().PurgeUnused()
	tr.LastZxid = 0xb3
	for _, e := range []*wire.TxnEntry{
		{Hdr: wire.TxnHeader{Zxid: 0xb6, Type: wire.OpCreate}, Body: &wire.CreateTxn{Path: "/secure", Data: []byte("s"), ACL: digest, ParentCVersion: 3}},
		{Hdr: wire.TxnHeader{Zxid: 0xb7, Type: wire.OpCreate}, Body: &wire.CreateTxn{Path: "/mixed", ACL: mixed, ParentCVersion: 4}},
		{Hdr: wire.TxnHeader{Zxid: 0xb8, Type: wire.OpSetACL}, Body: &wire.SetACLTxn{Path: "/app00", ACL: digest, Version: 1}},
		{Hdr: wire.TxnHeader{Zxid: 0xb9, Type: wire.OpCreate}, Body: &wire.CreateTxn{Path: "/late", ACL: mixed, ParentCVersion: 5}},
	} {
		tr.Apply(e)
	}
	for path, want := range map[string][]wire.ACL{"/secure": digest, "/app00": digest, "/mixed": mixed, "/app01": OpenACLUnsafe, "/late": mixed} {
		n := tr.Get(path)
		if n == nil {
			t.Fatalf("%s missing", path)
		}
		if got := tr.ACLOf(n); !slices.Equal(got, want) {
			t.Errorf("ACL of %s = %v, want %v", path, got, want)
		}
	}
	// A snapshot of the result names every index a node uses.
	defined := map[int64]bool{OpenACLUnsafeIndex: true}
	tr.ACLs().Each(func(idx int64, _ []wire.ACL) { defined[idx] = true })
	for _, path := range []string{"/secure", "/app00", "/mixed", "/app01", "/late"} {
		if n := tr.Get(path); !defined[n.ACL] {
			t.Errorf("%s uses index %d, which the ACL map does not hold", path, n.ACL)
		}
	}
}

// TestUndefinedACLFailsClosed: a node whose ACL index no replayed txn
// defines grants nothing but to the super user (it used to read as an
// empty list, which lets everyone in).
func TestUndefinedACLFailsClosed(t *testing.T) {
	tr := NewEmpty(Options{})
	tr.ACLs().Put(1, OpenACLUnsafe)
	tr.Restore("/", nil, -1, wire.StatPersisted{})
	tr.Restore("/orphan", []byte("x"), 7, wire.StatPersisted{Czxid: 5, Mzxid: 5})
	tr.Restore("/open", nil, 1, wire.StatPersisted{Czxid: 6, Mzxid: 6})
	tr.ACLs().PurgeUnused()
	acl := tr.ACLOf(tr.Get("/orphan"))
	if !IsUndefinedACL(acl) {
		t.Fatalf("ACL of /orphan = %v, want UndefinedACL", acl)
	}
	world := []wire.ID{{Scheme: "world", ID: "anyone"}, {Scheme: "ip", ID: "127.0.0.1"}}
	if CheckACL(acl, wire.PermRead, world) || CheckACL(acl, wire.PermWrite, world) {
		t.Errorf("an undefined ACL lets a client without super in")
	}
	if !CheckACL(acl, wire.PermRead, []wire.ID{{Scheme: SchemeSuper}}) {
		t.Errorf("the super user is refused")
	}
	n := 0
	tr.ACLs().Each(func(int64, []wire.ACL) { n++ })
	if n != 1 {
		t.Errorf("%d ACL lists to write in a snapshot, want 1 (the undefined index has none)", n)
	}
}
