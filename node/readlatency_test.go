package node

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/wire"
)

// TestReadLatencyCountsFromArrival (issue 20): a read's latency counts from
// when it reached the owner goroutine to its reply, as Java's
// FinalRequestProcessor counts every request without a txn header from the
// Request's creation: a getData queued behind its session's setData, whose
// apply is held for holdFor, and a sync answered once that write is
// applied, show at least holdFor in srvr's and mntr's max latency, mntr's
// readlatency values, the connection's cons figures and the readlatency
// summary. At 6076afb every read counted 0 ms and readlatency did not
// exist.
func TestReadLatencyCountsFromArrival(t *testing.T) {
	const holdFor = 30 * time.Millisecond
	s, sink, cc := sessionWithNodeAConfig(t, prometheusConfig())
	call(t, s, func() {
		s.sched.applyHold++ // as a long multiRead of another session holds applies
		s.cl.processRequest(cc, setDataPkt(1, "/a", "1"))
		s.cl.processRequest(cc, reqPkt(2, wire.OpGetData, &wire.GetDataRequest{Path: "/a"}))
	})
	// The write is made durable and waits to be applied; the read waits
	// behind its reply. Another session's sync, sent now, waits for the
	// write to be applied.
	var cc2 *clientConn
	sink2 := &recordSink{id: 8}
	waitFor(t, func() bool {
		n := 0
		call(t, s, func() { n = len(s.sched.applyWait) })
		return n == 1
	})
	call(t, s, func() {
		cc2 = &clientConn{sink: sink2, id: sink2.id, remote: "127.0.0.1:2"}
		s.cl.register(cc2)
		cc2.session, cc2.timeoutMs = 0x78, 30000
		s.sessions.Add(0x78, 30000, s.lp.nowMs())
		s.cl.processRequest(cc2, reqPkt(1, wire.OpSync, &wire.SyncRequest{Path: "/a"}))
	})
	time.Sleep(holdFor) // what the requests are to wait, not a wait for state
	call(t, s, func() { s.sched.applyHold-- })
	waitReplies(t, s, sink, 1, 2)
	waitReplies(t, s, sink2, 1)
	var mntr, srvr string
	var connMax int64
	call(t, s, func() {
		var b strings.Builder
		s.resp.writeMntr(&b, fdCounts{})
		mntr = b.String()
		b.Reset()
		s.resp.writeStatTail(&b)
		srvr = b.String()
		connMax = cc.stats.maxLatency
		s.jsum.reads.flush() // as the owner's tick does
	})
	val := func(key string) int64 {
		t.Helper()
		for _, line := range strings.Split(mntr, "\n") {
			if k, v, ok := strings.Cut(line, "\t"); ok && k == "zk_"+key {
				n, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("mntr %s: %q", key, v)
				}
				return int64(n)
			}
		}
		t.Fatalf("mntr has no zk_%s:\n%s", key, mntr)
		return 0
	}
	hold := holdFor.Milliseconds()
	if n := val("cnt_readlatency"); n != 2 {
		t.Errorf("cnt_readlatency %d, want 2 (the getData and the sync)", n)
	}
	if n := val("cnt_updatelatency"); n != 1 {
		t.Errorf("cnt_updatelatency %d, want 1 (the setData)", n)
	}
	for _, k := range []string{"max_readlatency", "min_readlatency", "max_latency", "max_updatelatency"} {
		if v := val(k); v < hold {
			t.Errorf("mntr %s = %d ms, want at least %d (the read was held that long)", k, v, hold)
		}
	}
	if v := val("sum_readlatency"); v < 2*hold {
		t.Errorf("sum_readlatency = %d ms, want at least %d", v, 2*hold)
	}
	_, rest, _ := strings.Cut(srvr, "Latency min/avg/max: ")
	mm := strings.Split(strings.TrimSpace(strings.SplitN(rest, "\n", 2)[0]), "/")
	if len(mm) != 3 {
		t.Fatalf("srvr: no latency line:\n%s", srvr)
	}
	if v, _ := strconv.ParseInt(mm[2], 10, 64); v < hold {
		t.Errorf("srvr max latency %s ms, want at least %d", mm[2], hold)
	}
	if connMax < hold {
		t.Errorf("the connection's max latency (cons) %d ms, want at least %d", connMax, hold)
	}
	waitFor(t, func() bool { return summaryOf(t, s.jsum.read).GetSampleCount() == 2 })
	if sum := summaryOf(t, s.jsum.read).GetSampleSum(); sum < float64(2*hold) {
		t.Errorf("readlatency summary: sum %v ms, want at least %d", sum, 2*hold)
	}
}

// prometheusConfig is the default configuration with Java's Prometheus
// metrics provider (the only one whose summaries are fed).
func prometheusConfig() Config {
	cfg := DefaultConfig()
	cfg.Raw = map[string]string{"metricsProvider.className": PrometheusProviderClass}
	return cfg
}

// TestLatencySummariesOnlyWithPrometheus (issue 19): updatelatency and
// readlatency are fed only when the Prometheus provider is configured,
// the one thing that reads them. With the default provider the owner
// hands no samples to a summary: at cac73b3 every read and write went
// into prometheus summaries nobody could scrape, +27% server CPU per get
// in the A/B of make bench against 6076afb (docs/zab.md, Measures).
// mntr's read and update counters count either way.
func TestLatencySummariesOnlyWithPrometheus(t *testing.T) {
	for _, prom := range []bool{false, true} {
		cfg := DefaultConfig()
		if prom {
			cfg = prometheusConfig()
		}
		s, sink, cc := sessionWithNodeAConfig(t, cfg)
		call(t, s, func() {
			s.cl.processRequest(cc, setDataPkt(1, "/a", "1"))
			s.cl.processRequest(cc, reqPkt(2, wire.OpGetData, &wire.GetDataRequest{Path: "/a"}))
		})
		waitReplies(t, s, sink, 1, 2)
		var fed bool
		var reads, updates int64
		call(t, s, func() {
			fed = s.jsum.reads != nil || s.jsum.updates != nil
			reads, updates = s.stats.reads.cnt, s.stats.updates.cnt
			s.jsum.reads.flush()
			s.jsum.updates.flush()
		})
		if reads != 1 || updates != 1 {
			t.Errorf("prometheus=%v: mntr counts %d reads and %d updates, want 1 and 1", prom, reads, updates)
		}
		if fed != prom {
			t.Errorf("prometheus=%v: latency summaries fed: %v", prom, fed)
		}
		if prom {
			waitFor(t, func() bool {
				return summaryOf(t, s.jsum.read).GetSampleCount() == 1 && summaryOf(t, s.jsum.update).GetSampleCount() == 1
			})
		} else if r, u := summaryOf(t, s.jsum.read).GetSampleCount(), summaryOf(t, s.jsum.update).GetSampleCount(); r != 0 || u != 0 {
			t.Errorf("default provider: readlatency has %d samples, updatelatency %d, want none", r, u)
		}
	}
}
