package bench

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// ErrBadFrame means the server sent a frame the client cannot use.
var ErrBadFrame = errors.New("bench: bad frame")

// conn is a session connection of the load generator. Unlike
// internal/rawzk it keeps nothing it receives: a reader parses the reply
// header in place (Peek/Discard) and drops the body, so the client costs
// little CPU and no allocations per reply.
type conn struct {
	nc  net.Conn
	br  *bufio.Reader
	sid wire.SessionID
}

// dial connects and performs the session handshake.
func dial(addr string, timeoutMs int32) (*conn, error) { return dialBuf(addr, timeoutMs, 64<<10) }

// dialBuf is dial with a read buffer of bufSize bytes.
func dialBuf(addr string, timeoutMs int32, bufSize int) (*conn, error) {
	return dialWithin(addr, timeoutMs, bufSize, 10*time.Second, 30*time.Second)
}

// dialWithin is dialBuf with limits on the TCP connect (connect) and on
// the wait for the handshake's answer (handshake).
func dialWithin(addr string, timeoutMs int32, bufSize int, connect, handshake time.Duration) (*conn, error) {
	nc, err := net.DialTimeout("tcp", addr, connect)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if nc, err = clientConn(addr, nc); err != nil {
		return nil, err
	}
	req := wire.ConnectRequest{TimeOut: timeoutMs, Passwd: make([]byte, 16)}
	if _, err := nc.Write(wire.AppendConnect(nil, req, false, true)); err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetReadDeadline(time.Now().Add(handshake))
	c := &conn{nc: nc, br: bufio.NewReaderSize(nc, bufSize)}
	n, err := c.frameLen()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bench: handshake: %w", err)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.br, body); err != nil {
		nc.Close()
		return nil, fmt.Errorf("bench: handshake: %w", err)
	}
	_ = nc.SetReadDeadline(time.Time{})
	cr, err := wire.DecodeConnectReply(body)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if cr.SessionID == 0 {
		nc.Close()
		return nil, errors.New("bench: session refused")
	}
	c.sid = cr.SessionID
	return c, nil
}

func (c *conn) frameLen() (int, error) {
	b, err := c.br.Peek(4)
	if err != nil {
		return 0, err
	}
	n := int(int32(binary.BigEndian.Uint32(b)))
	if _, err := c.br.Discard(4); err != nil {
		return 0, err
	}
	if n < 0 || n > 16<<20 {
		return 0, fmt.Errorf("%w: length %d", ErrBadFrame, n)
	}
	return n, nil
}

// replyHeader is the part of a reply the load generator looks at.
type replyHeader struct {
	Xid wire.Xid
	Err wire.ErrCode
}

// readReply reads one reply frame and returns its header; the body is
// discarded.
func (c *conn) readReply() (replyHeader, error) {
	n, err := c.frameLen()
	if err != nil {
		return replyHeader{}, err
	}
	if n < 16 {
		return replyHeader{}, fmt.Errorf("%w: reply of %d bytes", ErrBadFrame, n)
	}
	b, err := c.br.Peek(16)
	if err != nil {
		return replyHeader{}, err
	}
	h := replyHeader{
		Xid: wire.Xid(int32(binary.BigEndian.Uint32(b))),
		Err: wire.ErrCode(int32(binary.BigEndian.Uint32(b[12:]))),
	}
	_, err = c.br.Discard(n)
	return h, err
}

// readReplyBody reads one reply frame and returns its header and a copy of
// its body (setup and checks only).
func (c *conn) readReplyBody() (replyHeader, []byte, error) {
	n, err := c.frameLen()
	if err != nil {
		return replyHeader{}, nil, err
	}
	if n < 16 {
		return replyHeader{}, nil, fmt.Errorf("%w: reply of %d bytes", ErrBadFrame, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.br, b); err != nil {
		return replyHeader{}, nil, err
	}
	h := replyHeader{
		Xid: wire.Xid(int32(binary.BigEndian.Uint32(b))),
		Err: wire.ErrCode(int32(binary.BigEndian.Uint32(b[12:]))),
	}
	return h, b[16:], nil
}

// do sends one request and waits for its reply, skipping watch events and
// pings (setup and checks only; the load loops pipeline instead).
func (c *conn) do(xid wire.Xid, op wire.OpCode, body jute.Record) (replyHeader, []byte, error) {
	if _, err := c.nc.Write(wire.AppendRequest(nil, wire.RequestHeader{Xid: xid, Type: op}, body)); err != nil {
		return replyHeader{}, nil, err
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(60 * time.Second))
	defer func() { _ = c.nc.SetReadDeadline(time.Time{}) }()
	for {
		h, b, err := c.readReplyBody()
		if err != nil {
			return h, nil, err
		}
		if h.Xid == wire.XidWatchEvent || (h.Xid == wire.XidPing && xid != wire.XidPing) {
			continue
		}
		return h, b, nil
	}
}

// closeSession sends closeSession, waits for its reply (up to d) and closes
// the socket.
func (c *conn) closeSession(d time.Duration) {
	_ = c.nc.SetDeadline(time.Now().Add(d))
	_, _, _ = c.do(1<<30, wire.OpCloseSession, nil)
	c.nc.Close()
}

// FourLetter sends a four-letter word and returns the whole answer.
func FourLetter(addr, cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(cmd)); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(c)
	return buf.String(), err
}

// Mntr returns the numeric keys of a server's mntr answer.
func Mntr(addr string) (map[string]float64, error) {
	out, err := FourLetter(addr, "mntr")
	if err != nil {
		return nil, err
	}
	return parseMntr(out), nil
}

func parseMntr(out string) map[string]float64 {
	m := map[string]float64{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "\t")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			m[k] = f
		}
	}
	return m
}
