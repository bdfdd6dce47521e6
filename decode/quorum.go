package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// Leader/learner channel (spec §3-§5): QuorumPackets back to back, no
// length prefix. The learner connects; the leader (or learner master)
// accepts. A SNAP packet is followed by the raw snapshot stream (§4.6),
// which is read and summarised before packets resume.

// Quorum decode errors.
var (
	ErrPayload   = errors.New("decode: malformed packet payload")
	ErrSignature = errors.New("decode: snapshot stream lacks the BenWasHere signature")
	ErrSnapCount = errors.New("decode: unreasonable count in snapshot stream")
)

type quorumState struct {
	snap [2]*snapParser // per direction, while a snapshot stream is read
}

func (c *Conn) stepQuorum(dir Dir, b []byte) int {
	if s := c.quorum.snap[dir]; s != nil {
		return c.stepSnap(dir, s, b)
	}
	d := c.d
	h := &c.h[dir]
	if h.msgs == h.auths && !h.mid {
		if len(b) < 8 {
			return 0
		}
		if int64(binary.BigEndian.Uint64(b)) == wire.QuorumAuthMagic {
			return c.quorumAuth(dir, b)
		}
	}
	qp := &d.qp
	r := jute.NewReaderMax(b, jute.QuorumMaxBuffer)
	qp.Decode(&r)
	if err := r.Err(); err != nil {
		if errors.Is(err, jute.ErrShortBuffer) {
			return 0
		}
		c.fail(dir, err)
		return 0
	}
	size := r.Offset()
	h.msgs++
	if c.info.ServerSid < 0 {
		if sid, ok := d.sidByQuorum[c.info.Server]; ok {
			c.info.ServerSid = sid // the leader, known from a config
		}
	}
	m := d.begin(c, dir, KindQuorumPacket, h.off, int64(size))
	m.Packet = qp.Type
	m.Name = qp.Type.String()
	m.setZxid(qp.Zxid)
	m.add("packet", qp)
	if err := c.quorumPayload(m, dir, qp); err != nil {
		m.Kind, m.Error = KindUndecodable, err
	}
	d.emit(m)
	if qp.Type == wire.PacketSnap && m.Kind != KindUndecodable {
		c.quorum.snap[dir] = &snapParser{start: h.off + int64(size), sum: SnapSummary{Zxid: qp.Zxid}}
	}
	return size
}

func (c *Conn) quorumAuth(dir Dir, b []byte) int {
	d := c.d
	h := &c.h[dir]
	var ap wire.QuorumAuthPacket
	r := jute.NewReaderMax(b, jute.QuorumMaxBuffer)
	ap.Decode(&r)
	if err := r.Err(); err != nil {
		if errors.Is(err, jute.ErrShortBuffer) {
			return 0
		}
		c.fail(dir, err)
		return 0
	}
	h.msgs++
	h.auths++
	m := d.begin(c, dir, KindQuorumAuth, h.off, int64(r.Offset()))
	m.Name = "QuorumAuthPacket"
	m.add("auth", &ap)
	d.emit(m)
	return r.Offset()
}

