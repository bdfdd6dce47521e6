package tree

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// TestNodeTableAgainstMap drives a tree through random creates, deletes
// and setData (which replaces a node's record) with the path hash forced
// to a handful of values, so that most nodes land in the overflow map and
// hash slots are freed and retaken, and checks every lookup, the count and
// every child listing against a plain map after each step.
func TestNodeTableAgainstMap(t *testing.T) {
	for _, buckets := range []uint64{0, 1, 7} {
		t.Run(fmt.Sprintf("buckets=%d", buckets), func(t *testing.T) {
			if buckets > 0 {
				testHash = func(p string) uint64 { return uint64(len(p)) % buckets }
				defer func() { testHash = nil }()
			}
			tableAgainstMap(t, rand.New(rand.NewPCG(buckets, 99)))
		})
	}
}

func tableAgainstMap(t *testing.T, r *rand.Rand) {
	tr := New(Options{})
	model := map[string]string{} // path -> data, the tree's own nodes included
	for _, p := range []string{"/", ZookeeperPath, QuotaPath, ConfigPath} {
		model[p] = string(tr.Get(p).Data())
	}
	var zxid wire.Zxid
	apply := func(typ wire.OpCode, body jute.Record) wire.ErrCode {
		zxid++
		return tr.Apply(&wire.TxnEntry{Hdr: wire.TxnHeader{Zxid: zxid, Type: typ}, Body: body}).Err
	}
	parents := []string{"/", "/a", "/b"}
	for _, p := range parents[1:] {
		apply(wire.OpCreate, &wire.CreateTxn{Path: p, ParentCVersion: -1})
		model[p] = ""
	}
	check := func(step int) {
		t.Helper()
		if tr.Len() != len(model) {
			t.Fatalf("step %d: Len %d, model %d", step, tr.Len(), len(model))
		}
		children := map[string][]string{}
		for p, d := range model {
			n := tr.Get(p)
			if n == nil || n.Path() != p || string(n.Data()) != d {
				t.Fatalf("step %d: Get(%q) = %v", step, p, n)
			}
			if p != "/" {
				pp := wire.ParentPath(p)
				children[pp] = append(children[pp], wire.BaseName(p))
			}
		}
		for p := range model {
			got := tr.Get(p).ChildNames()
			slices.Sort(got)
			want := children[p]
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: children of %s: %d, want %d", step, p, len(got), len(want))
			}
		}
	}
	for step := 0; step < 6000; step++ {
		parent := parents[r.IntN(len(parents))]
		p := wire.JoinPath(parent, fmt.Sprintf("n%d", r.IntN(300)))
		_, exists := model[p]
		switch op := r.IntN(10); {
		case op < 5:
			d := fmt.Sprintf("c%d", step)
			err := apply(wire.OpCreate, &wire.CreateTxn{Path: p, Data: []byte(d), ParentCVersion: -1})
			if exists != (err == wire.ErrNodeExists) || !exists && err != wire.ErrOk {
				t.Fatalf("step %d: create %s: %v (exists %v)", step, p, err, exists)
			}
			if !exists {
				model[p] = d
			}
		case op < 8:
			err := apply(wire.OpDelete, &wire.DeleteTxn{Path: p})
			if exists != (err == wire.ErrOk) {
				t.Fatalf("step %d: delete %s: %v (exists %v)", step, p, err, exists)
			}
			delete(model, p)
		default:
			d := fmt.Sprintf("s%d", step)
			err := apply(wire.OpSetData, &wire.SetDataTxn{Path: p, Data: []byte(d), Version: 1})
			if exists != (err == wire.ErrOk) {
				t.Fatalf("step %d: setData %s: %v (exists %v)", step, p, err, exists)
			}
			if exists {
				model[p] = d
			}
		}
		if step%200 == 0 {
			check(step)
		}
	}
	check(-1)
}

// TestLargeChildSetFollowsNewRecords checks that a large child set's keys
// follow its children's records across setData: the names still find
// their children, and the old records are not kept.
func TestLargeChildSetFollowsNewRecords(t *testing.T) {
	tr := New(Options{})
	var zxid wire.Zxid
	apply := func(typ wire.OpCode, body jute.Record) wire.ErrCode {
		zxid++
		return tr.Apply(&wire.TxnEntry{Hdr: wire.TxnHeader{Zxid: zxid, Type: typ}, Body: body}).Err
	}
	apply(wire.OpCreate, &wire.CreateTxn{Path: "/big", ParentCVersion: -1})
	const n = maxSortedChildren + 100
	for i := 0; i < n; i++ {
		apply(wire.OpCreate, &wire.CreateTxn{Path: fmt.Sprintf("/big/c%d", i), ParentCVersion: -1})
	}
	cs := tr.Get("/big").children
	if cs.big == nil {
		t.Fatalf("set of %d is not in the large form", cs.len())
	}
	for i := 0; i < n; i += 3 {
		if err := apply(wire.OpSetData, &wire.SetDataTxn{Path: fmt.Sprintf("/big/c%d", i), Data: []byte("x"), Version: 1}); err != wire.ErrOk {
			t.Fatalf("setData: %v", err)
		}
	}
	for name, i := range cs.big {
		c := cs.list[i]
		if c.name() != name || tr.Get(c.Path()) != c {
			t.Fatalf("key %q maps to %q", name, c.Path())
		}
		// The key's bytes are the child's current record.
		if rec := c.name(); unsafeStringData(name) != unsafeStringData(rec) || unsafeStringData(cs.lnames[i]) != unsafeStringData(rec) {
			t.Fatalf("key or listed name %q still points into an old record", name)
		}
	}
	for i := 0; i < n; i += 2 {
		if err := apply(wire.OpDelete, &wire.DeleteTxn{Path: fmt.Sprintf("/big/c%d", i)}); err != wire.ErrOk {
			t.Fatalf("delete: %v", err)
		}
	}
	if got := tr.Get("/big").NumChildren(); got != n/2 {
		t.Fatalf("%d children, want %d", got, n/2)
	}
}

