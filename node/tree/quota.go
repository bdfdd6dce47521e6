package tree

import (
	"sort"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/wire"
)

// Quota upkeep, as Java 3.8's DataTree does it (quotas are never enforced
// by default, zookeeper.enforceQuota=false, but their stats are kept):
//
//   - creating /zookeeper/quota<P>/zookeeper_limits starts tracking P;
//     deleting it stops;
//   - creating /zookeeper/quota<P>/zookeeper_stats overwrites its data with
//     the real count and bytes of the subtree P;
//   - every create, delete and setData below a tracked path rewrites the
//     stats node of the deepest tracked prefix in place, without touching
//     its version or mzxid.
//
// Where Java would throw halfway through applying a txn (stats data it
// cannot parse, a limits node directly under /zookeeper/quota) and stop
// the server, zkgo leaves the stats alone.

const (
	quotaLimitNode = "zookeeper_limits"
	quotaStatNode  = "zookeeper_stats"
)

// quotaComponents splits a path as Java's PathTrie does: on "/", dropping
// components that are empty after trimming (String.trim: chars <= ' ').
func quotaComponents(path string) []string {
	var out []string
	for _, c := range strings.Split(path, "/") {
		if quotaKept(c) {
			out = append(out, c)
		}
	}
	return out
}

func quotaKey(path string) string { return "/" + strings.Join(quotaComponents(path), "/") }

func (t *Tree) addQuotaPath(p string) {
	if p == "" {
		return // Java: IllegalArgumentException
	}
	if t.quotas == nil {
		t.quotas = make(map[string]struct{})
		t.quotaLens = make(map[int]int)
	}
	k := quotaKey(p)
	if _, ok := t.quotas[k]; !ok {
		t.quotas[k] = struct{}{}
		t.quotaLens[len(k)]++
	}
}

func (t *Tree) removeQuotaPath(p string) {
	k := quotaKey(p)
	if _, ok := t.quotas[k]; ok {
		delete(t.quotas, k)
		if t.quotaLens[len(k)]--; t.quotaLens[len(k)] == 0 {
			delete(t.quotaLens, len(k))
		}
	}
}

// maxQuotaPrefix is DataTree.getMaxPrefixWithQuota: the deepest tracked
// prefix of path, "" for none (the root never counts). Like Java's trie
// walk it is linear in the path: a prefix is looked up only where its
// length is that of a tracked path (a deep path has many prefixes, and
// each lookup hashes the whole prefix).
func (t *Tree) maxQuotaPrefix(path string) string {
	if len(t.quotas) == 0 {
		return ""
	}
	best := ""
	n := 0                                // length of the normalized prefix so far
	exact := strings.HasPrefix(path, "/") // it is path[:n]
	var norm []byte                       // it, once it is not
	for start := 0; start <= len(path); {
		end := strings.IndexByte(path[start:], '/')
		if end < 0 {
			end = len(path)
		} else {
			end += start
		}
		c := path[start:end]
		next := end + 1
		if !quotaKept(c) {
			if exact && start > 0 {
				exact = false
				norm = append(norm, path[:n]...)
			}
			start = next
			continue
		}
		n += 1 + len(c)
		if !exact {
			norm = append(norm, '/')
			norm = append(norm, c...)
		}
		if t.quotaLens[n] > 0 {
			key := ""
			if exact {
				key = path[:n]
			} else {
				key = string(norm)
			}
			if _, ok := t.quotas[key]; ok {
				best = key
			}
		}
		start = next
	}
	return best
}

// quotaKept reports whether PathTrie keeps a path component: not empty
// after String.trim.
func quotaKept(c string) bool {
	return strings.TrimLeft(c, quotaTrimmed) != ""
}

const quotaTrimmed = "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f "

// quotaTrim is Quotas.trimQuotaPath; ok is false where Java's substring
// would throw.
func quotaTrim(quotaPath string) (string, bool) {
	if len(quotaPath) < len(QuotaPath) {
		return "", false
	}
	return quotaPath[len(QuotaPath):], true
}

// quotaCreated is createNode's quota step for a new node at path.
func (t *Tree) quotaCreated(parentPath, name, path string, dataLen int) {
	if strings.HasPrefix(parentPath, QuotaPath) {
		p, _ := quotaTrim(parentPath)
		if name == quotaLimitNode {
			t.addQuotaPath(p)
		}
		if name == quotaStatNode {
			if t.deferStats {
				// An ApplyJob counts the subtree in steps and ends
				// the step (quotaStatsCreated).
				t.deferred = &quotaStep{p: p, path: path, dataLen: dataLen}
				return
			}
			t.updateQuotaForPath(p)
		}
	}
	if prefix := t.maxQuotaPrefix(path); prefix != "" {
		t.updateQuotaStat(prefix, int64(dataLen), 1)
	}
}

