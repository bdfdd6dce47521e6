package tree

import (
	"encoding/binary"
	"iter"
	"maps"
	"slices"
	"sort"
	"strings"
	"unsafe"

	"github.com/zkgo/zkgo/wire"
)

// Ephemeral owner encodings (spec §6.5, EphemeralType).
const (
	// ContainerOwner marks a container node.
	ContainerOwner int64 = -1 << 63
	// ttlMask selects the extended-type byte of a TTL owner.
	ttlMask int64 = -1 << 56 // 0xFF00000000000000
	// MaxTTL is the largest TTL in milliseconds (40 bits).
	MaxTTL int64 = 0xFFFFFFFFFF
)

// Kind classifies a node by its ephemeralOwner.
type Kind uint8

// Node kinds.
const (
	KindPersistent Kind = iota
	KindEphemeral
	KindContainer
	KindTTL
)

// Node is one znode. Callers must treat it as read-only.
//
// The layout is packed for the size class of a million-node tree: 96 bytes
// (the record as a pointer and the data's length as an int32, which fits
// in the padding after the stat, instead of slice or string headers that
// would make it 112).
type Node struct {
	// rec is the node's path and data in one exact-size allocation that
	// never changes once made (a setData makes a new one): the path's
	// length as a uvarint, the path, the data. Slices and strings handed
	// out (Path, Data, child names) point into it. dlen is the data's
	// length, -1 for null data.
	rec      *byte
	children *childSet // nil until the first child
	ACL      int64     // index into the ACL cache
	Stat     wire.StatPersisted
	dlen     int32
	// dcrc is dataCRC(path, data), kept up to date by addNode and
	// changeNode (it fills the padding after dlen).
	dcrc uint32
}

// emptyData is the zero-length, non-null data (cap 0: nobody can write
// into it).
var emptyData = []byte{}

// recHeader returns the length of the path and of its uvarint prefix.
func (n *Node) recHeader() (plen, hdr int) {
	shift := 0
	for {
		c := *(*byte)(unsafe.Add(unsafe.Pointer(n.rec), hdr))
		hdr++
		plen |= int(c&0x7f) << shift
		if c < 0x80 {
			return plen, hdr
		}
		shift += 7
	}
}

// Path returns the node's path ("/" for the root). The string is the
// node's own storage.
func (n *Node) Path() string {
	plen, hdr := n.recHeader()
	return unsafe.String((*byte)(unsafe.Add(unsafe.Pointer(n.rec), hdr)), plen)
}

// name returns the last component of the node's path.
func (n *Node) name() string {
	p := n.Path()
	return p[strings.LastIndexByte(p, '/')+1:]
}

// Data returns the node's data: nil for null data. The slice is the
// node's own storage: read it, never write to it.
func (n *Node) Data() []byte {
	switch {
	case n.dlen < 0:
		return nil
	case n.dlen == 0:
		return emptyData
	}
	plen, hdr := n.recHeader()
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(n.rec), hdr+plen)), n.dlen)
}

// dataLen returns the length of the data (0 for null data).
func (n *Node) dataLen() int { return max(int(n.dlen), 0) }

// setRecord makes path and a copy of b (nil: null data) the node's record.
func (n *Node) setRecord(path string, b []byte) {
	hdr := 1
	for v := len(path); v >= 0x80; v >>= 7 {
		hdr++
	}
	rec := make([]byte, hdr+len(path)+len(b))
	i := binary.PutUvarint(rec, uint64(len(path)))
	i += copy(rec[i:], path)
	copy(rec[i:], b)
	n.rec = &rec[0]
	n.dlen = int32(len(b))
	if b == nil {
		n.dlen = -1
	}
}

// setData makes a copy of b the node's data (nil: null data), in a new
// record: the old one may still be read through strings and slices handed
// out before.
func (n *Node) setData(b []byte) { n.setRecord(n.Path(), b) }

// newNode returns a node at path with a copy of data b.
func newNode(path string, b []byte, acl int64, st wire.StatPersisted) *Node {
	n := &Node{ACL: acl, Stat: st}
	n.setRecord(path, b)
	return n
}

