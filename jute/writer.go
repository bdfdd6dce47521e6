package jute

import (
	"encoding/binary"
	"math"
)

// Writer appends Jute-encoded values to a byte slice. The zero value is ready
// to use; Reset lets a caller reuse a buffer without allocating.
type Writer struct {
	b []byte
}

// NewWriter returns a Writer that appends to buf (which may be nil).
func NewWriter(buf []byte) *Writer { return &Writer{b: buf} }

// Reset makes the Writer append to buf, discarding what it held.
func (w *Writer) Reset(buf []byte) { w.b = buf }

// Bytes returns the encoded bytes.
func (w *Writer) Bytes() []byte { return w.b }

// Len returns the number of encoded bytes.
func (w *Writer) Len() int { return len(w.b) }

// Byte writes one signed byte.
func (w *Writer) Byte(v int8) { w.b = append(w.b, byte(v)) }

// Bool writes 0x01 for true and 0x00 for false.
func (w *Writer) Bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

// Int writes a big-endian int32.
func (w *Writer) Int(v int32) { w.b = binary.BigEndian.AppendUint32(w.b, uint32(v)) }

// Long writes a big-endian int64.
func (w *Writer) Long(v int64) { w.b = binary.BigEndian.AppendUint64(w.b, uint64(v)) }

// Float writes an IEEE-754 float32.
func (w *Writer) Float(v float32) { w.b = binary.BigEndian.AppendUint32(w.b, math.Float32bits(v)) }

// Double writes an IEEE-754 float64.
func (w *Writer) Double(v float64) { w.b = binary.BigEndian.AppendUint64(w.b, math.Float64bits(v)) }

// Buffer writes a length-prefixed byte string; nil is written as length -1.
func (w *Writer) Buffer(v []byte) {
	if v == nil {
		w.Int(-1)
		return
	}
	w.Int(int32(len(v)))
	w.b = append(w.b, v...)
}

// String writes a length-prefixed string.
func (w *Writer) String(v string) {
	w.Int(int32(len(v)))
	w.b = append(w.b, v...)
}

// NullString writes a null string (length -1).
func (w *Writer) NullString() { w.Int(-1) }

// OptString writes v, or null when null is true and v is empty.
func (w *Writer) OptString(v string, null bool) {
	if null && v == "" {
		w.Int(-1)
		return
	}
	w.String(v)
}

// VectorLen writes a vector count; pass -1 for a null vector.
func (w *Writer) VectorLen(n int) { w.Int(int32(n)) }

// Raw appends bytes with no prefix (for callers composing frames).
func (w *Writer) Raw(v []byte) { w.b = append(w.b, v...) }

// Grow makes room for n more bytes without another allocation.
func (w *Writer) Grow(n int) {
	if cap(w.b)-len(w.b) < n {
		nb := make([]byte, len(w.b), len(w.b)+n)
		copy(nb, w.b)
		w.b = nb
	}
}

// SetInt32At overwrites four bytes at off with v (used to back-patch frame
// lengths). off must be within the bytes already written.
func (w *Writer) SetInt32At(off int, v int32) {
	binary.BigEndian.PutUint32(w.b[off:off+4], uint32(v))
}

// Size helpers: the encoded size of values, for exact pre-sizing.

// SizeBuffer returns the encoded size of a buffer.
func SizeBuffer(v []byte) int { return 4 + len(v) }

// SizeString returns the encoded size of a string.
func SizeString(v string) int { return 4 + len(v) }
