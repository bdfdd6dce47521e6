package zabtest

import (
	"fmt"
	"strings"

	"github.com/zkgo/zkgo/wire"
)

// Store is a peer's txn log and epoch files in memory. Appended txns are
// durable once synced; a crash loses the rest. The epochs are written
// durably at once (a small file written and fsynced, as storage.WriteEpoch
// does).
type Store struct {
	log     []*wire.TxnEntry
	durable int // log[:durable] survives a crash

	AcceptedEpoch, CurrentEpoch int64
}

// Append adds txns to the log (not durable until Sync). Zxids must grow.
func (s *Store) Append(es ...*wire.TxnEntry) error {
	for _, e := range es {
		if n := len(s.log); n > 0 && e.Hdr.Zxid <= s.log[n-1].Hdr.Zxid {
			return fmt.Errorf("zabtest: append %v after %v", e.Hdr.Zxid, s.log[n-1].Hdr.Zxid)
		}
		s.log = append(s.log, e)
	}
	return nil
}

// Sync makes everything appended durable.
func (s *Store) Sync() { s.durable = len(s.log) }

// Truncate drops every txn after z (storage.TruncateTo); the log must hold
// z, unless z is 0 (an empty history).
func (s *Store) Truncate(z wire.Zxid) error {
	i := 0
	for i < len(s.log) && s.log[i].Hdr.Zxid <= z {
		i++
	}
	if z != 0 && (i == 0 || s.log[i-1].Hdr.Zxid != z) {
		return fmt.Errorf("zabtest: the log does not hold %v", z)
	}
	s.log = s.log[:i]
	s.durable = min(s.durable, i)
	return nil
}

// Crash drops what was not durable.
func (s *Store) Crash() { s.log = s.log[:s.durable] }

// LastZxid is the newest txn in the log (0 when empty).
func (s *Store) LastZxid() wire.Zxid {
	if len(s.log) == 0 {
		return 0
	}
	return s.log[len(s.log)-1].Hdr.Zxid
}

// Entries returns the log, oldest first (the store's own slice).
func (s *Store) Entries() []*wire.TxnEntry { return s.log }

// From returns the txns from z on if the log holds z (what a leader reads
// for a DIFF older than its committed log), else nil.
func (s *Store) From(z wire.Zxid) []*wire.TxnEntry {
	for i, e := range s.log {
		if e.Hdr.Zxid == z {
			return s.log[i:]
		}
		if e.Hdr.Zxid > z {
			break
		}
	}
	return nil
}

// String is the log as zxid ranges ("1:1..1:5 2:1"), with "| " where the
// durable part ends if something is not durable, then the epochs.
func (s *Store) String() string {
	var parts []string
	for i := 0; i < len(s.log); {
		j := i
		for j+1 < len(s.log) && s.log[j+1].Hdr.Zxid == s.log[j].Hdr.Zxid+1 && j+1 != s.durable {
			j++
		}
		if i == s.durable && i > 0 {
			parts = append(parts, "|")
		}
		if i == j {
			parts = append(parts, Zxid(s.log[i].Hdr.Zxid))
		} else {
			parts = append(parts, Zxid(s.log[i].Hdr.Zxid)+".."+Zxid(s.log[j].Hdr.Zxid))
		}
		i = j + 1
	}
	if s.durable == 0 && len(s.log) > 0 {
		parts = append([]string{"|"}, parts...)
	}
	if len(parts) == 0 {
		parts = []string{"(empty)"}
	}
	return fmt.Sprintf("log %s; epochs accepted=%d current=%d", strings.Join(parts, " "), s.AcceptedEpoch, s.CurrentEpoch)
}
