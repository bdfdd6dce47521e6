package node

import (
	"os"
	"testing"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// A DIFF built from the txn log never skips a txn: a zxid hole makes the
// leader sync by SNAP, and damage ends what it uses (contiguous up to the
// damage; the caller sends a SNAP unless that reaches the committed log).
func TestProposalsFromLogNeverSkipATxn(t *testing.T) {
	write := func(t *testing.T, zxids ...wire.Zxid) *Server {
		t.Helper()
		s, err := New(sweepConfig(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		l, err := storage.OpenTxnLog(s.dur.logDir(), storage.Options{PreAllocBytes: 8192})
		if err != nil {
			t.Fatal(err)
		}
		for _, z := range zxids {
			e := &wire.TxnEntry{Hdr: wire.TxnHeader{ClientID: 1, Zxid: z, Type: wire.OpCreate},
				Body: &wire.CreateTxn{Path: "/n", ACL: tree.OpenACLUnsafe}}
			if err := l.Append(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	got := func(es []zab.Committed) []wire.Zxid {
		var out []wire.Zxid
		for _, e := range es {
			out = append(out, e.Zxid)
		}
		return out
	}
	s := write(t, 1, 2, 3, 4, 5)
	if z := got(proposalsFromLog(zerolog.Nop(), s.dur.snapDir(), s.dur.logDir(), s.cfg.RecordLimit(), 2, 0)); len(z) != 4 || z[0] != 2 || z[3] != 5 {
		t.Fatalf("contiguous log: %v", z)
	}
	s = write(t, 1, 2, 3, 6, 7)
	if z := got(proposalsFromLog(zerolog.Nop(), s.dur.snapDir(), s.dur.logDir(), s.cfg.RecordLimit(), 2, 0)); z != nil {
		t.Fatalf("log with a hole after 3: %v, want none (SNAP)", z)
	}
	s = write(t, 1, 2, 3, 4, 5, 6)
	logs, _ := storage.ListLogs(s.dur.logDir())
	b, _ := os.ReadFile(logs[0].Path)
	lr := storage.NewLogReader(logs, 0)
	var fourth *storage.Record
	for i := 0; i < 4; i++ {
		fourth, _ = lr.Next()
	}
	lr.Close()
	b[fourth.Offset+7] ^= 1
	os.WriteFile(logs[0].Path, b, 0o644)
	if z := got(proposalsFromLog(zerolog.Nop(), s.dur.snapDir(), s.dur.logDir(), s.cfg.RecordLimit(), 2, 0)); len(z) != 2 || z[0] != 2 || z[1] != 3 {
		t.Fatalf("log damaged at 4: %v, want 2 and 3 only", z)
	}
}

// Issue 16: a server synced by SNAP at 2:5 whose txn log still holds what
// it logged in epoch 1 (1:4 and 1:5 were never committed: the leader of
// epoch 2 did not have them) must not build a DIFF from that log once it
// leads: read from 1:3 it goes 1:3 1:4 1:5 2:6..., sending two txns that
// are not in the committed history and skipping 2:1..2:5, which only the
// snapshot holds. The leader syncs such a learner by SNAP instead.
func TestProposalsFromLogRefusesTheHoleOfASnapSync(t *testing.T) {
	write := func(t *testing.T, snapAt wire.Zxid, files ...[]wire.Zxid) *Server {
		t.Helper()
		s, err := New(sweepConfig(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		for _, zxids := range files {
			l, err := storage.OpenTxnLog(s.dur.logDir(), storage.Options{PreAllocBytes: 8192})
			if err != nil {
				t.Fatal(err)
			}
			for _, z := range zxids {
				e := &wire.TxnEntry{Hdr: wire.TxnHeader{ClientID: 1, Zxid: z, Type: wire.OpCreate},
					Body: &wire.CreateTxn{Path: "/n", ACL: tree.OpenACLUnsafe}}
				if err := l.Append(e); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if snapAt != 0 {
			// The snapshot the SNAP sync left (its content does not
			// matter here: only its zxid and size are used).
			tr := tree.New(s.opts)
			tr.LastZxid = snapAt
			if _, _, err := s.dur.writeSnapshotOf(tr, storage.SnapshotTail{}); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	z := func(epoch, counter uint32) wire.Zxid { return wire.MakeZxid(epoch, counter) }
	span := func(epoch, from, to uint32) []wire.Zxid {
		var out []wire.Zxid
		for c := from; c <= to; c++ {
			out = append(out, z(epoch, c))
		}
		return out
	}
	got := func(es []zab.Committed) []wire.Zxid {
		var out []wire.Zxid
		for _, e := range es {
			out = append(out, e.Zxid)
		}
		return out
	}
	// The committed history: 1:1..1:3, then 2:1..2:8 (2:1..2:5 in the
	// snapshot, 2:6..2:8 logged after the sync), then what epoch 3 adds.
	history := append(span(1, 1, 3), span(2, 1, 8)...)
	check := func(name string, s *Server, peer wire.Zxid) {
		t.Helper()
		zs := got(proposalsFromLog(zerolog.Nop(), s.dur.snapDir(), s.dur.logDir(), s.cfg.RecordLimit(), peer, 0))
		if zs == nil {
			return // a SNAP
		}
		// A DIFF must be the committed history from peer on, whole.
		i := 0
		for i < len(history) && history[i] != peer {
			i++
		}
		for k, zz := range zs {
			if i+k >= len(history) || history[i+k] != zz {
				t.Fatalf("%s: the DIFF from the log is %v, not the committed history from %v (%v)", name, zs, peer, history[i:])
			}
		}
	}
	// SNAP at 2:5; the snapshot at NEWLEADER is at 2:5.
	check("snapshot at the SNAP's zxid", write(t, z(2, 5), span(1, 1, 5), span(2, 6, 8)), z(1, 3))
	// The snapshot at NEWLEADER went past the SNAP's zxid (txns committed
	// during the sync, logged after it): only the epoch jump shows it.
	check("snapshot past the SNAP's zxid", write(t, z(2, 7), span(1, 1, 5), span(2, 6, 8)), z(1, 3))
	// The snapshot taken, nothing logged after it in its epoch: the log
	// goes on in epoch 3 at 3:1, and only the snapshot shows the hole.
	history = append(history, span(3, 1, 2)...)
	check("snapshot in an epoch the log skips", write(t, z(2, 8), span(1, 1, 5), span(3, 1, 2)), z(1, 3))

	// A log without a hole still serves a DIFF across epochs and
	// snapshots.
	s := write(t, z(2, 2), append(span(1, 1, 3), span(2, 1, 4)...))
	if zs := got(proposalsFromLog(zerolog.Nop(), s.dur.snapDir(), s.dur.logDir(), s.cfg.RecordLimit(), z(1, 2), 0)); len(zs) != 6 || zs[0] != z(1, 2) || zs[5] != z(2, 4) {
		t.Fatalf("contiguous log across epochs: %v", zs)
	}
}
