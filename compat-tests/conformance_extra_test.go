package compattest

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/compat-tests/xchk"
	"github.com/zkgo/zkgo/internal/rawzk"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/wire"
)

// runSteps runs steps on a fresh pair and fails t on a divergence.
func runSteps(t *testing.T, pc xchk.PairConfig, name string, steps []xchk.Step) *xchk.Checker {
	t.Helper()
	c, err := xchk.NewChecker(xchk.StartPair(t, pc), xchk.Options{
		Replay: fmt.Sprintf("go test ./compat-tests -run '%s' -count=1 -v", name)})
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Run(steps); d != nil {
		c.Close()
		t.Fatal(d)
	}
	if d := c.Finish(); d != nil {
		t.Fatal(d)
	}
	return c
}

// TestConformanceNoExtendedTypes: TTL nodes without
// zookeeper.extendedTypesEnabled.
func TestConformanceNoExtendedTypes(t *testing.T) {
	ttlReq := func(path string, mode wire.CreateMode, ttl int64) *wire.CreateTTLRequest {
		return &wire.CreateTTLRequest{Path: path, ACL: xchk.OpenACL, Flags: int32(mode), TTL: ttl}
	}
	steps := []xchk.Step{
		xchk.Connect(0), xchk.Connect(1),
		xchk.Exists(1, "/t", true),
		want(do(0, wire.OpCreateTTL, ttlReq("/t", wire.ModePersistentWithTTL, 1000)), wire.ErrUnimplemented),
		want(do(0, wire.OpCreateTTL, ttlReq("/t", wire.ModePersistentSequentialWithTTL, 1000)), wire.ErrUnimplemented),
		want(do(0, wire.OpCreateTTL, ttlReq("/t", wire.ModePersistentWithTTL, 0)), wire.ErrUnimplemented),
		want(do(0, wire.OpCreateTTL, ttlReq("/t", wire.ModePersistent, 1000)), wire.ErrBadArguments),
		want(do(0, wire.OpCreate, creq("/t", "", wire.ModePersistentWithTTL)), wire.ErrUnimplemented),
		want(do(0, wire.OpCreate2, creq("/t", "", wire.ModePersistentSequentialWithTTL)), wire.ErrUnimplemented),
		want(multi(0, mop(wire.OpCreateTTL, ttlReq("/t", wire.ModePersistentWithTTL, 1000))), wire.ErrOk),
		want(multi(0, mop(wire.OpCreate, creq("/t0", "", 0)), mop(wire.OpCreateTTL, ttlReq("/t", wire.ModePersistentWithTTL, 1000))), wire.ErrOk),
		want(do(0, wire.OpCreateContainer, creq("/box", "", wire.ModeContainer)), wire.ErrOk),
		xchk.Exists(0, "/t", false), xchk.Exists(0, "/t0", false),
	}
	runSteps(t, xchk.PairConfig{}, "TestConformanceNoExtendedTypes", steps)
}

