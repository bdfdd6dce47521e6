package javaprom

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func gather(t *testing.T, cs ...prometheus.Collector) []string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(cs...)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return Check("x_", fams)
}

// Families shaped as Java's provider registers them pass.
func TestCheckAcceptsJavaShapes(t *testing.T) {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x_requests", Help: "h"})
	cs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_errors", Help: "h"}, []string{Label})
	cs.WithLabelValues("a").Inc()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x_sessions", Help: "h"})
	basic := prometheus.NewSummary(SummaryOpts("x_batch_size", "h", false))
	adv := prometheus.NewSummaryVec(SummaryOpts("x_request_duration_ms", "h", true), []string{Label})
	adv.WithLabelValues("getData").Observe(1)
	if errs := gather(t, c, cs, g, basic, adv); len(errs) != 0 {
		t.Fatalf("Java's shapes refused: %v", errs)
	}
}

// Each generic Prometheus habit Java's provider does not have is reported:
// _total counters, histograms, seconds, other label names, other
// quantiles, a time without _ms, a family outside the namespace.
func TestCheckRefusesOtherConventions(t *testing.T) {
	for _, tc := range []struct {
		c    prometheus.Collector
		want string
	}{
		{prometheus.NewCounter(prometheus.CounterOpts{Name: "x_requests_total", Help: "h"}), `"total"`},
		{prometheus.NewHistogram(prometheus.HistogramOpts{Name: "x_size", Help: "h"}), "type HISTOGRAM"},
		{prometheus.NewSummary(prometheus.SummaryOpts{Name: "x_request_duration_seconds", Help: "h",
			Objectives: Objectives(true)}), `"seconds"`},
		{prometheus.NewSummary(prometheus.SummaryOpts{Name: "x_latency", Help: "h", Objectives: Objectives(true)}),
			"ends in _ms"},
		{prometheus.NewSummary(prometheus.SummaryOpts{Name: "x_size", Help: "h",
			Objectives: map[float64]float64{0.5: 0.05, 0.99: 0.001}}), "quantiles [0.5 0.99]"},
		{func() prometheus.Collector {
			v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_errors", Help: "h"}, []string{"op", "code"})
			v.WithLabelValues("getData", "NONODE").Inc()
			return v
		}(), "one label"},
		{func() prometheus.Collector {
			v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "x_connections", Help: "h"}, []string{"side"})
			v.WithLabelValues("client").Inc()
			return v
		}(), "one label"},
		{prometheus.NewGauge(prometheus.GaugeOpts{Name: "y_sessions", Help: "h"}), "namespace"},
		{prometheus.NewGauge(prometheus.GaugeOpts{Name: "x_sessions"}), "no help"},
	} {
		errs := gather(t, tc.c)
		if len(errs) == 0 || !strings.Contains(strings.Join(errs, "\n"), tc.want) {
			t.Errorf("%v: %v, want an error with %q", tc.c, errs, tc.want)
		}
	}
}
