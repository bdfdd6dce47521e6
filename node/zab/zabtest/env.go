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
// leading. Its Handle method runs one script command and returns what it
// printed.
//
// Commands (arguments are words or key=value):
//
//	peer ID [log=RANGES] [accepted=E] [current=E]
//	    a peer whose durable log holds RANGES ("1:1..1:7,2:1..2:3")
//	lead ID voters=1,2,3 epoch=E [commitlog=N] [txnlog=on|off] [forcesnap]
//	    ID leads epoch E; its committed log is the last N txns of its log
//	    (default 500); txnlog=off is snapshotSizeFactor < 0
//	sync ID
//	    the leader plans learner ID's sync (zab.PlanSync) and sends the
//	    packets before NEWLEADER, then NEWLEADER (SNAP: only the plan);
//	    the learner has accepted the epoch (LEADERINFO is not played)
//	deliver FROM TO [n=K]
//	    delivers packets in flight FROM -> TO (all, or K) and prints what
//	    the receiver did
//	crash ID
//	    ID loses what its store had not made durable, its sync state and
//	    the packets in flight to and from it
//	log ID
//	    ID's store
//	net
//	    the packets in flight
type Env struct {
	Net    *Network
	peers  map[int64]*peer
	leader *leaderSide
}

type peer struct {
	id    int64
	store *Store
	sync  *learnerSync // nil when not syncing
}

// leaderSide is what the environment keeps for the leader.
type leaderSide struct {
	id        int64
	epoch     int64
	verifier  quorum.Verifier
	committed zab.CommittedLog
	txnLog    bool
	forceSnap bool
	newLeader zab.Tracker
}

// learnerSync is a learner between its sync packet and its NEWLEADER ACK
// (the DIFF and TRUNC paths of Learner.syncWithLeader, in zkgo's order).
type learnerSync struct {
	mode    wire.PacketType
	pending []*wire.TxnEntry // proposals not logged yet
}

// NewEnv returns an empty environment.
func NewEnv() *Env { return &Env{Net: NewNetwork(), peers: map[int64]*peer{}} }

