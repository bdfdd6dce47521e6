package zabtest

import (
	"testing"

	"github.com/zkgo/zkgo/wire"
)

func TestNetworkOrderCutsAndPartitions(t *testing.T) {
	n := NewNetwork()
	for c := uint32(1); c <= 3; c++ {
		n.Send(1, 2, wire.QuorumPacket{Type: wire.PacketCommit, Zxid: wire.MakeZxid(1, c)})
	}
	n.Send(2, 1, wire.QuorumPacket{Type: wire.PacketAck, Zxid: wire.MakeZxid(1, 1)})
	if got := n.Deliver(1, 2, 2); len(got) != 2 || got[0].Zxid.Counter() != 1 || got[1].Zxid.Counter() != 2 {
		t.Fatalf("first two: %v", got)
	}
	if n.Pending(1, 2) != 1 || n.Pending(2, 1) != 1 {
		t.Fatal("pending")
	}
	n.Partition([]int64{1}, []int64{2, 3})
	if n.Pending(1, 2) != 0 || n.Pending(2, 1) != 0 {
		t.Fatal("a partition keeps what was in flight")
	}
	n.Send(3, 1, wire.QuorumPacket{Type: wire.PacketPing})
	n.Send(2, 3, wire.QuorumPacket{Type: wire.PacketPing})
	if n.Pending(3, 1) != 0 || n.Pending(2, 3) != 1 {
		t.Fatal("partitioned links carry packets, or links within a side do not")
	}
	n.Drop(3)
	n.Heal()
	n.Send(3, 1, wire.QuorumPacket{Type: wire.PacketPing})
	if n.Pending(2, 3) != 0 || n.Pending(3, 1) != 1 {
		t.Fatal("Drop or Heal")
	}
}

func TestStoreDurabilityAndTruncate(t *testing.T) {
	var s Store
	zs, err := ParseRanges("1:1..1:3,2:1")
	if err != nil {
		t.Fatal(err)
	}
	for i, z := range zs {
		if err := s.Append(Txn(z)); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			s.Sync()
		}
	}
	if err := s.Append(Txn(wire.MakeZxid(1, 9))); err == nil {
		t.Fatal("an older zxid was appended")
	}
	if got := s.String(); got != "log 1:1..1:2 | 1:3 2:1; epochs accepted=0 current=0" {
		t.Fatalf("String = %q", got)
	}
	s.Crash()
	if s.LastZxid() != wire.MakeZxid(1, 2) {
		t.Fatalf("after the crash: %v", s.String())
	}
	if err := s.Truncate(wire.MakeZxid(1, 5)); err == nil {
		t.Fatal("truncated to a zxid the log does not hold")
	}
	if err := s.Truncate(wire.MakeZxid(1, 1)); err != nil || s.LastZxid() != wire.MakeZxid(1, 1) {
		t.Fatalf("Truncate: %v, %v", err, s.String())
	}
	if s.From(wire.MakeZxid(1, 1)) == nil || s.From(wire.MakeZxid(0, 5)) != nil {
		t.Fatal("From")
	}
	if _, err := ParseRanges("1:5..1:2"); err == nil {
		t.Fatal("a backwards range was accepted")
	}
	if _, err := ParseRanges("1:1..2:2"); err == nil {
		t.Fatal("a range across epochs was accepted")
	}
}
