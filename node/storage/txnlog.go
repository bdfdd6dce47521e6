package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/internal/hoptrace"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// Txn log file format (FileTxnLog, spec §9.2):
//
//	FileHeader{i32 magic "ZKLG", i32 version 2, i64 dbid 0}
//	repeat:
//	  i64 checksum   Adler32 of txnBytes
//	  i32 len        length of txnBytes
//	  txnBytes       TxnHeader ++ txn ++ [TxnDigest]
//	  i8  'B'        end of record
//	zero padding (preallocated, sparse) to the end of the file
//
// Zeros after the last record are the padding (the end of this file's
// data). See logreader.go for what counts as a torn write and what as
// damage.

// Magic numbers and versions of ZooKeeper's files.
const (
	TxnLogMagic   = 0x5A4B4C47 // "ZKLG"
	SnapMagic     = 0x5A4B534E // "ZKSN"
	FileVersion   = 2
	logPrefix     = "log"
	snapPrefix    = "snapshot"
	versionDir    = "version-2"
	eor           = 'B'
	padThreshold  = 4096
	recordOverhad = 8 + 4 + 1
)

// VersionDir returns <dir>/version-2.
func VersionDir(dir string) string { return filepath.Join(dir, versionDir) }

// zxidFromName parses the hex zxid of "log.<hex>" or "snapshot.<hex>[.ext]".
func zxidFromName(name, prefix string) (wire.Zxid, bool) {
	parts := strings.Split(name, ".")
	if len(parts) < 2 || parts[0] != prefix {
		return 0, false
	}
	z, err := strconv.ParseUint(parts[1], 16, 64)
	if err != nil {
		return 0, false
	}
	return wire.Zxid(z), true
}

// LogName is the file name of a log starting at zxid.
func LogName(z wire.Zxid) string { return logPrefix + "." + strconv.FormatUint(uint64(z), 16) }

// LogFile is a txn log file and the zxid of its first txn.
type LogFile struct {
	Path string
	Zxid wire.Zxid
}

// ListLogs returns the log files of dir (a version-2 directory), oldest
// first.
func ListLogs(dir string) ([]LogFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []LogFile
	for _, e := range ents {
		if z, ok := zxidFromName(e.Name(), logPrefix); ok && e.Type().IsRegular() {
			out = append(out, LogFile{Path: filepath.Join(dir, e.Name()), Zxid: z})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Zxid < out[j].Zxid })
	return out, nil
}

// LogsFrom returns the files to read for txns from zxid on: the newest file
// starting at or before zxid and every later file (FileTxnLog.getLogFiles).
func LogsFrom(files []LogFile, zxid wire.Zxid) []LogFile {
	start := 0
	for i, f := range files {
		if f.Zxid <= zxid {
			start = i
		}
	}
	return files[start:]
}

// Options configure a TxnLog.
type Options struct {
	PreAllocBytes int64 // zookeeper.preAllocSize in bytes (default 64 MiB)
	ForceSync     bool  // fdatasync on Sync (forceSync=yes)
}

// TxnLog appends txns to log files in a directory (not safe for concurrent
// use: one goroutine owns it).
type TxnLog struct {
	dir  string
	opts Options

	f         *os.File
	w         *bufio.Writer
	pos       int64 // logical end of data
	synced    int64 // end of data known durable
	size      int64 // preallocated file size
	startZxid wire.Zxid
	lastZxid  wire.Zxid
	count     int
	buf       []byte
}

// OpenTxnLog prepares to write logs in dir (created if missing). Like Java,
// it never appends to an existing file: the first Append starts a new one.
func OpenTxnLog(dir string, opts Options) (*TxnLog, error) {
	if opts.PreAllocBytes <= 0 {
		opts.PreAllocBytes = 64 << 20
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", dir, err)
	}
	return &TxnLog{dir: dir, opts: opts}, nil
}

// Dir returns the log directory.
func (l *TxnLog) Dir() string { return l.dir }

// Count returns the number of txns in the current file.
func (l *TxnLog) Count() int { return l.count }

// Size returns the bytes written to the current file.
func (l *TxnLog) Size() int64 { return l.pos }

// CurrentFile returns the path of the file being written ("" if none).
func (l *TxnLog) CurrentFile() string {
	if l.f == nil {
		return ""
	}
	return l.f.Name()
}

func (l *TxnLog) create(z wire.Zxid) error {
	path := filepath.Join(l.dir, LogName(z))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if errors.Is(err, os.ErrExist) {
		// A crash right after a log was created can leave it with a header
		// and no complete txn (recovery cut the torn one). Java's
		// FileOutputStream overwrites such a file; do the same, but never
		// one that still holds a txn.
		if holdsTxn(path, z) {
			return fmt.Errorf("storage: create log %s: it already holds txns", path)
		}
		f, err = os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	}
	if err != nil {
		return fmt.Errorf("storage: create log %s: %w", path, err)
	}
	hdr := wire.FileHeader{Magic: TxnLogMagic, Version: FileVersion, Dbid: 0}
	b := jute.Marshal(&hdr)
	if _, err := f.Write(b); err != nil {
		return errors.Join(fmt.Errorf("storage: write log header %s: %w", path, err), f.Close(), os.Remove(path))
	}
	// Make the new file's directory entry durable.
	if err := syncDir(l.dir); err != nil {
		return errors.Join(err, f.Close(), os.Remove(path))
	}
	l.f, l.w = f, bufio.NewWriterSize(f, 256<<10)
	l.pos, l.synced, l.size = int64(len(b)), 0, int64(len(b))
	l.startZxid, l.count = z, 0
	return nil
}

