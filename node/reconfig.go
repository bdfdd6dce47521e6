package node

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"

	"github.com/zkgo/zkgo/node/election"
	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// The node side of dynamic reconfiguration (issue 17): the leader's
// driver gives zab.Leader the committed and the last seen configurations,
// carries out what it decides (the .next file before a reconfig proposal
// goes out, the dynamic file and the static rewrite of each activated
// configuration before the packets that announce it), publishes each
// activated configuration as a new immutable Quorum, and prepares the
// reconfig client operation with quorum.Reconfig. The files are written
// on the owner goroutine, as the epoch files are, never on a gnet loop.

// readNextConfig reads the last seen configuration from zoo.cfg's .next
// dynamic file, as QuorumPeerConfig does at start with a
// dynamicConfigFile: nil when there is none.
func readNextConfig(cfgPath string, standaloneEnabled bool) (*quorum.Config, error) {
	if cfgPath == "" {
		return nil, nil
	}
	name := cfgPath + quorum.NextDynamicFileSuffix
	b, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := quorum.ParseConfigText(string(b), standaloneEnabled)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", name, err)
	}
	return c, nil
}

// reconfigAtStart is what a Java 3.8 quorum member with reconfigEnabled
// does with its files at start: while the servers are still in zoo.cfg
// (no dynamicConfigFile), zoo.cfg is copied to zoo.cfg.bak
// (QuorumPeerConfig.backupOldConfig); the first activation moves them to
// a dynamic file. The .next file, if any, is the last seen configuration
// (QuorumPeerConfig reads it; one that does not read refuses the start).
func (qs *quorumSide) reconfigAtStart(p *peer) error {
	if !qs.reconfigOn() {
		return nil
	}
	p.lastSeen = qs.quorum().config()
	next, err := readNextConfig(qs.cfg.Source, qs.cfg.Standalone)
	if err != nil {
		return err
	}
	if next != nil && next.Version > p.lastSeen.Version {
		p.lastSeen = next
	}
	if _, dyn := qs.cfg.Raw["dynamicConfigFile"]; dyn || qs.cfg.Source == "" {
		return nil
	}
	return BackupStaticConfig(qs.cfg.Source)
}

// leaderReconfig fills the reconfiguration part of a leadership's
// configuration: the committed configuration, the last seen one and
// reconfigEnabled.
func (qs *quorumSide) leaderReconfig(lc *zab.LeaderConfig) error {
	if !qs.reconfigOn() {
		return nil
	}
	lc.Config = qs.quorum().config()
	lc.LastSeen = qs.peer.lastSeen
	lc.ReconfigEnabled = true
	return nil
}

// learnerView is a learner's reconfiguration state for a sync with
// leader (zab.LearnerView); the zero view (reconfiguration off) when this
// server does not run the protocol.
func (lr *learnerDriver) learnerView(leader int64, observer bool) zab.LearnerView {
	s := lr.s
	if !s.qs.reconfigOn() {
		return zab.LearnerView{}
	}
	q := s.qs.quorum()
	v := zab.LearnerView{ID: q.MyID, LeaderID: leader, Observer: observer, Config: q.config(), ReconfigEnabled: true,
		StandaloneEnabled: s.cfg.Standalone, LastSeenVersion: q.Version}
	if ls := s.qs.peer.lastSeen; ls != nil && ls.Version > v.LastSeenVersion {
		v.LastSeenVersion = ls.Version
	}
	return v
}

