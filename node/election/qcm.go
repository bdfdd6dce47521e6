package election

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/zkgo/zkgo/wire"
)

// The connection manager mirrors QuorumCnxManager (spec §7.1-7.3):
//
//   - at most one connection per peer; the one the larger sid initiated is
//     kept (an initiator with the smaller sid sends its initial message and
//     closes; an acceptor that sees a smaller sid closes and connects back);
//   - a send queue of capacity 1 per peer (a newer message replaces an unsent
//     one) and the last message sent, which a new connection re-sends when
//     its queue is empty;
//   - one receive queue of recvCapacity messages that drops the oldest.
//
// Locking: Service.mu guards peers, conns, closed and observerCounter. A
// link's goroutines take it briefly; nothing blocks while holding it.

const (
	recvCapacity = 100 // QuorumCnxManager.RECV_CAPACITY
)

// peer is what QuorumCnxManager keeps per sid across its maps.
type peer struct {
	sid      int64
	queued   []byte // queueSendMap entry (capacity 1); nil when empty
	hasQueue bool   // the queueSendMap entry exists
	last     []byte // lastMessageSent
	link     *link  // senderWorkerMap
	dialing  bool   // inprogressConnections
	accepted uint64 // accept order of the newest inbound link installed
	failing  bool   // the last dial failed (log the first failure only)
}

// link is one established connection: a SendWorker and RecvWorker pair.
type link struct {
	sid      int64
	conn     net.Conn
	r        *bufio.Reader
	outbound bool
	wake     chan struct{} // capacity 1: a message was queued
	done     chan struct{} // closed by finish
	once     sync.Once
}

type inMsg struct {
	sid  int64
	body []byte
}

// inbox is QuorumCnxManager.recvQueue: bounded, dropping the oldest.
type inbox struct {
	mu      sync.Mutex
	q       []inMsg
	signal  chan struct{} // capacity 1
	dropped uint64
}

func (b *inbox) push(m inMsg) {
	b.mu.Lock()
	if len(b.q) >= recvCapacity {
		b.q[0] = inMsg{}
		b.q = b.q[1:]
		b.dropped++
	}
	b.q = append(b.q, m)
	b.mu.Unlock()
	select {
	case b.signal <- struct{}{}:
	default:
	}
}

func (b *inbox) pop() (inMsg, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.q) == 0 {
		b.q = nil
		return inMsg{}, false
	}
	m := b.q[0]
	b.q[0] = inMsg{}
	b.q = b.q[1:]
	return m, true
}

func (b *inbox) droppedCount() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

// goFunc runs f on a goroutine tracked by Close; it returns false (and does
// not run f) once the service is closed.
func (s *Service) goFunc(f func()) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

// trackConn registers a socket that no link owns yet, so Close can close it.
func (s *Service) trackConn(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Service) untrackConn(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Service) peerLocked(sid int64) *peer {
	p := s.peers[sid]
	if p == nil {
		p = &peer{sid: sid}
		s.peers[sid] = p
	}
	return p
}

// toSend queues frame for sid, replacing an unsent one, and makes sure a
// connection exists or is being made (QuorumCnxManager.toSend).
func (s *Service) toSend(sid int64, frame []byte) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	p := s.peerLocked(sid)
	p.queued = frame
	p.hasQueue = true
	l := p.link
	s.mu.Unlock()
	if l != nil {
		select {
		case l.wake <- struct{}{}:
		default:
		}
		return
	}
	s.connectOne(sid, "")
}

// haveDelivered is QuorumCnxManager.haveDelivered: true if any peer's send
// queue is empty (sic: any, not all).
func (s *Service) haveDelivered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.peers {
		if p.hasQueue && p.queued == nil {
			return true
		}
	}
	return false
}

// connectAll connects to every peer we have queued messages for.
func (s *Service) connectAll() {
	s.mu.Lock()
	var sids []int64
	for sid, p := range s.peers {
		if p.hasQueue {
			sids = append(sids, sid)
		}
	}
	s.mu.Unlock()
	for _, sid := range sids {
		s.connectOne(sid, "")
	}
}

