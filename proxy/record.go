package proxy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/zkgo/zkgo/decode"
	"github.com/zkgo/zkgo/wire"
)

// Recorder writes the proxied traffic as JSON lines (decode.RecordLine),
// one per frame plus one when a pair opens and closes; `zkgo decode` reads
// such a file back. The event loops hand lines over without blocking, to a
// queue bounded in bytes: when the writer falls behind (or a capped writer
// is full), lines are dropped, counted in the metrics, and a
// decode.RecordDropped line in the stream says how many went missing
// there. A file recorder rotates its file at a size cap and keeps a
// bounded number of files, so disk use is bounded too.
type Recorder struct {
	cfg RecordConfig
	m   *Metrics

	ch     chan recItem
	done   chan struct{}
	queued atomic.Int64 // bytes reserved by lines in ch
	// drops/dropBytes: lines (and their bytes) dropped on the loops and
	// not yet reported in the stream; the next queued line carries them.
	drops, dropBytes atomic.Int64

	// Writer goroutine state.
	out       io.Writer // the current file or cfg.Writer
	bw        *bufio.Writer
	f         *os.File // file mode
	size      int64    // bytes in the current file (or written to cfg.Writer)
	enc       *json.Encoder
	line      bytes.Buffer
	lost      int64 // lines dropped or not written, not yet reported in the stream
	lostBytes int64
	err       error
}

// RecordConfig configures a Recorder. Exactly one of Path and Writer is
// set.
type RecordConfig struct {
	// Path is the record file, created or truncated. When writing a line
	// would take it past MaxFileBytes, it is renamed Path.1 (Path.1 to
	// Path.2, and so on) and a new Path is started; MaxFiles files are
	// kept, the current one included, and the oldest is removed.
	Path string
	// Writer receives the lines instead of a file (closed by Close if it
	// is an io.Closer). It cannot rotate: once MaxFileBytes are written,
	// further lines are dropped (0: no cap).
	Writer io.Writer
	// MaxFileBytes caps one file (default DefaultRecordFileBytes; with
	// Writer, 0 means no cap). A single line larger than the cap is
	// written to a file of its own.
	MaxFileBytes int64
	// MaxFiles is the number of files kept with Path (default
	// DefaultRecordFiles; 1: the file is started over at the cap).
	MaxFiles int
	// MaxQueueBytes bounds the frames waiting for the writer (default
	// DefaultRecordQueueBytes): the recorder's memory.
	MaxQueueBytes int64
	// Metrics counts dropped lines and rotations; nil is allowed.
	Metrics *Metrics
}

// Record defaults.
const (
	DefaultRecordFileBytes  = 256 << 20
	DefaultRecordFiles      = 4
	DefaultRecordQueueBytes = 32 << 20
	// recordQueue bounds the queue's length (its bytes are bounded by
	// MaxQueueBytes).
	recordQueue = 1 << 14
	// lineOverhead is what a line costs besides its frame: the line's
	// fields in the queue and their JSON (base64 makes the frame 4/3 as
	// long in the file; the file cap counts the encoded line).
	lineOverhead = 256
)

type recItem struct {
	line      decode.RecordLine
	cost      int64
	drops     int64 // dropped before this line (reported ahead of it)
	dropBytes int64
}

// NewRecorder starts a Recorder writing to w (closed by Close if it is an
// io.Closer), with the default queue bound and no size cap. m counts
// dropped lines; nil is allowed.
func NewRecorder(w io.Writer, m *Metrics) *Recorder {
	r, _ := OpenRecorder(RecordConfig{Writer: w, Metrics: m})
	return r
}

// OpenRecorder validates cfg, creates the file (file mode) and starts the
// writer goroutine.
func OpenRecorder(cfg RecordConfig) (*Recorder, error) {
	if (cfg.Path == "") == (cfg.Writer == nil) {
		return nil, errors.New("proxy: record: exactly one of Path and Writer")
	}
	if cfg.MaxFileBytes < 0 || cfg.MaxFiles < 0 || cfg.MaxQueueBytes < 0 {
		return nil, errors.New("proxy: record: limits must not be negative")
	}
	if cfg.Path != "" && cfg.MaxFileBytes == 0 {
		cfg.MaxFileBytes = DefaultRecordFileBytes
	}
	if cfg.MaxFiles == 0 {
		cfg.MaxFiles = DefaultRecordFiles
	}
	if cfg.MaxQueueBytes == 0 {
		cfg.MaxQueueBytes = DefaultRecordQueueBytes
	}
	r := &Recorder{cfg: cfg, m: cfg.Metrics, ch: make(chan recItem, recordQueue), done: make(chan struct{})}
	if cfg.Path != "" {
		f, err := os.Create(cfg.Path)
		if err != nil {
			return nil, fmt.Errorf("proxy: record: %w", err)
		}
		r.f, r.out = f, f
	} else {
		r.out = cfg.Writer
	}
	r.bw = bufio.NewWriterSize(r.out, 256<<10)
	r.enc = json.NewEncoder(&r.line)
	go r.run()
	return r, nil
}

func (r *Recorder) run() {
	defer close(r.done)
	for it := range r.ch {
		r.lost += it.drops
		r.lostBytes += it.dropBytes
		r.write(&it.line)
		it.line = decode.RecordLine{}
		r.queued.Add(-it.cost)
		if len(r.ch) == 0 {
			r.setErr(r.bw.Flush())
		}
	}
}

func (r *Recorder) setErr(err error) {
	if err != nil && r.err == nil {
		r.err = err
	}
}

