package ops

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

type fakeMonitor [][2]string

func (f fakeMonitor) Monitor(context.Context) ([][2]string, error) { return f, nil }

// TestJavaRegistry: mntr values become Java's series: gauges and counters
// by name; values Java's registry does not have are not exported (nor
// mntr's avg_/cnt_/sum_ lines of a summary); the summaries passed in are
// exported as they are, with measured quantiles.
func TestJavaRegistry(t *testing.T) {
	fsync := prometheus.NewSummary(prometheus.SummaryOpts{Name: "fsynctime", Help: "fsynctime", Objectives: map[float64]float64{0.5: 0.05}})
	for _, v := range []float64{2, 4, 6} {
		fsync.Observe(v)
	}
	reg := JavaRegistry(fakeMonitor{{"znode_count", "5"}, {"snap_count", "2"}, {"cnt_fsynctime", "3"},
		{"sum_fsynctime", "12"}, {"avg_fsynctime", "4.0"}, {"election_connections", "1"}, {"version", "3.8.0-zkgo"}}, fsync)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		got[f.GetName()] = f
	}
	if len(got) != 3 {
		t.Fatalf("families %v", got)
	}
	if f := got["znode_count"]; f.GetType() != dto.MetricType_GAUGE || f.Metric[0].GetGauge().GetValue() != 5 || f.GetHelp() != "znode_count" {
		t.Errorf("znode_count %v", f)
	}
	if f := got["snap_count"]; f.GetType() != dto.MetricType_COUNTER || f.Metric[0].GetCounter().GetValue() != 2 {
		t.Errorf("snap_count %v", f)
	}
	f := got["fsynctime"]
	if f.GetType() != dto.MetricType_SUMMARY {
		t.Fatalf("fsynctime %v", f)
	}
	s := f.Metric[0].GetSummary()
	if s.GetSampleCount() != 3 || s.GetSampleSum() != 12 || len(s.Quantile) != 1 || s.Quantile[0].GetQuantile() != 0.5 ||
		s.Quantile[0].GetValue() != 4 {
		t.Errorf("fsynctime summary %v", s)
	}
}
