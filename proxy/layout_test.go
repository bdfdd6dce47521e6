package proxy

import (
	"testing"
	"unsafe"
)

// TestConnLayout keeps the per-connection state of the front end in the
// 112-byte size class (it was 120 bytes, in the 128-byte class): every
// idle session has one (docs/memory.md).
func TestConnLayout(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 112 {
		t.Fatalf("proxy.conn is %d bytes, want at most 112", n)
	}
}
