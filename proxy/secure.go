package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/zkgo/zkgo/internal/zktls"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/wire"
)

// SecureFrontend serves ZooKeeper clients over TLS (Java's secureClientPort
// with NettyServerCnxnFactory), or TLS and plaintext on one port
// (client.portUnification). gnet has no TLS, so each connection gets a
// reader and a writer goroutine on crypto/tls; the gnet Frontend and its
// plaintext path are not involved. Connections reach the Backend through
// the same contract as the gnet front end's: an open notice, batches
// refused when the Backend is full and resubmitted on Resume, at most
// MaxOutstanding requests unanswered (past that the connection is not
// read: TCP pushes back), and a client that does not read its replies
// closed past MaxOutboundBytes. The Backend's calls (Send, Close, Resume)
// never block on the network.
type SecureFrontend struct {
	cfg     Config
	tls     *tls.Config
	unified bool
	log     zerolog.Logger

	ln       net.Listener
	wg       sync.WaitGroup
	stopOnce sync.Once
	quit     chan struct{}

	mu    sync.Mutex
	conns map[*secureConn]struct{}

	opened, closed, refused, failed atomic.Int64
}

// HandshakeTimeout bounds a TLS handshake (Netty's SslHandler default),
// and, on a unified port, the wait for the first bytes that tell TLS from
// plaintext.
var HandshakeTimeout = 10 * time.Second

// secureIDs numbers the connections of every SecureFrontend of the
// process, from 1<<62 up: apart from a gnet Frontend's, which count from 1,
// so that ids stay unique for a Backend fed by both.
var secureIDs atomic.Uint64

// NewSecure returns a TLS front end with tlsCfg (server side). With
// unified, the port also takes plaintext clients, told apart by their
// first bytes as Java's DualModeSslHandler does.
func NewSecure(cfg Config, tlsCfg *tls.Config, unified bool) (*SecureFrontend, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if tlsCfg == nil {
		return nil, errors.New("proxy: NewSecure needs a TLS configuration")
	}
	mode := "tls"
	if unified {
		mode = "tls+plaintext"
	}
	return &SecureFrontend{
		cfg: cfg, tls: tlsCfg, unified: unified,
		log:   cfg.Logger.With().Str("component", "secure_frontend").Str("mode", mode).Logger(),
		quit:  make(chan struct{}),
		conns: map[*secureConn]struct{}{},
	}, nil
}

// Start listens and accepts in the background.
func (f *SecureFrontend) Start() error {
	ln, err := net.Listen("tcp", f.cfg.Addr)
	if err != nil {
		return fmt.Errorf("proxy: listen on %s: %w", f.cfg.Addr, err)
	}
	f.ln = ln
	f.wg.Add(1)
	go f.accept()
	f.log.Info().Str("addr", ln.Addr().String()).Msg("serving clients over TLS")
	return nil
}

// Addr returns the bound address (valid after Start).
func (f *SecureFrontend) Addr() net.Addr { return f.ln.Addr() }

// Connections returns the number of open connections.
func (f *SecureFrontend) Connections() int64 { return f.opened.Load() - f.closed.Load() }

// HandshakeFailures returns how many connections were closed because the
// TLS handshake failed.
func (f *SecureFrontend) HandshakeFailures() int64 { return f.failed.Load() }

// Stop closes the listener and every connection and waits for their
// goroutines. It is idempotent.
func (f *SecureFrontend) Stop(ctx context.Context) error {
	f.stopOnce.Do(func() {
		close(f.quit)
		if f.ln != nil {
			_ = f.ln.Close()
		}
		f.mu.Lock()
		for c := range f.conns {
			c.shutdown()
		}
		f.mu.Unlock()
	})
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("proxy: secure front end stop: %w", ctx.Err())
	}
}

