package compattest

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkgo/zkgo/internal/rawzk"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

// Raw-wire compat tests: the operations go-zookeeper cannot send (create2,
// addWatch, multiRead, whoAmI, getEphemerals, getAllChildrenNumber,
// setWatches2, checkWatches/removeWatches, ...) are spoken byte for byte
// with internal/rawzk. Each scenario writes a transcript of everything every
// connection received, in arrival order (replies with decoded bodies and
// watch events), with zxids shown relative to the scenario's start and
// session ids by connection name. The transcript must equal the expected one
// below on both servers: Java ZooKeeper 3.8 is the oracle, the literal
// documents what it does. With ZKGO_RAW_DUMP=dir set, a transcript that
// differs is also written to dir/<scenario>.<server>, to refresh a literal
// from Java's output after a scenario changes.

// rawScenario is one raw-wire scenario and the transcript both servers must
// produce.
type rawScenario struct {
	name string
	run  func(s *rawSession)
	want string
}

// runRawScenarios runs every scenario against every target, in order, on
// one server of each kind. Scenarios use disjoint paths and close their
// sessions, so zxids stay deterministic.
func runRawScenarios(t *testing.T, scenarios []rawScenario) {
	tgs := servingTargets(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			got := map[string]string{}
			for _, tg := range tgs {
				t.Run(tg.name, func(t *testing.T) {
					s := newRawSession(t, tg.addr)
					sc.run(s)
					got[tg.name] = s.transcript()
					if g := got[tg.name]; g != strings.TrimLeft(sc.want, "\n") {
						t.Errorf("transcript differs from Java 3.8's\n%s", lineDiff(strings.TrimLeft(sc.want, "\n"), g))
						if dir := os.Getenv("ZKGO_RAW_DUMP"); dir != "" {
							_ = os.WriteFile(filepath.Join(dir, sc.name+"."+tg.name), []byte(g), 0o644)
						}
					}
				})
			}
			// If Java itself no longer matches the literal, show how zkgo
			// differs from Java directly.
			if z, j := got["zkgo"], got["java"]; j != strings.TrimLeft(sc.want, "\n") && z != "" && j != "" && z != j {
				t.Errorf("zkgo and Java transcripts differ\n%s", lineDiff(j, z))
			}
		})
	}
}

// rawSession runs one scenario against one server: it owns the
// connections and builds the transcript.
type rawSession struct {
	t     *testing.T
	addr  string
	base  wire.Zxid
	conns []*rawConn
	names map[wire.SessionID]string
	lines []string
}

func newRawSession(t *testing.T, addr string) *rawSession {
	s := &rawSession{t: t, addr: addr, names: map[wire.SessionID]string{}}
	t.Cleanup(s.closeAll)
	return s
}

// rawConn is a raw connection with the opcode of every xid it sent, so its
// replies can be decoded.
type rawConn struct {
	*rawzk.Client
	s      *rawSession
	name   string
	mu     sync.Mutex
	ops    map[wire.Xid]wire.OpCode
	dumped int // packets of Stream already in the transcript
	// hideZxid leaves reply zxids out of the transcript where Java's
	// zxid accounting is racy.
	hideZxid bool
}

// dial opens a raw connection. The first connection of a scenario fixes
// the zxid base (the zxid its first ping reply carries).
func (s *rawSession) dial(name string, opt rawzk.Options) *rawConn {
	s.t.Helper()
	cl, err := rawzk.Dial(s.addr, opt)
	if err != nil {
		s.t.Fatalf("%s: dial: %v", name, err)
	}
	c := &rawConn{Client: cl, s: s, name: name, ops: map[wire.Xid]wire.OpCode{}}
	s.conns = append(s.conns, c)
	if opt.SessionID == 0 {
		s.names[cl.SessionID()] = name
	}
	if len(s.conns) == 1 {
		h := c.do(wire.OpPing, nil)
		s.base = h.Zxid
		c.dumped = len(c.Stream())
	}
	return c
}

// closeAll ends every session still open (closeSession), so the next
// scenario starts from a quiet server.
func (s *rawSession) closeAll() {
	for _, c := range s.conns {
		select {
		case <-c.Done():
			continue
		default:
		}
		ch, err := c.Send(c.NextXid(), wire.OpCloseSession, nil)
		if err == nil {
			select {
			case <-ch:
			case <-time.After(10 * time.Second):
				s.t.Errorf("%s: no closeSession reply", c.name)
			}
		}
		c.Close()
	}
}

func (s *rawSession) logf(format string, args ...any) {
	s.lines = append(s.lines, fmt.Sprintf(format, args...))
}

func (s *rawSession) transcript() string { return strings.Join(s.lines, "\n") + "\n" }

// send pipelines a request with an explicit xid.
func (c *rawConn) send(xid wire.Xid, op wire.OpCode, req jute.Record) <-chan rawzk.Reply {
	c.s.t.Helper()
	c.mu.Lock()
	c.ops[xid] = op
	c.mu.Unlock()
	ch, err := c.Send(xid, op, req)
	if err != nil {
		c.s.t.Fatalf("%s: send %v: %v", c.name, op, err)
	}
	return ch
}

// rawReq is one request of a batch.
type rawReq struct {
	op  wire.OpCode
	req jute.Record
}

// writeBatch writes requests in a single write, without waiting for
// replies (read them from the stream), and returns their xids.
func (c *rawConn) writeBatch(reqs ...rawReq) []wire.Xid {
	c.s.t.Helper()
	var b []byte
	var xids []wire.Xid
	for _, r := range reqs {
		xid := c.NextXid()
		c.mu.Lock()
		c.ops[xid] = r.op
		c.mu.Unlock()
		b = wire.AppendRequest(b, wire.RequestHeader{Xid: xid, Type: r.op}, r.req)
		xids = append(xids, xid)
	}
	if err := c.WriteRaw(b); err != nil {
		c.s.t.Fatalf("%s: write: %v", c.name, err)
	}
	return xids
}

// do sends a request and waits for its reply.
func (c *rawConn) do(op wire.OpCode, req jute.Record) wire.ReplyHeader {
	c.s.t.Helper()
	xid := c.NextXid()
	if op == wire.OpPing {
		xid = wire.XidPing
	}
	return c.await(op, c.send(xid, op, req))
}

func (c *rawConn) await(op wire.OpCode, ch <-chan rawzk.Reply) wire.ReplyHeader {
	c.s.t.Helper()
	select {
	case r, ok := <-ch:
		if !ok {
			c.s.t.Fatalf("%s: connection closed waiting for %v: %v", c.name, op, c.Err())
		}
		return r.Header
	case <-time.After(15 * time.Second):
		c.s.t.Fatalf("%s: no reply to %v", c.name, op)
	}
	return wire.ReplyHeader{}
}

// dump appends what c received since the last dump to the transcript.
func (c *rawConn) dump() {
	st := c.Stream()
	for _, p := range st[c.dumped:] {
		c.s.lines = append(c.s.lines, c.name+" "+c.format(p))
	}
	c.dumped = len(st)
}

// settle pings c (so every event of the transactions applied so far is in
// its stream, ahead of the ping reply) and dumps it.
func (c *rawConn) settle() {
	c.s.t.Helper()
	c.do(wire.OpPing, nil)
	c.dump()
}

// waitClosed waits until the server closes c and logs it.
func (c *rawConn) waitClosed(within time.Duration) {
	c.s.t.Helper()
	select {
	case <-c.Done():
		c.dump()
		c.s.logf("%s closed by server", c.name)
	case <-time.After(within):
		c.dump()
		c.s.logf("%s still open after %v", c.name, within)
	}
}

func (c *rawConn) format(p rawzk.Packet) string {
	s := c.s
	if p.Event != nil {
		e := p.Event
		out := fmt.Sprintf("event %v %s", e.Type, e.Path)
		if e.State != wire.StateSyncConnected || p.Header.Zxid != -1 || p.Header.Err != 0 {
			out += fmt.Sprintf(" state=%v zxid=%d err=%s", e.State, p.Header.Zxid, p.Header.Err.Name())
		}
		return out
	}
	h := p.Header
	c.mu.Lock()
	op, known := c.ops[h.Xid]
	c.mu.Unlock()
	name := op.String()
	if !known {
		name = fmt.Sprintf("xid%d?", h.Xid)
	}
	zx := s.zxid(h.Zxid)
	if c.hideZxid {
		zx = "*"
	}
	out := fmt.Sprintf("%s %s zxid=%s", name, h.Err.Name(), zx)
	if h.Xid < 0 && h.Xid != wire.XidPing {
		out += fmt.Sprintf(" xid=%d", h.Xid)
	}
	if !known {
		return out + fmt.Sprintf(" body=%x", p.Body)
	}
	if body := s.body(op, h.Err, p.Body); body != "" {
		out += " " + body
	}
	return out
}

// zxid shows z relative to the scenario's base; 0 and negative values are
// shown as they are.
func (s *rawSession) zxid(z wire.Zxid) string {
	if z <= 0 {
		return strconv.FormatInt(int64(z), 10)
	}
	return fmt.Sprintf("+%d", z-s.base)
}

