package tree

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// TestIncrementalDigest applies creates, setData and deletes (with
// children coming and going under one parent) and checks that the
// incrementally kept digest equals one recomputed from every node.
func TestIncrementalDigest(t *testing.T) {
	tr := New(Options{})
	zxid := wire.Zxid(0)
	apply := func(typ wire.OpCode, body jute.Record) {
		t.Helper()
		zxid++
		e := &wire.TxnEntry{Hdr: wire.TxnHeader{ClientID: 7, Zxid: zxid, Time: int64(zxid) * 1000, Type: typ}, Body: body}
		if r := tr.Apply(e); r.Err != wire.ErrOk {
			t.Fatalf("txn %d (%v): %v", zxid, typ, r.Err)
		}
	}
	recompute := func() uint64 {
		var d digester
		var sum uint64
		tr.Walk(func(p string, n *Node) bool {
			sum += d.node(p, n.Data(), &n.Stat)
			return true
		})
		return sum
	}
	apply(wire.OpCreate, &wire.CreateTxn{Path: "/p", Data: []byte("parent"), ParentCVersion: 1})
	for i := range 50 {
		apply(wire.OpCreate, &wire.CreateTxn{Path: fmt.Sprintf("/p/c%02d", i), Data: []byte{byte(i)}, Ephemeral: i%3 == 0, ParentCVersion: int32(i + 1)})
	}
	for i := 0; i < 50; i += 2 {
		apply(wire.OpSetData, &wire.SetDataTxn{Path: fmt.Sprintf("/p/c%02d", i), Data: []byte("new"), Version: 1})
	}
	for i := 0; i < 50; i += 3 {
		apply(wire.OpDelete, &wire.DeleteTxn{Path: fmt.Sprintf("/p/c%02d", i)})
	}
	if got, want := tr.Digest(), recompute(); got != want {
		t.Fatalf("incremental digest %#x, recomputed %#x", got, want)
	}
	if n := tr.Get("/p"); n.NumChildren() != 33 || n.Stat.Pzxid != zxid {
		t.Fatalf("/p: %d children, pzxid %#x; want 33, %#x", n.NumChildren(), n.Stat.Pzxid, zxid)
	}
}

// TestReplayRecreatesFuzzyACL: a fuzzy snapshot can hold a node whose ACL
// index its ACL map lacks (the ACL was new while the walk ran). Replaying
// the node's create fails with NODEEXISTS but points the node at the
// create's list (Java puts the list in the cache at the next index and
// leaves the node's index as it is).
func TestReplayRecreatesFuzzyACL(t *testing.T) {
	digestACL := []wire.ACL{{Perms: int32(wire.PermAll), ID: wire.ID{Scheme: "digest", ID: "u:x"}}}
	tr := NewEmpty(Options{})
	tr.ACLs().Put(1, OpenACLUnsafe)
	for _, p := range []string{"/", "/a", "/a/b"} {
		acl := int64(1)
		if p == "/a/b" {
			acl = 2 // missing from the snapshot's ACL map
		}
		if !tr.Restore(p, []byte{}, acl, wire.StatPersisted{Czxid: 5, Mzxid: 5, Pzxid: 5}) {
			t.Fatalf("restore %s", p)
		}
	}
	tr.ACLs().PurgeUnused()
	if got := tr.ACLOf(tr.Get("/a/b")); !IsUndefinedACL(got) {
		t.Fatalf("before replay the ACL resolves to %v, want UndefinedACL (grants nothing)", got)
	}
	r := tr.Apply(&wire.TxnEntry{Hdr: wire.TxnHeader{Zxid: 5, Type: wire.OpCreate},
		Body: &wire.CreateTxn{Path: "/a/b", Data: []byte{}, ACL: digestACL, ParentCVersion: 1}})
	if r.Err != wire.ErrNodeExists {
		t.Fatalf("replayed create: %v, want NODEEXISTS", r.Err)
	}
	if got := tr.ACLOf(tr.Get("/a/b")); len(got) != 1 || got[0] != digestACL[0] {
		t.Fatalf("after replay the ACL is %v, want %v", got, digestACL)
	}
}

// TestPrepDigestFollowsApply prepares pipelined batches of creates,
// setData, setACL and deletes (parents with data of their own, so their
// cached data CRCs are exercised) and checks that every txn's precomputed
// digest is the tree digest once it is applied, and that the tree digest
// equals one recomputed from every node.
func TestPrepDigestFollowsApply(t *testing.T) {
	tr := New(Options{})
	zxid := wire.Zxid(0)
	r := rand.New(rand.NewPCG(3, 4))
	paths := []string{"/a", "/a/b", "/a/c", "/a/b/d", "/e", "/e/f"}
	applied := 0
	applyBatch := func(round int, batch []wire.TxnEntry) {
		t.Helper()
		applied += len(batch)
		for i := range batch {
			res := tr.Apply(&batch[i])
			if res.Err != wire.ErrOk {
				t.Fatalf("round %d: %v failed to apply: %v", round, batch[i].Hdr.Type, res.Err)
			}
			if got := uint64(batch[i].Digest.TreeDigest); got != tr.Digest() {
				t.Fatalf("round %d: txn %#x (%v) prepared with digest %#x, tree has %#x after it",
					round, batch[i].Hdr.Zxid, batch[i].Hdr.Type, got, tr.Digest())
			}
		}
	}
	for round := 0; round < 300; round++ {
		var batch []wire.TxnEntry
		for i := r.IntN(6); i >= 0; i-- {
			zxid++
			p := paths[r.IntN(len(paths))]
			data := make([]byte, r.IntN(300))
			for j := range data {
				data[j] = byte(r.IntN(256))
			}
			var op wire.OpCode
			var body jute.Record
			switch r.IntN(4) {
			case 0:
				op, body = wire.OpCreate, &wire.CreateRequest{Path: p, Data: data, ACL: OpenACLUnsafe}
			case 1:
				op, body = wire.OpSetData, &wire.SetDataRequest{Path: p, Data: data, Version: -1}
			case 2:
				op, body = wire.OpSetACL, &wire.SetACLRequest{Path: p, ACL: ReadACLUnsafe, Version: -1}
			default:
				op, body = wire.OpDelete, &wire.DeleteRequest{Path: p, Version: -1}
			}
			e, code := tr.Prep(&PrepRequest{Session: 1, Type: op, Body: body, Zxid: zxid, Time: int64(zxid), Auth: []wire.ID{{Scheme: SchemeSuper}}})
			if code == wire.ErrOk {
				batch = append(batch, e)
				continue
			}
			// An error txn takes its turn after the batch before it.
			applyBatch(round, batch)
			batch = nil
			tr.Apply(&e)
		}
		applyBatch(round, batch)
	}
	t.Logf("%d txns applied", applied)
	if applied < 300 {
		t.Fatalf("only %d txns prepared without error: the workload does not exercise prep", applied)
	}
	var d digester
	var sum uint64
	tr.Walk(func(p string, n *Node) bool {
		sum += d.node(p, n.Data(), &n.Stat)
		return true
	})
	if sum != tr.Digest() {
		t.Fatalf("tree digest %#x, recomputed %#x", tr.Digest(), sum)
	}
}
