package faults

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// TamperMode is what a Tamper proxy does to the writes it passes.
type TamperMode string

// Tamper modes.
const (
	// TamperNone forwards everything unchanged (the control).
	TamperNone TamperMode = "none"
	// TamperDrop answers a write with a made-up success and never sends
	// it on: an acknowledged write that is lost.
	TamperDrop TamperMode = "drop"
	// TamperReorder answers a write with a made-up success at once and
	// sends it on later, swallowing the real reply: the reply overtakes
	// the write and the replies of the requests after it.
	TamperReorder TamperMode = "reorder"
)

// Opcodes the proxy looks at.
const (
	opCreate  = 1
	opSetData = 5
)

// Tamper is a TCP proxy between ZooKeeper clients and one server that
// corrupts every Every-th conditional setData (a CAS) and create it sees,
// after the first Skip writes. It exists to show the checkers catch what
// they must (the harness self-test).
type Tamper struct {
	Mode   TamperMode
	Target string
	Skip   int
	Every  int

	ln       net.Listener
	mu       sync.Mutex
	writes   int
	tampered []string
	wg       sync.WaitGroup
	delayed  sync.WaitGroup // reordered writes not yet sent on
	conns    map[net.Conn]bool
}

// StartTamper listens on 127.0.0.1:0 and proxies to target.
func StartTamper(mode TamperMode, target string, skip, every int) (*Tamper, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := &Tamper{Mode: mode, Target: target, Skip: skip, Every: every, ln: ln, conns: map[net.Conn]bool{}}
	t.wg.Add(1)
	go t.accept()
	return t, nil
}

// Addr is the proxy's address.
func (t *Tamper) Addr() string { return t.ln.Addr().String() }

// Tampered lists the writes the proxy corrupted ("setData /r/k001-2 v4",
// "create /set/e-9000000001").
func (t *Tamper) Tampered() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.tampered...)
}

// Close stops the proxy, sends on the reordered writes it still holds,
// and closes its connections. Idempotent.
func (t *Tamper) Close() error {
	err := t.ln.Close()
	t.delayed.Wait()
	t.mu.Lock()
	for c := range t.conns {
		_ = c.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
	return err
}

func (t *Tamper) track(c net.Conn, on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if on {
		t.conns[c] = true
	} else {
		delete(t.conns, c)
	}
}

func (t *Tamper) accept() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", t.Target, 2*time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		t.track(c, true)
		t.track(s, true)
		p := &tamperConn{t: t, client: c, server: s, swallow: map[int32]bool{}}
		t.wg.Add(2)
		go func() { defer t.wg.Done(); p.up() }()
		go func() { defer t.wg.Done(); p.down() }()
	}
}

// tamperConn is one client connection through the proxy.
type tamperConn struct {
	t              *Tamper
	client, server net.Conn
	wmu            sync.Mutex // client writes: real replies and made-up ones
	mu             sync.Mutex
	zxid           int64
	swallow        map[int32]bool // xids whose real reply is dropped
}

func (p *tamperConn) close() {
	_ = p.client.Close()
	_ = p.server.Close()
	p.t.track(p.client, false)
	p.t.track(p.server, false)
}

func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > 16<<20 {
		return nil, errors.New("tamper: frame too large")
	}
	buf := make([]byte, 4+n)
	copy(buf, hdr[:])
	if _, err := io.ReadFull(r, buf[4:]); err != nil {
		return nil, err
	}
	return buf, nil
}

