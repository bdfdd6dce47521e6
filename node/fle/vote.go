package fle

import (
	"math"
	"strconv"

	"github.com/zkgo/zkgo/wire"
)

// NoID is the leader id, zxid and epoch a non-voter proposes
// (Long.MIN_VALUE in FastLeaderElection.getInitId and friends).
const NoID = math.MinInt64

// Vote is a vote as FastLeaderElection keeps it (Java's Vote).
type Vote struct {
	Leader        int64
	Zxid          wire.Zxid
	ElectionEpoch int64
	PeerEpoch     int64
	State         wire.ServerState // LOOKING unless the vote came from a FOLLOWING/LEADING/OBSERVING peer
	Version       int32            // notification format version as received; 0 for votes built locally
}

// Equal mirrors Vote.equals: if either vote is LOOKING, leader, zxid,
// election epoch and peer epoch must all match; otherwise (both out of
// election) only leader and peer epoch count, and only the leader when
// exactly one of the two has version 0 (ZOOKEEPER-1732 rolling upgrades).
func (v Vote) Equal(o Vote) bool {
	if v.State == wire.ServerLooking || o.State == wire.ServerLooking {
		return v.Leader == o.Leader && v.Zxid == o.Zxid && v.ElectionEpoch == o.ElectionEpoch && v.PeerEpoch == o.PeerEpoch
	}
	if (v.Version > 0) != (o.Version > 0) {
		return v.Leader == o.Leader
	}
	return v.Leader == o.Leader && v.PeerEpoch == o.PeerEpoch
}

// String formats the vote as Java's Vote.toString does: "(leader, zxid,
// peerEpoch)" with hex zxid and epoch.
func (v Vote) String() string {
	return "(" + strconv.FormatInt(v.Leader, 10) + ", " + strconv.FormatUint(uint64(v.Zxid), 16) + ", " +
		strconv.FormatUint(uint64(v.PeerEpoch), 16) + ")"
}

// TotalOrder is FastLeaderElection.totalOrderPredicate without its weight
// check (Election applies it: a weight-0 candidate never wins): whether
// the vote (newID, newZxid, newEpoch) beats (curID, curZxid, curEpoch),
// comparing peer epoch, then zxid, then server id.
func TotalOrder(newID int64, newZxid wire.Zxid, newEpoch int64, curID int64, curZxid wire.Zxid, curEpoch int64) bool {
	return newEpoch > curEpoch ||
		(newEpoch == curEpoch && (newZxid > curZxid || (newZxid == curZxid && newID > curID)))
}

// Notification is a received FLE notification as Java's WorkerReceiver
// builds it: the sender (the connection's sid) plus the decoded fields.
type Notification struct {
	From          int64 // sender sid
	State         wire.ServerState
	Leader        int64
	Zxid          wire.Zxid
	ElectionEpoch int64
	PeerEpoch     int64
	Version       int32 // 0 for the 28- and 40-byte forms, as Java reads them
}

// FromWire converts a decoded wire notification from sender from. Java
// reads no version from the 28- and 40-byte forms, so Version is 0 there.
func FromWire(from int64, n *wire.Notification) Notification {
	out := Notification{
		From:          from,
		State:         n.State,
		Leader:        n.Leader,
		Zxid:          n.Zxid,
		ElectionEpoch: n.ElectionEpoch,
		PeerEpoch:     n.PeerEpoch,
	}
	if n.Layout != 28 && n.Layout != 40 {
		out.Version = n.Version
	}
	return out
}

// Message is a notification to send to server To (FastLeaderElection.ToSend).
// The driver adds the format version and the config text.
type Message struct {
	To            int64
	State         wire.ServerState // my state
	Leader        int64
	Zxid          wire.Zxid
	ElectionEpoch int64
	PeerEpoch     int64
	// Probe marks a CanLead=false probe (zxid -1): not a vote.
	Probe bool
}

// Wire returns the notification to encode (3.5+ form: version 2 plus the
// config text).
func (m *Message) Wire(config []byte) wire.Notification {
	return wire.Notification{
		State:         m.State,
		Leader:        m.Leader,
		Zxid:          m.Zxid,
		ElectionEpoch: m.ElectionEpoch,
		PeerEpoch:     m.PeerEpoch,
		Version:       wire.NotificationVersion,
		Config:        config,
		Layout:        44,
	}
}