// quorumPayload decodes the data of qp into parts of m.
func (c *Conn) quorumPayload(m *Message, dir Dir, qp *wire.QuorumPacket) error {
	data := qp.Data
	switch qp.Type {
	case wire.PacketRequest:
		return c.requestPacket(m, data)
	case wire.PacketProposal, wire.PacketInform:
		return c.txnPayload(m, data)
	case wire.PacketInformAndActivate:
		if len(data) < 8 {
			return payloadErr(qp.Type, "shorter than the designated leader")
		}
		m.add("data", newFields("org.apache.zookeeper.server.quorum.Leader.informAndActivate").long("designatedLeader", int64(binary.BigEndian.Uint64(data))))
		return c.txnPayload(m, data[8:])
	case wire.PacketCommitAndActivate:
		if len(data) < 8 {
			return payloadErr(qp.Type, "shorter than the designated leader")
		}
		m.add("data", newFields("org.apache.zookeeper.server.quorum.Leader.commitAndActivate").long("designatedLeader", int64(binary.BigEndian.Uint64(data))))
		// It activates the configuration its zxid proposed.
		m.ConfigVersion, m.HasConfigVersion = int64(qp.Zxid), true
	case wire.PacketPing:
		if dir == FromServer || data == nil {
			return nil
		}
		if len(data)%12 != 0 {
			return payloadErr(qp.Type, "touch table is not a whole number of entries")
		}
		touches := make([]Fields, len(data)/12)
		for i := range touches {
			touches[i] = Fields{Name: "session"}
			touches[i].long("sessionId", int64(binary.BigEndian.Uint64(data[i*12:])))
			touches[i].int32("timeout", int32(binary.BigEndian.Uint32(data[i*12+8:])))
		}
		m.add("data", newFields("org.apache.zookeeper.server.quorum.LearnerSessionTracker.touchTable").recs("sessions", touches))
	case wire.PacketRevalidate:
		if dir == ToServer {
			id, to, err := wire.ParseRevalidateRequest(data)
			if err != nil {
				return errors.Join(ErrPayload, err)
			}
			m.setSession(id)
			m.add("data", newFields("org.apache.zookeeper.server.quorum.Learner.validateSession").long("sessionId", int64(id)).int32("timeout", to))
			return nil
		}
		id, valid, err := wire.ParseRevalidateReply(data)
		if err != nil {
			return errors.Join(ErrPayload, err)
		}
		m.setSession(id)
		m.add("data", newFields("org.apache.zookeeper.server.quorum.LearnerHandler.revalidate").long("sessionId", int64(id)).bool("valid", valid))
	case wire.PacketNewLeader:
		if data != nil {
			m.Text = string(data)
			m.setConfig(data)
			m.add("data", newFields("org.apache.zookeeper.server.quorum.QuorumVerifier").str("config", m.Text))
			c.d.learnConfig(data)
		}
	case wire.PacketFollowerInfo, wire.PacketObserverInfo:
		li, err := wire.ParseLearnerInfo(data)
		if err != nil {
			return errors.Join(ErrPayload, err)
		}
		c.info.Sid = li.ServerID
		m.Sid = li.ServerID
		m.add("data", &li)
	case wire.PacketLeaderInfo:
		v, err := wire.ParseEpochData(data)
		if err != nil {
			return errors.Join(ErrPayload, err)
		}
		m.add("data", newFields("org.apache.zookeeper.server.quorum.Learner.registerWithLeader").int32("protocolVersion", v))
	case wire.PacketAckEpoch:
		v, err := wire.ParseEpochData(data)
		if err != nil {
			return errors.Join(ErrPayload, err)
		}
		m.add("data", newFields("org.apache.zookeeper.server.quorum.LearnerHandler.ackEpoch").int32("currentEpoch", v))
	case wire.PacketAck, wire.PacketCommit, wire.PacketSync, wire.PacketUpToDate, wire.PacketDiff,
		wire.PacketTrunc, wire.PacketSnap:
		// zxid only
	default:
		return errors.Join(ErrUnknownType, errors.New("packet type "+strconv.Itoa(int(qp.Type))))
	}
	return nil
}

func payloadErr(t wire.PacketType, what string) error {
	return errors.Join(ErrPayload, errors.New(t.String()+": "+what))
}

