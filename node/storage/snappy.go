package storage

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/golang/snappy"
)

// Java writes .snappy snapshots with snappy-java's SnappyOutputStream,
// whose framing is its own (not the standard snappy framing format):
//
//	8 bytes   magic 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00
//	i32       version (1)
//	i32       minimum compatible version (1)
//	repeat:   i32 compressed length, then a raw snappy block
//
// Each block holds up to 32 KiB of input.
var snappyMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const snappyBlock = 32 << 10

// maxSnappyBlock bounds a compressed block we accept (corrupt lengths must
// not make us allocate without limit).
const maxSnappyBlock = 64 << 20

type snappyReader struct {
	r      io.Reader
	header bool
	buf    []byte // decoded bytes not yet returned
	cbuf   []byte
}

func newSnappyReader(r io.Reader) *snappyReader { return &snappyReader{r: r} }

func (s *snappyReader) Read(p []byte) (int, error) {
	for len(s.buf) == 0 {
		if !s.header {
			var h [16]byte
			if _, err := io.ReadFull(s.r, h[:]); err != nil {
				return 0, fmt.Errorf("storage: snappy header: %w", err)
			}
			if string(h[:8]) != string(snappyMagic) {
				return 0, fmt.Errorf("storage: not a snappy-java stream")
			}
			s.header = true
		}
		var l [4]byte
		if _, err := io.ReadFull(s.r, l[:]); err != nil {
			if err == io.EOF {
				return 0, io.EOF
			}
			return 0, fmt.Errorf("storage: snappy block length: %w", err)
		}
		n := int32(binary.BigEndian.Uint32(l[:]))
		if n < 0 || n > maxSnappyBlock {
			return 0, fmt.Errorf("storage: snappy block length %d out of range", n)
		}
		if cap(s.cbuf) < int(n) {
			s.cbuf = make([]byte, n)
		}
		c := s.cbuf[:n]
		if _, err := io.ReadFull(s.r, c); err != nil {
			return 0, fmt.Errorf("storage: snappy block: %w", err)
		}
		dl, err := snappy.DecodedLen(c)
		if err != nil || dl > maxSnappyBlock {
			return 0, fmt.Errorf("storage: corrupt snappy block")
		}
		d, err := snappy.Decode(nil, c)
		if err != nil {
			return 0, fmt.Errorf("storage: corrupt snappy block: %w", err)
		}
		s.buf = d
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

type snappyWriter struct {
	w      io.Writer
	header bool
	buf    []byte
	err    error
}

func newSnappyWriter(w io.Writer) *snappyWriter { return &snappyWriter{w: w} }

func (s *snappyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n := len(p)
	for len(p) > 0 {
		room := snappyBlock - len(s.buf)
		k := min(room, len(p))
		s.buf = append(s.buf, p[:k]...)
		p = p[k:]
		if len(s.buf) == snappyBlock {
			if err := s.flushBlock(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (s *snappyWriter) flushBlock() error {
	if !s.header {
		var h [16]byte
		copy(h[:], snappyMagic)
		binary.BigEndian.PutUint32(h[8:], 1)
		binary.BigEndian.PutUint32(h[12:], 1)
		if _, err := s.w.Write(h[:]); err != nil {
			s.err = err
			return err
		}
		s.header = true
	}
	if len(s.buf) == 0 {
		return nil
	}
	c := snappy.Encode(nil, s.buf)
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(c)))
	if _, err := s.w.Write(l[:]); err != nil {
		s.err = err
		return err
	}
	if _, err := s.w.Write(c); err != nil {
		s.err = err
		return err
	}
	s.buf = s.buf[:0]
	return nil
}

func (s *snappyWriter) Close() error { return s.flushBlock() }
