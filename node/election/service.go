package election

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/internal/handshake"
	"github.com/zkgo/zkgo/node/fle"
	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/wire"
)

// Vote is an election vote: the leader and its history.
type Vote struct {
	Leader        int64
	Zxid          wire.Zxid
	ElectionEpoch int64 // the round that elected it
	PeerEpoch     int64 // the leader's epoch (the new epoch after SetPeerEpoch)
}

// Outcome is the result of an election.
type Outcome struct {
	State wire.ServerState // FOLLOWING, LEADING or OBSERVING
	Vote  Vote
}

// Stats are the service's counters and current election state (4lw/mntr).
type Stats struct {
	State        wire.ServerState
	Vote         Vote // current vote (the last decision, or the initial vote)
	LogicalClock int64
	// Proposal is the running round's proposal; HasProposal is false for
	// an empty CanLead=false proposal or when no round runs.
	Proposal    Vote
	HasProposal bool
	Running     bool

	Elections              uint64 // LookForLeader rounds started
	NotificationsSent      uint64
	NotificationsReceived  uint64
	NotificationsDropped   uint64 // malformed, ignored by the election, or receive queue overflow
	Timeouts               uint64 // notification timeouts
	WouldWin               uint64 // CanLead=false rounds this voter would have won
	Connections            int    // established election connections now
	ConnectionsEstablished uint64
	ConnectionsDropped     uint64
	HandshakeFailures      uint64 // bad initial messages received
	HandshakesEvicted      uint64 // pending inbound connections closed to admit newer ones
	PendingHandshakes      int    // inbound connections whose initial message has not arrived
	DialFailures           uint64
}

// Service runs leader election on the election port: the connection
// manager (QuorumCnxManager) and a goroutine driving the node/fle state
// machine. It answers peers from Start on; LookForLeader runs a round.
type Service struct {
	cfg     Config
	log     zerolog.Logger
	ln      net.Listener
	initMsg []byte

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	once   sync.Once
	wg     sync.WaitGroup

	mu              sync.Mutex // see qcm.go
	closed          bool
	peers           map[int64]*peer
	conns           map[net.Conn]struct{}
	observerCounter int64

	inbox inbox
	reqs  chan func()

	// Owned by the run goroutine.
	e      *fle.Election
	waiter chan result

	statMu sync.Mutex
	snap   Stats // State, Vote, LogicalClock, Proposal, HasProposal, Running

	sent, received, decodeErrors atomic.Uint64
	elections, wouldWin          atomic.Uint64
	connsEstablished             atomic.Uint64
	connsDropped                 atomic.Uint64
	handshakeFailures            atomic.Uint64
	dialFailures                 atomic.Uint64
	// pending bounds the inbound connections still in their handshake.
	pending *handshake.Limiter

	// afterDialLink, set by tests before the first dial, runs when a dial
	// has installed its link.
	afterDialLink func(sid int64)
}

type result struct {
	out Outcome
	err error
}