func (f *SecureFrontend) accept() {
	defer f.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		nc, err := f.ln.Accept()
		if err != nil {
			select {
			case <-f.quit:
				return
			default:
			}
			// EMFILE and the like: wait and go on accepting.
			f.log.Warn().Err(err).Msg("accepting a client connection failed")
			select {
			case <-time.After(backoff):
			case <-f.quit:
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		c := &secureConn{
			id: 1<<62 | secureIDs.Add(1), fe: f, nc: nc, remote: nc.RemoteAddr().String(),
			wake: make(chan struct{}, 1), resume: make(chan struct{}, 1), room: make(chan struct{}, 1),
			done: make(chan struct{}),
		}
		f.mu.Lock()
		select {
		case <-f.quit:
			f.mu.Unlock()
			_ = nc.Close()
			return
		default:
		}
		f.conns[c] = struct{}{}
		f.mu.Unlock()
		f.opened.Add(1)
		f.wg.Add(2)
		go c.readLoop()
		go c.writeLoop()
	}
}

// secureConn is one client connection of a SecureFrontend: readLoop owns
// the reading side and the Backend's open/submit/closed calls; writeLoop
// writes what Send queued.
type secureConn struct {
	id     uint64
	remote string
	fe     *SecureFrontend
	nc     net.Conn // the TCP connection
	handle any

	// subject is the verified client certificate's subject (RFC 2253),
	// set after the handshake, before the first request is submitted.
	subject string
	hasCert bool
	tls     bool

	mu         sync.Mutex
	out        [][]byte
	outBytes   int
	closeAfter bool // close once out is written (Close, a four-letter answer)
	fourLetter atomic.Bool

	wake   chan struct{} // writer: out or closeAfter changed
	resume chan struct{} // the Backend has room again
	room   chan struct{} // outstanding dropped below half of the limit

	outstanding atomic.Int64
	closed      atomic.Bool
	done        chan struct{}
	closeOnce   sync.Once
	stream      atomic.Pointer[stream]
}

var _ Conn = (*secureConn)(nil)

func (c *secureConn) ID() uint64         { return c.id }
func (c *secureConn) RemoteAddr() string { return c.remote }

// ClientCertSubject returns the subject of the client's verified
// certificate in RFC 2253 form (X500Principal.getName()), if it sent one.
func (c *secureConn) ClientCertSubject() (string, bool) { return c.subject, c.hasCert }

// Secure reports whether the connection is TLS (false for a plaintext
// client of a unified port).
func (c *secureConn) Secure() bool { return c.tls }

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Send queues b for the writer; it never blocks on the network.
func (c *secureConn) Send(b []byte, completed int) bool {
	if c.closed.Load() {
		return false
	}
	if completed > 0 {
		n := c.outstanding.Add(-int64(completed))
		if n < int64(c.fe.cfg.MaxOutstanding)/2 {
			signal(c.room)
		}
	}
	if len(b) == 0 {
		return true
	}
	c.mu.Lock()
	c.out = append(c.out, b)
	c.outBytes += len(b)
	over := c.outBytes > c.fe.cfg.MaxOutboundBytes
	if c.fourLetter.Load() {
		// Java closes a four-letter-word connection after the answer.
		c.closeAfter = true
	}
	c.mu.Unlock()
	if over {
		c.fe.log.Warn().Str("remote", c.remote).Uint64("conn", c.id).Msg("closing slow client: replies not read")
		c.shutdown()
		return false
	}
	signal(c.wake)
	return true
}

// Close closes the connection once queued replies are written.
func (c *secureConn) Close(reason string) {
	if c.closed.Load() {
		return
	}
	c.fe.log.Debug().Str("remote", c.remote).Uint64("conn", c.id).Str("reason", reason).Msg("closing connection")
	c.mu.Lock()
	c.closeAfter = true
	c.mu.Unlock()
	signal(c.wake)
}

// Resume lets the reader submit what the Backend refused.
func (c *secureConn) Resume() { signal(c.resume) }

// shutdown closes the socket at once; both loops end.
func (c *secureConn) shutdown() {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		close(c.done)
		_ = c.nc.Close()
	})
}

func (c *secureConn) writeLoop() {
	defer c.fe.wg.Done()
	var w io.Writer
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		cw := c.writer()
		c.mu.Lock()
		closeAfter := c.closeAfter
		var out [][]byte
		if cw != nil {
			out = c.out
			c.out, c.outBytes = nil, 0
		}
		c.mu.Unlock()
		if cw == nil {
			// Still in the handshake: nothing can be queued yet but a close.
			if closeAfter {
				c.shutdown()
				return
			}
			continue
		}
		w = cw
		for _, b := range out {
			if _, err := w.Write(b); err != nil {
				c.shutdown()
				return
			}
		}
		if closeAfter {
			if tc, ok := w.(*tls.Conn); ok {
				_ = tc.CloseWrite() // close_notify
			}
			c.shutdown()
			return
		}
	}
}

