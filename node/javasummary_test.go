package node

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

func summaryOf(t testing.TB, s prometheus.Summary) *dto.Summary {
	t.Helper()
	var m dto.Metric
	if err := s.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetSummary()
}

func quantiles(s *dto.Summary) map[float64]float64 {
	q := map[float64]float64{}
	for _, x := range s.GetQuantile() {
		q[x.GetQuantile()] = x.GetValue()
	}
	return q
}

// Java's summaries: a BASIC one reports the 0.5 quantile, an ADVANCED one
// 0.5, 0.9 and 0.99, each within the rank error Java allows (5%, 1%,
// 0.1%); count and sum are exact; with no observation the quantiles are
// NaN, as simpleclient's are.
func TestJavaSummaryQuantiles(t *testing.T) {
	for _, advanced := range []bool{false, true} {
		s := newJavaSummary("x", advanced)
		empty := quantiles(summaryOf(t, s))
		if len(empty) == 0 || !math.IsNaN(empty[0.5]) {
			t.Fatalf("advanced=%v: empty summary quantiles %v, want NaN", advanced, empty)
		}
		// 1..1000 in a scrambled order: the q-quantile is 1000q.
		for i := 0; i < 1000; i++ {
			s.Observe(float64((i*337)%1000 + 1))
		}
		got := summaryOf(t, s)
		if got.GetSampleCount() != 1000 || got.GetSampleSum() != 500500 {
			t.Errorf("advanced=%v: count %d sum %v", advanced, got.GetSampleCount(), got.GetSampleSum())
		}
		want := map[float64]float64{0.5: 0.05}
		if advanced {
			want[0.9], want[0.99] = 0.01, 0.001
		}
		q := quantiles(got)
		if len(q) != len(want) {
			t.Errorf("advanced=%v: quantiles %v, want %v", advanced, q, want)
		}
		for phi, eps := range want {
			v, ok := q[phi]
			if lo, hi := 1000*(phi-eps), 1000*(phi+eps); !ok || v < lo || v > hi {
				t.Errorf("advanced=%v: quantile %v = %v, want within [%v, %v]", advanced, phi, v, lo, hi)
			}
		}
	}
}

// The txn log writer observes each group commit: fsynctime in
// milliseconds (finite, positive) and sync_processor_batch_size in txns.
func TestDiskStoreObservesFsync(t *testing.T) {
	l, err := storage.OpenTxnLog(t.TempDir(), storage.Options{PreAllocBytes: 8192})
	if err != nil {
		t.Fatal(err)
	}
	js := newJavaSummaries()
	js.feedSummaries()
	d := newDiskStore(l, 0, zerolog.Nop(), js)
	defer d.Close()
	for z := wire.Zxid(1); z <= 3; z++ {
		d.Append(&wire.TxnEntry{Hdr: wire.TxnHeader{ClientID: 1, Zxid: z, Type: wire.OpCreate},
			Body: &wire.CreateTxn{Path: "/n", ACL: tree.OpenACLUnsafe}})
	}
	d.Sync()
	deadline := time.After(10 * time.Second)
	for d.DurableZxid() < 3 {
		select {
		case <-d.Durable():
		case <-deadline:
			t.Fatal("txns not durable")
		}
	}
	f := summaryOf(t, js.fsync)
	if q := quantiles(f)[0.5]; f.GetSampleCount() != 1 || math.IsNaN(q) || math.IsInf(q, 0) || q <= 0 || q != f.GetSampleSum() {
		t.Errorf("fsynctime: count %d sum %v p50 %v", f.GetSampleCount(), f.GetSampleSum(), q)
	}
	t.Logf("one fsync of the txn log: %.3f ms", f.GetSampleSum())
	b := summaryOf(t, js.batch)
	if q := quantiles(b)[0.5]; b.GetSampleCount() != 1 || b.GetSampleSum() != 3 || q != 3 {
		t.Errorf("sync_processor_batch_size: count %d sum %v p50 %v", b.GetSampleCount(), b.GetSampleSum(), q)
	}
}

