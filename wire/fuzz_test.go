package wire

import (
	"reflect"
	"runtime"
	"testing"

	"github.com/zkgo/zkgo/jute"
)

// allocBound is the most a decoder may allocate for n input bytes: a small
// constant plus a fixed multiple of the input (slices of Go structs are
// larger than their wire form, never unboundedly so).
func allocBound(n int) uint64 { return 64*uint64(n) + 8192 }

// checkAlloc runs fn and fails if it allocated more than allocBound(n).
func checkAlloc(t *testing.T, n int, fn func()) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > allocBound(n) {
		t.Fatalf("decoding %d bytes allocated %d bytes (bound %d)", n, got, allocBound(n))
	}
}

func seedRecords(f *testing.F) {
	for i, m := range Records {
		f.Add(append([]byte{byte(i)}, jute.Marshal(m.New())...))
	}
	f.Add([]byte{byte(len(Records) - 1), 0, 0, 0, 2, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0x7f, 0xff, 0xff, 0xff})
}

// FuzzRecord decodes fuzz input as any record of the schema.
func FuzzRecord(f *testing.F) {
	seedRecords(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		meta := Records[int(data[0])%len(Records)]
		in := data[1:]
		rec := meta.New()
		var err error
		checkAlloc(t, len(in), func() {
			r := jute.NewReaderMax(in, 1<<16)
			rec.Decode(&r)
			err = r.Err()
		})
		if err != nil {
			return
		}
		b := jute.Marshal(rec)
		if len(b) != rec.Size() {
			t.Fatalf("%s: Size %d, encoded %d", meta.Name, rec.Size(), len(b))
		}
		again := meta.New()
		if err := jute.UnmarshalMax(b, again, 1<<16); err != nil {
			t.Fatalf("%s: re-decode: %v", meta.Name, err)
		}
		if !reflect.DeepEqual(rec, again) {
			t.Fatalf("%s: decode(encode(x)) != x", meta.Name)
		}
	})
}

// FuzzClientFrame runs the server-side decode path over a stream of client
// frames: length prefix, RequestHeader, body by opcode (including multi).
func FuzzClientFrame(f *testing.F) {
	f.Add(AppendRequest(nil, RequestHeader{Xid: 1, Type: OpGetData}, &GetDataRequest{Path: "/a"}))
	f.Add(AppendRequest(nil, RequestHeader{Xid: 2, Type: OpMulti}, &MultiRequest{Ops: []MultiOp{{Type: OpDelete, Op: &DeleteRequest{Path: "/a"}}}}))
	f.Add(AppendConnect(nil, ConnectRequest{TimeOut: 3000, Passwd: make([]byte, 16)}, false, true))
	f.Add([]byte("ruok"))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAlloc(t, len(data), func() {
			first := true
			for len(data) > 0 {
				if _, ok := IsFourLetterWord(data); ok && first {
					return
				}
				n, ok, err := PeekFrame(data, jute.DefaultMaxBuffer)
				if err != nil || !ok || len(data) < 4+n {
					return
				}
				body := data[4 : 4+n]
				data = data[4+n:]
				if first {
					first = false
					_, _ = DecodeConnect(body)
					continue
				}
				r := jute.NewReader(body)
				var h RequestHeader
				h.Decode(&r)
				if r.Err() != nil {
					continue
				}
				rec, has, known := NewRequestRecord(h.Type)
				if known && has {
					rec.Decode(&r)
				}
			}
		})
	})
}

// FuzzReplyFrame decodes server replies the way a client or the capture
// decoder does, given the request opcode.
func FuzzReplyFrame(f *testing.F) {
	f.Add(byte(OpGetData), AppendReply(nil, ReplyHeader{Xid: 1, Zxid: 5}, &GetDataResponse{Data: []byte("x")}))
	f.Add(byte(OpMulti), AppendReply(nil, ReplyHeader{Xid: 1, Zxid: 5}, &MultiResponse{Results: []MultiResult{{Type: OpDelete}}}))
	f.Fuzz(func(t *testing.T, op byte, data []byte) {
		checkAlloc(t, len(data), func() {
			n, ok, err := PeekFrame(data, jute.DefaultMaxBuffer)
			if err != nil || !ok || len(data) < 4+n {
				return
			}
			r := jute.NewReader(data[4 : 4+n])
			var h ReplyHeader
			h.Decode(&r)
			if r.Err() != nil {
				return
			}
			if h.Xid == XidWatchEvent {
				var ev WatcherEvent
				ev.Decode(&r)
				return
			}
			if rec, has, known := NewResponseRecord(OpCode(op)); known && has && ReplyHasBody(OpCode(op), h.Err) {
				rec.Decode(&r)
			}
		})
	})
}

