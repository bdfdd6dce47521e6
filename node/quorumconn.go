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

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/wire"
)

// quorumConn is one end of a quorum link, the same at both ends: the
// leader's learnerHandler and the learner's learnerLink embed it. It holds
// the connection and its framing (quorum packets read with every length
// bounded, written through one buffer), the queue the owner goroutine
// fills without blocking, the writer goroutine that sends it, and the
// close that ends the link's goroutines. What differs stays with each end:
// the learner dials and reads the SNAP stream that follows a SNAP; the
// leader holds its queue until the handshake allows it (startSending) and
// sends a spooled SNAP stream before it.
type quorumConn struct {
	conn net.Conn // the learner's is set once dialed, under mu
	rd   *timeoutReader
	br   *bufio.Reader
	bw   *bufio.Writer
	// maxRecord bounds every length in a packet from the other end
	// (Config.RecordLimit, as Java's BinaryInputArchive).
	maxRecord int

	mu      sync.Mutex
	outQ    []wire.QuorumPacket
	snap    *snapSpool // sent before outQ when set (the leader's SNAP)
	started bool       // the writer may send outQ
	wake    chan struct{}

	closeOnce sync.Once
	closed    chan struct{}
	reason    string
}

// initConn readies the queue and the close (before any goroutine runs).
func (c *quorumConn) initConn(maxRecord int) {
	c.maxRecord = maxRecord
	c.wake = make(chan struct{}, 1)
	c.closed = make(chan struct{})
}

// close closes the link once; reason is what closeReason reports.
func (c *quorumConn) close(reason string) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.reason = reason
		conn := c.conn
		c.mu.Unlock()
		close(c.closed)
		if conn != nil {
			conn.Close()
		}
	})
}

func (c *quorumConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// closeReason is why the link was closed ("" while open).
func (c *quorumConn) closeReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// enqueue adds packets for the writer goroutine. It never blocks; a
// queue that grows past linkQueueLimit means the other end stopped
// reading, and the link closes with overflow as the reason.
func (c *quorumConn) enqueue(overflow string, qps ...wire.QuorumPacket) {
	c.mu.Lock()
	c.outQ = append(c.outQ, qps...)
	n := len(c.outQ)
	c.mu.Unlock()
	if n > linkQueueLimit {
		c.close(overflow)
		return
	}
	c.poke()
}

// startSending lets the writer send the queue (Java's startSendingPackets).
func (c *quorumConn) startSending() {
	c.mu.Lock()
	c.started = true
	c.mu.Unlock()
	c.poke()
}

func (c *quorumConn) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// readPacket reads the next packet from the other end.
func (c *quorumConn) readPacket() (wire.QuorumPacket, error) {
	return wire.ReadQuorumPacket(c.br, c.maxRecord)
}

// writer is the link's writer goroutine: it sends the SNAP stream (if
// any) and then the queued packets, flushing after each batch, no write
// waiting longer than writeTimeout. A failed write calls failed (which
// closes the link) and ends the goroutine.
func (c *quorumConn) writer(writeTimeout time.Duration, failed func(error)) {
	defer func() {
		c.mu.Lock()
		sp := c.snap
		c.mu.Unlock()
		if sp != nil {
			sp.discard()
		}
	}()
	var batch []wire.QuorumPacket
	for {
		select {
		case <-c.wake:
		case <-c.closed:
			return
		}
		// NB: batch must be emptied each time: when the queue is held back
		// behind a snapshot nothing is taken, and re-sending the previous
		// (already written, zeroed) packets would corrupt the stream.
		batch = batch[:0]
		c.mu.Lock()
		sp, started := c.snap, c.started
		if sp != nil && sp.ready() {
			c.snap = nil
		} else {
			sp = nil
		}
		if started && c.snap == nil {
			batch, c.outQ = c.outQ, batch[:0]
		}
		c.mu.Unlock()
		if sp != nil {
			err := sp.send(c.conn, c.bw, writeTimeout)
			sp.discard()
			if err != nil {
				c.close("sending the snapshot: " + err.Error())
				return
			}
			c.poke()
		}
		if len(batch) == 0 {
			continue
		}
		if err := c.writeBatch(batch, writeTimeout); err != nil {
			failed(err)
			return
		}
	}
}

// writeBatch writes packets and flushes them; each written packet is
// zeroed (the writer reuses the slice).
func (c *quorumConn) writeBatch(batch []wire.QuorumPacket, timeout time.Duration) error {
	c.conn.SetWriteDeadline(time.Now().Add(timeout))
	for i := range batch {
		if err := writePacket(c.bw, &batch[i]); err != nil {
			return err
		}
		batch[i] = wire.QuorumPacket{}
	}
	return c.bw.Flush()
}

// bufio256 and bufioWriter are a link's read and write buffers.
func bufio256(r io.Reader) *bufio.Reader    { return bufio.NewReaderSize(r, 256<<10) }
func bufioWriter(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, 64<<10) }

func writePacket(w *bufio.Writer, qp *wire.QuorumPacket) error {
	jw := jute.NewWriter(w.AvailableBuffer())
	qp.Encode(jw)
	_, err := w.Write(jw.Bytes())
	return err
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