func (s *rawSession) session(id int64) string {
	if id == 0 {
		return "0"
	}
	if n, ok := s.names[wire.SessionID(id)]; ok {
		return n
	}
	return fmt.Sprintf("%#x", id)
}

// stat formats a Stat with zxids relative to the base and times checked
// against the clock.
func (s *rawSession) stat(st wire.Stat) string {
	now := time.Now().UnixMilli()
	when := func(ms int64) string {
		if ms > now-120_000 && ms <= now+1000 {
			return "now"
		}
		return strconv.FormatInt(ms, 10)
	}
	// mtime is the create's time until the first setData, later after.
	mtime := strconv.FormatInt(st.Mtime, 10)
	switch {
	case st.Mzxid == st.Czxid && st.Mtime == st.Ctime:
		mtime = "ctime"
	case st.Mzxid != st.Czxid && st.Mtime >= st.Ctime && when(st.Mtime) == "now":
		mtime = "later"
	}
	return fmt.Sprintf("{cz=%s mz=%s pz=%s ctime=%s mtime=%s v=%d cv=%d av=%d eph=%s len=%d kids=%d}",
		s.zxid(st.Czxid), s.zxid(st.Mzxid), s.zxid(st.Pzxid), when(st.Ctime), mtime,
		st.Version, st.Cversion, st.Aversion, s.session(st.EphemeralOwner), st.DataLength, st.NumChildren)
}

// body decodes a reply body for op and formats it; bytes left over after
// the record are reported.
func (s *rawSession) body(op wire.OpCode, errc wire.ErrCode, b []byte) string {
	if !wire.ReplyHasBody(op, errc) || errc != wire.ErrOk && len(b) == 0 {
		if len(b) != 0 {
			return fmt.Sprintf("unexpected-body=%x", b)
		}
		return ""
	}
	rec, _, _ := wire.NewResponseRecord(op)
	r := jute.NewReader(b)
	rec.Decode(&r)
	if err := r.Err(); err != nil {
		return fmt.Sprintf("undecodable(%v)=%x", err, b)
	}
	out := s.record(rec)
	if r.Remaining() > 0 {
		out += fmt.Sprintf(" trailing=%x", r.Rest())
	}
	return out
}

func (s *rawSession) record(rec jute.Record) string {
	switch v := rec.(type) {
	case *wire.CreateResponse:
		return v.Path
	case *wire.Create2Response:
		return v.Path + " " + s.stat(v.Stat)
	case *wire.ExistsResponse:
		return s.stat(v.Stat)
	case *wire.SetDataResponse:
		return s.stat(v.Stat)
	case *wire.GetDataResponse:
		return strconv.Quote(string(v.Data)) + " " + s.stat(v.Stat)
	case *wire.GetChildrenResponse:
		return sortedList(v.Children)
	case *wire.GetChildren2Response:
		return sortedList(v.Children) + " " + s.stat(v.Stat)
	case *wire.SetACLResponse:
		return s.stat(v.Stat)
	case *wire.GetACLResponse:
		var acl []string
		for _, a := range v.ACL {
			acl = append(acl, fmt.Sprintf("%s:%s:%d", a.ID.Scheme, a.ID.ID, a.Perms))
		}
		return "[" + strings.Join(acl, " ") + "] " + s.stat(v.Stat)
	case *wire.SyncResponse:
		return v.Path
	case *wire.GetEphemeralsResponse:
		return sortedList(v.Ephemerals)
	case *wire.GetAllChildrenNumberResponse:
		return strconv.Itoa(int(v.TotalNumber))
	case *wire.ErrorResponse:
		return fmt.Sprintf("{err=%s}", v.Err.Name())
	case *wire.WhoAmIResponse:
		// Java lists the connection's auth ids in ConcurrentHashMap
		// order, which zkgo reproduces: compared as a list.
		var parts []string
		for _, ci := range v.ClientInfo {
			user := ci.User
			if ci.Nulls.Has(1) {
				user = "<null>"
			}
			parts = append(parts, ci.AuthScheme+":"+user)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case *wire.MultiResponse:
		var parts []string
		for _, res := range v.Results {
			if res.Type == wire.OpError {
				parts = append(parts, fmt.Sprintf("error(%s)", res.Err.Name()))
				continue
			}
			p := res.Type.String()
			if res.Result != nil {
				p += " " + s.record(res.Result)
			}
			parts = append(parts, p)
		}
		return "[" + strings.Join(parts, "; ") + "]"
	}
	return fmt.Sprintf("%+v", rec)
}

// sortedList formats an unordered list (DIFFERENCES.md #5) as a set.
func sortedList(l []string) string {
	l = append([]string(nil), l...)
	sort.Strings(l)
	return "[" + strings.Join(l, " ") + "]"
}

// Request builders.

func createReq(path, data string, mode wire.CreateMode) *wire.CreateRequest {
	return &wire.CreateRequest{Path: path, Data: []byte(data), ACL: tree.OpenACLUnsafe, Flags: int32(mode)}
}

func ttlReq(path string, mode wire.CreateMode, ttl int64) *wire.CreateTTLRequest {
	return &wire.CreateTTLRequest{Path: path, ACL: tree.OpenACLUnsafe, Flags: int32(mode), TTL: ttl}
}

func setReq(path, data string) *wire.SetDataRequest {
	return &wire.SetDataRequest{Path: path, Data: []byte(data), Version: -1}
}

func delReq(path string) *wire.DeleteRequest { return &wire.DeleteRequest{Path: path, Version: -1} }

func getReq(path string, watch bool) *wire.GetDataRequest {
	return &wire.GetDataRequest{Path: path, Watch: watch}
}

func kidsReq(path string, watch bool) *wire.GetChildrenRequest {
	return &wire.GetChildrenRequest{Path: path, Watch: watch}
}

func existsReq(path string, watch bool) *wire.ExistsRequest {
	return &wire.ExistsRequest{Path: path, Watch: watch}
}

func addWatchReq(path string, mode wire.AddWatchMode) *wire.AddWatchRequest {
	return &wire.AddWatchRequest{Path: path, Mode: mode}
}

func authReq(scheme, cred string) *wire.AuthPacket {
	return &wire.AuthPacket{Scheme: scheme, Auth: []byte(cred)}
}

// digestACL is the ACL digest:user:base64(sha1(user:password)) with perms.
func digestACL(user, password string, perms wire.Perm) wire.ACL {
	sum := sha1.Sum([]byte(user + ":" + password))
	return wire.ACL{Perms: int32(perms), ID: wire.ID{Scheme: "digest", ID: user + ":" + base64.StdEncoding.EncodeToString(sum[:])}}
}

// The scenarios.

var rawScenarios = []rawScenario{
	// First, while the tree is fresh.
	{name: "SystemNodes", run: scenarioSystemNodes, want: wantSystemNodes},
	{name: "Create2AndExtendedCreates", run: scenarioCreate2, want: wantCreate2},
	{name: "PersistentAndRecursiveWatches", run: scenarioAddWatch, want: wantAddWatch},
	{name: "Multi", run: scenarioMulti, want: wantMulti},
	{name: "MultiRead", run: scenarioMultiRead, want: wantMultiRead},
	{name: "WhoAmI", run: scenarioWhoAmI, want: wantWhoAmI},
	{name: "ACLFilteredWatches", run: scenarioACLWatches, want: wantACLWatches},
	{name: "GetEphemerals", run: scenarioGetEphemerals, want: wantGetEphemerals},
	{name: "GetAllChildrenNumber", run: scenarioAllChildren, want: wantAllChildren},
	{name: "SetWatchesOnReconnect", run: scenarioSetWatches, want: wantSetWatches},
	{name: "RemoveAndCheckWatches", run: scenarioRemoveWatches, want: wantRemoveWatches},
	{name: "SyncAndPing", run: scenarioSyncPing, want: wantSyncPing},
	{name: "CloseSessionPipelined", run: scenarioCloseSession, want: wantCloseSession},
	{name: "MalformedBodies", run: scenarioMalformed, want: wantMalformed},
}

func TestRawWire(t *testing.T) { runRawScenarios(t, rawScenarios) }

func scenarioSystemNodes(s *rawSession) {
	c := s.dial("C", rawzk.Options{})
	for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"} {
		c.do(wire.OpGetData, getReq(p, false))
		c.do(wire.OpGetACL, &wire.GetACLRequest{Path: p})
		c.do(wire.OpGetChildren2, &wire.GetChildren2Request{Path: p})
	}
	c.do(wire.OpGetAllChildrenNumber, &wire.GetAllChildrenNumberRequest{Path: "/"})
	c.do(wire.OpSetData, setReq("/zookeeper/config", "x"))
	c.do(wire.OpDelete, delReq("/zookeeper/quota"))
	c.do(wire.OpCreate, createReq("/zookeeper/mine", "", wire.ModePersistent))
	c.do(wire.OpDelete, delReq("/zookeeper/mine"))
	c.dump()
}

