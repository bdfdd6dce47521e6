package compattest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/internal/rawzk"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node"
	"github.com/zkgo/zkgo/wire"
)

// Issue 14, point 2: one request must not stall the server. One session
// sends the largest request the limits allow, for every kind of request,
// one after the other, while another session reads a small node on a
// fixed schedule (every probeInterval, whether or not the previous read was
// answered; a read's latency counts from when it was due, so a stall is
// charged for every read it delays). Then it pipelines batches of 1000
// moderate requests (the most a connection may have outstanding), sent in
// one write. The reads' p99 must stay under 50 ms.
//
// The budget is for the owner goroutine: each of these requests is either
// linear and small, or split across owner rounds, or done elsewhere.

const (
	probeInterval = 2 * time.Millisecond
	probeP99      = 50 * time.Millisecond
	// sessionTimeout outlasts the setup however slow (rawzk sends no
	// pings).
	sessionTimeout = 600000
	// maxRecord is the largest request record a client may send: a frame
	// holds at most jute.maxbuffer bytes, the request header included.
	maxRecord = jute.DefaultMaxBuffer - 8
)

// probe reads /probe on a schedule and records each read's latency.
type probe struct {
	c       *rawzk.Client
	mu      sync.Mutex
	samples []probeSample
	errs    []string
	stop    chan struct{}
	done    sync.WaitGroup
}

type probeSample struct {
	due     time.Time
	latency time.Duration
}

func startProbe(t *testing.T, addr string) *probe {
	t.Helper()
	c, err := rawzk.Dial(addr, rawzk.Options{TimeoutMs: sessionTimeout})
	must(t, err)
	t.Cleanup(func() { c.Close() })
	if h, err := c.Do(wire.OpCreate, &wire.CreateRequest{Path: "/probe", Data: []byte("p"), ACL: open2}, nil); err != nil || h.Err != wire.ErrOk {
		t.Fatalf("create /probe: %v %v", h.Err, err)
	}
	p := &probe{c: c, stop: make(chan struct{})}
	p.done.Add(1)
	go p.run()
	return p
}

func (p *probe) run() {
	defer p.done.Done()
	// One goroutine sends on schedule, one collects the replies in order
	// (a session's replies come in request order); a reply's time is taken
	// when the client read it, so neither goroutine's own delays count.
	type sent struct {
		due time.Time
		ch  <-chan rawzk.Reply
	}
	queue := make(chan sent, 1<<16)
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for q := range queue {
			select {
			case r, ok := <-q.ch:
				if !ok {
					p.fail("connection closed: " + fmt.Sprint(p.c.Err()))
					continue
				}
				if r.Header.Err != wire.ErrOk {
					p.fail("getData /probe: " + r.Header.Err.Error())
				}
				p.mu.Lock()
				p.samples = append(p.samples, probeSample{due: q.due, latency: r.At.Sub(q.due)})
				p.mu.Unlock()
			case <-time.After(time.Minute):
				p.fail("no reply within a minute")
			}
		}
	}()
	defer func() {
		close(queue)
		<-collected
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	start := time.Now()
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * probeInterval)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-p.stop:
				return
			case <-timer.C:
			}
		}
		select {
		case <-p.stop:
			return
		default:
		}
		ch, err := p.c.Send(p.c.NextXid(), wire.OpGetData, &wire.GetDataRequest{Path: "/probe"})
		if err != nil {
			p.fail("send: " + err.Error())
			return
		}
		queue <- sent{due, ch}
	}
}

// waitReads waits until the probe has done n more reads.
func (p *probe) waitReads(t *testing.T, n int) {
	t.Helper()
	p.mu.Lock()
	want := len(p.samples) + n
	p.mu.Unlock()
	checkFor(t, time.Minute, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.samples) >= want
	}, "the probe's reads")
}

func (p *probe) fail(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errs = append(p.errs, msg)
}

// errors summarizes the probe's failures: the first one and how many.
func (p *probe) errors() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.errs) == 0 {
		return ""
	}
	return fmt.Sprintf("%d failed reads, the first: %s", len(p.errs), p.errs[0])
}

