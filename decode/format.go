package decode

import (
	"encoding/hex"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zkgo/zkgo/wire"
)

// Format selects how a Printer writes messages.
type Format uint8

// Output formats.
const (
	FormatLine Format = iota // one line per message: time, src -> dst, channel, type, key fields
	FormatTree               // the line, then every field of every record, indented (-V)
	FormatJSON               // one JSON object per line (stable keys, see Printer)
)

// Printer writes messages. JSON objects have the keys n, time, rel, conn,
// src, dst, channel, kind, name, offset, size, and when they apply
// session, xid, op, zxid, err, err_code, path, sid, packet, paired,
// request, latency_us, text, error, and records: a list of
// {label, type, fields} where fields holds the record's Java field names.
// Zxids and session ids are "0x..." strings, buffers base64.
type Printer struct {
	w       io.Writer
	format  Format
	absTime bool
	b       []byte
	err     error
	kv      keyVisitor
	limit   int
}

// printerBuffer is how much a Printer holds before writing.
const printerBuffer = 256 << 10

// NewPrinter returns a Printer writing to w. absTime prints capture times
// instead of seconds since the first packet. The Printer buffers: call
// Flush at the end (or SetUnbuffered for output that must not wait).
func NewPrinter(w io.Writer, f Format, absTime bool) *Printer {
	return &Printer{w: w, format: f, absTime: absTime, b: make([]byte, 0, printerBuffer+4096), limit: printerBuffer}
}

// SetUnbuffered makes the Printer write every message at once.
func (p *Printer) SetUnbuffered() { p.limit = 0 }

// Err returns the first write error.
func (p *Printer) Err() error { return p.err }

// Flush writes what the Printer holds.
func (p *Printer) Flush() error {
	if len(p.b) > 0 && p.err == nil {
		_, p.err = p.w.Write(p.b)
	}
	p.b = p.b[:0]
	return p.err
}

// Message writes m.
func (p *Printer) Message(m *Message) {
	b := p.b
	switch p.format {
	case FormatJSON:
		b = AppendJSON(b, m)
	case FormatTree:
		b = p.appendLine(b, m)
		b = AppendTree(b, m)
	default:
		b = p.appendLine(b, m)
	}
	b = append(b, '\n')
	p.b = b
	if len(b) > p.limit {
		p.Flush()
	}
}

// AppendLine appends the one-line form of m (no newline).
func AppendLine(b []byte, m *Message, absTime bool) []byte {
	p := Printer{absTime: absTime}
	return p.appendLine(b, m)
}

