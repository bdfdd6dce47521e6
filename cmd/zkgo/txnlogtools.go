package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/wire"
)

// Exit statuses of `zkgo txnlog verify` (docs/durability.md).
const (
	verifyClean   = 0 // every log record and snapshot reads back
	verifyFailed  = 1 // the directory could not be read (I/O error)
	verifyUsage   = 2
	verifyTorn    = 3 // only a torn write at the end of the newest log: the server cuts it at start
	verifyDamaged = 4 // damage: the server refuses to start (or falls back past an unusable snapshot)
)

// limitFlags are the record limit of the server whose files are read.
type limitFlags struct{ max, extra *int }

func limitFlag(fs *flag.FlagSet) *limitFlags {
	return &limitFlags{
		max: fs.Int("jute-maxbuffer", jute.DefaultMaxBuffer, "the server's jute.maxbuffer (bytes)"),
		extra: fs.Int("jute-extrasize", -1,
			"the server's jute.maxbuffer.extrasize (bytes; default: jute.maxbuffer)"),
	}
}

// limit is the record limit: jute.maxbuffer plus its extra allowance.
func (l *limitFlags) limit() int {
	extra := *l.extra
	if extra >= 0 {
		extra = max(extra, 1024)
	}
	return jute.ArchiveLimit(*l.max, extra)
}

// versionDir resolves a data directory argument: the directory holding
// version-2, or version-2 itself.
func versionDir(d string) (string, error) {
	if filepath.Base(filepath.Clean(d)) == "version-2" {
		return d, nil
	}
	v := storage.VersionDir(d)
	if st, err := os.Stat(v); err != nil || !st.IsDir() {
		return "", fmt.Errorf("%s has no version-2 directory", d)
	}
	return v, nil
}

// dirArgs parses DATALOGDIR and --snapdir into version-2 directories.
func dirArgs(fs *flag.FlagSet, snapdir string) (logDir, snapDir string, err error) {
	if fs.NArg() != 1 {
		return "", "", errors.New("one DATALOGDIR argument is needed")
	}
	if logDir, err = versionDir(fs.Arg(0)); err != nil {
		return "", "", err
	}
	snapDir = logDir
	if snapdir != "" {
		if snapDir, err = versionDir(snapdir); err != nil {
			return "", "", err
		}
	}
	return logDir, snapDir, nil
}

func runTxnlogVerify(args []string) int {
	usage := "usage: zkgo txnlog verify [--snapdir DATADIR] [--jute-maxbuffer N] DATALOGDIR\n" +
		"exit status: 0 clean, 3 torn tail only (the server cuts it at start), 4 damaged (the server refuses to start), 1 I/O error"
	fs := flag.NewFlagSet("txnlog verify", flag.ContinueOnError)
	snapdir := fs.String("snapdir", "", "dataDir holding the snapshots, when it is not DATALOGDIR")
	lim := limitFlag(fs)
	if err := fs.Parse(args); err != nil {
		fmt.Fprintln(os.Stderr, usage)
		return verifyUsage
	}
	logDir, snapDir, err := dirArgs(fs, *snapdir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "zkgo txnlog verify: %v\n%s\n", err, usage)
		return verifyUsage
	}
	return verify(os.Stdout, logDir, snapDir, lim.limit(), fs.Arg(0), *snapdir)
}

func verify(w io.Writer, logDir, snapDir string, limit int, logArg, snapArg string) int {
	rep, err := storage.CheckLogs(logDir, limit)
	if err != nil {
		fmt.Fprintf(w, "zkgo txnlog verify: %v\n", err)
		return verifyFailed
	}
	snaps, err := storage.CheckSnapshots(snapDir, limit)
	if err != nil {
		fmt.Fprintf(w, "zkgo txnlog verify: %v\n", err)
		return verifyFailed
	}
	status := verifyClean
	fmt.Fprintf(w, "txn logs in %s (records up to %d bytes):\n", logDir, limit)
	for _, f := range rep.Files {
		switch {
		case f.Empty:
			fmt.Fprintf(w, "  %-24s no txn (empty or only zeros)\n", filepath.Base(f.File.Path))
		case f.Records == 0:
			fmt.Fprintf(w, "  %-24s no readable txn\n", filepath.Base(f.File.Path))
		default:
			fmt.Fprintf(w, "  %-24s %8d txns  %s .. %s\n", filepath.Base(f.File.Path), f.Records, f.First, f.Last)
		}
	}
	for _, g := range rep.Gaps {
		where := "between files"
		if g.SameFile {
			where = "inside one file"
		}
		fmt.Fprintf(w, "  note: zxids jump from %s to %s (%s, %s)\n", g.After, g.Next, where, filepath.Base(g.File))
	}
	fmt.Fprintf(w, "snapshots in %s:\n", snapDir)
	newestOK := wire.Zxid(-1)
	for _, s := range snaps {
		if s.Err != nil {
			fmt.Fprintf(w, "  %-24s DAMAGED: %v\n", filepath.Base(s.File.Path), s.Err)
			status = verifyDamaged
			continue
		}
		if newestOK < 0 {
			newestOK = s.File.Zxid
		}
		fmt.Fprintf(w, "  %-24s ok, %d nodes\n", filepath.Base(s.File.Path), s.Nodes)
	}
	dirs := logArg
	if snapArg != "" {
		dirs = "--snapdir " + snapArg + " " + logArg
	}
	switch {
	case rep.Damage != nil:
		status = verifyDamaged
		fmt.Fprintf(w, "DAMAGED: %v\n", rep.Damage)
		fmt.Fprintln(w, "A server refuses to start on this.")
		// The newest zxid a truncation can keep: the last good txn, or a
		// readable snapshot past the damage.
		var cands []wire.Zxid // newest first
		for _, s := range snaps {
			if s.Err == nil && s.File.Zxid > rep.Damage.LastGood {
				cands = append(cands, s.File.Zxid)
			}
		}
		cands = append(cands, rep.Damage.LastGood)
		for _, z := range cands {
			if _, err := storage.PlanTruncate(logDir, snapDir, z, limit); err == nil {
				fmt.Fprintf(w, "To keep the txns up to %s and move everything after them into a backup directory "+
					"(it prints its plan; add --yes to do it):\n  zkgo txnlog truncate --at %s %s\n", z, z, dirs)
				break
			}
		}
	case rep.Tail != nil:
		if status == verifyClean {
			status = verifyTorn
		}
		z := "unreadable"
		if rep.Tail.ZxidKnown {
			z = rep.Tail.Zxid.String()
		}
		fmt.Fprintf(w, "TORN TAIL: %s ends in a partial record at offset %d (zxid %s, %s), followed only by zeros.\n"+
			"A crash during an append leaves this; the txn was never acknowledged. A server starting here cuts it "+
			"(keeping its bytes in a side file) and starts at %s.\n", rep.Tail.File, rep.Tail.Offset, z, rep.Tail.Reason, rep.Last)
	default:
		fmt.Fprintf(w, "txn logs: %d txns, all readable; last %s\n", rep.Records, rep.Last)
	}
	if newestOK < 0 && len(rep.Files) > 0 {
		status = verifyDamaged
		fmt.Fprintln(w, "No readable snapshot: a server refuses to start from the logs alone.")
	}
	switch status {
	case verifyClean:
		fmt.Fprintln(w, "result: clean")
	case verifyTorn:
		fmt.Fprintln(w, "result: torn tail only")
	case verifyDamaged:
		fmt.Fprintln(w, "result: damaged")
	}
	return status
}

