package node

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/node/watch"
	"github.com/zkgo/zkgo/wire"
)

// BenchmarkOwnerSteps measures, at the scale of issue 14 (1M znodes, 100k
// sessions, watches, ephemerals and connections), what the owner goroutine
// spends on each step that grows with client input or with the tree: the
// longest single round ("round-ms", what every other client may wait) and
// the whole operation ("total-ms"), in thread CPU time on the owner.
// docs/limits.md has the table. Run it by hand:
//
//	go test -run '^$' -bench 'OwnerSteps|ReaperCheck' -benchtime 1x -timeout 60m ./node/
//
// Each sub-benchmark builds its state once (outside the timing) and runs
// the operation once per b.N.
func BenchmarkOwnerSteps(b *testing.B) {
	const (
		znodes    = 1_000_000
		sessions  = 100_000
		watches   = 100_000
		ephemeral = 100_000
	)
	s := benchServer(b)
	owner := wire.SessionID(1 << 40)
	onOwner(b, s, func() {
		z := s.tree.LastZxid
		create := func(p string, eph int64, acl []wire.ACL) {
			z++
			e := wire.TxnEntry{Hdr: wire.TxnHeader{Zxid: z, Type: wire.OpCreate, ClientID: wire.SessionID(eph)},
				Body: &wire.CreateTxn{Path: p, Data: make([]byte, 64), ACL: acl, Ephemeral: eph != 0, ParentCVersion: -1}}
			if r := s.tree.Apply(&e); r.Err != wire.ErrOk {
				b.Fatalf("create %s: %v", p, r.Err)
			}
		}
		acls := make([][]wire.ACL, 1000)
		for i := range acls {
			acls[i] = []wire.ACL{{Perms: int32(i), ID: wire.ID{Scheme: "world", ID: "anyone"}}}
		}
		create("/b", 0, tree.OpenACLUnsafe)
		for i := 0; i < znodes-ephemeral; i++ {
			if i%1000 == 0 {
				create(fmt.Sprintf("/b/p%04d", i/1000), 0, tree.OpenACLUnsafe)
			}
			create(fmt.Sprintf("/b/p%04d/n%07d", i/1000, i), 0, acls[i%len(acls)])
		}
		create("/e", 0, tree.OpenACLUnsafe)
		for i := 0; i < ephemeral; i++ {
			create("/e/"+strconv.Itoa(i), int64(owner), tree.OpenACLUnsafe)
		}
		s.wr.zxid = z
		now := s.lp.nowMs()
		for i := 0; i < sessions; i++ {
			s.sessions.Add(wire.SessionID(1<<41+i), 1<<30, now)
		}
		s.sessions.Add(owner, 1<<30, now)
		// 100k connections: 1,000 watch 100 paths each; one more watches
		// 100k paths; all watch /b.
		for i := 0; i < 100_000; i++ {
			cc := benchConn(s, uint64(i+1), wire.SessionID(1<<41+i))
			s.dataW.Add("/b", watch.Watcher(cc.id), watch.Standard)
			if i < 1000 {
				for j := 0; j < watches/1000; j++ {
					s.dataW.Add(fmt.Sprintf("/b/p%04d/n%07d", j, i*100+j), watch.Watcher(cc.id), watch.Standard)
				}
			}
		}
		big := benchConn(s, 1<<30, owner)
		for i := 0; i < watches; i++ {
			s.dataW.Add(fmt.Sprintf("/b/p%04d/n%07d", i/100, i), watch.Watcher(big.id), watch.Standard)
		}
	})
	b.Logf("state: %d znodes, %d sessions, %d watches, %d connections, %d ephemerals",
		s.tree.Len(), s.sessions.Len(), s.dataW.Size(), len(s.cl.conns), s.tree.EphemeralCount())

	b.Run("snapshot-walk", func(b *testing.B) {
		// advanceSnapshot: one chunk per round.
		for b.Loop() {
			measureRounds(b, s, func() func() bool {
				cur := s.tree.NewSnapshotCursor()
				var w jute.Writer
				return func() bool {
					w.Reset(w.Bytes()[:0])
					if cur.Next(&w, snapChunkNodes, snapChunkBytes) {
						cur.Release()
						return true
					}
					return false
				}
			})
		}
	})
	b.Run("snapshot-tail", func(b *testing.B) {
		// The sessions and ACL map of a snapshot's tail or a SNAP's head.
		for b.Loop() {
			var c *tailCollector
			measureRounds(b, s, func() func() bool {
				c = newTailCollector(s.sessions, s.tree)
				return func() bool { return c.step(roundTailEntries) }
			})
			t := c.tail
			b.Logf("%d sessions, %d ACL lists; sorted and encoded off the owner in %v",
				len(t.Sessions), len(t.ACLs), threadCPU(func() { encodeSnapHead(1, &t) }))
		}
	})
	b.Run("dump", func(b *testing.B) { benchFourLetter(b, s, "dump") })
	b.Run("wchc", func(b *testing.B) { benchFourLetter(b, s, "wchc") })
	b.Run("wchp", func(b *testing.B) { benchFourLetter(b, s, "wchp") })
	b.Run("cons", func(b *testing.B) { benchFourLetter(b, s, "cons") })
	b.Run("stat", func(b *testing.B) { benchFourLetter(b, s, "stat") })
	b.Run("mntr", func(b *testing.B) { benchFourLetter(b, s, "mntr") })
	b.Run("crst", func(b *testing.B) { benchFourLetter(b, s, "crst") })
	for _, cmd := range []string{"dump", "watches", "watches_by_path", "watch_summary", "connections", "stats", "connection_stat_reset"} {
		b.Run("admin-"+cmd, func(b *testing.B) { benchAdmin(b, s, cmd) })
	}
	b.Run("watch-fanout-100k", func(b *testing.B) {
		// A setData of a node 100k connections watch (re-armed each
		// time): applied, then its watches fire and its events go out
		// across rounds (flushed at each round's end).
		for b.Loop() {
			onOwner(b, s, func() {
				for id := range s.cl.conns {
					s.dataW.Add("/b", watch.Watcher(id), watch.Standard)
				}
			})
			r := measureRounds(b, s, func() func() bool {
				first := true
				return func() bool {
					if first {
						first = false
						p := &proposal{op: wire.OpSetData, start: time.Now(), entry: wire.TxnEntry{
							Hdr:  wire.TxnHeader{Zxid: s.wr.nextZxid(), Type: wire.OpSetData},
							Body: &wire.SetDataTxn{Path: "/b", Data: []byte("x"), Version: -1}}}
						s.sched.applyProposal(p)
					} else {
						s.sched.jobDeadline = time.Now().Add(roundJobTime)
						s.sched.runApply(roundApplyOps, false)
					}
					s.cl.flush()
					return s.sched.applyJob == nil
				}
			})
			b.Logf("%d connections: %v", len(s.cl.conns), r)
		}
	})
	b.Run("getAllChildrenNumber", func(b *testing.B) {
		for b.Loop() {
			measureOnce(b, s, func() { _ = s.tree.CountDescendants("/") })
		}
	})
	b.Run("getEphemerals-100k", func(b *testing.B) {
		for b.Loop() {
			measureOnce(b, s, func() { _ = ephemeralsWithPrefix(s.tree.Ephemerals(owner), "/e/1") })
		}
	})
	b.Run("closeSession-100k-ephemerals", func(b *testing.B) {
		b.N = 1 // destroys its state
		prep, apply := benchTxnJob(b, s, &tree.PrepRequest{Session: owner, Type: wire.OpCloseSession, Auth: []wire.ID{{Scheme: tree.SchemeSuper}}})
		b.Logf("prep: %v; apply: %v", prep, apply)
	})
	b.Run("closed-connection-100k-watches", func(b *testing.B) {
		b.N = 1
		var first time.Duration
		onOwner(b, s, func() {
			first = threadCPU(func() { s.dataW.RemoveWatcher(watch.Watcher(1 << 30)) })
		})
		r := measureRounds(b, s, func() func() bool {
			return func() bool { return s.dataW.RemoveDead(roundCleanOps) < roundCleanOps }
		})
		b.Logf("RemoveWatcher %v, then %v", first, r)
	})
	b.Run("learner-ping-100k-touches", func(b *testing.B) {
		touched := map[wire.SessionID]int32{}
		for i := 0; i < sessions; i++ {
			touched[wire.SessionID(1<<41+i)] = 30000
		}
		for b.Loop() {
			var data []byte
			built := measureOnce(b, s, func() {
				// The learner's side (replyPing): the table from its map.
				t := make([]wire.SessionTouch, 0, len(touched))
				for id, to := range touched {
					t = append(t, wire.SessionTouch{SessionID: id, TimeoutMs: to})
				}
				data = wire.AppendTouchTable(make([]byte, 0, 12*len(t)), t)
			})
			applied := measureOnce(b, s, func() {
				// The leader's side (onLearnerPacket).
				touches, _ := wire.ParseTouchTable(data)
				now := s.lp.nowMs()
				for _, t := range touches {
					s.sessions.Touch(t.SessionID, now)
				}
			})
			b.Logf("learner builds the table in %v, leader applies it in %v", built.max, applied.max)
		}
	})
	b.Run("tick-sessionless-check-100k-connections", func(b *testing.B) {
		for b.Loop() {
			measureOnce(b, s, func() { s.cl.sessionless.run(s.lp.nowMs()) })
		}
	})
	b.Run("expire-100k-sessions", func(b *testing.B) {
		b.N = 1
		var expired []*sessionRef
		var took time.Duration
		onOwner(b, s, func() {
			// The sessions' timeout is 1<<30 ms: first walk the empty
			// buckets up to a minute before they expire (a live server
			// walks one bucket a tick), then measure the expiry.
			start := s.lp.nowMs() + 1<<30
			s.sessions.Expire(start-60000, 0)
			took = threadCPU(func() {
				for _, sess := range s.sessions.Expire(start+60000, 0) {
					expired = append(expired, &sessionRef{sess.ID})
				}
			})
		})
		b.Logf("Expire of %d sessions at once: %v", len(expired), took)
		// As the server takes them: expireChunk at a time (scheduled
		// again past the buckets walked).
		const later = 1<<30 + 600000
		var at int64
		onOwner(b, s, func() {
			for _, r := range expired {
				s.sessions.Add(r.id, later, s.lp.nowMs())
			}
			at = s.lp.nowMs() + later
			s.sessions.Expire(at-60000, 0)
		})
		r := measureRounds(b, s, func() func() bool {
			return func() bool { return len(s.sessions.Expire(at+60000, expireChunk)) < expireChunk }
		})
		b.Logf("in chunks of %d: %v (their closeSession txns then go %d a round)", expireChunk, r, roundExpiries)
	})
	s.Stop(context.Background())
}

