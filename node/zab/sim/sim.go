package sim

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/zkgo/zkgo/node/fle"
	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/wire"
)

// Config is one simulation run. Everything that varies between runs comes
// from Seed; the rest shapes the run.
type Config struct {
	Seed uint64
	// Peers is the number of voters (default: PeersFor(Seed)).
	Peers int
	// Observers is the number of observers (ids after the voters'); -1:
	// none; default: ObserversFor(Seed).
	Observers int
	// Hier is the hierarchical quorum configuration (group.N and
	// weight.N lines) the voters count with: 0: HierFor(Seed, Peers); -1:
	// none (a majority); n > 0: hierConfigs' n-th for that many voters.
	Hier int
	// Duration is the virtual time run, in ms (default 9500). Random
	// faults start in its first part only (up to Duration-QuietTail), so
	// that every run ends quiet and liveness is checked in each.
	Duration int64
	// FaultEvery is the mean virtual time between two faults, in ms
	// (default 250); negative: no random faults.
	FaultEvery int64
	// ClientEvery is the mean time between two client writes, in ms
	// (default 40); negative: no client writes.
	ClientEvery int64
	// SnapEvery is the mean time between two snapshots a peer takes of
	// its database at a random point (as node does after snapCount txns
	// and at the end of a load), in ms (default 1500); negative: none.
	SnapEvery int64
	// Disabled lists faults of the schedule not to inject (shrinking).
	Disabled map[int]bool
	// Schedule, when set, replaces the random fault schedule (scenarios).
	Schedule []Fault
	// Init, when set, gives each peer (by id) its durable log and
	// epochs at the start (scenarios); default: empty logs, epochs 0.
	Init map[int64]InitState
	// Hooks are scenario triggers run after named driver steps.
	Hooks []Hook
	// Sync, when set, replaces the sync settings drawn from the seed
	// (scenarios).
	Sync *SyncSettings
	// Trace keeps a line per step for the report of a failing run.
	Trace bool
	// TraceElection adds, when tracing, a line per step of each peer's
	// election (node/fle's Config.Trace and the notifications sent): what
	// a liveness violation needs, too many lines for the others' reports.
	TraceElection bool
	// Sabotage names a sabotage to apply (only in builds with the
	// zabsabotage tag; see sabotage_on.go).
	Sabotage string
	// NoDurableCheck turns off the check that the committed history is
	// durable on a quorum at every step, the earliest to fire; the
	// self-test uses it to show that the end-to-end checks (a new
	// leader's log, agreement, linearizability) find the sabotages too.
	NoDurableCheck bool
}

// SyncSettings are the leader's settings that shape its syncs
// (zookeeper.commitLogCount, snapshotSizeFactor >= 0,
// zookeeper.forceSnapshotSync).
type SyncSettings struct {
	CommitLogCount int
	TxnLog         bool
	ForceSnap      bool
}

// InitState is a peer's disk at the start of a scenario: its txn log,
// a snapshot holding the history Snap (none when empty), its epochs.
type InitState struct {
	Log                         []wire.Zxid
	Snap                        []wire.Zxid
	AcceptedEpoch, CurrentEpoch int64
}

// PeersFor is the ensemble size a seed runs with when none is given:
// five voters for one seed in eight, else three.
func PeersFor(seed uint64) int {
	if seed%8 == 0 {
		return 5
	}
	return 3
}

// ObserversFor is the number of observers a seed runs with when none is
// given: one for one seed in three.
func ObserversFor(seed uint64) int {
	if seed%3 == 2 {
		return 1
	}
	return 0
}

// HierFor is the hierarchical quorum configuration a seed runs with when
// none is given: one of hierConfigs for one seed in seven, else -1 (a
// majority).
func HierFor(seed uint64, peers int) int {
	if seed%7 != 3 || len(hierConfigs[peers]) == 0 {
		return -1
	}
	return 1 + int(seed/7)%len(hierConfigs[peers])
}

// hierConfigs are the hierarchical quorums (QuorumHierarchical's group.N
// and weight.N keys) of three and five voters the seeds run with. Each
// is one Java accepts; some make quorums that are not majorities.
var hierConfigs = map[int][]map[string]string{
	3: {
		// three groups of one: a majority of groups is a majority
		{"group.1": "1", "group.2": "2", "group.3": "3"},
		// one group, voter 3 weighs nothing: the quorum is {1,2}, and 3
		// is never elected (a weight-0 candidate never wins)
		{"group.1": "1:2:3", "weight.1": "1", "weight.2": "1", "weight.3": "0"},
	},
	5: {
		// three groups; voter 1 weighs 2, so {1,5} is a quorum and
		// {2,3,4} is not
		{"group.1": "1:2", "group.2": "3:4", "group.3": "5", "weight.1": "2"},
		// two groups: a majority of each ({1,2,4,5} and the like)
		{"group.1": "1:2:3", "group.2": "4:5"},
	},
}

