package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// PassConfig configures a Passthrough proxy.
type PassConfig struct {
	// Listen is the client-facing address, host:port (port 0: any).
	Listen string
	// Upstreams are the ensemble's client addresses, host:port.
	Upstreams []string
	// Logger; the zero value logs nothing.
	Logger zerolog.Logger
	// LogRequests turns on the request log: RequestLog gets one JSON line
	// per answered request (session, xid, op, path, err, latency).
	// RequestLogSample logs one request in N (default 1: all).
	LogRequests      bool
	RequestLog       zerolog.Logger
	RequestLogSample uint32
	// Loops is the number of event loops (default: number of CPUs).
	Loops int
	// DialTimeout bounds an upstream dial (default 3 s).
	DialTimeout time.Duration
	// RefusedFor is how long an upstream that refused a dial is skipped
	// (default 5 s).
	RefusedFor time.Duration
	// MaxRequest is the largest request frame body passed on (default
	// jute.maxbuffer, 1 MiB); a larger frame closes the client.
	MaxRequest int
	// MaxResponse is the largest reply frame body passed on (default
	// 16 MiB); a larger one closes that client with a logged reason.
	MaxResponse int
	// MaxOutbound is the backpressure threshold: when one side holds more
	// unsent bytes than this, the proxy stops reading the other side
	// (default 4 MiB).
	MaxOutbound int
	// MaxBuffered bounds what a paused side may buffer before its pair is
	// closed (default 4*MaxOutbound + MaxResponse).
	MaxBuffered int
	// Policy: limits and filters, each decision counted in Metrics.
	Policy Policy
	// Metrics, when set, is updated by the proxy.
	Metrics *Metrics
	// Record, when set, gets every frame (see Recorder).
	Record *Recorder
	// Shadow, when set, is a second ensemble's address: requests are
	// mirrored to it over its own session and its replies and events are
	// compared with the primary's (see shadow.go).
	Shadow string
	// TLSListen, with ClientTLS, is an address where clients connect over
	// TLS, terminated here (passtls.go). Listen may then be "" for a
	// proxy that takes TLS clients only.
	TLSListen string
	ClientTLS *tls.Config
	// UpstreamTLS, when set, makes every upstream connection TLS, with the
	// configuration it returns for the upstream's host name.
	UpstreamTLS func(serverName string) *tls.Config
}

func (c PassConfig) withDefaults() PassConfig {
	if c.Loops == 0 {
		c.Loops = runtime.NumCPU()
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 3 * time.Second
	}
	if c.RefusedFor == 0 {
		c.RefusedFor = 5 * time.Second
	}
	if c.MaxRequest == 0 {
		c.MaxRequest = jute.DefaultMaxBuffer
	}
	if c.MaxResponse == 0 {
		c.MaxResponse = 16 << 20
	}
	if c.MaxOutbound == 0 {
		c.MaxOutbound = 4 << 20
	}
	if c.MaxBuffered == 0 {
		c.MaxBuffered = 4*c.MaxOutbound + c.MaxResponse
	}
	if c.RequestLogSample == 0 {
		c.RequestLogSample = 1
	}
	c.Policy = c.Policy.withDefaults()
	return c
}

func (c PassConfig) validate() error {
	if c.Listen == "" && c.TLSListen == "" {
		return errNoListen
	}
	if (c.TLSListen == "") != (c.ClientTLS == nil) {
		return errors.New("proxy: TLSListen and ClientTLS go together")
	}
	if len(c.Upstreams) == 0 {
		return errors.New("proxy: at least one upstream is required")
	}
	if c.Shadow != "" {
		if _, _, err := net.SplitHostPort(c.Shadow); err != nil {
			return fmt.Errorf("proxy: bad shadow %q: %w", c.Shadow, err)
		}
	}
	for _, u := range c.Upstreams {
		if _, _, err := net.SplitHostPort(u); err != nil {
			return fmt.Errorf("proxy: bad upstream %q: %w", u, err)
		}
	}
	if c.Loops <= 0 || c.MaxRequest <= 0 || c.MaxResponse <= 0 || c.MaxOutbound <= 0 || c.MaxBuffered <= 0 {
		return errors.New("proxy: limits must be positive")
	}
	return c.Policy.validate()
}

