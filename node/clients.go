package node

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/node/session"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/node/watch"
	"github.com/zkgo/zkgo/wire"
)

// clientHost is what the client layer needs from the rest of the server
// (*Server implements it).
type clientHost interface {
	// lastApplied is the last zxid handed to the apply pipeline.
	lastApplied() wire.Zxid
	// proposeClientWrite prepares and proposes a client's write; replyWrite
	// answers one once applied.
	proposeClientWrite(cc *clientConn, p *wire.ClientPacket)
	replyWrite(p *proposal)
	// processConnect handles a ConnectRequest (the session side).
	processConnect(cc *clientConn, c *wire.Connect)
}

// clients is the client connection layer: the connections the front end
// hands the server (Open, Submit, Received, Closed), the backpressure on
// that hand-off (park, resumeParked), the connection table and per-IP
// limits, the output flushed at the end of every owner step, and what
// sessions are heard from; the requests themselves (request.go,
// readjobs.go), the handshake's reply (connect.go), auth (sasl.go,
// x509auth.go) and the replies (conn.go). Its state belongs to the owner
// goroutine except the lock-free stacks and counters the event loops push
// to. It reaches the rest of the server only through the dependencies
// below, set in New and Start: the parts of Server it uses (config,
// statistics, scheduler, responder, tree, sessions, watches) and host, the
// *Server behind a narrow interface. Server holds it by value (Server.cl)
// and keeps the proxy.Backend methods, which delegate.
type clients struct {
	// Wired in New.
	cfg    *Config
	log    zerolog.Logger
	stats  *stats
	events chan<- event    // the owner's queue (Server.events)
	wake   chan struct{}   // Server.wake
	quit   <-chan struct{} // Server.quit
	nowMs  func() int64
	// host is what the layer asks of the rest of the server: the role,
	// the write pipeline and the handshake (clientHost).
	host clientHost
	// roles answers whether clients are served and whether writes go to
	// a leader (the quorum side, quorumside.go).
	roles interface {
		isLearner() bool
		serving() bool
	}
	// learner is the learner side while the server is one (Server.peer's):
	// touches for its PING replies, writes forwarded to the leader.
	learner func() *learnerDriver
	sched   *scheduler     // Server.sched: jobs across rounds, the apply pipeline
	resp    *responder     // Server.resp: four-letter words
	jsum    *javaSummaries // Server.jsum: the read latency summary
	// dropJob drops a connection's job when its socket closes.
	dropJob func(j connJob)
	// tree is Server.tree, which a database load replaces: replies carry
	// its last zxid.
	tree **tree.Tree
	// Set in Start.
	start         time.Time // Server.start: the origin of arrivals
	startMs       int64     // Server.startMs
	sessions      *session.Tracker
	dataW, childW *watch.Manager

	closedQ atomic.Pointer[clientConn] // lock-free stack of closed connections
	// heardQ is a lock-free stack of connections whose bytes arrived since
	// the owner last looked (Received, runHeard).
	heardQ atomic.Pointer[clientConn]
	// Backpressure (submit, resumeParked). queued counts packets in
	// events; parking is set while refused connections wait, so that
	// newcomers queue behind them; parkedQ is a lock-free stack of
	// connections refused since the owner last looked.
	queued  atomic.Int64
	parking atomic.Bool
	parkedQ atomic.Pointer[clientConn]

	// owner state
	conns     map[uint64]*clientConn
	bySession map[wire.SessionID]*clientConn
	perIP     map[string]*ipEntry
	dirty     []*clientConn // connections with output to flush
	parked    []*clientConn // refused connections waiting for room, oldest first
	// outstandingN is the number of requests in connections' pending
	// queues (srvr's Outstanding).
	outstandingN int
	// queuedSync is set while a sync taken from a connection's pending
	// queue runs: syncAfter is its target (execRequest). One request runs
	// at a time, so it lives here rather than in every clientConn.
	queuedSync  bool
	syncAfter   wire.Zxid
	sessionless sessionlessCheck // connections without a session (sessionless.go)
	lis         clientListener   // the client port served on and its moves (listener.go)
	sasl        *saslSetup       // client SASL (sasl.go); nil: none
}

