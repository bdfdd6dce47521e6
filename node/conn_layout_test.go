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

// TestProposalLayout keeps a proposal out of clientConn's 384-byte size
// class: a connect burst makes one createSession proposal per connection,
// interleaved with the clientConns, and at 368 bytes they shared spans, so
// that after the burst the dropped proposals left holes among the
// long-lived clientConns that the idle sessions never refilled (≈ 80 B a
// session of RSS, docs/memory.md). At 352 bytes it has a class of its own.
func TestProposalLayout(t *testing.T) {
	if n := unsafe.Sizeof(proposal{}); n > 352 {
		t.Fatalf("proposal is %d bytes, want at most 352", n)
	}
}
