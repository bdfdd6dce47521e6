package tree

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"testing"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// TestChildSetForms drives a childSet across the slice/map thresholds and
// checks it against a plain map after every step.
func TestChildSetForms(t *testing.T) {
	var s childSet
	ref := map[string]bool{}
	r := rand.New(rand.NewPCG(1, 2))
	check := func(step int) {
		t.Helper()
		if s.len() != len(ref) {
			t.Fatalf("step %d: len %d, want %d", step, s.len(), len(ref))
		}
		got := s.sortedNames()
		if !sort.StringsAreSorted(got) || len(got) != len(ref) {
			t.Fatalf("step %d: sortedNames not sorted or wrong size (%d, want %d)", step, len(got), len(ref))
		}
		for _, n := range got {
			if !ref[n] {
				t.Fatalf("step %d: unexpected child %q", step, n)
			}
		}
	}
	name := func() string { return fmt.Sprintf("c%05d", r.IntN(3*maxSortedChildren)) }
	// Grow past the map threshold, then shrink below the slice threshold.
	for i := 0; len(ref) <= maxSortedChildren+10; i++ {
		n := name()
		if s.add(newNode("/p/"+n, nil, 0, wire.StatPersisted{})) == ref[n] {
			t.Fatalf("add %q: reported new=%v, but present=%v", n, !ref[n], ref[n])
		}
		ref[n] = true
		if i%512 == 0 {
			check(i)
		}
	}
	if s.big == nil {
		t.Fatalf("set of %d children is still a slice", s.len())
	}
	check(-1)
	for n := range ref {
		if !s.has(n) {
			t.Fatalf("has(%q) = false", n)
		}
		s.remove(n)
		delete(ref, n)
		if s.has(n) {
			t.Fatalf("has(%q) after remove", n)
		}
		if len(ref)%700 == 0 {
			check(len(ref))
		}
	}
	if s.big != nil || s.len() != 0 {
		t.Fatalf("emptied set: big=%v len=%d", s.big != nil, s.len())
	}
}

// TestDescendantCounts creates and deletes nodes at random (a flat node
// that crosses the large-set threshold, and a few levels) and checks
// every node's descendant count against a recount, and that a large set's
// names are still every child once.
func TestDescendantCounts(t *testing.T) {
	tr := New(Options{})
	r := rand.New(rand.NewPCG(7, 8))
	zxid := wire.Zxid(0)
	var live []string
	apply := func(typ wire.OpCode, body jute.Record) wire.ErrCode {
		zxid++
		return tr.Apply(&wire.TxnEntry{Hdr: wire.TxnHeader{Zxid: zxid, Type: typ}, Body: body}).Err
	}
	recount := func(path string) int {
		n := 0
		var walk func(p string)
		walk = func(p string) {
			for _, c := range tr.Get(p).ChildNames() {
				n++
				walk(wire.JoinPath(p, c))
			}
		}
		walk(path)
		return n
	}
	check := func(step int) {
		t.Helper()
		tr.Walk(func(p string, n *Node) bool {
			if got, want := tr.CountDescendants(p), recount(p); got != want {
				t.Fatalf("step %d: %s has %d descendants, recount %d", step, p, got, want)
			}
			return true
		})
		names := tr.Get("/flat").ChildNames()
		seen := map[string]bool{}
		for _, c := range names {
			if seen[c] || !tr.Get("/flat").HasChild(c) {
				t.Fatalf("step %d: child %q listed twice or not a child", step, c)
			}
			seen[c] = true
		}
	}
	apply(wire.OpCreate, &wire.CreateTxn{Path: "/flat", ParentCVersion: -1})
	for step := 0; step < 30000; step++ {
		switch {
		case len(live) > 0 && r.IntN(3) == 0:
			i := r.IntN(len(live))
			p := live[i]
			if tr.Get(p).NumChildren() > 0 {
				continue
			}
			if apply(wire.OpDelete, &wire.DeleteTxn{Path: p}) != wire.ErrOk {
				t.Fatalf("delete %s", p)
			}
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
		default:
			parent := "/flat"
			if len(live) > 0 && r.IntN(4) == 0 {
				parent = live[r.IntN(len(live))]
			}
			p := parent + "/" + strconv.Itoa(step)
			if apply(wire.OpCreate, &wire.CreateTxn{Path: p, ParentCVersion: -1}) != wire.ErrOk {
				t.Fatalf("create %s", p)
			}
			live = append(live, p)
		}
		if step%5000 == 0 {
			check(step)
		}
	}
	if tr.Get("/flat").children.big == nil {
		t.Fatalf("/flat never reached the large form (%d children)", tr.Get("/flat").NumChildren())
	}
	check(-1)
	if got, want := tr.CountDescendants("/"), tr.Len()-1; got != want {
		t.Fatalf("root: %d descendants, want %d", got, want)
	}
}