type sessionRef struct{ id wire.SessionID }

// BenchmarkReaperCheck measures a container/TTL check over 1M containers
// (none of them due): what f043a4b did in one step (both lists sorted,
// every node read), and the walk across rounds.
func BenchmarkReaperCheck(b *testing.B) {
	s := benchServer(b)
	onOwner(b, s, func() {
		z := s.tree.LastZxid
		apply := func(typ wire.OpCode, body jute.Record) {
			z++
			if r := s.tree.Apply(&wire.TxnEntry{Hdr: wire.TxnHeader{Zxid: z, Type: typ}, Body: body}); r.Err != wire.ErrOk {
				b.Fatalf("%v: %v", typ, r.Err)
			}
		}
		apply(wire.OpCreate, &wire.CreateTxn{Path: "/c", ACL: tree.OpenACLUnsafe, ParentCVersion: -1})
		for i := range 1_000_000 {
			apply(wire.OpCreateContainer, &wire.CreateContainerTxn{Path: fmt.Sprintf("/c/%07d", i), ACL: tree.OpenACLUnsafe, ParentCVersion: -1})
		}
		s.wr.zxid = z
	})
	b.Run("one-step", func(b *testing.B) {
		for b.Loop() {
			measureOnce(b, s, func() { _ = reapCandidates(s.tree, wallMs()) })
		}
	})
	b.Run("walk", func(b *testing.B) {
		for b.Loop() {
			// All in one owner call: the server's own rounds would
			// step the walk too between separate ones.
			var r rounds
			onOwner(b, s, func() {
				r.max = threadCPU(func() { s.reap.check(s.tree, wallMs(), false) })
				for s.reap.scan != nil {
					d := threadCPU(func() { s.reap.run(s.tree, roundExpiries, false) })
					r.n++
					r.total += d
					r.max = max(r.max, d)
				}
			})
			b.Logf("%d rounds, longest %v, total %v", r.n, r.max, r.total)
			b.ReportMetric(float64(r.max.Microseconds())/1000, "round-ms")
		}
	})
	s.Stop(context.Background())
}

