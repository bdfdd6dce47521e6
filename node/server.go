package node

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/node/session"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/node/watch"
	"github.com/zkgo/zkgo/wire"
)

// Sink is the server's handle on one client connection. It is an alias of
// the same unnamed interface as proxy.Conn, so the front end's connections
// are Sinks and *Server implements proxy.Backend without either package
// importing the other. All methods are safe from any goroutine.
type Sink = interface {
	ID() uint64
	RemoteAddr() string
	Send(b []byte, completed int) bool
	Close(reason string)
	Resume()
}

// The hand-off from event loops to the owner goroutine is bounded twice:
// by batches (the channel) and by packets not yet taken (an empty batch,
// the open notice, counts as one). When either is full, Submit refuses
// the batch and parks the connection: the front end holds its packets and
// the owner goroutine resumes parked connections in arrival order once
// the queue has drained to half (see resumeParked). Nobody is closed for
// it: overload slows clients down.
const (
	eventQueueSize    = 1 << 14
	eventQueuePackets = 1 << 14
)

// event is one batch from an event loop.
type event struct {
	cc   *clientConn
	pkts []wire.ClientPacket
}

// Server is a ZooKeeper server. All state below "owner state" belongs to
// one goroutine (run); event loops reach it only through Submit/Closed.
type Server struct {
	cfg  Config
	log  zerolog.Logger
	opts tree.Options

	events  chan event
	calls   chan func()                // work run on the owner goroutine (Call)
	closedQ atomic.Pointer[clientConn] // lock-free stack of closed connections
	// heardQ is a lock-free stack of connections whose bytes arrived since
	// the owner last looked (Received, runHeard).
	heardQ atomic.Pointer[clientConn]
	// Backpressure (Submit, resumeParked). queued counts packets in
	// events; parking is set while refused connections wait, so that
	// newcomers queue behind them; parkedQ is a lock-free stack of
	// connections refused since the owner last looked.
	queued  atomic.Int64
	parking atomic.Bool
	parkedQ atomic.Pointer[clientConn]
	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}
	wg      sync.WaitGroup
	started atomic.Bool
	stopped sync.Once

	start   time.Time // monotonic origin for session time
	startMs int64

	// owner state
	tree        *tree.Tree
	sessions    *session.Tracker
	dataW       *watch.Manager
	childW      *watch.Manager
	conns       map[uint64]*clientConn
	bySession   map[wire.SessionID]*clientConn
	perIP       map[string]*ipEntry
	writes                    // the last zxid handed out and the txns in flight (commit.go)
	dirty       []*clientConn // connections with output to flush
	parked      []*clientConn // refused connections waiting for room, oldest first
	stats       stats
	nextReap    int64            // mono ms of the next container/TTL check
	reap        reaper           // containers and TTL nodes (reaper.go)
	sessionless sessionlessCheck // connections without a session (sessionless.go)
	lis         clientListener   // the client port served on and its moves (listener.go)

	// work split across rounds (jobs.go)
	sched scheduler
	// onTick: when the last tick ran, and until when expiry waits because
	// the owner had been held (0: it does not).
	lastTickMs  int64
	expireAfter int64
	expiring    []*session.Session // expired sessions whose closeSession is not yet proposed
	// expireMore: sessions due at expireAt may be left in their buckets
	expireMore bool
	expireAt   int64
	touching   []touchBatch // learners' touches not yet applied
	// outstandingN is the number of requests in connections' pending
	// queues (srvr's Outstanding).
	outstandingN int
	// queuedSync is set while a sync taken from a connection's pending
	// queue runs: syncAfter is its target (execRequest). One request runs
	// at a time, so it lives here rather than in every clientConn.
	queuedSync bool
	syncAfter  wire.Zxid

	// dur is the disk: the txn log, snapshots, purge (persist.go)
	dur durable

	// quorumSide is the quorum membership: the configuration in force,
	// the peer, the leadership, the committed log and the role
	// (quorumside.go). Embedded: its methods (quorum, serving, isLearner,
	// Mode, ...) are its own, not Server's.
	quorumSide

	failErr atomic.Pointer[error] // why the server stopped itself
	sasl    *saslSetup            // client SASL (sasl.go); nil: none
	jsum    *javaSummaries        // Java's summaries (javasummary.go); set in New, never replaced
	resp    responder             // four-letter words and admin commands (responder.go)
	// stepProbe, if set (tests, on the owner goroutine), runs at the start
	// of every owner step, so that what the owner does between two of its
	// calls is one step (ownerSteps in heavy_steps_test.go).
	stepProbe func()
}

