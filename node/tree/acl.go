package tree

import (
	"hash/maphash"
	"iter"
	"sort"

	"github.com/zkgo/zkgo/wire"
)

// OpenACLUnsafeIndex is the ACL index of a node created with a null ACL
// list (the root and /zookeeper); it stands for world:anyone with all
// permissions and is never stored in the cache.
const OpenACLUnsafeIndex = -1

// OpenACLUnsafe is world:anyone with all permissions.
var OpenACLUnsafe = []wire.ACL{{Perms: int32(wire.PermAll), ID: wire.ID{Scheme: "world", ID: "anyone"}}}

// ReadACLUnsafe is world:anyone with read permission (/zookeeper/config).
var ReadACLUnsafe = []wire.ACL{{Perms: int32(wire.PermRead), ID: wire.ID{Scheme: "world", ID: "anyone"}}}

// ACLCache interns ACL lists as int64 indexes with reference counts, like
// Java's ReferenceCountedACLCache; snapshots store the index table. Lists
// are found by a seeded hash of their entries (checked entry by entry), not
// by a key holding a copy of the whole list: interning a list of 45,000
// entries costs one pass over it.
type ACLCache struct {
	byIndex map[int64]*aclEntry
	byHash  map[uint64][]int64 // hash -> indexes of the lists with it
	seed    maphash.Seed
	next    int64 // last index handed out
	hold    int   // >0 while a snapshot walks the tree: keep unused entries
}

type aclEntry struct {
	acl  []wire.ACL
	hash uint64
	refs int64
}

func newACLCache() *ACLCache {
	return &ACLCache{byIndex: map[int64]*aclEntry{}, byHash: map[uint64][]int64{}, seed: maphash.MakeSeed()}
}

// hash hashes an ACL list (order matters, as in Java's List.equals).
func (c *ACLCache) hash(acl []wire.ACL) uint64 {
	h := uint64(len(acl))
	for i := range acl {
		a := &acl[i]
		// maphash.String runs the runtime's hash (not instrumented by -race).
		h = h*0x9e3779b97f4a7c15 ^ uint64(uint32(a.Perms))
		h = h*0x9e3779b97f4a7c15 ^ maphash.String(c.seed, a.ID.Scheme)
		h = h*0x9e3779b97f4a7c15 ^ maphash.String(c.seed, a.ID.ID)
	}
	return h
}

func equalACLs(a, b []wire.ACL) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Perms != b[i].Perms || a[i].ID.Scheme != b[i].ID.Scheme || a[i].ID.ID != b[i].ID.ID {
			return false
		}
	}
	return true
}

// find returns the index of a list equal to acl, with hash h; of equal
// lists (a snapshot may hold some) the one put last, as Java's key map
// keeps the last.
func (c *ACLCache) find(acl []wire.ACL, h uint64) (int64, bool) {
	l := c.byHash[h]
	for i := len(l) - 1; i >= 0; i-- {
		if equalACLs(c.byIndex[l[i]].acl, acl) {
			return l[i], true
		}
	}
	return 0, false
}

