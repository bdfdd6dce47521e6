package zab

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/wire"
)

func broadcastReadyString(r BroadcastReady) string {
	var parts []string
	if len(r.Append) > 0 {
		parts = append(parts, "append "+zs(r.Append))
	}
	for _, m := range r.Messages {
		parts = append(parts, fmt.Sprintf("send %v %d:%d", m.Type, m.Zxid.Epoch(), m.Zxid.Counter()))
	}
	if len(r.Apply) > 0 {
		parts = append(parts, "apply "+zs(r.Apply))
	}
	if r.Ping != nil {
		parts = append(parts, "ping")
	}
	if r.Revalidate != nil {
		parts = append(parts, "revalidate")
	}
	if r.Sync {
		parts = append(parts, "sync")
	}
	for _, w := range r.Warnings {
		parts = append(parts, "warn: "+w)
	}
	for _, e := range r.Errors {
		parts = append(parts, "error-log: "+e)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

// runBroadcast plays "PACKET => expected ready" lines, and "durable E:C
// => ready" for a durable log up to E:C; "=> error: text" expects an
// error containing text.
func runBroadcast(t *testing.T, b *Broadcast, script string) {
	t.Helper()
	for n, line := range strings.Split(strings.TrimSpace(script), "\n") {
		in, want, ok := strings.Cut(line, "=>")
		if !ok {
			t.Fatalf("line %d: no =>", n+1)
		}
		in, want = strings.TrimSpace(in), strings.TrimSpace(want)
		var r BroadcastReady
		var err error
		if z, ok := strings.CutPrefix(in, "durable "); ok {
			var e, c uint32
			if _, err := fmt.Sscanf(z, "%d:%d", &e, &c); err != nil {
				t.Fatalf("line %d: %v", n+1, err)
			}
			r = b.Durable(wire.MakeZxid(e, c))
		} else {
			qp := pkt(t, in)
			r, err = b.Step(&qp)
		}
		got := broadcastReadyString(r)
		if err != nil {
			got = "error: " + err.Error()
		}
		if strings.HasPrefix(want, "error: ") {
			if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(want, "error: ")) {
				t.Fatalf("line %d %q: got %s, want an error with %q", n+1, in, got, want)
			}
			continue
		}
		if got != want {
			t.Fatalf("line %d %q:\n got %s\nwant %s", n+1, in, got, want)
		}
	}
}

func TestBroadcastFollower(t *testing.T) {
	sy := Synced{Mode: wire.PacketDiff, NewEpoch: 2, Logged: []*wire.TxnEntry{entry(zx(1, 7), "/a"), entry(zx(1, 8), "/b")},
		NotCommitted: []*wire.TxnEntry{entry(zx(2, 1), "/c")}, Committed: []wire.Zxid{zx(1, 7)}}
	b, r, err := NewBroadcast(BroadcastConfig{LastZxid: zx(1, 6), MaxRecord: 1 << 20}, sy)
	if err != nil {
		t.Fatal(err)
	}
	// What came after NEWLEADER is logged, the COMMITs seen applied.
	if got := broadcastReadyString(r); got != "append 2:1; apply 1:7" {
		t.Fatalf("start: %s", got)
	}
	runBroadcast(t, b, `
PROPOSAL 2:2 => append 2:2
PROPOSAL 2:4 => append 2:4; warn: Got zxid 0x200000004 out of sequence, expected 0x200000003
durable 2:2 => send ACK 2:1; send ACK 2:2
COMMIT 1:8 => apply 1:8
COMMIT 2:1 => apply 2:1
PING => ping
REVALIDATE => revalidate
SYNC => sync
INFORM 2:5 => warn: Unknown packet type INFORM
UPTODATE => error-log: Received an UPTODATE message after the learner started
durable 2:4 => send ACK 2:4
durable 2:4 => -
COMMIT 2:2 => apply 2:2
COMMIT 2:4 => apply 2:4
COMMIT 2:5 => warn: Committing 0x200000005 without seeing txn
PROPOSAL 3:1 => append 3:1
`)
	if b.LastQueued() != zx(3, 1) || b.Pending() != 1 {
		t.Fatalf("last queued %v, pending %d", b.LastQueued(), b.Pending())
	}
}

func TestBroadcastCommitMismatch(t *testing.T) {
	b, _, _ := NewBroadcast(BroadcastConfig{LastZxid: zx(1, 0), MaxRecord: 1 << 20}, Synced{})
	runBroadcast(t, b, `
PROPOSAL 1:1 => append 1:1
PROPOSAL 1:2 => append 1:2
COMMIT 1:2 => error: Committing zxid 0x100000002 but next pending txn 0x100000001
`)
	qp := pkt(t, "COMMIT 1:2")
	if _, err := b.Step(&qp); !errors.Is(err, ErrCommitMismatch) {
		t.Fatalf("got %v, want ErrCommitMismatch", err)
	}
	// The sync's COMMITs are checked the same way.
	_, _, err := NewBroadcast(BroadcastConfig{LastZxid: zx(1, 0), MaxRecord: 1 << 20},
		Synced{Logged: []*wire.TxnEntry{entry(zx(1, 1), "/a")}, Committed: []wire.Zxid{zx(1, 2)}})
	if !errors.Is(err, ErrCommitMismatch) {
		t.Fatalf("sync's commits: got %v, want ErrCommitMismatch", err)
	}
	b, _, _ = NewBroadcast(BroadcastConfig{LastZxid: zx(1, 0), MaxRecord: 1 << 20}, Synced{})
	runBroadcast(t, b, `BAD-PROPOSAL 1:1 => error: PROPOSAL 0x100000001 does not decode`)
}

func TestBroadcastObserver(t *testing.T) {
	sy := Synced{Mode: wire.PacketSnap, NewEpoch: 2, NotCommitted: []*wire.TxnEntry{entry(zx(1, 7), "/a"), entry(zx(1, 8), "/b")},
		Committed: []wire.Zxid{zx(1, 8)}}
	b, r, err := NewBroadcast(BroadcastConfig{Observer: true, LastZxid: zx(1, 6), MaxRecord: 1 << 20}, sy)
	if err != nil {
		t.Fatal(err)
	}
	if got := broadcastReadyString(r); got != "append 1:8; apply 1:8; warn: proposal 0x100000007 without a matching commit after sync; skipping" {
		t.Fatalf("start: %s", got)
	}
	runBroadcast(t, b, `
INFORM 2:1 => append 2:1; apply 2:1
PROPOSAL 2:2 => warn: Ignoring proposal 0x200000002
COMMIT 2:2 => warn: Ignoring commit 0x200000002
durable 2:1 => -
PING => ping
`)
	bad := wire.QuorumPacket{Type: wire.PacketInformAndActivate, Zxid: zx(2, 3), Data: []byte{1}}
	if _, err := b.Step(&bad); err == nil {
		t.Fatal("a short INFORMANDACTIVATE was taken")
	}
	ia := wire.QuorumPacket{Type: wire.PacketInformAndActivate, Zxid: zx(2, 3),
		Data: append(make([]byte, 8), wire.AppendTxnEntry(nil, entry(zx(2, 3), "/r"))...)}
	if r, err := b.Step(&ia); err != nil || broadcastReadyString(r) != "append 2:3; apply 2:3" {
		t.Fatalf("INFORMANDACTIVATE: %s %v", broadcastReadyString(r), err)
	}
	if b.LastQueued() != zx(2, 3) || !b.Observer() {
		t.Fatalf("last queued %v", b.LastQueued())
	}
}