// New checks cfg and builds a server; Start loads state and serves.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger.With().Str("component", "server").Logger(),
		opts:   tree.Options{ExtendedTypes: cfg.ExtendedTypes, Config: []byte{}, MaxTxnBytes: cfg.RecordLimit(), X509: cfg.X509Enabled(), SASL: cfg.SASLEnabled()},
		events: make(chan event, eventQueueSize),
		calls:  make(chan func(), 16),
		wake:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		jsum:   newJavaSummaries(),
	}
	s.quorumSide = quorumSide{cfg: &s.cfg, log: s.log, moveClientPort: func(addr string) {
		s.lis.move(addr, s.cfg.ClientPortAddress, s.log, s.goRoutine)
	}, host: s}
	s.resp = responder{s: s, cfg: &s.cfg, stats: &s.stats}
	s.dur = newDurable(&s.cfg, s.log, s.opts, s.jsum, &s.stats, s.nowMs, s.quit, s.poke, s.goRoutine)
	s.sessionless = sessionlessCheck{stats: &s.stats, close: s.closeConn}
	s.sched.s = s
	s.reap = newReaper(s.cfg.ContainerMaxPerMinute, s.nowMs, func(path string) {
		s.proposeServerTxn(0, wire.OpDeleteContainer, &wire.DeleteTxn{Path: path})
	})
	if mp, _, _ := ParseMetricsProvider(cfg.Raw); mp.Prometheus {
		s.jsum.feedLatencies()
	}
	var err error
	if s.sasl, err = cfg.loadSASL(); err != nil {
		return nil, err
	}
	for _, w := range warnedSettings(cfg.Raw) {
		s.log.Warn().Str("key", w[0]).Str("value", cfg.Raw[w[0]]).Str("reason", w[1]).
			Msg("zoo.cfg asks for a feature zkgo does not have; starting without it")
	}
	return s, nil
}

// Config returns the server's configuration (with defaults applied).
func (s *Server) Config() Config { return s.cfg }

// nowMs returns milliseconds on the server's monotonic clock.
func (s *Server) nowMs() int64 { return s.startMs + time.Since(s.start).Milliseconds() }

// msAt is nowMs at the time t (read earlier on the owner goroutine).
func (s *Server) msAt(t time.Time) int64 { return s.startMs + t.Sub(s.start).Milliseconds() }

// wallMs returns wall-clock milliseconds (txn header time, ctime/mtime).
func wallMs() int64 { return time.Now().UnixMilli() }

