package sim

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

// clients are sequential clients writing a few registers (create, set,
// CAS) through any peer: the serving leader proposes the write (node/tree's
// Prep makes the txn); a follower forwards it (REQUEST) and answers once
// it applied it; any other peer refuses the connection (the write is
// never sent and is not in the history). The history goes to porcupine
// at the end of the run.
//
// Each client has a session: it creates one (createSession) before its
// first write and after its session ended, creates its ephemeral node
// now and then, and closes its session (closeSession) now and then; the
// serving leader expires a random live session now and then, as its
// session tracker does on a timeout (a closeSession of its own). The
// leader checks a request's session as Java's PrepRequestProcessor does:
// a session it does not know, or one whose close it prepared, gets
// SESSIONEXPIRED (ZOOKEEPER-1208: an ephemeral created after its
// session's close would never go).
//
// Clients also read a key through any serving peer, from its tree as it
// is; a peer behind the newest zxid a client has seen refuses it, as Java
// does at connection time. The checker holds each read against the
// committed history (sequential consistency).
type clients struct {
	s        *Sim
	cs       []*client
	ops      []Op
	answered int
	reads    int
}

type client struct {
	id       int
	session  wire.SessionID // 0: none yet, or it ended
	live     bool           // its createSession was answered
	sessions int            // sessions created so far
	cxid     wire.Xid
	op       *Op      // a register write in flight
	req      *sessReq // or a session request in flight
	at       *Peer
	atGen    int
	seen     map[string]int32 // last version seen per key
	lastZxid wire.Zxid        // the newest zxid it has seen (an answer's, a read's)
}

// sessReq is a client request outside the register workload.
type sessReq struct {
	kind wire.OpCode // OpCreateSession, OpCloseSession, or OpCreate (its ephemeral)
	call int64
}

// inFlight reports whether the client waits for an answer.
func (cl *client) inFlight() bool { return cl.op != nil || cl.req != nil }

// sessionTimeout is the createSession txns' timeout (ms).
const sessionTimeout = 4000

const (
	numClients = 4
	numKeys    = 3
)

func (c *clients) init(s *Sim) {
	c.s = s
	for i := 0; i < numClients; i++ {
		c.cs = append(c.cs, &client{id: i, seen: map[string]int32{}})
	}
}

func (c *clients) history() []Op {
	out := append([]Op(nil), c.ops...)
	for _, cl := range c.cs {
		if cl.op != nil {
			o := *cl.op
			o.Unknown = true
			out = append(out, o)
		}
	}
	return out
}

// finish records cl's request in flight with an answer (or none:
// unknown).
func (c *clients) finish(cl *client, unknown bool, err wire.ErrCode, ver int32) {
	if err == wire.ErrSessionExpired {
		cl.session, cl.live = 0, false
	}
	if r := cl.req; r != nil {
		cl.req = nil
		switch {
		case unknown:
			// Whether it happened or not, the client starts afresh.
			cl.session, cl.live = 0, false
		case r.kind == wire.OpCreateSession && err == wire.ErrOk:
			cl.live = true
		case r.kind == wire.OpCloseSession:
			cl.session, cl.live = 0, false
		}
		c.s.tracef("client c%d %v -> %v (unknown %v)", cl.id, r.kind, err, unknown)
		return
	}
	o := *cl.op
	cl.op = nil
	o.Return, o.Unknown, o.Err, o.OutVer = c.s.now, unknown, err, ver
	if !unknown {
		c.answered++
		if err == wire.ErrOk {
			cl.seen[o.Key] = ver
		}
	}
	c.s.tracef("client %s", o)
	c.ops = append(c.ops, o)
}

