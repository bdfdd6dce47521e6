package node

import (
	"testing"

	"github.com/zkgo/zkgo/wire"
)

// TestClosingConnRequestWhileNotServing: a follower that lost its leader
// (LOOKING: no leader link) or is still syncing with a new one closed its
// clients, but a closeSession read from one of them before the close
// still reaches the owner. It was forwarded over the missing link, a nil
// pointer that crashed the server (seen in a -race run of ./node/); it is
// dropped, as Java's request processors are down while it is not serving.
func TestClosingConnRequestWhileNotServing(t *testing.T) {
	s := startStandalone(t)
	for _, r := range []role{roleLooking, roleSyncing} {
		call(t, s, func() {
			sink := &recordSink{id: 7}
			cc := &clientConn{sink: sink, id: sink.id, remote: "127.0.0.1:1"}
			s.cl.register(cc)
			cc.session, cc.timeoutMs = 0x77, 4000
			s.qs.peer = &peer{learner: newLearnerDriver(s), role: r}
			defer func() { s.qs.peer = nil }()
			cc.closing = true
			var perr any
			func() {
				defer func() { perr = recover() }()
				s.cl.processRequest(cc, &wire.ClientPacket{Kind: wire.KindRequest,
					Header: wire.RequestHeader{Xid: 1, Type: wire.OpCloseSession}})
			}()
			if perr != nil {
				t.Errorf("%v: closeSession of a closing connection: panic %v", r, perr)
			}
			if n := len(s.qs.peer.learner.forwarded[0x77]); n != 0 {
				t.Errorf("%v: %d requests forwarded while not serving", r, n)
			}
			if n := len(cc.pending); n != 0 {
				t.Errorf("%v: %d requests pending while not serving", r, n)
			}
		})
	}
}
