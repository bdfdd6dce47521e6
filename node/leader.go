package node

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/zkgo/zkgo/internal/handshake"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// The leader role (Leader.java, LearnerHandler.java, LeaderZooKeeperServer),
// run on the owner goroutine: epoch agreement with a quorum, per-learner
// sync (DIFF/TRUNC/SNAP, spec §4.5), NEWLEADER and its quorum of ACKs,
// UPTODATE, then broadcast: every txn is proposed to the followers, acked
// by the leader after its own fsync, committed in zxid order once a quorum
// of voters acked it, and INFORMed to observers.

// leaderState is the leader's state; owned by the server goroutine.
type leaderState struct {
	ln       net.Listener
	in       chan handlerMsg
	accepted chan learnerArrival
	// pending bounds the connections whose first packet has not arrived.
	pending  *handshake.Limiter
	handlers map[*learnerHandler]struct{}
	nextID   uint64

	verifier quorum.Verifier
	// zab is the leadership being established: the epoch, its quorums and
	// the phases' deadlines, in ticks (tickTime/2) since the leadership
	// began (zab.Leader). The driver acts on its Ready: processLeaderReady.
	zab          *zab.Leader
	serving      bool      // a quorum acked NEWLEADER: serving clients
	summaryEpoch int64     // leaderStateSummary: current epoch and last zxid
	summaryZxid  wire.Zxid // at the start of the leadership
	started      time.Time // for the log only
	// outstanding counts the ACKs of the proposals not committed yet; it
	// starts at the NEWLEADER zxid once serving.
	outstanding    *zab.Outstanding
	pendingSyncs   map[wire.Zxid][]*learnerHandler
	snaps          []*snapSync
	proposalSizes  [3]int64 // last, min, max proposal data size
	forceSnapSync  bool
	snapSizeFactor float64
	// SNAP and DIFF/TRUNC syncs in progress (LearnerSyncThrottler): from
	// the sync decision to the NEWLEADER ACK or the handler's end.
	snapSyncs, diffSyncs zab.SyncThrottle
	// commitsGated: Config.CommitGate held a commit back; tried again at
	// the end of the round (retryGatedCommits).
	commitsGated bool
}

// snapSync is a tree walk being spooled for one learner's SNAP.
type snapSync struct {
	h     *learnerHandler
	cur   *tree.SnapshotCursor
	spool *snapSpool
	w     jute.Writer    // the walk's chunk (reused)
	tail  *tailCollector // once the walk is done
}

// newLeaderZxid is the zxid of NEWLEADER: the new epoch, counter 0.
func (ld *leaderState) newLeaderZxid() wire.Zxid { return ld.zab.NewLeaderZxid() }

