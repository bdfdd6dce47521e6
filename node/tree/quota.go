package tree

import (
	"sort"
	"strconv"
	"strings"
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
		if strings.TrimLeft(c, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ") != "" {
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
	}
	t.quotas[quotaKey(p)] = struct{}{}
}

// maxQuotaPrefix is DataTree.getMaxPrefixWithQuota: the deepest tracked
// prefix of path, "" for none (the root never counts).
func (t *Tree) maxQuotaPrefix(path string) string {
	if len(t.quotas) == 0 {
		return ""
	}
	best, cur := "", ""
	for _, c := range quotaComponents(path) {
		cur += "/" + c
		if _, ok := t.quotas[cur]; ok {
			best = cur
		}
	}
	return best
}

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
			t.updateQuotaForPath(p)
		}
	}
	if prefix := t.maxQuotaPrefix(path); prefix != "" {
		t.updateQuotaStat(prefix, int64(dataLen), 1)
	}
}

// quotaDeleted is deleteNode's quota step.
func (t *Tree) quotaDeleted(parentPath, name, path string, dataLen int) {
	if strings.HasPrefix(parentPath, ZookeeperPath) && name == quotaLimitNode {
		if p, ok := quotaTrim(parentPath); ok && p != "" {
			delete(t.quotas, quotaKey(p))
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
	n := t.nodes[statPath]
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
	st := statsTrack{}
	st.set("bytes", bytes)
	st.set("count", count)
	statPath := QuotaPath + path + "/" + quotaStatNode
	if n := t.nodes[statPath]; n != nil {
		t.changeNode(statPath, n, func(n *Node) { n.setData(st.bytes()) })
	}
}

// quotaCounts is DataTree.getCounts (children joined with "/", so the root
// counts alone, as in Java).
func (t *Tree) quotaCounts(path string, count, bytes *int64) {
	n := t.nodes[path]
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
	t.quotas = nil
	if t.nodes[QuotaPath] == nil {
		return
	}
	var walk func(path string)
	walk = func(path string) {
		n := t.nodes[path]
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
