package node

import (
	"slices"
	"time"

	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/node/watch"
	"github.com/zkgo/zkgo/wire"
)

// Work that grows with a client's request or with the tree is split across
// owner rounds (issue 14), so that one request cannot keep every other
// client waiting. Each round, after the events it took, the owner goroutine
// gives every kind of pending work a bounded slice:
//
//   - applying a large txn (a multi or closeSession of more than
//     tree.LargeTxn ops), with its watch triggers: while it runs, later txns
//     wait, and so do reads of the paths it has changed so far (a read of
//     any other path is answered at once: it sees the state before the txn,
//     which the txn's readers may see);
//   - preparing a large multi or closeSession: while it runs, every other
//     write waits to be prepared (its zxid is taken);
//   - per-connection jobs (a long setWatches, a large getChildren reply, a
//     long multiRead, a read waiting for an apply): the connection's later
//     requests wait behind the job, so its replies keep their order;
//   - housekeeping (watches of closed connections, changes of applied
//     txns).
//
// The budgets below are in ops (nodes created or deleted, paths, results);
// each round's share is well under a millisecond of work without the race
// detector (about 2 µs an op for prep or apply), so that a round stays
// short even with -race on a loaded machine.
const (
	roundApplyOps   = 128
	roundPrepOps    = 128
	roundConnOps    = 512
	roundCleanOps   = 1024
	roundExpiries   = 128
	expireChunk     = 4096 // sessions taken from the expiry buckets at a time
	roundDeliveries = 1024 // watch events sent per round
	inlineConnOps   = 256  // what a request may do before it becomes a job
	nameOpsPerUnit  = 16   // names of a large reply encoded per op
)

// A round's job work also stops after roundJobTime (checked every
// jobChunk ops), whatever is left of its budgets: under the race detector
// or on a loaded machine an op costs several times what it costs
// otherwise, and the round must stay short all the same.
const (
	roundJobTime = 2 * time.Millisecond
	jobChunk     = 32
)

// scheduler gives the owner goroutine's work that is split across rounds
// its slices (runJobs, once a round): the txn being applied in steps and
// those committed behind it, the write being prepared in steps and those
// waiting for it, the connections' jobs, the learners' touches, the
// session expiries and the reaper. It holds the apply and prep queues, the
// connections with a job and the round's clock; the sessions expiring and
// the touches not yet applied are still the server's fields (peer.go
// resets them on a role change). It reaches the server (the tree and its
// apply path, sessions, connections, proposals) through s.
type scheduler struct {
	s *Server

	applyJob  *applyRun           // a large txn being applied
	touchBuf  map[string]struct{} // paths the txn applied at once changed (startApply)
	applyWait []*proposal         // committed txns waiting for it, in zxid order
	applyHold int                 // multiRead jobs that need no txn applied meanwhile
	prepJob   *prepRun            // a large write being prepared
	prepWait  []prepItem          // writes waiting for it, in arrival order
	connJobs  []*clientConn       // connections whose head request is a job
	notify    notifier            // fires and sends the watches of applied txns
	// jobDeadline ends the current round's job work
	jobDeadline time.Time
	// roundStart is when this round's work done at once began (roundSpent)
	roundStart time.Time
}

// jobTimeUp reports whether this round's time for jobs is spent.
func (sc *scheduler) jobTimeUp() bool { return time.Now().After(sc.jobDeadline) }

// maxReplyBytes bounds the reply a multiRead may build (each of its reads
// may return up to jute.maxbuffer): past it the connection is closed, as
// the front end closes one whose unsent replies pass MaxOutboundBytes.
const maxReplyBytes = 64 << 20

// connJob is a request of one connection whose work is split across owner
// rounds. While it runs, cc.job is set and the connection's later requests
// (writes included) queue behind it.
type connJob interface {
	// step does up to budget ops and reports how many it did and whether
	// the job is done (its reply sent). It may start another job on cc.
	step(s *Server, cc *clientConn, budget int) (int, bool)
	// drop releases what the job holds; its connection is gone.
	drop(s *Server)
}

// startConnJob makes j the job at the head of cc's requests.
// Its request is the one being processed (cc.reqSeq).
func (sc *scheduler) startConnJob(cc *clientConn, j connJob) { sc.startConnJobSeq(cc, j, cc.reqSeq) }

