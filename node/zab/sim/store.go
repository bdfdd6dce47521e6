package sim

import (
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	"github.com/zkgo/zkgo/wire"
)

// Rec is one logged txn with a checksum of its encoding, so that the
// checkers compare txns without encoding them again.
type Rec struct {
	E   *wire.TxnEntry
	Sum uint64
}

// NewRec wraps e.
func NewRec(e *wire.TxnEntry) Rec {
	h := fnv.New64a()
	_, _ = h.Write(wire.AppendTxnEntry(nil, e))
	return Rec{E: e, Sum: h.Sum64()}
}

// Zxid is the record's zxid.
func (r Rec) Zxid() wire.Zxid { return r.E.Hdr.Zxid }

// errDisk is a failed fsync or epoch write (the disk fault).
var errDisk = fmt.Errorf("sim: fsync failed")

// Store is a peer's disk: its snapshots, its txn log and its epoch
// files, as node keeps them. A snapshot is the history up to its zxid
// (the txns a tree at that zxid holds; a consistent cut, not a fuzzy
// one: a fuzzy snapshot's replay is node/tree's business, tested there),
// durable once taken. The txn log's appends are durable once synced; a
// crash keeps the durable part and a random prefix of the rest (what
// reached the disk before the power went), minus a torn last record. The
// log may start anywhere and hold records at or below the newest
// snapshot (a SNAP drops what is after its zxid, DropAfter, and only
// once the snapshot at NEWLEADER is durable what is up to it): the
// peer's history is its newest snapshot and the log's records after it
// (History), as node's loadDatabase builds it. The epoch files are
// written and fsynced at once, as storage.WriteEpoch does. A failing disk
// (failing) fails every sync, snapshot and epoch write until the peer
// restarts.
type Store struct {
	log     []Rec
	durable int
	snaps   []Snapshot // oldest first

	AcceptedEpoch, CurrentEpoch int64
	failing                     bool
}

// Snapshot is a snapshot file: the history up to Zxid.
type Snapshot struct {
	Zxid wire.Zxid
	Recs []Rec
}

// snap is the newest snapshot (zero when none).
func (s *Store) snap() Snapshot {
	if len(s.snaps) == 0 {
		return Snapshot{}
	}
	return s.snaps[len(s.snaps)-1]
}

// afterSnap is the index of the log's first record after the newest
// snapshot.
func (s *Store) afterSnap(n int) int {
	z := s.snap().Zxid
	if z == 0 {
		return 0
	}
	return sort.Search(n, func(i int) bool { return s.log[i].Zxid() > z })
}

// Append adds records to the log, not durable until Sync. Zxids must grow
// past the history's.
func (s *Store) Append(rs ...Rec) error {
	for _, r := range rs {
		if last := s.LastZxid(); r.Zxid() <= last {
			return fmt.Errorf("sim: append %v after %v", r.Zxid(), last)
		}
		s.log = append(s.log, r)
	}
	return nil
}

// Sync makes everything appended durable, or fails on a failing disk.
func (s *Store) Sync() error {
	if s.failing {
		return errDisk
	}
	s.durable = len(s.log)
	return nil
}

// WriteEpochs writes both epoch files durably.
func (s *Store) WriteEpochs(accepted, current int64) error {
	if s.failing {
		return errDisk
	}
	s.AcceptedEpoch, s.CurrentEpoch = accepted, current
	return nil
}

// Truncate is a TRUNC (node's rewindDisk, strict: storage.TruncateTo):
// it drops every logged txn after z and every snapshot after z, durably;
// it fails when the log starts after z+1, unless z is 0 (every txn goes).
func (s *Store) Truncate(z wire.Zxid) error {
	i := sort.Search(len(s.log), func(i int) bool { return s.log[i].Zxid() > z })
	if len(s.log) > 0 && z != 0 && s.log[0].Zxid() > z+1 && !s.snapAt(z) {
		return fmt.Errorf("sim: cannot truncate to %v: the log starts at %v", z, s.log[0].Zxid())
	}
	if s.failing {
		return errDisk
	}
	s.log = s.log[:i:i]
	s.durable = min(s.durable, i)
	s.dropSnapsAfter(z)
	if h := s.History(); h.Len() == 0 && z != 0 || h.Len() > 0 && h.At(h.Len()-1).Zxid() != z {
		// node's TRUNC after a SNAP whose older snapshots and logs it
		// superseded: the database reloaded does not reach z, and node
		// stops rather than serve it (TestLearnerSnapWithoutUpToDateThenTruncBelowIt).
		return errCannotRebuild
	}
	return nil
}

