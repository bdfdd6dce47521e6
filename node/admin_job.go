package node

import (
	"cmp"
	"context"
	"errors"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/node/watch"
	"github.com/zkgo/zkgo/wire"
)

// The AdminServer's commands whose answer grows with the server
// (connections, stats, dump, watches, watches_by_path, watch_summary,
// connection_stat_reset: an entry per connection, session, ephemeral or
// watch) gather their data across owner rounds, as the four-letter words'
// listings are built (fourletter_job.go): an adminJob is a connection job
// (connJob) of a stand-in connection that is not registered (no socket, no
// session, not listed), so runConnJobs gives it its share of each round's
// budget and time with the other connections' jobs. The job only copies
// what it reads (ids, paths, a connection's counters) into flat lists of
// its own, built in pieces (no append on the owner copies a whole list);
// the HTTP request's goroutine sorts them and builds Java's JSON maps once
// the job is done, off the owner goroutine. Like the four-letter listings,
// and like Java's, whose commands read its concurrent tables while
// requests go on, such an answer is not one instant's state: a connection
// closed or a watch fired while it is gathered may be in it or not.

// adminItemOps is what one gathered id or path counts against a round's
// budget (an append; a four-letter listing's line, which formats, counts
// fourLetterLineOps).
const adminItemOps = 1

// adminJob runs gen across owner rounds; gen yields after each item it
// gathers, with the ops the item cost.
type adminJob struct {
	ctx  context.Context // the HTTP request's: once it ends, nobody waits
	gen  iter.Seq[int]
	next func() (int, bool)
	stop func()
	done chan struct{} // closed on the owner goroutine when gen has ended
}

func (j *adminJob) step(s *Server, _ *clientConn, budget int) (int, bool) {
	if j.ctx.Err() != nil {
		// The request timed out or went away: what was gathered is
		// dropped, nobody reads it.
		j.drop(s)
		return 1, true
	}
	if j.next == nil {
		j.next, j.stop = iter.Pull(j.gen)
	}
	used := 0
	for used < budget {
		ops, ok := j.next()
		if !ok {
			j.stop()
			j.next = nil
			close(j.done)
			return used + 1, true
		}
		used += ops
	}
	return used, false
}

func (j *adminJob) drop(*Server) {
	if j.next != nil {
		j.stop()
		j.next = nil
	}
}

