package wire

import "github.com/zkgo/zkgo/jute"

// The ConnectRequest and ConnectResponse of 3.4-3.8 are followed by an
// optional readOnly boolean that is not part of the Jute record. Java reads
// the record, then tries to read the boolean and tolerates its absence
// (ProtocolManager); go-zookeeper omits it.

// Connect is a ConnectRequest with its optional trailing readOnly byte.
type Connect struct {
	ConnectRequest
	ReadOnly    bool
	HasReadOnly bool // the readOnly byte was present
}

// DecodeConnect decodes a ConnectRequest frame body.
func DecodeConnect(body []byte) (Connect, error) {
	var c Connect
	r := jute.NewReader(body)
	c.ConnectRequest.Decode(&r)
	if err := r.Err(); err != nil {
		return c, err
	}
	if r.Remaining() > 0 {
		c.HasReadOnly = true
		c.ReadOnly = r.Bool()
	}
	return c, nil
}

// AppendConnect appends a framed ConnectRequest; the readOnly byte is written
// when withReadOnly is set (the Java and C clients always send it).
func AppendConnect(b []byte, req ConnectRequest, readOnly, withReadOnly bool) []byte {
	w := jute.NewWriter(b)
	off := BeginFrame(w)
	req.Encode(w)
	if withReadOnly {
		w.Bool(readOnly)
	}
	EndFrame(w, off)
	return w.Bytes()
}

// AppendConnectResponse appends a framed ConnectResponse followed by the
// readOnly byte, as Java 3.8 servers send it.
func AppendConnectResponse(b []byte, resp ConnectResponse, readOnly bool) []byte {
	w := jute.NewWriter(b)
	off := BeginFrame(w)
	resp.Encode(w)
	w.Bool(readOnly)
	EndFrame(w, off)
	return w.Bytes()
}

// ConnectReply is a ConnectResponse with its optional trailing readOnly byte.
type ConnectReply struct {
	ConnectResponse
	ReadOnly    bool
	HasReadOnly bool
}

// DecodeConnectReply decodes a ConnectResponse frame body.
func DecodeConnectReply(body []byte) (ConnectReply, error) {
	var c ConnectReply
	r := jute.NewReader(body)
	c.ConnectResponse.Decode(&r)
	if err := r.Err(); err != nil {
		return c, err
	}
	if r.Remaining() > 0 {
		c.HasReadOnly = true
		c.ReadOnly = r.Bool()
	}
	return c, nil
}