// snapAt reports whether a snapshot is at z (node's TRUNC then drops
// every logged txn after it, even when the log starts later).
func (s *Store) snapAt(z wire.Zxid) bool {
	for _, sn := range s.snaps {
		if sn.Zxid == z {
			return true
		}
	}
	return false
}

// errCannotRebuild: a TRUNC the disk cannot rebuild its database at.
var errCannotRebuild = errors.New("sim: the database on disk does not reach the TRUNC zxid")

// DropAfter is what node does when a SNAP arrives (rewindDisk, not
// strict): the logged txns after z and the snapshots after z go; what
// the log holds up to z stays.
func (s *Store) DropAfter(z wire.Zxid) error {
	if s.failing {
		return errDisk
	}
	i := sort.Search(len(s.log), func(i int) bool { return s.log[i].Zxid() > z })
	s.log = s.log[:i:i]
	s.durable = min(s.durable, i)
	s.dropSnapsAfter(z)
	return nil
}

// DropThrough removes the logged txns up to z (the log's files a snapshot
// at z makes useless); the rest stays.
func (s *Store) DropThrough(z wire.Zxid) {
	i := sort.Search(len(s.log), func(i int) bool { return s.log[i].Zxid() > z })
	s.log = append([]Rec(nil), s.log[i:]...)
	s.durable = max(s.durable-i, 0)
}

func (s *Store) dropSnapsAfter(z wire.Zxid) {
	n := len(s.snaps)
	for n > 0 && s.snaps[n-1].Zxid > z {
		n--
	}
	s.snaps = s.snaps[:n:n]
}

// TakeSnapshot writes a snapshot of the history hist, durably (the
// snapshot at NEWLEADER after a SNAP or TRUNC, or one taken at any point
// of a peer's life). An empty history makes no file.
func (s *Store) TakeSnapshot(hist []Rec) error {
	if s.failing {
		return errDisk
	}
	if len(hist) == 0 {
		return nil
	}
	z := hist[len(hist)-1].Zxid()
	if n := len(s.snaps); n > 0 && s.snaps[n-1].Zxid >= z {
		return nil
	}
	s.snaps = append(s.snaps, Snapshot{Zxid: z, Recs: hist[:len(hist):len(hist)]})
	if len(s.snaps) > 3 {
		// node keeps a few (autopurge's snapRetainCount is at least 3)
		s.snaps = append([]Snapshot(nil), s.snaps[len(s.snaps)-3:]...)
	}
	return nil
}

// Snapshots is the number of snapshot files.
func (s *Store) Snapshots() int { return len(s.snaps) }

// Crash keeps the durable log and keep of the records after it; the disk
// works again after the restart.
func (s *Store) Crash(keep int) {
	n := s.durable + min(max(keep, 0), len(s.log)-s.durable)
	s.log = s.log[:n:n]
	s.durable = n
	s.failing = false
}

// Unsynced is the number of records not durable yet.
func (s *Store) Unsynced() int { return len(s.log) - s.durable }

// LastZxid is the newest txn of the history (0 when empty).
func (s *Store) LastZxid() wire.Zxid {
	z := s.snap().Zxid
	if n := len(s.log); n > 0 && s.log[n-1].Zxid() > z {
		return s.log[n-1].Zxid()
	}
	return z
}

// LastDurable is the newest durable txn of the log (0 when none).
func (s *Store) LastDurable() wire.Zxid {
	if s.durable == 0 {
		return 0
	}
	return s.log[s.durable-1].Zxid()
}

// History is the peer's history as a restart loads it: the newest
// snapshot, then the log's records after it (in two parts, not copied:
// the store's own slices).
func (s *Store) History() Hist {
	return Hist{s.snap().Recs, s.log[s.afterSnap(len(s.log)):]}
}