// adminGather runs gen across owner rounds, as the job of a stand-in
// connection, and waits until it has ended, the server stops or ctx ends.
// start runs first, on the owner goroutine: when it reports false gen is
// not run. Only after a nil error may the caller read what start and gen
// wrote; after an error they may still run on the owner goroutine (until
// the job sees ctx ended, or to the end if changes is set: gen changes
// the server, and a change is not left half done), so the caller must not
// touch it then.
func (rp *responder) adminGather(ctx context.Context, start func() bool, gen iter.Seq[int], changes bool) error {
	j := &adminJob{ctx: ctx, gen: gen, done: make(chan struct{})}
	if changes {
		j.ctx = context.WithoutCancel(ctx)
	}
	err := rp.s.Call(ctx, func() {
		if !start() {
			close(j.done)
			return
		}
		// Its first slice comes in this round's runJobs.
		rp.s.sched.startConnJob(&clientConn{remote: "admin"}, j)
	})
	if err != nil {
		return err
	}
	select {
	case <-j.done:
		return nil
	case <-rp.s.lp.done:
		return errors.New("node: server stopped")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// adminListing returns, for a command whose answer grows with the
// server, the generator that gathers its data on the owner goroutine
// (adminGather) and the function that then sets its keys in the response,
// off the owner goroutine; nil for another command.
func (rp *responder) adminListing(primary string) (iter.Seq[int], func(r map[string]any)) {
	switch primary {
	case adminResetConns:
		return rp.gatherResetConns(), func(map[string]any) {}
	case "connections":
		conns := new(pieces[adminConnInfo])
		return rp.gatherConns(conns), func(r map[string]any) {
			r["connections"] = adminConnMaps(conns, false)
			r["secure_connections"] = []any{}
		}
	case "stats":
		// server_stats at once, then the connections.
		part := map[string]any{}
		conns := new(pieces[adminConnInfo])
		gen := func(yield func(int) bool) {
			rp.adminStats(part)
			if yield(adminItemOps) {
				rp.gatherConns(conns)(yield)
			}
		}
		return gen, func(r map[string]any) {
			maps.Copy(r, part)
			r["connections"] = adminConnMaps(conns, true)
			r["secure_connections"] = []any{}
		}
	case "dump":
		d := new(adminDumpData)
		return rp.gatherDump(d), d.fill
	case "watches":
		d := new(adminWatchData)
		return rp.gatherWatches(d), func(r map[string]any) { r["session_id_to_watched_paths"] = d.sessionIDToWatchedPaths() }
	case "watches_by_path":
		ps := new(pieces[adminPair[string, int64]])
		return rp.gatherWatchesByPath(ps), func(r map[string]any) { r["path_to_session_ids"] = pathToSessionIDs(ps) }
	case "watch_summary":
		sum := new(adminWatchSummary)
		return rp.gatherWatchSummary(sum), func(r map[string]any) {
			r["num_connections"], r["num_paths"], r["num_total_watches"] = sum.conns, sum.paths, sum.total
		}
	}
	return nil, nil
}

// pieceLen is the length of the pieces a gathered list is built in: a
// list of 100,000 entries grown by appends would have the owner copy
// megabytes at a time (and pay the garbage collector's assist for them).
const pieceLen = 1024

// pieces is a list gathered on the owner goroutine in pieces of pieceLen.
type pieces[T any] struct {
	full [][]T
	cur  []T
	n    int
}

func (p *pieces[T]) add(v T) {
	if len(p.cur) == cap(p.cur) {
		if p.cur != nil {
			p.full = append(p.full, p.cur)
		}
		p.cur = make([]T, 0, pieceLen)
	}
	p.cur = append(p.cur, v)
	p.n++
}

// all returns the list in one slice (off the owner goroutine).
func (p *pieces[T]) all() []T {
	out := make([]T, 0, p.n)
	for _, f := range p.full {
		out = append(out, f...)
	}
	return append(out, p.cur...)
}

// adminConnInfo is a connection's part of connections and stats, copied
// on the owner goroutine.
type adminConnInfo struct {
	id        uint64
	remote    string
	ops       int
	queued    int
	session   wire.SessionID
	timeoutMs int32
	stats     connStats
}

// gatherConns copies every client connection's counters into out.
func (rp *responder) gatherConns(out *pieces[adminConnInfo]) iter.Seq[int] {
	return func(yield func(int) bool) {
		for c := range maps.Values(rp.conns) {
			ops := 1
			if c.fourLetter || c.closing {
				ops = 0
			}
			out.add(adminConnInfo{id: c.id, remote: c.remote, ops: ops, queued: len(c.pending),
				session: c.session, timeoutMs: c.timeoutMs, stats: c.stats})
			if !yield(fourLetterLineOps) {
				return
			}
		}
	}
}

// adminConnMaps is ServerCnxnFactory.getAllConnectionInfo(brief): the
// connections by id (off the owner goroutine).
func adminConnMaps(p *pieces[adminConnInfo], brief bool) []any {
	conns := p.all()
	slices.SortFunc(conns, func(a, b adminConnInfo) int { return cmp.Compare(a.id, b.id) })
	out := make([]any, 0, len(conns))
	for i := range conns {
		c := &conns[i]
		m := map[string]any{
			"remote_socket_address": strings.TrimPrefix(javaSocketAddr(c.remote), "/"),
			"interest_ops":          c.ops,
			"outstanding_requests":  c.queued,
			"packets_received":      c.stats.received,
			"packets_sent":          c.stats.sent,
		}
		if !brief && c.session != 0 {
			st := &c.stats
			avg := int64(0)
			if st.latencyCount > 0 {
				avg = st.latencySum / st.latencyCount
			}
			m["session_id"] = int64(c.session)
			m["last_operation"] = st.lastOpName()
			m["established"] = st.established
			m["session_timeout"] = int64(c.timeoutMs)
			m["last_cxid"] = int64(st.lastCxid)
			m["last_zxid"] = int64(st.lastZxid)
			m["last_response_time"] = st.lastRespTime
			m["last_latency"] = st.lastLatencyMs()
			m["min_latency"] = st.shownMin()
			m["avg_latency"] = avg
			m["max_latency"] = st.maxLatency
		}
		out = append(out, m)
	}
	return out
}

// adminResetConns is the one listing that changes the server: it goes
// on to the end once started, as crst does for a closed connection.
const adminResetConns = "connection_stat_reset"

// gatherResetConns is connection_stat_reset: every connection's stats
// reset, across rounds as crst's.
func (rp *responder) gatherResetConns() iter.Seq[int] {
	return func(yield func(int) bool) {
		for c := range maps.Values(rp.conns) {
			c.stats.reset()
			if !yield(adminItemOps) {
				return
			}
		}
	}
}

// adminPair is an entry of a listing by key: a session's expiry bucket
// time or its id, a watcher's id or a watched path (key), with a session
// id or a path (val). One with none set lists a key with an empty list.
type adminPair[K cmp.Ordered, V any] struct {
	key   K
	order uint64 // for watches_by_path, the watcher: its sessions come in watcher order
	val   V
	none  bool
}

// adminDumpData is dump's data: the session expiry buckets (empty on a
// learner) and the ephemerals by session.
type adminDumpData struct {
	buckets pieces[adminPair[int64, int64]]
	eph     pieces[adminPair[int64, string]]
}

// gatherDump is dump (ZooKeeperServer.getSessionExpiryMap, getEphemerals).
func (rp *responder) gatherDump(d *adminDumpData) iter.Seq[int] {
	return func(yield func(int) bool) {
		// A Java learner's session tracker expires nothing: its expiry
		// map is empty (the leader's holds the sessions).
		if rp.s.qs.peer == nil || rp.s.qs.peer.role == roleLeading {
			for _, t := range rp.sessions.Buckets() { // few: one per tick
				for id := range rp.sessions.UnsortedBucket(t) {
					d.buckets.add(adminPair[int64, int64]{key: t, val: int64(id)})
					if !yield(adminItemOps) {
						return
					}
				}
			}
		}
		for id := range rp.s.tree.UnsortedEphemeralSessions() {
			none := true
			for p := range rp.s.tree.UnsortedEphemerals(id) {
				d.eph.add(adminPair[int64, string]{key: int64(id), val: p})
				none = false
				if !yield(adminItemOps) {
					return
				}
			}
			if none {
				d.eph.add(adminPair[int64, string]{key: int64(id), none: true})
			}
			if !yield(adminItemOps) {
				return
			}
		}
	}
}

// fill sets dump's keys in r (off the owner goroutine), every list sorted.
func (d *adminDumpData) fill(r map[string]any) {
	exp := map[string]any{}
	for k, ids := range groupPairs(d.buckets.all(), cmp.Compare[int64]) {
		exp[strconv.FormatInt(k, 10)] = ids
	}
	eph := map[string]any{}
	for k, paths := range groupPairs(d.eph.all(), strings.Compare) {
		eph[strconv.FormatInt(k, 10)] = paths
	}
	r["expiry_time_to_session_ids"] = exp
	r["session_id_to_ephemeral_paths"] = eph
}

// groupPairs sorts ps by key, then order, then value (by cmpV), and yields
// each key with its values (an empty, non-nil list for a key listed with
// none).
func groupPairs[K cmp.Ordered, V any](ps []adminPair[K, V], cmpV func(a, b V) int) iter.Seq2[K, []V] {
	slices.SortFunc(ps, func(a, b adminPair[K, V]) int {
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		if c := cmp.Compare(a.order, b.order); c != 0 {
			return c
		}
		if a.none || b.none {
			return 0
		}
		return cmpV(a.val, b.val)
	})
	return func(yield func(K, []V) bool) {
		for i := 0; i < len(ps); {
			j := i
			vs := []V{}
			for ; j < len(ps) && ps[j].key == ps[i].key; j++ {
				if !ps[j].none {
					vs = append(vs, ps[j].val)
				}
			}
			if !yield(ps[i].key, vs) {
				return
			}
			i = j
		}
	}
}

// adminWatchData is watches' data: (watcher, path) pairs, with the
// watchers' sessions.
type adminWatchData struct {
	pairs    pieces[adminPair[watch.Watcher, string]]
	sessions pieces[adminPair[watch.Watcher, int64]]
}

// gatherWatches is watches: each data watcher's session and paths.
func (rp *responder) gatherWatches(d *adminWatchData) iter.Seq[int] {
	return func(yield func(int) bool) {
		for w := range rp.dataW.UnsortedWatchers() {
			d.sessions.add(adminPair[watch.Watcher, int64]{key: w, val: rp.watcherSessionID(w)})
			for p := range rp.dataW.UnsortedPathsOf(w) {
				d.pairs.add(adminPair[watch.Watcher, string]{key: w, val: p})
				if !yield(adminItemOps) {
					return
				}
			}
			if !yield(adminItemOps) {
				return
			}
		}
	}
}

// sessionIDToWatchedPaths is watches' session_id_to_watched_paths (off
// the owner goroutine): by session, the paths of its watchers in watcher
// order, each watcher's sorted (DataTree.getWatches).
func (d *adminWatchData) sessionIDToWatchedPaths() map[string]any {
	sess := make(map[watch.Watcher]int64, d.sessions.n)
	for _, p := range d.sessions.all() {
		sess[p.key] = p.val
	}
	m := map[string]any{}
	for w, paths := range groupPairs(d.pairs.all(), strings.Compare) {
		id := strconv.FormatInt(sess[w], 10)
		m[id] = append(stringsOrEmpty(m[id]), paths...)
	}
	for _, id := range sess {
		if k := strconv.FormatInt(id, 10); m[k] == nil {
			// A watcher whose paths went while it was gathered.
			m[k] = []string{}
		}
	}
	return m
}

// gatherWatchesByPath is watches_by_path: each watched path's watchers'
// sessions.
func (rp *responder) gatherWatchesByPath(out *pieces[adminPair[string, int64]]) iter.Seq[int] {
	return func(yield func(int) bool) {
		for p := range rp.dataW.UnsortedPaths() {
			none := true
			for w := range rp.dataW.UnsortedWatchersOf(p) {
				out.add(adminPair[string, int64]{key: p, order: uint64(w), val: rp.watcherSessionID(w)})
				none = false
				if !yield(adminItemOps) {
					return
				}
			}
			if none {
				out.add(adminPair[string, int64]{key: p, none: true})
			}
			if !yield(adminItemOps) {
				return
			}
		}
	}
}

// pathToSessionIDs is watches_by_path's path_to_session_ids (off the
// owner goroutine): each path's sessions in watcher order
// (DataTree.getWatchesByPath).
func pathToSessionIDs(p *pieces[adminPair[string, int64]]) map[string]any {
	m := map[string]any{}
	for path, ids := range groupPairs(p.all(), cmp.Compare[int64]) {
		m[path] = ids
	}
	return m
}

// adminWatchSummary is watch_summary's counts (DataTree.getWatchesSummary).
type adminWatchSummary struct{ conns, paths, total int }

// gatherWatchSummary counts the data watches, watcher by watcher.
func (rp *responder) gatherWatchSummary(sum *adminWatchSummary) iter.Seq[int] {
	return func(yield func(int) bool) {
		sum.conns, sum.paths = rp.dataW.WatcherCount(), rp.dataW.PathCount()
		for w := range rp.dataW.UnsortedWatchers() {
			sum.total += rp.dataW.PathCountOf(w)
			if !yield(adminItemOps) {
				return
			}
		}
	}
}
