package decode

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/zkgo/zkgo/internal/testutil"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// Synthetic captures for the tests and the benchmark: ZooKeeper messages
// built with package wire, cut into TCP segments, wrapped in IP and a link
// layer by hand and written with pcapgo.

const (
	tcpFIN = 1
	tcpSYN = 2
	tcpRST = 4
	tcpPSH = 8
	tcpACK = 16
)

// capBuf writes packets into an in-memory pcap or pcapng file.
type capBuf struct {
	link  layers.LinkType
	ng    bool
	buf   bytes.Buffer
	pw    *pcapgo.Writer
	nw    *pcapgo.NgWriter
	t     time.Time
	step  time.Duration
	pkt   []byte
	count int
}

func newCap(link layers.LinkType, ng bool) *capBuf {
	c := &capBuf{link: link, ng: ng, t: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), step: 10 * time.Microsecond}
	if ng {
		w, err := pcapgo.NewNgWriter(&c.buf, link)
		if err != nil {
			panic(err)
		}
		c.nw = w
	} else {
		c.pw = pcapgo.NewWriter(&c.buf)
		if err := c.pw.WriteFileHeader(262144, link); err != nil {
			panic(err)
		}
	}
	return c
}

// bytes returns the capture file.
func (c *capBuf) bytes() []byte {
	if c.nw != nil {
		_ = c.nw.Flush()
	}
	return c.buf.Bytes()
}

// packet writes one TCP segment.
func (c *capBuf) packet(src, dst netip.AddrPort, seq, ack uint32, flags uint8, payload []byte) {
	c.t = c.t.Add(c.step)
	v6 := src.Addr().Is6()
	b := c.pkt[:0]
	// link layer
	switch c.link {
	case layers.LinkTypeEthernet:
		b = append(b, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1)
		if v6 {
			b = append(b, 0x86, 0xdd)
		} else {
			b = append(b, 0x08, 0x00)
		}
	case layers.LinkTypeLinuxSLL:
		b = append(b, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 1, 0, 0)
		if v6 {
			b = append(b, 0x86, 0xdd)
		} else {
			b = append(b, 0x08, 0x00)
		}
	case layers.LinkTypeLinuxSLL2:
		if v6 {
			b = append(b, 0x86, 0xdd)
		} else {
			b = append(b, 0x08, 0x00)
		}
		b = append(b, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 0, 0, 0, 0, 0, 1, 0, 0)
	case layers.LinkTypeNull:
		fam := uint32(2)
		if v6 {
			fam = 30
		}
		b = binary.LittleEndian.AppendUint32(b, fam)
	case layers.LinkTypeRaw:
	}
	tcpLen := 20 + len(payload)
	if v6 {
		b = append(b, 0x60, 0, 0, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(tcpLen))
		b = append(b, 6, 64)
		s, d := src.Addr().As16(), dst.Addr().As16()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
	} else {
		b = append(b, 0x45, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(20+tcpLen))
		b = append(b, 0, 0, 0x40, 0, 64, 6, 0, 0)
		s, d := src.Addr().As4(), dst.Addr().As4()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, src.Port())
	b = binary.BigEndian.AppendUint16(b, dst.Port())
	b = binary.BigEndian.AppendUint32(b, seq)
	b = binary.BigEndian.AppendUint32(b, ack)
	b = append(b, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0)
	b = append(b, payload...)
	c.pkt = b
	ci := gopacket.CaptureInfo{Timestamp: c.t, CaptureLength: len(b), Length: len(b)}
	var err error
	if c.nw != nil {
		err = c.nw.WritePacket(ci, b)
	} else {
		err = c.pw.WritePacket(ci, b)
	}
	if err != nil {
		panic(err)
	}
	c.count++
}

// seg is one TCP segment of a script.
type seg struct {
	dir   Dir
	seq   uint32
	ack   uint32 // what the sender had received when it sent the segment
	flags uint8
	data  []byte
	// pause is extra capture time before the segment.
	pause time.Duration
}

// script is one TCP connection as a list of segments.
type script struct {
	cli, srv netip.AddrPort
	next     [2]uint32
	segs     []seg
}

func newScript(cli, srv netip.AddrPort, isn uint32) *script {
	return &script{cli: cli, srv: srv, next: [2]uint32{isn, isn ^ 0x5a5a5a5a}}
}

