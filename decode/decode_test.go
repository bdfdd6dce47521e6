package decode

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/zkgo/zkgo/internal/testutil"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// decoded is a copy of what a test needs from a Message.
type decoded struct {
	sum     string
	kind    Kind
	channel Channel
	dir     Dir
	offset  int64
	size    int64
	session wire.SessionID
	sid     int64
	latency time.Duration
	paired  bool
	parts   []string // JuteNames
	err     error
	text    string
	snap    *SnapSummary
	conn    int64
	inst    int // Message.Instance
}

func summarize(m *Message) string {
	switch m.Kind {
	case KindUndecodable:
		return "UNDECODABLE"
	case KindNote:
		return "NOTE"
	}
	switch m.Channel {
	case ChannelClient:
		s := m.Kind.String() + " " + m.Name
		if m.Paired {
			s += " paired"
		}
		if m.HasCode && m.Code != wire.ErrOk {
			s += " " + m.Code.Name()
		}
		return s
	case ChannelQuorum:
		s := m.Name
		if m.Kind == KindQuorumPacket && m.HasOp {
			s += " " + m.Op.String()
		}
		return s
	}
	return m.Name
}

func run(t testing.TB, capture []byte, cfg Config) ([]decoded, Counts) {
	t.Helper()
	var out []decoded
	d := New(cfg, func(m *Message) {
		x := decoded{sum: summarize(m), kind: m.Kind, channel: m.Channel, dir: m.Dir, offset: m.Offset, size: m.Size,
			session: m.Session, sid: m.Sid, latency: m.Latency, paired: m.Paired, err: m.Error, text: m.Text, inst: m.Instance}
		if m.Conn != nil {
			x.conn = m.Conn.ID
		}
		for _, p := range m.Parts {
			x.parts = append(x.parts, p.Rec.JuteName())
		}
		if m.Snapshot != nil {
			s := *m.Snapshot
			x.snap = &s
		}
		// Every message must print in every format without trouble.
		_ = AppendLine(nil, m, false)
		_ = AppendTree(nil, m)
		if j := AppendJSON(nil, m); !json.Valid(j) {
			t.Errorf("message %d: invalid JSON: %s", m.N, j)
		}
		out = append(out, x)
	})
	if _, err := d.ReadCapture(bytes.NewReader(capture)); err != nil {
		t.Fatal(err)
	}
	return out, d.Counts()
}

func sums(ms []decoded) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.sum
		if m.kind == KindUndecodable || m.kind == KindNote {
			out[i] += fmt.Sprintf(" @%d+%d: %v%s", m.offset, m.size, m.err, m.text)
		}
	}
	return out
}

func requireSums(t *testing.T, got []decoded, want []string) {
	t.Helper()
	g := sums(got)
	if !slices.Equal(g, want) {
		for i := 0; i < max(len(g), len(want)); i++ {
			var a, b string
			if i < len(g) {
				a = g[i]
			}
			if i < len(want) {
				b = want[i]
			}
			if a != b {
				t.Fatalf("message %d: got %q, want %q (got %d messages, want %d)", i, a, b, len(g), len(want))
			}
		}
	}
}

func clientCapture(t *testing.T, link layers.LinkType, ng, v6 bool, edit func(*script)) ([]byte, []string) {
	t.Helper()
	fr, want := clientSession(rand.New(rand.NewPCG(1, 2)))
	cli, srv := cliAddr, srvAddr
	if v6 {
		cli, srv = cli6Addr, srv6Addr
	}
	s := framesScript(cli, srv, fr)
	if edit != nil {
		edit(s)
	}
	cb := newCap(link, ng)
	s.write(cb)
	return cb.bytes(), want
}

// TestClientConversation decodes a conversation that uses every opcode a
// client can send, with successful and error replies, multi, pings, auth,
// setWatches and a watch event, and checks each reply is paired with its
// request and decoded as the record the request's opcode calls for.
func TestClientConversation(t *testing.T) {
	capture, want := clientCapture(t, layers.LinkTypeEthernet, false, false, nil)
	got, counts := run(t, capture, Config{ClientPorts: []uint16{2181}})
	requireSums(t, got, want)
	if counts.Undecodable != 0 || counts.Notes != 0 || counts.Conns[ChannelClient] != 1 {
		t.Fatalf("counts %+v", counts)
	}
	var off [2]int64
	for i, m := range got {
		if m.offset != off[m.dir] {
			t.Errorf("message %d (%s): offset %d, want %d", i, m.sum, m.offset, off[m.dir])
		}
		off[m.dir] += m.size
		if i >= 2 && m.session != 0x1000abc00000001 {
			t.Errorf("message %d (%s): session %#x", i, m.sum, m.session)
		}
		if m.paired && m.latency <= 0 {
			t.Errorf("message %d (%s): latency %v", i, m.sum, m.latency)
		}
	}
	// The record types follow the opcode.
	for i, m := range got {
		if m.kind != KindRequest && m.kind != KindReply {
			continue
		}
		op, _ := wire.ParseOpCode(strings.Fields(m.sum)[1])
		var rec jute.Record
		var has bool
		if m.kind == KindRequest {
			rec, has, _ = wire.NewRequestRecord(op)
		} else if strings.HasSuffix(m.sum, "paired") || op == wire.OpMulti {
			rec, has, _ = wire.NewResponseRecord(op)
		}
		wantParts := []string{"org.apache.zookeeper.proto.RequestHeader"}
		if m.kind == KindReply {
			wantParts[0] = "org.apache.zookeeper.proto.ReplyHeader"
		}
		if has {
			wantParts = append(wantParts, rec.JuteName())
		}
		if !slices.Equal(m.parts, wantParts) {
			t.Errorf("message %d (%s): parts %v, want %v", i, m.sum, m.parts, wantParts)
		}
	}
}

// TestTCPReassembly: split, coalesced, retransmitted and reordered segments
// decode to the same messages.
func TestTCPReassembly(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*script)
	}{
		{"split1", func(s *script) { s.split(1) }},
		{"split3", func(s *script) { s.split(3) }},
		{"split7", func(s *script) { s.split(7) }},
		{"coalesce1400", func(s *script) { s.coalesce(1400) }},
		{"coalesce60000", func(s *script) { s.coalesce(60000) }},
		{"retransmit", func(s *script) { s.retransmit(3) }},
		{"reorder", func(s *script) { s.reorder() }},
		{"split-reorder-retransmit", func(s *script) { s.split(5).reorder().retransmit(2) }},
		{"coalesce-split-reorder", func(s *script) { s.coalesce(3000).split(1000).reorder() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			capture, want := clientCapture(t, layers.LinkTypeEthernet, false, false, tc.edit)
			got, counts := run(t, capture, Config{ClientPorts: []uint16{2181}})
			requireSums(t, got, want)
			if counts.Undecodable != 0 || counts.Notes != 0 {
				t.Fatalf("counts %+v", counts)
			}
		})
	}
}