const wantSystemNodes = `
C getData OK zxid=+0 "" {cz=0 mz=0 pz=0 ctime=0 mtime=ctime v=0 cv=-1 av=0 eph=0 len=0 kids=1}
C getACL OK zxid=+0 [world:anyone:31] {cz=0 mz=0 pz=0 ctime=0 mtime=ctime v=0 cv=-1 av=0 eph=0 len=0 kids=1}
C getChildren2 OK zxid=+0 [zookeeper] {cz=0 mz=0 pz=0 ctime=0 mtime=ctime v=0 cv=-1 av=0 eph=0 len=0 kids=1}
C getData OK zxid=+0 "" {cz=0 mz=0 pz=0 ctime=0 mtime=ctime v=0 cv=-2 av=0 eph=0 len=0 kids=2}
C getACL OK zxid=+0 [world:anyone:31] {cz=0 mz=0 pz=0 ctime=0 mtime=ctime v=0 cv=-2 av=0 eph=0 len=0 kids=2}
C getChildren2 OK zxid=+0 [config quota] {cz=0 mz=0 pz=0 ctime=0 mtime=ctime v=0 cv=-2 av=0 eph=0 len=0 kids=2}
C getData OK zxid=+0 "" {cz=0 mz=0 pz=0 ctime=0 mtime=ctime v=0 cv=0 av=0 eph=0 len=0 kids=0}
C getACL OK zxid=+0 [world:anyone:31] {cz=0 mz=0 pz=0 ctime=0 mtime=ctime v=0 cv=0 av=0 eph=0 len=0 kids=0}
C getChildren2 OK zxid=+0 [] {cz=0 mz=0 pz=0 ctime=0 mtime=ctime v=0 cv=0 av=0 eph=0 len=0 kids=0}
C getData OK zxid=+0 "" {cz=0 mz=0 pz=0 ctime=0 mtime=ctime v=0 cv=0 av=-1 eph=0 len=0 kids=0}
C getACL OK zxid=+0 [world:anyone:1] {cz=0 mz=0 pz=0 ctime=0 mtime=ctime v=0 cv=0 av=-1 eph=0 len=0 kids=0}
C getChildren2 OK zxid=+0 [] {cz=0 mz=0 pz=0 ctime=0 mtime=ctime v=0 cv=0 av=-1 eph=0 len=0 kids=0}
C getAllChildrenNumber OK zxid=+0 3
C setData NOAUTH zxid=+1
C delete BADARGUMENTS zxid=+2
C create OK zxid=+3 /zookeeper/mine
C delete OK zxid=+4
`

func scenarioCreate2(s *rawSession) {
	c := s.dial("C", rawzk.Options{})
	c.do(wire.OpCreate2, createReq("/c2", "hello", wire.ModePersistent))
	c.do(wire.OpCreate2, createReq("/c2", "again", wire.ModePersistent))
	c.do(wire.OpCreate2, createReq("/c2/seq-", "", wire.ModePersistentSequential))
	c.do(wire.OpCreate2, createReq("/c2/eph", "e", wire.ModeEphemeral))
	c.do(wire.OpCreate2, createReq("/missing/x", "", wire.ModePersistent))
	c.do(wire.OpCreate, createReq("/c2/plain", "p", wire.ModePersistent))
	// createContainer and createTTL answer with a Create2Response; clients
	// see ephemeralOwner 0 for both.
	c.do(wire.OpCreateContainer, createReq("/c2/box", "b", wire.ModeContainer))
	c.do(wire.OpCreateContainer, createReq("/c2/box0", "", wire.ModePersistent))
	c.do(wire.OpCreateTTL, ttlReq("/c2/ttl", wire.ModePersistentWithTTL, 3_600_000))
	c.do(wire.OpCreateTTL, ttlReq("/c2/ttlseq-", wire.ModePersistentSequentialWithTTL, 3_600_000))
	c.do(wire.OpCreateTTL, ttlReq("/c2/ttl0", wire.ModePersistentWithTTL, 0))
	c.do(wire.OpCreateTTL, ttlReq("/c2/ttlbig", wire.ModePersistentWithTTL, 1<<41))
	c.do(wire.OpCreateTTL, ttlReq("/c2/ttlflag", wire.ModeEphemeral, 1000))
	// create (1) with the container flag makes a plain persistent node.
	c.do(wire.OpCreate, createReq("/c2/notbox", "", wire.ModeContainer))
	c.do(wire.OpGetChildren2, &wire.GetChildren2Request{Path: "/c2"})
	c.do(wire.OpGetData, getReq("/c2/box", false))
	c.do(wire.OpGetData, getReq("/c2/ttl", false))
	c.do(wire.OpDelete, delReq("/c2/notbox"))
	c.dump()
}

const wantCreate2 = `
C create2 OK zxid=+1 /c2 {cz=+1 mz=+1 pz=+1 ctime=now mtime=ctime v=0 cv=0 av=0 eph=0 len=5 kids=0}
C create2 NODEEXISTS zxid=+2
C create2 OK zxid=+3 /c2/seq-0000000000 {cz=+3 mz=+3 pz=+3 ctime=now mtime=ctime v=0 cv=0 av=0 eph=0 len=0 kids=0}
C create2 OK zxid=+4 /c2/eph {cz=+4 mz=+4 pz=+4 ctime=now mtime=ctime v=0 cv=0 av=0 eph=C len=1 kids=0}
C create2 NONODE zxid=+5
C create OK zxid=+6 /c2/plain
C createContainer OK zxid=+7 /c2/box {cz=+7 mz=+7 pz=+7 ctime=now mtime=ctime v=0 cv=0 av=0 eph=0 len=1 kids=0}
C createContainer OK zxid=+8 /c2/box0 {cz=+8 mz=+8 pz=+8 ctime=now mtime=ctime v=0 cv=0 av=0 eph=0 len=0 kids=0}
C createTTL OK zxid=+9 /c2/ttl {cz=+9 mz=+9 pz=+9 ctime=now mtime=ctime v=0 cv=0 av=0 eph=0 len=0 kids=0}
C createTTL OK zxid=+10 /c2/ttlseq-0000000006 {cz=+10 mz=+10 pz=+10 ctime=now mtime=ctime v=0 cv=0 av=0 eph=0 len=0 kids=0}
C createTTL BADARGUMENTS zxid=+11
C createTTL BADARGUMENTS zxid=+12
C createTTL BADARGUMENTS zxid=+13
C create OK zxid=+14 /c2/notbox
C getChildren2 OK zxid=+14 [box box0 eph notbox plain seq-0000000000 ttl ttlseq-0000000006] {cz=+1 mz=+1 pz=+14 ctime=now mtime=ctime v=0 cv=8 av=0 eph=0 len=5 kids=8}
C getData OK zxid=+14 "b" {cz=+7 mz=+7 pz=+7 ctime=now mtime=ctime v=0 cv=0 av=0 eph=0 len=1 kids=0}
C getData OK zxid=+14 "" {cz=+9 mz=+9 pz=+9 ctime=now mtime=ctime v=0 cv=0 av=0 eph=0 len=0 kids=0}
C delete OK zxid=+15
`

