package zabtest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// Env is a set of peers on a Network, each with a Store, one of them
// leading. Handle runs one script command and returns what it printed.
//
// Commands (arguments are words or key=value):
//
//	peer ID [log=RANGES] [accepted=E] [current=E] [observer]
//	    a peer whose durable log holds RANGES ("1:1..1:7,2:1..2:3"); the
//	    epochs default to the last txn's
//	lead ID voters=1,2,3 [commitlog=N] [txnlog=off] [forcesnap] [phase=T]
//	    ID starts leading (zab.Leader, phases of T ticks, default 20);
//	    its committed log is the last N txns of its log (default 500);
//	    txnlog=off is snapshotSizeFactor < 0
//	connect ID
//	    learner ID sends FOLLOWERINFO (OBSERVERINFO for an observer)
//	deliver FROM TO [n=K]
//	    delivers packets in flight FROM -> TO (all, or K) and prints what
//	    the receiver did and sent
//	stabilize
//	    delivers every packet in flight, link by link in id order, until
//	    none is left
//	propose [n=K]
//	    the serving leader proposes K txns (default 1): logged (not yet
//	    durable), counted in zab.Outstanding, sent to the followers in
//	    broadcast
//	sync-log ID
//	    ID's log becomes durable: a follower ACKs what it logged, the
//	    leader counts its own ACK (AckRequestProcessor) and commits what
//	    has a quorum: COMMIT to followers, INFORM to observers
//	tick [N]
//	    N ticks (default 1) of the leader
//	deliver FROM TO [n=K] crash=POINT
//	    the receiver crashes at the first packet whose Ready reaches
//	    POINT: before-sync (its txns appended, not durable) or
//	    before-send (all it persists durable, nothing sent)
//	inject FROM TO TYPE [E:C]
//	    puts a packet on the link that the model would not send
//	    (COMMIT, PROPOSAL, INFORM, PING, SYNC, UPTODATE)
//	crash ID
//	    ID loses what its store had not made durable, its protocol state
//	    and the packets in flight to and from it
//	log ID
//	    ID's store
//	net
//	    the packets in flight
//
// Every decision is package zab's: the leader's are zab.Leader's (epoch,
// quorums, deadlines), zab.PlanSync's (each learner's sync) and
// zab.CommittedLog's; the learner's are zab.LearnerSync's, then
// zab.Broadcast's. The environment is their driver: it acts on each Ready
// persist-first, as node must. A SNAP carries the leader's log up to its
// zxid (the model of a snapshot); the database a SNAP or TRUNC builds
// before NEWLEADER becomes the learner's log when the snapshot is
// written. A learner that leaves its leader (a broadcast step failed)
// keeps its log, durable or not, and registers again with "connect".
type Env struct {
	Net    *Network
	peers  map[int64]*peer
	leader *leaderSide
	// crashPoint is the crash= of the delivery in progress.
	crashPoint string
}

type peer struct {
	id       int64
	observer bool
	store    *Store
	learner  *learnerSide // nil when not following
}

// leaderSide is the environment's driver of a zab.Leader.
type leaderSide struct {
	id        int64
	zl        *zab.Leader
	committed zab.CommittedLog
	txnLog    bool
	forceSnap bool
	learners  map[int64]*handler
	// the leader's current epoch and last zxid when it started
	// (leaderStateSummary)
	summaryEpoch int64
	summaryZxid  wire.Zxid
	// broadcast: the proposals waiting for a quorum (zab.Outstanding,
	// from serving on) and their txns
	out      *zab.Outstanding
	verifier quorum.Verifier
	txns     map[wire.Zxid]*wire.TxnEntry
}

// handler is the leader's view of one learner (node's learnerHandler).
type handler struct {
	sid      int64
	voter    bool
	state    string // "epoch", "ackepoch", "waitsync", "newleader", "uptodate", "broadcast"
	lastZxid wire.Zxid
}