func (p *Printer) appendLine(b []byte, m *Message) []byte {
	absTime := p.absTime
	b = appendPadInt(b, m.N, 6)
	b = append(b, ' ')
	if absTime {
		b = m.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	} else {
		b = appendPadSeconds(b, m.Rel)
	}
	b = append(b, ' ')
	if m.Conn == nil {
		b = append(b, "capture"...)
	} else {
		b = append(b, m.Conn.route(m.Dir)...)
	}
	b = append(b, ' ')
	switch m.Kind {
	case KindUndecodable:
		b = append(b, "UNDECODABLE offset="...)
		b = strconv.AppendInt(b, m.Offset, 10)
		b = append(b, " size="...)
		b = strconv.AppendInt(b, m.Size, 10)
		if m.Name != "" && m.Name != "undecodable" && m.Name != "capture" {
			b = append(b, " type="...)
			b = append(b, m.Name...)
		}
		b = append(b, ": "...)
		if m.Error != nil {
			b = append(b, oneLine(m.Error.Error())...)
		}
		return b
	case KindNote:
		b = append(b, "NOTE offset="...)
		b = strconv.AppendInt(b, m.Offset, 10)
		b = append(b, ": "...)
		return append(b, m.Text...)
	}
	b = append(b, m.Name...)
	switch m.Kind {
	case KindConnect, KindRequest:
		b = append(b, " request"...)
	case KindConnectReply, KindReply:
		b = append(b, " reply"...)
	case KindFourLetter:
		b = append(b, " 4lw"...)
	case KindFourLetterReply:
		b = append(b, " 4lw-reply "...)
		t := m.Text
		if len(t) > 60 {
			t = t[:60] + "..."
		}
		b = strconv.AppendQuote(b, t)
		b = append(b, " bytes="...)
		b = strconv.AppendInt(b, m.Size, 10)
	}
	if m.HasSession && m.Kind != KindConnect {
		if m.Conn != nil && m.Conn.Session == m.Session {
			b = append(b, m.Conn.sessionText()...)
		} else {
			b = append(b, " session="...)
			b = appendHex(b, int64(m.Session))
		}
	}
	if m.HasXid {
		if m.Kind == KindQuorumPacket {
			b = append(b, " cxid="...)
		} else {
			b = append(b, " xid="...)
		}
		b = strconv.AppendInt(b, int64(m.Xid), 10)
	}
	if m.HasZxid {
		b = append(b, " zxid="...)
		b = appendHex(b, int64(m.Zxid))
	}
	if m.HasOp && m.Kind == KindQuorumPacket {
		if m.Packet == wire.PacketRequest {
			b = append(b, " op="...)
		} else {
			b = append(b, " txn="...)
		}
		b = append(b, m.Op.String()...)
	}
	if m.HasCode {
		b = append(b, " err="...)
		b = append(b, m.Code.Name()...)
	}
	if m.Path != "" {
		b = append(b, " path="...)
		b = append(b, m.Path...)
	}
	if m.Sid >= 0 && (m.Channel == ChannelElection || m.Kind == KindQuorumPacket) {
		if m.Kind == KindNotification {
			b = append(b, " from="...)
		} else {
			b = append(b, " sid="...)
		}
		b = strconv.AppendInt(b, m.Sid, 10)
		if m.Kind == KindNotification && m.Instance > 1 {
			b = append(b, '#')
			b = strconv.AppendInt(b, int64(m.Instance), 10)
		}
	} else if m.Kind == KindNotification {
		b = append(b, " from=unknown"...)
	}
	if m.Kind != KindFourLetter && m.Kind != KindFourLetterReply {
		b = p.appendKeyFields(b, m)
	}
	if m.HasConfigVersion {
		b = append(b, " configVersion="...)
		b = appendHex(b, m.ConfigVersion)
	}
	if m.Paired {
		b = append(b, " latency="...)
		b = appendDuration(b, m.Latency)
	} else if m.Kind == KindReply && !m.Paired && m.Xid != wire.XidWatchEvent {
		b = append(b, " (request not in capture)"...)
	}
	return b
}

// appendKeyFields adds the top-level scalar fields of the message's main
// record (buffers as their length, vectors as their size).
func (p *Printer) appendKeyFields(b []byte, m *Message) []byte {
	if m.Notification != nil {
		n := m.Notification
		b = append(b, ' ')
		b = append(b, n.State.String()...)
		b = append(b, " leader="...)
		b = strconv.AppendInt(b, n.Leader, 10)
		b = append(b, " electionEpoch="...)
		b = strconv.AppendInt(b, n.ElectionEpoch, 10)
		b = append(b, " peerEpoch="...)
		b = strconv.AppendInt(b, n.PeerEpoch, 10)
		b = append(b, " version="...)
		b = strconv.AppendInt(b, int64(n.Version), 10)
		if len(n.Config) > 0 {
			b = append(b, " config="...)
			b = strconv.AppendInt(b, int64(len(n.Config)), 10)
			b = append(b, 'B')
		}
		return b
	}
	for i := range m.Parts {
		pt := &m.Parts[i]
		switch pt.Label {
		case "header", "packet", "txnHeader":
			continue
		case "request", "reply", "event", "data", "body", "txn", "snapshot", "initial", "readOnly", "auth":
		default:
			continue
		}
		if fb, ok := fastKeyFields(b, pt.Rec); ok {
			b = fb
			continue
		}
		kv := &p.kv
		*kv = keyVisitor{b: b, rec: pt.Rec.JuteName(), m: m}
		pt.Rec.Walk(kv)
		b = kv.b
		kv.m = nil
	}
	return b
}

