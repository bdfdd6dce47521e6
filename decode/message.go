package decode

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// Channel is the ZooKeeper channel a TCP connection carries.
type Channel uint8

// Channels.
const (
	ChannelUnknown  Channel = iota
	ChannelClient           // client port: length-prefixed frames
	ChannelQuorum           // leader/learner port: back-to-back QuorumPackets
	ChannelElection         // election port: initial message, then framed notifications
)

var channelNames = [...]string{"unknown", "client", "quorum", "election"}

func (c Channel) String() string {
	if int(c) < len(channelNames) {
		return channelNames[c]
	}
	return "Channel(" + strconv.Itoa(int(c)) + ")"
}

// ParseChannel returns the channel named s.
func ParseChannel(s string) (Channel, bool) {
	for i, n := range channelNames {
		if n == s {
			return Channel(i), true
		}
	}
	return 0, false
}

// Dir is the direction of one half of a connection.
type Dir uint8

// Directions. The connecting side is the client, the learner, or the
// election initiator; the accepting side is the server, the leader (or
// learner master), or the election acceptor.
const (
	ToServer   Dir = 0 // from the connecting side
	FromServer Dir = 1 // from the accepting side
)

func (d Dir) String() string {
	if d == ToServer {
		return "to-server"
	}
	return "from-server"
}

// Kind classifies a Message.
type Kind uint8

// Message kinds.
const (
	KindUndecodable     Kind = iota // bytes that could not be decoded (Error says why)
	KindNote                        // not a message: a gap, a resynchronisation (Text says what)
	KindConnect                     // client ConnectRequest
	KindConnectReply                // server ConnectResponse
	KindRequest                     // client request (RequestHeader + record), pings included
	KindReply                       // server reply (ReplyHeader + record)
	KindWatchEvent                  // server notification, xid -1
	KindFourLetter                  // four-letter word sent instead of a ConnectRequest
	KindFourLetterReply             // the server's text answer to it
	KindQuorumAuth                  // QuorumAuthPacket (quorum SASL preamble)
	KindQuorumPacket                // leader/learner QuorumPacket
	KindSnapshot                    // the snapshot stream that follows SNAP, summarised
	KindInitial                     // election initial message
	KindNotification                // election notification
)

var kindNames = [...]string{"undecodable", "note", "connect", "connect-reply", "request", "reply",
	"watch-event", "4lw", "4lw-reply", "quorum-auth", "quorum-packet", "snapshot", "initial", "notification"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// ConnInfo describes one TCP connection.
type ConnInfo struct {
	ID      int64          // 1-based, in order of appearance
	Client  netip.AddrPort // the connecting side
	Server  netip.AddrPort // the accepting side
	Channel Channel
	// Session is the client session the connection carries, once known.
	Session wire.SessionID
	// Sid is the learner's server id (quorum) or the initiator's (election),
	// or -1.
	Sid int64
	// ServerSid is the leader's server id (quorum) or the acceptor's
	// (election), or -1 while the capture has not told it.
	ServerSid int64

	routes  [2]string // "src -> dst channel" per direction, for the printers
	sess    string    // " session=0x..." for Session
	sessFor wire.SessionID
}

// sessionText returns " session=0x..." for ci.Session (cached).
func (ci *ConnInfo) sessionText() string {
	if ci.sess == "" || ci.sessFor != ci.Session {
		ci.sess, ci.sessFor = " session=0x"+strconv.FormatUint(uint64(ci.Session), 16), ci.Session
	}
	return ci.sess
}

// route returns "src -> dst channel " for direction d (cached).
func (ci *ConnInfo) route(d Dir) string {
	if ci.routes[d] == "" {
		src, dst := ci.Client, ci.Server
		if d == FromServer {
			src, dst = dst, src
		}
		b := src.AppendTo(nil)
		b = append(b, " -> "...)
		b = dst.AppendTo(b)
		b = append(b, ' ')
		b = append(b, ci.Channel.String()...)
		ci.routes[d] = string(b)
	}
	return ci.routes[d]
}

// Record is what a Part holds: a generated Jute record, or one of this
// package's views of a payload that is not a Jute record in Java (a
// notification, a touch table, a SNAP summary, ...).
type Record interface {
	Walk(v jute.Visitor)
	JuteName() string
}

// Part is one decoded record of a message, in wire order.
type Part struct {
	Label string // role in the message: "header", "request", "reply", "packet", "txn", ...
	Rec   Record
}

// Message is one decoded unit of traffic. Fields that do not apply to a kind
// are zero; the Has* flags tell a zero value from an absent one.
type Message struct {
	N       int64         // 1-based number of the message in the capture
	Time    time.Time     // capture time of the packet that completed it
	Rel     time.Duration // Time minus the time of the first packet
	Conn    *ConnInfo
	Dir     Dir
	Channel Channel
	Kind    Kind
	// Name is the message type: an opcode name for client requests and
	// replies, a packet type (PROPOSAL) on the quorum channel,
	// "notification"/"initial" on the election channel, the word for 4lw.
	Name   string
	Offset int64 // byte offset of the message in its half-stream
	Size   int64 // bytes on the wire

	Session    wire.SessionID
	HasSession bool
	Xid        wire.Xid
	HasXid     bool
	Op         wire.OpCode // client opcode, REQUEST opcode, or txn type
	HasOp      bool
	Zxid       wire.Zxid
	HasZxid    bool
	Code       wire.ErrCode // reply error code
	HasCode    bool
	Path       string
	Packet     wire.PacketType // quorum packet type
	Sid        int64           // sender's sid (election), learner sid (quorum); -1 if unknown
	// Instance numbers the sender's processes on the election channel
	// (1 for the first, 2 after it restarted, ...); 0 if unknown.
	Instance int
	// ConfigVersion is the version of the quorum configuration the
	// message carries (a notification's config, NEWLEADER, a reconfig txn
	// or reply, getData of /zookeeper/config).
	ConfigVersion    int64
	HasConfigVersion bool

	// Replies: the request they answer.
	Paired  bool
	ReqN    int64
	Latency time.Duration

	Text  string // note text, 4lw word or reply text, NEWLEADER config
	Error error  // KindUndecodable: why

	Parts []Part

	// Notification is set for KindNotification.
	Notification *wire.Notification
	// Snapshot is set for KindSnapshot.
	Snapshot *SnapSummary
}

func (m *Message) reset() {
	parts := m.Parts[:0]
	*m = Message{Parts: parts, Sid: -1}
}

func (m *Message) add(label string, r Record) { m.Parts = append(m.Parts, Part{Label: label, Rec: r}) }

func (m *Message) setOp(op wire.OpCode) { m.Op, m.HasOp = op, true }

func (m *Message) setXid(x wire.Xid) { m.Xid, m.HasXid = x, true }

func (m *Message) setZxid(z wire.Zxid) { m.Zxid, m.HasZxid = z, true }

func (m *Message) setSession(s wire.SessionID) { m.Session, m.HasSession = s, true }

// Sink receives messages in capture order. The message and what it points to
// are reused after the call returns.
type Sink func(m *Message)
