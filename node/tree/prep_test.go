package tree

import (
	"testing"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// TestPrepSetACLKeepsOldACLOutstanding: Java's prep leaves the node's old
// ACL in setACL's outstanding change record, so writes prepared behind an
// unapplied setACL are checked against the ACL from before it; once the
// setACL is applied, the new ACL holds.
func TestPrepSetACLKeepsOldACLOutstanding(t *testing.T) {
	tr := New(Options{})
	zxid := wire.Zxid(0)
	prep := func(op wire.OpCode, body jute.Record) (wire.TxnEntry, wire.ErrCode) {
		zxid++
		return tr.Prep(&PrepRequest{Session: 1, Type: op, Body: body, Zxid: zxid, Time: 1, Auth: []wire.ID{}})
	}
	apply := func(e wire.TxnEntry) { tr.Apply(&e) }
	e, code := prep(wire.OpCreate, &wire.CreateRequest{Path: "/n", ACL: OpenACLUnsafe})
	if code != wire.ErrOk {
		t.Fatalf("create: %v", code)
	}
	apply(e)
	readOnly := []wire.ACL{{Perms: int32(wire.PermRead), ID: wire.ID{Scheme: SchemeWorld, ID: "anyone"}}}
	setACL, code := prep(wire.OpSetACL, &wire.SetACLRequest{Path: "/n", ACL: readOnly, Version: -1})
	if code != wire.ErrOk {
		t.Fatalf("setACL: %v", code)
	}
	setData, code := prep(wire.OpSetData, &wire.SetDataRequest{Path: "/n", Data: []byte("x"), Version: -1})
	if code != wire.ErrOk {
		t.Fatalf("setData prepared behind the unapplied setACL: %v, want OK (the old ACL)", code)
	}
	create, code := prep(wire.OpCreate, &wire.CreateRequest{Path: "/n/kid", ACL: OpenACLUnsafe})
	if code != wire.ErrOk {
		t.Fatalf("create prepared behind the unapplied setACL: %v, want OK (the old ACL)", code)
	}
	apply(setACL)
	apply(setData)
	apply(create)
	if _, code := prep(wire.OpSetData, &wire.SetDataRequest{Path: "/n", Data: []byte("y"), Version: -1}); code != wire.ErrNoAuth {
		t.Fatalf("setData after the setACL was applied: %v, want NOAUTH", code)
	}
	if got := tr.ACLOf(tr.Get("/n")); len(got) != 1 || got[0] != readOnly[0] {
		t.Fatalf("ACL of /n: %v", got)
	}
}
