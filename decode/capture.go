package decode

import (
	"bufio"
	"compress/gzip"
	"container/list"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/gopacket/gopacket/reassembly"
)

// The capture layer: pcap/pcapng files in, reassembled TCP streams out to
// the Decoder. This is the package's only I/O (an io.Reader).

// CaptureStats describes what ReadCapture read.
type CaptureStats struct {
	Format     string   // "pcap" or "pcapng"
	LinkTypes  []string // link types met
	Packets    int64    // packet records read
	TCPPackets int64    // IPv4/IPv6 TCP packets given to reassembly
	Other      int64    // packets that are not TCP over IPv4/IPv6 (or are IP fragments)
	Truncated  int64    // packets captured shorter than they were on the wire
	Clamped    int64    // packet records longer than MaxSnapLen, cut to it
	SnapLens   int64    // snap lengths in the file above MaxSnapLen, clamped to it
	IdleFlows  int64    // connections closed after FlowIdle of capture time without a packet
	Evicted    int64    // connections closed because MaxFlows were open
	Bytes      int64    // captured bytes of all packets
	First      time.Time
	Last       time.Time
	// Err is what stopped reading before the end of the file (a truncated
	// or corrupt record); it was also reported inline as undecodable.
	Err error
	// ErrOffset is the file offset of that record (for pcapng, the offset
	// after the last good packet is not tracked exactly: see ErrPacket).
	ErrOffset int64
	ErrPacket int64 // the record number (1-based) that failed
}

// Errors of the capture layer.
var (
	ErrNotCapture = errors.New("decode: not a pcap or pcapng file")
)

const (
	pcapngMagic = 0x0A0D0D0A
	// Reassembly memory bounds (a page is about 2 KiB): 8 MiB of
	// out-of-order data per connection, 64 MiB in all.
	maxPagesPerConn = 4096
	maxPagesTotal   = 1 << 15
	// Out-of-order data older than this (capture time) is given up on: the
	// missing bytes become a gap.
	flushAfter = 2 * time.Second
)

type packetSource interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// ReadCapture decodes a pcap or pcapng capture (optionally gzip'd) from r.
// It returns an error only when r is not a capture at all; damage inside
// the file is reported inline, in CaptureStats.Err, and decoding keeps
// what was read. It calls Finish at the end.
func (d *Decoder) ReadCapture(r io.Reader) (CaptureStats, error) {
	var st CaptureStats
	br := bufio.NewReaderSize(r, 1<<20)
	magic, err := br.Peek(4)
	if err != nil {
		return st, fmt.Errorf("%w: %v", ErrNotCapture, err)
	}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return st, fmt.Errorf("%w: gzip: %v", ErrNotCapture, err)
		}
		br = bufio.NewReaderSize(gz, 1<<20)
		if magic, err = br.Peek(4); err != nil {
			return st, fmt.Errorf("%w: %v", ErrNotCapture, err)
		}
	}
	var ps packetSource
	var fixed layers.LinkType
	ng := binary.BigEndian.Uint32(magic) == pcapngMagic
	// pcapgo reads records through the clamping reader: no record longer
	// than MaxSnapLen reaches it (see clampReader).
	cr := newClampReader(br, ng)
	var src io.Reader = cr
	if ng {
		st.Format = "pcapng"
		rd, err := pcapgo.NewNgReader(src, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			return st, fmt.Errorf("%w: %v", ErrNotCapture, err)
		}
		ps = rd
	} else {
		st.Format = "pcap"
		rd, err := pcapgo.NewReader(src)
		if err != nil {
			return st, fmt.Errorf("%w: %v", ErrNotCapture, err)
		}
		// Some writers do not truncate to the snap length they declare;
		// tcpdump reads such records up to its maximum, so do we (the
		// clamping reader cuts longer ones).
		rd.SetSnaplen(MaxSnapLen)
		ps, fixed = rd, rd.LinkType()
	}
	c := newCapturer(d)
	off := int64(24) // classic pcap: offset of the next record
	clamps := 0      // cr.clamps reported
	for {
		data, ci, err := ps.ZeroCopyReadPacketData()
		if cr.snaps > st.SnapLens {
			st.SnapLens = cr.snaps
			d.captureNote(st.Last, -1, "snap length "+strconv.FormatInt(cr.snap, 10)+
				" clamped to "+strconv.Itoa(MaxSnapLen)+" (tcpdump's maximum)")
		}
		if err != nil {
			if err == io.EOF {
				break
			}
			st.Err, st.ErrPacket = err, st.Packets+1
			if ng {
				st.ErrOffset = -1
			} else {
				st.ErrOffset = off
			}
			d.captureProblem(st.Last, st.ErrOffset, st.ErrPacket, err)
			break
		}
		st.Packets++
		recLen := int64(ci.CaptureLength)
		if clamps < len(cr.clamps) && cr.clamps[clamps].packet == st.Packets {
			ev := cr.clamps[clamps]
			clamps++
			st.Clamped++
			recLen = ev.length
			d.captureNote(ci.Timestamp, off, "capture record "+strconv.FormatInt(st.Packets, 10)+": "+
				strconv.FormatInt(ev.length, 10)+" captured bytes cut to "+strconv.Itoa(MaxSnapLen)+
				" (tcpdump's maximum); the rest is skipped")
		}
		off += 16 + recLen
		st.Bytes += int64(ci.CaptureLength)
		if ci.CaptureLength < ci.Length {
			st.Truncated++
		}
		if st.Packets == 1 {
			st.First = ci.Timestamp
		}
		st.Last = ci.Timestamp
		lt := fixed
		if ng && len(ci.AncillaryData) > 0 {
			if v, ok := ci.AncillaryData[0].(layers.LinkType); ok {
				lt = v
			}
		}
		name := lt.String()
		if !slices.Contains(st.LinkTypes, name) {
			st.LinkTypes = append(st.LinkTypes, name)
		}
		if c.packet(lt, data, ci) {
			st.TCPPackets++
		} else {
			st.Other++
		}
	}
	c.final = true
	c.asm.FlushAll()
	st.IdleFlows, st.Evicted = c.idled, c.evicted
	d.Finish()
	return st, nil
}