// TestLinkTypes: Ethernet, Linux cooked v1 and v2, BSD loopback and raw IP,
// over IPv4 and IPv6, in pcap, pcapng and gzip'd pcap.
func TestLinkTypes(t *testing.T) {
	for _, link := range []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2,
		layers.LinkTypeNull, layers.LinkTypeRaw} {
		for _, ng := range []bool{false, true} {
			for _, v6 := range []bool{false, true} {
				t.Run(fmt.Sprintf("%v/ng=%v/v6=%v", link, ng, v6), func(t *testing.T) {
					capture, want := clientCapture(t, link, ng, v6, nil)
					got, counts := run(t, capture, Config{})
					requireSums(t, got, want)
					if counts.Undecodable != 0 {
						t.Fatalf("counts %+v", counts)
					}
				})
			}
		}
	}
	t.Run("gzip", func(t *testing.T) {
		capture, want := clientCapture(t, layers.LinkTypeEthernet, false, false, nil)
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(capture)
		zw.Close()
		got, _ := run(t, z.Bytes(), Config{})
		requireSums(t, got, want)
	})
}

// TestMidStream: a capture that starts inside both directions says so,
// skips to the next message boundary and decodes the rest; replies whose
// request is not in the capture stay unpaired.
func TestMidStream(t *testing.T) {
	for _, cut := range [][2]int{{0, 0}, {7, 3}, {200, 150}, {1000, 999}} {
		for _, ports := range []bool{true, false} {
			t.Run(fmt.Sprintf("cut=%v/ports=%v", cut, ports), func(t *testing.T) {
				fr, _ := clientSession(rand.New(rand.NewPCG(1, 2)))
				cli, srv := cliAddr, srvAddr
				cfg := Config{ClientPorts: []uint16{2181}}
				if !ports {
					cli = netip.MustParseAddrPort("10.0.0.9:51000")
					srv = netip.MustParseAddrPort("10.0.0.1:40000")
					cfg = Config{NoWellKnownPorts: true}
				}
				s := framesScript(cli, srv, fr).dropStart(cut)
				cb := newCap(layers.LinkTypeEthernet, false)
				s.write(cb)
				got, counts := run(t, cb.bytes(), cfg)
				if counts.Undecodable != 0 {
					t.Fatalf("undecodable: %v", sums(got))
				}
				notes := 0
				for _, m := range got {
					if m.kind == KindNote {
						notes++
						if !strings.Contains(m.text, "mid-stream") {
							t.Errorf("note %q", m.text)
						}
					}
				}
				if notes != 2 {
					t.Fatalf("want a mid-stream note per direction, got %v", sums(got))
				}
				// The end of the conversation decodes as usual.
				tail := sums(got)[len(got)-8:]
				want := []string{"request setWatches", "reply setWatches paired", "request setWatches2",
					"reply setWatches2 paired", "request closeSession", "reply closeSession paired"}
				if !slices.Equal(tail[2:], want) {
					t.Fatalf("tail %v", tail)
				}
			})
		}
	}
}

func quorumCapture(edit func(*script), srv netip.AddrPort) ([]byte, []string) {
	fr, want := quorumSession()
	s := newScript(netip.MustParseAddrPort("10.0.0.2:41000"), srv, 77).syn()
	for _, x := range fr {
		s.send(x.dir, x.b)
	}
	s.fin()
	if edit != nil {
		edit(s)
	}
	cb := newCap(layers.LinkTypeEthernet, false)
	s.write(cb)
	return cb.bytes(), want
}

// TestQuorumSession decodes a learner's handshake, a SNAP sync with its
// snapshot stream, proposals of every txn type, and the broadcast phase.
func TestQuorumSession(t *testing.T) {
	srv := netip.MustParseAddrPort("10.0.0.1:2888")
	for _, tc := range []struct {
		name string
		edit func(*script)
	}{
		{"plain", nil},
		{"split97", func(s *script) { s.split(97) }},
		{"coalesce", func(s *script) { s.coalesce(8000) }},
		{"split-reorder-retransmit", func(s *script) { s.split(50).reorder().retransmit(4) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			capture, want := quorumCapture(tc.edit, srv)
			got, counts := run(t, capture, Config{QuorumPorts: []uint16{2888}})
			requireSums(t, got, want)
			if counts.Undecodable != 0 || counts.Notes != 0 {
				t.Fatalf("counts %+v", counts)
			}
			var snap *SnapSummary
			for _, m := range got {
				if m.snap != nil {
					snap = m.snap
				}
				if m.kind == KindQuorumPacket && m.sid != 2 {
					t.Fatalf("%s: learner sid %d", m.sum, m.sid)
				}
			}
			if snap == nil || snap.Sessions != 3 || snap.Nodes != 44 || snap.Ephemerals != 20 || snap.ACLEntries != 1 ||
				snap.Signature != wire.SnapSignature || snap.DataBytes != 40*100+10 || snap.Zxid != 0x100000009 {
				t.Fatalf("snapshot summary %+v", snap)
			}
		})
	}
}

// TestElectionSession decodes initial messages of every version and
// notifications of every layout, and names the sender of each.
func TestElectionSession(t *testing.T) {
	for _, proto := range []int64{wire.ElectionProtocolV1, wire.ElectionProtocolV2, 2} {
		t.Run(fmt.Sprint(proto), func(t *testing.T) {
			cb := newCap(layers.LinkTypeEthernet, false)
			// Server 1 first connects to server 2 (and loses): this tells
			// the decoder server 1's address.
			lose := newScript(netip.MustParseAddrPort("10.0.0.1:42000"), netip.MustParseAddrPort("10.0.0.9:3889"), 5).syn()
			lose.send(ToServer, wire.AppendInitialMessage(nil, 1, "10.0.0.1:3888")).fin().write(cb)
			fr, want := electionSession(proto)
			s := newScript(netip.MustParseAddrPort("10.0.0.9:43000"), netip.MustParseAddrPort("10.0.0.1:3888"), 9).syn()
			for _, x := range fr {
				s.send(x.dir, x.b)
			}
			s.fin().write(cb)
			got, counts := run(t, cb.bytes(), Config{})
			requireSums(t, got, append([]string{"initial"}, want...))
			if counts.Undecodable != 0 || counts.Conns[ChannelElection] != 2 {
				t.Fatalf("counts %+v", counts)
			}
			for _, m := range got[2:] {
				wantSid := int64(2)
				if m.dir == FromServer {
					wantSid = 1
				}
				if m.sid != wantSid {
					t.Errorf("%s %v: sid %d, want %d", m.sum, m.dir, m.sid, wantSid)
				}
			}
		})
	}
}