// becomeLeading starts the leader role after this server won an election.
func (s *Server) becomeLeading(out ElectionOutcome) {
	p := s.peer
	q := s.cfg.Quorum
	addr := q.Me().QuorumAddr()
	if strings.EqualFold(strings.TrimSpace(s.cfg.Raw["quorumListenOnAllIPs"]), "true") {
		addr = ":" + strconv.Itoa(q.Me().QuorumPort)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.log.Error().Err(err).Str("addr", addr).Msg("cannot listen for learners; looking again")
		p.lookAt = time.Now().Add(time.Second)
		return
	}
	ln = p.sec.listener(ln, true) // quorum TLS and SASL (quorumsec.go)
	v := q.verifier()
	ld := &leaderState{
		ln:             ln,
		verifier:       v,
		in:             make(chan handlerMsg, 4096),
		accepted:       make(chan learnerArrival, learnerArrivals),
		pending:        handshake.NewLimiter(p.maxPendingHandshakes),
		handlers:       map[*learnerHandler]struct{}{},
		outstanding:    zab.NewOutstanding(v, 0),
		pendingSyncs:   map[wire.Zxid][]*learnerHandler{},
		summaryEpoch:   p.currentEpoch,
		summaryZxid:    s.tree.LastZxid,
		started:        time.Now(),
		forceSnapSync:  s.cfg.Properties["zookeeper.forceSnapshotSync"] == "true",
		snapSizeFactor: snapshotSizeFactor(s.cfg.Properties, s.log),
		snapSyncs:      zab.SyncThrottle{Max: s.cfg.MaxConcurrentSnapSyncs},
		diffSyncs:      zab.SyncThrottle{Max: s.cfg.MaxConcurrentDiffSyncs},
	}
	p.leader = q.MyID
	s.leader = ld
	s.setRole(roleLeading)
	s.log.Info().Str("addr", ln.Addr().String()).Str("zxid", s.tree.LastZxid.String()).
		Int64("accepted_epoch", p.acceptedEpoch).Dur("took", p.stats.electionTook).Msg("LEADING - LEADER ELECTION TOOK")
	s.goRoutine(func() { s.acceptLearners(ld) })
	// Java's lead() takes a snapshot first (ZooKeeperServer.loadData).
	s.wantSnapshot = true
	zl, err := zab.NewLeader(zab.LeaderConfig{ID: q.MyID, Verifier: v, AcceptedEpoch: p.acceptedEpoch,
		CurrentEpoch: p.currentEpoch, PhaseTicks: s.cfg.initLimitTicks()})
	if err != nil {
		// An accepted epoch of 0x7fffffff: Java would propose 0x80000000
		// and go on with negative zxids.
		s.stepDown(err.Error())
		return
	}
	ld.zab = zl
	s.processLeaderReady()
}

// processLeaderReady acts on what the leadership's state machine asks
// for: the epochs it decided are made durable first, and only then do
// LEADERINFO, the learners' syncs and UPTODATE go out (persist before
// send); a failed write ends the leadership.
func (s *Server) processLeaderReady() {
	ld := s.leader
	for ld != nil && s.leader == ld && ld.zab.HasReady() {
		r := ld.zab.Ready()
		if r.StepDown != "" {
			s.stepDown(r.StepDown)
			return
		}
		if hs := r.HardState; hs != nil {
			if hs.AcceptedEpoch != s.peer.acceptedEpoch {
				if err := storage.WriteEpoch(s.snapDir(), storage.AcceptedEpochFile, hs.AcceptedEpoch); err != nil {
					s.stepDown("cannot persist acceptedEpoch: " + err.Error())
					return
				}
				s.peer.acceptedEpoch = hs.AcceptedEpoch
			}
			if hs.CurrentEpoch != s.peer.currentEpoch {
				if err := storage.WriteEpoch(s.snapDir(), storage.CurrentEpochFile, hs.CurrentEpoch); err != nil {
					s.stepDown("cannot persist currentEpoch: " + err.Error())
					return
				}
				s.peer.currentEpoch = hs.CurrentEpoch
			}
		}
		if r.EpochDecided {
			s.zxid = ld.zab.NewLeaderZxid()
			s.log.Info().Int64("epoch", ld.zab.Epoch()).Str("voters", ld.zab.EpochVoters()).Msg("new epoch agreed")
			for h := range ld.handlers {
				if h.state == hsEpoch {
					s.sendLeaderInfo(h)
				}
			}
		}
		if r.EpochAcked {
			for h := range ld.handlers {
				if h.state == hsWaitSync {
					s.syncLearner(h)
				}
			}
		}
		if r.Serving && s.leader == ld {
			s.startServing()
		}
		if r.CheckSynced && s.leader == ld {
			// In sync: a voter's learner whose sync got to NEWLEADER and
			// that was heard from by its deadline.
			var synced []int64
			for h := range ld.handlers {
				if !h.observer && h.state >= hsNewLeader && ld.zab.FullTick() <= h.ackDeadline {
					synced = append(synced, h.sid)
				}
			}
			ld.zab.Synced(synced)
		}
	}
}

// learnerArrival is a learner connection whose first packet arrived.
type learnerArrival struct {
	conn  net.Conn
	first wire.QuorumPacket
}