// BenchmarkOwnerStepsRequests measures one client's largest requests (1 MB,
// jute.maxbuffer) on a server with 1M children under one node.
func BenchmarkOwnerStepsRequests(b *testing.B) {
	s := benchServer(b)
	onOwner(b, s, func() {
		z := s.tree.LastZxid
		create := func(p string) {
			z++
			e := wire.TxnEntry{Hdr: wire.TxnHeader{Zxid: z, Type: wire.OpCreate}, Body: &wire.CreateTxn{Path: p, ACL: tree.OpenACLUnsafe, ParentCVersion: -1}}
			if r := s.tree.Apply(&e); r.Err != wire.ErrOk {
				b.Fatalf("create %s: %v", p, r.Err)
			}
		}
		create("/flat")
		for i := 0; i < 1_000_000; i++ {
			create("/flat/" + strconv.Itoa(i))
		}
		create("/m")
		create("/few")
		for i := range 1000 {
			create("/few/" + strconv.Itoa(i))
		}
		s.wr.zxid = z
	})
	cc := benchConn(s, 7, 1<<42)
	onOwner(b, s, func() { s.sessions.Add(cc.session, 1<<30, s.lp.nowMs()) })

	b.Run("batch-1000-getChildren-of-1000", func(b *testing.B) {
		b.N = 1
		pkts := make([]wire.ClientPacket, 1000)
		for i := range pkts {
			pkts[i] = wire.ClientPacket{Kind: wire.KindRequest, Header: wire.RequestHeader{Xid: wire.Xid(i + 1), Type: wire.OpGetChildren},
				Body: &wire.GetChildrenRequest{Path: "/few"}}
		}
		// As f043a4b did: every request of the batch at once.
		whole := measureOnce(b, s, func() {
			for i := range pkts {
				s.cl.execRequest(cc, &pkts[i])
			}
			cc.out = nil
		})
		// Now: the batch's first round, then the rounds of its resumeJob.
		first := measureOnce(b, s, func() {
			s.handleEvent(event{cc: cc, pkts: pkts})
			cc.out = nil
		})
		var rounds int
		var longest time.Duration
		for done := false; !done; rounds++ {
			onOwner(b, s, func() {
				d := threadCPU(func() {
					s.sched.roundStart = time.Time{}
					if cc.job != nil {
						cc.job = nil
						s.cl.drainPending(cc)
					}
					cc.out = nil
					done = cc.job == nil && len(cc.pending) == 0
				})
				longest = max(longest, d)
			})
		}
		b.Logf("at once %v; now %v, then %d rounds, longest %v", whole.max, first.max, rounds, longest)
		b.ReportMetric(float64(max(first.max, longest).Microseconds())/1000, "round-ms")
	})

	b.Run("getChildren-1M", func(b *testing.B) {
		for b.Loop() {
			var j connJob
			copied := measureOnce(b, s, func() {
				names := s.tree.Get("/flat").ChildNames()
				j = newNamesReplyJob(1, s.tree.LastZxid, names, nil)
			})
			r := measureRounds(b, s, func() func() bool {
				return func() bool {
					cc.out = nil
					_, done := j.step(s, cc, roundConnOps)
					return done
				}
			})
			b.Logf("names copied in %v, encoded in %v", copied.max, r)
		}
	})
	paths := make([]string, 170_000)
	for i := range paths {
		paths[i] = "/flat/" + strconv.Itoa(i)
	}
	b.Run("setWatches-170k", func(b *testing.B) {
		for b.Loop() {
			j := newSetWatchesJob(1, 1<<62, paths, []string{}, []string{}, []string{}, []string{})
			r := measureRounds(b, s, func() func() bool {
				return func() bool {
					cc.out = nil
					_, done := j.step(s, cc, roundConnOps)
					return done
				}
			})
			b.Logf("%v", r)
		}
	})
	var ops []wire.MultiOp
	for i := 0; i < 20_000; i++ {
		ops = append(ops, wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/m/" + strconv.Itoa(i), ACL: tree.OpenACLUnsafe}})
	}
	b.Run("multi-20k-creates", func(b *testing.B) {
		b.N = 1
		prep, apply := benchTxnJob(b, s, &tree.PrepRequest{Session: cc.session, Type: wire.OpMulti, Body: &wire.MultiRequest{Ops: ops},
			Auth: []wire.ID{{Scheme: tree.SchemeSuper}}})
		b.Logf("prep: %v; apply: %v", prep, apply)
	})
	b.Run("multi-46k-checks-of-1MB-node", func(b *testing.B) {
		b.N = 1
		onOwner(b, s, func() {
			z := s.wr.nextZxid()
			e := wire.TxnEntry{Hdr: wire.TxnHeader{Zxid: z, Type: wire.OpCreate}, Body: &wire.CreateTxn{Path: "/big", Data: make([]byte, 1<<20-64), ACL: tree.OpenACLUnsafe, ParentCVersion: -1}}
			s.tree.Apply(&e)
		})
		var checks []wire.MultiOp
		for i := 0; i < 46_000; i++ {
			checks = append(checks, wire.MultiOp{Type: wire.OpCheck, Op: &wire.CheckVersionRequest{Path: "/big", Version: -1}})
		}
		prep, apply := benchTxnJob(b, s, &tree.PrepRequest{Session: cc.session, Type: wire.OpMulti, Body: &wire.MultiRequest{Ops: checks},
			Auth: []wire.ID{{Scheme: tree.SchemeSuper}}})
		b.Logf("prep: %v; apply: %v", prep, apply)
	})
	acl := make([]wire.ACL, 45_000)
	for i := range acl {
		acl[i] = wire.ACL{Perms: int32(i), ID: wire.ID{Scheme: "world", ID: "anyone"}}
	}
	b.Run("create-45k-acl-entries", func(b *testing.B) {
		b.N = 1
		prep, apply := benchTxnJob(b, s, &tree.PrepRequest{Session: cc.session, Type: wire.OpCreate,
			Body: &wire.CreateRequest{Path: "/acl", ACL: acl}, Auth: []wire.ID{{Scheme: tree.SchemeSuper}}})
		b.Logf("prep: %v; apply: %v", prep, apply)
	})
	b.Run("diff-from-txnlog-100MB", func(b *testing.B) {
		b.N = 1
		var first wire.Zxid
		onOwner(b, s, func() { first = s.tree.LastZxid + 1 })
		l, err := storage.OpenTxnLog(s.dur.logDir(), storage.Options{})
		if err != nil {
			b.Fatal(err)
		}
		data := make([]byte, 1000)
		for i := 0; i < 100_000; i++ {
			e := wire.TxnEntry{Hdr: wire.TxnHeader{Zxid: first + wire.Zxid(i), Type: wire.OpSetData}, Body: &wire.SetDataTxn{Path: "/m", Data: data}}
			if err := l.Append(&e); err != nil {
				b.Fatal(err)
			}
		}
		if err := l.Sync(); err != nil {
			b.Fatal(err)
		}
		l.Close()
		// Read off the owner goroutine (readLogForSync): timed here.
		start := time.Now()
		n := len(proposalsFromLog(zerolog.Nop(), s.dur.snapDir(), s.dur.logDir(), s.cfg.RecordLimit(), first, 1e9))
		b.Logf("%d txns read off the owner in %v", n, time.Since(start))
	})
	s.Stop(context.Background())
}

func benchServer(b *testing.B) *Server {
	b.Helper()
	return startStandalone(b, func(c *Config) {
		c.DataLogDir = c.DataDir
		c.Logger = zerolog.Nop()
	})
}

type benchSink struct{ id uint64 }

func (f benchSink) ID() uint64          { return f.id }
func (benchSink) RemoteAddr() string    { return "127.0.0.1:2181" }
func (benchSink) Send([]byte, int) bool { return true }
func (benchSink) Close(string)          {}
func (benchSink) Resume()               {}

// countSink counts what it is sent.
type countSink struct {
	benchSink
	n int
}

func (c *countSink) Send(b []byte, _ int) bool { c.n += len(b); return true }

// benchConn registers a connection with a session (owner goroutine only).
func benchConn(s *Server, id uint64, sess wire.SessionID) *clientConn {
	cc := &clientConn{sink: benchSink{id}, id: id, remote: "127.0.0.1:" + strconv.Itoa(int(id%60000))}
	s.cl.register(cc)
	cc.session, cc.timeoutMs = sess, 30000
	s.cl.bySession[sess] = cc
	return cc
}

func onOwner(b *testing.B, s *Server, fn func()) {
	b.Helper()
	if err := s.Call(context.Background(), fn); err != nil {
		b.Fatal(err)
	}
}

// threadCPU returns the CPU time fn takes on its thread (the wall time if
// the goroutine moved to another thread meanwhile: the owner goroutine is
// not locked to a thread, and the four-letter jobs' coroutines may not be
// switched from a locked one).
func threadCPU(fn func()) time.Duration {
	var a, z unix.Timespec
	tid := unix.Gettid()
	start := time.Now()
	_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &a)
	fn()
	_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &z)
	if unix.Gettid() != tid {
		return time.Since(start)
	}
	return time.Duration(z.Nano() - a.Nano())
}

