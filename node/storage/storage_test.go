package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/adler32"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

func entry(z wire.Zxid, path string) *wire.TxnEntry {
	return &wire.TxnEntry{
		Hdr:  wire.TxnHeader{ClientID: 7, Cxid: wire.Xid(z), Zxid: z, Time: 1700000000000 + int64(z), Type: wire.OpCreate},
		Body: &wire.CreateTxn{Path: path, Data: []byte("data-" + path), ACL: []wire.ACL{}, ParentCVersion: int32(z)},
	}
}

func writeLog(t *testing.T, dir string, from, to wire.Zxid, prealloc int64) *TxnLog {
	t.Helper()
	l, err := OpenTxnLog(dir, Options{PreAllocBytes: prealloc, ForceSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for z := from; z <= to; z++ {
		if err := l.Append(entry(z, "/n")); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	return l
}

func readAll(t *testing.T, dir string, from wire.Zxid) ([]*Record, *LogReader) {
	t.Helper()
	files, err := ListLogs(dir)
	if err != nil {
		t.Fatal(err)
	}
	lr := NewLogReader(LogsFrom(files, from))
	var out []*Record
	for {
		r, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	lr.Close()
	return out, lr
}

func TestTxnLogFormat(t *testing.T) {
	dir := t.TempDir()
	l := writeLog(t, dir, 1, 3, 65536)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "log.1"))
	if err != nil {
		t.Fatal(err)
	}
	// Header: "ZKLG", version 2, dbid 0.
	if !bytes.Equal(b[:16], []byte{'Z', 'K', 'L', 'G', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0}) {
		t.Fatalf("header %x", b[:16])
	}
	// First record: Adler32 of the txn bytes, their length, the bytes, 'B'.
	txn := wire.AppendTxnEntry(nil, entry(1, "/n"))
	sum := binary.BigEndian.Uint64(b[16:24])
	l32 := binary.BigEndian.Uint32(b[24:28])
	if sum != uint64(adler32.Checksum(txn)) || int(l32) != len(txn) || !bytes.Equal(b[28:28+len(txn)], txn) || b[28+len(txn)] != 'B' {
		t.Fatalf("record layout wrong")
	}
	// Preallocated as Java's FilePadding does: header + one block, sparse
	// zeros.
	if len(b) != 16+65536 || b[len(b)-1] != 0 {
		t.Fatalf("size %d, want %d", len(b), 16+65536)
	}
	recs, lr := readAll(t, dir, 1)
	if len(recs) != 3 || lr.Torn {
		t.Fatalf("read %d records, torn=%v", len(recs), lr.Torn)
	}
	for i, r := range recs {
		want := entry(wire.Zxid(i+1), "/n")
		if !reflect.DeepEqual(&r.Entry, want) {
			t.Fatalf("record %d: %+v", i, r.Entry)
		}
	}
}

func TestTxnLogRollAndLogsFrom(t *testing.T) {
	dir := t.TempDir()
	l := writeLog(t, dir, 1, 5, 4096)
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	for z := wire.Zxid(6); z <= 9; z++ {
		if err := l.Append(entry(z, "/m")); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	files, _ := ListLogs(dir)
	if len(files) != 2 || files[0].Zxid != 1 || files[1].Zxid != 6 {
		t.Fatalf("files %+v", files)
	}
	// From 3: start with log.1 (holds 3) and include log.6.
	if got := LogsFrom(files, 3); len(got) != 2 {
		t.Fatalf("LogsFrom(3) = %+v", got)
	}
	// From 7: only log.6.
	if got := LogsFrom(files, 7); len(got) != 1 || got[0].Zxid != 6 {
		t.Fatalf("LogsFrom(7) = %+v", got)
	}
	recs, _ := readAll(t, dir, 1)
	if len(recs) != 9 || recs[8].Entry.Hdr.Zxid != 9 {
		t.Fatalf("read %d", len(recs))
	}
}

// A crash mid-write leaves a partial last record; the reader stops before
// it (Java: "Last transaction was partial") and CutTornTail removes it.
func TestTornTail(t *testing.T) {
	for _, cut := range []int{1, 5, 12, 20, -1} {
		dir := t.TempDir()
		l := writeLog(t, dir, 1, 4, 4096)
		l.Close()
		path := filepath.Join(dir, "log.1")
		recs, _ := readAll(t, dir, 1)
		last := recs[3]
		// Zero everything from inside the last record to the end (what a
		// preallocated file holds after an interrupted write).
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		off := last.Offset + int64(cut)
		if cut < 0 {
			off = last.End - 1 // only the 'B' is missing
		}
		if _, err := f.WriteAt(make([]byte, st.Size()-off), off); err != nil {
			t.Fatal(err)
		}
		f.Close()
		recs, lr := readAll(t, dir, 1)
		if len(recs) != 3 {
			t.Fatalf("cut %d: read %d records", cut, len(recs))
		}
		if cut >= 12 || cut < 0 {
			if !lr.Torn || lr.TornOffset != last.Offset {
				t.Fatalf("cut %d: torn=%v at %d, want %d", cut, lr.Torn, lr.TornOffset, last.Offset)
			}
			if err := CutTornTail(lr.TornFile, lr.TornOffset); err != nil {
				t.Fatal(err)
			}
			recs, lr = readAll(t, dir, 1)
			if len(recs) != 3 || lr.Torn {
				t.Fatalf("after cut: %d records, torn=%v", len(recs), lr.Torn)
			}
		}
	}
}

func TestCRCMismatchIsAnError(t *testing.T) {
	dir := t.TempDir()
	l := writeLog(t, dir, 1, 3, 4096)
	l.Close()
	recs, _ := readAll(t, dir, 1)
	path := filepath.Join(dir, "log.1")
	b, _ := os.ReadFile(path)
	b[recs[1].Offset+14] ^= 0x40 // a data byte of the second record
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	files, _ := ListLogs(dir)
	lr := NewLogReader(files)
	defer lr.Close()
	if _, err := lr.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := lr.Next(); !errors.Is(err, ErrCRC) {
		t.Fatalf("flipped byte: err = %v, want CRC error", err)
	}
}

func TestTruncateTo(t *testing.T) {
	dir := t.TempDir()
	l := writeLog(t, dir, 1, 5, 4096)
	l.Roll()
	for z := wire.Zxid(6); z <= 8; z++ {
		l.Append(entry(z, "/x"))
	}
	l.Close()
	if err := TruncateTo(dir, 3); err != nil {
		t.Fatal(err)
	}
	recs, _ := readAll(t, dir, 1)
	if len(recs) != 3 || recs[2].Entry.Hdr.Zxid != 3 {
		t.Fatalf("after TRUNC to 3: %d records", len(recs))
	}
	if files, _ := ListLogs(dir); len(files) != 1 {
		t.Fatalf("later log files not removed: %+v", files)
	}
}

func TestDiscardDropsUnsyncedTail(t *testing.T) {
	dir := t.TempDir()
	l := writeLog(t, dir, 1, 2, 4096)
	l.Append(entry(3, "/unsynced"))
	if err := l.Discard(); err != nil {
		t.Fatal(err)
	}
	l.Append(entry(3, "/again"))
	l.Close()
	recs, _ := readAll(t, dir, 1)
	if len(recs) != 3 || recs[2].Entry.Body.(*wire.CreateTxn).Path != "/again" {
		t.Fatalf("records after discard: %d", len(recs))
	}
}

type memTree struct {
	sessions map[wire.SessionID]int32
	acls     map[int64][]wire.ACL
	nodes    []string
	data     map[string][]byte
}

func (m *memTree) Session(id wire.SessionID, to int32) error { m.sessions[id] = to; return nil }
func (m *memTree) ACL(idx int64, acl []wire.ACL) error       { m.acls[idx] = acl; return nil }
func (m *memTree) Node(p string, d []byte, _ int64, _ *wire.StatPersisted) error {
	m.nodes = append(m.nodes, p)
	m.data[p] = d
	return nil
}

func writeSnap(t *testing.T, dir string, comp string) string {
	t.Helper()
	w, err := NewSnapshotWriter(dir, 0x42, comp, true)
	if err != nil {
		t.Fatal(err)
	}
	var jw jute.Writer
	for _, p := range []string{"", "/a", "/a/b", "/zookeeper"} {
		jw.String(p)
		jw.Buffer([]byte("d" + p))
		jw.Long(-1)
		st := wire.StatPersisted{Czxid: 1}
		st.Encode(&jw)
	}
	if err := w.WriteNodes(jw.Bytes()); err != nil {
		t.Fatal(err)
	}
	path, err := w.Finish(SnapshotTail{
		Sessions: []wire.SessionTouch{{SessionID: 5, TimeoutMs: 4000}},
		ACLs:     []IndexedACL{{Index: 1, ACL: []wire.ACL{{Perms: 1, ID: wire.ID{Scheme: "world", ID: "anyone"}}}}},
		Digest:   &ZxidDigest{Zxid: 0x42, Version: 2, Digest: 12345},
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, comp := range []string{CompressNone, CompressGzip, CompressSnappy} {
		dir := t.TempDir()
		path := writeSnap(t, dir, comp)
		snaps, _ := ListSnapshots(dir)
		if len(snaps) != 1 || snaps[0].Path != path || snaps[0].Zxid != 0x42 || snaps[0].Compression != comp {
			t.Fatalf("%q: list %+v", comp, snaps)
		}
		if !LooksValid(snaps[0]) {
			t.Fatalf("%q: not valid", comp)
		}
		m := &memTree{sessions: map[wire.SessionID]int32{}, acls: map[int64][]wire.ACL{}, data: map[string][]byte{}}
		info, err := ReadSnapshot(snaps[0], m)
		if err != nil {
			t.Fatalf("%q: %v", comp, err)
		}
		if m.sessions[5] != 4000 || len(m.acls[1]) != 1 || len(m.nodes) != 4 || string(m.data["/a/b"]) != "d/a/b" {
			t.Fatalf("%q: %+v", comp, m)
		}
		if info.Digest == nil || info.Digest.Digest != 12345 {
			t.Fatalf("%q: digest %+v", comp, info.Digest)
		}
	}
}

func TestSnapshotCorruptionDetected(t *testing.T) {
	dir := t.TempDir()
	path := writeSnap(t, dir, CompressNone)
	b, _ := os.ReadFile(path)
	b[40] ^= 1
	os.WriteFile(path, b, 0o644)
	snaps, _ := ListSnapshots(dir)
	m := &memTree{sessions: map[wire.SessionID]int32{}, acls: map[int64][]wire.ACL{}, data: map[string][]byte{}}
	if _, err := ReadSnapshot(snaps[0], m); err == nil {
		t.Fatal("flipped byte not detected")
	}
	// A truncated snapshot does not even look valid.
	os.WriteFile(path, b[:len(b)-3], 0o644)
	if LooksValid(snaps[0]) {
		t.Fatal("truncated snapshot looks valid")
	}
}

func TestEpochFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadEpoch(dir, CurrentEpochFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	if err := WriteEpoch(dir, CurrentEpochFile, 7); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, CurrentEpochFile))
	if string(b) != "7" {
		t.Fatalf("file holds %q; Java writes the bare number", b)
	}
	if v, err := ReadEpoch(dir, CurrentEpochFile); err != nil || v != 7 {
		t.Fatal(v, err)
	}
	// A crash between write and rename leaves only the .tmp: Java uses it.
	os.Remove(filepath.Join(dir, CurrentEpochFile))
	os.WriteFile(filepath.Join(dir, CurrentEpochFile+".tmp"), []byte("9"), 0o644)
	if v, err := ReadEpoch(dir, CurrentEpochFile); err != nil || v != 9 {
		t.Fatal(v, err)
	}
}

func TestPurgeKeepsWhatRetainedSnapshotsNeed(t *testing.T) {
	dir := t.TempDir()
	touch := func(name string, content []byte) {
		os.WriteFile(filepath.Join(dir, name), content, 0o644)
	}
	valid := append(make([]byte, 20), seal...)
	for _, z := range []string{"10", "20", "30", "40"} {
		touch("snapshot."+z, valid)
	}
	for _, z := range []string{"1", "15", "25", "35", "45"} {
		touch("log."+z, []byte("x"))
	}
	removed, err := Purge(dir, dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(dir)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	// Retained: snapshots 20, 30, 40; logs needed from 20 on: log.15 (holds
	// txns after 20) and later.
	want := []string{"log.15", "log.25", "log.35", "log.45", "snapshot.20", "snapshot.30", "snapshot.40"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("left %v, want %v (removed %v)", names, want, removed)
	}
}

// A crash right after a log file was created leaves it with a header and
// at most a torn txn; the next writer must reuse that name (Java's
// FileOutputStream overwrites it), but never overwrite a file with txns.
func TestCreateOverLeftoverLog(t *testing.T) {
	for _, leftover := range []string{"empty", "header", "torn"} {
		dir := t.TempDir()
		l := writeLog(t, dir, 1, 3, 4096)
		l.Roll()
		if err := l.Append(entry(4, "/x")); err != nil {
			t.Fatal(err)
		}
		l.Close()
		path := filepath.Join(dir, "log.4")
		b, _ := os.ReadFile(path)
		switch leftover {
		case "empty":
			b = nil
		case "header":
			b = b[:16]
		case "torn":
			b = append(b[:16], make([]byte, 64)...)
			b[16+3] = 40 // a length, then zeros: the txn never made it
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		l2, err := OpenTxnLog(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := l2.Append(entry(4, "/y")); err != nil {
			t.Fatalf("%s leftover: %v", leftover, err)
		}
		if err := l2.Close(); err != nil {
			t.Fatal(err)
		}
		recs, lr := readAll(t, dir, 1)
		if len(recs) != 4 || lr.Torn || recs[3].Entry.Body.(*wire.CreateTxn).Path != "/y" {
			t.Fatalf("%s leftover: %d records, torn=%v", leftover, len(recs), lr.Torn)
		}
	}
	// A file that holds a txn is never overwritten.
	dir := t.TempDir()
	l := writeLog(t, dir, 1, 3, 4096)
	l.Close()
	l2, _ := OpenTxnLog(dir, Options{})
	if err := l2.Append(entry(1, "/z")); err == nil {
		t.Fatal("overwrote a log file holding txns")
	}
}