func (s *script) syn() *script {
	s.segs = append(s.segs, seg{dir: ToServer, seq: s.next[0], flags: tcpSYN})
	s.segs = append(s.segs, seg{dir: FromServer, seq: s.next[1], ack: s.next[0] + 1, flags: tcpSYN | tcpACK})
	s.next[0]++
	s.next[1]++
	s.segs = append(s.segs, seg{dir: ToServer, seq: s.next[0], ack: s.next[1], flags: tcpACK})
	return s
}

// send adds data as one segment.
func (s *script) send(dir Dir, data []byte) *script {
	s.segs = append(s.segs, seg{dir: dir, seq: s.next[dir], ack: s.next[dir^1], flags: tcpPSH | tcpACK, data: data})
	s.next[dir] += uint32(len(data))
	return s
}

// sendAfter adds data as one segment, pause later in capture time.
func (s *script) sendAfter(dir Dir, data []byte, pause time.Duration) *script {
	s.send(dir, data)
	s.segs[len(s.segs)-1].pause = pause
	return s
}

func (s *script) fin() *script {
	for _, dir := range []Dir{ToServer, FromServer} {
		s.segs = append(s.segs, seg{dir: dir, seq: s.next[dir], ack: s.next[dir^1], flags: tcpFIN | tcpACK})
		s.next[dir]++
	}
	return s
}

func (s *script) write(c *capBuf) {
	for _, g := range s.segs {
		c.t = c.t.Add(g.pause)
		src, dst := s.cli, s.srv
		if g.dir == FromServer {
			src, dst = dst, src
		}
		c.packet(src, dst, g.seq, g.ack, g.flags, g.data)
	}
}

// Segment transformations.

func isData(g seg) bool { return len(g.data) > 0 && g.flags&(tcpSYN|tcpFIN|tcpRST) == 0 }

// split cuts every data segment into pieces of at most n bytes.
func (s *script) split(n int) *script {
	var out []seg
	for _, g := range s.segs {
		if !isData(g) {
			out = append(out, g)
			continue
		}
		for off := 0; off < len(g.data); off += n {
			e := min(off+n, len(g.data))
			out = append(out, seg{dir: g.dir, seq: g.seq + uint32(off), ack: g.ack, flags: g.flags, data: g.data[off:e], pause: g.pause})
			g.pause = 0
		}
	}
	s.segs = out
	return s
}

// coalesce merges consecutive data segments of one direction up to n bytes.
func (s *script) coalesce(n int) *script {
	var out []seg
	for _, g := range s.segs {
		if k := len(out) - 1; k >= 0 && isData(g) && isData(out[k]) && out[k].dir == g.dir &&
			out[k].seq+uint32(len(out[k].data)) == g.seq && len(out[k].data)+len(g.data) <= n {
			out[k].data = append(append([]byte(nil), out[k].data...), g.data...)
			out[k].ack = g.ack
			continue
		}
		out = append(out, g)
	}
	s.segs = out
	return s
}

// retransmit repeats every k-th data segment (as a later duplicate).
func (s *script) retransmit(k int) *script {
	var out []seg
	i := 0
	for _, g := range s.segs {
		out = append(out, g)
		if isData(g) {
			if i%k == 0 {
				out = append(out, g)
			}
			i++
		}
	}
	s.segs = out
	return s
}

// reorder swaps adjacent data segments of the same direction, pairwise.
func (s *script) reorder() *script {
	for i := 0; i+1 < len(s.segs); i++ {
		a, b := s.segs[i], s.segs[i+1]
		if isData(a) && isData(b) && a.dir == b.dir {
			s.segs[i], s.segs[i+1] = b, a
			i++
		}
	}
	return s
}

// dropBytes drops the first n payload bytes of direction dir (and the
// handshake): the capture starts mid-stream.
func (s *script) dropStart(n [2]int) *script {
	var out []seg
	var begun [2]bool
	for _, g := range s.segs {
		if g.flags&tcpSYN != 0 || !begun[g.dir] && !isData(g) {
			continue
		}
		if isData(g) && n[g.dir] > 0 {
			if n[g.dir] >= len(g.data) {
				n[g.dir] -= len(g.data)
				continue
			}
			g.seq += uint32(n[g.dir])
			g.data = g.data[n[g.dir]:]
			n[g.dir] = 0
		}
		begun[g.dir] = true
		out = append(out, g)
	}
	s.segs = out
	return s
}