// Start listens on the election port and starts answering peers (state
// LOOKING, vote (myid, -1, -1) until the first LookForLeader or SetLooking).
func Start(cfg Config) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Service{
		cfg:             cfg,
		log:             cfg.Logger.With().Str("component", "election").Logger(),
		initMsg:         wire.AppendInitialMessage(nil, cfg.MyID, cfg.Members[cfg.MyID].Addr),
		peers:           make(map[int64]*peer),
		conns:           make(map[net.Conn]struct{}),
		pending:         handshake.NewLimiter(cfg.MaxPendingHandshakes),
		observerCounter: -1,
		inbox:           inbox{signal: make(chan struct{}, 1)},
		reqs:            make(chan func()),
	}
	fc := fle.Config{
		ID:                      cfg.MyID,
		Voters:                  cfg.voters(),
		Verifier:                cfg.Verifier,
		CanLead:                 cfg.CanLead,
		NonVoting:               cfg.Members[cfg.MyID].Outside,
		MinNotificationInterval: cfg.MinNotificationInterval,
		MaxNotificationInterval: cfg.MaxNotificationInterval,
		FinalizeWait:            cfg.FinalizeWait,
	}
	if s.log.GetLevel() <= zerolog.DebugLevel && zerolog.GlobalLevel() <= zerolog.DebugLevel {
		fc.Trace = s.trace
	}
	e, err := fle.New(fc)
	if err != nil {
		return nil, err
	}
	s.e = e
	s.ln = cfg.Listener
	if s.ln == nil {
		if s.ln, err = net.Listen("tcp", cfg.ListenAddr); err != nil {
			return nil, err
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.updateSnap()
	s.goFunc(s.acceptLoop)
	s.goFunc(s.run)
	s.log.Info().Str("addr", s.ln.Addr().String()).Bool("can_lead", cfg.CanLead).
		Int("voters", len(fc.Voters)).Msg("election port listening")
	return s, nil
}

// Addr is the listening address.
func (s *Service) Addr() net.Addr { return s.ln.Addr() }

// Close stops the service: it closes the listener and every connection and
// waits for all goroutines. It is idempotent.
func (s *Service) Close() error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		var links []*link
		for _, p := range s.peers {
			if p.link != nil {
				links = append(links, p.link)
			}
		}
		conns := make([]net.Conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		s.cancel()
		if e := s.ln.Close(); e != nil && !errors.Is(e, net.ErrClosed) {
			err = e
		}
		for _, l := range links {
			s.finishLink(l)
		}
		for _, c := range conns {
			_ = c.Close()
		}
		s.pending.Close()
		s.wg.Wait()
	})
	return err
}

