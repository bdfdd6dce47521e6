package storage

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/zkgo/zkgo/wire"
)

// FuzzLogReader feeds arbitrary bytes to the txn log reader as the newest
// log file (split at an arbitrary point into two files, as an older and
// the newest log): it must never panic, must end, and every outcome must
// be one of a record, a clean end, a torn tail at the end of the newest
// file, or a LogError naming a file and an offset inside it.
func FuzzLogReader(f *testing.F) {
	dir := f.TempDir()
	l := writeLog(f, dir, 1, 4, 4096)
	l.Close()
	seed, _ := os.ReadFile(filepath.Join(dir, "log.1"))
	seed = bytes.TrimRight(seed, "\x00")
	f.Add(seed, uint16(0))
	f.Add(append(bytes.Clone(seed), make([]byte, 100)...), uint16(len(seed)/2))
	damaged := bytes.Clone(seed)
	damaged[40] ^= 0xff
	f.Add(damaged, uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		dir := t.TempDir()
		cut := int(split) % (len(data) + 1)
		files := []LogFile{{Path: filepath.Join(dir, "log.1"), Zxid: 1}, {Path: filepath.Join(dir, "log.2"), Zxid: 2}}
		hdr := []byte{'Z', 'K', 'L', 'G', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0}
		parts := [][]byte{data[:cut], append(bytes.Clone(hdr), data[cut:]...)}
		for i, p := range parts {
			if err := os.WriteFile(files[i].Path, p, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		lr := NewLogReader(files, 1<<16)
		defer lr.Close()
		var last wire.Zxid
		for n := 0; ; n++ {
			if n > len(data) {
				t.Fatal("more records than bytes")
			}
			rec, err := lr.Next()
			if err == nil {
				last = rec.Entry.Hdr.Zxid
				continue
			}
			var le *LogError
			switch {
			case errors.Is(err, io.EOF):
				if tt := lr.Tail; tt != nil && tt.File != files[1].Path {
					t.Fatalf("torn tail in an older file: %+v", tt)
				}
			case errors.As(err, &le):
				st, serr := os.Stat(le.File)
				if serr != nil || le.Offset < 0 || le.Offset > st.Size() || le.LastGood != last {
					t.Fatalf("damage %+v (last good record %v)", le, last)
				}
			default:
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
	})
}