// fastKeyFields prints the key fields of the commonest records exactly as
// keyVisitor would, without walking them.
func fastKeyFields(b []byte, rec Record) ([]byte, bool) {
	switch r := rec.(type) {
	case *wire.GetDataRequest:
		return appendBoolField(b, " watch=", r.Watch), true
	case *wire.ExistsRequest:
		return appendBoolField(b, " watch=", r.Watch), true
	case *wire.GetChildren2Request:
		return appendBoolField(b, " watch=", r.Watch), true
	case *wire.GetDataResponse:
		return appendBufLen(b, " data=", r.Data), true
	case *wire.ExistsResponse, *wire.SetDataResponse, *wire.CreateResponse:
		return b, true // a stat or the path only
	case *wire.SetDataRequest:
		b = appendBufLen(b, " data=", r.Data)
		b = append(b, " version="...)
		return strconv.AppendInt(b, int64(r.Version), 10), true
	case *wire.GetChildren2Response:
		return appendVecLen(b, " children=", len(r.Children), r.Children == nil), true
	case *wire.CreateRequest:
		b = appendBufLen(b, " data=", r.Data)
		b = appendVecLen(b, " acl=", len(r.ACL), r.ACL == nil)
		b = append(b, " flags="...)
		b = strconv.AppendInt(b, int64(r.Flags), 10)
		b = append(b, '(')
		b = append(b, wire.CreateMode(r.Flags).String()...)
		return append(b, ')'), true
	}
	return b, false
}

func appendBoolField(b []byte, k string, v bool) []byte {
	b = append(b, k...)
	return strconv.AppendBool(b, v)
}

func appendBufLen(b []byte, k string, v []byte) []byte {
	b = append(b, k...)
	if v == nil {
		return append(b, "null"...)
	}
	b = strconv.AppendInt(b, int64(len(v)), 10)
	return append(b, 'B')
}

func appendVecLen(b []byte, k string, n int, null bool) []byte {
	b = append(b, k...)
	if null {
		n = -1
	}
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, ']')
}

// keyVisitor prints depth-0 fields as key=value.
type keyVisitor struct {
	b     []byte
	depth int
	rec   string
	m     *Message
}

func (k *keyVisitor) skip(name string) bool {
	if k.depth > 0 || name == "" {
		return true
	}
	switch name {
	case "path", "sessionId", "cxid", "zxid", "sid":
		return true // already on the line
	}
	if name == "type" && k.m.HasOp && k.m.Kind != KindWatchEvent {
		return true // the opcode is the message's name
	}
	return false
}