// quotaStep is the rest of quotaCreated for a new zookeeper_stats node,
// left to an ApplyJob: the counts of the subtree at p go into it, then the
// node itself counts under its own quota prefix.
type quotaStep struct {
	p       string
	path    string
	dataLen int
}

// quotaStatsCreated ends a deferred quotaStep with the subtree's counts.
func (t *Tree) quotaStatsCreated(q *quotaStep, count, bytes int64) {
	t.setQuotaStats(q.p, count, bytes)
	if prefix := t.maxQuotaPrefix(q.path); prefix != "" {
		t.updateQuotaStat(prefix, int64(q.dataLen), 1)
	}
}

// quotaWalk is DataTree.getCounts across steps: the subtree does not
// change meanwhile (no other txn is applied while an ApplyJob runs).
type quotaWalk struct {
	stack        []quotaFrame
	count, bytes int64
}

type quotaFrame struct {
	path string
	set  *childSet
	i    int
}

func (t *Tree) newQuotaWalk(path string) *quotaWalk {
	w := &quotaWalk{}
	if n := t.nodes.get(path); n != nil {
		w.count, w.bytes = 1, int64(n.dataLen())
		w.stack = append(w.stack, quotaFrame{path: path, set: n.children})
	}
	return w
}

// step counts up to budget nodes (all when budget < 0); it reports how
// many it looked at and whether the walk is over.
func (w *quotaWalk) step(t *Tree, budget int) (int, bool) {
	used := 0
	for len(w.stack) > 0 && (budget < 0 || used < budget) {
		top := &w.stack[len(w.stack)-1]
		if top.i >= top.set.len() {
			w.stack = w.stack[:len(w.stack)-1]
			continue
		}
		// Children joined with "/", as quotaCounts (and Java) do.
		p := top.path + "/" + top.set.at(top.i)
		top.i++
		used++
		n := t.nodes.get(p)
		if n == nil {
			continue
		}
		w.count++
		w.bytes += int64(n.dataLen())
		if n.children.len() > 0 {
			w.stack = append(w.stack, quotaFrame{path: p, set: n.children})
		}
	}
	return used, len(w.stack) == 0
}

// LargeQuotaStats reports whether e creates a zookeeper_stats node whose
// quota covers more nodes than one step should count: BeginApply returns
// a job for it.
func (t *Tree) LargeQuotaStats(e *wire.TxnEntry) bool {
	var path string
	switch c := e.Body.(type) {
	case *wire.CreateTxn:
		path = c.Path
	case *wire.CreateContainerTxn:
		path = c.Path
	case *wire.CreateTTLTxn:
		path = c.Path
	default:
		return false
	}
	if len(path) < len(QuotaPath) || wire.BaseName(path) != quotaStatNode {
		return false
	}
	parentPath := wire.ParentPath(path)
	if !strings.HasPrefix(parentPath, QuotaPath) {
		return false
	}
	p, ok := quotaTrim(parentPath)
	if !ok {
		return false
	}
	n := t.nodes.get(p)
	return n != nil && n.children.descendants() > maxSortedChildren
}

// quotaDeleted is deleteNode's quota step.
func (t *Tree) quotaDeleted(parentPath, name, path string, dataLen int) {
	if strings.HasPrefix(parentPath, ZookeeperPath) && name == quotaLimitNode {
		if p, ok := quotaTrim(parentPath); ok && p != "" {
			t.removeQuotaPath(p)
		}
	}
	if prefix := t.maxQuotaPrefix(path); prefix != "" {
		t.updateQuotaStat(prefix, -int64(dataLen), -1)
	}
}

// quotaDataChanged is setData's quota step.
func (t *Tree) quotaDataChanged(path string, oldLen, newLen int) {
	if prefix := t.maxQuotaPrefix(path); prefix != "" {
		t.updateQuotaStat(prefix, int64(newLen-oldLen), 0)
	}
}

// updateQuotaStat adds to the count and bytes in prefix's stats node.
func (t *Tree) updateQuotaStat(prefix string, bytesDiff, countDiff int64) {
	statPath := QuotaPath + prefix + "/" + quotaStatNode
	n := t.nodes.get(statPath)
	if n == nil {
		return
	}
	st, ok := parseStatsTrack(n.Data())
	if !ok {
		return
	}
	st.set("count", st.get("count")+countDiff)
	st.set("bytes", st.get("bytes")+bytesDiff)
	t.changeNode(statPath, n, func(n *Node) { n.setData(st.bytes()) })
}

