// Package javaprom holds the conventions of Java ZooKeeper 3.8's
// PrometheusMetricsProvider (release-3.8.0, Prometheus simpleclient 0.9)
// that zkgo's own metrics follow, and Check, which tells whether a scrape
// follows them. The server exports Java's own series (ops.JavaRegistry,
// node.Server.JavaSummaries); the proxy keeps its zkproxy_ names in the
// same shapes (proxy.Metrics).
//
// The conventions, as the provider registers metrics:
//   - three types only: counters, gauges and summaries (no histograms);
//   - a counter is exported under the name it was registered with:
//     simpleclient 0.9 adds no _total suffix (snap_count,
//     connection_request_count);
//   - times are milliseconds (fsynctime, updatelatency,
//     prep_processor_queue_time_ms): zkgo's own names spell the unit,
//     _ms;
//   - a summary carries the 0.5 quantile with 5% tolerated rank error
//     (DetailLevel.BASIC), or 0.5, 0.9 and 0.99 with 5%, 1% and 0.1%
//     (ADVANCED), over a sliding window of 10 minutes in 5 age buckets,
//     plus _count and _sum;
//   - a labelled metric (CounterSet, GaugeSet, SummarySet) has exactly one
//     label, "key"; summaries add "quantile" to their quantile samples.
package javaprom

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Label is the one label of Java's labelled metrics.
const Label = "key"

// Summary window: simpleclient's defaults, which Java's provider keeps.
const (
	SummaryMaxAge     = 10 * time.Minute
	SummaryAgeBuckets = 5
)

// Objectives returns the quantiles and tolerated errors of a BASIC
// (advanced false) or ADVANCED summary.
func Objectives(advanced bool) map[float64]float64 {
	obj := map[float64]float64{0.5: 0.05}
	if advanced {
		obj[0.9], obj[0.99] = 0.01, 0.001
	}
	return obj
}

// SummaryOpts returns the options of a BASIC or ADVANCED summary.
func SummaryOpts(name, help string, advanced bool) prometheus.SummaryOpts {
	return prometheus.SummaryOpts{Name: name, Help: help, Objectives: Objectives(advanced),
		MaxAge: SummaryMaxAge, AgeBuckets: SummaryAgeBuckets}
}

var (
	basicQuantiles    = []float64{0.5}
	advancedQuantiles = []float64{0.5, 0.9, 0.99}
	nameRE            = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// timeWords name a time quantity; a family whose name has one is in
// milliseconds and says so (_ms).
var timeWords = []string{"latency", "duration", "time", "elapsed"}

// otherUnits are name parts that spell a time unit other than Java's
// milliseconds, or a suffix Java's counters do not have.
var otherUnits = []string{"seconds", "second", "secs", "sec", "s", "microseconds", "us", "micros",
	"nanoseconds", "ns", "nanos", "minutes", "hours", "total"}

// Check returns one line for each way fams (a Gather or a parsed
// scrape) breaks the conventions; every family name must start with
// prefix.
func Check(prefix string, fams []*dto.MetricFamily) []string {
	var errs []string
	bad := func(name, format string, args ...any) {
		errs = append(errs, name+": "+fmt.Sprintf(format, args...))
	}
	names := map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
	}
	for _, f := range fams {
		name := f.GetName()
		if !strings.HasPrefix(name, prefix) || !nameRE.MatchString(name) {
			bad(name, "not a lower_snake name in the %s namespace", prefix)
		}
		if f.GetHelp() == "" {
			bad(name, "no help text")
		}
		parts := strings.Split(name, "_")
		for _, u := range otherUnits {
			switch {
			case !slices.Contains(parts[1:], u):
			case u == "total":
				bad(name, `"total" in the name: Java's counters keep their name, with no _total suffix`)
			default:
				bad(name, "%q in the name: Java's times are milliseconds (_ms)", u)
			}
		}
		isTime := false
		for _, w := range timeWords {
			if slices.Contains(parts, w) {
				isTime = true
			}
		}
		if isTime && !strings.HasSuffix(name, "_ms") {
			bad(name, "a time without its unit: Java's times are milliseconds, the name ends in _ms")
		}
		if f.GetType() == dto.MetricType_SUMMARY {
			for _, suf := range []string{"_count", "_sum"} {
				if names[name+suf] {
					bad(name+suf, "collides with the %s sample of summary %s", suf, name)
				}
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER, dto.MetricType_GAUGE, dto.MetricType_SUMMARY:
		default:
			bad(name, "type %s: Java's provider exports counters, gauges and summaries only", f.GetType())
			continue
		}
		if len(f.GetMetric()) == 0 {
			bad(name, "a family without samples")
		}
		// One report per rule and family, not per series.
		seen := map[string]bool{}
		once := func(name, format string, args ...any) {
			if !seen[format] {
				seen[format] = true
				bad(name, format, args...)
			}
		}
		for _, m := range f.GetMetric() {
			checkLabels(name, m, once)
			if s := m.GetSummary(); f.GetType() == dto.MetricType_SUMMARY {
				checkSummary(name, s, once)
			}
		}
	}
	return errs
}

func checkLabels(name string, m *dto.Metric, bad func(string, string, ...any)) {
	switch ls := m.GetLabel(); {
	case len(ls) == 0:
	case len(ls) == 1 && ls[0].GetName() == Label && ls[0].GetValue() != "":
	default:
		var s []string
		for _, l := range ls {
			s = append(s, l.GetName()+"="+l.GetValue())
		}
		bad(name, "labels %v: Java's labelled metrics have one label, %q", s, Label)
	}
}

func checkSummary(name string, s *dto.Summary, bad func(string, string, ...any)) {
	if s == nil {
		bad(name, "a summary without summary samples")
		return
	}
	var qs []float64
	for _, q := range s.GetQuantile() {
		qs = append(qs, q.GetQuantile())
		if v := q.GetValue(); !math.IsNaN(v) && v < 0 {
			bad(name, "quantile %v is negative: %v", q.GetQuantile(), v)
		}
	}
	if !slices.Equal(qs, basicQuantiles) && !slices.Equal(qs, advancedQuantiles) {
		bad(name, "quantiles %v: Java's summaries carry %v (BASIC) or %v (ADVANCED)", qs, basicQuantiles, advancedQuantiles)
	}
	if s.SampleCount == nil || s.SampleSum == nil {
		bad(name, "a summary without _count or _sum")
	}
}
