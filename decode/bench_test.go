package decode

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/zkgo/zkgo/wire"
)

// Throughput: a synthetic capture of client traffic (many interleaved
// sessions, a realistic mix of reads and writes with 64-512 byte values,
// some pipelining, pings and watch events), decoded end to end: pcap
// parsing, TCP reassembly, decoding and pairing, and stats or text output.
//
//	go test ./decode -run '^$' -bench DecodeCapture -benchtime 3x
//
// ZKGO_BENCH_MB sets the capture size (default 256). To time the binary on
// the same traffic, write the capture to a file first:
//
//	ZKGO_BENCH_FILE=/tmp/zk.pcap go test ./decode -run TestWriteBenchCapture
//	time zkgo decode -q --stats /tmp/zk.pcap

func benchMB() int {
	if v, err := strconv.Atoi(os.Getenv("ZKGO_BENCH_MB")); err == nil && v > 0 {
		return v
	}
	return 256
}

// genClientTraffic writes about mb MiB of client traffic to a pcap.
func genClientTraffic(mb int) []byte {
	r := rand.New(rand.NewPCG(42, 42))
	cb := newCap(layers.LinkTypeEthernet, false)
	cb.step = 3 * time.Microsecond
	const conns = 64
	type sess struct {
		cli, srv netip.AddrPort
		seq      [2]uint32
		xid      wire.Xid
		zxid     wire.Zxid
	}
	ss := make([]*sess, conns)
	send := func(s *sess, dir Dir, data []byte) {
		src, dst := s.cli, s.srv
		if dir == FromServer {
			src, dst = dst, src
		}
		cb.packet(src, dst, s.seq[dir], s.seq[dir^1], tcpPSH|tcpACK, data)
		s.seq[dir] += uint32(len(data))
	}
	acl := []wire.ACL{{Perms: 31, ID: wire.ID{Scheme: "world", ID: "anyone"}}}
	val := make([]byte, 512)
	for i := range val {
		val[i] = byte('a' + i%26)
	}
	stat := wire.Stat{Czxid: 0x100000001, Mzxid: 0x100000002, Ctime: 1714564800000, Mtime: 1714564800001, Version: 3, DataLength: 200}
	kids := make([]string, 20)
	for i := range kids {
		kids[i] = "member-" + strconv.Itoa(1000+i)
	}
	for i := range ss {
		s := &sess{cli: netip.AddrPortFrom(netip.MustParseAddr("10.0.1.1"), uint16(40000+i)), srv: srvAddr,
			seq: [2]uint32{uint32(i) * 7919, uint32(i) * 104729}, zxid: 0x100000000}
		ss[i] = s
		cb.packet(s.cli, s.srv, s.seq[0], 0, tcpSYN, nil)
		cb.packet(s.srv, s.cli, s.seq[1], s.seq[0]+1, tcpSYN|tcpACK, nil)
		s.seq[0]++
		s.seq[1]++
		send(s, ToServer, wire.AppendConnect(nil, wire.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}, false, true))
		send(s, FromServer, wire.AppendConnectResponse(nil, wire.ConnectResponse{TimeOut: 30000, SessionID: wire.SessionID(0x100000000000000 + i), Passwd: make([]byte, 16)}, false))
	}
	var req, rep []byte
	limit := mb << 20
	for cb.buf.Len() < limit {
		s := ss[r.IntN(conns)]
		n := 1
		if r.IntN(8) == 0 {
			n = 2 + r.IntN(3) // pipelined: several requests in one segment
		}
		req, rep = req[:0], rep[:0]
		for k := 0; k < n; k++ {
			s.xid++
			path := "/service/app/config/node-" + strconv.Itoa(r.IntN(500))
			vlen := 64 + r.IntN(448)
			h := wire.RequestHeader{Xid: s.xid}
			rh := wire.ReplyHeader{Xid: s.xid, Zxid: s.zxid}
			switch p := r.IntN(100); {
			case p < 40:
				h.Type = wire.OpGetData
				req = wire.AppendRequest(req, h, &wire.GetDataRequest{Path: path, Watch: p < 5})
				st := stat
				st.DataLength = int32(vlen)
				rep = wire.AppendReply(rep, rh, &wire.GetDataResponse{Data: val[:vlen], Stat: st})
			case p < 55:
				h.Type = wire.OpExists
				req = wire.AppendRequest(req, h, &wire.ExistsRequest{Path: path})
				rep = wire.AppendReply(rep, rh, &wire.ExistsResponse{Stat: stat})
			case p < 70:
				s.zxid++
				rh.Zxid = s.zxid
				h.Type = wire.OpSetData
				req = wire.AppendRequest(req, h, &wire.SetDataRequest{Path: path, Data: val[:vlen], Version: -1})
				rep = wire.AppendReply(rep, rh, &wire.SetDataResponse{Stat: stat})
			case p < 80:
				s.zxid++
				rh.Zxid = s.zxid
				h.Type = wire.OpCreate
				req = wire.AppendRequest(req, h, &wire.CreateRequest{Path: path, Data: val[:vlen/2], ACL: acl, Flags: 0})
				if r.IntN(4) == 0 {
					rh.Err = wire.ErrNodeExists
					rep = wire.AppendReply(rep, rh, nil)
				} else {
					rep = wire.AppendReply(rep, rh, &wire.CreateResponse{Path: path})
				}
			case p < 90:
				h.Type = wire.OpGetChildren2
				req = wire.AppendRequest(req, h, &wire.GetChildren2Request{Path: "/service/app", Watch: true})
				rep = wire.AppendReply(rep, rh, &wire.GetChildren2Response{Children: kids, Stat: stat})
			case p < 95:
				s.xid--
				h.Xid, rh.Xid = wire.XidPing, wire.XidPing
				h.Type = wire.OpPing
				req = wire.AppendRequest(req, h, nil)
				rep = wire.AppendReply(rep, rh, nil)
			default:
				s.zxid++
				rh.Zxid = s.zxid
				h.Type = wire.OpMulti
				req = wire.AppendRequest(req, h, &wire.MultiRequest{Ops: []wire.MultiOp{
					{Type: wire.OpCheck, Op: &wire.CheckVersionRequest{Path: path, Version: 3}},
					{Type: wire.OpSetData, Op: &wire.SetDataRequest{Path: path, Data: val[:64], Version: 3}},
					{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: path + "/lock", ACL: acl, Flags: 1}},
				}})
				rep = wire.AppendReply(rep, rh, &wire.MultiResponse{Results: []wire.MultiResult{
					{Type: wire.OpCheck}, {Type: wire.OpSetData, Result: &wire.SetDataResponse{Stat: stat}},
					{Type: wire.OpCreate, Result: &wire.CreateResponse{Path: path + "/lock"}},
				}})
			}
		}
		send(s, ToServer, req)
		if r.IntN(50) == 0 {
			send(s, FromServer, wire.AppendWatchEvent(nil, wire.WatcherEvent{Type: wire.EventNodeDataChanged, State: wire.StateSyncConnected, Path: "/service/app/config/node-1"}))
		}
		// Replies larger than an MSS go out in several segments.
		for len(rep) > 0 {
			k := min(len(rep), 1448)
			send(s, FromServer, append([]byte(nil), rep[:k]...))
			rep = rep[k:]
		}
	}
	return cb.bytes()
}