// stream is the connection the reader set up: the TLS connection, or the
// plaintext one of a unified port. Set before the first Send can happen
// (the Backend sends nothing before it gets a packet).
type stream interface {
	io.ReadWriter
}

func (c *secureConn) writer() io.Writer {
	if s := c.stream.Load(); s != nil {
		return *s
	}
	return nil
}

func (c *secureConn) readLoop() {
	f := c.fe
	var closeErr error
	defer func() {
		c.shutdown()
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
		f.closed.Add(1)
		f.cfg.Backend.Closed(c.handle, closeErr)
		f.wg.Done()
	}()
	// Register at once, as the gnet front end does: the Backend counts
	// connections per client IP at accept (Java checks maxClientCnxns
	// before the TLS handshake too).
	c.handle = f.cfg.Backend.Open(c)
	blocked := !f.cfg.Backend.Submit(c.handle, nil)
	if blocked {
		f.refused.Add(1)
	}
	s, err := c.handshake()
	if err != nil {
		closeErr = err
		return
	}
	c.stream.Store(&s)
	// The handshake may have raced a Close (maxClientCnxns): flush it.
	signal(c.wake)

	maxOut := int64(f.cfg.MaxOutstanding)
	buf := make([]byte, 0, 64<<10)
	var held []wire.ClientPacket
	started := false
	for {
		if blocked {
			select {
			case <-c.resume:
			case <-c.done:
				return
			}
			if !f.cfg.Backend.Submit(c.handle, held) {
				f.refused.Add(1)
				continue
			}
			blocked, held = false, nil
		}
		for c.outstanding.Load() >= maxOut {
			select {
			case <-c.room:
			case <-c.done:
				return
			}
		}
		if c.fourLetter.Load() {
			// Java reads only the command: drain until the answer closes us.
			if _, err := s.Read(buf[:cap(buf)]); err != nil {
				// The client may have half-closed right after the word
				// (nc -N): the answer still goes out, then the writer
				// closes (bounded as the gnet front end's answer socket).
				select {
				case <-c.done:
				case <-time.After(adminWriteTimeout):
				}
				if !errors.Is(err, io.EOF) {
					closeErr = err
				}
				return
			}
			continue
		}
		// Read more when no complete frame is buffered.
		if !hasFrame(buf) {
			if len(buf) == cap(buf) {
				n, _, err := wire.PeekFrame(buf, f.cfg.MaxFrame)
				if err != nil {
					f.log.Warn().Str("remote", c.remote).Uint64("conn", c.id).Err(err).Msg("closing client: bad frame length")
					closeErr = err
					return
				}
				nb := make([]byte, len(buf), max(2*cap(buf), wire.FrameHeaderSize+n))
				copy(nb, buf)
				buf = nb
			}
			n, err := s.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err != nil && n == 0 {
				if !errors.Is(err, io.EOF) {
					closeErr = err
				}
				return
			}
		}
		var batch []wire.ClientPacket
		var bad error
		batch, buf, started, bad = c.decode(buf, started, maxOut)
		if bad != nil {
			closeErr = bad
			return
		}
		if len(buf) == 0 && cap(buf) > 64<<10 {
			buf = make([]byte, 0, 64<<10) // give back a large frame's buffer
		}
		if len(batch) == 0 {
			continue
		}
		if !f.cfg.Backend.Submit(c.handle, batch) {
			held, blocked = batch, true
			f.refused.Add(1)
		}
	}
}

// hasFrame reports whether buf starts with a complete frame (or a
// four-letter word, which has no length prefix).
func hasFrame(buf []byte) bool {
	if len(buf) < wire.FrameHeaderSize {
		return false
	}
	if _, ok := wire.IsFourLetterWord(buf); ok {
		return true
	}
	n, _, err := wire.PeekFrame(buf, 1<<31-1)
	return err != nil || len(buf) >= wire.FrameHeaderSize+n
}

