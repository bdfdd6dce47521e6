package wire

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/internal/testutil"
	"github.com/zkgo/zkgo/jute"
)

func TestEveryRecordRoundTrips(t *testing.T) {
	f := &testutil.Filler{R: rand.New(rand.NewPCG(1, 2)), Big: 3000}
	for _, meta := range Records {
		t.Run(meta.GoName, func(t *testing.T) {
			for i := 0; i < 200; i++ {
				rec := meta.New()
				f.Fill(rec)
				b := jute.Marshal(rec)
				if len(b) != rec.Size() {
					t.Fatalf("Size() = %d, encoded %d bytes", rec.Size(), len(b))
				}
				got := meta.New()
				if err := jute.UnmarshalMax(b, got, 1<<20); err != nil {
					t.Fatalf("decode: %v\n%x", err, b)
				}
				if !reflect.DeepEqual(rec, got) {
					t.Fatalf("round trip differs\n in: %+v\nout: %+v", rec, got)
				}
				if b2 := jute.Marshal(got); !bytes.Equal(b, b2) {
					t.Fatalf("re-encoding differs")
				}
				if got.JuteName() != meta.Name {
					t.Fatalf("JuteName %q, meta %q", got.JuteName(), meta.Name)
				}
			}
		})
	}
}

func TestRecordsMetadata(t *testing.T) {
	if len(Records) != 72 {
		t.Fatalf("schema has %d records; ZooKeeper 3.8's jute jar has 72", len(Records))
	}
	seen := map[string]bool{}
	for _, m := range Records {
		if seen[m.Name] {
			t.Fatalf("duplicate %s", m.Name)
		}
		seen[m.Name] = true
		v := reflect.TypeOf(m.New()).Elem()
		n := v.NumField()
		if _, ok := v.FieldByName("Nulls"); ok {
			n--
		}
		if n != len(m.Fields) {
			t.Fatalf("%s: %d Go fields, %d schema fields", m.Name, n, len(m.Fields))
		}
	}
}

// walkRecorder collects the top-level fields reported by Walk as
// "name:type" entries.
type walkRecorder struct {
	out   []string
	depth int
}

func (w *walkRecorder) add(s string) {
	if w.depth == 0 {
		w.out = append(w.out, s)
	}
}
func (w *walkRecorder) Byte(n string, _ int8)             { w.add(n + ":byte") }
func (w *walkRecorder) Bool(n string, _ bool)             { w.add(n + ":boolean") }
func (w *walkRecorder) Int(n string, _ int32)             { w.add(n + ":int") }
func (w *walkRecorder) Long(n string, _ int64)            { w.add(n + ":long") }
func (w *walkRecorder) Float(n string, _ float32)         { w.add(n + ":float") }
func (w *walkRecorder) Double(n string, _ float64)        { w.add(n + ":double") }
func (w *walkRecorder) Buffer(n string, _ []byte)         { w.add(n + ":buffer") }
func (w *walkRecorder) String(n string, _ string, _ bool) { w.add(n + ":ustring") }
func (w *walkRecorder) StartRecord(n, typ string)         { w.add(n + ":" + typ); w.depth++ }
func (w *walkRecorder) EndRecord()                        { w.depth-- }
func (w *walkRecorder) StartVector(n string, _ int)       { w.add(n + ":vector"); w.depth++ }
func (w *walkRecorder) EndVector()                        { w.depth-- }
func (w *walkRecorder) StartMap(n string, _ int)          { w.add(n + ":map"); w.depth++ }
func (w *walkRecorder) EndMap()                           { w.depth-- }

