package jute

import (
	"encoding/binary"
	"math"
)

// DefaultMaxBuffer is Java's default jute.maxbuffer (1 MiB - 1). It bounds
// buffers and strings read from the client port.
const DefaultMaxBuffer = 0xfffff

// QuorumMaxBuffer is the limit Java applies to buffers on the quorum channel
// and in data files: jute.maxbuffer + zookeeper.jute.maxbuffer.extrasize,
// both at their defaults. A server uses ArchiveLimit of its configured
// values instead; this constant is for tools that have no configuration.
const QuorumMaxBuffer = 2 * DefaultMaxBuffer

// minExtraBuffer is the smallest extra allowance BinaryInputArchive uses.
const minExtraBuffer = 1024

// ArchiveLimit is the largest buffer or string length Java 3.8's
// BinaryInputArchive accepts (checkLength): maxBuffer (jute.maxbuffer) plus
// the extra allowance, which is zookeeper.jute.maxbuffer.extrasize when set
// (extraSize >= 0) and maxBuffer otherwise, and never less than 1024. Java
// reads txn log records, snapshots and every quorum packet with it, so it
// bounds the largest txn a server may log or propose.
func ArchiveLimit(maxBuffer, extraSize int) int {
	if extraSize < 0 {
		extraSize = maxBuffer
	}
	return maxBuffer + max(extraSize, minExtraBuffer)
}

// Reader decodes Jute values from a byte slice. It keeps the first error it
// meets (sticky); after that every read returns a zero value.
type Reader struct {
	b   []byte
	off int
	max int
	err error
}

// NewReader returns a Reader over b with the DefaultMaxBuffer limit.
func NewReader(b []byte) Reader { return Reader{b: b, max: DefaultMaxBuffer} }

// NewReaderMax returns a Reader over b whose buffer, string and vector
// lengths may not exceed max.
func NewReaderMax(b []byte, max int) Reader { return Reader{b: b, max: max} }

// Reset points the Reader at b, clearing any error; the limit is kept.
func (r *Reader) Reset(b []byte) { r.b, r.off, r.err = b, 0, nil }

// SetMax sets the limit for buffer and string lengths and vector counts.
func (r *Reader) SetMax(max int) { r.max = max }

// Max returns the configured limit.
func (r *Reader) Max() int { return r.max }

// Err returns the first error met, or nil.
func (r *Reader) Err() error { return r.err }

// Offset returns the number of bytes consumed.
func (r *Reader) Offset() int { return r.off }

// Remaining returns the number of unread bytes.
func (r *Reader) Remaining() int { return len(r.b) - r.off }

// Rest returns the unread bytes (aliasing the input) and consumes them.
func (r *Reader) Rest() []byte {
	if r.err != nil {
		return nil
	}
	v := r.b[r.off:]
	r.off = len(r.b)
	return v
}

// Fail records err (if no error is recorded yet). Generated code and callers
// with extra validation use it to stop decoding.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Finish returns Err, or ErrTrailingBytes if bytes remain unread.
func (r *Reader) Finish() error {
	if r.err != nil {
		return r.err
	}
	if r.off != len(r.b) {
		return &DecodeError{Offset: r.off, Have: len(r.b) - r.off, Err: ErrTrailingBytes}
	}
	return nil
}

func (r *Reader) short(n int) {
	if r.err == nil {
		r.err = &DecodeError{Offset: r.off, Length: int64(n), Have: len(r.b) - r.off, Err: ErrShortBuffer}
	}
}

// need reports whether n more bytes are available, recording an error if not.
func (r *Reader) need(n int) bool {
	if r.err != nil {
		return false
	}
	if len(r.b)-r.off < n {
		r.short(n)
		return false
	}
	return true
}

// Byte reads one signed byte.
func (r *Reader) Byte() int8 {
	if !r.need(1) {
		return 0
	}
	v := r.b[r.off]
	r.off++
	return int8(v)
}