// write encodes l and writes it, rotating first when it would not fit.
// Lines lost before it are reported just ahead of it.
func (r *Recorder) write(l *decode.RecordLine) {
	r.line.Reset()
	if err := r.enc.Encode(l); err != nil {
		r.setErr(err)
		r.lose(int64(len(l.Frame)))
		return
	}
	n := int64(r.line.Len())
	if max := r.cfg.MaxFileBytes; max > 0 && r.size > 0 && r.size+n > max {
		if r.f == nil {
			r.lose(int64(len(l.Frame))) // a capped Writer is full
			return
		}
		if err := r.rotate(); err != nil {
			r.setErr(err)
			r.lose(int64(len(l.Frame)))
			return
		}
	}
	if r.lost > 0 {
		r.writeDropped(l.T)
	}
	if _, err := r.bw.Write(r.line.Bytes()); err != nil {
		r.setErr(err)
		r.lose(int64(len(l.Frame)))
		return
	}
	r.size += int64(n)
}

// lose counts a line the writer could not write.
func (r *Recorder) lose(bytes int64) {
	r.lost++
	r.lostBytes += bytes
	if r.m != nil {
		r.m.recDropped.Inc()
	}
}

// writeDropped writes a decode.RecordDropped line for the lines lost so
// far. It is short and is written even past a cap, so a reader learns of
// the loss where it happened.
func (r *Recorder) writeDropped(t time.Time) {
	l := decode.RecordLine{T: t, Event: decode.RecordDropped, Dropped: r.lost,
		Text: strconv.FormatInt(r.lost, 10) + " frames (" + strconv.FormatInt(r.lostBytes, 10) +
			" bytes) not recorded: the recorder's queue or file was full"}
	r.lost, r.lostBytes = 0, 0
	b, err := json.Marshal(&l)
	if err != nil {
		r.setErr(err)
		return
	}
	b = append(b, '\n')
	if _, err := r.bw.Write(b); err != nil {
		r.setErr(err)
		return
	}
	r.size += int64(len(b))
}

// rotate closes the current file, shifts the kept ones and starts a new
// one.
func (r *Recorder) rotate() error {
	if err := r.bw.Flush(); err != nil {
		return fmt.Errorf("proxy: record: %w", err)
	}
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("proxy: record: %w", err)
	}
	r.f = nil
	p := r.cfg.Path
	name := func(i int) string {
		if i == 0 {
			return p
		}
		return p + "." + strconv.Itoa(i)
	}
	keep := r.cfg.MaxFiles
	if err := os.Remove(name(keep - 1)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("proxy: record: rotate: %w", err)
	}
	for i := keep - 2; i >= 0; i-- {
		if err := os.Rename(name(i), name(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("proxy: record: rotate: %w", err)
		}
	}
	f, err := os.Create(p)
	if err != nil {
		return fmt.Errorf("proxy: record: rotate: %w", err)
	}
	r.f, r.out, r.size = f, f, 0
	r.bw.Reset(f)
	if r.m != nil {
		r.m.recRotations.Inc()
	}
	return nil
}

// Close writes what is queued, reports lines still counted as dropped,
// and closes the output. Call it after the proxy stopped.
func (r *Recorder) Close() error {
	close(r.ch)
	<-r.done
	r.lost += r.drops.Swap(0)
	r.lostBytes += r.dropBytes.Swap(0)
	if r.lost > 0 {
		r.writeDropped(time.Now())
	}
	err := r.bw.Flush()
	if r.f != nil {
		err = errors.Join(err, r.f.Close())
	} else if c, ok := r.cfg.Writer.(io.Closer); ok {
		err = errors.Join(err, c.Close())
	}
	return errors.Join(r.err, err)
}

// reserve takes room for a line carrying a frame of n bytes in the queue;
// false: the queue is full and the line is dropped (counted).
func (r *Recorder) reserve(n int) (int64, bool) {
	cost := int64(n) + lineOverhead
	if r.queued.Add(cost) > r.cfg.MaxQueueBytes {
		r.queued.Add(-cost)
		r.dropped(int64(n))
		return 0, false
	}
	return cost, true
}

func (r *Recorder) dropped(bytes int64) {
	r.drops.Add(1)
	r.dropBytes.Add(bytes)
	if r.m != nil {
		r.m.recDropped.Inc()
	}
}

// put queues l, which holds cost reserved bytes.
func (r *Recorder) put(l decode.RecordLine, cost int64) {
	it := recItem{line: l, cost: cost, drops: r.drops.Swap(0)}
	if it.drops > 0 {
		it.dropBytes = r.dropBytes.Swap(0)
	}
	select {
	case r.ch <- it:
	default:
		r.queued.Add(-cost)
		r.drops.Add(it.drops)
		r.dropBytes.Add(it.dropBytes)
		r.dropped(int64(len(l.Frame)))
	}
}

func (r *Recorder) base(pr *pair, ev string, t time.Time) decode.RecordLine {
	return decode.RecordLine{T: t, Conn: pr.id, Event: ev, Client: pr.remote, Server: pr.upAddr}
}

func (r *Recorder) open(pr *pair) {
	if cost, ok := r.reserve(0); ok {
		r.put(r.base(pr, decode.RecordOpen, time.Now()), cost)
	}
}

func (r *Recorder) close(pr *pair, by string) {
	if cost, ok := r.reserve(0); ok {
		l := r.base(pr, decode.RecordClose, time.Now())
		l.Text = "closed by " + by
		r.put(l, cost)
	}
}

// Directions of recorded frames.
const (
	toServer   = decode.ToServer
	fromServer = decode.FromServer
)

// frame records one frame (b includes the length prefix). kind is
// "connect" for the session handshake; path is the request's path when
// known. The frame is copied only once the queue has room for it.
func (r *Recorder) frame(pr *pair, dir decode.Dir, b []byte, t time.Time, kind, path string) {
	cost, ok := r.reserve(len(b))
	if !ok {
		return
	}
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
	r.put(l, cost)
}