// holdsTxn reports whether the log file at path has a complete txn (or
// cannot be read, which counts as holding one: never overwrite it).
func holdsTxn(path string, z wire.Zxid) bool {
	if st, err := os.Stat(path); err == nil && st.Size() <= 16 {
		return false // at most a file header
	}
	// The file is the newest (it is being created): a torn txn at its end
	// is no txn; damage counts as holding one.
	lr := NewLogReader([]LogFile{{Path: path, Zxid: z}}, 0)
	defer lr.Close()
	_, err := lr.Next()
	return !errors.Is(err, io.EOF)
}

// Append writes one txn (buffered; durable after Sync).
func (l *TxnLog) Append(e *wire.TxnEntry) error {
	if l.f == nil {
		if err := l.create(e.Hdr.Zxid); err != nil {
			return err
		}
	}
	l.buf = wire.AppendTxnEntry(l.buf[:0], e)
	return l.appendRaw(e.Hdr.Zxid, l.buf)
}

// AppendRaw writes an already encoded txn (as received in a PROPOSAL).
func (l *TxnLog) AppendRaw(z wire.Zxid, txn []byte) error {
	if l.f == nil {
		if err := l.create(z); err != nil {
			return err
		}
	}
	return l.appendRaw(z, txn)
}

func (l *TxnLog) appendRaw(z wire.Zxid, txn []byte) error {
	if err := l.pad(int64(len(txn) + recordOverhad)); err != nil {
		return err
	}
	var hdr [12]byte
	binary.BigEndian.PutUint64(hdr[:8], uint64(adler32.Checksum(txn)))
	binary.BigEndian.PutUint32(hdr[8:], uint32(len(txn)))
	if _, err := l.w.Write(hdr[:]); err != nil {
		return l.writeErr(err)
	}
	if _, err := l.w.Write(txn); err != nil {
		return l.writeErr(err)
	}
	if err := l.w.WriteByte(eor); err != nil {
		return l.writeErr(err)
	}
	l.pos += int64(len(txn) + recordOverhad)
	l.lastZxid = z
	l.count++
	return nil
}

func (l *TxnLog) writeErr(err error) error {
	return fmt.Errorf("storage: append to %s: %w", l.f.Name(), err)
}

// pad extends the file sparsely when the write position comes within
// 4 KiB of its end, exactly as FilePadding.padFile does (so a fresh log is
// 16 + 64 MiB bytes, as Java's): one block more, or, if a large record
// already ran past the end, up to the block boundary after the position.
func (l *TxnLog) pad(int64) error {
	if l.pos+padThreshold < l.size {
		return nil
	}
	size := l.size
	if l.pos > size {
		size = l.pos + l.opts.PreAllocBytes
		size -= size % l.opts.PreAllocBytes
	} else {
		size += l.opts.PreAllocBytes
	}
	if err := l.f.Truncate(size); err != nil {
		return fmt.Errorf("storage: preallocate %s: %w", l.f.Name(), err)
	}
	l.size = size
	return nil
}

// Sync makes everything appended durable (flush, then fdatasync when
// ForceSync).
func (l *TxnLog) Sync() error {
	if l.f == nil {
		return nil
	}
	if err := l.w.Flush(); err != nil {
		return l.writeErr(err)
	}
	hoptrace.Mark(hoptrace.WriteDone)
	if l.opts.ForceSync {
		if err := fdatasync(l.f); err != nil {
			return fmt.Errorf("storage: fsync %s: %w", l.f.Name(), err)
		}
	}
	l.synced = l.pos
	return nil
}

// LastZxid returns the zxid of the last txn appended.
func (l *TxnLog) LastZxid() wire.Zxid { return l.lastZxid }

// Discard drops what was appended since the last Sync, cutting the file
// back to the synced end, so an append that failed (a full disk, say)
// leaves no partial or unacknowledged record behind.
func (l *TxnLog) Discard() error {
	if l.f == nil {
		return nil
	}
	l.w.Reset(l.f)
	end := l.synced
	if end == 0 {
		end = 16 // header only
	}
	err := l.f.Truncate(end)
	if err == nil {
		_, err = l.f.Seek(end, io.SeekStart)
	}
	if err == nil {
		err = fdatasync(l.f)
	}
	if err != nil {
		return fmt.Errorf("storage: discard unsynced tail of %s: %w", l.f.Name(), err)
	}
	l.pos, l.size = end, end
	return nil
}

