package proxy

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/zkgo/zkgo/decode"
	"github.com/zkgo/zkgo/wire"
)

// Recorder writes the proxied traffic as JSON lines (decode.RecordLine),
// one per frame plus one when a pair opens and closes; `zkgo decode` reads
// such a file back. The event loops hand lines over without blocking: when
// the writer falls behind, lines are dropped and counted.
type Recorder struct {
	w    *bufio.Writer
	c    io.Closer
	ch   chan decode.RecordLine
	done chan struct{}
	m    *Metrics
	err  error
}

// recordQueue is how many lines may wait for the writer.
const recordQueue = 1 << 14

// NewRecorder starts a Recorder writing to w (closed by Close if it is an
// io.Closer). m counts dropped lines; nil is allowed.
func NewRecorder(w io.Writer, m *Metrics) *Recorder {
	r := &Recorder{w: bufio.NewWriterSize(w, 256<<10), ch: make(chan decode.RecordLine, recordQueue),
		done: make(chan struct{}), m: m}
	if c, ok := w.(io.Closer); ok {
		r.c = c
	}
	go r.run()
	return r
}

func (r *Recorder) run() {
	defer close(r.done)
	enc := json.NewEncoder(r.w)
	for l := range r.ch {
		if err := enc.Encode(&l); err != nil && r.err == nil {
			r.err = err
		}
		if len(r.ch) == 0 {
			if err := r.w.Flush(); err != nil && r.err == nil {
				r.err = err
			}
		}
	}
}

// Close flushes and closes the output. Call it after the proxy stopped.
func (r *Recorder) Close() error {
	close(r.ch)
	<-r.done
	err := r.w.Flush()
	if r.c != nil {
		err = errors.Join(err, r.c.Close())
	}
	return errors.Join(r.err, err)
}

func (r *Recorder) put(l decode.RecordLine) {
	select {
	case r.ch <- l:
	default:
		if r.m != nil {
			r.m.recDropped.Inc()
		}
	}
}

func (r *Recorder) base(pr *pair, ev string, t time.Time) decode.RecordLine {
	return decode.RecordLine{T: t, Conn: pr.id, Event: ev, Client: pr.remote, Server: pr.upAddr}
}

func (r *Recorder) open(pr *pair) { r.put(r.base(pr, decode.RecordOpen, time.Now())) }

func (r *Recorder) close(pr *pair, by string) {
	l := r.base(pr, decode.RecordClose, time.Now())
	l.Text = "closed by " + by
	r.put(l)
}

// Directions of recorded frames.
const (
	toServer   = decode.ToServer
	fromServer = decode.FromServer
)

// frame records one frame (b includes the length prefix). kind is
// "connect" for the session handshake; path is the request's path when
// known.
func (r *Recorder) frame(pr *pair, dir decode.Dir, b []byte, t time.Time, kind, path string) {
	l := r.base(pr, decode.RecordData, t)
	l.Dir = dir.String()
	l.Frame = append([]byte(nil), b...)
	l.Path = path
	if pr.session != 0 {
		l.Session = "0x" + formatHex(uint64(pr.session))
	}
	switch {
	case pr.fourLetter:
		l.Op = "4lw"
	case kind == "connect":
		l.Op = "connect"
	case dir == toServer && len(b) >= 12:
		xid := int32(binary.BigEndian.Uint32(b[4:]))
		l.Xid = &xid
		l.Op = opLabel(wire.OpCode(int32(binary.BigEndian.Uint32(b[8:]))))
	case dir == fromServer && len(b) >= 20:
		xid := int32(binary.BigEndian.Uint32(b[4:]))
		code := int32(binary.BigEndian.Uint32(b[16:]))
		l.Xid, l.Err = &xid, &code
		if xid == int32(wire.XidWatchEvent) {
			l.Op = "watch-event"
		}
	}
	r.put(l)
}
