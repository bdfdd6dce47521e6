package tree

import (
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// SnapshotCursor walks the tree in pre-order for a snapshot, a bounded
// number of nodes per call, so the owner goroutine can interleave it with
// applying txns (a fuzzy snapshot, as Java's: a node is written as it is
// when visited; nodes created after their parent was visited are missed and
// nodes deleted before their visit are skipped, and replaying the log from
// the snapshot's zxid fixes both).
type SnapshotCursor struct {
	t     *Tree
	stack []cursorFrame
	done  bool
	nodes int
}

type cursorFrame struct {
	path     string
	children []string
	next     int
}

// NewSnapshotCursor starts a walk at the root. It holds the ACL cache so
// that ACL entries released during the walk stay until Release.
func (t *Tree) NewSnapshotCursor() *SnapshotCursor {
	t.acls.hold++
	return &SnapshotCursor{t: t, stack: []cursorFrame{{path: ""}}}
}

// Nodes returns how many nodes were written so far.
func (c *SnapshotCursor) Nodes() int { return c.nodes }

// Next appends up to maxNodes node records (or until about maxBytes) to w
// and reports whether the walk is complete. The root is written with path
// "", as Java does.
func (c *SnapshotCursor) Next(w *jute.Writer, maxNodes, maxBytes int) bool {
	if c.done {
		return true
	}
	start := w.Len()
	for n := 0; n < maxNodes && w.Len()-start < maxBytes; {
		if len(c.stack) == 0 {
			c.done = true
			return true
		}
		top := &c.stack[len(c.stack)-1]
		if top.children == nil {
			// First visit: write the node and list its children.
			key := top.path
			if key == "" {
				key = "/"
			}
			node := c.t.nodes.get(key)
			if node == nil {
				c.stack = c.stack[:len(c.stack)-1]
				continue
			}
			AppendNodeRecord(w, top.path, node)
			c.nodes++
			n++
			// Sorted while the set is small; a large set's names in its
			// own order (a copy, not a sort of up to millions of names in
			// one owner round; Java's come in HashSet order).
			top.children = node.children.names()
		}
		if top.next >= len(top.children) {
			c.stack = c.stack[:len(c.stack)-1]
			continue
		}
		child := top.path + "/" + top.children[top.next]
		top.next++
		c.stack = append(c.stack, cursorFrame{path: child})
	}
	return false
}

// Release ends the walk's hold on the ACL cache.
func (c *SnapshotCursor) Release() {
	if c.t.acls.hold > 0 {
		c.t.acls.hold--
		if c.t.acls.hold == 0 {
			c.t.acls.PurgeUnused()
		}
	}
}

// AppendNodeRecord encodes one node as snapshots and SNAP streams hold it:
// ustring path, buffer data, i64 acl, StatPersisted.
func AppendNodeRecord(w *jute.Writer, path string, n *Node) {
	w.String(path)
	w.Buffer(n.Data())
	w.Long(n.ACL)
	n.Stat.Encode(w)
}

// SnapshotACLs returns the ACL map for a snapshot, in index order.
func (t *Tree) SnapshotACLs() []IndexedACL {
	out := make([]IndexedACL, 0, t.acls.Len())
	t.acls.Each(func(idx int64, acl []wire.ACL) { out = append(out, IndexedACL{Index: idx, ACL: acl}) })
	return out
}

// IndexedACL is an ACL map entry.
type IndexedACL struct {
	Index int64
	ACL   []wire.ACL
}
