package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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

func writeLog(t testing.TB, dir string, from, to wire.Zxid, prealloc int64) *TxnLog {
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
	lr := NewLogReader(LogsFrom(files, from), 0)
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
	if len(recs) != 3 || lr.Tail != nil {
		t.Fatalf("read %d records, torn=%v", len(recs), lr.Tail)
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
// it (Java: "Last transaction was partial") and CutTornTail removes it,
// keeping its bytes in a side file.
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
		if cut > 0 && cut <= 4 {
			// The checksum's first 4 bytes are always 0 (Adler32 is 32
			// bits): all zeros, the clean end of the data.
			if lr.Tail != nil {
				t.Fatalf("cut %d: zeros read as a torn record %+v", cut, lr.Tail)
			}
			continue
		}
		if lr.Tail == nil || lr.Tail.Offset != last.Offset {
			t.Fatalf("cut %d: torn=%+v, want at %d", cut, lr.Tail, last.Offset)
		}
		want, _ := os.ReadFile(path)
		want = bytes.TrimRight(want[last.Offset:], "\x00")
		side, err := CutTornTail(lr.Tail)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(side); !bytes.Equal(bytes.TrimRight(got, "\x00"), want) || len(want) == 0 ||
			filepath.Dir(side) != dir || strings.HasPrefix(filepath.Base(side), "log.") {
			t.Fatalf("cut %d: side file %s holds %d bytes, want the %d torn bytes", cut, side, len(got), len(want))
		}
		if files, _ := ListLogs(dir); len(files) != 1 {
			t.Fatalf("the side file is listed as a log: %+v", files)
		}
		recs, lr = readAll(t, dir, 1)
		if len(recs) != 3 || lr.Tail != nil {
			t.Fatalf("after cut: %d records, torn=%v", len(recs), lr.Tail)
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
	lr := NewLogReader(files, 0)
	defer lr.Close()
	if _, err := lr.Next(); err != nil {
		t.Fatal(err)
	}
	_, err := lr.Next()
	var le *LogError
	if !errors.Is(err, ErrCRC) || !errors.As(err, &le) || le.Offset != recs[1].Offset || !le.ZxidKnown || le.Zxid != 2 || le.LastGood != 1 {
		t.Fatalf("flipped byte: err = %v, want a CRC error at %d naming zxids 2 and 1", err, recs[1].Offset)
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
	if err := TruncateTo(dir, 3, 0); err != nil {
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

// A TRUNC to 0 (a leader with no txn at all) removes every log file,
// even though none holds zxid 0 (the oldest starts at 1:1 > 0+1).
func TestTruncateToZeroRemovesEveryLog(t *testing.T) {
	dir := t.TempDir()
	l := writeLog(t, dir, wire.MakeZxid(1, 1), wire.MakeZxid(1, 3), 4096)
	l.Roll()
	l.Append(entry(wire.MakeZxid(1, 4), "/x"))
	l.Close()
	if err := TruncateTo(dir, 0, 0); err != nil {
		t.Fatalf("TRUNC to 0: %v", err)
	}
	if files, _ := ListLogs(dir); len(files) != 0 {
		t.Fatalf("log files left after TRUNC to 0: %+v", files)
	}
	// Any other zxid older than the oldest log is still refused.
	writeLog(t, dir, wire.MakeZxid(1, 5), wire.MakeZxid(1, 6), 4096).Close()
	if err := TruncateTo(dir, wire.MakeZxid(1, 3), 0); err == nil {
		t.Fatal("TRUNC to 1:3 with the log starting at 1:5 succeeded")
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
		info, err := ReadSnapshot(snaps[0], m, 0)
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
	if _, err := ReadSnapshot(snaps[0], m, 0); err == nil {
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
			b[16+11] = 40 // a length, then zeros: the txn never made it
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
		if len(recs) != 4 || lr.Tail != nil || recs[3].Entry.Body.(*wire.CreateTxn).Path != "/y" {
			t.Fatalf("%s leftover: %d records, torn=%v", leftover, len(recs), lr.Tail)
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

// logBytes writes n txns to a fresh log in dir and returns its path, its
// bytes and the records.
func logBytes(t *testing.T, dir string, n int) (string, []byte, []*Record) {
	t.Helper()
	l := writeLog(t, dir, 1, wire.Zxid(n), 4096)
	l.Close()
	recs, _ := readAll(t, dir, 1)
	path := filepath.Join(dir, "log.1")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b, recs
}

// TestLogDamageVersusTornTail: only a record at the very end of the newest
// log, followed by nothing but zeros and damaged only as a crash can damage
// it, is a torn write; everything else is a LogError naming the file, the
// offset and the zxids.
func TestLogDamageVersusTornTail(t *testing.T) {
	zero := func(b []byte, from, to int64) { copy(b[from:to], make([]byte, to-from)) }
	cases := []struct {
		name string
		last bool // damage the last record (else the middle one)
		do   func(b []byte, r *Record)
		torn bool
	}{
		{"last: B missing", true, func(b []byte, r *Record) { b[r.End-1] = 0 }, true},
		{"last: data page unwritten", true, func(b []byte, r *Record) { zero(b, r.Offset+20, r.End-1) }, true},
		{"last: only header written", true, func(b []byte, r *Record) { zero(b, r.Offset+12, r.End) }, true},
		{"last: partial header", true, func(b []byte, r *Record) { zero(b, r.Offset+6, r.End) }, true},
		{"last: checksum bit flip", true, func(b []byte, r *Record) { b[r.Offset+7] ^= 1 }, true},
		{"last: data bit flip", true, func(b []byte, r *Record) { b[r.Offset+30] ^= 1 }, true},
		{"last: B is garbage", true, func(b []byte, r *Record) { b[r.End-1] = 'X' }, false},
		{"last: checksum high bytes", true, func(b []byte, r *Record) { b[r.Offset+1] = 7 }, false},
		{"last: length made larger", true, func(b []byte, r *Record) { b[r.Offset+10] = 1 }, false},
		{"last: length made smaller", true, func(b []byte, r *Record) { b[r.Offset+11] -= 4 }, false},
		{"last: length past the end", true, func(b []byte, r *Record) { b[r.Offset+9] = 0x7f }, false},
		{"last: garbage in the padding", true, func(b []byte, r *Record) { b[r.End-1] = 0; b[r.End+100] = 1 }, false},
		{"middle: B missing", false, func(b []byte, r *Record) { b[r.End-1] = 0 }, false},
		{"middle: checksum", false, func(b []byte, r *Record) { b[r.Offset+7] ^= 1 }, false},
		{"middle: zero length", false, func(b []byte, r *Record) { zero(b, r.Offset+8, r.Offset+12) }, false},
		{"middle: zeroed header", false, func(b []byte, r *Record) { zero(b, r.Offset, r.Offset+12) }, false},
		{"middle: negative length", false, func(b []byte, r *Record) { b[r.Offset+8] = 0x80 }, false},
		{"middle: length over the limit", false, func(b []byte, r *Record) { b[r.Offset+9] = 0x30 }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path, b, recs := logBytes(t, dir, 5)
			target := recs[2]
			if tc.last {
				target = recs[4]
			}
			tc.do(b, target)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			files, _ := ListLogs(dir)
			lr := NewLogReader(files, 0)
			defer lr.Close()
			n := 0
			var err error
			for {
				if _, err = lr.Next(); err != nil {
					break
				}
				n++
			}
			if n != len(recs)-(len(recs)-int(target.Entry.Hdr.Zxid)+1) {
				t.Fatalf("read %d good records before the damaged one at zxid %v", n, target.Entry.Hdr.Zxid)
			}
			if tc.torn {
				if !errors.Is(err, io.EOF) || lr.Tail == nil || lr.Tail.Offset != target.Offset || lr.Tail.File != path {
					t.Fatalf("err %v tail %+v: want a torn tail at %d", err, lr.Tail, target.Offset)
				}
				return
			}
			var le *LogError
			if !errors.As(err, &le) || !errors.Is(err, ErrCorruptLog) || lr.Tail != nil {
				t.Fatalf("err %v tail %+v: want damage", err, lr.Tail)
			}
			if le.File != path || le.Offset != target.Offset || le.LastGood != target.Entry.Hdr.Zxid-1 {
				t.Fatalf("damage reported as %+v; want %s offset %d after zxid %v", le, path, target.Offset, target.Entry.Hdr.Zxid-1)
			}
			for _, s := range []string{path, fmt.Sprintf("offset %d", target.Offset)} {
				if !strings.Contains(err.Error(), s) {
					t.Fatalf("%q does not say %q", err, s)
				}
			}
			// Reading again gives the same error (sticky).
			if _, err2 := lr.Next(); err2 != err {
				t.Fatalf("second Next: %v", err2)
			}
		})
	}
}

// A torn record is only a torn write in the newest file: in an older one
// it is damage, as is a complete record longer than the limit.
func TestLogDamageInOlderFileAndOverLimit(t *testing.T) {
	dir := t.TempDir()
	l := writeLog(t, dir, 1, 3, 4096)
	l.Roll()
	for z := wire.Zxid(4); z <= 5; z++ {
		l.Append(entry(z, "/x"))
	}
	l.Close()
	recs, _ := readAll(t, dir, 1)
	path := filepath.Join(dir, "log.1")
	b, _ := os.ReadFile(path)
	b[recs[2].End-1] = 0 // the last record of the older file
	os.WriteFile(path, b, 0o644)
	files, _ := ListLogs(dir)
	lr := NewLogReader(files, 0)
	var err error
	for err == nil {
		_, err = lr.Next()
	}
	if !errors.Is(err, ErrCorruptLog) || !strings.Contains(err.Error(), "not the newest log file") {
		t.Fatalf("torn-looking record in an older file: %v", err)
	}
	// A complete record longer than the reader's limit.
	dir = t.TempDir()
	l = writeLog(t, dir, 1, 1, 4096)
	big := entry(2, "/big")
	big.Body.(*wire.CreateTxn).Data = make([]byte, 5000)
	l.Append(big)
	l.Close()
	files, _ = ListLogs(dir)
	lr = NewLogReader(files, 4096)
	if _, err := lr.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := lr.Next(); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("over-limit record: %v", err)
	}
	lr = NewLogReader(files, 8192)
	if r, err := lr.Next(); err != nil || r.Entry.Hdr.Zxid != 1 {
		t.Fatal(err)
	}
	if r, err := lr.Next(); err != nil || r.Entry.Hdr.Zxid != 2 {
		t.Fatalf("with a large enough limit: %v", err)
	}
}

// Files that hold no txn (a crash right after creating them) are skipped
// anywhere; a file with a bad magic is damage.
func TestLogEmptyFilesAndBadMagic(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, 1, 2, 4096).Close()
	os.WriteFile(filepath.Join(dir, "log.3"), make([]byte, 8192), 0o644) // preallocated, header lost
	os.WriteFile(filepath.Join(dir, "log.4"), []byte{'Z', 'K'}, 0o644)   // shorter than a header
	l, _ := OpenTxnLog(dir, Options{PreAllocBytes: 4096})
	l.Append(entry(5, "/y"))
	l.Close()
	recs, lr := readAll(t, dir, 1)
	if len(recs) != 3 || len(lr.Empty) != 2 {
		t.Fatalf("read %d records, empty files %v", len(recs), lr.Empty)
	}
	b := make([]byte, 64)
	copy(b, "XXXX")
	os.WriteFile(filepath.Join(dir, "log.3"), b, 0o644)
	files, _ := ListLogs(dir)
	lr = NewLogReader(files, 0)
	var err error
	for err == nil {
		_, err = lr.Next()
	}
	if !errors.Is(err, ErrCorruptLog) || !strings.Contains(err.Error(), "log.3") {
		t.Fatalf("bad magic: %v", err)
	}
}

// TRUNC and the SNAP clean-up never cut across damage: they fail and
// change nothing.
func TestTruncateToRefusesDamage(t *testing.T) {
	dir := t.TempDir()
	path, b, recs := logBytes(t, dir, 6)
	b[recs[2].Offset+7] ^= 1
	os.WriteFile(path, b, 0o644)
	if err := TruncateTo(dir, 4, 0); !errors.Is(err, ErrCorruptLog) {
		t.Fatalf("TruncateTo across damage: %v", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, b) {
		t.Fatal("a failed TruncateTo changed the log")
	}
	// Up to the txn before the damage it works (the cut removes it).
	if err := TruncateTo(dir, 2, 0); err != nil {
		t.Fatal(err)
	}
	if recs, _ := readAll(t, dir, 1); len(recs) != 2 {
		t.Fatalf("%d records after truncating to 2", len(recs))
	}
}

func TestCheckLogsAndTruncatePlan(t *testing.T) {
	dir := t.TempDir()
	l := writeLog(t, dir, 1, 4, 4096)
	l.Roll()
	for z := wire.Zxid(5); z <= 9; z++ {
		l.Append(entry(z, "/x"))
	}
	l.Close()
	// Snapshots at 0 and 7 (written as the tests above do).
	for _, z := range []wire.Zxid{0, 7} {
		w, err := NewSnapshotWriter(dir, z, CompressNone, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Finish(SnapshotTail{}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := CheckLogs(dir, 0)
	if err != nil || rep.Records != 9 || rep.Damage != nil || rep.Tail != nil || rep.Last != 9 || len(rep.Files) != 2 {
		t.Fatalf("clean: %+v %v", rep, err)
	}
	recs, _ := readAll(t, dir, 1)
	second := filepath.Join(dir, "log.5")
	b, _ := os.ReadFile(second)
	b[recs[6].Offset-(recs[4].Offset-16)+7] ^= 1 // zxid 7's checksum, in log.5
	os.WriteFile(second, b, 0o644)
	rep, _ = CheckLogs(dir, 0)
	if rep.Damage == nil || rep.Damage.LastGood != 6 || rep.Records != 6 {
		t.Fatalf("damaged: %+v", rep)
	}
	// Keeping up to 8 would need zxid 7: refused, nothing changed.
	if _, err := PlanTruncate(dir, dir, 8, 0); err == nil || !strings.Contains(err.Error(), "use --at 0x7") {
		t.Fatalf("plan to 8 across the damage: %v", err)
	}
	// Up to 7 works: snapshot.7 covers the damaged txn.
	p, err := PlanTruncate(dir, dir, 7, 0)
	if err != nil || p.Cut == nil || p.Cut.Path != second || p.Damage == nil || p.StartSnap != filepath.Join(dir, "snapshot.7") {
		t.Fatalf("plan to 7: %+v %v", p, err)
	}
	// Up to 6: snapshot.7 must go too.
	p, err = PlanTruncate(dir, dir, 6, 0)
	if err != nil || len(p.MoveSnaps) != 1 || p.Start != 6 {
		t.Fatalf("plan to 6: %+v %v", p, err)
	}
	before, _ := os.ReadFile(second)
	backups, err := Truncate(p, dir, dir)
	if err != nil || len(backups) != 1 {
		t.Fatalf("truncate: %v %v", backups, err)
	}
	rep, _ = CheckLogs(dir, 0)
	if rep.Damage != nil || rep.Tail != nil || rep.Last != 6 {
		t.Fatalf("after truncating to 6: %+v", rep)
	}
	if snaps, _ := ListSnapshots(dir); len(snaps) != 1 || snaps[0].Zxid != 0 {
		t.Fatalf("snapshots left: %+v", snaps)
	}
	// The backup holds the whole former log.5 and snapshot.7, and a
	// manifest; neither Java nor zkgo takes it for data.
	saved, _ := os.ReadFile(filepath.Join(backups[0], "log.5"))
	if !bytes.Equal(saved, before) {
		t.Fatal("the backup of the cut file differs from it")
	}
	for _, f := range []string{"snapshot.7", "manifest.txt"} {
		if _, err := os.Stat(filepath.Join(backups[0], f)); err != nil {
			t.Fatal(err)
		}
	}
	if filepath.Dir(backups[0]) != filepath.Dir(dir) {
		t.Fatalf("backup %s is not next to %s", backups[0], dir)
	}
}

// DropThrough removes the log files holding no txn after zxid, and only
// those: a file that also holds later txns stays, as does the last file
// when it cannot be read to its end.
func TestDropThroughRemovesOnlyFilesUpToZxid(t *testing.T) {
	dir := t.TempDir()
	write := func(zxids ...wire.Zxid) {
		t.Helper()
		l, err := OpenTxnLog(dir, Options{PreAllocBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		for _, z := range zxids {
			if err := l.Append(&wire.TxnEntry{Hdr: wire.TxnHeader{Zxid: z, Type: wire.OpDelete}, Body: &wire.DeleteTxn{Path: "/x"}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	names := func() []wire.Zxid {
		fs, _ := ListLogs(dir)
		var out []wire.Zxid
		for _, f := range fs {
			out = append(out, f.Zxid)
		}
		return out
	}
	write(1, 2, 3)
	write(4, 5)
	write(6, 7, 8)
	removed, err := DropThrough(dir, 6, 0)
	if err != nil || len(removed) != 2 {
		t.Fatalf("DropThrough(6): removed %v, err %v; want the files of 1..3 and 4..5", removed, err)
	}
	if got := names(); len(got) != 1 || got[0] != 6 {
		t.Fatalf("logs left: %v, want the one of 6..8 (it holds 7 and 8)", got)
	}
	if removed, err := DropThrough(dir, 8, 0); err != nil || len(removed) != 1 || len(names()) != 0 {
		t.Fatalf("DropThrough(8): removed %v, err %v, left %v; want all gone", removed, err, names())
	}
	// The last file damaged: it may hold later txns, so it stays.
	write(9, 10)
	fs, _ := ListLogs(dir)
	b, _ := os.ReadFile(fs[0].Path)
	b[16+12+3] ^= 0xff
	os.WriteFile(fs[0].Path, b, 0o644)
	if removed, err := DropThrough(dir, 20, 0); err != nil || len(removed) != 0 {
		t.Fatalf("damaged last file: removed %v, err %v; want it kept", removed, err)
	}
}