// startConnJobSeq makes j, the job of cc's request number seq, the job at
// the head of cc's requests.
func (sc *scheduler) startConnJobSeq(cc *clientConn, j connJob, seq uint64) {
	cc.job = j
	cc.jobSeq, cc.jobAt = seq, cc.reqAt
	sc.connJobs = append(sc.connJobs, cc)
}

// applyRun is a large txn being applied in steps: its ops (job), then its
// watches (fired, a round's worth of events at a time), then the events
// they owe (pending). A small txn whose one change many connections watch
// has only the last part (job nil; touched is its paths).
type applyRun struct {
	p       *proposal
	job     *tree.ApplyJob
	res     *tree.Result // set once every op is applied
	fired   int          // events whose watches were triggered
	pending []delivery   // events still to send
	sent    int
	touched map[string]struct{}
	// firing drains an event's watchers (a path many connections watch)
	// across rounds: the data watchers, then (for a deletion) the child
	// watchers, who are skipped when seen among the former.
	firing   *watch.Firing
	firingCh bool // firing the child watchers
	seen     map[watch.Watcher]struct{}
}

// prepRun is a large write being prepared in steps.
type prepRun struct {
	prop *proposal
	job  *tree.PrepJob
}

// prepItem is a write (or a learner's request) waiting for the prep job.
type prepItem struct {
	prop *proposal // the client's reply slot, if any
	// closing: a session expiry waiting to be prepared
	closing wire.SessionID
	// session: the session whose request (or expiry) it is, 0 for none; a
	// reconfig of that session waiting for its name lookups holds it
	// (holdsPrep, reconfig_resolve.go).
	session wire.SessionID
	run     func()
}

// txnOps is the number of ops a txn changes (to decide between applying
// it at once and in steps).
func (sc *scheduler) txnOps(e *wire.TxnEntry) int {
	if e.Hdr.Type == wire.OpCloseSession {
		// Its readers delete the session's ephemerals from their own
		// index too: all of them when the list did not fit in a txn, or
		// when an old closeSession has no list at all.
		n := sc.s.tree.SessionEphemeralCount(e.Hdr.ClientID)
		if b, ok := e.Body.(*wire.CloseSessionTxn); ok && b != nil {
			n = max(n, len(b.Paths2Delete))
		}
		return n
	}
	if b, ok := e.Body.(*wire.MultiTxn); ok && b != nil {
		return len(b.Txns)
	}
	return 1
}

// applyIdle reports whether no txn is being applied or waiting to be.
func (sc *scheduler) applyIdle() bool { return sc.applyJob == nil && len(sc.applyWait) == 0 }

// applyIdleFor is applyIdle for a job of cc: no txn is being applied, and
// those waiting (if any) wait behind one of cc's own that earlierPending
// holds back until cc's earlier requests, this job among them, are
// answered. Those txns were all committed after the job's request came (a
// request sent after it leads them), so the job does not wait for them:
// it would wait forever, as they wait for it.
func (sc *scheduler) applyIdleFor(cc *clientConn) bool {
	if sc.applyJob != nil {
		return false
	}
	return len(sc.applyWait) == 0 || (sc.applyWait[0].cc == cc && sc.earlierPending(sc.applyWait[0]))
}

// lastApplied is the last zxid handed to the apply pipeline (applied, being
// applied or waiting).
func (s *Server) lastApplied() wire.Zxid {
	z := s.tree.LastZxid
	if s.sched.applyJob != nil {
		z = max(z, s.sched.applyJob.p.entry.Hdr.Zxid)
	}
	if n := len(s.sched.applyWait); n > 0 {
		z = max(z, s.sched.applyWait[n-1].entry.Hdr.Zxid)
	}
	return z
}

// lastInApply returns the last committed txn not yet applied (being
// applied or waiting), or nil.
func (s *Server) lastInApply() *proposal {
	if n := len(s.sched.applyWait); n > 0 {
		return s.sched.applyWait[n-1]
	}
	if s.sched.applyJob != nil {
		return s.sched.applyJob.p
	}
	return nil
}

// syncWaitJob is a client's sync on the server that orders writes (leader
// or standalone) that came while committed txns were waiting to be
// applied: it is answered once they are, so that the reads after it see
// them.
type syncWaitJob struct {
	pkt  *wire.ClientPacket
	zxid wire.Zxid
}

