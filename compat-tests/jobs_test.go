package compattest

import (
	"bufio"
	"encoding/binary"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/internal/rawzk"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// Large requests are worked on across owner rounds (issue 14); these tests
// check that what clients observe does not change: one session's replies
// keep their order, a multi is seen whole or not at all, and the large
// listings and replies are complete.

var open2 = []wire.ACL{{Perms: int32(wire.PermAll), ID: wire.ID{Scheme: "world", ID: "anyone"}}}

// b36 is a short distinct name for i.
func b36(i int) string { return strconv.FormatInt(int64(i), 36) }

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + b36(i)
	}
	return out
}

func dialRaw(t *testing.T, addr string) *rawzk.Client {
	t.Helper()
	c, err := rawzk.Dial(addr, rawzk.Options{TimeoutMs: 30000})
	must(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func doOK(t *testing.T, c *rawzk.Client, op wire.OpCode, body, resp jute.Record) {
	t.Helper()
	h, err := c.Do(op, body, resp)
	if err != nil || h.Err != wire.ErrOk {
		t.Fatalf("%v: %v %v", op, h.Err, err)
	}
}

// createMany creates n children of parent (multis of at most 1000 ops).
func createMany(t *testing.T, c *rawzk.Client, parent string, n int, mode wire.CreateMode) {
	t.Helper()
	for i := 0; i < n; i += 1000 {
		var ops []wire.MultiOp
		for j := i; j < min(n, i+1000); j++ {
			ops = append(ops, wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: parent + "/" + b36(j), ACL: open2, Flags: int32(mode)}})
		}
		doOK(t, c, wire.OpMulti, &wire.MultiRequest{Ops: ops}, nil)
	}
}

