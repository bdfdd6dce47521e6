package jute

import (
	"testing"
)

// FuzzReader drives every Reader method from fuzz input: a script byte picks
// the next read. It must never panic, never allocate past the input, and
// keep Offset within the input.
func FuzzReader(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{3, 0, 0, 0, 3, 'a', 'b', 'c'})
	f.Add([]byte{5, 0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		k := min(1+int(data[0])%7, len(data))
		script, in := data[:k], data[k:]
		r := NewReaderMax(in, 1<<16)
		for i := 0; i < 64 && r.Err() == nil; i++ {
			switch script[i%len(script)] % 9 {
			case 0:
				r.Int()
			case 1:
				r.Long()
			case 2:
				r.Bool()
			case 3:
				if v := r.Buffer(); len(v) > len(in) {
					t.Fatalf("buffer longer than input")
				}
			case 4:
				if s, _ := r.OptString(); len(s) > len(in) {
					t.Fatalf("string longer than input")
				}
			case 5:
				if n := r.VectorLen(4); n*4 > len(in) {
					t.Fatalf("vector count %d not bounded by input %d", n, len(in))
				}
			case 6:
				r.Byte()
			case 7:
				r.Double()
			case 8:
				r.MapLen(8)
			}
			if r.Offset() > len(in) || r.Offset() < 0 {
				t.Fatalf("offset %d out of range", r.Offset())
			}
		}
	})
}
