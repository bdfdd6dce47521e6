package wire

import (
	"encoding/binary"
	"errors"
	"io"
	"strconv"

	"github.com/zkgo/zkgo/jute"
)

// PacketType is the type of a QuorumPacket on the leader/learner channel
// (Leader.java constants).
type PacketType int32

// Packet types 1-19.
const (
	PacketRequest           PacketType = 1
	PacketProposal          PacketType = 2
	PacketAck               PacketType = 3
	PacketCommit            PacketType = 4
	PacketPing              PacketType = 5
	PacketRevalidate        PacketType = 6
	PacketSync              PacketType = 7
	PacketInform            PacketType = 8
	PacketCommitAndActivate PacketType = 9
	PacketNewLeader         PacketType = 10
	PacketFollowerInfo      PacketType = 11
	PacketUpToDate          PacketType = 12
	PacketDiff              PacketType = 13
	PacketTrunc             PacketType = 14
	PacketSnap              PacketType = 15
	PacketObserverInfo      PacketType = 16
	PacketLeaderInfo        PacketType = 17
	PacketAckEpoch          PacketType = 18
	PacketInformAndActivate PacketType = 19
)

var packetNames = [...]string{"", "REQUEST", "PROPOSAL", "ACK", "COMMIT", "PING", "REVALIDATE", "SYNC",
	"INFORM", "COMMITANDACTIVATE", "NEWLEADER", "FOLLOWERINFO", "UPTODATE", "DIFF", "TRUNC", "SNAP",
	"OBSERVERINFO", "LEADERINFO", "ACKEPOCH", "INFORMANDACTIVATE"}

// String returns the name Java's LearnerHandler.packetToString uses.
func (t PacketType) String() string {
	if t >= 1 && int(t) < len(packetNames) {
		return packetNames[t]
	}
	return "UNKNOWN" + strconv.Itoa(int(t))
}

// Valid reports whether t is one of the 19 packet types.
func (t PacketType) Valid() bool { return t >= 1 && int(t) < len(packetNames) }

// Protocol constants of the leader/learner channel.
const (
	// ProtocolVersion is the Zab 1.0 protocol version carried in LearnerInfo
	// and LEADERINFO (0x10000).
	ProtocolVersion = 0x10000
	// SnapSignature ends the SNAP stream.
	SnapSignature = "BenWasHere"
	// QuorumAuthMagic starts a QuorumAuthPacket when quorum SASL is on.
	QuorumAuthMagic int64 = 0x5F2435013501EDCC // Java: -0xa0dbcafecafe1234L
)

// Quorum framing: QuorumPackets are written back to back with no length
// prefix (spec §3.1):
//
//	+----------+-----------+----------------------+-------------------------+
//	| i32 type | i64 zxid  | i32 dlen | dlen bytes | i32 acount | Id x acount |
//	+----------+-----------+----------------------+-------------------------+
//
// PeekQuorumPacket reports the size of the QuorumPacket at the start of b,
// or ok=false if b does not yet hold a whole packet. It checks lengths
// against max (use jute.QuorumMaxBuffer) so a stream reader never waits for
// or allocates an absurd amount.
func PeekQuorumPacket(b []byte, max int) (size int, ok bool, err error) {
	r := jute.NewReaderMax(b, max)
	var qp QuorumPacket
	qp.Decode(&r)
	if e := r.Err(); e != nil {
		if isShort(e) {
			return 0, false, nil
		}
		return 0, false, e
	}
	return r.Offset(), true, nil
}

// Ping touch table entries (learner -> leader PING data, spec §5.4).

// SessionTouch is one entry of a learner's PING touch table.
type SessionTouch struct {
	SessionID SessionID
	TimeoutMs int32
}

// AppendTouchTable encodes entries as PING data: a non-nil (possibly empty)
// buffer of {i64 sessionId, i32 timeout} records.
func AppendTouchTable(b []byte, entries []SessionTouch) []byte {
	if b == nil {
		b = make([]byte, 0, 12*len(entries))
	}
	for _, e := range entries {
		b = binary.BigEndian.AppendUint64(b, uint64(e.SessionID))
		b = binary.BigEndian.AppendUint32(b, uint32(e.TimeoutMs))
	}
	return b
}

