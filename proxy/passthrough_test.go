package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

func encode(rec jute.Record) []byte {
	w := jute.NewWriter(nil)
	rec.Encode(w)
	return w.Bytes()
}

func TestNormalizeReplyIgnoresZxidsTimesAndSessions(t *testing.T) {
	a := &wire.GetDataResponse{Data: []byte("x"), Stat: wire.Stat{Czxid: 5, Mzxid: 6, Pzxid: 7, Ctime: 100, Mtime: 200,
		Version: 3, EphemeralOwner: 0x11}}
	b := &wire.GetDataResponse{Data: []byte("x"), Stat: wire.Stat{Czxid: 0x100000001, Mzxid: 9, Pzxid: 9, Ctime: 1,
		Mtime: 2, Version: 3, EphemeralOwner: 0x22}}
	na := normalizeReply(wire.OpGetData, wire.ErrOk, encode(a), 0x11)
	nb := normalizeReply(wire.OpGetData, wire.ErrOk, encode(b), 0x22)
	if na != nb {
		t.Fatalf("differ:\n%s\n%s", na, nb)
	}
	b.Stat.Version = 4
	if nc := normalizeReply(wire.OpGetData, wire.ErrOk, encode(b), 0x22); nc == na {
		t.Fatal("a different version compares equal")
	}
	// Another session's ephemeral is not "self".
	b.Stat.Version = 3
	if nd := normalizeReply(wire.OpGetData, wire.ErrOk, encode(b), 0x33); nd == na {
		t.Fatal("foreign ephemeral owner compares equal to self")
	}
	// Children order does not matter; errors compare by code.
	c1 := normalizeReply(wire.OpGetChildren, wire.ErrOk, encode(&wire.GetChildrenResponse{Children: []string{"b", "a"}}), 0)
	c2 := normalizeReply(wire.OpGetChildren, wire.ErrOk, encode(&wire.GetChildrenResponse{Children: []string{"a", "b"}}), 0)
	if c1 != c2 {
		t.Fatalf("children order matters: %s %s", c1, c2)
	}
	if e := normalizeReply(wire.OpGetData, wire.ErrNoNode, nil, 0); e != "err=NONODE" {
		t.Fatal(e)
	}
	// Multi results hold records behind interfaces: no pointer addresses.
	m := &wire.MultiResponse{Results: []wire.MultiResult{{Type: wire.OpCreate, Result: &wire.CreateResponse{Path: "/m"}}}}
	m1 := normalizeReply(wire.OpMulti, wire.ErrOk, encode(m), 0)
	m2 := normalizeReply(wire.OpMulti, wire.ErrOk, encode(m), 0)
	if m1 != m2 || strings.Contains(m1, "0xc") {
		t.Fatalf("multi rendering: %s", m1)
	}
}

func TestRateLimiterGCRA(t *testing.T) {
	s := newPolicyState(Policy{RatePerIP: 10, RateBurst: 3})
	st := new(ipState)
	now := time.Now().UnixNano()
	for i := 0; i < 3; i++ {
		if w := s.take(st, now); w != 0 {
			t.Fatalf("token %d refused (wait %v)", i, w)
		}
	}
	w := s.take(st, now)
	if w <= 0 || w > 100*time.Millisecond {
		t.Fatalf("4th token: wait %v, want (0, 100ms]", w)
	}
	if w := s.take(st, now+int64(w)); w != 0 {
		t.Fatalf("token after the wait refused: %v", w)
	}
}

func TestPolicyRefuse(t *testing.T) {
	s := newPolicyState(Policy{ReadOnly: true})
	if code, d, _ := s.refuse(wire.OpCreate); code != wire.ErrNotReadOnly || d != DecisionReadOnly {
		t.Fatal(code, d)
	}
	if code, _, _ := s.refuse(wire.OpCloseSession); code != 0 {
		t.Fatal("closeSession refused in read-only mode")
	}
	s = newPolicyState(Policy{Allow: []wire.OpCode{wire.OpGetData}})
	if code, _, _ := s.refuse(wire.OpGetData); code != 0 {
		t.Fatal("allowed op refused")
	}
	if code, d, _ := s.refuse(wire.OpSetData); code != wire.ErrNoAuth || d != DecisionDenied {
		t.Fatal(code, d)
	}
	if code, _, _ := s.refuse(wire.OpPing); code != 0 {
		t.Fatal("ping refused by an allow-list")
	}
	s = newPolicyState(Policy{Deny: []wire.OpCode{wire.OpDelete}, DenyCode: wire.ErrUnimplemented})
	if code, _, _ := s.refuse(wire.OpDelete); code != wire.ErrUnimplemented {
		t.Fatal(code)
	}
}

// Only the opcodes a client sends pass, under any filter; the others are
// refused with the deny code and close the connection.
func TestPolicyClientOpcodes(t *testing.T) {
	internal := map[wire.OpCode]bool{wire.OpCreateSession: true, wire.OpError: true, wire.OpNotification: true,
		wire.OpDeleteContainer: true}
	for _, pol := range []Policy{{}, {ReadOnly: true}, {Allow: []wire.OpCode{wire.OpGetData}},
		{Deny: []wire.OpCode{wire.OpSetData}, DenyCode: wire.ErrUnimplemented}} {
		s := newPolicyState(pol)
		for _, op := range append(wire.AllOpCodes, 999, -100, 23) {
			code, d, closeConn := s.refuse(op)
			bad := internal[op] || !op.Known() || op == 23
			if bad != closeConn || bad && (code != s.denyCode || d != DecisionNotClientOp) {
				t.Errorf("policy %+v: op %v: code %v decision %q close %v", pol, op, code, d, closeConn)
			}
		}
	}
}

// A zero Policy has the default limits and four-letter words; NoLimit
// turns a limit off.
func TestPolicyDefaults(t *testing.T) {
	s := newPolicyState(Policy{})
	if s.pol.MaxConnsPerIP != 60 || s.pol.MaxInFlight != 1000 {
		t.Fatalf("defaults: %+v", s.pol)
	}
	for w, want := range map[string]bool{"ruok": true, "srvr": true, "mntr": true, "isro": true, "wchs": true,
		"dump": false, "cons": false, "stat": false, "conf": false, "envi": false, "wchc": false, "wchp": false,
		"crst": false, "srst": false, "stmk": false} {
		if s.wordAllowed(w) != want {
			t.Errorf("default policy: %s allowed %v", w, !want)
		}
	}
	if s := newPolicyState(Policy{FourLetterWords: []string{"*"}}); !s.wordAllowed("dump") {
		t.Error("* does not allow dump")
	}
	if s := newPolicyState(Policy{FourLetterWords: []string{}}); s.wordAllowed("ruok") {
		t.Error("an empty list allows ruok")
	}
	s = newPolicyState(Policy{MaxConnsPerIP: NoLimit, MaxInFlight: NoLimit})
	if s.pol.MaxConnsPerIP != NoLimit || s.pol.MaxInFlight != NoLimit {
		t.Fatalf("NoLimit: %+v", s.pol)
	}
	for _, p := range []Policy{{MaxConnsPerIP: -2}, {MaxInFlight: -5}, {FourLetterWords: []string{"nope"}}} {
		if p.withDefaults().validate() == nil {
			t.Errorf("%+v validates", p)
		}
	}
	if err := (Policy{FourLetterWords: []string{"dump", "*"}}).validate(); err != nil {
		t.Error(err)
	}
}
