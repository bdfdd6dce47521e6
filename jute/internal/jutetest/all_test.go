package jutetest

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/zkgo/zkgo/internal/testutil"
	"github.com/zkgo/zkgo/jute"
)

func TestEveryTypeRoundTrips(t *testing.T) {
	f := &testutil.Filler{R: rand.New(rand.NewPCG(3, 4))}
	for i := 0; i < 500; i++ {
		var e Everything
		f.Fill(&e)
		b := jute.Marshal(&e)
		if len(b) != e.Size() {
			t.Fatalf("size %d vs %d", e.Size(), len(b))
		}
		var got Everything
		if err := jute.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		// Maps have no null form: a nil map is written as empty.
		if e.ByName == nil {
			e.ByName = []EverythingByNameEntry{}
		}
		if e.Lists == nil {
			e.Lists = []EverythingListsEntry{}
		}
		if !reflect.DeepEqual(e, got) {
			t.Fatalf("round trip\n in %+v\nout %+v", e, got)
		}
		if !bytes.Equal(b, jute.Marshal(&got)) {
			t.Fatal("re-encoding differs")
		}
	}
}

// FuzzEverything: decoding never panics, and encoding is stable:
// encode(decode(encode(decode(x)))) == encode(decode(x)). (Byte equality,
// not DeepEqual, so NaN payloads compare equal.)
func FuzzEverything(f *testing.F) {
	f.Add(jute.Marshal(&Everything{}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Everything
		if err := jute.Unmarshal(data, &e); err != nil {
			return
		}
		b1 := jute.Marshal(&e)
		var again Everything
		if err := jute.Unmarshal(b1, &again); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if b2 := jute.Marshal(&again); !bytes.Equal(b1, b2) {
			t.Fatalf("encoding not stable:\n%x\n%x", b1, b2)
		}
	})
}
