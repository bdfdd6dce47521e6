package node

import (
	"net/netip"
	"time"

	"github.com/zkgo/zkgo/internal/hoptrace"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/node/session"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

// proposal is a txn between prep and apply.
type proposal struct {
	// Every createSession has one while it is proposed, and the connect
	// burst of many sessions interleaves them with the connections'
	// clientConns: the fields are ordered (the small ones together) so
	// that it stays at 352 bytes, out of clientConn's 384-byte size
	// class, where each would leave a hole among the long-lived records
	// after the burst (TestProposalLayout, docs/memory.md).
	entry   wire.TxnEntry
	cc      *clientConn // who asked (nil for server-initiated txns)
	xid     wire.Xid
	op      wire.OpCode // the request's opcode
	err     wire.ErrCode
	applied bool
	failed  bool // not made durable (txn log failure); answered with err
	// forwarded: a learner sent the request to the leader; the txn (and so
	// entry) arrives with the commit.
	forwarded bool
	start     time.Time
	result    tree.Result
	connect   *connectState // createSession: the handshake to finish
	// seq is the request's number in its connection (cc.reqSeq when it
	// was processed: earlierPending).
	seq     uint64
	syncReq *wire.SyncRequest // a learner's forwarded sync
	// leader: the encoded txn (PROPOSAL/INFORM data)
	data []byte
	// after: learner syncs whose SYNC came while this txn (committed
	// before it) was waiting to be applied; completed once it is.
	after []*proposal
}

// checkSessionOwner is the SessionCheck for prep (SessionTrackerImpl.checkSession):
// the session must exist and not be closing, and be attached to owner (the
// server whose client sent the request); an unattached session is
// attached now.
func checkSessionOwner(sessions *session.Tracker, id wire.SessionID, owner int64) wire.ErrCode {
	sess := sessions.Get(id)
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

// writes is the write pipeline's state: the last zxid handed out and
// the prepared txns not yet applied. Server embeds it.
type writes struct {
	zxid     wire.Zxid   // last zxid handed out
	inflight []*proposal // prepared txns not yet applied, in zxid order
}

// nextZxid hands out the next zxid.
func (w *writes) nextZxid() wire.Zxid {
	w.zxid++
	return w.zxid
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
	// resolved: a reconfig's host names looked up (reconfigLookups); an
	// invalid address for a name that did not resolve.
	resolved map[string]netip.Addr
}

// proposeClientWrite prepares a client's write and queues its reply slot.
func (s *Server) proposeClientWrite(cc *clientConn, p *wire.ClientPacket) {
	if s.dur.storeErr != nil {
		// The txn log cannot take writes: refuse rather than pretend.
		prop := &proposal{cc: cc, xid: p.Header.Xid, op: p.Header.Type, err: wire.ErrSystemError,
			start: time.Now(), applied: true, failed: true}
		cc.pending = append(cc.pending, pendingItem{prop: prop})
		s.cl.outstandingN++
		if len(cc.pending) == 1 {
			s.cl.drainPending(cc)
		}
		return
	}
	prop := s.proposeWrite(&writeRequest{cc: cc, session: cc.session, xid: p.Header.Xid, op: p.Header.Type,
		body: p.Body, raw: p.Raw, bodyErr: p.BodyErr, auth: cc.auth, owner: s.cfg.myID()})
	cc.pending = append(cc.pending, pendingItem{prop: prop})
	s.cl.outstandingN++
}

// myID is this server's id (1 when standalone, as Java's session ids use).
func (c *Config) myID() int64 {
	if c.Quorum != nil {
		return c.Quorum.MyID
	}
	return 1
}

// proposeWrite prepares a write (PrepRequestProcessor) and proposes its
// txn; while a large write is being prepared, it waits for its turn. The
// returned proposal is the requester's reply slot.
func (s *Server) proposeWrite(r *writeRequest) *proposal {
	prop := &proposal{cc: r.cc, xid: r.xid, op: r.op, start: time.Now()}
	if r.cc != nil {
		prop.seq = r.cc.reqSeq
		if r.cc.reqAt != 0 {
			prop.start = s.cl.arrivalTime(r.cc.reqAt) // its latency counts from its arrival
		}
	}
	s.prepare(prepItem{prop: prop, session: r.session, run: func() { s.prepareWrite(prop, r) }})
	return prop
}

// prepareWrite prepares r into prop and proposes it, or starts preparing it
// in steps when it is large.
func (s *Server) prepareWrite(prop *proposal, r *writeRequest) {
	if r.bodyErr != nil {
		// Java's prep fails to read the record: an error txn with
		// MARSHALLINGERROR that still takes a zxid.
		prop.entry = wire.TxnEntry{
			Hdr:  wire.TxnHeader{ClientID: r.session, Cxid: r.xid, Zxid: s.wr.nextZxid(), Time: wallMs(), Type: wire.OpError},
			Body: &wire.ErrorTxn{Err: wire.ErrMarshallingError},
		}
		prop.err = wire.ErrMarshallingError
		s.propose(prop)
		return
	}
	var resolve quorum.Resolver
	if r.op == wire.OpReconfig {
		var wait bool
		if resolve, wait = s.reconfigLookups(prop, r); wait {
			return // prepared once its host names are looked up
		}
	}
	owner := r.owner
	zxid := s.wr.nextZxid()
	req := &tree.PrepRequest{
		Session:         r.session,
		Cxid:            r.xid,
		Type:            r.op,
		Body:            r.body,
		Raw:             r.raw,
		Auth:            r.auth,
		Zxid:            zxid,
		Time:            wallMs(),
		CheckSession:    func(id wire.SessionID) wire.ErrCode { return checkSessionOwner(s.sessions, id, owner) },
		ReconfigEnabled: s.cfg.ReconfigEnabled,
		Reconfig:        s.reconfigPrep(zxid, resolve),
	}
	if s.cfg.SkipACL {
		req.Auth = append([]wire.ID{{Scheme: tree.SchemeSuper}}, r.auth...)
	}
	if r.op == wire.OpDeleteContainer {
		// Java reads a client's deleteContainer path from the whole request
		// (header included), which never validates: BADARGUMENTS.
		req.Raw = []byte{0}
	}
	s.prepTxn(prop, req)
}

// prepTxn prepares req into prop and proposes it; a large multi or
// closeSession becomes the prep job.
func (s *Server) prepTxn(prop *proposal, req *tree.PrepRequest) {
	if j := s.tree.BeginPrep(req); j != nil {
		if req.Type == wire.OpCloseSession {
			// Java marks the session closing as it prepares the txn.
			s.sessions.SetClosing(req.Session)
		}
		if j.Size() > tree.LargeTxn {
			s.sched.prepJob = &prepRun{prop: prop, job: j}
			return
		}
		j.Step(-1)
		e, code := j.Result()
		s.prepared(prop, e, code)
		return
	}
	e, code := s.tree.Prep(req)
	s.prepared(prop, e, code)
}

// prepared proposes a prepared txn.
func (s *Server) prepared(prop *proposal, e wire.TxnEntry, code wire.ErrCode) {
	prop.entry, prop.err = e, code
	s.propose(prop)
}

// proposeServerTxn prepares a txn the server itself issues (session
// expiry, container reaping) on behalf of session id.
func (s *Server) proposeServerTxn(id wire.SessionID, op wire.OpCode, body jute.Record) {
	it := prepItem{run: func() { s.prepServerTxn(id, op, body) }}
	if op == wire.OpCloseSession {
		it.closing, it.session = id, id
	}
	s.prepare(it)
}

func (s *Server) prepServerTxn(id wire.SessionID, op wire.OpCode, body jute.Record) {
	if s.dur.storeErr != nil {
		if op == wire.OpCloseSession {
			// Retry the expiry once the log works again.
			if sess := s.sessions.Get(id); sess != nil {
				sess.Closing = false
				s.sessions.Add(id, sess.TimeoutMs, s.lp.nowMs())
			}
		}
		return
	}
	req := &tree.PrepRequest{
		Session: id,
		Type:    op,
		Body:    body,
		Auth:    []wire.ID{{Scheme: tree.SchemeSuper}},
		Zxid:    s.wr.nextZxid(),
		Time:    wallMs(),
	}
	s.prepTxn(&proposal{op: op, start: time.Now()}, req)
}

// propose hands a prepared txn to the store.
func (s *Server) propose(p *proposal) {
	if s.qs.leader != nil {
		s.qs.leader.broadcastProposal(p)
	}
	s.wr.inflight = append(s.wr.inflight, p)
	s.dur.append(&p.entry)
	hoptrace.Mark(hoptrace.Proposed)
}

// onDurable applies, in zxid order, every in-flight txn up to z. On a
// learner it sends the ACKs of the proposals now durable instead.
func (s *Server) onDurable(z wire.Zxid) {
	if s.qs.leader != nil {
		s.qs.leader.leaderOnDurable(z)
		return
	}
	if s.qs.isLearner() {
		s.qs.peer.learner.ackDurable(z)
		return
	}
	i := 0
	for i < len(s.wr.inflight) && s.wr.inflight[i].entry.Hdr.Zxid <= z {
		p := s.wr.inflight[i]
		s.wr.inflight[i] = nil
		i++
		s.sched.applyProposal(p)
	}
	s.wr.inflight = s.wr.inflight[i:]
	if len(s.wr.inflight) == 0 {
		s.wr.inflight = nil
	}
}

// applyProposal applies one committed txn, fires its watches and answers
// its requester. Txns are applied in zxid order: while a large one is being
// applied in steps (or a multiRead holds applies), later ones wait.
func (sc *scheduler) applyProposal(p *proposal) {
	if !sc.applyIdle() || sc.applyHold > 0 || sc.earlierPending(p) || sc.roundSpent() {
		sc.applyWait = append(sc.applyWait, p)
		return
	}
	sc.startApply(p)
}

// earlierPending reports whether p's requester still has requests to
// answer that it sent before p (reads waiting for a later round, a
// connection job): p must not be applied before they run, or a read would
// see a write its session sent after it. Java's CommitProcessor holds a
// committed request back the same way until the session's earlier
// requests are done; every later txn waits behind it, in zxid order.
func (sc *scheduler) earlierPending(p *proposal) bool {
	cc := p.cc
	if cc == nil || cc.dead || p.connect != nil {
		return false
	}
	if cc.job != nil && p.seq > cc.jobSeq {
		return true // sent after the connection's job
	}
	return len(cc.pending) > 0 && cc.pending[0].prop != p
}

// startApply applies p at once, or starts applying it in steps.
func (sc *scheduler) startApply(p *proposal) {
	if sc.txnOps(&p.entry) > tree.LargeTxn || sc.s.tree.LargeQuotaStats(&p.entry) {
		if j := sc.s.tree.BeginApply(&p.entry, true); j != nil {
			sc.applyJob = &applyRun{p: p, job: j}
			return
		}
	}
	if sc.touchBuf == nil || len(sc.touchBuf) > 64 {
		sc.touchBuf = make(map[string]struct{})
	}
	p.result = sc.s.tree.ApplyHeldTouching(&p.entry, sc.touchBuf)
	sc.appliedTxn(p, &p.result)
	fanOut := 0
	for i := range p.result.Events {
		fanOut += sc.notify.fanOut(&p.result.Events[i])
	}
	if fanOut > roundDeliveries {
		// A change many connections watch: its watches fire and its
		// events go out across rounds, and the txn counts as applied once
		// they are out. Reads of every path it changed wait meanwhile, not
		// only of those with events: a multi's setACL, a quota's stats
		// node would otherwise show the txn before its events are out.
		sc.applyJob = &applyRun{p: p, res: &p.result, touched: sc.touchBuf}
		sc.touchBuf = nil
		return
	}
	clear(sc.touchBuf)
	ds := sc.notify.collect(p.result.Events, nil)
	sc.notify.deliver(ds)
	sc.s.tree.Advance(p.entry.Hdr.Zxid)
	sc.answerApplied(p)
}

// appliedTxn does the bookkeeping of a txn whose ops are all applied:
// digests, the committed log, the session table.
func (sc *scheduler) appliedTxn(p *proposal, res *tree.Result) {
	sc.s.noteDigest(p.entry.Hdr.Zxid)
	sc.s.checkTxnDigest(&p.entry)
	sc.s.qs.committed.Add(&p.entry, p.data)
	h := &p.entry.Hdr
	switch h.Type {
	case wire.OpCreateSession:
		if c, ok := p.entry.Body.(*wire.CreateSessionTxn); ok {
			sc.s.sessions.Add(h.ClientID, c.TimeOut, sc.s.lp.nowMs())
		}
	case wire.OpCloseSession:
		sc.s.sessions.Remove(h.ClientID)
	}
	_ = res
}

// replyWrite sends the reply to an applied write (FinalRequestProcessor).
func (s *Server) replyWrite(p *proposal) {
	cc := p.cc
	took := time.Since(p.start)
	lat := took.Milliseconds()
	cc.stats.observe(lat)
	s.stats.observe(lat)
	if p.op == wire.OpSync {
		// A learner's sync has no txn header: Java counts it a read.
		s.stats.reads.add(lat)
		s.jsum.reads.add(float64(took.Nanoseconds()) / 1e6)
	} else {
		s.stats.updates.add(lat)
		s.jsum.updates.add(float64(took.Nanoseconds()) / 1e6)
	}
	cc.stats.lastOpCode = p.op
	zxid := p.entry.Hdr.Zxid
	res := &p.result
	if p.op == wire.OpSync && p.forwarded {
		// A learner's sync, completed by the leader's SYNC.
		if p.err != wire.ErrOk || p.syncReq == nil {
			s.cl.replyZxid(cc, p.xid, s.tree.LastZxid, wire.ErrMarshallingError, nil)
			return
		}
		s.cl.replyZxid(cc, p.xid, s.tree.LastZxid, wire.ErrOk, &wire.SyncResponse{Path: p.syncReq.Path, Nulls: p.syncReq.Nulls})
		return
	}
	if p.failed {
		s.cl.replyZxid(cc, p.xid, s.tree.LastZxid, p.err, nil)
		return
	}
	if p.op == wire.OpMulti && p.entry.Hdr.Type == wire.OpMulti {
		if len(res.Multi) > inlineConnOps {
			// Encoded across rounds; the connection's next replies wait.
			s.sched.startConnJobSeq(cc, &multiReplyJob{xid: p.xid, zxid: zxid, code: multiErr(p), results: res.Multi, r: newChunkedReply()}, p.seq)
			return
		}
		s.cl.replyZxid(cc, p.xid, zxid, multiErr(p), multiResponse(res))
		return
	}
	code := p.err
	if code == wire.ErrOk {
		code = res.Err
	}
	if code != wire.ErrOk {
		s.cl.replyZxid(cc, p.xid, zxid, code, nil)
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
	case wire.OpReconfig:
		// FinalRequestProcessor: the configuration now in force, which is
		// the one the txn carried (activated before it was applied), and
		// /zookeeper/config's stat.
		if sd, ok := p.entry.Body.(*wire.SetDataTxn); ok {
			body = &wire.GetDataResponse{Data: sd.Data, Stat: res.Stat}
		}
	}
	s.cl.replyZxid(cc, p.xid, zxid, wire.ErrOk, body)
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
		out.Results = append(out.Results, multiResult(&res.Multi[i]))
	}
	return out
}

// multiResult is one op's result in a MultiResponse.
func multiResult(r *tree.Result) wire.MultiResult {
	var mr wire.MultiResult
	{
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
	}
	return mr
}
