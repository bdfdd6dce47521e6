package proxy

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zkgo/zkgo/internal/javaprom"
	"github.com/zkgo/zkgo/wire"
)

// A summary takes a mutex per observation, and its flush can wait for a
// scrape computing quantiles; an event loop must wait for neither. So the
// loops put each latency into a lock-free ring (latencyRing.push: one
// compare-and-swap, no allocation) and a drainer goroutine, started when
// the ring has taken latencyWake samples since the last one, observes them
// into the summaries; a scrape drains the ring first, so it sees every
// sample pushed before it. A full ring drops the sample and counts it.
const (
	latencyRingSize = 1 << 14 // 16384 samples, 256 KiB
	latencyRingMask = latencyRingSize - 1
	latencyWake     = latencyRingSize / 8
	// A sample packs the opcode slot in its low 7 bits and the latency in
	// nanoseconds above them.
	latencySlotBits = 7
	maxLatencyNanos = 1<<(64-latencySlotBits) - 1
)

// opSlots must fit in latencySlotBits.
var _ [1<<latencySlotBits - opSlots]struct{}

type latencyCell struct {
	seq atomic.Uint64 // position+1 once written; position+size once read
	v   atomic.Uint64
}

// latencyRing is a bounded multi-producer, single-consumer queue (Dmitry
// Vyukov's bounded queue, reduced to one consumer).
type latencyRing struct {
	head  atomic.Uint64 // next position a producer claims
	_     [56]byte      // keep producers' head off the consumer's line
	tail  atomic.Uint64 // next position the consumer reads (written under latencyFeed.mu)
	cells [latencyRingSize]latencyCell
}

func newLatencyRing() *latencyRing {
	r := &latencyRing{}
	for i := range r.cells {
		r.cells[i].seq.Store(uint64(i))
	}
	return r
}

// push adds v; it returns the position taken, or false when the ring is
// full.
func (r *latencyRing) push(v uint64) (uint64, bool) {
	pos := r.head.Load()
	for {
		c := &r.cells[pos&latencyRingMask]
		switch d := int64(c.seq.Load() - pos); {
		case d == 0:
			if r.head.CompareAndSwap(pos, pos+1) {
				c.v.Store(v)
				c.seq.Store(pos + 1)
				return pos, true
			}
			pos = r.head.Load()
		case d < 0:
			return 0, false
		default:
			pos = r.head.Load()
		}
	}
}

// pop takes the oldest sample (one consumer at a time); false when the
// ring is empty or its oldest slot is still being written.
func (r *latencyRing) pop() (uint64, bool) {
	pos := r.tail.Load()
	c := &r.cells[pos&latencyRingMask]
	if c.seq.Load() != pos+1 {
		return 0, false
	}
	v := c.v.Load()
	c.seq.Store(pos + latencyRingSize)
	r.tail.Store(pos + 1)
	return v, true
}

func (r *latencyRing) pending() uint64 { return r.head.Load() - r.tail.Load() }

// latencyFeed carries request latencies from the event loops to the
// per-opcode summary zkproxy_request_duration_ms.
type latencyFeed struct {
	ring     *latencyRing
	desc     *prometheus.Desc
	dropped  prometheus.Counter
	draining atomic.Bool

	mu  sync.Mutex // one consumer: the drainer or a scrape
	win [opSlots]*latencyWindow
	now func() time.Time
}

func newLatencyFeed(desc *prometheus.Desc, dropped prometheus.Counter) *latencyFeed {
	return &latencyFeed{ring: newLatencyRing(), desc: desc, dropped: dropped, now: time.Now}
}

// add records one latency (any goroutine, event loops included): no lock,
// no allocation; every latencyWake samples it starts the drainer unless it
// runs.
func (f *latencyFeed) add(slot int, lat time.Duration) {
	ns := lat.Nanoseconds()
	switch {
	case ns < 0:
		ns = 0
	case ns > maxLatencyNanos:
		ns = maxLatencyNanos
	}
	pos, ok := f.ring.push(uint64(ns)<<latencySlotBits | uint64(slot))
	if !ok {
		f.dropped.Inc()
		return
	}
	if (pos+1)%latencyWake == 0 && f.draining.CompareAndSwap(false, true) {
		go f.drainer()
	}
}

// drainer drains the ring until fewer than latencyWake samples wait.
func (f *latencyFeed) drainer() {
	for {
		f.mu.Lock()
		f.drain(f.now())
		f.mu.Unlock()
		f.draining.Store(false)
		if f.ring.pending() < latencyWake || !f.draining.CompareAndSwap(false, true) {
			return
		}
	}
}

// drain puts every sample in the ring into its opcode's window (f.mu
// held); the samples count as observed at now.
func (f *latencyFeed) drain(now time.Time) {
	for _, w := range f.win {
		if w != nil {
			w.rotate(now)
		}
	}
	for {
		v, ok := f.ring.pop()
		if !ok {
			return
		}
		slot := int(v & (1<<latencySlotBits - 1))
		w := f.win[slot]
		if w == nil {
			w = newLatencyWindow(now)
			f.win[slot] = w
		}
		w.observe(v >> latencySlotBits)
	}
}

// Describe and Collect make the feed the summary's collector: a scrape
// drains the ring first, so it counts every reply accounted before it.
func (f *latencyFeed) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }

func (f *latencyFeed) Collect(ch chan<- prometheus.Metric) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	f.drain(now)
	// Opcodes Java does not define share the "unknown" series.
	type series struct {
		count uint64
		sum   float64
		hist  latencyHist
	}
	var labels []string
	byLabel := map[string]*series{}
	for slot, w := range f.win {
		if w == nil {
			continue
		}
		label := opLabel(wire.OpCode(slot - opBase))
		s := byLabel[label]
		if s == nil {
			s = &series{}
			byLabel[label] = s
			labels = append(labels, label)
		}
		s.count += w.count
		s.sum += w.sum
		w.rotate(now)
		for i := range w.buckets {
			s.hist.merge(&w.buckets[i])
		}
	}
	for _, l := range labels {
		s := byLabel[l]
		ch <- prometheus.MustNewConstSummary(f.desc, s.count, s.sum, s.hist.quantiles(), l)
	}
}

// A latency window is a log-linear histogram of the samples of the last
// 10 minutes in 5 age buckets of 2 minutes (the window of Java's
// summaries), read at a scrape for Java's ADVANCED quantiles, plus the
// count and the sum (milliseconds) of every sample. Recording a sample is
// an increment in one bucket; Java's summary inserts each sample into all 5
// of its quantile streams, which costs client_golang's summary (the same
// algorithm) about 300 ns a sample on the development host.
type latencyWindow struct {
	count   uint64
	sum     float64 // milliseconds
	buckets [javaprom.SummaryAgeBuckets]latencyHist
	cur     int       // bucket taking samples
	curEnd  time.Time // when cur's 2 minutes are over
}

const latencyAge = javaprom.SummaryMaxAge / javaprom.SummaryAgeBuckets

func newLatencyWindow(now time.Time) *latencyWindow {
	return &latencyWindow{curEnd: now.Add(latencyAge)}
}

// rotate moves cur on past every age bucket whose time is over, emptying
// the bucket it moves to (the oldest).
func (w *latencyWindow) rotate(now time.Time) {
	if now.Sub(w.curEnd) >= javaprom.SummaryMaxAge {
		for i := range w.buckets {
			w.buckets[i].reset()
		}
		w.curEnd = now.Add(latencyAge)
		return
	}
	for !now.Before(w.curEnd) {
		w.cur = (w.cur + 1) % len(w.buckets)
		w.buckets[w.cur].reset()
		w.curEnd = w.curEnd.Add(latencyAge)
	}
}

// observe records a sample of ns nanoseconds; the caller has rotated the
// window to the drain's time.
func (w *latencyWindow) observe(ns uint64) {
	w.count++
	w.sum += float64(ns) / 1e6
	w.buckets[w.cur].add(latencyBucket(ns))
}

// Log-linear buckets: values below 2^latencySubBits nanoseconds exactly,
// above that 2^(latencySubBits-1) buckets per power of two, so a bucket's
// middle is within 0.8% of any value in it. A histogram holds its buckets
// in groups of latencyGroupSize, allocated when first used: latencies
// cluster in a few powers of two.
const (
	latencySubBits   = 7
	latencyGroupSize = 1 << (latencySubBits - 1)
	latencyGroups    = 64 - latencySubBits + 2
)

type latencyHist [latencyGroups]*[latencyGroupSize]uint32

func (h *latencyHist) add(b uint16) {
	g := h[b/latencyGroupSize]
	if g == nil {
		g = new([latencyGroupSize]uint32)
		h[b/latencyGroupSize] = g
	}
	g[b%latencyGroupSize]++
}

// reset empties h and keeps its groups.
func (h *latencyHist) reset() {
	for _, g := range h {
		if g != nil {
			clear(g[:])
		}
	}
}

func (h *latencyHist) merge(o *latencyHist) {
	for i, g := range o {
		if g == nil {
			continue
		}
		if h[i] == nil {
			h[i] = new([latencyGroupSize]uint32)
		}
		for j, n := range g {
			h[i][j] += n
		}
	}
}

func latencyBucket(ns uint64) uint16 {
	n := bits.Len64(ns)
	if n <= latencySubBits {
		return uint16(ns)
	}
	m := ns >> (n - latencySubBits) // in [2^(subBits-1), 2^subBits)
	return uint16((n-latencySubBits+1)<<(latencySubBits-1) + int(m) - 1<<(latencySubBits-1))
}

// latencyValue returns the middle of bucket b, in nanoseconds.
func latencyValue(b uint16) float64 {
	if b < 1<<latencySubBits {
		return float64(b)
	}
	g, r := int(b)>>(latencySubBits-1), uint64(b)&(latencyGroupSize-1)
	shift := g - 1 // n - latencySubBits, with n = g + latencySubBits - 1
	low := (latencyGroupSize + r) << shift
	return float64(low) + float64(uint64(1)<<shift-1)/2
}

// quantiles returns Java's ADVANCED quantiles of h in milliseconds: the
// value of the sample at rank ceil(q*n); NaN for an empty window, as
// Java's summaries read.
func (h *latencyHist) quantiles() map[float64]float64 {
	var n uint64
	for _, g := range h {
		if g != nil {
			for _, c := range g {
				n += uint64(c)
			}
		}
	}
	out := map[float64]float64{}
	for q := range javaprom.Objectives(true) {
		out[q] = math.NaN()
		if n == 0 {
			continue
		}
		rank := max(uint64(math.Ceil(q*float64(n))), 1)
		var cum uint64
	walk:
		for i, g := range h {
			if g == nil {
				continue
			}
			for j, c := range g {
				if cum += uint64(c); cum >= rank {
					out[q] = latencyValue(uint16(i*latencyGroupSize+j)) / 1e6
					break walk
				}
			}
		}
	}
	return out
}