func (p *probe) finish() []probeSample {
	close(p.stop)
	p.done.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.samples)
}

// heavyStep is one request of the heavy session and the answer it must get.
type heavyStep struct {
	name string
	op   wire.OpCode
	body jute.Record
	want wire.ErrCode
	// check, if set, looks at the reply body.
	check func(t *testing.T, body []byte)
}

// fit returns the largest n for which build(n) encodes within maxRecord,
// and build(n).
func fit(t *testing.T, hi int, build func(n int) jute.Record) jute.Record {
	t.Helper()
	lo, all := 0, hi
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if len(jute.Marshal(build(mid))) <= maxRecord {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	rec := build(lo)
	if sz := len(jute.Marshal(rec)); sz > maxRecord || (lo < all && sz < maxRecord-4096) {
		t.Fatalf("fit: %d entries make %d bytes, want just under %d", lo, sz, maxRecord)
	}
	return rec
}

// decodeAll decodes a reply body that may pass jute.maxbuffer.
func decodeAll(t *testing.T, b []byte, rec jute.Record) {
	t.Helper()
	r := jute.NewReaderMax(b, 64<<20)
	rec.Decode(&r)
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
}

func distinctACL(n int) []wire.ACL {
	acl := make([]wire.ACL, n)
	for i := range acl {
		acl[i] = wire.ACL{Perms: int32(i), ID: wire.ID{Scheme: "world", ID: "anyone"}}
	}
	return acl
}

func TestHeavyRequestsDoNotStallReads(t *testing.T) {
	// Sessions long enough to stay idle through a slow setup (rawzk sends
	// no pings).
	z := harness.StartZkgo(t, func(c *node.Config) { c.MaxSessionTimeout = int(sessionTimeout) })
	// A request is decoded on its connection's event loop (a 1 MB one in
	// 14 ms, 50 ms under -race: docs/limits.md), which that loop's other
	// connections wait for. The point here is the owner goroutine every
	// client waits for, so the probe's connection is kept off heavy's loop:
	// the front end has a loop per CPU (two on the CI box) and gnet hands
	// them out in turn, so with eph, heavy, probe dialled in this order,
	// heavy is on loop 1 and the probe on loop 2 mod the count (0 with
	// two). eph sends nothing during the heavy phase but its closeSession.
	eph, err := rawzk.Dial(z.Addr, rawzk.Options{TimeoutMs: sessionTimeout, NoStream: true})
	must(t, err)
	t.Cleanup(func() { eph.Close() })
	// It keeps no record of what it is sent (its setWatches fire 100,000
	// events): the test's own work should not crowd the server's CPUs.
	heavy, err := rawzk.Dial(z.Addr, rawzk.Options{TimeoutMs: sessionTimeout, NoStream: true})
	must(t, err)
	t.Cleanup(func() { heavy.Close() })
	send := func(op wire.OpCode, body jute.Record, want wire.ErrCode, frame []byte, xid wire.Xid) []byte {
		t.Helper()
		var ch <-chan rawzk.Reply
		var err error
		if frame != nil {
			ch, err = heavy.SendFrame(xid, frame)
		} else {
			ch, err = heavy.Send(heavy.NextXid(), op, body)
		}
		must(t, err)
		select {
		case r, ok := <-ch:
			if !ok {
				t.Fatalf("%v: connection closed: %v", op, heavy.Err())
			}
			if r.Header.Err != want {
				// Go on: the latencies are the point of the test.
				t.Errorf("%v: %v, want %v", op, r.Header.Err, want)
				return nil
			}
			return r.Body
		case <-time.After(2 * time.Minute):
			t.Fatalf("%v: no reply", op)
		}
		return nil
	}
	do := func(op wire.OpCode, body jute.Record, want wire.ErrCode) []byte {
		t.Helper()
		return send(op, body, want, nil, 0)
	}
	mk := func(path string, data []byte) {
		t.Helper()
		do(wire.OpCreate, &wire.CreateRequest{Path: path, Data: data, ACL: open2}, wire.ErrOk)
	}

	// Setup, before the probe starts.
	mk("/h", nil)
	mk("/h/kids", nil)
	const kids = 200000
	kidNames := names("/h/kids/", kids)
	for i := 0; i < kids; {
		var m *wire.MultiRequest
		m = fit(t, kids-i, func(n int) jute.Record {
			ops := make([]wire.MultiOp, n)
			for j := range ops {
				ops[j] = wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: kidNames[i+j], ACL: open2}}
			}
			return &wire.MultiRequest{Ops: ops}
		}).(*wire.MultiRequest)
		do(wire.OpMulti, m, wire.ErrOk)
		i += len(m.Ops)
	}
	mk("/h/bigdata", make([]byte, maxRecord-64))
	mk("/h/target", nil)
	mk("/h/mid", make([]byte, 4<<10))
	// A node with 1000 children (a getChildren well under the size answered
	// in steps).
	mk("/h/few", nil)
	fewNames := names("/h/few/", 1000)
	for i := 0; i < len(fewNames); i += 1000 {
		ops := make([]wire.MultiOp, 1000)
		for j := range ops {
			ops[j] = wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: fewNames[i+j], ACL: open2}}
		}
		do(wire.OpMulti, &wire.MultiRequest{Ops: ops}, wire.ErrOk)
	}
	deep := "/h/deep"
	mk(deep, nil)
	for i := 0; i < 2000; i++ {
		deep += "/d"
		mk(deep, nil)
	}
	for i := 0; i < 3; i++ {
		do(wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("user" + strconv.Itoa(i) + ":pw")}, wire.ErrOk)
	}
	// A session with 100,000 ephemerals, closed among the heavy requests
	// (one closeSession txn deletes them all).
	mk("/h/eph", nil)
	const ephemerals = 100000
	ephNames := names("/h/eph/", ephemerals)
	for i := 0; i < ephemerals; {
		m := fit(t, ephemerals-i, func(n int) jute.Record {
			ops := make([]wire.MultiOp, n)
			for j := range ops {
				ops[j] = wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: ephNames[i+j], ACL: open2, Flags: int32(wire.ModeEphemeral)}}
			}
			return &wire.MultiRequest{Ops: ops}
		}).(*wire.MultiRequest)
		if h, err := eph.Do(wire.OpMulti, m, nil); err != nil || h.Err != wire.ErrOk {
			t.Fatalf("ephemerals: %v %v", h.Err, err)
		}
		i += len(m.Ops)
	}

	acls := distinctACL(60000)
	mkMulti := func(paths []string, op func(p string) wire.MultiOp) func(n int) jute.Record {
		return func(n int) jute.Record {
			ops := make([]wire.MultiOp, 0, n)
			for j := 0; j < n; j++ {
				ops = append(ops, op(paths[j%len(paths)]))
			}
			return &wire.MultiRequest{Ops: ops}
		}
	}
	mNames := names("/h/m/", 60000)
	bigKids := names("/h/bigdata/", 60000)
	longName := "/h/" + strings.Repeat("x", maxRecord-64)
	var deepMissing strings.Builder
	for deepMissing.Len() < maxRecord-32 {
		deepMissing.WriteString("/a")
	}
	pathList := func(paths []string) func(n int) jute.Record {
		return func(n int) jute.Record {
			l := make([]string, n)
			for j := range l {
				l[j] = paths[j%len(paths)]
			}
			return &wire.SetWatches{RelativeZxid: 1 << 62, DataWatches: l, ExistWatches: []string{}, ChildWatches: []string{}}
		}
	}
	missing := names("/h/missing/", 200000)
	steps := []heavyStep{
		{name: "create with the most distinct ACL entries", op: wire.OpCreate, want: wire.ErrOk,
			body: fit(t, len(acls), func(n int) jute.Record { return &wire.CreateRequest{Path: "/h/acl", ACL: acls[:n]} })},
		{name: "create with the most ACL entries, the last invalid", op: wire.OpCreate, want: wire.ErrInvalidACL,
			body: fit(t, len(acls), func(n int) jute.Record {
				return &wire.CreateRequest{Path: "/h/acl2", ACL: append(slices.Clone(acls[:n]), wire.ACL{Perms: 1, ID: wire.ID{Scheme: "nosuch", ID: "x"}})}
			})},
		{name: "setACL with the most distinct ACL entries", op: wire.OpSetACL, want: wire.ErrOk,
			body: fit(t, len(acls), func(n int) jute.Record { return &wire.SetACLRequest{Path: "/h/target", ACL: acls[:n], Version: -1} })},
		{name: "create with the most auth entries (expansion past jute.maxbuffer)", op: wire.OpCreate, want: wire.ErrBadArguments,
			body: fit(t, 100000, func(n int) jute.Record {
				acl := make([]wire.ACL, n)
				for i := range acl {
					acl[i] = wire.ACL{Perms: int32(i), ID: wire.ID{Scheme: "auth", ID: ""}}
				}
				return &wire.CreateRequest{Path: "/h/acl3", ACL: acl}
			})},
		{name: "multi: the most creates", op: wire.OpMulti, want: wire.ErrOk,
			body: fit(t, len(mNames), mkMulti(mNames, func(p string) wire.MultiOp {
				return wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: p, ACL: open2}}
			}))},
		{name: "multi: the most setData", op: wire.OpMulti, want: wire.ErrOk,
			body: fit(t, 100000, mkMulti(mNames[:15000], func(p string) wire.MultiOp {
				return wire.MultiOp{Type: wire.OpSetData, Op: &wire.SetDataRequest{Path: p, Data: []byte("x"), Version: -1}}
			}))},
		{name: "multi: the most checks of a node with 1 MiB of data", op: wire.OpMulti, want: wire.ErrOk,
			body: fit(t, 100000, mkMulti([]string{"/h/bigdata"}, func(p string) wire.MultiOp {
				return wire.MultiOp{Type: wire.OpCheck, Op: &wire.CheckVersionRequest{Path: p, Version: -1}}
			}))},
		{name: "multi: the most creates under a node with 1 MiB of data", op: wire.OpMulti, want: wire.ErrOk,
			body: fit(t, len(bigKids), mkMulti(bigKids, func(p string) wire.MultiOp {
				return wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: p, ACL: open2}}
			}))},
		{name: "multi: the most creates, the last failing", op: wire.OpMulti, want: wire.ErrOk,
			body: fit(t, len(mNames), func(n int) jute.Record {
				ops := make([]wire.MultiOp, n)
				for j := range ops {
					ops[j] = wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/h/m2/" + b36(j), ACL: open2}}
				}
				if n > 0 {
					ops[0] = wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/h/m2", ACL: open2}}
					ops[n-1] = wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/h/m2", ACL: open2}}
				}
				return &wire.MultiRequest{Ops: ops}
			})},
		{name: "setWatches: the most data watches on existing nodes", op: wire.OpSetWatches, want: wire.ErrOk,
			body: fit(t, 200000, pathList(kidNames))},
		{name: "setWatches: the most data watches on missing nodes (events)", op: wire.OpSetWatches, want: wire.ErrOk,
			body: fit(t, 200000, pathList(missing))},
		{name: "setWatches: the most exist watches on missing nodes", op: wire.OpSetWatches, want: wire.ErrOk,
			body: fit(t, 200000, func(n int) jute.Record {
				return &wire.SetWatches{DataWatches: []string{}, ExistWatches: missing[:n], ChildWatches: []string{}}
			})},
		{name: "setWatches2: the most persistent and recursive watches", op: wire.OpSetWatches2, want: wire.ErrOk,
			body: fit(t, 200000, func(n int) jute.Record {
				return &wire.SetWatches2{DataWatches: []string{}, ExistWatches: []string{}, ChildWatches: []string{},
					PersistentWatches: missing[:n/2], PersistentRecursiveWatches: missing[n/2 : n]}
			})},
		{name: "addWatch: recursive on the longest path", op: wire.OpAddWatch, want: wire.ErrOk,
			body: &wire.AddWatchRequest{Path: longName, Mode: wire.AddWatchPersistentRecursive}},
		{name: "create: the longest path", op: wire.OpCreate, want: wire.ErrOk,
			body: &wire.CreateRequest{Path: longName, ACL: open2}},
		{name: "getData: the longest path", op: wire.OpGetData, want: wire.ErrOk, body: &wire.GetDataRequest{Path: longName}},
		{name: "getData: the deepest missing path", op: wire.OpGetData, want: wire.ErrNoNode,
			body: &wire.GetDataRequest{Path: deepMissing.String(), Watch: true}},
		{name: "create: 2000 levels down", op: wire.OpCreate, want: wire.ErrOk, body: &wire.CreateRequest{Path: deep + "/leaf", ACL: open2}},
		{name: "getChildren: 200,000 children", op: wire.OpGetChildren, want: wire.ErrOk,
			body: &wire.GetChildrenRequest{Path: "/h/kids", Watch: true}, check: func(t *testing.T, b []byte) {
				var r wire.GetChildrenResponse
				decodeAll(t, b, &r)
				if len(r.Children) != kids {
					t.Fatalf("getChildren: %d children, want %d", len(r.Children), kids)
				}
			}},
		{name: "getChildren2: 200,000 children", op: wire.OpGetChildren2, want: wire.ErrOk,
			body: &wire.GetChildren2Request{Path: "/h/kids"}, check: func(t *testing.T, b []byte) {
				var r wire.GetChildren2Response
				decodeAll(t, b, &r)
				if len(r.Children) != kids || r.Stat.NumChildren != kids {
					t.Fatalf("getChildren2: %d children (stat %d), want %d", len(r.Children), r.Stat.NumChildren, kids)
				}
			}},
		{name: "getAllChildrenNumber: /", op: wire.OpGetAllChildrenNumber, want: wire.ErrOk,
			body: &wire.GetAllChildrenNumberRequest{Path: "/"}},
		{name: "getAllChildrenNumber: /h/kids", op: wire.OpGetAllChildrenNumber, want: wire.ErrOk,
			body: &wire.GetAllChildrenNumberRequest{Path: "/h/kids"}, check: func(t *testing.T, b []byte) {
				var r wire.GetAllChildrenNumberResponse
				decodeAll(t, b, &r)
				if r.TotalNumber != kids {
					t.Fatalf("getAllChildrenNumber: %d, want %d", r.TotalNumber, kids)
				}
			}},
		{name: "multi: the most deletes", op: wire.OpMulti, want: wire.ErrOk,
			body: fit(t, len(mNames), mkMulti(mNames, func(p string) wire.MultiOp {
				return wire.MultiOp{Type: wire.OpDelete, Op: &wire.DeleteRequest{Path: p, Version: -1}}
			}))},
	}

	// Encoded now, so that the client spends no CPU on them meanwhile.
	frames := make([][]byte, len(steps))
	xids := make([]wire.Xid, len(steps))
	for i, st := range steps {
		xids[i] = heavy.NextXid()
		frames[i] = wire.AppendRequest(nil, wire.RequestHeader{Xid: xids[i], Type: st.op}, st.body)
	}
	// Batches of pipelined requests, each moderate, as many as the front
	// end lets a connection have outstanding (1000), sent in one write.
	type batch struct {
		name   string
		xids   []wire.Xid
		frames []byte
	}
	var batches []batch
	for _, b := range []struct {
		name string
		op   wire.OpCode
		body jute.Record
	}{
		{"1000 pipelined getChildren of 1000 children", wire.OpGetChildren, &wire.GetChildrenRequest{Path: "/h/few"}},
		{"1000 pipelined getData of 4 KiB", wire.OpGetData, &wire.GetDataRequest{Path: "/h/mid"}},
		{"1000 pipelined setData", wire.OpSetData, &wire.SetDataRequest{Path: "/h/target", Data: []byte("x"), Version: -1}},
	} {
		bt := batch{name: b.name}
		for range 1000 {
			x := heavy.NextXid()
			bt.xids = append(bt.xids, x)
			bt.frames = wire.AppendRequest(bt.frames, wire.RequestHeader{Xid: x, Type: b.op}, b.body)
		}
		batches = append(batches, bt)
	}
	p := startProbe(t, z.Addr)
	idleStart := time.Now()
	p.waitReads(t, 300) // a baseline for the log: the probe alone
	idleEnd := time.Now()
	type timing struct {
		name       string
		start, end time.Time
	}
	var timings []timing
	heavyStart := time.Now()
	for i, st := range steps {
		start := time.Now()
		body := send(st.op, st.body, st.want, frames[i], xids[i])
		if st.check != nil && body != nil {
			st.check(t, body)
		}
		timings = append(timings, timing{st.name, start, time.Now()})
		// One heavy request at a time: the next goes once the probe has
		// done a few more reads (its effects, such as the garbage it left,
		// still count against the probe).
		p.waitReads(t, 25)
	}
	for _, b := range batches {
		start := time.Now()
		chans, err := heavy.SendFrames(b.xids, b.frames)
		must(t, err)
		for i, ch := range chans {
			select {
			case r, ok := <-ch:
				if !ok {
					t.Fatalf("%s: connection closed: %v", b.name, heavy.Err())
				}
				if r.Header.Err != wire.ErrOk {
					t.Errorf("%s: reply %d: %v", b.name, i, r.Header.Err)
				}
			case <-time.After(2 * time.Minute):
				t.Fatalf("%s: no reply %d", b.name, i)
			}
		}
		timings = append(timings, timing{b.name, start, time.Now()})
		p.waitReads(t, 25)
	}
	// The session with 100,000 ephemerals closes; then the heavy session's
	// connection, with its 500,000 watches, goes.
	start := time.Now()
	if h, err := eph.Do(wire.OpCloseSession, nil, nil); err != nil || h.Err != wire.ErrOk {
		t.Fatalf("closeSession: %v %v", h.Err, err)
	}
	timings = append(timings, timing{"closeSession of a session with 100,000 ephemerals", start, time.Now()})
	p.waitReads(t, 25)
	start = time.Now()
	heavy.Close()
	p.waitReads(t, 100)
	timings = append(timings, timing{"a connection with 500,000 watches closes", start, time.Now()})
	heavyEnd := time.Now()
	samples := p.finish()
	if e := p.errors(); e != "" {
		t.Fatalf("probe session: %s", e)
	}
	var lat []time.Duration
	for _, s := range samples {
		if !s.due.Before(heavyStart) && s.due.Before(heavyEnd) {
			lat = append(lat, s.latency)
		}
	}
	if len(lat) < 100 {
		t.Fatalf("only %d probe reads during the heavy requests", len(lat))
	}
	slices.Sort(lat)
	p99 := lat[len(lat)*99/100]
	var idle []time.Duration
	for _, s := range samples {
		if !s.due.Before(idleStart) && s.due.Before(idleEnd) {
			idle = append(idle, s.latency)
		}
	}
	if len(idle) > 0 {
		slices.Sort(idle)
		t.Logf("%d reads with no heavy request: p50 %v, p99 %v, max %v", len(idle), idle[len(idle)/2], idle[len(idle)*99/100], idle[len(idle)-1])
	}
	for _, tm := range timings {
		worst := time.Duration(0)
		for _, s := range samples {
			if !s.due.Before(tm.start) && s.due.Before(tm.end) {
				worst = max(worst, s.latency)
			}
		}
		t.Logf("%-70s took %8v, slowest read %v", tm.name, tm.end.Sub(tm.start).Round(time.Millisecond), worst.Round(100*time.Microsecond))
	}
	t.Logf("%d reads during %v of heavy requests: p50 %v, p99 %v, max %v", len(lat), heavyEnd.Sub(heavyStart).Round(time.Millisecond),
		lat[len(lat)/2], p99, lat[len(lat)-1])
	if p99 >= probeP99 {
		t.Errorf("getData p99 %v during the heavy requests, want < %v", p99, probeP99)
	}
}