func (c *clients) issue() {
	s := c.s
	for _, cl := range c.cs {
		if cl.op != nil && s.now-cl.op.Call > clientWait || cl.req != nil && s.now-cl.req.call > clientWait {
			c.finish(cl, true, 0, 0)
		}
	}
	if s.rng.IntN(8) == 0 {
		c.expire()
	}
	cl := c.cs[s.rng.IntN(len(c.cs))]
	if cl.inFlight() {
		return
	}
	p := s.peers[s.rng.IntN(len(s.peers))]
	if p.pausedUntil > s.now {
		return // a stopped server: the client's connect hangs; it tries again later
	}
	serving := p.up && p.ld != nil && p.ld.bc != nil
	following := p.up && p.lr != nil && p.lr.bc != nil
	if !serving && !following {
		return
	}
	if p.db.LastZxid < cl.lastZxid && !s.sab.noZxidCheck {
		// Java refuses a client that has seen a newer zxid than the
		// server ("Refusing session request for client ... as it has
		// seen zxid"): it tries another server later.
		return
	}
	cl.at, cl.atGen = p, p.gen
	switch x := s.rng.IntN(20); {
	case cl.session == 0 || !cl.live:
		cl.sessions++
		cl.session = wire.SessionID(int64(cl.id+1)<<32 | int64(cl.sessions))
		cl.req = &sessReq{kind: wire.OpCreateSession, call: s.now}
	case x == 0:
		cl.req = &sessReq{kind: wire.OpCloseSession, call: s.now}
	case x < 4:
		cl.req = &sessReq{kind: wire.OpCreate, call: s.now}
	case x < 8:
		c.read(p, cl)
		return
	}
	if cl.req != nil {
		cl.cxid++
		c.send(p, cl, serving)
		return
	}
	key := fmt.Sprintf("/k%d", s.rng.IntN(numKeys))
	cl.cxid++
	o := &Op{Client: cl.id, Key: key, Call: s.now}
	switch x := s.rng.IntN(10); {
	case x < 3:
		o.Kind = OpCreate
	case x < 6:
		o.Kind = OpSet
	default:
		o.Kind = OpCAS
		o.Ver = cl.seen[key]
		if s.rng.IntN(4) == 0 {
			o.Ver = int32(s.rng.IntN(3))
		}
	}
	cl.op = o
	c.send(p, cl, serving)
}

// read is a client's read of a key through p, answered from p's tree as
// it is (ZooKeeper's reads are local: sequentially consistent, not
// linearizable); the checker holds it against the committed history.
func (c *clients) read(p *Peer, cl *client) {
	key := fmt.Sprintf("/k%d", c.s.rng.IntN(numKeys))
	var exists bool
	var ver int32
	if n := p.db.Get(key); n != nil {
		exists, ver = true, n.Stat.Version
	}
	z := p.db.LastZxid
	c.s.chk.read(p, cl.id, key, exists, ver, z, cl.lastZxid)
	cl.lastZxid = max(cl.lastZxid, z)
	c.reads++
}

// send hands cl's request to the leader: p is it, or forwards it.
func (c *clients) send(p *Peer, cl *client, serving bool) {
	if serving {
		c.prepare(p, cl)
		return
	}
	data := binary.BigEndian.AppendUint64(nil, uint64(cl.session))
	data = binary.BigEndian.AppendUint32(data, uint32(cl.cxid))
	c.s.net.send(p.lr.c, p.id, wire.QuorumPacket{Type: wire.PacketRequest, Data: data}, nil)
}

// expire: the serving leader's session tracker expires a random live
// session (a closeSession of its own).
func (c *clients) expire() {
	id := c.s.leaderID()
	if id == 0 {
		return
	}
	l := c.s.peer(id)
	if l.ld == nil || l.ld.bc == nil {
		return
	}
	var live []wire.SessionID
	for sid := range l.sessions {
		if !l.ld.closing[sid] {
			live = append(live, sid)
		}
	}
	if len(live) == 0 {
		return
	}
	slices.Sort(live)
	sid := live[c.s.rng.IntN(len(live))]
	c.s.tracef("%d: expires session %#x", l.id, int64(sid))
	c.propose(l, &tree.PrepRequest{Session: sid, Type: wire.OpCloseSession, Time: c.s.now})
}

