package main

import (
	"slices"
	"testing"

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
