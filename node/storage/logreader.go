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
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// Reading a txn log: what is a torn write and what is damage.
//
// A crash in the middle of an append can leave only one thing behind: the
// record being written when the process died, incomplete, at the end of
// the newest log file, followed by nothing but the zeros of the
// preallocated (sparse) file. That, and only that, is a torn tail: the
// reader stops before it (Tail says where), and recovery may cut it.
//
// Everything else is damage and the reader returns a *LogError naming the
// file, the offset and the zxids: a record that fails its length, 'B' or
// checksum check anywhere but at the very end of the newest file, any
// non-zero byte after such a record, a complete record longer than the
// reader's limit, a checksummed record that does not decode, a zero
// length record header followed by data, a file with a bad magic. A
// server refuses to start on it and changes nothing on disk; an operator
// decides with `zkgo txnlog verify` and `zkgo txnlog truncate`.
//
// Files too short to hold a header, or holding nothing but zeros, hold no
// txn (a crash right after the file was created) and are skipped.

// ErrCorruptLog matches every *LogError (errors.Is).
var ErrCorruptLog = errors.New("storage: damaged txn log")

// ErrCRC is a LogError's cause when a complete record fails its checksum.
var ErrCRC = errors.New("storage: CRC check failed")

// ErrRecordTooLarge is a LogError's cause when a complete, checksummed
// record is longer than the reader's limit (jute.maxbuffer plus its extra
// allowance): a server with a smaller limit than the one that wrote it.
var ErrRecordTooLarge = errors.New("storage: txn record longer than the limit")

// LogError describes a damaged txn log record.
type LogError struct {
	File   string
	Offset int64 // offset of the damaged record's checksum field
	// Zxid is the damaged record's zxid when its header bytes could be read
	// (ZxidKnown); unverified if the record fails its checksum.
	Zxid      wire.Zxid
	ZxidKnown bool
	// LastGood is the zxid of the last complete record read before it (0:
	// none in the files read).
	LastGood wire.Zxid
	Reason   string
	Err      error // ErrCRC, ErrRecordTooLarge, a decode or I/O error, or nil
}

func (e *LogError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "txn log %s is damaged at offset %d", e.File, e.Offset)
	if e.ZxidKnown {
		fmt.Fprintf(&b, " (record zxid %s)", e.Zxid)
	} else {
		b.WriteString(" (record zxid unreadable)")
	}
	fmt.Fprintf(&b, ": %s; last good txn before it: ", e.Reason)
	if e.LastGood != 0 {
		b.WriteString(e.LastGood.String())
	} else {
		b.WriteString("none")
	}
	if e.Err != nil {
		fmt.Fprintf(&b, " (%v)", e.Err)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *LogError) Unwrap() error { return e.Err }

// Is makes every LogError match ErrCorruptLog.
func (e *LogError) Is(target error) bool { return target == ErrCorruptLog }

// TornTail is where a log ends in a torn write.
type TornTail struct {
	File   string
	Offset int64 // the torn record's start: where the valid data ends
	End    int64 // end of the torn bytes; only zeros follow
	// Zxid is the torn record's zxid when its header bytes are there
	// (ZxidKnown; unverified).
	Zxid      wire.Zxid
	ZxidKnown bool
	Reason    string
}

// Record is one txn read from a log.
type Record struct {
	Entry  wire.TxnEntry
	Raw    []byte // the txn bytes (header ++ txn ++ digest)
	File   string
	Offset int64 // offset of the record's checksum field
	End    int64 // offset just past its 'B'
}

// LogReader reads records from a sequence of log files, oldest first. The
// last file may end in a torn write, so it must be the newest log of its
// directory (as LogsFrom and ListLogs give).
type LogReader struct {
	files []LogFile
	idx   int
	max   int
	f     *os.File
	size  int64
	r     *bufio.Reader
	off   int64
	last  wire.Zxid
	err   error // sticky: the damage met, or io.EOF

	// Tail is set when reading ended at a torn write at the end of the
	// last file.
	Tail *TornTail
	// Empty lists the files that held no txn (shorter than a header, or
	// all zeros).
	Empty []string
}

// NewLogReader reads the given files in order. limit bounds a record's
// length and every buffer in it (Config.RecordLimit; <= 0 means Java's
// default, jute.QuorumMaxBuffer).
func NewLogReader(files []LogFile, limit int) *LogReader {
	if limit <= 0 {
		limit = jute.QuorumMaxBuffer
	}
	return &LogReader{files: files, idx: -1, max: limit}
}

