package proxy

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zkgo/zkgo/internal/javaprom"
	"github.com/zkgo/zkgo/wire"
)

// Metrics are the proxy's Prometheus metrics, registered in their own
// Registry (serve it with promhttp.HandlerFor). They keep the zkproxy_
// names and follow the conventions of Java 3.8's PrometheusMetricsProvider,
// as the server's Java series do (internal/javaprom): counters without a
// _total suffix, latencies as summaries in milliseconds with Java's
// ADVANCED quantiles, one label named "key". Per-opcode series are
// resolved once and latencies go through a lock-free ring (latencyFeed),
// so the event loops do no label lookups, take no locks and allocate
// nothing per request.
type Metrics struct {
	Registry *prometheus.Registry

	requests     [opSlots]prometheus.Counter
	latency      *latencyFeed
	errors       *prometheus.CounterVec
	errCounters  [opSlots][errSlots]atomic.Pointer[prometheus.Counter]
	bytesIn      prometheus.Counter
	bytesOut     prometheus.Counter
	clientConns  prometheus.Gauge
	upConns      prometheus.Gauge
	sessions     prometheus.Gauge
	watchEvents  prometheus.Counter
	unmatched    prometheus.Counter
	policy       *prometheus.CounterVec
	decisions    map[string]prometheus.Counter // read-only after NewMetrics
	dialsOK      *prometheus.CounterVec
	dialsFailed  *prometheus.CounterVec
	fourLetter   *prometheus.CounterVec
	recDropped   prometheus.Counter
	recRotations prometheus.Counter

	shadowConns    prometheus.Gauge
	shadowCompared prometheus.Counter
	shadowDiverged *prometheus.CounterVec
	shadowDropped  *prometheus.CounterVec
}

// Error codes get a slot each: the codes Java defines (0 to -127), and
// one slot for any other code.
const errSlots = 33

var errSlotOf = func() (t [128]uint8) {
	n := uint8(1)
	for c := 1; c < len(t); c++ {
		if !strings.HasPrefix(wire.ErrCode(-c).Name(), "UNKNOWN") {
			t[c] = n
			n++
		}
	}
	if n > errSlots {
		panic("proxy: more error codes than errSlots")
	}
	return t
}()

// errSlot returns code's slot; 0 for a code Java does not define.
func errSlot(code wire.ErrCode) int {
	if code >= 0 || code < -127 {
		return 0
	}
	return int(errSlotOf[-code])
}

// errorKey is the "key" label of zkproxy_errors: the opcode and the error
// code's Java name, "getData/NONODE"; a code Java does not define is
// "UNKNOWN".
func errorKey(op wire.OpCode, code wire.ErrCode) string {
	name := "UNKNOWN"
	if errSlot(code) != 0 {
		name = code.Name()
	}
	return opLabel(op) + "/" + name
}

