package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

// writeDataDir writes snapshot.0 and a log of txns 1..n in dir/version-2.
func writeDataDir(t *testing.T, dir string, n int) string {
	t.Helper()
	v2 := storage.VersionDir(dir)
	w, err := storage.NewSnapshotWriter(v2, 0, storage.CompressNone, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finish(storage.SnapshotTail{}); err != nil {
		t.Fatal(err)
	}
	l, err := storage.OpenTxnLog(v2, storage.Options{PreAllocBytes: 8192})
	if err != nil {
		t.Fatal(err)
	}
	for z := 1; z <= n; z++ {
		e := &wire.TxnEntry{Hdr: wire.TxnHeader{ClientID: 1, Zxid: wire.Zxid(z), Type: wire.OpCreate},
			Body: &wire.CreateTxn{Path: "/n" + strings.Repeat("x", z), ACL: tree.OpenACLUnsafe}}
		if err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(v2, "log.1")
}

// recordOffsets walks the records of a log file.
func recordOffsets(t *testing.T, path string) []*storage.Record {
	t.Helper()
	lr := storage.NewLogReader([]storage.LogFile{{Path: path}}, 0)
	defer lr.Close()
	var out []*storage.Record
	for {
		r, err := lr.Next()
		if err != nil {
			return out
		}
		out = append(out, r)
	}
}

func TestTxnlogVerifyAndTruncate(t *testing.T) {
	dir := t.TempDir()
	path := writeDataDir(t, dir, 6)
	if got := run([]string{"txnlog", "verify", dir}); got != verifyClean {
		t.Fatalf("verify a clean directory: exit %d", got)
	}
	recs := recordOffsets(t, path)
	b, _ := os.ReadFile(path)
	orig := append([]byte(nil), b...)
	// A torn tail: the last record's 'B' never written.
	b[recs[5].End-1] = 0
	os.WriteFile(path, b, 0o644)
	if got := run([]string{"txnlog", "verify", dir}); got != verifyTorn {
		t.Fatalf("verify a torn tail: exit %d", got)
	}
	// Damage in the middle.
	copy(b, orig)
	b[recs[2].Offset+7] ^= 1
	os.WriteFile(path, b, 0o644)
	if got := run([]string{"txnlog", "verify", filepath.Join(dir, "version-2")}); got != verifyDamaged {
		t.Fatalf("verify damage: exit %d", got)
	}
	// truncate: past the damage is refused; without --yes nothing changes.
	if got := run([]string{"txnlog", "truncate", "--at", "0x4", "--yes", dir}); got != 1 {
		t.Fatalf("truncate across the damage: exit %d", got)
	}
	if got := run([]string{"txnlog", "truncate", "--at", "2", dir}); got != 0 {
		t.Fatalf("truncate dry run: exit %d", got)
	}
	if now, _ := os.ReadFile(path); string(now) != string(b) {
		t.Fatal("a dry run changed the log")
	}
	if got := run([]string{"txnlog", "truncate", "--at", "2", "--yes", dir}); got != 0 {
		t.Fatalf("truncate: exit %d", got)
	}
	if got := run([]string{"txnlog", "verify", dir}); got != verifyClean {
		t.Fatalf("verify after truncate: exit %d", got)
	}
	backups, _ := filepath.Glob(filepath.Join(dir, "zkgo-truncate-*", "log.1"))
	if len(backups) != 1 {
		t.Fatalf("backups %v", backups)
	}
	if saved, _ := os.ReadFile(backups[0]); string(saved) != string(b) {
		t.Fatal("the backup is not the file as it was")
	}
	if got := run([]string{"txnlog", "verify"}); got != verifyUsage {
		t.Fatalf("verify without a directory: exit %d", got)
	}
}
