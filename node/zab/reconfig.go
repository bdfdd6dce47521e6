package zab

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/wire"
)

// The learner's side of dynamic reconfiguration (Learner.syncWithLeader,
// Follower and Observer.processPacket, QuorumPeer.processReconfig): a
// reconfig proposal's configuration becomes the last seen one, NEWLEADER's
// too; COMMITANDACTIVATE, INFORMANDACTIVATE and, for NEWLEADER's, UPTODATE
// activate it; a change of the learner's role or of its leader makes it
// leave the leader.

// LearnerView is what a learner decides activations with, as
// QuorumPeer holds it: its id and learner type, the leader it follows, the
// committed configuration and the settings configuration texts are read
// with. Without Config, or with ReconfigEnabled false (Java's
// processReconfig and setLastSeenQuorumVerifier then do nothing), nothing
// is activated or reported.
type LearnerView struct {
	ID, LeaderID int64
	// Observer is the learner's type (LearnerType.OBSERVER).
	Observer          bool
	Config            *quorum.Config
	ReconfigEnabled   bool
	StandaloneEnabled bool
	// LastSeenVersion is the last seen configuration's version (Config's
	// when none is pending): a configuration of that version is not
	// reported again (setLastSeenQuorumVerifier).
	LastSeenVersion int64
}

// seen is setLastSeenQuorumVerifier: next is reported (the .next file)
// unless reconfiguration is off or it is the one seen last.
func (v *LearnerView) seen(next *quorum.Config) *quorum.Config {
	if next == nil || !v.ReconfigEnabled || next.Version == v.LastSeenVersion {
		return nil
	}
	v.LastSeenVersion = next.Version
	return next
}

// LearnerActivation is a configuration a learner activated
// (QuorumPeer.processReconfig): the driver writes it (the dynamic file,
// the static rewrite) and switches to it. Designated is the leader the
// old one designated (-1: none, an activation at UPTODATE). Leave (Java's
// majorChange): the learner's role or its leader changed; once the Ready
// is carried out it leaves the leader: for Designated (or, a change of
// role, the same leader) it follows, observes or leads at once without an
// election (QuorumPeer.updateServerState with reconfigFlag), else it
// looks for a leader.
type LearnerActivation struct {
	Zxid       wire.Zxid
	Config     *quorum.Config
	Designated int64
	Leave      bool
	// Role: Observer in the new configuration (Java's learner type after
	// updateLearnerType; a server outside it is a non-voting participant).
	Observer bool
	Reason   string
}

// ErrReconfigData is the error for a reconfig txn or configuration text
// that does not read (Java's configFromString throws and the learner
// leaves the leader).
var ErrReconfigData = errors.New("zab: reconfiguration data does not read")

// configOfTxn reads the configuration a reconfig txn carries (a SetData
// of /zookeeper/config), or nil when e is not a reconfig.
func (v *LearnerView) configOfTxn(e *wire.TxnEntry) (*quorum.Config, error) {
	if e.Hdr.Type != wire.OpReconfig {
		return nil, nil
	}
	sd, ok := e.Body.(*wire.SetDataTxn)
	if !ok {
		return nil, fmt.Errorf("%w: reconfig txn %v is a %T, not a SetData", ErrReconfigData, e.Hdr.Zxid, e.Body)
	}
	return v.parse(sd.Data)
}

func (v *LearnerView) parse(text []byte) (*quorum.Config, error) {
	c, err := quorum.ParseConfigText(string(text), v.StandaloneEnabled)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReconfigData, err)
	}
	return c, nil
}

// activate is QuorumPeer.processReconfig for a learner. It returns nil
// when nothing changes: no next (not a reconfig txn), reconfiguration
// off, no configuration, or next
// no newer than the committed one.
func (v *LearnerView) activate(next *quorum.Config, z wire.Zxid, designated int64) *LearnerActivation {
	if next == nil || !v.ReconfigEnabled || v.Config == nil || next.Version <= v.Config.Version {
		return nil
	}
	prev := v.Config
	a := &LearnerActivation{Zxid: z, Config: next, Designated: designated}
	me, inNext := next.Servers[v.ID]
	a.Observer = inNext && me.Observer
	var reasons []string
	if a.Observer != v.Observer {
		// updateLearnerType: an observer in the new configuration, a
		// voter in it, or outside it (a non-voting participant).
		if a.Observer {
			reasons = append(reasons, "becoming an observer")
		} else {
			reasons = append(reasons, "becoming a participant")
		}
	}
	if designated >= 0 {
		// updateVote
		if designated != v.LeaderID {
			reasons = append(reasons, fmt.Sprintf("suggested leader %d", designated))
		}
	} else {
		old, inOld := prev.Servers[v.LeaderID]
		neu, inNew := next.Servers[v.LeaderID]
		if !inOld || old.Observer || !inNew || neu.Observer || old.Host != neu.Host || old.QuorumPort != neu.QuorumPort {
			reasons = append(reasons, fmt.Sprintf("leader %d is not a voter at the same address in the new configuration", v.LeaderID))
		}
	}
	v.Config = next
	v.LastSeenVersion = max(v.LastSeenVersion, next.Version)
	v.Observer = a.Observer
	if designated >= 0 {
		v.LeaderID = designated
	}
	if len(reasons) > 0 {
		a.Leave = true
		a.Reason = "changes proposed in reconfig: " + reasons[0]
		for _, r := range reasons[1:] {
			a.Reason += ", " + r
		}
	}
	return a
}

// designatedOf reads the designated leader at the head of a
// COMMITANDACTIVATE's or INFORMANDACTIVATE's data.
func designatedOf(qp *wire.QuorumPacket) (int64, error) {
	if len(qp.Data) < 8 {
		return 0, fmt.Errorf("%v %v without a leader id", qp.Type, qp.Zxid)
	}
	return int64(binary.BigEndian.Uint64(qp.Data)), nil
}