func scenarioAddWatch(s *rawSession) {
	w := s.dial("W", rawzk.Options{})
	c := s.dial("C", rawzk.Options{})
	w.do(wire.OpAddWatch, addWatchReq("/pw", wire.AddWatchPersistent))
	w.do(wire.OpAddWatch, addWatchReq("/rw", wire.AddWatchPersistentRecursive))
	w.do(wire.OpAddWatch, addWatchReq("/bad", 2))
	w.do(wire.OpAddWatch, addWatchReq("no-slash", wire.AddWatchPersistent))
	w.dump()
	// PERSISTENT: the node's own events and its children changes, never
	// descendants; it survives deletion.
	for _, r := range []struct {
		op  wire.OpCode
		req jute.Record
	}{
		{wire.OpCreate, createReq("/pw", "", wire.ModePersistent)},
		{wire.OpCreate, createReq("/pw/a", "", wire.ModePersistent)},
		{wire.OpSetData, setReq("/pw", "1")},
		{wire.OpCreate, createReq("/pw/a/b", "", wire.ModePersistent)},
		{wire.OpSetData, setReq("/pw/a", "1")},
		{wire.OpDelete, delReq("/pw/a/b")},
		{wire.OpDelete, delReq("/pw/a")},
		{wire.OpDelete, delReq("/pw")},
		{wire.OpCreate, createReq("/pw", "", wire.ModePersistent)},
		// PERSISTENT_RECURSIVE: created/changed/deleted for the whole
		// subtree, never NodeChildrenChanged.
		{wire.OpCreate, createReq("/rw", "", wire.ModePersistent)},
		{wire.OpCreate, createReq("/rw/a", "", wire.ModePersistent)},
		{wire.OpCreate, createReq("/rw/a/b", "", wire.ModePersistent)},
		{wire.OpSetData, setReq("/rw/a", "1")},
		{wire.OpDelete, delReq("/rw/a/b")},
		{wire.OpDelete, delReq("/rw/a")},
		{wire.OpCreate, &wire.CreateRequest{Path: "/rw/secret", ACL: []wire.ACL{digestACL("alice", "secret", wire.PermAll)}}},
		{wire.OpDelete, delReq("/rw/secret")},
		{wire.OpCreate, createReq("/rw/e", "", wire.ModeEphemeral)},
	} {
		c.do(r.op, r.req)
	}
	w.settle()
	// The watcher's own write: the event comes before the reply.
	w.do(wire.OpSetData, setReq("/rw", "own"))
	w.dump()
	// One event per connection per trigger: recursive /rw plus exists on
	// /rw/x give one NodeCreated.
	w.do(wire.OpExists, existsReq("/rw/x", true))
	c.do(wire.OpCreate, createReq("/rw/x", "", wire.ModePersistent))
	w.settle()
	// 3.8: a one-shot getData on a persistent path downgrades the data half
	// to one-shot; the child half stays persistent.
	c.do(wire.OpCreate, createReq("/p6", "", wire.ModePersistent))
	w.do(wire.OpAddWatch, addWatchReq("/p6", wire.AddWatchPersistent))
	w.do(wire.OpGetData, getReq("/p6", true))
	c.do(wire.OpSetData, setReq("/p6", "1"))
	c.do(wire.OpSetData, setReq("/p6", "2"))
	c.do(wire.OpCreate, createReq("/p6/d", "", wire.ModePersistent))
	c.do(wire.OpCreate, createReq("/p6/e", "", wire.ModePersistent))
	w.settle()
	c.dump()
	// The ephemeral /rw/e goes with C's session: NodeDeleted for W.
	c.do(wire.OpCloseSession, nil)
	c.dump()
	w.settle()
	for _, p := range w.Stream() {
		if p.Event != nil && p.Event.Type == wire.EventNodeChildrenChanged && strings.HasPrefix(p.Event.Path, "/rw") {
			s.t.Errorf("recursive watcher got %v %s", p.Event.Type, p.Event.Path)
		}
	}
}

const wantAddWatch = `
W addWatch OK zxid=+1 {err=OK}
W addWatch OK zxid=+1 {err=OK}
W addWatch MARSHALLINGERROR zxid=+1
W addWatch OK zxid=+1 {err=OK}
W event NodeCreated /pw
W event NodeChildrenChanged /pw
W event NodeDataChanged /pw
W event NodeChildrenChanged /pw
W event NodeDeleted /pw
W event NodeCreated /pw
W event NodeCreated /rw
W event NodeCreated /rw/a
W event NodeCreated /rw/a/b
W event NodeDataChanged /rw/a
W event NodeDeleted /rw/a/b
W event NodeDeleted /rw/a
W event NodeCreated /rw/e
W ping OK zxid=+19
W event NodeDataChanged /rw
W setData OK zxid=+20 {cz=+11 mz=+20 pz=+19 ctime=now mtime=later v=1 cv=5 av=0 eph=0 len=3 kids=1}
W exists NONODE zxid=+20
W event NodeCreated /rw/x
W ping OK zxid=+21
W addWatch OK zxid=+22 {err=OK}
W getData OK zxid=+22 "" {cz=+22 mz=+22 pz=+22 ctime=now mtime=ctime v=0 cv=0 av=0 eph=0 len=0 kids=0}
W event NodeDataChanged /p6
W event NodeChildrenChanged /p6
W event NodeChildrenChanged /p6
W ping OK zxid=+26
C create OK zxid=+2 /pw
C create OK zxid=+3 /pw/a
C setData OK zxid=+4 {cz=+2 mz=+4 pz=+3 ctime=now mtime=later v=1 cv=1 av=0 eph=0 len=1 kids=1}
C create OK zxid=+5 /pw/a/b
C setData OK zxid=+6 {cz=+3 mz=+6 pz=+5 ctime=now mtime=later v=1 cv=1 av=0 eph=0 len=1 kids=1}
C delete OK zxid=+7
C delete OK zxid=+8
C delete OK zxid=+9
C create OK zxid=+10 /pw
C create OK zxid=+11 /rw
C create OK zxid=+12 /rw/a
C create OK zxid=+13 /rw/a/b
C setData OK zxid=+14 {cz=+12 mz=+14 pz=+13 ctime=now mtime=later v=1 cv=1 av=0 eph=0 len=1 kids=1}
C delete OK zxid=+15
C delete OK zxid=+16
C create OK zxid=+17 /rw/secret
C delete OK zxid=+18
C create OK zxid=+19 /rw/e
C create OK zxid=+21 /rw/x
C create OK zxid=+22 /p6
C setData OK zxid=+23 {cz=+22 mz=+23 pz=+22 ctime=now mtime=later v=1 cv=0 av=0 eph=0 len=1 kids=0}
C setData OK zxid=+24 {cz=+22 mz=+24 pz=+22 ctime=now mtime=later v=2 cv=0 av=0 eph=0 len=1 kids=0}
C create OK zxid=+25 /p6/d
C create OK zxid=+26 /p6/e
C closeSession OK zxid=+27
W event NodeDeleted /rw/e
W ping OK zxid=+27
`

func multiReq(ops ...wire.MultiOp) *wire.MultiRequest { return &wire.MultiRequest{Ops: ops} }

func scenarioMulti(s *rawSession) {
	w := s.dial("W", rawzk.Options{})
	c := s.dial("C", rawzk.Options{})
	c.do(wire.OpCreate, createReq("/mu", "", wire.ModePersistent))
	w.do(wire.OpGetChildren, kidsReq("/mu", true))
	w.do(wire.OpExists, existsReq("/mu/a", true))
	w.do(wire.OpGetData, getReq("/mu", true))
	// Subops apply in order, each firing its own events, all before the
	// reply.
	c.do(wire.OpMulti, multiReq(
		wire.MultiOp{Type: wire.OpCreate, Op: createReq("/mu/a", "1", wire.ModePersistent)},
		wire.MultiOp{Type: wire.OpSetData, Op: setReq("/mu", "x")},
		wire.MultiOp{Type: wire.OpCreate2, Op: createReq("/mu/b", "", wire.ModePersistentSequential)},
		wire.MultiOp{Type: wire.OpCreateTTL, Op: ttlReq("/mu/t", wire.ModePersistentWithTTL, 3_600_000)},
		wire.MultiOp{Type: wire.OpCreateContainer, Op: createReq("/mu/box", "", wire.ModeContainer)},
		wire.MultiOp{Type: wire.OpCheck, Op: &wire.CheckVersionRequest{Path: "/mu", Version: 1}},
		wire.MultiOp{Type: wire.OpDelete, Op: delReq("/mu/b0000000001")},
	))
	w.settle()
	// A failing multi: nothing applied, no events, per-op results.
	c.do(wire.OpMulti, multiReq(
		wire.MultiOp{Type: wire.OpCreate, Op: createReq("/mu/c", "", wire.ModePersistent)},
		wire.MultiOp{Type: wire.OpSetData, Op: &wire.SetDataRequest{Path: "/mu/a", Version: 5}},
		wire.MultiOp{Type: wire.OpDelete, Op: delReq("/mu/a")},
	))
	c.do(wire.OpMulti, multiReq(
		wire.MultiOp{Type: wire.OpCheck, Op: &wire.CheckVersionRequest{Path: "/mu/none", Version: 0}},
		wire.MultiOp{Type: wire.OpCreate, Op: createReq("/mu/d", "", wire.ModePersistent)},
	))
	c.do(wire.OpMulti, multiReq(
		wire.MultiOp{Type: wire.OpCreate, Op: createReq("bad-path", "", wire.ModePersistent)},
	))
	c.do(wire.OpMulti, multiReq(
		wire.MultiOp{Type: wire.OpCreate, Op: createReq("/mu/e", "", 99)},
	))
	c.do(wire.OpMulti, multiReq(
		wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/mu/f", ACL: []wire.ACL{}}},
	))
	c.do(wire.OpMulti, multiReq(
		wire.MultiOp{Type: wire.OpDelete, Op: delReq("/mu")},
	))
	// Reads inside multi (14), alone or mixed with writes.
	c.do(wire.OpMulti, multiReq(wire.MultiOp{Type: wire.OpGetData, Op: getReq("/mu", false)}))
	c.do(wire.OpMulti, multiReq(
		wire.MultiOp{Type: wire.OpCreate, Op: createReq("/mu/g", "", wire.ModePersistent)},
		wire.MultiOp{Type: wire.OpGetData, Op: getReq("/mu", false)},
	))
	// An empty multi uses a zxid.
	c.do(wire.OpMulti, multiReq())
	// The watcher's own multi: its events come before its reply.
	w.do(wire.OpGetData, getReq("/mu/a", true))
	w.do(wire.OpMulti, multiReq(
		wire.MultiOp{Type: wire.OpSetData, Op: setReq("/mu/a", "own")},
		wire.MultiOp{Type: wire.OpDelete, Op: delReq("/mu/a")},
	))
	w.settle()
	c.do(wire.OpGetChildren, kidsReq("/mu", false))
	c.dump()
}

