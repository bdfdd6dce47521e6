package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
)

// Moving the client listener (dynamic reconfiguration, issue 17): Java
// 3.8 re-binds its client port when an activated configuration changes
// this member's client address (NIOServerCnxnFactory.reconfigure: the old
// listening socket is closed, a new one bound; the connections already
// accepted are served on). gnet cannot close an engine's listener and
// keep its connections, so a move starts another engine on the new
// address and retires the one serving before: a retired engine serves
// its connections to their end and closes each new one at once, so that
// clients go to the new address (or another server) as they do from
// Java's closed port. A move back to an address a retired engine still
// holds makes that engine serve again. The engines stop with the front
// end.

// listenerEngine is one client listener of the front end and its event
// loops: the first (Start's) or one a move started.
type listenerEngine struct {
	gnet.BuiltinEventEngine
	f       *Frontend
	want    string // the address asked for
	retired atomic.Bool
	eng     gnet.Engine
	addr    net.Addr
	ready   chan struct{}
	done    chan struct{}
	runErr  error
}

func (m *listenerEngine) OnBoot(eng gnet.Engine) gnet.Action {
	m.eng = eng
	m.addr = boundAddr(eng, m.want)
	close(m.ready)
	return gnet.None
}

func (m *listenerEngine) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if m.retired.Load() {
		return nil, gnet.Close
	}
	return m.f.openConn(c)
}

func (m *listenerEngine) OnTraffic(c gnet.Conn) gnet.Action { return m.f.OnTraffic(c) }

func (m *listenerEngine) OnClose(c gnet.Conn, err error) gnet.Action { return m.f.OnClose(c, err) }

// moves is the front end's listener state beyond its first engine.
type moves struct {
	mu      sync.Mutex
	engines []*listenerEngine // started by Rebind, oldest first
	stopped bool
	// firstRetired: the first engine (Start's) no longer takes clients.
	firstRetired atomic.Bool
}

// sameAddr reports whether bound is where addr (host:port) listens: same
// port and same IP, the wildcard IPv4 and IPv6 addresses counting as one.
func sameAddr(bound net.Addr, addr *net.TCPAddr) bool {
	b, ok := bound.(*net.TCPAddr)
	if !ok || b.Port != addr.Port {
		return false
	}
	if b.IP.IsUnspecified() || addr.IP == nil || addr.IP.IsUnspecified() {
		return (b.IP == nil || b.IP.IsUnspecified()) && (addr.IP == nil || addr.IP.IsUnspecified())
	}
	return b.IP.Equal(addr.IP)
}

// Rebind moves the client listener to addr (host:port), as Java's
// cnxnFactory.reconfigure does when a configuration changes this
// member's client address: new connections are taken on addr only, the
// open ones stay. It returns the address now serving. It binds and waits
// for the new event loops: call it from a goroutine of its own, never
// from an event loop or the owner goroutine. On an error the listener
// serving before keeps serving (Java is then left without one).
func (f *Frontend) Rebind(addr string) (net.Addr, error) {
	select {
	case <-f.ready:
	default:
		return nil, errors.New("proxy: rebind before Start")
	}
	want, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("proxy: rebind to %s: %w", addr, err)
	}
	mv := &f.moves
	mv.mu.Lock()
	defer mv.mu.Unlock()
	if mv.stopped {
		return nil, errors.New("proxy: rebind after Stop")
	}
	// serveOn makes e (nil: the first engine) the one taking clients.
	serveOn := func(e *listenerEngine) net.Addr {
		mv.firstRetired.Store(e != nil)
		for _, o := range mv.engines {
			o.retired.Store(o != e)
		}
		if e == nil {
			return f.addr
		}
		return e.addr
	}
	if sameAddr(f.addr, want) {
		return serveOn(nil), nil
	}
	for _, e := range mv.engines {
		if sameAddr(e.addr, want) {
			return serveOn(e), nil
		}
	}
	e := &listenerEngine{f: f, want: addr, ready: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(e.done)
		e.runErr = gnet.Run(e, "tcp://"+addr, f.engineOptions()...)
	}()
	select {
	case <-e.ready:
	case <-e.done:
		if e.runErr == nil {
			e.runErr = errors.New("event loops stopped before serving")
		}
		return nil, fmt.Errorf("proxy: rebind to %s: %w", addr, e.runErr)
	}
	mv.engines = append(mv.engines, e)
	bound := serveOn(e)
	f.log.Info().Str("addr", bound.String()).Msg("serving clients on the moved client address")
	return bound, nil
}

// stopMoved stops the engines Rebind started (Stop).
func (f *Frontend) stopMoved(ctx context.Context) error {
	mv := &f.moves
	mv.mu.Lock()
	mv.stopped = true
	engines := mv.engines
	mv.mu.Unlock()
	var err error
	for _, e := range engines {
		err = errors.Join(err, e.eng.Stop(ctx))
		select {
		case <-e.done:
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		}
	}
	return err
}