// learnerConfigs writes what a learner's step decided about
// configurations, before anything else of its Ready (persist before
// send): the .next file, then each activation (the files, the Quorum in
// force, /zookeeper/config of tree when NEWLEADER's configuration is
// activated at UPTODATE). It returns the activation that makes the
// learner leave its leader, if any, having recorded the role Java's
// reconfigFlag gives it.
func (lr *learnerDriver) learnerConfigs(next *quorum.Config, acts []zab.LearnerActivation, newLeaderTree func() *tree.Tree) (*zab.LearnerActivation, error) {
	s := lr.s
	p := s.qs.peer
	if next != nil {
		if err := s.qs.persistNextConfig(next); err != nil {
			return nil, err
		}
		if p.lastSeen == nil || next.Version > p.lastSeen.Version {
			p.lastSeen = next
		}
	}
	var leave *zab.LearnerActivation
	for i := range acts {
		a := &acts[i]
		last := p.lastSeen == nil || p.lastSeen.Version <= a.Config.Version
		if err := s.qs.activateConfig(a.Zxid, a.Config, a.Designated, last); err != nil {
			return nil, err
		}
		if last {
			p.lastSeen = a.Config
		}
		if a.Designated < 0 && newLeaderTree != nil {
			// NEWLEADER's configuration, activated at UPTODATE
			// (QuorumPeer.processReconfig's initConfigInZKDatabase); a
			// reconfig txn's is the txn itself.
			newLeaderTree().InitConfig([]byte(a.Config.String()), a.Config.Version, wallMs())
		}
		if a.Leave {
			leave = a
			s.log.Warn().Str("reason", a.Reason).Int64("designated_leader", a.Designated).Bool("observer", a.Observer).
				Msg("leaving the leader after a reconfiguration")
			if a.Designated >= 0 {
				// updateVote/updateLearnerType set reconfigFlag: the next
				// role is taken without an election.
				s.qs.designate(a.Designated, a.Observer, a.Zxid)
			} else {
				p.direct = nil // Java clears reconfigFlag at UPTODATE
			}
		}
	}
	return leave, nil
}

// designate records the role a reconfiguration decided (Java's
// updateServerState with reconfigFlag): leading when this server is the
// designated leader, else observing or following it.
func (qs *quorumSide) designate(leader int64, observer bool, z wire.Zxid) {
	out := ElectionOutcome{State: wire.ServerFollowing, Leader: leader, Zxid: z}
	switch {
	case leader == qs.quorum().MyID:
		out.State = wire.ServerLeading
	case observer:
		out.State = wire.ServerObserving
	}
	qs.peer.direct = &out
}

// electionReconfigurer is an Elector that switches to a new configuration
// (fle's).
type electionReconfigurer interface {
	Reconfigure(q *Quorum, me QuorumServer) error
}

// onElectionRestart handles an election that a configuration ended: a
// newer one received while looking is activated as
// QuorumPeer.processReconfig does from FastLeaderElection (the files, the
// Quorum in force, /zookeeper/config, the election switched to it), and
// the caller looks again at once; so does an election restarted by an
// activation. It reports whether err was one of those.
func (qs *quorumSide) onElectionRestart(err error) bool {
	if errors.Is(err, election.ErrRestarted) {
		return true
	}
	var nc *election.NewerConfigError
	if !errors.As(err, &nc) {
		return false
	}
	c, perr := quorum.ParseConfigText(string(nc.Text), qs.cfg.Standalone)
	if perr != nil || c.Version <= qs.quorum().Version {
		return true
	}
	p := qs.peer
	last := p.lastSeen == nil || p.lastSeen.Version <= c.Version
	if aerr := qs.activateConfig(wire.Zxid(c.Version), c, -1, last); aerr != nil {
		qs.log.Error().Err(aerr).Msg("cannot activate the configuration received while looking")
		return true
	}
	if last {
		p.lastSeen = c
	}
	p.direct = nil // processReconfig without a designated leader clears reconfigFlag
	qs.host.initConfig(c)
	return true
}

// voteSetter is an Elector that takes a vote decided outside an election
// (fle's).
type voteSetter interface {
	SetVote(state wire.ServerState, leader int64, z wire.Zxid)
}

// takeDesignatedRole takes the role a reconfiguration decided, without
// an election: the election port reports it as this server's state and
// vote, as Java's updateServerState does.
func (qs *quorumSide) takeDesignatedRole(out ElectionOutcome) {
	p := qs.peer
	if vs, ok := p.elector.(voteSetter); ok {
		vs.SetVote(out.State, out.Leader, out.Zxid)
	}
	qs.log.Info().Int64("leader", out.Leader).Str("state", out.State.String()).
		Msg("taking the role a reconfiguration designated, without an election")
	qs.onElection(electionResult{out: out, designated: true})
}