func runTxnlogTruncate(args []string) int {
	usage := "usage: zkgo txnlog truncate --at ZXID [--snapdir DATADIR] [--jute-maxbuffer N] [--yes] DATALOGDIR\n" +
		"Keeps every txn up to ZXID and moves every later txn, log file and snapshot into a backup directory.\n" +
		"Without --yes it only prints what it would do. Stop the server first."
	fs := flag.NewFlagSet("txnlog truncate", flag.ContinueOnError)
	at := fs.String("at", "", "keep the txns up to this zxid (0x... hex, or decimal)")
	snapdir := fs.String("snapdir", "", "dataDir holding the snapshots, when it is not DATALOGDIR")
	yes := fs.Bool("yes", false, "do it (without it: print the plan only)")
	lim := limitFlag(fs)
	if err := fs.Parse(args); err != nil {
		fmt.Fprintln(os.Stderr, usage)
		return 2
	}
	z, err := strconv.ParseInt(*at, 0, 64)
	if *at == "" || err != nil || z < 0 {
		fmt.Fprintf(os.Stderr, "zkgo txnlog truncate: --at needs a zxid\n%s\n", usage)
		return 2
	}
	logDir, snapDir, err := dirArgs(fs, *snapdir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "zkgo txnlog truncate: %v\n%s\n", err, usage)
		return 2
	}
	p, err := storage.PlanTruncate(logDir, snapDir, wire.Zxid(z), lim.limit())
	if err != nil {
		fmt.Fprintf(os.Stderr, "zkgo txnlog truncate: %v\nNothing was changed.\n", err)
		return 1
	}
	w := os.Stdout
	if p.Empty() {
		fmt.Fprintf(w, "Nothing after %s: nothing to do.\n", p.Zxid)
		return 0
	}
	fmt.Fprintf(w, "To keep exactly the txns up to %s (the server then starts from %s and the logs):\n", p.Zxid, p.StartSnap)
	for _, f := range p.MoveSnaps {
		fmt.Fprintf(w, "  move snapshot %s to the backup\n", f)
	}
	if p.Cut != nil {
		fmt.Fprintf(w, "  cut %s at offset %d (a copy of the whole file goes to the backup)\n", p.Cut.Path, p.CutOffset)
	}
	for _, f := range p.MoveLogs {
		fmt.Fprintf(w, "  move log %s to the backup\n", f)
	}
	fmt.Fprintf(w, "  %d readable txns after %s are dropped", p.Dropped, p.Zxid)
	if p.Damage != nil {
		fmt.Fprintf(w, ", and the damaged record at %s offset %d", p.Damage.File, p.Damage.Offset)
	}
	if p.Tail != nil {
		fmt.Fprintf(w, ", and the torn record at %s offset %d", p.Tail.File, p.Tail.Offset)
	}
	fmt.Fprintln(w, ".")
	if !*yes {
		fmt.Fprintln(w, "Nothing was changed. Run again with --yes to do it (stop the server first).")
		return 0
	}
	backups, err := storage.Truncate(p, logDir, snapDir)
	for _, b := range backups {
		fmt.Fprintf(w, "backup: %s (manifest.txt says how to undo)\n", b)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "zkgo txnlog truncate: %v\n", err)
		return 1
	}
	fmt.Fprintf(w, "Done: the logs now end at %s.\n", p.Zxid)
	return 0
}