// TestElectionSenderInstances: the acceptor's sid comes from the config
// bytes of a notification when no initial message advertised its address,
// and a member that restarts (its connections ended, a fresh vote for
// itself in electionEpoch 1 on a new one) is a new instance, as is one
// whose logical clock went back.
func TestElectionSenderInstances(t *testing.T) {
	cfg := []byte("server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181\nserver.2=10.0.0.2:2888:3888:participant\n" +
		"server.3=[fd00::3]:2888:3888\nversion=100000000")
	acceptor := netip.MustParseAddrPort("10.0.0.1:3888")
	vote := func(state wire.ServerState, leader, epoch int64) []byte {
		return wire.AppendNotificationFrame(nil, &wire.Notification{State: state, Leader: leader, Zxid: 0x100000003,
			ElectionEpoch: epoch, PeerEpoch: 1, Version: 2, Config: cfg})
	}
	cb := newCap(layers.LinkTypeEthernet, false)
	// Member 2's first process: LOOKING in rounds 1 and 2.
	newScript(netip.MustParseAddrPort("10.0.0.2:40000"), acceptor, 5).syn().
		send(ToServer, wire.AppendInitialMessage(nil, 2, "10.0.0.2:3888")).
		send(ToServer, vote(wire.ServerLooking, 2, 1)).send(FromServer, vote(wire.ServerLooking, 1, 1)).
		send(ToServer, vote(wire.ServerLooking, 2, 2)).send(FromServer, vote(wire.ServerLooking, 2, 2)).
		fin().write(cb)
	// Its second process: every connection of the first ended.
	newScript(netip.MustParseAddrPort("10.0.0.2:40001"), acceptor, 50).syn().
		send(ToServer, wire.AppendInitialMessage(nil, 2, "10.0.0.2:3888")).
		send(ToServer, vote(wire.ServerLooking, 2, 1)).send(FromServer, vote(wire.ServerLeading, 1, 2)).
		send(ToServer, vote(wire.ServerFollowing, 1, 2)).
		fin().write(cb)
	// A third process whose connection overlaps none, clock behind.
	newScript(netip.MustParseAddrPort("10.0.0.2:40002"), acceptor, 500).syn().
		send(ToServer, wire.AppendInitialMessage(nil, 2, "10.0.0.2:3888")).
		send(ToServer, vote(wire.ServerLooking, 1, 1)).
		fin().write(cb)
	// A fourth: member 1 speaks first on the new process's first
	// connection, the process's first vote goes out on its second.
	first := newScript(netip.MustParseAddrPort("10.0.0.2:40003"), acceptor, 5000).syn().
		send(ToServer, wire.AppendInitialMessage(nil, 2, "10.0.0.2:3888")).
		send(FromServer, vote(wire.ServerLooking, 1, 3))
	first.write(cb)
	first.segs = first.segs[:0]
	second := newScript(netip.MustParseAddrPort("10.0.0.2:40004"), acceptor, 7000).syn().
		send(ToServer, wire.AppendInitialMessage(nil, 2, "10.0.0.2:3888")).
		send(ToServer, vote(wire.ServerLooking, 2, 1))
	second.write(cb)
	second.segs = second.segs[:0]
	first.send(ToServer, vote(wire.ServerLooking, 2, 1)).fin().write(cb)
	second.fin().write(cb)
	got, counts := run(t, cb.bytes(), Config{})
	if counts.Undecodable != 0 {
		t.Fatalf("counts %+v", counts)
	}
	type sent struct {
		sid  int64
		inst int
	}
	var senders []sent
	for _, m := range got {
		if m.kind == KindNotification {
			senders = append(senders, sent{m.sid, m.inst})
		}
	}
	want := []sent{{2, 1}, {1, 1}, {2, 1}, {1, 1}, {2, 2}, {1, 1}, {2, 2}, {2, 3}, {1, 1}, {2, 4}, {2, 4}}
	if !slices.Equal(senders, want) {
		t.Errorf("senders (sid, instance) %v, want %v", senders, want)
	}
}

// TestElectionInstanceStaleQueuedVote: a restarted member's notifications
// to different peers leave separate queues, so the first vote of its
// election (for itself, in electionEpoch 1), queued for a peer that
// connects only later, goes out after newer votes (electionEpoch 2) to
// another peer. That is the same process, not a third one. (Seen on a
// capture of Java 3.8.0 in TestCompat_DecodeEnsemble: a wiped and
// restarted member counted as three instances.)
func TestElectionInstanceStaleQueuedVote(t *testing.T) {
	cfg := []byte("server.1=10.0.0.1:2888:3888:participant\nserver.2=10.0.0.2:2888:3888:participant\n" +
		"server.3=10.0.0.3:2888:3888:participant\nversion=100000000")
	acceptor := netip.MustParseAddrPort("10.0.0.1:3888")
	vote := func(state wire.ServerState, leader, epoch int64) []byte {
		return wire.AppendNotificationFrame(nil, &wire.Notification{State: state, Leader: leader, Zxid: 0x100000003,
			ElectionEpoch: epoch, PeerEpoch: 1, Version: 2, Config: cfg})
	}
	cb := newCap(layers.LinkTypeEthernet, false)
	// Member 1's first process votes with members 2 and 3 up to round 2,
	// both connections open at once; they end when it dies.
	var old []*script
	for i, peer := range []int64{2, 3} {
		s := newScript(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(peer)}), 40000), acceptor, uint32(5+i*100)).syn().
			send(ToServer, wire.AppendInitialMessage(nil, peer, fmt.Sprintf("10.0.0.%d:3888", peer))).
			send(FromServer, vote(wire.ServerLooking, 1, 1)).send(ToServer, vote(wire.ServerLooking, peer, 2)).
			send(FromServer, vote(wire.ServerLooking, 3, 2))
		s.write(cb)
		s.segs = s.segs[:0]
		old = append(old, s)
	}
	for _, s := range old {
		s.fin().write(cb)
	}
	// Its second process: member 2 connects first; the round goes to 2.
	toTwo := newScript(netip.MustParseAddrPort("10.0.0.2:40001"), acceptor, 1000).syn().
		send(ToServer, wire.AppendInitialMessage(nil, 2, "10.0.0.2:3888")).
		send(ToServer, vote(wire.ServerLooking, 2, 2)).
		send(FromServer, vote(wire.ServerLooking, 1, 1)).send(FromServer, vote(wire.ServerLooking, 2, 2))
	toTwo.write(cb)
	toTwo.segs = toTwo.segs[:0]
	// Member 3 connects later and gets the vote queued for it at the
	// start, then the current one.
	newScript(netip.MustParseAddrPort("10.0.0.3:40001"), acceptor, 2000).syn().
		send(ToServer, wire.AppendInitialMessage(nil, 3, "10.0.0.3:3888")).
		send(ToServer, vote(wire.ServerLooking, 3, 2)).
		send(FromServer, vote(wire.ServerLooking, 1, 1)).send(FromServer, vote(wire.ServerLooking, 2, 2)).
		fin().write(cb)
	toTwo.fin().write(cb)
	got, counts := run(t, cb.bytes(), Config{})
	if counts.Undecodable != 0 {
		t.Fatalf("counts %+v", counts)
	}
	var inst []int
	for _, m := range got {
		if m.kind == KindNotification && m.sid == 1 {
			inst = append(inst, m.inst)
		}
	}
	if want := []int{1, 1, 1, 1, 2, 2, 2, 2}; !slices.Equal(inst, want) {
		t.Errorf("member 1's instances %v, want %v", inst, want)
	}
}

