package zab

import (
	"errors"
	"fmt"

	"github.com/zkgo/zkgo/wire"
)

// The leader's checks of what a learner sends before its sync
// (LearnerHandler.run): its first packet and its ACKEPOCH.

// LearnerInfo is what a leader learns from a learner's first packet.
type LearnerInfo struct {
	ID              int64
	ProtocolVersion int32
	// Observer: it sent OBSERVERINFO, or its server line says observer;
	// either way it gets INFORMs and never counts for a quorum.
	Observer      bool
	AcceptedEpoch int64
}

// CheckLearnerInfo checks a learner's first packet: FOLLOWERINFO or
// OBSERVERINFO, a LearnerInfo that decodes, Zab 1.0 or later (ZooKeeper
// 3.4), a configuration no newer than configVersion, a server id member
// says is in the configuration (and whether it votes), and an accepted
// epoch a zxid can carry below MaxEpoch. Java reads 0xffffffff as -1 and
// lets it count without raising the epoch, and from 0x7fffffff proposes
// 0x80000000 (negative zxids, persisted as its epochs); neither comes from
// a real learner, and both are refused. The error is the reason the
// leader drops the learner with.
func CheckLearnerInfo(qp *wire.QuorumPacket, configVersion int64, member func(sid int64) (voter, ok bool)) (LearnerInfo, error) {
	var li LearnerInfo
	if qp.Type != wire.PacketFollowerInfo && qp.Type != wire.PacketObserverInfo {
		return li, errors.New("First packet " + qp.Type.String() + " is not FOLLOWERINFO or OBSERVERINFO")
	}
	info, err := wire.ParseLearnerInfo(qp.Data)
	if err != nil {
		return li, fmt.Errorf("LearnerInfo does not decode: %w", err)
	}
	if info.ProtocolVersion < wire.ProtocolVersion {
		return li, fmt.Errorf("learner protocol 0x%x is older than Zab 1.0 (ZooKeeper 3.4); not supported", info.ProtocolVersion)
	}
	if info.ConfigVersion > configVersion {
		return li, errors.New("Follower is ahead of the leader (has a later activated configuration)")
	}
	voter, ok := member(info.ServerID)
	if !ok {
		return li, fmt.Errorf("server id %d is not in the configuration", info.ServerID)
	}
	// As Java reads it: an epoch with the top bit set is negative.
	if e := int64(qp.Zxid) >> 32; e < 0 || e >= MaxEpoch {
		return li, fmt.Errorf("accepted epoch %#x (FOLLOWERINFO zxid %v) leaves no epoch to propose: "+
			"a zxid's epoch is at most %#x", qp.Zxid.Epoch(), qp.Zxid, MaxEpoch)
	}
	return LearnerInfo{ID: info.ServerID, ProtocolVersion: info.ProtocolVersion,
		Observer: qp.Type == wire.PacketObserverInfo || !voter, AcceptedEpoch: int64(qp.Zxid) >> 32}, nil
}

// AckEpoch is a learner's ACKEPOCH as the leader takes it.
type AckEpoch struct {
	// LastZxid is the learner's last logged zxid, what its sync starts
	// from.
	LastZxid wire.Zxid
	// Counts: it carries the learner's current epoch (not -1, "already
	// acked this epoch") and a zxid, so a voter's counts toward the
	// epoch's quorum.
	Counts bool
	// CurrentEpoch is the learner's current epoch, -1 when it had
	// accepted this epoch before.
	CurrentEpoch int32
}

// ParseAckEpoch reads a learner's ACKEPOCH without comparing it with the
// leader's state: once a quorum acked the epoch, Leader.waitForEpochAck
// returns before its "Follower is ahead" check, and the sync brings such a
// learner back (TRUNC or SNAP).
func ParseAckEpoch(qp *wire.QuorumPacket) (AckEpoch, error) {
	if qp.Type != wire.PacketAckEpoch {
		return AckEpoch{}, errors.New(qp.Type.String() + " received while waiting for ACKEPOCH")
	}
	epoch, err := wire.ParseEpochData(qp.Data)
	if err != nil {
		return AckEpoch{}, fmt.Errorf("ACKEPOCH does not decode: %w", err)
	}
	return AckEpoch{LastZxid: qp.Zxid, Counts: epoch != -1 && qp.Zxid != -1, CurrentEpoch: epoch}, nil
}

// CheckAckEpoch checks a learner's ACKEPOCH against the leader's state
// when its leadership began (Leader.waitForEpochAck's
// leaderStateSummary), while the epoch is being acked: a learner with a
// later current epoch, or the same epoch and a later zxid, is ahead of the
// leader and is refused.
func CheckAckEpoch(qp *wire.QuorumPacket, summaryEpoch int64, summaryZxid wire.Zxid) (AckEpoch, error) {
	ack, err := ParseAckEpoch(qp)
	if err != nil {
		return ack, err
	}
	if epoch := ack.CurrentEpoch; epoch != -1 {
		e := int64(epoch)
		if e > summaryEpoch || (e == summaryEpoch && qp.Zxid > summaryZxid) {
			return AckEpoch{}, fmt.Errorf("Follower is ahead of the leader, leader summary: %d (current epoch), %v (last zxid)",
				summaryEpoch, summaryZxid)
		}
	}
	return ack, nil
}