// Passthrough is a protocol-aware ZooKeeper proxy: each client connection
// gets its own upstream connection, registered on the client's event loop,
// and frames are forwarded unchanged both ways while being decoded for
// metrics, policy, logging and recording.
type Passthrough struct {
	gnet.BuiltinEventEngine

	cfg    PassConfig
	log    zerolog.Logger
	reqLog zerolog.Logger
	logReq bool
	m      *Metrics
	pol    *policyState
	nextID atomic.Uint64

	// Upstream choice: round robin, skipping recently refused ones.
	next    atomic.Uint64
	refused []atomic.Int64 // unix nanos until which upstream i is skipped

	eng      gnet.Engine
	addr     net.Addr
	ready    chan struct{}
	done     chan struct{}
	runErr   error
	stopOnce sync.Once
	dials    sync.WaitGroup
	quit     chan struct{}
	tls      tlsState
}

// NewPassthrough validates cfg and returns a proxy; Start begins serving.
func NewPassthrough(cfg PassConfig) (*Passthrough, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Passthrough{
		cfg:     cfg,
		log:     cfg.Logger.With().Str("component", "proxy").Logger(),
		m:       cfg.Metrics,
		pol:     newPolicyState(cfg.Policy),
		refused: make([]atomic.Int64, len(cfg.Upstreams)),
		ready:   make(chan struct{}),
		done:    make(chan struct{}),
		quit:    make(chan struct{}),
	}
	if cfg.LogRequests {
		p.logReq = true
		p.reqLog = cfg.RequestLog
		if cfg.RequestLogSample > 1 {
			p.reqLog = p.reqLog.Sample(&zerolog.BasicSampler{N: cfg.RequestLogSample})
		}
	}
	if p.m == nil {
		p.m = NewMetrics()
	}
	return p, nil
}

// Start listens and runs the event loops in the background.
func (p *Passthrough) Start() error {
	listen := "tcp://" + p.cfg.Listen
	opts := []gnet.Option{
		gnet.WithMulticore(p.cfg.Loops > 1),
		gnet.WithNumEventLoop(p.cfg.Loops),
		gnet.WithReuseAddr(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{p.log}),
		gnet.WithLogLevel(0),
	}
	if p.cfg.TLSListen != "" {
		// TLS clients are registered with the engine from other
		// goroutines: round robin is not safe for that.
		opts = append(opts, gnet.WithLoadBalancing(gnet.LeastConnections), gnet.WithTicker(true))
		p.tls.started = make(chan struct{})
		if p.cfg.Listen == "" {
			// TLS only: gnet still needs a listener; give it a Unix
			// socket in a private directory.
			dir, err := os.MkdirTemp("", "zkgo-proxy-")
			if err != nil {
				return fmt.Errorf("proxy: %w", err)
			}
			p.tls.sock = dir
			listen = "unix://" + filepath.Join(dir, "plain.sock")
		}
	}
	go func() {
		defer close(p.done)
		p.runErr = gnet.Run(p, listen, opts...)
	}()
	select {
	case <-p.ready:
		p.log.Info().Str("addr", p.addr.String()).Strs("upstreams", p.cfg.Upstreams).Int("loops", p.cfg.Loops).
			Msg("proxying clients")
	case <-p.done:
		if p.runErr == nil {
			p.runErr = errors.New("proxy: event loops stopped before serving")
		}
		return fmt.Errorf("proxy: listen on %s: %w", p.cfg.Listen, p.runErr)
	}
	if p.cfg.TLSListen != "" {
		// OnBoot runs before gnet registers its loops; the first tick
		// comes after (see OnTick).
		select {
		case <-p.tls.started:
		case <-p.done:
			return fmt.Errorf("proxy: event loops stopped before serving: %w", p.runErr)
		}
		if err := p.startTLS(); err != nil {
			_ = p.Stop(context.Background())
			return err
		}
	}
	return nil
}