// do runs f on the election goroutine, then carries out the state
// machine's output, and waits for both.
func (s *Service) do(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case s.reqs <- func() { f(); s.flush(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return ErrClosed
	}
	select {
	case <-done:
		return nil
	case <-s.ctx.Done():
		return ErrClosed
	}
}

// LookForLeader runs one election with my history (lastLoggedZxid,
// currentEpoch) and blocks until it is decided or ctx is done. Meanwhile the
// state is LOOKING; afterwards the service's state and vote are the outcome,
// which is what LOOKING peers are told. Only one may run at a time.
func (s *Service) LookForLeader(ctx context.Context, lastLoggedZxid wire.Zxid, currentEpoch int64) (Outcome, error) {
	res := make(chan result, 1)
	err := s.do(ctx, func() {
		if s.waiter != nil {
			res <- result{err: ErrBusy}
			return
		}
		s.waiter = res
		s.elections.Add(1)
		s.e.Start(lastLoggedZxid, currentEpoch)
		p, ok := s.e.Proposal()
		ev := s.log.Info().Int64("round", s.e.LogicalClock()).Str("zxid", lastLoggedZxid.String()).
			Int64("epoch", currentEpoch)
		if ok {
			ev = ev.Int64("proposed_leader", p.Leader).Str("proposed_zxid", p.Zxid.String()).
				Int64("proposed_epoch", p.PeerEpoch)
		} else {
			ev = ev.Bool("no_self_vote", true)
		}
		ev.Msg("election started")
	})
	if err != nil {
		return Outcome{}, err
	}
	select {
	case r := <-res:
		return r.out, r.err
	case <-ctx.Done():
		_ = s.do(context.Background(), func() {
			if s.waiter == res {
				s.e.Abort()
				s.waiter = nil
				s.log.Info().Int64("round", s.e.LogicalClock()).Msg("election abandoned")
			}
		})
		select {
		case r := <-res:
			return r.out, r.err
		default:
		}
		return Outcome{}, ctx.Err()
	case <-s.ctx.Done():
		return Outcome{}, ErrClosed
	}
}

// SetPeerEpoch sets my current vote's peer epoch once the learner synced
// with the leader (QuorumPeer.updateElectionVote), so late joiners are told
// the new epoch.
func (s *Service) SetPeerEpoch(epoch int64) {
	_ = s.do(context.Background(), func() { s.e.SetPeerEpoch(epoch) })
}

// SetVote sets the state and vote a reconfiguration decided (fle's
// Election.SetVote: the designated leader, without an election).
func (s *Service) SetVote(state wire.ServerState, leader int64, zxid wire.Zxid) {
	_ = s.do(context.Background(), func() { s.e.SetVote(state, leader, zxid) })
}

// Reconfigure switches the service to a new configuration
// (QuorumPeer.restartLeaderElection after an activation): its members
// (whom it dials; a server that is not one is still answered), the text
// every notification carries and the election's voters and verifier.
// Members must hold this server (as a non-voter when the configuration
// does not). An election running ends with ErrRestarted.
func (s *Service) Reconfigure(members map[int64]Member, configText []byte, v quorum.Verifier) error {
	c := s.cfg
	c.Members, c.ConfigText, c.Verifier = maps.Clone(members), slices.Clone(configText), v
	if err := c.validate(); err != nil {
		return err
	}
	var ferr error
	err := s.do(context.Background(), func() {
		if ferr = s.e.SetVoters(c.voters(), v, c.Members[c.MyID].Outside); ferr != nil {
			return
		}
		s.mu.Lock()
		s.cfg.Members = c.Members
		s.mu.Unlock()
		s.cfg.ConfigText, s.cfg.Verifier = c.ConfigText, v
		if s.waiter != nil {
			s.waiter <- result{err: ErrRestarted}
			s.waiter = nil
		}
		s.log.Info().Int("voters", len(c.voters())).Msg("election restarted with a new configuration")
	})
	return errors.Join(err, ferr)
}

// SetLooking puts the service in state LOOKING with vote (myid,
// lastLoggedZxid, currentEpoch) between losing a role and the next
// LookForLeader (QuorumPeer.startLeaderElection).
func (s *Service) SetLooking(lastLoggedZxid wire.Zxid, currentEpoch int64) {
	_ = s.do(context.Background(), func() { s.e.SetLooking(lastLoggedZxid, currentEpoch) })
}

// Stats returns the counters and the current state. It does not wait for
// the election goroutine.
func (s *Service) Stats() Stats {
	s.statMu.Lock()
	st := s.snap
	s.statMu.Unlock()
	st.Elections = s.elections.Load()
	st.NotificationsSent = s.sent.Load()
	st.NotificationsReceived = s.received.Load()
	st.NotificationsDropped += s.decodeErrors.Load() + s.inbox.droppedCount()
	st.WouldWin = s.wouldWin.Load()
	st.ConnectionsEstablished = s.connsEstablished.Load()
	st.ConnectionsDropped = s.connsDropped.Load()
	st.HandshakeFailures = s.handshakeFailures.Load()
	st.DialFailures = s.dialFailures.Load()
	st.HandshakesEvicted = s.pending.Evicted()
	st.PendingHandshakes = s.pending.Pending()
	s.mu.Lock()
	for _, p := range s.peers {
		if p.link != nil {
			st.Connections++
		}
	}
	s.mu.Unlock()
	return st
}

func toVote(v fle.Vote) Vote {
	return Vote{Leader: v.Leader, Zxid: v.Zxid, ElectionEpoch: v.ElectionEpoch, PeerEpoch: v.PeerEpoch}
}

// updateSnap copies the election state for Stats; run goroutine only.
func (s *Service) updateSnap() {
	p, ok := s.e.Proposal()
	fs := s.e.Stats()
	s.statMu.Lock()
	s.snap.State = s.e.State()
	s.snap.Vote = toVote(s.e.CurrentVote())
	s.snap.LogicalClock = s.e.LogicalClock()
	s.snap.Running = s.e.Running()
	s.snap.HasProposal = ok && s.e.Running()
	s.snap.Proposal = Vote{}
	if s.snap.HasProposal {
		s.snap.Proposal = toVote(p)
	}
	s.snap.NotificationsDropped = fs.Dropped
	s.snap.Timeouts = fs.Timeouts
	s.statMu.Unlock()
}

// run is the election goroutine: it feeds the state machine with received
// notifications, elapsed time and requests, and carries out its output.
func (s *Service) run() {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	last := time.Now()
	tick := func() {
		now := time.Now()
		s.e.Tick(now.Sub(last), s.haveDelivered())
		last = now
	}
	for {
		if d, ok := s.e.NextTimeout(); ok {
			timer.Reset(d)
		} else {
			timer.Stop()
		}
		select {
		case <-s.ctx.Done():
			timer.Stop()
			if s.waiter != nil {
				s.waiter <- result{err: ErrClosed}
				s.waiter = nil
			}
			return
		case <-s.inbox.signal:
			tick()
			s.flush()
			for {
				m, ok := s.inbox.pop()
				if !ok {
					break
				}
				s.handle(m)
				s.flush()
			}
		case <-timer.C:
			tick()
		case f := <-s.reqs:
			tick()
			s.flush()
			f()
		}
		s.flush()
	}
}

// handle decodes and steps one received message (WorkerReceiver).
func (s *Service) handle(m inMsg) {
	s.received.Add(1)
	n, err := wire.DecodeNotification(m.body)
	if err != nil {
		s.decodeErrors.Add(1)
		s.log.Warn().Int64("sid", m.sid).Int("len", len(m.body)).Err(err).Msg("malformed notification dropped")
		return
	}
	fn := fle.FromWire(m.sid, &n)
	if ev := s.log.Debug(); ev.Enabled() {
		ev.Int64("sid", m.sid).Str("state", n.State.String()).Int64("leader", n.Leader).Str("zxid", n.Zxid.String()).
			Int64("election_epoch", n.ElectionEpoch).Int64("peer_epoch", n.PeerEpoch).Int32("version", fn.Version).
			Int("config_len", len(n.Config)).Msg("notification received")
	}
	if s.newerConfig(m.sid, n.Config) {
		return
	}
	s.e.Step(fn)
}

// NewerConfigError ends an election in which a notification carried a
// configuration newer than the service's (FastLeaderElection's
// WorkerReceiver with reconfigEnabled, while LOOKING): the caller
// activates it (QuorumPeer.processReconfig), Reconfigures the service and
// looks again.
type NewerConfigError struct {
	From   int64
	Config *quorum.Config
	Text   []byte
}

func (e *NewerConfigError) Error() string {
	return fmt.Sprintf("election: server %d sent configuration version %s, newer than ours", e.From, quorum.HexVersion(e.Config.Version))
}

// newerConfig ends the election running when text is a configuration
// newer than the service's (Config.ReconfigEnabled only); the
// notification is then not processed, as in Java.
func (s *Service) newerConfig(from int64, text []byte) bool {
	if !s.cfg.ReconfigEnabled || s.waiter == nil || len(text) == 0 || s.e.State() != wire.ServerLooking {
		return false
	}
	v, ok := quorum.VersionOf(string(text))
	cur, _ := quorum.VersionOf(string(s.cfg.ConfigText))
	if !ok || v <= cur {
		return false
	}
	c, err := quorum.ParseConfigText(string(text), false)
	if err != nil {
		s.log.Warn().Int64("sid", from).Err(err).Msg("newer configuration in a notification does not read; ignored")
		return false
	}
	s.log.Info().Int64("sid", from).Str("version", quorum.HexVersion(v)).Str("my_version", quorum.HexVersion(cur)).
		Msg("newer configuration received while looking; restarting the election")
	s.e.Abort()
	s.waiter <- result{err: &NewerConfigError{From: from, Config: c, Text: slices.Clone(text)}}
	s.waiter = nil
	return true
}

// flush carries out the state machine's output.
func (s *Service) flush() {
	if !s.e.HasReady() {
		s.updateSnap()
		return
	}
	rd := s.e.Ready()
	for i := range rd.Messages {
		m := &rd.Messages[i]
		if m.To == s.cfg.MyID {
			continue // fle loops my own notifications back itself
		}
		n := m.Wire(s.cfg.ConfigText)
		frame := wire.AppendNotificationFrame(make([]byte, 0, 48+len(s.cfg.ConfigText)), &n)
		if ev := s.log.Debug(); ev.Enabled() {
			ev.Int64("sid", m.To).Str("state", m.State.String()).Int64("leader", m.Leader).Str("zxid", m.Zxid.String()).
				Int64("election_epoch", m.ElectionEpoch).Int64("peer_epoch", m.PeerEpoch).Bool("probe", m.Probe).
				Msg("notification sent")
		}
		s.sent.Add(1)
		s.toSend(m.To, frame)
	}
	if rd.ReconnectAll {
		s.log.Info().Msg("notification timeout with undelivered messages: reconnecting to all")
		s.connectAll()
	}
	if rd.TimedOut > 0 {
		s.log.Info().Dur("next_timeout", rd.TimedOut).Int64("round", s.e.LogicalClock()).Msg("notification time out")
	}
	if w := rd.WouldWin; w != nil {
		s.wouldWin.Add(1)
		s.log.Warn().Int64("round", w.Round).Str("my_zxid", w.Mine.Zxid.String()).Int64("my_epoch", w.Mine.PeerEpoch).
			Int64("best_leader", w.Best.Leader).Str("best_zxid", w.Best.Zxid.String()).Int64("best_epoch", w.Best.PeerEpoch).
			Int("votes_seen", w.Seen).
			Msg("would be elected but cannot lead: not voting; the other voters must elect a leader without me")
	}
	s.updateSnap() // before waking LookForLeader: Stats shows the outcome
	if d := rd.Decision; d != nil {
		out := Outcome{State: d.State, Vote: toVote(d.Vote)}
		s.log.Info().Str("from", wire.ServerLooking.String()).Str("to", d.State.String()).Int64("leader", d.Vote.Leader).
			Str("zxid", d.Vote.Zxid.String()).Int64("round", d.Vote.ElectionEpoch).Int64("peer_epoch", d.Vote.PeerEpoch).
			Str("path", d.Path.String()).Msg("LOOKING -> " + d.State.String())
		if s.waiter != nil {
			s.waiter <- result{out: out}
			s.waiter = nil
		}
	}
}

// trace logs the state machine's steps at Debug.
func (s *Service) trace(ev fle.Event) {
	e := s.log.Debug()
	if !e.Enabled() {
		return
	}
	e = e.Str("event", ev.Kind.String()).Int64("round", ev.Round)
	switch ev.Kind {
	case fle.EventReceived, fle.EventDropped, fle.EventNewerRound, fle.EventPutBack:
		e = e.Int64("sid", ev.N.From).Str("state", ev.N.State.String()).Int64("leader", ev.N.Leader).
			Str("zxid", ev.N.Zxid.String()).Int64("election_epoch", ev.N.ElectionEpoch).Int64("peer_epoch", ev.N.PeerEpoch)
		if ev.Reason != "" {
			e = e.Str("why", ev.Reason)
		}
	case fle.EventTimeout:
		e = e.Dur("next_timeout", ev.Timeout).Bool("delivered", ev.Delivered)
	default:
		if ev.HasVote {
			e = e.Int64("leader", ev.Vote.Leader).Str("zxid", ev.Vote.Zxid.String()).Int64("peer_epoch", ev.Vote.PeerEpoch)
		}
		if ev.Kind == fle.EventDecided {
			e = e.Str("state", ev.State.String()).Str("path", ev.Path.String())
		}
	}
	e.Msg("fle")
}
