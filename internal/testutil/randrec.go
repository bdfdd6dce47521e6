package testutil

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"

	"github.com/zkgo/zkgo/jute"
)

// Filler sets the fields of generated Jute records to random and edge-case
// values. Tests use reflection here; the codec itself never does.
type Filler struct {
	R *rand.Rand
	// MaxBuffer caps random buffer sizes (default 64).
	MaxBuffer int
	// Big occasionally makes one buffer or string this large (0: never).
	Big int
	// NoNulls disables null strings, buffers and vectors.
	NoNulls bool
}

var edgeInts = []int64{0, 1, -1, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64, 0x7f, 0x80, 0xff, 0x100}

var runes = []rune("azAZ09/._-~ éüßñ€中文日本語한국어ÿĀ\u0100\u07ff\u0800\uffef")

func (f *Filler) str() string {
	n := f.R.IntN(12)
	if f.Big > 0 && f.R.IntN(20) == 0 {
		return strings.Repeat("é", f.Big/2)
	}
	var b strings.Builder
	for range n {
		b.WriteRune(runes[f.R.IntN(len(runes))])
	}
	return b.String()
}

func (f *Filler) buf() []byte {
	switch f.R.IntN(6) {
	case 0:
		if !f.NoNulls {
			return nil
		}
		return []byte{}
	case 1:
		return []byte{}
	}
	max := f.MaxBuffer
	if max == 0 {
		max = 64
	}
	n := f.R.IntN(max + 1)
	if f.Big > 0 && f.R.IntN(20) == 0 {
		n = f.Big
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(f.R.IntN(256))
	}
	return b
}

func (f *Filler) int64() int64 {
	if f.R.IntN(3) == 0 {
		return edgeInts[f.R.IntN(len(edgeInts))]
	}
	return f.R.Int64() >> f.R.IntN(63)
}

// Fill sets every field of rec (a pointer to a generated record).
func (f *Filler) Fill(rec jute.Record) {
	f.fill(reflect.ValueOf(rec).Elem(), 0)
}

func (f *Filler) fill(v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Struct:
		strIdx := 0
		var nulls uint64
		for i := 0; i < v.NumField(); i++ {
			fv := v.Field(i)
			if v.Type().Field(i).Name == "Nulls" {
				continue
			}
			if fv.Kind() == reflect.String {
				if !f.NoNulls && f.R.IntN(8) == 0 {
					fv.SetString("")
					nulls |= 1 << strIdx
				} else {
					fv.SetString(f.str())
				}
				strIdx++
				continue
			}
			f.fill(fv, depth+1)
		}
		if nf := v.FieldByName("Nulls"); nf.IsValid() {
			nf.SetUint(nulls)
		}
	case reflect.String:
		v.SetString(f.str())
	case reflect.Bool:
		v.SetBool(f.R.IntN(2) == 0)
	case reflect.Int8:
		v.SetInt(int64(int8(f.int64())))
	case reflect.Int32:
		v.SetInt(int64(int32(f.int64())))
	case reflect.Int64:
		v.SetInt(f.int64())
	case reflect.Float32:
		v.SetFloat(float64(float32(f.R.NormFloat64())))
	case reflect.Float64:
		v.SetFloat(f.R.NormFloat64())
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := f.buf()
			if b == nil {
				v.Set(reflect.Zero(v.Type()))
			} else {
				v.SetBytes(b)
			}
			return
		}
		switch k := f.R.IntN(6); {
		case k == 0 && !f.NoNulls:
			v.Set(reflect.Zero(v.Type()))
		case k <= 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			n := 1 + f.R.IntN(4)
			if depth > 3 {
				n = 1
			}
			s := reflect.MakeSlice(v.Type(), n, n)
			for i := range n {
				f.fill(s.Index(i), depth+1)
			}
			v.Set(s)
		}
	}
}