// requestPacket decodes REQUEST data: the forwarded client request (§5.5).
func (c *Conn) requestPacket(m *Message, data []byte) error {
	hdr, body, err := wire.ParseRequestPacket(data)
	if err != nil {
		return errors.Join(ErrPayload, err)
	}
	m.setSession(hdr.SessionID)
	m.setXid(hdr.Cxid)
	m.setOp(hdr.Type)
	m.add("request", newFields("org.apache.zookeeper.server.Request").long("sessionId", int64(hdr.SessionID)).
		int32("cxid", int32(hdr.Cxid)).int32("type", int32(hdr.Type)))
	switch hdr.Type {
	case wire.OpCreateSession:
		if len(body) < 4 {
			return payloadErr(wire.PacketRequest, "createSession without a timeout")
		}
		m.add("body", newFields("org.apache.zookeeper.server.quorum.Learner.createSession").int32("timeOut", int32(binary.BigEndian.Uint32(body))))
		return nil
	case wire.OpDeleteContainer:
		m.Path = string(body)
		m.add("body", newFields("org.apache.zookeeper.server.ContainerManager.deleteContainer").str("path", m.Path))
		return nil
	}
	rec, has, known := wire.NewRequestRecord(hdr.Type)
	if !known {
		return errors.Join(ErrUnknownOpcode, errors.New("opcode "+strconv.Itoa(int(hdr.Type))))
	}
	if !has {
		return nil
	}
	r := c.d.reader(body, jute.QuorumMaxBuffer)
	rec.Decode(r)
	if err := r.Err(); err != nil {
		return errors.Join(ErrPayload, err)
	}
	m.Path = recordPath(rec)
	m.add("body", rec)
	return nil
}

// txnPayload decodes PROPOSAL/INFORM data: TxnHeader, txn, optional digest.
func (c *Conn) txnPayload(m *Message, data []byte) error {
	e, err := wire.DecodeTxnEntry(data, jute.QuorumMaxBuffer)
	if err != nil {
		return errors.Join(ErrPayload, err)
	}
	m.setSession(e.Hdr.ClientID)
	m.setXid(e.Hdr.Cxid)
	m.setOp(e.Hdr.Type)
	m.add("txnHeader", &e.Hdr)
	if e.Body != nil {
		m.Path = recordPath(e.Body)
		m.txnConfig(e.Hdr.Type, e.Body)
		m.add("txn", e.Body)
		if mt, ok := e.Body.(*wire.MultiTxn); ok {
			subs, err := wire.DecodeSubTxns(mt, jute.QuorumMaxBuffer)
			if err != nil {
				return errors.Join(ErrPayload, err)
			}
			for _, s := range subs {
				if m.Path == "" {
					m.Path = recordPath(s)
				}
				m.add("subtxn", s)
			}
		}
	}
	if e.Digest != nil {
		m.add("digest", e.Digest)
	}
	return nil
}

// Snapshot stream (spec §4.6):
//
//	i32 sessionCount, sessionCount x {i64 id, i32 timeout}
//	i32 aclCacheSize, x {i64 index, i32 n, n x ACL{i32 perms, ustring scheme, ustring id}}
//	repeat {ustring path, buffer data, i64 acl, StatPersisted (68 bytes)} until path "/"
//	ustring "BenWasHere"
type snapState uint8

const (
	snapSessionCount snapState = iota
	snapSessions
	snapACLCount
	snapACLEntry
	snapACLItem
	snapNode
	snapSignature
)

// Bounds on the counts of a snapshot stream (Java reads them unchecked;
// these are far above any real ensemble).
const (
	maxSnapSessions = 1 << 26
	maxSnapACLs     = 1 << 24
)

type snapParser struct {
	start int64
	state snapState
	left  int64 // sessions, ACL entries or ACL items still to read
	acls  int64 // ACL entries still to read (while reading items)
	sum   SnapSummary
}

func (c *Conn) stepSnap(dir Dir, s *snapParser, b []byte) int {
	h := &c.h[dir]
	d := c.d
	n, done, err := s.item(b)
	switch {
	case err != nil:
		// Report the stream up to the bad item, then look for packets.
		c.quorum.snap[dir] = nil
		d.undecodable(c, dir, s.start, h.off+int64(n)-s.start, err)
		h.synced, h.why, h.skipped = false, lostGap, 0
		h.pend, h.scanned = h.pend[:0], 0
	case done:
		c.quorum.snap[dir] = nil
		s.sum.Bytes = h.off + int64(n) - s.start
		m := d.begin(c, dir, KindSnapshot, s.start, s.sum.Bytes)
		m.Name = "snapshot"
		m.setZxid(s.sum.Zxid)
		m.Snapshot = &s.sum
		m.add("snapshot", &s.sum)
		d.emit(m)
	}
	return n
}

