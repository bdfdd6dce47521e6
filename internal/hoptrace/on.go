//go:build hoptrace

package hoptrace

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"
)

// On SIGUSR1 the process writes the report to stderr and starts over.
func init() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	go func() {
		for range ch {
			Report(os.Stderr)
			mu.Lock()
			recs, bad = recs[:0], [NumStages]int{}
			mu.Unlock()
		}
	}()
}

// Enabled is true in a hoptrace build.
const Enabled = true

var (
	mu   sync.Mutex
	cur  [NumStages]int64 // ns since base; 0: not reached
	base = time.Now()
	// recs holds the completed requests that went through every stage
	// of a write (reads skip the writer's).
	recs [][NumStages]int64
	bad  [NumStages]int // incomplete records by the first stage missing or out of order
)

// Mark records that the request in flight reached stage s.
func Mark(s Stage) {
	now := time.Since(base).Nanoseconds()
	mu.Lock()
	defer mu.Unlock()
	if s == Traffic {
		cur = [NumStages]int64{}
	}
	if cur[s] == 0 {
		cur[s] = now
	}
	if s == Written {
		ok := true
		for i := range cur {
			if cur[i] == 0 || (i > 0 && cur[i] < cur[i-1]) {
				if ok {
					bad[i]++
				}
				ok = false
			}
		}
		if ok && len(recs) < 1_000_000 {
			recs = append(recs, cur)
		}
		cur = [NumStages]int64{}
	}
}

// Report writes, for every step between two stages, the median, p10 and
// p90 in µs over the complete write records, and the end-to-end figure.
func Report(w io.Writer) {
	mu.Lock()
	rs := slices.Clone(recs)
	mu.Unlock()
	fmt.Fprintf(w, "hoptrace: %d complete serial writes (incomplete, by first bad stage: %v)\n", len(rs), bad)
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
