// Package jute implements Apache ZooKeeper's Jute binary encoding exactly as
// Java's org.apache.jute.BinaryOutputArchive and BinaryInputArchive do.
//
// Encoding (all integers big-endian, two's complement):
//
//	byte     1 byte
//	boolean  1 byte, 0x01 true / 0x00 false (any non-zero byte reads as true, as in Java)
//	int      4 bytes
//	long     8 bytes
//	buffer   int32 length + bytes; length -1 encodes null
//	ustring  int32 length + UTF-8 bytes; length -1 encodes null
//	vector   int32 count + count elements; count -1 encodes null
//	map      int32 count + count (key, value) pairs
//	record   its fields inline, in declaration order, with no header
//
// The Reader never panics and never allocates from an unchecked length: every
// buffer and string length is checked against both the bytes that remain and
// a configurable maximum (Java's jute.maxbuffer, 0xfffff by default) before
// anything is allocated, and every vector count is checked against the
// smallest possible encoding of its elements. Errors are sticky: after the
// first one every read returns a zero value and Err reports the cause.
//
// Buffers returned by the Reader alias the input slice (no copy); strings are
// copied. Callers that reuse an input buffer must copy []byte fields they keep.
//
// Null handling. Go has no null string, so generated records carry a NullSet
// (one bit per ustring field, in declaration order) that records which string
// fields were null on the wire and are written back as null. Null buffers and
// vectors are nil slices, empty ones are non-nil empty slices, so both
// round-trip. A null element inside vector<ustring> (which no ZooKeeper
// component produces) decodes as "" and re-encodes as an empty string.
//
// Java's writer encodes each UTF-16 unit separately (a character outside the
// BMP becomes 6 bytes); Go strings are byte strings, so whatever bytes Java
// wrote are re-encoded unchanged.
//
// Package jute is pure: no I/O, no clocks, no reflection.
package jute