func (j *syncWaitJob) step(s *Server, cc *clientConn, _ int) (int, bool) {
	if s.tree.LastZxid < j.zxid && !s.sched.applyIdle() {
		return 0, false // the apply that brings it wakes the owner
	}
	r := j.pkt.Body.(*wire.SyncRequest)
	s.cl.reply(cc, j.pkt.Header.Xid, wire.ErrOk, &wire.SyncResponse{Path: r.Path, Nulls: r.Nulls})
	return 1, true
}

func (j *syncWaitJob) drop(*Server) {}

// readWaits reports whether a read of path must wait for the txn being
// applied in steps (it changed the path already).
func (sc *scheduler) readWaits(path string) bool {
	r := sc.applyJob
	if r == nil {
		return false
	}
	if r.job != nil {
		return r.job.Touches(path)
	}
	if path == "" {
		path = "/"
	}
	_, ok := r.touched[path]
	return ok
}

// prepare runs fn, a write's preparation, now or, while a large write is
// being prepared, after it (in arrival order); while a reconfig of its
// session waits for its name lookups, after that reconfig.
func (s *Server) prepare(it prepItem) {
	if s.holdsPrep(it) {
		return
	}
	if s.sched.prepJob != nil || len(s.sched.prepWait) > 0 || s.sched.roundSpent() {
		s.sched.prepWait = append(s.sched.prepWait, it)
		return
	}
	it.run()
}

// prepareFirst is prepare for a reconfig whose lookups are back: it is
// prepared before everything waiting to be (its session's requests that
// waited in prepWait came after it).
func (s *Server) prepareFirst(it prepItem) {
	if s.sched.prepJob != nil || len(s.sched.prepWait) > 0 || s.sched.roundSpent() {
		s.sched.prepWait = slices.Insert(s.sched.prepWait, 0, it)
		return
	}
	it.run()
}

// roundSpent reports whether this round's time for work done at once has
// run out: requests answered as they arrive, writes prepared, txns
// applied as they commit. Past it, what comes waits for the jobs of this
// and later rounds (the connection's queue behind a resumeJob, prepWait,
// applyWait), so that a batch of a thousand pipelined requests, or a
// group commit of as many txns, is not all done in one round. The round's
// time starts at the first such check.
func (sc *scheduler) roundSpent() bool {
	if sc.roundStart.IsZero() {
		sc.roundStart = time.Now()
		return false
	}
	return time.Since(sc.roundStart) > roundJobTime
}

// resumeJob holds a connection's queued requests for a later round, once
// the round's time for answering at once is spent: when its turn comes the
// queue is drained again.
type resumeJob struct{}

func (resumeJob) step(*Server, *clientConn, int) (int, bool) { return 1, true }
func (resumeJob) drop(*Server)                               {}

// runJobs gives the pending work of every kind its slice of this round.
func (sc *scheduler) runJobs() {
	sc.jobDeadline = time.Now().Add(roundJobTime)
	sc.s.cl.runHeard()
	sc.runApply(roundApplyOps, false)
	sc.runTouches(expireChunk)
	sc.runExpiries(roundExpiries)
	sc.s.reap.run(sc.s.tree, roundExpiries, sc.applyJob != nil)
	sc.s.runResolved()
	sc.runPrep(roundPrepOps)
	connMore := sc.runConnJobs(roundConnOps)
	for clean := roundCleanOps; clean > 0 && !sc.jobTimeUp(); {
		n := sc.s.dataW.RemoveDead(jobChunk * 8)
		n += sc.s.childW.RemoveDead(jobChunk * 8)
		if n == 0 {
			if sc.s.tree.CleanPrep(clean) {
				sc.s.poke()
			}
			break
		}
		clean -= n
	}
	if sc.applyJob != nil || (sc.applyHold == 0 && len(sc.applyWait) > 0) || sc.prepJob != nil || len(sc.prepWait) > 0 ||
		connMore || len(sc.s.ex.expiring) > 0 || sc.s.ex.expireMore || len(sc.s.ex.touching) > 0 || sc.s.reap.pending() ||
		sc.s.dataW.DeadPending() || sc.s.childW.DeadPending() {
		sc.s.poke()
	}
	sc.roundStart = time.Time{} // the next round's time starts at its first check
}

