package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// TLS for the pass-through proxy. gnet has no TLS, so TLS streams are
// bridged: each TLS connection (a client's, terminated on TLSListen, or an
// upstream's, originated with UpstreamTLS) is paired with one end of a
// Unix socket pair whose other end the gnet loop owns as it owns a plain
// TCP connection. Two goroutines copy between the TLS stream and the pair;
// a full socket buffer stops the copy, so the gnet side's backpressure
// reaches the TLS peer. The plaintext path is unchanged.

// tlsClient is the gnet context of a client that came in over TLS: the
// socket gnet sees is the local pair, so the client's address travels
// here (per-IP policies, logs).
type tlsClient struct {
	remote, ip string
}

// tlsState is the Passthrough's TLS side.
type tlsState struct {
	ln   net.Listener
	sock string // private Unix socket gnet listens on when Listen is ""
	mu   sync.Mutex
	hs   map[net.Conn]struct{} // connections in their handshake
	// started is closed by the first tick: gnet starts its ticker after
	// registering the event loops, so Engine.Register is safe from then
	// on (OnBoot, which closes ready, runs before).
	started   chan struct{}
	startOnce sync.Once
}

// OnTick marks the engine as started (ticks are on only with TLS
// clients) and asks for no further tick for a day.
func (p *Passthrough) OnTick() (time.Duration, gnet.Action) {
	if p.tls.started != nil {
		p.tls.startOnce.Do(func() { close(p.tls.started) })
	}
	return 24 * time.Hour, gnet.None
}

// socketPair returns the two ends of a connected Unix stream socket pair.
func socketPair() (net.Conn, net.Conn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("proxy: socketpair: %w", err)
	}
	var ends [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "zk-tls-bridge")
		c, err := net.FileConn(f)
		_ = f.Close()
		if err != nil {
			if i == 1 {
				_ = ends[0].Close()
			} else {
				_ = syscall.Close(fds[1])
			}
			return nil, nil, fmt.Errorf("proxy: socketpair: %w", err)
		}
		ends[i] = c
	}
	return ends[0], ends[1], nil
}

// bridge copies between a pair end (local; gnet owns the other end) and
// a TLS connection. The TLS peer's end of stream is passed on as a half
// close, so a four-letter word sent with nc -N still gets its answer;
// when the gnet side ends (its connection closed, or it saw that half
// close and closed), or the TLS stream fails, both are closed, so no
// goroutine outlives the pair.
func bridge(local net.Conn, tc *tls.Conn) {
	closeBoth := func() {
		_ = local.Close()
		_ = tc.Close()
	}
	go func() {
		_, err := io.Copy(local, tc)
		if err != nil {
			closeBoth()
			return
		}
		if uc, ok := local.(*net.UnixConn); ok {
			_ = uc.CloseWrite()
		}
	}()
	go func() {
		_, _ = io.Copy(tc, local)
		_ = tc.CloseWrite() // close_notify
		closeBoth()
	}()
}

// dialUpstreamTLS opens a TLS connection to addr and returns the pair end
// to enroll in gnet in its place.
func (p *Passthrough) dialUpstreamTLS(nc net.Conn, addr string) (net.Conn, error) {
	host, _, _ := net.SplitHostPort(addr)
	tc := tls.Client(nc, p.cfg.UpstreamTLS(host))
	_ = nc.SetDeadline(time.Now().Add(p.cfg.DialTimeout + HandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("TLS handshake with upstream: %w", err)
	}
	_ = nc.SetDeadline(time.Time{})
	local, remote, err := socketPair()
	if err != nil {
		_ = tc.Close()
		return nil, err
	}
	bridge(remote, tc)
	return local, nil
}

// startTLS listens for TLS clients.
func (p *Passthrough) startTLS() error {
	ln, err := net.Listen("tcp", p.cfg.TLSListen)
	if err != nil {
		return fmt.Errorf("proxy: listen on %s: %w", p.cfg.TLSListen, err)
	}
	p.tls.ln = ln
	p.tls.hs = map[net.Conn]struct{}{}
	p.dials.Add(1)
	go p.acceptTLS()
	p.log.Info().Str("addr", ln.Addr().String()).Msg("proxying TLS clients")
	return nil
}

// TLSAddr returns the TLS listen address (valid after Start), or nil.
func (p *Passthrough) TLSAddr() net.Addr {
	if p.tls.ln == nil {
		return nil
	}
	return p.tls.ln.Addr()
}

func (p *Passthrough) acceptTLS() {
	defer p.dials.Done()
	backoff := 5 * time.Millisecond
	for {
		nc, err := p.tls.ln.Accept()
		if err != nil {
			select {
			case <-p.quit:
				return
			default:
			}
			p.log.Warn().Err(err).Msg("accepting a TLS client failed")
			select {
			case <-time.After(backoff):
			case <-p.quit:
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		p.tls.mu.Lock()
		select {
		case <-p.quit:
			p.tls.mu.Unlock()
			_ = nc.Close()
			return
		default:
		}
		p.tls.hs[nc] = struct{}{}
		p.tls.mu.Unlock()
		p.dials.Add(1)
		go p.admitTLS(nc)
	}
}

// admitTLS runs a client's handshake and hands the client to gnet.
func (p *Passthrough) admitTLS(nc net.Conn) {
	defer p.dials.Done()
	defer func() {
		p.tls.mu.Lock()
		delete(p.tls.hs, nc)
		p.tls.mu.Unlock()
	}()
	remote := nc.RemoteAddr().String()
	_ = nc.SetDeadline(time.Now().Add(HandshakeTimeout))
	tc := tls.Server(nc, p.cfg.ClientTLS)
	if err := tc.Handshake(); err != nil {
		_ = nc.Close()
		p.m.decision(DecisionTLSHandshake)
		p.log.Warn().Str("remote", remote).Err(err).Msg("TLS handshake failed, closing the connection")
		return
	}
	_ = nc.SetDeadline(time.Time{})
	local, mine, err := socketPair()
	if err != nil {
		_ = tc.Close()
		p.log.Warn().Str("remote", remote).Err(err).Msg("closing TLS client")
		return
	}
	tcl := &tlsClient{remote: remote}
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		tcl.ip = ta.IP.String()
	}
	ctx := gnet.NewNetConnContext(gnet.NewContext(context.Background(), tcl), local)
	ch, err := p.eng.Register(ctx)
	if err == nil {
		err = p.waitEnrolled(ch)
	}
	if err != nil {
		_ = local.Close()
		_ = mine.Close()
		_ = tc.Close()
		p.log.Warn().Str("remote", remote).Err(err).Msg("cannot register TLS client")
		return
	}
	bridge(mine, tc)
}

// stopTLS closes the TLS listener and the connections still in their
// handshake.
func (p *Passthrough) stopTLS() {
	if p.tls.ln == nil {
		return
	}
	_ = p.tls.ln.Close()
	p.tls.mu.Lock()
	for c := range p.tls.hs {
		_ = c.Close()
	}
	p.tls.mu.Unlock()
	if p.tls.sock != "" {
		_ = os.RemoveAll(p.tls.sock)
	}
}

var errNoListen = errors.New("proxy: PassConfig.Listen or TLSListen is required")
