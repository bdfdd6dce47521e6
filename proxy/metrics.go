package proxy

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zkgo/zkgo/wire"
)

// Metrics are the proxy's Prometheus metrics, registered in their own
// Registry (serve it with promhttp.HandlerFor). Per-opcode series are
// resolved once, so the hot path does no label lookups.
type Metrics struct {
	Registry *prometheus.Registry

	requests     [opSlots]prometheus.Counter
	latency      [opSlots]prometheus.Observer
	errors       *prometheus.CounterVec
	bytesIn      prometheus.Counter
	bytesOut     prometheus.Counter
	clientConns  prometheus.Gauge
	upConns      prometheus.Gauge
	sessions     prometheus.Gauge
	watchEvents  prometheus.Counter
	unmatched    prometheus.Counter
	policy       *prometheus.CounterVec
	dials        *prometheus.CounterVec
	fourLetter   *prometheus.CounterVec
	recDropped   prometheus.Counter
	recRotations prometheus.Counter

	shadowConns    prometheus.Gauge
	shadowCompared prometheus.Counter
	shadowDiverged *prometheus.CounterVec
	shadowDropped  *prometheus.CounterVec
}

// LatencyBuckets are the bounds of the request latency histograms, in
// seconds: 10 us to about 10 s.
var LatencyBuckets = prometheus.ExponentialBuckets(10e-6, 2.5, 16)

// NewMetrics creates the metrics in a new Registry.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{Registry: reg}
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "zkproxy_requests_total",
		Help: "Client requests by opcode (the ConnectRequest counts as createSession).",
	}, []string{"op"})
	lat := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "zkproxy_request_duration_seconds",
		Help:    "Time from a request to its reply (paired by xid), by opcode.",
		Buckets: LatencyBuckets,
	}, []string{"op"})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "zkproxy_errors_total",
		Help: "Replies with a non-zero error code, by opcode and code.",
	}, []string{"op", "code"})
	bytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "zkproxy_bytes_total",
		Help: "Bytes forwarded, by direction (in: client to upstream, out: upstream to client).",
	}, []string{"direction"})
	conns := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "zkproxy_connections",
		Help: "Open connections, by side (client, upstream).",
	}, []string{"side"})
	m.sessions = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "zkproxy_sessions",
		Help: "Client connections with an established session.",
	})
	m.watchEvents = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "zkproxy_watch_events_total",
		Help: "Watch notifications delivered to clients.",
	})
	m.unmatched = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "zkproxy_unmatched_replies_total",
		Help: "Replies whose xid matched no pending request.",
	})
	m.policy = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "zkproxy_policy_decisions_total",
		Help: "Policy decisions, by decision.",
	}, []string{"decision"})
	m.dials = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "zkproxy_upstream_dials_total",
		Help: "Upstream dials, by upstream and result.",
	}, []string{"upstream", "result"})
	m.fourLetter = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "zkproxy_four_letter_words_total",
		Help: "Four-letter words passed to the upstream, by word (refused ones count as decision four_letter_word).",
	}, []string{"word"})
	m.recDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "zkproxy_record_dropped_total",
		Help: "Frames not written to --record: its queue (bytes) or its file was full.",
	})
	m.recRotations = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "zkproxy_record_rotations_total",
		Help: "Times the --record file reached its size cap and was rotated.",
	})
	m.shadowConns = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "zkproxy_shadow_connections",
		Help: "Open connections to the --shadow ensemble.",
	})
	m.shadowCompared = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "zkproxy_shadow_compared_total",
		Help: "Replies and watch events compared between the primary and the --shadow ensemble.",
	})
	m.shadowDiverged = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "zkproxy_shadow_divergences_total",
		Help: "Replies (by opcode) and watch events (op notification) that differ between primary and shadow.",
	}, []string{"op"})
	m.shadowDropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "zkproxy_shadow_dropped_total",
		Help: "Connections whose mirroring stopped, by reason.",
	}, []string{"reason"})
	reg.MustRegister(m.shadowConns, m.shadowCompared, m.shadowDiverged, m.shadowDropped)
	reg.MustRegister(reqs, lat, m.errors, bytes, conns, m.sessions, m.watchEvents, m.unmatched, m.policy,
		m.dials, m.fourLetter, m.recDropped, m.recRotations)
	for i := range m.requests {
		op := wire.OpCode(i - opBase)
		l := opLabel(op)
		m.requests[i] = reqs.WithLabelValues(l)
		m.latency[i] = lat.WithLabelValues(l)
	}
	m.bytesIn = bytes.WithLabelValues("in")
	m.bytesOut = bytes.WithLabelValues("out")
	m.clientConns = conns.WithLabelValues("client")
	m.upConns = conns.WithLabelValues("upstream")
	for _, d := range []string{DecisionMaxConns, DecisionInFlight, DecisionRequestSize, DecisionResponseSize,
		DecisionRateLimited, DecisionReadOnly, DecisionDenied, DecisionNotClientOp, DecisionFourLetter,
		DecisionSlowClient, DecisionSlowUpstream, DecisionTLSHandshake} {
		m.policy.WithLabelValues(d)
	}
	return m
}

func (m *Metrics) decision(d string) { m.policy.WithLabelValues(d).Inc() }

// reply accounts for one answered request.
func (m *Metrics) reply(op wire.OpCode, code wire.ErrCode, lat time.Duration) {
	m.latency[opSlot(op)].Observe(lat.Seconds())
	if code != wire.ErrOk {
		m.errors.WithLabelValues(opLabel(op), code.Name()).Inc()
	}
}