// Addresses.
var (
	cliAddr  = netip.MustParseAddrPort("10.0.0.9:51000")
	srvAddr  = netip.MustParseAddrPort("10.0.0.1:2181")
	cli6Addr = netip.MustParseAddrPort("[fd00::9]:51000")
	srv6Addr = netip.MustParseAddrPort("[fd00::1]:2181")
)

// Message builders.

type frame struct {
	dir Dir
	b   []byte
}

func reqFrame(xid wire.Xid, op wire.OpCode, body jute.Record) frame {
	return frame{ToServer, wire.AppendRequest(nil, wire.RequestHeader{Xid: xid, Type: op}, body)}
}

func repFrame(xid wire.Xid, zxid wire.Zxid, err wire.ErrCode, body jute.Record) frame {
	return frame{FromServer, wire.AppendReply(nil, wire.ReplyHeader{Xid: xid, Zxid: zxid, Err: err}, body)}
}

// clientOps are the opcodes a client can send, with a request body.
var clientOps = []wire.OpCode{
	wire.OpCreate, wire.OpDelete, wire.OpExists, wire.OpGetData, wire.OpSetData, wire.OpGetACL, wire.OpSetACL,
	wire.OpGetChildren, wire.OpSync, wire.OpGetChildren2, wire.OpCheck, wire.OpCreate2, wire.OpReconfig,
	wire.OpCheckWatches, wire.OpRemoveWatches, wire.OpCreateContainer, wire.OpCreateTTL, wire.OpSASL,
	wire.OpGetEphemerals, wire.OpGetAllChildrenNumber, wire.OpAddWatch, wire.OpWhoAmI,
}