// decode takes the complete frames off the front of buf, as the gnet
// front end's decode does, stopping at maxOut requests in flight.
func (c *secureConn) decode(buf []byte, started bool, maxOut int64) ([]wire.ClientPacket, []byte, bool, error) {
	f := c.fe
	var batch []wire.ClientPacket
	for c.outstanding.Load() < maxOut && len(buf) >= wire.FrameHeaderSize {
		if !started {
			if w, ok := wire.IsFourLetterWord(buf); ok {
				var arg []byte
				if w == "stmk" && len(buf) >= 12 {
					arg = append([]byte(nil), buf[4:12]...)
				}
				c.fourLetter.Store(true)
				c.outstanding.Add(1)
				return append(batch, wire.ClientPacket{Kind: wire.KindFourLetter, Word: w, Raw: arg, Size: 4}), buf[:0], true, nil
			}
		}
		n, _, err := wire.PeekFrame(buf, f.cfg.MaxFrame)
		if err != nil {
			f.log.Warn().Str("remote", c.remote).Uint64("conn", c.id).Err(err).Msg("closing client: bad frame length")
			return batch, buf, started, err
		}
		if len(buf) < wire.FrameHeaderSize+n {
			break
		}
		body := make([]byte, n)
		copy(body, buf[wire.FrameHeaderSize:wire.FrameHeaderSize+n])
		buf = buf[wire.FrameHeaderSize+n:]
		if !started {
			started = true
			cr, err := wire.DecodeConnect(body)
			if err != nil {
				f.log.Warn().Str("remote", c.remote).Uint64("conn", c.id).Err(err).Msg("closing client: malformed ConnectRequest")
				return batch, buf, started, err
			}
			c.outstanding.Add(1)
			batch = append(batch, wire.ClientPacket{Kind: wire.KindConnect, Connect: &cr, Size: n + wire.FrameHeaderSize})
			continue
		}
		pkt, err := wire.DecodeRequestFrame(body, f.cfg.MaxFrame)
		if err != nil {
			f.log.Warn().Str("remote", c.remote).Uint64("conn", c.id).Err(err).
				Msg("closing client: request frame too short for a header")
			return batch, buf, started, err
		}
		c.outstanding.Add(1)
		batch = append(batch, pkt)
	}
	// Keep the unread rest at the front of the buffer.
	if len(buf) > 0 && cap(buf)-len(buf) < 4096 {
		nb := make([]byte, len(buf), max(cap(buf), 64<<10))
		copy(nb, buf)
		buf = nb
	}
	return batch, buf, started, nil
}

// handshake sets up the connection's stream: TLS, or on a unified port
// whatever the first bytes say.
func (c *secureConn) handshake() (stream, error) {
	f := c.fe
	_ = c.nc.SetDeadline(time.Now().Add(HandshakeTimeout))
	var raw net.Conn = c.nc
	if f.unified {
		pre, isTLS, err := zktls.Sniff(c.nc)
		if err != nil {
			return nil, err
		}
		raw = &zktls.PrefixConn{Conn: c.nc, Pre: pre}
		if !isTLS {
			_ = c.nc.SetDeadline(time.Time{})
			f.log.Debug().Str("remote", c.remote).Uint64("conn", c.id).Msg("plaintext client on the unified port")
			return raw, nil
		}
	}
	tc := tls.Server(raw, f.tls)
	if err := tc.Handshake(); err != nil {
		f.failed.Add(1)
		select {
		case <-c.done:
			return nil, err // closed by the Backend or Stop, not a client's failure
		default:
		}
		f.log.Warn().Str("remote", c.remote).Uint64("conn", c.id).Err(err).Msg("TLS handshake failed, closing the connection")
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	_ = c.nc.SetDeadline(time.Time{})
	c.tls = true
	st := tc.ConnectionState()
	if len(st.PeerCertificates) > 0 {
		c.subject, c.hasCert = RFC2253(st.PeerCertificates[0]), true
	}
	if f.log.Debug().Enabled() {
		f.log.Debug().Str("remote", c.remote).Uint64("conn", c.id).Str("tls_version", tls.VersionName(st.Version)).
			Str("cipher", tls.CipherSuiteName(st.CipherSuite)).Str("client_cert", c.subject).Msg("TLS handshake done")
	}
	return tc, nil
}

// RFC2253 formats a certificate's subject as Java's
// X500Principal.getName() does: the RDNs last to first, the attribute
// types Java names by keyword (CN, C, L, ST, O, OU, STREET, DC, UID), any
// other as its dotted OID with the value's DER in hex.
func RFC2253(cert *x509.Certificate) string {
	return rfc2253(cert.RawSubject)
}