// TestLargeRequestsKeepSessionOrder pipelines large and small requests on
// one session: every reply comes in request order, the events a
// setWatches fires come before its reply, and the large replies are
// complete.
func TestLargeRequestsKeepSessionOrder(t *testing.T) {
	z := harness.StartZkgo(t, nil)
	c := dialRaw(t, z.Addr)
	doOK(t, c, wire.OpCreate, &wire.CreateRequest{Path: "/o", ACL: open2}, nil)
	const kids = 6000
	createMany(t, c, "/o", kids, 0)

	missing := names("/o/missing", 3000)
	present := names("/o/", kids)
	type req struct {
		op   wire.OpCode
		body jute.Record
	}
	var ops []wire.MultiOp
	for i := 0; i < 3000; i++ {
		ops = append(ops, wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/o/m-" + b36(i), ACL: open2}})
	}
	var reads []wire.MultiOp
	for i := 0; i < 2000; i++ {
		reads = append(reads, wire.MultiOp{Type: wire.OpGetData, Op: &wire.GetDataRequest{Path: present[i]}})
	}
	reqs := []req{
		{wire.OpSetWatches, &wire.SetWatches{RelativeZxid: 1 << 62, DataWatches: append(slices.Clone(present), missing...),
			ExistWatches: []string{}, ChildWatches: []string{}}},
		{wire.OpCreate, &wire.CreateRequest{Path: "/o/after", ACL: open2}},
		{wire.OpGetData, &wire.GetDataRequest{Path: "/o/after"}},
		{wire.OpMulti, &wire.MultiRequest{Ops: ops}},
		{wire.OpGetChildren2, &wire.GetChildren2Request{Path: "/o"}},
		{wire.OpMultiRead, &wire.MultiRequest{Ops: reads}},
		{wire.OpSetData, &wire.SetDataRequest{Path: "/o/after", Data: []byte("x"), Version: -1}},
		{wire.OpExists, &wire.ExistsRequest{Path: "/o/m-0"}},
	}
	var xids []wire.Xid
	var chans []<-chan rawzk.Reply
	before := len(c.Stream())
	for _, r := range reqs {
		x := c.NextXid()
		ch, err := c.Send(x, r.op, r.body)
		must(t, err)
		xids = append(xids, x)
		chans = append(chans, ch)
	}
	replies := make([]rawzk.Reply, len(chans))
	for i, ch := range chans {
		select {
		case r, ok := <-ch:
			if !ok {
				t.Fatalf("connection closed: %v", c.Err())
			}
			if r.Header.Err != wire.ErrOk {
				t.Fatalf("%v: %v", reqs[i].op, r.Header.Err)
			}
			replies[i] = r
		case <-time.After(time.Minute):
			t.Fatalf("%v: no reply", reqs[i].op)
		}
	}
	// Order on the wire: the replies in request order, the setWatches
	// events (one NodeDeleted per missing path) before its reply.
	var got []wire.Xid
	deleted := 0
	for _, p := range c.Stream()[before:] {
		switch {
		case p.Event != nil:
			if len(got) == 0 && p.Event.Type == wire.EventNodeDeleted {
				deleted++
			}
		case p.Header.Xid > 0:
			got = append(got, p.Header.Xid)
		}
	}
	if !slices.Equal(got, xids) {
		t.Fatalf("replies came as %v, sent as %v", got, xids)
	}
	if deleted != len(missing) {
		t.Fatalf("%d NodeDeleted events before the setWatches reply, want %d", deleted, len(missing))
	}
	var gc2 wire.GetChildren2Response
	rd := jute.NewReaderMax(replies[4].Body, 64<<20)
	gc2.Decode(&rd)
	if rd.Err() != nil || len(gc2.Children) != kids+1+len(ops) || gc2.Stat.NumChildren != int32(len(gc2.Children)) {
		t.Fatalf("getChildren2: %d children (stat %d), want %d: %v", len(gc2.Children), gc2.Stat.NumChildren, kids+1+len(ops), rd.Err())
	}
	var mr wire.MultiResponse
	rd = jute.NewReaderMax(replies[5].Body, 64<<20)
	mr.Decode(&rd)
	if rd.Err() != nil || len(mr.Results) != len(reads) {
		t.Fatalf("multiRead: %d results, want %d: %v", len(mr.Results), len(reads), rd.Err())
	}
	var mw wire.MultiResponse
	rd = jute.NewReaderMax(replies[3].Body, 64<<20)
	mw.Decode(&rd)
	if rd.Err() != nil || len(mw.Results) != len(ops) || mw.Results[len(ops)-1].Type != wire.OpCreate {
		t.Fatalf("multi: %d results, want %d: %v", len(mw.Results), len(ops), rd.Err())
	}
	// The data watches set on the present children fire on a change.
	doOK(t, c, wire.OpSetData, &wire.SetDataRequest{Path: present[7], Data: []byte("y"), Version: -1}, nil)
	checkFor(t, 10*time.Second, func() bool {
		for _, p := range c.Stream() {
			if p.Event != nil && p.Event.Type == wire.EventNodeDataChanged && p.Event.Path == present[7] {
				return true
			}
		}
		return false
	}, "the re-registered watch to fire")
	// Every request was answered: none counts as outstanding.
	out, err := harness.FourLetter(z.Addr, "mntr")
	must(t, err)
	if v := mntrValue(out, "zk_outstanding_requests"); v != "0" {
		t.Fatalf("zk_outstanding_requests %q after every reply", v)
	}
}

// TestLargeMultiIsAtomicForReaders applies large multis (applied across
// rounds) while other sessions read the nodes they change: a reader sees
// every node of a multi or none, and reads of other nodes go on.
func TestLargeMultiIsAtomicForReaders(t *testing.T) {
	z := harness.StartZkgo(t, nil)
	w := dialRaw(t, z.Addr)
	doOK(t, w, wire.OpCreate, &wire.CreateRequest{Path: "/a", ACL: open2}, nil)
	doOK(t, w, wire.OpCreate, &wire.CreateRequest{Path: "/other", Data: []byte("o"), ACL: open2}, nil)
	const n = 4000
	var create, del []wire.MultiOp
	for i := 0; i < n; i++ {
		p := "/a/" + b36(i)
		create = append(create, wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: p, ACL: open2}})
		del = append(del, wire.MultiOp{Type: wire.OpDelete, Op: &wire.DeleteRequest{Path: p, Version: -1}})
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	seen := map[int]int{}
	for r := 0; r < 2; r++ {
		c := dialRaw(t, z.Addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var gc wire.GetChildrenResponse
				h, err := c.Do(wire.OpGetChildren, &wire.GetChildrenRequest{Path: "/a"}, &gc)
				var ex wire.ExistsResponse
				h2, err2 := c.Do(wire.OpExists, &wire.ExistsRequest{Path: "/a/" + b36(n-1)}, &ex)
				h3, err3 := c.Do(wire.OpGetData, &wire.GetDataRequest{Path: "/other"}, nil)
				mu.Lock()
				switch {
				case err != nil || err2 != nil || err3 != nil || h.Err != wire.ErrOk || h3.Err != wire.ErrOk:
					bad = append(bad, "read failed")
				case len(gc.Children) != 0 && len(gc.Children) != n:
					bad = append(bad, "getChildren saw "+strconv.Itoa(len(gc.Children))+" children")
				}
				seen[len(gc.Children)]++
				_ = h2
				mu.Unlock()
			}
		}()
	}
	for round := 0; round < 6; round++ {
		doOK(t, w, wire.OpMulti, &wire.MultiRequest{Ops: create}, nil)
		doOK(t, w, wire.OpMulti, &wire.MultiRequest{Ops: del}, nil)
	}
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("readers saw a multi in part: %v", bad[:min(5, len(bad))])
	}
	t.Logf("reads by children seen: %v", seen)
}

