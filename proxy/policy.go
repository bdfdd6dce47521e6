package proxy

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkgo/zkgo/wire"
)

// NoLimit turns off a limit of Policy whose zero value means its default.
const NoLimit = -1

// Defaults of Policy.
const (
	// DefaultMaxConnsPerIP is Java's maxClientCnxns default.
	DefaultMaxConnsPerIP = 60
	// DefaultMaxInFlight is Java's zookeeper.globalOutstandingLimit
	// default: a Java server stops reading every connection once that
	// many requests are queued in all, so one connection alone never gets
	// more answered in parallel there either.
	DefaultMaxInFlight = 1000
)

// DefaultFourLetterWords are the four-letter words passed on when
// Policy.FourLetterWords is nil: the ones monitoring and clients use that
// reveal nothing about other clients or the host and change nothing
// (docs/proxy.md has the reasoning for every word).
var DefaultFourLetterWords = []string{"ruok", "isro", "srvr", "mntr", "wchs"}

// Policy holds the proxy's limits and filters. Its zero value has the
// default limits and refuses only what no client sends (see refuse).
type Policy struct {
	// MaxConnsPerIP closes new connections from an IP that already has
	// this many (Java's maxClientCnxns). 0: DefaultMaxConnsPerIP; NoLimit:
	// no limit.
	MaxConnsPerIP int
	// MaxInFlight is how many requests a connection may have unanswered;
	// past it the proxy stops reading that client until replies come back.
	// 0: DefaultMaxInFlight; NoLimit: no limit.
	MaxInFlight int
	// RatePerIP is the sustained request rate allowed per client IP
	// (requests per second), RateBurst the bucket size (default: one
	// second's worth). Requests over the rate are delayed: the proxy stops
	// reading the client until a token is available. 0: no limit.
	RatePerIP float64
	RateBurst int
	// ReadOnly answers the requests a Java read-only server refuses
	// (create*, delete*, setData, setACL, multi, check, reconfig, sync)
	// with NOTREADONLY (-119) instead of passing them on.
	ReadOnly bool
	// Allow, when not empty, lists the only opcodes passed on (ping,
	// closeSession and the setWatches family are always passed on, so
	// sessions keep working). Deny lists opcodes that are refused. Refused
	// requests are answered by the proxy with DenyCode.
	Allow, Deny []wire.OpCode
	// DenyCode is the error a refused request is answered with (default
	// NOAUTH, -102: every client surfaces it as an ordinary per-request
	// error and keeps the session).
	DenyCode wire.ErrCode
	// FourLetterWords lists the four-letter words passed to the upstream;
	// others are answered as a Java server answers a word missing from
	// 4lw.commands.whitelist. nil: DefaultFourLetterWords; "*" in the
	// list: every word; an empty, non-nil list: none.
	FourLetterWords []string
}