// NumChildren returns the number of children.
func (n *Node) NumChildren() int { return n.children.len() }

// ChildNames returns a copy of the children's names, in no promised order
// (Java's come in HashSet order).
func (n *Node) ChildNames() []string { return n.children.names() }

// HasChild reports whether name is a child.
func (n *Node) HasChild(name string) bool { return n.children.has(name) }

// addChild records child (a new node without children) as a child of the
// node at parentPath.
func (t *Tree) addChild(parentPath string, parent, child *Node) {
	if parent.children == nil {
		cs := &childSet{}
		if parentPath != "/" {
			if gp := t.nodes.get(wire.ParentPath(parentPath)); gp != nil {
				cs.up = gp.children
			}
		}
		parent.children = cs
	}
	if parent.children.add(child) {
		parent.children.addDescendants(1)
	}
}

// removeChild forgets the child name of the node at parent, and the nodes
// below it (gone is the child's own descendant count).
func (t *Tree) removeChild(parent *Node, name string, gone int64) {
	cs := parent.children
	if cs == nil || !cs.has(name) {
		return
	}
	cs.remove(name)
	cs.addDescendants(-1 - gone)
	if cs.len() == 0 {
		parent.children = nil
	}
}

// Options configure a Tree.
type Options struct {
	// ExtendedTypes is zookeeper.extendedTypesEnabled (TTL nodes).
	ExtendedTypes bool
	// Config is the data of /zookeeper/config.
	Config []byte
	// MaxTxnBytes is the largest encoded txn Prep may produce
	// (Config.RecordLimit: jute.maxbuffer plus its extra allowance, what
	// Java reads back from a txn log or a PROPOSAL); 0 means Java's
	// default, jute.QuorumMaxBuffer. It also bounds what one request may
	// expand into: an ACL list whose "auth" entries would expand beyond it
	// is refused before it is built (FixupACL).
	MaxTxnBytes int
	// X509 is set when the x509 authentication provider is registered
	// (a TLS client port, or authProvider.N naming it): x509 ids are then
	// valid in ACLs (x509.go).
	X509 bool
	// SASL is set when the sasl provider is registered (authProvider.N).
	SASL bool
}

// Tree is the data tree. It is not safe for concurrent use.
type Tree struct {
	opts       Options
	nodes      nodeTable
	acls       *ACLCache
	ephemerals map[wire.SessionID]map[string]struct{}
	containers map[string]struct{}
	ttls       map[string]struct{}
	digest     uint64
	dg         digester
	dataBytes  int64 // sum of path+data lengths (Java's approximateDataSize)
	ephCount   int   // ephemeral nodes indexed in ephemerals

	// LastZxid is the zxid of the last txn applied (lastProcessedZxid).
	LastZxid wire.Zxid

	// touched collects every path an ApplyJob changes, while one runs.
	touched map[string]struct{}

	quotas     map[string]struct{} // paths with a zookeeper_limits node (Java's PathTrie)
	quotaSetup bool                // nodes were restored: rebuild quotas before the next change
	quotaLens  map[int]int         // lengths of the quotas' paths (maxQuotaPrefix)
	deferStats bool                // a zookeeper_stats node's count is left to an ApplyJob
	deferred   *quotaStep

	prep prepState
}

// Special paths.
const (
	ZookeeperPath = "/zookeeper"
	QuotaPath     = "/zookeeper/quota"
	ConfigPath    = "/zookeeper/config"
)

// New returns a tree holding only the nodes a fresh Java DataTree has: the
// root, /zookeeper, /zookeeper/quota and /zookeeper/config.
func New(opts Options) *Tree {
	t := NewEmpty(opts)
	t.addNode("/", newNode("/", []byte{}, OpenACLUnsafeIndex, wire.StatPersisted{}))
	t.addSystemNodes()
	return t
}

// NewEmpty returns a tree with no nodes at all, for loading a snapshot.
func NewEmpty(opts Options) *Tree {
	return &Tree{
		opts:       opts,
		nodes:      newNodeTable(),
		acls:       newACLCache(),
		ephemerals: make(map[wire.SessionID]map[string]struct{}),
		containers: make(map[string]struct{}),
		ttls:       make(map[string]struct{}),
	}
}