// FuzzQuorumStream reads back-to-back QuorumPackets and decodes each
// payload by packet type.
func FuzzQuorumStream(f *testing.F) {
	li := LearnerInfo{ServerID: 1, ProtocolVersion: ProtocolVersion}
	f.Add(jute.Marshal(&QuorumPacket{Type: PacketFollowerInfo, Data: jute.Marshal(&li)}))
	prop := AppendTxnEntry(nil, &TxnEntry{Hdr: TxnHeader{Type: OpSetData}, Body: &SetDataTxn{Path: "/a"}})
	f.Add(jute.Marshal(&QuorumPacket{Type: PacketProposal, Zxid: 1, Data: prop}))
	f.Add(jute.Marshal(&QuorumPacket{Type: PacketPing, Data: AppendTouchTable(nil, []SessionTouch{{1, 2}})}))
	f.Add(jute.Marshal(&QuorumPacket{Type: PacketRequest, Data: AppendRequestPacket(nil, RequestPacketHeader{Type: OpCreate}, nil)}))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAlloc(t, len(data), func() {
			for len(data) > 0 {
				n, ok, err := PeekQuorumPacket(data, jute.QuorumMaxBuffer)
				if err != nil || !ok {
					return
				}
				var qp QuorumPacket
				r := jute.NewReaderMax(data[:n], jute.QuorumMaxBuffer)
				qp.Decode(&r)
				if err := r.Finish(); err != nil {
					t.Fatalf("PeekQuorumPacket said %d bytes but decode failed: %v", n, err)
				}
				data = data[n:]
				switch qp.Type {
				case PacketFollowerInfo, PacketObserverInfo:
					_, _ = ParseLearnerInfo(qp.Data)
				case PacketProposal, PacketInform:
					if e, err := DecodeTxnEntry(qp.Data, jute.QuorumMaxBuffer); err == nil {
						if m, ok := e.Body.(*MultiTxn); ok {
							_, _ = DecodeSubTxns(m, jute.QuorumMaxBuffer)
						}
					}
				case PacketPing:
					_, _ = ParseTouchTable(qp.Data)
				case PacketRequest:
					if h, body, err := ParseRequestPacket(qp.Data); err == nil {
						if rec, has, known := NewRequestRecord(h.Type); known && has {
							r := jute.NewReader(body)
							rec.Decode(&r)
						}
					}
				case PacketRevalidate:
					_, _, _ = ParseRevalidateRequest(qp.Data)
					_, _, _ = ParseRevalidateReply(qp.Data)
				case PacketLeaderInfo, PacketAckEpoch:
					_, _ = ParseEpochData(qp.Data)
				}
			}
		})
	})
}

// FuzzElection decodes an election connection: initial message, then
// length-prefixed notifications.
func FuzzElection(f *testing.F) {
	b := AppendInitialMessage(nil, 1, "127.0.0.1:3888")
	b = AppendNotificationFrame(b, &Notification{Version: 2, Config: []byte("version=0")})
	f.Add(b)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 28})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAlloc(t, len(data), func() {
			_, n, ok, err := DecodeInitialMessage(data)
			if err != nil || !ok {
				return
			}
			data = data[n:]
			for {
				l, ok, err := PeekElectionFrame(data)
				if err != nil || !ok || len(data) < 4+l {
					return
				}
				nt, err := DecodeNotification(data[4 : 4+l])
				if err == nil && nt.Layout == 44 && nt.Version > 1 {
					again, err := DecodeNotification(AppendNotification(nil, &nt))
					if err != nil || !reflect.DeepEqual(again, nt) && !(len(again.Config) == 0 && len(nt.Config) == 0) {
						t.Fatalf("notification round trip: %+v vs %+v (%v)", nt, again, err)
					}
				}
				data = data[4+l:]
			}
		})
	})
}

// FuzzTxnEntry decodes txn log / proposal payloads.
func FuzzTxnEntry(f *testing.F) {
	mt := MultiTxn{Txns: []Txn{{Type: OpDelete, Data: jute.Marshal(&DeleteTxn{Path: "/a"})}}}
	f.Add(AppendTxnEntry(nil, &TxnEntry{Hdr: TxnHeader{Type: OpMulti}, Body: &mt, Digest: &TxnDigest{Version: 2}}))
	f.Add(AppendTxnEntry(nil, &TxnEntry{Hdr: TxnHeader{Type: OpCreate}, Body: &CreateTxn{Path: "/a"}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAlloc(t, len(data), func() {
			e, err := DecodeTxnEntry(data, 1<<16)
			if err != nil {
				return
			}
			if m, ok := e.Body.(*MultiTxn); ok {
				_, _ = DecodeSubTxns(m, 1<<16)
			}
			again, err := DecodeTxnEntry(AppendTxnEntry(nil, &e), 1<<16)
			if err != nil || !reflect.DeepEqual(again.Hdr, e.Hdr) {
				t.Fatalf("txn round trip: %v", err)
			}
		})
	})
}
