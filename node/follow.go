package node

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// The owner goroutine's side of a learner: taking the database back after
// the sync, the broadcast phase (Follower.processPacket, Observer.processPacket),
// forwarding client writes, session touches and revalidation.

// learnerDriver drives the learner side of Zab (Learner, Follower,
// Observer), as leaderDriver drives the leader's: it owns the link to the
// leader, the sync in progress and the broadcast phase, and carries out
// their Readies on the owner goroutine. peer holds one for its whole life
// (created by newPeer): the link, the sync and the broadcast phase are
// set while this server learns (startLearning to becomeLooking), and the
// tables of the broadcast phase are emptied when it ends. It reaches the
// server (the tree, the sessions, the txn log, the client connections)
// through s.
type learnerDriver struct {
	s     *Server
	link  *learnerLink
	lsync *learnerSync // the sync in progress (roleSyncing)

	// broadcast phase
	bcast        *zab.Broadcast // the follower's or observer's broadcast phase
	forwarded    map[wire.SessionID][]*proposal
	syncs        []*proposal // client syncs waiting for the leader's SYNC
	revalidating map[wire.SessionID]*clientConn
	touched      map[wire.SessionID]int32
}

// newLearnerDriver is the learner side of a quorum member's server.
func newLearnerDriver(s *Server) *learnerDriver {
	return &learnerDriver{
		s:            s,
		forwarded:    map[wire.SessionID][]*proposal{},
		revalidating: map[wire.SessionID]*clientConn{},
		touched:      map[wire.SessionID]int32{},
	}
}

// finish starts the broadcast phase once the sync got UPTODATE: the
// database built (SNAP, TRUNC) replaces the server's, and a zab.Broadcast
// takes over from the sync's outcome (the proposals logged at NEWLEADER
// wait for their COMMITs, what came after NEWLEADER is logged or applied).
func (ls *learnerSync) finish() {
	s, lr := ls.s, ls.lr
	p := s.qs.peer
	sy := ls.zab.Synced()
	took := time.Since(ls.start)
	lr.lsync = nil
	if ls.db != nil {
		s.installDatabase(ls.db)
	}
	p.newEpoch = sy.NewEpoch
	p.syncMode = ls.mode
	p.stats.syncs[ls.mode]++
	p.stats.lastSyncTook = took
	if ls.link.observer {
		s.qs.setRole(roleObserving)
	} else {
		s.qs.setRole(roleFollowing)
	}
	p.elector.SetPeerEpoch(sy.NewEpoch)
	b, r, err := zab.NewBroadcast(zab.BroadcastConfig{Observer: ls.link.observer, LastZxid: s.tree.LastZxid,
		MaxRecord: s.cfg.RecordLimit()}, sy)
	lr.bcast = b
	role := p.role
	if err == nil {
		lr.carryOutBroadcast(&r)
	}
	s.log.Info().Str("mode", ls.mode).Str("role", role.String()).Int64("epoch", sy.NewEpoch).
		Str("zxid", s.tree.LastZxid.String()).Dur("took", took).Int("pending", b.Pending()).
		Msg("synced with the leader; serving clients")
	if err != nil {
		lr.dropLink(err)
	}
}

// recoverAfterSync restores a consistent database after a failed sync: a
// replaced or truncated database is reloaded from disk; otherwise the txns
// the sync logged are applied (Java's fastForwardDataBase).
func (lr *learnerDriver) recoverAfterSync(diskChanged bool) error {
	s := lr.s
	if diskChanged {
		db, err := s.dur.loadDatabase()
		if err != nil {
			return err
		}
		// A database read from disk has no configuration node of its
		// own (Java fills it from the QuorumPeer's, initConfigInZKDatabase).
		q := s.qs.quorum()
		db.tree.InitConfig([]byte(q.Text()), q.Version, wallMs())
		s.installDatabase(db)
		return nil
	}
	s.fastForward()
	return nil
}