// HierText is the configuration's keys, sorted ("group.1=1:2 ..."), for
// the trace and the report.
func HierText(peers, hier int) string {
	if hier <= 0 || hier > len(hierConfigs[peers]) {
		return "majority"
	}
	m := hierConfigs[peers][hier-1]
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + m[k]
	}
	return strings.Join(keys, " ")
}

func (c Config) withDefaults() Config {
	if c.Peers == 0 {
		c.Peers = PeersFor(c.Seed)
	}
	if c.Hier == 0 {
		c.Hier = HierFor(c.Seed, c.Peers)
	}
	switch {
	case c.Observers == 0:
		c.Observers = ObserversFor(c.Seed)
	case c.Observers < 0:
		c.Observers = 0
	}
	if c.Duration == 0 {
		c.Duration = 9500
	}
	if c.FaultEvery == 0 {
		c.FaultEvery = 250
	}
	if c.ClientEvery == 0 {
		c.ClientEvery = 40
	}
	if c.SnapEvery == 0 {
		c.SnapEvery = 1500
	}
	return c
}

// Timing of the simulated ensemble (virtual ms): tickTime 100 ms, a tick
// of the owner goroutine tickTime/2, initLimit 5 and syncLimit 2 ticks of
// tickTime.
const (
	tickMs    = 50
	initLimit = 5
	syncLimit = 2
	// learner read timeouts (the socket's SO_TIMEOUT in Java)
	syncReadMs  = initLimit * 2 * tickMs
	bcastReadMs = syncLimit * 2 * tickMs
	clientWait  = 1500 // ms before a client gives up on a write
	// maxSteps bounds a run (a run of 6 s takes about 1,500).
	maxSteps = 200_000
)

// Violation is a broken invariant.
type Violation struct {
	Kind string // "epoch", "leader", "agreement", "lost", "order", "durable", "digest", "linearizability", "fatal"
	Msg  string
	At   int64 // virtual ms
	Step int
}

func (v *Violation) String() string {
	return fmt.Sprintf("%s at t=%dms step %d: %s", v.Kind, v.At, v.Step, v.Msg)
}

// Result is what a run did.
type Result struct {
	Seed      uint64
	Violation *Violation
	Steps     int // events handled
	Committed int // txns in the committed history at the end
	Ops       int // client writes answered
	Reads     int // client reads (checked against the committed history)
	Leaders   int // leaderships established
	Faults    int // faults injected
	Schedule  []Fault
	// Syncs counts the learners' syncs by mode and reason
	// ("DIFF/committed-log").
	Syncs     map[string]int
	Trace     []string
	History   []Op
	VirtualMs int64
}

type evKind uint8

const (
	evTick evKind = iota
	evQuorum
	evFLE
	evFault
	evRestart
	evHeal
	evFsync
	evConnect
	evClient
	evUnslow
	evClose
	evClosed
	evSnapshot
	evResendFLE
)

type event struct {
	at   int64
	seq  uint64
	kind evKind
	peer int64
	gen  int // the peer's incarnation the event belongs to
	// evQuorum: the link whose head is due
	link *qlink
	// evFLE
	from int64
	msg  fle.Message
	// evFault
	fault int
	// evConnect: the leader to connect to, the attempt; evResendFLE: the
	// receiver (to)
	to      int64
	attempt int
}

type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(*event)) }
func (h *eventHeap) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return e
}

// Sim is one run: the peers, the network, virtual time and the checkers.
type Sim struct {
	cfg      Config
	rng      *rand.Rand
	now      int64
	seq      uint64
	events   eventHeap
	peers    []*Peer // by id-1
	ids      []int64 // every peer
	voters   []int64
	verifier quorum.Verifier
	net      network
	chk      checker
	sched    []Fault
	trace    []string
	steps    int
	faults   int
	leaders  int
	clients  clients
	syncs    map[string]int
	sab      sabotage
	// per-run settings drawn from the seed
	commitLog  int  // zookeeper.commitLogCount
	txnLogSync bool // snapshotSizeFactor >= 0
	forceSnap  bool // zookeeper.forceSnapshotSync
}

func (s *Sim) commitLogCount() int { return s.commitLog }

// Run runs one simulation.
func Run(cfg Config) Result {
	s := newSim(cfg)
	s.run()
	return s.result()
}