func (k *keyVisitor) num(name string, v int64) {
	if k.skip(name) {
		return
	}
	k.b = append(k.b, ' ')
	k.b = append(k.b, name...)
	k.b = append(k.b, '=')
	if wire.HexField(name) {
		k.b = appendHex(k.b, v)
	} else {
		k.b = strconv.AppendInt(k.b, v, 10)
	}
	if a := annotate(k.rec, name, v); a != "" {
		k.b = append(k.b, '(')
		k.b = append(k.b, a...)
		k.b = append(k.b, ')')
	}
}
func (k *keyVisitor) Byte(n string, v int8)      { k.num(n, int64(v)) }
func (k *keyVisitor) Int(n string, v int32)      { k.num(n, int64(v)) }
func (k *keyVisitor) Long(n string, v int64)     { k.num(n, v) }
func (k *keyVisitor) Float(n string, v float32)  {}
func (k *keyVisitor) Double(n string, v float64) {}
func (k *keyVisitor) Bool(n string, v bool) {
	if k.skip(n) {
		return
	}
	k.b = append(k.b, ' ')
	k.b = append(k.b, n...)
	k.b = append(k.b, '=')
	k.b = strconv.AppendBool(k.b, v)
}
func (k *keyVisitor) Buffer(n string, v []byte) {
	if k.skip(n) {
		return
	}
	k.b = append(k.b, ' ')
	k.b = append(k.b, n...)
	k.b = append(k.b, '=')
	if v == nil {
		k.b = append(k.b, "null"...)
		return
	}
	k.b = strconv.AppendInt(k.b, int64(len(v)), 10)
	k.b = append(k.b, 'B')
}
func (k *keyVisitor) String(n string, v string, null bool) {
	if k.skip(n) {
		return
	}
	k.b = append(k.b, ' ')
	k.b = append(k.b, n...)
	k.b = append(k.b, '=')
	switch {
	case null:
		k.b = append(k.b, "null"...)
	case len(v) > 80 || strings.ContainsAny(v, " \n\t\"="):
		if len(v) > 80 {
			v = v[:80] + "..."
		}
		k.b = strconv.AppendQuote(k.b, v)
	default:
		k.b = append(k.b, v...)
	}
}
func (k *keyVisitor) StartRecord(n, _ string) { k.depth++ }
func (k *keyVisitor) EndRecord()              { k.depth-- }
func (k *keyVisitor) StartVector(n string, c int) {
	if !k.skip(n) {
		k.b = append(k.b, ' ')
		k.b = append(k.b, n...)
		k.b = append(k.b, "=["...)
		k.b = strconv.AppendInt(k.b, int64(c), 10)
		k.b = append(k.b, ']')
	}
	k.depth++
}
func (k *keyVisitor) EndVector()               { k.depth-- }
func (k *keyVisitor) StartMap(n string, c int) { k.StartVector(n, c) }
func (k *keyVisitor) EndMap()                  { k.EndVector() }

// AppendTree appends every part of m as an indented field tree (each line
// preceded by a newline).
func AppendTree(b []byte, m *Message) []byte {
	if m.Kind == KindFourLetterReply {
		b = append(b, "\n    response:\n"...)
		for i, line := range strings.Split(strings.TrimRight(m.Text, "\n"), "\n") {
			if i > 0 {
				b = append(b, '\n')
			}
			b = append(b, "        "...)
			b = append(b, line...)
		}
		return b
	}
	for i := range m.Parts {
		pt := &m.Parts[i]
		b = append(b, "\n    "...)
		b = append(b, pt.Label...)
		b = append(b, ": "...)
		b = append(b, pt.Rec.JuteName()...)
		tv := treeVisitor{b: b, depth: 2, rec: []string{pt.Rec.JuteName()}}
		pt.Rec.Walk(&tv)
		b = tv.b
	}
	return b
}

type treeVisitor struct {
	b     []byte
	depth int
	rec   []string // enclosing record names
	idx   []int    // element counters of enclosing vectors (-1 in records)
}

func (t *treeVisitor) line(name string) {
	t.b = append(t.b, '\n')
	for i := 0; i < t.depth; i++ {
		t.b = append(t.b, "    "...)
	}
	if name == "" && len(t.idx) > 0 && t.idx[len(t.idx)-1] >= 0 {
		t.b = append(t.b, '[')
		t.b = strconv.AppendInt(t.b, int64(t.idx[len(t.idx)-1]), 10)
		t.b = append(t.b, ']')
		t.idx[len(t.idx)-1]++
	} else {
		t.b = append(t.b, name...)
	}
	t.b = append(t.b, ": "...)
}

