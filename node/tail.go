package node

import (
	"iter"
	"slices"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/session"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

// tailCollector gathers the sessions and the ACL map that end a snapshot
// and start a SNAP stream, a bounded number per owner round (100,000
// sessions or a million ACL lists are not one round's work). What it
// gathers is fuzzy, as the snapshot's tree walk is: a session opened or
// closed meanwhile may or may not be in it, and the txns replayed from the
// snapshot's zxid settle it. Every ACL entry there when it starts is
// gathered (the walk holds the cache: no entry goes). The sorting and the
// encoding happen off the owner goroutine (sortTail, encodeSnapHead).
type tailCollector struct {
	sessNext func() (*session.Session, bool)
	sessStop func()
	aclNext  func() (int64, []wire.ACL, bool)
	aclStop  func()
	tail     storage.SnapshotTail
	done     bool
}

// newTailCollector starts gathering sessions and t's ACL map.
func newTailCollector(sessions *session.Tracker, t *tree.Tree) *tailCollector {
	c := &tailCollector{}
	c.sessNext, c.sessStop = iter.Pull(sessions.Each())
	c.aclNext, c.aclStop = iter.Pull2(t.ACLs().EachEntry())
	return c
}

// step gathers up to budget entries and reports whether all are gathered.
func (c *tailCollector) step(budget int) bool {
	for ; budget > 0 && c.sessNext != nil; budget-- {
		sess, ok := c.sessNext()
		if !ok {
			c.sessStop()
			c.sessNext = nil
			break
		}
		c.tail.Sessions = append(c.tail.Sessions, wire.SessionTouch{SessionID: sess.ID, TimeoutMs: sess.TimeoutMs})
	}
	for ; budget > 0 && c.aclNext != nil; budget-- {
		idx, acl, ok := c.aclNext()
		if !ok {
			c.aclStop()
			c.aclNext = nil
			break
		}
		c.tail.ACLs = append(c.tail.ACLs, storage.IndexedACL{Index: idx, ACL: acl})
	}
	c.done = c.sessNext == nil && c.aclNext == nil
	return c.done
}

// stop abandons the collection.
func (c *tailCollector) stop() {
	if c.sessNext != nil {
		c.sessStop()
		c.sessNext = nil
	}
	if c.aclNext != nil {
		c.aclStop()
		c.aclNext = nil
	}
}

// roundTailEntries is how many sessions or ACL lists a round gathers.
const roundTailEntries = 4096

// sortTail orders a tail's sessions by id and its ACL map by index, as
// zkgo writes them (Java writes hash order); off the owner goroutine.
func sortTail(t *storage.SnapshotTail) {
	slices.SortFunc(t.Sessions, func(a, b wire.SessionTouch) int { return cmpInt(int64(a.SessionID), int64(b.SessionID)) })
	slices.SortFunc(t.ACLs, func(a, b storage.IndexedACL) int { return cmpInt(a.Index, b.Index) })
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// encodeSnapHead encodes the start of a SNAP stream: the SNAP packet, the
// sessions and the ACL map (off the owner goroutine).
func encodeSnapHead(zxid wire.Zxid, t *storage.SnapshotTail) []byte {
	sortTail(t)
	var hw jute.Writer
	qp := wire.QuorumPacket{Type: wire.PacketSnap, Zxid: zxid}
	qp.Encode(&hw)
	hw.Int(int32(len(t.Sessions)))
	for _, ss := range t.Sessions {
		hw.Long(int64(ss.SessionID))
		hw.Int(ss.TimeoutMs)
	}
	hw.Int(int32(len(t.ACLs)))
	for _, a := range t.ACLs {
		hw.Long(a.Index)
		hw.VectorLen(len(a.ACL))
		for i := range a.ACL {
			a.ACL[i].Encode(&hw)
		}
	}
	return hw.Bytes()
}