func TestWalkFollowsSchema(t *testing.T) {
	for _, m := range Records {
		var w walkRecorder
		rec := m.New()
		rec.Walk(&w)
		// With all vectors nil, Walk reports exactly the top-level fields.
		if len(w.out) != len(m.Fields) {
			t.Fatalf("%s: walk %v, fields %v", m.Name, w.out, m.Fields)
		}
		for i, f := range m.Fields {
			typ := f.Type
			if len(typ) > 7 && typ[:7] == "vector<" {
				typ = "vector"
			}
			if w.out[i] != f.Name+":"+typ {
				t.Fatalf("%s field %d: walk %q, schema %s:%s", m.Name, i, w.out[i], f.Name, f.Type)
			}
		}
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Byte layouts from ../shared/spec/zookeeper-protocols.md §3.1 and §4.4.
func TestQuorumPacketGolden(t *testing.T) {
	commit := QuorumPacket{Type: PacketCommit, Zxid: 0x100000005}
	if got := hex.EncodeToString(jute.Marshal(&commit)); got != "00000004"+"0000000100000005"+"ffffffff"+"ffffffff" {
		t.Fatalf("COMMIT %s", got)
	}
	li := LearnerInfo{ServerID: 2, ProtocolVersion: ProtocolVersion, ConfigVersion: 0}
	fi := QuorumPacket{Type: PacketFollowerInfo, Zxid: MakeZxid(1, 0), Data: jute.Marshal(&li)}
	want := "0000000b" + "0000000100000000" + "00000014" + "0000000000000002" + "00010000" + "0000000000000000" + "ffffffff"
	if got := hex.EncodeToString(jute.Marshal(&fi)); got != want {
		t.Fatalf("FOLLOWERINFO\n got %s\nwant %s", got, want)
	}
	linfo := QuorumPacket{Type: PacketLeaderInfo, Zxid: MakeZxid(7, 0), Data: EpochData(ProtocolVersion)}
	if got := hex.EncodeToString(jute.Marshal(&linfo)); got != "00000011"+"0000000700000000"+"00000004"+"00010000"+"ffffffff" {
		t.Fatalf("LEADERINFO %s", got)
	}
	size, ok, err := PeekQuorumPacket(jute.Marshal(&fi), jute.QuorumMaxBuffer)
	if err != nil || !ok || size != len(want)/2 {
		t.Fatalf("PeekQuorumPacket = %d %v %v", size, ok, err)
	}
	if _, ok, err := PeekQuorumPacket(jute.Marshal(&fi)[:20], jute.QuorumMaxBuffer); ok || err != nil {
		t.Fatal("partial packet must ask for more bytes")
	}
	got, err := ParseLearnerInfo(fi.Data)
	if err != nil || got != li {
		t.Fatalf("ParseLearnerInfo = %+v %v", got, err)
	}
	old, err := ParseLearnerInfo(fi.Data[:8])
	if err != nil || old.ServerID != 2 || old.ProtocolVersion != 1 {
		t.Fatalf("8-byte LearnerInfo = %+v %v", old, err)
	}
}

func TestInitialMessageGolden(t *testing.T) {
	b := AppendInitialMessage(nil, 2, "10.0.0.2:3888")
	want := "ffffffffffff0000" + "0000000000000002" + "0000000d" + hex.EncodeToString([]byte("10.0.0.2:3888"))
	if hex.EncodeToString(b) != want {
		t.Fatalf("initial message %x", b)
	}
	m, n, ok, err := DecodeInitialMessage(b)
	if err != nil || !ok || n != len(b) || m.Sid != 2 || m.Addr != "10.0.0.2:3888" || m.Protocol != ElectionProtocolV1 {
		t.Fatalf("decode = %+v %d %v %v", m, n, ok, err)
	}
	for i := 0; i < len(b); i++ {
		if _, _, ok, err := DecodeInitialMessage(b[:i]); ok || err != nil {
			t.Fatalf("prefix %d: ok=%v err=%v", i, ok, err)
		}
	}
	old, n, ok, err := DecodeInitialMessage(mustHex(t, "0000000000000003"))
	if err != nil || !ok || n != 8 || old.Sid != 3 {
		t.Fatalf("3.4 sid-only message: %+v %v", old, err)
	}
	if _, _, _, err := DecodeInitialMessage(mustHex(t, "fffffffffffffff0")); err == nil {
		t.Fatal("unknown protocol accepted")
	}
	if _, _, _, err := DecodeInitialMessage(mustHex(t, "ffffffffffff0000"+"0000000000000002"+"00000801")); err == nil {
		t.Fatal("2049-byte address accepted")
	}
	v2 := InitialMessage{Addr: "a:1|b:2"}
	if a := v2.Addrs(); len(a) != 2 || a[1] != "b:2" {
		t.Fatal(a)
	}
}

func TestNotificationLayouts(t *testing.T) {
	n := Notification{State: ServerLooking, Leader: 3, Zxid: 0x200000007, ElectionEpoch: 5, PeerEpoch: 2,
		Version: NotificationVersion, Config: []byte("server.1=a:1:2:participant\nversion=0")}
	b := AppendNotification(nil, &n)
	if len(b) != 44+len(n.Config) {
		t.Fatalf("len %d", len(b))
	}
	got, err := DecodeNotification(b)
	n.Layout = 44
	if err != nil || !reflect.DeepEqual(got, n) {
		t.Fatalf("decode %+v %v", got, err)
	}
	// 28-byte form: peerEpoch comes from the zxid.
	got, err = DecodeNotification(b[:28])
	if err != nil || got.PeerEpoch != 2 || got.Layout != 28 {
		t.Fatalf("28-byte: %+v %v", got, err)
	}
	// 40-byte form.
	got, err = DecodeNotification(b[:40])
	if err != nil || got.PeerEpoch != 2 || got.Layout != 40 || got.Config != nil {
		t.Fatalf("40-byte: %+v %v", got, err)
	}
	if _, err := DecodeNotification(b[:27]); err == nil {
		t.Fatal("27 bytes accepted")
	}
	bad := append([]byte(nil), b...)
	bad[43] = 0xff // config length past the end
	if _, err := DecodeNotification(bad); err == nil {
		t.Fatal("bad config length accepted")
	}
	fr := AppendNotificationFrame(nil, &n)
	if l, ok, err := PeekElectionFrame(fr); !ok || err != nil || l != len(b) {
		t.Fatalf("frame %d %v %v", l, ok, err)
	}
	if _, _, err := PeekElectionFrame(mustHex(t, "00000000")); err == nil {
		t.Fatal("zero-length election frame accepted")
	}
	if _, _, err := PeekElectionFrame(mustHex(t, "00080001")); err == nil {
		t.Fatal("oversized election frame accepted")
	}
}

func TestFraming(t *testing.T) {
	b := AppendRequest(nil, RequestHeader{Xid: 1, Type: OpGetData}, &GetDataRequest{Path: "/a", Watch: true})
	want := "0000000f" + "00000001" + "00000004" + "00000002" + "2f61" + "01"
	if hex.EncodeToString(b) != want {
		t.Fatalf("%x", b)
	}
	if n, ok, err := PeekFrame(b, jute.DefaultMaxBuffer); !ok || err != nil || n != 15 {
		t.Fatalf("PeekFrame %d %v %v", n, ok, err)
	}
	if _, ok, _ := PeekFrame(b[:3], jute.DefaultMaxBuffer); ok {
		t.Fatal("3 bytes is not a frame header")
	}
	if _, _, err := PeekFrame(mustHex(t, "ffffffff"), jute.DefaultMaxBuffer); err == nil {
		t.Fatal("negative length accepted")
	}
	if _, _, err := PeekFrame(mustHex(t, "00100000"), jute.DefaultMaxBuffer); err == nil {
		t.Fatal("length > jute.maxbuffer accepted")
	}
	ping := AppendRequest(nil, RequestHeader{Xid: XidPing, Type: OpPing}, nil)
	if hex.EncodeToString(ping) != "00000008fffffffe0000000b" {
		t.Fatalf("ping %x", ping)
	}
	ev := AppendWatchEvent(nil, WatcherEvent{Type: EventNodeDataChanged, State: StateSyncConnected, Path: "/x"})
	if hex.EncodeToString(ev) != "0000001e"+"ffffffff"+"ffffffffffffffff"+"00000000"+"00000003"+"00000003"+"00000002"+"2f78" {
		t.Fatalf("event %x", ev)
	}
	if w, ok := IsFourLetterWord([]byte("ruok")); !ok || w != "ruok" {
		t.Fatal("ruok")
	}
	if _, ok := IsFourLetterWord([]byte{0, 0, 0, 44}); ok {
		t.Fatal("a length prefix is not a four-letter word")
	}
}

func TestConnectReadOnlyOptional(t *testing.T) {
	req := ConnectRequest{LastZxidSeen: 5, TimeOut: 30000, Passwd: make([]byte, 16)}
	with := AppendConnect(nil, req, true, true)
	without := AppendConnect(nil, req, false, false)
	if len(with) != len(without)+1 {
		t.Fatal("readOnly byte")
	}
	c, err := DecodeConnect(with[4:])
	if err != nil || !c.HasReadOnly || !c.ReadOnly || c.TimeOut != 30000 {
		t.Fatalf("%+v %v", c, err)
	}
	c, err = DecodeConnect(without[4:])
	if err != nil || c.HasReadOnly || c.ReadOnly {
		t.Fatalf("%+v %v", c, err)
	}
	resp := AppendConnectResponse(nil, ConnectResponse{TimeOut: 4000, SessionID: 7, Passwd: make([]byte, 16)}, false)
	cr, err := DecodeConnectReply(resp[4:])
	if err != nil || !cr.HasReadOnly || cr.SessionID != 7 {
		t.Fatalf("%+v %v", cr, err)
	}
}

func TestMultiRoundTrip(t *testing.T) {
	req := MultiRequest{Ops: []MultiOp{
		{Type: OpCreate, Op: &CreateRequest{Path: "/a", Data: []byte("x"), ACL: []ACL{{Perms: 31, ID: ID{Scheme: "world", ID: "anyone"}}}}},
		{Type: OpCheck, Op: &CheckVersionRequest{Path: "/a", Version: 3}},
		{Type: OpSetData, Op: &SetDataRequest{Path: "/a", Data: []byte{}, Version: -1}},
		{Type: OpDelete, Op: &DeleteRequest{Path: "/a", Version: -1}},
		{Type: OpCreateTTL, Op: &CreateTTLRequest{Path: "/t", TTL: 100}},
		{Type: OpGetData, Op: &GetDataRequest{Path: "/g"}},
	}}
	b := jute.Marshal(&req)
	if len(b) != req.Size() {
		t.Fatal("size")
	}
	var got MultiRequest
	if err := jute.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(req, got) {
		t.Fatalf("%+v", got)
	}
	// The terminator: MultiHeader{-1, true, -1}.
	if hex.EncodeToString(b[len(b)-9:]) != "ffffffff01ffffffff" {
		t.Fatalf("end %x", b[len(b)-9:])
	}
	resp := MultiResponse{Results: []MultiResult{
		{Type: OpCreate, Result: &CreateResponse{Path: "/a"}},
		{Type: OpCreate2, Result: &Create2Response{Path: "/b", Stat: Stat{Version: 1}}},
		{Type: OpDelete},
		{Type: OpCheck},
		{Type: OpSetData, Result: &SetDataResponse{Stat: Stat{Version: 2}}},
		{Type: OpError, Err: ErrNoNode, Result: &ErrorResponse{Err: ErrNoNode}},
		{Type: OpGetChildren, Result: &GetChildrenResponse{Children: []string{"x"}}},
	}}
	b = jute.Marshal(&resp)
	var gotResp MultiResponse
	if err := jute.Unmarshal(b, &gotResp); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(resp, gotResp) {
		t.Fatalf("%+v", gotResp)
	}
	bad := jute.Marshal(&MultiHeader{Type: OpExists, Done: false, Err: -1})
	var m MultiRequest
	if err := jute.Unmarshal(bad, &m); err == nil {
		t.Fatal("exists inside multi must be rejected as Java does")
	}
}

func TestTxnEntry(t *testing.T) {
	e := TxnEntry{
		Hdr:    TxnHeader{ClientID: 1, Cxid: 2, Zxid: 3, Time: 4, Type: OpCreate},
		Body:   &CreateTxn{Path: "/a", Data: []byte("d"), ACL: []ACL{}, ParentCVersion: 1},
		Digest: &TxnDigest{Version: TxnDigestVersion, TreeDigest: 99},
	}
	b := AppendTxnEntry(nil, &e)
	got, err := DecodeTxnEntry(b, jute.QuorumMaxBuffer)
	if err != nil || !reflect.DeepEqual(got, e) {
		t.Fatalf("%+v %v", got, err)
	}
	// Without digest.
	e.Digest = nil
	got, err = DecodeTxnEntry(AppendTxnEntry(nil, &e), jute.QuorumMaxBuffer)
	if err != nil || got.Digest != nil {
		t.Fatalf("%+v %v", got, err)
	}
	// CreateTxnV0 (no parentCVersion) falls back with parentCVersion -1.
	v0 := CreateTxnV0{Path: "/old", Data: []byte{}, ACL: []ACL{}, Ephemeral: true}
	b = jute.Append(jute.Marshal(&e.Hdr), &v0)
	got, err = DecodeTxnEntry(b, jute.QuorumMaxBuffer)
	if err != nil {
		t.Fatal(err)
	}
	if c := got.Body.(*CreateTxn); c.ParentCVersion != -1 || !c.Ephemeral || c.Path != "/old" {
		t.Fatalf("%+v", c)
	}
	// closeSession with no body.
	h := TxnHeader{Type: OpCloseSession}
	got, err = DecodeTxnEntry(jute.Marshal(&h), jute.QuorumMaxBuffer)
	if err != nil || got.Body != nil {
		t.Fatalf("%+v %v", got, err)
	}
	// check is not a top-level txn type in Java.
	h.Type = OpCheck
	if _, err := DecodeTxnEntry(jute.Marshal(&h), jute.QuorumMaxBuffer); err == nil {
		t.Fatal("top-level check txn accepted")
	}
	// Multi sub-txns.
	sub := jute.Marshal(&SetDataTxn{Path: "/x", Data: []byte("1"), Version: 1})
	mt := MultiTxn{Txns: []Txn{{Type: OpSetData, Data: sub}, {Type: OpError, Data: jute.Marshal(&ErrorTxn{Err: ErrNoNode})}}}
	recs, err := DecodeSubTxns(&mt, jute.QuorumMaxBuffer)
	if err != nil || len(recs) != 2 || recs[1].(*ErrorTxn).Err != ErrNoNode {
		t.Fatalf("%v %v", recs, err)
	}
}

func TestTouchTableAndRequestPacket(t *testing.T) {
	entries := []SessionTouch{{SessionID: 0x100000001, TimeoutMs: 30000}, {SessionID: -5, TimeoutMs: 4000}}
	b := AppendTouchTable(nil, entries)
	got, err := ParseTouchTable(b)
	if err != nil || !reflect.DeepEqual(got, entries) {
		t.Fatal(got, err)
	}
	if empty := AppendTouchTable(nil, nil); empty == nil || len(empty) != 0 {
		t.Fatal("an empty touch table must be a non-nil empty buffer (Java dereferences it)")
	}
	if _, err := ParseTouchTable(b[:13]); err == nil {
		t.Fatal("partial entry accepted")
	}
	body := jute.Marshal(&SyncRequest{Path: "/"})
	rp := AppendRequestPacket(nil, RequestPacketHeader{SessionID: 9, Cxid: 3, Type: OpSync}, body)
	h, rest, err := ParseRequestPacket(rp)
	if err != nil || h.SessionID != 9 || h.Cxid != 3 || h.Type != OpSync || !bytes.Equal(rest, body) {
		t.Fatal(h, err)
	}
	rv := AppendRevalidateReply(nil, 7, true)
	if id, ok, err := ParseRevalidateReply(rv); err != nil || id != 7 || !ok {
		t.Fatal("revalidate")
	}
}

func TestEnumsHaveNames(t *testing.T) {
	for _, op := range AllOpCodes {
		if s := op.String(); strings.HasPrefix(s, "unknown") {
			t.Errorf("opcode %d has no name", op)
		}
		if !op.Known() {
			t.Errorf("opcode %v not Known", op)
		}
		if p, ok := ParseOpCode(op.String()); !ok || p != op {
			t.Errorf("ParseOpCode(%q)", op)
		}
	}
	for _, e := range AllErrCodes {
		if strings.HasPrefix(e.Name(), "UNKNOWN(") {
			t.Errorf("err %d has no name", e)
		}
	}
	for p := PacketType(1); p <= 19; p++ {
		if strings.HasPrefix(p.String(), "UNKNOWN") {
			t.Errorf("packet %d has no name", p)
		}
	}
	var err error = ErrNoNode
	if err.Error() != "zk: no node" {
		t.Fatal(err)
	}
	if MakeZxid(1, 5).String() != "0x100000005" {
		t.Fatal(MakeZxid(1, 5))
	}
}
