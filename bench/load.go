package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/zkgo/zkgo/wire"
)

// MixEntry is one operation of a mix with its weight.
type MixEntry struct {
	Op     Op
	Weight int
}

// Mix is a weighted choice of operations.
type Mix []MixEntry

// ParseMix parses "get", "get:90,set:10" or a read/write ratio "90/10"
// (getData/setData).
func ParseMix(s string) (Mix, error) {
	if r, w, ok := strings.Cut(s, "/"); ok {
		rp, err1 := strconv.Atoi(r)
		wp, err2 := strconv.Atoi(w)
		if err1 != nil || err2 != nil || rp < 0 || wp < 0 || rp+wp == 0 {
			return nil, fmt.Errorf("bench: bad read/write mix %q", s)
		}
		var m Mix
		if rp > 0 {
			m = append(m, MixEntry{OpGet, rp})
		}
		if wp > 0 {
			m = append(m, MixEntry{OpSet, wp})
		}
		return m, nil
	}
	var m Mix
	for _, part := range strings.Split(s, ",") {
		name, w, hasW := strings.Cut(strings.TrimSpace(part), ":")
		op, err := ParseOp(name)
		if err != nil {
			return nil, err
		}
		weight := 1
		if hasW {
			if weight, err = strconv.Atoi(w); err != nil || weight <= 0 {
				return nil, fmt.Errorf("bench: bad weight in %q", part)
			}
		}
		m = append(m, MixEntry{op, weight})
	}
	return m, nil
}

func (m Mix) String() string {
	parts := make([]string, len(m))
	for i, e := range m {
		parts[i] = fmt.Sprintf("%s:%d", e.Op, e.Weight)
	}
	return strings.Join(parts, ",")
}

func (m Mix) uses() [numOps]bool {
	var u [numOps]bool
	for _, e := range m {
		u[e.Op] = true
		if e.Op == OpDelete {
			u[OpCreate] = true
		}
	}
	return u
}

// table returns a 256-entry lookup table for picking ops with one random
// byte.
func (m Mix) table() [256]Op {
	var t [256]Op
	total := 0
	for _, e := range m {
		total += e.Weight
	}
	i := 0
	acc := 0
	for _, e := range m {
		acc += e.Weight
		end := acc * 256 / total
		for ; i < end; i++ {
			t[i] = e.Op
		}
	}
	for ; i < 256; i++ {
		t[i] = m[len(m)-1].Op
	}
	return t
}

// Workload is one load-generator run.
type Workload struct {
	Name     string
	Mix      Mix
	Conns    int           // connections (sessions), default 16
	Depth    int           // requests in flight per connection (closed loop), default 8
	Rate     float64       // total ops/s: > 0 means open loop at this fixed rate
	Warmup   time.Duration // run, then discard
	Duration time.Duration // measured
	Tree     Tree
	// Addrs, if set, spreads the connections over these servers (connection
	// i dials Addrs[i%len(Addrs)]) instead of the address given to Run.
	Addrs []string
	// Progress, if set, receives a progress line about once a second.
	Progress io.Writer
	// OnMeasure and OnMeasureEnd, if set, are called when the measured
	// window opens and closes (the orchestrator samples /proc there).
	OnMeasure, OnMeasureEnd func()
}

func (w Workload) withDefaults() Workload {
	if w.Conns <= 0 {
		w.Conns = 16
	}
	if w.Depth <= 0 {
		w.Depth = 8
	}
	if w.Duration <= 0 {
		w.Duration = 10 * time.Second
	}
	if len(w.Mix) == 0 {
		w.Mix = Mix{{OpGet, 1}}
	}
	if w.Name == "" {
		w.Name = w.Mix.String()
	}
	w.Tree = w.Tree.withDefaults()
	return w
}

// Summary is a latency distribution in microseconds.
type Summary struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_us"`
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p999_us"`
	Max   float64 `json:"max_us"`
}

func summarize(h *hdrhistogram.Histogram) Summary {
	if h == nil || h.TotalCount() == 0 {
		return Summary{}
	}
	return Summary{
		Count: h.TotalCount(),
		Mean:  h.Mean(),
		P50:   float64(h.ValueAtQuantile(50)),
		P90:   float64(h.ValueAtQuantile(90)),
		P99:   float64(h.ValueAtQuantile(99)),
		P999:  float64(h.ValueAtQuantile(99.9)),
		Max:   float64(h.Max()),
	}
}

