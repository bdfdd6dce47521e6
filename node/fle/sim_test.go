package fle

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/zkgo/zkgo/wire"
)

// A deterministic in-memory network of Elections: messages are delivered
// after a random delay (below finalizeWait) in a random order chosen by the
// seed; partitions drop messages between groups; peers not started drop
// what they are sent.

type simPeer struct {
	id       int64
	e        *Election
	zxid     wire.Zxid
	epoch    int64
	canLead  bool
	voter    bool
	up       bool
	decision *Decision
	sent     []Message
	// zab stub: when the decision was made and whether the leader got a
	// quorum of followers (then the epoch advanced).
	decidedAt   time.Duration
	established bool
}

type envelope struct {
	from int64
	m    Message
	at   time.Duration
}

type sim struct {
	t        *testing.T
	rng      *rand.Rand
	now      time.Duration
	peers    map[int64]*simPeer
	ids      []int64
	inflight []envelope
	held     map[[2]int64]envelope // last message to a peer not started yet (QCM keeps it)
	group    map[int64]int
	maxDelay time.Duration
	// zab, when set, stands in for ZAB's discovery: initLimit after a
	// decision a leader with a quorum of followers that decided it is
	// established (everyone moves to a new epoch); otherwise the peer goes
	// back to LOOKING, as a Java leader without followers, or a follower
	// without a leader, does.
	zab       bool
	initLimit time.Duration
	trace     func(string, ...any)
}

type simSpec struct {
	id      int64
	zxid    wire.Zxid
	epoch   int64
	canLead bool
	voter   bool
}

