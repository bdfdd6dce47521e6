package node

import (
	"time"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/node/watch"
	"github.com/zkgo/zkgo/wire"
)

// proposal is a txn between prep and apply.
type proposal struct {
	entry   wire.TxnEntry
	cc      *clientConn // who asked (nil for server-initiated txns)
	xid     wire.Xid
	op      wire.OpCode // the request's opcode
	err     wire.ErrCode
	start   time.Time
	applied bool
	failed  bool // not made durable (txn log failure); answered with err
	result  tree.Result
	connect *connectState // createSession: the handshake to finish
	// forwarded: a learner sent the request to the leader; the txn (and so
	// entry) arrives with the commit.
	forwarded bool
	syncReq   *wire.SyncRequest // a learner's forwarded sync
	// leader: the encoded txn (PROPOSAL/INFORM data)
	data []byte
}

// checkSessionOwner is the SessionCheck for prep (SessionTrackerImpl.checkSession):
// the session must exist and not be closing, and be attached to owner (the
// server whose client sent the request); an unattached session is
// attached now.
func (s *Server) checkSessionOwner(id wire.SessionID, owner int64) wire.ErrCode {
	sess := s.sessions.Get(id)
	switch {
	case sess == nil:
		return wire.ErrUnknownSession
	case sess.Closing:
		return wire.ErrSessionExpired
	case sess.Owner == 0:
		sess.Owner = owner
	case sess.Owner != owner:
		return wire.ErrSessionMoved
	}
	return wire.ErrOk
}

// nextZxid hands out the next zxid.
func (s *Server) nextZxid() wire.Zxid {
	s.zxid++
	return s.zxid
}

// writeRequest is a write to prepare: from a local client (cc set) or
// forwarded by a learner to this leader (cc nil).
type writeRequest struct {
	cc      *clientConn
	session wire.SessionID
	xid     wire.Xid
	op      wire.OpCode
	body    jute.Record
	raw     []byte
	bodyErr error
	auth    []wire.ID
	owner   int64 // the server the session must be attached to
}

// proposeClientWrite prepares a client's write and queues its reply slot.
func (s *Server) proposeClientWrite(cc *clientConn, p *wire.ClientPacket) {
	if s.storeErr != nil {
		// The txn log cannot take writes: refuse rather than pretend.
		prop := &proposal{cc: cc, xid: p.Header.Xid, op: p.Header.Type, err: wire.ErrSystemError,
			start: time.Now(), applied: true, failed: true}
		cc.pending = append(cc.pending, pendingItem{prop: prop})
		if len(cc.pending) == 1 {
			s.drainPending(cc)
		}
		return
	}
	prop := s.proposeWrite(&writeRequest{cc: cc, session: cc.session, xid: p.Header.Xid, op: p.Header.Type,
		body: p.Body, raw: p.Raw, bodyErr: p.BodyErr, auth: cc.auth, owner: s.myID()})
	cc.pending = append(cc.pending, pendingItem{prop: prop})
}

// myID is this server's id (1 when standalone, as Java's session ids use).
func (s *Server) myID() int64 {
	if s.cfg.Quorum != nil {
		return s.cfg.Quorum.MyID
	}
	return 1
}

// proposeWrite prepares a write (PrepRequestProcessor) and proposes its txn.
func (s *Server) proposeWrite(r *writeRequest) *proposal {
	if r.bodyErr != nil {
		// Java's prep fails to read the record: an error txn with
		// MARSHALLINGERROR that still takes a zxid.
		e := wire.TxnEntry{
			Hdr:  wire.TxnHeader{ClientID: r.session, Cxid: r.xid, Zxid: s.nextZxid(), Time: wallMs(), Type: wire.OpError},
			Body: &wire.ErrorTxn{Err: wire.ErrMarshallingError},
		}
		prop := &proposal{entry: e, cc: r.cc, xid: r.xid, op: r.op, err: wire.ErrMarshallingError, start: time.Now()}
		s.propose(prop)
		return prop
	}
	owner := r.owner
	req := tree.PrepRequest{
		Session:         r.session,
		Cxid:            r.xid,
		Type:            r.op,
		Body:            r.body,
		Raw:             r.raw,
		Auth:            r.auth,
		Zxid:            s.nextZxid(),
		Time:            wallMs(),
		CheckSession:    func(id wire.SessionID) wire.ErrCode { return s.checkSessionOwner(id, owner) },
		ReconfigEnabled: s.cfg.ReconfigEnabled,
	}
	if s.cfg.SkipACL {
		req.Auth = append([]wire.ID{{Scheme: tree.SchemeSuper}}, r.auth...)
	}
	if r.op == wire.OpDeleteContainer {
		// Java reads a client's deleteContainer path from the whole request
		// (header included), which never validates: BADARGUMENTS.
		req.Raw = []byte{0}
	}
	e, code := s.tree.Prep(&req)
	prop := &proposal{entry: e, cc: r.cc, xid: r.xid, op: r.op, err: code, start: time.Now()}
	if r.op == wire.OpCloseSession && code == wire.ErrOk {
		s.sessions.SetClosing(r.session)
	}
	s.propose(prop)
	return prop
}

