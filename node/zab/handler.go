package zab

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/wire"
)

// The leader's side of each learner connection (LearnerHandler): its
// handshake (FOLLOWERINFO/OBSERVERINFO, LEADERINFO/ACKEPOCH, the sync,
// NEWLEADER and its ACK, UPTODATE), then its part of the broadcast
// (proposals, held proposals, commits, pings, the transaction timeout).

// HandlerState is where a learner is in the leader's handshake.
type HandlerState uint8

// States of a learner connection, in order.
const (
	// HandlerEpoch: FOLLOWERINFO/OBSERVERINFO in; LEADERINFO waits for the
	// epoch.
	HandlerEpoch HandlerState = iota
	// HandlerAckEpoch: LEADERINFO sent, waiting for ACKEPOCH.
	HandlerAckEpoch
	// HandlerWaitSync: ACKEPOCH in; the sync waits for the epoch quorum,
	// then for the driver's plan (Ready.Syncs, StartSync).
	HandlerWaitSync
	// HandlerNewLeader: the sync started (NEWLEADER sent, or to be sent
	// once the snapshot is spooled); waiting for the NEWLEADER ACK.
	HandlerNewLeader
	// HandlerUpToDate: NEWLEADER acked; waiting for the leader to serve.
	HandlerUpToDate
	// HandlerBroadcast: UPTODATE sent.
	HandlerBroadcast
)

func (s HandlerState) String() string {
	switch s {
	case HandlerEpoch:
		return "epoch"
	case HandlerAckEpoch:
		return "ackepoch"
	case HandlerWaitSync:
		return "waitsync"
	case HandlerNewLeader:
		return "newleader"
	case HandlerUpToDate:
		return "uptodate"
	case HandlerBroadcast:
		return "broadcast"
	}
	return fmt.Sprintf("HandlerState(%d)", uint8(s))
}

// ErrSyncThrottled is StartSync's error when the sync throttle refused an
// observer's sync (the observer is dropped; it comes back later).
var ErrSyncThrottled = errors.New("too many concurrent syncs")

// handler is one learner connection.
type handler struct {
	link          LinkID
	state         HandlerState
	sid           int64
	observer      bool
	version       int32
	acceptedEpoch int64
	lastZxid      wire.Zxid
	// ackDeadline is the FullTick by which a packet must have come for
	// the learner to count as synced (LearnerHandler.tickOfNextAckDeadline).
	ackDeadline int64
	forwarding  bool // receives live proposals (followers) or INFORMs (observers)
	syncStarted bool // NEWLEADER sent: it is pinged
	limitCheck  bool // NEWLEADER acked: proposals must be ACKed within 2*SyncLimit ticks
	syncMode    wire.PacketType
	// held are the proposals forwarded to a follower before its NEWLEADER
	// went out and not committed yet, in zxid order (hold).
	held []proposal
	// throttle counts this learner's sync until its NEWLEADER ACK.
	throttle   *SyncThrottle
	txnTimeout SyncLimitCheck
}

// LearnerStatus is what the Leader knows of one learner connection.
type LearnerStatus struct {
	Link            LinkID
	SID             int64
	Observer        bool
	ProtocolVersion int32
	AcceptedEpoch   int64
	State           HandlerState
	// LastZxid is the zxid of the learner's ACKEPOCH (its last logged).
	LastZxid wire.Zxid
	// SyncMode is DIFF, TRUNC or SNAP once its sync started.
	SyncMode wire.PacketType
}

func (h *handler) status() LearnerStatus {
	return LearnerStatus{Link: h.link, SID: h.sid, Observer: h.observer, ProtocolVersion: h.version,
		AcceptedEpoch: h.acceptedEpoch, State: h.state, LastZxid: h.lastZxid, SyncMode: h.syncMode}
}

// Learner returns the status of the learner on link, if it is connected.
func (l *Leader) Learner(link LinkID) (LearnerStatus, bool) {
	h := l.learners[link]
	if h == nil {
		return LearnerStatus{}, false
	}
	return h.status(), true
}

