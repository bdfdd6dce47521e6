package xchk

import (
	"fmt"
	"math/rand"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// GenConfig shapes a random run.
type GenConfig struct {
	Root     string // every path is under Root (default "/x")
	Sessions int    // session slots (default 4)
	// ExpireEvery is the mean number of ops between session expiries (0:
	// 2000; negative: none). An expiry waits for the server (about
	// 2 ticks), so it is the costly step.
	ExpireEvery int
	// PruneAt is how many sequential creates under one parent trigger a
	// prune (default 24).
	PruneAt int
}

func (c GenConfig) withDefaults() GenConfig {
	if c.Root == "" {
		c.Root = "/x"
	}
	if c.Sessions == 0 {
		c.Sessions = 4
	}
	if c.ExpireEvery == 0 {
		c.ExpireEvery = 2000
	}
	if c.PruneAt == 0 {
		c.PruneAt = 24
	}
	return c
}

type slotState uint8

const (
	slotEmpty slotState = iota
	slotConnected
	slotDisconnected // session alive, no connection
	slotDead         // closed or expired
)

// Gen is a seeded random operation stream over a small path space. The
// stream depends only on the seed and the config (never on replies), so a
// seed and an op count replay a run exactly.
type Gen struct {
	cfg    GenConfig
	rnd    *rand.Rand
	slots  []slotState
	queue  []Step
	seqN   map[string]int
	parent []string // parents of sequential nodes
}

// NewGen returns a generator for seed.
func NewGen(seed int64, cfg GenConfig) *Gen {
	cfg = cfg.withDefaults()
	g := &Gen{cfg: cfg, rnd: rand.New(rand.NewSource(seed)), slots: make([]slotState, cfg.Sessions), seqN: map[string]int{}}
	g.parent = []string{cfg.Root, cfg.Root + "/a", cfg.Root + "/b"}
	for i := range g.slots {
		g.queue = append(g.queue, Connect(i))
		g.slots[i] = slotConnected
	}
	g.queue = append(g.queue, Create(0, cfg.Root, "root", wire.ModePersistent))
	return g
}

// Next returns the next step.
func (g *Gen) Next() Step {
	if len(g.queue) > 0 {
		st := g.queue[0]
		g.queue = g.queue[1:]
		return st
	}
	if st, ok := g.sessionStep(); ok {
		return st
	}
	s := g.pickConnected()
	return g.requestStep(s)
}

func (g *Gen) chance(p float64) bool { return g.rnd.Float64() < p }

func (g *Gen) pick(n int) int { return g.rnd.Intn(n) }

func (g *Gen) slotsIn(st slotState) []int {
	var out []int
	for i, s := range g.slots {
		if s == st {
			out = append(out, i)
		}
	}
	return out
}

func (g *Gen) pickConnected() int {
	c := g.slotsIn(slotConnected)
	return c[g.pick(len(c))]
}

// sessionStep returns a session lifecycle step, or ok=false.
func (g *Gen) sessionStep() (Step, bool) {
	conn := g.slotsIn(slotConnected)
	disc := g.slotsIn(slotDisconnected)
	dead := append(g.slotsIn(slotDead), g.slotsIn(slotEmpty)...)
	switch {
	case len(conn) == 0 && len(disc) == 0:
		s := dead[g.pick(len(dead))]
		g.slots[s] = slotConnected
		return Connect(s), true
	case len(disc) > 0 && (len(conn) == 0 || g.chance(0.3)):
		s := disc[g.pick(len(disc))]
		return g.reconnect(s), true
	case len(dead) > 0 && g.chance(0.05):
		s := dead[g.pick(len(dead))]
		if g.slots[s] == slotDead && g.chance(0.3) {
			// The session is gone: the server answers with session 0.
			return Reconnect(s), true
		}
		g.slots[s] = slotConnected
		st := Connect(s)
		if g.chance(0.2) {
			st.NoReadOnly = true
		}
		return st, true
	}
	if len(conn) == 0 {
		return Step{}, false
	}
	s := conn[g.pick(len(conn))]
	switch r := g.rnd.Float64(); {
	case r < 0.004:
		g.slots[s] = slotDisconnected
		return Drop(s), true
	case r < 0.007:
		// Take the session over on a new connection.
		return g.reconnect(s), true
	case r < 0.010 && len(conn) > 1:
		g.slots[s] = slotDead
		return Do(s, wire.OpCloseSession, nil), true
	case r < 0.011:
		// A wrong password: Java closes the live connection first, then
		// refuses; the session lives on.
		g.slots[s] = slotDisconnected
		return Step{Kind: KReconnect, Sess: s, BadPasswd: true}, true
	case g.cfg.ExpireEvery > 0 && g.chance(1/float64(g.cfg.ExpireEvery)) && len(conn) > 1:
		// Expiry needs a short timeout: reconnect asking for the minimum,
		// then drop the connection and wait.
		g.slots[s] = slotDead
		g.queue = append(g.queue, Step{Kind: KExpire, Sess: s})
		return Step{Kind: KReconnect, Sess: s, TimeoutMs: 1}, true
	}
	return Step{}, false
}

// reconnect reconnects slot s and, as clients do, usually re-registers
// watches at once.
func (g *Gen) reconnect(s int) Step {
	g.slots[s] = slotConnected
	st := Reconnect(s)
	if g.chance(0.1) {
		st.TimeoutMs = int32(1000 + g.pick(40000))
	}
	if g.chance(0.7) {
		g.queue = append(g.queue, g.setWatches(s))
	}
	return st
}

// paths returns up to n paths for a setWatches list; now and then a null
// list (Java's loop over it throws: MARSHALLINGERROR).
func (g *Gen) paths(n int) []string {
	if g.chance(0.02) {
		return nil
	}
	out := make([]string, g.pick(n+1))
	for i := range out {
		out[i] = g.path()
	}
	return out
}

func (g *Gen) setWatches(s int) Step {
	q := Req{RelLast: !g.chance(0.15)}
	if g.chance(0.5) {
		q.Xid = wire.XidSetWatches
	}
	if g.chance(0.5) {
		q.Op = wire.OpSetWatches
		q.Rec = &wire.SetWatches{DataWatches: g.paths(3), ExistWatches: g.paths(3), ChildWatches: g.paths(3)}
	} else {
		q.Op = wire.OpSetWatches2
		q.Rec = &wire.SetWatches2{DataWatches: g.paths(3), ExistWatches: g.paths(2), ChildWatches: g.paths(3),
			PersistentWatches: g.paths(2), PersistentRecursiveWatches: g.paths(1)}
	}
	return Step{Kind: KRequest, Sess: s, Req: q}
}

var names = []string{"a", "b", "c"}

// path returns a path in the small space under Root.
func (g *Gen) path() string {
	r := g.rnd.Float64()
	switch {
	case r < 0.015:
		return "/"
	case r < 0.02:
		return "/zookeeper"
	case r < 0.07:
		return SeqOf(g.parent[g.pick(len(g.parent))])
	case r < 0.08:
		return g.invalidPath()
	case r < 0.15:
		return g.cfg.Root
	}
	p := g.cfg.Root
	depth := 1 + g.pick(3)
	for i := 0; i < depth; i++ {
		p += "/" + names[g.pick(len(names))]
	}
	return p
}

func (g *Gen) invalidPath() string {
	bad := []string{"", "x", g.cfg.Root + "/", g.cfg.Root + "//a", g.cfg.Root + "/./a", g.cfg.Root + "/..",
		g.cfg.Root + "/a\x00b", g.cfg.Root + "/\u0001", g.cfg.Root + "/\ufff5", g.cfg.Root + "/\U0001F600",
		g.cfg.Root + "/\u00e9t\u00e9", g.cfg.Root + "/\u4e2d", g.cfg.Root + "/a b", g.cfg.Root + "/.a"}
	return bad[g.pick(len(bad))]
}

// treePath returns a path that is not "/" or under /zookeeper (for ops
// that could lock the harness out, such as setACL).
func (g *Gen) treePath() string {
	for {
		p := g.path()
		if p != "/" && p != "/zookeeper" {
			return p
		}
	}
}

func (g *Gen) data() []byte {
	switch r := g.rnd.Float64(); {
	case r < 0.03:
		return nil
	case r < 0.2:
		return []byte{}
	case r < 0.9:
		return []byte(fmt.Sprintf("v%d", g.pick(100)))
	case r < 0.98:
		b := make([]byte, g.pick(40))
		g.rnd.Read(b)
		return b
	default:
		b := make([]byte, 1000+g.pick(4000))
		g.rnd.Read(b)
		return b
	}
}

func (g *Gen) version() int32 {
	if g.chance(0.55) {
		return -1
	}
	return int32(g.pick(4))
}

func (g *Gen) acl() []wire.ACL {
	switch r := g.rnd.Float64(); {
	case r < 0.55:
		return OpenACL
	case r < 0.62:
		return []wire.ACL{ACLOf("world", "anyone", wire.PermRead)}
	case r < 0.70:
		return []wire.ACL{DigestACL("alice", "secret", wire.PermAll)}
	case r < 0.75:
		return []wire.ACL{DigestACL("alice", "secret", wire.PermAll), ACLOf("world", "anyone", wire.PermRead)}
	case r < 0.78:
		return []wire.ACL{DigestACL("bob", "pw", wire.PermRead|wire.PermWrite), DigestACL("alice", "secret", wire.PermAll)}
	case r < 0.83:
		return []wire.ACL{ACLOf("auth", "", wire.PermAll)}
	case r < 0.86:
		return []wire.ACL{ACLOf("ip", "127.0.0.1", wire.PermAll)}
	case r < 0.88:
		return []wire.ACL{ACLOf("ip", "10.0.0.0/8", wire.PermAll)}
	case r < 0.92:
		return []wire.ACL{ACLOf("world", "anyone", wire.PermRead|wire.PermWrite|wire.PermCreate|wire.PermDelete)}
	case r < 0.93:
		return []wire.ACL{ACLOf("world", "anyone", wire.PermAll), ACLOf("world", "anyone", wire.PermAll)}
	case r < 0.95:
		return []wire.ACL{ACLOf("world", "someone", wire.PermAll)}
	case r < 0.97:
		return []wire.ACL{}
	case r < 0.98:
		return nil
	default:
		return []wire.ACL{ACLOf("nosuch", "x", wire.PermAll)}
	}
}

// createOp returns a create-family multi op or request.
func (g *Gen) createOp() (wire.OpCode, jute.Record) {
	path := g.path()
	data := g.data()
	acl := g.acl()
	r := g.rnd.Float64()
	var op wire.OpCode
	switch {
	case r < 0.45:
		op = wire.OpCreate
	case r < 0.75:
		op = wire.OpCreate2
	case r < 0.85:
		op = wire.OpCreateContainer
	default:
		op = wire.OpCreateTTL
	}
	var mode wire.CreateMode
	switch r := g.rnd.Float64(); {
	case op == wire.OpCreateTTL && r < 0.6:
		mode = wire.ModePersistentWithTTL
	case op == wire.OpCreateTTL && r < 0.9:
		mode = wire.ModePersistentSequentialWithTTL
	case op == wire.OpCreateContainer && r < 0.9:
		mode = wire.ModeContainer
	case r < 0.45:
		mode = wire.ModePersistent
	case r < 0.65:
		mode = wire.ModeEphemeral
	case r < 0.75:
		mode = wire.ModePersistentSequential
	case r < 0.85:
		mode = wire.ModeEphemeralSequential
	case r < 0.90:
		mode = wire.ModeContainer
	case r < 0.95:
		mode = wire.ModePersistentWithTTL
	case r < 0.97:
		mode = wire.ModePersistentSequentialWithTTL
	default:
		mode = 99
	}
	if mode == wire.ModePersistentSequential || mode == wire.ModeEphemeralSequential || mode == wire.ModePersistentSequentialWithTTL {
		parent := g.parent[g.pick(len(g.parent))]
		prefix := "/s-"
		if mode == wire.ModeEphemeralSequential {
			prefix = "/e-"
		}
		path = parent + prefix
		g.seqN[parent]++
		if g.seqN[parent] >= g.cfg.PruneAt {
			g.seqN[parent] = 0
			g.queue = append(g.queue, Step{Kind: KPrune, Path: parent, Prefix: "s-"},
				Step{Kind: KPrune, Path: parent, Prefix: "e-"})
		}
	}
	if op == wire.OpCreateTTL {
		ttl := int64(3600_000)
		switch r := g.rnd.Float64(); {
		case r < 0.05:
			ttl = 0
		case r < 0.1:
			ttl = 1 << 41
		case r < 0.15 && mode.IsTTL():
			// A negative ttl only with a TTL mode: with any other mode Java
			// 3.8.0 crashes (DIFFERENCES.md #9).
			ttl = -5
		}
		return op, &wire.CreateTTLRequest{Path: path, Data: data, ACL: acl, Flags: int32(mode), TTL: ttl}
	}
	return op, &wire.CreateRequest{Path: path, Data: data, ACL: acl, Flags: int32(mode)}
}

func (g *Gen) multiOp() wire.MultiOp {
	switch r := g.rnd.Float64(); {
	case r < 0.4:
		op, rec := g.createOp()
		return wire.MultiOp{Type: op, Op: rec}
	case r < 0.6:
		return wire.MultiOp{Type: wire.OpDelete, Op: &wire.DeleteRequest{Path: g.path(), Version: g.version()}}
	case r < 0.8:
		return wire.MultiOp{Type: wire.OpSetData, Op: &wire.SetDataRequest{Path: g.path(), Data: g.data(), Version: g.version()}}
	default:
		return wire.MultiOp{Type: wire.OpCheck, Op: &wire.CheckVersionRequest{Path: g.path(), Version: g.version()}}
	}
}

func (g *Gen) readOp() wire.MultiOp {
	if g.chance(0.5) {
		return wire.MultiOp{Type: wire.OpGetData, Op: &wire.GetDataRequest{Path: g.path()}}
	}
	return wire.MultiOp{Type: wire.OpGetChildren, Op: &wire.GetChildrenRequest{Path: g.path()}}
}

// request returns one random request (never auth, closeSession or a
// standalone check: those are only sent alone).
func (g *Gen) request() Req {
	w := g.chance(0.5)
	switch r := g.rnd.Float64(); {
	case r < 0.08:
		return Req{Op: wire.OpExists, Rec: &wire.ExistsRequest{Path: g.path(), Watch: w}}
	case r < 0.16:
		return Req{Op: wire.OpGetData, Rec: &wire.GetDataRequest{Path: g.path(), Watch: w}}
	case r < 0.21:
		return Req{Op: wire.OpGetChildren, Rec: &wire.GetChildrenRequest{Path: g.path(), Watch: w}}
	case r < 0.26:
		return Req{Op: wire.OpGetChildren2, Rec: &wire.GetChildren2Request{Path: g.path(), Watch: w}}
	case r < 0.42:
		op, rec := g.createOp()
		return Req{Op: op, Rec: rec}
	case r < 0.52:
		return Req{Op: wire.OpSetData, Rec: &wire.SetDataRequest{Path: g.path(), Data: g.data(), Version: g.version()}}
	case r < 0.62:
		return Req{Op: wire.OpDelete, Rec: &wire.DeleteRequest{Path: g.path(), Version: g.version()}}
	case r < 0.67:
		ops := make([]wire.MultiOp, g.pick(5))
		for i := range ops {
			ops[i] = g.multiOp()
		}
		return Req{Op: wire.OpMulti, Rec: &wire.MultiRequest{Ops: ops}}
	case r < 0.70:
		ops := make([]wire.MultiOp, g.pick(4))
		for i := range ops {
			ops[i] = g.readOp()
		}
		if g.chance(0.1) {
			ops = append(ops, g.multiOp())
		}
		return Req{Op: wire.OpMultiRead, Rec: &wire.MultiRequest{Ops: ops}}
	case r < 0.72:
		return Req{Op: wire.OpGetACL, Rec: &wire.GetACLRequest{Path: g.path()}}
	case r < 0.75:
		return Req{Op: wire.OpSetACL, Rec: &wire.SetACLRequest{Path: g.treePath(), ACL: g.acl(), Version: g.version()}}
	case r < 0.79:
		mode := wire.AddWatchPersistent
		if g.chance(0.5) {
			mode = wire.AddWatchPersistentRecursive
		}
		if g.chance(0.03) {
			mode = 2
		}
		return Req{Op: wire.OpAddWatch, Rec: &wire.AddWatchRequest{Path: g.path(), Mode: mode}}
	case r < 0.815:
		typ := wire.WatcherType(1 + g.pick(3))
		if g.chance(0.03) {
			typ = 4
		}
		return Req{Op: wire.OpRemoveWatches, Rec: &wire.RemoveWatchesRequest{Path: g.path(), Type: typ}}
	case r < 0.83:
		return Req{Op: wire.OpCheckWatches, Rec: &wire.CheckWatchesRequest{Path: g.path(), Type: wire.WatcherType(1 + g.pick(3))}}
	case r < 0.845:
		return Req{Op: wire.OpSync, Rec: &wire.SyncRequest{Path: g.path()}}
	case r < 0.86:
		return Req{Op: wire.OpGetAllChildrenNumber, Rec: &wire.GetAllChildrenNumberRequest{Path: g.path()}}
	case r < 0.875:
		prefixes := []string{"", "/", g.cfg.Root, g.cfg.Root + "/a", g.cfg.Root + "/b/", "/nomatch"}
		return Req{Op: wire.OpGetEphemerals, Rec: &wire.GetEphemeralsRequest{PrefixPath: prefixes[g.pick(len(prefixes))]}}
	case r < 0.885:
		return Req{Op: wire.OpWhoAmI}
	case r < 0.89:
		return Req{Op: wire.OpPing}
	case r < 0.892:
		return Req{Op: wire.OpSASL, Rec: &wire.GetSASLRequest{Token: []byte("x")}}
	case r < 0.894:
		return Req{Op: wire.OpReconfig, Rec: &wire.ReconfigRequest{JoiningServers: "server.9=127.0.0.1:1:2", CurConfigID: -1}}
	case r < 0.896:
		return Req{Op: wire.OpDeleteContainer, Rec: &wire.DeleteRequest{Path: g.path()}}
	case r < 0.90:
		s := g.setWatches(0)
		return s.Req
	}
	// The rest: more plain reads and writes on the busy part of the tree.
	if g.chance(0.5) {
		return Req{Op: wire.OpGetData, Rec: &wire.GetDataRequest{Path: g.path(), Watch: w}}
	}
	return Req{Op: wire.OpSetData, Rec: &wire.SetDataRequest{Path: g.path(), Data: g.data(), Version: -1}}
}

// requestStep returns a request step on slot s.
func (g *Gen) requestStep(s int) Step {
	switch r := g.rnd.Float64(); {
	case r < 0.012:
		return Do(s, wire.OpCheck, &wire.CheckVersionRequest{Path: g.path(), Version: g.version()})
	case r < 0.027:
		creds := []string{"alice:secret", "alice:secret", "bob:pw", "bob:pw", "carol:", "nocolon", "super:test"}
		if g.chance(0.1) {
			return Auth(s, "ip", "127.0.0.1")
		}
		if g.chance(0.04) {
			g.slots[s] = slotDisconnected
			st := Auth(s, "nosuch", "x")
			st.CloseWait = true
			return st
		}
		return Auth(s, "digest", creds[g.pick(len(creds))])
	case r < 0.045:
		n := 2 + g.pick(3)
		st := Step{Kind: KBatch, Sess: s}
		for len(st.Reqs) < n {
			// sasl (like auth) is answered by Java's I/O thread and can
			// overtake the replies before it (DIFFERENCES.md #19); writes
			// behind a setACL see the old or the new ACL depending on
			// Java's timing (#22): neither is pipelined here.
			if q := g.request(); q.Op != wire.OpSASL && q.Op != wire.OpSetACL {
				st.Reqs = append(st.Reqs, q)
			}
		}
		return st
	}
	return Step{Kind: KRequest, Sess: s, Req: g.request()}
}
