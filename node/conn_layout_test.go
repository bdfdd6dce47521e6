package node

import (
	"testing"
	"unsafe"

	"github.com/zkgo/zkgo/wire"
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

// TestConnectReplyFitsItsBuffer: a connection's ConnectResponse (with or
// without the readOnly byte, valid or not) is written into the one
// connectReplyCap buffer it starts with, never grown: growing it from
// empty left 8-, 16- and 32-byte buffers behind (5 allocations), in the
// size classes of the accepted sockets' long-lived addresses, where a
// connect burst's garbage left holes among them (docs/memory.md). The
// reply still decodes.
func TestConnectReplyFitsItsBuffer(t *testing.T) {
	s := startStandalone(t)
	call(t, s, func() {
		for _, tc := range []struct{ valid, oldClient bool }{{true, false}, {true, true}, {false, false}, {false, true}} {
			sk := &recordSink{id: 1}
			cc := &clientConn{sink: sk, id: sk.id, remote: "127.0.0.1:1"}
			s.cl.sendConnectResponse(cc, 0x1234_5678_9abc, 30000, tc.valid, tc.oldClient)
			if cap(cc.out) != connectReplyCap || len(cc.out) > connectReplyCap {
				t.Errorf("valid=%v oldClient=%v: reply of %d bytes in a buffer of %d, want one of %d",
					tc.valid, tc.oldClient, len(cc.out), cap(cc.out), connectReplyCap)
			}
			// The buffer and the password: nothing grown and dropped.
			allocs := testing.AllocsPerRun(20, func() {
				cc.out, cc.inDirty = nil, false
				s.cl.sendConnectResponse(cc, 0x1234_5678_9abc, 30000, tc.valid, tc.oldClient)
			})
			s.cl.dirty = s.cl.dirty[:0]
			if allocs > 2 {
				t.Errorf("valid=%v oldClient=%v: %v allocations for a ConnectResponse, want at most 2", tc.valid, tc.oldClient, allocs)
			}
			r, err := wire.DecodeConnectReply(cc.out[wire.FrameHeaderSize:])
			if err != nil {
				t.Fatalf("valid=%v oldClient=%v: %v", tc.valid, tc.oldClient, err)
			}
			if want := tc.valid; (r.SessionID == 0x1234_5678_9abc) != want || r.HasReadOnly == tc.oldClient {
				t.Errorf("valid=%v oldClient=%v: decoded %+v", tc.valid, tc.oldClient, r)
			}
		}
	})
}