// leaveBroadcast ends the following/observing role: the link is closed,
// what was logged is flushed and applied (so lastLoggedZxid counts it, as
// Java's ZooKeeperServer.shutdown does with fastForwardDataBase).
func (lr *learnerDriver) leaveBroadcast() {
	s := lr.s
	if lr.link != nil {
		lr.link.close("leaving the broadcast phase")
		lr.link = nil
	}
	lr.forwarded = map[wire.SessionID][]*proposal{}
	lr.syncs = nil
	lr.revalidating = map[wire.SessionID]*clientConn{}
	lr.touched = map[wire.SessionID]int32{}
	s.dur.quiesce()
	s.fastForward()
	lr.bcast = nil
}

// dropLink leaves the leader and looks for a new one.
// A sync in progress fails (learnerSync.fail). A COMMIT that does not
// match the next pending proposal is logged as Java logs it (Java then
// exits; zkgo syncs again: DIFFERENCES row 12).
func (lr *learnerDriver) dropLink(err error) {
	s := lr.s
	p := s.qs.peer
	if ls := p.syncing(); ls != nil {
		ls.fail(err, false)
		return
	}
	if p.role != roleFollowing && p.role != roleObserving {
		return
	}
	p.stats.linkDrops++
	if errors.Is(err, zab.ErrCommitMismatch) {
		s.log.Error().Err(err).Int64("leader", p.leader).Msg("Committing a txn that is not the next pending one")
	} else {
		s.log.Warn().Str("reason", err.Error()).Int64("leader", p.leader).Msg("Exception when following the leader")
	}
	s.qs.becomeLooking(err.Error(), 0)
}

// fastForward applies the txns in the log beyond the tree.
func (s *Server) fastForward() {
	logs, err := storage.ListLogs(s.dur.logDir())
	if err != nil {
		s.log.Warn().Err(err).Msg("fast forward: list txn logs")
		return
	}
	lr := storage.NewLogReader(storage.LogsFrom(logs, s.tree.LastZxid+1), s.cfg.RecordLimit())
	defer lr.Close()
	n := 0
	for {
		rec, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// The database stays at the last good txn; a restart refuses to
			// start on this log until an operator decides.
			s.log.Error().Err(err).Str("zxid", s.tree.LastZxid.String()).Msg("fast forward: the txn log is damaged")
			break
		}
		h := &rec.Entry.Hdr
		last := s.tree.LastZxid
		if h.Zxid <= last {
			continue
		}
		if h.Zxid.Epoch() == last.Epoch() && h.Zxid > last+1 {
			s.log.Warn().Str("next", h.Zxid.String()).Str("zxid", last.String()).Msg("fast forward: gap in the txn log")
			break
		}
		e := rec.Entry
		s.applyLocal(&e)
		n++
	}
	if n > 0 {
		s.log.Info().Int("txns", n).Str("zxid", s.tree.LastZxid.String()).Msg("applied logged txns to the database")
	}
	s.wr.zxid = s.tree.LastZxid
}

// applyLocal applies a txn to the tree and session table without watches
// or replies.
func (s *Server) applyLocal(e *wire.TxnEntry) {
	h := &e.Hdr
	switch h.Type {
	case wire.OpCreateSession:
		if c, ok := e.Body.(*wire.CreateSessionTxn); ok {
			s.sessions.Add(h.ClientID, c.TimeOut, s.lp.nowMs())
		}
	case wire.OpCloseSession:
		s.sessions.Remove(h.ClientID)
	}
	s.tree.Apply(e)
	s.noteDigest(h.Zxid)
	s.qs.committed.Add(e, nil)
}

// onLinkClosed notices a link closed by someone other than its reader (the
// writer after a failed write, or send after an overflow): the reader may
// then quit without delivering its error, so the owner must not wait for
// one. Packets already read are handled first, as Java's follower would
// have processed them before its next read failed.
func (lr *learnerDriver) onLinkClosed() {
	s := lr.s
	l := lr.link
	for lr.link == l && s.qs.peer.takesLinkMsg() {
		select {
		case m := <-l.in:
			lr.onLinkMsg(m)
			continue
		default:
		}
		break
	}
	if lr.link == l && !s.qs.peer.takesLinkMsg() {
		// A sync's Ready is being carried out: the error waits for it.
		return
	}
	lr.onLinkMsg(linkMsg{link: l, err: errors.New("link closed")})
}

