package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/node/election"
	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// ElectionOutcome is what one leader election decided.
type ElectionOutcome struct {
	State         wire.ServerState // ServerFollowing, ServerObserving or ServerLeading
	Leader        int64
	Zxid          wire.Zxid
	ElectionEpoch int64
	PeerEpoch     int64
}

// Elector finds the ensemble's leader: fast leader election on the
// election port, or a stand-in that names the leader (StaticLeader).
type Elector interface {
	// LookForLeader runs one election with this server's last logged zxid
	// and current epoch; it blocks until a leader is known or ctx ends.
	LookForLeader(ctx context.Context, lastLoggedZxid wire.Zxid, currentEpoch int64) (ElectionOutcome, error)
	// SetPeerEpoch records the epoch a sync established (Java's
	// updateElectionVote), which is what late joiners are told.
	SetPeerEpoch(epoch int64)
	// SetLooking reports that this server lost its leader.
	SetLooking(lastLoggedZxid wire.Zxid, currentEpoch int64)
	Close() error
}

// StaticLeader is an Elector that always names the same leader, for tests
// that join a running ensemble without taking part in its elections.
type StaticLeader struct {
	Leader   int64
	Observer bool
}

// LookForLeader implements Elector.
func (e StaticLeader) LookForLeader(ctx context.Context, _ wire.Zxid, _ int64) (ElectionOutcome, error) {
	st := wire.ServerFollowing
	if e.Observer {
		st = wire.ServerObserving
	}
	return ElectionOutcome{State: st, Leader: e.Leader}, ctx.Err()
}

// SetPeerEpoch implements Elector.
func (StaticLeader) SetPeerEpoch(int64) {}

// SetLooking implements Elector.
func (StaticLeader) SetLooking(wire.Zxid, int64) {}

// Close implements Elector.
func (StaticLeader) Close() error { return nil }

// role is a quorum member's state (QuorumPeer.ServerState plus the sync
// phase, during which no client is served).
type role uint8

const (
	roleStandalone role = iota
	roleLooking
	roleSyncing
	roleFollowing
	roleObserving
	roleLeading
)

func (r role) String() string {
	switch r {
	case roleStandalone:
		return "standalone"
	case roleLooking:
		return "looking"
	case roleSyncing:
		return "synchronizing"
	case roleFollowing:
		return "follower"
	case roleObserving:
		return "observer"
	case roleLeading:
		return "leader"
	}
	return "unknown"
}

// peer is the quorum side of a server that is a member of an ensemble.
// Owned by the server goroutine.
type peer struct {
	q       *Quorum
	elector Elector
	ctx     context.Context
	cancel  context.CancelFunc

	role          role
	acceptedEpoch int64
	currentEpoch  int64
	leader        int64
	newEpoch      int64
	syncMode      string // DIFF, SNAP or TRUNC: how the last sync went
	// learner is the learner side (follow.go): the link to the leader,
	// the sync and the broadcast phase.
	learner *learnerDriver

	electionReq chan electionRequest
	electionOut chan electionResult
	syncJobs    chan func() // a sync's disk jobs, done: run on the owner
	lookAt      time.Time   // when the pending election may start (backoff)
	looking     bool        // an election request is out
	lookTimer   *time.Timer // wakes the owner at lookAt (maybeStartElection)

	// maxPendingHandshakes bounds the connections to the election port,
	// and to the quorum port while leading, that have not sent their
	// first message: quorum.cnxn.threads.size (at least 20, as Java), or
	// the ensemble's size if larger.
	maxPendingHandshakes int
	// electionHandshakeTimeout bounds an election connection's initial
	// message: zookeeper.quorumCnxnTimeoutMs, else tickTime*syncLimit.
	electionHandshakeTimeout time.Duration
	// sec secures the quorum and election connections (quorumsec.go);
	// nil: plain TCP.
	sec *quorumSec

	stats peerStats

	// The reconfig protocol's state (reconfig.go): the last configuration
	// proposed or received (QuorumPeer.lastSeenQuorumVerifier; the
	// committed one when none is pending), and the role a reconfiguration
	// decided (Java's reconfigFlag): the next LOOKING takes it without an
	// election.
	lastSeen *quorum.Config
	direct   *ElectionOutcome
	// resolver: the leader's reconfig requests waiting for their host
	// names (reconfig_resolve.go).
	resolver reconfigResolver
}

