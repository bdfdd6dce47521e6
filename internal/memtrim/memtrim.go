// Package memtrim returns a quiet server's garbage to the operating system.
//
// With the default GOGC=100 the Go heap may grow to twice the live data
// before a collection, and the runtime keeps the freed pages until its
// background scavenger slowly gives them back. A ZooKeeper server's
// allocation comes in bursts (a bulk load, a reconnect storm) followed by
// long quiet stretches that hold the tree and the idle sessions: after a
// burst the process would keep up to twice its live heap for minutes. The
// trimmer notices a quiet stretch (hardly any allocation for a few
// seconds) that follows enough garbage, and then runs one collection and
// releases the free pages (debug.FreeOSMemory), so resident memory comes
// back to the live data. A busy server is never trimmed: its collections
// stay the runtime's own, at no extra CPU.
package memtrim

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Policy are the trimmer's thresholds. The zero value is not useful; use
// DefaultPolicy.
type Policy struct {
	// Interval is how often the heap is sampled.
	Interval time.Duration
	// QuietSamples is how many intervals in a row must allocate less than
	// QuietBytes (or QuietFrac of the live heap, whichever is larger)
	// before a trim.
	QuietSamples int
	QuietBytes   uint64
	QuietFrac    float64
	// MinReclaim is the smallest amount of heap memory above the live
	// data worth a collection: MinReclaimBytes or MinReclaimFrac of the
	// live heap, whichever is larger.
	MinReclaimBytes uint64
	MinReclaimFrac  float64
	// Spacing bounds the trimmer's CPU: after a trim that took d, the
	// next waits at least Spacing*d (100: at most 1% of the time is spent
	// in trims). A trickle of allocation (idle sessions pinging) is thus
	// trimmed every few seconds on a small heap, rarely on a large one.
	Spacing int
}

// DefaultPolicy samples every second and trims after 2 quiet seconds
// (under 1 MiB or 1% of the live heap allocated per second) when at least
// 1 MiB or 10% of the live heap can be given back, spending at most 1% of
// the time trimming. The 1 MiB floor matters only for heaps under 10 MiB
// (a server holding idle sessions and a small tree): their resident
// garbage stays within about 1 MiB instead of 4, at the price of a
// collection of a small heap (milliseconds) every few seconds of a
// trickle, still bounded by Spacing.
func DefaultPolicy() Policy {
	return Policy{Interval: time.Second, QuietSamples: 2, QuietBytes: 1 << 20, QuietFrac: 0.01,
		MinReclaimBytes: 1 << 20, MinReclaimFrac: 0.10, Spacing: 100}
}

// Sample is what the trimmer reads from runtime/metrics.
type Sample struct {
	Allocs   uint64 // cumulative bytes allocated on the heap
	Live     uint64 // live heap bytes as of the last collection
	Objects  uint64 // heap bytes in objects (live and not yet collected)
	Free     uint64 // free heap bytes still mapped (not yet released)
	GCCycles uint64
}

// Reclaimable is what a collection and a release would give back: the
// objects beyond the live heap and the free pages still resident.
func (s Sample) Reclaimable() uint64 {
	r := s.Free
	if s.Objects > s.Live {
		r += s.Objects - s.Live
	}
	return r
}

// Trimmer decides when to trim; it holds the state between samples. Not
// safe for concurrent use.
type Trimmer struct {
	p        Policy
	prev     Sample
	have     bool
	quiet    int
	cooldown int // samples to skip after a trim (Spacing)
}

// New returns a trimmer with policy p.
func New(p Policy) *Trimmer { return &Trimmer{p: p} }

// Observe takes a new sample and reports whether to trim now.
func (t *Trimmer) Observe(s Sample) bool {
	if !t.have {
		t.prev, t.have = s, true
		return false
	}
	allocated := s.Allocs - t.prev.Allocs
	t.prev = s
	if t.cooldown > 0 {
		t.cooldown--
	}
	quietLimit := max(t.p.QuietBytes, uint64(t.p.QuietFrac*float64(s.Live)))
	if allocated >= quietLimit {
		t.quiet = 0
		return false
	}
	t.quiet++
	if t.quiet < t.p.QuietSamples || t.cooldown > 0 {
		return false
	}
	minReclaim := max(t.p.MinReclaimBytes, uint64(t.p.MinReclaimFrac*float64(s.Live)))
	if s.Reclaimable() < minReclaim {
		return false
	}
	return true
}

// Trimmed tells the trimmer a trim that took d happened and s is the
// sample after it.
func (t *Trimmer) Trimmed(s Sample, d time.Duration) {
	t.prev, t.have = s, true
	t.quiet = 0
	if t.p.Interval > 0 {
		t.cooldown = int((time.Duration(t.p.Spacing)*d + t.p.Interval - 1) / t.p.Interval)
	}
}

var sampleNames = []string{
	"/gc/heap/allocs:bytes",
	"/gc/heap/live:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/free:bytes",
	"/gc/cycles/total:gc-cycles",
}

// Read samples the runtime.
func Read(buf []metrics.Sample) Sample {
	metrics.Read(buf)
	v := func(i int) uint64 {
		if buf[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return buf[i].Value.Uint64()
	}
	return Sample{Allocs: v(0), Live: v(1), Objects: v(2), Free: v(3), GCCycles: v(4)}
}

// NewSampleBuf returns the buffer Read takes.
func NewSampleBuf() []metrics.Sample {
	buf := make([]metrics.Sample, len(sampleNames))
	for i, n := range sampleNames {
		buf[i].Name = n
	}
	return buf
}

// Run trims until ctx is done; onTrim, if not nil, is told the sample
// before and after each trim.
func Run(ctx context.Context, p Policy, onTrim func(before, after Sample)) {
	t := New(p)
	buf := NewSampleBuf()
	tick := time.NewTicker(p.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s := Read(buf)
		if !t.Observe(s) {
			continue
		}
		t0 := time.Now()
		debug.FreeOSMemory()
		after := Read(buf)
		t.Trimmed(after, time.Since(t0))
		if onTrim != nil {
			onTrim(s, after)
		}
	}
}