const (
	// learnerArrivals bounds the learner connections handed to the owner
	// goroutine and not yet taken; more are closed (the learner retries).
	learnerArrivals = 64
	// firstPacketMax bounds the data of a learner's first packet: its
	// LearnerInfo is 20 bytes (Java reads the first 20 and allows up to
	// jute.maxbuffer; every learner sends exactly those).
	firstPacketMax = 64 << 10
)

// Backoff between failed accepts of learner connections.
const (
	acceptRetryMin = 5 * time.Millisecond
	acceptRetryMax = time.Second
)

// acceptLearners is LearnerCnxAcceptor: it accepts learner connections and
// gives each initLimit ticks, in total, to send its first packet (Java
// gives that to every read). At most peer.maxPendingHandshakes are waiting
// at a time (Java has no limit): one more evicts one of them.
//
// An Accept that fails while the listener is open (out of file
// descriptors, a connection aborted before it was taken) is retried after
// a backoff that doubles from 5 ms up to 1 s; Java's acceptor instead
// stops, and its leader then steps down ("Unexpected internal error",
// DIFFERENCES row 36). It returns once the listener is closed (the
// leadership is over) or the server stops.
func (s *Server) acceptLearners(ld *leaderState) {
	timeout := time.Duration(s.cfg.TickTime*s.cfg.InitLimit) * time.Millisecond
	var backoff time.Duration
	for {
		c, err := ld.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, acceptRetryMin), acceptRetryMax)
			s.log.Warn().Err(err).Dur("retry_in", backoff).Msg("Exception while accepting follower; retrying")
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.quit:
				t.Stop()
				return
			}
			continue
		}
		backoff = 0
		if !ld.pending.Admit(c) {
			return // leadership over
		}
		s.goRoutine(func() { s.learnerHandshake(ld, c, timeout) })
	}
}

// learnerHandshake reads a learner's first packet and hands the connection
// to the owner goroutine (onLearnerConn) without waiting for it.
func (s *Server) learnerHandshake(ld *leaderState, c net.Conn, timeout time.Duration) {
	remote := c.RemoteAddr().String()
	c.SetReadDeadline(time.Now().Add(timeout))
	qp, err := wire.ReadQuorumPacket(c, firstPacketMax)
	if err != nil {
		c.Close()
		if !ld.pending.Done(c) {
			s.log.Debug().Str("learner", remote).Msg("learner connection closed before its first packet: too many pending")
			return
		}
		if errors.Is(err, io.EOF) {
			s.log.Debug().Str("learner", remote).Msg("learner connection closed without a packet")
			return
		}
		s.log.Warn().Str("learner", remote).Err(err).Msg("no first packet from the learner connection; closed")
		return
	}
	c.SetReadDeadline(time.Time{})
	// NB: handed over while still pending, so that leaveLeading's
	// pending.Close and its draining of ld.accepted cannot both miss it.
	select {
	case ld.accepted <- learnerArrival{conn: c, first: qp}:
	default:
		c.Close()
		s.log.Warn().Str("learner", remote).Int("queued", learnerArrivals).
			Msg("too many learner connections waiting for the leader; closed")
	}
	ld.pending.Done(c)
}

// initLimitTicks and syncLimitTicks are initLimit and syncLimit in ticks
// of tickTime/2.
func (c *Config) initLimitTicks() int64 { return 2 * int64(c.InitLimit) }
func (c *Config) syncLimitTicks() int64 { return 2 * int64(c.SyncLimit) }

