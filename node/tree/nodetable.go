package tree

import "hash/maphash"

// nodeTable maps paths to nodes without holding the paths: an
// open-addressed table of node pointers (linear probing), each slot with a
// one-byte tag of the path's hash so that a probe reads the node's record
// (Node.Path) only when the tag matches. 9 bytes a slot at a load between
// 3/8 and 3/4, where a Go map keyed by the path string took a 16-byte
// string header and a pointer per slot (and its keys pinned the strings
// they were made from).
//
// Growing moves the nodes to a table twice the size a few slots per
// change (migrateStep), never all at once: a lookup meanwhile looks in
// both tables. A deleted slot keeps a tombstone until the next move. A
// moved slot of the old table keeps its tag (only its pointer goes), so
// the old table's probe sequences and empty slots stay as they were and a
// probe there ends as in a table at its load; a tag that matches in a
// moved slot is passed over.
type nodeTable struct {
	seed maphash.Seed
	cur  slotTable
	old  *slotTable // being moved into cur; nil when no move is under way
	next int        // the first slot of old not yet moved
	n    int        // nodes in both tables
}

type slotTable struct {
	nodes []*Node
	tags  []uint8 // tagEmpty, tagDeleted, or tagOf(hash)
	used  int     // slots with a node or a tombstone
}

const (
	tagEmpty   = 0
	tagDeleted = 1
	// minTableSize is a new tree's table (a power of two).
	minTableSize = 16
	// migrateSlots is how many slots of the old table each change moves:
	// the move ends before the new table (twice the size) is 3/4 full.
	migrateSlots = 64
)

func tagOf(h uint64) uint8 { return uint8(h>>57) | 2 }

func newSlotTable(size int) slotTable {
	return slotTable{nodes: make([]*Node, size), tags: make([]uint8, size)}
}

func newNodeTable() nodeTable {
	return nodeTable{seed: maphash.MakeSeed(), cur: newSlotTable(minTableSize)}
}

// testHash, when set by a test, replaces the hash (to force collisions).
var testHash func(string) uint64

func (m *nodeTable) hash(path string) uint64 {
	if testHash != nil {
		return testHash(path)
	}
	return maphash.String(m.seed, path)
}

// find returns the slot of path in s, or -1. The slots below moved were
// moved to another table (their nodes are nil): they are probed through,
// never matched.
func (s *slotTable) find(path string, h uint64, moved int) int {
	mask := len(s.tags) - 1
	tag := tagOf(h)
	for i := int(h) & mask; ; i = (i + 1) & mask {
		switch s.tags[i] {
		case tagEmpty:
			return -1
		case tag:
			if i >= moved && s.nodes[i].Path() == path {
				return i
			}
		}
	}
}

// insert puts n (hash h) in the first free slot of its probe sequence.
func (s *slotTable) insert(n *Node, h uint64) {
	mask := len(s.tags) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		switch s.tags[i] {
		case tagEmpty:
			s.used++
			fallthrough
		case tagDeleted:
			s.tags[i], s.nodes[i] = tagOf(h), n
			return
		}
	}
}

func (s *slotTable) remove(i int) {
	s.tags[i], s.nodes[i] = tagDeleted, nil
}

// get returns the node at path, or nil.
func (m *nodeTable) get(path string) *Node {
	h := m.hash(path)
	if i := m.cur.find(path, h, 0); i >= 0 {
		return m.cur.nodes[i]
	}
	if m.old != nil {
		if i := m.old.find(path, h, m.next); i >= 0 {
			return m.old.nodes[i]
		}
	}
	return nil
}

// put inserts n, whose Path is path; path must not be in the table.
func (m *nodeTable) put(path string, n *Node) {
	m.migrateStep()
	if m.old == nil && 4*(m.cur.used+1) > 3*len(m.cur.tags) {
		m.grow()
	}
	m.cur.insert(n, m.hash(path))
	m.n++
}

// del removes n, the node at path.
func (m *nodeTable) del(path string, n *Node) {
	m.migrateStep()
	h := m.hash(path)
	if i := m.cur.find(path, h, 0); i >= 0 && m.cur.nodes[i] == n {
		m.cur.remove(i)
		m.n--
		return
	}
	if m.old != nil {
		if i := m.old.find(path, h, m.next); i >= 0 && m.old.nodes[i] == n {
			m.old.remove(i)
			m.n--
		}
	}
}

// grow starts moving the nodes to a new table, sized so that its nodes
// and what the changes during the move may add fill at most half of it:
// twice the size when nodes fill the table, the same or smaller when
// tombstones do.
func (m *nodeTable) grow() {
	size := minTableSize
	for 2*(m.n+len(m.cur.tags)/migrateSlots+1) > size {
		size *= 2
	}
	old := m.cur
	m.old, m.next = &old, 0
	m.cur = newSlotTable(size)
	m.migrateStep()
}

// migrateStep moves the nodes of the next migrateSlots slots of the old
// table, if a move is under way.
func (m *nodeTable) migrateStep() {
	o := m.old
	if o == nil {
		return
	}
	end := min(m.next+migrateSlots, len(o.tags))
	for i := m.next; i < end; i++ {
		if o.tags[i] >= 2 {
			n := o.nodes[i]
			m.cur.insert(n, m.hash(n.Path()))
		}
		o.nodes[i] = nil // the tag stays: see nodeTable
	}
	m.next = end
	if end == len(o.tags) {
		m.old = nil
	}
}

// len returns the number of nodes.
func (m *nodeTable) len() int { return m.n }
