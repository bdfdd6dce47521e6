package jute

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"testing"
)

func TestWriterPrimitives(t *testing.T) {
	var w Writer
	w.Byte(-2)
	w.Bool(true)
	w.Bool(false)
	w.Int(-1)
	w.Long(0x0102030405060708)
	w.Buffer(nil)
	w.Buffer([]byte{})
	w.Buffer([]byte{0xAB})
	w.String("")
	w.NullString()
	w.String("é")
	w.VectorLen(-1)
	w.Float(1.5)
	w.Double(-2.25)
	want := "fe" + "01" + "00" + "ffffffff" + "0102030405060708" +
		"ffffffff" + "00000000" + "00000001ab" +
		"00000000" + "ffffffff" + "00000002c3a9" + "ffffffff" +
		"3fc00000" + "c002000000000000"
	if got := hex.EncodeToString(w.Bytes()); got != want {
		t.Fatalf("encoding\n got %s\nwant %s", got, want)
	}

	r := NewReader(w.Bytes())
	if v := r.Byte(); v != -2 {
		t.Errorf("Byte = %d", v)
	}
	if !r.Bool() || r.Bool() {
		t.Error("Bool round trip")
	}
	if v := r.Int(); v != -1 {
		t.Errorf("Int = %d", v)
	}
	if v := r.Long(); v != 0x0102030405060708 {
		t.Errorf("Long = %x", v)
	}
	if v := r.Buffer(); v != nil {
		t.Errorf("null buffer = %v", v)
	}
	if v := r.Buffer(); v == nil || len(v) != 0 {
		t.Errorf("empty buffer = %#v", v)
	}
	if v := r.Buffer(); !bytes.Equal(v, []byte{0xAB}) {
		t.Errorf("buffer = %x", v)
	}
	if s, null := r.OptString(); s != "" || null {
		t.Errorf("empty string = %q null=%v", s, null)
	}
	if s, null := r.OptString(); s != "" || !null {
		t.Errorf("null string = %q null=%v", s, null)
	}
	if s := r.String(); s != "é" {
		t.Errorf("string = %q", s)
	}
	if n := r.VectorLen(1); n != -1 {
		t.Errorf("null vector = %d", n)
	}
	if v := r.Float(); v != 1.5 {
		t.Errorf("float = %v", v)
	}
	if v := r.Double(); v != -2.25 {
		t.Errorf("double = %v", v)
	}
	if err := r.Finish(); err != nil {
		t.Fatal(err)
	}
}

func TestBoolNonZeroIsTrue(t *testing.T) {
	r := NewReader([]byte{0x02, 0xff, 0x00})
	if !r.Bool() || !r.Bool() || r.Bool() {
		t.Fatal("any non-zero byte must read as true")
	}
}

func TestReaderErrors(t *testing.T) {
	cases := []struct {
		name string
		in   string
		read func(r *Reader)
		want error
	}{
		{"short int", "000000", func(r *Reader) { r.Int() }, ErrShortBuffer},
		{"short long", "00000000000000", func(r *Reader) { r.Long() }, ErrShortBuffer},
		{"short bool", "", func(r *Reader) { r.Bool() }, ErrShortBuffer},
		{"buffer len -2", "fffffffe", func(r *Reader) { r.Buffer() }, ErrNegativeLength},
		{"string len min", "80000000", func(r *Reader) { _ = r.String() }, ErrNegativeLength},
		{"buffer over max", "00100000", func(r *Reader) { r.Buffer() }, ErrTooLarge},
		{"buffer over input", "0000000500", func(r *Reader) { r.Buffer() }, ErrShortBuffer},
		{"string over input", "00000003abcd"[:10], func(r *Reader) { _ = r.String() }, ErrShortBuffer},
		{"vector negative", "fffffff0", func(r *Reader) { r.VectorLen(4) }, ErrNegativeLength},
		{"vector over max", "7fffffff", func(r *Reader) { r.VectorLen(4) }, ErrTooLarge},
		{"vector over input", "0000000300000000", func(r *Reader) { r.VectorLen(4) }, ErrShortBuffer},
		{"trailing", "0000000100", func(r *Reader) { r.Int() }, ErrTrailingBytes},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := hex.DecodeString(c.in)
			if err != nil {
				t.Fatal(err)
			}
			r := NewReader(b)
			c.read(&r)
			err = r.Finish()
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err %T is not a *DecodeError", err)
			}
			if de.Error() == "" {
				t.Fatal("empty message")
			}
		})
	}
}

func TestErrorsAreSticky(t *testing.T) {
	r := NewReader([]byte{0, 0, 0, 5, 1, 2, 3, 4, 5, 6, 7, 8})
	_ = r.Long() // 8 bytes
	_ = r.Long() // fails: 4 left
	if r.Err() == nil {
		t.Fatal("expected error")
	}
	if v := r.Int(); v != 0 {
		t.Fatalf("read after error returned %d", v)
	}
	if r.Offset() != 8 {
		t.Fatalf("offset moved after error: %d", r.Offset())
	}
}

func TestMaxIsConfigurable(t *testing.T) {
	b := append([]byte{0, 0, 0, 10}, make([]byte, 10)...)
	r := NewReaderMax(b, 9)
	r.Buffer()
	if !errors.Is(r.Err(), ErrTooLarge) {
		t.Fatalf("max 9: %v", r.Err())
	}
	r = NewReaderMax(b, 10)
	if v := r.Buffer(); len(v) != 10 || r.Err() != nil {
		t.Fatalf("max 10: %v", r.Err())
	}
	if DefaultMaxBuffer != 1048575 {
		t.Fatal("DefaultMaxBuffer must be Java's jute.maxbuffer default")
	}
}

func TestBufferAliasesAndCopy(t *testing.T) {
	b := []byte{0, 0, 0, 2, 'h', 'i'}
	r := NewReader(b)
	v := r.Buffer()
	b[4] = 'H'
	if string(v) != "Hi" {
		t.Fatal("Buffer should alias the input")
	}
	if cap(v) != 2 {
		t.Fatal("aliased buffer must not expose capacity past its end")
	}
	r.Reset(b)
	c := r.BufferCopy()
	b[4] = 'x'
	if string(c) != "Hi" {
		t.Fatal("BufferCopy must not alias")
	}
}

func TestNullSet(t *testing.T) {
	var n NullSet
	n = n.With(0, true).With(3, true)
	if !n.Has(0) || n.Has(1) || !n.Has(3) {
		t.Fatal(n)
	}
	n = n.With(0, false)
	if n.Has(0) || !n.Has(3) {
		t.Fatal(n)
	}
}

func TestOptString(t *testing.T) {
	var w Writer
	w.OptString("", true)
	w.OptString("", false)
	w.OptString("x", true) // a non-empty string is never written as null
	if got := hex.EncodeToString(w.Bytes()); got != "ffffffff"+"00000000"+"0000000178" {
		t.Fatal(got)
	}
}

func TestSetInt32At(t *testing.T) {
	var w Writer
	w.Int(0)
	w.Raw([]byte("abc"))
	w.SetInt32At(0, int32(w.Len()-4))
	if hex.EncodeToString(w.Bytes()) != "00000003616263" {
		t.Fatal(hex.EncodeToString(w.Bytes()))
	}
}

func TestFloatSpecials(t *testing.T) {
	var w Writer
	w.Double(math.Inf(-1))
	r := NewReader(w.Bytes())
	if !math.IsInf(r.Double(), -1) {
		t.Fatal("inf")
	}
}