func (p Policy) withDefaults() Policy {
	if p.MaxConnsPerIP == 0 {
		p.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if p.MaxInFlight == 0 {
		p.MaxInFlight = DefaultMaxInFlight
	}
	if p.FourLetterWords == nil {
		p.FourLetterWords = DefaultFourLetterWords
	}
	return p
}

func (p Policy) validate() error {
	if p.MaxConnsPerIP < NoLimit || p.MaxInFlight < NoLimit || p.RatePerIP < 0 || p.RateBurst < 0 {
		return errors.New("proxy: policy limits must not be negative (NoLimit, -1, turns a limit off)")
	}
	if math.IsNaN(p.RatePerIP) || math.IsInf(p.RatePerIP, 0) {
		return errors.New("proxy: bad rate")
	}
	for _, w := range p.FourLetterWords {
		if _, ok := wire.IsFourLetterWord([]byte(w)); (!ok || len(w) != 4) && w != "*" {
			return fmt.Errorf("proxy: %q is not a four-letter word (%v or *)", w, wire.FourLetterWords)
		}
	}
	return nil
}

// Decision names, the "key" label of zkproxy_policy_decisions.
const (
	DecisionMaxConns     = "max_conns_per_ip"
	DecisionInFlight     = "max_in_flight"
	DecisionRequestSize  = "max_request_size"
	DecisionResponseSize = "max_response_size"
	DecisionRateLimited  = "rate_limited"
	DecisionReadOnly     = "read_only"
	DecisionDenied       = "denied"
	DecisionNotClientOp  = "not_client_opcode"
	DecisionFourLetter   = "four_letter_word"
	DecisionSlowClient   = "slow_client"
	DecisionSlowUpstream = "slow_upstream"
	DecisionTLSHandshake = "tls_handshake_failed"
)

// readOnlyRefused mirrors ReadOnlyRequestProcessor's refused opcodes.
func readOnlyRefused(op wire.OpCode) bool {
	switch op {
	case wire.OpSync, wire.OpCreate, wire.OpCreate2, wire.OpCreateTTL, wire.OpCreateContainer, wire.OpDelete,
		wire.OpDeleteContainer, wire.OpSetData, wire.OpReconfig, wire.OpSetACL, wire.OpMulti, wire.OpCheck:
		return true
	}
	return false
}

// alwaysAllowed are the opcodes a session needs to stay alive.
func alwaysAllowed(op wire.OpCode) bool {
	switch op {
	case wire.OpPing, wire.OpCloseSession, wire.OpSetWatches, wire.OpSetWatches2:
		return true
	}
	return false
}

// clientOpcode reports whether a client may send op after its
// ConnectRequest: the request types of ZooDefs.OpCode that a Java server
// takes from a client connection (Request.isValid, plus auth and sasl,
// which ZooKeeperServer.processPacket handles before it), less the two
// a server only issues to itself: createSession (-10; the session
// handshake is the ConnectRequest, which has no header) and
// deleteContainer (20; the container manager's, with no ACL check).
// Java passes a client's createSession on to its session tracker, which
// extends the session and logs a txn; an unknown type gets UNIMPLEMENTED
// and a closed connection.
func clientOpcode(op wire.OpCode) bool {
	switch op {
	case wire.OpCreate, wire.OpDelete, wire.OpExists, wire.OpGetData, wire.OpSetData, wire.OpGetACL,
		wire.OpSetACL, wire.OpGetChildren, wire.OpSync, wire.OpPing, wire.OpGetChildren2, wire.OpCheck,
		wire.OpMulti, wire.OpCreate2, wire.OpReconfig, wire.OpCheckWatches, wire.OpRemoveWatches,
		wire.OpCreateContainer, wire.OpCreateTTL, wire.OpMultiRead, wire.OpAuth, wire.OpSetWatches,
		wire.OpSASL, wire.OpGetEphemerals, wire.OpGetAllChildrenNumber, wire.OpSetWatches2,
		wire.OpAddWatch, wire.OpWhoAmI, wire.OpCloseSession:
		return true
	}
	return false
}

// policyState is the shared (cross-loop) state of the policy.
type policyState struct {
	pol      Policy
	filter   bool
	allowed  [opSlots]bool
	denied   [opSlots]bool
	denyCode wire.ErrCode
	words    []string // four-letter words passed on; nil: all

	perIP sync.Map // ip -> *ipState
	// interval is the time one token is worth, in nanoseconds; burst is
	// the bucket depth in nanoseconds (GCRA).
	interval, burst int64
}

type ipState struct {
	conns atomic.Int32
	tat   atomic.Int64 // GCRA theoretical arrival time, unix nanos
}

// Opcode slots for per-op tables: opcodes span -11..107.
const (
	opBase  = 16
	opSlots = 128
)

func opSlot(op wire.OpCode) int {
	i := int(op) + opBase
	if i < 0 || i >= opSlots {
		return 0
	}
	return i
}

func newPolicyState(p Policy) *policyState {
	p = p.withDefaults()
	s := &policyState{pol: p, denyCode: p.DenyCode}
	if s.denyCode == 0 {
		s.denyCode = wire.ErrNoAuth
	}
	if !slices.Contains(p.FourLetterWords, "*") {
		s.words = append([]string{}, p.FourLetterWords...)
	}
	if len(p.Allow) > 0 {
		s.filter = true
		for i := range s.denied {
			s.denied[i] = true
		}
		for _, op := range p.Allow {
			s.denied[opSlot(op)] = false
		}
	}
	for _, op := range p.Deny {
		s.filter = true
		s.denied[opSlot(op)] = true
	}
	if p.RatePerIP > 0 {
		s.interval = int64(float64(time.Second) / p.RatePerIP)
		if s.interval < 1 {
			s.interval = 1
		}
		b := p.RateBurst
		if b == 0 {
			b = int(math.Max(1, p.RatePerIP))
		}
		s.burst = int64(b) * s.interval
	}
	return s
}

func (s *policyState) ip(ip string) *ipState {
	if v, ok := s.perIP.Load(ip); ok {
		return v.(*ipState)
	}
	v, _ := s.perIP.LoadOrStore(ip, new(ipState))
	return v.(*ipState)
}

// admitConn counts a new connection of pr's IP; false: over the limit.
func (s *policyState) admitConn(pr *pair) bool {
	if s.pol.MaxConnsPerIP == NoLimit && s.interval == 0 {
		return true
	}
	st := s.ip(pr.ip)
	pr.ipst = st
	if s.pol.MaxConnsPerIP > 0 {
		if n := st.conns.Add(1); int(n) > s.pol.MaxConnsPerIP {
			st.conns.Add(-1)
			pr.ipst = nil
			return false
		}
		pr.countedIP = true
	}
	return true
}

// release undoes admitConn.
func (s *policyState) release(pr *pair) {
	if pr.countedIP {
		pr.ipst.conns.Add(-1)
		pr.countedIP = false
	}
}

// take asks for one request token for st at now (unix nanos); it returns 0
// when granted, or how long to wait.
func (s *policyState) take(st *ipState, now int64) time.Duration {
	if s.interval == 0 || st == nil {
		return 0
	}
	for {
		old := st.tat.Load()
		tat := old
		if tat < now {
			tat = now
		}
		next := tat + s.interval
		if next-now > s.burst {
			return time.Duration(next - now - s.burst)
		}
		if st.tat.CompareAndSwap(old, next) {
			return 0
		}
	}
}

// refuse returns the error code the proxy answers op with, or 0 to pass
// it on, and the decision to count. closeConn is set for an opcode no
// client sends: the connection is closed once the refusal is written (a
// client that sends one is broken or hostile; Java also closes after
// refusing an unknown type). The session itself lives on at the upstream
// and the client may reconnect to it.
func (s *policyState) refuse(op wire.OpCode) (code wire.ErrCode, decision string, closeConn bool) {
	if !clientOpcode(op) {
		return s.denyCode, DecisionNotClientOp, true
	}
	if s.pol.ReadOnly && readOnlyRefused(op) {
		return wire.ErrNotReadOnly, DecisionReadOnly, false
	}
	if s.filter && s.denied[opSlot(op)] && !alwaysAllowed(op) {
		return s.denyCode, DecisionDenied, false
	}
	return 0, "", false
}

// wordAllowed reports whether four-letter word w is passed on.
func (s *policyState) wordAllowed(w string) bool {
	return s.words == nil || slices.Contains(s.words, w)
}

// wordRefusal is the answer to a four-letter word the policy refuses: the
// text a Java server writes for a word missing from its
// 4lw.commands.whitelist, so tools see the answer they already know.
func wordRefusal(w string) []byte {
	return []byte(w + " is not executed because it is not in the whitelist.\n")
}
