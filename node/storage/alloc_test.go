package storage

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// keepingVisitor keeps what it is given, as the tree does (the path as
// a map key, the data as the node's own copy).
type keepingVisitor struct {
	paths []string
	data  [][]byte
	stats []wire.StatPersisted
}

func (v *keepingVisitor) Session(wire.SessionID, int32) error { return nil }
func (v *keepingVisitor) ACL(int64, []wire.ACL) error         { return nil }
func (v *keepingVisitor) Node(path string, data []byte, _ int64, st *wire.StatPersisted) error {
	v.paths = append(v.paths, path)
	v.data = append(v.data, data)
	v.stats = append(v.stats, *st)
	return nil
}

// Loading a snapshot allocates what the tree keeps of a node (its path
// and its data) and nothing else per node: the garbage copy of each path
// used to sit between the kept ones in the same size class, leaving the
// spans of a million-node tree half empty after a restart.
func TestReadDataTreeAllocatesOnlyWhatIsKept(t *testing.T) {
	const n = 200
	w := jute.NewWriter(nil)
	w.Int(0) // no ACLs
	for i := 0; i < n; i++ {
		w.String(fmt.Sprintf("/membench/p%04d/node-%06d", i/10, i))
		w.Buffer(bytes.Repeat([]byte{'a'}, 100))
		w.Long(1)
		(&wire.StatPersisted{Czxid: wire.Zxid(i), Version: int32(i)}).Encode(w)
	}
	w.String("/")
	stream := w.Bytes()
	var v *keepingVisitor
	allocs := testing.AllocsPerRun(5, func() {
		v = &keepingVisitor{paths: make([]string, 0, n), data: make([][]byte, 0, n), stats: make([]wire.StatPersisted, 0, n)}
		s := NewStreamReader(bytes.NewReader(stream), 0)
		if err := ReadDataTree(s, v); err != nil {
			t.Fatal(err)
		}
	})
	// 2 per node; the reader, its bufio buffer, its checksum, the scratch
	// buffer and the visitor's slices are a handful more.
	if per := (allocs - 16) / n; per > 2 {
		t.Fatalf("%v allocations for %d nodes: %.2f per node, want 2 (path, data)", allocs, n, per)
	}
	if len(v.paths) != n || v.paths[n-1] != fmt.Sprintf("/membench/p%04d/node-%06d", (n-1)/10, n-1) ||
		len(v.data[7]) != 100 || v.stats[7].Czxid != 7 || v.stats[7].Version != 7 {
		t.Fatalf("decoded wrong: %d paths, last %q, stat %+v", len(v.paths), v.paths[len(v.paths)-1], v.stats[7])
	}
	// The kept paths do not share the reader's buffer.
	if v.paths[0] != "/membench/p0000/node-000000" {
		t.Fatalf("first path changed to %q after later reads", v.paths[0])
	}
}

// The hand decoding of a node's stat agrees with the generated decoder.
func TestStreamStatMatchesJute(t *testing.T) {
	want := wire.StatPersisted{Czxid: 0x100000001, Mzxid: 0x200000002, Ctime: 1700000000001, Mtime: 1700000000002,
		Version: 3, Cversion: -4, Aversion: 5, EphemeralOwner: -1 << 63, Pzxid: 0x300000003}
	if statSize != want.Size() {
		t.Fatalf("statSize %d, StatPersisted.Size %d", statSize, want.Size())
	}
	s := NewStreamReader(bytes.NewReader(jute.Marshal(&want)), 0)
	var got wire.StatPersisted
	if err := s.stat(&got); err != nil || got != want {
		t.Fatalf("stat %+v %v, want %+v", got, err, want)
	}
}
