package proxy

import (
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/zkgo/zkgo/internal/javaprom"
	"github.com/zkgo/zkgo/wire"
)

// proxyFamilies are the proxy's metric families and their types, as
// docs/proxy.md lists them.
var proxyFamilies = map[string]dto.MetricType{
	"zkproxy_requests":              dto.MetricType_COUNTER,
	"zkproxy_request_duration_ms":   dto.MetricType_SUMMARY,
	"zkproxy_unmeasured_replies":    dto.MetricType_COUNTER,
	"zkproxy_errors":                dto.MetricType_COUNTER,
	"zkproxy_bytes":                 dto.MetricType_COUNTER,
	"zkproxy_connections":           dto.MetricType_GAUGE,
	"zkproxy_sessions":              dto.MetricType_GAUGE,
	"zkproxy_watch_events":          dto.MetricType_COUNTER,
	"zkproxy_unmatched_replies":     dto.MetricType_COUNTER,
	"zkproxy_policy_decisions":      dto.MetricType_COUNTER,
	"zkproxy_upstream_dials_ok":     dto.MetricType_COUNTER,
	"zkproxy_upstream_dials_failed": dto.MetricType_COUNTER,
	"zkproxy_four_letter_words":     dto.MetricType_COUNTER,
	"zkproxy_record_dropped":        dto.MetricType_COUNTER,
	"zkproxy_record_rotations":      dto.MetricType_COUNTER,
	"zkproxy_shadow_connections":    dto.MetricType_GAUGE,
	"zkproxy_shadow_compared":       dto.MetricType_COUNTER,
	"zkproxy_shadow_divergences":    dto.MetricType_COUNTER,
	"zkproxy_shadow_dropped":        dto.MetricType_COUNTER,
}

// scrape serves m's registry as Prometheus text and parses what a
// scraper reads.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse the scrape: %v", err)
	}
	return fams
}

// touchAll gives every series of m a sample.
func touchAll(m *Metrics) {
	m.requests[opSlot(wire.OpGetData)].Inc()
	for _, ms := range []float64{2, 4, 6} {
		m.reply(wire.OpGetData, wire.ErrOk, time.Duration(ms*float64(time.Millisecond)))
	}
	m.reply(wire.OpGetData, wire.ErrNoNode, time.Millisecond)
	m.reply(wire.OpCreate, wire.ErrCode(-300), time.Millisecond)
	m.reply(wire.OpCreateSession, wire.ErrOk, 3*time.Millisecond)
	// Opcodes Java does not define, in and out of the per-opcode table,
	// share one series.
	m.reply(wire.OpCode(99), wire.ErrOk, time.Millisecond)
	m.reply(wire.OpCode(5000), wire.ErrNoNode, time.Millisecond)
	m.latency.dropped.Inc()
	m.bytesIn.Add(10)
	m.bytesOut.Add(20)
	m.clientConns.Inc()
	m.upConns.Inc()
	m.sessions.Inc()
	m.watchEvents.Inc()
	m.unmatched.Inc()
	m.decision(DecisionRateLimited)
	m.dial("127.0.0.1:2181", true)
	m.dial("127.0.0.1:2182", false)
	m.fourLetter.WithLabelValues("srvr").Inc()
	m.recDropped.Inc()
	m.recRotations.Inc()
	m.shadowConns.Inc()
	m.shadowCompared.Inc()
	m.shadowDiverged.WithLabelValues(opLabel(wire.OpExists)).Inc()
	m.shadowDropped.WithLabelValues("unreachable").Inc()
}

