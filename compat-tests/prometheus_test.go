package compattest

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
)

// Issue 20, point 2: with metricsProvider.className naming Java's
// PrometheusMetricsProvider, `zkgo server` serves /metrics on
// metricsProvider.httpHost:httpPort with Java 3.8's metric names, types and
// summary quantiles. Debian does not package Java's Prometheus provider, so
// the live oracle is Java's metric registry as its mntr prints it (the
// DefaultMetricsProvider's view of the same registrations: a gauge or
// counter as NAME, a summary as avg_/min_/max_/cnt_/sum_NAME, and p50_NAME
// ... for the ADVANCED ones, whose Prometheus summaries carry the 0.5, 0.9
// and 0.99 quantiles; the BASIC ones carry 0.5).

// javaCounters are the names ServerMetrics (release-3.8.0) registers with
// getCounter: a Prometheus counter. mntr does not tell a counter from a
// gauge; every other plain value of Java's registry is a gauge.
var javaCounters = []string{"looking_count", "diff_count", "snap_count", "commit_count", "connection_request_count",
	"connection_rejected", "bytes_received_count", "unrecoverable_error_count", "add_dead_watcher_stall_time",
	"dead_watchers_queued", "dead_watchers_cleared", "response_packet_cache_hits", "response_packet_cache_misses",
	"response_packet_get_children_cache_hits", "response_packet_get_children_cache_misses", "ensemble_auth_success",
	"ensemble_auth_fail", "ensemble_auth_skip", "prep_processor_request_queued", "outstanding_changes_queued",
	"outstanding_changes_removed", "revalidate_count", "connection_drop_count", "connection_revalidate_count",
	"sessionless_connections_expired", "stale_sessions_expired", "request_commit_queued", "throttled_ops",
	"learner_proposal_received_count", "learner_commit_received_count", "sync_processor_request_queued",
	"proposal_count", "quit_leading_due_to_disloyal_voter", "stale_requests", "stale_requests_dropped",
	"stale_replies", "request_throttle_wait_count", "large_requests_rejected", "digest_mismatches_count",
	"unsuccessful_handshake", "insecure_admin_count", "tls_handshake_exceeded",
	"cnxn_closed_without_zk_server_running", "skip_learner_request_to_next_processor_count", "response_bytes",
	"watch_bytes"}

// promFamily is one metric family of a text exposition.
type promFamily struct {
	typ     string
	samples []promSample
}

type promSample struct {
	name, labels string
	value        float64
}

// parseExposition reads Prometheus text format 0.0.4.
func parseExposition(t *testing.T, r io.Reader) map[string]*promFamily {
	t.Helper()
	fams := map[string]*promFamily{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			fams[name] = &promFamily{typ: typ}
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, labels, rest := line, "", ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
			if line[i] == '{' {
				end := strings.IndexByte(line, '}') + 1
				labels, rest = line[i:end], line[end:]
			}
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			t.Fatalf("sample without a value: %s", line)
		}
		value, err := strconv.ParseFloat(fields[0], 64) // "NaN", "+Inf" included
		if err != nil {
			t.Fatalf("sample value: %s: %v", line, err)
		}
		fam := fams[name]
		for _, suf := range []string{"_count", "_sum"} {
			if base, ok := strings.CutSuffix(name, suf); ok && fam == nil && fams[base] != nil {
				fam = fams[base]
			}
		}
		if fam == nil {
			t.Fatalf("sample before its TYPE: %s", line)
		}
		fam.samples = append(fam.samples, promSample{name: name, labels: labels, value: value})
	}
	return fams
}

func mntrKeys(t *testing.T, text string) map[string]string {
	t.Helper()
	keys := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(line, "\t"); ok {
			keys[strings.TrimPrefix(k, "zk_")] = v
		}
	}
	if len(keys) < 10 {
		t.Fatalf("mntr printed %d values:\n%s", len(keys), text)
	}
	return keys
}

func writeZkgoConfig(t *testing.T, lines ...string) (cfgPath, clientAddr string) {
	t.Helper()
	dir := t.TempDir()
	port := harness.FreePort(t)
	cfg := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n%s\n",
		filepath.Join(dir, "data"), port, strings.Join(lines, "\n"))
	cfgPath = filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgPath, fmt.Sprintf("127.0.0.1:%d", port)
}

