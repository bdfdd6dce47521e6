package wire

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/jute"
)

// Election channel (QuorumCnxManager + FastLeaderElection, spec §7).
//
// A connection starts with the initiator's initial message:
//
//	+--------------------+-----------+------------+------------------------+
//	| i64 protocol       | i64 sid   | i32 len    | len bytes "host:port"  |
//	+--------------------+-----------+------------+------------------------+
//	protocol = -65536 (V1) or -65535 (V2, "a:p|b:p" address list);
//	a non-negative first long is a bare 3.4-style sid with nothing after it.
//
// Then both sides exchange length-prefixed messages (i32 len, 0 < len <=
// 512 KiB); each message is a notification (layout in Notification).

// Election protocol versions of the initial message.
const (
	ElectionProtocolV1 int64 = -65536
	ElectionProtocolV2 int64 = -65535
)

// Election limits enforced by Java's receivers.
const (
	MaxInitialAddrLen    = 2048       // initial message address bytes
	MaxElectionFrameSize = 512 * 1024 // notification frame body
	NotificationVersion  = 0x2        // version written by 3.5+
)

// Election decode errors.
var (
	ErrElectionProtocol = errors.New("wire: unknown election protocol version")
	ErrElectionAddrLen  = errors.New("wire: unreasonable election address length")
	ErrElectionFrame    = errors.New("wire: bad election frame length")
	ErrNotification     = errors.New("wire: malformed notification")
)

// InitialMessage is the first message on an election connection.
type InitialMessage struct {
	Protocol int64  // ElectionProtocolV1/V2, or the sid itself for 3.4 peers
	Sid      int64  // the sender's server id
	Addr     string // raw address text; "" for 3.4 peers
}

// Addrs splits a V2 address list ("a:1|b:2"); a V1 address gives one item.
func (m InitialMessage) Addrs() []string {
	if m.Addr == "" {
		return nil
	}
	return strings.Split(m.Addr, "|")
}

// AppendInitialMessage appends a V1 initial message (what 3.5+ peers send
// unless multiAddress is enabled). Send it in one write.
func AppendInitialMessage(b []byte, sid int64, addr string) []byte {
	proto := ElectionProtocolV1
	b = binary.BigEndian.AppendUint64(b, uint64(proto))
	b = binary.BigEndian.AppendUint64(b, uint64(sid))
	b = binary.BigEndian.AppendUint32(b, uint32(len(addr)))
	return append(b, addr...)
}

// DecodeInitialMessage parses an initial message at the start of b. It
// returns ok=false if more bytes are needed, and the number of bytes used.
func DecodeInitialMessage(b []byte) (m InitialMessage, n int, ok bool, err error) {
	if len(b) < 8 {
		return m, 0, false, nil
	}
	m.Protocol = int64(binary.BigEndian.Uint64(b))
	if m.Protocol >= 0 {
		m.Sid = m.Protocol
		return m, 8, true, nil
	}
	if m.Protocol != ElectionProtocolV1 && m.Protocol != ElectionProtocolV2 {
		return m, 0, false, ErrElectionProtocol
	}
	if len(b) < 20 {
		return m, 0, false, nil
	}
	m.Sid = int64(binary.BigEndian.Uint64(b[8:]))
	l := int32(binary.BigEndian.Uint32(b[16:]))
	if l <= 0 || l > MaxInitialAddrLen {
		return m, 0, false, ErrElectionAddrLen
	}
	if len(b) < 20+int(l) {
		return m, 0, false, nil
	}
	m.Addr = string(b[20 : 20+l])
	return m, 20 + int(l), true, nil
}

// PeekElectionFrame reads the length prefix of an election message.
func PeekElectionFrame(b []byte) (bodyLen int, ok bool, err error) {
	if len(b) < 4 {
		return 0, false, nil
	}
	l := int32(binary.BigEndian.Uint32(b))
	if l <= 0 || l > MaxElectionFrameSize {
		return 0, false, &FrameError{Len: l, Max: MaxElectionFrameSize, Err: ErrElectionFrame}
	}
	return int(l), true, nil
}

// Notification is an FLE message (spec §7.4):
//
//	off size field
//	  0  i32 state          sender's ServerState
//	  4  i64 leader         proposed leader sid
//	 12  i64 zxid           proposed leader's last zxid
//	 20  i64 electionEpoch  sender's logical clock
//	 28  i64 peerEpoch      proposed leader's epoch      (absent in 28-byte form)
//	 36  i32 version        0x2 in 3.5+                   (absent in 28/40-byte forms)
//	 40  i32 configLength   only when version > 1
//	 44  bytes config       UTF-8 QuorumVerifier text
type Notification struct {
	State         ServerState
	Leader        int64
	Zxid          Zxid
	ElectionEpoch int64
	PeerEpoch     int64
	Version       int32
	Config        []byte
	// Layout is the encoded form: 28 (no peerEpoch), 40 (no version), or
	// 44 (version, then configLength+config when version > 1).
	Layout int
}

