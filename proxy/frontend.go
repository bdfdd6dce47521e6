package proxy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/zkgo/zkgo/internal/hoptrace"
	"github.com/zkgo/zkgo/jute"
)

// Config configures a Frontend.
type Config struct {
	// Addr is the listen address, host:port; port 0 picks a free port.
	Addr string
	// Backend receives connections and packets. Required.
	Backend Backend
	// Logger; the zero value logs nothing.
	Logger zerolog.Logger
	// MaxFrame is the largest request frame accepted (jute.maxbuffer).
	MaxFrame int
	// MaxOutstanding is the number of requests a connection may have
	// submitted but not answered before the front end stops reading it.
	MaxOutstanding int
	// MaxInboundBytes is how much a connection that already has
	// MaxOutstanding requests unanswered may send on before it is closed
	// as a flooder. gnet reads every readable socket (it has no way to stop
	// reading one), so this is what bounds a paused connection's memory.
	// Connections within MaxOutstanding are never closed for load: when
	// the Backend is full they wait (see Backend.Submit).
	MaxInboundBytes int
	// MaxOutboundBytes is how much unsent reply data a connection may hold
	// before it is closed as a slow consumer.
	MaxOutboundBytes int
	// Loops is the number of event loops (default: number of CPUs).
	Loops int
}

func (c Config) withDefaults() Config {
	if c.MaxFrame == 0 {
		c.MaxFrame = jute.DefaultMaxBuffer
	}
	if c.MaxOutstanding == 0 {
		c.MaxOutstanding = 1000
	}
	if c.MaxInboundBytes == 0 {
		c.MaxInboundBytes = 4*c.MaxFrame + 64<<20
	}
	if c.MaxOutboundBytes == 0 {
		c.MaxOutboundBytes = 4*c.MaxFrame + 64<<20
	}
	if c.Loops == 0 {
		c.Loops = runtime.NumCPU()
	}
	return c
}

// maxOutstandingLimit bounds Config.MaxOutstanding: a connection counts its
// requests in flight in 32 bits (conn.outstanding), and a batch decoded
// past the limit must not overflow it.
const maxOutstandingLimit = 1 << 30

func (c Config) validate() error {
	if c.Backend == nil {
		return errors.New("proxy: Config.Backend is required")
	}
	if c.Addr == "" {
		return errors.New("proxy: Config.Addr is required")
	}
	if c.MaxFrame <= 0 || c.MaxOutstanding <= 0 || c.MaxInboundBytes <= 0 || c.MaxOutboundBytes <= 0 || c.Loops <= 0 {
		return errors.New("proxy: limits must be positive")
	}
	if c.MaxOutstanding > maxOutstandingLimit {
		return fmt.Errorf("proxy: MaxOutstanding %d is over %d", c.MaxOutstanding, maxOutstandingLimit)
	}
	return nil
}

// Frontend serves ZooKeeper clients on gnet event loops.
type Frontend struct {
	gnet.BuiltinEventEngine

	cfg    Config
	log    zerolog.Logger
	nextID atomic.Uint64
	// receipt is the Backend when it wants to hear of every arrival.
	receipt ReceiptBackend

	eng      gnet.Engine
	addr     net.Addr
	ready    chan struct{}
	done     chan struct{}
	runErr   error
	stopOnce sync.Once

	// Stats are read by the Backend's admin commands.
	opened   atomic.Int64
	closed   atomic.Int64
	received atomic.Int64
	refused  atomic.Int64 // batches the Backend refused (the connection waited)

	// admins are the four-letter-word answer sockets not finished yet,
	// finished by Stop if nothing else did (admin commands are rare: a
	// mutex is fine).
	adminMu sync.Mutex
	admins  map[*adminSock]struct{}
	stopped bool // under adminMu

	// moves: the listeners Rebind started (rebind.go).
	moves moves

	// dups counts the connections' duplicate descriptors for direct
	// replies (direct.go), at most maxDups.
	dups    atomic.Int64
	maxDups atomic.Int64
}

// New validates cfg and returns a Frontend; Start begins serving.
func New(cfg Config) (*Frontend, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	f := &Frontend{
		cfg:   cfg,
		log:   cfg.Logger.With().Str("component", "frontend").Logger(),
		ready: make(chan struct{}),
		done:  make(chan struct{}),
	}
	f.receipt, _ = cfg.Backend.(ReceiptBackend)
	f.maxDups.Store(1024)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err == nil {
		f.maxDups.Store(int64(min(lim.Cur/4, math.MaxInt64/2)))
	}
	return f, nil
}

// Start listens and runs the event loops in the background. It returns
// once the listener is up, or with the error that prevented it.
func (f *Frontend) Start() error {
	go func() {
		defer close(f.done)
		f.runErr = gnet.Run(f, "tcp://"+f.cfg.Addr, f.engineOptions()...)
	}()
	select {
	case <-f.ready:
		f.log.Info().Str("addr", f.addr.String()).Int("loops", f.cfg.Loops).Msg("serving clients")
		return nil
	case <-f.done:
		if f.runErr == nil {
			f.runErr = errors.New("proxy: event loops stopped before serving")
		}
		return fmt.Errorf("proxy: listen on %s: %w", f.cfg.Addr, f.runErr)
	}
}

// engineOptions are the options of each engine: Start's and those Rebind
// starts.
func (f *Frontend) engineOptions() []gnet.Option {
	return []gnet.Option{
		gnet.WithMulticore(f.cfg.Loops > 1),
		gnet.WithNumEventLoop(f.cfg.Loops),
		gnet.WithReuseAddr(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{f.log}),
		gnet.WithLogLevel(0),
	}
}

