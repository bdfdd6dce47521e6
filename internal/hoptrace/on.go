//go:build hoptrace

package hoptrace

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Enabled is true in a hoptrace build.
const Enabled = true

var (
	base = time.Now()
	// cur holds the current request's stamps (ns since base; 0: not
	// reached). Mark takes no lock: it runs on the event loops too.
	cur [NumStages]atomic.Int64
	// done carries complete records to the collector without blocking:
	// a record that finds it full is counted in lost.
	done = make(chan [NumStages]int64, 4096)
	lost atomic.Int64
	// unwritten counts requests whose reply was flushed (Flushed) but
	// whose write was never marked (Written) before the next request
	// started over: a reply path that does not call Mark(Written).
	unwritten atomic.Int64

	mu   sync.Mutex // the collector's state, for Report
	recs [][NumStages]int64
	// bad counts incomplete records by the first stage missing or out of
	// order (a read skips the writer's stages).
	bad [NumStages]int
)

// On SIGUSR1 the process writes the report to stderr and starts over.
func init() {
	go func() {
		for r := range done {
			mu.Lock()
			keep(r)
			mu.Unlock()
		}
	}()
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	go func() {
		for range ch {
			Report(os.Stderr)
			mu.Lock()
			recs, bad = recs[:0], [NumStages]int{}
			mu.Unlock()
			lost.Store(0)
			unwritten.Store(0)
		}
	}()
}

// keep files a finished record (collector, under mu).
func keep(r [NumStages]int64) {
	for i := range r {
		if r[i] == 0 || (i > 0 && r[i] < r[i-1]) {
			bad[i]++
			return
		}
	}
	if len(recs) < 1_000_000 {
		recs = append(recs, r)
	}
}

// Mark records that the request in flight reached stage s. It never
// blocks.
func Mark(s Stage) {
	now := time.Since(base).Nanoseconds()
	if s == Traffic {
		if cur[Flushed].Load() != 0 && cur[Written].Load() == 0 {
			unwritten.Add(1)
		}
		for i := range cur {
			cur[i].Store(0)
		}
	}
	cur[s].CompareAndSwap(0, now)
	if s == Written {
		var r [NumStages]int64
		for i := range cur {
			r[i] = cur[i].Swap(0)
		}
		select {
		case done <- r:
		default:
			lost.Add(1)
		}
	}
}

// Report writes, for every step between two stages, the median, p10 and
// p90 in µs over the complete write records, and the end-to-end figure.
func Report(w io.Writer) {
	// Let the collector take what is queued.
	for i := 0; i < 100 && len(done) > 0; i++ {
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	rs := slices.Clone(recs)
	b := bad
	mu.Unlock()
	fmt.Fprintf(w, "hoptrace: %d complete serial writes (incomplete, by first bad stage: %v; lost: %d; flushed but never marked written: %d)\n",
		len(rs), b, lost.Load(), unwritten.Load())
	if len(rs) == 0 {
		return
	}
	q := func(d []float64) (p10, p50, p90, mean float64) {
		slices.Sort(d)
		var sum float64
		for _, v := range d {
			sum += v
		}
		return d[len(d)/10], d[len(d)/2], d[len(d)*9/10], sum / float64(len(d))
	}
	fmt.Fprintf(w, "| step | p10 µs | p50 µs | p90 µs | mean µs |\n|---|---:|---:|---:|---:|\n")
	d := make([]float64, len(rs))
	for s := Stage(1); s < NumStages; s++ {
		for i, r := range rs {
			d[i] = float64(r[s]-r[s-1]) / 1e3
		}
		p10, p50, p90, mean := q(d)
		fmt.Fprintf(w, "| %s → %s | %.1f | %.1f | %.1f | %.1f |\n", s-1, s, p10, p50, p90, mean)
	}
	for i, r := range rs {
		d[i] = float64(r[Written]-r[Traffic]) / 1e3
	}
	p10, p50, p90, mean := q(d)
	fmt.Fprintf(w, "| traffic → written (total) | %.1f | %.1f | %.1f | %.1f |\n", p10, p50, p90, mean)
}
