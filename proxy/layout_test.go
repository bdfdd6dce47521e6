package proxy

import (
	"testing"
	"unsafe"
)

// TestConnLayout keeps the per-connection state of the front end in the
// 96-byte size class (it was 120 bytes, in the 128-byte class, then 104 in
// the 112-byte class): every idle session has one (docs/memory.md).
func TestConnLayout(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 96 {
		t.Fatalf("proxy.conn is %d bytes, want at most 96", n)
	}
}
