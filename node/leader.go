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
// run on the owner goroutine. Its protocol is zab.Leader's (node/zab):
// epoch agreement with a quorum, each learner's handshake and sync
// (DIFF/TRUNC/SNAP, spec §4.5), NEWLEADER and its quorum of ACKs,
// UPTODATE, then broadcast: every txn proposed to the followers, acked by
// the leader after its own fsync, committed in zxid order once a quorum of
// voters acked it, and INFORMed to observers. This is its driver: the
// listener and the learner connections, the epoch files, the txn log read
// for a DIFF, the SNAP walk, and the tree and clients the commits reach
// (processLeaderReady).

// leaderDriver is the leader role's driver: the leadership (zab.Leader),
// the listener, the learner connections and the SNAP walks, and the
// methods that carry out the leadership's Ready. The server holds one
// while it leads (Server.leader) and keeps the lifecycle (becomeLeading,
// stepDown, leaveLeading); everything here runs on the owner goroutine
// except acceptLearners and learnerHandshake, which only read the
// configuration and hand connections over through accepted.
type leaderDriver struct {
	// s is the server the commits reach: the tree, sessions, proposals
	// in flight, the txn log and the client connections.
	s        *Server
	ln       net.Listener
	in       chan handlerMsg
	accepted chan learnerArrival
	// pending bounds the connections whose first packet has not arrived.
	pending *handshake.Limiter
	// links are the learner connections the leadership knows, by the
	// zab.LinkID they have there.
	links  map[zab.LinkID]*learnerHandler
	nextID uint64

	// zab is the leadership (zab.Leader): the epoch and its quorums, each
	// learner's handshake and sync, proposals and commits, pings and
	// deadlines, in ticks (tickTime/2) since the leadership began. The
	// driver acts on its Ready: processLeaderReady.
	zab *zab.Leader
	// processing: processLeaderReady is running (it is not re-entered;
	// its loop takes what the calls it makes add).
	processing     bool
	started        time.Time // for the log only
	snaps          []*snapSync
	proposalSizes  [3]int64 // last, min, max proposal data size
	forceSnapSync  bool
	snapSizeFactor float64
	// stepDownAfter: the leader gives up after this round (zxid rollover)
	stepDownAfter bool
}

// snapSync is a tree walk being spooled for one learner's SNAP.
type snapSync struct {
	h     *learnerHandler
	cur   *tree.SnapshotCursor
	spool *snapSpool
	w     jute.Writer    // the walk's chunk (reused)
	tail  *tailCollector // once the walk is done
}

// serving reports whether a quorum acked NEWLEADER: serving clients.
func (ld *leaderDriver) serving() bool { return ld.zab.Serving() }