// captureNote reports something about the capture file itself (not a
// connection); off is the file offset, or -1.
func (d *Decoder) captureNote(t time.Time, off int64, text string) {
	m := &d.msg
	m.reset()
	d.n++
	m.N = d.n
	m.Kind = KindNote
	m.Name = "note"
	m.Time = t
	if d.begun {
		m.Rel = t.Sub(d.first)
	}
	m.Offset = off
	m.Text = text
	d.emit(m)
}

// captureProblem reports damage in the capture file itself.
func (d *Decoder) captureProblem(t time.Time, off, pkt int64, err error) {
	m := &d.msg
	m.reset()
	d.n++
	m.N = d.n
	m.Kind = KindUndecodable
	m.Name = "capture"
	m.Time = t
	if d.begun {
		m.Rel = t.Sub(d.first)
	}
	m.Offset = off
	m.Error = fmt.Errorf("capture record %d: %w", pkt, err)
	d.emit(m)
}

// capturer strips link layers and runs TCP reassembly.
type capturer struct {
	d         *Decoder
	asm       *reassembly.Assembler
	tcp       layers.TCP
	fake      layers.TCP
	fakeHdr   [20]byte
	ctx       *pktContext
	delivered bool // the current packet's context reached a stream (so it is not kept in a page)
	lastFlush time.Time
	// hole is set by a stream's Accept when the packet being assembled
	// acknowledges bytes of the other direction that the capture lacks.
	hole struct {
		pending bool
		seq     uint32
	}
	// reused is set by a stream's Accept when the packet being assembled is
	// a SYN that opens a new connection on the stream's 4-tuple.
	reused *tcpStream
	// Open streams, most recently active first (for MaxFlows), and what
	// the bounds closed.
	lru            list.List
	idled, evicted int64
	final          bool // the capture ended: FlushAll closes what is left
}

func newCapturer(d *Decoder) *capturer {
	c := &capturer{d: d, ctx: new(pktContext)}
	pool := reassembly.NewStreamPool(c)
	c.asm = reassembly.NewAssembler(pool)
	c.asm.MaxBufferedPagesPerConnection = maxPagesPerConn
	c.asm.MaxBufferedPagesTotal = maxPagesTotal
	return c
}