// learnerSide is a learner syncing with a leader (zab.LearnerSync), then
// in its broadcast phase (zab.Broadcast, bc); db is the history of the
// database a SNAP or TRUNC builds before NEWLEADER, applied the txns
// committed in broadcast.
type learnerSide struct {
	leader  int64
	ls      *zab.LearnerSync
	db      []*wire.TxnEntry
	bc      *zab.Broadcast
	applied []wire.Zxid
}

// NewEnv returns an empty environment.
func NewEnv() *Env { return &Env{Net: NewNetwork(), peers: map[int64]*peer{}} }

// Handle runs one command; it returns an error for a bad command or a
// protocol step the model cannot take.
func (e *Env) Handle(name string, words []string, kv map[string]string) (string, error) {
	switch name {
	case "peer":
		return e.cmdPeer(words, kv)
	case "lead":
		return e.cmdLead(words, kv)
	case "connect":
		return e.cmdConnect(words)
	case "deliver":
		return e.cmdDeliver(words, kv)
	case "tick":
		return e.cmdTick(words)
	case "stabilize":
		return e.cmdStabilize()
	case "propose":
		return e.cmdPropose(kv)
	case "sync-log":
		p, err := e.peerArg(words, 0)
		if err != nil {
			return "", err
		}
		return strings.Join(e.syncLog(p), "\n"), nil
	case "crash":
		p, err := e.peerArg(words, 0)
		if err != nil {
			return "", err
		}
		return e.crashPeer(p), nil
	case "inject":
		return e.cmdInject(words)
	case "log":
		p, err := e.peerArg(words, 0)
		if err != nil {
			return "", err
		}
		return p.store.String(), nil
	case "net":
		return e.Net.String(), nil
	}
	return "", fmt.Errorf("unknown command %q", name)
}

func (e *Env) peerArg(words []string, i int) (*peer, error) {
	if len(words) <= i {
		return nil, fmt.Errorf("missing peer id")
	}
	id, err := strconv.ParseInt(words[i], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("peer id %q: %w", words[i], err)
	}
	p := e.peers[id]
	if p == nil {
		return nil, fmt.Errorf("no peer %d", id)
	}
	return p, nil
}

func (e *Env) cmdPeer(words []string, kv map[string]string) (string, error) {
	if len(words) < 1 {
		return "", fmt.Errorf("peer ID [log=RANGES]")
	}
	id, err := strconv.ParseInt(words[0], 10, 64)
	if err != nil {
		return "", err
	}
	st := &Store{}
	if r, ok := kv["log"]; ok {
		zs, err := ParseRanges(r)
		if err != nil {
			return "", err
		}
		for _, z := range zs {
			if err := st.Append(Txn(z)); err != nil {
				return "", err
			}
		}
		st.Sync()
	}
	last := int64(st.LastZxid().Epoch())
	st.AcceptedEpoch, st.CurrentEpoch = last, last
	for _, f := range []struct {
		key string
		dst *int64
	}{{"accepted", &st.AcceptedEpoch}, {"current", &st.CurrentEpoch}} {
		if v, ok := kv[f.key]; ok {
			if *f.dst, err = strconv.ParseInt(v, 10, 64); err != nil {
				return "", fmt.Errorf("%s: %w", f.key, err)
			}
		}
	}
	p := &peer{id: id, store: st}
	for _, w := range words[1:] {
		if w == "observer" {
			p.observer = true
		}
	}
	e.peers[id] = p
	return st.String(), nil
}