type rounds struct {
	n                  int
	max, median, total time.Duration
}

func (r rounds) String() string {
	return fmt.Sprintf("%d rounds, median %v, longest %v, total %v", r.n, r.median.Round(time.Microsecond),
		r.max.Round(time.Microsecond), r.total.Round(time.Microsecond))
}

// measureOnce runs fn as one owner round.
func measureOnce(b *testing.B, s *Server, fn func()) rounds {
	var d time.Duration
	onOwner(b, s, func() { d = threadCPU(fn) })
	b.ReportMetric(float64(d.Microseconds())/1000, "round-ms")
	b.ReportMetric(float64(d.Microseconds())/1000, "total-ms")
	return rounds{1, d, d, d}
}

// measureRounds runs the step newStep returns, one owner round each, until
// it reports done.
func measureRounds(b *testing.B, s *Server, newStep func() func() bool) rounds {
	var step func() bool
	onOwner(b, s, func() { step = newStep() })
	var r rounds
	var all []time.Duration
	for done := false; !done; {
		var d time.Duration
		onOwner(b, s, func() { d = threadCPU(func() { done = step() }) })
		r.n++
		r.total += d
		r.max = max(r.max, d)
		all = append(all, d)
	}
	slices.Sort(all)
	r.median = all[len(all)/2]
	b.ReportMetric(float64(r.max.Microseconds())/1000, "round-ms")
	b.ReportMetric(float64(r.total.Microseconds())/1000, "total-ms")
	b.ReportMetric(float64(r.n), "rounds")
	return r
}

