package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zkgo/zkgo/wire"
)

// Operator tools over a data directory: CheckLogs and CheckSnapshots read
// every file (zkgo txnlog verify); PlanTruncate and Truncate drop every
// txn after a zxid an operator chose, keeping a backup of all they remove
// (zkgo txnlog truncate). Neither runs inside a server.

// LogFileReport describes one txn log file.
type LogFileReport struct {
	File        LogFile
	Records     int
	First, Last wire.Zxid // zxids of its first and last good records
	Empty       bool      // holds no txn (shorter than a header, or all zeros)
}

// Gap is a jump between consecutive zxids of one epoch. Within one file it
// means damage; between files it also happens normally (a learner that
// synced by SNAP starts its next log after the leader's snapshot).
type Gap struct {
	After, Next wire.Zxid
	File        string
	SameFile    bool
}

// LogReport is the result of CheckLogs.
type LogReport struct {
	Files   []LogFileReport
	Records int
	Last    wire.Zxid // last good record
	Gaps    []Gap
	Tail    *TornTail // the newest file ends in a torn write
	Damage  *LogError // reading stopped at this damaged record
}

// CheckLogs reads every txn log file in dir (a version-2 directory),
// oldest first, as recovery would, without changing anything. It stops at
// the first damaged record. The error is for I/O problems only.
func CheckLogs(dir string, limit int) (LogReport, error) {
	var rep LogReport
	files, err := ListLogs(dir)
	if err != nil {
		return rep, err
	}
	idx := map[string]int{}
	for i, f := range files {
		rep.Files = append(rep.Files, LogFileReport{File: f})
		idx[f.Path] = i
	}
	lr := NewLogReader(files, limit)
	defer lr.Close()
	var prev *Record
	for {
		rec, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var le *LogError
		if errors.As(err, &le) {
			rep.Damage = le
			break
		}
		if err != nil {
			return rep, err
		}
		fr := &rep.Files[idx[rec.File]]
		z := rec.Entry.Hdr.Zxid
		if fr.Records == 0 {
			fr.First = z
		}
		fr.Records++
		fr.Last = z
		rep.Records++
		rep.Last = z
		if prev != nil && z.Epoch() == prev.Entry.Hdr.Zxid.Epoch() && z != prev.Entry.Hdr.Zxid+1 {
			rep.Gaps = append(rep.Gaps, Gap{After: prev.Entry.Hdr.Zxid, Next: z, File: rec.File, SameFile: prev.File == rec.File})
		}
		prev = rec
	}
	rep.Tail = lr.Tail
	for _, p := range lr.Empty {
		rep.Files[idx[p]].Empty = true
	}
	return rep, nil
}

// SnapReport describes one snapshot file.
type SnapReport struct {
	File  SnapFile
	Nodes int
	Err   error // nil: it reads completely and its checksums match
}

type countingVisitor struct{ nodes int }

func (c *countingVisitor) Session(wire.SessionID, int32) error { return nil }
func (c *countingVisitor) ACL(int64, []wire.ACL) error         { return nil }
func (c *countingVisitor) Node(string, []byte, int64, *wire.StatPersisted) error {
	c.nodes++
	return nil
}

// CheckSnapshots reads every snapshot in dir, newest first.
func CheckSnapshots(dir string, limit int) ([]SnapReport, error) {
	snaps, err := ListSnapshots(dir)
	if err != nil {
		return nil, err
	}
	out := make([]SnapReport, 0, len(snaps))
	for _, f := range snaps {
		r := SnapReport{File: f}
		if !LooksValid(f) {
			r.Err = errors.New("it does not end with a snapshot's seal (a snapshot cut short)")
		} else {
			var v countingVisitor
			_, r.Err = ReadSnapshot(f, &v, limit)
			r.Nodes = v.nodes
		}
		out = append(out, r)
	}
	return out, nil
}