// Learners returns every connected learner, in LinkID order.
func (l *Leader) Learners() []LearnerStatus {
	out := make([]LearnerStatus, len(l.list))
	for i, h := range l.list {
		out[i] = h.status()
	}
	return out
}

// Connect takes a learner connection's first packet (LearnerHandler.run):
// FOLLOWERINFO or OBSERVERINFO, checked by CheckLearnerInfo. An older
// connection of the same server is dropped. The learner's accepted epoch
// counts toward the epoch to propose (a voter's toward its quorum); once
// the epoch is decided it gets LEADERINFO. A learner counts as synced
// until InitLimit+SyncLimit full ticks from now.
func (l *Leader) Connect(link LinkID, first *wire.QuorumPacket) {
	if l.down {
		return
	}
	if _, dup := l.learners[link]; dup {
		panic(fmt.Sprintf("zab: link %d connected twice", link))
	}
	h := &handler{link: link, ackDeadline: l.fullTick + l.cfg.InitLimit + l.cfg.SyncLimit}
	l.learners[link] = h
	l.list = append(l.list, h)
	li, err := CheckLearnerInfo(first, l.cfg.ConfigVersion, l.cfg.Member)
	if err != nil {
		l.drop(h, err.Error())
		return
	}
	h.sid, h.version, h.observer, h.acceptedEpoch = li.ID, li.ProtocolVersion, li.Observer, li.AcceptedEpoch
	voter := !li.Observer
	if l.cur != nil {
		// As Java: the learner's type is its packet's (a FOLLOWERINFO
		// from a server outside the configuration makes a non-voting
		// follower, which gets proposals); only voters' ACKs count.
		h.observer = first.Type == wire.PacketObserverInfo
		voter, _ = l.cfg.Member(h.sid)
	}
	for _, o := range l.learnerList() {
		if o != h && o.sid == h.sid {
			l.drop(o, "the same learner connected again")
		}
	}
	h.state = HandlerEpoch
	l.epochFrom(h.sid, h.acceptedEpoch, voter)
	l.maybeDecideEpoch()
	if !l.down && l.epoch >= 0 && h.state == HandlerEpoch {
		l.sendLeaderInfo(h)
	}
}

func (l *Leader) sendLeaderInfo(h *handler) {
	h.state = HandlerAckEpoch
	l.send(h, wire.QuorumPacket{Type: wire.PacketLeaderInfo, Zxid: l.NewLeaderZxid(), Data: wire.EpochData(wire.ProtocolVersion)})
}

// Receive takes a packet from a learner connection. Once the learner acked
// NEWLEADER, each packet moves its ACK deadline to SyncLimit full ticks
// from now.
func (l *Leader) Receive(link LinkID, qp *wire.QuorumPacket) {
	h := l.learners[link]
	if l.down || h == nil {
		return
	}
	if h.state >= HandlerUpToDate {
		h.ackDeadline = l.fullTick + l.cfg.SyncLimit
	}
	switch h.state {
	case HandlerAckEpoch:
		l.onAckEpoch(h, qp)
	case HandlerNewLeader:
		l.onNewLeaderAck(h, qp)
	case HandlerUpToDate, HandlerBroadcast:
		l.onPacket(h, qp)
	default:
		l.drop(h, fmt.Sprintf("unexpected %v while %s", qp.Type, h.state))
	}
}

// Drop lets a learner go: its connection failed, or the driver found a
// packet of it that does not decode. The drop comes back in Ready.Drops.
func (l *Leader) Drop(link LinkID, reason string) {
	if h := l.learners[link]; h != nil && !l.down {
		l.drop(h, reason)
	}
}

func (l *Leader) drop(h *handler, reason string) {
	delete(l.learners, h.link)
	for i, x := range l.list {
		if x == h {
			l.list = append(l.list[:i], l.list[i+1:]...)
			break
		}
	}
	h.held = nil
	l.endSync(h)
	for z, links := range l.pendingSyncs {
		for i, x := range links {
			if x == h.link {
				l.pendingSyncs[z] = append(links[:i], links[i+1:]...)
				break
			}
		}
	}
	l.ready.Drops = append(l.ready.Drops, LeaderDrop{Link: h.link, SID: h.sid, State: h.state, Reason: reason})
}