// Addr returns the bound listen address (valid after Start).
func (p *Passthrough) Addr() net.Addr { return p.addr }

// Metrics returns the proxy's metrics.
func (p *Passthrough) Metrics() *Metrics { return p.m }

// Stop closes the listener and every connection; idempotent.
func (p *Passthrough) Stop(ctx context.Context) error {
	var err error
	p.stopOnce.Do(func() {
		close(p.quit)
		p.stopTLS()
		select {
		case <-p.ready:
		default:
			return
		}
		err = p.eng.Stop(ctx)
		select {
		case <-p.done:
		case <-ctx.Done():
			err = errors.Join(err, ctx.Err())
		}
		p.dials.Wait()
	})
	return err
}

// OnBoot records the engine and the bound address.
func (p *Passthrough) OnBoot(eng gnet.Engine) gnet.Action {
	p.eng = eng
	p.addr = boundAddr(eng, p.cfg.Listen)
	close(p.ready)
	return gnet.None
}

// upSide is the context of an upstream connection.
type upSide struct {
	pr   *pair
	addr string
}

// OnOpen accepts a client (and starts its upstream dial) or completes the
// registration of an upstream connection.
func (p *Passthrough) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	switch x := c.Context().(type) {
	case *upSide:
		return x.pr.upOpened(c, x.addr)
	case *shadowSide:
		return nil, x.pr.shadowOpened(c, x.addr)
	}
	pr := &pair{p: p, id: p.nextID.Add(1), client: c, opened: time.Now()}
	if tc, ok := c.Context().(*tlsClient); ok {
		pr.remote, pr.ip = tc.remote, tc.ip
	} else if ra := c.RemoteAddr(); ra != nil {
		pr.remote = ra.String()
		if ta, ok := ra.(*net.TCPAddr); ok {
			pr.ip = ta.IP.String()
		}
	}
	if !p.pol.admitConn(pr) {
		p.m.decision(DecisionMaxConns)
		// Java's NIOServerCnxnFactory message.
		p.log.Warn().Str("remote", pr.remote).Int("max", p.cfg.Policy.MaxConnsPerIP).
			Msg("Too many connections from " + pr.ip + " - max is " + fmt.Sprint(p.cfg.Policy.MaxConnsPerIP))
		return nil, gnet.Close
	}
	c.SetContext(pr)
	p.m.clientConns.Inc()
	p.dials.Add(1)
	go p.dial(pr)
	return nil, gnet.None
}

// OnTraffic forwards what a client or an upstream sent.
func (p *Passthrough) OnTraffic(c gnet.Conn) gnet.Action {
	switch x := c.Context().(type) {
	case *pair:
		return x.fromClient()
	case *upSide:
		return x.pr.fromUpstream()
	case *shadowSide:
		return x.pr.fromShadow()
	}
	return gnet.Close
}

// OnClose closes the other side of the pair.
func (p *Passthrough) OnClose(c gnet.Conn, err error) gnet.Action {
	switch x := c.Context().(type) {
	case *pair:
		x.clientClosed(err)
	case *upSide:
		x.pr.upClosed(err)
	case *shadowSide:
		x.pr.shadowClosed()
	}
	return gnet.None
}

// OnShutdown is called once all loops have stopped.
func (p *Passthrough) OnShutdown(gnet.Engine) { p.log.Info().Msg("proxy stopped") }