// persistNextConfig writes a proposed configuration as the .next file
// (QuorumPeer.setLastSeenQuorumVerifier) before the proposal goes out.
func (qs *quorumSide) persistNextConfig(next *quorum.Config) error {
	if err := WriteNextConfig(qs.cfg.Source, next.String()); err != nil {
		return fmt.Errorf("cannot write the proposed configuration %s: %w", quorum.HexVersion(next.Version), err)
	}
	qs.log.Info().Str("version", quorum.HexVersion(next.Version)).Msg("proposed configuration written")
	return nil
}

// activateConfig writes an activated configuration as Java does (the
// dynamic file, zoo.cfg rewritten to point at it, the .next file gone
// when it is the last seen one) and makes it the one in force.
func (qs *quorumSide) activateConfig(z wire.Zxid, c *quorum.Config, designated int64, lastSeen bool) error {
	prev := qs.quorum()
	me := prev.MyID
	if err := WriteActivatedConfig(qs.cfg.Source, me, c.String(), lastSeen); err != nil {
		return fmt.Errorf("cannot write the activated configuration %s: %w", quorum.HexVersion(c.Version), err)
	}
	q := quorumOf(c, me)
	qs.quorumNow.Store(q)
	if m, ok := c.Servers[me]; ok && m.HasClient {
		// Moves only if it differs from where the listener serves.
		qs.moveClientPort(net.JoinHostPort(m.ClientHost, strconv.Itoa(m.ClientPort)))
	}
	// QuorumPeer.restartLeaderElection: notifications carry the new
	// configuration, and elections count with it.
	if er, ok := qs.peer.elector.(electionReconfigurer); ok {
		myEntry := qs.cfg.Quorum.Me()
		if m, in := prev.Servers[me]; in {
			myEntry = m
		}
		if m, in := q.Servers[me]; in {
			myEntry = m
		}
		if err := er.Reconfigure(q, myEntry); err != nil {
			qs.log.Error().Err(err).Msg("election not switched to the activated configuration")
		}
	}
	qs.log.Info().Str("version", quorum.HexVersion(c.Version)).Str("zxid", z.String()).Int64("designated_leader", designated).
		Msg("configuration activated")
	return nil
}

// reconfigPrep returns the leader's computation of a reconfig request
// (tree.PrepRequest.Reconfig): quorum.Reconfig with the leadership's
// committed and last seen configurations and its synced followers, and
// resolve for the host names, looked up beforehand off the owner
// goroutine (reconfigLookups); nil when this server does not run the
// protocol or does not lead.
func (s *Server) reconfigPrep(zxid wire.Zxid, resolve quorum.Resolver) func(*wire.ReconfigRequest) ([]byte, wire.ErrCode) {
	ld := s.qs.leader
	if !s.qs.reconfigOn() || ld == nil {
		return nil
	}
	return func(r *wire.ReconfigRequest) ([]byte, wire.ErrCode) {
		if s.qs.leader != ld || !ld.serving() {
			return nil, wire.ErrReconfigInProgress
		}
		cur, last := ld.zab.Config()
		if cur == nil {
			return nil, wire.ErrUnimplemented
		}
		next, err := quorum.Reconfig(quorum.ReconfigState{Current: cur, LastSeen: last, StandaloneEnabled: s.cfg.Standalone,
			MyID: s.qs.quorum().MyID, Synced: ld.zab.SyncedFollowers(), Zxid: int64(zxid), Resolve: resolve}, r)
		if err != nil {
			var re *quorum.ReconfigError
			if errors.As(err, &re) {
				s.log.Info().Err(err).Msg("reconfig refused")
				return nil, re.Code
			}
			s.log.Warn().Err(err).Msg("reconfig refused")
			return nil, wire.ErrMarshallingError
		}
		return []byte(next.String()), wire.ErrOk
	}
}
