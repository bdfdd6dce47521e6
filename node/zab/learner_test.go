package zab

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/wire"
)

func zs(es []*wire.TxnEntry) string {
	var parts []string
	for _, e := range es {
		parts = append(parts, fmt.Sprintf("%d:%d", e.Hdr.Zxid.Epoch(), e.Hdr.Zxid.Counter()))
	}
	return strings.Join(parts, ",")
}

func learnerReadyString(r LearnerReady) string {
	var parts []string
	if r.Truncate {
		parts = append(parts, fmt.Sprintf("truncate %d:%d", r.TruncateTo.Epoch(), r.TruncateTo.Counter()))
	}
	if r.ReceiveSnapshot {
		parts = append(parts, fmt.Sprintf("receive-snapshot %d:%d", r.SnapshotZxid.Epoch(), r.SnapshotZxid.Counter()))
	}
	if len(r.Apply) > 0 {
		parts = append(parts, "apply "+zs(r.Apply))
	}
	if r.WriteSnapshot {
		parts = append(parts, "write-snapshot")
	}
	if len(r.Append) > 0 {
		parts = append(parts, "append+sync "+zs(r.Append))
	}
	if h := r.HardState; h != nil {
		parts = append(parts, fmt.Sprintf("persist accepted=%d current=%d", h.AcceptedEpoch, h.CurrentEpoch))
	}
	for _, m := range r.Messages {
		s := fmt.Sprintf("send %v %d:%d", m.Type, m.Zxid.Epoch(), m.Zxid.Counter())
		if m.Type == wire.PacketAckEpoch {
			e, _ := wire.ParseEpochData(m.Data)
			s += fmt.Sprintf(" epoch=%d", e)
		}
		parts = append(parts, s)
	}
	for _, w := range r.Warnings {
		parts = append(parts, "warn: "+w)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

// pkt parses "LEADERINFO 2:0", "PROPOSAL 1:7", "COMMIT 1:7", "INFORM 1:7",
// "DIFF 1:9", "SNAP 1:9", "TRUNC 1:5", "NEWLEADER 2:0", "UPTODATE",
// "PING", "REVALIDATE", "SYNC", "BAD-PROPOSAL".
func pkt(t *testing.T, s string) wire.QuorumPacket {
	t.Helper()
	f := strings.Fields(s)
	var z wire.Zxid
	if len(f) > 1 {
		var e, c uint32
		if _, err := fmt.Sscanf(f[1], "%d:%d", &e, &c); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		z = wire.MakeZxid(e, c)
	}
	switch f[0] {
	case "LEADERINFO":
		return wire.QuorumPacket{Type: wire.PacketLeaderInfo, Zxid: z, Data: wire.EpochData(wire.ProtocolVersion)}
	case "PROPOSAL":
		return wire.QuorumPacket{Type: wire.PacketProposal, Zxid: z, Data: wire.AppendTxnEntry(nil, entry(z, "/p"))}
	case "BAD-PROPOSAL":
		return wire.QuorumPacket{Type: wire.PacketProposal, Zxid: z, Data: []byte{1, 2}}
	case "INFORM":
		return wire.QuorumPacket{Type: wire.PacketInform, Zxid: z, Data: wire.AppendTxnEntry(nil, entry(z, "/i"))}
	case "COMMIT":
		return wire.QuorumPacket{Type: wire.PacketCommit, Zxid: z}
	case "DIFF":
		return wire.QuorumPacket{Type: wire.PacketDiff, Zxid: z}
	case "SNAP":
		return wire.QuorumPacket{Type: wire.PacketSnap, Zxid: z}
	case "TRUNC":
		return wire.QuorumPacket{Type: wire.PacketTrunc, Zxid: z}
	case "NEWLEADER":
		return wire.QuorumPacket{Type: wire.PacketNewLeader, Zxid: z}
	case "UPTODATE":
		return wire.QuorumPacket{Type: wire.PacketUpToDate, Zxid: -1}
	case "PING":
		return wire.QuorumPacket{Type: wire.PacketPing}
	case "REVALIDATE":
		return wire.QuorumPacket{Type: wire.PacketRevalidate}
	case "SYNC":
		return wire.QuorumPacket{Type: wire.PacketSync}
	}
	t.Fatalf("bad packet %q", s)
	return wire.QuorumPacket{}
}

// runLearner plays "PACKET => expected ready" lines; "=> error: text"
// expects an error containing text.
func runLearner(t *testing.T, l *LearnerSync, script string) {
	t.Helper()
	for n, line := range strings.Split(strings.TrimSpace(script), "\n") {
		in, want, ok := strings.Cut(line, "=>")
		if !ok {
			t.Fatalf("line %d: no =>", n+1)
		}
		want = strings.TrimSpace(want)
		qp := pkt(t, strings.TrimSpace(in))
		r, err := l.Step(&qp)
		got := learnerReadyString(r)
		if err != nil {
			got = "error: " + err.Error()
		}
		if strings.HasPrefix(want, "error: ") {
			if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(want, "error: ")) {
				t.Fatalf("line %d %q: got %s, want an error with %q", n+1, strings.TrimSpace(in), got, want)
			}
			continue
		}
		if got != want {
			t.Fatalf("line %d %q:\n got %s\nwant %s", n+1, strings.TrimSpace(in), got, want)
		}
	}
}

func TestLearnerSyncDiff(t *testing.T) {
	l := NewLearnerSync(LearnerConfig{ID: 2, LastLogged: zx(1, 6), AcceptedEpoch: 1, CurrentEpoch: 1, MaxRecord: 1 << 20})
	if st := l.Start(); st.Type != wire.PacketFollowerInfo || st.Zxid != zx(1, 0) {
		t.Fatalf("Start %v %v", st.Type, st.Zxid)
	}
	runLearner(t, l, `
LEADERINFO 2:0 => persist accepted=2 current=1; send ACKEPOCH 1:6 epoch=1
DIFF 1:8 => -
PROPOSAL 1:7 => -
COMMIT 1:7 => -
PING => -
PROPOSAL 1:8 => -
NEWLEADER 2:0 => append+sync 1:7,1:8; persist accepted=2 current=2; send ACK 2:0
PROPOSAL 2:1 => -
COMMIT 1:8 => -
NEWLEADER 2:0 => warn: second NEWLEADER during sync; ignoring
UPTODATE => send ACK 2:0; send ACK 1:7; send ACK 1:8
`)
	s := l.Synced()
	if l.State() != LearnerSynced || s.Mode != wire.PacketDiff || s.NewEpoch != 2 || zs(s.Logged) != "1:7,1:8" ||
		zs(s.NotCommitted) != "2:1" || fmt.Sprint(s.Committed) != "[0x100000007 0x100000008]" {
		t.Fatalf("%v %+v", l.State(), s)
	}
	if _, err := l.Step(&wire.QuorumPacket{Type: wire.PacketPing}); err == nil {
		t.Fatal("a packet after the sync was taken")
	}
}

func TestLearnerSyncSnapAndTrunc(t *testing.T) {
	l := NewLearnerSync(LearnerConfig{ID: 2, LastLogged: 0, AcceptedEpoch: 3, CurrentEpoch: 2, MaxRecord: 1 << 20})
	runLearner(t, l, `
LEADERINFO 3:0 => send ACKEPOCH 0:0 epoch=-1
SNAP 2:9 => receive-snapshot 2:9
PROPOSAL 2:10 => -
COMMIT 2:11 => warn: Committing 0x20000000b, which is not the next proposal (0x20000000a)
COMMIT 2:10 => apply 2:10
PROPOSAL 2:12 => warn: Got zxid 0x20000000c out of sequence, expected 0x20000000b
NEWLEADER 3:0 => write-snapshot; append+sync 2:12; persist accepted=3 current=3; send ACK 3:0
UPTODATE => send ACK 3:0; send ACK 2:12
`)
	l = NewLearnerSync(LearnerConfig{ID: 2, LastLogged: zx(1, 9), AcceptedEpoch: 1, CurrentEpoch: 1, MaxRecord: 1 << 20})
	runLearner(t, l, `
LEADERINFO 2:0 => persist accepted=2 current=1; send ACKEPOCH 1:9 epoch=1
TRUNC 1:7 => truncate 1:7
NEWLEADER 2:0 => write-snapshot; persist accepted=2 current=2; send ACK 2:0
UPTODATE => send ACK 2:0
`)
}

func TestLearnerSyncObserver(t *testing.T) {
	l := NewLearnerSync(LearnerConfig{ID: 4, Observer: true, LastLogged: zx(1, 2), AcceptedEpoch: 1, CurrentEpoch: 1, MaxRecord: 1 << 20})
	if st := l.Start(); st.Type != wire.PacketObserverInfo {
		t.Fatalf("Start %v", st.Type)
	}
	runLearner(t, l, `
LEADERINFO 2:0 => persist accepted=2 current=1; send ACKEPOCH 1:2 epoch=1
SNAP 1:5 => receive-snapshot 1:5
INFORM 1:6 => apply 1:6
NEWLEADER 2:0 => write-snapshot; persist accepted=2 current=2; send ACK 2:0
INFORM 1:7 => -
UPTODATE => send ACK 2:0
`)
	if s := l.Synced(); zs(s.NotCommitted) != "1:7" || len(s.Committed) != 1 || len(s.Logged) != 0 {
		t.Fatalf("%+v", s)
	}
}

func TestLearnerSyncRefusals(t *testing.T) {
	cfg := LearnerConfig{ID: 2, LastLogged: zx(3, 1), AcceptedEpoch: 3, CurrentEpoch: 3, MaxRecord: 1 << 20}
	for _, tc := range []struct{ name, script string }{
		{"not LEADERINFO first", `NEWLEADER 4:0 => error: not LEADERINFO`},
		{"an older epoch", `LEADERINFO 2:0 => error: less than accepted epoch, 3`},
		{"an unknown sync mode", "LEADERINFO 4:0 => persist accepted=4 current=3; send ACKEPOCH 3:1 epoch=3\nPROPOSAL 3:2 => error: expected DIFF, SNAP or TRUNC"},
		{"UPTODATE before NEWLEADER", "LEADERINFO 3:0 => send ACKEPOCH 3:1 epoch=-1\nDIFF 3:1 => -\nUPTODATE => error: UPTODATE before NEWLEADER"},
		{"a proposal that does not decode", "LEADERINFO 3:0 => send ACKEPOCH 3:1 epoch=-1\nDIFF 3:1 => -\nBAD-PROPOSAL 3:2 => error: PROPOSAL"},
		{"unexpected packets are logged", "LEADERINFO 3:0 => send ACKEPOCH 3:1 epoch=-1\nDIFF 3:1 => -\nREVALIDATE => warn: ignoring unexpected REVALIDATE during sync"},
	} {
		t.Run(tc.name, func(t *testing.T) { runLearner(t, NewLearnerSync(cfg), tc.script) })
	}
	l := NewLearnerSync(cfg)
	lq := pkt(t, "LEADERINFO 4:0")
	l.Step(&lq)
	bad := pkt(t, "PROPOSAL 3:2")
	if _, err := l.Step(&bad); !errors.Is(err, ErrLearnerFatal) {
		t.Fatalf("an unknown sync mode: %v, want ErrLearnerFatal", err)
	}
}