func (t *Tree) addSystemNodes() {
	for _, p := range []string{ZookeeperPath, QuotaPath} {
		if t.nodes.get(p) == nil {
			t.addNode(p, newNode(p, []byte{}, OpenACLUnsafeIndex, wire.StatPersisted{}))
			t.linkChild(p)
		}
	}
	if t.nodes.get(ConfigPath) == nil {
		cfg := t.opts.Config
		if cfg == nil {
			cfg = []byte{}
		}
		t.addNode(ConfigPath, newNode(ConfigPath, cfg, t.acls.Intern(ReadACLUnsafe), wire.StatPersisted{Aversion: -1}))
		t.linkChild(ConfigPath)
	}
}

// EnsureSystemNodes adds the /zookeeper nodes if a loaded snapshot lacked
// them and resets /zookeeper/config to the local config, as Java does when
// reconfig is disabled.
func (t *Tree) EnsureSystemNodes() {
	if t.quotaSetup {
		t.setupQuota()
	}
	t.addSystemNodes()
	if n := t.nodes.get(ConfigPath); n != nil && t.opts.Config != nil {
		t.changeNode(ConfigPath, n, func(n *Node) { n.setData(t.opts.Config) })
	}
}

// InitConfig sets /zookeeper/config the way ZKDatabase.initConfigInZKDatabase
// does for a quorum member: the config text as data, version -1, mzxid =
// the config's version and mtime = now (given by the caller).
func (t *Tree) InitConfig(text []byte, cfgVersion int64, nowMs int64) {
	t.opts.Config = text
	t.addSystemNodes()
	n := t.nodes.get(ConfigPath)
	t.changeNode(ConfigPath, n, func(n *Node) {
		n.setData(text)
		n.Stat.Version = -1
		n.Stat.Mzxid = wire.Zxid(cfgVersion)
		n.Stat.Mtime = nowMs
	})
}

// touch records that path changes, while an ApplyJob that tracks its
// paths runs.
func (t *Tree) touch(path string) {
	if t.touched != nil {
		t.touched[path] = struct{}{}
	}
}

// addNode inserts n, whose Path is path, keeping the digest and size
// accounting. The sets of special nodes get a copy of the path, not the
// node's record, which a setData replaces.
func (t *Tree) addNode(path string, n *Node) {
	t.touch(path)
	t.nodes.put(path, n)
	n.dcrc = dataCRC(path, n.Data())
	t.digest += t.nodeDigest(path, n)
	t.dataBytes += int64(len(path) + n.dataLen())
	switch t.KindOf(n.Stat.EphemeralOwner) {
	case KindContainer:
		t.containers[strings.Clone(path)] = struct{}{}
	case KindTTL:
		t.ttls[strings.Clone(path)] = struct{}{}
	case KindEphemeral:
		id := wire.SessionID(n.Stat.EphemeralOwner)
		set := t.ephemerals[id]
		if set == nil {
			set = make(map[string]struct{})
			t.ephemerals[id] = set
		}
		set[strings.Clone(path)] = struct{}{}
		t.ephCount++
	}
}

// linkChild records path as a child of its parent (which must exist).
func (t *Tree) linkChild(path string) {
	pp := wire.ParentPath(path)
	t.addChild(pp, t.nodes.get(pp), t.nodes.get(path))
}

// changeNode runs fn on n, keeping the digest right.
func (t *Tree) changeNode(path string, n *Node, fn func(*Node)) {
	t.touch(path)
	t.digest -= t.nodeDigest(path, n)
	oldLen, oldRec := n.dlen, n.rec
	fn(n)
	if n.rec != oldRec {
		n.dcrc = dataCRC(path, n.Data())
		// A large child set is keyed by names in the records.
		if path != "/" {
			if p := t.nodes.get(wire.ParentPath(path)); p != nil {
				p.children.renamed(n)
			}
		}
	}
	t.dataBytes += int64(n.dataLen() - max(int(oldLen), 0))
	t.digest += t.nodeDigest(path, n)
}