// takesLinkMsg reports whether the owner takes the next packet from the
// leader now: while following or observing, and while syncing once the
// last packet's Ready is carried out.
func (p *peer) takesLinkMsg() bool {
	switch p.role {
	case roleFollowing, roleObserving:
		return true
	case roleSyncing:
		return p.learner.lsync != nil && p.learner.lsync.ready == nil
	}
	return false
}

// onLinkMsg handles a packet from the leader: the sync's while syncing,
// else the broadcast phase's (zab.Broadcast decides, carryOutBroadcast
// does it).
func (lr *learnerDriver) onLinkMsg(m linkMsg) {
	s := lr.s
	p := s.qs.peer
	if ls := p.syncing(); ls != nil {
		if m.link == ls.link {
			ls.step(m)
		}
		return
	}
	if m.link != lr.link || lr.bcast == nil || (p.role != roleFollowing && p.role != roleObserving) {
		return
	}
	if m.err != nil {
		reason := "reading from the leader: " + m.err.Error()
		if r := m.link.closeReason(); r != "" {
			reason = r
		}
		lr.dropLink(errors.New(reason))
		return
	}
	r, err := lr.bcast.Step(&m.qp)
	if err != nil {
		lr.dropLink(err)
		return
	}
	if m.qp.Type == wire.PacketProposal && len(r.Append) > 0 {
		p.stats.proposals++
	}
	lr.carryOutBroadcast(&r)
}

// carryOutBroadcast does what a broadcast step decided, in its order: log
// (ACKs follow when durable, ackDurable), send, apply; then the packets for
// the server layer (PING, REVALIDATE, SYNC).
func (lr *learnerDriver) carryOutBroadcast(r *zab.BroadcastReady) {
	s := lr.s
	for _, w := range r.Warnings {
		s.log.Warn().Msg(w)
	}
	for _, e := range r.Errors {
		s.log.Error().Msg(e)
	}
	var leave *zab.LearnerActivation
	if r.NextConfig != nil || len(r.Activations) > 0 {
		// Persist before send: the configurations first (reconfig.go).
		var err error
		if leave, err = lr.learnerConfigs(r.NextConfig, r.Activations, nil); err != nil {
			lr.dropLink(err)
			return
		}
	}
	if leave != nil {
		// Once this Ready is carried out (the reconfig txn applied),
		// leave the leader for the role the reconfiguration decided.
		defer func() {
			if lr.bcast != nil {
				lr.dropLink(errors.New(leave.Reason))
			}
		}()
	}
	if len(r.Append) > 0 {
		if s.dur.storeErr == nil {
			for _, e := range r.Append {
				s.dur.lastAppended = e.Hdr.Zxid
				s.dur.store.Append(e)
				s.dur.countTxnForSnapshot()
			}
		} else if !lr.bcast.Observer() {
			// The log cannot take it: without the ACK the leader will not
			// count us; drop out and resync when the log works again.
			lr.dropLink(errors.New("txn log failing"))
			return
		}
	}
	for _, m := range r.Messages {
		lr.link.send(m)
	}
	for _, e := range r.Apply {
		lr.applyCommitted(e)
	}
	if r.Ping != nil {
		lr.replyPing(r.Ping)
	}
	if r.Revalidate != nil {
		lr.onRevalidate(r.Revalidate)
	}
	if r.Sync {
		lr.onLeaderSync()
	}
}

// ackDurable sends the ACKs of logged proposals up to z (SendAckRequestProcessor).
func (lr *learnerDriver) ackDurable(z wire.Zxid) {
	s := lr.s
	p := s.qs.peer
	if ls := p.syncing(); ls != nil {
		ls.onDurable()
		return
	}
	if lr.bcast == nil || lr.link == nil {
		return
	}
	r := lr.bcast.Durable(z)
	for _, m := range r.Messages {
		lr.link.send(m)
	}
}

// applyCommitted applies a committed txn, answering the local client that
// asked for it, if any (CommitProcessor matches on session and cxid).
func (lr *learnerDriver) applyCommitted(e *wire.TxnEntry) {
	s := lr.s
	p := s.qs.peer
	p.stats.commits++
	if e.Hdr.Zxid <= s.lastApplied() {
		// Already in the tree (applied before a resync).
		return
	}
	prop := lr.takeForwarded(e)
	if prop == nil {
		prop = &proposal{op: e.Hdr.Type, start: time.Now()}
	}
	prop.entry = *e
	s.sched.applyProposal(prop)
	s.wr.zxid = s.lastApplied()
}

