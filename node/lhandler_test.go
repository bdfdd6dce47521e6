package node

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/wire"
)

// The writer holds queued packets back while a SNAP is being spooled and
// sends nothing else meanwhile, however often it is woken.
func TestHandlerWriterHoldsPacketsBehindSnapshot(t *testing.T) {
	server, client := net.Pipe()
	defer server.Close()
	defer client.Close()
	h := &learnerHandler{}
	h.conn, h.bw = server, bufioWriter(server)
	h.initConn(jute.QuorumMaxBuffer)
	go h.writer(5*time.Second, h.writeFailed)
	defer h.close("test over")
	br := bufio.NewReader(client)
	read := func() wire.QuorumPacket {
		t.Helper()
		client.SetReadDeadline(time.Now().Add(5 * time.Second))
		qp, err := wire.ReadQuorumPacket(br, jute.QuorumMaxBuffer)
		if err != nil {
			t.Fatal(err)
		}
		return qp
	}
	h.queue(wire.QuorumPacket{Type: wire.PacketLeaderInfo, Zxid: 0x100000000, Data: wire.EpochData(wire.ProtocolVersion)})
	h.startSending()
	if qp := read(); qp.Type != wire.PacketLeaderInfo {
		t.Fatalf("first packet %v", qp.Type)
	}
	sp, err := newSnapSpool(t.TempDir(), 0x100000005)
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.snap = sp
	h.mu.Unlock()
	// Live traffic while the walk runs: queued, and the writer woken many
	// times.
	for z := wire.Zxid(0x100000006); z < 0x100000010; z++ {
		h.queue(wire.QuorumPacket{Type: wire.PacketProposal, Zxid: z, Data: []byte{1, 2, 3}})
		time.Sleep(time.Millisecond)
	}
	var nodes jute.Writer
	nodes.String("")
	nodes.Buffer(nil)
	nodes.Long(-1)
	(&wire.StatPersisted{}).Encode(&nodes)
	sp.write(nodes.Bytes())
	// The head as the owner gathers it (unsorted); the writer sorts and
	// encodes it.
	open := []wire.ACL{{Perms: 31, ID: wire.ID{Scheme: "world", ID: "anyone"}}}
	sp.finish(storage.SnapshotTail{
		Sessions: []wire.SessionTouch{{SessionID: 5, TimeoutMs: 3000}, {SessionID: 2, TimeoutMs: 4000}},
		ACLs:     []storage.IndexedACL{{Index: 3, ACL: open}, {Index: 1, ACL: open}},
	})
	h.poke()
	if qp := read(); qp.Type != wire.PacketSnap || qp.Zxid != 0x100000005 {
		t.Fatalf("after LEADERINFO the learner got %v %v, want the SNAP", qp.Type, qp.Zxid)
	}
	sr := storage.NewStreamReaderFrom(br, 0)
	if n, _ := sr.Int(); n != 2 {
		t.Fatal("sessions")
	}
	for _, want := range []int64{2, 5} {
		if id, _ := sr.Long(); id != want {
			t.Fatalf("session %d, want %d (sorted)", id, want)
		}
		sr.Int()
	}
	if n, _ := sr.Int(); n != 2 {
		t.Fatal("acl map")
	}
	for _, want := range []int64{1, 3} {
		if idx, _ := sr.Long(); idx != want {
			t.Fatalf("acl index %d, want %d (sorted)", idx, want)
		}
		if n, _ := sr.Int(); n != 1 {
			t.Fatal("acl list length")
		}
		var a wire.ACL
		if err := sr.Record(&a, open[0].Size()); err != nil {
			t.Fatal(err)
		}
	}
	if p, _ := sr.String(); p != "" {
		t.Fatalf("root path %q", p)
	}
	sr.Buffer()
	sr.Long()
	var st wire.StatPersisted
	if err := sr.Record(&st, st.Size()); err != nil {
		t.Fatal(err)
	}
	if p, _ := sr.String(); p != "/" {
		t.Fatalf("terminator %q", p)
	}
	if sig, _ := sr.String(); sig != wire.SnapSignature {
		t.Fatalf("signature %q", sig)
	}
	for z := wire.Zxid(0x100000006); z < 0x100000010; z++ {
		if qp := read(); qp.Type != wire.PacketProposal || qp.Zxid != z {
			t.Fatalf("got %v %v, want PROPOSAL %v", qp.Type, qp.Zxid, z)
		}
	}
}
