package node

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// The leader's side of one learner connection (LearnerHandler.java): the
// I/O. What the learner sent means and what it gets is decided by
// zab.Leader (node/zab/handler.go); this moves the packets. Two goroutines
// do it: a reader that hands every packet to the owner goroutine over
// leader.in, and a writer that sends what the owner queues.
// A SNAP sync first spools the (fuzzy) tree walk to a temp file, then the
// writer sends SNAP, sessions, ACL map, nodes and the signature before any
// queued packet, so the proposals committed during the walk follow it;
// NEWLEADER is queued when the walk ends, after them (LearnerHandler.run).

// learnerHandler is one connected learner. Owner-goroutine fields are
// marked; the rest belongs to the I/O goroutines.
type learnerHandler struct {
	conn   net.Conn
	remote string
	log    zerolog.Logger
	rd     *timeoutReader
	br     *bufio.Reader
	bw     *bufio.Writer

	// maxRecord bounds every length in a packet from the learner
	// (Config.RecordLimit).
	maxRecord int

	mu        sync.Mutex
	outQ      []wire.QuorumPacket
	snap      *snapSpool // sent before outQ when set
	started   bool       // the writer may send outQ
	wake      chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
	reason    string

	// owner goroutine
	// link names the connection to the leadership (zab.Leader), which
	// keeps the learner's handshake and broadcast state; sid is its
	// server id once its first packet was checked.
	link zab.LinkID
	sid  int64
	// readingLog: the txn log is being read for its DIFF; fromLog is what
	// was read (syncLearner).
	readingLog bool
	fromLog    *logRead
	gone       bool
}

// handlerMsg is a packet (or the read error that ended the connection).
type handlerMsg struct {
	h   *learnerHandler
	qp  wire.QuorumPacket
	err error
	// logRead: the txns a DIFF needs from the txn log, read off the owner
	// goroutine (syncLearner); qp and err are unused then.
	logRead *logRead
}

// logRead is the outcome of reading the txn log for a learner's DIFF.
type logRead struct {
	peer    wire.Zxid
	entries []zab.Committed
}

func (h *learnerHandler) close(reason string) {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.reason = reason
		h.mu.Unlock()
		close(h.closed)
		h.conn.Close()
	})
}

func (h *learnerHandler) isClosed() bool {
	select {
	case <-h.closed:
		return true
	default:
		return false
	}
}

func (h *learnerHandler) closeReason() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reason
}

// queue adds packets for the writer; never blocks.
func (h *learnerHandler) queue(qps ...wire.QuorumPacket) {
	h.mu.Lock()
	h.outQ = append(h.outQ, qps...)
	n := len(h.outQ)
	h.mu.Unlock()
	if n > linkQueueLimit {
		h.close("send queue to the learner overflowed")
		return
	}
	h.poke()
}

// startSending lets the writer send the queue (Java's startSendingPackets).
func (h *learnerHandler) startSending() {
	h.mu.Lock()
	h.started = true
	h.mu.Unlock()
	h.poke()
}

func (h *learnerHandler) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func bufio256(r io.Reader) *bufio.Reader    { return bufio.NewReaderSize(r, 256<<10) }
func bufioWriter(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, 64<<10) }

// reader hands packets to the owner until the connection fails.
func (h *learnerHandler) reader(in chan<- handlerMsg, quit <-chan struct{}) {
	for {
		qp, err := wire.ReadQuorumPacket(h.br, h.maxRecord)
		select {
		case in <- handlerMsg{h: h, qp: qp, err: err}:
		case <-h.closed:
			return
		case <-quit:
			return
		}
		if err != nil {
			return
		}
	}
}

// writer sends the SNAP stream (if any) and then the queued packets.
func (h *learnerHandler) writer(writeTimeout time.Duration) {
	defer func() {
		h.mu.Lock()
		sp := h.snap
		h.mu.Unlock()
		if sp != nil {
			sp.discard()
		}
	}()
	var batch []wire.QuorumPacket
	for {
		select {
		case <-h.wake:
		case <-h.closed:
			return
		}
		// NB: batch must be emptied each time: when the queue is held back
		// behind a snapshot nothing is taken, and re-sending the previous
		// (already written, zeroed) packets would corrupt the stream.
		batch = batch[:0]
		h.mu.Lock()
		sp, started := h.snap, h.started
		if sp != nil && sp.ready() {
			h.snap = nil
		} else {
			sp = nil
		}
		if started && h.snap == nil {
			batch, h.outQ = h.outQ, batch[:0]
		}
		h.mu.Unlock()
		if sp != nil {
			err := sp.send(h.conn, h.bw, writeTimeout)
			sp.discard()
			if err != nil {
				h.close("sending the snapshot: " + err.Error())
				return
			}
			h.poke()
		}
		if len(batch) == 0 {
			continue
		}
		h.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		var err error
		for i := range batch {
			if err = writePacket(h.bw, &batch[i]); err != nil {
				break
			}
			batch[i] = wire.QuorumPacket{}
		}
		if err == nil {
			err = h.bw.Flush()
		}
		if err != nil {
			h.close("write to learner failed: " + err.Error())
			return
		}
	}
}

// snapSpool holds a SNAP sync's node records in a temp file while the tree
// is walked; once the walk is done the owner fills in the head (sessions
// and ACL map taken at the end, so every ACL a node refers to is there),
// which the writer encodes (encodeSnapHead) before the nodes.
type snapSpool struct {
	zxid  wire.Zxid
	f     *os.File
	w     *bufio.Writer
	err   error
	mu    sync.Mutex
	head  storage.SnapshotTail // sessions and ACL map, set when the walk is done
	done  bool
	nodes int
}

func newSnapSpool(dir string, zxid wire.Zxid) (*snapSpool, error) {
	f, err := os.CreateTemp(dir, "snapsync-*.tmp")
	if err != nil {
		return nil, err
	}
	// Unlinked at once: nothing is left behind if the process dies.
	os.Remove(f.Name())
	return &snapSpool{zxid: zxid, f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

// write spools encoded node records (owner goroutine; a local file).
func (sp *snapSpool) write(b []byte) {
	if sp.err == nil {
		_, sp.err = sp.w.Write(b)
	}
}

// finish records the stream head once the walk is complete.
func (sp *snapSpool) finish(head storage.SnapshotTail) {
	if sp.err == nil {
		sp.err = sp.w.Flush()
	}
	sp.mu.Lock()
	sp.head, sp.done = head, true
	sp.mu.Unlock()
}

func (sp *snapSpool) ready() bool {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.done
}

// send writes SNAP, the head, the spooled nodes, "/" and "BenWasHere".
func (sp *snapSpool) send(conn net.Conn, bw *bufio.Writer, timeout time.Duration) error {
	if sp.err != nil {
		return sp.err
	}
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	conn.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := bw.Write(encodeSnapHead(sp.zxid, &sp.head)); err != nil {
		return err
	}
	buf := make([]byte, 256<<10)
	for {
		n, err := sp.f.Read(buf)
		if n > 0 {
			conn.SetWriteDeadline(time.Now().Add(timeout))
			if _, werr := bw.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the snapshot spool: %w", err)
		}
	}
	var jw jute.Writer
	jw.String("/")
	jw.String(wire.SnapSignature)
	if _, err := bw.Write(jw.Bytes()); err != nil {
		return err
	}
	conn.SetWriteDeadline(time.Now().Add(timeout))
	return bw.Flush()
}

func (sp *snapSpool) discard() {
	sp.f.Close()
}