// removeNode deletes path from the maps (not from its parent's children).
func (t *Tree) removeNode(path string, n *Node) {
	t.touch(path)
	t.nodes.del(path, n)
	t.digest -= t.nodeDigest(path, n)
	t.dataBytes -= int64(len(path) + n.dataLen())
	t.acls.Release(n.ACL)
	switch t.KindOf(n.Stat.EphemeralOwner) {
	case KindContainer:
		delete(t.containers, path)
	case KindTTL:
		delete(t.ttls, path)
	case KindEphemeral:
		id := wire.SessionID(n.Stat.EphemeralOwner)
		if set := t.ephemerals[id]; set != nil {
			if _, ok := set[path]; ok {
				delete(set, path)
				t.ephCount--
			}
			if len(set) == 0 {
				delete(t.ephemerals, id)
			}
		}
	}
}

// KindOf classifies an ephemeralOwner value (EphemeralType.get). TTL owners
// are recognised only with extended types enabled, as in Java.
func (t *Tree) KindOf(owner int64) Kind {
	switch {
	case owner == 0:
		return KindPersistent
	case owner == ContainerOwner:
		return KindContainer
	case t.opts.ExtendedTypes && owner&ttlMask == ttlMask:
		return KindTTL
	}
	return KindEphemeral
}

// TTLOwner encodes a TTL in an ephemeralOwner.
func TTLOwner(ttl int64) int64 { return ttlMask | (ttl & MaxTTL) }

// TTLOf decodes the TTL from a TTL owner.
func TTLOf(owner int64) int64 { return owner & MaxTTL }

// ExtendedTypes reports whether TTL nodes are enabled.
func (t *Tree) ExtendedTypes() bool { return t.opts.ExtendedTypes }

// Get returns the node at path, or nil.
func (t *Tree) Get(path string) *Node {
	if path == "" {
		// Java's DataTree keeps the root under "" as well as "/", so a read
		// of "" finds the root.
		path = "/"
	}
	return t.nodes.get(path)
}

// StatOf returns the client view of n's stat (DataNode.copyStat).
func (t *Tree) StatOf(n *Node) wire.Stat {
	nc := int32(n.children.len())
	owner := n.Stat.EphemeralOwner
	if t.KindOf(owner) != KindEphemeral {
		owner = 0
	}
	return wire.Stat{
		Czxid:          n.Stat.Czxid,
		Mzxid:          n.Stat.Mzxid,
		Ctime:          n.Stat.Ctime,
		Mtime:          n.Stat.Mtime,
		Version:        n.Stat.Version,
		Cversion:       n.Stat.Cversion*2 - nc,
		Aversion:       n.Stat.Aversion,
		EphemeralOwner: owner,
		DataLength:     int32(n.dataLen()),
		NumChildren:    nc,
		Pzxid:          n.Stat.Pzxid,
	}
}

// ACLOf returns n's ACL list.
func (t *Tree) ACLOf(n *Node) []wire.ACL { return t.acls.Get(n.ACL) }

// ACLs returns the ACL cache (for snapshots).
func (t *Tree) ACLs() *ACLCache { return t.acls }

// Len returns the number of nodes, counting the root (Java's node count
// includes every node in the map).
func (t *Tree) Len() int { return t.nodes.len() }

// Digest returns the tree digest (sum of node digests).
func (t *Tree) Digest() uint64 { return t.digest }

// DataBytes approximates the data size (sum of path and data lengths).
func (t *Tree) DataBytes() int64 { return t.dataBytes }

// Ephemerals returns the ephemeral paths of a session: sorted up to 4096,
// in map order beyond (Java's come in HashSet order).
func (t *Tree) Ephemerals(id wire.SessionID) []string {
	set := t.ephemerals[id]
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	if len(out) <= maxSortedChildren {
		sort.Strings(out)
	}
	return out
}

// EachEphemeralSession yields the sessions owning ephemerals: sorted up to
// 4096, in map order beyond (for listings built across owner rounds).
func (t *Tree) EachEphemeralSession() iter.Seq[wire.SessionID] {
	if len(t.ephemerals) <= maxSortedChildren {
		return slices.Values(slices.Sorted(maps.Keys(t.ephemerals)))
	}
	return maps.Keys(t.ephemerals)
}