const wantMulti = `
W getChildren OK zxid=+2 []
W exists NONODE zxid=+2
W getData OK zxid=+2 "" {cz=+2 mz=+2 pz=+2 ctime=now mtime=ctime v=0 cv=0 av=0 eph=0 len=0 kids=0}
W event NodeCreated /mu/a
W event NodeChildrenChanged /mu
W event NodeDataChanged /mu
W ping OK zxid=+3
W getData OK zxid=+12 "1" {cz=+3 mz=+3 pz=+3 ctime=now mtime=ctime v=0 cv=0 av=0 eph=0 len=1 kids=0}
W event NodeDataChanged /mu/a
W multi OK zxid=+13 [setData {cz=+3 mz=+13 pz=+3 ctime=now mtime=later v=1 cv=0 av=0 eph=0 len=3 kids=0}; delete]
W ping OK zxid=+13
C create OK zxid=+2 /mu
C multi OK zxid=+3 [create /mu/a; setData {cz=+2 mz=+3 pz=+3 ctime=now mtime=later v=1 cv=1 av=0 eph=0 len=1 kids=1}; create /mu/b0000000001; create2 /mu/t {cz=+3 mz=+3 pz=+3 ctime=now mtime=ctime v=0 cv=0 av=0 eph=0 len=0 kids=0}; create2 /mu/box {cz=+3 mz=+3 pz=+3 ctime=now mtime=ctime v=0 cv=0 av=0 eph=0 len=0 kids=0}; check; delete]
C multi OK zxid=+4 [error(OK); error(BADVERSION); error(RUNTIMEINCONSISTENCY)]
C multi OK zxid=+5 [error(NONODE); error(RUNTIMEINCONSISTENCY)]
C multi OK zxid=+6 [error(BADARGUMENTS)]
C multi OK zxid=+7 [error(BADARGUMENTS)]
C multi OK zxid=+8 [error(INVALIDACL)]
C multi OK zxid=+9 [error(NOTEMPTY)]
C multi MARSHALLINGERROR zxid=+10
C multi MARSHALLINGERROR zxid=+11
C multi OK zxid=+12 []
C getChildren OK zxid=+13 [box t]
`

func scenarioMultiRead(s *rawSession) {
	c := s.dial("C", rawzk.Options{})
	w := s.dial("W", rawzk.Options{})
	c.do(wire.OpCreate, createReq("/mr", "top", wire.ModePersistent))
	c.do(wire.OpCreate, createReq("/mr/a", "A", wire.ModePersistent))
	c.do(wire.OpCreate, createReq("/mr/b", "", wire.ModePersistent))
	c.do(wire.OpCreate, &wire.CreateRequest{Path: "/mr/secret", Data: []byte("s"), ACL: []wire.ACL{digestACL("alice", "secret", wire.PermAll)}})
	w.do(wire.OpMultiRead, &wire.MultiRequest{Ops: []wire.MultiOp{
		{Type: wire.OpGetData, Op: getReq("/mr", true)},
		{Type: wire.OpGetChildren, Op: kidsReq("/mr", true)},
		{Type: wire.OpGetData, Op: getReq("/mr/missing", true)},
		{Type: wire.OpGetChildren, Op: kidsReq("/missing", false)},
		{Type: wire.OpGetData, Op: getReq("/mr/secret", false)},
		{Type: wire.OpGetData, Op: getReq("/mr/a", false)},
	}})
	w.do(wire.OpMultiRead, &wire.MultiRequest{})
	// The watches armed inside multiRead fire; the failed getData armed
	// none.
	c.do(wire.OpSetData, setReq("/mr", "changed"))
	c.do(wire.OpCreate, createReq("/mr/c", "", wire.ModePersistent))
	c.do(wire.OpCreate, createReq("/mr/missing", "", wire.ModePersistent))
	w.settle()
	// A write inside multiRead, and a read inside multi.
	w.do(wire.OpMultiRead, &wire.MultiRequest{Ops: []wire.MultiOp{
		{Type: wire.OpGetData, Op: getReq("/mr", false)},
		{Type: wire.OpCreate, Op: createReq("/mr/w", "", wire.ModePersistent)},
	}})
	// Only write ops: Java builds the response before failing, so the
	// MARSHALLINGERROR reply carries an empty MultiResponse.
	w.do(wire.OpMultiRead, &wire.MultiRequest{Ops: []wire.MultiOp{
		{Type: wire.OpCreate, Op: createReq("/mr/w", "", wire.ModePersistent)},
	}})
	w.settle()
	c.do(wire.OpExists, existsReq("/mr/w", false))
	c.dump()
}

const wantMultiRead = `
W multiRead OK zxid=+5 [getData "top" {cz=+2 mz=+2 pz=+5 ctime=now mtime=ctime v=0 cv=3 av=0 eph=0 len=3 kids=3}; getChildren [a b secret]; error(NONODE); error(NONODE); error(NOAUTH); getData "A" {cz=+3 mz=+3 pz=+3 ctime=now mtime=ctime v=0 cv=0 av=0 eph=0 len=1 kids=0}]
W multiRead OK zxid=+5 []
W ping OK zxid=+8
W multiRead MARSHALLINGERROR zxid=+8
W multiRead MARSHALLINGERROR zxid=+8 []
W ping OK zxid=+8
C create OK zxid=+2 /mr
C create OK zxid=+3 /mr/a
C create OK zxid=+4 /mr/b
C create OK zxid=+5 /mr/secret
C setData OK zxid=+6 {cz=+2 mz=+6 pz=+5 ctime=now mtime=later v=1 cv=3 av=0 eph=0 len=7 kids=3}
C create OK zxid=+7 /mr/c
C create OK zxid=+8 /mr/missing
C exists NONODE zxid=+8
`

func scenarioWhoAmI(s *rawSession) {
	c := s.dial("C", rawzk.Options{})
	c.do(wire.OpWhoAmI, nil)
	c.do(wire.OpAuth, authReq("digest", "alice:secret"))
	c.do(wire.OpWhoAmI, nil)
	c.do(wire.OpAuth, authReq("digest", "bob:pw"))
	c.do(wire.OpWhoAmI, nil)
	c.dump()
	su := s.dial("S", rawzk.Options{})
	su.do(wire.OpAuth, authReq("digest", "super:test"))
	su.do(wire.OpWhoAmI, nil)
	su.dump()
	// An unknown scheme fails auth and closes the connection.
	x := s.dial("X", rawzk.Options{})
	x.send(wire.XidAuth, wire.OpAuth, authReq("nosuch", "x"))
	x.waitClosed(5 * time.Second)
}

const wantWhoAmI = `
C whoAmI OK zxid=+0 [ip:127.0.0.1]
C auth OK zxid=0
C whoAmI OK zxid=+0 [digest:alice ip:127.0.0.1]
C auth OK zxid=0
C whoAmI OK zxid=+0 [digest:alice digest:bob ip:127.0.0.1]
S auth OK zxid=0
S whoAmI OK zxid=+1 [super: ip:127.0.0.1 digest:super]
X auth AUTHFAILED zxid=0 xid=-4
X closed by server
`

// scenarioACLWatches: events are checked against the node's ACL and the
// watcher's auth at delivery (CVE-2024-23944, backported to the Debian
// build); exists has no ACL check in that build.
func scenarioACLWatches(s *rawSession) {
	w := s.dial("W", rawzk.Options{})
	c := s.dial("C", rawzk.Options{})
	alice := []wire.ACL{digestACL("alice", "secret", wire.PermAll)}
	c.do(wire.OpAuth, authReq("digest", "alice:secret"))
	c.do(wire.OpCreate, createReq("/acl", "", wire.ModePersistent))
	w.do(wire.OpExists, existsReq("/acl/s", true))
	w.do(wire.OpGetChildren, kidsReq("/acl", true))
	c.do(wire.OpCreate, &wire.CreateRequest{Path: "/acl/s", Data: []byte("secret"), ACL: alice})
	w.settle()
	w.do(wire.OpExists, existsReq("/acl/s", true))
	w.do(wire.OpGetData, getReq("/acl/s", true))
	w.do(wire.OpGetACL, &wire.GetACLRequest{Path: "/acl/s"})
	c.do(wire.OpSetData, setReq("/acl/s", "x"))
	w.do(wire.OpAddWatch, addWatchReq("/acl", wire.AddWatchPersistentRecursive))
	c.do(wire.OpSetData, setReq("/acl/s", "y"))
	c.do(wire.OpCreate, createReq("/acl/p", "", wire.ModePersistent))
	w.settle()
	// Auth counts at delivery time.
	w.do(wire.OpAuth, authReq("digest", "alice:secret"))
	c.do(wire.OpSetData, setReq("/acl/s", "z"))
	w.settle()
	// setACL fires nothing; the version check applies.
	setACL := func(version int32, acl ...wire.ACL) {
		c.do(wire.OpSetACL, &wire.SetACLRequest{Path: "/acl/s", ACL: acl, Version: version})
	}
	acl := func(scheme, id string, perms wire.Perm) wire.ACL {
		return wire.ACL{Perms: int32(perms), ID: wire.ID{Scheme: scheme, ID: id}}
	}
	setACL(5, tree.OpenACLUnsafe...)
	setACL(0, acl("auth", "", wire.PermAll)) // expands to C's digest id
	c.do(wire.OpGetACL, &wire.GetACLRequest{Path: "/acl/s"})
	setACL(-1, acl("ip", "10.0.0.0/33", wire.PermAll))
	setACL(-1)
	setACL(-1, acl("world", "someone", wire.PermAll))
	setACL(-1, acl("nosuch", "x", wire.PermAll))
	setACL(1, acl("world", "anyone", wire.PermRead), acl("ip", "10.0.0.0/8", wire.PermAll))
	c.do(wire.OpGetACL, &wire.GetACLRequest{Path: "/acl/s"})
	setACL(-1, tree.OpenACLUnsafe...) // no ADMIN left
	c.do(wire.OpCreate, &wire.CreateRequest{Path: "/acl/ip", ACL: []wire.ACL{{Perms: int32(wire.PermAll), ID: wire.ID{Scheme: "ip", ID: "127.0.0.1"}}}})
	c.do(wire.OpDelete, delReq("/acl/ip"))
	w.settle()
	c.dump()
}