// Handle runs one command; it returns an error for a bad command.
func (e *Env) Handle(name string, words []string, kv map[string]string) (string, error) {
	switch name {
	case "peer":
		return e.cmdPeer(words, kv)
	case "lead":
		return e.cmdLead(words, kv)
	case "sync":
		return e.cmdSync(words)
	case "deliver":
		return e.cmdDeliver(words, kv)
	case "crash":
		p, err := e.peerArg(words, 0)
		if err != nil {
			return "", err
		}
		p.store.Crash()
		p.sync = nil
		e.Net.Drop(p.id)
		return p.store.String(), nil
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
	if len(words) != 1 {
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
	for key, dst := range map[string]*int64{"accepted": &st.AcceptedEpoch, "current": &st.CurrentEpoch} {
		if v, ok := kv[key]; ok {
			if *dst, err = strconv.ParseInt(v, 10, 64); err != nil {
				return "", fmt.Errorf("%s: %w", key, err)
			}
		}
	}
	if st.AcceptedEpoch == 0 && st.CurrentEpoch == 0 {
		e := int64(st.LastZxid().Epoch())
		st.AcceptedEpoch, st.CurrentEpoch = e, e
	}
	e.peers[id] = &peer{id: id, store: st}
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
	epoch, err := strconv.ParseInt(kv["epoch"], 10, 64)
	if err != nil {
		return "", fmt.Errorf("epoch: %w", err)
	}
	limit := 0
	if v, ok := kv["commitlog"]; ok {
		if limit, err = strconv.Atoi(v); err != nil {
			return "", fmt.Errorf("commitlog: %w", err)
		}
	}
	v := quorum.NewMajority(voters)
	ld := &leaderSide{id: p.id, epoch: epoch, verifier: v, committed: zab.NewCommittedLog(limit),
		txnLog: kv["txnlog"] != "off", newLeader: zab.NewTracker(v)}
	for _, w := range words[1:] {
		if w == "forcesnap" {
			ld.forceSnap = true
		}
	}
	ld.committed.Reset(p.store.Entries())
	ld.newLeader.Ack(p.id)
	e.leader = ld
	minC, maxC := ld.committed.Bounds(p.store.LastZxid())
	return fmt.Sprintf("%d leads epoch %d; committed log %s..%s", p.id, epoch, Zxid(minC), Zxid(maxC)), nil
}

func (e *Env) cmdSync(words []string) (string, error) {
	ld := e.leader
	if ld == nil {
		return "", fmt.Errorf("no leader")
	}
	l, err := e.peerArg(words, 0)
	if err != nil {
		return "", err
	}
	lp := e.peers[ld.id]
	// LEADERINFO and ACKEPOCH are not played: the learner accepted the
	// epoch before its sync.
	l.store.AcceptedEpoch = max(l.store.AcceptedEpoch, ld.epoch)
	in := zab.SyncInput{Peer: l.store.LastZxid(), LastProcessed: lp.store.LastZxid(),
		Committed: ld.committed.Window(), ForceSnap: ld.forceSnap, TxnLog: ld.txnLog}
	plan := zab.PlanSync(in)
	var out []string
	if plan.ReadTxnLog {
		in.LogRead = true
		for _, t := range lp.store.From(in.Peer) {
			in.FromLog = append(in.FromLog, zab.NewCommitted(t, nil))
		}
		out = append(out, fmt.Sprintf("read the txn log from %s: %d txns", Zxid(in.Peer), len(in.FromLog)))
		plan = zab.PlanSync(in)
	}
	out = append(out, fmt.Sprintf("plan %v (%v), forwarding after %s", plan.Mode, plan.Reason, Zxid(plan.LastSeen)))
	if plan.Mode == wire.PacketSnap {
		return strings.Join(out, "\n"), nil
	}
	for _, qp := range plan.Packets {
		e.Net.Send(ld.id, l.id, qp)
	}
	e.Net.Send(ld.id, l.id, wire.QuorumPacket{Type: wire.PacketNewLeader, Zxid: wire.MakeZxid(uint32(ld.epoch), 0)})
	return strings.Join(out, "\n"), nil
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
		var lines []string
		var err error
		if e.leader != nil && to.id == e.leader.id {
			lines = e.leaderReceive(from.id, qp)
		} else {
			lines, err = e.learnerReceive(to, from.id, qp)
		}
		out = append(out, fmt.Sprintf("%d->%d %s", from.id, to.id, Packet(qp)))
		for _, l := range lines {
			out = append(out, "  "+l)
		}
		if err != nil {
			out = append(out, "  error: "+err.Error())
			break
		}
	}
	return strings.Join(out, "\n"), nil
}

// learnerReceive is the learner's side of a DIFF or TRUNC sync.
func (e *Env) learnerReceive(p *peer, from int64, qp wire.QuorumPacket) ([]string, error) {
	switch qp.Type {
	case wire.PacketDiff, wire.PacketTrunc:
		p.sync = &learnerSync{mode: qp.Type}
		if qp.Type == wire.PacketTrunc {
			if err := p.store.Truncate(qp.Zxid); err != nil {
				return nil, err
			}
			p.store.Sync()
			return []string{"truncated: " + p.store.String()}, nil
		}
		return nil, nil
	case wire.PacketProposal:
		if p.sync == nil {
			return nil, fmt.Errorf("PROPOSAL outside a sync")
		}
		t, err := wire.DecodeTxnEntry(qp.Data, 1<<20)
		if err != nil {
			return nil, err
		}
		p.sync.pending = append(p.sync.pending, &t)
		return nil, nil
	case wire.PacketCommit:
		return nil, nil // applied with the rest once logged (NEWLEADER)
	case wire.PacketNewLeader:
		if p.sync == nil {
			return nil, fmt.Errorf("NEWLEADER outside a sync")
		}
		var lines []string
		if n := len(p.sync.pending); n > 0 {
			// The proposals are durable before the NEWLEADER ACK
			// (ZOOKEEPER-3911, 4643, 4646, 4785).
			if err := p.store.Append(p.sync.pending...); err != nil {
				return nil, err
			}
			p.store.Sync()
			lines = append(lines, fmt.Sprintf("logged %d txns, synced: %s", n, p.store.String()))
		}
		p.store.CurrentEpoch = int64(qp.Zxid.Epoch())
		lines = append(lines, fmt.Sprintf("currentEpoch=%d", p.store.CurrentEpoch))
		p.sync = nil
		ack := wire.QuorumPacket{Type: wire.PacketAck, Zxid: qp.Zxid}
		e.Net.Send(p.id, from, ack)
		lines = append(lines, fmt.Sprintf("sent %d->%d %s", p.id, from, Packet(ack)))
		return lines, nil
	}
	return []string{"ignored"}, nil
}

// leaderReceive counts NEWLEADER ACKs.
func (e *Env) leaderReceive(from int64, qp wire.QuorumPacket) []string {
	ld := e.leader
	if qp.Type != wire.PacketAck || qp.Zxid != wire.MakeZxid(uint32(ld.epoch), 0) {
		return []string{"ignored"}
	}
	ld.newLeader.Ack(from)
	return []string{fmt.Sprintf("NEWLEADER acked by %s; quorum %v", ld.newLeader.String(), ld.newLeader.HasQuorum())}
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