// ParseTouchTable decodes PING data. A trailing partial entry is an error.
func ParseTouchTable(data []byte) ([]SessionTouch, error) {
	if len(data)%12 != 0 {
		return nil, &jute.DecodeError{Offset: len(data) - len(data)%12, Length: 12, Have: len(data) % 12, Err: jute.ErrShortBuffer}
	}
	out := make([]SessionTouch, len(data)/12)
	for i := range out {
		out[i].SessionID = SessionID(binary.BigEndian.Uint64(data[i*12:]))
		out[i].TimeoutMs = int32(binary.BigEndian.Uint32(data[i*12+8:]))
	}
	return out, nil
}

// RequestPacketHeader is the fixed prefix of REQUEST packet data
// (learner -> leader forwarding): i64 sessionId, i32 cxid, i32 type, then
// the client's request record bytes.
type RequestPacketHeader struct {
	SessionID SessionID
	Cxid      Xid
	Type      OpCode
}

// RequestPacketHeaderSize is the size of the REQUEST data prefix.
const RequestPacketHeaderSize = 16

// AppendRequestPacket encodes REQUEST data.
func AppendRequestPacket(b []byte, h RequestPacketHeader, body []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(h.SessionID))
	b = binary.BigEndian.AppendUint32(b, uint32(h.Cxid))
	b = binary.BigEndian.AppendUint32(b, uint32(h.Type))
	return append(b, body...)
}

// ParseRequestPacket splits REQUEST data into its header and the request
// record bytes (aliasing data).
func ParseRequestPacket(data []byte) (RequestPacketHeader, []byte, error) {
	if len(data) < RequestPacketHeaderSize {
		return RequestPacketHeader{}, nil, &jute.DecodeError{Offset: 0, Length: RequestPacketHeaderSize, Have: len(data), Err: jute.ErrShortBuffer}
	}
	h := RequestPacketHeader{
		SessionID: SessionID(binary.BigEndian.Uint64(data)),
		Cxid:      Xid(binary.BigEndian.Uint32(data[8:])),
		Type:      OpCode(binary.BigEndian.Uint32(data[12:])),
	}
	return h, data[RequestPacketHeaderSize:], nil
}

// Revalidate payloads (spec §5.6).

// AppendRevalidateRequest encodes learner -> leader REVALIDATE data.
func AppendRevalidateRequest(b []byte, id SessionID, timeoutMs int32) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(id))
	return binary.BigEndian.AppendUint32(b, uint32(timeoutMs))
}

// ParseRevalidateRequest decodes learner -> leader REVALIDATE data.
func ParseRevalidateRequest(data []byte) (SessionID, int32, error) {
	if len(data) < 12 {
		return 0, 0, &jute.DecodeError{Length: 12, Have: len(data), Err: jute.ErrShortBuffer}
	}
	return SessionID(binary.BigEndian.Uint64(data)), int32(binary.BigEndian.Uint32(data[8:])), nil
}

// AppendRevalidateReply encodes leader -> learner REVALIDATE data.
func AppendRevalidateReply(b []byte, id SessionID, valid bool) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(id))
	if valid {
		return append(b, 1)
	}
	return append(b, 0)
}

// ParseRevalidateReply decodes leader -> learner REVALIDATE data.
func ParseRevalidateReply(data []byte) (SessionID, bool, error) {
	if len(data) < 9 {
		return 0, false, &jute.DecodeError{Length: 9, Have: len(data), Err: jute.ErrShortBuffer}
	}
	return SessionID(binary.BigEndian.Uint64(data)), data[8] != 0, nil
}

// EpochData encodes the 4-byte data of LEADERINFO (protocol version) and
// ACKEPOCH (current epoch, or -1).
func EpochData(v int32) []byte { return binary.BigEndian.AppendUint32(make([]byte, 0, 4), uint32(v)) }

// ParseEpochData decodes the 4-byte data of LEADERINFO/ACKEPOCH.
func ParseEpochData(data []byte) (int32, error) {
	if len(data) < 4 {
		return 0, &jute.DecodeError{Length: 4, Have: len(data), Err: jute.ErrShortBuffer}
	}
	return int32(binary.BigEndian.Uint32(data)), nil
}