func newSim(cfg Config) *Sim {
	cfg = cfg.withDefaults()
	cfg.Hooks = append([]Hook(nil), cfg.Hooks...) // each run fires them afresh
	s := &Sim{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
	s.sab = newSabotage(cfg.Sabotage)
	s.syncs = map[string]int{}
	s.commitLog = []int{3, 10, 50, 500}[s.rng.IntN(4)]
	s.txnLogSync = s.rng.IntN(4) != 0
	s.forceSnap = s.rng.IntN(20) == 0
	if o := cfg.Sync; o != nil {
		s.commitLog, s.txnLogSync, s.forceSnap = o.CommitLogCount, o.TxnLog, o.ForceSnap
	}
	for i := 1; i <= cfg.Peers+cfg.Observers; i++ {
		s.ids = append(s.ids, int64(i))
	}
	s.voters = s.ids[:cfg.Peers]
	s.verifier = quorum.NewMajority(s.voters)
	if cfg.Hier > 0 && cfg.Hier <= len(hierConfigs[cfg.Peers]) {
		members := make([]quorum.Member, len(s.ids))
		for i, id := range s.ids {
			members[i] = quorum.Member{ID: id, Voter: i < cfg.Peers}
		}
		v, err := quorum.Parse(members, hierConfigs[cfg.Peers][cfg.Hier-1])
		if err != nil {
			panic(fmt.Sprintf("sim: hierarchical config %d of %d voters: %v", cfg.Hier, cfg.Peers, err))
		}
		s.verifier = v
	}
	s.net.init(s)
	s.chk.init(s)
	s.clients.init(s)
	for _, id := range s.ids {
		p := newPeer(s, id)
		p.observer = int(id) > cfg.Peers
		if in, ok := cfg.Init[id]; ok {
			for _, z := range in.Log {
				if err := p.store.Append(NewRec(initTxn(z))); err != nil {
					panic(err)
				}
			}
			_ = p.store.Sync()
			if len(in.Snap) > 0 {
				hist := make([]Rec, len(in.Snap))
				for i, z := range in.Snap {
					hist[i] = NewRec(initTxn(z))
				}
				_ = p.store.TakeSnapshot(hist)
			}
			p.store.AcceptedEpoch, p.store.CurrentEpoch = in.AcceptedEpoch, in.CurrentEpoch
		}
		s.peers = append(s.peers, p)
	}
	if cfg.Schedule != nil {
		s.sched = cfg.Schedule
	} else {
		s.sched = genSchedule(cfg)
	}
	for i, f := range s.sched {
		s.push(&event{at: f.At, kind: evFault, fault: i})
	}
	s.tracef("quorum: %s", HierText(cfg.Peers, cfg.Hier))
	s.chk.start()
	for _, p := range s.peers {
		// Peers start at slightly different times, as processes do.
		p.nextTick = int64(s.rng.IntN(tickMs))
		s.push(&event{at: p.nextTick, kind: evTick, peer: p.id, gen: p.gen})
		p.start()
	}
	if cfg.ClientEvery > 0 {
		s.push(&event{at: s.expDelay(cfg.ClientEvery), kind: evClient})
	}
	if cfg.SnapEvery > 0 {
		for _, p := range s.peers {
			s.push(&event{at: s.expDelay(cfg.SnapEvery), kind: evSnapshot, peer: p.id})
		}
	}
	return s
}

func (s *Sim) peer(id int64) *Peer {
	if id < 1 || int(id) > len(s.peers) {
		return nil
	}
	return s.peers[id-1]
}

func (s *Sim) push(e *event) {
	s.seq++
	e.seq = s.seq
	heap.Push(&s.events, e)
}

func (s *Sim) expDelay(mean int64) int64 {
	return s.now + 1 + int64(s.rng.ExpFloat64()*float64(mean))
}

// tracef records a line of the trace when tracing.
func (s *Sim) tracef(format string, args ...any) {
	if s.cfg.Trace {
		s.trace = append(s.trace, fmt.Sprintf("%6d ", s.now)+fmt.Sprintf(format, args...))
	}
}

func (s *Sim) run() {
	for s.chk.viol == nil && len(s.events) > 0 {
		if !s.run1() {
			break
		}
	}
	if s.chk.viol == nil {
		s.chk.final()
	}
}

// run1 handles the next event; false when the run is over.
func (s *Sim) run1() bool {
	e := heap.Pop(&s.events).(*event)
	if e.at > s.cfg.Duration {
		return false
	}
	s.now = e.at
	s.steps++
	if s.steps > maxSteps {
		s.chk.fail("stuck", "more than %d steps: the simulation does not advance", maxSteps)
		return false
	}
	s.handle(e)
	s.chk.step()
	return true
}

func (s *Sim) handle(e *event) {
	switch e.kind {
	case evTick:
		p := s.peer(e.peer)
		if p.gen != e.gen || !p.up {
			return
		}
		if p.pausedUntil > s.now {
			p.nextTick = p.pausedUntil
		} else {
			p.tick()
			p.nextTick = s.now + tickMs
		}
		s.push(&event{at: p.nextTick, kind: evTick, peer: p.id, gen: p.gen})
	case evQuorum:
		s.net.deliverHead(e.link)
	case evFLE:
		s.net.deliverFLE(e)
	case evFault:
		if s.cfg.Disabled[e.fault] {
			return
		}
		s.inject(e.fault)
	case evRestart:
		p := s.peer(e.peer)
		if !p.up && p.gen == e.gen {
			p.restart()
		}
	case evHeal:
		if s.net.partitionGen == e.gen {
			s.net.heal()
		}
	case evFsync:
		p := s.peer(e.peer)
		if p.up && p.gen == e.gen {
			if p.pausedUntil > s.now {
				s.push(&event{at: p.pausedUntil, kind: evFsync, peer: p.id, gen: p.gen})
				return
			}
			p.fsyncDone()
		}
	case evConnect:
		p := s.peer(e.peer)
		if p.up && p.gen == e.gen {
			if p.pausedUntil > s.now {
				e2 := *e
				e2.at = p.pausedUntil
				s.push(&e2)
				return
			}
			p.connect(e.to, e.attempt)
		}
	case evClient:
		s.clients.issue()
		s.push(&event{at: s.expDelay(s.cfg.ClientEvery), kind: evClient})
	case evSnapshot:
		s.peer(e.peer).snapshot()
		s.push(&event{at: s.expDelay(s.cfg.SnapEvery), kind: evSnapshot, peer: e.peer})
	case evUnslow:
		s.net.slow[e.peer] = 0
	case evClosed:
		s.net.notifyClosed(e.link.c, e.peer, e.gen)
	case evResendFLE:
		if p := s.peer(e.peer); p.up && p.gen == e.gen {
			s.net.resendFLE(e.peer, e.to)
		}
	case evClose:
		if len(e.link.q) > 0 && e.link.c.open {
			s.push(&event{at: max(e.link.lastAt, s.now) + 1, kind: evClose, link: e.link})
			return
		}
		s.net.close(e.link.c, "peer crashed")
	}
}

func (s *Sim) result() Result {
	r := Result{Seed: s.cfg.Seed, Violation: s.chk.viol, Steps: s.steps, Committed: len(s.chk.committed),
		Ops: s.clients.answered, Reads: s.clients.reads, Leaders: s.leaders, Faults: s.faults, Schedule: s.sched, Syncs: s.syncs, Trace: s.trace,
		History: s.clients.history(), VirtualMs: s.now}
	return r
}

// Report renders a failing run: the violation, the faults injected and
// the trace (its last lines, up to max; 0: all).
func (r *Result) Report(max int) string {
	var b strings.Builder
	if r.Violation != nil {
		fmt.Fprintf(&b, "VIOLATION %s\n", r.Violation)
	}
	fmt.Fprintf(&b, "faults:\n")
	for i, f := range r.Schedule {
		if f.At <= r.VirtualMs {
			fmt.Fprintf(&b, "  #%d %s\n", i, f)
		}
	}
	t := r.Trace
	if max > 0 && len(t) > max {
		fmt.Fprintf(&b, "trace (last %d of %d lines):\n", max, len(t))
		t = t[len(t)-max:]
	} else {
		fmt.Fprintf(&b, "trace:\n")
	}
	for _, l := range t {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// initTxn is the create of "/i<epoch>.<counter>" at zxid z: the history a
// scenario's peers start with.
func initTxn(z wire.Zxid) *wire.TxnEntry {
	return &wire.TxnEntry{Hdr: wire.TxnHeader{ClientID: 1, Cxid: 1, Zxid: z, Time: 1, Type: wire.OpCreate},
		Body: &wire.CreateTxn{Path: fmt.Sprintf("/i%d.%d", z.Epoch(), z.Counter()), Data: []byte("x"),
			ACL: []wire.ACL{openACL}}}
}

var openACL = wire.ACL{Perms: 31, ID: wire.ID{Scheme: "world", ID: "anyone"}}

// SyncCounts renders the learners' syncs by mode and reason, as Result.Syncs
// counts them, sorted ("DIFF/committed-log=12 SNAP/forced=1"); every mode
// and reason of zab.PlanSync is listed, those that did not happen with 0.
func SyncCounts(syncs map[string]int) string {
	keys := append([]string(nil), SyncKinds...)
	for k := range syncs {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, syncs[k])
	}
	return strings.Join(parts, " ")
}

// SyncKinds are the modes and reasons zab.PlanSync can choose.
var SyncKinds = []string{"DIFF/in-step", "DIFF/committed-log", "DIFF/txn-log", "TRUNC/ahead", "TRUNC/committed-log",
	"TRUNC/txn-log", "SNAP/forced", "SNAP/txn-log-unusable", "SNAP/log-gap", "SNAP/trunc-across-epochs", "SNAP/unhandled"}
