package zab

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/wire"
)

func cfgOf(t *testing.T, version int64, lines ...string) *quorum.Config {
	t.Helper()
	c, err := quorum.ParseConfigText(strings.Join(lines, "\n")+"\nversion="+quorum.HexVersion(version), false)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestLearnerViewActivate: QuorumPeer.processReconfig on a learner: what
// it activates, and when it leaves its leader (Java's majorChange: its
// learner type changed, updateLearnerType; or its leader, updateVote
// with a designated leader, else the leader not a voter at the same
// address in both configurations).
func TestLearnerViewActivate(t *testing.T) {
	const (
		s1  = "server.1=127.0.0.1:2001:3001:participant;4001"
		s1b = "server.1=127.0.0.2:2001:3001:participant;4001" // moved
		s2  = "server.2=127.0.0.1:2002:3002:participant;4002"
		s2o = "server.2=127.0.0.1:2002:3002:observer;4002"
		s3  = "server.3=127.0.0.1:2003:3003:participant;4003"
		s3o = "server.3=127.0.0.1:2003:3003:observer;4003"
	)
	cur := cfgOf(t, 5, s1, s2, s3o)
	for _, tc := range []struct {
		name       string
		id         int64
		observer   bool
		disabled   bool
		next       *quorum.Config
		designated int64
		want       string // "" nothing activated; else "stay"/"leave: reason", then the role
	}{
		{"disabled", 2, false, true, cfgOf(t, 6, s1, s2), 1, ""},
		{"not newer", 2, false, false, cfgOf(t, 5, s1, s2), 1, ""},
		{"same leader", 2, false, false, cfgOf(t, 6, s1, s2, s3), 1, "stay participant"},
		{"designated another", 2, false, false, cfgOf(t, 6, s1, s2, s3), 3, "leave: suggested leader 3; participant"},
		{"observer promoted", 3, true, false, cfgOf(t, 6, s1, s2, s3), 1, "leave: becoming a participant; participant"},
		{"participant demoted", 2, false, false, cfgOf(t, 6, s1, s2o, s3), 1, "leave: becoming an observer; observer"},
		{"participant removed", 2, false, false, cfgOf(t, 6, s1, s3), 1, "stay participant"},
		{"observer removed", 3, true, false, cfgOf(t, 6, s1, s2), 1, "leave: becoming a participant; participant"},
		{"uptodate: leader stays", 2, false, false, cfgOf(t, 6, s1, s2, s3), -1, "stay participant"},
		{"uptodate: leader removed", 2, false, false, cfgOf(t, 6, s2, s3), -1,
			"leave: leader 1 is not a voter at the same address in the new configuration; participant"},
		{"uptodate: leader moved", 2, false, false, cfgOf(t, 6, s1b, s2, s3), -1,
			"leave: leader 1 is not a voter at the same address in the new configuration; participant"},
	} {
		v := LearnerView{ID: tc.id, LeaderID: 1, Observer: tc.observer, Config: cur, ReconfigEnabled: !tc.disabled, LastSeenVersion: cur.Version}
		a := v.activate(tc.next, wire.MakeZxid(1, 6), tc.designated)
		got := ""
		if a != nil {
			role := "participant"
			if a.Observer {
				role = "observer"
			}
			if a.Leave {
				got = "leave: " + strings.TrimPrefix(a.Reason, "changes proposed in reconfig: ") + "; " + role
			} else {
				got = "stay " + role
			}
			if v.Config != tc.next || v.Observer != a.Observer {
				t.Errorf("%s: the view did not switch", tc.name)
			}
		}
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestLearnerViewSeen: setLastSeenQuorumVerifier reports a configuration
// once, and nothing without reconfigEnabled.
func TestLearnerViewSeen(t *testing.T) {
	cur := cfgOf(t, 5, "server.1=127.0.0.1:2001:3001:participant;4001")
	next := cfgOf(t, 6, "server.1=127.0.0.1:2001:3001:participant;4001")
	off := LearnerView{Config: cur, LastSeenVersion: 5}
	if off.seen(next) != nil {
		t.Error("reported with reconfigEnabled off")
	}
	on := LearnerView{Config: cur, ReconfigEnabled: true, LastSeenVersion: 5}
	if on.seen(cur) != nil || on.seen(next) != next || on.seen(next) != nil {
		t.Error("a configuration is reported once, the committed one never")
	}
}

// TestDesignatedOf: the designated leader is the 8 big-endian bytes at the
// head of COMMITANDACTIVATE's data; shorter data is an error, not a panic.
func TestDesignatedOf(t *testing.T) {
	qp := wire.QuorumPacket{Type: wire.PacketCommitAndActivate, Data: []byte{0, 0, 0, 0, 0, 0, 1, 2}}
	if d, err := designatedOf(&qp); err != nil || d != 258 {
		t.Fatalf("%d %v", d, err)
	}
	for _, data := range [][]byte{nil, {1, 2, 3}} {
		qp.Data = data
		if _, err := designatedOf(&qp); err == nil {
			t.Errorf("%v: no error", data)
		}
	}
}

// TestLearnerSyncActivatesAReconfigBehindOtherProposals: after NEWLEADER a
// learner's COMMITs do not remove the proposals they commit (they are
// applied at UPTODATE), so a COMMITANDACTIVATE that arrives during the
// sync for a reconfig behind other proposals names a txn that is not the
// first pending one. Its configuration must be activated all the same
// (found by the fault suite: zzzzz+reconfig seed 6, node 3 synced by SNAP
// while the leader proposed and committed a reconfig, served the new
// /zookeeper/config but kept the older configuration active and on disk).
// Java 3.8.0 looks only at the first pending proposal (Learner.syncWithLeader's
// peekFirst) and misses it too (DIFFERENCES row 65).
func TestLearnerSyncActivatesAReconfigBehindOtherProposals(t *testing.T) {
	const (
		s1 = "server.1=127.0.0.1:2001:3001:participant;4001"
		s2 = "server.2=127.0.0.1:2002:3002:participant;4002"
		s3 = "server.3=127.0.0.1:2003:3003:participant;4003"
	)
	cur := cfgOf(t, 0x100000000, s1, s2, s3)
	nextText := s1 + "\n" + s2 + "\nversion=200000002"
	l := NewLearnerSync(LearnerConfig{ID: 2, LastLogged: zx(1, 6), AcceptedEpoch: 1, CurrentEpoch: 1, MaxRecord: 1 << 20,
		View: LearnerView{ID: 2, LeaderID: 1, Config: cur, ReconfigEnabled: true, LastSeenVersion: cur.Version}})
	l.Start()
	reconfig := &wire.TxnEntry{Hdr: wire.TxnHeader{ClientID: 1, Cxid: 2, Zxid: zx(2, 2), Time: 1, Type: wire.OpReconfig},
		Body: &wire.SetDataTxn{Path: "/zookeeper/config", Data: []byte(nextText), Version: -1}}
	var activations []LearnerActivation
	for _, qp := range []wire.QuorumPacket{
		pkt(t, "LEADERINFO 2:0"),
		pkt(t, "DIFF 1:6"),
		pkt(t, "NEWLEADER 2:0"),
		pkt(t, "PROPOSAL 2:1"),
		{Type: wire.PacketProposal, Zxid: zx(2, 2), Data: wire.AppendTxnEntry(nil, reconfig)},
		pkt(t, "COMMIT 2:1"),
		{Type: wire.PacketCommitAndActivate, Zxid: zx(2, 2), Data: binary.BigEndian.AppendUint64(nil, 1)},
		pkt(t, "UPTODATE"),
	} {
		r, err := l.Step(&qp)
		if err != nil {
			t.Fatalf("%v %v: %v", qp.Type, qp.Zxid, err)
		}
		activations = append(activations, r.Activations...)
	}
	if len(activations) != 1 || activations[0].Config.Version != 0x200000002 || activations[0].Zxid != zx(2, 2) {
		t.Fatalf("activations %+v, want the reconfig 2:2's configuration (version 200000002)", activations)
	}
	if v := l.Synced().View; v.Config == nil || v.Config.Version != 0x200000002 {
		t.Errorf("the view after the sync holds %+v, want version 200000002", v.Config)
	}
}
