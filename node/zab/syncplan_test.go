package zab

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/wire"
)

func zx(epoch, counter uint32) wire.Zxid { return wire.MakeZxid(epoch, counter) }

func committedOf(zs ...wire.Zxid) []Committed {
	out := make([]Committed, len(zs))
	for i, z := range zs {
		out[i] = NewCommitted(entry(z, fmt.Sprintf("/n%d", i)), nil)
	}
	return out
}

func span1(from, to uint32) []wire.Zxid {
	var out []wire.Zxid
	for c := from; c <= to; c++ {
		out = append(out, zx(1, c))
	}
	return out
}

// render shows packets as "DIFF 1:7", "PROPOSAL 1:5", "COMMIT 1:5".
func render(pkts []wire.QuorumPacket) string {
	parts := make([]string, len(pkts))
	for i, qp := range pkts {
		parts[i] = fmt.Sprintf("%v %d:%d", qp.Type, qp.Zxid.Epoch(), qp.Zxid.Counter())
	}
	return strings.Join(parts, ", ")
}

func pc(zs ...wire.Zxid) string {
	var parts []string
	for _, z := range zs {
		parts = append(parts, fmt.Sprintf("PROPOSAL %d:%d, COMMIT %d:%d", z.Epoch(), z.Counter(), z.Epoch(), z.Counter()))
	}
	return strings.Join(parts, ", ")
}