// TruncatePlan is what Truncate will do.
type TruncatePlan struct {
	Zxid wire.Zxid
	// Cut is the log file cut short (nil: none) at CutOffset.
	Cut       *LogFile
	CutOffset int64
	// MoveLogs and MoveSnaps are moved whole into the backup.
	MoveLogs  []string
	MoveSnaps []string
	// Start is the zxid the server will start at afterwards, from
	// StartSnap and the logs kept.
	Start     wire.Zxid
	StartSnap string
	// Dropped counts the good records removed; Damage is the damaged
	// record the cut removes (nil: none).
	Dropped int
	Damage  *LogError
	Tail    *TornTail
}

// Empty reports whether the plan changes nothing.
func (p *TruncatePlan) Empty() bool {
	return p.Cut == nil && len(p.MoveLogs) == 0 && len(p.MoveSnaps) == 0
}

// PlanTruncate works out how to keep every txn up to zxid and nothing
// after it: the logs are cut at the first record after zxid, or at the
// first damaged or torn record, whichever comes first; later log files and
// snapshots newer than zxid go. It fails, changing nothing, unless the
// server would afterwards start at exactly zxid: a snapshot at or before
// zxid that reads cleanly, followed by contiguous txns up to zxid.
func PlanTruncate(logDir, snapDir string, zxid wire.Zxid, limit int) (*TruncatePlan, error) {
	p := &TruncatePlan{Zxid: zxid}
	files, err := ListLogs(logDir)
	if err != nil {
		return nil, err
	}
	lr := NewLogReader(files, limit)
	defer lr.Close()
	var keptZxids []wire.Zxid
	stopFile, stopOff := "", int64(-1)
	for {
		rec, err := lr.Next()
		if errors.Is(err, io.EOF) {
			if lr.Tail != nil {
				p.Tail = lr.Tail
				stopFile, stopOff = lr.Tail.File, lr.Tail.Offset
			}
			break
		}
		var le *LogError
		if errors.As(err, &le) {
			p.Damage = le
			stopFile, stopOff = le.File, le.Offset
			break
		}
		if err != nil {
			return nil, err
		}
		if rec.Entry.Hdr.Zxid > zxid {
			if stopOff < 0 {
				stopFile, stopOff = rec.File, rec.Offset
			}
			p.Dropped++
			continue // count what is dropped; stop at damage
		}
		if stopOff >= 0 {
			return nil, fmt.Errorf("storage: txn %v in %s comes after txns newer than %v: the logs are out of order",
				rec.Entry.Hdr.Zxid, rec.File, zxid)
		}
		keptZxids = append(keptZxids, rec.Entry.Hdr.Zxid)
	}
	if stopOff >= 0 {
		after := false
		for _, f := range files {
			switch {
			case after:
				p.MoveLogs = append(p.MoveLogs, f.Path)
			case f.Path == stopFile:
				after = true
				if stopOff <= 16 {
					p.MoveLogs = append(p.MoveLogs, f.Path)
				} else {
					f := f
					p.Cut, p.CutOffset = &f, stopOff
				}
			}
		}
	}
	snaps, err := CheckSnapshots(snapDir, limit)
	if err != nil {
		return nil, err
	}
	var start *SnapReport
	for i := range snaps {
		s := &snaps[i]
		if s.File.Zxid > zxid {
			p.MoveSnaps = append(p.MoveSnaps, s.File.Path)
			continue
		}
		if start == nil && s.Err == nil {
			start = s
		}
	}
	if start == nil {
		return nil, fmt.Errorf("storage: no readable snapshot at or before %v in %s: the server could not start "+
			"from what would be left", zxid, snapDir)
	}
	p.StartSnap, p.Start = start.File.Path, start.File.Zxid
	for _, z := range keptZxids {
		if z <= p.Start {
			continue
		}
		if z.Epoch() == p.Start.Epoch() && z != p.Start+1 {
			break // a hole: replay would stop here
		}
		p.Start = z
	}
	if p.Start != zxid {
		return nil, fmt.Errorf("storage: cannot keep every txn up to %v: the newest usable snapshot (%s) and the "+
			"readable txns after it reach %v; use --at %v", zxid, start.File.Path, p.Start, p.Start)
	}
	return p, nil
}

