package tree

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
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
		if s.add(n) == ref[n] {
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
