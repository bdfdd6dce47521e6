package storage

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/adler32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// Snapshot file format (FileSnap / SnapStream, spec §9.3):
//
//	FileHeader{i32 magic "ZKSN", i32 version 2, i64 dbid -1}
//	i32 sessionCount, sessionCount x {i64 id, i32 timeout}
//	DataTree:
//	  i32 aclCount, aclCount x {i64 index, vector<ACL>}
//	  repeat {ustring path ("" for the root), buffer data, i64 acl, StatPersisted}
//	  ustring "/"                      end of nodes
//	i64 Adler32 of everything above, ustring "/"
//	[ZxidDigest {i64 zxid, i32 version, i64 digest}, i64 Adler32 of everything above, ustring "/"]
//
// Compressed snapshots (.gz, .snappy) wrap the whole stream; checksums are
// over the uncompressed bytes. The SNAP stream of the leader/learner
// channel is the DataTree part alone.

// Compression methods (zookeeper.snapshot.compression.method).
const (
	CompressNone   = ""
	CompressGzip   = "gz"
	CompressSnappy = "snappy"
)

// SnapFile is a snapshot file and its zxid.
type SnapFile struct {
	Path        string
	Zxid        wire.Zxid
	Compression string
}

// ListSnapshots returns the snapshot files in dir (a version-2 directory),
// newest first.
func ListSnapshots(dir string) ([]SnapFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []SnapFile
	for _, e := range ents {
		name := e.Name()
		z, ok := zxidFromName(name, snapPrefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		comp := CompressNone
		switch {
		case strings.HasSuffix(name, ".gz"):
			comp = CompressGzip
		case strings.HasSuffix(name, ".snappy"):
			comp = CompressSnappy
		case strings.Count(name, ".") != 1:
			continue // e.g. a temp file
		}
		out = append(out, SnapFile{Path: filepath.Join(dir, name), Zxid: z, Compression: comp})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Zxid > out[j].Zxid })
	return out, nil
}

// SnapName is the file name of a snapshot at zxid.
func SnapName(z wire.Zxid, comp string) string {
	n := snapPrefix + "." + strconv.FormatUint(uint64(z), 16)
	if comp != "" {
		n += "." + comp
	}
	return n
}

var seal = []byte{0, 0, 0, 1, '/'}