// onAckEpoch is ACKEPOCH (LearnerHandler.run, Leader.waitForEpochAck),
// checked against the leader's state when it began (CheckAckEpoch) while
// the epoch is being acked; once a quorum acked it, as in Java, only read
// (ParseAckEpoch): a learner that had logged more of the old epoch than
// the leader is truncated by its sync rather than refused.
func (l *Leader) onAckEpoch(h *handler, qp *wire.QuorumPacket) {
	var ack AckEpoch
	var err error
	if l.EpochAcked() {
		ack, err = ParseAckEpoch(qp)
	} else {
		ack, err = CheckAckEpoch(qp, l.cfg.CurrentEpoch, l.cfg.LastZxid)
	}
	if err != nil {
		l.drop(h, err.Error())
		return
	}
	h.lastZxid = ack.LastZxid
	h.state = HandlerWaitSync
	if l.EpochAcked() {
		l.ready.Syncs = append(l.ready.Syncs, h.link)
		return
	}
	if ack.Counts && !h.observer && l.epoch >= 0 {
		l.electing.Ack(h.sid)
	}
	l.maybeEpochAcked()
}

// StartSync starts the sync of a learner listed in Ready.Syncs with the
// driver's plan (PlanSync, its txn log read if the plan asked for it). The
// sync is counted against the SNAP or DIFF throttle (followers are exempt
// but counted; an observer past the limit is dropped: ErrSyncThrottled).
// Then the plan's packets go out, the learner joins the broadcast
// (Leader.startForwarding; a follower's outstanding proposals are held,
// see hold) and gets NEWLEADER, or for a SNAP: Ready.Snaps asks the
// driver for the stream, and NEWLEADER waits for SnapReady. A learner that
// is gone or not waiting for its sync is ignored.
func (l *Leader) StartSync(link LinkID, plan *SyncPlan) error {
	h := l.learners[link]
	if l.down || h == nil || h.state != HandlerWaitSync || !l.EpochAcked() || plan.ReadTxnLog {
		return nil
	}
	snap := plan.Mode == wire.PacketSnap
	th, kind := &l.diffSyncs, "DIFF"
	if snap {
		th, kind = &l.snapSyncs, "SNAP"
	}
	if !th.Begin(!h.observer) {
		err := fmt.Errorf("%w: %d %s syncs in progress, at most %d", ErrSyncThrottled, th.InProgress()+1, kind, th.Max)
		l.drop(h, fmt.Sprintf("too many concurrent %s syncs (%d > %d)", kind, th.InProgress()+1, th.Max))
		return err
	}
	h.throttle = th
	h.syncMode = plan.Mode
	// Its log ends at LastSeen once synced: ACKs it sent for later
	// proposals (an earlier connection's) no longer count.
	l.outstanding.Unack(h.sid, plan.LastSeen)
	if snap {
		l.ready.Snaps = append(l.ready.Snaps, h.link)
	}
	l.send(h, plan.Packets...)
	l.startForwarding(h, plan.LastSeen)
	if l.learners[link] != h {
		return nil // too many held proposals
	}
	h.state = HandlerNewLeader
	if !snap {
		l.sendNewLeader(h)
	}
	return nil
}

// SnapReady says the snapshot for a SNAP learner is spooled: NEWLEADER
// follows it, after the txns committed during the walk (LearnerHandler.run
// queues NEWLEADER after serializeSnapshot).
func (l *Leader) SnapReady(link LinkID) {
	if h := l.learners[link]; !l.down && h != nil && h.state == HandlerNewLeader && !h.syncStarted {
		l.sendNewLeader(h)
	}
}

func (l *Leader) endSync(h *handler) {
	if h.throttle != nil {
		h.throttle.End()
		h.throttle = nil
	}
}