// item reads whole items from b: it returns the bytes used (0 when the
// next item is not complete) and whether the signature was read.
func (s *snapParser) item(b []byte) (n int, done bool, err error) {
	for {
		switch s.state {
		case snapSessionCount, snapACLCount:
			if len(b)-n < 4 {
				return n, false, nil
			}
			v := int64(int32(binary.BigEndian.Uint32(b[n:])))
			n += 4
			if s.state == snapSessionCount {
				if v < 0 || v > maxSnapSessions {
					return n, false, errors.Join(ErrSnapCount, errors.New("sessions "+strconv.FormatInt(v, 10)))
				}
				s.sum.Sessions, s.left, s.state = v, v, snapSessions
			} else {
				if v < 0 || v > maxSnapACLs {
					return n, false, errors.Join(ErrSnapCount, errors.New("ACL cache "+strconv.FormatInt(v, 10)))
				}
				s.sum.ACLEntries, s.acls, s.state = v, v, snapACLEntry
			}
		case snapSessions:
			k := min(s.left, int64((len(b)-n)/12))
			n += int(k) * 12
			s.left -= k
			if s.left > 0 {
				return n, false, nil
			}
			s.state = snapACLCount
		case snapACLEntry:
			if s.acls == 0 {
				s.state = snapNode
				continue
			}
			if len(b)-n < 12 {
				return n, false, nil
			}
			cnt := int64(int32(binary.BigEndian.Uint32(b[n+8:])))
			if cnt < -1 || cnt > maxSnapACLs {
				return n, false, errors.Join(ErrSnapCount, errors.New("ACL list "+strconv.FormatInt(cnt, 10)))
			}
			n += 12
			s.acls--
			s.left = max(cnt, 0)
			s.state = snapACLItem
		case snapACLItem:
			if s.left == 0 {
				s.state = snapACLEntry
				continue
			}
			r := jute.NewReaderMax(b[n:], jute.QuorumMaxBuffer)
			r.Int()
			skipString(&r)
			skipString(&r)
			if err := r.Err(); err != nil {
				if errors.Is(err, jute.ErrShortBuffer) {
					return n, false, nil
				}
				return n, false, err
			}
			n += r.Offset()
			s.left--
		case snapNode:
			r := jute.NewReaderMax(b[n:], jute.QuorumMaxBuffer)
			path := r.Buffer()
			if r.Err() == nil && len(path) == 1 && path[0] == '/' {
				n += r.Offset()
				s.state = snapSignature
				continue
			}
			data := r.Buffer()
			r.Long() // ACL index
			var st wire.StatPersisted
			st.Decode(&r)
			if err := r.Err(); err != nil {
				if errors.Is(err, jute.ErrShortBuffer) {
					return n, false, nil
				}
				return n, false, err
			}
			if path == nil {
				return n, false, errors.Join(ErrPayload, errors.New("null path in snapshot stream"))
			}
			n += r.Offset()
			s.sum.Nodes++
			s.sum.DataBytes += int64(len(data))
			if st.EphemeralOwner != 0 && st.EphemeralOwner != -0x8000000000000000 && uint64(st.EphemeralOwner)>>56 != 0xff {
				s.sum.Ephemerals++
			}
		case snapSignature:
			r := jute.NewReaderMax(b[n:], jute.QuorumMaxBuffer)
			sig := r.Buffer()
			if err := r.Err(); err != nil {
				if errors.Is(err, jute.ErrShortBuffer) {
					return n, false, nil
				}
				return n, false, err
			}
			n += r.Offset()
			s.sum.Signature = string(sig)
			if !bytes.Equal(sig, []byte(wire.SnapSignature)) {
				return n, false, errors.Join(ErrSignature, errors.New("got "+strconv.Quote(s.sum.Signature)))
			}
			return n, true, nil
		}
	}
}