// Result is the outcome of a Workload.
type Result struct {
	Name      string             `json:"name"`
	Mix       string             `json:"mix"`
	Conns     int                `json:"conns"`
	Depth     int                `json:"depth"`
	Rate      float64            `json:"rate,omitempty"`
	Size      int                `json:"size"`
	Seconds   float64            `json:"seconds"`
	Ops       int64              `json:"ops"`
	Errors    int64              `json:"errors"`
	OpsPerSec float64            `json:"ops_per_sec"`
	Latency   Summary            `json:"latency"`
	PerOp     map[string]Summary `json:"per_op"`
}

// Histogram range: 1 µs to 60 s, 3 significant digits.
func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, 60_000_000, 3) }

type pending struct {
	t  int64 // ns since base: send time (closed loop) or intended time (open loop)
	op Op
}

type worker struct {
	id    int
	c     *conn
	rs    *requestSet
	ops   [256]Op
	keys  int
	rng   uint64
	xid   int32
	seq   uint64 // unique-path counter
	dels  uint64 // deleted up to (OpDelete deletes create paths [dels, seq))
	pend  chan pending
	slots chan struct{}
	hist  [numOps]*hdrhistogram.Histogram
	done  atomic.Int64 // replies received (all phases)
	meas  atomic.Int64 // replies received in the measured window
	errs  atomic.Int64 // error replies in the measured window
	rerr  error
}

func (wk *worker) rand() uint64 {
	// xorshift64*
	wk.rng ^= wk.rng >> 12
	wk.rng ^= wk.rng << 25
	wk.rng ^= wk.rng >> 27
	return wk.rng * 2685821657736338717
}

// appendNext appends the next request and returns its op.
func (wk *worker) appendNext(b []byte) ([]byte, Op) {
	r := wk.rand()
	op := wk.ops[byte(r)]
	key := int((r >> 8) % uint64(wk.keys))
	wk.xid++
	x := wk.xid
	switch op {
	case OpGet:
		return wk.rs.get[key].append(b, x, 0), op
	case OpExists:
		return wk.rs.exists[key].append(b, x, 0), op
	case OpSet:
		return wk.rs.set[key].append(b, x, 0), op
	case OpChildren:
		return wk.rs.children.append(b, x, 0), op
	case OpCreateSeq:
		return wk.rs.seq.append(b, x, 0), op
	case OpCreateEph:
		wk.seq++
		return wk.rs.eph.append(b, x, wk.seq), op
	case OpMulti:
		wk.seq++
		return wk.rs.multi[key].append(b, x, wk.seq), op
	case OpDelete:
		if wk.dels < wk.seq {
			wk.dels++
			return wk.rs.del.append(b, x, wk.dels), op
		}
		op = OpCreate
	}
	wk.seq++
	return wk.rs.create.append(b, x, wk.seq), OpCreate
}