// runApply continues the txn being applied, then applies those waiting.
func (sc *scheduler) runApply(budget int, force bool) {
	for budget > 0 {
		if !force && sc.jobTimeUp() {
			return
		}
		r := sc.applyJob
		if r == nil {
			if (sc.applyHold > 0 && !force) || len(sc.applyWait) == 0 {
				return
			}
			if !force && sc.earlierPending(sc.applyWait[0]) {
				return // the connection's jobs run its earlier requests first
			}
			p := sc.applyWait[0]
			sc.applyWait[0] = nil
			sc.applyWait = sc.applyWait[1:]
			if len(sc.applyWait) == 0 {
				sc.applyWait = nil
			}
			budget -= max(1, min(sc.txnOps(&p.entry), tree.LargeTxn))
			sc.startApply(p)
			if sc.applyIdle() {
				sc.applyDrained()
			}
			continue
		}
		if r.res == nil {
			chunk := budget
			if !force {
				chunk = min(budget, jobChunk)
			}
			used, done := r.job.Step(chunk)
			budget -= used
			if !done {
				return
			}
			r.res = r.job.Result()
			sc.appliedTxn(r.p, r.res)
			continue
		}
		if r.sent < len(r.pending) {
			n := min(budget, len(r.pending)-r.sent, jobChunk*8)
			sc.notify.deliver(r.pending[r.sent : r.sent+n])
			r.sent += n
			budget -= n
			continue
		}
		if r.fired < len(r.res.Events) {
			budget -= sc.fireStep(r, min(budget, jobChunk*8))
			continue
		}
		// Every watch of the txn has fired and its events are out: it
		// counts as applied now, and the reads that waited for it may run.
		if r.job != nil {
			r.p.result = r.job.Finish()
		} else {
			sc.s.tree.Advance(r.p.entry.Hdr.Zxid)
		}
		sc.applyJob = nil
		sc.answerApplied(r.p)
		budget--
		if sc.applyIdle() {
			sc.applyDrained()
		}
	}
}

// fireStep fires the watches of r's next events, at most about n
// watchers' worth, and returns the ops it spent.
func (sc *scheduler) fireStep(r *applyRun, n int) int {
	ev := &r.res.Events[r.fired]
	if r.firing == nil && sc.notify.fanOut(ev) <= roundDeliveries {
		// A few watchers: at once.
		before := len(r.pending)
		r.pending = sc.notify.collect(r.res.Events[r.fired:r.fired+1], r.pending)
		r.fired++
		return 1 + len(r.pending) - before
	}
	if r.firing == nil {
		m := sc.s.dataW
		if ev.Type == wire.EventNodeChildrenChanged {
			m = sc.s.childW
		}
		if r.firing = m.Fire(ev.Path, nil); r.firing == nil {
			// Recursive watches exist: Trigger walks the ancestors.
			before := len(r.pending)
			r.pending = sc.notify.collect(r.res.Events[r.fired:r.fired+1], r.pending)
			r.fired++
			return 1 + len(r.pending) - before
		}
	}
	ws, done := r.firing.Next(n, nil)
	if ev.Type == wire.EventNodeDeleted && !r.firingCh {
		if r.seen == nil {
			r.seen = make(map[watch.Watcher]struct{}, len(ws))
		}
		for _, w := range ws {
			r.seen[w] = struct{}{}
		}
	}
	r.pending = sc.notify.addDeliveries(r.pending, ev, ws)
	if done {
		r.firing = nil
		if ev.Type == wire.EventNodeDeleted && !r.firingCh {
			// Then the child watchers, each at most once.
			r.firingCh = true
			if r.firing = sc.s.childW.Fire(ev.Path, r.seen); r.firing == nil {
				ws := sc.s.childW.Trigger(ev.Path, ev.Type, r.seen)
				r.pending = sc.notify.addDeliveries(r.pending, ev, ws)
			}
		}
		if r.firing == nil {
			r.fired++
			r.firingCh, r.seen = false, nil
		}
	}
	return 1 + len(ws)
}

// applyDrained runs what waited for every committed txn to be applied.
func (sc *scheduler) applyDrained() {
	if sc.s.qs.leader != nil {
		sc.s.qs.leader.resumeLearnerSyncs()
	}
}

// runPrep continues the write being prepared, then prepares those waiting.
func (sc *scheduler) runPrep(budget int) {
	for budget > 0 && !sc.jobTimeUp() {
		r := sc.prepJob
		if r == nil {
			if len(sc.prepWait) == 0 {
				return
			}
			it := sc.prepWait[0]
			sc.prepWait[0] = prepItem{}
			sc.prepWait = sc.prepWait[1:]
			if len(sc.prepWait) == 0 {
				sc.prepWait = nil
			}
			if !sc.s.holdsPrep(it) {
				it.run()
			}
			budget--
			continue
		}
		used, done := r.job.Step(min(budget, jobChunk))
		budget -= used
		if !done {
			continue
		}
		sc.prepJob = nil
		e, code := r.job.Result()
		sc.s.prepared(r.prop, e, code)
	}
}