// Issue 20, point 2: the proxy's metrics follow the conventions of Java's
// PrometheusMetricsProvider. Every family a scraper reads is a counter
// (no _total), gauge or summary (Java's ADVANCED quantiles), labelled by
// "key" only, with times in milliseconds named _ms; the families are the
// documented ones; the latency summary is in milliseconds.
func TestMetricsFollowJavaConventions(t *testing.T) {
	m := NewMetrics()
	touchAll(m)
	fams := scrape(t, m)
	var list []*dto.MetricFamily
	var names []string
	for name, f := range fams {
		list = append(list, f)
		names = append(names, name)
		want, ok := proxyFamilies[name]
		if !ok {
			t.Errorf("%s: not a documented family", name)
		} else if f.GetType() != want {
			t.Errorf("%s: type %s, want %s", name, f.GetType(), want)
		}
	}
	sort.Strings(names)
	for name := range proxyFamilies {
		if fams[name] == nil {
			t.Errorf("%s: missing from the scrape %v", name, names)
		}
	}
	for _, e := range javaprom.Check("zkproxy_", list) {
		t.Error(e)
	}

	series := func(fam, key string) *dto.Metric {
		t.Helper()
		if f := fams[fam]; f != nil {
			for _, mt := range f.GetMetric() {
				if len(mt.GetLabel()) == 1 && mt.GetLabel()[0].GetValue() == key {
					return mt
				}
			}
		}
		t.Fatalf("no %s{key=%q}", fam, key)
		return nil
	}
	s := series("zkproxy_request_duration_ms", "getData").GetSummary()
	if s.GetSampleCount() != 4 || math.Abs(s.GetSampleSum()-13) > 1e-9 {
		t.Errorf("getData latency: count %d sum %v, want 4 replies, 13 ms", s.GetSampleCount(), s.GetSampleSum())
	}
	if q := s.GetQuantile()[0]; q.GetQuantile() != 0.5 || q.GetValue() < 2 || q.GetValue() > 4 {
		t.Errorf("getData latency median %v, want 2..4 ms", q)
	}
	if c := series("zkproxy_errors", "getData/NONODE").GetCounter().GetValue(); c != 1 {
		t.Errorf("errors getData/NONODE = %v", c)
	}
	if c := series("zkproxy_errors", "create/UNKNOWN").GetCounter().GetValue(); c != 1 {
		t.Errorf("errors create/UNKNOWN = %v", c)
	}
	if n := series("zkproxy_request_duration_ms", "unknown").GetSummary().GetSampleCount(); n != 2 {
		t.Errorf("unknown opcodes' latency count %d, want 2", n)
	}
	if c := series("zkproxy_errors", "unknown/NONODE").GetCounter().GetValue(); c != 1 {
		t.Errorf("errors unknown/NONODE = %v", c)
	}
	if c := series("zkproxy_upstream_dials_failed", "127.0.0.1:2182").GetCounter().GetValue(); c != 1 {
		t.Errorf("dials failed = %v", c)
	}
}

// The event loops' accounting of a reply takes no lock and allocates
// nothing (the drainer goroutine started every latencyWake samples aside),
// once the error's series exists.
func TestMetricsReplyAllocatesNothing(t *testing.T) {
	m := NewMetrics()
	m.reply(wire.OpGetData, wire.ErrNoNode, time.Millisecond)
	for _, code := range []wire.ErrCode{wire.ErrOk, wire.ErrNoNode} {
		if n := testing.AllocsPerRun(1000, func() { m.reply(wire.OpGetData, code, time.Millisecond) }); n != 0 {
			t.Errorf("reply with %s: %v allocations", code.Name(), n)
		}
	}
	if n := testing.AllocsPerRun(1000, func() { m.decision(DecisionRateLimited) }); n != 0 {
		t.Errorf("decision: %v allocations", n)
	}
}

// Latencies from many loops at once all reach the summary, or are
// counted as unmeasured when the ring is full: none is lost.
func TestLatencyFeedConcurrent(t *testing.T) {
	m := NewMetrics()
	const loops, each = 4, 3 * latencyRingSize
	var wg sync.WaitGroup
	for l := 0; l < loops; l++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				m.reply(wire.OpGetData, wire.ErrOk, time.Duration(i)*time.Microsecond)
			}
		}()
	}
	wg.Wait()
	fams := scrape(t, m)
	var observed uint64
	for _, mt := range fams["zkproxy_request_duration_ms"].GetMetric() {
		observed += mt.GetSummary().GetSampleCount()
	}
	dropped := fams["zkproxy_unmeasured_replies"].GetMetric()[0].GetCounter().GetValue()
	if observed+uint64(dropped) != loops*each {
		t.Errorf("observed %d + unmeasured %v, want %d", observed, dropped, loops*each)
	}
	if observed == 0 {
		t.Error("nothing observed")
	}
	t.Logf("observed %d, unmeasured %v", observed, dropped)
}

// The ring keeps order, refuses a sample when full and takes one again
// once a slot is read.
func TestLatencyRing(t *testing.T) {
	r := newLatencyRing()
	for i := 0; i < latencyRingSize; i++ {
		if _, ok := r.push(uint64(i)); !ok {
			t.Fatalf("push %d refused", i)
		}
	}
	if _, ok := r.push(1); ok {
		t.Fatal("a full ring took a sample")
	}
	if v, ok := r.pop(); !ok || v != 0 {
		t.Fatalf("pop %v %v", v, ok)
	}
	if _, ok := r.push(latencyRingSize); !ok {
		t.Fatal("no room after a pop")
	}
	for i := 1; i <= latencyRingSize; i++ {
		if v, ok := r.pop(); !ok || v != uint64(i) {
			t.Fatalf("pop %d: %v %v", i, v, ok)
		}
	}
	if _, ok := r.pop(); ok {
		t.Fatal("pop from an empty ring")
	}
}