// Run runs w against addr and returns the measured result.
func Run(ctx context.Context, addr string, w Workload) (*Result, error) {
	w = w.withDefaults()
	for _, e := range w.Mix {
		if e.Op >= numOps || e.Weight <= 0 {
			return nil, fmt.Errorf("bench: bad mix %v", w.Mix)
		}
	}
	token := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	base := time.Now()
	now := func() int64 { return int64(time.Since(base)) }
	opsTable := w.Mix.table()

	workers := make([]*worker, w.Conns)
	var dialErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range workers {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			a := addr
			if len(w.Addrs) > 0 {
				a = w.Addrs[i%len(w.Addrs)]
			}
			c, err := dial(a, 30000)
			if err != nil {
				mu.Lock()
				dialErr = errors.Join(dialErr, err)
				mu.Unlock()
				return
			}
			prefix := fmt.Sprintf("%s-%03d-", token, i)
			wk := &worker{id: i, c: c, rs: newRequestSet(w.Tree, prefix, w.Mix), ops: opsTable, keys: w.Tree.Keys,
				rng: uint64(base.UnixNano()) ^ uint64(i+1)*0x9E3779B97F4A7C15}
			if wk.rng == 0 {
				wk.rng = 1
			}
			for _, e := range w.Mix {
				wk.hist[e.Op] = newHist()
				if e.Op == OpDelete {
					wk.hist[OpCreate] = newHist()
				}
			}
			if w.Rate > 0 {
				wk.pend = make(chan pending, 1<<16)
			} else {
				wk.pend = make(chan pending, w.Depth)
				wk.slots = make(chan struct{}, w.Depth)
				for j := 0; j < w.Depth; j++ {
					wk.slots <- struct{}{}
				}
			}
			workers[i] = wk
		}(i)
	}
	wg.Wait()
	if dialErr != nil {
		for _, wk := range workers {
			if wk != nil {
				wk.c.nc.Close()
			}
		}
		return nil, dialErr
	}

	var measFrom, measTo atomic.Int64 // ns since base; measTo 0 = open
	measFrom.Store(math.MaxInt64)
	stop := make(chan struct{})
	var readers, senders sync.WaitGroup
	for _, wk := range workers {
		readers.Add(1)
		go func(wk *worker) {
			defer readers.Done()
			wk.readLoop(now, &measFrom, &measTo)
		}(wk)
		senders.Add(1)
		go func(wk *worker) {
			defer senders.Done()
			if w.Rate > 0 {
				wk.openLoop(now, stop, w.Rate/float64(w.Conns))
			} else {
				wk.closedLoop(now, stop)
			}
		}(wk)
	}

	total := func(f func(*worker) int64) int64 {
		var n int64
		for _, wk := range workers {
			n += f(wk)
		}
		return n
	}
	progStop := make(chan struct{})
	progDone := make(chan struct{})
	go func() {
		defer close(progDone)
		if w.Progress == nil {
			<-progStop
			return
		}
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := int64(0)
		lastT := time.Now()
		for {
			select {
			case <-progStop:
				fmt.Fprintf(w.Progress, "\r\033[K")
				return
			case <-t.C:
				n := total(func(wk *worker) int64 { return wk.done.Load() })
				el := time.Since(lastT).Seconds()
				lastT = time.Now()
				phase := "warmup"
				if measFrom.Load() != math.MaxInt64 {
					phase = "measure"
				}
				fmt.Fprintf(w.Progress, "\r\033[K  %-22s %-7s %6.1fs  %9.0f ops/s  errors %d",
					w.Name, phase, time.Since(base).Seconds(), float64(n-last)/el,
					total(func(wk *worker) int64 { return wk.errs.Load() }))
				last = n
			}
		}
	}()

	sleepCtx := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	ok := sleepCtx(w.Warmup)
	if w.OnMeasure != nil {
		w.OnMeasure()
	}
	start := time.Now()
	measFrom.Store(now())
	if ok {
		ok = sleepCtx(w.Duration)
	}
	measTo.Store(now())
	elapsed := time.Since(start)
	if w.OnMeasureEnd != nil {
		w.OnMeasureEnd()
	}
	close(stop)
	senders.Wait()
	close(progStop)
	<-progDone
	// Drain what is in flight, then close the sessions.
	drained := make(chan struct{})
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			inflight := 0
			for _, wk := range workers {
				inflight += len(wk.pend)
			}
			if inflight == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		close(drained)
	}()
	<-drained
	// End the sessions so their ephemerals go and the server does not carry
	// them into the next scenario.
	for _, wk := range workers {
		_ = wk.c.nc.SetDeadline(time.Now().Add(5 * time.Second))
		select {
		case wk.pend <- pending{op: opClose}:
			_, _ = wk.c.nc.Write(wire.AppendRequest(nil, wire.RequestHeader{Xid: wire.Xid(wk.xid + 1), Type: wire.OpCloseSession}, nil))
		default: // still full: just drop the connection
			_ = wk.c.nc.Close()
		}
	}
	readers.Wait()
	for _, wk := range workers {
		_ = wk.c.nc.Close()
	}

	res := &Result{Name: w.Name, Mix: w.Mix.String(), Conns: w.Conns, Depth: w.Depth, Rate: w.Rate,
		Size: w.Tree.Size, Seconds: elapsed.Seconds(), PerOp: map[string]Summary{}}
	all := newHist()
	for op := Op(0); op < numOps; op++ {
		var h *hdrhistogram.Histogram
		for _, wk := range workers {
			if wk.hist[op] == nil {
				continue
			}
			if h == nil {
				h = newHist()
			}
			h.Merge(wk.hist[op])
		}
		if h != nil && h.TotalCount() > 0 {
			res.PerOp[op.String()] = summarize(h)
			all.Merge(h)
		}
	}
	res.Latency = summarize(all)
	res.Ops = total(func(wk *worker) int64 { return wk.meas.Load() })
	res.Errors = total(func(wk *worker) int64 { return wk.errs.Load() })
	res.OpsPerSec = float64(res.Ops) / res.Seconds
	var rerr error
	for _, wk := range workers {
		if wk.rerr != nil && !errors.Is(wk.rerr, errClosedByUs) {
			rerr = errors.Join(rerr, fmt.Errorf("conn %d: %w", wk.id, wk.rerr))
		}
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, rerr
}