// Roll closes the current file; the next Append starts a new one.
func (l *TxnLog) Roll() error {
	if l.f == nil {
		return nil
	}
	err := l.Sync()
	err = errors.Join(err, l.f.Close())
	l.f, l.w = nil, nil
	return err
}

// Close syncs and closes the log.
func (l *TxnLog) Close() error { return l.Roll() }

// TruncateTo removes every txn after zxid from the logs in dir (TRUNC):
// the file holding zxid is cut right after it and later files are deleted.
// It fails if zxid is older than the oldest log, except for zxid 0 (every
// file goes). limit is the record
// limit (Config.RecordLimit). Damage in the file to cut before zxid fails
// it before anything changes.
func TruncateTo(dir string, zxid wire.Zxid, limit int) error {
	return truncateLogs(dir, zxid, true, limit)
}

// DropAfter removes every txn after zxid from the logs in dir, deleting
// whole files that start after it. Unlike TruncateTo it does not require a
// log holding zxid: a learner that loaded the leader's snapshot (SNAP) uses
// it so that none of its own txns past the snapshot survive a restart.
func DropAfter(dir string, zxid wire.Zxid, limit int) error {
	return truncateLogs(dir, zxid, false, limit)
}

// DropThrough deletes the log files in dir that hold no txn after zxid (a
// learner synced by SNAP at zxid, once its snapshot of the leader's
// history is durable: the txns it logged up to zxid are in that snapshot
// or were never committed, and a leader reading its log for a DIFF must
// never see them). A file that also holds later txns stays. It returns
// the files removed, oldest first. limit is the record limit.
func DropThrough(dir string, zxid wire.Zxid, limit int) ([]string, error) {
	files, err := ListLogs(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for i, f := range files {
		if f.Zxid > zxid {
			break
		}
		if i+1 < len(files) {
			if files[i+1].Zxid > zxid+1 {
				break // f may hold txns after zxid
			}
		} else if last, err := lastZxidOf(f, limit); err != nil || last > zxid {
			break // damage counts as holding later txns: keep it
		}
		if err := os.Remove(f.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, fmt.Errorf("storage: remove %s: %w", f.Path, err)
		}
		removed = append(removed, f.Path)
	}
	if len(removed) > 0 {
		return removed, syncDir(dir)
	}
	return nil, nil
}

// lastZxidOf reads a log file to its end and returns its last txn's zxid
// (0 when it holds none).
func lastZxidOf(f LogFile, limit int) (wire.Zxid, error) {
	lr := NewLogReader([]LogFile{f}, limit)
	defer lr.Close()
	for {
		_, err := lr.Next()
		if errors.Is(err, io.EOF) {
			return lr.LastZxid(), nil
		}
		if err != nil {
			return 0, err
		}
	}
}

func truncateLogs(dir string, zxid wire.Zxid, strict bool, limit int) error {
	files, err := ListLogs(dir)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return nil
	}
	// No txn is at or before zxid 0: a TRUNC to 0 (the leader has no
	// txn at all) needs no log that holds it, and removes every file.
	if strict && zxid != 0 && files[0].Zxid > zxid+1 {
		return fmt.Errorf("storage: cannot truncate to %v: oldest log starts at %v", zxid, files[0].Zxid)
	}
	var keep, drop []LogFile
	for _, f := range files {
		if f.Zxid <= zxid {
			keep = append(keep, f)
		} else {
			drop = append(drop, f)
		}
	}
	// Find the cut first: damage fails the truncation before any change.
	end := int64(-1)
	if len(keep) > 0 {
		last := keep[len(keep)-1]
		lr := NewLogReader([]LogFile{last}, limit)
		end = 16
		for {
			rec, err := lr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				lr.Close()
				if errors.Is(err, ErrCorruptLog) && lr.LastZxid() == zxid {
					break // damage after zxid itself: the cut removes it
				}
				return fmt.Errorf("storage: cannot truncate to %v: %w", zxid, err)
			}
			if rec.Entry.Hdr.Zxid > zxid {
				break
			}
			end = rec.End
		}
		lr.Close()
		if lr.Tail != nil && len(drop) > 0 && lr.LastZxid() != zxid {
			return fmt.Errorf("storage: cannot truncate to %v: %w", zxid, &LogError{File: lr.Tail.File, Offset: lr.Tail.Offset,
				Zxid: lr.Tail.Zxid, ZxidKnown: lr.Tail.ZxidKnown, LastGood: lr.LastZxid(),
				Reason: lr.Tail.Reason + "; not the newest log file, so it is not a torn write"})
		}
	}
	// Later files go first: a crash before the cut leaves txns the next
	// truncation removes, never a gap.
	for _, f := range drop {
		if err := os.Remove(f.Path); err != nil {
			return fmt.Errorf("storage: truncate: remove %s: %w", f.Path, err)
		}
	}
	if end < 0 {
		return syncDir(dir)
	}
	f, err := os.OpenFile(keep[len(keep)-1].Path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(end)
	if err == nil {
		err = fdatasync(f)
	}
	return errors.Join(err, f.Close(), syncDir(dir))
}