var (
	benchOnce sync.Once
	benchCap  []byte
)

func benchCapture(b *testing.B) []byte {
	benchOnce.Do(func() { benchCap = genClientTraffic(benchMB()) })
	return benchCap
}

func BenchmarkDecodeCapture(b *testing.B) {
	data := benchCapture(b)
	for _, tc := range []struct {
		name string
		sink func() (Sink, func())
	}{
		{"decode", func() (Sink, func()) { return nil, func() {} }},
		{"stats", func() (Sink, func()) {
			st := NewStats()
			return st.Add, func() { st.Report(Counts{}, nil, 10) }
		}},
		{"text", func() (Sink, func()) {
			p := NewPrinter(io.Discard, FormatLine, false)
			return p.Message, func() { p.Flush() }
		}},
		{"json", func() (Sink, func()) {
			p := NewPrinter(io.Discard, FormatJSON, false)
			return p.Message, func() { p.Flush() }
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				sink, done := tc.sink()
				d := New(Config{}, sink)
				st, err := d.ReadCapture(bytes.NewReader(data))
				if err != nil || st.Err != nil || d.Counts().Undecodable != 0 {
					b.Fatalf("%v %v %+v", err, st.Err, d.Counts())
				}
				done()
			}
		})
	}
}

// TestWriteBenchCapture writes the benchmark's capture to $ZKGO_BENCH_FILE
// (and does nothing without it), for timing `zkgo decode` on it.
func TestWriteBenchCapture(t *testing.T) {
	path := os.Getenv("ZKGO_BENCH_FILE")
	if path == "" {
		t.Skip("set ZKGO_BENCH_FILE to write the benchmark capture")
	}
	data := genClientTraffic(benchMB())
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d bytes to %s", len(data), path)
}

// TestBenchCaptureDecodes checks a small instance of the benchmark traffic
// decodes completely and pairs every reply.
func TestBenchCaptureDecodes(t *testing.T) {
	data := genClientTraffic(4)
	st := NewStats()
	d := New(Config{}, st.Add)
	if _, err := d.ReadCapture(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	rep := st.Report(d.Counts(), nil, 10)
	if rep.Messages.Undecodable != 0 || rep.Messages.Notes != 0 || rep.Unpaired != 0 || rep.Connections["client"] != 64 {
		t.Fatalf("%+v", rep.Messages)
	}
	for _, o := range rep.Ops {
		if o.Requests != o.Replies {
			t.Fatalf("%+v", o)
		}
	}
}