// TestDetectByContent: with no ports configured and none well known, each
// channel is recognised from its first message, or mid-stream from a chain
// of messages, whichever side the capture starts with.
func TestDetectByContent(t *testing.T) {
	cfg := Config{NoWellKnownPorts: true}
	cli := netip.MustParseAddrPort("10.0.0.9:1234") // a low client port: roles cannot come from ports
	srv := netip.MustParseAddrPort("10.0.0.1:50000")
	build := func(fr []frame, mid bool) []byte {
		s := framesScript(cli, srv, fr)
		if mid {
			s.dropStart([2]int{0, 0})
		}
		cb := newCap(layers.LinkTypeEthernet, false)
		s.write(cb)
		return cb.bytes()
	}
	cf, cwant := clientSession(rand.New(rand.NewPCG(3, 4)))
	qf, qwant := quorumSession()
	ef, ewant := electionSession(wire.ElectionProtocolV1)
	for _, tc := range []struct {
		name string
		fr   []frame
		want []string
		ch   Channel
	}{{"client", cf, cwant, ChannelClient}, {"quorum", qf, qwant, ChannelQuorum}, {"election", ef, ewant, ChannelElection}} {
		t.Run(tc.name, func(t *testing.T) {
			got, counts := run(t, build(tc.fr, false), cfg)
			requireSums(t, got, tc.want)
			if counts.Conns[tc.ch] != 1 {
				t.Fatalf("counts %+v", counts)
			}
			// Mid-stream (no SYN, roles unknown): the channel is still found.
			got, counts = run(t, build(tc.fr, true), cfg)
			if counts.Conns[tc.ch] != 1 || counts.Undecodable != 0 {
				t.Fatalf("mid-stream: counts %+v\n%v", counts, sums(got))
			}
		})
	}
	t.Run("not-zookeeper", func(t *testing.T) {
		got, counts := run(t, build([]frame{{ToServer, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")}, {FromServer, []byte("HTTP/1.1 200 OK\r\n\r\n")}}, false), cfg)
		if len(got) != 0 || counts.Conns[ChannelUnknown] != 1 {
			t.Fatalf("%v %+v", sums(got), counts)
		}
	})
}

// TestGarbage: bytes that do not decode are reported with their offset and
// decoding resumes at the next message.
func TestGarbage(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	junk := make([]byte, 200)
	for i := range junk {
		junk[i] = byte(r.IntN(256))
	}
	junk[0] = 0xff // a negative frame length
	get := func(p string) frame {
		return reqFrame(1, wire.OpGetData, &wire.GetDataRequest{Path: p})
	}
	connect := frame{ToServer, wire.AppendConnect(nil, wire.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}, false, true)}
	t.Run("client-resync", func(t *testing.T) {
		a, b := get("/a"), get("/b")
		fr := []frame{connect, a, {ToServer, junk}, b, get("/c")}
		cb := newCap(layers.LinkTypeEthernet, false)
		framesScript(cliAddr, srvAddr, fr).write(cb)
		got, counts := run(t, cb.bytes(), Config{ClientPorts: []uint16{2181}})
		want := []string{"connect connect", "request getData", fmt.Sprintf("UNDECODABLE @%d+%d: ", len(connect.b)+len(a.b), len(junk)),
			"request getData", "request getData"}
		g := sums(got)
		if len(g) != len(want) || !strings.HasPrefix(g[2], want[2]) || g[3] != want[3] || counts.Undecodable != 1 || counts.Resyncs != 1 {
			t.Fatalf("got %v\ncounts %+v", g, counts)
		}
	})
	t.Run("client-bad-body", func(t *testing.T) {
		bad := reqFrame(2, wire.OpCreate, &wire.GetDataRequest{Path: "/x"}) // not a CreateRequest
		fr := []frame{connect, bad, get("/a")}
		cb := newCap(layers.LinkTypeEthernet, false)
		framesScript(cliAddr, srvAddr, fr).write(cb)
		got, counts := run(t, cb.bytes(), Config{ClientPorts: []uint16{2181}})
		if counts.Undecodable != 1 || got[1].kind != KindUndecodable || got[1].offset != int64(len(connect.b)) ||
			got[1].size != int64(len(bad.b)) || got[2].sum != "request getData" || counts.Resyncs != 0 {
			t.Fatalf("%v %+v", sums(got), counts)
		}
	})
	t.Run("garbage-only", func(t *testing.T) {
		for _, port := range []uint16{2181, 2888, 3888} {
			srv := netip.AddrPortFrom(srvAddr.Addr(), port)
			cb := newCap(layers.LinkTypeEthernet, false)
			framesScript(cliAddr, srv, []frame{{ToServer, junk}, {FromServer, junk[10:]}}).write(cb)
			got, counts := run(t, cb.bytes(), Config{})
			if counts.Undecodable == 0 {
				t.Fatalf("port %d: %v", port, sums(got))
			}
			for _, m := range got {
				if m.kind != KindUndecodable && m.kind != KindNote {
					t.Fatalf("port %d: decoded garbage as %v", port, sums(got))
				}
			}
		}
	})
	t.Run("quorum-resync", func(t *testing.T) {
		li := qpBytes(wire.PacketFollowerInfo, 1<<32, jute.Append(nil, &wire.LearnerInfo{ServerID: 3, ProtocolVersion: wire.ProtocolVersion}), nil)
		ack := qpBytes(wire.PacketAck, 5, nil, nil)
		fr := []frame{{ToServer, li}, {ToServer, junk}, {ToServer, ack}, {ToServer, ack}}
		cb := newCap(layers.LinkTypeEthernet, false)
		framesScript(cliAddr, netip.AddrPortFrom(srvAddr.Addr(), 2888), fr).write(cb)
		got, counts := run(t, cb.bytes(), Config{})
		g := sums(got)
		if counts.Undecodable != 1 || g[0] != "FOLLOWERINFO" || got[1].offset != int64(len(li)) || g[len(g)-1] != "ACK" {
			t.Fatalf("%v %+v", g, counts)
		}
	})
	t.Run("snapshot-bad-signature", func(t *testing.T) {
		snap := snapStream(1, 3, 10)
		copy(snap[len(snap)-10:], "BenWasGone")
		fr := []frame{{FromServer, append(qpBytes(wire.PacketSnap, 9, nil, nil), snap...)}, {FromServer, qpBytes(wire.PacketNewLeader, 2<<32, nil, nil)}}
		cb := newCap(layers.LinkTypeEthernet, false)
		framesScript(cliAddr, netip.AddrPortFrom(srvAddr.Addr(), 2888), fr).write(cb)
		got, counts := run(t, cb.bytes(), Config{})
		g := sums(got)
		if counts.Undecodable != 1 || !slices.Equal(g[:1], []string{"SNAP"}) || got[1].kind != KindUndecodable || g[len(g)-1] != "NEWLEADER" {
			t.Fatalf("%v %+v", g, counts)
		}
	})
	t.Run("truncated-stream", func(t *testing.T) {
		a := get("/a")
		fr := []frame{connect, {ToServer, a.b[:len(a.b)-3]}}
		cb := newCap(layers.LinkTypeEthernet, false)
		framesScript(cliAddr, srvAddr, fr).write(cb)
		got, counts := run(t, cb.bytes(), Config{})
		if counts.Undecodable != 1 || got[1].offset != int64(len(connect.b)) || got[1].size != int64(len(a.b)-3) {
			t.Fatalf("%v %+v", sums(got), counts)
		}
	})
}

// TestTruncatedCapture: a capture file cut anywhere decodes what it holds
// and reports the cut record with its file offset.
func TestTruncatedCapture(t *testing.T) {
	capture, _ := clientCapture(t, layers.LinkTypeEthernet, false, false, nil)
	// Offsets of the records.
	var starts []int
	for off := 24; off < len(capture); {
		starts = append(starts, off)
		caplen := int(capture[off+8]) | int(capture[off+9])<<8 | int(capture[off+10])<<16 | int(capture[off+11])<<24
		off += 16 + caplen
	}
	for i, cut := range []int{starts[10] + 5, starts[20] + 20, starts[len(starts)-1] + 1} {
		got, _ := run(t, capture[:cut], Config{})
		last := got[0]
		for _, m := range got {
			if m.kind == KindUndecodable && m.conn == 0 {
				last = m
			}
		}
		wantOff := []int{starts[10], starts[20], starts[len(starts)-1]}[i]
		if last.kind != KindUndecodable || last.offset != int64(wantOff) {
			t.Fatalf("cut at %d: %v", cut, sums(got))
		}
	}
	stride := max(7, len(capture)/300)
	for cut := 0; cut < len(capture); cut += stride {
		if cut < 24 {
			d := New(Config{}, nil)
			if _, err := d.ReadCapture(bytes.NewReader(capture[:cut])); err == nil {
				t.Fatalf("cut %d: no error for a header-less file", cut)
			}
			continue
		}
		run(t, capture[:cut], Config{})
	}
}

// TestStatsAndFilters checks the report against the known conversation and
// each filter.
func TestStatsAndFilters(t *testing.T) {
	capture, _ := clientCapture(t, layers.LinkTypeEthernet, false, false, nil)
	qcap, _ := quorumCapture(nil, netip.MustParseAddrPort("10.0.0.1:2888"))
	st := NewStats()
	d := New(Config{}, st.Add)
	if _, err := d.ReadCapture(bytes.NewReader(capture)); err != nil {
		t.Fatal(err)
	}
	d2 := New(Config{}, st.Add)
	if _, err := d2.ReadCapture(bytes.NewReader(qcap)); err != nil {
		t.Fatal(err)
	}
	rep := st.Report(d.Counts(), nil, 5)
	byOp := map[string]OpReport{}
	for _, o := range rep.Ops {
		byOp[o.Op] = o
	}
	for _, op := range clientOps {
		if op == wire.OpGetData {
			continue
		}
		o := byOp[op.String()]
		if o.Requests != 2 || o.Replies != 2 || o.Errors != 1 || o.P50us <= 0 || o.MaxUs < o.P99us {
			t.Errorf("%s: %+v", op, o)
		}
	}
	if o := byOp["getData"]; o.Requests != 7 || o.Replies != 7 {
		t.Errorf("getData %+v", o)
	}
	if o := byOp["multi"]; o.Requests != 2 || o.Errors != 1 {
		t.Errorf("multi %+v", o)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Name != "NONODE" || rep.Errors[0].Count != int64(len(clientOps)+1) {
		t.Errorf("errors %+v", rep.Errors)
	}
	if len(rep.Sessions) != 1 || rep.Sessions[0].Session != "0x1000abc00000001" || !rep.Sessions[0].Closed || rep.Sessions[0].WatchEvents != 1 {
		t.Errorf("sessions %+v", rep.Sessions)
	}
	if len(rep.TopPaths) != 5 || rep.Unpaired != 0 || rep.Connects != 1 {
		t.Errorf("report %+v", rep)
	}
	if rep.SyncModes["SNAP"] != 1 || rep.SyncModes["DIFF"] != 1 || rep.SyncModes["TRUNC"] != 1 || len(rep.Syncs) != 3 ||
		rep.Syncs[0].Snapshot == nil || rep.Syncs[0].Learner != 2 || rep.Proposals["create"] != 1 || rep.Forwarded["create"] != 1 {
		t.Errorf("quorum %+v %+v", rep.SyncModes, rep.Syncs)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil || !strings.Contains(text.String(), "getData") {
		t.Fatalf("%v\n%s", err, text.String())
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatal(err)
	}

	// Filters.
	count := func(f Filter) int {
		n := 0
		d := New(Config{}, func(m *Message) {
			if f.Match(m) {
				n++
			}
		})
		d.ReadCapture(bytes.NewReader(capture))
		return n
	}
	if n := count(Filter{Ops: []string{"GETDATA"}}); n != 14 {
		t.Errorf("op filter: %d", n)
	}
	if n := count(Filter{PathPrefix: "/p"}); n != 11 { // 5 getData pairs + the watch event
		t.Errorf("path filter: %d", n)
	}
	if n := count(Filter{Sessions: []wire.SessionID{0x1000abc00000001}}); n != 2*len(clientOps)*2+2+6+10+1+8+2-1 {
		t.Errorf("session filter: %d", n)
	}
	if n := count(Filter{Sessions: []wire.SessionID{1}}); n != 0 {
		t.Errorf("session filter: %d", n)
	}
	lo, hi, err := ParseZxidRange("0x100000001:0x100000002")
	if err != nil {
		t.Fatal(err)
	}
	if n := count(Filter{ZxidMin: lo, ZxidMax: hi, HasZxid: true}); n != 4 { // create and delete, each with an error reply
		t.Errorf("zxid filter: %d", n)
	}
	if n := count(Filter{Channels: []Channel{ChannelQuorum}}); n != 0 {
		t.Errorf("channel filter: %d", n)
	}
}

// TestPrinterFormats checks the three output formats on every message
// kind.
func TestPrinterFormats(t *testing.T) {
	capture, _ := clientCapture(t, layers.LinkTypeEthernet, false, false, nil)
	qcap, _ := quorumCapture(nil, netip.MustParseAddrPort("10.0.0.1:2888"))
	for _, f := range []Format{FormatLine, FormatTree, FormatJSON} {
		var out bytes.Buffer
		p := NewPrinter(&out, f, f == FormatTree)
		for _, c := range [][]byte{capture, qcap} {
			d := New(Config{}, p.Message)
			if _, err := d.ReadCapture(bytes.NewReader(c)); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Flush(); err != nil {
			t.Fatal(err)
		}
		s := out.String()
		switch f {
		case FormatLine:
			for _, want := range []string{"10.0.0.9:51000 -> 10.0.0.1:2181 client create request", "client create reply",
				"err=NONODE", "latency=", "quorum PROPOSAL", "txn=multi", "snapshot", "sessionCount=3", "quorum FOLLOWERINFO", "sid=2"} {
				if !strings.Contains(s, want) {
					t.Errorf("line format lacks %q", want)
				}
			}
		case FormatTree:
			for _, want := range []string{"    request: org.apache.zookeeper.proto.CreateRequest", "        path: ",
				"            [0]: org.apache.zookeeper.data.ACL", "perms: ", "type: 1 (create)", "err: -101 (NONODE)",
				"txnHeader: org.apache.zookeeper.txn.TxnHeader", "nodeCount: 44", "signature: \"BenWasHere\""} {
				if !strings.Contains(s, want) {
					t.Errorf("tree format lacks %q", want)
				}
			}
		case FormatJSON:
			for i, line := range strings.Split(strings.TrimSpace(s), "\n") {
				var v map[string]any
				if err := json.Unmarshal([]byte(line), &v); err != nil {
					t.Fatalf("line %d: %v: %s", i, err, line)
				}
				for _, k := range []string{"n", "rel", "channel", "kind", "name", "offset", "size"} {
					if _, ok := v[k]; !ok {
						t.Fatalf("line %d lacks %q: %s", i, k, line)
					}
				}
			}
		}
	}
}

// TestFieldNamesFromSchema: the printers name every field of every record
// of the schema as the generated metadata (wire.Records) does.
func TestFieldNamesFromSchema(t *testing.T) {
	f := testutil.Filler{R: rand.New(rand.NewPCG(5, 6)), NoNulls: true}
	for _, meta := range wire.Records {
		rec := meta.New()
		f.Fill(rec)
		j := appendRecordJSON(nil, rec)
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.Token() // {
		var keys []string
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				t.Fatalf("%s: %v: %s", meta.Name, err, j)
			}
			keys = append(keys, k.(string))
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
		}
		var want []string
		for _, fm := range meta.Fields {
			want = append(want, fm.Name)
		}
		if !slices.Equal(keys, want) {
			t.Errorf("%s: JSON fields %v, schema %v", meta.Name, keys, want)
		}
		tv := treeVisitor{rec: []string{meta.Name}}
		rec.Walk(&tv)
		tree := string(tv.b)
		for _, w := range want {
			if !strings.Contains(tree, "\n"+w+": ") {
				t.Errorf("%s: tree lacks field %s:\n%s", meta.Name, w, tree)
			}
		}
	}
}

// TestNeverPanics feeds random bytes and random cuts of valid streams to
// each channel's decoder (the fuzz targets run the same code longer).
func TestNeverPanics(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	cf, _ := clientSession(r)
	qf, _ := quorumSession()
	ef, _ := electionSession(wire.ElectionProtocolV1)
	var streams [][]byte
	for _, fr := range [][]frame{cf, qf, ef} {
		var to, from []byte
		for _, x := range fr {
			if x.dir == ToServer {
				to = append(to, x.b...)
			} else {
				from = append(from, x.b...)
			}
		}
		streams = append(streams, to, from)
	}
	for i := 0; i < 3000; i++ {
		s := streams[r.IntN(len(streams))]
		b := append([]byte(nil), s...)
		for k := r.IntN(8); k > 0; k-- {
			b[r.IntN(len(b))] = byte(r.IntN(256))
		}
		if r.IntN(3) == 0 {
			b = b[r.IntN(len(b)):]
		}
		feedStreams(Channel(1+r.IntN(3)), Dir(r.IntN(2)), b, r.IntN(len(b)+1))
	}
}

// TestLostStart: the segment holding a connection's first message is
// missing from the capture (the handshake is there): the hole is a gap,
// and what follows is decoded as requests, not as a ConnectRequest.
func TestLostStart(t *testing.T) {
	fr, _ := clientSession(rand.New(rand.NewPCG(1, 2)))
	s := framesScript(cliAddr, srvAddr, fr)
	for i, g := range s.segs {
		if isData(g) && g.dir == ToServer {
			s.segs = append(s.segs[:i], s.segs[i+1:]...) // the ConnectRequest
			break
		}
	}
	cb := newCap(layers.LinkTypeEthernet, false)
	s.write(cb)
	got, counts := run(t, cb.bytes(), Config{})
	if counts.Undecodable != 0 || counts.Gaps != 1 {
		t.Fatalf("%+v\n%v", counts, sums(got))
	}
	// The ConnectResponse acknowledges the lost bytes, so the next request
	// is taken at once after the gap and everything is paired as usual.
	_, want := clientSession(rand.New(rand.NewPCG(1, 2)))
	want = append([]string{"connect-reply connect", "NOTE @0+49: <nil>gap: 49 bytes missing from the capture"}, want[2:]...)
	requireSums(t, got, want)
}

// TestLostSegment: a segment lost in the middle of each direction; the
// other side's ACK shows the bytes are gone, so the decoder reports the
// gap, resynchronises, and pairs everything else.
func TestLostSegment(t *testing.T) {
	fr, want := clientSession(rand.New(rand.NewPCG(1, 2)))
	s := framesScript(cliAddr, srvAddr, fr)
	drop := map[Dir]int{ToServer: 20, FromServer: 30}
	var kept []seg
	var lost []int
	seen := map[Dir]int{}
	for i, g := range s.segs {
		if isData(g) {
			seen[g.dir]++
			if seen[g.dir] == drop[g.dir] {
				lost = append(lost, i)
				continue
			}
		}
		kept = append(kept, g)
	}
	s.segs = kept
	cb := newCap(layers.LinkTypeEthernet, false)
	s.write(cb)
	got, counts := run(t, cb.bytes(), Config{})
	if counts.Undecodable != 0 || counts.Gaps != 2 || counts.Resyncs != 2 {
		t.Fatalf("%+v\n%v", counts, sums(got))
	}
	paired := 0
	for _, m := range got {
		if m.paired {
			paired++
		}
	}
	// Two messages are lost; their partners are unpaired (the request's
	// reply) or have no reply (the reply's request).
	wantPaired := 0
	for _, w := range want {
		if strings.HasSuffix(w, "paired") || strings.Contains(w, "paired ") {
			wantPaired++
		}
	}
	if paired != wantPaired-2 || len(got) != len(want)-2+2 { // two messages lost, two gap notes
		t.Fatalf("paired %d of %d, %d messages\n%v", paired, wantPaired, len(got), sums(got))
	}
}

// TestQuorumAuthAndFourLetterMask: the quorum SASL preamble
// (QuorumAuthPackets both ways) and stmk's trailing mask.
func TestQuorumAuthAndFourLetterMask(t *testing.T) {
	auth := func(status int32) []byte {
		return jute.Append(nil, &wire.QuorumAuthPacket{Magic: wire.QuorumAuthMagic, Status: status, Token: []byte("tok")})
	}
	li := qpBytes(wire.PacketFollowerInfo, 1<<32, jute.Append(nil, &wire.LearnerInfo{ServerID: 4, ProtocolVersion: wire.ProtocolVersion}), nil)
	fr := []frame{{ToServer, auth(0)}, {FromServer, auth(1)}, {ToServer, li}, {FromServer, qpBytes(wire.PacketLeaderInfo, 2<<32, wire.EpochData(wire.ProtocolVersion), nil)}}
	cb := newCap(layers.LinkTypeEthernet, false)
	framesScript(netip.MustParseAddrPort("10.0.0.4:1234"), netip.MustParseAddrPort("10.0.0.1:45000"), fr).write(cb)
	stmk := append([]byte("stmk"), 0, 0, 0, 0, 0, 0, 0x01, 0x42)
	framesScript(cliAddr, netip.MustParseAddrPort("10.0.0.1:45001"), []frame{{ToServer, stmk}, {FromServer, []byte("322\n")}}).write(cb)
	got, counts := run(t, cb.bytes(), Config{NoWellKnownPorts: true})
	want := []string{"QuorumAuthPacket", "QuorumAuthPacket", "FOLLOWERINFO", "LEADERINFO", "4lw stmk", "4lw-reply stmk paired"}
	requireSums(t, got, want)
	if counts.Undecodable != 0 || got[4].size != 12 || got[5].text != "322\n" {
		t.Fatalf("%+v %+v", counts, got[4:])
	}
}

// TestMidStreamLostSegment: the capture starts mid-stream and a segment of
// one direction is then lost; the first packet seen of the other
// direction already acknowledges the lost bytes.
func TestMidStreamLostSegment(t *testing.T) {
	fr, _ := clientSession(rand.New(rand.NewPCG(1, 2)))
	s := framesScript(cliAddr, srvAddr, fr).dropStart([2]int{0, 0})
	// Keep the first request, lose the second, and start the server's
	// direction only after it.
	var out []seg
	n := 0
	for _, g := range s.segs {
		if isData(g) && g.dir == ToServer {
			n++
			if n == 2 {
				continue
			}
		}
		if g.dir == FromServer && n < 2 {
			continue
		}
		out = append(out, g)
	}
	s.segs = out
	cb := newCap(layers.LinkTypeEthernet, false)
	s.write(cb)
	got, counts := run(t, cb.bytes(), Config{})
	if counts.Undecodable != 0 || counts.Gaps != 1 {
		t.Fatalf("%+v\n%v", counts, sums(got))
	}
	g := sums(got)
	if g[len(g)-1] != "reply closeSession paired" || !slices.Contains(g, "reply create paired NONODE") {
		t.Fatalf("%v", g)
	}
	// Replies come as they were captured, not all at the end.
	if i := slices.Index(g, "request closeSession"); i != len(g)-2 {
		t.Fatalf("closeSession at %d of %d: %v", i, len(g), g)
	}
}

// TestFastKeyFields: the one-line form's shortcut for common records
// prints what walking them prints.
func TestFastKeyFields(t *testing.T) {
	f := testutil.Filler{R: rand.New(rand.NewPCG(11, 12))}
	m := &Message{Kind: KindRequest}
	for i := 0; i < 200; i++ {
		for _, rec := range []jute.Record{&wire.GetDataRequest{}, &wire.ExistsRequest{}, &wire.GetChildren2Request{},
			&wire.GetDataResponse{}, &wire.ExistsResponse{}, &wire.SetDataResponse{}, &wire.CreateResponse{},
			&wire.SetDataRequest{}, &wire.GetChildren2Response{}, &wire.CreateRequest{}} {
			f.Fill(rec)
			fast, ok := fastKeyFields(nil, rec)
			if !ok {
				t.Fatalf("%T: no shortcut", rec)
			}
			kv := keyVisitor{rec: rec.JuteName(), m: m}
			rec.Walk(&kv)
			if string(fast) != string(kv.b) {
				t.Fatalf("%T: shortcut %q, walk %q", rec, fast, kv.b)
			}
		}
	}
}

// TestReusedFourTuple: a client connects again from the same port while
// the side that closed first is in TIME_WAIT. Linux takes the new SYN and
// starts the new connection 65535+2 past the old one's sequence numbers
// (the final ACK of the old connection, a stray packet after both FINs, is
// in the capture in between). The second connection is a new stream from
// its SYN: no gap, no mid-stream start.
func TestReusedFourTuple(t *testing.T) {
	for _, tc := range []struct {
		name       string
		serverLast bool // the server closed first: its final ACK follows the client's FIN
		straySeg   bool // the stray ACK is in the capture
	}{
		{"server-closed-first", true, true},
		{"client-closed-first", false, true},
		{"no-stray-ack", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fr, want := clientSession(rand.New(rand.NewPCG(1, 2)))
			cb := newCap(layers.LinkTypeEthernet, false)
			s1 := framesScript(cliAddr, srvAddr, fr)
			s1.write(cb)
			// The last FIN was the client's (fin() closes ToServer first):
			// whoever closed first acknowledges the other's FIN.
			first := ToServer
			if tc.serverLast {
				// Reorder: server FIN, then client FIN.
				n := len(s1.segs)
				s1.segs[n-2], s1.segs[n-1] = s1.segs[n-1], s1.segs[n-2]
				s1.segs[n-2].ack, s1.segs[n-1].ack = s1.next[ToServer]-1, s1.next[FromServer]
				first = FromServer
				cb = newCap(layers.LinkTypeEthernet, false)
				s1.write(cb)
			}
			if tc.straySeg {
				src, dst := cliAddr, srvAddr
				if first == FromServer {
					src, dst = dst, src
				}
				cb.packet(src, dst, s1.next[first], s1.next[first^1], tcpACK, nil)
			}
			cb.t = cb.t.Add(4 * time.Millisecond)
			s2 := newScript(cliAddr, srvAddr, 0)
			s2.next = [2]uint32{s1.next[ToServer] + 65537, s1.next[FromServer] + 65537}
			s2.syn()
			for _, x := range fr {
				s2.send(x.dir, x.b)
			}
			s2.fin().write(cb)
			got, counts := run(t, cb.bytes(), Config{ClientPorts: []uint16{2181}})
			if counts.Undecodable != 0 || counts.Notes != 0 || counts.Gaps != 0 || counts.Conns[ChannelClient] != 2 {
				t.Fatalf("counts %+v\n%s", counts, strings.Join(sums(got), "\n"))
			}
			requireSums(t, got, append(slices.Clone(want), want...))
			if got[0].conn == got[len(got)-1].conn {
				t.Fatal("one connection")
			}
		})
	}
}

// TestResetInsideMessage: a reply is cut after its length because the
// peer reset the connection (Java's election SendWorker writes a frame's
// length and body separately, and the second write fails on a connection
// its peer has just dropped). The cut is reported as caused by the reset;
// without an RST it is a stream that ends inside a message.
func TestResetInsideMessage(t *testing.T) {
	for _, reset := range []bool{true, false} {
		fr, want := clientSession(rand.New(rand.NewPCG(1, 2)))
		s := newScript(cliAddr, srvAddr, 1000).syn()
		for _, x := range fr[:3] {
			s.send(x.dir, x.b)
		}
		if fr[3].dir != FromServer {
			t.Fatal("frame 3 is not a reply")
		}
		s.send(FromServer, fr[3].b[:4])
		if reset {
			s.segs = append(s.segs, seg{dir: ToServer, seq: s.next[ToServer], flags: tcpRST})
		} else {
			s.segs = append(s.segs, seg{dir: ToServer, seq: s.next[ToServer], ack: s.next[FromServer], flags: tcpFIN | tcpACK})
		}
		cb := newCap(layers.LinkTypeEthernet, false)
		s.write(cb)
		got, counts := run(t, cb.bytes(), Config{ClientPorts: []uint16{2181}})
		if counts.Undecodable != 1 || counts.Notes != 0 || len(got) != 4 {
			t.Fatalf("reset %v: %+v\n%s", reset, counts, strings.Join(sums(got), "\n"))
		}
		requireSums(t, got[:3], want[:3])
		last := got[3]
		wantErr := ErrTruncated
		if reset {
			wantErr = ErrReset
		}
		if last.kind != KindUndecodable || !errors.Is(last.err, wantErr) || last.dir != FromServer || last.size != 4 {
			t.Fatalf("reset %v: %+v", reset, last)
		}
	}
}

// TestWiresharkLua: the generated dissector has a table entry for every
// record of the schema and every opcode, and no template marker left.
func TestWiresharkLua(t *testing.T) {
	lua := string(WiresharkLua())
	if strings.Contains(lua, generatedMarker) {
		t.Fatal("template marker left in the output")
	}
	for _, r := range wire.Records {
		if !strings.Contains(lua, "\t["+strconv.Quote(r.Name)+"] = {\n") {
			t.Errorf("no RECORDS entry for %s", r.Name)
		}
		for _, f := range r.Fields {
			if !strings.Contains(lua, "{ "+strconv.Quote(f.Name)+", "+strconv.Quote(f.Type)+", ") {
				t.Errorf("no field %s %s of %s", f.Type, f.Name, r.Name)
			}
		}
	}
	for _, op := range wire.AllOpCodes {
		if !strings.Contains(lua, fmt.Sprintf("\t[%d] = %q,\n", op, op.String())) {
			t.Errorf("no OP_NAMES entry for %v", op)
		}
	}
}

// TestElectionQuorumAuth: on the election port the quorum SASL exchange
// follows the initial message (QuorumCnxManager.startConnection and
// handleConnection); its QuorumAuthPackets are shown, and the
// notifications after them decode.
func TestElectionQuorumAuth(t *testing.T) {
	auth := func(status int32, tok string) []byte {
		return jute.Append(nil, &wire.QuorumAuthPacket{Magic: wire.QuorumAuthMagic, Status: status, Token: []byte(tok)})
	}
	cfg := []byte("server.1=10.0.0.1:2888:3888:participant\nserver.2=10.0.0.2:2888:3888:participant\nversion=0")
	n := &wire.Notification{State: wire.ServerLooking, Leader: 2, Zxid: 0x100000003, ElectionEpoch: 1, PeerEpoch: 1,
		Version: 2, Config: cfg}
	fr := []frame{
		{ToServer, wire.AppendInitialMessage(nil, 2, "10.0.0.2:3888")},
		{ToServer, auth(0, "")},
		{FromServer, auth(0, `realm="zk-quorum-sasl-md5",nonce="x",qop="auth",charset=utf-8,algorithm=md5-sess`)},
		{ToServer, auth(0, `username="test"`)},
		{FromServer, auth(1, "rspauth=00")},
		{ToServer, wire.AppendNotificationFrame(nil, n)},
		{FromServer, wire.AppendNotificationFrame(nil, n)},
	}
	cb := newCap(layers.LinkTypeEthernet, false)
	framesScript(netip.MustParseAddrPort("10.0.0.2:40000"), netip.MustParseAddrPort("10.0.0.1:3888"), fr).write(cb)
	got, counts := run(t, cb.bytes(), Config{})
	if counts.Undecodable != 0 {
		t.Fatalf("%+v\n%v", counts, sums(got))
	}
	requireSums(t, got, []string{"initial", "QuorumAuthPacket", "QuorumAuthPacket", "QuorumAuthPacket", "QuorumAuthPacket",
		"notification", "notification"})
}

// TestElectionInstanceStaleFollowingReply: a member that was following
// answers a LOOKING peer with its current vote (FOLLOWING, the old round)
// from its receiver thread while its election already sent the new round
// on the same link; Java can put that answer on the wire after the new
// round's vote (seen in a capture of TestCompat_DecodeEnsemble after the
// leader was killed). A lower round in a vote that is not LOOKING is that
// answer, not a restarted process: a new process's first votes are LOOKING.
func TestElectionInstanceStaleFollowingReply(t *testing.T) {
	cfg := []byte("server.1=10.0.0.1:2888:3888:participant\nserver.2=10.0.0.2:2888:3888:participant\n" +
		"server.3=10.0.0.3:2888:3888:participant\nversion=100000000")
	acceptor := netip.MustParseAddrPort("10.0.0.1:3888")
	vote := func(state wire.ServerState, leader, epoch int64, zxid wire.Zxid) []byte {
		return wire.AppendNotificationFrame(nil, &wire.Notification{State: state, Leader: leader, Zxid: zxid,
			ElectionEpoch: epoch, PeerEpoch: 1, Version: 2, Config: cfg})
	}
	cb := newCap(layers.LinkTypeEthernet, false)
	// Member 2 (initiator) and member 1 elect 3 in round 1; 3 dies; 1 goes
	// LOOKING in round 2, 2 too, and 2's receiver then answers 1's first
	// vote with the FOLLOWING vote it held when that vote arrived.
	newScript(netip.MustParseAddrPort("10.0.0.2:40000"), acceptor, 7).syn().
		send(ToServer, wire.AppendInitialMessage(nil, 2, "10.0.0.2:3888")).
		send(FromServer, vote(wire.ServerLooking, 3, 1, 0)).
		send(ToServer, vote(wire.ServerLooking, 3, 1, 0)).
		send(FromServer, vote(wire.ServerFollowing, 3, 1, 0)).
		send(FromServer, vote(wire.ServerLooking, 1, 2, 0x100000031)).
		send(ToServer, vote(wire.ServerLooking, 2, 2, 0x100000031)).
		send(FromServer, vote(wire.ServerLooking, 2, 2, 0x100000031)).
		send(ToServer, vote(wire.ServerFollowing, 3, 1, 0)).
		send(ToServer, vote(wire.ServerLeading, 2, 2, 0x100000031)).
		fin().write(cb)
	got, counts := run(t, cb.bytes(), Config{})
	if counts.Undecodable != 0 {
		t.Fatalf("counts %+v", counts)
	}
	var inst []int
	for _, m := range got {
		if m.kind == KindNotification && m.sid == 2 {
			inst = append(inst, m.inst)
		}
	}
	if want := []int{1, 1, 1, 1}; !slices.Equal(inst, want) {
		t.Errorf("member 2's instances %v, want %v", inst, want)
	}
}