// LastZxid returns the zxid of the last complete record read (0: none).
func (lr *LogReader) LastZxid() wire.Zxid { return lr.last }

// Next returns the next record; io.EOF at the end of the log (check Tail
// for a torn write), a *LogError for damage.
func (lr *LogReader) Next() (*Record, error) {
	if lr.err != nil {
		return nil, lr.err
	}
	for {
		if lr.f == nil {
			if err := lr.openNext(); err != nil {
				return nil, lr.stop(err)
			}
			if lr.f == nil {
				continue // a file without txns
			}
		}
		rec, err := lr.readRecord()
		if err == nil {
			return rec, nil
		}
		if errors.Is(err, errEndOfFile) {
			lr.closeFile()
			continue
		}
		return nil, lr.stop(err)
	}
}

var errEndOfFile = errors.New("end of log file")

func (lr *LogReader) stop(err error) error {
	lr.closeFile()
	lr.idx = len(lr.files)
	lr.err = err
	return err
}

func (lr *LogReader) closeFile() {
	if lr.f != nil {
		lr.f.Close()
		lr.f, lr.r = nil, nil
	}
}

// openNext opens the next file and reads its header; it leaves lr.f nil
// for a file that holds no txn.
func (lr *LogReader) openNext() error {
	lr.closeFile()
	lr.idx++
	if lr.idx >= len(lr.files) {
		return io.EOF
	}
	path := lr.files[lr.idx].Path
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("storage: open log %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("storage: stat log %s: %w", path, err)
	}
	size := st.Size()
	nz, err := firstNonZero(f, 0, size)
	if err != nil {
		f.Close()
		return fmt.Errorf("storage: read log %s: %w", path, err)
	}
	if size < 16 || nz < 0 {
		f.Close()
		lr.Empty = append(lr.Empty, path)
		return nil
	}
	lr.f, lr.size = f, size
	lr.r = bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 256<<10)
	var hb [16]byte
	if _, err := io.ReadFull(lr.r, hb[:]); err != nil {
		return fmt.Errorf("storage: read log %s: %w", path, err)
	}
	var hdr wire.FileHeader
	if err := jute.Unmarshal(hb[:], &hdr); err != nil || hdr.Magic != TxnLogMagic {
		return &LogError{File: path, Offset: 0, LastGood: lr.last,
			Reason: fmt.Sprintf("bad file header (magic %#x, want %#x): not a ZooKeeper txn log", hdr.Magic, TxnLogMagic)}
	}
	lr.off = 16
	return nil
}

func (lr *LogReader) path() string { return lr.files[lr.idx].Path }

func (lr *LogReader) readRecord() (*Record, error) {
	start := lr.off
	var hb [12]byte
	n, err := io.ReadFull(lr.r, hb[:])
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("storage: read log %s: %w", lr.path(), err)
	}
	sum := binary.BigEndian.Uint64(hb[:8])
	l := int64(int32(binary.BigEndian.Uint32(hb[8:])))
	var data []byte
	if n == 12 && l > 0 && l <= int64(lr.max) && start+12+l+1 <= lr.size {
		buf := make([]byte, l+1)
		if _, err := io.ReadFull(lr.r, buf); err != nil {
			return nil, fmt.Errorf("storage: read log %s: %w", lr.path(), err)
		}
		data = buf[:l]
		if buf[l] == eor && uint64(adler32.Checksum(data)) == sum {
			e, err := wire.DecodeTxnEntry(data, lr.max)
			if err != nil {
				// Complete and checksummed: never a torn write.
				z, ok := zxidOf(data)
				return nil, &LogError{File: lr.path(), Offset: start, Zxid: z, ZxidKnown: ok, LastGood: lr.last,
					Reason: "a complete record does not decode as a txn", Err: err}
			}
			lr.off = start + 12 + l + 1
			lr.last = e.Hdr.Zxid
			return &Record{Entry: e, Raw: data, File: lr.path(), Offset: start, End: lr.off}, nil
		}
	}
	return nil, lr.badRecord(start, n, sum, l, data)
}

