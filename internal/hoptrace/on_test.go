//go:build hoptrace

package hoptrace

import (
	"strings"
	"testing"
	"time"
)

// A complete write in stage order makes one record; a request that
// skips the writer's stages (a read) makes none, and the report counts
// it under its first missing stage.
func TestMarkKeepsOnlyCompleteWrites(t *testing.T) {
	mu.Lock()
	recs, bad = nil, [NumStages]int{}
	mu.Unlock()
	for s := Traffic; s < NumStages; s++ {
		Mark(s)
	}
	Mark(Traffic) // a read: no writer stages
	Mark(Submitted)
	Mark(Owner)
	Mark(Flushed)
	Mark(Written)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n, b := len(recs), bad
		mu.Unlock()
		if n+b[Proposed] == 2 || time.Now().After(deadline) {
			if n != 1 || b[Proposed] != 1 {
				t.Fatalf("records = %d, incomplete by stage = %v; want 1 and one at %s", n, b, Proposed)
			}
			break
		}
		time.Sleep(time.Millisecond)
	}
	// A reply flushed but never marked written (a reply path without its
	// Mark) is counted when the next request starts.
	before := unwritten.Load()
	Mark(Traffic)
	Mark(Flushed)
	Mark(Traffic)
	if got := unwritten.Load() - before; got != 1 {
		t.Errorf("flushed, not written: counted %d, want 1", got)
	}
	var sb strings.Builder
	Report(&sb)
	for _, want := range []string{"1 complete serial writes", "| fsync_done → durable |", "| traffic → written (total) |"} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, sb.String())
		}
	}
}