func newSim(t *testing.T, seed uint64, specs []simSpec) *sim {
	t.Helper()
	s := &sim{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), peers: map[int64]*simPeer{},
		group: map[int64]int{}, held: map[[2]int64]envelope{}, maxDelay: 40 * ms}
	var voters []int64
	for _, sp := range specs {
		if sp.voter {
			voters = append(voters, sp.id)
		}
	}
	for _, sp := range specs {
		e, err := New(Config{ID: sp.id, Voters: voters, CanLead: sp.canLead, MaxNotificationInterval: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		s.peers[sp.id] = &simPeer{id: sp.id, e: e, zxid: sp.zxid, epoch: sp.epoch, canLead: sp.canLead, voter: sp.voter}
		s.ids = append(s.ids, sp.id)
	}
	slices.Sort(s.ids)
	return s
}

func (s *sim) collect(p *simPeer) {
	rd := p.e.Ready()
	for _, m := range rd.Messages {
		p.sent = append(p.sent, m)
		if m.To == p.id {
			s.t.Fatalf("peer %d sent to itself outside the loopback", p.id)
		}
		delay := time.Duration(s.rng.Int64N(int64(s.maxDelay) + 1))
		s.inflight = append(s.inflight, envelope{from: p.id, m: m, at: s.now + delay})
	}
	if rd.Decision != nil {
		if p.decision != nil {
			s.t.Fatalf("peer %d decided twice", p.id)
		}
		d := *rd.Decision
		p.decision = &d
		if s.trace != nil {
			s.trace("t=%v %d decided %+v", s.now, p.id, d)
		}
		p.decidedAt = s.now
	}
}

func (s *sim) voterCount() int {
	n := 0
	for _, p := range s.peers {
		if p.voter {
			n++
		}
	}
	return n
}

// zabStep establishes or restarts peers decided for longer than initLimit.
func (s *sim) zabStep() {
	for _, id := range s.ids {
		p := s.peers[id]
		if p.decision == nil || p.established || s.now-p.decidedAt < s.initLimit {
			continue
		}
		leader := s.peers[p.decision.Vote.Leader]
		if leader.established && leader.decision != nil && leader.decision.State == wire.ServerLeading {
			// A late follower syncs with the running leader.
			p.established = true
			p.epoch, p.zxid = leader.epoch, leader.zxid
			p.e.SetPeerEpoch(leader.epoch)
			continue
		}
		var group []*simPeer
		acks := 0
		if leader.decision != nil && leader.decision.State == wire.ServerLeading && !leader.established {
			for _, q := range s.peers {
				if q.decision != nil && q.decision.Vote.Leader == leader.id && !q.established {
					group = append(group, q)
					if q.voter {
						acks++
					}
				}
			}
		}
		if acks > s.voterCount()/2 {
			newEpoch := int64(0)
			for _, q := range group {
				newEpoch = max(newEpoch, q.epoch)
			}
			newEpoch++
			for _, q := range group {
				q.established = true
				q.epoch, q.zxid = newEpoch, wire.MakeZxid(uint32(newEpoch), 0)
				q.e.SetPeerEpoch(newEpoch)
			}
			continue
		}
		p.decision = nil
		p.e.Start(p.zxid, p.epoch)
		s.collect(p)
	}
}

func (s *sim) start(id int64) {
	p := s.peers[id]
	p.up = true
	for _, from := range s.ids {
		if env, ok := s.held[[2]int64{from, id}]; ok {
			delete(s.held, [2]int64{from, id})
			env.at = s.now + time.Duration(s.rng.Int64N(int64(s.maxDelay)+1))
			s.inflight = append(s.inflight, env)
		}
	}
	p.e.Start(p.zxid, p.epoch)
	s.collect(p)
}

// step advances time by dt, delivering due messages in random order.
func (s *sim) step(dt time.Duration) {
	s.now += dt
	var due, later []envelope
	for _, env := range s.inflight {
		if env.at <= s.now {
			due = append(due, env)
		} else {
			later = append(later, env)
		}
	}
	s.inflight = later
	s.rng.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
	for _, env := range due {
		to := s.peers[env.m.To]
		if to != nil && !to.up {
			s.held[[2]int64{env.from, env.m.To}] = env
			continue
		}
		if to == nil || s.group[env.from] != s.group[env.m.To] {
			continue
		}
		m := env.m
		if s.trace != nil {
			s.trace("t=%v %d->%d %+v", s.now, env.from, m.To, m)
		}
		to.e.Step(Notification{From: env.from, State: m.State, Leader: m.Leader, Zxid: m.Zxid,
			ElectionEpoch: m.ElectionEpoch, PeerEpoch: m.PeerEpoch, Version: wire.NotificationVersion})
		s.collect(to)
	}
	order := slices.Clone(s.ids)
	s.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for _, id := range order {
		p := s.peers[id]
		if p.up {
			p.e.Tick(dt, true)
			s.collect(p)
		}
	}
	if s.zab {
		s.zabStep()
	}
}

func (s *sim) runUntil(limit time.Duration, done func() bool) bool {
	for end := s.now + limit; s.now < end; {
		if done() {
			return true
		}
		s.step(10 * ms)
	}
	return done()
}

func (s *sim) allDecided(ids ...int64) func() bool {
	return func() bool {
		for _, id := range ids {
			if p := s.peers[id]; p.decision == nil || (s.zab && !p.established) {
				return false
			}
		}
		return true
	}
}

// best is the argmax of (epoch, zxid, sid) over ids.
func (s *sim) best(ids []int64) int64 {
	b := ids[0]
	for _, id := range ids[1:] {
		p, q := s.peers[id], s.peers[b]
		if TotalOrder(id, p.zxid, p.epoch, b, q.zxid, q.epoch) {
			b = id
		}
	}
	return b
}

// checkAgreement: every listed peer decided the same leader, which is the
// only LEADING one.
func (s *sim) checkAgreement(ids []int64, leader int64) {
	s.t.Helper()
	for _, id := range ids {
		d := s.peers[id].decision
		if d == nil {
			s.t.Fatalf("peer %d undecided", id)
		}
		if d.Vote.Leader != leader {
			s.t.Fatalf("peer %d decided leader %d, want %d", id, d.Vote.Leader, leader)
		}
		want := wire.ServerFollowing
		switch {
		case id == leader:
			want = wire.ServerLeading
		case !s.peers[id].voter:
			want = wire.ServerObserving
		}
		if d.State != want {
			s.t.Fatalf("peer %d decided %v, want %v", id, d.State, want)
		}
	}
}

// checkNoSelf: a CanLead=false peer never sent a vote for itself nor a
// LOOKING vote for a history behind its own, and nobody voted for it.
func (s *sim) checkNoSelf() {
	s.t.Helper()
	for _, p := range s.peers {
		for _, m := range p.sent {
			for _, q := range s.peers {
				if q.canLead || !q.voter || m.Leader != q.id || m.Probe {
					continue
				}
				s.t.Fatalf("peer %d sent a vote for CanLead=false peer %d: %+v", p.id, q.id, m)
			}
			if p.canLead || !p.voter || m.Probe || m.State != wire.ServerLooking {
				continue
			}
			if !(m.PeerEpoch > p.epoch || (m.PeerEpoch == p.epoch && m.Zxid >= p.zxid)) {
				s.t.Fatalf("CanLead=false peer %d voted for a behind history: %+v (mine %v/%d)", p.id, m, p.zxid, p.epoch)
			}
		}
	}
}

func randomSpecs(rng *rand.Rand, n int) []simSpec {
	specs := make([]simSpec, n)
	for i := range specs {
		epoch := int64(1 + rng.IntN(2))
		specs[i] = simSpec{id: int64(i + 1), epoch: epoch, zxid: wire.MakeZxid(uint32(epoch), uint32(rng.IntN(3))),
			canLead: true, voter: true}
	}
	return specs
}

func TestSimJavaPeersAgreeOnBest(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		n := 3 + 2*rng.IntN(2)
		specs := randomSpecs(rng, n)
		s := newSim(t, seed, specs)
		ids := slices.Clone(s.ids)
		s.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		// Start everyone within 40ms, in random order.
		for _, id := range ids {
			s.start(id)
			s.step(time.Duration(s.rng.IntN(5)) * ms)
		}
		if !s.runUntil(30*time.Second, s.allDecided(s.ids...)) {
			t.Fatalf("seed %d: not all decided", seed)
		}
		s.checkAgreement(s.ids, s.best(s.ids))
	}
}

