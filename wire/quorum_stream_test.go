package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/zkgo/zkgo/jute"
)

func TestReadQuorumPacketStream(t *testing.T) {
	pkts := []QuorumPacket{
		{Type: PacketCommit, Zxid: 0x100000005},
		{Type: PacketPing, Zxid: 7, Data: []byte{}, AuthInfo: []ID{}},
		{Type: PacketRequest, Zxid: -1, Data: []byte("0123456789abcdefxyz"), AuthInfo: []ID{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: "u:p"}}},
	}
	var buf bytes.Buffer
	for i := range pkts {
		if err := WriteQuorumPacket(&buf, &pkts[i]); err != nil {
			t.Fatal(err)
		}
	}
	all := append([]byte(nil), buf.Bytes()...)
	for i := range pkts {
		got, err := ReadQuorumPacket(&buf, jute.QuorumMaxBuffer)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if !bytes.Equal(jute.Marshal(&got), jute.Marshal(&pkts[i])) {
			t.Fatalf("packet %d: got %+v want %+v", i, got, pkts[i])
		}
		if (got.Data == nil) != (pkts[i].Data == nil) || (got.AuthInfo == nil) != (pkts[i].AuthInfo == nil) {
			t.Fatalf("packet %d: null/empty not preserved", i)
		}
	}
	if _, err := ReadQuorumPacket(&buf, jute.QuorumMaxBuffer); err != io.EOF {
		t.Fatalf("clean end: %v, want io.EOF", err)
	}
	// Every truncation is an unexpected EOF, never a panic.
	for cut := 1; cut < len(all); cut++ {
		r := bytes.NewReader(all[:cut])
		var err error
		for err == nil {
			_, err = ReadQuorumPacket(r, jute.QuorumMaxBuffer)
		}
		if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("cut %d: %v", cut, err)
		}
	}
	// Lengths are checked before allocating.
	huge := []byte{0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff}
	if _, err := ReadQuorumPacket(bytes.NewReader(huge), jute.QuorumMaxBuffer); !errors.Is(err, jute.ErrTooLarge) {
		t.Fatalf("huge data: %v", err)
	}
	neg := []byte{0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe}
	if _, err := ReadQuorumPacket(bytes.NewReader(neg), jute.QuorumMaxBuffer); !errors.Is(err, jute.ErrNegativeLength) {
		t.Fatalf("negative data: %v", err)
	}
	manyIDs := []byte{0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0}
	if _, err := ReadQuorumPacket(bytes.NewReader(manyIDs), jute.QuorumMaxBuffer); !errors.Is(err, jute.ErrTooLarge) {
		t.Fatalf("huge auth count: %v", err)
	}
}

func FuzzReadQuorumPacket(f *testing.F) {
	f.Add(jute.Marshal(&QuorumPacket{Type: PacketRequest, Zxid: -1, Data: []byte("abc"), AuthInfo: []ID{{Scheme: "ip", ID: "x"}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for {
			qp, err := ReadQuorumPacket(r, 1<<16)
			if err != nil {
				return
			}
			// What was read re-encodes to the bytes consumed.
			if len(jute.Marshal(&qp)) > len(b) {
				t.Fatalf("decoded more than was read")
			}
		}
	})
}
