package decode

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// MaxSnapLen is the longest packet record the capture layer keeps:
// tcpdump's MAXIMUM_SNAPLEN. Longer records are cut to it.
const MaxSnapLen = 262144

// maxInterfaces bounds the pcapng interfaces of one section (each costs
// the reader a descriptor).
const maxInterfaces = 4096

// Errors of the clamping reader.
var (
	ErrBadBlock = errors.New("decode: malformed pcapng block")
)

// pcapng block types.
const (
	ngSectionHeader = 0x0A0D0D0A
	ngInterface     = 1
	ngPacket        = 2 // obsolete Packet Block
	ngSimplePacket  = 3
	ngEnhanced      = 6
	ngByteOrder     = 0x1A2B3C4D
)

// clampEvent is a packet record cut to MaxSnapLen.
type clampEvent struct {
	packet int64 // 1-based packet record number
	length int64 // its captured length in the file
}

// clampReader sits between the capture bytes and gopacket's pcapgo
// readers, which take a record's captured length from the file and read
// that many bytes into memory (growing a buffer as the bytes arrive, so a
// gzip'd file of zeros can make them hold gigabytes). It rewrites the
// stream so that no record is longer than MaxSnapLen: the file's and the
// interfaces' snap lengths are clamped, a longer record keeps its first
// MaxSnapLen bytes and the rest is skipped without being held, and pcapng
// blocks the decoder has no use for (name resolution, statistics,
// decryption secrets, custom and unknown blocks) are skipped the same way.
// Every cut is recorded in clamps for ReadCapture to report.
type clampReader struct {
	src *bufio.Reader
	ng  bool
	le  bool // byte order of the file (pcap) or current section (pcapng)

	begun   bool
	packets int64 // packet records passed on
	ifaces  int   // interfaces of the current section
	clamps  []clampEvent
	snap    int64 // the last clamped file or interface snap length
	snaps   int64 // snap lengths clamped
	steps   []step
	stepBuf [8]step
	hdr     [32]byte
	trailer [4]byte
	err     error
}

// step is one thing to do on the way: emit bytes, copy n bytes from the
// source, or skip n bytes of it.
type step struct {
	emit []byte
	copy int64
	skip int64
}

func newClampReader(src *bufio.Reader, ng bool) *clampReader {
	return &clampReader{src: src, ng: ng}
}

func (r *clampReader) u32(b []byte) uint32 {
	if r.le {
		return binary.LittleEndian.Uint32(b)
	}
	return binary.BigEndian.Uint32(b)
}

func (r *clampReader) put32(b []byte, v uint32) {
	if r.le {
		binary.LittleEndian.PutUint32(b, v)
	} else {
		binary.BigEndian.PutUint32(b, v)
	}
}

// Read implements io.Reader.
func (r *clampReader) Read(p []byte) (int, error) {
	for {
		if len(r.steps) == 0 {
			if r.err != nil {
				return 0, r.err
			}
			r.steps = r.stepBuf[:0]
			r.next()
			continue
		}
		s := &r.steps[0]
		switch {
		case s.emit != nil:
			n := copy(p, s.emit)
			s.emit = s.emit[n:]
			if len(s.emit) == 0 {
				r.steps = r.steps[1:]
			}
			return n, nil
		case s.copy > 0:
			if int64(len(p)) > s.copy {
				p = p[:s.copy]
			}
			n, err := r.src.Read(p)
			s.copy -= int64(n)
			if s.copy == 0 {
				r.steps = r.steps[1:]
			}
			if err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				r.steps, r.err = nil, err
				if n > 0 {
					return n, nil
				}
			}
			return n, err
		case s.skip > 0:
			m, err := r.src.Discard(int(min(s.skip, 1<<30)))
			s.skip -= int64(m)
			if err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				r.steps, r.err = nil, err
				return 0, err
			}
			if s.skip == 0 {
				r.steps = r.steps[1:]
			}
		default:
			r.steps = r.steps[1:]
		}
	}
}

// emit queues b (part of the reader's header buffer, valid until the next
// unit is planned).
func (r *clampReader) emit(b []byte) { r.steps = append(r.steps, step{emit: b}) }

// fill reads the next n header bytes; on a short read it passes on what
// it got and ends the stream there (the pcapgo reader reports the
// truncated record as it would without the clamping).
func (r *clampReader) fill(n int) ([]byte, bool) {
	b := r.hdr[:n]
	m, err := io.ReadFull(r.src, b)
	if err != nil {
		if m > 0 {
			r.emit(b[:m])
		}
		r.err = io.EOF
		if err != io.EOF && err != io.ErrUnexpectedEOF {
			r.err = err
		}
		return nil, false
	}
	return b, true
}

// next plans the next unit of the file.
func (r *clampReader) next() {
	if !r.begun {
		r.begun = true
		if !r.ng {
			r.pcapHeader()
			return
		}
	}
	if r.ng {
		r.ngBlock()
	} else {
		r.pcapRecord()
	}
}

func (r *clampReader) pcapHeader() {
	b, ok := r.fill(24)
	if !ok {
		return
	}
	switch binary.LittleEndian.Uint32(b) {
	case 0xA1B2C3D4, 0xA1B23C4D:
		r.le = true
	case 0xD4C3B2A1, 0x4D3CB2A1:
	default:
		// Not a capture pcapgo reads (the gzip it would open itself
		// included): refuse it rather than pass it on unclamped.
		r.steps, r.err = nil, fmt.Errorf("%w: unknown pcap magic %#08x", ErrNotCapture, binary.LittleEndian.Uint32(b))
		return
	}
	if s := r.u32(b[16:]); s > MaxSnapLen {
		r.snap = int64(s)
		r.snaps++
		r.put32(b[16:], MaxSnapLen)
	}
	r.steps = append(r.steps, step{emit: b})
}