// connectOne starts connecting to sid unless a connection exists or is being
// made. addr overrides the configured address (an acceptor connecting back
// to the address a peer advertised).
func (s *Service) connectOne(sid int64, addr string) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if p := s.peers[sid]; p != nil && (p.link != nil || p.dialing) {
		s.mu.Unlock()
		return
	}
	if addr == "" {
		m, ok := s.cfg.Members[sid]
		if !ok {
			s.mu.Unlock()
			s.log.Warn().Int64("sid", sid).Msg("invalid server id: not in the configuration")
			return
		}
		addr = m.Addr
	}
	p := s.peerLocked(sid)
	p.dialing = true
	s.mu.Unlock()
	if !s.goFunc(func() { s.dial(sid, addr) }) {
		s.mu.Lock()
		p.dialing = false
		s.mu.Unlock()
	}
}

func setNoDelay(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
}

// dial is initiateConnection + startConnection.
func (s *Service) dial(sid int64, addr string) {
	p := func() *peer { s.mu.Lock(); defer s.mu.Unlock(); return s.peerLocked(sid) }()
	// The dialing mark ends with the dial, or with the link it installs
	// (startLink clears it under the same lock): an acceptor that drops
	// that link at once (the peer dialed too, with a smaller sid) must
	// find no dial in progress, or nobody would connect back.
	handed := false
	defer func() {
		if !handed {
			s.mu.Lock()
			p.dialing = false
			s.mu.Unlock()
		}
	}()
	var c net.Conn
	var err error
	if s.cfg.Dial != nil {
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.CnxTimeout+s.cfg.HandshakeTimeout)
		c, err = s.cfg.Dial(ctx, sid, addr)
		cancel()
	} else {
		d := net.Dialer{Timeout: s.cfg.CnxTimeout}
		c, err = d.DialContext(s.ctx, "tcp", addr)
	}
	if err != nil {
		s.dialFailures.Add(1)
		s.mu.Lock()
		first := !p.failing
		p.failing = true
		s.mu.Unlock()
		if first && s.ctx.Err() == nil {
			s.log.Warn().Int64("sid", sid).Str("addr", addr).Err(err).Msg("cannot open election channel")
		} else {
			s.log.Debug().Int64("sid", sid).Str("addr", addr).Err(err).Msg("cannot open election channel")
		}
		return
	}
	s.mu.Lock()
	p.failing = false
	s.mu.Unlock()
	setNoDelay(c)
	if !s.trackConn(c) {
		_ = c.Close()
		return
	}
	keep := false
	defer func() {
		s.untrackConn(c)
		if !keep {
			_ = c.Close()
		}
	}()
	_ = c.SetWriteDeadline(time.Now().Add(s.cfg.writeTimeout()))
	if _, err := c.Write(s.initMsg); err != nil {
		s.log.Warn().Int64("sid", sid).Err(err).Msg("sending initial message")
		return
	}
	_ = c.SetWriteDeadline(time.Time{})
	if s.cfg.AuthLearner != nil {
		_ = c.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
		if err := s.cfg.AuthLearner(c, sid); err != nil {
			s.log.Error().Int64("sid", sid).Str("remote", c.RemoteAddr().String()).Err(err).
				Msg("Exception while connecting, closing learner connection")
			return
		}
		_ = c.SetDeadline(time.Time{})
	}
	if sid > s.cfg.MyID {
		// The larger sid keeps the connection it initiates: it will
		// connect back.
		s.log.Debug().Int64("sid", sid).Msg("have smaller server id: dropping my connection, peer connects back")
		return
	}
	handed = true
	keep = s.startLink(sid, c, bufio.NewReader(c), 0)
	if s.afterDialLink != nil {
		s.afterDialLink(sid)
	}
}

// acceptLoop is QuorumCnxManager.Listener. Java handles each accepted
// connection on the listener thread, in accept order; here each has its own
// goroutine (a peer that never says who it is blocks nobody) and startLink
// restores the order: see startLink.
func (s *Service) acceptLoop() {
	var seq uint64
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Error().Err(err).Msg("election listener accept")
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		setNoDelay(c)
		// Bounded: at most MaxPendingHandshakes connections wait for their
		// initial message; a new one evicts one of them.
		if !s.pending.Admit(c) {
			return
		}
		seq++
		accepted := seq
		if !s.goFunc(func() { s.handleConnection(c, accepted) }) {
			s.pending.Done(c)
			_ = c.Close()
			return
		}
	}
}