// becomeLeading starts the leader role after this server won an election.
func (s *Server) becomeLeading(out ElectionOutcome) {
	p := s.qs.peer
	q := s.qs.quorum()
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
	ld := &leaderDriver{
		s:              s,
		ln:             ln,
		in:             make(chan handlerMsg, 4096),
		accepted:       make(chan learnerArrival, learnerArrivals),
		pending:        handshake.NewLimiter(p.maxPendingHandshakes),
		links:          map[zab.LinkID]*learnerHandler{},
		started:        time.Now(),
		forceSnapSync:  s.cfg.Properties["zookeeper.forceSnapshotSync"] == "true",
		snapSizeFactor: snapshotSizeFactor(s.cfg.Properties, s.log),
	}
	p.leader = q.MyID
	s.qs.leader = ld
	s.qs.setRole(roleLeading)
	s.log.Info().Str("addr", ln.Addr().String()).Str("zxid", s.tree.LastZxid.String()).
		Int64("accepted_epoch", p.acceptedEpoch).Dur("took", p.stats.electionTook).
		Bool("without_election", p.stats.designated).Msg("LEADING - LEADER ELECTION TOOK")
	s.lp.goRoutine(func() { ld.acceptLearners() })
	// Java's lead() takes a snapshot first (ZooKeeperServer.loadData).
	s.dur.wantSnapshot = true
	lc := zab.LeaderConfig{ID: q.MyID, Verifier: v, AcceptedEpoch: p.acceptedEpoch,
		CurrentEpoch: p.currentEpoch, LastZxid: s.tree.LastZxid, PhaseTicks: s.cfg.initLimitTicks(),
		InitLimit: int64(s.cfg.InitLimit), SyncLimit: int64(s.cfg.SyncLimit),
		ConfigVersion: q.Version, Member: func(sid int64) (bool, bool) {
			m, ok := q.Servers[sid]
			return m.Type == Participant, ok
		},
		NewLeaderData: []byte(q.Text()), MaxSnapSyncs: s.cfg.MaxConcurrentSnapSyncs, MaxDiffSyncs: s.cfg.MaxConcurrentDiffSyncs,
		MaxHeld: linkQueueLimit, CommitGate: s.cfg.CommitGate}
	err = s.qs.leaderReconfig(&lc) // reconfig.go
	var zl *zab.Leader
	if err == nil {
		zl, err = zab.NewLeader(lc)
	}
	if err != nil {
		// An accepted epoch of 0x7fffffff: Java would propose 0x80000000
		// and go on with negative zxids.
		s.qs.stepDown(err.Error())
		return
	}
	ld.zab = zl
	ld.processLeaderReady()
}