func (t *treeVisitor) num(name string, v int64) {
	t.line(name)
	if wire.HexField(name) {
		t.b = appendHex(t.b, v)
	} else {
		t.b = strconv.AppendInt(t.b, v, 10)
	}
	if a := annotate(t.rec[len(t.rec)-1], name, v); a != "" {
		t.b = append(t.b, " ("...)
		t.b = append(t.b, a...)
		t.b = append(t.b, ')')
	}
}
func (t *treeVisitor) Byte(n string, v int8)  { t.num(n, int64(v)) }
func (t *treeVisitor) Int(n string, v int32)  { t.num(n, int64(v)) }
func (t *treeVisitor) Long(n string, v int64) { t.num(n, v) }
func (t *treeVisitor) Bool(n string, v bool) {
	t.line(n)
	t.b = strconv.AppendBool(t.b, v)
}
func (t *treeVisitor) Float(n string, v float32) {
	t.line(n)
	t.b = strconv.AppendFloat(t.b, float64(v), 'g', -1, 32)
}
func (t *treeVisitor) Double(n string, v float64) {
	t.line(n)
	t.b = strconv.AppendFloat(t.b, v, 'g', -1, 64)
}
func (t *treeVisitor) Buffer(n string, v []byte) {
	t.line(n)
	t.b = appendBufferText(t.b, v)
}
func (t *treeVisitor) String(n string, v string, null bool) {
	t.line(n)
	if null {
		t.b = append(t.b, "null"...)
		return
	}
	t.b = strconv.AppendQuote(t.b, v)
}
func (t *treeVisitor) StartRecord(n, typ string) {
	t.line(n)
	t.b = append(t.b, typ...)
	t.depth++
	t.rec = append(t.rec, typ)
	t.idx = append(t.idx, -1)
}
func (t *treeVisitor) EndRecord() {
	t.depth--
	t.rec = t.rec[:len(t.rec)-1]
	t.idx = t.idx[:len(t.idx)-1]
}
func (t *treeVisitor) StartVector(n string, c int) {
	t.line(n)
	if c < 0 {
		t.b = append(t.b, "null"...)
	} else {
		t.b = append(t.b, '[')
		t.b = strconv.AppendInt(t.b, int64(c), 10)
		t.b = append(t.b, ']')
	}
	t.depth++
	t.idx = append(t.idx, 0)
}
func (t *treeVisitor) EndVector() {
	t.depth--
	t.idx = t.idx[:len(t.idx)-1]
}
func (t *treeVisitor) StartMap(n string, c int) { t.StartVector(n, c) }
func (t *treeVisitor) EndMap()                  { t.EndVector() }

// appendBufferText shows a buffer as quoted text when it is text, else as
// hex (the first 64 bytes), with its length.
func appendBufferText(b []byte, v []byte) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	if utf8.Valid(v) && printableText(v) {
		s := string(v)
		if len(s) > 256 {
			s = s[:256] + "..."
		}
		b = strconv.AppendQuote(b, s)
	} else {
		n := min(len(v), 64)
		b = append(b, "0x"...)
		b = hex.AppendEncode(b, v[:n])
		if n < len(v) {
			b = append(b, "..."...)
		}
	}
	b = append(b, " ("...)
	b = strconv.AppendInt(b, int64(len(v)), 10)
	return append(b, " bytes)"...)
}