// Bool reads one byte; any non-zero value is true, as in Java.
func (r *Reader) Bool() bool {
	if !r.need(1) {
		return false
	}
	v := r.b[r.off]
	r.off++
	return v != 0
}

// Int reads a big-endian int32.
func (r *Reader) Int() int32 {
	if !r.need(4) {
		return 0
	}
	v := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	return int32(v)
}

// Long reads a big-endian int64.
func (r *Reader) Long() int64 {
	if !r.need(8) {
		return 0
	}
	v := binary.BigEndian.Uint64(r.b[r.off:])
	r.off += 8
	return int64(v)
}

// Float reads an IEEE-754 float32.
func (r *Reader) Float() float32 { return math.Float32frombits(uint32(r.Int())) }

// Double reads an IEEE-754 float64.
func (r *Reader) Double() float64 { return math.Float64frombits(uint64(r.Long())) }

// length reads a length prefix and checks it. It returns -1 for null and
// ok=false on error.
func (r *Reader) length() (n int, ok bool) {
	start := r.off
	l := r.Int()
	if r.err != nil {
		return 0, false
	}
	if l == -1 {
		return -1, true
	}
	if l < 0 {
		r.err = &DecodeError{Offset: start, Length: int64(l), Err: ErrNegativeLength}
		return 0, false
	}
	if int(l) > r.max {
		r.err = &DecodeError{Offset: start, Length: int64(l), Have: len(r.b) - r.off, Err: ErrTooLarge}
		return 0, false
	}
	if int(l) > len(r.b)-r.off {
		r.off = start
		r.err = &DecodeError{Offset: start, Length: int64(l) + 4, Have: len(r.b) - start, Err: ErrShortBuffer}
		return 0, false
	}
	return int(l), true
}

// Buffer reads a length-prefixed byte string. Null is returned as nil and
// empty as a non-nil empty slice. The result aliases the input.
func (r *Reader) Buffer() []byte {
	n, ok := r.length()
	if !ok || n < 0 {
		return nil
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return v
}

// BufferCopy is Buffer but returns a copy that does not alias the input.
func (r *Reader) BufferCopy() []byte {
	v := r.Buffer()
	if v == nil {
		return nil
	}
	c := make([]byte, len(v))
	copy(c, v)
	return c
}

// String reads a length-prefixed string. A null string is returned as "".
func (r *Reader) String() string {
	s, _ := r.OptString()
	return s
}

// OptString reads a length-prefixed string and reports whether it was null.
func (r *Reader) OptString() (s string, null bool) {
	n, ok := r.length()
	if !ok {
		return "", false
	}
	if n < 0 {
		return "", true
	}
	s = string(r.b[r.off : r.off+n])
	r.off += n
	return s, false
}

// VectorLen reads a vector count, returning -1 for a null vector. minElem is
// the smallest encoded size of one element; the count is rejected unless
// count*minElem bytes remain and count <= the configured maximum, so a
// caller may allocate count elements safely.
func (r *Reader) VectorLen(minElem int) int {
	start := r.off
	n := r.Int()
	if r.err != nil {
		return 0
	}
	if n == -1 {
		return -1
	}
	if n < 0 {
		r.err = &DecodeError{Offset: start, Length: int64(n), Err: ErrNegativeLength}
		return 0
	}
	if int(n) > r.max {
		r.err = &DecodeError{Offset: start, Length: int64(n), Have: len(r.b) - r.off, Err: ErrTooLarge}
		return 0
	}
	if minElem < 1 {
		minElem = 1
	}
	if int64(n)*int64(minElem) > int64(len(r.b)-r.off) {
		r.off = start
		r.err = &DecodeError{Offset: start, Length: int64(n)*int64(minElem) + 4, Have: len(r.b) - start, Err: ErrShortBuffer}
		return 0
	}
	return int(n)
}

// MapLen reads a map count; maps have no null form. The same bounds as
// VectorLen apply, with minEntry the smallest key+value encoding.
func (r *Reader) MapLen(minEntry int) int {
	n := r.VectorLen(minEntry)
	if n < 0 {
		return 0
	}
	return n
}
