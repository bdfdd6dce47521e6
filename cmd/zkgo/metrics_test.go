package main

import (
	"testing"

	"github.com/zkgo/zkgo/compat-tests/harness"
)

// zkgo server --metrics exports the mntr values.
func TestServerMetricsExportMntr(t *testing.T) {
	z := harness.StartZkgo(t, nil)
	mfs, err := serverMetrics(z.Server).Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	labels := map[string]string{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[mf.GetName()] = m.GetGauge().GetValue()
			for _, l := range m.GetLabel() {
				labels[mf.GetName()] = l.GetValue()
			}
		}
	}
	if got["znode_count"] < 2 {
		t.Errorf("znode_count = %v, want >= 2", got["znode_count"])
	}
	if labels["server_state"] != "standalone" || got["server_state"] != 1 {
		t.Errorf("server_state: %q %v", labels["server_state"], got["server_state"])
	}
	if _, ok := got["num_alive_connections"]; !ok {
		t.Errorf("num_alive_connections missing: %v", got)
	}
}