func BenchmarkMetricsReply(b *testing.B) {
	m := NewMetrics()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.reply(wire.OpGetData, wire.ErrOk, 150*time.Microsecond)
		}
	})
}

// BenchmarkLatencyDrain: the drainer's cost per sample (ring to summary).
func BenchmarkLatencyDrain(b *testing.B) {
	m := NewMetrics()
	f := m.latency
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, ok := f.ring.push(uint64(i%5000)<<latencySlotBits | uint64(opSlot(wire.OpGetData))); !ok {
			f.drain(time.Now())
			f.ring.push(uint64(i%5000)<<latencySlotBits | uint64(opSlot(wire.OpGetData)))
		}
	}
	f.drain(time.Now())
}

// A bucket's middle is within 0.8% of every value in it (exact below
// 128 ns), and buckets follow the values' order.
func TestLatencyBuckets(t *testing.T) {
	prev := uint16(0)
	for v := uint64(0); v < 1<<40; v += 1 + v/97 {
		b := latencyBucket(v)
		if b < prev {
			t.Fatalf("bucket of %d is %d, below the previous value's %d", v, b, prev)
		}
		prev = b
		mid := latencyValue(b)
		if v < 1<<latencySubBits && mid != float64(v) {
			t.Fatalf("%d ns reads %v", v, mid)
		}
		if e := math.Abs(mid-float64(v)) / float64(v); v > 0 && e > 0.008 {
			t.Fatalf("%d ns reads %v: %.2f%% off", v, mid, 100*e)
		}
	}
	if b := latencyBucket(maxLatencyNanos); int(b) >= latencyGroups*latencyGroupSize {
		t.Fatalf("the largest sample's bucket %d is beyond the histogram", b)
	}
}

// The request latency summary reads Java's ADVANCED quantiles over the
// last 10 minutes (5 age buckets of 2 minutes): a sample stays for 8 to
// 10 minutes, then the quantiles read NaN, as Java's; _count and _sum
// cover the whole run.
func TestLatencyWindow(t *testing.T) {
	m := NewMetrics()
	clock := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	m.latency.now = func() time.Time { return clock }
	summary := func() *dto.Summary {
		t.Helper()
		for _, mt := range scrape(t, m)["zkproxy_request_duration_ms"].GetMetric() {
			if mt.GetLabel()[0].GetValue() == "getData" {
				return mt.GetSummary()
			}
		}
		t.Fatal("no getData latency")
		return nil
	}
	quantiles := func(s *dto.Summary) map[float64]float64 {
		out := map[float64]float64{}
		for _, q := range s.GetQuantile() {
			out[q.GetQuantile()] = q.GetValue()
		}
		return out
	}
	near := func(got, want float64) bool { return math.Abs(got-want) <= want*0.008 }
	for i := 1; i <= 1000; i++ {
		m.reply(wire.OpGetData, wire.ErrOk, time.Duration(i)*time.Millisecond)
	}
	q := quantiles(summary())
	if !near(q[0.5], 500) || !near(q[0.9], 900) || !near(q[0.99], 990) {
		t.Fatalf("quantiles %v, want 500, 900, 990 ms", q)
	}
	clock = clock.Add(5 * time.Minute)
	for i := 0; i < 1000; i++ {
		m.reply(wire.OpGetData, wire.ErrOk, 5000*time.Millisecond)
	}
	clock = clock.Add(4 * time.Minute) // 9 minutes after the first samples: all 2000 count
	if q := quantiles(summary()); !near(q[0.5], 1000) || !near(q[0.9], 5000) {
		t.Fatalf("9 min: quantiles %v, want 1000 and 5000 ms", q)
	}
	clock = clock.Add(2 * time.Minute) // 11: the first 1000 are out of the window
	if q := quantiles(summary()); !near(q[0.5], 5000) || !near(q[0.99], 5000) {
		t.Fatalf("11 min: quantiles %v, want 5000 ms", q)
	}
	clock = clock.Add(10 * time.Minute)
	s := summary()
	for _, v := range quantiles(s) {
		if !math.IsNaN(v) {
			t.Fatalf("an empty window reads %v, want NaN", quantiles(s))
		}
	}
	if s.GetSampleCount() != 2000 || !near(s.GetSampleSum(), 500500+5000000) {
		t.Fatalf("count %d sum %v over the whole run", s.GetSampleCount(), s.GetSampleSum())
	}
}