// ParseLearnerInfo decodes FOLLOWERINFO/OBSERVERINFO data with the leader's
// length tolerance (spec §3.3): 8 bytes give the sid, 12 add the protocol
// version (else 0x1), 20 add the config version.
func ParseLearnerInfo(data []byte) (LearnerInfo, error) {
	li := LearnerInfo{ProtocolVersion: 0x1}
	if len(data) < 8 {
		return li, &jute.DecodeError{Length: 8, Have: len(data), Err: jute.ErrShortBuffer}
	}
	li.ServerID = int64(binary.BigEndian.Uint64(data))
	if len(data) >= 12 {
		li.ProtocolVersion = int32(binary.BigEndian.Uint32(data[8:]))
	}
	if len(data) >= 20 {
		li.ConfigVersion = int64(binary.BigEndian.Uint64(data[12:]))
	}
	return li, nil
}

// ReadQuorumPacket reads one QuorumPacket from a stream (the leader/learner
// channel has no length prefix, spec §3.1). Every length is checked against
// max (use jute.QuorumMaxBuffer) before anything is allocated; a short
// stream gives io.ErrUnexpectedEOF, a stream that ends cleanly between
// packets gives io.EOF.
func ReadQuorumPacket(r io.Reader, max int) (QuorumPacket, error) {
	var qp QuorumPacket
	var hdr [16]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return qp, io.EOF
		}
		return qp, noEOF(err)
	}
	qp.Type = PacketType(binary.BigEndian.Uint32(hdr[0:]))
	qp.Zxid = Zxid(binary.BigEndian.Uint64(hdr[4:]))
	dlen := int32(binary.BigEndian.Uint32(hdr[12:]))
	if err := checkStreamLen(dlen, max, 12); err != nil {
		return qp, err
	}
	if dlen >= 0 {
		qp.Data = make([]byte, dlen)
		if _, err := io.ReadFull(r, qp.Data); err != nil {
			return qp, noEOF(err)
		}
	}
	var n4 [4]byte
	if _, err := io.ReadFull(r, n4[:]); err != nil {
		return qp, noEOF(err)
	}
	count := int32(binary.BigEndian.Uint32(n4[:]))
	// An Id is at least 8 bytes (two lengths).
	if err := checkStreamLen(count, max/8, 16+int(max32(dlen, 0))); err != nil {
		return qp, err
	}
	if count < 0 {
		return qp, nil
	}
	qp.AuthInfo = make([]ID, 0, min(int(count), 16))
	for i := int32(0); i < count; i++ {
		scheme, err := readStreamString(r, max)
		if err != nil {
			return qp, err
		}
		id, err := readStreamString(r, max)
		if err != nil {
			return qp, err
		}
		qp.AuthInfo = append(qp.AuthInfo, ID{Scheme: scheme, ID: id})
	}
	return qp, nil
}

// WriteQuorumPacket encodes qp to w (callers buffer and flush).
func WriteQuorumPacket(w io.Writer, qp *QuorumPacket) error {
	_, err := w.Write(jute.Marshal(qp))
	return err
}

func max32(a, b int32) int32 {
	if a > b {
		return a
	}
	return b
}

func checkStreamLen(l int32, max, off int) error {
	switch {
	case l < -1:
		return &jute.DecodeError{Offset: off, Length: int64(l), Err: jute.ErrNegativeLength}
	case int(l) > max:
		return &jute.DecodeError{Offset: off, Length: int64(l), Err: jute.ErrTooLarge}
	}
	return nil
}

func readStreamString(r io.Reader, max int) (string, error) {
	var n4 [4]byte
	if _, err := io.ReadFull(r, n4[:]); err != nil {
		return "", noEOF(err)
	}
	l := int32(binary.BigEndian.Uint32(n4[:]))
	if err := checkStreamLen(l, max, 0); err != nil {
		return "", err
	}
	if l <= 0 {
		return "", nil
	}
	b := make([]byte, l)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", noEOF(err)
	}
	return string(b), nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