// handleConnection reads a peer's initial message and keeps the connection
// if the peer's sid is larger than mine (QuorumCnxManager.handleConnection).
// accepted is the connection's accept order (from 1).
func (s *Service) handleConnection(c net.Conn, accepted uint64) {
	if !s.trackConn(c) {
		_ = c.Close()
		return
	}
	keep := false
	defer func() {
		s.untrackConn(c)
		if !keep {
			_ = c.Close()
		}
	}()
	// The whole initial message within the deadline: a peer sends it as
	// soon as it connects, so a connection that drips bytes is closed.
	_ = c.SetReadDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	r := bufio.NewReader(c)
	m, err := readInitialMessage(r)
	var authErr error
	if err == nil && s.cfg.AuthServer != nil {
		// The quorum SASL exchange counts as pending too: Java runs it
		// on its quorum.cnxn.threads.size connection threads.
		authErr = s.cfg.AuthServer(c, r)
	}
	if !s.pending.Done(c) {
		s.log.Debug().Str("remote", c.RemoteAddr().String()).
			Msg("election connection closed before its initial message: too many pending")
		return
	}
	if err != nil {
		s.handshakeFailures.Add(1)
		s.log.Warn().Str("remote", c.RemoteAddr().String()).Err(err).Msg("bad initial message on election port")
		return
	}
	if authErr != nil {
		s.handshakeFailures.Add(1) // AuthServer logged why
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	sid := m.Sid
	if sid == math.MaxInt64 {
		// QuorumPeer.OBSERVER_ID: an observer that does not know its id.
		s.mu.Lock()
		sid = s.observerCounter
		s.observerCounter--
		s.mu.Unlock()
		s.log.Info().Int64("sid", sid).Msg("arbitrary identifier for an observer")
	}
	addr := ""
	for _, a := range m.Addrs() {
		if !isWildcard(a) {
			addr = a
			break
		}
	}
	switch {
	case sid < s.cfg.MyID:
		// I win: drop this one, and any connection I have with that peer
		// (it believes it is broken), and connect back.
		s.mu.Lock()
		var old *link
		if p := s.peers[sid]; p != nil {
			old = p.link
		}
		s.mu.Unlock()
		if old != nil {
			s.finishLink(old)
		}
		_ = c.Close()
		s.connectOne(sid, addr)
	case sid == s.cfg.MyID:
		s.log.Warn().Int64("sid", sid).Str("remote", c.RemoteAddr().String()).
			Msg("connection request from a server with my own id: configuration error or bug")
	default:
		keep = s.startLink(sid, c, r, accepted)
	}
}

// readInitialMessage reads and checks a QCM initial message: a bare 3.4 sid
// (non-negative first long), or V1/V2 with a 0 < len <= 2048 address list of
// parseable host:port items.
func readInitialMessage(r *bufio.Reader) (wire.InitialMessage, error) {
	buf := make([]byte, 20, 64)
	if _, err := io.ReadFull(r, buf[:8]); err != nil {
		return wire.InitialMessage{}, fmt.Errorf("reading protocol version: %w", err)
	}
	if int64(binary.BigEndian.Uint64(buf)) >= 0 {
		m, _, _, err := wire.DecodeInitialMessage(buf[:8])
		return m, err
	}
	if _, _, _, err := wire.DecodeInitialMessage(buf[:8]); err != nil {
		return wire.InitialMessage{}, err
	}
	if _, err := io.ReadFull(r, buf[8:20]); err != nil {
		return wire.InitialMessage{}, fmt.Errorf("reading sid and address length: %w", err)
	}
	if _, _, _, err := wire.DecodeInitialMessage(buf); err != nil {
		return wire.InitialMessage{}, err
	}
	n := int(binary.BigEndian.Uint32(buf[16:]))
	buf = append(buf, make([]byte, n)...)
	if _, err := io.ReadFull(r, buf[20:]); err != nil {
		return wire.InitialMessage{}, fmt.Errorf("reading %d address bytes: %w", n, err)
	}
	m, _, ok, err := wire.DecodeInitialMessage(buf)
	if err != nil {
		return m, err
	}
	if !ok {
		return m, errors.New("short initial message")
	}
	for _, a := range m.Addrs() {
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			return m, fmt.Errorf("badly formed address %q", a)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			return m, fmt.Errorf("bad port number in %q", a)
		}
	}
	return m, nil
}

