package tree

import (
	"fmt"
	"strings"
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

// TestPrepBoundsTxnSize: no write may produce a txn its readers cannot read
// back (Options.MaxTxnBytes, jute.maxbuffer plus its extra allowance). A
// create whose "auth" ACL expands past it is refused with BADARGUMENTS and
// leaves no outstanding change; in a multi the op that crosses the limit
// fails; a closeSession whose ephemeral list would not fit lists none, and
// applying it still deletes every ephemeral.
func TestPrepBoundsTxnSize(t *testing.T) {
	const limit = 4096
	tr := New(Options{MaxTxnBytes: limit})
	zxid := wire.Zxid(0)
	var auth []wire.ID
	for i := 0; i < 20; i++ {
		auth = append(auth, wire.ID{Scheme: "digest", ID: fmt.Sprintf("user%02d:%s", i, strings.Repeat("h", 27))})
	}
	prep := func(session wire.SessionID, op wire.OpCode, body jute.Record) (wire.TxnEntry, wire.ErrCode) {
		zxid++
		return tr.Prep(&PrepRequest{Session: session, Type: op, Body: body, Zxid: zxid, Time: 1, Auth: auth})
	}
	authACL := func(n int) []wire.ACL {
		var acl []wire.ACL
		for i := 0; i < n; i++ {
			acl = append(acl, wire.ACL{Perms: int32(wire.PermAll), ID: wire.ID{Scheme: SchemeAuth, ID: fmt.Sprintf("x%d", i)}})
		}
		return acl
	}
	// 2 x 20 entries fit; 6 x 20 (~5.5 KB) do not.
	e, code := prep(1, wire.OpCreate, &wire.CreateRequest{Path: "/fits", ACL: authACL(2)})
	if code != wire.ErrOk || e.Size() > limit || len(wire.AppendTxnEntry(nil, &e)) != e.Size() {
		t.Fatalf("create that fits: %v, %d bytes", code, e.Size())
	}
	tr.Apply(&e)
	e, code = prep(1, wire.OpCreate, &wire.CreateRequest{Path: "/big", ACL: authACL(6)})
	if code != wire.ErrBadArguments || e.Hdr.Type != wire.OpError || e.Size() > limit || tr.Outstanding() != 0 {
		t.Fatalf("oversized create: %v type %v, %d bytes, %d outstanding", code, e.Hdr.Type, e.Size(), tr.Outstanding())
	}
	tr.Apply(&e)
	if tr.Get("/big") != nil {
		t.Fatal("the refused create was applied")
	}
	// In a multi: the first op would fit, the second crosses the limit.
	e, code = prep(1, wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
		{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/m1", ACL: OpenACLUnsafe}},
		{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/m2", ACL: authACL(6)}},
		{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/m3", ACL: OpenACLUnsafe}},
	}})
	if code != wire.ErrBadArguments || e.Size() > limit || tr.Outstanding() != 0 {
		t.Fatalf("oversized multi: %v, %d bytes, %d outstanding", code, e.Size(), tr.Outstanding())
	}
	res := tr.Apply(&e)
	want := []wire.ErrCode{wire.ErrOk, wire.ErrBadArguments, wire.ErrRuntimeInconsistency}
	for i, r := range res.Multi {
		if r.Type != wire.OpError || r.Err != want[i] {
			t.Fatalf("multi op %d: %v %v, want an error result %v", i, r.Type, r.Err, want[i])
		}
	}
	if tr.Get("/m1") != nil {
		t.Fatal("part of the refused multi was applied")
	}
	// A session with more ephemeral path bytes than fit in one txn.
	for i := 0; i < 60; i++ {
		e, code = prep(7, wire.OpCreate, &wire.CreateRequest{Path: fmt.Sprintf("/e%02d-%s", i, strings.Repeat("p", 80)),
			ACL: OpenACLUnsafe, Flags: int32(wire.ModeEphemeral)})
		if code != wire.ErrOk {
			t.Fatalf("ephemeral %d: %v", i, code)
		}
		tr.Apply(&e)
	}
	e, code = prep(7, wire.OpCloseSession, nil)
	c, ok := e.Body.(*wire.CloseSessionTxn)
	if code != wire.ErrOk || !ok || c.Paths2Delete == nil || len(c.Paths2Delete) != 0 || e.Size() > limit {
		t.Fatalf("closeSession: %v %+v, %d bytes", code, e.Body, e.Size())
	}
	// Its readers decode it and delete the ephemerals from their index.
	back, err := wire.DecodeTxnEntry(wire.AppendTxnEntry(nil, &e), limit)
	if err != nil {
		t.Fatal(err)
	}
	tr.Apply(&back)
	if n := len(tr.Ephemerals(7)); n != 0 {
		t.Fatalf("%d ephemerals left after the closeSession", n)
	}
	if tr.Digest() != uint64(e.Digest.TreeDigest) {
		t.Fatal("the closeSession's digest does not match the tree after it")
	}
}

// TestPrepReconfigOrder: a reconfig is refused with RECONFIGDISABLED
// before the session is checked, as Java's PrepRequestProcessor does (a
// session the tracker no longer accepts gets RECONFIGDISABLED there, not
// SESSIONEXPIRED); with reconfig enabled the
// session check comes first, then UNIMPLEMENTED on a server without a
// quorum.
func TestPrepReconfigOrder(t *testing.T) {
	tr := New(Options{})
	expired := func(wire.SessionID) wire.ErrCode { return wire.ErrSessionExpired }
	body := &wire.ReconfigRequest{LeavingServers: "2", CurConfigID: -1}
	for _, tc := range []struct {
		enabled bool
		check   SessionCheck
		want    wire.ErrCode
	}{
		{false, expired, wire.ErrReconfigDisabled},
		{false, nil, wire.ErrReconfigDisabled},
		{true, expired, wire.ErrSessionExpired},
		{true, nil, wire.ErrUnimplemented},
	} {
		e, code := tr.Prep(&PrepRequest{Session: 1, Type: wire.OpReconfig, Body: body, Zxid: 1, Time: 1,
			CheckSession: tc.check, ReconfigEnabled: tc.enabled})
		if code != tc.want || e.Hdr.Type != wire.OpError {
			t.Errorf("enabled=%v session expired=%v: %v (txn type %v), want %v", tc.enabled, tc.check != nil, code, e.Hdr.Type, tc.want)
		}
	}
}

// TestPrepReconfig: with the leader's computation (PrepRequest.Reconfig),
// a reconfig is its refusal's code, or NOAUTH without WRITE on
// /zookeeper/config (world has READ only: a super user or skipACL is
// needed, as in Java), or a SetData of /zookeeper/config with the new
// text and version -1, which the node's stat takes when applied
// (DataTree.setData); the outstanding record follows the txn.
func TestPrepReconfig(t *testing.T) {
	tr := New(Options{Config: []byte("server.1=a:1:2:participant;3\nversion=0")})
	text := []byte("server.1=a:1:2:participant;3\nserver.2=b:1:2:participant;3\nversion=100000001")
	body := &wire.ReconfigRequest{JoiningServers: "server.2=b:1:2;3", CurConfigID: -1}
	calls := 0
	compute := func(code wire.ErrCode) func(*wire.ReconfigRequest) ([]byte, wire.ErrCode) {
		return func(r *wire.ReconfigRequest) ([]byte, wire.ErrCode) {
			calls++
			if r != body {
				t.Errorf("Reconfig got %+v, want the request", r)
			}
			if code != wire.ErrOk {
				return nil, code
			}
			return text, wire.ErrOk
		}
	}
	super := []wire.ID{{Scheme: SchemeSuper}}
	for _, tc := range []struct {
		name string
		code wire.ErrCode
		auth []wire.ID
		want wire.ErrCode
	}{
		{"refused", wire.ErrReconfigInProgress, super, wire.ErrReconfigInProgress},
		{"no WRITE", wire.ErrOk, nil, wire.ErrNoAuth},
	} {
		e, code := tr.Prep(&PrepRequest{Session: 1, Type: wire.OpReconfig, Body: body, Zxid: 1, Time: 1,
			ReconfigEnabled: true, Reconfig: compute(tc.code), Auth: tc.auth})
		if code != tc.want || e.Hdr.Type != wire.OpError {
			t.Errorf("%s: %v (txn type %v), want %v", tc.name, code, e.Hdr.Type, tc.want)
		}
	}
	// Disabled, the computation is not consulted.
	if _, code := tr.Prep(&PrepRequest{Session: 1, Type: wire.OpReconfig, Body: body, Zxid: 2, Time: 1,
		Reconfig: compute(wire.ErrOk), Auth: super}); code != wire.ErrReconfigDisabled || calls != 2 {
		t.Fatalf("disabled: %v after %d calls", code, calls)
	}
	e, code := tr.Prep(&PrepRequest{Session: 1, Type: wire.OpReconfig, Body: body, Zxid: 3, Time: 1,
		ReconfigEnabled: true, Reconfig: compute(wire.ErrOk), Auth: super})
	sd, ok := e.Body.(*wire.SetDataTxn)
	if code != wire.ErrOk || e.Hdr.Type != wire.OpReconfig || !ok {
		t.Fatalf("reconfig: %v, txn %v %T", code, e.Hdr.Type, e.Body)
	}
	if sd.Path != ConfigPath || string(sd.Data) != string(text) || sd.Version != -1 {
		t.Fatalf("txn %+v", sd)
	}
	res := tr.Apply(&e)
	if res.Err != wire.ErrOk || res.Stat.Version != -1 {
		t.Fatalf("applied: %v, stat version %d", res.Err, res.Stat.Version)
	}
	n := tr.Get(ConfigPath)
	if n == nil {
		t.Fatal("no /zookeeper/config")
	}
	if st := tr.StatOf(n); string(n.Data()) != string(text) || st.Version != -1 || st.Mzxid != 3 {
		t.Fatalf("/zookeeper/config after the reconfig: %q %+v", n.Data(), st)
	}
}
