package tree

import (
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/wire"
)

// TestQuotaStatsCountedInSteps: creating a zookeeper_stats node above a
// subtree larger than a step counts it across ApplyJob steps; the tree,
// digest and result are those of the one-step count, and between steps
// every path the job has not reported as touched reads as before.
func TestQuotaStatsCountedInSteps(t *testing.T) {
	a, b := New(Options{}), New(Options{})
	zxid := wire.Zxid(0)
	apply := func(typ wire.OpCode, body any) wire.TxnEntry {
		t.Helper()
		zxid++
		e := wire.TxnEntry{Hdr: wire.TxnHeader{Zxid: zxid, Time: int64(zxid), Type: typ}}
		switch b := body.(type) {
		case *wire.CreateTxn:
			e.Body = b
		case *wire.CreateContainerTxn:
			e.Body = b
		}
		if a.LargeQuotaStats(&e) {
			return e
		}
		for _, tr := range []*Tree{a, b} {
			if r := tr.Apply(&e); r.Err != wire.ErrOk {
				t.Fatalf("zxid %d: %v", zxid, r.Err)
			}
		}
		return e
	}
	create := func(p, data string) wire.TxnEntry {
		return apply(wire.OpCreate, &wire.CreateTxn{Path: p, Data: []byte(data), ACL: OpenACLUnsafe, ParentCVersion: -1})
	}
	create("/top", "t")
	create(QuotaPath+"/top", "")
	create(QuotaPath+"/top/zookeeper_limits", "count=-1,bytes=-1")
	create(QuotaPath+"/top/zookeeper_stats", "count=0,bytes=0")
	create("/top/q", "q")
	for i := range 3000 {
		p := "/top/q/" + strconv.Itoa(i)
		create(p, strings.Repeat("d", i%7))
		if i%2 == 0 {
			create(p+"/c", "cc")
		}
	}
	create(QuotaPath+"/top/q", "")
	create(QuotaPath+"/top/q/zookeeper_limits", "count=10,bytes=-1")
	e := create(QuotaPath+"/top/q/zookeeper_stats", "abc")
	if !a.LargeQuotaStats(&e) {
		t.Fatal("the stats node of 4501 nodes is not counted in steps")
	}

	// a: in one step, as before (applyOne counts at once).
	ra := Result{Type: e.Hdr.Type}
	a.applyOne(e.Hdr.Type, e.Body, &e.Hdr, &ra)
	a.applied(e.Hdr.Zxid)
	// b: an ApplyJob, a few nodes a step.
	before := b.readAll()
	j := b.BeginApply(&e, true)
	steps := 0
	for {
		_, done := j.Step(50)
		steps++
		now := b.readAll()
		for p, st := range now {
			if !j.Touches(p) && before[p] != st {
				t.Fatalf("%s changed but the job does not report it", p)
			}
		}
		if done {
			break
		}
		if b.LastZxid == e.Hdr.Zxid {
			t.Fatal("LastZxid moved before the job finished")
		}
	}
	rb := j.Finish()
	if steps < 50 {
		t.Fatalf("counted in %d steps", steps)
	}
	if !reflect.DeepEqual(ra, rb) {
		t.Fatalf("results differ:\n%+v\n%+v", ra, rb)
	}
	if a.Digest() != b.Digest() || !reflect.DeepEqual(a.readAll(), b.readAll()) {
		t.Fatal("trees differ")
	}
	got := string(b.Get(QuotaPath + "/top/q/zookeeper_stats").Data())
	if got != "count=4501,bytes=11995" { // q, 3000 children (0-6 bytes), 1500 grandchildren (2)
		t.Fatalf("stats %q", got)
	}
}

// TestCreateStatOfStatsNode: the stat a create returns for a new
// zookeeper_stats node is taken before its quota step fills it in, as Java
// copies it (DataTree.createNode): its dataLength is that of the data it
// was created with.
func TestCreateStatOfStatsNode(t *testing.T) {
	tr := New(Options{})
	for i, p := range []string{"/x", QuotaPath + "/x", QuotaPath + "/x/zookeeper_stats"} {
		e := wire.TxnEntry{Hdr: wire.TxnHeader{Zxid: wire.Zxid(i + 1), Type: wire.OpCreate2},
			Body: &wire.CreateTxn{Path: p, Data: []byte("abc"), ACL: OpenACLUnsafe, ParentCVersion: -1}}
		r := tr.Apply(&e)
		if r.Err != wire.ErrOk || r.Stat.DataLength != 3 {
			t.Fatalf("create %s: %v, dataLength %d, want 3", p, r.Err, r.Stat.DataLength)
		}
	}
	if got := string(tr.Get(QuotaPath + "/x/zookeeper_stats").Data()); got != "count=1,bytes=3" {
		t.Fatalf("stats %q", got)
	}
}

