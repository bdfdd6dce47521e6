package main

import (
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/internal/javaprom"
	"github.com/zkgo/zkgo/proxy"
)

// zkgo proxy's defaults: 60 connections per IP, 1000 requests in flight,
// the safe four-letter words and a bounded record; 0 turns a limit off.
func TestProxyFlagDefaults(t *testing.T) {
	o, _, ok := parseProxyFlags([]string{"--upstream", "127.0.0.1:2181"})
	if !ok {
		t.Fatal("flags refused")
	}
	pol := o.cfg.Policy
	if pol.MaxConnsPerIP != 60 || pol.MaxInFlight != 1000 || !slices.Equal(pol.FourLetterWords, proxy.DefaultFourLetterWords) {
		t.Fatalf("defaults: %+v", pol)
	}
	if o.recordMaxSize != 256<<20 || o.recordFiles != 4 || o.recordQueue != 32<<20 {
		t.Fatalf("record defaults: %+v", o)
	}
	o, _, ok = parseProxyFlags([]string{"--upstream", "127.0.0.1:2181", "--max-conns-per-ip", "0", "--max-in-flight", "0",
		"--four-letter-words", ""})
	if !ok {
		t.Fatal("flags refused")
	}
	pol = o.cfg.Policy
	if pol.MaxConnsPerIP != proxy.NoLimit || pol.MaxInFlight != proxy.NoLimit || pol.FourLetterWords == nil ||
		len(pol.FourLetterWords) != 0 {
		t.Fatalf("0 and an empty word list: %+v", pol)
	}
	if _, _, ok := parseProxyFlags([]string{"--upstream", "127.0.0.1:2181", "--max-in-flight", "-1"}); ok {
		t.Fatal("a negative limit is accepted")
	}
}

// TLS flags: --tls-listen needs --tls-config, --listen ” needs
// --tls-listen, and an ssl.* file zkgo cannot honour stops the proxy,
// naming the key.
func TestProxyTLSFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--upstream", "h:1", "--tls-listen", ":2281"},
		{"--upstream", "h:1", "--tls-config", "x"},
		{"--upstream", "h:1", "--listen", ""},
	} {
		if _, _, ok := parseProxyFlags(args); ok {
			t.Errorf("%v accepted", args)
		}
	}
	f := t.TempDir() + "/ssl.properties"
	if err := os.WriteFile(f, []byte("ssl.keyStore.location=/k.jks\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, _, ok := parseProxyFlags([]string{"--upstream", "h:1", "--listen", "", "--tls-listen", "127.0.0.1:0", "--tls-config", f})
	if !ok || o.cfg.TLSListen != "127.0.0.1:0" || o.cfg.Listen != "" {
		t.Fatalf("TLS-only flags: %v %+v", ok, o.cfg)
	}
	cfg := o.cfg
	if _, err := proxyTLS(&cfg, o, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "ssl.keyStore.type") {
		t.Fatalf("a JKS key store: %v", err)
	}
}

// zkgo proxy --metrics serves its metrics as the server serves Java's
// provider: /metrics only, and every family a scraper reads follows
// Java's conventions (the HTTP layer adds no series of its own, such as
// promhttp_metric_handler_errors_total).
func TestProxyMetricsServedAsJava(t *testing.T) {
	srv, addr, err := serveProxyMetrics("127.0.0.1:0", proxy.NewMetrics(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var list []*dto.MetricFamily
	for _, f := range fams {
		list = append(list, f)
	}
	if len(list) < 5 {
		t.Fatalf("%d families", len(list))
	}
	for _, e := range javaprom.Check("zkproxy_", list) {
		t.Error(e)
	}
	other, err := http.Get("http://" + addr.String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	other.Body.Close()
	if other.StatusCode != http.StatusNotFound {
		t.Errorf("GET / answered %s, want 404 (Java serves /metrics only)", other.Status)
	}
}

// --metrics takes host:port or, as Java's provider's httpPort with its
// default httpHost, a port alone on 0.0.0.0; a port out of range stops
// the proxy naming the flag.
func TestProxyMetricsFlag(t *testing.T) {
	for in, want := range map[string]string{"127.0.0.1:9141": "127.0.0.1:9141", "9141": "0.0.0.0:9141",
		":9141": ":9141", "[::1]:7000": "[::1]:7000"} {
		o, _, ok := parseProxyFlags([]string{"--upstream", "h:1", "--metrics", in})
		if !ok || o.metrics != want {
			t.Errorf("--metrics %s: %q %v, want %q", in, o.metrics, ok, want)
		}
	}
	for _, in := range []string{"70000", "-1"} {
		if _, _, ok := parseProxyFlags([]string{"--upstream", "h:1", "--metrics", in}); ok {
			t.Errorf("--metrics %s accepted", in)
		}
	}
}