// clientSession builds a whole client conversation touching every opcode,
// with its expected message summaries.
func clientSession(r *rand.Rand) ([]frame, []string) {
	f := testutil.Filler{R: r, MaxBuffer: 300, NoNulls: true}
	var fr []frame
	var want []string
	add := func(x frame, w string) {
		fr = append(fr, x)
		want = append(want, w)
	}
	sid := wire.SessionID(0x1000abc00000001)
	add(frame{ToServer, wire.AppendConnect(nil, wire.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}, false, true)}, "connect connect")
	add(frame{FromServer, wire.AppendConnectResponse(nil, wire.ConnectResponse{TimeOut: 30000, SessionID: sid, Passwd: make([]byte, 16)}, false)}, "connect-reply connect paired")
	xid := wire.Xid(0)
	zxid := wire.Zxid(0x100000000)
	for _, op := range clientOps {
		xid++
		zxid++
		req, has, _ := wire.NewRequestRecord(op)
		if has {
			f.Fill(req)
		}
		add(reqFrame(xid, op, req), "request "+op.String())
		resp, has, _ := wire.NewResponseRecord(op)
		if has {
			f.Fill(resp)
		} else {
			resp = nil
		}
		add(repFrame(xid, zxid, wire.ErrOk, resp), "reply "+op.String()+" paired")
		// and an error reply (header only)
		xid++
		add(reqFrame(xid, op, req), "request "+op.String())
		add(repFrame(xid, zxid, wire.ErrNoNode, nil), "reply "+op.String()+" paired NONODE")
	}
	// multi and multiRead, success and failure
	xid++
	multi := &wire.MultiRequest{Ops: []wire.MultiOp{
		{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/m/a", Data: []byte("x"), ACL: []wire.ACL{{Perms: 31, ID: wire.ID{Scheme: "world", ID: "anyone"}}}}},
		{Type: wire.OpSetData, Op: &wire.SetDataRequest{Path: "/m", Data: []byte("y"), Version: -1}},
		{Type: wire.OpCheck, Op: &wire.CheckVersionRequest{Path: "/m", Version: 1}},
		{Type: wire.OpDelete, Op: &wire.DeleteRequest{Path: "/m/b", Version: -1}},
	}}
	add(reqFrame(xid, wire.OpMulti, multi), "request multi")
	add(repFrame(xid, zxid, wire.ErrOk, &wire.MultiResponse{Results: []wire.MultiResult{
		{Type: wire.OpCreate, Result: &wire.CreateResponse{Path: "/m/a"}},
		{Type: wire.OpSetData, Result: &wire.SetDataResponse{}},
		{Type: wire.OpCheck}, {Type: wire.OpDelete},
	}}), "reply multi paired")
	xid++
	add(reqFrame(xid, wire.OpMulti, multi), "request multi")
	add(repFrame(xid, zxid, wire.ErrNoNode, &wire.MultiResponse{Results: []wire.MultiResult{
		{Type: wire.OpError, Err: 0, Result: &wire.ErrorResponse{Err: 0}},
		{Type: wire.OpError, Err: wire.ErrNoNode, Result: &wire.ErrorResponse{Err: wire.ErrNoNode}},
		{Type: wire.OpError, Err: wire.ErrRuntimeInconsistency, Result: &wire.ErrorResponse{Err: wire.ErrRuntimeInconsistency}},
		{Type: wire.OpError, Err: wire.ErrRuntimeInconsistency, Result: &wire.ErrorResponse{Err: wire.ErrRuntimeInconsistency}},
	}}), "reply multi paired NONODE")
	xid++
	add(reqFrame(xid, wire.OpMultiRead, &wire.MultiRequest{Ops: []wire.MultiOp{
		{Type: wire.OpGetChildren, Op: &wire.GetChildrenRequest{Path: "/m"}},
		{Type: wire.OpGetData, Op: &wire.GetDataRequest{Path: "/m"}},
	}}), "request multiRead")
	add(repFrame(xid, zxid, wire.ErrOk, &wire.MultiResponse{Results: []wire.MultiResult{
		{Type: wire.OpGetChildren, Result: &wire.GetChildrenResponse{Children: []string{"a"}}},
		{Type: wire.OpGetData, Result: &wire.GetDataResponse{Data: []byte("y")}},
	}}), "reply multiRead paired")
	// pipelined requests, then their replies in order
	for i := 0; i < 5; i++ {
		add(reqFrame(xid+1+wire.Xid(i), wire.OpGetData, &wire.GetDataRequest{Path: "/p", Watch: true}), "request getData")
	}
	for i := 0; i < 5; i++ {
		add(repFrame(xid+1+wire.Xid(i), zxid, wire.ErrOk, &wire.GetDataResponse{Data: []byte("v")}), "reply getData paired")
	}
	xid += 5
	// a watch event, a ping, auth, setWatches/setWatches2 with the Java xids
	add(frame{FromServer, wire.AppendWatchEvent(nil, wire.WatcherEvent{Type: wire.EventNodeDataChanged, State: wire.StateSyncConnected, Path: "/p"})}, "watch-event notification")
	add(reqFrame(wire.XidPing, wire.OpPing, nil), "request ping")
	add(repFrame(wire.XidPing, zxid, wire.ErrOk, nil), "reply ping paired")
	add(reqFrame(wire.XidAuth, wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("u:p")}), "request auth")
	add(repFrame(wire.XidAuth, 0, wire.ErrOk, nil), "reply auth paired")
	add(reqFrame(wire.XidSetWatches, wire.OpSetWatches, &wire.SetWatches{RelativeZxid: zxid, DataWatches: []string{"/p"}, ExistWatches: []string{}, ChildWatches: []string{"/"}}), "request setWatches")
	add(repFrame(wire.XidSetWatches, zxid, wire.ErrOk, nil), "reply setWatches paired")
	add(reqFrame(wire.XidSetWatches, wire.OpSetWatches2, &wire.SetWatches2{RelativeZxid: zxid, DataWatches: []string{}, ExistWatches: []string{}, ChildWatches: []string{}, PersistentWatches: []string{"/q"}, PersistentRecursiveWatches: []string{}}), "request setWatches2")
	add(repFrame(wire.XidSetWatches, zxid, wire.ErrOk, nil), "reply setWatches2 paired")
	xid++
	add(reqFrame(xid, wire.OpCloseSession, nil), "request closeSession")
	add(repFrame(xid, zxid, wire.ErrOk, nil), "reply closeSession paired")
	return fr, want
}

