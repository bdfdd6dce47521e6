package fle

import (
	"testing"

	"github.com/zkgo/zkgo/wire"
)

func TestVoteEqual(t *testing.T) {
	const (
		L = wire.ServerLooking
		F = wire.ServerFollowing
		D = wire.ServerLeading
	)
	base := Vote{Leader: 2, Zxid: 0x100000005, ElectionEpoch: 3, PeerEpoch: 1, Version: 2}
	with := func(f func(*Vote)) Vote { v := base; f(&v); return v }
	for _, tc := range []struct {
		name string
		a, b Vote
		want bool
	}{
		{"looking identical", with(func(v *Vote) { v.State = L }), with(func(v *Vote) { v.State = L }), true},
		{"looking zxid differs", with(func(v *Vote) { v.State = L }), with(func(v *Vote) { v.State = L; v.Zxid++ }), false},
		{"looking round differs", with(func(v *Vote) { v.State = L }), with(func(v *Vote) { v.State = L; v.ElectionEpoch++ }), false},
		{"looking peer epoch differs", with(func(v *Vote) { v.State = L }), with(func(v *Vote) { v.State = L; v.PeerEpoch++ }), false},
		{"looking leader differs", with(func(v *Vote) { v.State = L }), with(func(v *Vote) { v.State = L; v.Leader++ }), false},
		{"looking vs following compares everything", with(func(v *Vote) { v.State = L }), with(func(v *Vote) { v.State = F; v.Zxid++ }), false},
		{"looking vs following equal fields", with(func(v *Vote) { v.State = L; v.Version = 0 }), with(func(v *Vote) { v.State = F }), true},
		{"out of election ignores zxid and round", with(func(v *Vote) { v.State = F }), with(func(v *Vote) { v.State = D; v.Zxid++; v.ElectionEpoch += 9 }), true},
		{"out of election peer epoch differs", with(func(v *Vote) { v.State = F }), with(func(v *Vote) { v.State = D; v.PeerEpoch++ }), false},
		{"out of election leader differs", with(func(v *Vote) { v.State = F }), with(func(v *Vote) { v.State = D; v.Leader++ }), false},
		{"version 0 vs 2: leader only", with(func(v *Vote) { v.State = F; v.Version = 0 }), with(func(v *Vote) { v.State = D; v.PeerEpoch += 5 }), true},
		{"version 2 vs 0: leader only", with(func(v *Vote) { v.State = F }), with(func(v *Vote) { v.State = F; v.Version = 0; v.PeerEpoch-- }), true},
		{"version 0 vs 2: leader differs", with(func(v *Vote) { v.State = F; v.Version = 0 }), with(func(v *Vote) { v.State = D; v.Leader = 7 }), false},
		{"both version 0 compare peer epoch", with(func(v *Vote) { v.State = F; v.Version = 0 }), with(func(v *Vote) { v.State = D; v.Version = 0; v.PeerEpoch++ }), false},
		{"version 1 vs 2 are both > 0", with(func(v *Vote) { v.State = F; v.Version = 1 }), with(func(v *Vote) { v.State = D; v.PeerEpoch++ }), false},
	} {
		if got := tc.a.Equal(tc.b); got != tc.want {
			t.Errorf("%s: %v.Equal(%v) = %v", tc.name, tc.a, tc.b, got)
		}
		if got := tc.b.Equal(tc.a); got != tc.want {
			t.Errorf("%s (swapped): = %v", tc.name, got)
		}
	}
}

func TestTotalOrder(t *testing.T) {
	for _, tc := range []struct {
		name               string
		nID, nZxid, nEpoch int64
		cID, cZxid, cEpoch int64
		want               bool
	}{
		{"higher epoch wins over higher zxid", 1, 5, 2, 3, 9, 1, true},
		{"lower epoch loses", 3, 9, 1, 1, 5, 2, false},
		{"same epoch higher zxid", 1, 6, 1, 3, 5, 1, true},
		{"same epoch lower zxid", 3, 4, 1, 1, 5, 1, false},
		{"tie broken by sid", 3, 5, 1, 2, 5, 1, true},
		{"tie lower sid", 2, 5, 1, 3, 5, 1, false},
		{"identical is not better", 2, 5, 1, 2, 5, 1, false},
		{"anything beats MinInt64", 1, 0, 0, NoID, NoID, NoID, true},
		{"zxid -1 vs 0", 3, -1, 0, 1, 0, 0, false},
	} {
		got := TotalOrder(tc.nID, wire.Zxid(tc.nZxid), tc.nEpoch, tc.cID, wire.Zxid(tc.cZxid), tc.cEpoch)
		if got != tc.want {
			t.Errorf("%s: got %v", tc.name, got)
		}
	}
}

func TestFromWireVersion(t *testing.T) {
	for _, tc := range []struct {
		layout  int
		version int32
		want    int32
	}{{28, 0, 0}, {40, 1, 0}, {44, 2, 2}, {44, 1, 1}} {
		n := &wire.Notification{State: wire.ServerFollowing, Leader: 3, Zxid: 7, ElectionEpoch: 2, PeerEpoch: 1,
			Version: tc.version, Layout: tc.layout}
		got := FromWire(9, n)
		if got.Version != tc.want || got.From != 9 || got.Leader != 3 || got.Zxid != 7 || got.ElectionEpoch != 2 ||
			got.PeerEpoch != 1 || got.State != wire.ServerFollowing {
			t.Errorf("layout %d: %+v", tc.layout, got)
		}
	}
}

func TestMessageWireRoundTrip(t *testing.T) {
	m := Message{To: 2, State: wire.ServerFollowing, Leader: 3, Zxid: 0x200000001, ElectionEpoch: 4, PeerEpoch: 2}
	cfg := []byte("server.1=127.0.0.1:1:2:participant\nversion=0")
	n := m.Wire(cfg)
	b := wire.AppendNotificationFrame(nil, &n)
	l, ok, err := wire.PeekElectionFrame(b)
	if err != nil || !ok || l != len(b)-4 {
		t.Fatalf("frame %d %v %v", l, ok, err)
	}
	d, err := wire.DecodeNotification(b[4:])
	if err != nil {
		t.Fatal(err)
	}
	got := FromWire(3, &d)
	want := Notification{From: 3, State: m.State, Leader: 3, Zxid: m.Zxid, ElectionEpoch: 4, PeerEpoch: 2, Version: 2}
	if got != want || string(d.Config) != string(cfg) {
		t.Fatalf("got %+v config %q", got, d.Config)
	}
}
