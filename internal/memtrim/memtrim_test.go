package memtrim

import (
	"testing"
	"time"
)

const mib = 1 << 20

// feed runs samples through a trimmer and returns at which ones it
// decided to trim.
func feed(t *Trimmer, samples []Sample) []int {
	var at []int
	for i, s := range samples {
		if t.Observe(s) {
			at = append(at, i)
		}
	}
	return at
}

// TestTrimAfterBurstThenQuiet: a burst that leaves garbage, then quiet
// samples: one trim, on the second quiet sample.
func TestTrimAfterBurstThenQuiet(t *testing.T) {
	tr := New(DefaultPolicy())
	live := uint64(300 * mib)
	s := []Sample{
		{Allocs: 0, Live: live, Objects: live},
		{Allocs: 400 * mib, Live: live, Objects: live + 200*mib}, // burst
		{Allocs: 400*mib + 100, Live: live, Objects: live + 200*mib},
		{Allocs: 400*mib + 200, Live: live, Objects: live + 200*mib},
	}
	if got := feed(tr, s); len(got) != 1 || got[0] != 3 {
		t.Fatalf("trims at %v, want [3]", got)
	}
}

// TestNoTrimWhileBusy: a server allocating steadily is left to the
// runtime, however much garbage it carries.
func TestNoTrimWhileBusy(t *testing.T) {
	tr := New(DefaultPolicy())
	live := uint64(300 * mib)
	var s []Sample
	for i := 0; i < 20; i++ {
		s = append(s, Sample{Allocs: uint64(i) * 50 * mib, Live: live, Objects: live + 250*mib})
	}
	if got := feed(tr, s); len(got) != 0 {
		t.Fatalf("trims at %v while allocating 50 MiB/s, want none", got)
	}
}

// TestNoTrimWithoutGarbage: quiet, but nothing worth giving back (under
// 10% of a large live heap).
func TestNoTrimWithoutGarbage(t *testing.T) {
	tr := New(DefaultPolicy())
	live := uint64(300 * mib)
	var s []Sample
	for i := 0; i < 10; i++ {
		s = append(s, Sample{Allocs: uint64(i) * 1000, Live: live, Objects: live + 20*mib, Free: 5 * mib})
	}
	if got := feed(tr, s); len(got) != 0 {
		t.Fatalf("trims at %v with 25 MiB reclaimable of a 300 MiB heap, want none", got)
	}
}

// TestTrimSmallHeapTrickle: a small heap (10k idle sessions, ≈ 12 MiB
// live) whose pings leave 1.5 MiB of garbage is trimmed once quiet: its
// resident garbage stays within 10% of the live heap, not 4 MiB.
func TestTrimSmallHeapTrickle(t *testing.T) {
	tr := New(DefaultPolicy())
	live := uint64(12 * mib)
	allocs := uint64(0)
	var s []Sample
	for i := 0; i < 3; i++ {
		allocs += 512 << 10 // 0.5 MiB per second: quiet
		s = append(s, Sample{Allocs: allocs, Live: live, Objects: live + 1536<<10})
	}
	if got := feed(tr, s); len(got) != 1 || got[0] != 2 {
		t.Fatalf("trims at %v with 1.5 MiB of garbage on a 12 MiB heap, want [2]", got)
	}
	// Under 1 MiB (and under 10% of the live heap) is left alone.
	tr = New(DefaultPolicy())
	for i := range s {
		s[i].Objects = live + 900<<10
	}
	if got := feed(tr, s); len(got) != 0 {
		t.Fatalf("trims at %v with 0.9 MiB of garbage on a 12 MiB heap, want none", got)
	}
}

// TestTrimSpacing: after a trim that took d, a trickle that refills the
// garbage is trimmed again only Spacing*d later.
func TestTrimSpacing(t *testing.T) {
	p := DefaultPolicy()
	tr := New(p)
	live := uint64(10 * mib)
	allocs := uint64(0)
	next := func(garbage uint64) Sample {
		allocs += 512 << 10 // 0.5 MiB per sample: quiet
		return Sample{Allocs: allocs, Live: live, Objects: live + garbage}
	}
	tr.Observe(next(8 * mib))
	tr.Observe(next(8 * mib))
	if !tr.Observe(next(8 * mib)) {
		t.Fatal("no trim after two quiet samples with 8 MiB of garbage")
	}
	tr.Trimmed(next(0), 50*time.Millisecond) // 100 x 50ms = 5 samples
	var at []int
	for i := 0; i < 10; i++ {
		if tr.Observe(next(8 * mib)) {
			at = append(at, i)
			tr.Trimmed(next(0), 50*time.Millisecond)
		}
	}
	// Cooldown of 5 samples (the first of them is the one Trimmed
	// took), then the next is at index 4 and every 6th after.
	if len(at) == 0 || at[0] < 4 {
		t.Fatalf("trims at %v: the first came before the 5-sample spacing", at)
	}
	for i := 1; i < len(at); i++ {
		if at[i]-at[i-1] < 5 {
			t.Fatalf("trims at %v: closer than the spacing", at)
		}
	}
}

// TestReadSamplesRuntime: the metric names exist in this Go version (a
// missing one would read as 0 and the trimmer would never fire).
func TestReadSamplesRuntime(t *testing.T) {
	buf := NewSampleBuf()
	s := Read(buf)
	if s.Allocs == 0 || s.Objects == 0 {
		t.Fatalf("runtime/metrics sample %+v: allocs or objects missing", s)
	}
	for _, m := range buf {
		if m.Value.Kind() == 0 {
			t.Fatalf("metric %s is not supported by this Go version", m.Name)
		}
	}
}