// dial connects pr to an upstream off the event loop and enrolls the
// connection on the client's loop, so the pair is owned by one loop.
func (p *Passthrough) dial(pr *pair) {
	defer p.dials.Done()
	n := len(p.cfg.Upstreams)
	start := int(p.next.Add(1) - 1)
	now := time.Now().UnixNano()
	// First pass skips upstreams that refused recently; the second tries
	// them too rather than fail the client.
	for pass := 0; pass < 2; pass++ {
		for k := 0; k < n; k++ {
			i := (start + k) % n
			if pass == 0 && p.refused[i].Load() > now {
				continue
			}
			if pass == 1 && p.refused[i].Load() <= now {
				continue
			}
			select {
			case <-p.quit:
				_ = pr.client.Close()
				return
			default:
			}
			addr := p.cfg.Upstreams[i]
			d := net.Dialer{Timeout: p.cfg.DialTimeout}
			nc, err := d.Dial("tcp", addr)
			if err != nil {
				p.refused[i].Store(time.Now().Add(p.cfg.RefusedFor).UnixNano())
				p.m.dial(addr, false)
				p.log.Warn().Str("upstream", addr).Err(err).Msg("upstream dial failed")
				continue
			}
			if p.cfg.UpstreamTLS != nil {
				if nc, err = p.dialUpstreamTLS(nc, addr); err != nil {
					p.refused[i].Store(time.Now().Add(p.cfg.RefusedFor).UnixNano())
					p.m.dial(addr, false)
					p.log.Warn().Str("upstream", addr).Err(err).Msg("upstream dial failed")
					continue
				}
			}
			p.m.dial(addr, true)
			if p.cfg.Shadow != "" {
				p.dialShadow(pr)
			}
			if err := p.enroll(pr, nc, addr); err != nil {
				p.log.Warn().Str("upstream", addr).Err(err).Msg("cannot register upstream connection")
				p.abandon(pr)
			}
			return
		}
	}
	p.log.Warn().Str("remote", pr.remote).Msg("closing client: no upstream reachable")
	p.abandon(pr)
}

// abandon gives up on pr's upstream: the client is closed, and a
// four-letter-word client that already half-closed loses the dup of its
// socket kept for the answer (that state belongs to the loop, so it is
// released there).
func (p *Passthrough) abandon(pr *pair) {
	_ = pr.client.Close()
	_ = pr.client.EventLoop().Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		if pr.adminConn != nil && pr.up == nil {
			_ = pr.adminConn.Close()
			pr.adminConn, pr.adminBuf = nil, nil
		}
		return nil
	}))
}

// dialShadow connects pr's shadow; it is enrolled before the primary, so
// it is in place when the client's first bytes are forwarded. A shadow
// that cannot be reached only loses the comparison.
func (p *Passthrough) dialShadow(pr *pair) {
	d := net.Dialer{Timeout: p.cfg.DialTimeout}
	nc, err := d.Dial("tcp", p.cfg.Shadow)
	if err != nil {
		p.m.dial(p.cfg.Shadow, false)
		p.log.Warn().Str("shadow", p.cfg.Shadow).Err(err).Msg("shadow dial failed")
		return
	}
	p.m.dial(p.cfg.Shadow, true)
	ctx := gnet.NewContext(context.Background(), &shadowSide{pr: pr, addr: p.cfg.Shadow})
	ch, err := pr.client.EventLoop().Enroll(ctx, nc)
	if err != nil {
		_ = nc.Close()
		return
	}
	p.waitEnrolled(ch)
}

func (p *Passthrough) enroll(pr *pair, nc net.Conn, addr string) error {
	ctx := gnet.NewContext(context.Background(), &upSide{pr: pr, addr: addr})
	ch, err := pr.client.EventLoop().Enroll(ctx, nc)
	if err != nil {
		_ = nc.Close()
		return err
	}
	return p.waitEnrolled(ch)
}

// waitEnrolled waits for an Enroll to complete, or for Stop: gnet runs the
// registration as a task of the loop, and a loop that stops first never
// runs it, so its result never comes (Stop would wait for this dial
// forever).
func (p *Passthrough) waitEnrolled(ch <-chan gnet.RegisteredResult) error {
	select {
	case res := <-ch:
		return res.Err
	case <-p.quit:
		return errors.New("proxy: stopping")
	}
}

// opLabel returns the metric label of an opcode.
func opLabel(op wire.OpCode) string {
	if op.Known() {
		return op.String()
	}
	return "unknown"
}