// Start loads the database and starts the owner goroutine.
func (s *Server) Start() error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("node: server already started")
	}
	s.start = time.Now()
	// Java seeds session ids from System.nanoTime()/1e6; any clock
	// distinct per start works, so use wall time for uniqueness.
	s.startMs = s.start.UnixMilli()
	s.tree = tree.New(s.opts)
	// A standalone server creates session ids with server id 1
	// (ZooKeeperServer.createSessionTrackerServerId); a quorum member uses
	// its myid.
	sid := int64(1)
	if s.cfg.Quorum != nil {
		sid = s.cfg.Quorum.MyID
	}
	s.sessions = session.NewTracker(int64(s.cfg.TickTime), sid, s.startMs)
	s.dataW = watch.NewManager()
	s.childW = watch.NewManager()
	s.conns = make(map[uint64]*clientConn)
	s.bySession = make(map[wire.SessionID]*clientConn)
	s.perIP = make(map[string]*ipEntry)
	s.stats.reset()
	s.resp.conns, s.resp.sessions, s.resp.dataW, s.resp.childW = s.conns, s.sessions, s.dataW, s.childW
	s.sched.notify = notifier{dataW: s.dataW, childW: s.childW, conns: s.conns, skipACL: s.cfg.SkipACL, send: s.sendEvent}
	s.resp.traceMask = 306
	if err := s.dur.open(s.installDatabase); err != nil {
		return err
	}
	s.nextReap = s.nowMs() + int64(s.cfg.ContainerCheckMs)
	s.log.Info().Str("zxid", s.zxid.String()).Int("nodes", s.tree.Len()).Int("sessions", s.sessions.Len()).
		Msg("database loaded")
	if q := s.cfg.Quorum; q != nil {
		s.tree.InitConfig([]byte(q.Text()), q.Version, wallMs())
		if err := s.newPeer(q); err != nil {
			s.dur.store.Close()
			return err
		}
		s.log.Info().Str("type", q.Me().Type.String()).Int("members", len(q.Servers)).
			Int64("current_epoch", s.peer.currentEpoch).Int64("accepted_epoch", s.peer.acceptedEpoch).
			Msg("quorum member starting; looking for the leader")
		s.peer.lookAt = time.Now()
	}
	if s.jsum.reads != nil {
		s.goRoutine(func() { s.jsum.updates.run(s.jsum.update, s.quit) })
		s.goRoutine(func() { s.jsum.reads.run(s.jsum.read, s.quit) })
	}
	s.goRoutine(s.run)
	return nil
}