// clientScript turns frames into one segment per frame.
func framesScript(cli, srv netip.AddrPort, fr []frame) *script {
	s := newScript(cli, srv, 1000).syn()
	for _, x := range fr {
		s.send(x.dir, x.b)
	}
	return s.fin()
}

// Quorum builders.

func qpBytes(t wire.PacketType, zxid wire.Zxid, data []byte, auth []wire.ID) []byte {
	return jute.Append(nil, &wire.QuorumPacket{Type: t, Zxid: zxid, Data: data, AuthInfo: auth})
}

func txnBytes(hdr wire.TxnHeader, body jute.Record, digest bool) []byte {
	e := wire.TxnEntry{Hdr: hdr, Body: body}
	if digest {
		e.Digest = &wire.TxnDigest{Version: 2, TreeDigest: 0x1234}
	}
	return wire.AppendTxnEntry(nil, &e)
}

// snapStream builds a SNAP stream: sessions, an ACL cache, nodes, signature.
func snapStream(sessions, nodes, dataLen int) []byte {
	w := jute.NewWriter(nil)
	w.Int(int32(sessions))
	for i := 0; i < sessions; i++ {
		w.Long(0x100000000 + int64(i))
		w.Int(30000)
	}
	w.Int(1) // one ACL cache entry with two ACLs
	w.Long(1)
	w.Int(2)
	w.Int(31)
	w.String("world")
	w.String("anyone")
	w.Int(1)
	w.String("digest")
	w.String("u:hash")
	node := func(path string, data []byte, eph int64) {
		w.String(path)
		w.Buffer(data)
		w.Long(-1)
		st := wire.StatPersisted{Czxid: 1, Mzxid: 1, EphemeralOwner: eph}
		st.Encode(w)
	}
	node("", nil, 0)
	node("/zookeeper", []byte{}, 0)
	node("/zookeeper/quota", []byte{}, 0)
	node("/zookeeper/config", []byte("server.1=x"), 0)
	for i := 0; i < nodes; i++ {
		node("/n"+string(rune('a'+i%26))+string(rune('0'+i/26%10)), bytes.Repeat([]byte{byte(i)}, dataLen), int64(i%2)*0x100000001)
	}
	w.String("/")
	w.String(wire.SnapSignature)
	return w.Bytes()
}