// proposeServerTxn prepares a txn the server itself issues (session
// expiry, container reaping) on behalf of session id.
func (s *Server) proposeServerTxn(id wire.SessionID, op wire.OpCode, body jute.Record) {
	if s.storeErr != nil {
		if op == wire.OpCloseSession {
			// Retry the expiry once the log works again.
			if sess := s.sessions.Get(id); sess != nil {
				sess.Closing = false
				s.sessions.Add(id, sess.TimeoutMs, s.nowMs())
			}
		}
		return
	}
	req := tree.PrepRequest{
		Session: id,
		Type:    op,
		Body:    body,
		Auth:    []wire.ID{{Scheme: tree.SchemeSuper}},
		Zxid:    s.nextZxid(),
		Time:    wallMs(),
	}
	e, code := s.tree.Prep(&req)
	s.propose(&proposal{entry: e, op: op, err: code, start: time.Now()})
}

// propose hands a prepared txn to the store.
func (s *Server) propose(p *proposal) {
	if s.leader != nil {
		s.broadcastProposal(p)
	}
	s.inflight = append(s.inflight, p)
	s.store.Append(&p.entry)
	s.lastAppended = p.entry.Hdr.Zxid
	s.countTxnForSnapshot()
}

// onDurable applies, in zxid order, every in-flight txn up to z. On a
// learner it sends the ACKs of the proposals now durable instead.
func (s *Server) onDurable(z wire.Zxid) {
	if s.leader != nil {
		s.leaderOnDurable(z)
		return
	}
	if s.isLearner() {
		s.ackDurable(z)
		return
	}
	i := 0
	for i < len(s.inflight) && s.inflight[i].entry.Hdr.Zxid <= z {
		p := s.inflight[i]
		s.inflight[i] = nil
		i++
		s.applyProposal(p)
	}
	s.inflight = s.inflight[i:]
	if len(s.inflight) == 0 {
		s.inflight = nil
	}
}

// applyProposal applies one txn, fires watches and answers the requester.
func (s *Server) applyProposal(p *proposal) {
	res := s.tree.Apply(&p.entry)
	p.result = res
	p.applied = true
	s.noteDigest(p.entry.Hdr.Zxid)
	s.checkTxnDigest(&p.entry)
	s.committed.Add(&p.entry, p.data)
	h := &p.entry.Hdr
	switch h.Type {
	case wire.OpCreateSession:
		if c, ok := p.entry.Body.(*wire.CreateSessionTxn); ok {
			s.sessions.Add(h.ClientID, c.TimeOut, s.nowMs())
		}
	case wire.OpCloseSession:
		s.sessions.Remove(h.ClientID)
	}
	s.triggerWatches(res.Events)
	if p.connect != nil {
		s.finishConnect(p)
		return
	}
	if h.Type == wire.OpCloseSession {
		// The requester (if any) gets its reply first; then the session's
		// connection is closed.
		if p.cc != nil {
			s.drainPending(p.cc)
		}
		if cc := s.bySession[h.ClientID]; cc != nil {
			delete(s.bySession, h.ClientID)
			if p.cc == cc {
				// closeSession from the client: reply, then close.
				s.closeConn(cc, "session closed")
			} else {
				// Expiry: Java closes the connection at once and what was
				// queued for it is lost.
				s.closeConnNow(cc, "session expired")
			}
		}
		return
	}
	if p.cc != nil {
		s.drainPending(p.cc)
	}
}