func printableText(v []byte) bool {
	for _, c := range v {
		if c < 0x20 && c != '\n' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// annotate names the value of an enum-like field.
func annotate(rec, field string, v int64) string {
	switch field {
	case "type":
		switch rec {
		case "org.apache.zookeeper.proto.RequestHeader", "org.apache.zookeeper.txn.TxnHeader",
			"org.apache.zookeeper.txn.Txn", "org.apache.zookeeper.server.Request",
			"org.apache.zookeeper.proto.MultiHeader":
			return wire.OpCode(v).String()
		case "org.apache.zookeeper.server.quorum.QuorumPacket":
			return wire.PacketType(v).String()
		case "org.apache.zookeeper.proto.WatcherEvent":
			return wire.EventType(v).String()
		case "org.apache.zookeeper.proto.CheckWatchesRequest", "org.apache.zookeeper.proto.RemoveWatchesRequest":
			return wire.WatcherType(v).String()
		}
		if strings.HasPrefix(rec, "org.apache.zookeeper.proto.") && strings.HasSuffix(rec, "Request") ||
			strings.HasSuffix(rec, "Response") || strings.HasSuffix(rec, "OpResult") {
			return wire.OpCode(v).String() // multi ops and results
		}
	case "err":
		return wire.ErrCode(v).Name()
	case "state":
		switch rec {
		case "org.apache.zookeeper.proto.WatcherEvent":
			return wire.KeeperState(v).String()
		case "org.apache.zookeeper.server.quorum.FastLeaderElection.Notification":
			return wire.ServerState(v).String()
		}
	case "flags":
		if strings.HasSuffix(rec, "CreateRequest") || strings.HasSuffix(rec, "CreateTTLRequest") {
			return wire.CreateMode(v).String()
		}
	case "mode":
		if strings.HasSuffix(rec, "AddWatchRequest") {
			return wire.AddWatchMode(v).String()
		}
	case "perms":
		return permString(v)
	case "time", "ctime", "mtime":
		if v > 0 {
			return time.UnixMilli(v).UTC().Format("2006-01-02T15:04:05.000Z")
		}
	case "protocolVersion":
		if v < 0 {
			switch v {
			case wire.ElectionProtocolV1:
				return "V1"
			case wire.ElectionProtocolV2:
				return "V2"
			}
		}
	}
	return ""
}

func permString(v int64) string {
	s := []byte("-----")
	for i, c := range "rwcda" {
		if v&(1<<i) != 0 {
			s[i] = byte(c)
		}
	}
	return string(s)
}

// AppendJSON appends m as one JSON object (no newline).
func AppendJSON(b []byte, m *Message) []byte {
	b = append(b, `{"n":`...)
	b = strconv.AppendInt(b, m.N, 10)
	if !m.Time.IsZero() {
		b = append(b, `,"time":"`...)
		b = m.Time.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = append(b, `,"rel":`...)
	b = strconv.AppendFloat(b, m.Rel.Seconds(), 'f', 6, 64)
	if m.Conn != nil {
		src, dst := m.Conn.Client, m.Conn.Server
		if m.Dir == FromServer {
			src, dst = dst, src
		}
		b = append(b, `,"conn":`...)
		b = strconv.AppendInt(b, m.Conn.ID, 10)
		b = append(b, `,"src":"`...)
		b = src.AppendTo(b)
		b = append(b, `","dst":"`...)
		b = dst.AppendTo(b)
		b = append(b, '"')
	}
	b = append(b, `,"channel":"`...)
	b = append(b, m.Channel.String()...)
	b = append(b, `","kind":"`...)
	b = append(b, m.Kind.String()...)
	b = append(b, `","name":`...)
	b = wire.AppendJSONString(b, m.Name)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, m.Offset, 10)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, m.Size, 10)
	if m.HasSession {
		b = append(b, `,"session":"`...)
		b = appendHex(b, int64(m.Session))
		b = append(b, '"')
	}
	if m.HasXid {
		b = append(b, `,"xid":`...)
		b = strconv.AppendInt(b, int64(m.Xid), 10)
	}
	if m.HasOp {
		b = append(b, `,"op":`...)
		b = wire.AppendJSONString(b, m.Op.String())
	}
	if m.HasZxid {
		b = append(b, `,"zxid":"`...)
		b = appendHex(b, int64(m.Zxid))
		b = append(b, '"')
	}
	if m.HasCode {
		b = append(b, `,"err":"`...)
		b = append(b, m.Code.Name()...)
		b = append(b, `","err_code":`...)
		b = strconv.AppendInt(b, int64(m.Code), 10)
	}
	if m.Path != "" {
		b = append(b, `,"path":`...)
		b = wire.AppendJSONString(b, m.Path)
	}
	if m.Sid >= 0 {
		b = append(b, `,"sid":`...)
		b = strconv.AppendInt(b, m.Sid, 10)
	}
	if m.Instance > 0 {
		b = append(b, `,"instance":`...)
		b = strconv.AppendInt(b, int64(m.Instance), 10)
	}
	if m.HasConfigVersion {
		b = append(b, `,"config_version":"`...)
		b = appendHex(b, m.ConfigVersion)
		b = append(b, '"')
	}
	if m.Kind == KindQuorumPacket {
		b = append(b, `,"packet":"`...)
		b = append(b, m.Packet.String()...)
		b = append(b, '"')
	}
	if m.Paired {
		b = append(b, `,"paired":true,"request":`...)
		b = strconv.AppendInt(b, m.ReqN, 10)
		b = append(b, `,"latency_us":`...)
		b = strconv.AppendFloat(b, float64(m.Latency)/1e3, 'f', 3, 64)
	}
	if m.Text != "" {
		b = append(b, `,"text":`...)
		b = wire.AppendJSONString(b, m.Text)
	}
	if m.Error != nil {
		b = append(b, `,"error":`...)
		b = wire.AppendJSONString(b, m.Error.Error())
	}
	if len(m.Parts) > 0 {
		b = append(b, `,"records":[`...)
		for i := range m.Parts {
			pt := &m.Parts[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"label":"`...)
			b = append(b, pt.Label...)
			b = append(b, `","type":`...)
			b = wire.AppendJSONString(b, pt.Rec.JuteName())
			b = append(b, `,"fields":`...)
			b = appendRecordJSON(b, pt.Rec)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendRecordJSON appends rec's fields as a JSON object.
func appendRecordJSON(b []byte, rec Record) []byte { return wire.AppendWalkJSON(b, rec) }

func appendHex(b []byte, v int64) []byte {
	b = append(b, "0x"...)
	return strconv.AppendUint(b, uint64(v), 16)
}

func appendPadInt(b []byte, v int64, w int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], v, 10)
	for i := len(s); i < w; i++ {
		b = append(b, ' ')
	}
	return append(b, s...)
}

// appendPadSeconds appends d as seconds with 6 decimals, right-aligned.
func appendPadSeconds(b []byte, d time.Duration) []byte {
	var tmp [32]byte
	s := tmp[:0]
	if d < 0 {
		s = append(s, '-')
		d = -d
	}
	us := int64(d / time.Microsecond)
	s = strconv.AppendInt(s, us/1e6, 10)
	s = append(s, '.')
	frac := us % 1e6
	for div := int64(1e5); div > 0; div /= 10 {
		s = append(s, byte('0'+frac/div%10))
	}
	for i := len(s); i < 11; i++ {
		b = append(b, ' ')
	}
	return append(b, s...)
}

func appendDuration(b []byte, d time.Duration) []byte {
	if d < 0 {
		b = append(b, '-')
		d = -d
	}
	switch {
	case d < time.Millisecond:
		b = appendFixed(b, int64(d/100), 1) // tenths of a microsecond
		return append(b, "us"...)
	case d < time.Second:
		b = appendFixed(b, int64(d/time.Microsecond), 3)
		return append(b, "ms"...)
	}
	b = appendFixed(b, int64(d/time.Millisecond), 3)
	return append(b, 's')
}

// appendFixed appends v/10^dec with dec decimals.
func appendFixed(b []byte, v int64, dec int) []byte {
	div := int64(1)
	for range dec {
		div *= 10
	}
	b = strconv.AppendInt(b, v/div, 10)
	b = append(b, '.')
	frac := v % div
	for div /= 10; div > 0; div /= 10 {
		b = append(b, byte('0'+frac/div%10))
	}
	return b
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }
