package wire

import (
	"encoding/binary"

	"github.com/zkgo/zkgo/jute"
)

// NewRequestRecord returns an empty record for the body of a client request
// with opcode op. hasBody is false for header-only requests (ping,
// closeSession, whoAmI); known is false for opcodes a client cannot send.
func NewRequestRecord(op OpCode) (rec jute.Record, hasBody, known bool) {
	switch op {
	case OpCreate, OpCreate2, OpCreateContainer:
		return new(CreateRequest), true, true
	case OpCreateTTL:
		return new(CreateTTLRequest), true, true
	case OpDelete:
		return new(DeleteRequest), true, true
	case OpExists:
		return new(ExistsRequest), true, true
	case OpGetData:
		return new(GetDataRequest), true, true
	case OpSetData:
		return new(SetDataRequest), true, true
	case OpGetACL:
		return new(GetACLRequest), true, true
	case OpSetACL:
		return new(SetACLRequest), true, true
	case OpGetChildren:
		return new(GetChildrenRequest), true, true
	case OpSync:
		return new(SyncRequest), true, true
	case OpGetChildren2:
		return new(GetChildren2Request), true, true
	case OpCheck:
		return new(CheckVersionRequest), true, true
	case OpMulti, OpMultiRead:
		return new(MultiRequest), true, true
	case OpReconfig:
		return new(ReconfigRequest), true, true
	case OpCheckWatches:
		return new(CheckWatchesRequest), true, true
	case OpRemoveWatches:
		return new(RemoveWatchesRequest), true, true
	case OpAuth:
		return new(AuthPacket), true, true
	case OpSetWatches:
		return new(SetWatches), true, true
	case OpSASL:
		return new(GetSASLRequest), true, true
	case OpGetEphemerals:
		return new(GetEphemeralsRequest), true, true
	case OpGetAllChildrenNumber:
		return new(GetAllChildrenNumberRequest), true, true
	case OpSetWatches2:
		return new(SetWatches2), true, true
	case OpAddWatch:
		return new(AddWatchRequest), true, true
	case OpPing, OpCloseSession, OpWhoAmI:
		return nil, false, true
	}
	return nil, false, false
}

// NewResponseRecord returns an empty record for the body of a successful
// reply to a request with opcode op; hasBody is false for header-only
// replies. Error replies (err != 0) never have a body, except multi and
// multiRead, whose MultiResponse is always present.
func NewResponseRecord(op OpCode) (rec jute.Record, hasBody, known bool) {
	switch op {
	case OpCreate:
		return new(CreateResponse), true, true
	case OpCreate2, OpCreateContainer, OpCreateTTL:
		return new(Create2Response), true, true
	case OpExists:
		return new(ExistsResponse), true, true
	case OpGetData, OpReconfig:
		return new(GetDataResponse), true, true
	case OpSetData:
		return new(SetDataResponse), true, true
	case OpGetACL:
		return new(GetACLResponse), true, true
	case OpSetACL:
		return new(SetACLResponse), true, true
	case OpGetChildren:
		return new(GetChildrenResponse), true, true
	case OpSync:
		return new(SyncResponse), true, true
	case OpGetChildren2:
		return new(GetChildren2Response), true, true
	case OpMulti, OpMultiRead:
		return new(MultiResponse), true, true
	case OpSASL:
		return new(SetSASLResponse), true, true
	case OpGetEphemerals:
		return new(GetEphemeralsResponse), true, true
	case OpGetAllChildrenNumber:
		return new(GetAllChildrenNumberResponse), true, true
	case OpAddWatch:
		return new(ErrorResponse), true, true
	case OpWhoAmI:
		return new(WhoAmIResponse), true, true
	case OpDelete, OpPing, OpCheck, OpCheckWatches, OpRemoveWatches, OpAuth, OpSetWatches,
		OpSetWatches2, OpCloseSession:
		return nil, false, true
	}
	return nil, false, false
}

// ReplyHasBody reports whether a reply with this opcode and error carries a
// body record.
func ReplyHasBody(op OpCode, err ErrCode) bool {
	if op == OpMulti || op == OpMultiRead {
		return true
	}
	if err != ErrOk {
		return false
	}
	_, has, _ := NewResponseRecord(op)
	return has
}

// ClientPacketKind tells what a ClientPacket holds.
type ClientPacketKind uint8

// Client packet kinds.
const (
	// KindConnect is the first message of a session connection.
	KindConnect ClientPacketKind = iota + 1
	// KindRequest is a request frame (RequestHeader + body).
	KindRequest
	// KindFourLetter is an admin command sent instead of a ConnectRequest.
	KindFourLetter
)

func (k ClientPacketKind) String() string {
	switch k {
	case KindConnect:
		return "connect"
	case KindRequest:
		return "request"
	case KindFourLetter:
		return "fourletter"
	}
	return "unknown"
}

// ClientPacket is one decoded message read from a client connection. The
// front end decodes frames into ClientPackets on its event loop (copying out
// of the loop's buffers) and hands them to the server in order.
type ClientPacket struct {
	Kind    ClientPacketKind
	Connect *Connect // KindConnect
	Header  RequestHeader
	// Body is the decoded request record; nil for header-only requests
	// (ping, closeSession, whoAmI) and for opcodes zkgo does not know.
	Body jute.Record
	// Raw is the request record's bytes (after the header), owned by the
	// packet; a learner forwards them to the leader unchanged.
	Raw []byte
	// BodyErr is set when the header decoded but the record did not. Java
	// answers such a request with MARSHALLINGERROR (for a write, after
	// logging an error txn) and keeps the connection.
	BodyErr error
	Word    string // KindFourLetter: the command, e.g. "ruok"
	Size    int    // frame size on the wire, for accounting
}

// DecodeRequestFrame decodes a request frame body (RequestHeader + record).
// body must be owned by the caller: Raw and []byte fields alias it. A frame
// too short for its header is an error (close the connection); a record
// that does not decode is reported in BodyErr; an unknown opcode yields a
// packet with a nil Body. Trailing bytes after the record are ignored, as
// Java reads records from a stream.
func DecodeRequestFrame(body []byte, max int) (ClientPacket, error) {
	p := ClientPacket{Kind: KindRequest, Size: len(body) + FrameHeaderSize}
	// The header is read by hand: a Reader handed to a record's Decode (an
	// interface call) escapes to the heap, and a header-only request (the
	// pings of idle sessions) needs none.
	if len(body) < 8 {
		h := jute.NewReaderMax(body, max)
		p.Header.Decode(&h)
		return p, h.Err()
	}
	p.Header.Xid = Xid(binary.BigEndian.Uint32(body))
	p.Header.Type = OpCode(binary.BigEndian.Uint32(body[4:]))
	p.Raw = body[8:]
	rec, has, known := NewRequestRecord(p.Header.Type)
	if !known || !has {
		return p, nil
	}
	r := jute.NewReaderMax(p.Raw, max)
	rec.Decode(&r)
	if err := r.Err(); err != nil {
		p.BodyErr = err
		return p, nil
	}
	p.Body = rec
	return p, nil
}