// badRecord classifies a record that did not read as a valid txn: the end
// of the file's data (only zeros from here), a torn write, or damage.
//
// A torn write only ever leaves bytes that are either what was being
// written or zeros (the preallocated file's holes, never written): a
// record is torn only if it is the last of the last file, nothing but
// zeros follows it, and nothing in it contradicts that. A non-zero
// end-of-record byte other than 'B', non-zero high bytes of the checksum
// (an Adler32 fits in its low 4 bytes), or a complete checksummed record
// at another length (its length field was damaged) can only be damage.
func (lr *LogReader) badRecord(start int64, n int, sum uint64, l int64, data []byte) error {
	path := lr.path()
	nz, err := firstNonZero(lr.f, start, lr.size)
	if err != nil {
		return fmt.Errorf("storage: read log %s: %w", path, err)
	}
	if nz < 0 {
		return errEndOfFile // preallocated zeros: the end of this file's data
	}
	z, zok := lr.recordZxid(start, l, data)
	damage := func(reason string, cause error) error {
		return &LogError{File: path, Offset: start, Zxid: z, ZxidKnown: zok, LastGood: lr.last, Reason: reason, Err: cause}
	}
	var extent int64 // the record's bytes end here; only zeros may follow
	var reason string
	var cause error
	switch {
	case n < 12:
		extent, reason = lr.size, fmt.Sprintf("a partial record header (%d of 12 bytes) at the end of the file", n)
	case l == 0:
		extent, reason = start+12, fmt.Sprintf("record length 0 with checksum %#x", sum)
	case l < 0:
		extent, reason = start+12, fmt.Sprintf("negative record length %d", l)
	case start+12+l+1 > lr.size:
		extent, reason = lr.size, fmt.Sprintf("a record of %d bytes runs past the end of the file (%d bytes)", l, lr.size)
	case l > int64(lr.max):
		extent = start + 12 + l + 1
		complete, err := lr.completeAt(start, l, sum)
		if err != nil {
			return fmt.Errorf("storage: read log %s: %w", path, err)
		}
		if complete {
			return damage(fmt.Sprintf("a complete, checksummed record of %d bytes is longer than this server's limit of %d bytes "+
				"(jute.maxbuffer plus jute.maxbuffer.extrasize); start it with the limit the writer had", l, lr.max), ErrRecordTooLarge)
		}
		reason = fmt.Sprintf("record length %d is over the limit of %d bytes and no valid record of that length is there", l, lr.max)
	default:
		extent = start + 12 + l + 1
		var b [1]byte
		if _, err := lr.f.ReadAt(b[:], extent-1); err != nil {
			return fmt.Errorf("storage: read log %s: %w", path, err)
		}
		switch b[0] {
		case 0:
			reason = "no end-of-record 'B'"
		case eor:
			reason, cause = "checksum mismatch", ErrCRC
		default:
			return damage(fmt.Sprintf("end-of-record byte is %#x, neither 'B' nor an unwritten 0", b[0]), nil)
		}
	}
	if n >= 8 && sum>>32 != 0 {
		return damage(fmt.Sprintf("checksum field %#x has non-zero high bytes (an Adler32 has 32 bits)", sum), cause)
	}
	if n == 12 && sum != 0 {
		if real, ok, err := lr.hiddenRecord(start, l, sum); err != nil {
			return fmt.Errorf("storage: read log %s: %w", path, err)
		} else if ok {
			return damage(fmt.Sprintf("record length field says %d but a complete, checksummed record of %d bytes is there", l, real), nil)
		}
	}
	after, err := firstNonZero(lr.f, extent, lr.size)
	if err != nil {
		return fmt.Errorf("storage: read log %s: %w", path, err)
	}
	if after < 0 && lr.idx == len(lr.files)-1 {
		lr.Tail = &TornTail{File: path, Offset: start, End: extent, Zxid: z, ZxidKnown: zok, Reason: reason}
		return io.EOF
	}
	if after >= 0 {
		reason += fmt.Sprintf("; non-zero data follows at offset %d, so it is not a torn write", after)
	} else {
		reason += "; not the newest log file, so it is not a torn write"
	}
	return damage(reason, cause)
}

// hiddenRecord looks for a complete record at start whose length is not
// the one its header gives: a 'B' after n bytes whose Adler32 is sum. It
// rolls the checksum over at most the reader's limit of bytes.
func (lr *LogReader) hiddenRecord(start, l int64, sum uint64) (int64, bool, error) {
	const mod = 65521
	a, b := uint32(1), uint32(0)
	end := min(lr.size, start+12+int64(lr.max)+1)
	buf := make([]byte, 64<<10)
	for off := start + 12; off < end; {
		k, err := lr.f.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
		for i, c := range buf[:k] {
			n := off + int64(i) - start - 12 // bytes summed so far
			if c == eor && n != l && n >= 32 && uint64(b<<16|a) == sum {
				return n, true, nil
			}
			a = (a + uint32(c)) % mod
			b = (b + a) % mod
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, false, err
		}
		if k == 0 {
			break
		}
		off += int64(k)
	}
	return 0, false, nil
}

