// Package rawzk is a minimal raw-wire ZooKeeper client for tests, the
// conformance harness and the load generator. It can send any opcode with
// any body, pipelines freely, and records everything the server sends, in
// order, so callers can check the relative order of replies and watch
// events. It is not a general-purpose client (no reconnect logic, no
// session management beyond the handshake).
package rawzk

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// Options configure Dial.
type Options struct {
	TimeoutMs    int32          // requested session timeout (default 30000)
	SessionID    wire.SessionID // reconnect to this session (0: new)
	Passwd       []byte         // its password
	LastZxidSeen wire.Zxid
	ReadOnly     bool
	NoReadOnly   bool // omit the readOnly byte (as go-zookeeper does)
	DialTimeout  time.Duration
	// NoStream keeps no record of what arrives (Stream stays empty, Events
	// gets nothing): for a client that only needs its replies.
	NoStream bool
}

// Packet is one message received from the server, in arrival order.
type Packet struct {
	Header wire.ReplyHeader
	Body   []byte // bytes after the ReplyHeader
	Event  *wire.WatcherEvent
	At     time.Time
}

// Reply is the answer to a request.
type Reply struct {
	Header wire.ReplyHeader
	Body   []byte
	At     time.Time // when it was read
}

// Client is a connected raw client.
type Client struct {
	conn    net.Conn
	Connect wire.ConnectReply

	wmu sync.Mutex
	xid int32

	mu      sync.Mutex
	waiters map[wire.Xid][]chan Reply
	stream  []Packet
	events  chan wire.WatcherEvent
	err     error
	done    chan struct{}

	noStream bool
}

// ErrClosed means the connection ended.
var ErrClosed = errors.New("rawzk: connection closed")