type peerStats struct {
	elections       int64
	syncs           map[string]int64
	linkDrops       int64
	lastSyncTook    time.Duration
	proposals       int64
	commits         int64
	forwarded       int64
	electionStarted time.Time
	electionTook    time.Duration
	// designated: the last role was taken without an election, as a
	// reconfiguration designated it (electionTook is then 0).
	designated bool
}

type electionRequest struct {
	zxid  wire.Zxid
	epoch int64
}

type electionResult struct {
	out ElectionOutcome
	err error
	// designated: the role a reconfiguration designated, no election.
	designated bool
}

// newPeer sets up the quorum side and starts the election goroutine.
func (s *Server) newPeer(q *Quorum) error {
	s.qs.role.Store(uint32(roleLooking))
	p := &peer{
		q:           q,
		role:        roleLooking,
		learner:     newLearnerDriver(s),
		electionReq: make(chan electionRequest, 1),
		electionOut: make(chan electionResult, 1),
		syncJobs:    make(chan func()),
		stats:       peerStats{syncs: map[string]int64{}},
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if err := p.connLimits(&s.cfg); err != nil {
		return err
	}
	if err := p.loadEpochs(s.dur.snapDir(), s.tree.LastZxid, s.log); err != nil {
		return err
	}
	if err := s.qs.reconfigAtStart(p); err != nil { // reconfig.go
		return err
	}
	sec, err := newQuorumSec(s.cfg)
	if err != nil {
		return err
	}
	p.sec = sec
	el := s.cfg.Elector
	if el == nil {
		if el, err = s.qs.startElection(q, p); err != nil {
			sec.close()
			return err
		}
	}
	p.elector = el
	s.qs.peer = p
	s.lp.goRoutine(func() { p.runElections(s.lp.quit) })
	return nil
}

// connLimits reads quorum.cnxn.threads.size and
// zookeeper.quorumCnxnTimeoutMs (QuorumPeerConfig, QuorumPeer.
// createCnxnManager). A value that is not a number refuses the config.
func (p *peer) connLimits(cfg *Config) error {
	threads := election.DefaultMaxPendingHandshakes
	if v, ok := cfg.Raw["quorum.cnxn.threads.size"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("node: quorum.cnxn.threads.size %q is not a number", v)
		}
		threads = max(threads, n) // Java ignores values below its default
	}
	p.maxPendingHandshakes = max(threads, len(p.q.Servers))
	p.electionHandshakeTimeout = time.Duration(cfg.TickTime*cfg.SyncLimit) * time.Millisecond
	if v, ok := cfg.Properties["zookeeper.quorumCnxnTimeoutMs"]; ok {
		ms, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("node: zookeeper.quorumCnxnTimeoutMs %q is not a number", v)
		}
		if ms > 0 {
			p.electionHandshakeTimeout = time.Duration(ms) * time.Millisecond
		}
	}
	return nil
}

// maxZxidEpoch is the largest epoch a zxid can carry (zab.MaxEpoch).
const maxZxidEpoch = zab.MaxEpoch