func TestSimStaggeredStartsAgree(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 2))
		n := 3 + 2*rng.IntN(2)
		s := newSim(t, seed, randomSpecs(rng, n))
		s.zab, s.initLimit = true, 2*time.Second
		ids := slices.Clone(s.ids)
		s.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		for _, id := range ids {
			s.start(id)
			s.runUntil(time.Duration(s.rng.IntN(800))*ms, func() bool { return false })
		}
		if !s.runUntil(30*time.Second, s.allDecided(s.ids...)) {
			s.dump()
			t.Fatalf("seed %d: not all decided", seed)
		}
		leader := s.peers[s.ids[0]].decision.Vote.Leader
		s.checkAgreement(s.ids, leader)
	}
}

func TestSimCanLeadFalseHighestIsNeverElected(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		n := 3 + 2*rng.IntN(2)
		specs := randomSpecs(rng, n)
		zk := rng.IntN(n)
		specs[zk].canLead = false
		specs[zk].epoch, specs[zk].zxid = 3, wire.MakeZxid(3, 9) // strictly the freshest
		s := newSim(t, seed, specs)
		for _, id := range s.ids {
			s.start(id)
			s.step(time.Duration(s.rng.IntN(5)) * ms)
		}
		if !s.runUntil(60*time.Second, s.allDecided(s.ids...)) {
			for _, p := range s.peers {
				t.Logf("peer %d: %+v", p.id, p.decision)
			}
			t.Fatalf("seed %d: not all decided", seed)
		}
		var java []int64
		for _, sp := range specs {
			if sp.canLead {
				java = append(java, sp.id)
			}
		}
		s.checkAgreement(s.ids, s.best(java))
		s.checkNoSelf()
		zp := s.peers[specs[zk].id]
		if zp.e.Stats().WouldWin == 0 {
			t.Fatalf("seed %d: would-win never reported", seed)
		}
	}
}

func TestSimTwoCanLeadFalseOfFive(t *testing.T) {
	for seed := uint64(1); seed <= 100; seed++ {
		rng := rand.New(rand.NewPCG(seed, 4))
		specs := randomSpecs(rng, 5)
		specs[0].canLead, specs[0].epoch, specs[0].zxid = false, 5, wire.MakeZxid(5, 1)
		specs[3].canLead, specs[3].epoch, specs[3].zxid = false, 4, wire.MakeZxid(4, 7)
		s := newSim(t, seed, specs)
		for _, id := range s.ids {
			s.start(id)
		}
		if !s.runUntil(60*time.Second, s.allDecided(s.ids...)) {
			t.Fatalf("seed %d: not all decided", seed)
		}
		s.checkAgreement(s.ids, s.best([]int64{2, 3, 5}))
		s.checkNoSelf()
	}
}

// A CanLead=false voter behind a Java peer votes for it, making the quorum
// while the third voter is down.
func TestSimCanLeadFalseCompletesQuorum(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		s := newSim(t, seed, []simSpec{
			{id: 1, epoch: 1, zxid: wire.MakeZxid(1, 5), canLead: true, voter: true},
			{id: 2, epoch: 1, zxid: wire.MakeZxid(1, 5), canLead: true, voter: true},
			{id: 3, epoch: 1, zxid: wire.MakeZxid(1, 5), canLead: false, voter: true},
		})
		s.start(3)
		s.step(time.Duration(seed%7) * 30 * ms)
		s.start(1)
		if !s.runUntil(20*time.Second, s.allDecided(1, 3)) {
			t.Fatalf("seed %d: not decided", seed)
		}
		s.checkAgreement([]int64{1, 3}, 1)
		s.checkNoSelf()
	}
}

