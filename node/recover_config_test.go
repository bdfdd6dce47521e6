package node

import (
	"context"
	"testing"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// TestFailedSnapSyncKeepsConfigNode: a learner whose SNAP sync fails
// before NEWLEADER reloads its database from disk; /zookeeper/config must
// still hold the configuration (main left it empty until the server
// restarted: a later DIFF sync does not rebuild it, and Java serves the
// configuration there all along).
func TestFailedSnapSyncKeepsConfigNode(t *testing.T) {
	dir := t.TempDir()
	f := newFakeLeader(t)
	s := startLearner(t, learnerConfig(t, dir, f.port(), false))
	want := s.cfg.Quorum.Text()
	f.accept()
	f.read() // FOLLOWERINFO
	f.send(wire.QuorumPacket{Type: wire.PacketLeaderInfo, Zxid: 0x300000000, Data: wire.EpochData(wire.ProtocolVersion)})
	f.expect(wire.PacketAckEpoch, 0)
	w := jute.NewWriter(nil)
	w.Int(0) // sessions
	w.Int(0) // ACL map
	for _, p := range []string{"", "/zookeeper", "/x"} {
		w.String(p)
		w.Buffer([]byte("d"))
		w.Long(-1)
		(&wire.StatPersisted{Czxid: 0x200000001, Mzxid: 0x200000001}).Encode(w)
	}
	w.String("/")
	w.String("BenWasHere")
	f.send(wire.QuorumPacket{Type: wire.PacketSnap, Zxid: 0x200000001})
	f.c.Write(w.Bytes())
	// The sync dies before NEWLEADER: the learner reloads from disk.
	f.c.Close()
	var got string
	waitFor(t, func() bool {
		var drops int64
		err := s.Call(context.Background(), func() {
			drops = s.qs.peer.stats.linkDrops
			if n := s.tree.Get("/zookeeper/config"); n != nil {
				got = string(n.Data())
			}
		})
		return err == nil && drops > 0
	})
	if got != want {
		t.Fatalf("/zookeeper/config after a failed SNAP sync: %q, want %q", got, want)
	}
}