// loadEpochs reads acceptedEpoch and currentEpoch from dir (QuorumPeer.
// loadDataBase): a missing file defaults to the epoch of last, the last
// zxid, and is written.
// An epoch a zxid cannot carry refuses to start (Java 3.8 can write one:
// see maybeDecideEpoch).
func (p *peer) loadEpochs(dir string, last wire.Zxid, log zerolog.Logger) error {
	zxEpoch := int64(last.Epoch())
	read := func(name string) (int64, error) {
		v, err := storage.ReadEpoch(dir, name)
		if errors.Is(err, os.ErrNotExist) {
			log.Info().Str("file", name).Int64("epoch", zxEpoch).
				Msg("epoch file not found; creating it with the epoch of the last zxid")
			return zxEpoch, storage.WriteEpoch(dir, name, zxEpoch)
		}
		return v, err
	}
	var err error
	if p.currentEpoch, err = read(storage.CurrentEpochFile); err != nil {
		return err
	}
	if zxEpoch > p.currentEpoch {
		return fmt.Errorf("node: the current epoch, %d, is older than the last zxid, %v", p.currentEpoch, last)
	}
	if p.acceptedEpoch, err = read(storage.AcceptedEpochFile); err != nil {
		return err
	}
	if p.acceptedEpoch < p.currentEpoch {
		return fmt.Errorf("node: the accepted epoch, %d, is less than the current epoch, %d", p.acceptedEpoch, p.currentEpoch)
	}
	for _, e := range []struct {
		name string
		v    int64
	}{{storage.CurrentEpochFile, p.currentEpoch}, {storage.AcceptedEpochFile, p.acceptedEpoch}} {
		if e.v < 0 || e.v > maxZxidEpoch {
			return fmt.Errorf("node: %s holds %d, which is not a zxid epoch (0 to %d); "+
				"the ensemble's epochs need repair before this server can run", filepath.Join(dir, e.name), e.v, maxZxidEpoch)
		}
	}
	return nil
}

// runElections is the election goroutine: it runs one election per request
// from the owner and reports the outcome, until quit closes.
func (p *peer) runElections(quit <-chan struct{}) {
	for {
		select {
		case req := <-p.electionReq:
			out, err := p.elector.LookForLeader(p.ctx, req.zxid, req.epoch)
			select {
			case p.electionOut <- electionResult{out: out, err: err}:
			case <-quit:
				return
			}
		case <-quit:
			return
		}
	}
}

// syncing is the sync in progress, if any.
func (p *peer) syncing() *learnerSync {
	if p != nil && p.role == roleSyncing {
		return p.learner.lsync
	}
	return nil
}

// becomeLooking drops whatever role the server had and asks for an
// election, after delay.
func (qs *quorumSide) becomeLooking(reason string, delay time.Duration) {
	p := qs.peer
	prev := p.role
	// Txns committed and not yet in the tree go in now (the vote and the
	// log replay below read the tree's last zxid); the next leader renews
	// every session.
	qs.host.settleForElection()
	switch prev {
	case roleFollowing, roleObserving:
		p.learner.leaveBroadcast()
	case roleLeading:
		qs.host.closeAllClients("leader shutting down")
		qs.host.leaveLeading()
	}
	qs.setRole(roleLooking)
	p.leader = 0
	qs.host.closeAllClients("server is not serving: " + reason)
	p.elector.SetLooking(qs.host.lastZxid(), p.currentEpoch)
	p.lookAt = time.Now().Add(delay)
	qs.log.Info().Str("from", prev.String()).Str("reason", reason).Str("zxid", qs.host.lastZxid().String()).
		Int64("epoch", p.currentEpoch).Msg("LOOKING")
	qs.maybeStartElection()
}

// maybeStartElection hands the election goroutine a request once the
// backoff has passed.
//
// A backoff that has not passed arms a timer that wakes the owner goroutine
// at lookAt; the run loop calls this after every step. Without the timer
// the election waited for the next tick (tickTime/2, a second with the
// usual 2000): Java's QuorumPeer starts looking for a leader as soon as it
// is LOOKING.
func (qs *quorumSide) maybeStartElection() {
	p := qs.peer
	if p == nil || p.role != roleLooking || p.looking {
		return
	}
	if d := time.Until(p.lookAt); d > 0 {
		if p.lookTimer == nil {
			p.lookTimer = time.AfterFunc(d, qs.wakeOwner)
		} else {
			p.lookTimer.Reset(d)
		}
		return
	}
	if out := p.direct; out != nil {
		// A reconfiguration designated the leader (reconfig.go).
		p.direct = nil
		qs.takeDesignatedRole(*out)
		return
	}
	select {
	case p.electionReq <- electionRequest{zxid: qs.host.lastZxid(), epoch: p.currentEpoch}:
		p.looking = true
		p.stats.elections++
		p.stats.electionStarted = time.Now()
	default:
	}
}

