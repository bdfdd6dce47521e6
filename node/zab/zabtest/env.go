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
//	deliver FROM TO [n=K]
//	    delivers packets in flight FROM -> TO (all, or K) and prints what
//	    the receiver did and sent
//	stabilize
//	    delivers every packet in flight, link by link in id order, until
//	    none is left
//	propose [n=K] [counter=C]
//	    the serving leader proposes K txns (default 1; the first with
//	    counter C): logged (not yet durable), then zab.Leader.Propose
//	snap-ready ID
//	    the leader's snapshot walk for ID is done (with lead manualsnap;
//	    otherwise a walk ends at once): NEWLEADER follows
//	inject FROM TO TYPE ZXID
//	    a packet with no data on the link FROM -> TO
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
// the learner's are zab.LearnerSync's. The environment is their driver:
// it acts on each Ready persist-first, as node must (leader.go for the
// leader's). A SNAP carries the leader's log up to its zxid (the model of
// a snapshot); the database a SNAP or TRUNC builds before NEWLEADER
// becomes the learner's log when the snapshot is written. The followers'
// and observers' broadcast phase is the environment's model
// (learnerBroadcast): a PROPOSAL is logged and ACKed once durable, an
// INFORM logged and made durable at once, a PING answered.
type Env struct {
	Net    *Network
	peers  map[int64]*peer
	leader *leaderSide
}

type peer struct {
	id       int64
	observer bool
	store    *Store
	learner  *learnerSide // nil when not following
}

// learnerSide is a learner syncing with a leader (zab.LearnerSync); db
// is the history of the database a SNAP or TRUNC builds before NEWLEADER.
type learnerSide struct {
	leader int64
	ls     *zab.LearnerSync
	db     []*wire.TxnEntry
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
		p.store.Crash()
		p.learner = nil
		out := []string{p.store.String()}
		if e.leader != nil {
			if e.leader.id == p.id {
				e.leaderGone()
			} else {
				out = append(out, e.leaderLost(p.id)...)
			}
		}
		e.Net.Drop(p.id)
		return strings.Join(out, "\n"), nil
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
		out = append(out, "persist "+strings.Join(parts, " "))
	}
	for _, m := range r.Messages {
		out = append(out, e.send(p.id, from, m))
	}
	if l.ls.State() == zab.LearnerSynced {
		out = append(out, "up to date: "+st.String())
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
	before := p.store.durable
	p.store.Sync()
	out := []string{"synced: " + p.store.String()}
	if ld := e.leader; ld != nil && ld.id == p.id {
		return append(out, e.leaderDurable(p)...)
	}
	if l := p.learner; l != nil && l.ls.State() == zab.LearnerSynced && !p.observer {
		for _, t := range p.store.Entries()[before:] {
			out = append(out, e.send(p.id, l.leader, wire.QuorumPacket{Type: wire.PacketAck, Zxid: t.Hdr.Zxid}))
		}
	}
	return out
}

// learnerBroadcast is a follower's or observer's broadcast phase, as the
// environment models it until it is in zab: a PROPOSAL is logged (ACKed
// once durable: sync-log), an INFORM logged and made durable at once.
func (e *Env) learnerBroadcast(p *peer, from int64, qp wire.QuorumPacket) ([]string, error) {
	switch qp.Type {
	case wire.PacketProposal, wire.PacketInform:
		t, err := wire.DecodeTxnEntry(qp.Data, 1<<20)
		if err != nil {
			return nil, err
		}
		if err := p.store.Append(&t); err != nil {
			return nil, err
		}
		if qp.Type == wire.PacketInform {
			p.store.Sync()
			return []string{"logged and applied: " + p.store.String()}, nil
		}
		return []string{"logged: " + p.store.String()}, nil
	case wire.PacketCommit:
		return []string{"applied " + Zxid(qp.Zxid)}, nil
	case wire.PacketPing:
		// Learner.ping: a PING back (its touch table, empty here).
		return []string{e.send(p.id, from, wire.QuorumPacket{Type: wire.PacketPing, Zxid: qp.Zxid})}, nil
	}
	return []string{"ignored"}, nil
}