// quorumSession is a learner's whole life: handshake, SNAP sync, broadcast.
func quorumSession() ([]frame, []string) {
	var fr []frame
	var want []string
	add := func(dir Dir, b []byte, w string) {
		fr = append(fr, frame{dir, b})
		want = append(want, w)
	}
	li := jute.Append(nil, &wire.LearnerInfo{ServerID: 2, ProtocolVersion: wire.ProtocolVersion})
	add(ToServer, qpBytes(wire.PacketFollowerInfo, 1<<32, li, nil), "FOLLOWERINFO")
	add(FromServer, qpBytes(wire.PacketLeaderInfo, 2<<32, wire.EpochData(wire.ProtocolVersion), nil), "LEADERINFO")
	add(ToServer, qpBytes(wire.PacketAckEpoch, 0x100000005, wire.EpochData(1), nil), "ACKEPOCH")
	snap := snapStream(3, 40, 100)
	add(FromServer, append(qpBytes(wire.PacketSnap, 0x100000009, nil, nil), snap...), "SNAP")
	want = append(want, "snapshot")
	hdr := wire.TxnHeader{ClientID: 0x100000001, Cxid: 7, Zxid: 0x10000000a, Time: 1714564800000}
	txn := func(t wire.OpCode, body jute.Record, digest bool, name string) {
		h := hdr
		h.Type = t
		add(FromServer, qpBytes(wire.PacketProposal, h.Zxid, txnBytes(h, body, digest), nil), "PROPOSAL "+name)
		add(FromServer, qpBytes(wire.PacketCommit, h.Zxid, nil, nil), "COMMIT")
		hdr.Zxid++
	}
	acl := []wire.ACL{{Perms: 31, ID: wire.ID{Scheme: "world", ID: "anyone"}}}
	txn(wire.OpCreate, &wire.CreateTxn{Path: "/a", Data: []byte("1"), ACL: acl, ParentCVersion: 1}, true, "create")
	txn(wire.OpCreate2, &wire.CreateTxn{Path: "/b", Data: []byte("1"), ACL: acl, Ephemeral: true, ParentCVersion: 2}, true, "create2")
	txn(wire.OpCreateTTL, &wire.CreateTTLTxn{Path: "/t", ACL: acl, ParentCVersion: 3, TTL: 1000}, true, "createTTL")
	txn(wire.OpCreateContainer, &wire.CreateContainerTxn{Path: "/c", ACL: acl, ParentCVersion: 4}, true, "createContainer")
	txn(wire.OpSetData, &wire.SetDataTxn{Path: "/a", Data: []byte("2"), Version: 1}, true, "setData")
	txn(wire.OpSetACL, &wire.SetACLTxn{Path: "/a", ACL: acl, Version: 1}, true, "setACL")
	txn(wire.OpDelete, &wire.DeleteTxn{Path: "/b"}, true, "delete")
	txn(wire.OpDeleteContainer, &wire.DeleteTxn{Path: "/c"}, true, "deleteContainer")
	txn(wire.OpCreateSession, &wire.CreateSessionTxn{TimeOut: 30000}, true, "createSession")
	txn(wire.OpCloseSession, &wire.CloseSessionTxn{Paths2Delete: []string{"/e"}}, true, "closeSession")
	txn(wire.OpCloseSession, nil, false, "closeSession")
	txn(wire.OpError, &wire.ErrorTxn{Err: wire.ErrNodeExists}, true, "error")
	txn(wire.OpReconfig, &wire.SetDataTxn{Path: "/zookeeper/config", Data: []byte("server.1=a:1:2:participant\nversion=100000000"), Version: -1}, true, "reconfig")
	sub := func(t wire.OpCode, r jute.Record) wire.Txn { return wire.Txn{Type: t, Data: jute.Append(nil, r)} }
	txn(wire.OpMulti, &wire.MultiTxn{Txns: []wire.Txn{
		sub(wire.OpCreate, &wire.CreateTxn{Path: "/m", ACL: acl, ParentCVersion: 5}),
		sub(wire.OpCheck, &wire.CheckVersionTxn{Path: "/m", Version: 0}),
		sub(wire.OpSetData, &wire.SetDataTxn{Path: "/m", Data: []byte("x"), Version: 1}),
		sub(wire.OpDelete, &wire.DeleteTxn{Path: "/m"}),
	}}, true, "multi")
	txn(wire.OpMulti, &wire.MultiTxn{Txns: []wire.Txn{
		sub(wire.OpError, &wire.ErrorTxn{Err: 0}),
		sub(wire.OpError, &wire.ErrorTxn{Err: wire.ErrNoNode}),
	}}, false, "multi")
	add(FromServer, qpBytes(wire.PacketNewLeader, 2<<32, []byte("server.1=127.0.0.1:2888:3888:participant\nversion=0"), nil), "NEWLEADER")
	add(ToServer, qpBytes(wire.PacketAck, 2<<32, nil, nil), "ACK")
	add(FromServer, qpBytes(wire.PacketUpToDate, -1, nil, nil), "UPTODATE")
	add(ToServer, qpBytes(wire.PacketAck, 2<<32, nil, nil), "ACK")
	add(FromServer, qpBytes(wire.PacketPing, hdr.Zxid, nil, nil), "PING")
	add(ToServer, qpBytes(wire.PacketPing, hdr.Zxid, wire.AppendTouchTable(nil, []wire.SessionTouch{{SessionID: 0x200000001, TimeoutMs: 30000}, {SessionID: 0x200000002, TimeoutMs: 4000}}), nil), "PING")
	add(ToServer, qpBytes(wire.PacketPing, hdr.Zxid, []byte{}, nil), "PING")
	reqPkt := func(op wire.OpCode, cxid wire.Xid, body []byte, auth []wire.ID, name string) {
		add(ToServer, qpBytes(wire.PacketRequest, -1, wire.AppendRequestPacket(nil, wire.RequestPacketHeader{SessionID: 0x200000001, Cxid: cxid, Type: op}, body), auth), "REQUEST "+name)
	}
	reqPkt(wire.OpCreateSession, 0, wire.EpochData(30000), nil, "createSession")
	reqPkt(wire.OpCreate, 1, jute.Append(nil, &wire.CreateRequest{Path: "/r", Data: []byte("d"), ACL: acl}), []wire.ID{{Scheme: "digest", ID: "u:x"}}, "create")
	reqPkt(wire.OpSync, 2, jute.Append(nil, &wire.SyncRequest{Path: "/r"}), nil, "sync")
	reqPkt(wire.OpMulti, 3, jute.Append(nil, &wire.MultiRequest{Ops: []wire.MultiOp{{Type: wire.OpDelete, Op: &wire.DeleteRequest{Path: "/r", Version: -1}}}}), nil, "multi")
	reqPkt(wire.OpDeleteContainer, 4, []byte("/c"), nil, "deleteContainer")
	reqPkt(wire.OpCloseSession, 5, nil, nil, "closeSession")
	add(FromServer, qpBytes(wire.PacketSync, 0, nil, nil), "SYNC")
	add(ToServer, qpBytes(wire.PacketRevalidate, -1, wire.AppendRevalidateRequest(nil, 0x200000003, 30000), nil), "REVALIDATE")
	add(FromServer, qpBytes(wire.PacketRevalidate, -1, wire.AppendRevalidateReply(nil, 0x200000003, true), nil), "REVALIDATE")
	h := hdr
	h.Type = wire.OpSetData
	add(FromServer, qpBytes(wire.PacketInform, h.Zxid, txnBytes(h, &wire.SetDataTxn{Path: "/a", Data: []byte("3"), Version: 2}, true), nil), "INFORM setData")
	lead := binary.BigEndian.AppendUint64(nil, 1)
	add(FromServer, qpBytes(wire.PacketCommitAndActivate, h.Zxid, lead, nil), "COMMITANDACTIVATE")
	add(FromServer, qpBytes(wire.PacketInformAndActivate, h.Zxid, append(lead, txnBytes(h, &wire.SetDataTxn{Path: "/zookeeper/config", Data: []byte("v"), Version: -1}, true)...), nil), "INFORMANDACTIVATE setData")
	add(FromServer, qpBytes(wire.PacketTrunc, 0x100000001, nil, nil), "TRUNC")
	add(FromServer, qpBytes(wire.PacketDiff, 0x100000001, nil, nil), "DIFF")
	return fr, want
}