// goRoutine starts fn as a tracked goroutine (nats' startGoRoutine).
func (s *Server) goRoutine(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// Stop shuts the server down; it is idempotent.
func (s *Server) Stop(ctx context.Context) error {
	var err error
	s.stopped.Do(func() {
		if !s.started.Load() {
			close(s.done)
			return
		}
		close(s.quit)
		waited := make(chan struct{})
		go func() { s.wg.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if s.dur.store != nil {
			err = errors.Join(err, s.dur.store.Close())
		}
		close(s.done)
	})
	return err
}

// Call runs fn on the owner goroutine, where it may read any server state,
// and waits until it ran or ctx ends. Never call it from an event loop or
// from the owner goroutine itself (metrics endpoints and tools use it).
func (s *Server) Call(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	wrapped := func() { fn(); close(done) }
	select {
	case s.calls <- wrapped:
	case <-s.quit:
		return errors.New("node: server stopped")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-s.done:
		return errors.New("node: server stopped")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SetClientPort records the port the front end actually bound (conf).
// Call it before clients connect.
func (s *Server) SetClientPort(port int) { s.lis.port.Store(int64(port)) }

// SetClientRebind gives the server the move of its client listener
// (proxy.Frontend.Rebind): with reconfigEnabled, a configuration that
// changes this member's client address moves it when activated, as
// Java's cnxnFactory.reconfigure. fn runs on a goroutine of its own.
// Without it, such a change is logged as an error and the listener stays
// (a front end that cannot move: client.portUnification).
func (s *Server) SetClientRebind(fn func(addr string) (net.Addr, error)) { s.lis.rebind.Store(&fn) }

// Done is closed when the server has stopped.
func (s *Server) Done() <-chan struct{} { return s.done }

// Open registers a client connection (proxy.Backend). Called on an event
// loop: it only allocates; the owner goroutine registers the connection
// when its first packets arrive.
func (s *Server) Open(c Sink) any {
	return &clientConn{sink: c, id: c.ID(), remote: c.RemoteAddr()}
}

// Submit hands packets to the owner goroutine without blocking
// (proxy.Backend). When the queue is full, or connections refused earlier
// are still waiting, it refuses the batch and parks the connection: the
// front end keeps the packets and submits them again when resumeParked
// calls the connection's Resume. A resumed connection is admitted past the
// line once.
func (s *Server) Submit(h any, pkts []wire.ClientPacket) bool {
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
	} else if s.parking.Load() || s.queued.Load() >= eventQueuePackets {
		return s.park(cc, n)
	}
	select {
	case s.events <- event{cc: cc, pkts: pkts}:
		s.queued.Add(n)
		cc.javaDone = 0
		return true
	case <-s.quit:
		return false
	default:
		return s.park(cc, n)
	}
}

// park queues a refused connection for resumeParked and wakes the owner
// goroutine. It runs on the connection's event loop, which submits nothing
// more for it until Resume, so a connection is parked at most once.
func (s *Server) park(cc *clientConn, n int64) bool {
	s.stats.overloaded.Add(1)
	cc.parkedPkts.Store(n)
	// parking before the push: once resumeParked has taken cc it may
	// clear the flag, and must not find it set again by us afterwards.
	s.parking.Store(true)
	if cc.parked.CompareAndSwap(false, true) {
		for {
			head := s.parkedQ.Load()
			cc.nextParked = head
			if s.parkedQ.CompareAndSwap(head, cc) {
				break
			}
		}
	}
	select {
	case s.wake <- struct{}{}:
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
func (s *Server) resumeParked() {
	if len(s.parked) == 0 && s.parkedQ.Load() == nil && !s.parking.Load() {
		return // the usual case: plain loads, no write to shared memory
	}
	if head := s.parkedQ.Swap(nil); head != nil {
		// The stack is newest first.
		from := len(s.parked)
		for cc := head; cc != nil; {
			next := cc.nextParked
			cc.nextParked = nil
			s.parked = append(s.parked, cc)
			cc = next
		}
		slices.Reverse(s.parked[from:])
	}
	if len(s.parked) == 0 {
		if s.parking.Load() {
			// A connection that set it is in parkedQ by now, or about to
			// be: it woke us, and is resumed on the next step.
			s.parking.Store(false)
		}
		return
	}
	queued, batches := s.queued.Load(), len(s.events)
	if queued > eventQueuePackets/2 || batches > eventQueueSize/2 {
		return // more events are queued: this runs again after them
	}
	room, slots := eventQueuePackets-queued, eventQueueSize-batches
	i := 0
	for ; i < len(s.parked) && room > 0 && slots > 0; i++ {
		cc := s.parked[i]
		s.parked[i] = nil
		cc.parked.Store(false)
		if cc.gone.Load() {
			continue // its packets went with the connection
		}
		room -= cc.parkedPkts.Load()
		slots--
		cc.admitted.Store(true)
		cc.sink.Resume()
	}
	s.parked = s.parked[i:]
	if len(s.parked) == 0 {
		s.parked = nil
		// Anyone parked since the swap above is in parkedQ and has woken
		// us; it is resumed on the next step.
		s.parking.Store(false)
	}
}

// Closed records that a connection is gone (lock-free, never blocks).
func (s *Server) Closed(h any, _ error) {
	cc, ok := h.(*clientConn)
	if !ok || !cc.gone.CompareAndSwap(false, true) {
		return
	}
	for {
		head := s.closedQ.Load()
		cc.nextClosed = head
		if s.closedQ.CompareAndSwap(head, cc) {
			break
		}
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Received notes that bytes arrived from a connection
// (proxy.ReceiptBackend): called on its event loop, before the packets are
// decoded, also while the front end holds them because Submit refused
// them. The session counts as heard from then, as Java touches a session
// when it reads a packet, not when its request is processed: a client
// that keeps pinging keeps its session while the owner goroutine is busy
// or its packets wait for room (runHeard). Lock-free; the connection is
// pushed at most once until the owner takes it.
func (s *Server) Received(h any) {
	cc, ok := h.(*clientConn)
	if !ok {
		return
	}
	cc.heardAt.Store(s.nowMs())
	if !cc.heard.CompareAndSwap(false, true) {
		return // in heardQ already; the owner reads heardAt after taking it
	}
	for {
		head := s.heardQ.Load()
		cc.nextHeard = head
		if s.heardQ.CompareAndSwap(head, cc) {
			break
		}
	}
}

// runHeard touches the sessions of the connections heard from since the
// last call, at the time their bytes arrived (never moving an expiry
// earlier); a learner records them for its next PING reply instead. Each
// round, and before sessions are expired or a PING is answered. O(the
// connections heard since the last call).
func (s *Server) runHeard() {
	for cc := s.heardQ.Swap(nil); cc != nil; {
		next := cc.nextHeard
		cc.nextHeard = nil
		cc.heard.Store(false) // a later arrival pushes cc again
		at := cc.heardAt.Load()
		if cc.session != 0 && !cc.dead && !cc.closing {
			if s.isLearner() {
				if lr := s.peer.learner; lr.touched != nil {
					lr.touchLearner(cc)
				}
			} else {
				s.sessions.Extend(cc.session, cc.timeoutMs, at)
			}
		}
		cc = next
	}
}

// run is the owner goroutine: it applies every change to server state.
func (s *Server) run() {
	tick := time.NewTicker(time.Duration(s.cfg.TickTime/2) * time.Millisecond)
	defer tick.Stop()
	s.lastTickMs = s.nowMs()
	s.maybeStartElection()
	for {
		if s.stepProbe != nil {
			s.stepProbe()
		}
		// A learner sync's disk job holds the store while it runs.
		var durable <-chan struct{}
		var failed <-chan storeFailure
		if s.ownsStore() {
			durable, failed = s.dur.store.Durable(), s.dur.store.Failed()
		}
		var linkIn <-chan linkMsg
		var linkClosed <-chan struct{}
		var electionOut <-chan electionResult
		var syncJobs <-chan func()
		var learnerIn <-chan handlerMsg
		var learnerConn <-chan learnerArrival
		if ld := s.leader; ld != nil {
			learnerIn, learnerConn = ld.in, ld.accepted
		}
		if p := s.peer; p != nil {
			electionOut, syncJobs = p.electionOut, p.syncJobs
			if l := p.learner.link; l != nil && p.takesLinkMsg() {
				// A sync takes the next packet once the last one's Ready
				// is carried out.
				linkIn, linkClosed = l.in, l.closed
			}
		}
		select {
		case ev := <-s.events:
			taken := int64(max(len(ev.pkts), 1))
			s.handleEvent(ev)
			// Drain what else is queued so replies go out in few writes.
			for i := 0; i < 512; i++ {
				select {
				case ev = <-s.events:
					taken += int64(max(len(ev.pkts), 1))
					s.handleEvent(ev)
					continue
				default:
				}
				break
			}
			s.queued.Add(-taken)
		case <-durable:
			s.onDurable(s.dur.store.DurableZxid())
		case f := <-failed:
			s.onStoreFailure(f)
		case r := <-s.dur.snapDone:
			s.dur.onSnapshotDone(r)
		case m := <-linkIn:
			s.peer.learner.onLinkMsg(m)
			// Drain what else arrived so ACKs and replies batch.
			for i := 0; i < 256 && s.peer.learner.link != nil && linkIn == s.peer.learner.link.in && s.peer.takesLinkMsg(); i++ {
				select {
				case m = <-linkIn:
					s.peer.learner.onLinkMsg(m)
					continue
				default:
				}
				break
			}
		case <-linkClosed:
			s.peer.learner.onLinkClosed()
		case m := <-learnerIn:
			s.leader.onHandlerMsg(m)
			for i := 0; i < 256 && s.leader != nil && learnerIn == s.leader.in; i++ {
				select {
				case m = <-learnerIn:
					s.leader.onHandlerMsg(m)
					continue
				default:
				}
				break
			}
		case a := <-learnerConn:
			s.leader.onLearnerConn(a)
		case r := <-electionOut:
			s.onElection(r)
		case fn := <-syncJobs:
			fn()
		case fn := <-s.calls:
			fn()
		case <-s.wake:
		case <-tick.C:
			s.onTick()
			s.jsum.updates.flush()
			s.jsum.reads.flush()
		case <-s.quit:
			s.reapClosed()
			s.flush()
			s.stopPeer()
			s.dropReaper()
			if s.dur.snap != nil {
				s.dur.snap.cur.Release()
			}
			return
		}
		s.reapClosed()
		s.sched.runJobs()
		s.resumeParked()
		if s.ownsStore() && s.peer.syncing() == nil {
			s.dur.maybeStartSnapshot(s.tree)
			s.dur.advanceSnapshot(s.tree, s.sessions, s.sched.applyJob != nil)
			s.dur.store.Sync()
		}
		s.leader.advanceSnapSyncs()
		s.leader.retryGatedCommits()
		s.maybeStartElection()
		if ld := s.leader; ld != nil && ld.stepDownAfter {
			s.stepDown("zxid counter rollover: a new epoch is needed")
		}
		s.flush()
	}
}

// wakeOwner makes the owner goroutine run a step (and everything it
// checks after one) without an event; safe from any goroutine.
func (s *Server) wakeOwner() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// reapClosed processes connections whose sockets closed.
func (s *Server) reapClosed() {
	head := s.closedQ.Swap(nil)
	for cc := head; cc != nil; {
		next := cc.nextClosed
		cc.nextClosed = nil
		s.connGone(cc)
		cc = next
	}
}

func (s *Server) handleEvent(ev event) {
	cc := ev.cc
	if !cc.registered {
		s.register(cc)
	}
	now := time.Now() // their arrival at the owner goroutine
	for i := range ev.pkts {
		s.handlePacket(cc, &ev.pkts[i], now)
	}
}

// register starts tracking a connection and enforces maxClientCnxns.
func (s *Server) register(cc *clientConn) {
	cc.registered = true
	cc.openedAt = s.nowMs()
	cc.lastActive = cc.openedAt
	cc.stats.established = wallMs()
	cc.stats.lastOpCode = opNA
	ip := hostOf(cc.remote)
	e := s.perIP[ip]
	if e == nil {
		e = &ipEntry{ip: ip}
		s.perIP[ip] = e
	}
	e.conns++
	s.conns[cc.id] = cc
	s.sessionless.add(cc)
	s.stats.connections++
	if s.cfg.MaxClientCnxns > 0 && e.conns > s.cfg.MaxClientCnxns {
		s.stats.connRejected++
		s.log.Warn().Str("remote", cc.remote).Int("max", s.cfg.MaxClientCnxns).
			Msg("Too many connections from client IP - closing")
		cc.closeNow = true
		s.closeConn(cc, "too many connections from "+e.ip)
	}
}

// connGone forgets a connection whose socket closed. Its session lives on
// until it expires or the client reconnects.
func (s *Server) connGone(cc *clientConn) {
	if !cc.registered {
		// Its open event may still be queued; account for it now so the
		// per-IP count and connection table stay right.
		s.register(cc)
	}
	if cc.dead {
		return
	}
	cc.dead = true
	delete(s.conns, cc.id)
	if e := s.perIP[cc.ip()]; e != nil {
		if e.conns--; e.conns <= 0 {
			delete(s.perIP, e.ip)
		}
	}
	if cc.session != 0 && s.bySession[cc.session] == cc {
		delete(s.bySession, cc.session)
	}
	s.dataW.RemoveWatcher(watch.Watcher(cc.id))
	s.childW.RemoveWatcher(watch.Watcher(cc.id))
	if cc.job != nil && !cc.fourLetter {
		// A four-letter word's job goes on: its answer goes to the front
		// end's duplicate of the socket, which only its Send and Close
		// release (answerFourLetter).
		cc.job.drop(s)
		cc.job = nil
	}
	s.outstandingN -= len(cc.pending)
	cc.pending = nil
	cc.out = nil
}

// closeConn flushes what cc has and closes it.
func (s *Server) closeConn(cc *clientConn, reason string) {
	if cc.dead || cc.closing {
		return
	}
	cc.closing = true
	s.flushConn(cc)
	cc.sink.Close(reason)
}

// closeConnNow closes cc without sending what it has queued (Java's
// immediate close, used on session expiry).
func (s *Server) closeConnNow(cc *clientConn, reason string) {
	if cc.dead || cc.closing {
		return
	}
	cc.closing = true
	cc.out = nil
	s.flushConn(cc)
	cc.sink.Close(reason)
}

// flush sends every connection's accumulated output.
func (s *Server) flush() {
	for _, cc := range s.dirty {
		cc.inDirty = false
		s.flushConn(cc)
	}
	s.dirty = s.dirty[:0]
}

func (s *Server) flushConn(cc *clientConn) {
	if len(cc.out) == 0 && cc.completed == 0 {
		return
	}
	if !cc.dead {
		s.stats.sentPackets += int64(cc.sentPkts)
		cc.stats.sent += int64(cc.sentPkts)
		cc.sink.Send(cc.out, int(cc.completed))
	}
	cc.outHint = int32(min(len(cc.out), maxOutHint))
	cc.sentPkts = 0
	cc.out = nil
	cc.completed = 0
}

// markDirty queues cc for the end-of-round flush.
func (s *Server) markDirty(cc *clientConn) {
	if !cc.inDirty {
		cc.inDirty = true
		s.dirty = append(s.dirty, cc)
	}
}

// onTick expires sessions, closes connections that never completed a
// handshake, and reaps containers and TTL nodes.
func (s *Server) onTick() {
	now := s.nowMs()
	// A tick that comes more than a tick time after the last one found
	// the owner held: what arrived meanwhile (clients' packets still
	// queued, learners' touch tables, the replies to the PINGs sent now)
	// has not been taken yet, so sessions are expired half a tick time
	// later at the earliest (the tick the ticker kept meanwhile comes at
	// once), and never at two late ticks in a row. Java's session expirer
	// and learner pings run on threads of their own and do not stall with
	// the request pipeline.
	if now-s.lastTickMs > int64(s.cfg.TickTime) && s.expireAfter == 0 {
		s.expireAfter = now + int64(s.cfg.TickTime)/2
	}
	s.lastTickMs = now
	late := now < s.expireAfter
	if !late {
		s.expireAfter = 0
	}
	if s.peer != nil && s.peer.role == roleLeading {
		s.leader.tickLeading()
		if s.leader == nil || !s.leader.serving() {
			s.sessionless.run(now)
			return
		}
	} else if s.peer != nil {
		// Learners expire nothing: the leader owns sessions, containers and
		// TTLs. They only close handshake-less connections.
		s.maybeStartElection()
		s.sessionless.run(now)
		return
	}
	if !late {
		s.sched.expireSessions(now)
	}
	s.sessionless.run(now)
	if now >= s.nextReap {
		s.nextReap = now + int64(s.cfg.ContainerCheckMs)
		if s.reap.check(s.tree, wallMs(), s.sched.applyJob != nil) {
			s.poke()
		}
	}
	s.dur.onTick(now)
}

// fail stops the server because it cannot go on (where Java calls
// System.exit); Err reports why.
func (s *Server) fail(err error) {
	if s.failErr.CompareAndSwap(nil, &err) {
		s.log.Error().Err(err).Msg("server stopping itself")
		go s.Stop(context.Background())
	}
}

// Err returns the error that made the server stop itself, if any.
func (s *Server) Err() error {
	if e := s.failErr.Load(); e != nil {
		return *e
	}
	return nil
}

// sessionlessTimeoutMs is NIOServerCnxnFactory's sessionlessCnxnTimeout.
const sessionlessTimeoutMs = 10000

func hostOf(remote string) string {
	for i := len(remote) - 1; i >= 0; i-- {
		if remote[i] == ':' {
			h := remote[:i]
			if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
				h = h[1 : len(h)-1]
			}
			return h
		}
	}
	return remote
}

// ipEntry is what the connections from one client address share: their
// count (maxClientCnxns) and the ip auth id every session starts with.
type ipEntry struct {
	ip    string
	conns int
	auth  []wire.ID // len == cap == 1: appending copies
}

// ipAuth returns the shared initial auth list of cc's address.
func (s *Server) ipAuth(cc *clientConn) []wire.ID {
	ip := cc.ip()
	e := s.perIP[ip]
	if e == nil {
		return []wire.ID{{Scheme: tree.SchemeIP, ID: javaHostAddress(ip)}}
	}
	if e.auth == nil {
		e.auth = []wire.ID{{Scheme: tree.SchemeIP, ID: javaHostAddress(ip)}}
	}
	return e.auth[:1:1]
}