// benchFourLetter builds a four-letter word's output round by round.
func benchFourLetter(b *testing.B, s *Server, word string) {
	for b.Loop() {
		sink := &countSink{}
		cc := &clientConn{sink: sink, fourLetter: true}
		var j *fourLetterJob
		onOwner(b, s, func() { j = s.resp.fourLetterJob(word).(*fourLetterJob) })
		if j.pre != nil {
			v := <-j.pre
			j.pre = make(chan any, 1)
			j.pre <- v
		}
		r := measureRounds(b, s, func() func() bool {
			return func() bool {
				_, done := j.step(s, cc, roundConnOps)
				return done
			}
		})
		b.Logf("%s: %d bytes, %v", word, sink.n, r)
	}
}

// benchAdmin gathers an AdminServer command's data round by round, with
// the budget benchFourLetter gives a four-letter word, then builds its
// JSON maps as the HTTP request's goroutine does (timed, off the owner).
func benchAdmin(b *testing.B, s *Server, cmd string) {
	for b.Loop() {
		var j *adminJob
		var finish func(map[string]any)
		onOwner(b, s, func() {
			gen, f := s.resp.adminListing(cmd)
			j, finish = &adminJob{ctx: context.Background(), gen: gen, done: make(chan struct{})}, f
		})
		r := measureRounds(b, s, func() func() bool {
			return func() bool {
				_, done := j.step(s, nil, roundConnOps)
				return done
			}
		})
		start := time.Now()
		finish(map[string]any{})
		b.Logf("%s: %v; built off the owner in %v", cmd, r, time.Since(start).Round(time.Millisecond))
	}
}