func (r *clampReader) pcapRecord() {
	b, ok := r.fill(16)
	if !ok {
		return
	}
	r.packets++
	caplen := int64(r.u32(b[8:]))
	if caplen <= MaxSnapLen {
		r.steps = append(r.steps, step{emit: b}, step{copy: caplen})
		return
	}
	r.clamps = append(r.clamps, clampEvent{packet: r.packets, length: caplen})
	r.put32(b[8:], MaxSnapLen)
	r.steps = append(r.steps, step{emit: b}, step{copy: MaxSnapLen},
		step{skip: caplen - MaxSnapLen})
}

func pad4(n int64) int64 { return (n + 3) &^ 3 }

func (r *clampReader) ngBlock() {
	b, ok := r.fill(8)
	if !ok {
		return
	}
	typ := binary.LittleEndian.Uint32(b)
	if typ == ngSectionHeader {
		b, ok = r.fillMore(b, 12)
		if !ok {
			return
		}
		switch binary.LittleEndian.Uint32(b[8:]) {
		case ngByteOrder:
			r.le = true
		case 0x4D3C2B1A:
			r.le = false
		default:
			r.fail("section header with a bad byte-order magic")
			return
		}
		r.ifaces = 0
		n := int64(r.u32(b[4:]))
		if n < 28 || n%4 != 0 {
			r.fail("section header length " + strconv.FormatInt(n, 10))
			return
		}
		r.steps = append(r.steps, step{emit: b}, step{copy: n - 12})
		return
	}
	typ = r.u32(b)
	n := int64(r.u32(b[4:]))
	if n < 12 || n%4 != 0 {
		r.fail("block type " + strconv.FormatUint(uint64(typ), 10) + " length " + strconv.FormatInt(n, 10))
		return
	}
	switch typ {
	case ngInterface:
		if n < 20 {
			r.fail("interface description length " + strconv.FormatInt(n, 10))
			return
		}
		if r.ifaces++; r.ifaces > maxInterfaces {
			r.fail("more than " + strconv.Itoa(maxInterfaces) + " interfaces in a section")
			return
		}
		if b, ok = r.fillMore(b, 16); !ok {
			return
		}
		if s := r.u32(b[12:]); s == 0 || s > MaxSnapLen {
			if s > MaxSnapLen {
				r.snap = int64(s)
				r.snaps++
			}
			r.put32(b[12:], MaxSnapLen)
		}
		r.steps = append(r.steps, step{emit: b}, step{copy: n - 16})
	case ngEnhanced, ngPacket:
		if n < 32 {
			r.fail("packet block length " + strconv.FormatInt(n, 10))
			return
		}
		if b, ok = r.fillMore(b, 28); !ok {
			return
		}
		r.packets++
		caplen := int64(r.u32(b[20:]))
		data := pad4(caplen)
		if data > n-32 {
			r.fail("packet block of " + strconv.FormatInt(n, 10) + " bytes with " + strconv.FormatInt(caplen, 10) + " captured")
			return
		}
		if caplen <= MaxSnapLen {
			r.steps = append(r.steps, step{emit: b}, step{copy: n - 28})
			return
		}
		r.clamps = append(r.clamps, clampEvent{packet: r.packets, length: caplen})
		cut := data - MaxSnapLen
		r.put32(b[4:], uint32(n-cut))
		r.put32(b[20:], MaxSnapLen)
		trailer := r.trailer[:]
		r.put32(trailer, uint32(n-cut))
		r.steps = append(r.steps, step{emit: b}, step{copy: MaxSnapLen}, step{skip: cut},
			step{copy: n - 28 - data - 4}, step{skip: 4}, step{emit: trailer})
	case ngSimplePacket:
		if n < 16 {
			r.fail("simple packet block length " + strconv.FormatInt(n, 10))
			return
		}
		if b, ok = r.fillMore(b, 12); !ok {
			return
		}
		r.packets++
		data := n - 16
		if data <= MaxSnapLen {
			r.steps = append(r.steps, step{emit: b}, step{copy: n - 12})
			return
		}
		// The interface's snap length (clamped above) cuts what pcapgo
		// reads; drop the rest of the block here.
		r.clamps = append(r.clamps, clampEvent{packet: r.packets, length: data})
		r.put32(b[4:], 16+MaxSnapLen)
		trailer := r.trailer[:]
		r.put32(trailer, 16+MaxSnapLen)
		r.steps = append(r.steps, step{emit: b}, step{copy: MaxSnapLen},
			step{skip: data - MaxSnapLen + 4}, step{emit: trailer})
	default:
		// Name resolution, interface statistics, decryption secrets,
		// custom or unknown blocks: nothing the decoder uses.
		r.steps = append(r.steps, step{skip: n - 8})
	}
}

// fillMore extends header b (already read) to n bytes.
func (r *clampReader) fillMore(b []byte, n int) ([]byte, bool) {
	have := len(b)
	m, err := io.ReadFull(r.src, r.hdr[have:n])
	if err != nil {
		r.emit(r.hdr[:have+m])
		r.err = io.EOF
		if err != io.EOF && err != io.ErrUnexpectedEOF {
			r.err = err
		}
		return nil, false
	}
	return r.hdr[:n], true
}

func (r *clampReader) fail(what string) {
	r.steps, r.err = nil, fmt.Errorf("%w: %s", ErrBadBlock, what)
}
