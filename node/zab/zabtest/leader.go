package zabtest

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// leaderSide is the environment's driver of a zab.Leader: it carries out
// each Ready as node does (persist, drop, snapshot, send, commit), plans
// the syncs the Leader asks for with zab.PlanSync from its committed log
// and txn log, and gives each learner connection a zab.LinkID.
type leaderSide struct {
	id        int64
	zl        *zab.Leader
	committed zab.CommittedLog
	txnLog    bool
	forceSnap bool
	// manualSnaps: a SNAP's walk ends only with "snap-ready ID" (the
	// proposals committed meanwhile go before its NEWLEADER).
	manualSnaps bool
	// reconfig: reconfigEnabled, for the leader and its learners.
	reconfig bool
	links    map[int64]zab.LinkID // by learner id
	peerOf   map[zab.LinkID]int64
	nextLink zab.LinkID
	walking  map[zab.LinkID]bool // SNAPs whose walk is not done
	txns     map[wire.Zxid]*wire.TxnEntry
	// applied is the zxid of the leader's tree (node's tree.LastZxid): its
	// log when it started, NEWLEADER's zxid once it serves, then each
	// commit.
	applied wire.Zxid
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
	ints := map[string]int64{"commitlog": 0, "phase": 20, "synclimit": 5, "maxsnap": 10, "maxdiff": 10, "maxheld": 0}
	for k := range ints {
		if v, ok := kv[k]; ok {
			if ints[k], err = strconv.ParseInt(v, 10, 64); err != nil {
				return "", fmt.Errorf("%s: %w", k, err)
			}
		}
	}
	v := quorum.NewMajority(voters)
	// "config" (or "reconfig", which sets reconfigEnabled too): the leader
	// keeps Java's configuration bookkeeping with the configuration of
	// the voters and observers=, version= (hex).
	var qc, lastSeen *quorum.Config
	reconfig := slices.Contains(words[1:], "reconfig")
	if reconfig || slices.Contains(words[1:], "config") {
		var ver int64
		if s, ok := kv["version"]; ok {
			if ver, err = quorum.ParseVersion(s); err != nil {
				return "", fmt.Errorf("version: %w", err)
			}
		}
		if qc, err = ConfigOf(kv["voters"], kv["observers"], ver); err != nil {
			return "", err
		}
		// next=: a configuration proposed and not committed before the
		// leader was elected (the last seen one), version+1.
		if nv, ok := kv["next"]; ok {
			if lastSeen, err = ConfigOf(nv, kv["nextobservers"], ver+1); err != nil {
				return "", err
			}
		}
	}
	zl, err := zab.NewLeader(zab.LeaderConfig{ID: p.id, Verifier: v, Config: qc, LastSeen: lastSeen, ReconfigEnabled: reconfig,
		AcceptedEpoch: p.store.AcceptedEpoch, CurrentEpoch: p.store.CurrentEpoch, LastZxid: p.store.LastZxid(),
		PhaseTicks: ints["phase"], InitLimit: ints["phase"] / 2, SyncLimit: ints["synclimit"],
		Member: func(sid int64) (bool, bool) {
			q, ok := e.peers[sid]
			return ok && !q.observer && v.IsVoter(sid), ok
		},
		MaxSnapSyncs: int(ints["maxsnap"]), MaxDiffSyncs: int(ints["maxdiff"]), MaxHeld: int(ints["maxheld"])})
	if err != nil {
		return "", err
	}
	ld := &leaderSide{id: p.id, zl: zl, reconfig: reconfig, committed: zab.NewCommittedLog(int(ints["commitlog"])), txnLog: kv["txnlog"] != "off",
		links: map[int64]zab.LinkID{}, peerOf: map[zab.LinkID]int64{}, walking: map[zab.LinkID]bool{},
		txns: map[wire.Zxid]*wire.TxnEntry{}, applied: p.store.LastZxid()}
	for _, w := range words[1:] {
		switch w {
		case "forcesnap":
			ld.forceSnap = true
		case "manualsnap":
			ld.manualSnaps = true
		}
	}
	ld.committed.Reset(p.store.Entries())
	e.leader = ld
	minC, maxC := ld.committed.Bounds(p.store.LastZxid())
	out := []string{fmt.Sprintf("%d leads; committed log %s..%s", p.id, Zxid(minC), Zxid(maxC))}
	return strings.Join(append(out, e.leaderReady()...), "\n"), nil
}