// dropPreps abandons the write being prepared and those waiting (the
// leader steps down, or the txn log failed): fail gets each client's
// proposal; expiries waiting are undone so the sessions expire again later.
func (s *Server) dropPreps(fail func(p *proposal)) {
	if r := s.sched.prepJob; r != nil {
		s.sched.prepJob = nil
		r.job.Abandon()
		if id, closing := r.job.Closing(); closing {
			// The session was not closed: let it expire again later.
			if sess := s.sessions.Get(id); sess != nil {
				sess.Closing = false
				s.sessions.Add(sess.ID, sess.TimeoutMs, s.lp.nowMs())
			}
		}
		fail(r.prop)
	}
	for _, it := range s.sched.prepWait {
		s.dropPrepItem(it, fail)
	}
	s.sched.prepWait = nil
	s.dropHeldReconfigs(fail)
}

// dropPrepItem abandons a write waiting to be prepared (dropPreps).
func (s *Server) dropPrepItem(it prepItem, fail func(p *proposal)) {
	switch {
	case it.prop != nil:
		fail(it.prop)
	case it.closing != 0:
		if sess := s.sessions.Get(it.closing); sess != nil {
			sess.Closing = false
			s.sessions.Add(sess.ID, sess.TimeoutMs, s.lp.nowMs())
		}
	}
}

// settleApplies finishes, at once, the txn being applied and those waiting
// (before a role change reads or replaces the tree).
func (s *Server) settleApplies() {
	for !s.sched.applyIdle() {
		s.sched.runApply(1<<30, true)
	}
}

// runExpiries proposes the closeSession txns of expired sessions, a
// bounded number per round (Java's expirer thread hands them to the
// pipeline one by one). The sessions are closing already: nothing can
// touch them back to life meanwhile.
func (sc *scheduler) runExpiries(budget int) {
	if sc.s.ex.expireMore && len(sc.s.ex.expiring) < budget {
		sc.expireSessions(sc.s.ex.expireAt)
	}
	n := min(budget, len(sc.s.ex.expiring))
	for _, sess := range sc.s.ex.expiring[:n] {
		sc.s.log.Info().Str("session", sess.ID.String()).Int32("timeout", sess.TimeoutMs).Msg("Expiring session")
		sc.s.stats.expired++
		sc.s.proposeServerTxn(sess.ID, wire.OpCloseSession, nil)
	}
	clear(sc.s.ex.expiring[:n])
	sc.s.ex.expiring = sc.s.ex.expiring[n:]
	if len(sc.s.ex.expiring) == 0 {
		sc.s.ex.expiring = nil
	}
}

// touchBatch is a learner's PING touch table being applied.
type touchBatch struct {
	touches []wire.SessionTouch
	now     int64 // when it arrived
}

// queueTouches applies a learner's touch table, at once when it is short
// and nothing is queued, otherwise expireChunk touches a round (100,000
// touches take 8 ms). A tick applies what is left before it expires
// sessions.
func (s *Server) queueTouches(touches []wire.SessionTouch) {
	s.ex.touching = append(s.ex.touching, touchBatch{touches, s.lp.nowMs()})
	if len(touches) <= expireChunk && len(s.ex.touching) == 1 {
		s.sched.runTouches(expireChunk)
	}
}

func (sc *scheduler) runTouches(budget int) {
	for budget > 0 && len(sc.s.ex.touching) > 0 {
		b := &sc.s.ex.touching[0]
		n := min(budget, len(b.touches))
		for _, t := range b.touches[:n] {
			sc.s.sessions.Touch(t.SessionID, b.now)
		}
		budget -= n
		if b.touches = b.touches[n:]; len(b.touches) == 0 {
			sc.s.ex.touching[0] = touchBatch{}
			sc.s.ex.touching = sc.s.ex.touching[1:]
		}
	}
	if len(sc.s.ex.touching) == 0 {
		sc.s.ex.touching = nil
	}
}