// recordZxid reads the zxid field of the TxnHeader of a record at start
// (unverified), when its bytes are in the file.
func (lr *LogReader) recordZxid(start, l int64, data []byte) (wire.Zxid, bool) {
	if data != nil {
		return zxidOf(data)
	}
	if l < 20 || start+12+20 > lr.size {
		return 0, false
	}
	var b [20]byte
	if _, err := lr.f.ReadAt(b[:], start+12); err != nil {
		return 0, false
	}
	return zxidOf(b[:])
}

// zxidOf returns the zxid of an encoded TxnHeader (i64 clientId, i32 cxid,
// i64 zxid, ...).
func zxidOf(txn []byte) (wire.Zxid, bool) {
	if len(txn) < 20 {
		return 0, false
	}
	return wire.Zxid(binary.BigEndian.Uint64(txn[12:20])), true
}

// completeAt reports whether the l bytes after the header at start carry
// the checksum sum and are followed by 'B', streaming them (l is bounded
// by the file size only, so nothing is allocated from it).
func (lr *LogReader) completeAt(start, l int64, sum uint64) (bool, error) {
	var b [1]byte
	if _, err := lr.f.ReadAt(b[:], start+12+l); err != nil {
		return false, err
	}
	if b[0] != eor {
		return false, nil
	}
	h := adler32.New()
	if _, err := io.Copy(h, io.NewSectionReader(lr.f, start+12, l)); err != nil {
		return false, err
	}
	return uint64(h.Sum32()) == sum, nil
}

// Close releases the reader.
func (lr *LogReader) Close() error {
	lr.closeFile()
	return nil
}

// firstNonZero returns the offset of the first non-zero byte of f in
// [from, size), or -1 if there is none. Holes of a sparse file (the
// preallocated part of a log) are skipped without reading them.
func firstNonZero(f *os.File, from, size int64) (int64, error) {
	var buf []byte
	off := from
	for off < size {
		d, err := f.Seek(off, unix.SEEK_DATA)
		switch {
		case err == nil:
			if d >= size {
				return -1, nil
			}
			off = max(off, d)
		case errors.Is(err, unix.ENXIO):
			return -1, nil // only a hole from off to the end
		}
		// Other errors (no SEEK_DATA here): read everything.
		if buf == nil {
			buf = make([]byte, 64<<10)
		}
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		for i, c := range buf[:n] {
			if c != 0 {
				return off + int64(i), nil
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if n == 0 {
			return -1, nil
		}
		off += int64(n)
	}
	return -1, nil
}

// CutTornTail removes a torn tail from its file (Java leaves it and stops
// reading there; cutting it keeps later tools from tripping over it). The
// cut bytes are kept first in a side file next to the log, named
// "torn-log.<zxid>-at-<offset>": no name Java or zkgo take for a log or a
// snapshot (those start with "log." or "snapshot."). It returns that
// file's path.
func CutTornTail(t *TornTail) (string, error) {
	f, err := os.OpenFile(t.File, os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("storage: cut torn tail: %w", err)
	}
	defer f.Close()
	dir := filepath.Dir(t.File)
	base := "torn-" + filepath.Base(t.File) + "-at-" + strconv.FormatInt(t.Offset, 10)
	side, err := createUnique(dir, base)
	if err != nil {
		return "", fmt.Errorf("storage: cut torn tail: %w", err)
	}
	_, err = io.Copy(side, io.NewSectionReader(f, t.Offset, t.End-t.Offset))
	if err == nil {
		err = side.Sync()
	}
	err = errors.Join(err, side.Close())
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return "", fmt.Errorf("storage: keep torn tail of %s in %s: %w", t.File, side.Name(), err)
	}
	err = f.Truncate(t.Offset)
	if err == nil {
		err = fdatasync(f)
	}
	if err != nil {
		return side.Name(), fmt.Errorf("storage: cut torn tail of %s: %w", t.File, err)
	}
	return side.Name(), nil
}

// createUnique creates dir/base, or dir/base.N with the first free N.
func createUnique(dir, base string) (*os.File, error) {
	name := base
	for i := 1; ; i++ {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil || !errors.Is(err, os.ErrExist) || i > 1000 {
			return f, err
		}
		name = base + "." + strconv.Itoa(i)
	}
}