// leaderReady carries out the leader's Ready in LeaderReady's order: the
// epochs persisted, drops, snapshots, packets, commits, then the syncs to
// plan.
func (e *Env) leaderReady() []string {
	var out []string
	for e.leader != nil && e.leader.zl.HasReady() {
		ld := e.leader
		r := ld.zl.Ready()
		st := e.peers[ld.id].store
		if r.StepDown != "" {
			out = append(out, "step down: "+r.StepDown)
			e.leaderGone()
			return out
		}
		if hs := r.HardState; hs != nil {
			st.AcceptedEpoch, st.CurrentEpoch = hs.AcceptedEpoch, hs.CurrentEpoch
			out = append(out, fmt.Sprintf("persist accepted=%d current=%d", hs.AcceptedEpoch, hs.CurrentEpoch))
		}
		for _, w := range r.Warnings {
			out = append(out, "warning: "+w)
		}
		for _, d := range r.Drops {
			out = append(out, fmt.Sprintf("drop %d (%s): %s", d.SID, d.State, d.Reason))
			if sid, ok := ld.peerOf[d.Link]; ok {
				delete(ld.peerOf, d.Link)
				delete(ld.walking, d.Link)
				if ld.links[sid] == d.Link {
					delete(ld.links, sid)
					e.Net.Close(ld.id, sid)
					if p := e.peers[sid]; p != nil && p.learner != nil && p.learner.leader == ld.id {
						p.learner = nil
					}
				}
			}
		}
		if r.EpochDecided {
			out = append(out, fmt.Sprintf("epoch %d decided by %s", ld.zl.Epoch(), ld.zl.EpochVoters()))
		}
		if r.EpochAcked {
			out = append(out, "epoch acked")
		}
		if r.Serving {
			ld.applied = ld.zl.NewLeaderZxid()
			out = append(out, "serving; NEWLEADER acked by "+ld.zl.NewLeaderVoters())
		}
		if c := r.NextConfig; c != nil {
			out = append(out, fmt.Sprintf("write next config: %s", ConfigLine(c)))
		}
		for _, a := range r.Activations {
			out = append(out, fmt.Sprintf("activate at %s: %s; designated leader %d", Zxid(a.Zxid), ConfigLine(a.Config), a.Designated))
		}
		for _, link := range r.Snaps {
			// The model of a snapshot: SNAP with the leader's last zxid;
			// the learner takes the leader's log up to it.
			out = append(out, e.send(ld.id, ld.peerOf[link], wire.QuorumPacket{Type: wire.PacketSnap, Zxid: ld.applied}))
			ld.walking[link] = true
		}
		for _, m := range r.Messages {
			if sid, ok := ld.peerOf[m.To]; ok {
				out = append(out, e.send(ld.id, sid, m.Packet))
			}
		}
		for _, z := range r.Commits {
			t := ld.txns[z]
			delete(ld.txns, z)
			ld.committed.Add(t, nil)
			ld.applied = z
			out = append(out, "commit "+Zxid(z))
		}
		for _, p := range r.Packets {
			out = append(out, fmt.Sprintf("server layer: %s from %d", Packet(p.Packet), p.SID))
		}
		for _, link := range r.Syncs {
			out = append(out, e.syncLearner(link)...)
		}
		if !ld.manualSnaps {
			for _, link := range sortedLinks(ld.walking) {
				delete(ld.walking, link)
				ld.zl.SnapReady(link)
			}
		}
		if r.Rollover {
			out = append(out, "zxid counter spent: step down for a new epoch")
			e.leaderGone()
			return out
		}
	}
	return out
}