// NewMetrics creates the metrics in a new Registry.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{Registry: reg}
	key := []string{javaprom.Label}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	counterSet := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, key)
	}
	reqs := counterSet("zkproxy_requests",
		"Client requests by opcode (key; the ConnectRequest counts as createSession).")
	lat := prometheus.NewDesc("zkproxy_request_duration_ms",
		"Milliseconds from a request to its reply (paired by xid), by opcode (key); the last 10 minutes' quantiles.", key, nil)
	m.latency = newLatencyFeed(lat, counter("zkproxy_unmeasured_replies",
		"Replies whose latency is missing from zkproxy_request_duration_ms: the event loops produced samples faster than they were observed."))
	m.errors = counterSet("zkproxy_errors",
		"Replies with a non-zero error code, by opcode and Java's code name (key opcode/CODE).")
	bytes := counterSet("zkproxy_bytes",
		"Bytes forwarded, by direction (key in: client to upstream, out: upstream to client).")
	conns := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "zkproxy_connections",
		Help: "Open connections, by side (key client, upstream).",
	}, key)
	m.sessions = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "zkproxy_sessions",
		Help: "Client connections with an established session.",
	})
	m.watchEvents = counter("zkproxy_watch_events", "Watch notifications delivered to clients.")
	m.unmatched = counter("zkproxy_unmatched_replies", "Replies whose xid matched no pending request.")
	m.policy = counterSet("zkproxy_policy_decisions", "Policy decisions, by decision (key).")
	m.dialsOK = counterSet("zkproxy_upstream_dials_ok", "Upstream dials that connected, by upstream (key).")
	m.dialsFailed = counterSet("zkproxy_upstream_dials_failed", "Upstream dials that failed, by upstream (key).")
	m.fourLetter = counterSet("zkproxy_four_letter_words",
		"Four-letter words passed to the upstream, by word (key; refused ones count as decision four_letter_word).")
	m.recDropped = counter("zkproxy_record_dropped", "Frames not written to --record: its queue (bytes) or its file was full.")
	m.recRotations = counter("zkproxy_record_rotations", "Times the --record file reached its size cap and was rotated.")
	m.shadowConns = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "zkproxy_shadow_connections",
		Help: "Open connections to the --shadow ensemble.",
	})
	m.shadowCompared = counter("zkproxy_shadow_compared",
		"Replies and watch events compared between the primary and the --shadow ensemble.")
	m.shadowDiverged = counterSet("zkproxy_shadow_divergences",
		"Replies (by opcode, key) and watch events (key notification) that differ between primary and shadow.")
	m.shadowDropped = counterSet("zkproxy_shadow_dropped", "Connections whose mirroring stopped, by reason (key).")
	reg.MustRegister(m.shadowConns, m.shadowCompared, m.shadowDiverged, m.shadowDropped)
	reg.MustRegister(reqs, m.latency, m.latency.dropped, m.errors, bytes, conns, m.sessions, m.watchEvents,
		m.unmatched, m.policy, m.dialsOK, m.dialsFailed, m.fourLetter, m.recDropped, m.recRotations)
	for i := range m.requests {
		m.requests[i] = reqs.WithLabelValues(opLabel(wire.OpCode(i - opBase)))
	}
	m.bytesIn = bytes.WithLabelValues("in")
	m.bytesOut = bytes.WithLabelValues("out")
	m.clientConns = conns.WithLabelValues("client")
	m.upConns = conns.WithLabelValues("upstream")
	m.decisions = map[string]prometheus.Counter{}
	for _, d := range []string{DecisionMaxConns, DecisionInFlight, DecisionRequestSize, DecisionResponseSize,
		DecisionRateLimited, DecisionReadOnly, DecisionDenied, DecisionNotClientOp, DecisionFourLetter,
		DecisionSlowClient, DecisionSlowUpstream, DecisionTLSHandshake} {
		m.decisions[d] = m.policy.WithLabelValues(d)
	}
	return m
}

func (m *Metrics) decision(d string) {
	if c, ok := m.decisions[d]; ok {
		c.Inc()
		return
	}
	m.policy.WithLabelValues(d).Inc()
}

// dial counts one dial of upstream (or of the --shadow ensemble).
func (m *Metrics) dial(upstream string, ok bool) {
	if ok {
		m.dialsOK.WithLabelValues(upstream).Inc()
	} else {
		m.dialsFailed.WithLabelValues(upstream).Inc()
	}
}

// reply accounts for one answered request; an event loop calls it.
func (m *Metrics) reply(op wire.OpCode, code wire.ErrCode, lat time.Duration) {
	slot := opSlot(op)
	m.latency.add(slot, lat)
	if code == wire.ErrOk {
		return
	}
	cell := &m.errCounters[slot][errSlot(code)]
	c := cell.Load()
	if c == nil {
		// First error of this opcode and code: resolve the series once.
		// Two loops may race here; both get the same series.
		ec := m.errors.WithLabelValues(errorKey(op, code))
		c = &ec
		cell.Store(c)
	}
	(*c).Inc()
}