// DurableHistory is the part of History that survives a crash.
func (s *Store) DurableHistory() Hist {
	return Hist{s.snap().Recs, s.log[s.afterSnap(s.durable):s.durable]}
}

// Replayed is what a restart replays from the log (the records after the
// newest snapshot): node's committed log starts with it.
func (s *Store) Replayed() []Rec { return s.log[s.afterSnap(len(s.log)):] }

// Log returns the txn log (the store's own slice).
func (s *Store) Log() []Rec { return s.log }

// Hist is a history in two parts (a snapshot's and the log's after it).
type Hist [2][]Rec

// Len is the number of txns.
func (h Hist) Len() int { return len(h[0]) + len(h[1]) }

// At is the i-th txn.
func (h Hist) At(i int) Rec {
	if i < len(h[0]) {
		return h[0][i]
	}
	return h[1][i-len(h[0])]
}

// Flat returns the history as one new slice.
func (h Hist) Flat() []Rec {
	out := make([]Rec, 0, h.Len())
	return append(append(out, h[0]...), h[1]...)
}

// ReadForSync is node's proposalsFromLog: the log's records from z on,
// when the log holds z; nothing when it does not, or when two records of
// one epoch are not consecutive (a hole: the caller syncs by SNAP), or,
// as node's, when the read passes a snapshot's zxid without holding it
// (a learner synced by SNAP that kept its own older txns: node's second
// line of defense behind supersedeBySnap). weak leaves that last
// check out (the keep-log-at-snap sabotage, with which the learner never
// drops those txns: the two lines of defense removed together). Like
// node's, the read goes through a hole between epochs (node also refuses
// one that enters an epoch past its first txn).
func (s *Store) ReadForSync(z wire.Zxid, weak bool) []Rec {
	i := sort.Search(len(s.log), func(i int) bool { return s.log[i].Zxid() >= z })
	if i == len(s.log) || s.log[i].Zxid() != z {
		return nil
	}
	out := s.log[i:]
	for j := 1; j < len(out); j++ {
		a, b := out[j-1].Zxid(), out[j].Zxid()
		if a.Epoch() == b.Epoch() && b != a+1 {
			return nil
		}
	}
	if !weak {
		// node's proposalsFromLog: a snapshot the read passes must be at
		// one of its txns; one that is not came from a SNAP sync, and
		// the log around it is not this server's history (txns of an old
		// epoch it logged, maybe never committed, that the snapshot
		// superseded, had the learner kept them).
		for _, sn := range s.snaps {
			sz := sn.Zxid
			if sz <= z || sz > out[len(out)-1].Zxid() || sz.Counter() == 0 {
				continue
			}
			k := sort.Search(len(out), func(k int) bool { return out[k].Zxid() >= sz })
			if out[k].Zxid() != sz {
				return nil
			}
		}
	}
	return out
}

// String is the log as zxid ranges, "|" where the durable part ends, then
// the epochs.
func (s *Store) String() string {
	var parts []string
	for i := 0; i < len(s.log); {
		j := i
		for j+1 < len(s.log) && s.log[j+1].Zxid() == s.log[j].Zxid()+1 && j+1 != s.durable {
			j++
		}
		if i == s.durable && i > 0 {
			parts = append(parts, "|")
		}
		if i == j {
			parts = append(parts, zx(s.log[i].Zxid()))
		} else {
			parts = append(parts, zx(s.log[i].Zxid())+".."+zx(s.log[j].Zxid()))
		}
		i = j + 1
	}
	if s.durable == 0 && len(s.log) > 0 {
		parts = append([]string{"|"}, parts...)
	}
	if len(parts) == 0 {
		parts = []string{"(empty)"}
	}
	sn := ""
	if z := s.snap().Zxid; z != 0 {
		sn = "snap " + zx(z) + "; "
	}
	return fmt.Sprintf("%slog %s; epochs %d/%d", sn, strings.Join(parts, " "), s.AcceptedEpoch, s.CurrentEpoch)
}

// zx renders a zxid as epoch:counter.
func zx(z wire.Zxid) string {
	if z < 0 {
		return fmt.Sprint(int64(z))
	}
	return fmt.Sprintf("%d:%d", z.Epoch(), z.Counter())
}