type pktContext struct{ ci gopacket.CaptureInfo }

func (p *pktContext) GetCaptureInfo() gopacket.CaptureInfo { return p.ci }

// Ethernet types and address families of the link layers.
const (
	etherIPv4  = 0x0800
	etherIPv6  = 0x86dd
	etherVLAN  = 0x8100
	etherQinQ  = 0x88a8
	linkRaw12  = 12 // DLT_RAW on some BSDs
	linkRaw14  = 14 // DLT_RAW on OpenBSD
	ipProtoTCP = 6
)

// ipPayload strips the link layer: it returns the IP packet inside data.
func ipPayload(lt layers.LinkType, data []byte) ([]byte, bool) {
	var et uint16
	switch lt {
	case layers.LinkTypeEthernet:
		if len(data) < 14 {
			return nil, false
		}
		et, data = binary.BigEndian.Uint16(data[12:]), data[14:]
		for (et == etherVLAN || et == etherQinQ) && len(data) >= 4 {
			et, data = binary.BigEndian.Uint16(data[2:]), data[4:]
		}
	case layers.LinkTypeLinuxSLL:
		if len(data) < 16 {
			return nil, false
		}
		et, data = binary.BigEndian.Uint16(data[14:]), data[16:]
	case layers.LinkTypeLinuxSLL2:
		if len(data) < 20 {
			return nil, false
		}
		et, data = binary.BigEndian.Uint16(data), data[20:]
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		if len(data) < 4 {
			return nil, false
		}
		var fam uint32
		if lt == layers.LinkTypeLoop || data[0] == 0 && data[1] == 0 {
			fam = binary.BigEndian.Uint32(data)
		} else {
			fam = binary.LittleEndian.Uint32(data)
		}
		data = data[4:]
		switch fam {
		case 2:
			et = etherIPv4
		case 10, 24, 28, 30: // AF_INET6 on Linux, NetBSD/OpenBSD, FreeBSD, macOS
			et = etherIPv6
		default:
			return nil, false
		}
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6, linkRaw12, linkRaw14:
		if len(data) == 0 {
			return nil, false
		}
		et = etherIPv4
		if data[0]>>4 == 6 {
			et = etherIPv6
		}
	default:
		return nil, false
	}
	if len(data) == 0 || (et == etherIPv4) != (data[0]>>4 == 4) || (et == etherIPv6) != (data[0]>>4 == 6) {
		return nil, false
	}
	return data, true
}