func TestCompat_PrometheusJavaNames(t *testing.T) {
	harness.SkipShort(t)
	java := harness.StartJavaZK(t, harness.JavaOptions{Heap: "256m"})
	c := zkConn(t, java.Addr)
	_, err := c.Create("/prom", []byte("x"), 0, open)
	must(t, err)
	c.Close()
	jtext, err := harness.FourLetter(java.Addr, "mntr")
	must(t, err)

	bin := harness.BuildZkgo(t)
	mport := harness.FreePort(t)
	cfgPath, addr := writeZkgoConfig(t,
		"metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
		"metricsProvider.httpHost=127.0.0.1", "metricsProvider.httpPort="+strconv.Itoa(mport),
		"metricsProvider.exportJvmInfo=false")
	harness.StartZkgoProc(t, bin, cfgPath, addr)
	c = zkConn(t, addr)
	const writes = 20
	for i := 0; i < writes; i++ {
		_, err = c.Create("/prom"+strconv.Itoa(i), []byte("x"), 0, open)
		must(t, err)
		_, _, err = c.Get("/prom" + strconv.Itoa(i))
		must(t, err)
	}
	c.Close()
	ztext, err := harness.FourLetter(addr, "mntr")
	must(t, err)
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", mport)
	checkJavaMetrics(t, "standalone", jtext, url, ztext)

	// The summaries carry measured quantiles. Java measured its fsyncs too
	// (its mntr counts them); zkgo's median fsync is a finite positive
	// number of milliseconds, no more than the slowest one mntr reports;
	// the write latencies (an ADVANCED summary: 0.5, 0.9, 0.99) too.
	jkeys := mntrKeys(t, jtext)
	if n, _ := strconv.Atoi(jkeys["cnt_fsynctime"]); n == 0 {
		t.Errorf("Java's mntr counts no fsync after a create: %q", jkeys["cnt_fsynctime"])
	}
	var fams map[string]*promFamily
	scrape := func() {
		resp, err := http.Get(url)
		must(t, err)
		fams = parseExposition(t, resp.Body)
		resp.Body.Close()
	}
	sample := func(fam, name, labels string) float64 {
		t.Helper()
		if f := fams[fam]; f != nil {
			for _, s := range f.samples {
				if s.name == name && s.labels == labels {
					return s.value
				}
			}
		}
		t.Fatalf("/metrics has no %s%s", name, labels)
		return 0
	}
	scrape()
	after, err := harness.FourLetter(addr, "mntr") // its max covers every fsync scraped
	must(t, err)
	const p50 = `{quantile="0.5"}`
	maxFsync, _ := strconv.ParseFloat(mntrKeys(t, after)["max_fsynctime"], 64)
	if v := sample("fsynctime", "fsynctime", p50); math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 || v > maxFsync+1 {
		t.Errorf("fsynctime%s = %v, want a finite positive number of ms, at most mntr's max_fsynctime %v", p50, v, maxFsync)
	}
	if n := sample("fsynctime", "fsynctime_count", ""); n < 1 || n > writes+2 { // and the session's create and close
		t.Errorf("fsynctime_count = %v after %d creates", n, writes)
	}
	if v := sample("sync_processor_batch_size", "sync_processor_batch_size", p50); math.IsNaN(v) || v < 1 || v > writes {
		t.Errorf("sync_processor_batch_size%s = %v, want 1..%d", p50, v, writes)
	}
	if n, sum := sample("sync_processor_batch_size", "sync_processor_batch_size_count", ""),
		sample("sync_processor_batch_size", "sync_processor_batch_size_sum", ""); n < 1 || sum < writes {
		t.Errorf("sync_processor_batch_size: count %v sum %v after %d creates", n, sum, writes)
	}
	if v := sample("dbinittime", "dbinittime", p50); math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 ||
		sample("dbinittime", "dbinittime_count", "") != 1 {
		t.Errorf("dbinittime%s = %v, want the one start-up load in ms", p50, v)
	}
	// Write latencies reach updatelatency at the owner's next tick.
	pollUntil(t, 10*time.Second, "updatelatency_count to count the creates", func() bool {
		scrape()
		return sample("updatelatency", "updatelatency_count", "") >= writes
	})
	for _, q := range []string{`{quantile="0.5"}`, `{quantile="0.9"}`, `{quantile="0.99"}`} {
		if v := sample("updatelatency", "updatelatency", q); math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			t.Errorf("updatelatency%s = %v, want a finite positive number of ms", q, v)
		}
	}
	// And read latencies (the getData, pings) reach readlatency; mntr
	// counts them as Java's does (cnt_readlatency).
	pollUntil(t, 10*time.Second, "readlatency_count to count the reads", func() bool {
		scrape()
		return sample("readlatency", "readlatency_count", "") >= writes
	})
	if v := sample("readlatency", "readlatency", `{quantile="0.5"}`); math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		t.Errorf("readlatency{quantile=\"0.5\"} = %v, want a finite positive number of ms", v)
	}
	if _, ok := jkeys["cnt_readlatency"]; !ok {
		t.Errorf("Java's mntr has no cnt_readlatency")
	}
	zn, _ := strconv.Atoi(mntrKeys(t, after)["cnt_readlatency"])
	if zn < writes {
		t.Errorf("zkgo's mntr cnt_readlatency = %d after %d reads", zn, writes)
	}
}