const wantACLWatches = `
W exists NONODE zxid=+2
W getChildren OK zxid=+2 []
W event NodeChildrenChanged /acl
W ping OK zxid=+3
W exists OK zxid=+3 {cz=+3 mz=+3 pz=+3 ctime=now mtime=ctime v=0 cv=0 av=0 eph=0 len=6 kids=0}
W getData NOAUTH zxid=+3
W getACL NOAUTH zxid=+3
W addWatch OK zxid=+4 {err=OK}
W event NodeCreated /acl/p
W ping OK zxid=+6
W auth OK zxid=0
W event NodeDataChanged /acl/s
W ping OK zxid=+7
W event NodeCreated /acl/ip
W event NodeDeleted /acl/ip
W ping OK zxid=+17
C auth OK zxid=0
C create OK zxid=+2 /acl
C create OK zxid=+3 /acl/s
C setData OK zxid=+4 {cz=+3 mz=+4 pz=+3 ctime=now mtime=later v=1 cv=0 av=0 eph=0 len=1 kids=0}
C setData OK zxid=+5 {cz=+3 mz=+5 pz=+3 ctime=now mtime=later v=2 cv=0 av=0 eph=0 len=1 kids=0}
C create OK zxid=+6 /acl/p
C setData OK zxid=+7 {cz=+3 mz=+7 pz=+3 ctime=now mtime=later v=3 cv=0 av=0 eph=0 len=1 kids=0}
C setACL BADVERSION zxid=+8
C setACL OK zxid=+9 {cz=+3 mz=+7 pz=+3 ctime=now mtime=later v=3 cv=0 av=1 eph=0 len=1 kids=0}
C getACL OK zxid=+9 [digest:alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=:31] {cz=+3 mz=+7 pz=+3 ctime=now mtime=later v=3 cv=0 av=1 eph=0 len=1 kids=0}
C setACL INVALIDACL zxid=+10
C setACL INVALIDACL zxid=+11
C setACL INVALIDACL zxid=+12
C setACL INVALIDACL zxid=+13
C setACL OK zxid=+14 {cz=+3 mz=+7 pz=+3 ctime=now mtime=later v=3 cv=0 av=2 eph=0 len=1 kids=0}
C getACL OK zxid=+14 [world:anyone:1 ip:10.0.0.0/8:31] {cz=+3 mz=+7 pz=+3 ctime=now mtime=later v=3 cv=0 av=2 eph=0 len=1 kids=0}
C setACL NOAUTH zxid=+15
C create OK zxid=+16 /acl/ip
C delete OK zxid=+17
`

func scenarioGetEphemerals(s *rawSession) {
	a := s.dial("A", rawzk.Options{})
	b := s.dial("B", rawzk.Options{})
	a.do(wire.OpCreate, createReq("/ge", "", wire.ModePersistent))
	a.do(wire.OpCreate, createReq("/ge/x", "", wire.ModeEphemeral))
	a.do(wire.OpCreate, createReq("/ge/y-", "", wire.ModeEphemeralSequential))
	a.do(wire.OpCreate, createReq("/gex", "", wire.ModeEphemeral))
	a.do(wire.OpCreate, createReq("/ge/p", "", wire.ModePersistent))
	b.do(wire.OpCreate, createReq("/ge/b", "", wire.ModeEphemeral))
	for _, prefix := range []string{"/", "", "/ge", "/ge/", "/ge/y", "/nomatch", "ge"} {
		a.do(wire.OpGetEphemerals, &wire.GetEphemeralsRequest{PrefixPath: prefix})
	}
	b.do(wire.OpGetEphemerals, &wire.GetEphemeralsRequest{PrefixPath: "/"})
	a.dump()
	b.dump()
}

const wantGetEphemerals = `
A create OK zxid=+2 /ge
A create OK zxid=+3 /ge/x
A create OK zxid=+4 /ge/y-0000000001
A create OK zxid=+5 /gex
A create OK zxid=+6 /ge/p
A getEphemerals OK zxid=+7 [/ge/x /ge/y-0000000001 /gex]
A getEphemerals OK zxid=+7 [/ge/x /ge/y-0000000001 /gex]
A getEphemerals OK zxid=+7 [/ge/x /ge/y-0000000001 /gex]
A getEphemerals OK zxid=+7 [/ge/x /ge/y-0000000001]
A getEphemerals OK zxid=+7 [/ge/y-0000000001]
A getEphemerals OK zxid=+7 []
A getEphemerals OK zxid=+7 []
B create OK zxid=+7 /ge/b
B getEphemerals OK zxid=+7 [/ge/b]
`

func scenarioAllChildren(s *rawSession) {
	c := s.dial("C", rawzk.Options{})
	for _, p := range []string{"/n", "/n/a", "/n/a/b", "/n/a/b/c", "/n/d", "/n/d/e"} {
		c.do(wire.OpCreate, createReq(p, "", wire.ModePersistent))
	}
	for _, p := range []string{"/n", "/n/a", "/n/a/b/c", "/zookeeper", "/n/missing"} {
		c.do(wire.OpGetAllChildrenNumber, &wire.GetAllChildrenNumberRequest{Path: p})
	}
	c.dump()
}

const wantAllChildren = `
C create OK zxid=+1 /n
C create OK zxid=+2 /n/a
C create OK zxid=+3 /n/a/b
C create OK zxid=+4 /n/a/b/c
C create OK zxid=+5 /n/d
C create OK zxid=+6 /n/d/e
C getAllChildrenNumber OK zxid=+6 5
C getAllChildrenNumber OK zxid=+6 2
C getAllChildrenNumber OK zxid=+6 0
C getAllChildrenNumber OK zxid=+6 2
C getAllChildrenNumber NONODE zxid=+6
`

func scenarioSetWatches(s *rawSession) {
	a := s.dial("A", rawzk.Options{})
	m := s.dial("M", rawzk.Options{})
	for _, p := range []string{"/sw", "/sw/unch", "/sw/chg", "/sw/del", "/sw/kids", "/sw/kids2", "/sw/kdel"} {
		m.do(wire.OpCreate, createReq(p, "", wire.ModePersistent))
	}
	rel := m.do(wire.OpSync, &wire.SyncRequest{Path: "/"}).Zxid
	s.logf("relativeZxid=%s", s.zxid(rel))
	// Changes after relativeZxid, while A is "away".
	m.do(wire.OpSetData, setReq("/sw/chg", "x"))
	m.do(wire.OpDelete, delReq("/sw/del"))
	m.do(wire.OpCreate, createReq("/sw/new", "", wire.ModePersistent))
	m.do(wire.OpCreate, createReq("/sw/kids/k", "", wire.ModePersistent))
	m.do(wire.OpDelete, delReq("/sw/kdel"))
	m.dump()
	// Reconnecting to A's session closes A's connection.
	b := s.dial("B", rawzk.Options{SessionID: a.SessionID(), Passwd: a.Connect.Passwd})
	s.logf("B session=%s", s.session(int64(b.SessionID())))
	a.waitClosed(5 * time.Second)
	b.send(wire.XidSetWatches, wire.OpSetWatches, &wire.SetWatches{
		RelativeZxid: rel,
		DataWatches:  []string{"/sw/unch", "/sw/chg", "/sw/del", "/sw/nope"},
		ExistWatches: []string{"/sw/new", "/sw/nope2", "/sw/unch"},
		ChildWatches: []string{"/sw/kids", "/sw/kids2", "/sw/kdel"},
	})
	b.settle()
	// The registered ones fire later.
	m.do(wire.OpSetData, setReq("/sw/unch", "y"))
	m.do(wire.OpCreate, createReq("/sw/nope2", "", wire.ModePersistent))
	m.do(wire.OpCreate, createReq("/sw/kids2/k", "", wire.ModePersistent))
	m.do(wire.OpSetData, setReq("/sw/chg", "again"))
	b.settle()
	// setWatches2 on another reconnect (positive xid, as go-zookeeper
	// sends): persistent and recursive watches get no catch-up events.
	c := s.dial("C", rawzk.Options{SessionID: a.SessionID(), Passwd: a.Connect.Passwd})
	b.waitClosed(5 * time.Second)
	c.do(wire.OpSetWatches2, &wire.SetWatches2{
		RelativeZxid:               rel,
		DataWatches:                []string{"/sw/chg"},
		ExistWatches:               []string{"/sw/gone"},
		ChildWatches:               []string{"/sw"},
		PersistentWatches:          []string{"/sw/unch"},
		PersistentRecursiveWatches: []string{"/sw/kids"},
	})
	c.settle()
	m.do(wire.OpSetData, setReq("/sw/unch", "z"))
	m.do(wire.OpSetData, setReq("/sw/unch", "zz"))
	m.do(wire.OpCreate, createReq("/sw/kids/k2", "", wire.ModePersistent))
	m.do(wire.OpCreate, createReq("/sw/gone", "", wire.ModePersistent))
	c.settle()
	// A wrong password is refused with the zeroed reply, after the live
	// connection of the session was closed.
	bad := append([]byte(nil), a.Connect.Passwd...)
	bad[0] ^= 0xff
	x, err := rawzk.Dial(s.addr, rawzk.Options{SessionID: a.SessionID(), Passwd: bad})
	if err != nil {
		s.t.Fatalf("dial with a wrong password: %v", err)
	}
	defer x.Close()
	s.logf("wrong password: session=%d timeout=%d passwd=%x", x.Connect.SessionID, x.Connect.TimeOut, x.Connect.Passwd)
	c.waitClosed(5 * time.Second)
	select {
	case <-x.Done():
		s.logf("wrong-password connection closed by server")
	case <-time.After(5 * time.Second):
		s.logf("wrong-password connection still open")
	}
	// The session itself survives: a correct reconnect works.
	d := s.dial("D", rawzk.Options{SessionID: a.SessionID(), Passwd: a.Connect.Passwd})
	d.do(wire.OpExists, existsReq("/sw", false))
	d.dump()
}

const wantSetWatches = `
relativeZxid=+8
M create OK zxid=+2 /sw
M create OK zxid=+3 /sw/unch
M create OK zxid=+4 /sw/chg
M create OK zxid=+5 /sw/del
M create OK zxid=+6 /sw/kids
M create OK zxid=+7 /sw/kids2
M create OK zxid=+8 /sw/kdel
M sync OK zxid=+8 /
M setData OK zxid=+9 {cz=+4 mz=+9 pz=+4 ctime=now mtime=later v=1 cv=0 av=0 eph=0 len=1 kids=0}
M delete OK zxid=+10
M create OK zxid=+11 /sw/new
M create OK zxid=+12 /sw/kids/k
M delete OK zxid=+13
B session=A
A closed by server
B event NodeDataChanged /sw/chg
B event NodeDeleted /sw/del
B event NodeDeleted /sw/nope
B event NodeCreated /sw/new
B event NodeCreated /sw/unch
B event NodeChildrenChanged /sw/kids
B event NodeDeleted /sw/kdel
B setWatches OK zxid=+13 xid=-8
B ping OK zxid=+13
B event NodeDataChanged /sw/unch
B event NodeCreated /sw/nope2
B event NodeChildrenChanged /sw/kids2
B ping OK zxid=+17
B closed by server
C event NodeDataChanged /sw/chg
C event NodeChildrenChanged /sw
C setWatches2 OK zxid=+17
C ping OK zxid=+17
C event NodeDataChanged /sw/unch
C event NodeDataChanged /sw/unch
C event NodeCreated /sw/kids/k2
C event NodeCreated /sw/gone
C ping OK zxid=+21
wrong password: session=0 timeout=0 passwd=00000000000000000000000000000000
C closed by server
wrong-password connection closed by server
D exists OK zxid=+21 {cz=+2 mz=+2 pz=+21 ctime=now mtime=ctime v=0 cv=11 av=0 eph=0 len=0 kids=7}
`

func scenarioRemoveWatches(s *rawSession) {
	w := s.dial("W", rawzk.Options{})
	o := s.dial("O", rawzk.Options{})
	c := s.dial("C", rawzk.Options{})
	c.do(wire.OpCreate, createReq("/rm", "", wire.ModePersistent))
	c.do(wire.OpCreate, createReq("/rm2", "", wire.ModePersistent))
	w.do(wire.OpGetData, getReq("/rm", true))
	w.do(wire.OpGetChildren, kidsReq("/rm", true))
	check := func(conn *rawConn, path string, typ wire.WatcherType) {
		conn.do(wire.OpCheckWatches, &wire.CheckWatchesRequest{Path: path, Type: typ})
	}
	remove := func(conn *rawConn, path string, typ wire.WatcherType) {
		conn.do(wire.OpRemoveWatches, &wire.RemoveWatchesRequest{Path: path, Type: typ})
	}
	check(w, "/rm", wire.WatcherData)
	remove(w, "/rm", wire.WatcherData)
	remove(w, "/rm", wire.WatcherData)
	check(w, "/rm", wire.WatcherChildren)
	// 3.8 checks any connection's watch at the exact path.
	check(o, "/rm", wire.WatcherChildren)
	remove(o, "/rm", wire.WatcherChildren)
	remove(w, "/rm", wire.WatcherAny)
	check(w, "/rm", wire.WatcherAny)
	check(w, "/rm", 4)
	remove(w, "/rm", 4)
	check(w, "/rm", 0)
	check(w, "no-slash", wire.WatcherData)
	remove(w, "no-slash", wire.WatcherData)
	check(w, "/missing", wire.WatcherAny)
	// Removed watches do not fire.
	c.do(wire.OpSetData, setReq("/rm", "x"))
	c.do(wire.OpCreate, createReq("/rm/k", "", wire.ModePersistent))
	w.settle()
	// Removing the data half of a persistent watch keeps the child half.
	w.do(wire.OpAddWatch, addWatchReq("/rm2", wire.AddWatchPersistent))
	check(w, "/rm2", wire.WatcherData)
	remove(w, "/rm2", wire.WatcherData)
	c.do(wire.OpSetData, setReq("/rm2", "x"))
	c.do(wire.OpCreate, createReq("/rm2/k", "", wire.ModePersistent))
	w.settle()
	remove(w, "/rm2", wire.WatcherChildren)
	remove(w, "/rm2", wire.WatcherChildren)
	c.do(wire.OpCreate, createReq("/rm2/k2", "", wire.ModePersistent))
	// A recursive watch covers descendants, but 3.8's checkWatches reports
	// NOWATCHER for them.
	w.do(wire.OpAddWatch, addWatchReq("/rm", wire.AddWatchPersistentRecursive))
	check(w, "/rm/k", wire.WatcherData)
	check(w, "/rm", wire.WatcherData)
	remove(w, "/rm", wire.WatcherAny)
	c.do(wire.OpSetData, setReq("/rm/k", "y"))
	w.settle()
	o.dump()
}

const wantRemoveWatches = `
W getData OK zxid=+4 "" {cz=+3 mz=+3 pz=+3 ctime=now mtime=ctime v=0 cv=0 av=0 eph=0 len=0 kids=0}
W getChildren OK zxid=+4 []
W checkWatches OK zxid=+4
W removeWatches OK zxid=+4
W removeWatches NOWATCHER zxid=+4
W checkWatches OK zxid=+4
W removeWatches OK zxid=+4
W checkWatches NOWATCHER zxid=+4
W checkWatches MARSHALLINGERROR zxid=+4
W removeWatches MARSHALLINGERROR zxid=+4
W checkWatches MARSHALLINGERROR zxid=+4
W checkWatches MARSHALLINGERROR zxid=+4
W removeWatches NOWATCHER zxid=+4
W checkWatches NOWATCHER zxid=+4
W ping OK zxid=+6
W addWatch OK zxid=+6 {err=OK}
W checkWatches OK zxid=+6
W removeWatches OK zxid=+6
W event NodeChildrenChanged /rm2
W ping OK zxid=+8
W removeWatches OK zxid=+8
W removeWatches NOWATCHER zxid=+8
W addWatch OK zxid=+9 {err=OK}
W checkWatches NOWATCHER zxid=+9
W checkWatches OK zxid=+9
W removeWatches OK zxid=+9
W ping OK zxid=+10
O checkWatches OK zxid=+4
O removeWatches NOWATCHER zxid=+4
`