// processLeaderReady carries out what the leadership (zab.Leader) asks
// for, in LeaderReady's order: the epochs it decided are made durable
// first (a failed write ends the leadership), then dropped learners are
// closed, SNAP streams started, packets queued to the learners, commits
// applied, the server layer's packets handled and the syncs planned. It
// runs after every input to the Leader; a call made while it runs (from
// what it applies or plans) returns at once, and the running loop takes
// what the call added.
func (ld *leaderDriver) processLeaderReady() {
	if ld == nil || ld.processing {
		return
	}
	s := ld.s
	ld.processing = true
	defer func() { ld.processing = false }()
	for s.qs.leader == ld && ld.zab.HasReady() {
		r := ld.zab.Ready()
		if r.StepDown != "" {
			s.qs.stepDown(r.StepDown)
			return
		}
		if hs := r.HardState; hs != nil {
			if hs.AcceptedEpoch != s.qs.peer.acceptedEpoch {
				if err := storage.WriteEpoch(s.dur.snapDir(), storage.AcceptedEpochFile, hs.AcceptedEpoch); err != nil {
					s.qs.stepDown("cannot persist acceptedEpoch: " + err.Error())
					return
				}
				s.qs.peer.acceptedEpoch = hs.AcceptedEpoch
			}
			if hs.CurrentEpoch != s.qs.peer.currentEpoch {
				if err := storage.WriteEpoch(s.dur.snapDir(), storage.CurrentEpochFile, hs.CurrentEpoch); err != nil {
					s.qs.stepDown("cannot persist currentEpoch: " + err.Error())
					return
				}
				s.qs.peer.currentEpoch = hs.CurrentEpoch
			}
		}
		// Persist before send: the proposed configuration (the .next
		// file) and each activated one (the dynamic file, zoo.cfg) are on
		// disk before the packets that carry or activate them go out.
		if r.NextConfig != nil {
			if err := s.qs.persistNextConfig(r.NextConfig); err != nil {
				s.qs.stepDown(err.Error())
				return
			}
			s.qs.peer.lastSeen = r.NextConfig
		}
		for _, a := range r.Activations {
			_, last := ld.zab.Config()
			if err := s.qs.activateConfig(a.Zxid, a.Config, a.Designated, last != nil && last.Version == a.Config.Version); err != nil {
				s.qs.stepDown(err.Error())
				return
			}
			s.qs.peer.lastSeen = last
			if me := s.qs.quorum().MyID; a.Designated != me {
				// Another leads this configuration: once this leadership
				// ends (its learners leave it), this server follows it
				// without an election (updateVote's reconfigFlag).
				m, in := a.Config.Servers[me]
				s.qs.designate(a.Designated, in && m.Observer, a.Zxid)
			}
			if a.Zxid == ld.zab.NewLeaderZxid() {
				// NEWLEADER's activation (Leader.startZkServer): no txn
				// carries it, so /zookeeper/config takes it here.
				s.tree.InitConfig([]byte(a.Config.String()), a.Config.Version, wallMs())
			}
		}
		for _, w := range r.Warnings {
			s.log.Warn().Msg(w)
		}
		for _, d := range r.Drops {
			ld.closeLearner(d.Link, d.State.String(), d.Reason)
		}
		if r.EpochDecided {
			s.wr.zxid = ld.zab.NewLeaderZxid()
			s.log.Info().Int64("epoch", ld.zab.Epoch()).Str("voters", ld.zab.EpochVoters()).Msg("new epoch agreed")
		}
		if r.Serving {
			ld.startServing()
		}
		for _, link := range r.Snaps {
			if h := ld.links[link]; h != nil {
				if err := ld.startSnapSync(h); err != nil {
					reason := "cannot prepare the snapshot: " + err.Error()
					ld.zab.Drop(link, reason)
					ld.closeLearner(link, zab.HandlerNewLeader.String(), reason)
				}
			}
		}
		for i := range r.Messages {
			if h := ld.links[r.Messages[i].To]; h != nil {
				ld.sendToLearner(h, &r.Messages[i].Packet)
			}
		}
		for _, z := range r.Commits {
			if len(s.wr.inflight) == 0 || s.wr.inflight[0].entry.Hdr.Zxid != z {
				// Cannot happen: every proposal is outstanding from
				// broadcastProposal to its commit, in the same order.
				s.log.Error().Str("zxid", z.String()).Int("inflight", len(s.wr.inflight)).
					Msg("a proposal with a quorum is not the oldest in flight")
				s.qs.stepDown(fmt.Sprintf("commit of %v out of step with the proposals in flight", z))
				return
			}
			p := s.wr.inflight[0]
			s.wr.inflight[0] = nil
			s.wr.inflight = s.wr.inflight[1:]
			if len(s.wr.inflight) == 0 {
				s.wr.inflight = nil
			}
			s.sched.applyProposal(p)
		}
		for i := range r.Packets {
			if h := ld.links[r.Packets[i].Link]; h != nil {
				ld.onLearnerPacket(h, &r.Packets[i].Packet)
			}
		}
		for _, link := range r.SyncDone {
			if h := ld.links[link]; h != nil {
				h.rd.setTimeout(time.Duration(s.cfg.TickTime*s.cfg.SyncLimit) * time.Millisecond)
			}
		}
		for _, link := range r.Syncs {
			if h := ld.links[link]; h != nil {
				ld.syncLearner(h)
			}
		}
		if r.Rollover && !ld.stepDownAfter {
			// ZOOKEEPER-1277: the next zxid would roll the counter over; a
			// new epoch is needed.
			s.log.Warn().Str("zxid", ld.zab.LastProposed().String()).Msg("zxid counter about to roll over; stepping down to start a new epoch")
			ld.stepDownAfter = true
		}
	}
}

// sendToLearner queues a packet of the leadership for a learner.
func (ld *leaderDriver) sendToLearner(h *learnerHandler, qp *wire.QuorumPacket) {
	s := ld.s
	h.queue(*qp)
	switch qp.Type {
	case wire.PacketLeaderInfo:
		// LEADERINFO goes out at once, before the sending thread starts.
		h.startSending()
	case wire.PacketNewLeader:
		if hook := s.cfg.NewLeaderQueued; hook != nil {
			hook(h.sid)
		}
	case wire.PacketUpToDate:
		if st, ok := ld.zab.Learner(h.link); ok {
			h.log.Info().Str("mode", st.SyncMode.String()).Msg("learner is up to date")
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
func (ld *leaderDriver) acceptLearners() {
	s := ld.s
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
			case <-s.lp.quit:
				t.Stop()
				return
			}
			continue
		}
		backoff = 0
		if !ld.pending.Admit(c) {
			return // leadership over
		}
		s.lp.goRoutine(func() { ld.learnerHandshake(c, timeout) })
	}
}