func sortedLinks(m map[zab.LinkID]bool) []zab.LinkID {
	var out []zab.LinkID
	for l := range m {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// leaderGone ends the leadership: its connections close, its learners
// look again.
func (e *Env) leaderGone() {
	ld := e.leader
	e.leader = nil
	e.Net.Drop(ld.id)
	for _, p := range e.peers {
		if p.learner != nil && p.learner.leader == ld.id {
			p.learner = nil
		}
	}
}

// syncLearner plans a learner's sync (zab.PlanSync, reading the txn log
// when the plan asks) and starts it.
func (e *Env) syncLearner(link zab.LinkID) []string {
	ld := e.leader
	st, ok := ld.zl.Learner(link)
	if !ok {
		return nil
	}
	lst := e.peers[ld.id].store
	in := zab.SyncInput{Peer: st.LastZxid, LastProcessed: ld.applied, Committed: ld.committed.Window(),
		ForceSnap: ld.forceSnap, TxnLog: ld.txnLog}
	plan := zab.PlanSync(in)
	var out []string
	if plan.ReadTxnLog {
		in.LogRead = true
		for _, t := range lst.From(in.Peer) {
			if t.Hdr.Zxid <= in.LastProcessed {
				in.FromLog = append(in.FromLog, zab.NewCommitted(t, nil))
			}
		}
		out = append(out, fmt.Sprintf("read the txn log from %s: %d txns", Zxid(in.Peer), len(in.FromLog)))
		plan = zab.PlanSync(in)
	}
	out = append(out, fmt.Sprintf("sync %d: %v (%v), forwarding after %s", st.SID, plan.Mode, plan.Reason, Zxid(plan.LastSeen)))
	if err := ld.zl.StartSync(link, &plan); err != nil {
		out = append(out, "not started: "+err.Error())
	}
	return out
}

// leaderReceive hands a learner's packet to the leader: a new connection
// with its first packet, or the next packet on it.
func (e *Env) leaderReceive(from *peer, qp wire.QuorumPacket) ([]string, error) {
	ld := e.leader
	if qp.Type == wire.PacketFollowerInfo || qp.Type == wire.PacketObserverInfo {
		ld.nextLink++
		link := ld.nextLink
		ld.links[from.id] = link
		ld.peerOf[link] = from.id
		ld.zl.Connect(link, &qp)
		return e.leaderReady(), nil
	}
	link, ok := ld.links[from.id]
	if !ok {
		return []string{"ignored: no connection"}, nil
	}
	ld.zl.Receive(link, &qp)
	return e.leaderReady(), nil
}

// leaderLost tells the leader a learner's connection broke.
func (e *Env) leaderLost(id int64) []string {
	ld := e.leader
	if ld == nil {
		return nil
	}
	if link, ok := ld.links[id]; ok {
		ld.zl.Drop(link, "connection lost")
	}
	return e.leaderReady()
}

// cmdPropose: "propose [n=K] [counter=C]": the serving leader proposes K
// txns, the first with counter C (default: the next).
func (e *Env) cmdPropose(kv map[string]string) (string, error) {
	ld := e.leader
	if ld == nil || !ld.zl.Serving() {
		return "", fmt.Errorf("no serving leader")
	}
	n := 1
	if v, ok := kv["n"]; ok {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			return "", err
		}
	}
	z := ld.zl.LastProposed() + 1
	if v, ok := kv["counter"]; ok {
		c, err := strconv.ParseUint(v, 0, 32)
		if err != nil {
			return "", fmt.Errorf("counter: %w", err)
		}
		z = wire.MakeZxid(uint32(ld.zl.Epoch()), uint32(c))
	}
	st := e.peers[ld.id].store
	var out []string
	for i := 0; i < n && e.leader == ld; i++ {
		t := Txn(z)
		if err := st.Append(t); err != nil {
			return strings.Join(out, "\n"), err
		}
		ld.txns[z] = t
		out = append(out, "propose "+Zxid(z))
		ld.zl.Propose(z, wire.AppendTxnEntry(nil, t))
		out = append(out, e.leaderReady()...)
		z++
	}
	return strings.Join(out, "\n"), nil
}

// cmdSnapReady: "snap-ready ID": the leader's SNAP walk for ID is done.
func (e *Env) cmdSnapReady(words []string) (string, error) {
	p, err := e.peerArg(words, 0)
	if err != nil {
		return "", err
	}
	ld := e.leader
	if ld == nil {
		return "", fmt.Errorf("no leader")
	}
	link, ok := ld.links[p.id]
	if !ok || !ld.walking[link] {
		return "", fmt.Errorf("no snapshot walk for %d", p.id)
	}
	delete(ld.walking, link)
	ld.zl.SnapReady(link)
	return strings.Join(e.leaderReady(), "\n"), nil
}

// leaderDurable is the leader's log made durable: its own ACK.
func (e *Env) leaderDurable(p *peer) []string {
	ld := e.leader
	if !ld.zl.Serving() {
		return nil
	}
	ld.zl.Durable(p.store.LastZxid())
	return e.leaderReady()
}

// ConfigOf builds the configuration of voters and observers ("1,2,3",
// "" for none) with version ver: server.N=127.0.0.1:(2000+N):(3000+N)
// with client port 4000+N.
func ConfigOf(voters, observers string, ver int64) (*quorum.Config, error) {
	var b strings.Builder
	for _, part := range []struct {
		ids  string
		role string
	}{{voters, "participant"}, {observers, "observer"}} {
		if part.ids == "" {
			continue
		}
		for _, s := range strings.Split(part.ids, ",") {
			id, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("server id %q: %w", s, err)
			}
			fmt.Fprintf(&b, "server.%d=127.0.0.1:%d:%d:%s;%d\n", id, 2000+id, 3000+id, part.role, 4000+id)
		}
	}
	fmt.Fprintf(&b, "version=%s\n", quorum.HexVersion(ver))
	return quorum.ParseConfigText(b.String(), false)
}

