package node

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/session"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

// connectState is a handshake waiting for its createSession txn.
type connectState struct {
	cc *clientConn
	// session and timeout are the new session's id and timeout while its
	// createSession waits to be prepared (prepCreateSession): kept here
	// rather than in the prepare closure, which would otherwise be 48
	// bytes, the size class of the long-lived Session records, among which
	// a connect burst's closures would leave holes (docs/memory.md).
	session   wire.SessionID
	timeout   int32
	oldClient bool // the ConnectRequest had no readOnly byte
}

// prepCreateSession prepares the createSession txn of a new local
// session (processConnect) once its turn in the prepare queue comes.
func (s *Server) prepCreateSession(prop *proposal) {
	req := tree.PrepRequest{
		Session: prop.connect.session,
		Type:    wire.OpCreateSession,
		Body:    &wire.CreateSessionTxn{TimeOut: prop.connect.timeout},
		Zxid:    s.wr.nextZxid(),
		Time:    wallMs(),
	}
	e, code := s.tree.Prep(&req)
	s.prepared(prop, e, code)
}

// negotiateTimeout clamps a requested session timeout to
// [minSessionTimeout, maxSessionTimeout].
func (c *clients) negotiateTimeout(t int32) int32 {
	if t < int32(c.cfg.MinSessionTimeout) {
		t = int32(c.cfg.MinSessionTimeout)
	}
	if t > int32(c.cfg.MaxSessionTimeout) {
		t = int32(c.cfg.MaxSessionTimeout)
	}
	return t
}

// processConnect handles a ConnectRequest (ZooKeeperServer.processConnectRequest).
func (s *Server) processConnect(cc *clientConn, c *wire.Connect) {
	s.stats.connectRequests++
	if !s.qs.serving() {
		s.log.Info().Str("remote", cc.remote).Str("mode", s.qs.modeName()).
			Msg("ZooKeeperServer not running: closing the connection")
		s.cl.closeConn(cc, "server not serving")
		return
	}
	cc.readOnly = c.ReadOnly
	cc.auth = s.cl.withCertAuth(cc, s.cl.ipAuth(cc))
	if c.LastZxidSeen > s.tree.LastZxid {
		s.log.Info().Str("remote", cc.remote).Str("client_zxid", c.LastZxidSeen.String()).
			Str("zxid", s.tree.LastZxid.String()).
			Msg("Refusing session request for client as it has seen a newer zxid; client must try another server")
		s.cl.closeConn(cc, "client zxid ahead")
		return
	}
	timeout := s.cl.negotiateTimeout(c.TimeOut)
	cc.timeoutMs = timeout
	oldClient := !c.HasReadOnly
	if c.SessionID == 0 && s.dur.storeErr != nil {
		s.log.Warn().Str("remote", cc.remote).Msg("refusing a new session: the txn log is failing")
		s.cl.closeConn(cc, "txn log failing")
		return
	}
	if c.SessionID == 0 && s.qs.isLearner() {
		s.qs.peer.learner.forwardCreateSession(cc, timeout, oldClient)
		return
	}
	if c.SessionID == 0 {
		id := s.sessions.NextID()
		s.sessions.Add(id, timeout, s.lp.nowMs())
		cc.connecting = true
		prop := &proposal{cc: cc, op: wire.OpCreateSession, start: time.Now(),
			connect: &connectState{cc: cc, session: id, timeout: timeout, oldClient: oldClient}}
		s.prepare(prepItem{prop: prop, run: func() { s.prepCreateSession(prop) }})
		return
	}
	id := c.SessionID
	s.stats.revalidates++
	if old := s.cl.bySession[id]; old != nil && old != cc {
		// The client moved: close its previous connection.
		delete(s.cl.bySession, id)
		s.cl.closeConn(old, "client reconnected")
	}
	valid := bytes.Equal(c.Passwd, session.Password(id))
	if !valid {
		s.log.Warn().Str("session", id.String()).Str("remote", cc.remote).Msg("Incorrect password for session")
	} else if s.qs.isLearner() {
		s.qs.peer.learner.revalidateSession(cc, id, timeout, oldClient)
		return
	} else {
		// revalidateSession touches with the newly negotiated timeout:
		// from now on the session expires by it.
		valid = s.sessions.TouchWith(id, timeout, s.lp.nowMs())
		if sess := s.sessions.Get(id); valid && sess != nil && s.qs.leader != nil {
			sess.Owner = s.cfg.myID() // the session moved to the leader itself
		}
	}
	s.cl.sendConnectResponse(cc, id, timeout, valid, oldClient)
	if !valid {
		s.log.Info().Str("session", id.String()).Str("remote", cc.remote).Msg("Invalid session for client, probably expired")
		s.cl.closeConn(cc, "session expired")
		return
	}
	cc.session = id
	s.cl.bySession[id] = cc
	s.log.Debug().Str("session", id.String()).Str("remote", cc.remote).Msg("Established session (reconnect)")
}