func (e *Env) cmdLead(words []string, kv map[string]string) (string, error) {
	p, err := e.peerArg(words, 0)
	if err != nil {
		return "", err
	}
	var voters []int64
	for _, s := range strings.Split(kv["voters"], ",") {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return "", fmt.Errorf("voters: %w", err)
		}
		voters = append(voters, id)
	}
	limit, phase := 0, int64(20)
	if v, ok := kv["commitlog"]; ok {
		if limit, err = strconv.Atoi(v); err != nil {
			return "", fmt.Errorf("commitlog: %w", err)
		}
	}
	if v, ok := kv["phase"]; ok {
		if phase, err = strconv.ParseInt(v, 10, 64); err != nil {
			return "", fmt.Errorf("phase: %w", err)
		}
	}
	v := quorum.NewMajority(voters)
	zl, err := zab.NewLeader(zab.LeaderConfig{ID: p.id, Verifier: v,
		AcceptedEpoch: p.store.AcceptedEpoch, CurrentEpoch: p.store.CurrentEpoch, PhaseTicks: phase})
	if err != nil {
		return "", err
	}
	ld := &leaderSide{id: p.id, zl: zl, committed: zab.NewCommittedLog(limit), txnLog: kv["txnlog"] != "off",
		learners: map[int64]*handler{}, summaryEpoch: p.store.CurrentEpoch, summaryZxid: p.store.LastZxid(),
		verifier: v, txns: map[wire.Zxid]*wire.TxnEntry{}}
	for _, w := range words[1:] {
		if w == "forcesnap" {
			ld.forceSnap = true
		}
	}
	ld.committed.Reset(p.store.Entries())
	e.leader = ld
	minC, maxC := ld.committed.Bounds(p.store.LastZxid())
	out := []string{fmt.Sprintf("%d leads; committed log %s..%s", p.id, Zxid(minC), Zxid(maxC))}
	return strings.Join(append(out, e.leaderReady()...), "\n"), nil
}

func (e *Env) cmdConnect(words []string) (string, error) {
	p, err := e.peerArg(words, 0)
	if err != nil {
		return "", err
	}
	if e.leader == nil {
		return "", fmt.Errorf("no leader")
	}
	ls := zab.NewLearnerSync(zab.LearnerConfig{ID: p.id, Observer: p.observer, LastLogged: p.store.LastZxid(),
		AcceptedEpoch: p.store.AcceptedEpoch, CurrentEpoch: p.store.CurrentEpoch, MaxRecord: 1 << 20})
	p.learner = &learnerSide{leader: e.leader.id, ls: ls}
	return e.send(p.id, e.leader.id, ls.Start()), nil
}

func (e *Env) cmdTick(words []string) (string, error) {
	n := 1
	if len(words) > 0 {
		var err error
		if n, err = strconv.Atoi(words[0]); err != nil {
			return "", err
		}
	}
	if e.leader == nil {
		return "", fmt.Errorf("no leader")
	}
	var out []string
	for i := 0; i < n && e.leader != nil; i++ {
		e.leader.zl.Tick()
		out = append(out, e.leaderReady()...)
	}
	return strings.Join(out, "\n"), nil
}

func (e *Env) cmdStabilize() (string, error) {
	var out []string
	for {
		links := e.Net.links()
		if len(links) == 0 {
			return strings.Join(out, "\n"), nil
		}
		for _, l := range links {
			s, err := e.cmdDeliver([]string{strconv.FormatInt(l.from, 10), strconv.FormatInt(l.to, 10)}, nil)
			if s != "" {
				out = append(out, s)
			}
			if err != nil {
				return strings.Join(out, "\n"), err
			}
		}
	}
}

func (e *Env) send(from, to int64, qp wire.QuorumPacket) string {
	e.Net.Send(from, to, qp)
	return fmt.Sprintf("send %d->%d %s", from, to, Packet(qp))
}