// up copies client -> server, tampering with the chosen writes.
func (p *tamperConn) up() {
	defer p.close()
	first := true
	for {
		f, err := readFrame(p.client)
		if err != nil {
			return
		}
		if first || len(f) < 12 {
			first = false
			if _, err := p.server.Write(f); err != nil {
				return
			}
			continue
		}
		xid := int32(binary.BigEndian.Uint32(f[4:]))
		op := int32(binary.BigEndian.Uint32(f[8:]))
		if reply, what, ok := p.maybeTamper(xid, op, f[12:]); ok {
			p.wmu.Lock()
			_, err := p.client.Write(reply)
			p.wmu.Unlock()
			if err != nil {
				return
			}
			p.t.mu.Lock()
			p.t.tampered = append(p.t.tampered, what)
			p.t.mu.Unlock()
			if p.t.Mode == TamperReorder {
				p.mu.Lock()
				p.swallow[xid] = true
				p.mu.Unlock()
				p.t.delayed.Add(1)
				go func() {
					defer p.t.delayed.Done()
					time.Sleep(500 * time.Millisecond)
					_, _ = p.server.Write(f)
				}()
			}
			continue
		}
		if _, err := p.server.Write(f); err != nil {
			return
		}
	}
}

// maybeTamper decides whether this request is corrupted and builds the
// made-up reply.
func (p *tamperConn) maybeTamper(xid, op int32, body []byte) ([]byte, string, bool) {
	if p.t.Mode == TamperNone || op != opSetData && op != opCreate {
		return nil, "", false
	}
	path, rest, ok := jString(body)
	if !ok {
		return nil, "", false
	}
	var version int32 = -1
	if op == opSetData {
		_, rest2, ok := jBuffer(rest)
		if !ok || len(rest2) < 4 {
			return nil, "", false
		}
		version = int32(binary.BigEndian.Uint32(rest2))
		if version < 0 {
			return nil, "", false // only CAS writes: their new version is known
		}
	}
	p.t.mu.Lock()
	p.t.writes++
	n := p.t.writes
	p.t.mu.Unlock()
	if n <= p.t.Skip || (n-p.t.Skip)%p.t.Every != 0 {
		return nil, "", false
	}
	p.mu.Lock()
	zxid := p.zxid
	p.mu.Unlock()
	hdr := make([]byte, 4, 64)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(xid))
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(zxid))
	hdr = binary.BigEndian.AppendUint32(hdr, 0)
	var what string
	if op == opSetData {
		stat := make([]byte, 68)
		binary.BigEndian.PutUint32(stat[32:], uint32(version+1)) // version follows 4 longs
		hdr = append(hdr, stat...)
		what = fmt.Sprintf("setData %s v%d", path, version+1)
	} else {
		name := fmt.Sprintf("%s%010d", path, 9000000000+n)
		hdr = binary.BigEndian.AppendUint32(hdr, uint32(len(name)))
		hdr = append(hdr, name...)
		what = "create " + name
	}
	binary.BigEndian.PutUint32(hdr, uint32(len(hdr)-4))
	return hdr, what, true
}

func jString(b []byte) (string, []byte, bool) {
	if len(b) < 4 {
		return "", nil, false
	}
	n := int32(binary.BigEndian.Uint32(b))
	if n < 0 || int(n) > len(b)-4 {
		return "", nil, false
	}
	return string(b[4 : 4+n]), b[4+n:], true
}

func jBuffer(b []byte) ([]byte, []byte, bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := int32(binary.BigEndian.Uint32(b))
	if n < 0 {
		return nil, b[4:], true
	}
	if int(n) > len(b)-4 {
		return nil, nil, false
	}
	return b[4 : 4+n], b[4+n:], true
}

// down copies server -> client, remembering the last zxid and dropping
// the real replies of reordered writes.
func (p *tamperConn) down() {
	defer p.close()
	first := true
	for {
		f, err := readFrame(p.server)
		if err != nil {
			return
		}
		if !first && len(f) >= 16 {
			xid := int32(binary.BigEndian.Uint32(f[4:]))
			zxid := int64(binary.BigEndian.Uint64(f[8:]))
			p.mu.Lock()
			if zxid > p.zxid {
				p.zxid = zxid
			}
			drop := p.swallow[xid]
			delete(p.swallow, xid)
			p.mu.Unlock()
			if drop {
				continue
			}
		}
		first = false
		p.wmu.Lock()
		_, err = p.client.Write(f)
		p.wmu.Unlock()
		if err != nil {
			return
		}
	}
}
