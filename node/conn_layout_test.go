package node

import (
	"testing"
	"unsafe"
)

// TestClientConnLayout keeps the server's per-connection state in the
// 384-byte size class (it was 472 bytes, in the 480-byte class): every
// idle session has one (docs/memory.md).
func TestClientConnLayout(t *testing.T) {
	if n := unsafe.Sizeof(clientConn{}); n > 384 {
		t.Fatalf("clientConn is %d bytes, want at most 384", n)
	}
	if n := unsafe.Sizeof(connStats{}); n > 88 {
		t.Fatalf("connStats is %d bytes, want at most 88", n)
	}
}
