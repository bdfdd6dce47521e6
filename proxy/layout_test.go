package proxy

import (
	"testing"
	"unsafe"
)

// TestConnLayout keeps the per-connection state of the front end in the
// 96-byte size class: every idle session has one (docs/memory.md). It was
// 120 bytes (the 128-byte class), then 104, then 96 with the in-flight
// count in 32 bits and the flags in one word; the direct reply path's
// pointer (direct.go) took it to 104 again, in the 112-byte class, which
// it shared with what a connect burst drops (the decoded batch, the
// accepted socket's address): the loop's four bools are now bits of the
// flags word, 96 bytes.
func TestConnLayout(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 96 {
		t.Fatalf("proxy.conn is %d bytes, want at most 96", n)
	}
}

// TestConfigBoundsMaxOutstanding: a connection counts its requests in
// flight in 32 bits (TestConnLayout), so a MaxOutstanding that could
// overflow the count is refused rather than wrapped.
func TestConfigBoundsMaxOutstanding(t *testing.T) {
	be := newHeldBackend(false)
	if _, err := New(Config{Addr: "127.0.0.1:0", Backend: be, MaxOutstanding: maxOutstandingLimit + 1}); err == nil {
		t.Fatalf("MaxOutstanding %d accepted", maxOutstandingLimit+1)
	}
	if _, err := New(Config{Addr: "127.0.0.1:0", Backend: be, MaxOutstanding: maxOutstandingLimit}); err != nil {
		t.Fatalf("MaxOutstanding %d refused: %v", maxOutstandingLimit, err)
	}
}