// leaderReady acts on the leader's Ready as node's driver does: persist
// the epochs, then LEADERINFO, syncs and UPTODATE.
func (e *Env) leaderReady() []string {
	var out []string
	for e.leader != nil && e.leader.zl.HasReady() {
		ld := e.leader
		r := ld.zl.Ready()
		st := e.peers[ld.id].store
		if r.StepDown != "" {
			// The leader's connections close; its learners look again.
			out = append(out, "step down: "+r.StepDown)
			e.leader = nil
			e.Net.Drop(ld.id)
			for _, p := range e.peers {
				if p.learner != nil && p.learner.leader == ld.id {
					p.learner = nil
				}
			}
			return out
		}
		if hs := r.HardState; hs != nil {
			st.AcceptedEpoch, st.CurrentEpoch = hs.AcceptedEpoch, hs.CurrentEpoch
			out = append(out, fmt.Sprintf("persist accepted=%d current=%d", hs.AcceptedEpoch, hs.CurrentEpoch))
		}
		if r.EpochDecided {
			out = append(out, fmt.Sprintf("epoch %d decided by %s", ld.zl.Epoch(), ld.zl.EpochVoters()))
			for _, h := range ld.sorted("epoch") {
				out = append(out, e.sendLeaderInfo(h))
			}
		}
		if r.EpochAcked {
			out = append(out, "epoch acked")
			for _, h := range ld.sorted("waitsync") {
				out = append(out, e.syncLearner(h)...)
			}
		}
		if r.CheckSynced {
			// In sync: every voter whose sync got to NEWLEADER (the
			// environment has no ACK deadlines: links are up or cut).
			var sids []int64
			for _, h := range ld.learners {
				if h.voter && (h.state == "newleader" || h.state == "uptodate" || h.state == "broadcast") {
					sids = append(sids, h.sid)
				}
			}
			ld.zl.Synced(sids)
		}
		if r.Serving {
			ld.out = zab.NewOutstanding(ld.verifier, ld.zl.NewLeaderZxid())
			out = append(out, "serving; NEWLEADER acked by "+ld.zl.NewLeaderVoters())
			for _, h := range ld.sorted("uptodate") {
				out = append(out, e.sendUpToDate(h))
			}
		}
	}
	return out
}

func (ld *leaderSide) sorted(state string) []*handler {
	var hs []*handler
	for _, h := range ld.learners {
		if h.state == state {
			hs = append(hs, h)
		}
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].sid < hs[j].sid })
	return hs
}

func (e *Env) sendLeaderInfo(h *handler) string {
	h.state = "ackepoch"
	return e.send(e.leader.id, h.sid, wire.QuorumPacket{Type: wire.PacketLeaderInfo, Zxid: e.leader.zl.NewLeaderZxid(),
		Data: wire.EpochData(wire.ProtocolVersion)})
}

func (e *Env) sendUpToDate(h *handler) string {
	h.state = "broadcast"
	return e.send(e.leader.id, h.sid, wire.QuorumPacket{Type: wire.PacketUpToDate, Zxid: -1})
}

// syncLearner plans h's sync (zab.PlanSync) and sends it, then NEWLEADER.
func (e *Env) syncLearner(h *handler) []string {
	ld := e.leader
	lst := e.peers[ld.id].store
	in := zab.SyncInput{Peer: h.lastZxid, LastProcessed: lst.LastZxid(), Committed: ld.committed.Window(),
		ForceSnap: ld.forceSnap, TxnLog: ld.txnLog}
	plan := zab.PlanSync(in)
	var out []string
	if plan.ReadTxnLog {
		in.LogRead = true
		for _, t := range lst.From(in.Peer) {
			in.FromLog = append(in.FromLog, zab.NewCommitted(t, nil))
		}
		out = append(out, fmt.Sprintf("read the txn log from %s: %d txns", Zxid(in.Peer), len(in.FromLog)))
		plan = zab.PlanSync(in)
	}
	out = append(out, fmt.Sprintf("sync %d: %v (%v), forwarding after %s", h.sid, plan.Mode, plan.Reason, Zxid(plan.LastSeen)))
	pkts := plan.Packets
	if plan.Mode == wire.PacketSnap {
		pkts = []wire.QuorumPacket{{Type: wire.PacketSnap, Zxid: lst.LastZxid()}}
	}
	for _, qp := range pkts {
		out = append(out, e.send(ld.id, h.sid, qp))
	}
	out = append(out, e.send(ld.id, h.sid, wire.QuorumPacket{Type: wire.PacketNewLeader, Zxid: ld.zl.NewLeaderZxid()}))
	h.state = "newleader"
	return out
}

