package tree

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"testing"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// nodeState is what a reader can see of one node.
type nodeState struct {
	stat     wire.Stat
	data     string
	children string
}

func (t *Tree) readAll() map[string]nodeState {
	out := map[string]nodeState{}
	t.Walk(func(p string, n *Node) bool {
		out[p] = nodeState{stat: t.StatOf(n), data: string(n.Data()), children: fmt.Sprint(n.children.sortedNames())}
		return true
	})
	return out
}

// TestJobsMatchOneShot prepares and applies random multis and closeSessions
// on two trees built alike: one in one call each (Prep, Apply), the other
// with PrepJob and ApplyJob a few ops per step. The txns, results, digests
// and trees must be the same; and between any two steps of an ApplyJob,
// every path it has not reported as touched must read as it did before the
// txn (what lets the server answer those reads meanwhile).
func TestJobsMatchOneShot(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	a, b := New(Options{}), New(Options{})
	zxid := wire.Zxid(0)
	auth := []wire.ID{{Scheme: SchemeSuper}}
	stepped := 0 // preparations that took more than one step
	both := func(req PrepRequest, steps int) {
		t.Helper()
		zxid++
		req.Zxid, req.Time, req.Auth = zxid, int64(zxid), auth
		ra, rb := req, req
		ea, codeA := a.Prep(&ra)
		var eb wire.TxnEntry
		var codeB wire.ErrCode
		if j := b.BeginPrep(&rb); j != nil {
			for n := 1; ; n++ {
				if _, done := j.Step(steps); done {
					if n > 1 {
						stepped++
					}
					break
				}
			}
			eb, codeB = j.Result()
		} else {
			eb, codeB = b.Prep(&rb)
		}
		if ca, ok := ea.Body.(*wire.CloseSessionTxn); ok {
			// Past 4096 paths their order is map order: compare sets.
			cb := eb.Body.(*wire.CloseSessionTxn)
			slices.Sort(ca.Paths2Delete)
			slices.Sort(cb.Paths2Delete)
		}
		if codeA != codeB || !bytes.Equal(wire.AppendTxnEntry(nil, &ea), wire.AppendTxnEntry(nil, &eb)) {
			t.Fatalf("zxid %d (%v): prep in one call gave %v, in steps %v (or different txns)", zxid, req.Type, codeA, codeB)
		}
		resA := a.Apply(&ea)
		before := b.readAll()
		var resB Result
		if j := b.BeginApply(&eb, true); j != nil {
			for {
				_, done := j.Step(steps)
				now := b.readAll()
				for p, st := range now {
					if !j.Touches(p) && before[p] != st {
						t.Fatalf("zxid %d: %s changed (%+v -> %+v) but the job does not report it", zxid, p, before[p], st)
					}
				}
				for p := range before {
					if _, ok := now[p]; !ok && !j.Touches(p) {
						t.Fatalf("zxid %d: %s deleted but the job does not report it", zxid, p)
					}
				}
				if done {
					break
				}
				if b.LastZxid == zxid {
					t.Fatalf("zxid %d: LastZxid moved before the job finished", zxid)
				}
			}
			resB = j.Finish()
		} else {
			resB = b.Apply(&eb)
		}
		if !reflect.DeepEqual(resA, resB) {
			t.Fatalf("zxid %d: results differ:\n%+v\n%+v", zxid, resA, resB)
		}
		if a.Digest() != b.Digest() || a.LastZxid != b.LastZxid || !reflect.DeepEqual(a.readAll(), b.readAll()) {
			t.Fatalf("zxid %d: trees differ after the txn", zxid)
		}
		for _, tr := range []*Tree{a, b} {
			checkPrepIndex(t, tr)
			n := 0
			for _, set := range tr.ephemerals {
				n += len(set)
			}
			if n != tr.EphemeralCount() {
				t.Fatalf("zxid %d: %d ephemerals indexed, EphemeralCount %d", zxid, n, tr.EphemeralCount())
			}
		}
	}
	both(PrepRequest{Session: 1, Type: wire.OpCreate, Body: &wire.CreateRequest{Path: "/j", Data: []byte("parent"), ACL: OpenACLUnsafe}}, -1)
	for round := 0; round < 60; round++ {
		var ops []wire.MultiOp
		n := 1 + r.IntN(40)
		for i := 0; i < n; i++ {
			p := "/j/" + strconv.Itoa(r.IntN(30))
			if r.IntN(5) == 0 {
				p += "/" + strconv.Itoa(r.IntN(3))
			}
			switch r.IntN(4) {
			case 0, 1:
				mode := wire.CreateMode(0)
				if r.IntN(2) == 0 {
					mode = wire.ModeEphemeral
				}
				ops = append(ops, wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: p, Data: []byte("d"), ACL: OpenACLUnsafe, Flags: int32(mode)}})
			case 2:
				ops = append(ops, wire.MultiOp{Type: wire.OpSetData, Op: &wire.SetDataRequest{Path: p, Data: []byte(strconv.Itoa(i)), Version: -1}})
			default:
				ops = append(ops, wire.MultiOp{Type: wire.OpDelete, Op: &wire.DeleteRequest{Path: p, Version: -1}})
			}
		}
		session := wire.SessionID(1 + r.IntN(3))
		both(PrepRequest{Session: session, Type: wire.OpMulti, Body: &wire.MultiRequest{Ops: ops}}, 1+r.IntN(7))
		if r.IntN(8) == 0 {
			both(PrepRequest{Session: session, Type: wire.OpCloseSession}, 1+r.IntN(5))
		}
	}
	// Long ACL lists: fixed up in steps, alone or in a multi, valid or not.
	long := func(n int, last *wire.ACL) []wire.ACL {
		acl := make([]wire.ACL, n)
		for i := range acl {
			acl[i] = wire.ACL{Perms: int32(i % 1500), ID: wire.ID{Scheme: "world", ID: "anyone"}}
		}
		if last != nil {
			acl[n-1] = *last
		}
		return acl
	}
	invalid := &wire.ACL{Perms: 1, ID: wire.ID{Scheme: "nosuch", ID: "x"}}
	npe := &wire.ACL{Perms: 1, ID: wire.ID{Scheme: "world", Nulls: 2}}
	both(PrepRequest{Session: 1, Type: wire.OpCreate, Body: &wire.CreateRequest{Path: "/j/acl", ACL: long(2000, nil)}}, 100)
	both(PrepRequest{Session: 1, Type: wire.OpCreate, Body: &wire.CreateRequest{Path: "/j/acl2", ACL: long(2000, invalid)}}, 100)
	both(PrepRequest{Session: 1, Type: wire.OpCreate, Body: &wire.CreateRequest{Path: "/j/acl2", ACL: long(2000, npe)}}, 100)
	both(PrepRequest{Session: 1, Type: wire.OpSetACL, Body: &wire.SetACLRequest{Path: "/j/acl", ACL: long(3000, nil), Version: -1}}, 333)
	both(PrepRequest{Session: 1, Type: wire.OpMulti, Body: &wire.MultiRequest{Ops: []wire.MultiOp{
		{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/j/acl3", ACL: long(1600, nil)}},
		{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/j/acl4", ACL: long(1600, invalid)}},
		{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/j/acl5", ACL: long(1600, nil)}},
	}}}, 250)
	both(PrepRequest{Session: 1, Type: wire.OpMulti, Body: &wire.MultiRequest{Ops: []wire.MultiOp{
		{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/j/acl3", ACL: long(1600, nil)}},
		{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/j/acl4", ACL: long(1600, npe)}},
	}}}, 250)
	both(PrepRequest{Session: 1, Type: wire.OpMulti, Body: &wire.MultiRequest{Ops: []wire.MultiOp{
		{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/j/acl3", ACL: long(1600, nil)}},
		{Type: wire.OpSetData, Op: &wire.SetDataRequest{Path: "/j/acl", Data: []byte("x"), Version: -1}},
	}}}, 250)
	if got := len(a.ACLOf(a.Get("/j/acl3"))); got != 1500 {
		t.Fatalf("/j/acl3 has %d ACL entries, want 1500", got)
	}

	// A closing session with many ephemerals, past the sorted size.
	var ops []wire.MultiOp
	for i := 0; i < 5000; i++ {
		ops = append(ops, wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/j/e" + strconv.Itoa(i), ACL: OpenACLUnsafe, Flags: int32(wire.ModeEphemeral)}})
	}
	both(PrepRequest{Session: 9, Type: wire.OpMulti, Body: &wire.MultiRequest{Ops: ops}}, 700)
	if len(a.Ephemerals(9)) != 5000 {
		t.Fatalf("session 9 has %d ephemerals, want 5000", len(a.Ephemerals(9)))
	}
	both(PrepRequest{Session: 9, Type: wire.OpCloseSession}, 900)
	if stepped < 20 {
		t.Fatalf("only %d preparations took more than one step", stepped)
	}
	if len(a.Ephemerals(9)) != 0 || a.Get("/j/e1") != nil {
		t.Fatalf("closeSession left ephemerals")
	}
}

// TestApplyJobMalformedMulti: a multi whose sub-txn does not decode fails
// whole, before anything is applied, however it is stepped.
func TestApplyJobMalformedMulti(t *testing.T) {
	tr := New(Options{})
	good := jute.Marshal(&wire.CreateTxn{Path: "/x", ACL: OpenACLUnsafe, ParentCVersion: -1})
	e := &wire.TxnEntry{Hdr: wire.TxnHeader{Zxid: 1, Type: wire.OpMulti},
		Body: &wire.MultiTxn{Txns: []wire.Txn{{Type: wire.OpCreate, Data: good}, {Type: wire.OpCreate, Data: []byte{1}}}}}
	j := tr.BeginApply(e, true)
	for {
		if _, done := j.Step(1); done {
			break
		}
	}
	res := j.Finish()
	if res.Err != wire.ErrMarshallingError || tr.Get("/x") != nil || tr.LastZxid != 1 {
		t.Fatalf("malformed multi: %v, /x created: %v, last zxid %v", res.Err, tr.Get("/x") != nil, tr.LastZxid)
	}
}

// checkPrepIndex checks the overlay's indexes against its change list: each
// path's entry is its latest change still listed (or, once dropped, a
// change of an applied txn), and so is each ephemeral owner's.
func checkPrepIndex(t *testing.T, tr *Tree) {
	t.Helper()
	ps := &tr.prep
	latest := map[string]*change{}
	latestOwned := map[ownerPath]*change{}
	for _, c := range ps.changes[ps.head:] {
		latest[c.path] = c
		if c.exists && c.stat.EphemeralOwner != 0 {
			latestOwned[ownerPath{c.stat.EphemeralOwner, c.path}] = c
		}
	}
	for p, c := range latest {
		if ps.byPath[p] != c {
			t.Fatalf("byPath[%s] is not its latest change", p)
		}
	}
	for p, c := range ps.byPath {
		if latest[p] != c && c.zxid > ps.applied {
			t.Fatalf("byPath[%s] is a change of an unapplied txn that is not listed", p)
		}
	}
	for k, c := range latestOwned {
		if ps.byOwner[k.owner][k.path] != c {
			t.Fatalf("byOwner[%d][%s] is not its latest change", k.owner, k.path)
		}
	}
	for owner, m := range ps.byOwner {
		for p, c := range m {
			if latestOwned[ownerPath{owner, p}] != c && c.zxid > ps.applied {
				t.Fatalf("byOwner[%d][%s] is a change of an unapplied txn that is not listed", owner, p)
			}
		}
	}
}

// TestRollbackRestoresIndex prepares writes pipelined behind each other, a
// multi (in steps, with an earlier txn applied between two of them) whose
// last op fails, and checks that the rollback leaves the overlay's indexes
// as the writes before the multi left them.
func TestRollbackRestoresIndex(t *testing.T) {
	tr := New(Options{})
	z := wire.Zxid(0)
	prep := func(sess wire.SessionID, op wire.OpCode, body jute.Record) (wire.TxnEntry, wire.ErrCode) {
		z++
		return tr.Prep(&PrepRequest{Session: sess, Type: op, Body: body, Zxid: z, Time: 1, Auth: []wire.ID{{Scheme: SchemeSuper}}})
	}
	a, _ := prep(1, wire.OpCreate, &wire.CreateRequest{Path: "/x", ACL: OpenACLUnsafe, Flags: int32(wire.ModeEphemeral)})
	b, _ := prep(1, wire.OpSetData, &wire.SetDataRequest{Path: "/x", Data: []byte("b"), Version: -1})
	bChange := tr.prep.byPath["/x"]
	var ops []wire.MultiOp
	for i := 0; i < 40; i++ {
		ops = append(ops, wire.MultiOp{Type: wire.OpSetData, Op: &wire.SetDataRequest{Path: "/x", Data: []byte{byte(i)}, Version: -1}},
			wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/y" + strconv.Itoa(i), ACL: OpenACLUnsafe, Flags: int32(wire.ModeEphemeral)}})
	}
	ops = append(ops, wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/x", ACL: OpenACLUnsafe}}) // NODEEXISTS
	z++
	j := tr.BeginPrep(&PrepRequest{Session: 1, Type: wire.OpMulti, Body: &wire.MultiRequest{Ops: ops}, Zxid: z, Time: 1,
		Auth: []wire.ID{{Scheme: SchemeSuper}}})
	j.Step(10)
	tr.Apply(&a) // an earlier txn applied between two steps
	tr.CleanPrep(100)
	for {
		if _, done := j.Step(10); done {
			break
		}
	}
	c, code := j.Result()
	if code != wire.ErrNodeExists {
		t.Fatalf("multi: %v, want NODEEXISTS", code)
	}
	if tr.prep.byPath["/x"] != bChange || tr.prep.byOwner[1]["/x"] != bChange {
		t.Fatalf("after the rollback /x's entries are not b's change")
	}
	for i := 0; i < 40; i++ {
		if _, ok := tr.prep.byPath["/y"+strconv.Itoa(i)]; ok {
			t.Fatalf("/y%d still in the overlay after the rollback", i)
		}
	}
	checkPrepIndex(t, tr)
	if got := tr.closeSessionCandidates(1); len(got) != 1 || got[0] != "/x" {
		t.Fatalf("session 1's ephemerals after the rollback: %v", got)
	}
	tr.Apply(&b)
	tr.Apply(&c)
	checkPrepIndex(t, tr)
}

// TestCloseSessionJobMeetsApplies: while a closeSession of a session with
// many ephemerals is prepared in steps, the session's creates prepared
// before it are applied and cleaned from the overlay between the steps;
// the txn must still delete every ephemeral the session will own.
func TestCloseSessionJobMeetsApplies(t *testing.T) {
	tr := New(Options{})
	auth := []wire.ID{{Scheme: SchemeSuper}}
	zxid := wire.Zxid(0)
	prep := func(body jute.Record, typ wire.OpCode) wire.TxnEntry {
		t.Helper()
		zxid++
		e, code := tr.Prep(&PrepRequest{Session: 9, Zxid: zxid, Time: int64(zxid), Auth: auth, Type: typ, Body: body})
		if code != wire.ErrOk {
			t.Fatalf("zxid %d: %v", zxid, code)
		}
		return e
	}
	creates := func(from, n int) *wire.MultiRequest {
		var ops []wire.MultiOp
		for i := from; i < from+n; i++ {
			ops = append(ops, wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/e" + strconv.Itoa(i), ACL: OpenACLUnsafe, Flags: int32(wire.ModeEphemeral)}})
		}
		return &wire.MultiRequest{Ops: ops}
	}
	first := prep(creates(0, 6000), wire.OpMulti)
	tr.Apply(&first)
	for tr.CleanPrep(1 << 20) {
	}
	pending := prep(creates(6000, 300), wire.OpMulti)

	zxid++
	j := tr.BeginPrep(&PrepRequest{Session: 9, Zxid: zxid, Time: int64(zxid), Auth: auth, Type: wire.OpCloseSession})
	if j == nil {
		t.Fatal("closeSession of 6300 ephemerals is not a job")
	}
	for steps := 0; ; steps++ {
		if _, done := j.Step(100); done {
			break
		}
		if steps == 3 {
			tr.Apply(&pending)
			for tr.CleanPrep(1 << 20) {
			}
		}
	}
	e, code := j.Result()
	if code != wire.ErrOk {
		t.Fatalf("closeSession: %v", code)
	}
	if n := len(e.Body.(*wire.CloseSessionTxn).Paths2Delete); n != 6300 {
		t.Fatalf("closeSession deletes %d paths, want 6300", n)
	}
	tr.Apply(&e)
	if n := len(tr.Ephemerals(9)); n != 0 {
		t.Fatalf("%d ephemerals left", n)
	}
}

// TestCloseSessionUnlistedPathsInSteps: a closeSession whose list of
// paths did not fit in a txn lists none (Prep's size bound), and its
// readers delete the session's ephemerals from their own index. With more
// than 4096 of them that is done in bounded steps, not by gathering and
// sorting them all in one, and ends with the tree and digest of the
// one-shot apply.
func TestCloseSessionUnlistedPathsInSteps(t *testing.T) {
	a, b := New(Options{}), New(Options{})
	zxid := wire.Zxid(0)
	for _, tr := range []*Tree{a, b} {
		z := zxid
		for i := 0; i < 3*maxSortedChildren; i++ {
			z++
			e := wire.TxnEntry{Hdr: wire.TxnHeader{ClientID: 9, Zxid: z, Time: int64(z), Type: wire.OpCreate},
				Body: &wire.CreateTxn{Path: "/e" + strconv.Itoa(i), ACL: OpenACLUnsafe, Ephemeral: true, ParentCVersion: -1}}
			if r := tr.Apply(&e); r.Err != wire.ErrOk {
				t.Fatalf("create %d: %v", i, r.Err)
			}
		}
	}
	zxid += 3*maxSortedChildren + 1
	e := wire.TxnEntry{Hdr: wire.TxnHeader{ClientID: 9, Zxid: zxid, Time: int64(zxid), Type: wire.OpCloseSession},
		Body: &wire.CloseSessionTxn{Paths2Delete: []string{}}}
	want := a.Apply(&e)
	j := b.BeginApply(&e, true)
	if j == nil {
		t.Fatal("no apply job for a closeSession")
	}
	steps := 0
	for {
		steps++
		used, done := j.Step(32)
		if used > 33 {
			t.Fatalf("step %d did %d ops for a budget of 32", steps, used)
		}
		if done {
			break
		}
	}
	got := j.Finish()
	if steps < 3*maxSortedChildren/33 {
		t.Fatalf("%d steps for %d ephemerals", steps, 3*maxSortedChildren)
	}
	if len(got.Removed) != len(want.Removed) || len(b.Ephemerals(9)) != 0 || b.Get("/e0") != nil {
		t.Fatalf("removed %d, want %d; %d ephemerals left", len(got.Removed), len(want.Removed), len(b.Ephemerals(9)))
	}
	if a.Digest() != b.Digest() || a.LastZxid != b.LastZxid {
		t.Fatal("the tree after the steps differs from the one-shot apply")
	}
}

// TestMultiEventsInOneSlice: the ops of a multi append their watch events
// to one slice sized once for the txn, rather than each op to a slice of
// its own that is then copied: with 100 creates of 100 B that was one
// 96-byte allocation per znode (the size class of tree.Node, whose spans
// it fragmented during a bulk load) and a third of the bytes the apply
// allocated (docs/memory.md).
func TestMultiEventsInOneSlice(t *testing.T) {
	tr := New(Options{})
	tr.Apply(&wire.TxnEntry{Hdr: wire.TxnHeader{Zxid: 1, Type: wire.OpCreate},
		Body: &wire.CreateTxn{Path: "/p", ACL: OpenACLUnsafe, ParentCVersion: -1}})
	const n = 100
	multi := func(z wire.Zxid) *wire.TxnEntry {
		txns := make([]wire.Txn, n)
		for i := range txns {
			txns[i] = wire.Txn{Type: wire.OpCreate, Data: jute.Marshal(&wire.CreateTxn{
				Path: "/p/" + strconv.Itoa(int(z)*n+i), Data: make([]byte, 100), ACL: OpenACLUnsafe, ParentCVersion: -1})}
		}
		return &wire.TxnEntry{Hdr: wire.TxnHeader{Zxid: z, Type: wire.OpMulti}, Body: &wire.MultiTxn{Txns: txns}}
	}
	tr.Apply(multi(2)) // warm the ACL cache and the child set
	e := multi(3)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := tr.Apply(e)
	runtime.ReadMemStats(&after)
	if r.Err != wire.ErrOk || len(r.Events) != 2*n {
		t.Fatalf("multi: %v, %d events; want ok, %d", r.Err, len(r.Events), 2*n)
	}
	if cap(r.Events) != 2*n {
		t.Errorf("events slice has cap %d, want %d: not sized once for the txn", cap(r.Events), 2*n)
	}
	// Before: 9.1 allocations per create; a node, its data, its path and
	// its decoded sub-txn need about 8.
	if per := float64(after.Mallocs-before.Mallocs) / n; per >= 8.6 {
		t.Errorf("%.2f allocations per create in a multi, want under 8.6", per)
	}
	for i, ev := range r.Events {
		want := wire.EventNodeCreated
		if i%2 == 1 {
			want = wire.EventNodeChildrenChanged
		}
		if ev.Type != want {
			t.Fatalf("event %d: %v, want %v", i, ev.Type, want)
		}
	}
}