// TestCloseSessionWithManyEphemerals closes a session that owns more
// ephemerals than one round deletes: all of them go, in one txn, and the
// session's watchers see them go.
func TestCloseSessionWithManyEphemerals(t *testing.T) {
	z := harness.StartZkgo(t, nil)
	owner := dialRaw(t, z.Addr)
	watcher := dialRaw(t, z.Addr)
	doOK(t, owner, wire.OpCreate, &wire.CreateRequest{Path: "/e", ACL: open2}, nil)
	const n = 6000
	createMany(t, owner, "/e", n, wire.ModeEphemeral)
	var ge wire.GetEphemeralsResponse
	doOK(t, owner, wire.OpGetEphemerals, &wire.GetEphemeralsRequest{PrefixPath: "/e"}, &ge)
	if len(ge.Ephemerals) != n {
		t.Fatalf("getEphemerals: %d, want %d", len(ge.Ephemerals), n)
	}
	doOK(t, watcher, wire.OpExists, &wire.ExistsRequest{Path: "/e/" + b36(n-1), Watch: true}, nil)
	if err := owner.CloseSession(); err != nil {
		t.Fatal(err)
	}
	var gc wire.GetChildrenResponse
	doOK(t, watcher, wire.OpGetChildren, &wire.GetChildrenRequest{Path: "/e"}, &gc)
	if len(gc.Children) != 0 {
		t.Fatalf("%d ephemerals left after closeSession", len(gc.Children))
	}
	checkFor(t, 10*time.Second, func() bool {
		for _, p := range watcher.Stream() {
			if p.Event != nil && p.Event.Type == wire.EventNodeDeleted && strings.HasPrefix(p.Event.Path, "/e/") {
				return true
			}
		}
		return false
	}, "the watcher's NodeDeleted event")
}

// TestPipelinedBehindHandshake sends a ConnectRequest, a create and a read
// of the created node in one write: the read waits for the create's reply
// (zkgo answered it before the create was applied: NONODE).
func TestPipelinedBehindHandshake(t *testing.T) {
	z := harness.StartZkgo(t, nil)
	conn, err := rawzk.DialRaw(z.Addr)
	must(t, err)
	t.Cleanup(func() { conn.Close() })
	b := wire.AppendConnect(nil, wire.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}, false, true)
	b = wire.AppendRequest(b, wire.RequestHeader{Xid: 1, Type: wire.OpCreate}, &wire.CreateRequest{Path: "/hs", Data: []byte("d"), ACL: open2})
	b = wire.AppendRequest(b, wire.RequestHeader{Xid: 2, Type: wire.OpGetData}, &wire.GetDataRequest{Path: "/hs"})
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	frame := func() []byte {
		t.Helper()
		var n [4]byte
		if _, err := io.ReadFull(br, n[:]); err != nil {
			t.Fatal(err)
		}
		body := make([]byte, binary.BigEndian.Uint32(n[:]))
		if _, err := io.ReadFull(br, body); err != nil {
			t.Fatal(err)
		}
		return body
	}
	frame() // ConnectResponse
	for _, want := range []wire.Xid{1, 2} {
		r := jute.NewReader(frame())
		var h wire.ReplyHeader
		h.Decode(&r)
		if h.Xid != want || h.Err != wire.ErrOk {
			t.Fatalf("reply xid %d err %v, want xid %d OK", h.Xid, h.Err, want)
		}
	}
}