// startForwarding adds the learner to the broadcast (Leader.startForwarding).
// A follower's proposals newer than its sync and not committed yet are
// held until they commit or its NEWLEADER goes out, unlike Java, which
// sends them before NEWLEADER (compat-tests/DIFFERENCES.md row 35).
func (l *Leader) startForwarding(h *handler, lastSeen wire.Zxid) {
	if !h.observer {
		for _, p := range l.props {
			if p.zxid > lastSeen {
				if !l.hold(h, p) {
					return
				}
			}
		}
	}
	h.forwarding = true
}

// hold keeps a proposal forwarded to a follower whose NEWLEADER has not
// gone out. Java 3.8.0's learner (Learner.syncWithLeader) forgets the
// proposals it got before NEWLEADER when NEWLEADER arrives, and a COMMIT
// after NEWLEADER with no PROPOSAL after NEWLEADER then dereferences a
// null and kills the follower (ZOOKEEPER-4394, fixed in 3.9). So a
// follower never gets a PROPOSAL before NEWLEADER whose COMMIT would come
// after it: a held proposal goes out with its COMMIT when it commits
// (releaseHeld), or right after NEWLEADER (sendNewLeader). Until then the
// follower cannot ACK it, and no ACK of it is expected. Observers get no
// proposals, only INFORMs, which Java's learner takes in any position.
func (l *Leader) hold(h *handler, p proposal) bool {
	if l.cfg.MaxHeld > 0 && len(h.held) >= l.cfg.MaxHeld {
		l.drop(h, "too many proposals held for the learner while it syncs")
		return false
	}
	h.held = append(h.held, p)
	return true
}

// sendNewLeader sends NEWLEADER to a learner whose sync packets are all
// out, then the proposals held for it, and starts pinging it.
func (l *Leader) sendNewLeader(h *handler) {
	data := l.cfg.NewLeaderData
	if l.lastSeen != nil {
		// LearnerHandler: the last seen configuration, which the
		// learner activates at UPTODATE.
		data = []byte(l.lastSeen.String())
	}
	l.send(h, wire.QuorumPacket{Type: wire.PacketNewLeader, Zxid: l.NewLeaderZxid(), Data: data})
	h.syncStarted = true
	for _, p := range h.held {
		l.send(h, wire.QuorumPacket{Type: wire.PacketProposal, Zxid: p.zxid, Data: p.data})
	}
	h.held = nil
}

// releaseHeld sends PROPOSAL and COMMIT of a committed proposal to a
// follower whose NEWLEADER has not gone out. Commits come in zxid order
// and every proposal after the point its sync covers was held in that
// order, so p is the oldest held one.
func (l *Leader) releaseHeld(h *handler, p proposal, commit wire.QuorumPacket) {
	if len(h.held) == 0 || h.held[0].zxid != p.zxid {
		// Cannot happen: nothing is committed at or below the zxid the
		// sync starts forwarding from. A COMMIT alone would leave the
		// follower without the txn; it syncs again instead.
		l.drop(h, fmt.Sprintf("committed proposal %v was not forwarded to the syncing learner", p.zxid))
		return
	}
	h.held[0] = proposal{}
	h.held = h.held[1:]
	if len(h.held) == 0 {
		h.held = nil
	}
	l.send(h, wire.QuorumPacket{Type: wire.PacketProposal, Zxid: p.zxid, Data: p.data}, commit)
}

// onNewLeaderAck is the learner's first packet after its sync. The
// learner's ACK deadline stays where it was (Java moves it only with the
// packets after UPTODATE).
func (l *Leader) onNewLeaderAck(h *handler, qp *wire.QuorumPacket) {
	if qp.Type != wire.PacketAck {
		l.drop(h, "Next packet was supposed to be an ACK, but received "+qp.Type.String())
		return
	}
	if !h.syncStarted {
		// Its snapshot is still being spooled: nothing to acknowledge yet.
		l.drop(h, "ACK received before NEWLEADER was sent")
		return
	}
	counts := false
	if qp.Zxid == l.NewLeaderZxid() {
		counts = !h.observer
	} else {
		l.warn(fmt.Sprintf("NEWLEADER ACK from sid %d is from a different epoch: %v, current %v", h.sid, qp.Zxid, l.NewLeaderZxid()))
	}
	l.endSync(h) // the sync ends with the NEWLEADER ACK
	h.state = HandlerUpToDate
	h.limitCheck = true
	l.ready.SyncDone = append(l.ready.SyncDone, h.link)
	if l.Serving() {
		l.sendUpToDate(h)
		return
	}
	if counts {
		l.newLeaderAcks.Ack(h.sid)
	}
	l.maybeStartServing()
}