func (c *ACLCache) unhash(idx int64, h uint64) {
	l := c.byHash[h]
	for i, x := range l {
		if x == idx {
			l = append(l[:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(c.byHash, h)
	} else {
		c.byHash[h] = l
	}
}

// Intern returns the index for acl and adds a reference. A nil list is the
// open-unsafe index.
func (c *ACLCache) Intern(acl []wire.ACL) int64 {
	if acl == nil {
		return OpenACLUnsafeIndex
	}
	h := c.hash(acl)
	if idx, ok := c.find(acl, h); ok {
		c.byIndex[idx].refs++
		return idx
	}
	c.next++
	for c.byIndex[c.next] != nil {
		// An index a snapshot's node refers to without an ACL (AddRef):
		// which list it stood for is not known, so it is not reused.
		c.next++
	}
	idx := c.next
	cp := make([]wire.ACL, len(acl))
	copy(cp, acl)
	c.byIndex[idx] = &aclEntry{acl: cp, hash: h, refs: 1}
	c.byHash[h] = append(c.byHash[h], idx)
	return idx
}

// Get returns the ACL list for idx (nil if unknown). The open-unsafe index
// yields OpenACLUnsafe.
func (c *ACLCache) Get(idx int64) []wire.ACL {
	if idx == OpenACLUnsafeIndex {
		return OpenACLUnsafe
	}
	if e, ok := c.byIndex[idx]; ok {
		if e.acl == nil {
			return UndefinedACL
		}
		return e.acl
	}
	return nil
}

// UndefinedACL is the list of a node whose ACL index nothing defined (a
// snapshot's node named it, its ACL map lacked it, and no replayed txn
// gave the node a list: AddRef). It grants nothing, so such a node fails
// closed: only the super user gets past its checks, and getACL answers
// MARSHALLINGERROR, as Java's convertLong fails for such an index.
var UndefinedACL = []wire.ACL{{Perms: 0, ID: wire.ID{Scheme: "undefined", ID: ""}}}

// IsUndefinedACL reports whether acl is UndefinedACL.
func IsUndefinedACL(acl []wire.ACL) bool { return len(acl) == 1 && &acl[0] == &UndefinedACL[0] }

// Release drops a reference; an entry with no references is removed.
func (c *ACLCache) Release(idx int64) {
	if idx == OpenACLUnsafeIndex {
		return
	}
	e, ok := c.byIndex[idx]
	if !ok {
		return
	}
	e.refs--
	if e.refs <= 0 && c.hold == 0 {
		delete(c.byIndex, idx)
		if e.acl != nil {
			c.unhash(idx, e.hash)
		}
	}
}

// Len returns the number of distinct ACL lists.
func (c *ACLCache) Len() int { return len(c.byIndex) }

// Put restores an entry read from a snapshot with zero references; nodes
// loaded afterwards add theirs with AddRef, and PurgeUnused drops the rest.
func (c *ACLCache) Put(idx int64, acl []wire.ACL) {
	h := c.hash(acl)
	var refs int64
	if old := c.byIndex[idx]; old != nil {
		if old.acl != nil {
			c.unhash(idx, old.hash)
		} else {
			refs = old.refs // counted before the map defined it (AddRef)
		}
	}
	c.byIndex[idx] = &aclEntry{acl: acl, hash: h, refs: refs}
	c.byHash[h] = append(c.byHash[h], idx)
	if idx > c.next {
		c.next = idx
	}
}

// AddRef adds a reference to index idx (snapshot loading) and reports
// whether the index has an ACL. A fuzzy snapshot can hold a node whose
// index its ACL map lacks (the map is written before the nodes, and a txn
// in between made the index); such references are still counted, on an
// entry without an ACL, until the replay of the node's create or setACL
// points the node at its list (Tree.create, Tree.setACL). Java's cache
// ignores them ("Ignoring acl ... as it does not exist in the cache"), so
// a later setACL or delete of such a node released another node's
// reference and dropped the entry that node still used (Java then fails
// every request on that node; zkgo served it with no ACL at all).
func (c *ACLCache) AddRef(idx int64) bool {
	if idx == OpenACLUnsafeIndex {
		return true
	}
	e, ok := c.byIndex[idx]
	if !ok {
		e = &aclEntry{}
		c.byIndex[idx] = e
	}
	e.refs++
	return e.acl != nil
}

// PurgeUnused removes entries no node references.
func (c *ACLCache) PurgeUnused() {
	if c.hold > 0 {
		return
	}
	for idx, e := range c.byIndex {
		if e.refs <= 0 {
			delete(c.byIndex, idx)
			if e.acl != nil {
				c.unhash(idx, e.hash)
			}
		}
	}
}

// Each calls fn for every entry in index order (for snapshots).
func (c *ACLCache) Each(fn func(idx int64, acl []wire.ACL)) {
	idxs := make([]int64, 0, len(c.byIndex))
	for i, e := range c.byIndex {
		if e.acl != nil { // an index no txn defined has nothing to write
			idxs = append(idxs, i)
		}
	}
	sort.Slice(idxs, func(a, b int) bool { return idxs[a] < idxs[b] })
	for _, i := range idxs {
		fn(i, c.byIndex[i].acl)
	}
}

// EachEntry yields every entry in map order (a snapshot's ACL map,
// collected across owner rounds: while a snapshot holds the cache no entry
// goes, so every entry there at the start is yielded).
func (c *ACLCache) EachEntry() iter.Seq2[int64, []wire.ACL] {
	return func(yield func(int64, []wire.ACL) bool) {
		for idx, e := range c.byIndex {
			if e.acl == nil {
				continue // an index no txn defined (AddRef)
			}
			if !yield(idx, e.acl) {
				return
			}
		}
	}
}

// NextIndex returns the last index handed out (snapshot bookkeeping).
func (c *ACLCache) NextIndex() int64 { return c.next }
