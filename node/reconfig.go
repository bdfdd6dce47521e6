package node

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/zkgo/zkgo/node/quorum"
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
//
// NB: reconfigEnabled=true is still refused in zoo.cfg (configkeys.go);
// only tests turn the protocol on (Config.driveReconfig).

// quorum is the configuration in force: the last one activated, or the
// one the server started with. Safe from any goroutine; the value is
// never changed, only replaced.
func (s *Server) quorum() *Quorum {
	if q := s.quorumNow.Load(); q != nil {
		return q
	}
	return s.cfg.Quorum
}

// reconfigOn reports whether this quorum member runs the reconfig
// protocol.
func (s *Server) reconfigOn() bool {
	return s.cfg.ReconfigEnabled && s.cfg.driveReconfig && s.cfg.Quorum != nil
}

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
// a dynamic file. A .next file that does not read refuses the start, as
// Java's configuration parse does.
func (s *Server) reconfigAtStart() error {
	if !s.reconfigOn() || s.cfg.Source == "" {
		return nil
	}
	if _, err := readNextConfig(s.cfg.Source, s.cfg.Standalone); err != nil {
		return err
	}
	if _, dyn := s.cfg.Raw["dynamicConfigFile"]; dyn {
		return nil
	}
	return BackupStaticConfig(s.cfg.Source)
}

// leaderReconfig fills the reconfiguration part of a leadership's
// configuration: the committed configuration, the last seen one (the
// .next file, if newer) and reconfigEnabled.
func (s *Server) leaderReconfig(lc *zab.LeaderConfig) error {
	if !s.reconfigOn() {
		return nil
	}
	lc.Config = s.quorum().config()
	next, err := readNextConfig(s.cfg.Source, s.cfg.Standalone)
	if err != nil {
		return err
	}
	lc.LastSeen = next
	lc.ReconfigEnabled = true
	return nil
}

// persistNextConfig writes a proposed configuration as the .next file
// (QuorumPeer.setLastSeenQuorumVerifier) before the proposal goes out.
func (s *Server) persistNextConfig(next *quorum.Config) error {
	if err := WriteNextConfig(s.cfg.Source, next.String()); err != nil {
		return fmt.Errorf("cannot write the proposed configuration %s: %w", quorum.HexVersion(next.Version), err)
	}
	s.log.Info().Str("version", quorum.HexVersion(next.Version)).Msg("proposed configuration written")
	return nil
}

// activateConfig writes an activated configuration as Java does (the
// dynamic file, zoo.cfg rewritten to point at it, the .next file gone
// when it is the last seen one) and makes it the one in force.
func (s *Server) activateConfig(z wire.Zxid, c *quorum.Config, designated int64, lastSeen bool) error {
	me := s.quorum().MyID
	if err := WriteActivatedConfig(s.cfg.Source, me, c.String(), lastSeen); err != nil {
		return fmt.Errorf("cannot write the activated configuration %s: %w", quorum.HexVersion(c.Version), err)
	}
	s.quorumNow.Store(quorumOf(c, me))
	s.log.Info().Str("version", quorum.HexVersion(c.Version)).Str("zxid", z.String()).Int64("designated_leader", designated).
		Msg("configuration activated")
	return nil
}

// reconfigPrep returns the leader's computation of a reconfig request
// (tree.PrepRequest.Reconfig): quorum.Reconfig with the leadership's
// committed and last seen configurations and its synced followers; nil
// when this server does not run the protocol or does not lead.
func (s *Server) reconfigPrep(zxid wire.Zxid) func(*wire.ReconfigRequest) ([]byte, wire.ErrCode) {
	ld := s.leader
	if !s.reconfigOn() || ld == nil {
		return nil
	}
	return func(r *wire.ReconfigRequest) ([]byte, wire.ErrCode) {
		if s.leader != ld || !ld.serving() {
			return nil, wire.ErrReconfigInProgress
		}
		cur, last := ld.zab.Config()
		if cur == nil {
			return nil, wire.ErrUnimplemented
		}
		next, err := quorum.Reconfig(quorum.ReconfigState{Current: cur, LastSeen: last, StandaloneEnabled: s.cfg.Standalone,
			MyID: s.quorum().MyID, Synced: ld.zab.SyncedFollowers(), Zxid: int64(zxid)}, r)
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
