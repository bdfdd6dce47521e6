package xchk

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

// maxFrame bounds what the harness reads: replies can exceed
// jute.maxbuffer (a getData of a 1 MiB node), never by much.
const maxFrame = 8 << 20

// errRefused means the server closed the connection without answering the
// ConnectRequest.
var errRefused = errors.New("xchk: connection closed before the ConnectResponse")

// packet is one message from the server.
type packet struct {
	h    wire.ReplyHeader
	body []byte // after the ReplyHeader
	ev   *wire.WatcherEvent
}

// conn is a raw client connection. Unlike internal/rawzk it hands packets
// over one at a time (the runner consumes them in order and nothing is
// kept), so sessions can live for millions of operations.
type conn struct {
	nc    net.Conn
	reply wire.ConnectReply

	wmu sync.Mutex

	mu     sync.Mutex
	q      []packet
	err    error
	notify chan struct{}
	done   chan struct{}
}

// dialConn connects and performs the handshake. A server that closes the
// connection without a ConnectResponse gives errRefused.
func dialConn(addr string, req wire.ConnectRequest, withReadOnly bool) (*conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if req.Passwd == nil {
		req.Passwd = make([]byte, 16)
	}
	if _, err := nc.Write(wire.AppendConnect(nil, req, false, withReadOnly)); err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReaderSize(nc, 64<<10)
	body, err := readFrame(br)
	if err != nil {
		nc.Close()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err) {
			return nil, errRefused
		}
		return nil, fmt.Errorf("xchk: handshake: %w", err)
	}
	_ = nc.SetReadDeadline(time.Time{})
	cr, err := wire.DecodeConnectReply(body)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("xchk: ConnectResponse: %w", err)
	}
	c := &conn{nc: nc, reply: cr, notify: make(chan struct{}, 1), done: make(chan struct{})}
	go c.readLoop(br)
	return c, nil
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

func readFrame(r *bufio.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(hdr[:]))
	if n < 0 || n > maxFrame {
		return nil, fmt.Errorf("xchk: frame length %d", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

func (c *conn) readLoop(br *bufio.Reader) {
	defer close(c.done)
	for {
		body, err := readFrame(br)
		var p packet
		if err == nil {
			r := jute.NewReader(body)
			p.h.Decode(&r)
			if err = r.Err(); err == nil {
				p.body = body[r.Offset():]
				if p.h.Xid == wire.XidWatchEvent {
					ev := new(wire.WatcherEvent)
					ev.Decode(&r)
					if err = r.Err(); err == nil {
						p.ev = ev
					}
				}
			}
		}
		c.mu.Lock()
		if err != nil {
			if c.err == nil {
				c.err = err
			}
		} else {
			c.q = append(c.q, p)
		}
		c.mu.Unlock()
		select {
		case c.notify <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// next returns the next packet in arrival order. It fails with the
// connection's error once the connection ended and everything before was
// consumed, or with os.ErrDeadlineExceeded-like errTimeout after d.
func (c *conn) next(d time.Duration) (packet, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		c.mu.Lock()
		if len(c.q) > 0 {
			p := c.q[0]
			c.q[0] = packet{}
			c.q = c.q[1:]
			c.mu.Unlock()
			return p, nil
		}
		err := c.err
		c.mu.Unlock()
		if err != nil {
			return packet{}, err
		}
		select {
		case <-c.notify:
		case <-timer.C:
			return packet{}, errTimeout
		}
	}
}

// errTimeout means no packet arrived in time.
var errTimeout = errors.New("xchk: timed out waiting for the server")

// write sends bytes as they are.
func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.nc.Write(b)
	return err
}

// closedByServer waits up to d for the connection to end with nothing
// more to read; it reports whether it did.
func (c *conn) closedByServer(d time.Duration) bool {
	select {
	case <-c.done:
		return true
	case <-time.After(d):
		return false
	}
}

// pending returns what arrived and was not consumed yet.
func (c *conn) pending() []packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.q
	c.q = nil
	return q
}

// close closes the socket (no closeSession).
func (c *conn) close() { _ = c.nc.Close() }
