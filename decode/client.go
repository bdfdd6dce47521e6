package decode

import (
	"encoding/binary"
	"errors"
	"strconv"
	"time"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// Client channel (spec §10): i32-length-prefixed frames. The connecting
// side sends a ConnectRequest (or a four-letter word instead), then
// RequestHeader+record frames; the server answers a ConnectResponse, then
// ReplyHeader+record frames, watch events (xid -1) in between.
//
// Replies are paired with requests on the same connection by xid: the
// reply's record type comes from the request's opcode, and the latency is
// the time between the two.

// Client decode errors.
var (
	ErrShortHeader   = errors.New("decode: frame shorter than its header")
	ErrUnknownOpcode = errors.New("decode: unknown opcode")
)

// pending is a request waiting for its reply.
type pending struct {
	xid  wire.Xid
	op   wire.OpCode
	n    int64
	t    time.Time
	path string
}

type clientState struct {
	fourLetter bool
	word       string
	wordN      int64
	wordT      time.Time
	text       []byte
	textLen    int64
	replied    bool

	connectSeen bool
	connectN    int64
	connectT    time.Time

	pending   []pending
	head      int
	pathBytes int64 // bytes of the paths in pending (for Conn.held)
}

func (cs *clientState) push(p pending, max int, d *Decoder) {
	if cs.head > 0 && cs.head*2 >= len(cs.pending) {
		n := copy(cs.pending, cs.pending[cs.head:])
		clear(cs.pending[n:])
		cs.pending = cs.pending[:n]
		cs.head = 0
	}
	if len(cs.pending)-cs.head >= max {
		cs.pathBytes -= int64(len(cs.pending[cs.head].path))
		cs.pending[cs.head] = pending{}
		cs.head++
		d.counts.Unanswered++
	}
	cs.pending = append(cs.pending, p)
	cs.pathBytes += int64(len(p.path))
}

// take removes and returns the oldest pending request with xid.
func (cs *clientState) take(xid wire.Xid) (pending, bool) {
	for i := cs.head; i < len(cs.pending); i++ {
		if cs.pending[i].xid != xid {
			continue
		}
		p := cs.pending[i]
		cs.pathBytes -= int64(len(p.path))
		if i == cs.head {
			cs.pending[i] = pending{}
			cs.head++
		} else {
			copy(cs.pending[i:], cs.pending[i+1:])
			cs.pending[len(cs.pending)-1] = pending{}
			cs.pending = cs.pending[:len(cs.pending)-1]
		}
		if cs.head == len(cs.pending) {
			cs.pending, cs.head = cs.pending[:0], 0
		}
		return p, true
	}
	return pending{}, false
}

func (c *Conn) stepClient(dir Dir, b []byte) int {
	cs := &c.client
	h := &c.h[dir]
	d := c.d
	if cs.fourLetter {
		if dir == FromServer {
			cs.textLen += int64(len(b))
			if room := maxFourLetterText - len(cs.text); room > 0 {
				cs.text = append(cs.text, b[:min(room, len(b))]...)
			}
		}
		// Java reads only the word; what else the client sends (a
		// newline from nc) is not read.
		return len(b)
	}
	first := h.msgs == 0 && !h.mid
	if first && dir == ToServer {
		if len(b) < 4 {
			return 0
		}
		if w, ok := wire.IsFourLetterWord(b); ok {
			return c.fourLetterWord(w, b)
		}
	}
	bodyLen, ok, err := wire.PeekFrame(b, d.cfg.MaxFrame)
	if err != nil {
		c.fail(dir, err)
		return 0
	}
	if !ok || len(b) < wire.FrameHeaderSize+bodyLen {
		return 0
	}
	size := wire.FrameHeaderSize + bodyLen
	body := b[wire.FrameHeaderSize:size]
	h.msgs++
	switch {
	case first && dir == ToServer:
		c.connectRequest(body, size)
	case first && dir == FromServer && !c.h[ToServer].mid:
		c.connectReply(body, size)
	case dir == ToServer:
		c.request(body, size)
	default:
		c.reply(body, size)
	}
	return size
}

func (c *Conn) fourLetterWord(w string, b []byte) int {
	cs := &c.client
	d := c.d
	size := 4
	var mask int64
	if w == "stmk" { // set trace mask: the word is followed by the mask
		if len(b) < 12 {
			return 0
		}
		mask = int64(binary.BigEndian.Uint64(b[4:]))
		size = 12
	}
	cs.fourLetter = true
	cs.word = w
	c.h[ToServer].msgs++
	m := d.begin(c, ToServer, KindFourLetter, c.h[ToServer].off, int64(size))
	m.Name = w
	m.Text = w
	f := newFields("org.apache.zookeeper.server.command.FourLetterCommands").str("cmd", w)
	if size == 12 {
		f.long("traceMask", mask)
	}
	m.add("command", f)
	cs.wordN, cs.wordT = m.N, m.Time
	d.emit(m)
	return size
}

// fourLetterReply emits the text a server sent back for a four-letter word.
func (c *Conn) fourLetterReply() {
	cs := &c.client
	if cs.replied || cs.textLen == 0 {
		return
	}
	cs.replied = true
	d := c.d
	h := &c.h[FromServer]
	m := d.begin(c, FromServer, KindFourLetterReply, h.off-cs.textLen+int64(len(h.buf)), cs.textLen)
	if m.Offset < 0 {
		m.Offset = 0
	}
	m.Name = cs.word
	m.Text = string(cs.text)
	m.Paired, m.ReqN, m.Latency = cs.wordN != 0, cs.wordN, m.Time.Sub(cs.wordT)
	f := newFields("org.apache.zookeeper.server.command.FourLetterCommands").str("cmd", cs.word).str("response", m.Text)
	if int64(len(cs.text)) < cs.textLen {
		f.long("responseBytes", cs.textLen)
	}
	m.add("reply", f)
	h.msgs++
	d.emit(m)
}

func (c *Conn) connectRequest(body []byte, size int) {
	d := c.d
	h := &c.h[ToServer]
	req, err := wire.DecodeConnect(body)
	m := d.begin(c, ToServer, KindConnect, h.off, int64(size))
	m.Name = "connect"
	if err != nil {
		m.Kind, m.Name, m.Error = KindUndecodable, "undecodable", errors.Join(errors.New("decode: ConnectRequest"), err)
		d.emit(m)
		return
	}
	cs := &c.client
	cs.connectSeen, cs.connectN, cs.connectT = true, m.N, m.Time
	if req.SessionID != 0 {
		c.info.Session = req.SessionID
		m.setSession(req.SessionID)
	}
	m.add("request", &req.ConnectRequest)
	if req.HasReadOnly {
		m.add("readOnly", newFields("org.apache.zookeeper.proto.ConnectRequest").bool("readOnly", req.ReadOnly))
	}
	d.emit(m)
}

func (c *Conn) connectReply(body []byte, size int) {
	d := c.d
	h := &c.h[FromServer]
	resp, err := wire.DecodeConnectReply(body)
	m := d.begin(c, FromServer, KindConnectReply, h.off, int64(size))
	m.Name = "connect"
	cs := &c.client
	if cs.connectSeen {
		m.Paired, m.ReqN, m.Latency = true, cs.connectN, m.Time.Sub(cs.connectT)
	}
	if err != nil {
		m.Kind, m.Name, m.Error = KindUndecodable, "undecodable", errors.Join(errors.New("decode: ConnectResponse"), err)
		d.emit(m)
		return
	}
	if resp.SessionID != 0 {
		c.info.Session = resp.SessionID
	}
	m.setSession(resp.SessionID)
	m.add("reply", &resp.ConnectResponse)
	if resp.HasReadOnly {
		m.add("readOnly", newFields("org.apache.zookeeper.proto.ConnectResponse").bool("readOnly", resp.ReadOnly))
	}
	d.emit(m)
}

func (c *Conn) request(body []byte, size int) {
	d := c.d
	h := &c.h[ToServer]
	m := d.begin(c, ToServer, KindRequest, h.off, int64(size))
	if len(body) < 8 {
		m.Kind, m.Name, m.Error = KindUndecodable, "undecodable", ErrShortHeader
		d.emit(m)
		return
	}
	hdr := &d.reqHdr
	hdr.Xid = wire.Xid(binary.BigEndian.Uint32(body))
	hdr.Type = wire.OpCode(binary.BigEndian.Uint32(body[4:]))
	m.setXid(hdr.Xid)
	m.setOp(hdr.Type)
	m.Name = hdr.Type.String()
	m.add("header", hdr)
	rec, has, known := d.request(hdr.Type)
	p := pending{xid: hdr.Xid, op: hdr.Type, n: m.N, t: m.Time}
	switch {
	case !known:
		m.Kind, m.Error = KindUndecodable, errors.Join(ErrUnknownOpcode, errors.New("opcode "+strconv.Itoa(int(hdr.Type))))
	case has:
		r := d.reader(body[8:], d.cfg.MaxFrame)
		rec.Decode(r)
		if err := r.Err(); err != nil {
			m.Kind, m.Error = KindUndecodable, errors.Join(errors.New("decode: "+hdr.Type.String()+" request"), err)
			break
		}
		m.Path = recordPath(rec)
		p.path = m.Path
		m.add("request", rec)
	}
	c.client.push(p, d.cfg.MaxPending, d)
	d.emit(m)
}

func (c *Conn) reply(body []byte, size int) {
	d := c.d
	h := &c.h[FromServer]
	m := d.begin(c, FromServer, KindReply, h.off, int64(size))
	if len(body) < 16 {
		m.Kind, m.Name, m.Error = KindUndecodable, "undecodable", ErrShortHeader
		d.emit(m)
		return
	}
	hdr := &d.repHdr
	hdr.Xid = wire.Xid(binary.BigEndian.Uint32(body))
	hdr.Zxid = wire.Zxid(binary.BigEndian.Uint64(body[4:]))
	hdr.Err = wire.ErrCode(binary.BigEndian.Uint32(body[12:]))
	m.setXid(hdr.Xid)
	m.add("header", hdr)
	rest := body[16:]
	if hdr.Xid == wire.XidWatchEvent {
		m.Kind = KindWatchEvent
		m.Name = "notification"
		m.setOp(wire.OpNotification)
		ev := &d.event
		r := jute.NewReaderMax(rest, d.cfg.MaxFrame)
		ev.Decode(&r)
		if err := r.Err(); err != nil {
			m.Kind, m.Error = KindUndecodable, errors.Join(errors.New("decode: WatcherEvent"), err)
		} else {
			m.Path = ev.Path
			m.add("event", ev)
		}
		d.emit(m)
		return
	}
	m.setZxid(hdr.Zxid)
	m.Code, m.HasCode = hdr.Err, true
	p, ok := c.client.take(hdr.Xid)
	if !ok {
		// The request is not in the capture (it started mid-stream): the
		// reply's type is unknown, its body stays raw.
		m.Name = "reply"
		if len(rest) > 0 {
			m.add("body", newFields("unpaired reply").buf("bytes", rest))
		}
		d.emit(m)
		return
	}
	m.Paired, m.ReqN, m.Latency = true, p.n, m.Time.Sub(p.t)
	m.setOp(p.op)
	m.Name = p.op.String()
	m.Path = p.path
	if !d.replyHasBody(p.op, hdr.Err) {
		d.emit(m)
		return
	}
	rec, has, known := d.response(p.op)
	if !known || !has {
		d.emit(m)
		return
	}
	r := d.reader(rest, d.cfg.MaxFrame)
	rec.Decode(r)
	if err := r.Err(); err != nil {
		m.Kind, m.Error = KindUndecodable, errors.Join(errors.New("decode: "+p.op.String()+" reply"), err)
		d.emit(m)
		return
	}
	if p := recordPath(rec); p != "" {
		m.Path = p // the created path of a sequential node
	}
	if gd, ok := rec.(*wire.GetDataResponse); ok && (p.op == wire.OpReconfig || m.Path == configPath) {
		m.setConfig(gd.Data)
	}
	m.add("reply", rec)
	d.emit(m)
}

// recordPath returns the znode path a request, reply or txn record names
// (the first one for multi).
func recordPath(rec any) string {
	switch r := rec.(type) {
	case *wire.CreateRequest:
		return r.Path
	case *wire.CreateTTLRequest:
		return r.Path
	case *wire.DeleteRequest:
		return r.Path
	case *wire.ExistsRequest:
		return r.Path
	case *wire.GetDataRequest:
		return r.Path
	case *wire.SetDataRequest:
		return r.Path
	case *wire.GetACLRequest:
		return r.Path
	case *wire.SetACLRequest:
		return r.Path
	case *wire.GetChildrenRequest:
		return r.Path
	case *wire.GetChildren2Request:
		return r.Path
	case *wire.SyncRequest:
		return r.Path
	case *wire.CheckVersionRequest:
		return r.Path
	case *wire.CheckWatchesRequest:
		return r.Path
	case *wire.RemoveWatchesRequest:
		return r.Path
	case *wire.GetEphemeralsRequest:
		return r.PrefixPath
	case *wire.GetAllChildrenNumberRequest:
		return r.Path
	case *wire.AddWatchRequest:
		return r.Path
	case *wire.MultiRequest:
		for _, op := range r.Ops {
			if p := recordPath(op.Op); p != "" {
				return p
			}
		}
	case *wire.CreateResponse:
		return r.Path
	case *wire.Create2Response:
		return r.Path
	case *wire.SyncResponse:
		return r.Path
	case *wire.CreateTxn:
		return r.Path
	case *wire.CreateTTLTxn:
		return r.Path
	case *wire.CreateContainerTxn:
		return r.Path
	case *wire.DeleteTxn:
		return r.Path
	case *wire.SetDataTxn:
		return r.Path
	case *wire.SetACLTxn:
		return r.Path
	case *wire.CheckVersionTxn:
		return r.Path
	}
	return ""
}