// Truncate carries out a plan. Everything it removes is first put in a
// new backup directory next to each version-2 directory
// (zkgo-truncate-<zxid>-<time>, which neither Java nor zkgo reads): whole
// files moved there, and a copy of the file it cuts, made before the cut.
// A manifest.txt there lists what was done and how to undo it. It returns
// the backup directories.
func Truncate(p *TruncatePlan, logDir, snapDir string) ([]string, error) {
	stamp := fmt.Sprintf("zkgo-truncate-%x-%s", uint64(p.Zxid), time.Now().UTC().Format("20060102T150405Z"))
	backups := map[string]string{} // version-2 dir -> backup dir
	var order []string
	backupFor := func(dir string) (string, error) {
		if b, ok := backups[dir]; ok {
			return b, nil
		}
		b := filepath.Join(filepath.Dir(dir), stamp)
		if err := os.Mkdir(b, 0o755); err != nil {
			return "", fmt.Errorf("storage: backup directory: %w", err)
		}
		backups[dir] = b
		order = append(order, b)
		return b, nil
	}
	var manifest strings.Builder
	fmt.Fprintf(&manifest, "zkgo txnlog truncate --at %v, %s\n", p.Zxid, time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&manifest, "The server starts from %s and the txn logs up to %v.\n", p.StartSnap, p.Start)
	fmt.Fprintf(&manifest, "To undo: stop the server and put the files below back where they came from.\n\n")
	writeManifest := func() error {
		var errs []error
		for _, b := range order {
			errs = append(errs, os.WriteFile(filepath.Join(b, "manifest.txt"), []byte(manifest.String()), 0o644), syncDir(b))
		}
		return errors.Join(errs...)
	}
	move := func(path string) error {
		b, err := backupFor(filepath.Dir(path))
		if err != nil {
			return err
		}
		if err := os.Rename(path, filepath.Join(b, filepath.Base(path))); err != nil {
			return fmt.Errorf("storage: move %s to %s: %w", path, b, err)
		}
		fmt.Fprintf(&manifest, "moved %s here\n", path)
		return errors.Join(syncDir(filepath.Dir(path)), syncDir(b))
	}
	// Snapshots first: a snapshot newer than the logs' new end must never
	// outlive the cut.
	for _, f := range p.MoveSnaps {
		if err := move(f); err != nil {
			return order, errors.Join(err, writeManifest())
		}
	}
	for _, f := range p.MoveLogs {
		if err := move(f); err != nil {
			return order, errors.Join(err, writeManifest())
		}
	}
	if p.Cut != nil {
		b, err := backupFor(filepath.Dir(p.Cut.Path))
		if err != nil {
			return order, errors.Join(err, writeManifest())
		}
		size, err := copySparse(p.Cut.Path, filepath.Join(b, filepath.Base(p.Cut.Path)))
		if err != nil {
			return order, errors.Join(err, writeManifest())
		}
		f, err := os.OpenFile(p.Cut.Path, os.O_WRONLY, 0)
		if err == nil {
			err = f.Truncate(p.CutOffset)
			if err == nil {
				err = fdatasync(f)
			}
			err = errors.Join(err, f.Close())
		}
		if err != nil {
			return order, errors.Join(fmt.Errorf("storage: cut %s: %w", p.Cut.Path, err), writeManifest())
		}
		fmt.Fprintf(&manifest, "cut %s at offset %d (it was %d bytes); its full former content is here\n",
			p.Cut.Path, p.CutOffset, size)
	}
	return order, writeManifest()
}

// copySparse copies src to a new file dst, leaving holes where src reads
// as zeros (a preallocated log is mostly holes), and syncs it. It returns
// src's size.
func copySparse(src, dst string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return 0, err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 64<<10)
	var off int64
	for off < st.Size() {
		n, rerr := in.ReadAt(buf, off)
		if n > 0 {
			zero := true
			for _, c := range buf[:n] {
				if c != 0 {
					zero = false
					break
				}
			}
			if !zero {
				if _, err := out.WriteAt(buf[:n], off); err != nil {
					return 0, errors.Join(err, out.Close())
				}
			}
			off += int64(n)
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				break
			}
			return 0, errors.Join(rerr, out.Close())
		}
	}
	err = out.Truncate(st.Size())
	if err == nil {
		err = out.Sync()
	}
	return st.Size(), errors.Join(err, out.Close())
}