// tcpSegment strips the IP header: it returns the flow of addresses and
// the TCP segment. Fragments and non-TCP packets are refused.
func tcpSegment(ip []byte) (gopacket.Flow, []byte, bool) {
	switch ip[0] >> 4 {
	case 4:
		if len(ip) < 20 {
			break
		}
		ihl := int(ip[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(ip[2:]))
		if total == 0 { // segmentation offload
			total = len(ip)
		}
		if ihl < 20 || total < ihl || len(ip) < ihl {
			break
		}
		if frag := binary.BigEndian.Uint16(ip[6:]); frag&0x3fff != 0 || ip[9] != ipProtoTCP {
			break
		}
		if total < len(ip) {
			ip = ip[:total] // link-layer padding
		}
		return gopacket.NewFlow(layers.EndpointIPv4, ip[12:16], ip[16:20]), ip[ihl:], true
	case 6:
		if len(ip) < 40 {
			break
		}
		end := 40 + int(binary.BigEndian.Uint16(ip[4:]))
		if end == 40 || end > len(ip) { // jumbogram, or captured short
			end = len(ip)
		}
		next, off := ip[6], 40
		for next != ipProtoTCP {
			switch next {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if off+8 > end {
					return gopacket.Flow{}, nil, false
				}
				next, off = ip[off], off+(int(ip[off+1])+1)*8
			case 51: // authentication header
				if off+8 > end {
					return gopacket.Flow{}, nil, false
				}
				next, off = ip[off], off+(int(ip[off+1])+2)*4
			default: // fragment (44) or not TCP
				return gopacket.Flow{}, nil, false
			}
			if off > end {
				return gopacket.Flow{}, nil, false
			}
		}
		return gopacket.NewFlow(layers.EndpointIPv6, ip[8:24], ip[24:40]), ip[off:end], true
	}
	return gopacket.Flow{}, nil, false
}

// packet decodes one captured packet; it reports whether it was TCP.
func (c *capturer) packet(lt layers.LinkType, data []byte, ci gopacket.CaptureInfo) bool {
	c.d.Observe(ci.Timestamp)
	ip, ok := ipPayload(lt, data)
	if !ok {
		return false
	}
	netFlow, seg, ok := tcpSegment(ip)
	if !ok || c.tcp.DecodeFromBytes(seg, gopacket.NilDecodeFeedback) != nil {
		return false
	}
	c.ctx.ci = ci
	c.delivered = false
	if c.lru.Len() >= c.d.cfg.MaxFlows {
		// At the cap, the least recently active connection makes room
		// (possibly for a packet of a connection already open: the count
		// then stays one below the cap).
		s := c.lru.Back().Value.(*tcpStream)
		c.evicted++
		c.d.note(s.c, ToServer, -1, 0, "connection dropped: "+strconv.Itoa(c.d.cfg.MaxFlows)+
			" connections open (the limit); its last packet was at "+s.last.UTC().Format(time.RFC3339Nano))
		c.retire(s)
	}
	c.asm.AssembleWithContext(netFlow, &c.tcp, c.ctx)
	if c.hole.pending {
		// The packet was refused: it acknowledges bytes of the other
		// direction that are not in the capture. Skip that hole first (a
		// zero-length segment past it, assembled with a one-page limit,
		// makes the assembler give up waiting), then take the packet.
		c.hole.pending = false
		c.skipHole(netFlow.Reverse(), c.hole.seq)
		c.asm.AssembleWithContext(netFlow, &c.tcp, c.ctx)
	}
	if s := c.reused; s != nil {
		// The packet was refused: it opens a new connection on a 4-tuple
		// the assembler still holds. End the old connection, then take
		// the packet (it creates a new stream).
		c.reused = nil
		c.retire(s)
		c.asm.AssembleWithContext(netFlow, &c.tcp, c.ctx)
	}
	c.asm.MaxBufferedPagesPerConnection = maxPagesPerConn
	if !c.delivered && len(c.tcp.Payload) > 0 {
		// The assembler may keep the context with queued bytes.
		c.ctx = new(pktContext)
	}
	if ci.Timestamp.Sub(c.lastFlush) > time.Second {
		c.lastFlush = ci.Timestamp
		// Connections without a packet for FlowIdle of capture time are
		// closed (a later packet starts a new one, mid-stream).
		c.asm.FlushWithOptions(reassembly.FlushOptions{T: ci.Timestamp.Add(-flushAfter),
			TC: ci.Timestamp.Add(-c.d.cfg.FlowIdle)})
	}
	return true
}

// skipHole makes the assembler deliver what it holds for the direction
// flow of the current packet's connection, with the hole before it.
func (c *capturer) skipHole(flow gopacket.Flow, seq uint32) {
	h := c.fakeHdr[:]
	binary.BigEndian.PutUint16(h[0:], uint16(c.tcp.DstPort))
	binary.BigEndian.PutUint16(h[2:], uint16(c.tcp.SrcPort))
	binary.BigEndian.PutUint32(h[4:], seq)
	binary.BigEndian.PutUint32(h[8:], 0)
	h[12], h[13] = 0x50, 0 // no flags, no payload
	if c.fake.DecodeFromBytes(h, gopacket.NilDecodeFeedback) != nil {
		return
	}
	c.asm.MaxBufferedPagesPerConnection = 1
	c.asm.AssembleWithContext(flow, &c.fake, &pktContext{ci: c.ctx.ci})
	c.asm.MaxBufferedPagesPerConnection = maxPagesPerConn
}

// retire ends both directions of stream s that have not ended, with a
// zero-length RST at the next sequence number of each: the assembler closes
// the connection and forgets it.
func (c *capturer) retire(s *tcpStream) {
	s.retired = true
	for i := range s.half {
		h := &s.half[i]
		if h.ended {
			continue
		}
		net, ports := s.netFlow, s.tcpFlow
		if i == 1 {
			net, ports = net.Reverse(), ports.Reverse()
		}
		b := c.fakeHdr[:]
		copy(b[0:2], ports.Src().Raw())
		copy(b[2:4], ports.Dst().Raw())
		binary.BigEndian.PutUint32(b[4:], h.next)
		binary.BigEndian.PutUint32(b[8:], 0)
		b[12], b[13] = 0x50, 0x04 // RST, no payload
		if c.fake.DecodeFromBytes(b, gopacket.NilDecodeFeedback) != nil {
			continue
		}
		c.asm.AssembleWithContext(net, &c.fake, &pktContext{ci: c.ctx.ci})
	}
}

// New implements reassembly.StreamFactory.
func (c *capturer) New(netFlow, tcpFlow gopacket.Flow, tcp *layers.TCP, ac reassembly.AssemblerContext) reassembly.Stream {
	src := endpoint(netFlow.Src(), tcpFlow.Src())
	dst := endpoint(netFlow.Dst(), tcpFlow.Dst())
	t := ac.GetCaptureInfo().Timestamp
	s := &tcpStream{d: c.d, cap: c, netFlow: netFlow, tcpFlow: tcpFlow, last: t}
	s.elem = c.lru.PushFront(s)
	var client, server netip.AddrPort
	sure := tcp.SYN
	switch {
	case tcp.SYN && !tcp.ACK:
		client, server = src, dst
	case tcp.SYN:
		client, server = dst, src
		s.flip = true
	case c.serverPort(dst.Port()) || (!c.serverPort(src.Port()) && dst.Port() <= src.Port()):
		client, server = src, dst
	default:
		client, server = dst, src
		s.flip = true
	}
	s.c = c.d.Open(client, server, t, sure)
	return s
}

func (c *capturer) serverPort(p uint16) bool {
	_, ok := c.d.portChannel(p, true)
	return ok
}

func endpoint(ip, port gopacket.Endpoint) netip.AddrPort {
	a, _ := netip.AddrFromSlice(ip.Raw())
	var p uint16
	if raw := port.Raw(); len(raw) == 2 {
		p = binary.BigEndian.Uint16(raw)
	}
	return netip.AddrPortFrom(a.Unmap(), p)
}

// tcpStream connects one reassembled connection to its Conn. Per
// reassembly direction (0: the first packet's) it tracks the sequence
// number of the next byte the assembler will deliver, to see when the
// other side acknowledges bytes the capture does not have.
type tcpStream struct {
	d       *Decoder
	cap     *capturer
	c       *Conn
	flip    bool          // reassembly's client->server is the Conn's FromServer
	netFlow gopacket.Flow // of the first packet (reassembly's client->server)
	tcpFlow gopacket.Flow
	retired bool // a new connection took over the 4-tuple: retire is ending this one
	half    [2]streamHalf
	last    time.Time     // capture time of its last packet
	elem    *list.Element // in capturer.lru; nil once complete
}

// streamHalf is one reassembly direction of a tcpStream.
type streamHalf struct {
	started bool
	ended   bool
	syn     bool   // started with a SYN
	isn     uint32 // its sequence number
	next    uint32 // next byte to be delivered
	hole    bool   // the other side acknowledged up to holeAck, beyond next
	holeAck uint32
}

func (s *tcpStream) dir(d reassembly.TCPFlowDirection) Dir {
	v := Dir(0)
	if d == reassembly.TCPDirServerToClient {
		v = 1
	}
	if s.flip {
		v ^= 1
	}
	return v
}

// Accept implements reassembly.Stream: every packet is taken; a direction
// whose first packet has no SYN starts where the capture does.
func (s *tcpStream) Accept(tcp *layers.TCP, ci gopacket.CaptureInfo, dir reassembly.TCPFlowDirection, nextSeq reassembly.Sequence, start *bool, ac reassembly.AssemblerContext) bool {
	i := 0
	if dir == reassembly.TCPDirServerToClient {
		i = 1
	}
	h := &s.half[i]
	o := &s.half[1-i]
	if s.elem != nil {
		s.cap.lru.MoveToFront(s.elem)
		if ci.Timestamp.After(s.last) {
			s.last = ci.Timestamp
		}
	}
	if tcp.SYN && !tcp.ACK && !s.retired && reusedBy(tcp.Seq, h, o) {
		s.cap.reused = s
		return false
	}
	if tcp.RST && !s.retired {
		s.c.Reset()
	}
	if nextSeq == -1 {
		if !h.started {
			h.started = true
			h.next = tcp.Seq
			if tcp.SYN {
				h.next++
				h.syn, h.isn = true, tcp.Seq
			} else if !s.retired {
				s.c.MidStream(s.dir(dir))
			}
		}
		if !tcp.SYN {
			*start = true
		}
	}
	// Bytes of the other direction acknowledged but never delivered are
	// missing from the capture: have the assembler skip them before this
	// packet is taken (capturer.packet assembles it again).
	if tcp.ACK && o.started && !o.ended && int32(tcp.Ack-o.next) > 0 && !(o.hole && int32(tcp.Ack-o.holeAck) <= 0) {
		o.hole, o.holeAck = true, tcp.Ack
		s.cap.hole.pending, s.cap.hole.seq = true, tcp.Ack
		return false
	}
	// New bytes past a known hole: give up waiting for it at once.
	if h.hole && len(tcp.Payload) > 0 && int32(tcp.Seq-h.next) > 0 {
		s.cap.asm.MaxBufferedPagesPerConnection = 1
	}
	return true
}

// reusedBy reports whether a SYN (without ACK) at seq in half h opens a new
// connection on the stream's 4-tuple rather than this one: h already
// carried something other than this very SYN (a retransmission), or the
// other side has spoken without it being a simultaneous open. A closed
// socket's 4-tuple is reused while its peer is in TIME_WAIT (Linux starts
// the new connection 65535+2 past the old sequence numbers), and the old
// connection's final ACK, after both FINs, has opened a stream here.
func reusedBy(seq uint32, h, o *streamHalf) bool {
	if h.started {
		return !h.syn || h.isn != seq
	}
	if !o.started {
		return false
	}
	simultaneous := o.syn && !o.ended && o.next == o.isn+1
	return !simultaneous
}

// ReassembledSG implements reassembly.Stream.
func (s *tcpStream) ReassembledSG(sg reassembly.ScatterGather, ac reassembly.AssemblerContext) {
	if ac == s.cap.ctx {
		s.cap.delivered = true
	}
	rd, _, end, skip := sg.Info()
	dir := s.dir(rd)
	avail, _ := sg.Lengths()
	h := &s.half[0]
	if rd == reassembly.TCPDirServerToClient {
		h = &s.half[1]
	}
	h.next += uint32(max(skip, 0) + avail)
	if h.hole && int32(h.next-h.holeAck) >= 0 {
		h.hole = false
	}
	if end {
		h.ended = true
	}
	var t time.Time
	if avail > 0 {
		t = sg.CaptureInfo(avail - 1).Timestamp
	} else if ac != nil {
		t = ac.GetCaptureInfo().Timestamp
	}
	if t.IsZero() {
		t = s.d.last
	}
	if skip > 0 {
		s.c.Gap(dir, skip, t)
	}
	if avail > 0 {
		s.c.Data(dir, sg.Fetch(avail), t)
	}
	if end {
		s.c.End(dir, t)
	}
}

// ReassemblyComplete implements reassembly.Stream.
func (s *tcpStream) ReassemblyComplete(ac reassembly.AssemblerContext) bool {
	t := s.d.last
	if ac != nil {
		t = ac.GetCaptureInfo().Timestamp
	}
	if s.elem != nil {
		s.cap.lru.Remove(s.elem)
		s.elem = nil
	}
	if ac == nil && !s.cap.final && !s.retired && !(s.half[0].ended && s.half[1].ended) {
		// Closed by the idle flush.
		s.cap.idled++
		s.d.note(s.c, ToServer, -1, 0, "connection idle for "+s.d.cfg.FlowIdle.String()+
			" of capture time: closed (a later packet of it starts a new connection)")
	}
	s.c.Close(t)
	return true
}
