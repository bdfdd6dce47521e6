package tree

import (
	"bytes"
	"strings"
	"testing"
	"unsafe"

	"github.com/zkgo/zkgo/wire"
)

// TestNodeLayout keeps a node in the 96-byte size class and checks that
// null, empty and ordinary data come back as they went in.
func TestNodeLayout(t *testing.T) {
	if sz := unsafe.Sizeof(Node{}); sz > 96 {
		t.Fatalf("Node is %d bytes, want <= 96 (one size class up costs 16 MB per million nodes)", sz)
	}
	if d := newNode("/a", nil, 0, wire.StatPersisted{}).Data(); d != nil {
		t.Fatalf("null data came back as %v", d)
	}
	if d := newNode("/a", []byte{}, 0, wire.StatPersisted{}).Data(); d == nil || len(d) != 0 {
		t.Fatalf("empty data came back as %v (nil=%v)", d, d == nil)
	}
	src := []byte("some data")
	n := newNode("/some/path", src, 0, wire.StatPersisted{})
	src[0] = 'X'
	if d := n.Data(); !bytes.Equal(d, []byte("some data")) || cap(d) != len(d) {
		t.Fatalf("data %q (cap %d): not an exact-size private copy", d, cap(d))
	}
	if p := n.Path(); p != "/some/path" {
		t.Fatalf("path %q, want /some/path", p)
	}
	long := "/" + strings.Repeat("x", 300) // a two-byte length prefix
	if ln := newNode(long, []byte("d"), 0, wire.StatPersisted{}); ln.Path() != long || string(ln.Data()) != "d" || ln.name() != long[1:] {
		t.Fatalf("long path came back as %d bytes, data %q", len(ln.Path()), ln.Data())
	}
	tr := New(Options{})
	if st := tr.StatOf(n); st.DataLength != 9 {
		t.Fatalf("dataLength %d, want 9", st.DataLength)
	}
}