// onElection acts on an election's outcome.
func (qs *quorumSide) onElection(r electionResult) {
	p := qs.peer
	p.looking = false
	if p.role != roleLooking {
		return
	}
	if r.err != nil {
		if qs.onElectionRestart(r.err) { // reconfig.go
			p.lookAt = time.Now()
			qs.maybeStartElection()
			return
		}
		if !errors.Is(r.err, context.Canceled) {
			qs.log.Warn().Err(r.err).Msg("leader election failed; retrying")
		}
		p.lookAt = time.Now().Add(time.Second)
		return
	}
	p.stats.electionTook = time.Since(p.stats.electionStarted)
	p.stats.designated = r.designated
	if r.designated {
		// Java logs the line below all the same, with the time since its
		// last election's end reset to 0 (a meaningless number); zkgo
		// says there was no election.
		p.stats.electionTook = 0
	}
	out := r.out
	switch out.State {
	case wire.ServerFollowing, wire.ServerObserving:
		if out.Leader == qs.quorum().MyID {
			qs.log.Error().Int64("leader", out.Leader).Msg("election named this server as a learner of itself; retrying")
			p.lookAt = time.Now().Add(time.Second)
			return
		}
		if _, ok := qs.quorum().Servers[out.Leader]; !ok {
			qs.log.Error().Int64("leader", out.Leader).Msg("elected leader is not in the configuration; retrying")
			p.lookAt = time.Now().Add(time.Second)
			return
		}
		ev := qs.log.Info().Int64("leader", out.Leader).Str("zxid", out.Zxid.String()).Int64("election_epoch", out.ElectionEpoch).
			Int64("peer_epoch", out.PeerEpoch).Dur("took", p.stats.electionTook).Bool("without_election", r.designated)
		if out.State == wire.ServerObserving {
			// Java's Observer.observeLeader logs no election time (only
			// Leader.lead and Follower.followLeader do).
			ev.Msg("OBSERVING")
		} else {
			ev.Msg("FOLLOWING - LEADER ELECTION TOOK")
		}
		p.learner.startLearning(out.Leader, out.State == wire.ServerObserving)
	case wire.ServerLeading:
		qs.host.becomeLeading(out)
	default:
		qs.log.Error().Str("state", out.State.String()).Int64("leader", out.Leader).Msg("unexpected election outcome; looking again")
		p.lookAt = time.Now().Add(time.Second)
	}
}

// closeAllClients closes every client connection (Learner.shutdown's
// closeAllConnections).
func (s *Server) closeAllClients(reason string) {
	for _, cc := range s.cl.conns {
		if cc.fourLetter {
			continue
		}
		s.cl.closeConn(cc, reason)
	}
}

// settleForElection is what the server does before its quorum side
// looks for a leader (quorumHost): txns committed and not yet in the
// tree go in (the vote and the log replay read the tree's last zxid),
// and session expiry and the reaper stop (the next leader renews every
// session).
func (s *Server) settleForElection() {
	s.settleApplies()
	s.ex.expiring, s.ex.expireMore, s.ex.touching = nil, false, nil
	s.dropReaper()
}

// lastZxid is the tree's last zxid (quorumHost).
func (s *Server) lastZxid() wire.Zxid { return s.tree.LastZxid }

// initConfig makes c the tree's /zookeeper/config (quorumHost).
func (s *Server) initConfig(c *quorum.Config) {
	s.tree.InitConfig([]byte(c.String()), c.Version, wallMs())
}