// AppendNotification appends the 3.5+ form (version 2 with config) of n,
// without the frame length. Layout 28 and 40 write the legacy forms.
func AppendNotification(b []byte, n *Notification) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(n.State))
	b = binary.BigEndian.AppendUint64(b, uint64(n.Leader))
	b = binary.BigEndian.AppendUint64(b, uint64(n.Zxid))
	b = binary.BigEndian.AppendUint64(b, uint64(n.ElectionEpoch))
	if n.Layout == 28 {
		return b
	}
	b = binary.BigEndian.AppendUint64(b, uint64(n.PeerEpoch))
	if n.Layout == 40 {
		// The 40-byte form ends with 4 bytes Java ignores.
		return binary.BigEndian.AppendUint32(b, uint32(n.Version))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(n.Version))
	if n.Version > 1 {
		b = binary.BigEndian.AppendUint32(b, uint32(len(n.Config)))
		b = append(b, n.Config...)
	}
	return b
}

// AppendNotificationFrame appends a length-prefixed notification.
func AppendNotificationFrame(b []byte, n *Notification) []byte {
	off := len(b)
	b = append(b, 0, 0, 0, 0)
	b = AppendNotification(b, n)
	binary.BigEndian.PutUint32(b[off:], uint32(len(b)-off-4))
	return b
}

// DecodeNotification parses a notification body the way Java's
// WorkerReceiver does: below 28 bytes is an error; 28 bytes has no
// peerEpoch (derived from the zxid); 40 bytes has no version (0); otherwise
// version follows and, if > 1, a config length and config bytes. The config
// aliases b.
func DecodeNotification(b []byte) (Notification, error) {
	var n Notification
	if len(b) < 28 {
		return n, &jute.DecodeError{Length: 28, Have: len(b), Err: jute.ErrShortBuffer}
	}
	n.State = ServerState(binary.BigEndian.Uint32(b))
	n.Leader = int64(binary.BigEndian.Uint64(b[4:]))
	n.Zxid = Zxid(binary.BigEndian.Uint64(b[12:]))
	n.ElectionEpoch = int64(binary.BigEndian.Uint64(b[20:]))
	switch {
	case len(b) == 28:
		n.PeerEpoch = int64(n.Zxid.Epoch())
		n.Layout = 28
		return n, nil
	case len(b) < 36:
		return n, &jute.DecodeError{Offset: 28, Length: 8, Have: len(b) - 28, Err: jute.ErrShortBuffer}
	}
	if len(b) < 36 {
		return n, &jute.DecodeError{Offset: 28, Length: 8, Have: len(b) - 28, Err: jute.ErrShortBuffer}
	}
	n.PeerEpoch = int64(binary.BigEndian.Uint64(b[28:]))
	if len(b) == 40 {
		// 3.4.6+ sends 40 bytes: peerEpoch and version 1. Java 3.8 reads
		// exactly 40 bytes as that form and ignores the version (treats it
		// as 0); Version holds the bytes as sent.
		n.Version = int32(binary.BigEndian.Uint32(b[36:]))
		n.Layout = 40
		return n, nil
	}
	if len(b) < 40 {
		return n, &jute.DecodeError{Offset: 36, Length: 4, Have: len(b) - 36, Err: jute.ErrShortBuffer}
	}
	n.Version = int32(binary.BigEndian.Uint32(b[36:]))
	n.Layout = 44
	if n.Version > 1 {
		if len(b) < 44 {
			return n, &jute.DecodeError{Offset: 40, Length: 4, Have: len(b) - 40, Err: jute.ErrShortBuffer}
		}
		l := int32(binary.BigEndian.Uint32(b[40:]))
		if l < 0 || int(l) > len(b)-44 {
			return n, &jute.DecodeError{Offset: 40, Length: int64(l), Have: len(b) - 44, Err: ErrNotification}
		}
		n.Config = b[44 : 44+l]
	}
	return n, nil
}

// String gives a one-line summary.
func (n *Notification) String() string {
	return n.State.String() + " leader=" + strconv.FormatInt(n.Leader, 10) + " zxid=" + n.Zxid.String() +
		" electionEpoch=" + strconv.FormatInt(n.ElectionEpoch, 10) + " peerEpoch=" + strconv.FormatInt(n.PeerEpoch, 10)
}
