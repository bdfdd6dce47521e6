package zab

import "github.com/zkgo/zkgo/wire"

// DefaultCommitLogCount is zookeeper.commitLogCount's default: how many
// committed txns the committed log keeps.
const DefaultCommitLogCount = 500

// Committed is one committed txn of the committed log, or one read from
// the txn log for a sync.
type Committed struct {
	Zxid  wire.Zxid
	Entry *wire.TxnEntry
	data  []byte
}

// NewCommitted returns an entry for e; data is its PROPOSAL encoding
// (wire.AppendTxnEntry) if the caller has it, else nil.
func NewCommitted(e *wire.TxnEntry, data []byte) Committed {
	return Committed{Zxid: e.Hdr.Zxid, Entry: e, data: data}
}

// Data is the txn's PROPOSAL encoding, computed when first needed.
func (c *Committed) Data() []byte {
	if c.data == nil {
		c.data = wire.AppendTxnEntry(nil, c.Entry)
	}
	return c.data
}

// CommittedLog keeps the last committed txns, from which a leader syncs a
// learner by DIFF (ZKDatabase.committedLog). Every role keeps it, as Java's
// ZKDatabase does, so that a learner can lead later. The zero value keeps
// DefaultCommitLogCount txns.
type CommittedLog struct {
	entries []Committed
	limit   int
}

// NewCommittedLog returns an empty log that keeps limit txns (0: the
// default).
func NewCommittedLog(limit int) CommittedLog { return CommittedLog{limit: limit} }

// Add appends a committed txn; one at or below the newest is ignored. The
// log keeps a copy of *e, not e itself: e is usually part of a larger
// structure (a proposal with its result and watch events), which an
// interior pointer would keep alive for as long as the entry stays.
func (c *CommittedLog) Add(e *wire.TxnEntry, data []byte) {
	if c.limit == 0 {
		c.limit = DefaultCommitLogCount
	}
	if n := len(c.entries); n > 0 && e.Hdr.Zxid <= c.entries[n-1].Zxid {
		return
	}
	if len(c.entries) >= c.limit {
		// Keep exactly limit txns alive, as Java's committedLog does:
		// the oldest slot is cleared (so that it holds nothing) and
		// dropped from the front; append copies the live ones into a
		// new array once the old one's tail is used up (amortized O(1),
		// the array at most twice the limit of 40-byte slots).
		drop := len(c.entries) - c.limit + 1
		clear(c.entries[:drop])
		c.entries = c.entries[drop:]
	}
	ec := new(wire.TxnEntry)
	*ec = *e
	c.entries = append(c.entries, Committed{Zxid: e.Hdr.Zxid, Entry: ec, data: data})
}

// Window returns the entries kept (at most the limit), in zxid order. The
// slice is the log's own: do not change it, and do not keep it across an
// Add.
func (c *CommittedLog) Window() []Committed { return c.entries }

// Bounds returns the smallest and largest zxid kept; both are
// lastProcessed when the log is empty (Java's minCommittedLog and
// maxCommittedLog then equal the last processed zxid).
func (c *CommittedLog) Bounds(lastProcessed wire.Zxid) (minC, maxC wire.Zxid) {
	w := c.Window()
	if len(w) == 0 {
		return lastProcessed, lastProcessed
	}
	return w[0].Zxid, w[len(w)-1].Zxid
}

// Reset replaces the log with recent, the txns a database load replayed
// (oldest first).
func (c *CommittedLog) Reset(recent []*wire.TxnEntry) {
	c.entries = nil
	for _, e := range recent {
		c.Add(e, nil)
	}
}
