package node

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/internal/hoptrace"
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
// one goroutine (run); event loops reach it only through Submit/Closed
// (the client layer, cl).
type Server struct {
	cfg  Config
	log  zerolog.Logger
	opts tree.Options

	// lp is the owner goroutine's plumbing: the channels that reach it,
	// the goroutines it tracks, its stop, its clock.
	lp ownerLoop

	// cl is the client connection layer (clients.go).
	cl clients

	// owner state
	tree     *tree.Tree
	sessions *session.Tracker
	dataW    *watch.Manager
	childW   *watch.Manager
	wr       writes // the last zxid handed out and the txns in flight (commit.go)
	stats    stats
	reap     reaper // containers and TTL nodes (reaper.go)

	// work split across rounds (jobs.go)
	sched scheduler
	// ex is session expiry's state across ticks (expiry below).
	ex expiry

	// dur is the disk: the txn log, snapshots, purge (persist.go)
	dur durable

	// quorumSide is the quorum membership: the configuration in force,
	// the peer, the leadership, the committed log and the role
	// (quorumside.go), with its own methods (quorum, serving, isLearner,
	// Mode, ...).
	qs quorumSide

	jsum *javaSummaries // Java's summaries (javasummary.go); set in New, never replaced
	resp responder      // four-letter words and admin commands (responder.go)
	// stepProbe, if set (tests, on the owner goroutine), runs at the start
	// of every owner step, so that what the owner does between two of its
	// calls is one step (ownerSteps in heavy_steps_test.go).
	stepProbe func()
}

// ownerLoop is how the rest of the process reaches the owner goroutine
// (events from the event loops, calls, wake-ups), the goroutines the
// server tracks and their stop, and the server's monotonic clock.
type ownerLoop struct {
	events  chan event
	calls   chan func() // work run on the owner goroutine (Call)
	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}
	wg      sync.WaitGroup
	started atomic.Bool
	stopped sync.Once
	failErr atomic.Pointer[error] // why the server stopped itself

	start   time.Time // monotonic origin for session time
	startMs int64
}

// nowMs returns milliseconds on the server's monotonic clock.
func (lp *ownerLoop) nowMs() int64 { return lp.startMs + time.Since(lp.start).Milliseconds() }

// goRoutine starts fn as a tracked goroutine (nats' startGoRoutine).
func (lp *ownerLoop) goRoutine(fn func()) {
	lp.wg.Add(1)
	go func() {
		defer lp.wg.Done()
		fn()
	}()
}

// wakeOwner makes the owner goroutine run a step (and everything it
// checks after one) without an event; safe from any goroutine.
func (lp *ownerLoop) wakeOwner() {
	select {
	case lp.wake <- struct{}{}:
	default:
	}
}

// expiry is what session expiry keeps across the owner's ticks.
type expiry struct {
	// When the last tick ran, and until when expiry waits because the
	// owner had been held (0: it does not).
	lastTickMs  int64
	expireAfter int64
	expiring    []*session.Session // expired sessions whose closeSession is not yet proposed
	// expireMore: sessions due at expireAt may be left in their buckets
	expireMore bool
	expireAt   int64
	touching   []touchBatch // learners' touches not yet applied
}

// late records a tick at now and reports whether expiry waits at it. A
// tick that comes more than a tick time after the last one found the
// owner held: what arrived meanwhile (clients' packets still queued,
// learners' touch tables, the replies to the PINGs sent now) has not been
// taken yet, so sessions are expired half a tick time later at the
// earliest (the tick the ticker kept meanwhile comes at once), and never
// at two late ticks in a row. Java's session expirer and learner pings run
// on threads of their own and do not stall with the request pipeline.
func (ex *expiry) late(now int64, tickMs int64) bool {
	if now-ex.lastTickMs > tickMs && ex.expireAfter == 0 {
		ex.expireAfter = now + tickMs/2
	}
	ex.lastTickMs = now
	late := now < ex.expireAfter
	if !late {
		ex.expireAfter = 0
	}
	return late
}