var errClosedByUs = errors.New("bench: closed")

// opClose marks the closeSession request in the pending queue.
const opClose = numOps

func (wk *worker) readLoop(now func() int64, from, to *atomic.Int64) {
	for {
		h, err := wk.c.readReply()
		if err != nil {
			if isClosed(err) {
				err = errClosedByUs
			}
			wk.rerr = err
			return
		}
		if h.Xid == wire.XidWatchEvent || h.Xid == wire.XidPing {
			continue
		}
		var p pending
		select {
		case p = <-wk.pend:
		default:
			wk.rerr = fmt.Errorf("bench: unexpected reply xid %d", h.Xid)
			return
		}
		if p.op == opClose {
			wk.rerr = errClosedByUs
			return
		}
		t := now()
		wk.done.Add(1)
		end := to.Load()
		if t >= from.Load() && (end == 0 || t < end) {
			wk.meas.Add(1)
			if h.Err != wire.ErrOk {
				wk.errs.Add(1)
			}
			if p.t >= from.Load() {
				us := (t - p.t) / 1000
				if us < 1 {
					us = 1
				}
				_ = wk.hist[p.op].RecordValue(us)
			}
		}
		if wk.slots != nil {
			wk.slots <- struct{}{}
		}
	}
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "use of closed network connection")
}

const maxBatch = 64

func (wk *worker) closedLoop(now func() int64, stop <-chan struct{}) {
	buf := make([]byte, 0, 64<<10)
	for {
		select {
		case <-stop:
			return
		case <-wk.slots:
		}
		n := 1
	more:
		for n < maxBatch {
			select {
			case <-wk.slots:
				n++
			default:
				break more
			}
		}
		buf = buf[:0]
		t := now()
		for i := 0; i < n; i++ {
			var op Op
			buf, op = wk.appendNext(buf)
			wk.pend <- pending{t: t, op: op}
		}
		if _, err := wk.c.nc.Write(buf); err != nil {
			return
		}
	}
}

// openLoop sends at a fixed rate. Each request's latency is measured from
// the time it was due, not from when it went out, so a server that stalls
// is charged for the requests it delayed (no coordinated omission).
func (wk *worker) openLoop(now func() int64, stop <-chan struct{}, rate float64) {
	buf := make([]byte, 0, 64<<10)
	interval := float64(time.Second) / rate
	next := float64(now()) + interval*float64(wk.rand()%1000)/1000
	for {
		select {
		case <-stop:
			return
		default:
		}
		t := now()
		if due := int64(next); due > t {
			sleepPrecise(time.Duration(due - t))
			continue
		}
		buf = buf[:0]
		for n := 0; n < maxBatch && int64(next) <= t; n++ {
			var op Op
			buf, op = wk.appendNext(buf)
			select {
			case wk.pend <- pending{t: int64(next), op: op}:
			case <-stop:
				return
			}
			next += interval
		}
		if _, err := wk.c.nc.Write(buf); err != nil {
			return
		}
	}
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// sleepPrecise sleeps for about d. Go's timers wake up with about 1 ms
// granularity on Linux, too coarse for open-loop pacing, so short waits
// block the thread in nanosleep(2) instead (about 0.1 ms late at worst).
func sleepPrecise(d time.Duration) {
	if d >= 2*time.Millisecond {
		time.Sleep(d - time.Millisecond)
		return
	}
	d -= 50 * time.Microsecond // the kernel's default timer slack
	if d <= 0 {
		return
	}
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil)
}
