package zab

import (
	"strings"
	"testing"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

func TestCheckLearnerInfo(t *testing.T) {
	// Servers 1-3 vote, 4 observes.
	member := func(sid int64) (bool, bool) { return sid <= 3, sid >= 1 && sid <= 4 }
	info := func(typ wire.PacketType, sid int64, proto int32, cfgVersion int64, z wire.Zxid) *wire.QuorumPacket {
		li := wire.LearnerInfo{ServerID: sid, ProtocolVersion: proto, ConfigVersion: cfgVersion}
		return &wire.QuorumPacket{Type: typ, Zxid: z, Data: jute.Marshal(&li)}
	}
	for _, tc := range []struct {
		name string
		qp   *wire.QuorumPacket
		want LearnerInfo
		err  string
	}{
		{"a follower", info(wire.PacketFollowerInfo, 2, wire.ProtocolVersion, 0, zx(5, 0)),
			LearnerInfo{ID: 2, ProtocolVersion: wire.ProtocolVersion, AcceptedEpoch: 5}, ""},
		{"an observer by its packet", info(wire.PacketObserverInfo, 3, wire.ProtocolVersion, 0, zx(5, 0)),
			LearnerInfo{ID: 3, ProtocolVersion: wire.ProtocolVersion, Observer: true, AcceptedEpoch: 5}, ""},
		{"an observer by its server line", info(wire.PacketFollowerInfo, 4, wire.ProtocolVersion, 0, 0),
			LearnerInfo{ID: 4, ProtocolVersion: wire.ProtocolVersion, Observer: true}, ""},
		{"the largest epoch that leaves one to propose", info(wire.PacketFollowerInfo, 2, wire.ProtocolVersion, 0, zx(MaxEpoch-1, 0)),
			LearnerInfo{ID: 2, ProtocolVersion: wire.ProtocolVersion, AcceptedEpoch: MaxEpoch - 1}, ""},
		{"not a learner's first packet", &wire.QuorumPacket{Type: wire.PacketAck}, LearnerInfo{}, "is not FOLLOWERINFO or OBSERVERINFO"},
		{"a LearnerInfo that does not decode", &wire.QuorumPacket{Type: wire.PacketFollowerInfo, Data: []byte{1}}, LearnerInfo{}, "does not decode"},
		{"older than Zab 1.0", info(wire.PacketFollowerInfo, 2, 0xffff, 0, 0), LearnerInfo{}, "older than Zab 1.0"},
		{"a later configuration", info(wire.PacketFollowerInfo, 2, wire.ProtocolVersion, 2, 0), LearnerInfo{}, "later activated configuration"},
		{"not a member", info(wire.PacketFollowerInfo, 9, wire.ProtocolVersion, 0, 0), LearnerInfo{}, "not in the configuration"},
		{"an epoch that leaves none to propose", info(wire.PacketFollowerInfo, 2, wire.ProtocolVersion, 0, zx(MaxEpoch, 0)), LearnerInfo{}, "leaves no epoch to propose"},
		{"an epoch Java reads as negative", info(wire.PacketFollowerInfo, 2, wire.ProtocolVersion, 0, zx(0xffffffff, 0)), LearnerInfo{}, "leaves no epoch to propose"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CheckLearnerInfo(tc.qp, 1, member)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("%+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestCheckAckEpoch(t *testing.T) {
	ack := func(epoch int32, z wire.Zxid) *wire.QuorumPacket {
		return &wire.QuorumPacket{Type: wire.PacketAckEpoch, Zxid: z, Data: wire.EpochData(epoch)}
	}
	summaryEpoch, summaryZxid := int64(4), zx(4, 10)
	for _, tc := range []struct {
		name string
		qp   *wire.QuorumPacket
		want AckEpoch
		err  string
	}{
		{"behind", ack(3, zx(3, 99)), AckEpoch{LastZxid: zx(3, 99), Counts: true, CurrentEpoch: 3}, ""},
		{"the same epoch, not ahead", ack(4, zx(4, 10)), AckEpoch{LastZxid: zx(4, 10), Counts: true, CurrentEpoch: 4}, ""},
		{"acked this epoch before", ack(-1, zx(9, 9)), AckEpoch{LastZxid: zx(9, 9), CurrentEpoch: -1}, ""},
		{"an empty history", ack(0, -1), AckEpoch{LastZxid: -1}, ""},
		{"a later current epoch", ack(5, zx(5, 1)), AckEpoch{}, "Follower is ahead of the leader"},
		{"the same epoch, later zxid", ack(4, zx(4, 11)), AckEpoch{}, "Follower is ahead of the leader"},
		{"not an ACKEPOCH", &wire.QuorumPacket{Type: wire.PacketAck}, AckEpoch{}, "received while waiting for ACKEPOCH"},
		{"short data", &wire.QuorumPacket{Type: wire.PacketAckEpoch, Data: []byte{0}}, AckEpoch{}, "does not decode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CheckAckEpoch(tc.qp, summaryEpoch, summaryZxid)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("%+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