// expireSessions takes up to expireChunk of the sessions due at now from
// the expiry buckets; the owner takes more in later rounds while some are
// left (100,000 sessions due at once take 4.6 ms to take in one go).
func (sc *scheduler) expireSessions(now int64) {
	sc.s.cl.runHeard()     // clients heard from before now count
	sc.runTouches(1 << 62) // touches that arrived before now count
	got := sc.s.sessions.Expire(now, expireChunk)
	sc.s.ex.expiring = append(sc.s.ex.expiring, got...)
	sc.s.ex.expireAt, sc.s.ex.expireMore = now, len(got) == expireChunk
}

// runConnJobs gives the connections' jobs their slices, in turn, and
// reports whether one may go on at once (a job that did nothing waits for
// something that wakes the owner itself: an apply's next round, a
// goroutine's result).
func (sc *scheduler) runConnJobs(budget int) bool {
	more := false
	jobs := sc.connJobs
	sc.connJobs = nil
	var later []*clientConn // not reached this round: first next round
	var again []*clientConn
	for _, cc := range jobs {
		j := cc.job
		if j == nil {
			continue
		}
		if cc.dead && !cc.fourLetter {
			j.drop(sc.s)
			cc.job = nil
			continue
		}
		if budget <= 0 || sc.jobTimeUp() {
			later = append(later, cc)
			more = true
			continue
		}
		// The job runs as its request: what it starts (a read it held
		// back may start another job) keeps the request's number.
		cc.reqSeq, cc.reqAt = cc.jobSeq, cc.jobAt
		used, done := j.step(sc.s, cc, min(budget, 4*jobChunk))
		if _, read := j.(readJob); read && done && !cc.fourLetter {
			sc.s.cl.observeRead(cc)
		}
		cc.reqSeq = cc.lastSeq
		budget -= max(used, 1)
		if !done {
			again = append(again, cc)
			more = more || used > 0
			continue
		}
		more = true
		if cc.job == j {
			cc.job = nil
		}
		if cc.job == nil {
			sc.s.cl.drainPending(cc) // may start its next job (added to sc.connJobs)
		}
	}
	sc.connJobs = append(append(later, again...), sc.connJobs...)
	return more
}

// waitApplyJob is a read that must wait for the txn being applied in steps
// (it reads a path the txn has changed already).
type waitApplyJob struct {
	pkt  *wire.ClientPacket
	auth []wire.ID
}

func (j *waitApplyJob) step(s *Server, cc *clientConn, _ int) (int, bool) {
	if s.sched.applyJob != nil {
		return 0, false
	}
	live := cc.auth
	cc.auth = j.auth
	s.cl.execRequest(cc, j.pkt)
	cc.auth = live
	return 1, true
}

func (j *waitApplyJob) drop(*Server) {}

// deferRead queues a read behind the txn being applied.
func (sc *scheduler) deferRead(cc *clientConn, p *wire.ClientPacket) {
	sc.startConnJob(cc, &waitApplyJob{pkt: p, auth: cc.auth})
}

// answerApplied marks an applied txn done and answers its requester, and
// the syncs that waited for it.
func (sc *scheduler) answerApplied(p *proposal) {
	p.applied = true
	if after := p.after; after != nil {
		p.after = nil
		for _, sp := range after {
			sc.s.syncDone(sp)
		}
	}
	h := &p.entry.Hdr
	if p.connect != nil {
		sc.s.finishConnect(p)
		return
	}
	if h.Type == wire.OpCloseSession {
		// The requester (if any) gets its reply first; then the session's
		// connection is closed.
		if p.cc != nil {
			sc.s.cl.drainPending(p.cc)
		}
		if cc := sc.s.cl.bySession[h.ClientID]; cc != nil {
			delete(sc.s.cl.bySession, h.ClientID)
			if p.cc == cc {
				// closeSession from the client: reply, then close.
				sc.s.cl.closeConn(cc, "session closed")
			} else {
				// Expiry: Java closes the connection at once and what was
				// queued for it is lost.
				sc.s.cl.closeConnNow(cc, "session expired")
			}
		}
		return
	}
	if p.cc != nil {
		sc.s.cl.drainPending(p.cc)
	}
}

// runConnJob runs j at once as far as a request may go in one round, and
// leaves the rest, if any, as cc's job.
func (sc *scheduler) runConnJob(cc *clientConn, j connJob) {
	if _, done := j.step(sc.s, cc, inlineConnOps); !done {
		sc.startConnJob(cc, j)
	}
}
