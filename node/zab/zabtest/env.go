package zabtest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

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
//	lead ID voters=1,2,3 [commitlog=N] [txnlog=off] [forcesnap] [manualsnap]
//	        [phase=T] [synclimit=S] [maxsnap=N] [maxdiff=N] [maxheld=N]
//	    ID starts leading (zab.Leader, phases of T ticks, default 20:
//	    initLimit T/2; syncLimit S, default 5); its committed log is the
//	    last N txns of its log (default 500); txnlog=off is
//	    snapshotSizeFactor < 0; maxsnap/maxdiff are the sync throttle's
//	    limits (default 10), maxheld the proposals held for one syncing
//	    follower (default: no bound)
//	connect ID
//	    learner ID sends FOLLOWERINFO (OBSERVERINFO for an observer)
//	deliver FROM TO [n=K] [crash=POINT]
//	    delivers packets in flight FROM -> TO (all, or K) and prints what
//	    the receiver did and sent; with crash=, the receiving learner
//	    crashes at the first packet whose Ready reaches POINT:
//	    before-sync (its txns appended, not durable) or before-send (all
//	    it persists durable, nothing sent); the packets behind it are
//	    lost with its connection
//	stabilize
//	    delivers every packet in flight, link by link in id order, until
//	    none is left
//	propose [n=K] [counter=C]
//	    the serving leader proposes K txns (default 1; the first with
//	    counter C): logged (not yet durable), then zab.Leader.Propose
//	snap-ready ID
//	    the leader's snapshot walk for ID is done (with lead manualsnap;
//	    otherwise a walk ends at once): NEWLEADER follows
//	inject FROM TO TYPE [E:C]
//	    puts a packet on the link FROM -> TO that the model would not
//	    send (an ACK out of turn or of a proposal never made, a COMMIT
//	    out of order, a PING, a SYNC); a PROPOSAL or INFORM carries the
//	    environment's txn of that zxid, an UPTODATE's zxid is -1
//	sync-log ID
//	    ID's log becomes durable: a follower ACKs what it logged, the
//	    leader counts its own ACK (AckRequestProcessor) and commits what
//	    has a quorum: COMMIT to followers, INFORM to observers
//	tick [N]
//	    N ticks (default 1) of the leader
//	crash ID
//	    ID loses what its store had not made durable, its protocol state
//	    and the packets in flight to and from it
//	log ID
//	    ID's store
//	net
//	    the packets in flight
//
// Every decision is package zab's: the leader's are zab.Leader's (epoch,
// quorums, each learner's handshake, proposals, commits, pings,
// deadlines), zab.PlanSync's (each learner's sync) and zab.CommittedLog's;
// the learner's are zab.LearnerSync's, then zab.Broadcast's. The
// environment is their driver: it acts on each Ready persist-first, as
// node must (leader.go for the leader's, learner.go for a learner's
// broadcast). A SNAP carries the leader's log up to its zxid (the model of
// a snapshot); the database a SNAP or TRUNC builds before NEWLEADER
// becomes the learner's log when the snapshot is written. A learner that
// leaves its leader (a broadcast step failed) keeps its log, durable or
// not, and registers again with "connect".
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
	case "propose-reconfig":
		return e.cmdProposeReconfig(kv)
	case "synced-followers":
		// The followers a reconfig's NewConfigNoQuorum check counts.
		if e.leader == nil {
			return "", fmt.Errorf("no leader")
		}
		var ids []int64
		for id := range e.leader.zl.SyncedFollowers() {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		return fmt.Sprint(ids), nil
	case "snap-ready":
		return e.cmdSnapReady(words)
	case "inject":
		return e.cmdInject(words)
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
		return strings.Join(e.crashPeer(p), "\n"), nil
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

func (e *Env) cmdConnect(words []string) (string, error) {
	p, err := e.peerArg(words, 0)
	if err != nil {
		return "", err
	}
	if e.leader == nil {
		return "", fmt.Errorf("no leader")
	}
	// A learner of a leader with a configuration starts from the
	// leader's committed one, and its reconfigEnabled.
	var view zab.LearnerView
	if cur, _ := e.leader.zl.Config(); cur != nil {
		view = zab.LearnerView{ID: p.id, LeaderID: e.leader.id, Observer: p.observer, Config: cur, ReconfigEnabled: e.leader.reconfig,
			LastSeenVersion: cur.Version}
	}
	ls := zab.NewLearnerSync(zab.LearnerConfig{ID: p.id, Observer: p.observer, LastLogged: p.store.LastZxid(),
		AcceptedEpoch: p.store.AcceptedEpoch, CurrentEpoch: p.store.CurrentEpoch, MaxRecord: 1 << 20, View: view})
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

// cmdInject is "inject FROM TO TYPE [E:C]": a packet that the model would
// not send on its own (an ACK out of turn or of a proposal never made, a
// COMMIT out of order, a PING, a SYNC). A PROPOSAL or INFORM carries the
// environment's txn of its zxid; an UPTODATE without a zxid has -1, as the
// leader sends it.
func (e *Env) cmdInject(words []string) (string, error) {
	if len(words) < 3 || len(words) > 4 {
		return "", fmt.Errorf("inject FROM TO TYPE [E:C]")
	}
	from, err := e.peerArg(words, 0)
	if err != nil {
		return "", err
	}
	to, err := e.peerArg(words, 1)
	if err != nil {
		return "", err
	}
	qp := wire.QuorumPacket{}
	for t := wire.PacketType(1); t.Valid(); t++ {
		if t.String() == words[2] {
			qp.Type = t
		}
	}
	if qp.Type == 0 {
		return "", fmt.Errorf("inject: unknown packet type %q", words[2])
	}
	if len(words) > 3 {
		if qp.Zxid, err = ParseZxid(words[3]); err != nil {
			return "", err
		}
	} else if qp.Type == wire.PacketUpToDate {
		qp.Zxid = -1
	}
	switch qp.Type {
	case wire.PacketProposal, wire.PacketInform:
		qp.Data = wire.AppendTxnEntry(nil, Txn(qp.Zxid))
	}
	return e.send(from.id, to.id, qp), nil
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
	armed := e.crashPoint != ""
	var out []string
	for _, qp := range e.Net.Deliver(from.id, to.id, n) {
		if armed && e.crashPoint == "" {
			// The receiver crashed: the rest went with its connection.
			out = append(out, fmt.Sprintf("%d->%d %s: lost in the crash", from.id, to.id, Packet(qp)))
			continue
		}
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
	out = append(out, configLines(r.NextConfig, r.Activations)...)
	if leave := leaving(r.Activations); leave != "" {
		out = append(out, "leaves the leader: "+leave)
		return append(out, e.disconnect(p)...), nil
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
		if crashed, lines := e.crashAt(p, crashBeforeSync); crashed {
			out = append(out, fmt.Sprintf("logged %d txns; crash before the fsync: %s", n, st.String()))
			return append(out, lines...), nil
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
	if len(r.Messages) > 0 {
		if crashed, lines := e.crashAt(p, crashBeforeSend); crashed {
			out = append(out, "crash before sending: "+st.String())
			return append(out, lines...), nil
		}
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

// syncLog makes p's log durable and acts on it: the leader's own ACK, or a
// follower's ACKs of what it logged.
func (e *Env) syncLog(p *peer) []string {
	p.store.Sync()
	out := []string{"synced: " + p.store.String()}
	if ld := e.leader; ld != nil && ld.id == p.id {
		return append(out, e.leaderDurable(p)...)
	}
	return append(out, e.learnerDurable(p)...)
}