// TestGroupCommitSummariesOnlyWithPrometheus (issue 19, serial set):
// the txn log writer observes fsynctime and sync_processor_batch_size
// only when the summaries are fed (the Prometheus provider, New); with the
// default provider nobody reads them, and at c1ad27e every fsync paid two
// summary observations between the fsync and the owner's wake-up, plus
// the quantile streams' merges. mntr's fsync counters count either way.
func TestGroupCommitSummariesOnlyWithPrometheus(t *testing.T) {
	for _, prom := range []bool{false, true} {
		cfg := DefaultConfig()
		if prom {
			cfg = prometheusConfig()
		}
		cfg.DataDir = t.TempDir()
		cfg.DataLogDir = cfg.DataDir
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		l, err := storage.OpenTxnLog(t.TempDir(), storage.Options{PreAllocBytes: 8192, ForceSync: true})
		if err != nil {
			t.Fatal(err)
		}
		d := newDiskStore(l, 0, zerolog.Nop(), s.jsum)
		d.Append(&wire.TxnEntry{Hdr: wire.TxnHeader{ClientID: 1, Zxid: 1, Type: wire.OpCreate},
			Body: &wire.CreateTxn{Path: "/n", ACL: tree.OpenACLUnsafe}})
		d.Sync()
		deadline := time.After(10 * time.Second)
		for d.DurableZxid() < 1 {
			select {
			case <-d.Durable():
			case <-deadline:
				t.Fatal("txn not durable")
			}
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if st := d.Stats(); st.fsyncs < 1 || st.txns != 1 {
			t.Errorf("prometheus=%v: store counted %d fsyncs and %d txns, want at least 1 and 1", prom, st.fsyncs, st.txns)
		}
		want := uint64(0)
		if prom {
			want = 1
		}
		if f, b := summaryOf(t, s.jsum.fsync).GetSampleCount(), summaryOf(t, s.jsum.batch).GetSampleCount(); f != want || b != want {
			t.Errorf("prometheus=%v: fsynctime has %d samples, sync_processor_batch_size %d, want %d", prom, f, b, want)
		}
	}
}

// Start observes the database load once (dbinittime).
func TestStartObservesDBInitTime(t *testing.T) {
	s, err := New(sweepConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	d := summaryOf(t, s.jsum.dbInit)
	if q := quantiles(d)[0.5]; d.GetSampleCount() != 1 || q <= 0 || math.IsInf(q, 0) || q != d.GetSampleSum() {
		t.Errorf("dbinittime: count %d sum %v p50 %v", d.GetSampleCount(), d.GetSampleSum(), q)
	}
	if n := len(s.JavaSummaries()); n != 5 {
		t.Errorf("JavaSummaries: %d collectors", n)
	}
}

// BenchmarkObserveFsync is what a group commit pays for Java's summaries,
// with a scrape running alongside (compare with one fsync: milliseconds).
func BenchmarkObserveFsync(b *testing.B) {
	js := newJavaSummaries()
	js.feedSummaries()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var m dto.Metric
		for {
			select {
			case <-stop:
				return
			default:
				_ = js.fsync.Write(&m)
				time.Sleep(time.Millisecond)
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		js.observeFsync(time.Duration(i%5000)*time.Microsecond, 1+i%64)
	}
	b.StopTimer()
	close(stop)
	<-done
}

// The owner goroutine's write latencies reach updatelatency (an ADVANCED
// summary) through the feed: every sample observed, once the feeder has
// the batch; while the feeder is behind the owner keeps a bounded backlog
// and counts what it drops instead of waiting.
func TestLatencyFeed(t *testing.T) {
	f := newLatencyFeed()
	sum := newJavaSummary("updatelatency", true)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); f.run(sum, quit) }()
	for i := 0; i < 1000; i++ {
		f.add(float64((i*337)%1000 + 1))
	}
	f.flush() // the owner's tick
	waitFor(t, func() bool { return summaryOf(t, sum).GetSampleCount() == 1000 })
	close(quit)
	<-done
	got := summaryOf(t, sum)
	q := quantiles(got)
	if got.GetSampleSum() != 500500 || len(q) != 3 || q[0.5] < 450 || q[0.5] > 550 || q[0.9] < 890 || q[0.9] > 910 ||
		q[0.99] < 989 || q[0.99] > 991 {
		t.Errorf("updatelatency: sum %v quantiles %v", got.GetSampleSum(), q)
	}

	stalled := newLatencyFeed() // no feeder
	for i := 0; i < 8*latencyBatch+maxLatencyBacklog+10; i++ {
		stalled.add(1)
	}
	if d := stalled.dropped.Load(); d != maxLatencyBacklog || len(stalled.buf) != 10 || len(stalled.full) != 8 {
		t.Errorf("stalled feed: dropped %d, backlog %d, queued batches %d", d, len(stalled.buf), len(stalled.full))
	}
}

// BenchmarkLatencyFeedAdd is what the owner goroutine pays per write for
// updatelatency, with the feeder observing alongside.
func BenchmarkLatencyFeedAdd(b *testing.B) {
	f := newLatencyFeed()
	sum := newJavaSummary("updatelatency", true)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); f.run(sum, quit) }()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.add(float64(i % 100))
	}
	b.StopTimer()
	close(quit)
	<-done
}