// Addr returns the listen address Start bound (valid after Start; Rebind
// returns the address it moves to).
func (f *Frontend) Addr() net.Addr { return f.addr }

// Stop closes the listener and every connection. It is idempotent.
func (f *Frontend) Stop(ctx context.Context) error {
	var err error
	f.stopOnce.Do(func() {
		select {
		case <-f.ready:
		default:
			return
		}
		err = f.stopMoved(ctx)
		err = errors.Join(err, f.eng.Stop(ctx))
		select {
		case <-f.done:
		case <-ctx.Done():
			err = errors.Join(err, ctx.Err())
		}
		// Words the Backend never answered (it may be stopped) are closed
		// unanswered, so no descriptor outlives the front end.
		f.adminMu.Lock()
		f.stopped = true
		left := make([]*adminSock, 0, len(f.admins))
		for a := range f.admins {
			left = append(left, a)
		}
		f.adminMu.Unlock()
		for _, a := range left {
			a.finish(nil)
		}
	})
	return err
}

// trackAdmin records an answer socket until it is finished.
func (f *Frontend) trackAdmin(a *adminSock) {
	f.adminMu.Lock()
	stopped := f.stopped
	if !stopped {
		if f.admins == nil {
			f.admins = make(map[*adminSock]struct{})
		}
		f.admins[a] = struct{}{}
	}
	f.adminMu.Unlock()
	if stopped {
		a.finish(nil)
	}
}

func (f *Frontend) forgetAdmin(a *adminSock) {
	f.adminMu.Lock()
	delete(f.admins, a)
	f.adminMu.Unlock()
}

// Connections returns the number of open client connections.
func (f *Frontend) Connections() int64 { return f.opened.Load() - f.closed.Load() }

// Refused returns how many times the Backend refused a batch because it
// was full: each time, that connection waited for room instead of being
// closed.
func (f *Frontend) Refused() int64 { return f.refused.Load() }

// AdminSockets returns how many four-letter-word answer sockets are open
// (written or closed when the answer or the close comes).
func (f *Frontend) AdminSockets() int {
	f.adminMu.Lock()
	defer f.adminMu.Unlock()
	return len(f.admins)
}

// OnBoot records the engine and the bound address.
func (f *Frontend) OnBoot(eng gnet.Engine) gnet.Action {
	f.eng = eng
	f.addr = boundAddr(eng, f.cfg.Addr)
	close(f.ready)
	return gnet.None
}

// boundAddr finds the listener's real address (the port may have been 0).
func boundAddr(eng gnet.Engine, fallback string) net.Addr {
	fd, err := eng.Dup()
	if err == nil {
		defer unix.Close(fd)
		if sa, err := unix.Getsockname(fd); err == nil {
			switch a := sa.(type) {
			case *unix.SockaddrInet4:
				return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
			case *unix.SockaddrInet6:
				return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
			}
		}
	}
	addr, _ := net.ResolveTCPAddr("tcp", fallback)
	return addr
}

// OnOpen creates the connection's state and registers it with the
// Backend; once the client address moved (Rebind), a connection to the
// old one is closed at once.
func (f *Frontend) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if f.moves.firstRetired.Load() {
		return nil, gnet.Close
	}
	return f.openConn(c)
}

// openConn is OnOpen for the engine taking clients.
func (f *Frontend) openConn(c gnet.Conn) ([]byte, gnet.Action) {
	cc := &conn{id: f.nextID.Add(1), fe: f, gc: c}
	if ra := c.RemoteAddr(); ra != nil {
		cc.remote = ra.String()
	}
	c.SetContext(cc)
	f.opened.Add(1)
	cc.handle = f.cfg.Backend.Open(cc)
	// An empty batch tells the Backend the connection exists (it counts
	// connections per client IP at accept, as Java does). If the Backend
	// is full the notice waits for Resume like any refused batch: a
	// connection opened during overload is slowed down, not reset.
	if !f.cfg.Backend.Submit(cc.handle, nil) {
		cc.set(flagBlocked)
		f.refused.Add(1)
	}
	return nil, gnet.None
}

// OnTraffic frames and decodes what the connection sent.
func (f *Frontend) OnTraffic(c gnet.Conn) gnet.Action {
	hoptrace.Mark(hoptrace.Traffic)
	cc, ok := c.Context().(*conn)
	if !ok {
		return gnet.Close
	}
	return cc.onTraffic(c)
}

// OnClose tells the Backend the connection is gone.
func (f *Frontend) OnClose(c gnet.Conn, err error) gnet.Action {
	cc, ok := c.Context().(*conn)
	if !ok {
		return gnet.None
	}
	cc.set(flagClosed)
	cc.closeDirect()
	if a := cc.admin.Load(); a != nil && !cc.is(flagAdminSubmitted) {
		// The word was still waiting for room in the Backend, which will
		// never see it now: close its socket here.
		a.finish(nil)
	}
	if cc.held != nil {
		*cc.held = nil
	}
	f.closed.Add(1)
	if err != nil && f.log.Debug().Enabled() {
		f.log.Debug().Str("remote", cc.remote).Uint64("conn", cc.id).Err(err).Msg("connection closed")
	}
	f.cfg.Backend.Closed(cc.handle, err)
	return gnet.None
}

// OnShutdown is called once all loops have stopped.
func (f *Frontend) OnShutdown(gnet.Engine) {
	f.log.Info().Msg("client front end stopped")
}