// isWildcard reports whether a host:port has an unspecified host (0.0.0.0,
// ::), which Java's InitialMessage.parse skips.
func isWildcard(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// startLink installs an established connection for sid, replacing any
// previous one, and starts its sender and receiver. accepted is 0 for a
// connection I dialed, else its accept order: a connection accepted before
// the newest inbound link from the same peer is refused (the peer keeps
// only the connection it made last; handled late, the older one would
// replace the live link and then die, leaving the pair unconnected).
func (s *Service) startLink(sid int64, c net.Conn, r *bufio.Reader, accepted uint64) bool {
	outbound := accepted == 0
	l := &link{sid: sid, conn: c, r: r, outbound: outbound, wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.mu.Lock()
	p := s.peerLocked(sid)
	if outbound {
		p.dialing = false // see dial
	}
	if s.closed {
		s.mu.Unlock()
		return false
	}
	if !outbound {
		if accepted < p.accepted {
			s.mu.Unlock()
			s.log.Debug().Int64("sid", sid).Str("remote", c.RemoteAddr().String()).
				Msg("dropping an election connection accepted before the current one")
			return false
		}
		p.accepted = accepted
	}
	old := p.link
	p.link = l
	p.hasQueue = true
	s.mu.Unlock()
	if old != nil {
		s.finishLink(old)
	}
	s.connsEstablished.Add(1)
	dir := "inbound"
	if outbound {
		dir = "outbound"
	}
	s.log.Info().Int64("sid", sid).Str("remote", c.RemoteAddr().String()).Str("direction", dir).
		Msg("election connection established")
	if !s.goFunc(func() { s.sendLoop(l) }) || !s.goFunc(func() { s.recvLoop(l) }) {
		s.finishLink(l)
	}
	return true
}

// finishLink closes a link (SendWorker.finish + RecvWorker.finish).
func (s *Service) finishLink(l *link) {
	l.once.Do(func() {
		close(l.done)
		_ = l.conn.Close()
		s.mu.Lock()
		if p := s.peers[l.sid]; p != nil && p.link == l {
			p.link = nil
		}
		s.mu.Unlock()
		s.connsDropped.Add(1)
		s.log.Info().Int64("sid", l.sid).Msg("election connection dropped")
	})
}

func (s *Service) writeFrame(l *link, b []byte) error {
	_ = l.conn.SetWriteDeadline(time.Now().Add(s.cfg.writeTimeout()))
	_, err := l.conn.Write(b)
	return err
}

// sendLoop is SendWorker.run.
func (s *Service) sendLoop(l *link) {
	defer s.finishLink(l)
	s.mu.Lock()
	p := s.peerLocked(l.sid)
	var first []byte
	if p.queued == nil {
		first = p.last
	}
	s.mu.Unlock()
	if first != nil {
		if err := s.writeFrame(l, first); err != nil {
			s.log.Debug().Int64("sid", l.sid).Err(err).Msg("re-sending last message")
			return
		}
	}
	for {
		s.mu.Lock()
		b := p.queued
		p.queued = nil
		if b != nil {
			p.last = b
		}
		s.mu.Unlock()
		if b != nil {
			if err := s.writeFrame(l, b); err != nil {
				s.log.Debug().Int64("sid", l.sid).Err(err).Msg("election send")
				return
			}
			continue
		}
		select {
		case <-l.wake:
		case <-l.done:
			return
		case <-s.ctx.Done():
			return
		}
	}
}

// readFrame reads one length-prefixed election message (0 < len <= 512 KiB).
func readFrame(r io.Reader, hdr []byte) ([]byte, error) {
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return nil, err
	}
	n, _, err := wire.PeekElectionFrame(hdr[:4])
	if err != nil {
		return nil, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return body, nil
}

// recvLoop is RecvWorker.run.
func (s *Service) recvLoop(l *link) {
	defer s.finishLink(l)
	var hdr [4]byte
	for {
		body, err := readFrame(l.r, hdr[:])
		if err != nil {
			select {
			case <-l.done:
			case <-s.ctx.Done():
			default:
				if errors.Is(err, io.EOF) {
					s.log.Debug().Int64("sid", l.sid).Msg("election connection closed by peer")
				} else {
					s.log.Warn().Int64("sid", l.sid).Err(err).Msg("election connection broken")
				}
			}
			return
		}
		s.inbox.push(inMsg{sid: l.sid, body: body})
	}
}
