package proxy

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/panjf2000/gnet/v2"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// Differential mode (--shadow): each client connection also gets a
// connection to a second ensemble, on the same event loop. The client's
// requests are sent to both; the shadow gets its own session (its
// ConnectRequest asks for a new session). Only the primary's replies reach
// the client. Replies are paired by xid on both sides and compared after
// normalisation (zxids, times and session ids differ between ensembles by
// nature); watch events are compared in order. Divergences are counted and
// logged with both sides.

// shadowSide is the context of a shadow connection.
type shadowSide struct {
	pr   *pair
	addr string
}

// maxShadowLag bounds the requests or events waiting for the other side's
// answer; past it the shadow of that connection is dropped.
const maxShadowLag = 10000

// compareEntry is one request whose two replies are being compared.
type compareEntry struct {
	xid       wire.Xid
	op        wire.OpCode
	pri, sh   string
	hasPri    bool
	hasShadow bool
}

// shadowState is a pair's differential state (loop-owned).
type shadowState struct {
	conn      gnet.Conn
	addr      string
	dead      bool
	connected bool
	session   wire.SessionID
	cmp       []compareEntry
	priEv     []string
	shEv      []string
}

// shadowOpened runs on the loop when the shadow connection is registered.
func (pr *pair) shadowOpened(c gnet.Conn, addr string) gnet.Action {
	if pr.closed {
		return gnet.Close
	}
	pr.sh = &shadowState{conn: c, addr: addr}
	pr.p.m.shadowConns.Inc()
	return gnet.None
}

// shadowClosed runs on the loop when the shadow connection is gone.
func (pr *pair) shadowClosed() {
	if pr.sh == nil || pr.sh.conn == nil {
		return
	}
	pr.sh.conn = nil
	pr.p.m.shadowConns.Dec()
	pr.sh.dead = true
}

// dropShadow stops mirroring this pair.
func (pr *pair) dropShadow(reason string) {
	s := pr.sh
	if s == nil || s.dead {
		return
	}
	s.dead = true
	s.cmp, s.priEv, s.shEv = nil, nil, nil
	pr.p.m.shadowDropped.WithLabelValues(reason).Inc()
	pr.logEvent(pr.p.log.Info()).Str("shadow", s.addr).Str("reason", reason).Msg("shadow stopped for this connection")
	if s.conn != nil {
		_ = s.conn.Close()
	}
}

func (pr *pair) shadowActive() bool { return pr.sh != nil && !pr.sh.dead && pr.sh.conn != nil }

// shadowWrite mirrors bytes to the shadow.
func (pr *pair) shadowWrite(b []byte) {
	if !pr.shadowActive() || len(b) == 0 {
		return
	}
	if pr.sh.conn.OutboundBuffered() > pr.p.cfg.MaxOutbound {
		pr.dropShadow("shadow not reading")
		return
	}
	_, _ = pr.sh.conn.Write(b)
}

// shadowConnect sends the shadow a ConnectRequest for a new session.
func (pr *pair) shadowConnect(cr wire.Connect) {
	if !pr.shadowActive() {
		return
	}
	req := cr.ConnectRequest
	req.SessionID, req.LastZxidSeen, req.Passwd = 0, 0, make([]byte, 16)
	pr.shadowWrite(wire.AppendConnect(nil, req, cr.ReadOnly, cr.HasReadOnly))
}

// shadowRequest registers a mirrored request for comparison.
func (pr *pair) shadowRequest(xid wire.Xid, op wire.OpCode) {
	if !pr.shadowActive() {
		return
	}
	if len(pr.sh.cmp) >= maxShadowLag {
		pr.dropShadow("too many replies pending")
		return
	}
	pr.sh.cmp = append(pr.sh.cmp, compareEntry{xid: xid, op: op})
}

// shadowReply records one side's reply and compares when both are in.
func (pr *pair) shadowReply(fromShadow bool, xid wire.Xid, code wire.ErrCode, body []byte) {
	s := pr.sh
	if s == nil || s.dead {
		return
	}
	for i := range s.cmp {
		e := &s.cmp[i]
		if e.xid != xid || (fromShadow && e.hasShadow) || (!fromShadow && e.hasPri) {
			continue
		}
		sess := pr.session
		if fromShadow {
			sess = s.session
		}
		n := normalizeReply(e.op, code, body, sess)
		if fromShadow {
			e.sh, e.hasShadow = n, true
		} else {
			e.pri, e.hasPri = n, true
		}
		if e.hasPri && e.hasShadow {
			pr.p.m.shadowCompared.Inc()
			if e.pri != e.sh {
				pr.diverged("reply", e.op, xid, e.pri, e.sh)
			}
			s.cmp = append(s.cmp[:i], s.cmp[i+1:]...)
		}
		return
	}
}

// shadowEvent records one side's watch event and compares in order.
func (pr *pair) shadowEvent(fromShadow bool, body []byte) {
	s := pr.sh
	if s == nil || s.dead {
		return
	}
	var ev wire.WatcherEvent
	r := jute.NewReaderMax(body, len(body))
	ev.Decode(&r)
	n := fmt.Sprintf("type=%d state=%d path=%s", ev.Type, ev.State, ev.Path)
	if r.Err() != nil {
		n = "undecodable event"
	}
	if fromShadow {
		s.shEv = append(s.shEv, n)
	} else {
		s.priEv = append(s.priEv, n)
	}
	for len(s.priEv) > 0 && len(s.shEv) > 0 {
		a, b := s.priEv[0], s.shEv[0]
		s.priEv, s.shEv = s.priEv[1:], s.shEv[1:]
		pr.p.m.shadowCompared.Inc()
		if a != b {
			pr.diverged("watch event", wire.OpNotification, wire.XidWatchEvent, a, b)
		}
	}
	if len(s.priEv) > maxShadowLag || len(s.shEv) > maxShadowLag {
		pr.dropShadow("too many events pending")
	}
}