// onLearnerConn starts a handler for a learner connection whose first
// packet arrived; a learner that is refused costs no goroutine.
func (s *Server) onLearnerConn(a learnerArrival) {
	ld := s.leader
	c := a.conn
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	ld.nextID++
	h := &learnerHandler{
		id:     ld.nextID,
		conn:   c,
		remote: c.RemoteAddr().String(),
		wake:   make(chan struct{}, 1),
		closed: make(chan struct{}),
		// Until the learner acks NEWLEADER (then: syncLimit).
		ackDeadline: ld.zab.FullTick() + int64(s.cfg.InitLimit+s.cfg.SyncLimit),
	}
	h.log = s.log.With().Str("learner", h.remote).Logger()
	h.maxRecord = s.cfg.RecordLimit()
	h.rd = newTimeoutReader(c, time.Duration(s.cfg.TickTime*s.cfg.InitLimit)*time.Millisecond)
	ld.handlers[h] = struct{}{}
	s.onLearnerInfo(h, &a.first)
	if h.gone {
		return
	}
	h.br = bufio256(h.rd)
	h.bw = bufioWriter(c)
	writeTimeout := time.Duration(s.cfg.TickTime*s.cfg.SyncLimit) * time.Millisecond
	s.goRoutine(func() { h.reader(ld.in, s.quit) })
	s.goRoutine(func() { h.writer(writeTimeout) })
}

// dropHandler forgets a learner (its connection failed or broke a rule).
func (s *Server) dropHandler(h *learnerHandler, reason string) {
	ld := s.leader
	if h.gone {
		return
	}
	h.gone = true
	h.close(reason)
	delete(ld.handlers, h)
	h.held = nil
	endSync(h)
	for z, hs := range ld.pendingSyncs {
		for i, x := range hs {
			if x == h {
				ld.pendingSyncs[z] = append(hs[:i], hs[i+1:]...)
				break
			}
		}
	}
	for i, sn := range ld.snaps {
		if sn.h == h {
			sn.cur.Release()
			sn.spool.discard()
			ld.snaps = append(ld.snaps[:i], ld.snaps[i+1:]...)
			break
		}
	}
	h.log.Warn().Str("state", h.state.String()).Str("reason", reason).
		Msg("learner disconnected")
}

// onHandlerMsg handles one packet from a learner.
func (s *Server) onHandlerMsg(m handlerMsg) {
	ld := s.leader
	h := m.h
	if ld == nil || h.gone {
		return
	}
	if m.logRead != nil {
		// The txn log read for its DIFF is done: sync it now.
		h.readingLog, h.fromLog = false, m.logRead
		if h.state == hsWaitSync {
			s.syncLearner(h)
		}
		return
	}
	if m.err != nil {
		reason := "reading from the learner: " + m.err.Error()
		if r := h.closeReason(); r != "" {
			reason = r
		}
		s.dropHandler(h, reason)
		return
	}
	qp := &m.qp
	if h.state >= hsUpToDate {
		h.ackDeadline = ld.zab.FullTick() + int64(s.cfg.SyncLimit)
	}
	switch h.state {
	case hsAckEpoch:
		s.onAckEpoch(h, qp)
	case hsNewLeader:
		s.onNewLeaderAck(h, qp)
	case hsUpToDate, hsBroadcast:
		s.onLearnerPacket(h, qp)
	default:
		s.dropHandler(h, fmt.Sprintf("unexpected %v while %s", qp.Type, h.state))
	}
}

// onLearnerInfo handles FOLLOWERINFO/OBSERVERINFO (LearnerHandler.run).
func (s *Server) onLearnerInfo(h *learnerHandler, qp *wire.QuorumPacket) {
	q := s.cfg.Quorum
	li, err := zab.CheckLearnerInfo(qp, q.Version, func(sid int64) (bool, bool) {
		m, ok := q.Servers[sid]
		return m.Type == Participant, ok
	})
	if err != nil {
		s.dropHandler(h, err.Error())
		return
	}
	h.sid = li.ID
	h.version = li.ProtocolVersion
	h.observer = li.Observer
	h.acceptedEpoch = li.AcceptedEpoch
	h.log = h.log.With().Int64("sid", h.sid).Logger()
	for o := range s.leader.handlers {
		if o != h && o.sid == h.sid && o.state != hsInfo {
			s.dropHandler(o, "the same learner connected again")
		}
	}
	h.log.Info().Bool("observer", h.observer).Int64("accepted_epoch", h.acceptedEpoch).Msg("Follower sid connected")
	h.state = hsEpoch
	ld := s.leader
	ld.zab.LearnerInfo(h.sid, h.acceptedEpoch, !h.observer)
	s.processLeaderReady()
	if s.leader == ld && ld.zab.Epoch() >= 0 && h.state == hsEpoch {
		s.sendLeaderInfo(h)
	}
}

