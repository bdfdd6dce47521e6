package node

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// Issue 14: the ordering of a session's requests across owner rounds
// (docs/limits.md, "Order across rounds").

// frame is one reply (or event) a recordSink got.
type frame struct {
	xid  wire.Xid
	zxid wire.Zxid
	err  wire.ErrCode
	body []byte
}

func frames(b []byte) []frame {
	var out []frame
	for len(b) >= 20 {
		n := int(binary.BigEndian.Uint32(b))
		r := jute.NewReaderMax(b[4:4+n], 64<<20)
		var h wire.ReplyHeader
		h.Decode(&r)
		out = append(out, frame{xid: h.Xid, zxid: h.Zxid, err: h.Err, body: b[4+16 : 4+n]})
		b = b[4+n:]
	}
	return out
}

// replies returns sink's replies (not watch events nor pings).
func replies(sink *recordSink) []frame {
	var out []frame
	for _, f := range frames(sink.sent()) {
		if f.xid >= 0 {
			out = append(out, f)
		}
	}
	return out
}

func reqPkt(xid wire.Xid, op wire.OpCode, body jute.Record) *wire.ClientPacket {
	return &wire.ClientPacket{Kind: wire.KindRequest, Header: wire.RequestHeader{Xid: xid, Type: op}, Body: body}
}

func setDataPkt(xid wire.Xid, path, v string) *wire.ClientPacket {
	return reqPkt(xid, wire.OpSetData, &wire.SetDataRequest{Path: path, Data: []byte(v), Version: -1})
}

func multiReadPkt(xid wire.Xid, path string, n int) *wire.ClientPacket {
	ops := make([]wire.MultiOp, n)
	for i := range ops {
		ops[i] = wire.MultiOp{Type: wire.OpGetData, Op: &wire.GetDataRequest{Path: path}}
	}
	return reqPkt(xid, wire.OpMultiRead, &wire.MultiRequest{Ops: ops})
}

// multiReadData returns the data each getData of a multiRead reply read.
func multiReadData(t *testing.T, body []byte) []string {
	t.Helper()
	r := jute.NewReaderMax(body, 64<<20)
	var m wire.MultiResponse
	m.Decode(&r)
	if r.Err() != nil {
		t.Fatalf("multiRead reply: %v", r.Err())
	}
	var out []string
	for _, res := range m.Results {
		gd, ok := res.Result.(*wire.GetDataResponse)
		if !ok {
			t.Fatalf("multiRead result %T (%v)", res.Result, res.Err)
		}
		out = append(out, string(gd.Data))
	}
	return out
}

// TestMultiReadNeverSeesLaterWriteOfItsSession: a session's long
// multiRead waits in its queue (the round's time is spent), then the
// session sends a setData that commits before the multiRead's turn. Once
// taken from the queue the multiRead becomes a job; the write must wait
// until the job has read everything (its request came later). At 6076afb
// the job was numbered with the last request read, not its own, so the
// write was applied first and the multiRead read it.
func TestMultiReadNeverSeesLaterWriteOfItsSession(t *testing.T) {
	s, sink, cc := sessionWithNodeA(t)
	call(t, s, func() {
		s.roundStart = time.Now().Add(-time.Hour) // this round's time is spent
		s.processRequest(cc, multiReadPkt(1, "/a", 2000))
		cc.reqSeq++ // the setData is read after the multiRead
		p := &proposal{cc: cc, xid: 2, op: wire.OpSetData, start: time.Now(), seq: cc.reqSeq, entry: wire.TxnEntry{
			Hdr:  wire.TxnHeader{ClientID: 0x77, Cxid: 2, Zxid: s.nextZxid(), Type: wire.OpSetData},
			Body: &wire.SetDataTxn{Path: "/a", Data: []byte("later"), Version: 1}}}
		cc.pending = append(cc.pending, pendingItem{prop: p})
		s.outstandingN++
		s.applyProposal(p)
	})
	waitReplies(t, s, sink, 1, 2)
	got := multiReadData(t, replies(sink)[0].body)
	if i := slices.Index(got, "later"); i >= 0 {
		t.Fatalf("the multiRead's read %d of %d saw the setData its session sent after it", i, len(got))
	}
}

// TestSessionWritesProposedInOrder: a session's writes are proposed in
// the order it sent them. A write read while the session's job runs waits
// in its queue; one read after the job, while that queued write is still
// behind an earlier write's reply, must not be proposed ahead of it. At
// 6076afb it was: the later write took the lower zxid (its version checks
// ran first), and, its apply then waiting for the earlier write's reply
// while that write's txn waited behind it, neither was ever answered.
func TestSessionWritesProposedInOrder(t *testing.T) {
	s, sink, cc := sessionWithNodeA(t)
	fresh := func() { s.roundStart = time.Time{} } // a new round's time
	call(t, s, func() {
		fresh()
		s.processRequest(cc, setDataPkt(1, "/a", "w0"))
		fresh()
		s.processRequest(cc, multiReadPkt(2, "/a", 2000)) // waits for w0's reply
		fresh()
		s.processRequest(cc, setDataPkt(3, "/a", "w")) // proposed at once
		// w0 is durable: its reply, then the multiRead's job.
		fresh()
		s.onDurable(cc.pending[0].prop.entry.Hdr.Zxid)
		if cc.job == nil {
			t.Fatal("the multiRead did not become a job")
		}
		fresh()
		s.processRequest(cc, setDataPkt(4, "/a", "w1")) // queued behind the job
		for cc.job != nil {
			s.jobDeadline = time.Now().Add(time.Hour)
			s.runConnJobs(roundConnOps)
		}
		// w is not durable yet: w1 waits in the queue behind its reply.
		fresh()
		s.processRequest(cc, setDataPkt(5, "/a", "w2"))
	})
	waitReplies(t, s, sink, 1, 2, 3, 4, 5)
	rs := replies(sink)
	for i := 1; i < len(rs); i++ {
		if rs[i].zxid < rs[i-1].zxid {
			t.Errorf("reply %d has zxid %v, before %v of reply %d: the session's writes were proposed out of order",
				rs[i].xid, rs[i].zxid, rs[i-1].zxid, rs[i-1].xid)
		}
	}
	call(t, s, func() {
		if d := string(s.tree.Get("/a").Data()); d != "w2" {
			t.Errorf("/a holds %q, want the last write's w2", d)
		}
	})
	if got := multiReadData(t, rs[1].body); slices.ContainsFunc(got, func(v string) bool { return v != "w0" }) {
		t.Errorf("the multiRead read %v, want w0 throughout", got[:min(len(got), 5)])
	}
}