// benchTxnJob prepares and applies one large txn with the jobs, a round's
// budget per owner round, and returns both measurements.
func benchTxnJob(b *testing.B, s *Server, req *tree.PrepRequest) (prep, apply rounds) {
	var e wire.TxnEntry
	var pj *tree.PrepJob
	onOwner(b, s, func() {
		req.Zxid = s.wr.nextZxid()
		req.Time = wallMs()
		pj = s.tree.BeginPrep(req)
	})
	prep = measureRounds(b, s, func() func() bool {
		return func() bool {
			_, done := pj.Step(roundPrepOps)
			return done
		}
	})
	onOwner(b, s, func() { e, _ = pj.Result() })
	var aj *tree.ApplyJob
	var fired int
	var res *tree.Result
	apply = measureRounds(b, s, func() func() bool {
		aj = s.tree.BeginApply(&e, true)
		if aj == nil {
			// One op: applied at once.
			return func() bool {
				res := s.tree.ApplyHeld(&e)
				s.sched.notify.trigger(res.Events)
				s.tree.Advance(e.Hdr.Zxid)
				return true
			}
		}
		return func() bool {
			if res == nil {
				if _, done := aj.Step(roundApplyOps); done {
					res = aj.Result()
				}
				return false
			}
			n := min(roundApplyOps, len(res.Events)-fired)
			s.sched.notify.trigger(res.Events[fired : fired+n])
			fired += n
			if fired < len(res.Events) {
				return false
			}
			aj.Finish()
			return true
		}
	})
	return prep, apply
}

var _ iter.Seq[int] // (iter is used by the four-letter jobs measured here)