func TestPlanSync(t *testing.T) {
	window := committedOf(span1(3, 7)...) // 1:3 .. 1:7
	last := zx(1, 7)
	for _, tc := range []struct {
		name string
		in   SyncInput
		want SyncPlan // Packets compared via pkts
		pkts string
	}{
		{"forced snapshot", SyncInput{Peer: zx(1, 5), LastProcessed: last, Committed: window, ForceSnap: true, TxnLog: true},
			SyncPlan{Mode: wire.PacketSnap, Reason: SyncForced, LastSeen: last}, ""},
		{"in step", SyncInput{Peer: last, LastProcessed: last, Committed: window, TxnLog: true},
			SyncPlan{Mode: wire.PacketDiff, Reason: SyncInStep, LastSeen: last}, "DIFF 1:7"},
		{"in step with an empty committed log", SyncInput{Peer: last, LastProcessed: last},
			SyncPlan{Mode: wire.PacketDiff, Reason: SyncInStep, LastSeen: last}, "DIFF 1:7"},
		{"ahead in the same epoch: TRUNC to the newest committed", SyncInput{Peer: zx(1, 9), LastProcessed: last, Committed: window},
			SyncPlan{Mode: wire.PacketTrunc, Reason: SyncAhead, LastSeen: last}, "TRUNC 1:7"},
		{"ahead in a later epoch", SyncInput{Peer: zx(2, 3), LastProcessed: last, Committed: window},
			SyncPlan{Mode: wire.PacketTrunc, Reason: SyncAhead, LastSeen: last}, "TRUNC 1:7"},
		{"behind within the committed log: DIFF and the txns after it", SyncInput{Peer: zx(1, 4), LastProcessed: last, Committed: window},
			SyncPlan{Mode: wire.PacketDiff, Reason: SyncCommittedLog, LastSeen: last}, "DIFF 1:7, " + pc(span1(5, 7)...)},
		{"at the oldest committed txn", SyncInput{Peer: zx(1, 3), LastProcessed: last, Committed: window},
			SyncPlan{Mode: wire.PacketDiff, Reason: SyncCommittedLog, LastSeen: last}, "DIFF 1:7, " + pc(span1(4, 7)...)},
		{"a txn the leader does not have, same epoch: TRUNC to the one before, then the rest",
			SyncInput{Peer: zx(1, 5), LastProcessed: zx(1, 6), Committed: committedOf(zx(1, 3), zx(1, 4), zx(1, 6))},
			SyncPlan{Mode: wire.PacketTrunc, Reason: SyncCommittedLog, LastSeen: zx(1, 6)}, "TRUNC 1:4, " + pc(zx(1, 6))},
		{"a txn of an epoch the leader moved past: no TRUNC across epochs, SNAP",
			SyncInput{Peer: zx(1, 5), LastProcessed: zx(2, 2), Committed: committedOf(zx(1, 3), zx(1, 4), zx(2, 1), zx(2, 2))},
			SyncPlan{Mode: wire.PacketSnap, Reason: SyncTruncAcrossEpochs, LastSeen: zx(2, 2)}, ""},
		{"a learner at a new epoch's start (counter 0) within the log: DIFF",
			SyncInput{Peer: zx(2, 0), LastProcessed: zx(2, 2), Committed: committedOf(append(span1(3, 7), zx(2, 1), zx(2, 2))...)},
			SyncPlan{Mode: wire.PacketDiff, Reason: SyncCommittedLog, LastSeen: zx(2, 2)}, "DIFF 2:2, " + pc(zx(2, 1), zx(2, 2))},
		{"a learner at a new epoch's start past the log: unhandled, SNAP", SyncInput{Peer: zx(2, 0), LastProcessed: last, Committed: window, TxnLog: true},
			SyncPlan{Mode: wire.PacketSnap, Reason: SyncUnhandled, LastSeen: last}, ""},
		{"older than the committed log, txn log syncs off", SyncInput{Peer: zx(1, 1), LastProcessed: last, Committed: window},
			SyncPlan{Mode: wire.PacketSnap, Reason: SyncUnhandled, LastSeen: last}, ""},
		{"older than the committed log: read the txn log first", SyncInput{Peer: zx(1, 1), LastProcessed: last, Committed: window, TxnLog: true},
			SyncPlan{ReadTxnLog: true}, ""},
		{"older than an empty committed log: read the txn log first", SyncInput{Peer: zx(1, 1), LastProcessed: last, TxnLog: true},
			SyncPlan{ReadTxnLog: true}, ""},
		{"the txn log cannot serve it", SyncInput{Peer: zx(1, 1), LastProcessed: last, Committed: window, TxnLog: true, LogRead: true},
			SyncPlan{Mode: wire.PacketSnap, Reason: SyncTxnLogUnusable, LastSeen: last}, ""},
		{"from the txn log, then the committed log",
			SyncInput{Peer: zx(1, 1), LastProcessed: last, Committed: window, TxnLog: true, LogRead: true, FromLog: committedOf(span1(1, 5)...)},
			SyncPlan{Mode: wire.PacketDiff, Reason: SyncTxnLog, LastSeen: last}, "DIFF 1:7, " + pc(span1(2, 7)...)},
		{"the txn log ends before the committed log starts",
			SyncInput{Peer: zx(1, 1), LastProcessed: last, Committed: window, TxnLog: true, LogRead: true, FromLog: committedOf(span1(1, 2)...)},
			SyncPlan{Mode: wire.PacketSnap, Reason: SyncLogGap, LastSeen: last, EndOfLog: zx(1, 2)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := PlanSync(tc.in)
			if g := render(got.Packets); g != tc.pkts {
				t.Errorf("packets\n  %s\nwant\n  %s", g, tc.pkts)
			}
			if got.ReadTxnLog != tc.want.ReadTxnLog || got.Mode != tc.want.Mode || got.Reason != tc.want.Reason ||
				got.LastSeen != tc.want.LastSeen || got.EndOfLog != tc.want.EndOfLog {
				t.Errorf("plan %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPlanSyncBoundsAndData(t *testing.T) {
	window := committedOf(span1(3, 7)...)
	p := PlanSync(SyncInput{Peer: zx(1, 5), LastProcessed: zx(1, 7), Committed: window})
	if p.MinCommitted != zx(1, 3) || p.MaxCommitted != zx(1, 7) {
		t.Fatalf("bounds %v %v", p.MinCommitted, p.MaxCommitted)
	}
	var datas [][]byte
	for _, qp := range p.Packets {
		if qp.Type == wire.PacketProposal {
			datas = append(datas, qp.Data)
		}
	}
	if len(datas) != 2 || !bytes.Equal(datas[0], window[3].Data()) || !bytes.Equal(datas[1], window[4].Data()) {
		t.Fatal("PROPOSAL data is not the txns' encoding")
	}
	if e := PlanSync(SyncInput{Peer: 9, LastProcessed: 9}); len(e.Packets) != 1 || e.Packets[0].Type != wire.PacketDiff || e.MinCommitted != 9 || e.MaxCommitted != 9 {
		t.Fatalf("empty committed log: %+v", e)
	}
}

func TestSyncThrottle(t *testing.T) {
	th := SyncThrottle{Max: 2}
	steps := []struct {
		op     string // "begin", "exempt", "end"
		ok     bool
		inProg int
	}{
		{"begin", true, 1},
		{"begin", true, 2},
		{"begin", false, 2}, // an observer past the limit
		{"exempt", true, 3}, // a follower: counted past the limit
		{"end", true, 2},
		{"begin", false, 2},
		{"end", true, 1},
		{"begin", true, 2},
	}
	for i, s := range steps {
		ok := true
		switch s.op {
		case "begin":
			ok = th.Begin(false)
		case "exempt":
			ok = th.Begin(true)
		case "end":
			th.End()
		}
		if ok != s.ok || th.InProgress() != s.inProg {
			t.Fatalf("step %d %s: ok %v, in progress %d; want %v, %d", i, s.op, ok, th.InProgress(), s.ok, s.inProg)
		}
	}
	zero := SyncThrottle{}
	if zero.Begin(false) || !zero.Begin(true) {
		t.Fatal("Max 0: only exempt syncs")
	}
}