// seqOverflowDataDir writes a txn log (no snapshot) that leaves /ovf with
// a stored cversion of 2^31-2: the next sequential children are named
// 2147483646, 2147483647, then -2147483648 as the int overflows. No client
// request can get a parent there; a replayed CreateTxn carries the parent's
// cversion, so the log does.
func seqOverflowDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	l, err := storage.OpenTxnLog(storage.VersionDir(dir), storage.Options{PreAllocBytes: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	hdr := func(z wire.Zxid, op wire.OpCode) wire.TxnHeader {
		return wire.TxnHeader{Zxid: z, Time: now, Type: op}
	}
	for _, e := range []wire.TxnEntry{
		{Hdr: hdr(1, wire.OpCreate), Body: &wire.CreateTxn{Path: "/ovf", Data: []byte("o"), ACL: xchk.OpenACL, ParentCVersion: -1}},
		{Hdr: hdr(2, wire.OpCreate), Body: &wire.CreateTxn{Path: "/ovf/x", Data: []byte{}, ACL: xchk.OpenACL, ParentCVersion: math.MaxInt32 - 1}},
		{Hdr: hdr(3, wire.OpDelete), Body: &wire.DeleteTxn{Path: "/ovf/x"}},
	} {
		if err := l.Append(&e); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyDir copies a data directory tree.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestConformanceSequenceOverflow: sequential names around the int32
// overflow of the parent's cversion (String.format("%010d")). Java's prep
// gives the txn the parent's cversion + 1, which overflows to -2^31; the
// apply only raises a cversion, so the parent stays at 2^31-1 and every
// later sequential create under it with the same prefix is NODEEXISTS.
// The prep's digest assumed the overflowed cversion: both servers count
// each such txn (the three creates that succeed after the overflow) as a
// digest mismatch (checked through mntr).
func TestConformanceSequenceOverflow(t *testing.T) {
	harness.RequireJava(t)
	src := seqOverflowDataDir(t)
	steps := []xchk.Step{xchk.Connect(0), xchk.Connect(1),
		xchk.GetData(0, "/ovf", false), xchk.Children(1, "/ovf", true)}
	for i := 0; i < 5; i++ {
		code := wire.ErrOk
		if i >= 2 {
			code = wire.ErrNodeExists
		}
		steps = append(steps, want(mk(0, "/ovf/s-", "", wire.ModePersistentSequential), code))
	}
	steps = append(steps, want(do(0, wire.OpCreate2, creq("/ovf/e-", "", wire.ModeEphemeralSequential)), wire.ErrOk),
		want(multi(0, mop(wire.OpCreate, creq("/ovf/m-", "", wire.ModePersistentSequential))), wire.ErrOk),
		xchk.Children(0, "/ovf", false), xchk.Exists(0, "/ovf", false),
		want(xchk.Delete(0, xchk.SeqOf("/ovf"), -1), wire.ErrOk),
		xchk.Children(0, "/ovf", false))
	pc := xchk.PairConfig{JavaDataDir: copyDir(t, src), ZkgoDataDir: copyDir(t, src), TrustEmptySnapshot: true,
		DigestMismatches: 3}
	tgs := xchk.StartPair(t, pc)
	c, err := xchk.NewChecker(tgs, xchk.Options{Replay: "go test ./compat-tests -run 'TestConformanceSequenceOverflow' -count=1 -v"})
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Run(steps); d != nil {
		c.Close()
		t.Fatal(d)
	}
	if d := c.Finish(); d != nil {
		t.Fatal(d)
	}
	if c.Coverage["create OK"] != 2 || c.Coverage["create NODEEXISTS"] != 3 {
		t.Fatalf("sequential creates: %v", c.Coverage)
	}
	// zkgo's own count is checked at cleanup (PairConfig.DigestMismatches).
	mntr, err := harness.FourLetter(tgs[0].Addr, "mntr")
	must(t, err)
	if !strings.Contains(mntr, "zk_digest_mismatches_count\t3\n") {
		t.Errorf("java mntr does not count three digest mismatches:\n%s", grepLines(mntr, "digest"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestConformanceCreateSessionRequest pins DIFFERENCES.md #10: a
// createSession (-10) sent on an established session. Java creates another
// session and answers with a bare ConnectResponse frame (no ReplyHeader);
// zkgo answers UNIMPLEMENTED. Both keep the connection.
func TestConformanceCreateSessionRequest(t *testing.T) {
	tgs := xchk.StartPair(t, xchk.PairConfig{})
	for _, tg := range tgs {
		t.Run(tg.Name, func(t *testing.T) {
			c, err := rawzk.Dial(tg.Addr, rawzk.Options{})
			must(t, err)
			defer c.Close()
			body := jute.Marshal(&wire.CreateSessionTxn{TimeOut: 30000})
			must(t, c.WriteRaw(rawFrame(77, int32(wire.OpCreateSession), body)))
			h, err := c.Do(wire.OpExists, &wire.ExistsRequest{Path: "/"}, nil)
			must(t, err)
			if h.Err != wire.ErrOk {
				t.Fatalf("exists after createSession: %+v", h)
			}
			st := c.Stream()
			if len(st) < 2 {
				t.Fatalf("got %d packets, want the createSession answer and the exists reply", len(st))
			}
			p := st[0]
			switch tg.Name {
			case "java":
				// A ConnectResponse read as a ReplyHeader: protocolVersion 0
				// takes the xid's place; 36 bytes (37 with readOnly).
				if p.Header.Xid != 0 || len(p.Body)+16 < 36 {
					t.Fatalf("java: first packet %+v body %x, want a bare ConnectResponse", p.Header, p.Body)
				}
			default:
				if p.Header.Xid != 77 || p.Header.Err != wire.ErrUnimplemented || p.Header.Zxid != -1 || len(p.Body) != 0 {
					t.Fatalf("zkgo: first packet %+v body %x, want UNIMPLEMENTED with zxid -1", p.Header, p.Body)
				}
			}
		})
	}
}

// TestConformanceAuthPipelined pins DIFFERENCES.md #19: auth and sasl
// pipelined behind other requests. Java answers both as soon as it reads
// them (they never enter the request pipeline), so their replies can
// overtake the replies before them, in an order that depends on timing;
// zkgo answers auth when read and sasl in request order. The replies
// themselves are the same, and so is the auth each request is checked
// with: the one the connection had when the request was read (Java's
// Request copies it), even for a read still queued behind a write when a
// later auth arrives.
func TestConformanceAuthPipelined(t *testing.T) {
	tgs := xchk.StartPair(t, xchk.PairConfig{})
	got := map[string][]string{}
	for _, tg := range tgs {
		c, err := rawzk.Dial(tg.Addr, rawzk.Options{})
		must(t, err)
		h, err := c.Do(wire.OpCreate, &wire.CreateRequest{Path: "/aps", Data: []byte("s"), ACL: alice}, nil)
		must(t, err)
		if h.Err != wire.ErrOk {
			t.Fatalf("%s: create /aps: %v", tg.Name, h.Err)
		}
		var b []byte
		var order []wire.Xid
		add := func(xid wire.Xid, op wire.OpCode, rec jute.Record) {
			order = append(order, xid)
			b = wire.AppendRequest(b, wire.RequestHeader{Xid: xid, Type: op}, rec)
		}
		for i := 0; i < 20; i++ {
			add(c.NextXid(), wire.OpCreate, creq(fmt.Sprintf("/ap%d", i), "", wire.ModeEphemeral))
		}
		// Read before the auth (queued behind the creates), the auth, a
		// read after it.
		add(500, wire.OpGetData, &wire.GetDataRequest{Path: "/aps"})
		add(1000, wire.OpSASL, &wire.GetSASLRequest{Token: []byte("x")})
		add(1001, wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("alice:secret")})
		add(501, wire.OpGetData, &wire.GetDataRequest{Path: "/aps"})
		must(t, c.WriteRaw(b))
		deadline := time.Now().Add(10 * time.Second)
		for len(c.Stream()) < len(order)+1 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		st := c.Stream()
		c.Close()
		if len(st) != len(order)+1 {
			t.Fatalf("%s: %d packets, want %d replies after the create", tg.Name, len(st)-1, len(order))
		}
		var arrived []wire.Xid
		for _, p := range st[1:] {
			arrived = append(arrived, p.Header.Xid)
			got[tg.Name] = append(got[tg.Name], fmt.Sprintf("xid=%d err=%s", p.Header.Xid, p.Header.Err.Name()))
		}
		t.Logf("%s reply order: %v", tg.Name, arrived)
	}
	j, z := append([]string(nil), got["java"]...), append([]string(nil), got["zkgo"]...)
	sortStrings(j)
	sortStrings(z)
	if fmt.Sprint(j) != fmt.Sprint(z) {
		t.Errorf("replies differ:\njava %v\nzkgo %v", j, z)
	}
	for _, w := range []string{"xid=500 err=NOAUTH", "xid=501 err=OK", "xid=1001 err=OK", "xid=1000 err=OK"} {
		if !strings.Contains(fmt.Sprint(j), w) {
			t.Errorf("java replies lack %q: %v", w, j)
		}
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for k := i; k > 0 && s[k] < s[k-1]; k-- {
			s[k], s[k-1] = s[k-1], s[k]
		}
	}
}

// wrongCversionOnDelete breaks zkgo on purpose: after a successful delete,
// every Stat later returned for the deleted node's parent shows a cversion
// one too high (as if delete bumped it twice).
func wrongCversionOnDelete() xchk.RewriteFunc {
	tainted := map[string]bool{}
	return func(op wire.OpCode, req jute.Record, h *wire.ReplyHeader, body []byte) ([]byte, bool) {
		if h.Err != wire.ErrOk {
			return body, true
		}
		switch r := req.(type) {
		case *wire.DeleteRequest:
			tainted[wire.ParentPath(r.Path)] = true
		case *wire.GetChildren2Request:
			if tainted[r.Path] {
				var resp wire.GetChildren2Response
				if jute.Unmarshal(body, &resp) == nil {
					resp.Stat.Cversion++
					return jute.Marshal(&resp), true
				}
			}
		case *wire.ExistsRequest:
			if tainted[r.Path] {
				var resp wire.ExistsResponse
				if jute.Unmarshal(body, &resp) == nil {
					resp.Stat.Cversion++
					return jute.Marshal(&resp), true
				}
			}
		}
		return body, true
	}
}

// dropDeletedEvents breaks zkgo on purpose: NodeDeleted events vanish.
func dropDeletedEvents() xchk.RewriteFunc {
	return func(op wire.OpCode, _ jute.Record, h *wire.ReplyHeader, body []byte) ([]byte, bool) {
		if op == wire.OpNotification {
			var ev wire.WatcherEvent
			if jute.Unmarshal(body, &ev) == nil && ev.Type == wire.EventNodeDeleted {
				return nil, false
			}
		}
		return body, true
	}
}

// TestConformanceHarnessDetectsBreakage shows that the harness fails, with
// a readable report, when zkgo is broken on purpose (through a proxy that
// rewrites zkgo's replies: zkgo itself has no such knob).
func TestConformanceHarnessDetectsBreakage(t *testing.T) {
	harness.RequireJava(t)
	broken := func(fn xchk.RewriteFunc) func(string) string {
		return func(addr string) string { return xchk.StartTamper(t, addr, fn).Addr() }
	}
	t.Run("scripted wrong cversion", func(t *testing.T) {
		c, err := xchk.NewChecker(xchk.StartPair(t, xchk.PairConfig{WrapZkgo: broken(wrongCversionOnDelete())}),
			xchk.Options{Replay: "go test ./compat-tests -run 'TestConformanceHarnessDetectsBreakage' -count=1 -v"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		d := c.Run([]xchk.Step{xchk.Connect(0), mk(0, "/t", "", 0), mk(0, "/t/a", "", 0), mk(0, "/t/b", "", 0),
			xchk.Children(0, "/t", false), xchk.Delete(0, "/t/a", -1), xchk.Children(0, "/t", false), mk(0, "/t/c", "", 0)})
		if d == nil {
			t.Fatal("the harness did not notice the broken cversion")
		}
		report := d.Error()
		t.Logf("the report, as a failing run prints it:\n%s", report)
		for _, want := range []string{
			"xchk: divergence at op 7: java and zkgo differ",
			"step: S0 getChildren2 /t watch=false",
			"outcome (- java, + zkgo):",
			"    - getChildren2 OK zxid=#6 [b] {cz=#2 mz=#2 pz=#6 ctime=T mtime==ctime v=0 cv=3 av=0 eph=0 len=0 kids=1}",
			"    + getChildren2 OK zxid=#6 [b] {cz=#2 mz=#2 pz=#6 ctime=T mtime==ctime v=0 cv=4 av=0 eph=0 len=0 kids=1}",
			"    ^ cv=3 vs cv=4",
			"op 6: S0 delete /t/a v=-1",
			"replay:",
		} {
			if !strings.Contains(report, want) {
				t.Errorf("report lacks %q", want)
			}
		}
	})
	t.Run("random wrong cversion", func(t *testing.T) {
		d := randomDivergence(t, 7, broken(wrongCversionOnDelete()))
		for _, want := range []string{"(seed 7)", "outcome (- java, + zkgo):", "^ cv=", "steps, oldest first):\n    op ",
			"replay: ZKGO_CONFORMANCE_SEEDS=7 ZKGO_CONFORMANCE_OPS=3000"} {
			if !strings.Contains(d, want) {
				t.Errorf("report lacks %q:\n%s", want, d)
			}
		}
	})
	t.Run("random dropped events", func(t *testing.T) {
		d := randomDivergence(t, 8, broken(dropDeletedEvents()))
		if !strings.Contains(d, "- event NodeDeleted ") && !strings.Contains(d, "-   event NodeDeleted") &&
			!strings.Contains(d, ": event NodeDeleted ") {
			t.Errorf("report does not show the missing NodeDeleted event:\n%s", d)
		}
		for _, want := range []string{"(seed 8)", "outcome (- java, + zkgo):", "steps, oldest first):\n    op ", "replay: "} {
			if !strings.Contains(d, want) {
				t.Errorf("report lacks %q:\n%s", want, d)
			}
		}
	})
}

// randomDivergence runs seed against a broken zkgo and returns the report
// of the divergence it must find within 3000 operations.
func randomDivergence(t *testing.T, seed int64, wrap func(string) string) string {
	t.Helper()
	const ops = 3000
	tgs := xchk.StartPair(t, xchk.PairConfig{ExtendedTypes: true, WrapZkgo: wrap})
	c, err := xchk.NewChecker(tgs, xchk.Options{Seed: seed,
		Replay: fmt.Sprintf("ZKGO_CONFORMANCE_SEEDS=%d ZKGO_CONFORMANCE_OPS=%d go test ./compat-tests -run 'TestConformanceRandom' -count=1 -v", seed, ops)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	g := xchk.NewGen(seed, xchk.GenConfig{ExpireEvery: -1})
	for i := 0; i < ops; i++ {
		if d := c.Step(g.Next()); d != nil {
			t.Logf("found at op %d:\n%s", d.Op, d)
			return d.Error()
		}
	}
	t.Fatalf("the harness ran %d operations against a broken zkgo without noticing", ops)
	return ""
}

// TestConformanceNegativeTTL pins DIFFERENCES.md #9 on zkgo alone (Java
// 3.8.0 accepts the request, then fails applying its txn and shuts down):
// a createTTL with a non-TTL mode and a negative ttl is BADARGUMENTS, the
// zxid is consumed, and the server carries on.
func TestConformanceNegativeTTL(t *testing.T) {
	z := harness.StartZkgo(t, func(c *node.Config) { c.ExtendedTypes = true })
	c, err := rawzk.Dial(z.Addr, rawzk.Options{})
	must(t, err)
	defer c.Close()
	before, err := c.Do(wire.OpExists, &wire.ExistsRequest{Path: "/"}, nil)
	must(t, err)
	for _, mode := range []wire.CreateMode{wire.ModePersistent, wire.ModeEphemeral, wire.ModePersistentSequential, wire.ModeContainer} {
		h, err := c.Do(wire.OpCreateTTL, &wire.CreateTTLRequest{Path: "/neg", ACL: xchk.OpenACL, Flags: int32(mode), TTL: -5}, nil)
		must(t, err)
		if h.Err != wire.ErrBadArguments {
			t.Errorf("mode %d: %v, want BADARGUMENTS", mode, h.Err)
		}
	}
	after, err := c.Do(wire.OpExists, &wire.ExistsRequest{Path: "/neg"}, nil)
	must(t, err)
	if after.Err != wire.ErrNoNode || after.Zxid != before.Zxid+4 {
		t.Fatalf("after: %+v (before: zxid %d), want NONODE and 4 zxids consumed", after, before.Zxid)
	}
}