func (s *Server) sendLeaderInfo(h *learnerHandler) {
	h.state = hsAckEpoch
	// LEADERINFO goes out at once, before the sending thread starts.
	h.queue(wire.QuorumPacket{Type: wire.PacketLeaderInfo, Zxid: s.leader.zab.NewLeaderZxid(), Data: wire.EpochData(wire.ProtocolVersion)})
	h.startSending()
}

// onAckEpoch handles ACKEPOCH (LearnerHandler.run, Leader.waitForEpochAck).
func (s *Server) onAckEpoch(h *learnerHandler, qp *wire.QuorumPacket) {
	ld := s.leader
	ack, err := zab.CheckAckEpoch(qp, ld.summaryEpoch, ld.summaryZxid)
	if err != nil {
		s.dropHandler(h, err.Error())
		return
	}
	counts := ack.Counts && !h.observer
	h.peerLastZxid = ack.LastZxid
	h.state = hsWaitSync
	if ld.zab.EpochAcked() {
		s.syncLearner(h)
		return
	}
	ld.zab.AckEpoch(h.sid, counts)
	s.processLeaderReady()
}

// onNewLeaderAck handles the learner's first packet after the sync.
func (s *Server) onNewLeaderAck(h *learnerHandler, qp *wire.QuorumPacket) {
	ld := s.leader
	if qp.Type != wire.PacketAck {
		s.dropHandler(h, "Next packet was supposed to be an ACK, but received "+qp.Type.String())
		return
	}
	if !h.syncStarted {
		// Still walking the tree for its SNAP: nothing to acknowledge yet.
		s.dropHandler(h, "ACK received before NEWLEADER was sent")
		return
	}
	counts := false
	if qp.Zxid == ld.zab.NewLeaderZxid() {
		counts = !h.observer
	} else {
		h.log.Warn().Str("current", ld.zab.NewLeaderZxid().String()).Str("received", qp.Zxid.String()).
			Msg("NEWLEADER ACK is from a different epoch")
	}
	endSync(h) // the sync ends with the NEWLEADER ACK
	h.state = hsUpToDate
	h.rd.setTimeout(time.Duration(s.cfg.TickTime*s.cfg.SyncLimit) * time.Millisecond)
	h.ackDeadline = ld.zab.FullTick() + int64(s.cfg.SyncLimit)
	h.limitCheck = true
	if ld.serving {
		s.sendUpToDate(h)
		return
	}
	ld.zab.NewLeaderAck(h.sid, counts)
	s.processLeaderReady()
}

// startServing starts serving once a quorum acked NEWLEADER
// (Leader.startZkServer).
func (s *Server) startServing() {
	ld := s.leader
	ld.serving = true
	z := ld.zab.NewLeaderZxid()
	ld.outstanding = zab.NewOutstanding(ld.verifier, z)
	s.zxid = z
	s.tree.LastZxid = z
	// Every session gets a fresh lease from the new leader; owners are
	// learned again from requests and revalidations.
	now := s.nowMs()
	for _, sess := range s.sessions.All() {
		sess.Owner = 0
		sess.Closing = false
		s.sessions.Add(sess.ID, sess.TimeoutMs, now)
	}
	s.peer.newEpoch = ld.zab.Epoch()
	s.peer.elector.SetPeerEpoch(ld.zab.Epoch())
	s.nextReap = s.nowMs() + int64(s.cfg.ContainerCheckMs)
	s.log.Info().Int64("epoch", ld.zab.Epoch()).Str("acks", ld.zab.NewLeaderVoters()).Dur("took", time.Since(ld.started)).
		Int("learners", len(ld.handlers)).Msg("leader established: a quorum synced; serving clients")
	for h := range ld.handlers {
		if h.state == hsUpToDate {
			s.sendUpToDate(h)
		}
	}
}