// TestFourLetterLargeListings lists more watches and ephemerals than one
// round builds: the listings are complete and agree with the counts.
func TestFourLetterLargeListings(t *testing.T) {
	z := harness.StartZkgo(t, nil)
	c := dialRaw(t, z.Addr)
	doOK(t, c, wire.OpCreate, &wire.CreateRequest{Path: "/l", ACL: open2}, nil)
	const n = 5000
	createMany(t, c, "/l", n, wire.ModeEphemeral)
	paths := names("/l/", n)
	doOK(t, c, wire.OpSetWatches, &wire.SetWatches{RelativeZxid: 1 << 62, DataWatches: paths, ExistWatches: []string{},
		ChildWatches: []string{}}, nil)
	others := []*rawzk.Client{dialRaw(t, z.Addr), dialRaw(t, z.Addr)}
	for _, o := range others {
		doOK(t, o, wire.OpExists, &wire.ExistsRequest{Path: "/l/" + b36(1), Watch: true}, nil)
	}
	count := func(word, prefix string) (int, string) {
		out, err := harness.FourLetter(z.Addr, word)
		must(t, err)
		k := 0
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, prefix) {
				k++
			}
		}
		return k, out
	}
	if k, out := count("wchc", "\t/l/"); k != n+2 {
		t.Fatalf("wchc lists %d watched paths, want %d:\n%.300s", k, n+2, out)
	}
	if k, out := count("wchp", "/l/"); k != n {
		t.Fatalf("wchp lists %d paths, want %d:\n%.300s", k, n, out)
	}
	if _, out := count("wchs", ""); !strings.Contains(out, "3 connections watching 5000 paths") || !strings.Contains(out, "Total watches:5002") {
		t.Fatalf("wchs: %q", out)
	}
	if k, out := count("dump", "\t/l/"); k != n {
		t.Fatalf("dump lists %d ephemerals, want %d:\n%.300s", k, n, out)
	}
	if k, out := count("cons", " /127.0.0.1:"); k < 3 {
		t.Fatalf("cons lists %d connections:\n%s", k, out)
	}
	if _, out := count("mntr", ""); !strings.Contains(out, "zk_watch_count\t5002\n") || !strings.Contains(out, "zk_ephemerals_count\t5000\n") {
		t.Fatalf("mntr: %s", out)
	}
	if _, out := count("cons", ""); !strings.Contains(out, "recved=8,") { // the handshake and 7 requests
		t.Fatalf("cons before crst: %s", out)
	}
	if _, out := count("crst", ""); out != "Connection stats reset.\n" {
		t.Fatalf("crst: %q", out)
	}
	if _, out := count("cons", ""); strings.Contains(out, "recved=8,") {
		t.Fatalf("cons after crst: %s", out)
	}
}