func (e *Env) cmdDeliver(words []string, kv map[string]string) (string, error) {
	from, err := e.peerArg(words, 0)
	if err != nil {
		return "", err
	}
	to, err := e.peerArg(words, 1)
	if err != nil {
		return "", err
	}
	n := 0
	if v, ok := kv["n"]; ok {
		if n, err = strconv.Atoi(v); err != nil {
			return "", err
		}
	}
	if e.crashPoint, err = parseCrashPoint(kv); err != nil {
		return "", err
	}
	defer func() { e.crashPoint = "" }()
	var out []string
	for _, qp := range e.Net.Deliver(from.id, to.id, n) {
		out = append(out, fmt.Sprintf("%d->%d %s", from.id, to.id, Packet(qp)))
		var lines []string
		var err error
		if e.leader != nil && to.id == e.leader.id {
			lines, err = e.leaderReceive(from, qp)
		} else {
			lines, err = e.learnerReceive(to, from.id, qp)
		}
		for _, l := range lines {
			out = append(out, "  "+l)
		}
		if err != nil {
			return strings.Join(out, "\n"), err
		}
	}
	return strings.Join(out, "\n"), nil
}

// leaderReceive is the leader's side of a learner's handshake.
func (e *Env) leaderReceive(from *peer, qp wire.QuorumPacket) ([]string, error) {
	ld := e.leader
	h := ld.learners[from.id]
	switch qp.Type {
	case wire.PacketFollowerInfo, wire.PacketObserverInfo:
		li, err := zab.CheckLearnerInfo(&qp, 0, func(sid int64) (bool, bool) {
			p, ok := e.peers[sid]
			return ok && !p.observer, ok
		})
		if err != nil {
			e.Net.Drop(from.id)
			return []string{"dropped: " + err.Error()}, nil
		}
		h = &handler{sid: li.ID, voter: !li.Observer, state: "epoch"}
		ld.learners[h.sid] = h
		ld.zl.LearnerInfo(h.sid, li.AcceptedEpoch, h.voter)
		out := e.leaderReady()
		if e.leader == ld && ld.zl.Epoch() >= 0 && h.state == "epoch" {
			out = append(out, e.sendLeaderInfo(h))
		}
		return out, nil
	case wire.PacketAckEpoch:
		if h == nil || h.state != "ackepoch" {
			return nil, fmt.Errorf("ACKEPOCH from %d out of turn", from.id)
		}
		ack, err := zab.CheckAckEpoch(&qp, ld.summaryEpoch, ld.summaryZxid)
		if err != nil {
			delete(ld.learners, h.sid)
			e.Net.Drop(from.id)
			return []string{"dropped: " + err.Error()}, nil
		}
		h.lastZxid, h.state = ack.LastZxid, "waitsync"
		if ld.zl.EpochAcked() {
			return e.syncLearner(h), nil
		}
		ld.zl.AckEpoch(h.sid, ack.Counts && h.voter)
		return e.leaderReady(), nil
	case wire.PacketAck:
		if h != nil && h.state == "broadcast" {
			if ld.out == nil {
				return nil, nil
			}
			res := ld.out.Ack(h.sid, qp.Zxid)
			if h.voter && res == zab.AckCounted {
				return e.commit(), nil
			}
			if res == zab.AckUnknown {
				return []string{"ACK of a proposal never made"}, nil
			}
			return nil, nil
		}
		if h == nil || h.state != "newleader" || qp.Zxid != ld.zl.NewLeaderZxid() {
			return []string{"ignored"}, nil
		}
		h.state = "uptodate"
		if ld.zl.Serving() {
			return []string{e.sendUpToDate(h)}, nil
		}
		ld.zl.NewLeaderAck(h.sid, h.voter)
		return e.leaderReady(), nil
	}
	return []string{"ignored"}, nil
}