// park queues a refused connection for resumeParked and wakes the owner
// goroutine. It runs on the connection's event loop, which submits nothing
// more for it until Resume, so a connection is parked at most once.
func (c *clients) park(cc *clientConn, n int64) bool {
	c.stats.overloaded.Add(1)
	cc.parkedPkts.Store(n)
	// parking before the push: once resumeParked has taken cc it may
	// clear the flag, and must not find it set again by us afterwards.
	c.parking.Store(true)
	if cc.parked.CompareAndSwap(false, true) {
		for {
			head := c.parkedQ.Load()
			cc.nextParked = head
			if c.parkedQ.CompareAndSwap(head, cc) {
				break
			}
		}
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return false
}

// resumeParked lets parked connections submit again, oldest first, once
// the queue has drained to half of either bound, as many as the room
// left: each is expected to bring about what it was refused with. A
// flooder that is resumed and floods again parks behind everyone who
// waited meanwhile, so every connection gets its turn. It runs on the
// owner goroutine after every step; Resume only wakes an event loop.
func (c *clients) resumeParked() {
	if len(c.parked) == 0 && c.parkedQ.Load() == nil && !c.parking.Load() {
		return // the usual case: plain loads, no write to shared memory
	}
	if head := c.parkedQ.Swap(nil); head != nil {
		// The stack is newest first.
		from := len(c.parked)
		for cc := head; cc != nil; {
			next := cc.nextParked
			cc.nextParked = nil
			c.parked = append(c.parked, cc)
			cc = next
		}
		slices.Reverse(c.parked[from:])
	}
	if len(c.parked) == 0 {
		if c.parking.Load() {
			// A connection that set it is in parkedQ by now, or about to
			// be: it woke us, and is resumed on the next step.
			c.parking.Store(false)
		}
		return
	}
	queued, batches := c.queued.Load(), len(c.events)
	if queued > eventQueuePackets/2 || batches > eventQueueSize/2 {
		return // more events are queued: this runs again after them
	}
	room, slots := eventQueuePackets-queued, eventQueueSize-batches
	i := 0
	for ; i < len(c.parked) && room > 0 && slots > 0; i++ {
		cc := c.parked[i]
		c.parked[i] = nil
		cc.parked.Store(false)
		if cc.gone.Load() {
			continue // its packets went with the connection
		}
		room -= cc.parkedPkts.Load()
		slots--
		cc.admitted.Store(true)
		cc.sink.Resume()
	}
	c.parked = c.parked[i:]
	if len(c.parked) == 0 {
		c.parked = nil
		// Anyone parked since the swap above is in parkedQ and has woken
		// us; it is resumed on the next step.
		c.parking.Store(false)
	}
}

// runHeard touches the sessions of the connections heard from since the
// last call, at the time their bytes arrived (never moving an expiry
// earlier); a learner records them for its next PING reply instead. Each
// round, and before sessions are expired or a PING is answered. O(the
// connections heard since the last call).
func (c *clients) runHeard() {
	for cc := c.heardQ.Swap(nil); cc != nil; {
		next := cc.nextHeard
		cc.nextHeard = nil
		cc.heard.Store(false) // a later arrival pushes cc again
		at := cc.heardAt.Load()
		if cc.session != 0 && !cc.dead && !cc.closing {
			if c.roles.isLearner() {
				if lr := c.learner(); lr.touched != nil {
					lr.touchLearner(cc)
				}
			} else {
				c.sessions.Extend(cc.session, cc.timeoutMs, at)
			}
		}
		cc = next
	}
}

// reapClosed processes connections whose sockets closed.
func (c *clients) reapClosed() {
	head := c.closedQ.Swap(nil)
	for cc := head; cc != nil; {
		next := cc.nextClosed
		cc.nextClosed = nil
		c.connGone(cc)
		cc = next
	}
}

// register starts tracking a connection and enforces maxClientCnxns.
func (c *clients) register(cc *clientConn) {
	cc.registered = true
	cc.openedAt = c.nowMs()
	cc.lastActive = cc.openedAt
	cc.stats.established = wallMs()
	cc.stats.lastOpCode = opNA
	ip := hostOf(cc.remote)
	e := c.perIP[ip]
	if e == nil {
		e = &ipEntry{ip: ip}
		c.perIP[ip] = e
	}
	e.conns++
	c.conns[cc.id] = cc
	c.sessionless.add(cc)
	c.stats.connections++
	if c.cfg.MaxClientCnxns > 0 && e.conns > c.cfg.MaxClientCnxns {
		c.stats.connRejected++
		c.log.Warn().Str("remote", cc.remote).Int("max", c.cfg.MaxClientCnxns).
			Msg("Too many connections from client IP - closing")
		cc.closeNow = true
		c.closeConn(cc, "too many connections from "+e.ip)
	}
}

// connGone forgets a connection whose socket closed. Its session lives on
// until it expires or the client reconnects.
func (c *clients) connGone(cc *clientConn) {
	if !cc.registered {
		// Its open event may still be queued; account for it now so the
		// per-IP count and connection table stay right.
		c.register(cc)
	}
	if cc.dead {
		return
	}
	cc.dead = true
	delete(c.conns, cc.id)
	if e := c.perIP[cc.ip()]; e != nil {
		if e.conns--; e.conns <= 0 {
			delete(c.perIP, e.ip)
		}
	}
	if cc.session != 0 && c.bySession[cc.session] == cc {
		delete(c.bySession, cc.session)
	}
	c.dataW.RemoveWatcher(watch.Watcher(cc.id))
	c.childW.RemoveWatcher(watch.Watcher(cc.id))
	if cc.job != nil && !cc.fourLetter {
		// A four-letter word's job goes on: its answer goes to the front
		// end's duplicate of the socket, which only its Send and Close
		// release (answerFourLetter).
		c.dropJob(cc.job)
		cc.job = nil
	}
	c.outstandingN -= len(cc.pending)
	cc.pending = nil
	cc.out = nil
}

// closeConn flushes what cc has and closes it.
func (c *clients) closeConn(cc *clientConn, reason string) {
	if cc.dead || cc.closing {
		return
	}
	cc.closing = true
	c.flushConn(cc)
	cc.sink.Close(reason)
}

// closeConnNow closes cc without sending what it has queued (Java's
// immediate close, used on session expiry).
func (c *clients) closeConnNow(cc *clientConn, reason string) {
	if cc.dead || cc.closing {
		return
	}
	cc.closing = true
	cc.out = nil
	c.flushConn(cc)
	cc.sink.Close(reason)
}

// flush sends every connection's accumulated output. A round that
// answers several connections leaves the writes to the event loops,
// which do them in parallel with the owner; a lone reply (a serial
// client) is written by the owner itself when the front end can
// (proxy.conn.Send), which saves waking a loop.
func (c *clients) flush() {
	later := len(c.dirty) > 1
	for _, cc := range c.dirty {
		cc.inDirty = false
		c.flushConnVia(cc, later)
	}
	c.dirty = c.dirty[:0]
}

// laterSender is a Sink that can be told to queue a reply on its event
// loop rather than write it from the owner (proxy.conn).
type laterSender interface {
	SendLater(b []byte, completed int) bool
}

func (c *clients) flushConn(cc *clientConn) { c.flushConnVia(cc, false) }

func (c *clients) flushConnVia(cc *clientConn, later bool) {
	if len(cc.out) == 0 && cc.completed == 0 {
		return
	}
	if !cc.dead {
		c.stats.sentPackets += int64(cc.sentPkts)
		cc.stats.sent += int64(cc.sentPkts)
		if ls, ok := cc.sink.(laterSender); ok && later {
			ls.SendLater(cc.out, int(cc.completed))
		} else {
			cc.sink.Send(cc.out, int(cc.completed))
		}
	}
	cc.outHint = int32(min(len(cc.out), maxOutHint))
	cc.sentPkts = 0
	cc.out = nil
	cc.completed = 0
}

// markDirty queues cc for the end-of-round flush.
func (c *clients) markDirty(cc *clientConn) {
	if !cc.inDirty {
		cc.inDirty = true
		c.dirty = append(c.dirty, cc)
	}
}

// ipAuth returns the shared initial auth list of cc's address.
func (c *clients) ipAuth(cc *clientConn) []wire.ID {
	ip := cc.ip()
	e := c.perIP[ip]
	if e == nil {
		return []wire.ID{{Scheme: tree.SchemeIP, ID: javaHostAddress(ip)}}
	}
	if e.auth == nil {
		e.auth = []wire.ID{{Scheme: tree.SchemeIP, ID: javaHostAddress(ip)}}
	}
	return e.auth[:1:1]
}

// submit does Server.Submit (proxy.Backend) on the calling event loop.
func (c *clients) submit(h any, pkts []wire.ClientPacket) bool {
	cc, ok := h.(*clientConn)
	if !ok {
		return false
	}
	// Hold every string as Java would after decoding it (malformed UTF-8
	// repaired, characters outside the BMP as surrogates): a pass over the
	// requests, done here on the event loop that decoded them rather than
	// on the owner. A refused batch comes back with more packets after it
	// (the front end holds it): its converted prefix is not converted
	// again, the conversion is not idempotent.
	for i := int(cc.javaDone); i < len(pkts); i++ {
		if p := &pkts[i]; p.Kind == wire.KindRequest && p.BodyErr == nil {
			wire.ToJavaStrings(p.Body)
		}
	}
	cc.javaDone = int32(len(pkts))
	n := int64(max(len(pkts), 1))
	if cc.admitted.Load() {
		cc.admitted.Store(false)
	} else if c.parking.Load() || c.queued.Load() >= eventQueuePackets {
		return c.park(cc, n)
	}
	select {
	case c.events <- event{cc: cc, pkts: pkts}:
		c.queued.Add(n)
		cc.javaDone = 0
		return true
	case <-c.quit:
		return false
	default:
		return c.park(cc, n)
	}
}

// closed does Server.Closed (lock-free, never blocks).
func (c *clients) closed(h any) {
	cc, ok := h.(*clientConn)
	if !ok || !cc.gone.CompareAndSwap(false, true) {
		return
	}
	for {
		head := c.closedQ.Load()
		cc.nextClosed = head
		if c.closedQ.CompareAndSwap(head, cc) {
			break
		}
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// received does Server.Received (lock-free, on the event loop).
func (c *clients) received(h any) {
	cc, ok := h.(*clientConn)
	if !ok {
		return
	}
	cc.heardAt.Store(c.nowMs())
	if !cc.heard.CompareAndSwap(false, true) {
		return // in heardQ already; the owner reads heardAt after taking it
	}
	for {
		head := c.heardQ.Load()
		cc.nextHeard = head
		if c.heardQ.CompareAndSwap(head, cc) {
			break
		}
	}
}

// msAt is nowMs at the time t (read earlier on the owner goroutine).
func (c *clients) msAt(t time.Time) int64 { return c.startMs + t.Sub(c.start).Milliseconds() }