// TestRepliesLongerThanAPiece: replies and four-letter-word outputs longer
// than the pieces the server builds them in (1 MB) come out whole, in
// order: getChildren, a multiRead with long getChildren results, wchp.
func TestRepliesLongerThanAPiece(t *testing.T) {
	z := harness.StartZkgo(t, nil)
	c := dialRaw(t, z.Addr)
	doOK(t, c, wire.OpCreate, &wire.CreateRequest{Path: "/p", ACL: open2}, nil)
	const kids = 2500
	long := strings.Repeat("n", 490)
	var kidNames, paths []string
	for i := 0; i < kids; i += 1000 {
		var ops []wire.MultiOp
		for j := i; j < min(kids, i+1000); j++ {
			kidNames = append(kidNames, long+b36(j))
			paths = append(paths, "/p/"+long+b36(j))
			ops = append(ops, wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: paths[j], ACL: open2}})
		}
		doOK(t, c, wire.OpMulti, &wire.MultiRequest{Ops: ops}, nil)
	}
	for _, half := range [][]string{paths[:kids/2], paths[kids/2:]} { // a frame holds 1 MB
		doOK(t, c, wire.OpSetWatches, &wire.SetWatches{RelativeZxid: 1 << 62, DataWatches: half, ExistWatches: []string{},
			ChildWatches: []string{}}, nil)
	}

	reqs := []struct {
		op   wire.OpCode
		body jute.Record
	}{
		{wire.OpGetChildren, &wire.GetChildrenRequest{Path: "/p"}},
		{wire.OpMultiRead, &wire.MultiRequest{Ops: []wire.MultiOp{
			{Type: wire.OpGetChildren, Op: &wire.GetChildrenRequest{Path: "/p"}},
			{Type: wire.OpGetData, Op: &wire.GetDataRequest{Path: paths[3]}},
			{Type: wire.OpGetChildren, Op: &wire.GetChildrenRequest{Path: "/p"}},
		}}},
		{wire.OpExists, &wire.ExistsRequest{Path: "/p"}},
	}
	var chans []<-chan rawzk.Reply
	var xids []wire.Xid
	for _, r := range reqs {
		x := c.NextXid()
		ch, err := c.Send(x, r.op, r.body)
		must(t, err)
		chans = append(chans, ch)
		xids = append(xids, x)
	}
	replies := make([]rawzk.Reply, len(chans))
	for i, ch := range chans {
		select {
		case r, ok := <-ch:
			if !ok {
				t.Fatalf("connection closed: %v", c.Err())
			}
			if r.Header.Err != wire.ErrOk || r.Header.Xid != xids[i] {
				t.Fatalf("%v: %v (xid %d, sent %d)", reqs[i].op, r.Header.Err, r.Header.Xid, xids[i])
			}
			replies[i] = r
		case <-time.After(time.Minute):
			t.Fatalf("%v: no reply", reqs[i].op)
		}
	}
	sameNames := func(what string, got []string) {
		t.Helper()
		got = slices.Clone(got)
		slices.Sort(got)
		want := slices.Clone(kidNames)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: %d names, want the %d children", what, len(got), len(want))
		}
	}
	var gc wire.GetChildrenResponse
	rd := jute.NewReaderMax(replies[0].Body, 64<<20)
	gc.Decode(&rd)
	if rd.Err() != nil || rd.Remaining() != 0 {
		t.Fatalf("getChildren reply: %v, %d bytes left", rd.Err(), rd.Remaining())
	}
	sameNames("getChildren", gc.Children)
	var mr wire.MultiResponse
	rd = jute.NewReaderMax(replies[1].Body, 64<<20)
	mr.Decode(&rd)
	if rd.Err() != nil || rd.Remaining() != 0 || len(mr.Results) != 3 {
		t.Fatalf("multiRead reply: %v, %d bytes left, %d results", rd.Err(), rd.Remaining(), len(mr.Results))
	}
	for _, i := range []int{0, 2} {
		r, ok := mr.Results[i].Result.(*wire.GetChildrenResponse)
		if !ok {
			t.Fatalf("multiRead result %d: %T", i, mr.Results[i].Result)
		}
		sameNames("multiRead getChildren", r.Children)
	}
	if r, ok := mr.Results[1].Result.(*wire.GetDataResponse); !ok || r.Stat.Czxid == 0 {
		t.Fatalf("multiRead getData: %+v", mr.Results[1])
	}

	out, err := harness.FourLetter(z.Addr, "wchp")
	must(t, err)
	if len(out) < 1<<20 {
		t.Fatalf("wchp gave %d bytes, want more than 1 MB: %.300q", len(out), out)
	}
	k := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "/p/"+long) {
			k++
		}
	}
	if k != kids {
		t.Fatalf("wchp lists %d paths, want %d", k, kids)
	}
}