// takeForwarded returns the local request a committed txn answers.
func (lr *learnerDriver) takeForwarded(e *wire.TxnEntry) *proposal {
	s := lr.s
	id := e.Hdr.ClientID
	q := lr.forwarded[id]
	if len(q) == 0 {
		return nil
	}
	if q[0].xid != e.Hdr.Cxid {
		// A session that moved between servers (ZOOKEEPER-2684): apply it
		// as a remote txn and keep waiting.
		s.log.Warn().Str("session", id.String()).Int32("cxid", int32(e.Hdr.Cxid)).Int32("expected", int32(q[0].xid)).
			Msg("Got request with a cxid other than the one we were expecting")
		return nil
	}
	prop := q[0]
	if len(q) == 1 {
		delete(lr.forwarded, id)
	} else {
		q[0] = nil
		lr.forwarded[id] = q[1:]
	}
	return prop
}

// checkTxnDigest compares the tree digest after applying e with the digest
// the txn carries: the leader's on a learner, our own prep's on a leader or
// standalone server (DataTree.compareDigest).
func (s *Server) checkTxnDigest(e *wire.TxnEntry) {
	d := e.Digest
	if d == nil || d.Version != tree.DigestVersion {
		return
	}
	if ours := s.tree.Digest(); int64(ours) != d.TreeDigest {
		s.stats.digestMismatches++
		s.log.Error().Str("zxid", e.Hdr.Zxid.String()).Str("type", e.Hdr.Type.String()).Uint64("ours", ours).
			Int64("leader", d.TreeDigest).Int64("mismatches", s.stats.digestMismatches).
			Msg("Digest mismatch: the tree differs from the leader's after this txn")
	}
}

// replyPing answers the leader's PING with the sessions touched since the
// last one (Learner.ping). The table is never null, even when empty.
func (lr *learnerDriver) replyPing(qp *wire.QuorumPacket) {
	s := lr.s
	s.cl.runHeard() // clients heard from by now, processed or not
	touched := make([]wire.SessionTouch, 0, len(lr.touched))
	for id, to := range lr.touched {
		touched = append(touched, wire.SessionTouch{SessionID: id, TimeoutMs: to})
	}
	clear(lr.touched)
	data := wire.AppendTouchTable(make([]byte, 0, 12*len(touched)), touched)
	lr.link.send(wire.QuorumPacket{Type: wire.PacketPing, Zxid: qp.Zxid, Data: data, AuthInfo: qp.AuthInfo})
}

// touchLearner records a session's activity for the next PING reply
// (LearnerSessionTracker.touchSession).
func (lr *learnerDriver) touchLearner(cc *clientConn) {
	if cc.session != 0 {
		lr.touched[cc.session] = cc.timeoutMs
	}
}

// forwardRequest sends a client write or sync to the leader as a REQUEST
// (Learner.request); the reply waits for its commit (or SYNC).
func (lr *learnerDriver) forwardRequest(cc *clientConn, pkt *wire.ClientPacket) {
	s := lr.s
	prop := &proposal{cc: cc, xid: pkt.Header.Xid, op: pkt.Header.Type, start: time.Now(), forwarded: true, seq: cc.reqSeq}
	cc.pending = append(cc.pending, pendingItem{prop: prop})
	s.cl.outstandingN++
	if pkt.Header.Type == wire.OpSync {
		prop.syncReq, _ = pkt.Body.(*wire.SyncRequest)
		if pkt.BodyErr != nil {
			prop.err = wire.ErrMarshallingError
		}
		lr.syncs = append(lr.syncs, prop)
	} else {
		lr.forwarded[cc.session] = append(lr.forwarded[cc.session], prop)
	}
	lr.sendRequest(cc, cc.session, pkt.Header.Xid, pkt.Header.Type, pkt.Raw)
}

