package proxy

import (
	"testing"
	"unsafe"
)

// TestConnLayout keeps the per-connection state of the front end in the
// 128-byte size class: every idle session has one (docs/memory.md).
func TestConnLayout(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 128 {
		t.Fatalf("proxy.conn is %d bytes, want at most 128", n)
	}
}