// Dial connects and performs the handshake.
func Dial(addr string, opt Options) (*Client, error) {
	if opt.TimeoutMs == 0 {
		opt.TimeoutMs = 30000
	}
	if opt.DialTimeout == 0 {
		opt.DialTimeout = 5 * time.Second
	}
	conn, err := net.DialTimeout("tcp", addr, opt.DialTimeout)
	if err != nil {
		return nil, err
	}
	pw := opt.Passwd
	if pw == nil {
		pw = make([]byte, 16)
	}
	req := wire.ConnectRequest{LastZxidSeen: opt.LastZxidSeen, TimeOut: opt.TimeoutMs, SessionID: opt.SessionID, Passwd: pw}
	if _, err := conn.Write(wire.AppendConnect(nil, req, opt.ReadOnly, !opt.NoReadOnly)); err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetReadDeadline(time.Now().Add(opt.DialTimeout))
	br := bufio.NewReaderSize(conn, 64<<10)
	body, err := readFrame(br)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("rawzk: handshake: %w", err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	cr, err := wire.DecodeConnectReply(body)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := &Client{conn: conn, Connect: cr, waiters: map[wire.Xid][]chan Reply{}, events: make(chan wire.WatcherEvent, 4096),
		done: make(chan struct{}), noStream: opt.NoStream}
	go c.readLoop(br)
	return c, nil
}

// DialRaw connects without a handshake (for malformed-input tests).
func DialRaw(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }

func readFrame(r *bufio.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(hdr[:]))
	if n < 0 || n > 8<<20 {
		return nil, fmt.Errorf("rawzk: bad frame length %d", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

func (c *Client) readLoop(br *bufio.Reader) {
	defer close(c.done)
	for {
		body, err := readFrame(br)
		if err != nil {
			c.fail(err)
			return
		}
		r := jute.NewReader(body)
		var h wire.ReplyHeader
		h.Decode(&r)
		if r.Err() != nil {
			c.fail(r.Err())
			return
		}
		p := Packet{Header: h, Body: body[16:], At: time.Now()}
		if c.noStream && h.Xid == wire.XidWatchEvent {
			continue
		}
		if h.Xid == wire.XidWatchEvent {
			var ev wire.WatcherEvent
			ev.Decode(&r)
			p.Event = &ev
		}
		c.mu.Lock()
		if !c.noStream {
			c.stream = append(c.stream, p)
		}
		var ch chan Reply
		if p.Event == nil {
			if q := c.waiters[h.Xid]; len(q) > 0 {
				ch = q[0]
				if len(q) == 1 {
					delete(c.waiters, h.Xid)
				} else {
					c.waiters[h.Xid] = q[1:]
				}
			}
		}
		c.mu.Unlock()
		if p.Event != nil {
			select {
			case c.events <- *p.Event:
			default:
			}
			continue
		}
		if ch != nil {
			ch <- Reply{Header: h, Body: p.Body, At: p.At}
		}
	}
}

func (c *Client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			err = ErrClosed
		}
		c.err = err
	}
	for x, q := range c.waiters {
		for _, ch := range q {
			close(ch)
		}
		delete(c.waiters, x)
	}
}

// NextXid returns a fresh xid.
func (c *Client) NextXid() wire.Xid {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.xid++
	return wire.Xid(c.xid)
}

// Send writes a request and returns a channel for its reply.
func (c *Client) Send(xid wire.Xid, op wire.OpCode, body jute.Record) (<-chan Reply, error) {
	ch := make(chan Reply, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.waiters[xid] = append(c.waiters[xid], ch)
	c.mu.Unlock()
	b := wire.AppendRequest(nil, wire.RequestHeader{Xid: xid, Type: op}, body)
	c.wmu.Lock()
	_, err := c.conn.Write(b)
	c.wmu.Unlock()
	if err != nil {
		return nil, err
	}
	return ch, nil
}

// SendFrame writes a request frame encoded beforehand (wire.AppendRequest
// with xid) and returns a channel for its reply.
func (c *Client) SendFrame(xid wire.Xid, frame []byte) (<-chan Reply, error) {
	ch := make(chan Reply, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.waiters[xid] = append(c.waiters[xid], ch)
	c.mu.Unlock()
	c.wmu.Lock()
	_, err := c.conn.Write(frame)
	c.wmu.Unlock()
	if err != nil {
		return nil, err
	}
	return ch, nil
}

// SendFrames registers a reply waiter for each of xids and writes frames
// (the requests, already encoded, one after another) in one write, so that
// the server reads them as one pipelined batch.
func (c *Client) SendFrames(xids []wire.Xid, frames []byte) ([]<-chan Reply, error) {
	out := make([]<-chan Reply, len(xids))
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	for i, xid := range xids {
		ch := make(chan Reply, 1)
		c.waiters[xid] = append(c.waiters[xid], ch)
		out[i] = ch
	}
	c.mu.Unlock()
	c.wmu.Lock()
	_, err := c.conn.Write(frames)
	c.wmu.Unlock()
	if err != nil {
		return nil, err
	}
	return out, nil
}

// WriteRaw writes bytes as they are.
func (c *Client) WriteRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.conn.Write(b)
	return err
}

// Do sends a request and waits for its reply; resp (if non-nil) is decoded
// from a successful reply's body.
func (c *Client) Do(op wire.OpCode, body jute.Record, resp jute.Record) (wire.ReplyHeader, error) {
	xid := c.NextXid()
	if op == wire.OpPing {
		xid = wire.XidPing
	}
	ch, err := c.Send(xid, op, body)
	if err != nil {
		return wire.ReplyHeader{}, err
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return wire.ReplyHeader{}, c.Err()
		}
		if resp != nil && wire.ReplyHasBody(op, r.Header.Err) {
			rd := jute.NewReader(r.Body)
			resp.Decode(&rd)
			if err := rd.Err(); err != nil {
				return r.Header, err
			}
		}
		return r.Header, nil
	case <-time.After(20 * time.Second):
		return wire.ReplyHeader{}, errors.New("rawzk: reply timeout")
	}
}

// Events returns watch events as they arrive (buffered; excess dropped —
// Stream has them all).
func (c *Client) Events() <-chan wire.WatcherEvent { return c.events }

// Stream returns a copy of everything received so far, in order.
func (c *Client) Stream() []Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Packet(nil), c.stream...)
}

// Err returns why the connection ended, or nil.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Done is closed when the connection ends.
func (c *Client) Done() <-chan struct{} { return c.done }

// Close closes the socket (without closeSession).
func (c *Client) Close() error { return c.conn.Close() }

// CloseSession sends closeSession, waits for the reply, and closes.
func (c *Client) CloseSession() error {
	_, err := c.Do(wire.OpCloseSession, nil, nil)
	c.conn.Close()
	return err
}

// SessionID returns the session id from the handshake.
func (c *Client) SessionID() wire.SessionID { return c.Connect.SessionID }
