package ops

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// Monitor is what the metrics need from a server: the mntr values, keys
// without "zk_" (node.Server.Monitor).
type Monitor interface {
	Monitor(ctx context.Context) ([][2]string, error)
}

// metricType is how Java's PrometheusMetricsProvider registers a metric.
type metricType uint8

const (
	gauge   metricType = iota // MetricsContext.registerGauge: a Prometheus gauge
	counter                   // getCounter: a Prometheus counter (simpleclient 0.9: no _total suffix)
)

// JavaMetrics are the metrics of Java 3.8's registry that zkgo measures,
// under Java's names and types (ZooKeeperServer.registerMetrics,
// QuorumZooKeeperServer, LeaderZooKeeperServer, ServerMetrics) that mntr
// carries as one value. Java's summaries are observed sample by sample
// (node.Server.JavaSummaries), not read from mntr.
var JavaMetrics = []struct {
	Name string
	Type metricType
}{
	{"avg_latency", gauge}, {"max_latency", gauge}, {"min_latency", gauge},
	{"packets_received", gauge}, {"packets_sent", gauge}, {"num_alive_connections", gauge},
	{"outstanding_requests", gauge}, {"uptime", gauge}, {"znode_count", gauge}, {"watch_count", gauge},
	{"ephemerals_count", gauge}, {"approximate_data_size", gauge}, {"global_sessions", gauge},
	{"local_sessions", gauge}, {"open_file_descriptor_count", gauge}, {"max_file_descriptor_count", gauge},
	{"connection_drop_probability", gauge}, {"last_client_response_size", gauge},
	{"max_client_response_size", gauge}, {"min_client_response_size", gauge},
	{"outstanding_tls_handshake", gauge}, {"auth_failed_count", gauge},
	{"non_mtls_remote_conn_count", gauge}, {"non_mtls_local_conn_count", gauge},
	{"quorum_size", gauge}, {"learners", gauge}, {"synced_followers", gauge},
	{"synced_non_voting_followers", gauge}, {"synced_observers", gauge}, {"pending_syncs", gauge},
	{"leader_uptime", gauge}, {"last_proposal_size", gauge}, {"max_proposal_size", gauge},
	{"min_proposal_size", gauge},
	{"snap_count", counter}, {"connection_request_count", counter}, {"connection_rejected", counter},
	{"outstanding_changes_queued", counter}, {"connection_revalidate_count", counter},
	{"sessionless_connections_expired", counter}, {"stale_sessions_expired", counter},
	{"learner_proposal_received_count", counter}, {"learner_commit_received_count", counter},
	{"digest_mismatches_count", counter},
}

// javaCollector exports a server's mntr values at each scrape under
// Java's names.
type javaCollector struct {
	m Monitor
}

// Describe sends nothing: the collector is unchecked (its series follow
// the server's role).
func (javaCollector) Describe(chan<- *prometheus.Desc) {}

func (c javaCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := c.m.Monitor(ctx)
	if err != nil {
		return
	}
	vals := make(map[string]float64, len(kv))
	for _, p := range kv {
		if v, err := strconv.ParseFloat(p[1], 64); err == nil {
			vals[p[0]] = v
		}
	}
	for _, jm := range JavaMetrics {
		// Java's help text is the name (Collector.build(name, name)).
		v, ok := vals[jm.Name]
		if !ok {
			continue
		}
		vt := prometheus.GaugeValue
		if jm.Type == counter {
			vt = prometheus.CounterValue
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(jm.Name, jm.Name, nil, nil), vt, v)
	}
}

// JavaRegistry returns a registry of m's metrics under Java's names, with
// summaries, Java's summaries as the server observes them
// (node.Server.JavaSummaries).
func JavaRegistry(m Monitor, summaries ...prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(javaCollector{m: m})
	reg.MustRegister(summaries...)
	return reg
}

// ServeMetrics serves reg at http://addr/metrics, as Java's provider does
// (a servlet on /metrics, nothing else). The listener is bound before it
// returns, so a port that cannot be bound is an error to the caller.
func ServeMetrics(addr string, reg *prometheus.Registry, log zerolog.Logger) (*http.Server, net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn().Err(err).Msg("metrics server ended")
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Msg("serving Prometheus metrics at /metrics")
	return srv, ln.Addr(), nil
}
