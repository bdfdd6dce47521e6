package node

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Java 3.8's PrometheusMetricsProvider builds every summary with
// simpleclient 0.9's Summary: quantile 0.5 with 5% tolerated error
// (DetailLevel.BASIC), plus 0.9 (1%) and 0.99 (0.1%) for ADVANCED ones,
// over a sliding window of 10 minutes in 5 age buckets (simpleclient's
// defaults, which client_golang's summary shares).
const (
	javaSummaryMaxAge     = 10 * time.Minute
	javaSummaryAgeBuckets = 5
)

// newJavaSummary returns a summary named and shaped as Java's provider
// registers a BASIC (advanced false) or ADVANCED summary of that name; its
// help text is the name, as Java's.
func newJavaSummary(name string, advanced bool) prometheus.Summary {
	obj := map[float64]float64{0.5: 0.05}
	if advanced {
		obj[0.9], obj[0.99] = 0.01, 0.001
	}
	return prometheus.NewSummary(prometheus.SummaryOpts{Name: name, Help: name, Objectives: obj,
		MaxAge: javaSummaryMaxAge, AgeBuckets: javaSummaryAgeBuckets})
}

// javaSummaries are the summaries of Java's registry (ServerMetrics) that
// zkgo observes sample by sample. Each is fed off the gnet loops and off
// the owner goroutine's request path: the txn log writer after each group
// commit, and the start-up load once.
type javaSummaries struct {
	// fsynctime: milliseconds per fsync of the txn log (FileTxnLog.commit).
	fsync prometheus.Summary
	// sync_processor_batch_size: txns per group commit
	// (SyncRequestProcessor.flush).
	batch prometheus.Summary
	// dbinittime: milliseconds loading the database took
	// (ZooKeeperServer.loadData).
	dbInit prometheus.Summary
}

func newJavaSummaries() *javaSummaries {
	return &javaSummaries{
		fsync:  newJavaSummary("fsynctime", false),
		batch:  newJavaSummary("sync_processor_batch_size", false),
		dbInit: newJavaSummary("dbinittime", false),
	}
}

// observeFsync records one group commit: n txns made durable by one fsync
// that took d. Java truncates each fsync to whole milliseconds, so a disk
// that syncs in under a millisecond reads 0 there; zkgo keeps the
// fraction (still in milliseconds, Java's unit).
func (js *javaSummaries) observeFsync(d time.Duration, n int) {
	js.fsync.Observe(float64(d.Nanoseconds()) / 1e6)
	js.batch.Observe(float64(n))
}

// JavaSummaries returns the summaries of Java's registry the server
// measures (fsynctime, sync_processor_batch_size, dbinittime), for
// ops.JavaRegistry; collecting them does not involve the owner goroutine.
func (s *Server) JavaSummaries() []prometheus.Collector {
	return []prometheus.Collector{s.jsum.fsync, s.jsum.batch, s.jsum.dbInit}
}
