package sim

import (
	"encoding/binary"
	"fmt"

	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

// clients are sequential clients writing a few registers (create, set,
// CAS) through any peer: the serving leader proposes the write (node/tree's
// Prep makes the txn); a follower forwards it (REQUEST) and answers once
// it applied it; any other peer refuses the connection (the write is
// never sent and is not in the history). The history goes to porcupine
// at the end of the run.
type clients struct {
	s        *Sim
	cs       []*client
	ops      []Op
	answered int
}

type client struct {
	id      int
	session wire.SessionID
	cxid    wire.Xid
	op      *Op // in flight
	at      *Peer
	atGen   int
	seen    map[string]int32 // last version seen per key
}

const (
	numClients = 4
	numKeys    = 3
)

func (c *clients) init(s *Sim) {
	c.s = s
	for i := 0; i < numClients; i++ {
		c.cs = append(c.cs, &client{id: i, session: wire.SessionID(0x100 + i), seen: map[string]int32{}})
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

// finish records cl's op in flight with an answer (or none: unknown).
func (c *clients) finish(cl *client, unknown bool, err wire.ErrCode, ver int32) {
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
		if cl.op != nil && s.now-cl.op.Call > clientWait {
			c.finish(cl, true, 0, 0)
		}
	}
	cl := c.cs[s.rng.IntN(len(c.cs))]
	if cl.op != nil {
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
	cl.op, cl.at, cl.atGen = o, p, p.gen
	if serving {
		c.prepare(p, cl)
		return
	}
	data := binary.BigEndian.AppendUint64(nil, uint64(cl.session))
	data = binary.BigEndian.AppendUint32(data, uint32(cl.cxid))
	s.net.send(p.lr.c, p.id, wire.QuorumPacket{Type: wire.PacketRequest, Data: data}, nil)
}

// forwarded: the leader got a follower's REQUEST.
func (c *clients) forwarded(leader *Peer, from int64, qp wire.QuorumPacket) {
	if len(qp.Data) != 12 {
		return
	}
	sess := wire.SessionID(binary.BigEndian.Uint64(qp.Data))
	cxid := wire.Xid(binary.BigEndian.Uint32(qp.Data[8:]))
	for _, cl := range c.cs {
		if cl.session == sess && cl.cxid == cxid && cl.op != nil && cl.at.id == from {
			c.prepare(leader, cl)
		}
	}
}

// prepare turns the client's write into a txn on the leader (Prep) and
// proposes it.
func (c *clients) prepare(leader *Peer, cl *client) {
	z, ok := leader.ld.bc.nextZxid()
	if !ok {
		return
	}
	o := cl.op
	req := tree.PrepRequest{Session: cl.session, Cxid: cl.cxid, Zxid: z, Time: c.s.now}
	data := []byte(fmt.Sprintf("c%d-%d", cl.id, cl.cxid))
	switch o.Kind {
	case OpCreate:
		req.Type, req.Body = wire.OpCreate, &wire.CreateRequest{Path: o.Key, Data: data, ACL: []wire.ACL{openACL}}
	case OpSet:
		req.Type, req.Body = wire.OpSetData, &wire.SetDataRequest{Path: o.Key, Data: data, Version: -1}
	case OpCAS:
		req.Type, req.Body = wire.OpSetData, &wire.SetDataRequest{Path: o.Key, Data: data, Version: o.Ver}
	}
	e, code := leader.db.Prep(&req)
	leader.ld.bc.propose(NewRec(&e))
	if c.s.sab.earlyReply && cl.op != nil && leader.up {
		// SABOTAGE: answered before it is committed.
		var ver int32
		if sd, ok := e.Body.(*wire.SetDataTxn); ok {
			ver = sd.Version
		}
		c.finish(cl, false, code, ver)
	}
}

// applied: p applied rec as committed; answer the client waiting for it
// there.
func (c *clients) applied(p *Peer, rec Rec, res *tree.Result) {
	for _, cl := range c.cs {
		if cl.op != nil && cl.at == p && cl.atGen == p.gen && rec.E.Hdr.ClientID == cl.session && rec.E.Hdr.Cxid == cl.cxid {
			c.finish(cl, false, res.Err, res.Stat.Version)
		}
	}
}

// peerLost: p's role ended or it crashed: its clients' writes in flight
// are unknown.
func (c *clients) peerLost(p *Peer) {
	for _, cl := range c.cs {
		if cl.op != nil && cl.at == p {
			c.finish(cl, true, 0, 0)
		}
	}
}