func skipString(r *jute.Reader) { r.Buffer() }

// quorumPlausible returns the plausibility test for packets sent by the
// side playing role: learners and leaders send different packet types.
func quorumPlausible(role Dir) func([]byte) int {
	if role == ToServer {
		return learnerPlausible
	}
	return leaderPlausible
}

// Packet types each side sends (Learner/LearnerHandler).
var (
	learnerSends = [20]bool{wire.PacketRequest: true, wire.PacketAck: true, wire.PacketPing: true, wire.PacketRevalidate: true,
		wire.PacketFollowerInfo: true, wire.PacketObserverInfo: true, wire.PacketAckEpoch: true}
	leaderSends = [20]bool{wire.PacketProposal: true, wire.PacketCommit: true, wire.PacketPing: true, wire.PacketRevalidate: true,
		wire.PacketSync: true, wire.PacketInform: true, wire.PacketCommitAndActivate: true, wire.PacketNewLeader: true,
		wire.PacketUpToDate: true, wire.PacketDiff: true, wire.PacketTrunc: true, wire.PacketSnap: true,
		wire.PacketLeaderInfo: true, wire.PacketInformAndActivate: true}
)

func learnerPlausible(b []byte) int {
	if len(b) >= 4 && b[0]|b[1]|b[2] == 0 && b[3] < 20 && !learnerSends[b[3]] {
		return -1
	}
	return packetPlausible(b, ToServer)
}

func leaderPlausible(b []byte) int {
	if len(b) >= 4 && b[0]|b[1]|b[2] == 0 && b[3] < 20 && !leaderSends[b[3]] {
		return -1
	}
	return packetPlausible(b, FromServer)
}

// packetPlausible reports the size of a plausible QuorumPacket sent by
// role at the start of b (see scanChain).
func packetPlausible(b []byte, role Dir) int {
	if len(b) < 4 {
		return 0
	}
	if b[0]|b[1]|b[2] != 0 || b[3] == 0 || b[3] > 19 {
		return -1
	}
	if len(b) >= 16 {
		l := int32(binary.BigEndian.Uint32(b[12:]))
		if l < -1 || l > jute.QuorumMaxBuffer {
			return -1
		}
	}
	var qp wire.QuorumPacket
	r := jute.NewReaderMax(b, jute.QuorumMaxBuffer)
	qp.Decode(&r)
	if err := r.Err(); err != nil {
		if errors.Is(err, jute.ErrShortBuffer) {
			return 0
		}
		return -1
	}
	if len(qp.AuthInfo) > 64 {
		return -1
	}
	data := qp.Data
	ok := true
	switch qp.Type {
	case wire.PacketAck, wire.PacketCommit, wire.PacketUpToDate, wire.PacketSync, wire.PacketDiff,
		wire.PacketTrunc, wire.PacketSnap:
		ok = data == nil
	case wire.PacketPing:
		ok = len(data)%12 == 0
	case wire.PacketProposal, wire.PacketInform:
		_, err := wire.DecodeTxnEntry(data, jute.QuorumMaxBuffer)
		ok = err == nil
	case wire.PacketRequest:
		ok = len(data) >= wire.RequestPacketHeaderSize &&
			wire.OpCode(binary.BigEndian.Uint32(data[12:])).Known()
	case wire.PacketRevalidate:
		ok = len(data) == 12 && role == ToServer || len(data) == 9 && role == FromServer
	case wire.PacketNewLeader:
		ok = data == nil || utf8.Valid(data)
	case wire.PacketFollowerInfo, wire.PacketObserverInfo:
		ok = len(data) == 8 || len(data) == 12 || len(data) == 20
	case wire.PacketLeaderInfo, wire.PacketAckEpoch:
		ok = len(data) == 4
	case wire.PacketCommitAndActivate:
		ok = len(data) == 8
	case wire.PacketInformAndActivate:
		ok = len(data) >= 8+32
	}
	if !ok {
		return -1
	}
	return r.Offset()
}
