package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

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
