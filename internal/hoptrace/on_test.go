//go:build hoptrace

package hoptrace

import (
	"strings"
	"testing"
)

// A complete write in stage order makes one record; a request that
// skips the writer's stages (a read) or reaches them out of order makes
// none, and the report counts it under its first bad stage.
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
	if len(recs) != 1 {
		t.Fatalf("records = %d, want 1", len(recs))
	}
	if bad[Proposed] != 1 {
		t.Fatalf("incomplete by stage = %v, want one at %s", bad, Proposed)
	}
	var b strings.Builder
	Report(&b)
	for _, want := range []string{"1 complete serial writes", "| fsync_done → durable |", "| traffic → written (total) |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
