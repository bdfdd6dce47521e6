package node

import (
	"sync/atomic"
	"testing"

	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

// laterSink is a recordSink that tells Send from SendLater.
type laterSink struct {
	recordSink
	sends, laters atomic.Int64
}

func (l *laterSink) Send(b []byte, c int) bool {
	l.sends.Add(1)
	return l.recordSink.Send(b, c)
}

func (l *laterSink) SendLater(b []byte, c int) bool {
	l.laters.Add(1)
	return l.recordSink.Send(b, c)
}

// TestFlushLeavesBusyRoundsToTheLoops (issue 19 point 4): a round that
// answers one connection sends with Send, which the front end may write
// from the owner itself (no hand-off to an event loop); a round that
// answers several leaves the writes to the loops (SendLater), which do
// them in parallel with the owner, so throughput does not pay for the
// serial client's saving.
func TestFlushLeavesBusyRoundsToTheLoops(t *testing.T) {
	s := startStandalone(t)
	sinks := []*laterSink{{recordSink: recordSink{id: 7}}, {recordSink: recordSink{id: 8}}}
	ccs := make([]*clientConn, len(sinks))
	get := func(xid int) []wire.ClientPacket {
		return []wire.ClientPacket{{Kind: wire.KindRequest, Header: wire.RequestHeader{Xid: wire.Xid(xid), Type: wire.OpGetData},
			Body: &wire.GetDataRequest{Path: "/d"}}}
	}
	call(t, s, func() {
		z := s.tree.LastZxid + 1
		s.tree.Apply(&wire.TxnEntry{Hdr: wire.TxnHeader{Zxid: z, Type: wire.OpCreate},
			Body: &wire.CreateTxn{Path: "/d", Data: []byte("x"), ACL: tree.OpenACLUnsafe, ParentCVersion: -1}})
		s.wr.zxid = z
		for i, sk := range sinks {
			cc := &clientConn{sink: sk, id: sk.id, remote: "127.0.0.1:1"}
			s.cl.register(cc)
			cc.session, cc.timeoutMs = s.sessions.NextID(), 30000
			s.sessions.Add(cc.session, 30000, s.lp.nowMs())
			ccs[i] = cc
		}
		// One connection answered in this round.
		s.handleEvent(event{cc: ccs[0], pkts: get(1)})
		s.cl.flush()
		if sinks[0].sends.Load() != 1 || sinks[0].laters.Load() != 0 {
			t.Errorf("lone reply: %d Send, %d SendLater; want 1 Send", sinks[0].sends.Load(), sinks[0].laters.Load())
		}
		// Two connections answered in one round.
		s.handleEvent(event{cc: ccs[0], pkts: get(2)})
		s.handleEvent(event{cc: ccs[1], pkts: get(3)})
		s.cl.flush()
		for i, sk := range sinks {
			if sk.laters.Load() != 1 {
				t.Errorf("connection %d in a busy round: %d SendLater, want 1", i, sk.laters.Load())
			}
		}
	})
}
