package compattest

import (
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/compat-tests/xchk"
	"github.com/zkgo/zkgo/jute"
)

// Helpers shared by the client compat tests (raw wire, kazoo, Java client,
// C client, zkCli, flood).

// servingTargets is targets once each server serves sessions: Java answers
// ruok before its ZooKeeperServer runs and closes connections made in that
// window, so wait for srvr to report a version.
func servingTargets(t *testing.T) []target {
	t.Helper()
	tgs := targets(t)
	for _, tg := range tgs {
		waitServing(t, tg.name, tg.addr)
	}
	return tgs
}

// waitServing waits until the server at addr serves sessions (srvr
// reports a version).
func waitServing(t *testing.T, name, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := harness.FourLetter(addr, "srvr")
		if err == nil && strings.HasPrefix(out, "Zookeeper version:") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not serving: %q %v", name, out, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lineDiff shows how got differs from want, line by line ("-" only in
// want, "+" only in got, "^" the words that differ), as xchk.Diff.
func lineDiff(want, got string) string {
	return xchk.Diff(strings.Split(want, "\n"), strings.Split(got, "\n"), " ")
}

// rawBytes is a request body sent exactly as given (for malformed
// requests); it decodes nothing.
type rawBytes []byte

func (b rawBytes) Encode(w *jute.Writer) { w.Raw(b) }
func (rawBytes) Decode(*jute.Reader)     {}
func (b rawBytes) Size() int             { return len(b) }
func (rawBytes) Walk(jute.Visitor)       {}
func (rawBytes) JuteName() string        { return "raw" }

// checkFor polls cond until it holds, failing t after timeout.
func checkFor(t *testing.T, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
