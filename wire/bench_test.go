package wire

import (
	"testing"

	"github.com/zkgo/zkgo/jute"
)

var benchStat = Stat{Czxid: 0x100000001, Mzxid: 0x100000002, Ctime: 1700000000000, Mtime: 1700000000001,
	Version: 3, DataLength: 1024, Pzxid: 0x100000001}

func BenchmarkGetDataResponseEncode(b *testing.B) {
	resp := GetDataResponse{Data: make([]byte, 1024), Stat: benchStat}
	buf := make([]byte, 0, resp.Size())
	w := jute.NewWriter(buf)
	b.ReportAllocs()
	b.SetBytes(int64(resp.Size()))
	for b.Loop() {
		w.Reset(buf[:0])
		resp.Encode(w)
	}
}

func BenchmarkGetDataResponseDecode(b *testing.B) {
	in := jute.Marshal(&GetDataResponse{Data: make([]byte, 1024), Stat: benchStat})
	var resp GetDataResponse
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		r := jute.NewReader(in)
		resp.Decode(&r)
		if r.Err() != nil {
			b.Fatal(r.Err())
		}
	}
}

var benchCreate = CreateRequest{Path: "/app/locks/lock-0000000042", Data: make([]byte, 16),
	ACL: []ACL{{Perms: int32(PermAll), ID: ID{Scheme: "world", ID: "anyone"}}}, Flags: int32(ModeEphemeralSequential)}

func BenchmarkCreateRequestEncode(b *testing.B) {
	buf := make([]byte, 0, benchCreate.Size())
	w := jute.NewWriter(buf)
	b.ReportAllocs()
	for b.Loop() {
		w.Reset(buf[:0])
		benchCreate.Encode(w)
	}
}

// BenchmarkCreateRequestDecode decodes into a fresh record each time: the
// allocations reported are the record's own strings and ACL slice.
func BenchmarkCreateRequestDecode(b *testing.B) {
	in := jute.Marshal(&benchCreate)
	b.ReportAllocs()
	for b.Loop() {
		var req CreateRequest
		r := jute.NewReader(in)
		req.Decode(&r)
		if r.Err() != nil {
			b.Fatal(r.Err())
		}
	}
}

func BenchmarkReplyFrameGetData(b *testing.B) {
	resp := GetDataResponse{Data: make([]byte, 1024), Stat: benchStat}
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendReply(buf[:0], ReplyHeader{Xid: 7, Zxid: 9}, &resp)
	}
}

// BenchmarkReplyRoundGetData appends the replies of one owner round (8
// pipelined gets of 1 KiB) to a fresh buffer, as a connection's output is
// built between flushes.
func BenchmarkReplyRoundGetData(b *testing.B) {
	resp := GetDataResponse{Data: make([]byte, 1024), Stat: benchStat}
	b.ReportAllocs()
	for b.Loop() {
		var buf []byte
		for i := range 8 {
			buf = AppendReply(buf, ReplyHeader{Xid: Xid(i), Zxid: 9}, &resp)
		}
	}
}