// replyWrite sends the reply to an applied write (FinalRequestProcessor).
func (s *Server) replyWrite(p *proposal) {
	cc := p.cc
	lat := time.Since(p.start).Milliseconds()
	cc.stats.observe(lat)
	s.stats.observe(lat)
	cc.stats.lastOp = opAbbrev(p.op)
	zxid := p.entry.Hdr.Zxid
	res := &p.result
	if p.op == wire.OpSync && p.forwarded {
		// A learner's sync, completed by the leader's SYNC.
		if p.err != wire.ErrOk || p.syncReq == nil {
			s.replyZxid(cc, p.xid, s.tree.LastZxid, wire.ErrMarshallingError, nil)
			return
		}
		s.replyZxid(cc, p.xid, s.tree.LastZxid, wire.ErrOk, &wire.SyncResponse{Path: p.syncReq.Path, Nulls: p.syncReq.Nulls})
		return
	}
	if p.failed {
		s.replyZxid(cc, p.xid, s.tree.LastZxid, p.err, nil)
		return
	}
	if p.op == wire.OpMulti && p.entry.Hdr.Type == wire.OpMulti {
		s.replyZxid(cc, p.xid, zxid, multiErr(p), multiResponse(res))
		return
	}
	code := p.err
	if code == wire.ErrOk {
		code = res.Err
	}
	if code != wire.ErrOk {
		s.replyZxid(cc, p.xid, zxid, code, nil)
		return
	}
	var body jute.Record
	switch p.op {
	case wire.OpCreate:
		body = &wire.CreateResponse{Path: res.Path}
	case wire.OpCreate2, wire.OpCreateTTL, wire.OpCreateContainer:
		body = &wire.Create2Response{Path: res.Path, Stat: res.Stat}
	case wire.OpSetData:
		body = &wire.SetDataResponse{Stat: res.Stat}
	case wire.OpSetACL:
		body = &wire.SetACLResponse{Stat: res.Stat}
	}
	s.replyZxid(cc, p.xid, zxid, wire.ErrOk, body)
}

// multiErr is the header error of a multi reply. Java reports a failed
// multi's errors per op and leaves the header at 0 (FinalRequestProcessor
// rethrows prep exceptions for every op but multi).
func multiErr(p *proposal) wire.ErrCode {
	if p.err == wire.ErrSessionExpired || p.err == wire.ErrSessionMoved {
		return p.err
	}
	return wire.ErrOk
}

// multiResponse turns per-op apply results into a MultiResponse.
func multiResponse(res *tree.Result) *wire.MultiResponse {
	out := &wire.MultiResponse{Results: make([]wire.MultiResult, 0, len(res.Multi))}
	for i := range res.Multi {
		r := &res.Multi[i]
		var mr wire.MultiResult
		switch r.Type {
		case wire.OpError:
			mr = wire.MultiResult{Type: wire.OpError, Err: r.Err, Result: &wire.ErrorResponse{Err: r.Err}}
		case wire.OpCreate:
			mr = wire.MultiResult{Type: wire.OpCreate, Result: &wire.CreateResponse{Path: r.Path}}
		case wire.OpCreate2, wire.OpCreateTTL, wire.OpCreateContainer:
			mr = wire.MultiResult{Type: wire.OpCreate2, Result: &wire.Create2Response{Path: r.Path, Stat: r.Stat}}
		case wire.OpDelete, wire.OpDeleteContainer:
			mr = wire.MultiResult{Type: wire.OpDelete}
		case wire.OpSetData:
			mr = wire.MultiResult{Type: wire.OpSetData, Result: &wire.SetDataResponse{Stat: r.Stat}}
		case wire.OpCheck:
			mr = wire.MultiResult{Type: wire.OpCheck}
		default:
			mr = wire.MultiResult{Type: wire.OpError, Err: wire.ErrRuntimeInconsistency, Result: &wire.ErrorResponse{Err: wire.ErrRuntimeInconsistency}}
		}
		out.Results = append(out.Results, mr)
	}
	return out
}

// triggerWatches delivers the watch events of an applied txn, mirroring
// DataTree's calls into the data and child WatchManagers.
func (s *Server) triggerWatches(events []tree.Event) {
	for _, ev := range events {
		var ws []watch.Watcher
		switch ev.Type {
		case wire.EventNodeCreated, wire.EventNodeDataChanged:
			ws = s.dataW.Trigger(ev.Path, ev.Type, nil)
		case wire.EventNodeChildrenChanged:
			ws = s.childW.Trigger(ev.Path, ev.Type, nil)
		case wire.EventNodeDeleted:
			ws = s.dataW.Trigger(ev.Path, ev.Type, nil)
			seen := make(map[watch.Watcher]struct{}, len(ws))
			for _, w := range ws {
				seen[w] = struct{}{}
			}
			ws = append(ws, s.childW.Trigger(ev.Path, ev.Type, seen)...)
		}
		for _, w := range ws {
			cc := s.conns[uint64(w)]
			if cc == nil {
				continue
			}
			// CVE-2024-23944: deliver only to watchers that may read the
			// node (checked with the connection's auth at delivery time; a
			// filtered one-shot watch is still consumed).
			if !s.checkACL(ev.ACL, wire.PermRead, cc.auth) {
				continue
			}
			s.sendEvent(cc, wire.WatcherEvent{Type: ev.Type, State: wire.StateSyncConnected, Path: ev.Path})
		}
	}
}