func (l *Leader) sendUpToDate(h *handler) {
	h.state = HandlerBroadcast
	l.send(h, wire.QuorumPacket{Type: wire.PacketUpToDate, Zxid: -1})
}

// onPacket is a learner's packet once it acked NEWLEADER: an ACK counts
// (if the leader serves and the learner votes); anything else is the
// server layer's (Ready.Packets).
func (l *Leader) onPacket(h *handler, qp *wire.QuorumPacket) {
	if qp.Type != wire.PacketAck {
		l.ready.Packets = append(l.ready.Packets, LearnerPacket{Link: h.link, SID: h.sid, Packet: *qp})
		return
	}
	h.txnTimeout.Acked(qp.Zxid)
	if !l.Serving() || h.observer || l.noCommit {
		return // observers' ACKs never count; nor any once commits stopped
	}
	switch l.outstanding.Ack(h.sid, qp.Zxid) {
	case AckCounted:
		l.tryCommit()
	case AckUnknown:
		l.warn(fmt.Sprintf("Trying to commit future proposal: zxid %v from sid %d", qp.Zxid, h.sid))
	}
}

// Propose broadcasts the serving leader's next proposal (Leader.propose):
// zxids increase; data is its PROPOSAL encoding. Followers in broadcast
// get it (those whose NEWLEADER has not gone out get it held), observers
// only its INFORM at the commit. The proposal whose counter is 0xfffffffe
// is the last of the epoch (ZOOKEEPER-1277): Ready.Rollover asks for a
// new election.
func (l *Leader) Propose(z wire.Zxid, data []byte) {
	l.propose(proposal{zxid: z, data: data})
}

// ErrReconfigPending is ProposeReconfig's error while a proposed
// configuration is not committed (Java allows one at a time:
// PrepRequestProcessor's ReconfigInProgress).
var ErrReconfigPending = errors.New("zab: a reconfiguration is in progress")

// ProposeReconfig broadcasts a reconfig txn (data: its PROPOSAL encoding,
// a SetData of /zookeeper/config with next's text) proposing next
// (Leader.propose for OpCode.reconfig): next becomes the last seen
// configuration (Ready.NextConfig: the .next file), and this proposal and
// every one after it until it commits need a quorum of both the committed
// configuration and next. Its commit activates next (Ready.Activations)
// and goes to followers as COMMITANDACTIVATE and to observers as
// INFORMANDACTIVATE, each with the designated leader. It needs
// LeaderConfig.Config, next newer than it, and no other reconfiguration
// pending.
func (l *Leader) ProposeReconfig(z wire.Zxid, data []byte, next *quorum.Config) error {
	switch {
	case l.down || !l.Serving():
		return nil
	case l.cur == nil:
		return errors.New("zab: reconfiguration without LeaderConfig.Config")
	case l.ReconfigPending():
		return ErrReconfigPending
	case next == nil || next.Version <= l.cur.Version:
		return fmt.Errorf("zab: proposed configuration is not newer than version %s", quorum.HexVersion(l.cur.Version))
	}
	l.lastSeen = next
	l.ready.NextConfig = next
	l.outstanding.SetVerifiers(l.cfg.Verifier, next.Verifier)
	l.propose(proposal{zxid: z, data: data, next: next})
	return nil
}

func (l *Leader) propose(p proposal) {
	if l.down || !l.Serving() {
		return
	}
	z := p.zxid
	data := p.data
	l.outstanding.Propose(z)
	l.props = append(l.props, p)
	pkt := wire.QuorumPacket{Type: wire.PacketProposal, Zxid: z, Data: data}
	for _, h := range l.learnerList() {
		if !h.forwarding || h.observer {
			continue
		}
		if !h.syncStarted {
			l.hold(h, p)
			continue
		}
		if h.limitCheck {
			h.txnTimeout.Sent(z, l.ticks)
		}
		l.send(h, pkt)
	}
	if z.Counter() >= 0xfffffffe {
		l.ready.Rollover = true
	}
}

