package node

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zkgo/zkgo/internal/javaprom"
)

// newJavaSummary returns a summary named and shaped as Java's provider
// registers a BASIC (advanced false) or ADVANCED summary of that name
// (javaprom: the 0.5 quantile, or 0.5, 0.9 and 0.99, over 10 minutes in
// 5 age buckets); its help text is the name, as Java's.
func newJavaSummary(name string, advanced bool) prometheus.Summary {
	return prometheus.NewSummary(javaprom.SummaryOpts(name, name, advanced))
}

// javaSummaries are the summaries of Java's registry (ServerMetrics) that
// zkgo observes sample by sample. None is observed on a gnet loop, and the
// owner goroutine takes no lock for them: the txn log writer observes each
// group commit, Start the database load, and the owner's write latencies
// reach their summary through a latencyFeed. Only dbinittime is observed
// on every server; the others only once feedSummaries was called (the
// Prometheus provider, the one thing that reads them).
type javaSummaries struct {
	// fed: feedSummaries was called (before the server starts; read by
	// the txn log writer).
	fed bool
	// fsynctime: milliseconds per fsync of the txn log (FileTxnLog.commit).
	fsync prometheus.Summary
	// sync_processor_batch_size: txns per group commit
	// (SyncRequestProcessor.flush).
	batch prometheus.Summary
	// dbinittime: milliseconds loading the database took
	// (ZooKeeperServer.loadData).
	dbInit prometheus.Summary
	// updatelatency (ADVANCED): milliseconds from a write's arrival at the
	// owner goroutine to its reply, for this server's clients
	// (ServerStats.updateLatency for a request with a txn header).
	update  prometheus.Summary
	updates *latencyFeed
	// readlatency (ADVANCED): the same for requests without a txn
	// (reads, pings, syncs, setWatches), from arrival to reply.
	read  prometheus.Summary
	reads *latencyFeed
}

// feedSummaries turns on the summaries of every request and group
// commit: it gives the two request latency summaries their feeds, and the
// txn log writer observes fsynctime and sync_processor_batch_size. Only a
// server configured with the Prometheus provider calls it (New): there is
// nothing else to read them (mntr's fsync figures are the store's own
// counters), and a summary's quantile streams cost about as much CPU per
// sample as the owner spends answering a read (the 2026-12-07 A/B of
// main against 6076afb: +27% CPU per get, half of it in
// prometheus.(*summary).Observe); a serial writer pays the two group
// commit summaries at every fsync, on the path from the fsync to its
// reply (docs/zab.md, Measures, serial set). Without feeds, add, flush
// and observeFsync do nothing. Java's default provider keeps no such
// summary either.
func (js *javaSummaries) feedSummaries() {
	js.fed = true
	js.updates, js.reads = newLatencyFeed(), newLatencyFeed()
}

func newJavaSummaries() *javaSummaries {
	return &javaSummaries{
		fsync:  newJavaSummary("fsynctime", false),
		batch:  newJavaSummary("sync_processor_batch_size", false),
		dbInit: newJavaSummary("dbinittime", false),
		update: newJavaSummary("updatelatency", true),
		read:   newJavaSummary("readlatency", true),
	}
}

// latencyBatch is how many samples the owner goroutine gathers before it
// hands them to the feeder; maxLatencyBacklog bounds what it keeps while
// the feeder is behind (the oldest batch is then dropped and counted).
const (
	latencyBatch      = 256
	maxLatencyBacklog = 16 * latencyBatch
)

// latencyFeed carries samples from the owner goroutine to a summary
// without a lock on the owner's side: the owner appends to its batch and
// hands full batches (and, each tick, a partial one) over with a
// non-blocking send; a feeder goroutine observes them and returns the
// slices for reuse.
type latencyFeed struct {
	buf     []float64 // owner goroutine only
	full    chan []float64
	free    chan []float64
	dropped atomic.Int64 // samples dropped while the feeder was behind
}

func newLatencyFeed() *latencyFeed {
	return &latencyFeed{buf: make([]float64, 0, latencyBatch), full: make(chan []float64, 8), free: make(chan []float64, 8)}
}

// add records one sample (owner goroutine); a nil feed drops it.
func (f *latencyFeed) add(v float64) {
	if f == nil {
		return
	}
	f.buf = append(f.buf, v)
	if len(f.buf) >= latencyBatch {
		f.flush()
	}
}

// flush hands the batch to the feeder if it can take it (owner
// goroutine); otherwise the batch keeps growing up to maxLatencyBacklog,
// past which it is dropped.
func (f *latencyFeed) flush() {
	if f == nil || len(f.buf) == 0 {
		return
	}
	select {
	case f.full <- f.buf:
		select {
		case b := <-f.free:
			f.buf = b[:0]
		default:
			f.buf = make([]float64, 0, latencyBatch)
		}
	default:
		if len(f.buf) >= maxLatencyBacklog {
			f.dropped.Add(int64(len(f.buf)))
			f.buf = f.buf[:0]
		}
	}
}

// run observes the batches into sum until quit closes.
func (f *latencyFeed) run(sum prometheus.Summary, quit <-chan struct{}) {
	for {
		select {
		case b := <-f.full:
			for _, v := range b {
				sum.Observe(v)
			}
			select {
			case f.free <- b:
			default:
			}
		case <-quit:
			return
		}
	}
}

// observeFsync records one group commit: n txns made durable by one fsync
// that took d. Java truncates each fsync to whole milliseconds, so a disk
// that syncs in under a millisecond reads 0 there; zkgo keeps the
// fraction (still in milliseconds, Java's unit). Only with feedSummaries.
func (js *javaSummaries) observeFsync(d time.Duration, n int) {
	if !js.fed {
		return
	}
	js.fsync.Observe(float64(d.Nanoseconds()) / 1e6)
	js.batch.Observe(float64(n))
}

// JavaSummaries returns the summaries of Java's registry the server
// measures (fsynctime, sync_processor_batch_size, dbinittime,
// updatelatency, readlatency), for ops.JavaRegistry; collecting them does
// not involve the owner goroutine.
func (s *Server) JavaSummaries() []prometheus.Collector {
	return []prometheus.Collector{s.jsum.fsync, s.jsum.batch, s.jsum.dbInit, s.jsum.update, s.jsum.read}
}
