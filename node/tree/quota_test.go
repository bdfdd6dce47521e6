package tree

import (
	"testing"

	"github.com/zkgo/zkgo/wire"
)

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