func (s *Server) sendUpToDate(h *learnerHandler) {
	h.state = hsBroadcast
	h.queue(wire.QuorumPacket{Type: wire.PacketUpToDate, Zxid: -1})
	h.log.Info().Str("mode", h.syncMode.String()).Msg("learner is up to date")
}

// onLearnerPacket handles a learner's packet in the broadcast phase.
func (s *Server) onLearnerPacket(h *learnerHandler, qp *wire.QuorumPacket) {
	switch qp.Type {
	case wire.PacketAck:
		h.txnTimeout.Acked(qp.Zxid)
		s.processAck(h.sid, qp.Zxid, h.observer)
	case wire.PacketPing:
		touches, err := wire.ParseTouchTable(qp.Data)
		if err != nil {
			s.dropHandler(h, "PING touch table does not decode: "+err.Error())
			return
		}
		s.queueTouches(touches)
	case wire.PacketRevalidate:
		id, to, err := wire.ParseRevalidateRequest(qp.Data)
		if err != nil {
			s.dropHandler(h, "REVALIDATE does not decode: "+err.Error())
			return
		}
		valid := s.sessions.Touch(id, s.nowMs())
		if valid {
			if sess := s.sessions.Get(id); sess != nil {
				sess.Owner = h.sid
			}
		}
		h.log.Debug().Str("session", id.String()).Int32("timeout", to).Bool("valid", valid).Msg("revalidated session")
		h.queue(wire.QuorumPacket{Type: wire.PacketRevalidate, Zxid: -1, Data: wire.AppendRevalidateReply(nil, id, valid)})
	case wire.PacketRequest:
		s.onLearnerRequest(h, qp)
	default:
		h.log.Warn().Str("type", qp.Type.String()).Str("zxid", qp.Zxid.String()).Msg("unexpected quorum packet")
	}
}

// onLearnerRequest prepares a write a learner forwarded (REQUEST, spec §5.5).
func (s *Server) onLearnerRequest(h *learnerHandler, qp *wire.QuorumPacket) {
	ld := s.leader
	hdr, body, err := wire.ParseRequestPacket(qp.Data)
	if err != nil {
		s.dropHandler(h, "REQUEST does not decode: "+err.Error())
		return
	}
	if !ld.serving || s.storeErr != nil {
		return
	}
	switch hdr.Type {
	case wire.OpSync:
		// Leader.processSync: SYNC once every proposal outstanding now is
		// committed (a write still being prepared counts: the sync waits
		// for it to be proposed).
		s.prepare(prepItem{run: func() {
			if len(s.inflight) == 0 {
				h.queue(wire.QuorumPacket{Type: wire.PacketSync, Zxid: 0})
			} else {
				last := ld.outstanding.LastProposed()
				ld.pendingSyncs[last] = append(ld.pendingSyncs[last], h)
			}
		}})
		return
	case wire.OpCreateSession:
		if len(body) < 4 {
			s.dropHandler(h, "createSession REQUEST without a timeout")
			return
		}
		to := int32(binary.BigEndian.Uint32(body))
		sess := s.sessions.Add(hdr.SessionID, to, s.nowMs())
		sess.Owner = h.sid
		s.prepare(prepItem{run: func() {
			req := tree.PrepRequest{Session: hdr.SessionID, Type: wire.OpCreateSession, Body: &wire.CreateSessionTxn{TimeOut: to},
				Zxid: s.nextZxid(), Time: wallMs()}
			e, code := s.tree.Prep(&req)
			s.propose(&proposal{entry: e, op: wire.OpCreateSession, err: code, start: time.Now()})
		}})
		return
	}
	r := &writeRequest{session: hdr.SessionID, xid: hdr.Cxid, op: hdr.Type, raw: body, auth: qp.AuthInfo, owner: h.sid}
	if r.auth == nil {
		r.auth = []wire.ID{}
	}
	if rec, hasBody, known := wire.NewRequestRecord(hdr.Type); known && hasBody {
		if err := jute.Unmarshal(body, rec); err != nil {
			r.bodyErr = err
		} else {
			// As a client request on this server: strings in Java's form.
			wire.ToJavaStrings(rec)
		}
		r.body = rec
	} else if !known {
		h.log.Warn().Str("op", hdr.Type.String()).Msg("REQUEST with an unknown opcode")
		r.bodyErr = errors.New("unknown opcode")
	}
	s.proposeWrite(r)
}

