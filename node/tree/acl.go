package tree

import (
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
// Java's ReferenceCountedACLCache; snapshots store the index table.
type ACLCache struct {
	byIndex map[int64]*aclEntry
	byKey   map[string]int64
	next    int64 // last index handed out
	hold    int   // >0 while a snapshot walks the tree: keep unused entries
}

type aclEntry struct {
	acl  []wire.ACL
	refs int64
}

func newACLCache() *ACLCache {
	return &ACLCache{byIndex: map[int64]*aclEntry{}, byKey: map[string]int64{}}
}

// aclKey is a canonical string for an ACL list (order matters, as in Java's
// List.equals).
func aclKey(acl []wire.ACL) string {
	n := 0
	for _, a := range acl {
		n += 12 + len(a.ID.Scheme) + len(a.ID.ID)
	}
	b := make([]byte, 0, n)
	for _, a := range acl {
		b = append(b, byte(a.Perms>>24), byte(a.Perms>>16), byte(a.Perms>>8), byte(a.Perms))
		b = appendLen(b, a.ID.Scheme)
		b = appendLen(b, a.ID.ID)
	}
	return string(b)
}

func appendLen(b []byte, s string) []byte {
	n := len(s)
	b = append(b, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	return append(b, s...)
}

// Intern returns the index for acl and adds a reference. A nil list is the
// open-unsafe index.
func (c *ACLCache) Intern(acl []wire.ACL) int64 {
	if acl == nil {
		return OpenACLUnsafeIndex
	}
	k := aclKey(acl)
	if idx, ok := c.byKey[k]; ok {
		c.byIndex[idx].refs++
		return idx
	}
	c.next++
	idx := c.next
	cp := make([]wire.ACL, len(acl))
	copy(cp, acl)
	c.byIndex[idx] = &aclEntry{acl: cp, refs: 1}
	c.byKey[k] = idx
	return idx
}

// Get returns the ACL list for idx (nil if unknown). The open-unsafe index
// yields OpenACLUnsafe.
func (c *ACLCache) Get(idx int64) []wire.ACL {
	if idx == OpenACLUnsafeIndex {
		return OpenACLUnsafe
	}
	if e, ok := c.byIndex[idx]; ok {
		return e.acl
	}
	return nil
}

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
		delete(c.byKey, aclKey(e.acl))
	}
}

// Len returns the number of distinct ACL lists.
func (c *ACLCache) Len() int { return len(c.byIndex) }

// Put restores an entry read from a snapshot with zero references; nodes
// loaded afterwards add theirs with AddRef, and PurgeUnused drops the rest.
func (c *ACLCache) Put(idx int64, acl []wire.ACL) {
	c.byIndex[idx] = &aclEntry{acl: acl}
	c.byKey[aclKey(acl)] = idx
	if idx > c.next {
		c.next = idx
	}
}

// AddRef adds a reference to an existing index (snapshot loading).
func (c *ACLCache) AddRef(idx int64) bool {
	if idx == OpenACLUnsafeIndex {
		return true
	}
	e, ok := c.byIndex[idx]
	if ok {
		e.refs++
	}
	return ok
}

// PurgeUnused removes entries no node references.
func (c *ACLCache) PurgeUnused() {
	if c.hold > 0 {
		return
	}
	for idx, e := range c.byIndex {
		if e.refs <= 0 {
			delete(c.byIndex, idx)
			delete(c.byKey, aclKey(e.acl))
		}
	}
}

// Each calls fn for every entry in index order (for snapshots).
func (c *ACLCache) Each(fn func(idx int64, acl []wire.ACL)) {
	idxs := make([]int64, 0, len(c.byIndex))
	for i := range c.byIndex {
		idxs = append(idxs, i)
	}
	sort.Slice(idxs, func(a, b int) bool { return idxs[a] < idxs[b] })
	for _, i := range idxs {
		fn(i, c.byIndex[i].acl)
	}
}

// NextIndex returns the last index handed out (snapshot bookkeeping).
func (c *ACLCache) NextIndex() int64 { return c.next }