// checkJavaMetrics scrapes url and checks every family against Java's
// registry as Java's mntr text jtext prints it; ztext is zkgo's mntr,
// whose values Java's registry also has must all be exported.
func checkJavaMetrics(t *testing.T, role, jtext, url, ztext string) {
	t.Helper()
	javaKeys := mntrKeys(t, jtext)
	resp, err := http.Get(url)
	must(t, err)
	fams := parseExposition(t, resp.Body)
	resp.Body.Close()
	zkgoKeys := mntrKeys(t, ztext)
	var summaries, plain int
	for name, f := range fams {
		_, javaAvg := javaKeys["cnt_"+name] // a summary (avg_latency is a gauge)
		_, javaPlain := javaKeys[name]
		switch f.typ {
		case "summary":
			summaries++
			if !javaAvg {
				t.Errorf("%s: %s: a summary zkgo exports, but Java's registry has no summary of that name", role, name)
				continue
			}
			want := []string{`{quantile="0.5"}`}
			if _, adv := javaKeys["p50_"+name]; adv {
				want = []string{`{quantile="0.5"}`, `{quantile="0.9"}`, `{quantile="0.99"}`}
			}
			var quantiles, rest []string
			for _, s := range f.samples {
				if s.name == name {
					quantiles = append(quantiles, s.labels)
				} else {
					rest = append(rest, s.name+s.labels)
				}
			}
			slices.Sort(rest)
			if !slices.Equal(quantiles, want) || !slices.Equal(rest, []string{name + "_count", name + "_sum"}) {
				t.Errorf("%s: %s: samples %v %v, want quantiles %v and %s_count, %s_sum", role, name, quantiles, rest, want, name, name)
			}
		case "gauge", "counter":
			plain++
			if !javaPlain || javaAvg {
				t.Errorf("%s: %s: a %s zkgo exports, but Java's registry has no gauge or counter of that name", role, name, f.typ)
				continue
			}
			want := "gauge"
			if slices.Contains(javaCounters, name) {
				want = "counter"
			}
			if f.typ != want {
				t.Errorf("%s: %s: type %s, Java registers a %s", role, name, f.typ, want)
			}
			if len(f.samples) != 1 || f.samples[0].name != name || f.samples[0].labels != "" {
				t.Errorf("%s: %s: samples %v, want one without labels", role, name, f.samples)
			}
		default:
			t.Errorf("%s: %s: type %s", role, name, f.typ)
		}
	}
	// Everything zkgo measures that Java's registry also has is exported.
	for k := range zkgoKeys {
		base := k
		for _, p := range []string{"avg_", "min_", "max_", "cnt_", "sum_"} {
			if b, ok := strings.CutPrefix(k, p); ok {
				if _, isSummary := javaKeys["cnt_"+b]; isSummary {
					base = b
				}
			}
		}
		_, inJava := javaKeys[k]
		if base != k || inJava {
			_, numErr := strconv.ParseFloat(zkgoKeys[k], 64)
			if _, ok := fams[base]; !ok && numErr == nil { // version, server_state, peer_state are text
				t.Errorf("%s: zkgo's mntr has %s and Java's registry has %s, but /metrics does not", role, k, base)
			}
		}
	}
	if summaries == 0 || plain < 20 {
		t.Errorf("%s: %d summaries and %d gauges/counters exported", role, summaries, plain)
	}
	t.Logf("%s: %d gauges/counters and %d summaries exported, each with Java's name and type", role, plain, summaries)
}

// A metrics port that cannot be bound stops the server, as a failing
// MetricsProvider.start stops Java's (it exits "Cannot boot MetricsProvider").
func TestIntegration_PrometheusPortInUse(t *testing.T) {
	bin := harness.BuildZkgo(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	cfgPath, _ := writeZkgoConfig(t,
		"metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
		"metricsProvider.httpHost=127.0.0.1", "metricsProvider.httpPort="+strconv.Itoa(port))
	cmd := exec.Command(bin, "server", "--config", cfgPath)
	done := make(chan error, 1)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(out.String(), "cannot start the Prometheus metrics provider") {
			t.Errorf("exit %v, output:\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("zkgo kept running with its metrics port taken:\n%s", out.String())
	}
}