// LooksValid mirrors SnapStream.isValidSnapshot: an uncompressed snapshot
// must be at least 10 bytes and end with ustring "/"; a compressed one must
// start with its codec's magic.
func LooksValid(f SnapFile) bool {
	fh, err := os.Open(f.Path)
	if err != nil {
		return false
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil || st.Size() < 10 {
		return false
	}
	switch f.Compression {
	case CompressGzip:
		var m [2]byte
		_, err := io.ReadFull(fh, m[:])
		return err == nil && m[0] == 0x1f && m[1] == 0x8b
	case CompressSnappy:
		var m [8]byte
		_, err := io.ReadFull(fh, m[:])
		return err == nil && bytes.Equal(m[:], snappyMagic)
	}
	var tail [5]byte
	if _, err := fh.ReadAt(tail[:], st.Size()-5); err != nil {
		return false
	}
	return bytes.Equal(tail[:], seal)
}

// StreamReader decodes Jute values from a stream, keeping a running Adler32
// of what it consumed (CheckedInputStream + BinaryInputArchive).
type StreamReader struct {
	r   *bufio.Reader
	sum hash.Hash32
	max int
	buf [8]byte
	n   int64
	// scratch holds a string's bytes until they are converted, and a
	// node's stat until it is decoded: one allocation per string instead
	// of two. (With two, the garbage copy of each path sat between the
	// kept ones in the same size class, and a million-node load left the
	// 32-byte spans half empty.)
	scratch []byte
}

// maxScratch bounds the reusable buffer; longer strings get their own.
const maxScratch = 4096

// NewStreamReader reads r; limit bounds every buffer and string length
// (Config.RecordLimit; <= 0 means Java's default, jute.QuorumMaxBuffer).
func NewStreamReader(r io.Reader, limit int) *StreamReader {
	return &StreamReader{r: bufio.NewReaderSize(r, 256<<10), sum: adler32.New(), max: streamLimit(limit)}
}

// NewStreamReaderFrom reads from br itself, adding no buffering of its own,
// so the caller can go on reading br where the stream ends (the SNAP stream
// is followed by more quorum packets on the same socket).
func NewStreamReaderFrom(br *bufio.Reader, limit int) *StreamReader {
	return &StreamReader{r: br, sum: adler32.New(), max: streamLimit(limit)}
}

func streamLimit(limit int) int {
	if limit <= 0 {
		return jute.QuorumMaxBuffer
	}
	return limit
}

// RemoveSnapshotsAfter deletes the snapshots in dir newer than zxid (a
// learner that rolls its history back must not reload them).
func RemoveSnapshotsAfter(dir string, zxid wire.Zxid) ([]string, error) {
	snaps, err := ListSnapshots(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, f := range snaps {
		if f.Zxid <= zxid {
			continue
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

// RemoveSnapshotsBefore deletes the snapshots in dir older than zxid: a
// learner synced by SNAP removes its own once the leader's snapshot is
// durable (they are of the history that snapshot supersedes, possibly of
// another branch of it, and the txn logs that followed them are gone, so
// falling back to one would load a history with a hole).
func RemoveSnapshotsBefore(dir string, zxid wire.Zxid) ([]string, error) {
	snaps, err := ListSnapshots(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, f := range snaps {
		if f.Zxid >= zxid {
			continue
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

func (s *StreamReader) full(b []byte) error {
	n, err := io.ReadFull(s.r, b)
	s.n += int64(n)
	s.sum.Write(b[:n])
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w at byte %d", io.ErrUnexpectedEOF, s.n)
		}
		return err
	}
	return nil
}

// Checksum returns the Adler32 of the bytes read so far.
func (s *StreamReader) Checksum() uint32 { return s.sum.Sum32() }

// Int reads an i32.
func (s *StreamReader) Int() (int32, error) {
	if err := s.full(s.buf[:4]); err != nil {
		return 0, err
	}
	return int32(binary.BigEndian.Uint32(s.buf[:4])), nil
}

// Long reads an i64.
func (s *StreamReader) Long() (int64, error) {
	if err := s.full(s.buf[:8]); err != nil {
		return 0, err
	}
	return int64(binary.BigEndian.Uint64(s.buf[:8])), nil
}

// Buffer reads a length-prefixed buffer (nil for -1), bounded by the limit.
func (s *StreamReader) Buffer() ([]byte, error) {
	l, err := s.Int()
	if err != nil {
		return nil, err
	}
	if l == -1 {
		return nil, nil
	}
	if l < 0 || int(l) > s.max {
		return nil, fmt.Errorf("storage: unreasonable length %d at byte %d", l, s.n-4)
	}
	b := make([]byte, l)
	return b, s.full(b)
}

// String reads a length-prefixed string (a null one as "").
func (s *StreamReader) String() (string, error) {
	l, err := s.Int()
	if err != nil {
		return "", err
	}
	if l == -1 {
		return "", nil
	}
	if l < 0 || int(l) > s.max {
		return "", fmt.Errorf("storage: unreasonable length %d at byte %d", l, s.n-4)
	}
	if int(l) > maxScratch {
		b := make([]byte, l)
		if err := s.full(b); err != nil {
			return "", err
		}
		return string(b), nil
	}
	b := s.scratchOf(int(l))
	if err := s.full(b); err != nil {
		return "", err
	}
	return string(b), nil
}

// scratchOf returns the reusable buffer cut to n bytes (n <= maxScratch).
func (s *StreamReader) scratchOf(n int) []byte {
	if cap(s.scratch) < n {
		s.scratch = make([]byte, max(n, 128))
	}
	return s.scratch[:n]
}

// statSize is the encoded size of a StatPersisted: six longs, three ints.
const statSize = 6*8 + 3*4

// stat reads a node's StatPersisted through the reusable buffer, decoding
// its fields in place (a jute.Reader handed to Decode would escape to the
// heap for every node).
func (s *StreamReader) stat(st *wire.StatPersisted) error {
	b := s.scratchOf(statSize)
	if err := s.full(b); err != nil {
		return err
	}
	be := binary.BigEndian
	st.Czxid = wire.Zxid(be.Uint64(b[0:]))
	st.Mzxid = wire.Zxid(be.Uint64(b[8:]))
	st.Ctime = int64(be.Uint64(b[16:]))
	st.Mtime = int64(be.Uint64(b[24:]))
	st.Version = int32(be.Uint32(b[32:]))
	st.Cversion = int32(be.Uint32(b[36:]))
	st.Aversion = int32(be.Uint32(b[40:]))
	st.EphemeralOwner = int64(be.Uint64(b[44:]))
	st.Pzxid = wire.Zxid(be.Uint64(b[52:]))
	return nil
}

// Record reads a fixed-layout record of size bytes into rec.
func (s *StreamReader) Record(rec jute.Record, size int) error {
	b := make([]byte, size)
	if err := s.full(b); err != nil {
		return err
	}
	return jute.Unmarshal(b, rec)
}

// TreeVisitor receives a DataTree as it is read.
type TreeVisitor interface {
	Session(id wire.SessionID, timeoutMs int32) error
	ACL(idx int64, acl []wire.ACL) error
	// Node receives each node, parents before children; the root's path
	// is "". st is valid only during the call (the reader reuses it).
	Node(path string, data []byte, acl int64, st *wire.StatPersisted) error
}

// ReadSessions reads the session section.
func ReadSessions(s *StreamReader, v TreeVisitor) error {
	n, err := s.Int()
	if err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("storage: negative session count %d", n)
	}
	for i := int32(0); i < n; i++ {
		id, err := s.Long()
		if err != nil {
			return err
		}
		to, err := s.Int()
		if err != nil {
			return err
		}
		if err := v.Session(wire.SessionID(id), to); err != nil {
			return err
		}
	}
	return nil
}

// ReadDataTree reads the ACL map and nodes up to the "/" terminator
// (DataTree.deserialize; also the body of a SNAP stream).
func ReadDataTree(s *StreamReader, v TreeVisitor) error {
	n, err := s.Int()
	if err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("storage: negative ACL map size %d", n)
	}
	for i := int32(0); i < n; i++ {
		idx, err := s.Long()
		if err != nil {
			return err
		}
		cnt, err := s.Int()
		if err != nil {
			return err
		}
		var acl []wire.ACL
		if cnt >= 0 {
			if int(cnt) > s.max/12 {
				return fmt.Errorf("storage: unreasonable ACL count %d", cnt)
			}
			acl = make([]wire.ACL, cnt)
			for j := range acl {
				perms, err := s.Int()
				if err != nil {
					return err
				}
				scheme, err := s.String()
				if err != nil {
					return err
				}
				id, err := s.String()
				if err != nil {
					return err
				}
				acl[j] = wire.ACL{Perms: perms, ID: wire.ID{Scheme: scheme, ID: id}}
			}
		}
		if err := v.ACL(idx, acl); err != nil {
			return err
		}
	}
	var st wire.StatPersisted // one for every node: the visitor copies what it keeps
	for {
		path, err := s.String()
		if err != nil {
			return err
		}
		if path == "/" {
			return nil
		}
		data, err := s.Buffer()
		if err != nil {
			return err
		}
		acl, err := s.Long()
		if err != nil {
			return err
		}
		if err := s.stat(&st); err != nil {
			return err
		}
		if err := v.Node(path, data, acl, &st); err != nil {
			return err
		}
	}
}

// ZxidDigest is the digest section of a 3.6+ snapshot.
type ZxidDigest struct {
	Zxid    wire.Zxid
	Version int32
	Digest  uint64
}

// SnapshotInfo describes a snapshot that was read.
type SnapshotInfo struct {
	File   SnapFile
	Digest *ZxidDigest // nil if absent (pre-3.6 or digest disabled)
}

func openSnapStream(f SnapFile) (io.Reader, io.Closer, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return nil, nil, err
	}
	switch f.Compression {
	case CompressGzip:
		gz, err := gzip.NewReader(bufio.NewReader(fh))
		if err != nil {
			fh.Close()
			return nil, nil, fmt.Errorf("storage: %s: %w", f.Path, err)
		}
		return gz, fh, nil
	case CompressSnappy:
		return newSnappyReader(bufio.NewReader(fh)), fh, nil
	}
	return fh, fh, nil
}

// ReadSnapshot reads a snapshot file, verifying its checksum, and feeds it
// to v. limit bounds every buffer and string (Config.RecordLimit; <= 0
// means Java's default).
func ReadSnapshot(f SnapFile, v TreeVisitor, limit int) (SnapshotInfo, error) {
	info := SnapshotInfo{File: f}
	r, c, err := openSnapStream(f)
	if err != nil {
		return info, err
	}
	defer c.Close()
	s := NewStreamReader(r, limit)
	var hdr wire.FileHeader
	if err := s.Record(&hdr, hdr.Size()); err != nil {
		return info, fmt.Errorf("storage: %s: header: %w", f.Path, err)
	}
	if hdr.Magic != SnapMagic {
		return info, fmt.Errorf("storage: %s is not a snapshot (magic %#x)", f.Path, hdr.Magic)
	}
	if err := ReadSessions(s, v); err != nil {
		return info, fmt.Errorf("storage: %s: sessions: %w", f.Path, err)
	}
	if err := ReadDataTree(s, v); err != nil {
		return info, fmt.Errorf("storage: %s: data tree: %w", f.Path, err)
	}
	if err := checkSeal(s, f.Path); err != nil {
		return info, err
	}
	// Optional digest section.
	before := s.n
	z, err := s.Long()
	if err != nil {
		if s.n == before && errors.Is(err, io.ErrUnexpectedEOF) {
			return info, nil // a pre-3.6 snapshot ends after the first seal
		}
		return info, fmt.Errorf("storage: %s: digest: %w", f.Path, err)
	}
	ver, err := s.Int()
	if err != nil {
		return info, fmt.Errorf("storage: %s: digest: %w", f.Path, err)
	}
	d := &ZxidDigest{Zxid: wire.Zxid(z), Version: ver}
	if ver < 2 {
		hex, err := s.String()
		if err != nil {
			return info, err
		}
		u, _ := strconv.ParseUint(hex, 16, 64)
		d.Digest = u
	} else {
		dv, err := s.Long()
		if err != nil {
			return info, err
		}
		d.Digest = uint64(dv)
	}
	if err := checkSeal(s, f.Path); err != nil {
		return info, err
	}
	if d.Zxid > 0 {
		info.Digest = d
	}
	return info, nil
}

func checkSeal(s *StreamReader, path string) error {
	want := s.Checksum()
	got, err := s.Long()
	if err != nil {
		return fmt.Errorf("storage: %s: checksum: %w", path, err)
	}
	if uint64(got) != uint64(want) {
		return fmt.Errorf("storage: %s: checksum mismatch (file %#x, computed %#x)", path, got, want)
	}
	sl, err := s.String()
	if err != nil || sl != "/" {
		return fmt.Errorf("storage: %s: missing end-of-snapshot marker", path)
	}
	return nil
}

// SnapshotWriter writes a snapshot in two steps: node records are streamed
// to a side file while the tree is walked (the walk may take a while and
// the tree keeps changing: a fuzzy snapshot, as Java's), then Finish writes
// the final file with the sessions and ACL map taken at the end, so every
// ACL index a node refers to is present.
type SnapshotWriter struct {
	dir   string
	zxid  wire.Zxid
	comp  string
	nodes *os.File
	nw    *bufio.Writer
	fsync bool
}

// NewSnapshotWriter starts snapshot.<zxid> in dir.
func NewSnapshotWriter(dir string, zxid wire.Zxid, comp string, fsync bool) (*SnapshotWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "snapshot.nodes-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("storage: snapshot temp file: %w", err)
	}
	return &SnapshotWriter{dir: dir, zxid: zxid, comp: comp, nodes: f, nw: bufio.NewWriterSize(f, 1<<20), fsync: fsync}, nil
}

// Zxid returns the snapshot's zxid.
func (w *SnapshotWriter) Zxid() wire.Zxid { return w.zxid }

// WriteNodes appends encoded node records (path, data, acl, stat).
func (w *SnapshotWriter) WriteNodes(b []byte) error {
	if _, err := w.nw.Write(b); err != nil {
		return fmt.Errorf("storage: snapshot nodes: %w", err)
	}
	return nil
}

// Abort removes the partial snapshot.
func (w *SnapshotWriter) Abort() {
	name := w.nodes.Name()
	w.nodes.Close()
	os.Remove(name)
}

// SnapshotTail is what Finish needs besides the nodes.
type SnapshotTail struct {
	Sessions []wire.SessionTouch // id and timeout
	ACLs     []IndexedACL
	Digest   *ZxidDigest
}

// IndexedACL is one entry of the ACL map.
type IndexedACL struct {
	Index int64
	ACL   []wire.ACL
}

// Finish writes the snapshot file and returns its path.
func (w *SnapshotWriter) Finish(tail SnapshotTail) (string, error) {
	defer func() {
		name := w.nodes.Name()
		w.nodes.Close()
		os.Remove(name)
	}()
	if err := w.nw.Flush(); err != nil {
		return "", err
	}
	if _, err := w.nodes.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	final := filepath.Join(w.dir, SnapName(w.zxid, w.comp))
	tmp := final + ".writing"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return "", fmt.Errorf("storage: create snapshot: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			out.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(out, 1<<20)
	var sink io.Writer = bw
	var closer io.Closer
	switch w.comp {
	case CompressGzip:
		gz := gzip.NewWriter(bw)
		sink, closer = gz, gz
	case CompressSnappy:
		sw := newSnappyWriter(bw)
		sink, closer = sw, sw
	}
	sum := adler32.New()
	mw := io.MultiWriter(sink, sum)
	var jw jute.Writer
	hdr := wire.FileHeader{Magic: SnapMagic, Version: FileVersion, Dbid: -1}
	hdr.Encode(&jw)
	jw.Int(int32(len(tail.Sessions)))
	for _, s := range tail.Sessions {
		jw.Long(int64(s.SessionID))
		jw.Int(s.TimeoutMs)
	}
	jw.Int(int32(len(tail.ACLs)))
	for _, a := range tail.ACLs {
		jw.Long(a.Index)
		jw.VectorLen(len(a.ACL))
		for i := range a.ACL {
			a.ACL[i].Encode(&jw)
		}
	}
	if _, err := mw.Write(jw.Bytes()); err != nil {
		return "", err
	}
	if _, err := io.Copy(mw, bufio.NewReaderSize(w.nodes, 1<<20)); err != nil {
		return "", fmt.Errorf("storage: snapshot copy: %w", err)
	}
	jw.Reset(jw.Bytes()[:0])
	jw.String("/")
	if _, err := mw.Write(jw.Bytes()); err != nil {
		return "", err
	}
	writeSeal := func() error {
		var b [13]byte
		binary.BigEndian.PutUint64(b[:8], uint64(sum.Sum32()))
		copy(b[8:], seal)
		_, err := mw.Write(b[:])
		return err
	}
	if err := writeSeal(); err != nil {
		return "", err
	}
	if tail.Digest != nil {
		jw.Reset(jw.Bytes()[:0])
		jw.Long(int64(tail.Digest.Zxid))
		jw.Int(tail.Digest.Version)
		jw.Long(int64(tail.Digest.Digest))
		if _, err := mw.Write(jw.Bytes()); err != nil {
			return "", err
		}
		if err := writeSeal(); err != nil {
			return "", err
		}
	}
	if closer != nil {
		if err := closer.Close(); err != nil {
			return "", err
		}
	}
	if err := bw.Flush(); err != nil {
		return "", fmt.Errorf("storage: write snapshot: %w", err)
	}
	if w.fsync {
		if err := out.Sync(); err != nil {
			return "", fmt.Errorf("storage: fsync snapshot: %w", err)
		}
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	ok = true
	return final, syncDir(w.dir)
}