// sendRequest queues a REQUEST packet with the client's auth ids; a
// createSession carries none (a null list on the wire), as Java's: its
// Request is made without the connection's auth info
// (ZooKeeperServer.createSession), and Learner.request writes that.
func (lr *learnerDriver) sendRequest(cc *clientConn, id wire.SessionID, xid wire.Xid, op wire.OpCode, body []byte) {
	s := lr.s
	p := s.qs.peer
	data := wire.AppendRequestPacket(make([]byte, 0, wire.RequestPacketHeaderSize+len(body)),
		wire.RequestPacketHeader{SessionID: id, Cxid: xid, Type: op}, body)
	var auth []wire.ID
	if op != wire.OpCreateSession {
		auth = append([]wire.ID{}, cc.auth...)
	}
	p.stats.forwarded++
	lr.link.send(wire.QuorumPacket{Type: wire.PacketRequest, Zxid: -1, Data: data, AuthInfo: auth})
}

// onLeaderSync completes the oldest pending client sync (FollowerZooKeeperServer.sync).
func (lr *learnerDriver) onLeaderSync() {
	s := lr.s
	if len(lr.syncs) == 0 {
		s.log.Warn().Msg("Not expecting a sync")
		return
	}
	prop := lr.syncs[0]
	lr.syncs[0] = nil
	lr.syncs = lr.syncs[1:]
	if last := s.lastInApply(); last != nil {
		// Every txn committed before the SYNC must be in the tree before
		// the sync is answered (Java's SYNC goes through the commit
		// processor behind them): it waits for the last one.
		last.after = append(last.after, prop)
		return
	}
	s.syncDone(prop)
}

// syncDone answers a learner's sync whose committed txns are applied.
func (s *Server) syncDone(prop *proposal) {
	prop.applied = true
	if prop.cc != nil {
		s.cl.drainPending(prop.cc)
	}
}

// forwardCreateSession asks the leader to create a session for a new
// client (its id comes from our tracker, top byte = myid).
func (lr *learnerDriver) forwardCreateSession(cc *clientConn, timeout int32, oldClient bool) {
	s := lr.s
	id := s.sessions.NextID()
	cc.connecting = true
	prop := &proposal{cc: cc, op: wire.OpCreateSession, start: time.Now(), forwarded: true,
		connect: &connectState{cc: cc, oldClient: oldClient}}
	lr.forwarded[id] = append(lr.forwarded[id], prop)
	lr.sendRequest(cc, id, 0, wire.OpCreateSession, wire.EpochData(timeout))
}

// revalidateSession asks the leader whether a reconnecting client's session
// is still alive (Learner.validateSession).
func (lr *learnerDriver) revalidateSession(cc *clientConn, id wire.SessionID, timeout int32, oldClient bool) {
	s := lr.s
	cc.connecting = true
	cc.reconnectOld = oldClient
	if prev := lr.revalidating[id]; prev != nil && prev != cc {
		s.cl.closeConn(prev, "client reconnected")
	}
	lr.revalidating[id] = cc
	s.log.Info().Str("session", id.String()).Str("remote", cc.remote).Msg("Revalidating client")
	lr.link.send(wire.QuorumPacket{Type: wire.PacketRevalidate, Zxid: -1, Data: wire.AppendRevalidateRequest(nil, id, timeout)})
}

// onRevalidate finishes a reconnect with the leader's verdict.
func (lr *learnerDriver) onRevalidate(qp *wire.QuorumPacket) {
	s := lr.s
	id, valid, err := wire.ParseRevalidateReply(qp.Data)
	if err != nil {
		lr.dropLink(fmt.Errorf("REVALIDATE reply does not decode: %w", err))
		return
	}
	cc := lr.revalidating[id]
	delete(lr.revalidating, id)
	if cc == nil {
		s.log.Warn().Str("session", id.String()).Msg("Missing session for validation")
		return
	}
	cc.connecting = false
	if cc.dead || cc.closing {
		return
	}
	s.cl.sendConnectResponse(cc, id, cc.timeoutMs, valid, cc.reconnectOld)
	if !valid {
		s.log.Info().Str("session", id.String()).Str("remote", cc.remote).Msg("Invalid session for client, probably expired")
		s.cl.closeConn(cc, "session expired")
		return
	}
	cc.session = id
	s.cl.bySession[id] = cc
	lr.touchLearner(cc)
	s.log.Debug().Str("session", id.String()).Str("remote", cc.remote).Msg("Established session (reconnect)")
	s.cl.drainPending(cc)
}
