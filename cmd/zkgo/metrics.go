package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/node"
)

// serveMetrics serves reg at http://addr/metrics until the returned
// server is shut down.
func serveMetrics(addr string, reg *prometheus.Registry, log zerolog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn().Err(err).Msg("metrics server ended")
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Msg("serving metrics at /metrics")
	return srv, nil
}

// mntrCollector exports a server's mntr values at each scrape: numeric
// values as gauges named by their key without "zk_" (znode_count, ...), as
// Java's Prometheus metrics provider names them; text values (version,
// server_state) as a gauge of 1 with the text in a "value" label.
type mntrCollector struct {
	srv *node.Server
}

// Describe sends nothing: the collector is unchecked (its series follow
// the server's mode).
func (mntrCollector) Describe(chan<- *prometheus.Desc) {}

func (m mntrCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := m.srv.Monitor(ctx)
	if err != nil {
		return
	}
	for _, p := range kv {
		name := sanitizeMetricName(p[0])
		if name == "" {
			continue
		}
		if v, err := strconv.ParseFloat(p[1], 64); err == nil {
			d := prometheus.NewDesc(name, "mntr "+p[0], nil, nil)
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
			continue
		}
		d := prometheus.NewDesc(name, "mntr "+p[0], []string{"value"}, nil)
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, 1, p[1])
	}
}

func sanitizeMetricName(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_', r == ':':
			b.WriteRune(r)
		case r >= '0' && r <= '9' && i > 0:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// serverMetrics is the registry of `zkgo server --metrics`.
func serverMetrics(srv *node.Server) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(mntrCollector{srv: srv})
	return reg
}