func (pr *pair) diverged(what string, op wire.OpCode, xid wire.Xid, pri, sh string) {
	pr.p.m.shadowDiverged.WithLabelValues(opLabel(op)).Inc()
	pr.logEvent(pr.p.log.Warn()).Str("shadow", pr.sh.addr).Str("what", what).Str("op", op.String()).
		Int32("xid", int32(xid)).Str("primary", pri).Str("shadowed", sh).Msg("shadow diverged")
}

// fromShadow reads the shadow's frames; nothing reaches the client.
func (pr *pair) fromShadow() gnet.Action {
	s := pr.sh
	if s == nil || s.conn == nil {
		return gnet.None
	}
	c := s.conn
	buf, _ := c.Peek(-1)
	off := 0
	for len(buf)-off >= wire.FrameHeaderSize && !s.dead {
		n := int(int32(binary.BigEndian.Uint32(buf[off:])))
		if n < 0 || n > pr.p.cfg.MaxResponse {
			pr.dropShadow("bad frame from shadow")
			break
		}
		end := off + wire.FrameHeaderSize + n
		if end > len(buf) {
			break
		}
		body := buf[off+wire.FrameHeaderSize : end]
		off = end
		if !s.connected {
			cr, err := wire.DecodeConnectReply(body)
			if err != nil || cr.TimeOut <= 0 {
				pr.dropShadow("shadow refused the session")
				break
			}
			s.connected, s.session = true, cr.SessionID
			continue
		}
		if n < 16 {
			pr.dropShadow("short reply from shadow")
			break
		}
		xid := wire.Xid(int32(binary.BigEndian.Uint32(body)))
		code := wire.ErrCode(int32(binary.BigEndian.Uint32(body[12:])))
		if xid == wire.XidWatchEvent {
			pr.shadowEvent(true, body[16:])
			continue
		}
		pr.shadowReply(true, xid, code, body[16:])
	}
	if off > 0 && !s.dead {
		_, _ = c.Discard(off)
	}
	if s.dead {
		return gnet.Close
	}
	return gnet.None
}

// normalizeReply renders a reply for comparison: the error code and the
// decoded record with zxids and times zeroed, the session's own ephemeral
// owner replaced by "self", and child lists sorted.
func normalizeReply(op wire.OpCode, code wire.ErrCode, body []byte, session wire.SessionID) string {
	if !wire.ReplyHasBody(op, code) {
		return "err=" + code.Name()
	}
	rec, has, known := wire.NewResponseRecord(op)
	if !known || !has {
		return "err=" + code.Name()
	}
	r := jute.NewReaderMax(body, len(body))
	rec.Decode(&r)
	if r.Err() != nil {
		return fmt.Sprintf("err=%s undecodable=%x", code.Name(), body)
	}
	normalizeValue(reflect.ValueOf(rec), session)
	var b strings.Builder
	b.WriteString("err=")
	b.WriteString(code.Name())
	b.WriteByte(' ')
	render(&b, reflect.ValueOf(rec))
	return b.String()
}

// render prints a record without pointer addresses.
func render(b *strings.Builder, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		render(b, v.Elem())
	case reflect.Struct:
		t := v.Type()
		b.WriteString(t.Name())
		b.WriteByte('{')
		for i := 0; i < v.NumField(); i++ {
			if !t.Field(i).IsExported() || t.Field(i).Name == "Nulls" {
				continue
			}
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(t.Field(i).Name)
			b.WriteByte(':')
			render(b, v.Field(i))
		}
		b.WriteByte('}')
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			fmt.Fprintf(b, "%q", v.Bytes())
			return
		}
		b.WriteByte('[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b.WriteByte(' ')
			}
			render(b, v.Index(i))
		}
		b.WriteByte(']')
	case reflect.String:
		fmt.Fprintf(b, "%q", v.String())
	default:
		fmt.Fprint(b, v.Interface())
	}
}

var (
	statType = reflect.TypeOf(wire.Stat{})
	zxidType = reflect.TypeOf(wire.Zxid(0))
)

func normalizeValue(v reflect.Value, session wire.SessionID) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			normalizeValue(v.Elem(), session)
		}
	case reflect.Struct:
		if v.Type() == statType && v.CanSet() {
			st := v.Addr().Interface().(*wire.Stat)
			st.Czxid, st.Mzxid, st.Pzxid, st.Ctime, st.Mtime = 0, 0, 0, 0, 0
			switch {
			case st.EphemeralOwner == int64(session) && session != 0:
				st.EphemeralOwner = -1 // "self"
			case st.EphemeralOwner != 0:
				st.EphemeralOwner = 1 // another session
			}
			return
		}
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			if !f.CanSet() {
				continue
			}
			if f.Type() == zxidType {
				f.SetInt(0)
				continue
			}
			normalizeValue(f, session)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.String {
			s := v.Interface().([]string)
			sort.Strings(s)
			return
		}
		for i := 0; i < v.Len(); i++ {
			normalizeValue(v.Index(i), session)
		}
	}
}