// broadcastProposal sends a new proposal to the followers (Leader.propose).
func (s *Server) broadcastProposal(p *proposal) {
	ld := s.leader
	z := p.entry.Hdr.Zxid
	p.data = wire.AppendTxnEntry(nil, &p.entry)
	ld.outstanding.Propose(z)
	sz := int64(len(p.data))
	ld.proposalSizes[0] = sz
	if ld.proposalSizes[1] == 0 || sz < ld.proposalSizes[1] {
		ld.proposalSizes[1] = sz
	}
	ld.proposalSizes[2] = max(ld.proposalSizes[2], sz)
	pkt := wire.QuorumPacket{Type: wire.PacketProposal, Zxid: z, Data: p.data}
	for h := range ld.handlers {
		if !h.forwarding || h.observer {
			continue
		}
		if !h.syncStarted {
			// Its NEWLEADER is not queued yet: held until the proposal
			// commits or NEWLEADER goes out (ZOOKEEPER-4394, see holdProposal).
			s.holdProposal(h, p)
			continue
		}
		if h.limitCheck {
			h.txnTimeout.Sent(z, ld.zab.Ticks())
		}
		h.queue(pkt)
	}
	if z.Counter() == 0xfffffffe {
		// ZOOKEEPER-1277: the next zxid would roll the counter over; a new
		// epoch is needed.
		s.log.Warn().Str("zxid", z.String()).Msg("zxid counter about to roll over; stepping down to start a new epoch")
		s.stepDownAfter = true
	}
}

// processAck counts an ACK (Leader.processAck) and commits what has a quorum.
func (s *Server) processAck(sid int64, z wire.Zxid, observer bool) {
	ld := s.leader
	if !ld.serving || observer {
		return // observers' ACKs never count
	}
	switch ld.outstanding.Ack(sid, z) {
	case zab.AckCounted:
		s.tryCommit()
	case zab.AckUnknown:
		s.log.Warn().Str("zxid", z.String()).Int64("sid", sid).Msg("Trying to commit future proposal")
	}
}

// tryCommit commits, in zxid order, every proposal a quorum of voters acked.
func (s *Server) tryCommit() {
	ld := s.leader
	if gate := s.cfg.CommitGate; gate != nil && ld.outstanding.Len() > 0 && !gate() {
		ld.commitsGated = true
		return
	}
	for {
		z, ok := ld.outstanding.Commit()
		if !ok {
			break
		}
		if len(s.inflight) == 0 || s.inflight[0].entry.Hdr.Zxid != z {
			// Cannot happen: every proposal is outstanding from
			// broadcastProposal to its commit, in the same order.
			s.log.Error().Str("zxid", z.String()).Int("inflight", len(s.inflight)).
				Msg("a proposal with a quorum is not the oldest in flight")
			s.stepDown(fmt.Sprintf("commit of %v out of step with the proposals in flight", z))
			return
		}
		p := s.inflight[0]
		s.inflight[0] = nil
		s.inflight = s.inflight[1:]
		s.commitProposal(p)
	}
	if len(s.inflight) == 0 {
		s.inflight = nil
	}
}

// retryGatedCommits commits what Config.CommitGate held back (end of
// each owner round, after the SNAP walks have queued their NEWLEADERs).
func (s *Server) retryGatedCommits() {
	if ld := s.leader; ld != nil && ld.commitsGated && ld.serving {
		ld.commitsGated = false
		s.tryCommit()
	}
}

