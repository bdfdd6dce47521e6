package tree

import (
	"fmt"
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