// electionSession: initial message, then notifications both ways.
func electionSession(protocol int64) ([]frame, []string) {
	var fr []frame
	var want []string
	add := func(dir Dir, b []byte, w string) {
		fr = append(fr, frame{dir, b})
		want = append(want, w)
	}
	cfg := []byte("server.1=127.0.0.1:2888:3888:participant\nserver.2=127.0.0.1:2889:3889:participant\nversion=0")
	switch protocol {
	case wire.ElectionProtocolV1:
		add(ToServer, wire.AppendInitialMessage(nil, 2, "10.0.0.9:3889"), "initial")
	case wire.ElectionProtocolV2:
		v2 := wire.ElectionProtocolV2
		b := binary.BigEndian.AppendUint64(nil, uint64(v2))
		b = binary.BigEndian.AppendUint64(b, 2)
		addr := "10.0.0.9:3889|10.0.1.9:3889"
		b = binary.BigEndian.AppendUint32(b, uint32(len(addr)))
		add(ToServer, append(b, addr...), "initial")
	default:
		add(ToServer, binary.BigEndian.AppendUint64(nil, 2), "initial")
	}
	for i := 0; i < 3; i++ {
		n := &wire.Notification{State: wire.ServerLooking, Leader: 2, Zxid: 0x100000003, ElectionEpoch: 5, PeerEpoch: 1, Version: 2, Config: cfg}
		add(ToServer, wire.AppendNotificationFrame(nil, n), "notification")
		n.Leader = 2
		n.State = wire.ServerFollowing
		add(FromServer, wire.AppendNotificationFrame(nil, n), "notification")
	}
	old := &wire.Notification{State: wire.ServerLeading, Leader: 2, Zxid: 0x100000003, ElectionEpoch: 5, PeerEpoch: 1, Version: 1, Layout: 40}
	add(ToServer, wire.AppendNotificationFrame(nil, old), "notification")
	old.Layout = 28
	add(FromServer, wire.AppendNotificationFrame(nil, old), "notification")
	return fr, want
}