// Durable is the leader's own ACK: its log is durable through z
// (AckRequestProcessor); what a quorum acked commits.
func (l *Leader) Durable(z wire.Zxid) {
	if l.down || !l.Serving() || l.noCommit {
		return
	}
	l.outstanding.AckThrough(l.cfg.ID, z)
	l.tryCommit()
}

// RetryCommits commits what CommitGate held back.
func (l *Leader) RetryCommits() {
	if l.commitsGated && !l.down && l.Serving() {
		l.commitsGated = false
		l.tryCommit()
	}
}

// tryCommit commits, in zxid order, every proposal a quorum of voters
// acked (Leader.tryToCommit): COMMIT to the followers, INFORM to the
// observers, PROPOSAL and COMMIT to a follower it was held for; the
// driver applies Ready.Commits; the SYNCs waiting for it are answered.
func (l *Leader) tryCommit() {
	if gate := l.cfg.CommitGate; gate != nil && l.outstanding.Len() > 0 && !gate() {
		l.commitsGated = true
		return
	}
	for !l.noCommit {
		acks, _ := l.outstanding.Next()
		z, ok := l.outstanding.Commit()
		if !ok {
			return
		}
		p := l.props[0]
		l.props[0] = proposal{}
		l.props = l.props[1:]
		if len(l.props) == 0 {
			l.props = nil
		}
		commit := wire.QuorumPacket{Type: wire.PacketCommit, Zxid: z}
		inform := wire.QuorumPacket{Type: wire.PacketInform, Zxid: z, Data: p.data}
		if p.next != nil {
			// Leader.tryToCommit of a reconfig: activate, then
			// COMMITANDACTIVATE and INFORMANDACTIVATE with the designated
			// leader.
			d := l.designatedLeader(p.next, acks, z)
			l.activate(p.next, z, d)
			commit = wire.QuorumPacket{Type: wire.PacketCommitAndActivate, Zxid: z, Data: binary.BigEndian.AppendUint64(nil, uint64(d))}
			inform = wire.QuorumPacket{Type: wire.PacketInformAndActivate, Zxid: z,
				Data: append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(p.data)), uint64(d)), p.data...)}
		}
		for _, h := range l.learnerList() {
			switch {
			case !h.forwarding:
			case h.observer:
				l.send(h, inform)
			case !h.syncStarted:
				l.releaseHeld(h, p, commit)
			default:
				l.send(h, commit)
			}
		}
		l.ready.Commits = append(l.ready.Commits, z)
		for _, link := range l.pendingSyncs[z] {
			if h := l.learners[link]; h != nil {
				l.send(h, wire.QuorumPacket{Type: wire.PacketSync, Zxid: 0})
			}
		}
		delete(l.pendingSyncs, z)
	}
}

// SyncRequest is a learner's SYNC (Leader.processSync): answered at once
// when nothing is outstanding, else once the newest proposal commits.
func (l *Leader) SyncRequest(link LinkID) {
	h := l.learners[link]
	if l.down || h == nil {
		return
	}
	if l.outstanding.Len() == 0 {
		l.send(h, wire.QuorumPacket{Type: wire.PacketSync, Zxid: 0})
		return
	}
	last := l.outstanding.LastProposed()
	l.pendingSyncs[last] = append(l.pendingSyncs[last], link)
}

// Send queues a packet of the server layer for a learner (a REVALIDATE
// answer), in order with the Leader's own.
func (l *Leader) Send(link LinkID, qp wire.QuorumPacket) {
	if h := l.learners[link]; h != nil && !l.down {
		l.send(h, qp)
	}
}

// learnerList is the learners in LinkID order, in a buffer a loop may
// drop learners while it walks (no loop over it calls another).
func (l *Leader) learnerList() []*handler {
	clear(l.scratch)
	l.scratch = append(l.scratch[:0], l.list...)
	return l.scratch
}