// ConfigLine renders a configuration compactly: "voters 1,2,3 observers 4
// version 100000000".
func ConfigLine(c *quorum.Config) string {
	join := func(ids []int64) string {
		parts := make([]string, len(ids))
		for i, id := range ids {
			parts[i] = strconv.FormatInt(id, 10)
		}
		return strings.Join(parts, ",")
	}
	s := "voters " + join(c.Voters())
	if o := c.Observers(); len(o) > 0 {
		s += " observers " + join(o)
	}
	return s + " version " + quorum.HexVersion(c.Version)
}

// ReconfigTxn is the reconfig txn with zxid z proposing c: a SetData of
// /zookeeper/config with c's text (PrepRequestProcessor).
func ReconfigTxn(z wire.Zxid, c *quorum.Config) *wire.TxnEntry {
	return &wire.TxnEntry{Hdr: wire.TxnHeader{ClientID: 1, Cxid: 1, Zxid: z, Time: 1, Type: wire.OpReconfig},
		Body: &wire.SetDataTxn{Path: "/zookeeper/config", Data: []byte(c.String()), Version: -1}}
}

// cmdProposeReconfig: "propose-reconfig voters=1,2,4 [observers=5]": the
// serving leader proposes a reconfig to that configuration, versioned
// with the proposal's zxid.
func (e *Env) cmdProposeReconfig(kv map[string]string) (string, error) {
	ld := e.leader
	if ld == nil || !ld.zl.Serving() {
		return "", fmt.Errorf("no serving leader")
	}
	z := ld.zl.LastProposed() + 1
	c, err := ConfigOf(kv["voters"], kv["observers"], int64(z))
	if err != nil {
		return "", err
	}
	t := ReconfigTxn(z, c)
	if err := ld.zl.ProposeReconfig(z, wire.AppendTxnEntry(nil, t), c); err != nil {
		return "", err
	}
	// Logged once proposed (a refused one is not).
	if err := e.peers[ld.id].store.Append(t); err != nil {
		return "", err
	}
	ld.txns[z] = t
	out := []string{"propose reconfig " + Zxid(z) + ": " + ConfigLine(c)}
	return strings.Join(append(out, e.leaderReady()...), "\n"), nil
}