// learnerReceive steps the learner's zab.LearnerSync and acts on its
// Ready as a driver must: truncate or take the snapshot, apply, write the
// snapshot, log and sync, write the epochs, and only then send.
func (e *Env) learnerReceive(p *peer, from int64, qp wire.QuorumPacket) ([]string, error) {
	l := p.learner
	if l == nil || l.leader != from {
		return []string{"ignored: not syncing with " + strconv.FormatInt(from, 10)}, nil
	}
	if l.ls.State() == zab.LearnerSynced {
		return e.learnerBroadcast(p, from, qp)
	}
	r, err := l.ls.Step(&qp)
	if err != nil {
		return nil, err
	}
	st := p.store
	var out []string
	for _, w := range r.Warnings {
		out = append(out, "warning: "+w)
	}
	if r.Truncate {
		if err := st.Truncate(r.TruncateTo); err != nil {
			return out, err
		}
		st.Sync()
		l.db = append([]*wire.TxnEntry(nil), st.Entries()...)
		out = append(out, "truncated: "+st.String())
	}
	if r.ReceiveSnapshot {
		l.db = nil
		for _, t := range e.peers[from].store.Entries() {
			if t.Hdr.Zxid <= r.SnapshotZxid {
				l.db = append(l.db, t)
			}
		}
		out = append(out, fmt.Sprintf("received the snapshot at %s", Zxid(r.SnapshotZxid)))
	}
	if len(r.Apply) > 0 {
		l.db = append(l.db, r.Apply...)
		out = append(out, fmt.Sprintf("applied %d txns in memory", len(r.Apply)))
	}
	if r.WriteSnapshot {
		*st = Store{AcceptedEpoch: st.AcceptedEpoch, CurrentEpoch: st.CurrentEpoch}
		if err := st.Append(l.db...); err != nil {
			return out, err
		}
		st.Sync()
		out = append(out, "snapshot written: "+st.String())
	}
	if n := len(r.Append); n > 0 {
		if err := st.Append(r.Append...); err != nil {
			return out, err
		}
		if e.crashAt(p, crashBeforeSync) {
			return append(out, fmt.Sprintf("logged %d txns; crash before the fsync: %s", n, st.String())), nil
		}
		st.Sync()
		out = append(out, fmt.Sprintf("logged %d txns, synced", n))
	}
	if hs := r.HardState; hs != nil {
		var parts []string
		if hs.AcceptedEpoch != st.AcceptedEpoch {
			parts = append(parts, fmt.Sprintf("accepted=%d", hs.AcceptedEpoch))
		}
		if hs.CurrentEpoch != st.CurrentEpoch {
			parts = append(parts, fmt.Sprintf("current=%d", hs.CurrentEpoch))
		}
		st.AcceptedEpoch, st.CurrentEpoch = hs.AcceptedEpoch, hs.CurrentEpoch
		if len(parts) == 0 {
			parts = []string{"(epochs unchanged)"}
		}
		out = append(out, "persist "+strings.Join(parts, " "))
	}
	if len(r.Messages) > 0 && e.crashAt(p, crashBeforeSend) {
		return append(out, "crash before sending: "+st.String()), nil
	}
	for _, m := range r.Messages {
		out = append(out, e.send(p.id, from, m))
	}
	if l.ls.State() == zab.LearnerSynced {
		out = append(out, "up to date: "+st.String())
		out = append(out, e.startBroadcast(p)...)
	}
	return out, nil
}

