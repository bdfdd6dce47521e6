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
		l, err := storage.OpenTxnLog(s.logDir(), storage.Options{PreAllocBytes: 8192})
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
	if z := got(proposalsFromLog(zerolog.Nop(), s.snapDir(), s.logDir(), s.cfg.RecordLimit(), 2, 0)); len(z) != 4 || z[0] != 2 || z[3] != 5 {
		t.Fatalf("contiguous log: %v", z)
	}
	s = write(t, 1, 2, 3, 6, 7)
	if z := got(proposalsFromLog(zerolog.Nop(), s.snapDir(), s.logDir(), s.cfg.RecordLimit(), 2, 0)); z != nil {
		t.Fatalf("log with a hole after 3: %v, want none (SNAP)", z)
	}
	s = write(t, 1, 2, 3, 4, 5, 6)
	logs, _ := storage.ListLogs(s.logDir())
	b, _ := os.ReadFile(logs[0].Path)
	lr := storage.NewLogReader(logs, 0)
	var fourth *storage.Record
	for i := 0; i < 4; i++ {
		fourth, _ = lr.Next()
	}
	lr.Close()
	b[fourth.Offset+7] ^= 1
	os.WriteFile(logs[0].Path, b, 0o644)
	if z := got(proposalsFromLog(zerolog.Nop(), s.snapDir(), s.logDir(), s.cfg.RecordLimit(), 2, 0)); len(z) != 2 || z[0] != 2 || z[1] != 3 {
		t.Fatalf("log damaged at 4: %v, want 2 and 3 only", z)
	}
}