// updateQuotaForPath writes the real count and bytes of the subtree at
// path into its stats node.
func (t *Tree) updateQuotaForPath(path string) {
	var count, bytes int64
	t.quotaCounts(path, &count, &bytes)
	t.setQuotaStats(path, count, bytes)
}

// setQuotaStats writes count and bytes into path's stats node.
func (t *Tree) setQuotaStats(path string, count, bytes int64) {
	st := statsTrack{}
	st.set("bytes", bytes)
	st.set("count", count)
	statPath := QuotaPath + path + "/" + quotaStatNode
	if n := t.nodes.get(statPath); n != nil {
		t.changeNode(statPath, n, func(n *Node) { n.setData(st.bytes()) })
	}
}

// quotaCounts is DataTree.getCounts (children joined with "/", so the root
// counts alone, as in Java).
func (t *Tree) quotaCounts(path string, count, bytes *int64) {
	n := t.nodes.get(path)
	if n == nil {
		return
	}
	*count++
	*bytes += int64(n.dataLen())
	n.children.each(func(c string) { t.quotaCounts(path+"/"+c, count, bytes) })
}

// setupQuota rebuilds the tracked paths from the limits nodes and
// recomputes their stats (DataTree.setupQuota, run when a snapshot is
// loaded).
func (t *Tree) setupQuota() {
	t.quotaSetup = false
	t.quotas, t.quotaLens = nil, nil
	if t.nodes.get(QuotaPath) == nil {
		return
	}
	var walk func(path string)
	walk = func(path string) {
		n := t.nodes.get(path)
		if n == nil {
			return
		}
		if n.children.len() == 0 {
			const end = "/" + quotaLimitNode
			if strings.HasSuffix(path, end) {
				real := path[len(QuotaPath):strings.Index(path, end)]
				t.updateQuotaForPath(real)
				t.addQuotaPath(real)
			}
			return
		}
		n.children.each(func(c string) { walk(path + "/" + c) })
	}
	walk(QuotaPath)
}

// statsTrack is Java's StatsTrack: "count=N,bytes=M" plus, when other keys
// are present, "=;key=value" pairs in key order.
type statsTrack map[string]int64

func (s statsTrack) get(k string) int64 {
	if v, ok := s[k]; ok {
		return v
	}
	return -1
}

func (s statsTrack) set(k string, v int64) { s[k] = v }

// parseStatsTrack parses stats data as StatsTrack(String) does; ok is false
// where Java throws.
func parseStatsTrack(data []byte) (statsTrack, bool) {
	s := statsTrack{}
	str := string(data)
	if str == "" {
		return s, true
	}
	pairs := javaSplit(str, func(r rune) bool { return r == ',' || r == ';' }, true)
	for _, kv := range pairs {
		parts := javaSplit(kv, func(r rune) bool { return r == '=' }, false)
		if len(parts) < 2 {
			return nil, false
		}
		v := int64(-1)
		if parts[1] != "" {
			n, err := strconv.ParseInt(parts[1], 10, 64)
			if err != nil {
				return nil, false
			}
			v = n
		}
		s[parts[0]] = v
	}
	return s, true
}

// javaSplit is String.split: with run set the separator class matches a
// run of separators ("[,;]+"), otherwise each one ("="). Leading empty
// fields stay, trailing ones go.
func javaSplit(s string, sep func(rune) bool, run bool) []string {
	var out []string
	start := 0
	inRun := false
	for i, r := range s {
		if sep(r) {
			if !inRun || !run {
				out = append(out, s[start:i])
				inRun = true
			}
			start = i + 1
			continue
		}
		inRun = false
	}
	out = append(out, s[start:])
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

func (s statsTrack) bytes() []byte {
	var b strings.Builder
	b.WriteString("count=" + strconv.FormatInt(s.get("count"), 10))
	b.WriteString(",bytes=" + strconv.FormatInt(s.get("bytes"), 10))
	var keys []string
	for k := range s {
		if k != "count" && k != "bytes" {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		b.WriteByte('=')
		sort.Strings(keys)
		for _, k := range keys {
			b.WriteString(";" + k + "=" + strconv.FormatInt(s[k], 10))
		}
	}
	return []byte(b.String())
}
