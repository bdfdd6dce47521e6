package xchk

import (
	"bufio"
	"encoding/binary"
	"net"
	"sync"
	"testing"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// RewriteFunc sees every reply going to a client, with the request it
// answers (op and decoded record; record nil when the request had none or
// did not decode), and returns the reply body to send instead of body, or
// keep=false to drop the reply. Watch events come with op
// OpNotification and a nil request.
type RewriteFunc func(op wire.OpCode, req jute.Record, h *wire.ReplyHeader, body []byte) (out []byte, keep bool)

// Tamper is a TCP proxy in front of a server that rewrites its replies:
// the harness's own tests use it to break a server on purpose and check
// that the breakage is reported. It is test tooling: the server has no
// such knob.
type Tamper struct {
	ln      net.Listener
	target  string
	rewrite RewriteFunc
	mu      sync.Mutex
	conns   []net.Conn
}

// StartTamper starts a proxy to target; it stops at test cleanup.
func StartTamper(t testing.TB, target string, fn RewriteFunc) *Tamper {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Tamper{ln: ln, target: target, rewrite: fn}
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's address.
func (p *Tamper) Addr() string { return p.ln.Addr().String() }

func (p *Tamper) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

func (p *Tamper) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		t := &tamperConn{p: p, reqs: map[wire.Xid]tamperReq{}}
		go t.up(c, s)
		go t.down(s, c)
	}
}

type tamperReq struct {
	op  wire.OpCode
	rec jute.Record
}

type tamperConn struct {
	p    *Tamper
	mu   sync.Mutex
	reqs map[wire.Xid]tamperReq
}

func readRawFrame(r *bufio.Reader) ([]byte, error) { return readFrame(r) }

func writeRawFrame(w net.Conn, body []byte) error {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(body)), uint32(len(body)))
	_, err := w.Write(append(b, body...))
	return err
}

// up copies client frames to the server, noting each request.
func (t *tamperConn) up(c, s net.Conn) {
	defer c.Close()
	defer s.Close()
	br := bufio.NewReader(c)
	first := true
	for {
		body, err := readRawFrame(br)
		if err != nil {
			return
		}
		if !first && len(body) >= 8 {
			r := jute.NewReaderMax(body, maxFrame)
			var h wire.RequestHeader
			h.Decode(&r)
			rec, has, _ := wire.NewRequestRecord(h.Type)
			if has && rec != nil {
				rec.Decode(&r)
				if r.Err() != nil {
					rec = nil
				}
			} else {
				rec = nil
			}
			t.mu.Lock()
			t.reqs[h.Xid] = tamperReq{op: h.Type, rec: rec}
			t.mu.Unlock()
		}
		first = false
		if err := writeRawFrame(s, body); err != nil {
			return
		}
	}
}

// down copies server frames to the client through the rewrite function.
func (t *tamperConn) down(s, c net.Conn) {
	defer c.Close()
	defer s.Close()
	br := bufio.NewReader(s)
	first := true
	for {
		body, err := readRawFrame(br)
		if err != nil {
			return
		}
		if !first && len(body) >= 16 {
			r := jute.NewReader(body)
			var h wire.ReplyHeader
			h.Decode(&r)
			q, ok := tamperReq{op: wire.OpNotification}, true
			if h.Xid != wire.XidWatchEvent {
				t.mu.Lock()
				q, ok = t.reqs[h.Xid]
				delete(t.reqs, h.Xid)
				t.mu.Unlock()
				if h.Xid == wire.XidPing {
					q, ok = tamperReq{op: wire.OpPing}, true
				}
			}
			if ok {
				nb, keep := t.p.rewrite(q.op, q.rec, &h, body[16:])
				if !keep {
					continue
				}
				out := wire.AppendReply(nil, h, rawBody(nb))
				body = out[4:]
			}
		}
		first = false
		if err := writeRawFrame(c, body); err != nil {
			return
		}
	}
}
