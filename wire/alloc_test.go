package wire

import (
	"bytes"
	"testing"

	"github.com/zkgo/zkgo/jute"
)

// An idle session's ping costs the server no allocation in decoding the
// request or encoding the reply (10k idle sessions ping every few
// seconds; their garbage is what keeps the heap above its live size).
func TestPingAllocatesNothing(t *testing.T) {
	req := AppendRequest(nil, RequestHeader{Xid: XidPing, Type: OpPing}, nil)[FrameHeaderSize:]
	var p ClientPacket
	if n := testing.AllocsPerRun(100, func() {
		var err error
		if p, err = DecodeRequestFrame(req, jute.DefaultMaxBuffer); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("decoding a ping allocates %v times, want 0", n)
	}
	if p.Header.Xid != XidPing || p.Header.Type != OpPing || p.Body != nil || len(p.Raw) != 0 {
		t.Fatalf("ping decoded as %+v", p)
	}
	buf := make([]byte, 0, 64)
	var out []byte
	if n := testing.AllocsPerRun(100, func() {
		out = AppendReply(buf[:0], ReplyHeader{Xid: XidPing, Zxid: 0x100000005}, nil)
	}); n != 0 {
		t.Fatalf("encoding a ping reply allocates %v times, want 0", n)
	}
	// The same bytes as through a jute.Writer.
	w := jute.NewWriter(nil)
	w.Int(16)
	(&ReplyHeader{Xid: XidPing, Zxid: 0x100000005}).Encode(w)
	if !bytes.Equal(out, w.Bytes()) {
		t.Fatalf("ping reply %x, want %x", out, w.Bytes())
	}
}

// A request with a record still decodes as before: header, Raw after it,
// the record from Raw.
func TestDecodeRequestFrameWithRecord(t *testing.T) {
	req := AppendRequest(nil, RequestHeader{Xid: 7, Type: OpGetData}, &GetDataRequest{Path: "/a/b", Watch: true})[FrameHeaderSize:]
	p, err := DecodeRequestFrame(req, jute.DefaultMaxBuffer)
	if err != nil || p.BodyErr != nil {
		t.Fatal(err, p.BodyErr)
	}
	g, ok := p.Body.(*GetDataRequest)
	if !ok || g.Path != "/a/b" || !g.Watch || p.Header.Xid != 7 || !bytes.Equal(p.Raw, req[8:]) {
		t.Fatalf("decoded %+v body %+v", p, p.Body)
	}
	if _, err := DecodeRequestFrame(req[:7], jute.DefaultMaxBuffer); err == nil {
		t.Fatal("a 7-byte frame decoded without error")
	}
	if p, _ := DecodeRequestFrame(req[:10], jute.DefaultMaxBuffer); p.BodyErr == nil {
		t.Fatal("a truncated record decoded without BodyErr")
	}
}