func scenarioSyncPing(s *rawSession) {
	c := s.dial("C", rawzk.Options{})
	c.do(wire.OpSync, &wire.SyncRequest{Path: "/"})
	c.do(wire.OpSync, &wire.SyncRequest{Path: "/no/such/node"})
	// Pipelined: the ping reply waits for the writes before it and carries
	// the last one's zxid.
	var chs []<-chan rawzk.Reply
	for i := 0; i < 5; i++ {
		chs = append(chs, c.send(c.NextXid(), wire.OpCreate, createReq(fmt.Sprintf("/sp%d", i), "", wire.ModePersistent)))
	}
	chs = append(chs, c.send(wire.XidPing, wire.OpPing, nil))
	chs = append(chs, c.send(c.NextXid(), wire.OpSync, &wire.SyncRequest{Path: "/sp4"}))
	chs = append(chs, c.send(c.NextXid(), wire.OpGetData, getReq("/sp4", false)))
	for _, ch := range chs {
		c.await(wire.OpPing, ch)
	}
	c.do(wire.OpPing, nil)
	for i := 0; i < 5; i++ {
		c.do(wire.OpDelete, delReq(fmt.Sprintf("/sp%d", i)))
	}
	c.dump()
}

const wantSyncPing = `
C sync OK zxid=+0 /
C sync OK zxid=+0 /no/such/node
C create OK zxid=+1 /sp0
C create OK zxid=+2 /sp1
C create OK zxid=+3 /sp2
C create OK zxid=+4 /sp3
C create OK zxid=+5 /sp4
C ping OK zxid=+5
C sync OK zxid=+5 /sp4
C getData OK zxid=+5 "" {cz=+5 mz=+5 pz=+5 ctime=now mtime=ctime v=0 cv=0 av=0 eph=0 len=0 kids=0}
C ping OK zxid=+5
C delete OK zxid=+6
C delete OK zxid=+7
C delete OK zxid=+8
C delete OK zxid=+9
C delete OK zxid=+10
`

func scenarioCloseSession(s *rawSession) {
	c := s.dial("C", rawzk.Options{})
	o := s.dial("O", rawzk.Options{})
	o.do(wire.OpCreate, createReq("/cs", "d", wire.ModePersistent))
	c.do(wire.OpCreate, createReq("/cs/e1", "", wire.ModeEphemeral))
	c.do(wire.OpExists, existsReq("/cs/e1", true))
	c.do(wire.OpGetChildren, kidsReq("/cs", true))
	o.do(wire.OpGetChildren, kidsReq("/cs", true))
	c.dump()
	o.dump()
	// getData, closeSession, then two requests that must get no reply and
	// must not be applied.
	xids := c.writeBatch(
		rawReq{op: wire.OpGetData, req: getReq("/cs", false)},
		rawReq{op: wire.OpCloseSession, req: nil},
		rawReq{op: wire.OpExists, req: existsReq("/cs", false)},
		rawReq{op: wire.OpCreate, req: createReq("/cs/after", "", wire.ModePersistent)},
	)
	closeXid := xids[1]
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		s.t.Fatal("connection not closed after closeSession")
	}
	// Java usually sends nothing after the closeSession reply; now and
	// then (about 1 run in 5) the requests behind it slip out as
	// SESSIONEXPIRED before the connection closes. Never a success.
	st := c.Stream()
	n := len(st)
	for i, p := range st {
		if p.Event == nil && p.Header.Xid == closeXid {
			n = i + 1
			break
		}
	}
	for _, p := range st[n:] {
		if p.Event != nil || p.Header.Err != wire.ErrSessionExpired {
			s.t.Errorf("after the closeSession reply: %s", c.format(p))
		}
	}
	for _, p := range st[c.dumped:n] {
		s.lines = append(s.lines, c.name+" "+c.format(p))
	}
	c.dumped = len(st)
	s.logf("C closed by server")
	// Java turns the create into an error txn (a zxid) or drops it,
	// depending on whether Prep marked the session closing first.
	o.hideZxid = true
	o.do(wire.OpExists, existsReq("/cs/after", false))
	o.do(wire.OpGetChildren, kidsReq("/cs", false))
	o.dump()
}

const wantCloseSession = `
C create OK zxid=+3 /cs/e1
C exists OK zxid=+3 {cz=+3 mz=+3 pz=+3 ctime=now mtime=ctime v=0 cv=0 av=0 eph=C len=0 kids=0}
C getChildren OK zxid=+3 [e1]
O create OK zxid=+2 /cs
O getChildren OK zxid=+3 [e1]
C getData OK zxid=+3 "d" {cz=+2 mz=+2 pz=+3 ctime=now mtime=ctime v=0 cv=1 av=0 eph=0 len=1 kids=1}
C event NodeDeleted /cs/e1
C event NodeChildrenChanged /cs
C closeSession OK zxid=+4
C closed by server
O event NodeChildrenChanged /cs
O exists NONODE zxid=*
O getChildren OK zxid=* []
`

func scenarioMalformed(s *rawSession) {
	c := s.dial("C", rawzk.Options{})
	// A body that does not decode for a known opcode is answered with
	// MARSHALLINGERROR (writes through an error txn, using a zxid); the
	// connection stays.
	c.do(wire.OpCreate, rawBytes{0, 0, 0, 100})
	c.do(wire.OpSetData, rawBytes{0, 0, 0, 1, '/'})
	c.do(wire.OpGetData, rawBytes{0, 0, 0, 100})
	c.do(wire.OpGetData, rawBytes{})
	c.do(wire.OpExists, rawBytes{0, 0, 0, 1, '/'})
	c.do(wire.OpGetChildren, rawBytes{0xff, 0xff, 0xff, 0xff, 0})
	c.do(wire.OpSync, rawBytes{0, 0})
	c.do(wire.OpAddWatch, rawBytes{0, 0, 0, 1, '/'})
	c.do(wire.OpMulti, rawBytes{0, 0, 0, 99, 0, 0xff, 0xff, 0xff, 0xff})
	c.do(wire.OpMultiRead, rawBytes{0, 0, 0, 4, 0, 0xff, 0xff})
	// Extra bytes after a complete record are ignored.
	c.do(wire.OpCreate, append(rawBytes(jute.Marshal(createReq("/mb", "d", wire.ModePersistent))), 9, 9, 9))
	c.do(wire.OpPing, rawBytes{1, 2, 3})
	c.do(wire.OpExists, existsReq("/mb", false))
	c.dump()
	// auth is decoded inline: a bad one closes the connection.
	c.send(wire.XidAuth, wire.OpAuth, rawBytes{0, 0})
	c.waitClosed(5 * time.Second)
	o := s.dial("O", rawzk.Options{})
	o.do(wire.OpDelete, delReq("/mb"))
	o.dump()
}

const wantMalformed = `
C create MARSHALLINGERROR zxid=+1
C setData MARSHALLINGERROR zxid=+2
C getData MARSHALLINGERROR zxid=+2
C getData MARSHALLINGERROR zxid=+2
C exists MARSHALLINGERROR zxid=+2
C getChildren MARSHALLINGERROR zxid=+2
C sync MARSHALLINGERROR zxid=+2
C addWatch MARSHALLINGERROR zxid=+2
C multi MARSHALLINGERROR zxid=+3
C multiRead MARSHALLINGERROR zxid=+3
C create OK zxid=+4 /mb
C ping OK zxid=+4
C exists OK zxid=+4 {cz=+4 mz=+4 pz=+4 ctime=now mtime=ctime v=0 cv=0 av=0 eph=0 len=1 kids=0}
C closed by server
O delete OK zxid=+6
`

// TestRawUnknownOpcodeKeepsSession pins DIFFERENCES.md #1: both servers
// answer an unknown opcode with UNIMPLEMENTED and zxid -1; Java then closes
// the connection, zkgo keeps it and the session usable.
func TestRawUnknownOpcodeKeepsSession(t *testing.T) {
	for _, tg := range servingTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			c, err := rawzk.Dial(tg.addr, rawzk.Options{})
			must(t, err)
			defer c.Close()
			for _, op := range []wire.OpCode{55, 999} {
				h, err := c.Do(op, nil, nil)
				if tg.name == "java" && op == 999 {
					if err == nil {
						t.Fatalf("java answered a request after UNIMPLEMENTED: %+v", h)
					}
					break
				}
				must(t, err)
				if h.Err != wire.ErrUnimplemented || h.Zxid != -1 {
					t.Fatalf("opcode %d: reply %+v, want UNIMPLEMENTED zxid -1", op, h)
				}
				if tg.name == "java" {
					select {
					case <-c.Done():
					case <-time.After(5 * time.Second):
						t.Fatal("java kept the connection after UNIMPLEMENTED")
					}
				}
			}
			if tg.name == "java" {
				return
			}
			select {
			case <-c.Done():
				t.Fatalf("zkgo closed the connection: %v", c.Err())
			case <-time.After(300 * time.Millisecond):
			}
			var resp wire.CreateResponse
			h, err := c.Do(wire.OpCreate, createReq("/after-unknown", "", wire.ModeEphemeral), &resp)
			must(t, err)
			if h.Err != wire.ErrOk || resp.Path != "/after-unknown" {
				t.Fatalf("create after unknown opcode: %+v %q", h, resp.Path)
			}
		})
	}
}
