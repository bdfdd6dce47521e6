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

func FuzzEverything(f *testing.F) {
	f.Add(jute.Marshal(&Everything{}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Everything
		if err := jute.Unmarshal(data, &e); err != nil {
			return
		}
		var again Everything
		if err := jute.Unmarshal(jute.Marshal(&e), &again); err != nil || !reflect.DeepEqual(e, again) {
			t.Fatalf("decode(encode(x)) != x: %v", err)
		}
	})
}
