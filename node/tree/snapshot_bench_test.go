package tree

import (
	"fmt"
	"testing"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// benchTree holds n nodes of size bytes under /b (fan-out 1000).
func benchTree(b *testing.B, n, size int) *Tree {
	t := New(Options{})
	data := make([]byte, size)
	zxid := wire.Zxid(0)
	create := func(p string) {
		zxid++
		e := &wire.TxnEntry{Hdr: wire.TxnHeader{Zxid: zxid, Type: wire.OpCreate}, Body: &wire.CreateTxn{Path: p, Data: data, ParentCVersion: -1}}
		if r := t.Apply(e); r.Err != wire.ErrOk {
			b.Fatalf("create %s: %v", p, r.Err)
		}
	}
	create("/b")
	for i := 0; i < n; i++ {
		if i%1000 == 0 {
			create(fmt.Sprintf("/b/p%04d", i/1000))
		}
		create(fmt.Sprintf("/b/p%04d/n%06d", i/1000, i))
	}
	return t
}

// BenchmarkSnapshotChunk is the owner goroutine's cost of one background
// snapshot step (advanceSnapshot) on a tree of 1 KiB nodes.
func BenchmarkSnapshotChunk(b *testing.B) {
	t := benchTree(b, 20000, 1024)
	for _, c := range []struct{ nodes, bytes int }{{2000, 1 << 20}, {1000, 256 << 10}} {
		b.Run(fmt.Sprintf("%dnodes_%dKiB", c.nodes, c.bytes>>10), func(b *testing.B) {
			var w jute.Writer
			w.Reset(make([]byte, 0, c.bytes+64<<10))
			cur := t.NewSnapshotCursor()
			for b.Loop() {
				w.Reset(w.Bytes()[:0])
				if cur.Next(&w, c.nodes, c.bytes) {
					cur.Release()
					cur = t.NewSnapshotCursor()
				}
			}
			cur.Release()
		})
	}
}