// TestMaxQuotaPrefixMatchesTrieWalk compares maxQuotaPrefix with the
// prefix-by-prefix walk it replaced, on paths with empty and blank
// components.
func TestMaxQuotaPrefixMatchesTrieWalk(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	comps := []string{"a", "b", "ab", " ", "", "\t", " a"}
	randPath := func() string {
		var b strings.Builder
		if r.IntN(8) != 0 {
			b.WriteByte('/')
		}
		for i := range 1 + r.IntN(6) {
			if i > 0 {
				b.WriteByte('/')
			}
			b.WriteString(comps[r.IntN(len(comps))])
		}
		return b.String()
	}
	reference := func(tr *Tree, path string) string {
		best, cur := "", ""
		for _, c := range quotaComponents(path) {
			cur += "/" + c
			if _, ok := tr.quotas[cur]; ok {
				best = cur
			}
		}
		return best
	}
	for round := range 200 {
		tr := New(Options{})
		for range 1 + r.IntN(4) {
			tr.addQuotaPath(randPath())
		}
		if round%3 == 0 {
			for k := range tr.quotas {
				tr.removeQuotaPath(k)
				break
			}
		}
		for range 50 {
			p := randPath()
			if got, want := tr.maxQuotaPrefix(p), reference(tr, p); got != want {
				t.Fatalf("maxQuotaPrefix(%q) = %q, want %q (quotas %v)", p, got, want, tr.quotas)
			}
		}
	}
}

// BenchmarkQuotaSteps measures the quota steps that grow with the tree or
// a path (docs/limits.md): counting a 1M-node subtree for a new
// zookeeper_stats node, in one step and in ApplyJob steps, and finding the
// quota prefix of a 20,000-level path, prefix by prefix and as now.
//
//	go test -run '^$' -bench QuotaSteps -benchtime 1x ./node/tree/
func BenchmarkQuotaSteps(b *testing.B) {
	tr := New(Options{})
	zxid := wire.Zxid(0)
	create := func(p string) {
		zxid++
		e := wire.TxnEntry{Hdr: wire.TxnHeader{Zxid: zxid, Type: wire.OpCreate},
			Body: &wire.CreateTxn{Path: p, Data: make([]byte, 16), ACL: OpenACLUnsafe, ParentCVersion: -1}}
		if r := tr.Apply(&e); r.Err != wire.ErrOk {
			b.Fatalf("create %s: %v", p, r.Err)
		}
	}
	create("/big")
	for i := range 1000 {
		p := "/big/" + strconv.Itoa(i)
		create(p)
		for k := range 999 {
			create(p + "/" + strconv.Itoa(k))
		}
	}
	deep := "/deep"
	create(deep)
	for range 20000 {
		deep += "/d"
		create(deep)
	}
	create(QuotaPath + "/big")
	create(QuotaPath + "/deep")
	create(QuotaPath + "/deep/zookeeper_limits")
	b.Run("stats-of-1M-nodes-one-step", func(b *testing.B) {
		for b.Loop() {
			start := time.Now()
			tr.updateQuotaForPath("/big")
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "round-ms")
		}
	})
	b.Run("stats-of-1M-nodes-in-steps", func(b *testing.B) {
		b.N = 1
		zxid++
		e := wire.TxnEntry{Hdr: wire.TxnHeader{Zxid: zxid, Type: wire.OpCreate},
			Body: &wire.CreateTxn{Path: QuotaPath + "/big/zookeeper_stats", ACL: OpenACLUnsafe, ParentCVersion: -1}}
		j := tr.BeginApply(&e, true)
		var longest, total time.Duration
		rounds := 0
		for done := false; !done; rounds++ {
			start := time.Now()
			_, done = j.Step(128)
			d := time.Since(start)
			total += d
			longest = max(longest, d)
		}
		j.Finish()
		b.Logf("%d rounds, longest %v, total %v", rounds, longest, total)
		b.ReportMetric(float64(longest.Microseconds())/1000, "round-ms")
	})
	leaf := deep + "/leaf"
	b.Run("prefix-of-20000-levels-walk", func(b *testing.B) {
		for b.Loop() {
			best, cur := "", ""
			for _, c := range quotaComponents(leaf) {
				cur += "/" + c
				if _, ok := tr.quotas[cur]; ok {
					best = cur
				}
			}
			_ = best
		}
	})
	b.Run("prefix-of-20000-levels-now", func(b *testing.B) {
		for b.Loop() {
			_ = tr.maxQuotaPrefix(leaf)
		}
	})
}