// finishConnect answers a new session's handshake once its createSession
// txn is applied (ZooKeeperServer.finishSessionInit).
func (s *Server) finishConnect(p *proposal) {
	cc := p.connect.cc
	cc.connecting = false
	id := p.entry.Hdr.ClientID
	if cc.dead {
		return // the session lives on and expires unless the client reconnects
	}
	s.cl.sendConnectResponse(cc, id, cc.timeoutMs, true, p.connect.oldClient)
	cc.session = id
	s.cl.bySession[id] = cc
	s.log.Info().Str("session", id.String()).Int32("timeout", cc.timeoutMs).Str("remote", cc.remote).Msg("Established session")
	s.cl.drainPending(cc)
}

// connectReplyCap is the capacity of the buffer a connection's first
// reply (its ConnectResponse) is written to: room for the reply, in a size
// class (64 bytes) no long-lived per-session record uses.
const connectReplyCap = 64

// sendConnectResponse writes the ConnectResponse; an invalid session gets
// timeout 0, id 0 and 16 zero bytes. The readOnly byte is sent only to
// clients that sent one (Java's isOldClient).
func (c *clients) sendConnectResponse(cc *clientConn, id wire.SessionID, timeout int32, valid, oldClient bool) {
	resp := wire.ConnectResponse{ProtocolVersion: 0, TimeOut: timeout, SessionID: id, Passwd: session.Password(id)}
	if !valid {
		resp = wire.ConnectResponse{Passwd: make([]byte, 16)}
	}
	if cc.out == nil {
		// The reply is 41 bytes with the readOnly byte: grown from
		// empty it would leave 8-, 16- and 32-byte buffers behind, in
		// the size classes of the accepted sockets' long-lived
		// addresses, where a connect burst's garbage leaves holes among
		// them (docs/memory.md).
		cc.out = make([]byte, 0, connectReplyCap)
	}
	w := jute.NewWriter(cc.out)
	off := wire.BeginFrame(w)
	resp.Encode(w)
	if !oldClient {
		w.Bool(false)
	}
	wire.EndFrame(w, off)
	cc.out = w.Bytes()
	cc.completed++
	cc.sentPkts++
	cc.stats.lastOpCode = wire.OpCreateSession
	cc.stats.lastZxid = (*c.tree).LastZxid
	cc.stats.lastRespTime = c.nowMs()
	c.markDirty(cc)
}

// javaHostAddress formats an address as Java's InetAddress.getHostAddress
// does (IPv6 without zero compression).
func javaHostAddress(host string) string {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if a.Is4() || a.Is4In6() {
		return a.Unmap().String()
	}
	b := a.As16()
	parts := make([]string, 8)
	for i := 0; i < 8; i++ {
		parts[i] = strconv.FormatUint(uint64(b[2*i])<<8|uint64(b[2*i+1]), 16)
	}
	s := strings.Join(parts, ":")
	if z := a.Zone(); z != "" {
		s += "%" + z
	}
	return s
}