// EachEphemeral yields a session's ephemeral paths: sorted up to 4096, in
// map order beyond.
func (t *Tree) EachEphemeral(id wire.SessionID) iter.Seq[string] {
	if len(t.ephemerals[id]) <= maxSortedChildren {
		return slices.Values(t.Ephemerals(id))
	}
	return maps.Keys(t.ephemerals[id])
}

// UnsortedEphemeralSessions yields the sessions owning ephemerals in map
// order, whatever their number (for listings gathered across owner rounds
// and sorted off the owner goroutine).
func (t *Tree) UnsortedEphemeralSessions() iter.Seq[wire.SessionID] { return maps.Keys(t.ephemerals) }

// UnsortedEphemerals yields a session's ephemeral paths in map order.
func (t *Tree) UnsortedEphemerals(id wire.SessionID) iter.Seq[string] {
	return maps.Keys(t.ephemerals[id])
}

// EphemeralSessions returns the sessions owning ephemerals, sorted.
func (t *Tree) EphemeralSessions() []wire.SessionID { return slices.Sorted(maps.Keys(t.ephemerals)) }

// EphemeralSessionCount returns the number of sessions owning ephemerals.
func (t *Tree) EphemeralSessionCount() int { return len(t.ephemerals) }

// EphemeralCount returns the number of ephemeral nodes.
func (t *Tree) EphemeralCount() int { return t.ephCount }

// SessionEphemeralCount returns the number of ephemeral nodes session id
// owns in the tree.
func (t *Tree) SessionEphemeralCount(id wire.SessionID) int { return len(t.ephemerals[id]) }

// Containers returns the container paths, sorted.
func (t *Tree) Containers() []string { return sortedKeys(t.containers) }

// TTLs returns the TTL node paths, sorted.
func (t *Tree) TTLs() []string { return sortedKeys(t.ttls) }

// ReapCount returns the number of containers and TTL nodes.
func (t *Tree) ReapCount() int { return len(t.containers) + len(t.ttls) }

// ReapPaths yields the containers, then the TTL nodes, in map order. It
// may be pulled across changes to the tree: a node added meanwhile may be
// yielded or not, one removed before it was reached is not.
func (t *Tree) ReapPaths() iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, m := range []map[string]struct{}{t.containers, t.ttls} {
			for p := range m {
				if !yield(p) {
					return
				}
			}
		}
	}
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// CountDescendants returns the number of nodes below path
// (getAllChildrenNumber); every child set keeps the count.
func (t *Tree) CountDescendants(path string) int {
	n := t.nodes.get(path)
	if n == nil {
		return 0
	}
	return int(n.children.descendants())
}

// Walk visits every node in pre-order (parents before children), starting
// at the root. Children are visited in sorted order.
func (t *Tree) Walk(fn func(path string, n *Node) bool) {
	var walk func(p string) bool
	walk = func(p string) bool {
		n := t.nodes.get(p)
		if n == nil {
			return true
		}
		if !fn(p, n) {
			return false
		}
		for _, c := range n.children.sortedNames() {
			if !walk(wire.JoinPath(p, c)) {
				return false
			}
		}
		return true
	}
	walk("/")
}

// Restore inserts a node read from a snapshot. Parents precede children;
// a missing parent is an error (Java: "Invalid Datatree").
func (t *Tree) Restore(path string, data []byte, acl int64, st wire.StatPersisted) bool {
	if path == "" {
		path = "/"
	}
	if path != "/" {
		if t.nodes.get(wire.ParentPath(path)) == nil {
			return false
		}
	}
	// Java keeps a node whose ACL index is missing from the map ("Ignoring
	// acl ... as it does not exist in the cache"); the txn log replay that
	// follows a fuzzy snapshot sets the right ACL.
	t.acls.AddRef(acl)
	t.quotaSetup = true
	if old := t.nodes.get(path); old != nil {
		t.removeNode(path, old)
	}
	t.addNode(path, newNode(path, data, acl, st))
	if path != "/" {
		t.linkChild(path)
	}
	return true
}

func isUnder(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}