// learnerHandshake reads a learner's first packet and hands the connection
// to the owner goroutine (onLearnerConn) without waiting for it.
func (ld *leaderDriver) learnerHandshake(c net.Conn, timeout time.Duration) {
	s := ld.s
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
func (ld *leaderDriver) onLearnerConn(a learnerArrival) {
	s := ld.s
	c := a.conn
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	ld.nextID++
	h := &learnerHandler{
		link:   zab.LinkID(ld.nextID),
		remote: c.RemoteAddr().String(),
	}
	h.conn = c
	h.initConn(s.cfg.RecordLimit())
	h.log = s.log.With().Str("learner", h.remote).Logger()
	h.rd = newTimeoutReader(c, time.Duration(s.cfg.TickTime*s.cfg.InitLimit)*time.Millisecond)
	ld.links[h.link] = h
	ld.zab.Connect(h.link, &a.first)
	if st, ok := ld.zab.Learner(h.link); ok {
		h.sid = st.SID
		h.log = h.log.With().Int64("sid", h.sid).Logger()
		h.log.Info().Bool("observer", st.Observer).Int64("accepted_epoch", st.AcceptedEpoch).Msg("Follower sid connected")
	}
	ld.processLeaderReady()
	if h.gone {
		return
	}
	h.br = bufio256(h.rd)
	h.bw = bufioWriter(c)
	writeTimeout := time.Duration(s.cfg.TickTime*s.cfg.SyncLimit) * time.Millisecond
	s.lp.goRoutine(func() { h.reader(ld.in, s.lp.quit) })
	s.lp.goRoutine(func() { h.writer(writeTimeout, h.writeFailed) })
}

// closeLearner closes a learner connection the leadership let go (its
// connection failed or it broke a rule); state is where it was.
func (ld *leaderDriver) closeLearner(link zab.LinkID, state, reason string) {
	h := ld.links[link]
	if h == nil || h.gone {
		return
	}
	h.gone = true
	h.close(reason)
	delete(ld.links, link)
	for i, sn := range ld.snaps {
		if sn.h == h {
			sn.cur.Release()
			sn.spool.discard()
			ld.snaps = append(ld.snaps[:i], ld.snaps[i+1:]...)
			break
		}
	}
	h.log.Warn().Str("state", state).Str("reason", reason).Msg("learner disconnected")
}

// dropLearner lets a learner go for a reason of the driver's (its
// connection failed, a packet does not decode).
func (ld *leaderDriver) dropLearner(h *learnerHandler, reason string) {
	ld.zab.Drop(h.link, reason)
	ld.processLeaderReady()
}

// onHandlerMsg handles one packet from a learner.
func (ld *leaderDriver) onHandlerMsg(m handlerMsg) {
	h := m.h
	if ld == nil || h.gone {
		return
	}
	if m.logRead != nil {
		// The txn log read for its DIFF is done: sync it now.
		h.readingLog, h.fromLog = false, m.logRead
		ld.syncLearner(h)
		return
	}
	if m.err != nil {
		reason := "reading from the learner: " + m.err.Error()
		if r := h.closeReason(); r != "" {
			reason = r
		}
		ld.dropLearner(h, reason)
		return
	}
	ld.zab.Receive(h.link, &m.qp)
	ld.processLeaderReady()
}

// startServing starts serving once a quorum acked NEWLEADER
// (Leader.startZkServer); the UPTODATEs are the leadership's.
func (ld *leaderDriver) startServing() {
	s := ld.s
	z := ld.zab.NewLeaderZxid()
	s.wr.zxid = z
	s.tree.LastZxid = z
	// Every session gets a fresh lease from the new leader; owners are
	// learned again from requests and revalidations.
	now := s.lp.nowMs()
	for _, sess := range s.sessions.All() {
		sess.Owner = 0
		sess.Closing = false
		s.sessions.Add(sess.ID, sess.TimeoutMs, now)
	}
	s.qs.peer.newEpoch = ld.zab.Epoch()
	s.qs.peer.elector.SetPeerEpoch(ld.zab.Epoch())
	s.reap.next = s.lp.nowMs() + int64(s.cfg.ContainerCheckMs)
	s.log.Info().Int64("epoch", ld.zab.Epoch()).Str("acks", ld.zab.NewLeaderVoters()).Dur("took", time.Since(ld.started)).
		Int("learners", len(ld.links)).Msg("leader established: a quorum synced; serving clients")
}

// onLearnerPacket handles a learner's packet of the server layer (PING,
// REVALIDATE, REQUEST) once it is in sync; ACKs are the leadership's.
func (ld *leaderDriver) onLearnerPacket(h *learnerHandler, qp *wire.QuorumPacket) {
	s := ld.s
	switch qp.Type {
	case wire.PacketPing:
		touches, err := wire.ParseTouchTable(qp.Data)
		if err != nil {
			ld.dropLearner(h, "PING touch table does not decode: "+err.Error())
			return
		}
		s.queueTouches(touches)
	case wire.PacketRevalidate:
		id, to, err := wire.ParseRevalidateRequest(qp.Data)
		if err != nil {
			ld.dropLearner(h, "REVALIDATE does not decode: "+err.Error())
			return
		}
		valid := s.sessions.Touch(id, s.lp.nowMs())
		if valid {
			if sess := s.sessions.Get(id); sess != nil {
				sess.Owner = h.sid
			}
		}
		h.log.Debug().Str("session", id.String()).Int32("timeout", to).Bool("valid", valid).Msg("revalidated session")
		ld.zab.Send(h.link, wire.QuorumPacket{Type: wire.PacketRevalidate, Zxid: -1, Data: wire.AppendRevalidateReply(nil, id, valid)})
	case wire.PacketRequest:
		ld.onLearnerRequest(h, qp)
	default:
		h.log.Warn().Str("type", qp.Type.String()).Str("zxid", qp.Zxid.String()).Msg("unexpected quorum packet")
	}
}

// onLearnerRequest prepares a write a learner forwarded (REQUEST, spec §5.5).
func (ld *leaderDriver) onLearnerRequest(h *learnerHandler, qp *wire.QuorumPacket) {
	s := ld.s
	hdr, body, err := wire.ParseRequestPacket(qp.Data)
	if err != nil {
		ld.dropLearner(h, "REQUEST does not decode: "+err.Error())
		return
	}
	if !ld.serving() || s.dur.storeErr != nil {
		return
	}
	switch hdr.Type {
	case wire.OpSync:
		// Leader.processSync: SYNC once every proposal outstanding now is
		// committed (a write still being prepared counts: the sync waits
		// for it to be proposed).
		s.prepare(prepItem{run: func() {
			if s.qs.leader == ld {
				ld.zab.SyncRequest(h.link)
				ld.processLeaderReady()
			}
		}})
		return
	case wire.OpCreateSession:
		if len(body) < 4 {
			ld.dropLearner(h, "createSession REQUEST without a timeout")
			return
		}
		to := int32(binary.BigEndian.Uint32(body))
		sess := s.sessions.Add(hdr.SessionID, to, s.lp.nowMs())
		sess.Owner = h.sid
		s.prepare(prepItem{run: func() {
			req := tree.PrepRequest{Session: hdr.SessionID, Type: wire.OpCreateSession, Body: &wire.CreateSessionTxn{TimeOut: to},
				Zxid: s.wr.nextZxid(), Time: wallMs()}
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
func (ld *leaderDriver) broadcastProposal(p *proposal) {
	z := p.entry.Hdr.Zxid
	p.data = wire.AppendTxnEntry(nil, &p.entry)
	sz := int64(len(p.data))
	ld.proposalSizes[0] = sz
	if ld.proposalSizes[1] == 0 || sz < ld.proposalSizes[1] {
		ld.proposalSizes[1] = sz
	}
	ld.proposalSizes[2] = max(ld.proposalSizes[2], sz)
	if next := ld.reconfigOf(p); next != nil {
		if err := ld.zab.ProposeReconfig(z, p.data, next); err != nil {
			// Cannot happen: the prep refused a reconfig while another
			// was pending.
			ld.s.qs.stepDown(fmt.Sprintf("reconfig proposal %v: %v", z, err))
			return
		}
	} else {
		ld.zab.Propose(z, p.data)
	}
	ld.processLeaderReady()
}

// reconfigOf is the configuration a reconfig txn proposes (the text the
// prep put in its SetData of /zookeeper/config), nil for any other txn.
func (ld *leaderDriver) reconfigOf(p *proposal) *quorum.Config {
	s := ld.s
	if p.entry.Hdr.Type != wire.OpReconfig || !s.qs.reconfigOn() {
		return nil
	}
	sd, ok := p.entry.Body.(*wire.SetDataTxn)
	if !ok {
		return nil
	}
	c, err := quorum.ParseConfigText(string(sd.Data), s.cfg.Standalone)
	if err != nil {
		// Cannot happen: the text is quorum.Reconfig's.
		s.log.Error().Err(err).Str("zxid", p.entry.Hdr.Zxid.String()).Msg("reconfig txn's configuration does not read")
		return nil
	}
	return c
}

// retryGatedCommits commits what Config.CommitGate held back (end of
// each owner round, after the SNAP walks have queued their NEWLEADERs).
func (ld *leaderDriver) retryGatedCommits() {
	if ld != nil {
		ld.zab.RetryCommits()
		ld.processLeaderReady()
	}
}

// tickLeading runs every tickTime/2: the leadership's deadlines, pings,
// transaction timeouts and quorum check (Leader.lead's loop).
func (ld *leaderDriver) tickLeading() {
	// A handler whose writer failed closes itself; its reader may then quit
	// without reporting, so closed handlers are collected here.
	for _, h := range ld.links {
		if h.isClosed() {
			ld.zab.Drop(h.link, h.closeReason())
		}
	}
	ld.zab.Tick()
	ld.processLeaderReady()
}

// stepDown ends the leadership (Leader.shutdown) and looks for a leader.
func (qs *quorumSide) stepDown(reason string) {
	if qs.peer.role != roleLeading {
		return
	}
	qs.log.Warn().Str("reason", reason).Msg("Shutting down the leader")
	qs.becomeLooking(reason, 0)
}

// leaveLeading closes the learner connections and the listener and brings
// the database to what was logged.
func (s *Server) leaveLeading() {
	ld := s.qs.leader
	if ld == nil {
		return
	}
	ld.ln.Close()
	ld.pending.Close()
	drainArrivals(ld)
	for _, h := range ld.links {
		h.gone = true
		h.close("leader shutting down")
	}
	for _, sn := range ld.snaps {
		sn.cur.Release()
		sn.spool.discard()
	}
	s.qs.leader = nil
	// Uncommitted proposals are in the log (once durable); like a learner,
	// the next election counts them (fastForward).
	s.dur.quiesce()
	for _, p := range s.wr.inflight {
		if p.cc != nil {
			s.cl.closeConn(p.cc, "leader shutting down")
		}
	}
	s.wr.inflight = nil
	s.dropPreps(func(p *proposal) {
		if p.cc != nil {
			s.cl.closeConn(p.cc, "leader shutting down")
		}
	})
	s.tree.ResetPrep()
	s.fastForward()
}

// drainArrivals closes the learner connections handed over and not taken.
func drainArrivals(ld *leaderDriver) {
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
func (ld *leaderDriver) leaderOnDurable(z wire.Zxid) {
	ld.zab.Durable(z)
	ld.processLeaderReady()
}