// forwarded: the leader got a follower's REQUEST.
func (c *clients) forwarded(leader *Peer, from int64, qp wire.QuorumPacket) {
	if len(qp.Data) != 12 {
		return
	}
	sess := wire.SessionID(binary.BigEndian.Uint64(qp.Data))
	cxid := wire.Xid(binary.BigEndian.Uint32(qp.Data[8:]))
	for _, cl := range c.cs {
		if cl.session == sess && cl.cxid == cxid && cl.inFlight() && cl.at.id == from {
			c.prepare(leader, cl)
		}
	}
}

// prepare turns the client's request into a txn on the leader (Prep) and
// proposes it.
func (c *clients) prepare(leader *Peer, cl *client) {
	req := &tree.PrepRequest{Session: cl.session, Cxid: cl.cxid, Time: c.s.now}
	data := []byte(fmt.Sprintf("c%d-%d", cl.id, cl.cxid))
	if r := cl.req; r != nil {
		switch r.kind {
		case wire.OpCreateSession:
			req.Type, req.Body = wire.OpCreateSession, &wire.CreateSessionTxn{TimeOut: sessionTimeout}
		case wire.OpCloseSession:
			req.Type = wire.OpCloseSession
		default:
			req.Type, req.Body = wire.OpCreate, &wire.CreateRequest{Path: fmt.Sprintf("/e%d", cl.id), Data: data,
				ACL: []wire.ACL{openACL}, Flags: int32(wire.ModeEphemeral)}
		}
		c.propose(leader, req)
		return
	}
	o := cl.op
	switch o.Kind {
	case OpCreate:
		req.Type, req.Body = wire.OpCreate, &wire.CreateRequest{Path: o.Key, Data: data, ACL: []wire.ACL{openACL}}
	case OpSet:
		req.Type, req.Body = wire.OpSetData, &wire.SetDataRequest{Path: o.Key, Data: data, Version: -1}
	case OpCAS:
		req.Type, req.Body = wire.OpSetData, &wire.SetDataRequest{Path: o.Key, Data: data, Version: o.Ver}
	}
	e, code, ok := c.propose(leader, req)
	if ok && c.s.sab.earlyReply && cl.op != nil && leader.up {
		// SABOTAGE: answered before it is committed.
		var ver int32
		if sd, ok := e.Body.(*wire.SetDataTxn); ok {
			ver = sd.Version
		}
		c.finish(cl, false, code, ver)
	}
}

// propose makes req's txn on the leader (its session checked as Java's
// PrepRequestProcessor does: a session the leader does not know, or whose
// close it prepared, is expired) and proposes it.
func (c *clients) propose(leader *Peer, req *tree.PrepRequest) (wire.TxnEntry, wire.ErrCode, bool) {
	ld := leader.ld
	z, ok := ld.bc.nextZxid()
	if !ok {
		return wire.TxnEntry{}, 0, false
	}
	req.Zxid = z
	if req.Type != wire.OpCreateSession {
		req.CheckSession = ld.checkSession
	}
	e, code := leader.db.Prep(req)
	switch req.Type {
	case wire.OpCreateSession:
		ld.pendingSess[req.Session] = true
	case wire.OpCloseSession:
		if code == wire.ErrOk && !c.s.sab.noClosingCheck {
			ld.closing[req.Session] = true
		}
	}
	ld.bc.propose(NewRec(&e))
	return e, code, true
}

// applied: p applied rec as committed; answer the client waiting for it
// there.
func (c *clients) applied(p *Peer, rec Rec, res *tree.Result) {
	for _, cl := range c.cs {
		if cl.inFlight() && cl.at == p && cl.atGen == p.gen && rec.E.Hdr.ClientID == cl.session && rec.E.Hdr.Cxid == cl.cxid {
			cl.lastZxid = max(cl.lastZxid, rec.Zxid())
			c.finish(cl, false, res.Err, res.Stat.Version)
		}
	}
}

// peerLost: p's role ended or it crashed: its clients' writes in flight
// are unknown.
func (c *clients) peerLost(p *Peer) {
	for _, cl := range c.cs {
		if cl.inFlight() && cl.at == p {
			c.finish(cl, true, 0, 0)
		}
	}
}