// New checks cfg and builds a server; Start loads state and serves.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:  cfg,
		log:  cfg.Logger.With().Str("component", "server").Logger(),
		opts: tree.Options{ExtendedTypes: cfg.ExtendedTypes, Config: []byte{}, MaxTxnBytes: cfg.RecordLimit(), X509: cfg.X509Enabled(), SASL: cfg.SASLEnabled()},
		lp: ownerLoop{
			events: make(chan event, eventQueueSize),
			calls:  make(chan func(), 16),
			wake:   make(chan struct{}, 1),
			quit:   make(chan struct{}),
			done:   make(chan struct{}),
		},
		jsum: newJavaSummaries(),
	}
	s.qs = quorumSide{cfg: &s.cfg, log: s.log, moveClientPort: func(addr string) {
		s.cl.lis.move(addr, s.cfg.ClientPortAddress, s.log, s.lp.goRoutine)
	}, wakeOwner: s.lp.wakeOwner, host: s}
	s.resp = responder{s: s, cfg: &s.cfg, stats: &s.stats}
	s.dur = newDurable(&s.cfg, s.log, s.opts, s.jsum, &s.stats, s.lp.nowMs, s.lp.quit, s.poke, s.lp.goRoutine)
	s.cl = clients{
		cfg: &s.cfg, log: s.log, stats: &s.stats,
		events: s.lp.events, wake: s.lp.wake, quit: s.lp.quit, nowMs: s.lp.nowMs, tree: &s.tree,
		host: s, roles: &s.qs, sched: &s.sched, resp: &s.resp, jsum: s.jsum,
		learner: func() *learnerDriver { return s.qs.peer.learner },
		dropJob: func(j connJob) { j.drop(s) },
	}
	s.cl.sessionless = sessionlessCheck{stats: &s.stats, close: s.cl.closeConn}
	s.sched.s = s
	s.reap = newReaper(s.cfg.ContainerMaxPerMinute, s.lp.nowMs, func(path string) {
		s.proposeServerTxn(0, wire.OpDeleteContainer, &wire.DeleteTxn{Path: path})
	})
	if mp, _, _ := ParseMetricsProvider(cfg.Raw); mp.Prometheus {
		s.jsum.feedSummaries()
	}
	var err error
	if s.cl.sasl, err = cfg.loadSASL(); err != nil {
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

// wallMs returns wall-clock milliseconds (txn header time, ctime/mtime).
func wallMs() int64 { return time.Now().UnixMilli() }

// Start loads the database and starts the owner goroutine.
func (s *Server) Start() error {
	if !s.lp.started.CompareAndSwap(false, true) {
		return errors.New("node: server already started")
	}
	s.lp.start = time.Now()
	// Java seeds session ids from System.nanoTime()/1e6; any clock
	// distinct per start works, so use wall time for uniqueness.
	s.lp.startMs = s.lp.start.UnixMilli()
	s.tree = tree.New(s.opts)
	// A standalone server creates session ids with server id 1
	// (ZooKeeperServer.createSessionTrackerServerId); a quorum member uses
	// its myid.
	sid := int64(1)
	if s.cfg.Quorum != nil {
		sid = s.cfg.Quorum.MyID
	}
	s.sessions = session.NewTracker(int64(s.cfg.TickTime), sid, s.lp.startMs)
	s.dataW = watch.NewManager()
	s.childW = watch.NewManager()
	s.cl.start, s.cl.startMs = s.lp.start, s.lp.startMs
	s.cl.sessions, s.cl.dataW, s.cl.childW = s.sessions, s.dataW, s.childW
	s.cl.conns = make(map[uint64]*clientConn)
	s.cl.bySession = make(map[wire.SessionID]*clientConn)
	s.cl.perIP = make(map[string]*ipEntry)
	s.stats.reset()
	s.resp.conns, s.resp.sessions, s.resp.dataW, s.resp.childW = s.cl.conns, s.sessions, s.dataW, s.childW
	s.sched.notify = notifier{dataW: s.dataW, childW: s.childW, conns: s.cl.conns, skipACL: s.cfg.SkipACL, send: s.cl.sendEvent}
	s.resp.traceMask = 306
	if err := s.dur.open(s.installDatabase); err != nil {
		return err
	}
	s.reap.next = s.lp.nowMs() + int64(s.cfg.ContainerCheckMs)
	s.log.Info().Str("zxid", s.wr.zxid.String()).Int("nodes", s.tree.Len()).Int("sessions", s.sessions.Len()).
		Msg("database loaded")
	if q := s.cfg.Quorum; q != nil {
		s.tree.InitConfig([]byte(q.Text()), q.Version, wallMs())
		if err := s.newPeer(q); err != nil {
			s.dur.store.Close()
			return err
		}
		s.log.Info().Str("type", q.Me().Type.String()).Int("members", len(q.Servers)).
			Int64("current_epoch", s.qs.peer.currentEpoch).Int64("accepted_epoch", s.qs.peer.acceptedEpoch).
			Msg("quorum member starting; looking for the leader")
		s.qs.peer.lookAt = time.Now()
	}
	if s.jsum.reads != nil {
		s.lp.goRoutine(func() { s.jsum.updates.run(s.jsum.update, s.lp.quit) })
		s.lp.goRoutine(func() { s.jsum.reads.run(s.jsum.read, s.lp.quit) })
	}
	s.lp.goRoutine(s.run)
	return nil
}

// Stop shuts the server down; it is idempotent.
func (s *Server) Stop(ctx context.Context) error {
	var err error
	s.lp.stopped.Do(func() {
		if !s.lp.started.Load() {
			close(s.lp.done)
			return
		}
		close(s.lp.quit)
		waited := make(chan struct{})
		go func() { s.lp.wg.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if s.dur.store != nil {
			err = errors.Join(err, s.dur.store.Close())
		}
		close(s.lp.done)
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
	case s.lp.calls <- wrapped:
	case <-s.lp.quit:
		return errors.New("node: server stopped")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-s.lp.done:
		return errors.New("node: server stopped")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SetClientPort records the port the front end actually bound (conf).
// Call it before clients connect.
func (s *Server) SetClientPort(port int) { s.cl.lis.port.Store(int64(port)) }

// SetClientRebind gives the server the move of its client listener
// (proxy.Frontend.Rebind): with reconfigEnabled, a configuration that
// changes this member's client address moves it when activated, as
// Java's cnxnFactory.reconfigure. fn runs on a goroutine of its own.
// Without it, such a change is logged as an error and the listener stays
// (a front end that cannot move: client.portUnification).
func (s *Server) SetClientRebind(fn func(addr string) (net.Addr, error)) { s.cl.lis.rebind.Store(&fn) }

// Mode returns the server's mode as srvr prints it: "standalone",
// "looking", "synchronizing", "leader", "follower" or "observer". Safe
// from any goroutine.
func (s *Server) Mode() string { return s.qs.Mode() }

// Done is closed when the server has stopped.
func (s *Server) Done() <-chan struct{} { return s.lp.done }

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
	hoptrace.Mark(hoptrace.Submitted)
	return s.cl.submit(h, pkts)
}

// Closed records that a connection is gone (lock-free, never blocks).
func (s *Server) Closed(h any, _ error) {
	s.cl.closed(h)
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
	s.cl.received(h)
}

// run is the owner goroutine: it applies every change to server state.
func (s *Server) run() {
	tick := time.NewTicker(time.Duration(s.cfg.TickTime/2) * time.Millisecond)
	defer tick.Stop()
	s.ex.lastTickMs = s.lp.nowMs()
	s.qs.maybeStartElection()
	for {
		if s.stepProbe != nil {
			s.stepProbe()
		}
		// A learner sync's disk job holds the store while it runs.
		var durable <-chan struct{}
		var failed <-chan storeFailure
		if s.qs.ownsStore() {
			durable, failed = s.dur.store.Durable(), s.dur.store.Failed()
		}
		var linkIn <-chan linkMsg
		var linkClosed <-chan struct{}
		var electionOut <-chan electionResult
		var syncJobs <-chan func()
		var learnerIn <-chan handlerMsg
		var learnerConn <-chan learnerArrival
		if ld := s.qs.leader; ld != nil {
			learnerIn, learnerConn = ld.in, ld.accepted
		}
		if p := s.qs.peer; p != nil {
			electionOut, syncJobs = p.electionOut, p.syncJobs
			if l := p.learner.link; l != nil && p.takesLinkMsg() {
				// A sync takes the next packet once the last one's Ready
				// is carried out.
				linkIn, linkClosed = l.in, l.closed
			}
		}
		select {
		case ev := <-s.lp.events:
			taken := int64(max(len(ev.pkts), 1))
			s.handleEvent(ev)
			// Drain what else is queued so replies go out in few writes.
			for i := 0; i < 512; i++ {
				select {
				case ev = <-s.lp.events:
					taken += int64(max(len(ev.pkts), 1))
					s.handleEvent(ev)
					continue
				default:
				}
				break
			}
			s.cl.queued.Add(-taken)
		case <-durable:
			hoptrace.Mark(hoptrace.Durable)
			s.onDurable(s.dur.store.DurableZxid())
			hoptrace.Mark(hoptrace.Applied)
		case f := <-failed:
			s.onStoreFailure(f)
		case r := <-s.dur.snapDone:
			s.dur.onSnapshotDone(r)
		case m := <-linkIn:
			s.qs.peer.learner.onLinkMsg(m)
			// Drain what else arrived so ACKs and replies batch.
			for i := 0; i < 256 && s.qs.peer.learner.link != nil && linkIn == s.qs.peer.learner.link.in && s.qs.peer.takesLinkMsg(); i++ {
				select {
				case m = <-linkIn:
					s.qs.peer.learner.onLinkMsg(m)
					continue
				default:
				}
				break
			}
		case <-linkClosed:
			s.qs.peer.learner.onLinkClosed()
		case m := <-learnerIn:
			s.qs.leader.onHandlerMsg(m)
			for i := 0; i < 256 && s.qs.leader != nil && learnerIn == s.qs.leader.in; i++ {
				select {
				case m = <-learnerIn:
					s.qs.leader.onHandlerMsg(m)
					continue
				default:
				}
				break
			}
		case a := <-learnerConn:
			s.qs.leader.onLearnerConn(a)
		case r := <-electionOut:
			s.qs.onElection(r)
		case fn := <-syncJobs:
			fn()
		case fn := <-s.lp.calls:
			fn()
		case <-s.lp.wake:
		case <-tick.C:
			s.onTick()
			s.jsum.updates.flush()
			s.jsum.reads.flush()
		case <-s.lp.quit:
			s.cl.reapClosed()
			s.cl.flush()
			s.qs.stopPeer()
			s.dropReaper()
			if s.dur.snap != nil {
				s.dur.snap.cur.Release()
			}
			return
		}
		s.cl.reapClosed()
		s.sched.runJobs()
		s.cl.resumeParked()
		if s.qs.ownsStore() && s.qs.peer.syncing() == nil {
			s.dur.maybeStartSnapshot(s.tree)
			s.dur.advanceSnapshot(s.tree, s.sessions, s.sched.applyJob != nil)
			s.dur.store.Sync()
		}
		s.qs.leader.advanceSnapSyncs()
		s.qs.leader.retryGatedCommits()
		s.qs.maybeStartElection()
		if ld := s.qs.leader; ld != nil && ld.stepDownAfter {
			s.qs.stepDown("zxid counter rollover: a new epoch is needed")
		}
		s.cl.flush()
	}
}

func (s *Server) handleEvent(ev event) {
	hoptrace.Mark(hoptrace.Owner)
	cc := ev.cc
	if !cc.registered {
		s.cl.register(cc)
	}
	now := time.Now() // their arrival at the owner goroutine
	for i := range ev.pkts {
		s.cl.handlePacket(cc, &ev.pkts[i], now)
	}
}

// onTick expires sessions, closes connections that never completed a
// handshake, and reaps containers and TTL nodes.
func (s *Server) onTick() {
	now := s.lp.nowMs()
	late := s.ex.late(now, int64(s.cfg.TickTime))
	if s.qs.peer != nil && s.qs.peer.role == roleLeading {
		s.qs.leader.tickLeading()
		if s.qs.leader == nil || !s.qs.leader.serving() {
			s.cl.sessionless.run(now)
			return
		}
	} else if s.qs.peer != nil {
		// Learners expire nothing: the leader owns sessions, containers and
		// TTLs. They only close handshake-less connections.
		s.qs.maybeStartElection()
		s.cl.sessionless.run(now)
		return
	}
	if !late {
		s.sched.expireSessions(now)
	}
	s.cl.sessionless.run(now)
	if s.reap.due(now, int64(s.cfg.ContainerCheckMs)) {
		if s.reap.check(s.tree, wallMs(), s.sched.applyJob != nil) {
			s.poke()
		}
	}
	s.dur.onTick(now)
}

// fail stops the server because it cannot go on (where Java calls
// System.exit); Err reports why.
func (s *Server) fail(err error) {
	if s.lp.failErr.CompareAndSwap(nil, &err) {
		s.log.Error().Err(err).Msg("server stopping itself")
		go s.Stop(context.Background())
	}
}

// Err returns the error that made the server stop itself, if any.
func (s *Server) Err() error {
	if e := s.lp.failErr.Load(); e != nil {
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
