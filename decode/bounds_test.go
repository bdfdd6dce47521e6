package decode

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// Memory bounds of the capture layer (issue 14, point 6): records longer
// than tcpdump's maximum snap length, and many connections that never end.
// Inputs are generated as streams, so the test itself holds none of them.

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// hugeRecord is the size of the crafted packet record: far above
// MaxSnapLen, and all of it really in the file.
const hugeRecord = 64 << 20

// part is a piece of a crafted capture: bytes, or n zero bytes.
type part struct {
	b     []byte
	zeros int64
}

// plain returns the parts as one stream.
func plain(parts []part) io.Reader {
	var rs []io.Reader
	for _, p := range parts {
		if p.zeros > 0 {
			rs = append(rs, io.LimitReader(zeros{}, p.zeros))
		} else {
			rs = append(rs, bytes.NewReader(p.b))
		}
	}
	return io.MultiReader(rs...)
}

// gzipped returns the parts gzip'd, as concatenated gzip members (which
// read as one stream): runs of zeros repeat the member of 1 MiB of zeros,
// so the file is small and quick to build.
func gzipped(t *testing.T, parts []part) io.Reader {
	t.Helper()
	member := func(r io.Reader) []byte {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		if _, err := io.Copy(zw, r); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	mib := member(io.LimitReader(zeros{}, 1<<20))
	var out []byte
	for _, p := range parts {
		if p.zeros%(1<<20) != 0 {
			t.Fatal("zero runs are whole MiB")
		}
		for i := int64(0); i < p.zeros>>20; i++ {
			out = append(out, mib...)
		}
		if p.zeros == 0 {
			out = append(out, member(bytes.NewReader(p.b))...)
		}
	}
	return bytes.NewReader(out)
}

// pcapWithHugeRecord returns a classic pcap whose header declares snap
// length 0xffffffff, with a record of hugeRecord zero bytes before the
// records of capture (a pcap file).
func pcapWithHugeRecord(capture []byte) []part {
	hdr := append([]byte(nil), capture[:24]...)
	binary.LittleEndian.PutUint32(hdr[16:], 0xffffffff)
	rec := make([]byte, 16)
	binary.LittleEndian.PutUint32(rec[0:], 1714564800)
	binary.LittleEndian.PutUint32(rec[8:], hugeRecord)
	binary.LittleEndian.PutUint32(rec[12:], hugeRecord)
	return []part{{b: append(hdr, rec...)}, {zeros: hugeRecord}, {b: capture[24:]}}
}

// pcapngWithHugeBlocks returns capture (a pcapng file) with its interface
// snap length set to 0xffffffff, and, after the interface, an enhanced
// packet block carrying hugeRecord zero bytes and a decryption secrets
// block as large.
func pcapngWithHugeBlocks(t *testing.T, capture []byte) []part {
	t.Helper()
	shb := int(binary.LittleEndian.Uint32(capture[4:]))
	if binary.LittleEndian.Uint32(capture[8:]) != 0x1A2B3C4D || binary.LittleEndian.Uint32(capture[shb:]) != 1 {
		t.Fatal("unexpected pcapng layout")
	}
	idb := int(binary.LittleEndian.Uint32(capture[shb+4:]))
	head := append([]byte(nil), capture[:shb+idb]...)
	binary.LittleEndian.PutUint32(head[shb+12:], 0xffffffff)
	epb := make([]byte, 28)
	binary.LittleEndian.PutUint32(epb[0:], 6)
	binary.LittleEndian.PutUint32(epb[4:], 32+hugeRecord)
	binary.LittleEndian.PutUint32(epb[20:], hugeRecord)
	binary.LittleEndian.PutUint32(epb[24:], hugeRecord)
	epbEnd := binary.LittleEndian.AppendUint32(nil, 32+hugeRecord)
	dsb := make([]byte, 16)
	binary.LittleEndian.PutUint32(dsb[0:], 10)
	binary.LittleEndian.PutUint32(dsb[4:], 20+hugeRecord)
	binary.LittleEndian.PutUint32(dsb[8:], 0x544c534b) // TLS key log
	binary.LittleEndian.PutUint32(dsb[12:], hugeRecord)
	dsbEnd := binary.LittleEndian.AppendUint32(nil, 20+hugeRecord)
	return []part{{b: append(head, epb...)}, {zeros: hugeRecord}, {b: append(epbEnd, dsb...)}, {zeros: hugeRecord},
		{b: append(dsbEnd, capture[shb+idb:]...)}}
}

// TestCaptureClampsHugeRecords decodes captures whose header declares a
// 4 GiB snap length and that hold a 64 MiB packet record (and, in pcapng,
// a 64 MiB decryption secrets block), plain and gzip'd (about 100 KB
// then): the record is cut to MaxSnapLen with a counted note, nothing is
// allocated from its length, and the conversation after it decodes as
// without it.
func TestCaptureClampsHugeRecords(t *testing.T) {
	for _, ng := range []bool{false, true} {
		capture, _ := clientCapture(t, layers.LinkTypeEthernet, ng, false, nil)
		want, _ := run(t, capture, Config{})
		for _, gz := range []bool{false, true} {
			name := map[bool]string{false: "pcap", true: "pcapng"}[ng] + map[bool]string{false: "", true: ".gz"}[gz]
			t.Run(name, func(t *testing.T) {
				var parts []part
				if ng {
					parts = pcapngWithHugeBlocks(t, capture)
				} else {
					parts = pcapWithHugeRecord(capture)
				}
				in := plain(parts)
				if gz {
					in = gzipped(t, parts)
				}
				var got []string
				var notes []string
				d := New(Config{}, func(m *Message) {
					if m.Kind == KindNote && m.Conn == nil {
						notes = append(notes, m.Text)
						return
					}
					got = append(got, summarize(m))
				})
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				st, err := d.ReadCapture(in)
				runtime.ReadMemStats(&after)
				if err != nil {
					t.Fatal(err)
				}
				alloc := after.TotalAlloc - before.TotalAlloc
				if alloc > 24<<20 {
					t.Fatalf("decoding allocated %d MB (a %d MB record must not be read into memory)", alloc>>20, hugeRecord>>20)
				}
				t.Logf("decoding allocated %d KB", alloc>>10)
				if st.Err != nil || st.Clamped != 1 || st.SnapLens != 1 {
					t.Fatalf("stats %+v", st)
				}
				joined := strings.Join(notes, "\n")
				if len(notes) != 2 || !strings.Contains(joined, "snap length 4294967295 clamped to 262144") ||
					!strings.Contains(joined, "67108864 captured bytes cut to 262144") {
					t.Fatalf("notes: %q", notes)
				}
				if len(got) != len(want) {
					t.Fatalf("%d messages, want %d", len(got), len(want))
				}
				for i := range want {
					if got[i] != want[i].sum {
						t.Fatalf("message %d: %q, want %q", i, got[i], want[i].sum)
					}
				}
			})
		}
	}
}

// TestClampReaderKeepsFraming cuts records of every kind and checks the
// stream pcapgo reads: the records around a cut one are intact, and a cut
// record keeps its first MaxSnapLen bytes.
func TestClampReaderKeepsFraming(t *testing.T) {
	big := make([]byte, MaxSnapLen+1000)
	for i := range big {
		big[i] = byte(i)
	}
	cb := newCap(layers.LinkTypeRaw, true)
	cb.packet(cliAddr, srvAddr, 1, 0, tcpSYN, nil)
	first := append([]byte(nil), cb.bytes()...)
	cb.packet(cliAddr, srvAddr, 2, 0, tcpSYN, nil)
	all := cb.bytes()
	spb := binary.LittleEndian.AppendUint32(nil, 3)
	spb = binary.LittleEndian.AppendUint32(spb, uint32(16+len(big)))
	spb = binary.LittleEndian.AppendUint32(spb, uint32(len(big)))
	spb = append(spb, big...)
	spb = binary.LittleEndian.AppendUint32(spb, uint32(16+len(big)))
	in := append(append(append([]byte(nil), first...), spb...), all[len(first):]...)
	var lens []int
	d := New(Config{}, nil)
	st, err := d.ReadCapture(bytes.NewReader(in))
	if err != nil || st.Err != nil {
		t.Fatal(err, st.Err)
	}
	if st.Packets != 3 || st.Clamped != 1 || st.Bytes != int64(2*len(cb.pkt)+MaxSnapLen) {
		t.Fatalf("stats %+v %v", st, lens)
	}
	// A pcapng block with an impossible length stops reading with an
	// error, not an allocation.
	bad := append([]byte(nil), all...)
	off := int(binary.LittleEndian.Uint32(bad[4:]))
	off += int(binary.LittleEndian.Uint32(bad[off+4:]))
	binary.LittleEndian.PutUint32(bad[off+20:], 0x7fffff00) // captured length past the block
	st, err = New(Config{}, nil).ReadCapture(bytes.NewReader(bad))
	if err != nil || !errors.Is(st.Err, ErrBadBlock) {
		t.Fatalf("bad block: %v %+v", err, st)
	}
}

// flowGen generates a pcap of n TCP connections to port 2181, each a
// single data packet carrying the start of a 1000-byte frame and never
// ended, spaced step apart in capture time. Every 1 MB read it calls
// sample, which may stop the stream by returning an error.
type flowGen struct {
	n, i   int
	step   time.Duration
	cb     *capBuf
	buf    []byte
	read   int
	sample func() error
}

func newFlowGen(n int, step time.Duration, sample func() error) *flowGen {
	g := &flowGen{n: n, step: step, cb: newCap(layers.LinkTypeRaw, false), sample: sample}
	g.cb.step = step
	g.buf = append([]byte(nil), g.cb.buf.Bytes()...) // the file header
	return g
}

func (g *flowGen) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		if g.i == g.n {
			return 0, io.EOF
		}
		g.cb.buf.Reset()
		payload := binary.BigEndian.AppendUint32(nil, 1000)
		payload = append(payload, make([]byte, 60)...)
		for k := 0; k < 1000 && g.i < g.n; k++ {
			a := netip.AddrFrom4([4]byte{10, byte(1 + g.i>>24), byte(g.i >> 16), byte(g.i >> 8)})
			cli := netip.AddrPortFrom(a, uint16(1024+g.i&0xff))
			g.cb.packet(cli, srvAddr, uint32(g.i), 1, tcpACK|tcpPSH, payload)
			g.i++
		}
		g.buf = append(g.buf[:0], g.cb.buf.Bytes()...)
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	if g.read += n; g.read >= 1<<20 {
		g.read = 0
		if err := g.sample(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// liveHeap returns the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestCaptureBoundsOpenFlows decodes 300k connections that never end
// (no FIN, no RST) in one second of capture time: at most MaxFlows are
// kept, the least recently active one making room for each new one with
// a counted note, and the live heap stays small.
func TestCaptureBoundsOpenFlows(t *testing.T) {
	flows := 300000
	if testing.Short() {
		flows = 40000 // still 2.5 times the default limit; 108 MB of connections unbounded
	}
	const limit = 80 << 20
	base := liveHeap()
	var peak uint64
	g := newFlowGen(flows, 3*time.Microsecond, func() error {
		h := liveHeap() - min(base, liveHeap())
		peak = max(peak, h)
		if h > limit {
			return errors.New("live heap over the limit")
		}
		return nil
	})
	notes := 0
	d := New(Config{}, func(m *Message) {
		if m.Kind == KindNote && strings.Contains(m.Text, "connections open (the limit)") {
			notes++
		}
	})
	st, err := d.ReadCapture(g)
	if err != nil {
		t.Fatal(err)
	}
	if st.Err != nil {
		t.Fatalf("stopped at packet %d: %v (live heap peak %d MB, limit %d MB)", st.Packets, st.Err, peak>>20, limit>>20)
	}
	if want := int64(flows - DefaultMaxFlows); st.Packets != int64(flows) || st.Evicted < want || st.Evicted > want+1 ||
		int64(notes) != st.Evicted {
		t.Fatalf("%d packets, %d evicted, %d notes", st.Packets, st.Evicted, notes)
	}
	t.Logf("live heap peak %d MB over %d connections", peak>>20, flows)
}

// TestCaptureClosesIdleFlows: connections without a packet for FlowIdle
// of capture time are closed, with a note, while the capture goes on.
func TestCaptureClosesIdleFlows(t *testing.T) {
	cb := newCap(layers.LinkTypeRaw, false)
	payload := binary.BigEndian.AppendUint32(nil, 1000)
	for i := 0; i < 10; i++ {
		cb.packet(netip.AddrPortFrom(cliAddr.Addr(), uint16(5000+i)), srvAddr, 1, 1, tcpACK|tcpPSH, payload)
	}
	cb.t = cb.t.Add(DefaultFlowIdle + 2*time.Second)
	live := netip.AddrPortFrom(cliAddr.Addr(), 6000)
	cb.packet(live, srvAddr, 1, 1, tcpACK|tcpPSH, payload)
	cb.t = cb.t.Add(2 * time.Second)
	cb.packet(live, srvAddr, 5, 1, tcpACK|tcpPSH, payload)
	var idle []time.Time
	d := New(Config{}, func(m *Message) {
		if m.Kind == KindNote && strings.Contains(m.Text, "idle for 10m0s") {
			idle = append(idle, m.Time)
		}
	})
	st, err := d.ReadCapture(bytes.NewReader(cb.bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if st.IdleFlows != 10 || len(idle) != 10 || st.Evicted != 0 {
		t.Fatalf("%d idle closed, %d notes, %d evicted", st.IdleFlows, len(idle), st.Evicted)
	}
}

// TestDecoderBoundsHeldBytes: connections each holding the start of a
// large message are dropped, largest first, once all of them hold more
// than Config.MaxHeld.
func TestDecoderBoundsHeldBytes(t *testing.T) {
	const maxHeld = 4 << 20
	var peak int64
	var d *Decoder
	dropped := 0
	d = New(Config{MaxHeld: maxHeld}, func(m *Message) {
		if m.Kind == KindNote && strings.Contains(m.Text, "the decoder holds more than") {
			dropped++
		}
	})
	r := rand.New(rand.NewPCG(3, 4))
	conns := make([]*Conn, 40)
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range conns {
		conns[i] = d.Open(netip.AddrPortFrom(cliAddr.Addr(), uint16(7000+i)), srvAddr, t0, true)
		conns[i].Data(ToServer, binary.BigEndian.AppendUint32(nil, 3<<20), t0) // a 3 MiB frame starts
	}
	chunk := make([]byte, 64<<10)
	for k := 0; k < 40*16; k++ {
		c := conns[r.IntN(len(conns))]
		c.Data(ToServer, chunk, t0)
		peak = max(peak, d.Held())
	}
	if peak > maxHeld+256<<10 || dropped == 0 || d.Counts().Shed != int64(dropped) {
		t.Fatalf("held peak %d (bound %d), %d dropped, counts %+v", peak, maxHeld, dropped, d.Counts())
	}
	d.Finish()
	if d.Held() != 0 {
		t.Fatalf("%d bytes held after Finish", d.Held())
	}
}