// BenchmarkTreeBytesPerZnode reports the live heap per znode of the bench's
// tree (make bench-mem: 100-byte data, 1000 children per parent, 27-byte
// paths), loaded through Restore as a restart does (each node's data a
// buffer of its own, as the snapshot reader hands it over).
func BenchmarkTreeBytesPerZnode(b *testing.B) {
	const parents, perParent = 250, 1000
	data := make([]byte, 100)
	var ms runtime.MemStats
	for range b.N {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		tr := NewEmpty(Options{})
		tr.Restore("/", []byte{}, OpenACLUnsafeIndex, wire.StatPersisted{})
		tr.Restore("/membench", []byte{}, OpenACLUnsafeIndex, wire.StatPersisted{})
		for i := 0; i < parents; i++ {
			pp := fmt.Sprintf("/membench/p%04d", i)
			tr.Restore(pp, []byte{}, OpenACLUnsafeIndex, wire.StatPersisted{})
			for j := 0; j < perParent; j++ {
				tr.Restore(fmt.Sprintf("%s/node-%06d", pp, i*perParent+j), slices.Clone(data), OpenACLUnsafeIndex, wire.StatPersisted{})
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc-before)/float64(tr.Len()), "B/znode")
		table := 9 * len(tr.nodes.cur.tags)
		if tr.nodes.old != nil {
			table += 9 * len(tr.nodes.old.tags)
		}
		b.ReportMetric(float64(table)/float64(tr.Len()), "table-B/znode")
		runtime.KeepAlive(tr)
	}
}

func unsafeStringData(s string) *byte { return unsafe.StringData(s) }

// TestNodeTableChurn drives the table itself through puts and deletes over
// a small set of paths (so tombstones pile up and force rebuilds, the
// table grows and shrinks, and lookups run while a move is under way),
// checking every lookup against a plain map, with the real hash and with
// one that makes every path collide in tag and in most of its bits.
func TestNodeTableChurn(t *testing.T) {
	for _, forced := range []bool{false, true} {
		t.Run(fmt.Sprintf("forced=%v", forced), func(t *testing.T) {
			if forced {
				testHash = func(p string) uint64 { return uint64(len(p) % 3) }
				defer func() { testHash = nil }()
			}
			r := rand.New(rand.NewPCG(5, 6))
			m := newNodeTable()
			model := map[string]*Node{}
			universe := 4000
			if forced {
				universe = 400
			}
			moves, sizes := 0, map[int]bool{}
			for step := 0; step < 200000; step++ {
				p := fmt.Sprintf("/t/%d", r.IntN(universe))
				// Phases: mostly puts, then mostly deletes (the table empties
				// and shrinks), then balanced churn.
				putBias := []int{9, 1, 5}[step/70000%3]
				if n, ok := model[p]; ok {
					if r.IntN(10) >= putBias {
						m.del(p, n)
						delete(model, p)
					}
				} else if r.IntN(10) < putBias {
					n := newNode(p, nil, 0, wire.StatPersisted{})
					m.put(p, n)
					model[p] = n
				}
				if m.old != nil {
					moves++
				}
				sizes[len(m.cur.tags)] = true
				q := fmt.Sprintf("/t/%d", r.IntN(universe))
				if got := m.get(q); got != model[q] {
					t.Fatalf("step %d: get(%q) = %v, want %v", step, q, got, model[q])
				}
				if m.len() != len(model) {
					t.Fatalf("step %d: len %d, want %d", step, m.len(), len(model))
				}
				if step%20000 == 0 {
					for q, n := range model {
						if m.get(q) != n {
							t.Fatalf("step %d: lost %q", step, q)
						}
					}
				}
			}
			if moves == 0 || len(sizes) < 3 {
				t.Fatalf("the table never moved (%d steps in a move, sizes %v)", moves, sizes)
			}
		})
	}
}

// TestNodeTableMissDuringMove: while a grow moves the nodes, a lookup of a
// path that is not there must end (and in about the probes of a table at
// its load), also when the slots not yet moved are all taken: the moved
// slots used to become tombstones, so such a probe went round the old
// table for ever (here: 96 nodes with one home slot, 64, fill slots
// 64..127 and 0..31 of a 128-slot table; the move's first step takes
// slots 0..63).
func TestNodeTableMissDuringMove(t *testing.T) {
	testHash = func(string) uint64 { return 64 }
	defer func() { testHash = nil }()
	m := nodeTable{cur: newSlotTable(128)}
	for i := range 96 {
		p := fmt.Sprintf("/n%d", i)
		m.cur.insert(newNode(p, nil, 0, wire.StatPersisted{}), m.hash(p))
		m.n++
	}
	m.grow()
	if m.old == nil {
		t.Fatal("the move ended in one step; the test needs it under way")
	}
	done := make(chan *Node, 1)
	go func() { done <- m.get("/missing") }()
	select {
	case n := <-done:
		if n != nil {
			t.Fatalf("get(/missing) = %v", n.Path())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("get of a missing path during a move did not end")
	}
	for i := range 96 {
		p := fmt.Sprintf("/n%d", i)
		if n := m.get(p); n == nil || n.Path() != p {
			t.Fatalf("get(%s) during the move: %v", p, n)
		}
	}
}
