package sim

import (
	"fmt"
	"hash/fnv"
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

// Store is a peer's disk: its txn log (the snapshot is modelled as the log
// up to its zxid, as in zabtest) and its epoch files. Appends are durable
// once synced; a crash keeps the durable part and a random prefix of the
// rest (what reached the disk before the power went), minus a torn last
// record. The epoch files are written and fsynced at once, as
// storage.WriteEpoch does. A failing disk (failing) fails every sync and
// epoch write until the peer restarts.
type Store struct {
	log     []Rec
	durable int

	AcceptedEpoch, CurrentEpoch int64
	failing                     bool
}

// Append adds records to the log, not durable until Sync. Zxids must grow.
func (s *Store) Append(rs ...Rec) error {
	for _, r := range rs {
		if n := len(s.log); n > 0 && r.Zxid() <= s.log[n-1].Zxid() {
			return fmt.Errorf("sim: append %v after %v", r.Zxid(), s.log[n-1].Zxid())
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

// Truncate drops every txn after z, durably (storage.TruncateTo); the log
// must hold z unless z is 0.
func (s *Store) Truncate(z wire.Zxid) error {
	i := 0
	for i < len(s.log) && s.log[i].Zxid() <= z {
		i++
	}
	if z != 0 && (i == 0 || s.log[i-1].Zxid() != z) {
		return fmt.Errorf("sim: the log does not hold %v", z)
	}
	if s.failing {
		return errDisk
	}
	s.log = s.log[:i:i]
	s.durable = min(s.durable, i)
	return nil
}

// Replace makes rs the whole log, durably (a snapshot written at
// NEWLEADER after a SNAP or TRUNC).
func (s *Store) Replace(rs []Rec) error {
	if s.failing {
		return errDisk
	}
	s.log = append([]Rec(nil), rs...)
	s.durable = len(s.log)
	return nil
}

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

// LastZxid is the newest txn in the log (0 when empty).
func (s *Store) LastZxid() wire.Zxid {
	if len(s.log) == 0 {
		return 0
	}
	return s.log[len(s.log)-1].Zxid()
}

// LastDurable is the newest durable txn (0 when none).
func (s *Store) LastDurable() wire.Zxid {
	if s.durable == 0 {
		return 0
	}
	return s.log[s.durable-1].Zxid()
}

// Log returns the log (the store's own slice).
func (s *Store) Log() []Rec { return s.log }

// Durable returns the durable part of the log (the store's own slice).
func (s *Store) Durable() []Rec { return s.log[:s.durable] }

// From returns the records from z on if the log holds z, else nil.
func (s *Store) From(z wire.Zxid) []Rec {
	for i, r := range s.log {
		if r.Zxid() == z {
			return s.log[i:]
		}
		if r.Zxid() > z {
			break
		}
	}
	return nil
}

// Upto returns the records up to z.
func (s *Store) Upto(z wire.Zxid) []Rec {
	i := 0
	for i < len(s.log) && s.log[i].Zxid() <= z {
		i++
	}
	return s.log[:i:i]
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
	return fmt.Sprintf("log %s; epochs %d/%d", strings.Join(parts, " "), s.AcceptedEpoch, s.CurrentEpoch)
}

// zx renders a zxid as epoch:counter.
func zx(z wire.Zxid) string {
	if z < 0 {
		return fmt.Sprint(int64(z))
	}
	return fmt.Sprintf("%d:%d", z.Epoch(), z.Counter())
}