// commitProposal sends COMMIT to the followers and INFORM to the observers,
// then applies the txn and answers its local client. A follower whose
// NEWLEADER is not queued yet gets the held PROPOSAL with its COMMIT.
func (s *Server) commitProposal(p *proposal) {
	ld := s.leader
	z := p.entry.Hdr.Zxid
	commit := wire.QuorumPacket{Type: wire.PacketCommit, Zxid: z}
	inform := wire.QuorumPacket{Type: wire.PacketInform, Zxid: z, Data: p.data}
	for h := range ld.handlers {
		switch {
		case !h.forwarding:
		case h.observer:
			h.queue(inform)
		case !h.syncStarted:
			s.releaseHeld(h, p)
		default:
			h.queue(commit)
		}
	}
	s.applyProposal(p)
	for _, h := range ld.pendingSyncs[z] {
		h.queue(wire.QuorumPacket{Type: wire.PacketSync, Zxid: 0})
	}
	delete(ld.pendingSyncs, z)
}

// tickLeading runs every tickTime/2: pings, transaction timeouts, and the
// quorum check (Leader.lead's loop).
func (s *Server) tickLeading() {
	ld := s.leader
	// A handler whose writer failed closes itself; its reader may then quit
	// without reporting, so closed handlers are collected here.
	for h := range ld.handlers {
		if h.isClosed() {
			s.dropHandler(h, h.closeReason())
		}
	}
	ld.zab.Tick()
	s.processLeaderReady()
	if s.leader != ld || !ld.serving {
		return
	}
	syncLimit := s.cfg.syncLimitTicks()
	for h := range ld.handlers {
		if !h.syncStarted {
			continue
		}
		if h.txnTimeout.Expired(ld.zab.Ticks(), syncLimit) {
			s.dropHandler(h, "Closing connection to peer due to transaction timeout.")
			continue
		}
		h.queue(wire.QuorumPacket{Type: wire.PacketPing, Zxid: ld.outstanding.LastProposed()})
	}
}

// stepDown ends the leadership (Leader.shutdown) and looks for a leader.
func (s *Server) stepDown(reason string) {
	if s.peer.role != roleLeading {
		return
	}
	s.log.Warn().Str("reason", reason).Msg("Shutting down the leader")
	s.becomeLooking(reason, 100*time.Millisecond)
}

// leaveLeading closes the learner connections and the listener and brings
// the database to what was logged.
func (s *Server) leaveLeading() {
	ld := s.leader
	if ld == nil {
		return
	}
	ld.ln.Close()
	ld.pending.Close()
	drainArrivals(ld)
	for h := range ld.handlers {
		h.gone = true
		h.close("leader shutting down")
	}
	for _, sn := range ld.snaps {
		sn.cur.Release()
		sn.spool.discard()
	}
	s.leader = nil
	s.stepDownAfter = false
	// Uncommitted proposals are in the log (once durable); like a learner,
	// the next election counts them (fastForward).
	s.quiesceStore()
	for _, p := range s.inflight {
		if p.cc != nil {
			s.closeConn(p.cc, "leader shutting down")
		}
	}
	s.inflight = nil
	s.dropPreps(func(p *proposal) {
		if p.cc != nil {
			s.closeConn(p.cc, "leader shutting down")
		}
	})
	s.tree.ResetPrep()
	s.fastForward()
}

// drainArrivals closes the learner connections handed over and not taken.
func drainArrivals(ld *leaderState) {
	for {
		select {
		case a := <-ld.accepted:
			a.conn.Close()
		default:
			return
		}
	}
}

// leaderOnDurable is the leader's own ACK: after its fsync it counts for
// every proposal up to z (AckRequestProcessor).
func (s *Server) leaderOnDurable(z wire.Zxid) {
	s.leader.outstanding.AckThrough(s.cfg.Quorum.MyID, z)
	s.tryCommit()
}