// With the freshest history, a CanLead=false voter and one Java voter of
// three never elect anyone.
func TestSimCanLeadFalseFreshestBlocksPair(t *testing.T) {
	s := newSim(t, 7, []simSpec{
		{id: 1, epoch: 1, zxid: wire.MakeZxid(1, 5), canLead: true, voter: true},
		{id: 2, epoch: 1, zxid: wire.MakeZxid(1, 5), canLead: true, voter: true},
		{id: 3, epoch: 1, zxid: wire.MakeZxid(1, 6), canLead: false, voter: true},
	})
	s.start(1)
	s.start(3)
	if s.runUntil(30*time.Second, func() bool { return s.peers[1].decision != nil || s.peers[3].decision != nil }) {
		t.Fatalf("decided: %+v %+v", s.peers[1].decision, s.peers[3].decision)
	}
	if s.peers[3].e.Stats().WouldWin != 1 {
		t.Fatalf("would-win reported %d times in one round", s.peers[3].e.Stats().WouldWin)
	}
	s.checkNoSelf()
	// Peer 2 comes: 1 and 2 elect 2 (equal history, higher sid) without 3,
	// and 3 follows.
	s.start(2)
	if !s.runUntil(30*time.Second, s.allDecided(1, 2, 3)) {
		t.Fatal("not decided after 2 joined")
	}
	s.checkAgreement(s.ids, 2)
	s.checkNoSelf()
}

func TestSimPartitionAndHeal(t *testing.T) {
	for seed := uint64(1); seed <= 100; seed++ {
		rng := rand.New(rand.NewPCG(seed, 5))
		specs := randomSpecs(rng, 5)
		specs[0].epoch, specs[0].zxid = 9, wire.MakeZxid(9, 9) // 1 is freshest, but in the minority
		s := newSim(t, seed, specs)
		s.group[1], s.group[2] = 1, 1
		for _, id := range s.ids {
			s.start(id)
		}
		if !s.runUntil(30*time.Second, s.allDecided(3, 4, 5)) {
			t.Fatalf("seed %d: majority undecided", seed)
		}
		leader := s.best([]int64{3, 4, 5})
		s.checkAgreement([]int64{3, 4, 5}, leader)
		s.runUntil(3*time.Second, func() bool { return false })
		if s.peers[1].decision != nil || s.peers[2].decision != nil {
			t.Fatalf("seed %d: minority decided", seed)
		}
		clear(s.group)
		if !s.runUntil(30*time.Second, s.allDecided(s.ids...)) {
			t.Fatalf("seed %d: minority did not join after heal", seed)
		}
		s.checkAgreement(s.ids, leader)
		for _, id := range []int64{1, 2} {
			if p := s.peers[id].decision.Path; p == PathQuorum {
				t.Fatalf("seed %d: peer %d joined via %v", seed, id, p)
			}
		}
	}
}

func TestSimLateJoinersAndObserver(t *testing.T) {
	for seed := uint64(1); seed <= 100; seed++ {
		rng := rand.New(rand.NewPCG(seed, 6))
		specs := append(randomSpecs(rng, 5), simSpec{id: 6, voter: false, canLead: true})
		specs[4].canLead = false // a late CanLead=false voter
		s := newSim(t, seed, specs)
		for _, id := range []int64{1, 2, 3} {
			s.start(id)
		}
		if !s.runUntil(30*time.Second, s.allDecided(1, 2, 3)) {
			t.Fatalf("seed %d: first three undecided", seed)
		}
		leader := s.best([]int64{1, 2, 3})
		for _, id := range []int64{4, 5, 6} {
			s.start(id)
			s.step(50 * ms)
		}
		if !s.runUntil(30*time.Second, s.allDecided(s.ids...)) {
			t.Fatalf("seed %d: late joiners undecided", seed)
		}
		s.checkAgreement(s.ids, leader)
		s.checkNoSelf()
	}
}

func (s *sim) dump() {
	for _, id := range s.ids {
		p := s.peers[id]
		pr, ok := p.e.Proposal()
		s.t.Logf("peer %d up=%v state=%v clock=%d prop=%v/%v cur=%v est=%v decision=%+v zxid=%v epoch=%d",
			id, p.up, p.e.State(), p.e.LogicalClock(), pr, ok, p.e.CurrentVote(), p.established, p.decision, p.zxid, p.epoch)
	}
}
