package node

import (
	"context"
	"encoding/binary"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/tree"
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
		s.sched.roundStart = time.Now().Add(-time.Hour) // this round's time is spent
		s.cl.processRequest(cc, multiReadPkt(1, "/a", 2000))
		cc.reqSeq++ // the setData is read after the multiRead
		p := queueSetData(s, cc, 2, cc.reqSeq, "later")
		s.sched.applyProposal(p)
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
	fresh := func() { s.sched.roundStart = time.Time{} } // a new round's time
	call(t, s, func() {
		fresh()
		s.cl.processRequest(cc, setDataPkt(1, "/a", "w0"))
		fresh()
		s.cl.processRequest(cc, multiReadPkt(2, "/a", 2000)) // waits for w0's reply
		fresh()
		s.cl.processRequest(cc, setDataPkt(3, "/a", "w")) // proposed at once
		// w0 is durable: its reply, then the multiRead's job.
		fresh()
		s.onDurable(cc.pending[0].prop.entry.Hdr.Zxid)
		if cc.job == nil {
			t.Fatal("the multiRead did not become a job")
		}
		fresh()
		s.cl.processRequest(cc, setDataPkt(4, "/a", "w1")) // queued behind the job
		for cc.job != nil {
			s.sched.jobDeadline = time.Now().Add(time.Hour)
			s.sched.runConnJobs(roundConnOps)
		}
		// w is not durable yet: w1 waits in the queue behind its reply.
		fresh()
		s.cl.processRequest(cc, setDataPkt(5, "/a", "w2"))
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

// orderKind is one kind of request that may become a connection job, and
// what its reply must hold. w1 is the zxid of the session's setData sent
// just before it.
type orderKind struct {
	name  string
	pkt   func(xid wire.Xid) *wire.ClientPacket
	check func(t *testing.T, f frame, w1 wire.Zxid)
}

const (
	orderKids = 5000 // children of /big: more than a reply answered at once
	orderEph  = 5000 // ephemerals of session 0x77
)

func orderKinds() []orderKind {
	names := func(t *testing.T, f frame, want int) {
		t.Helper()
		r := jute.NewReaderMax(f.body, 64<<20)
		var gc wire.GetChildrenResponse
		gc.Decode(&r)
		if r.Err() != nil || len(gc.Children) != want {
			t.Errorf("%d names (%v), want %d", len(gc.Children), r.Err(), want)
		}
	}
	paths := make([]string, 3000)
	for i := range paths {
		paths[i] = "/big/" + strconv.Itoa(i)
	}
	return []orderKind{
		{"sync", func(x wire.Xid) *wire.ClientPacket { return reqPkt(x, wire.OpSync, &wire.SyncRequest{Path: "/a"}) },
			func(t *testing.T, f frame, w1 wire.Zxid) {
				if f.zxid < w1 {
					t.Errorf("sync answered at zxid %v, before its session's earlier write %v", f.zxid, w1)
				}
			}},
		{"multiRead", func(x wire.Xid) *wire.ClientPacket { return multiReadPkt(x, "/a", 2000) },
			func(t *testing.T, f frame, _ wire.Zxid) {
				if got := multiReadData(t, f.body); slices.ContainsFunc(got, func(v string) bool { return v != "1" }) {
					t.Errorf("multiRead read %v..., want its session's earlier write (1) and not its later one", got[:5])
				}
			}},
		{"getChildren", func(x wire.Xid) *wire.ClientPacket {
			return reqPkt(x, wire.OpGetChildren, &wire.GetChildrenRequest{Path: "/big", Watch: true})
		}, func(t *testing.T, f frame, _ wire.Zxid) { names(t, f, orderKids) }},
		{"getChildren2", func(x wire.Xid) *wire.ClientPacket {
			return reqPkt(x, wire.OpGetChildren2, &wire.GetChildren2Request{Path: "/big"})
		}, func(t *testing.T, f frame, _ wire.Zxid) { names(t, f, orderKids) }},
		{"getChildren of a node a large txn changes", func(x wire.Xid) *wire.ClientPacket {
			return reqPkt(x, wire.OpGetChildren, &wire.GetChildrenRequest{Path: "/m"})
		}, func(t *testing.T, f frame, _ wire.Zxid) {
			// Before or after the other session's multi, never halfway.
			r := jute.NewReaderMax(f.body, 64<<20)
			var gc wire.GetChildrenResponse
			gc.Decode(&r)
			if n := len(gc.Children); r.Err() != nil || (n != 0 && n != 2*tree.LargeTxn) {
				t.Errorf("%d children of /m (%v), want 0 or %d: a multi is atomic to readers", n, r.Err(), 2*tree.LargeTxn)
			}
		}},
		{"getAllChildrenNumber", func(x wire.Xid) *wire.ClientPacket {
			return reqPkt(x, wire.OpGetAllChildrenNumber, &wire.GetAllChildrenNumberRequest{Path: "/big"})
		}, func(t *testing.T, f frame, _ wire.Zxid) {
			r := jute.NewReader(f.body)
			var n wire.GetAllChildrenNumberResponse
			n.Decode(&r)
			if n.TotalNumber != orderKids {
				t.Errorf("getAllChildrenNumber %d, want %d", n.TotalNumber, orderKids)
			}
		}},
		{"getEphemerals", func(x wire.Xid) *wire.ClientPacket {
			return reqPkt(x, wire.OpGetEphemerals, &wire.GetEphemeralsRequest{PrefixPath: "/"})
		}, func(t *testing.T, f frame, _ wire.Zxid) { names(t, f, orderEph) }},
		{"setWatches", func(x wire.Xid) *wire.ClientPacket {
			return reqPkt(x, wire.OpSetWatches, &wire.SetWatches{RelativeZxid: 1 << 62, DataWatches: paths,
				ExistWatches: []string{}, ChildWatches: paths})
		}, nil},
		{"setWatches2", func(x wire.Xid) *wire.ClientPacket {
			return reqPkt(x, wire.OpSetWatches2, &wire.SetWatches2{RelativeZxid: 1 << 62, DataWatches: []string{},
				ExistWatches: []string{}, ChildWatches: []string{}, PersistentWatches: paths, PersistentRecursiveWatches: paths[:10]})
		}, nil},
		{"exists", func(x wire.Xid) *wire.ClientPacket {
			return reqPkt(x, wire.OpExists, &wire.ExistsRequest{Path: "/a"})
		}, nil},
	}
}

// TestJobOrderAcrossRounds: every kind of request that may be answered
// across owner rounds, sent by a session between two of its writes (each
// followed by a read), while another session's large multi is applied in
// steps and its small writes and reads go on, a third session with many
// ephemerals closes, and four-letter words and AdminServer listings are
// built: every session's replies come in request order, its reads see its
// earlier writes and not its later ones, and nothing waits forever. Each
// case runs with the other session's large txn sent before and after the
// job, and with the round's time spent as the requests arrive (so that
// they queue behind resume jobs and prep waits) or not.
func TestJobOrderAcrossRounds(t *testing.T) {
	words := []string{"cons", "wchp", "wchc", "dump", "stat"}
	admin := []string{"watches", "watches_by_path", "connections", "dump"}
	for ki, k := range orderKinds() {
		for _, bFirst := range []bool{true, false} {
			for _, spent := range []bool{false, true} {
				name := k.name + "/large-txn-" + map[bool]string{true: "before", false: "after"}[bFirst] +
					map[bool]string{true: "/round-spent", false: ""}[spent]
				t.Run(name, func(t *testing.T) {
					jobOrderCase(t, k, bFirst, spent, words[ki%len(words)], admin[ki%len(admin)])
				})
			}
		}
	}
}

func jobOrderCase(t *testing.T, k orderKind, bFirst, spent bool, word, adminCmd string) {
	s, sinkA, a := sessionWithNodeA(t)
	newConn := func(id uint64, sess wire.SessionID) (*clientConn, *recordSink) {
		sink := &recordSink{id: id}
		cc := &clientConn{sink: sink, id: id, remote: "127.0.0.1:" + strconv.Itoa(int(id))}
		s.cl.register(cc)
		if sess != 0 {
			cc.session, cc.timeoutMs = sess, 30000 // as sessionWithNodeA's
			s.sessions.Add(sess, 30000, s.lp.nowMs())
			s.cl.bySession[sess] = cc
		}
		return cc, sink
	}
	var b, c, fl *clientConn
	var sinkB, sinkC, sinkFL *recordSink
	call(t, s, func() {
		s.cl.bySession[0x77] = a
		for _, p := range []string{"/b", "/big", "/m", "/eph", "/c"} {
			createNode(t, s, p, 0)
		}
		for i := 0; i < orderKids; i++ {
			createNode(t, s, "/big/"+strconv.Itoa(i), 0)
		}
		for i := 0; i < orderEph; i++ {
			createNode(t, s, "/eph/a"+strconv.Itoa(i), 0x77)
		}
		for i := 0; i < 2*tree.LargeTxn; i++ {
			createNode(t, s, "/c/"+strconv.Itoa(i), 0x99)
		}
		b, sinkB = newConn(8, 0x88)
		c, sinkC = newConn(9, 0x99)
		fl, sinkFL = newConn(10, 0)
	})
	// An AdminServer listing gathered across rounds meanwhile.
	adminDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := s.AdminCommand(ctx, adminCmd, nil, AdminExtras{})
		adminDone <- err
	}()
	largeMulti := func(xid wire.Xid) *wire.ClientPacket {
		ops := make([]wire.MultiOp, 2*tree.LargeTxn)
		for i := range ops {
			ops[i] = wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/m/" + strconv.Itoa(i), ACL: tree.OpenACLUnsafe}}
		}
		return reqPkt(xid, wire.OpMulti, &wire.MultiRequest{Ops: ops})
	}
	getData := func(xid wire.Xid, p string) *wire.ClientPacket {
		return reqPkt(xid, wire.OpGetData, &wire.GetDataRequest{Path: p})
	}
	call(t, s, func() {
		if spent {
			s.sched.roundStart = time.Now().Add(-time.Hour)
		}
		if bFirst {
			s.cl.processRequest(b, largeMulti(1))
		}
		s.cl.processRequest(a, setDataPkt(1, "/a", "1"))
		s.cl.processRequest(a, k.pkt(2))
		if !bFirst {
			s.cl.processRequest(b, largeMulti(1))
		}
		s.cl.processRequest(c, setDataPkt(1, "/c", "c"))
		s.cl.processRequest(a, setDataPkt(3, "/a", "2"))
		s.cl.processRequest(b, setDataPkt(2, "/b", "b"))
		s.resp.fourLetter(fl, word, nil)
		s.cl.processRequest(a, getData(4, "/a"))
		s.cl.processRequest(c, getData(2, "/c"))
		s.cl.processRequest(c, reqPkt(3, wire.OpCloseSession, nil))
		s.cl.processRequest(b, getData(3, "/b"))
	})
	// The next round, while the job (if any) runs: more of the session's
	// writes, each followed by a read.
	call(t, s, func() {
		if spent {
			s.sched.roundStart = time.Now().Add(-time.Hour)
		}
		s.cl.processRequest(a, setDataPkt(5, "/a", "3"))
		s.cl.processRequest(a, getData(6, "/a"))
		s.cl.processRequest(a, setDataPkt(7, "/a", "4"))
		s.cl.processRequest(a, getData(8, "/a"))
	})
	waitReplies(t, s, sinkA, 1, 2, 3, 4, 5, 6, 7, 8)
	waitReplies(t, s, sinkB, 1, 2, 3)
	waitReplies(t, s, sinkC, 1, 2, 3)
	ra := replies(sinkA)
	for _, f := range append(append(slices.Clone(ra), replies(sinkB)...), replies(sinkC)...) {
		if f.err != wire.ErrOk {
			t.Errorf("reply %d: %v", f.xid, f.err)
		}
	}
	data := func(f frame) string {
		r := jute.NewReader(f.body)
		var gd wire.GetDataResponse
		gd.Decode(&r)
		return string(gd.Data)
	}
	// Each read sees the session's write just before it, not the next.
	for i, want := range map[int]string{3: "2", 5: "3", 7: "4"} {
		if d := data(ra[i]); d != want {
			t.Errorf("getData %d read %q, want its session's write just before it (%s)", ra[i].xid, d, want)
		}
	}
	for _, i := range []int{2, 4, 6} {
		if ra[i].zxid <= ra[i-2].zxid {
			t.Errorf("write %d has zxid %v, not after the session's previous write: proposed out of order", ra[i].xid, ra[i].zxid)
		}
	}
	if k.check != nil {
		k.check(t, ra[1], ra[0].zxid)
	}
	waitFor(t, func() bool { return len(sinkFL.sent()) > 0 })
	select {
	case err := <-adminDone:
		if err != nil {
			t.Errorf("admin %s: %v", adminCmd, err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("admin %s: no answer", adminCmd)
	}
	call(t, s, func() {
		if n := s.tree.SessionEphemeralCount(0x99); n != 0 {
			t.Errorf("the closed session has %d ephemerals left", n)
		}
	})
}

// TestQueuedWritesProposedTogether: writes a session pipelines while its
// job runs wait in its queue; once the job is done they are proposed
// together, in order, each keeping its place for its reply, not one per
// commit (each only once the one before it is applied).
func TestQueuedWritesProposedTogether(t *testing.T) {
	s, sink, cc := sessionWithNodeA(t)
	fresh := func() { s.sched.roundStart = time.Time{} } // a new round's time
	call(t, s, func() {
		fresh()
		s.cl.processRequest(cc, setDataPkt(1, "/a", "w0"))
		fresh()
		s.cl.processRequest(cc, multiReadPkt(2, "/a", 2000))
		fresh()
		s.onDurable(cc.pending[0].prop.entry.Hdr.Zxid) // w0's reply, then the multiRead's job
		if cc.job == nil {
			t.Fatal("the multiRead did not become a job")
		}
		for x := wire.Xid(3); x <= 5; x++ {
			fresh()
			s.cl.processRequest(cc, setDataPkt(x, "/a", "w"+strconv.Itoa(int(x))))
		}
		for cc.job != nil {
			s.sched.jobDeadline = time.Now().Add(time.Hour)
			s.sched.runConnJobs(roundConnOps)
		}
		if len(cc.pending) != 3 {
			t.Fatalf("%d requests queued after the job, want the 3 writes", len(cc.pending))
		}
		for i, it := range cc.pending {
			if it.prop == nil {
				t.Errorf("write %d is still waiting to be proposed", i+3)
			} else if i > 0 && cc.pending[i-1].prop != nil && it.prop.seq <= cc.pending[i-1].prop.seq {
				t.Errorf("write %d proposed out of order", i+3)
			}
		}
	})
	waitReplies(t, s, sink, 1, 2, 3, 4, 5)
	rs := replies(sink)
	for i := 3; i < len(rs); i++ {
		if rs[i].zxid <= rs[i-1].zxid {
			t.Errorf("reply %d has zxid %v, not after %v", rs[i].xid, rs[i].zxid, rs[i-1].zxid)
		}
	}
	call(t, s, func() {
		if d := string(s.tree.Get("/a").Data()); d != "w5" {
			t.Errorf("/a holds %q, want w5", d)
		}
	})
}