// Txn is the create of "/t<epoch>.<counter>" with zxid z, as the
// environment's logs hold.
func Txn(z wire.Zxid) *wire.TxnEntry {
	return &wire.TxnEntry{Hdr: wire.TxnHeader{ClientID: 1, Cxid: 1, Zxid: z, Time: 1, Type: wire.OpCreate},
		Body: &wire.CreateTxn{Path: fmt.Sprintf("/t%d.%d", z.Epoch(), z.Counter()), Data: []byte("x")}}
}

// ParseRanges reads "1:1..1:7,2:1" into zxids; a range stays in one
// epoch.
func ParseRanges(s string) ([]wire.Zxid, error) {
	var out []wire.Zxid
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "..")
		a, err := ParseZxid(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = ParseZxid(hi); err != nil {
				return nil, err
			}
		}
		if b < a || a.Epoch() != b.Epoch() {
			return nil, fmt.Errorf("bad range %q", part)
		}
		for z := a; z <= b; z++ {
			out = append(out, z)
		}
	}
	if !sort.SliceIsSorted(out, func(i, j int) bool { return out[i] < out[j] }) {
		return nil, fmt.Errorf("ranges %q are not in order", s)
	}
	return out, nil
}

// ParseZxid reads "epoch:counter".
func ParseZxid(s string) (wire.Zxid, error) {
	es, cs, ok := strings.Cut(s, ":")
	if !ok {
		return 0, fmt.Errorf("zxid %q is not epoch:counter", s)
	}
	ep, err := strconv.ParseUint(es, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("zxid %q: %w", s, err)
	}
	c, err := strconv.ParseUint(cs, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("zxid %q: %w", s, err)
	}
	return wire.MakeZxid(uint32(ep), uint32(c)), nil
}

func (e *Env) cmdPropose(kv map[string]string) (string, error) {
	ld := e.leader
	if ld == nil || ld.out == nil {
		return "", fmt.Errorf("no serving leader")
	}
	n := 1
	if v, ok := kv["n"]; ok {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			return "", err
		}
	}
	st := e.peers[ld.id].store
	var out []string
	for i := 0; i < n; i++ {
		z := ld.out.LastProposed() + 1
		t := Txn(z)
		if err := st.Append(t); err != nil {
			return strings.Join(out, "\n"), err
		}
		ld.out.Propose(z)
		ld.txns[z] = t
		out = append(out, "propose "+Zxid(z))
		for _, h := range ld.sorted("broadcast") {
			if h.voter {
				out = append(out, e.send(ld.id, h.sid, wire.QuorumPacket{Type: wire.PacketProposal, Zxid: z, Data: wire.AppendTxnEntry(nil, t)}))
			}
		}
	}
	return strings.Join(out, "\n"), nil
}

// syncLog makes p's log durable and acts on it: the leader's own ACK, or a
// follower's ACKs of what it logged.
func (e *Env) syncLog(p *peer) []string {
	p.store.Sync()
	out := []string{"synced: " + p.store.String()}
	if ld := e.leader; ld != nil && ld.id == p.id {
		if ld.out != nil {
			ld.out.AckThrough(p.id, p.store.LastZxid())
			out = append(out, e.commit()...)
		}
		return out
	}
	return append(out, e.learnerDurable(p)...)
}

// commit commits what has a quorum, in zxid order (Leader.tryToCommit).
func (e *Env) commit() []string {
	ld := e.leader
	var out []string
	for {
		z, ok := ld.out.Commit()
		if !ok {
			return out
		}
		t := ld.txns[z]
		delete(ld.txns, z)
		ld.committed.Add(t, nil) // as node's leader does when it applies z
		out = append(out, "commit "+Zxid(z))
		for _, h := range ld.sorted("broadcast") {
			if h.voter {
				out = append(out, e.send(ld.id, h.sid, wire.QuorumPacket{Type: wire.PacketCommit, Zxid: z}))
			} else {
				out = append(out, e.send(ld.id, h.sid, wire.QuorumPacket{Type: wire.PacketInform, Zxid: z, Data: wire.AppendTxnEntry(nil, t)}))
			}
		}
	}
}
