package proxy

import (
	"runtime"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/zkgo/zkgo/internal/hoptrace"
)

// directWriter lets the Backend write a reply to the socket itself, from
// the goroutine that calls Send, instead of handing it to the event loop
// with AsyncWrite. AsyncWrite costs a cross-thread wake-up per reply (an
// eventfd write, then the loop's epoll_wait returning to run the task and
// its write): on a serial client that is a third of the server's
// syscalls and several microseconds of latency per request.
//
// The reply goes through a duplicate of the connection's descriptor, so
// that the number written to is never one gnet has closed and the kernel
// may have given to a new connection: the duplicate is closed exactly
// once, by whichever of the loop (OnClose) and the writer comes last, and
// never while a write is in progress. The loop never waits for a writer:
// it hands the close over instead.
//
// Replies stay in order: a direct write is made only while no AsyncWrite
// of the connection is queued and gnet's outbound buffer was empty after
// the last one; otherwise (and for whatever a direct write could not put
// in the socket buffer) the reply goes through AsyncWrite as before.
type directWriter struct {
	fd int
	// dups is the front end's count of open duplicates.
	dups *atomic.Int64
	// state: directIdle, directWriting (a Send holds the writer),
	// directClosed (the duplicate is closed), directCloseAsked (the loop
	// saw the connection close during a write: the writer closes).
	state atomic.Int32
	// queued counts AsyncWrites not yet run on the loop.
	queued atomic.Int32
	// backlog: after the last AsyncWrite, gnet still held bytes of the
	// connection (set and cleared on the loop).
	backlog atomic.Bool
}

const (
	directIdle int32 = iota
	directWriting
	directClosed
	directCloseAsked
)

// noDirect is the directWriter of a connection whose descriptor could not
// be duplicated: closed from the start, so replies take AsyncWrite.
var noDirect = func() *directWriter {
	d := &directWriter{fd: -1}
	d.state.Store(directClosed)
	return d
}()

// directReplies turns the direct path on. It was off from 613c105 to the
// next stop while a lost-write finding blamed it; the finding is Java's
// (docs/faults.md, F6: ZOOKEEPER-4394 between a Java leader and a Java
// joiner, whose window a faster writer opens more often). Tests of the
// path turn it on themselves, so they hold whatever the default.
var directReplies = true

// directCounters count the replies by path, for tests.
var directCounters struct {
	direct, async atomic.Int64
}

// startDirect duplicates the connection's descriptor for direct writes.
// Runs on the loop, once per connection, when it sends its first request
// other than a ping (idle sessions keep one descriptor). Without a
// duplicate (EMFILE, say) replies go through AsyncWrite.
//
// A duplicate is one more descriptor per busy connection: at most a
// quarter of RLIMIT_NOFILE are made (Frontend.maxDups), so that a server
// near its descriptor limit keeps accepting clients; past it replies take
// AsyncWrite.
func (c *conn) startDirect(gc gnet.Conn) {
	fe := c.fe
	if fe.dups.Add(1) > fe.maxDups.Load() {
		fe.dups.Add(-1)
		c.direct.Store(noDirect)
		return
	}
	fd, err := gc.Dup()
	if err != nil {
		fe.dups.Add(-1)
		c.direct.Store(noDirect)
		return
	}
	d := &directWriter{fd: fd, dups: &fe.dups}
	// Replies queued with AsyncWrite before now may still wait on the
	// loop: the next one goes the same way, and direct writes start once
	// it ran (the loop runs AsyncWrites in order).
	d.backlog.Store(true)
	c.direct.Store(d)
}

// closeDirect runs on the loop when the connection closes: the duplicate
// is closed now, or by the writer holding it as soon as its write ends.
func (c *conn) closeDirect() {
	d := c.direct.Load()
	if d == nil {
		return
	}
	for {
		switch d.state.Load() {
		case directIdle:
			if d.state.CompareAndSwap(directIdle, directClosed) {
				d.close()
				return
			}
		case directWriting:
			if d.state.CompareAndSwap(directWriting, directCloseAsked) {
				return
			}
		default:
			return
		}
	}
}

// acquire takes the writer for one Send. Senders wait for each other (a
// Send is never called on an event loop); false once the connection
// closed.
func (d *directWriter) acquire() bool {
	for {
		switch d.state.Load() {
		case directIdle:
			if d.state.CompareAndSwap(directIdle, directWriting) {
				return true
			}
		case directWriting:
			runtime.Gosched()
		default:
			return false
		}
	}
}

// release gives the writer back, closing the duplicate if the loop asked.
func (d *directWriter) release() {
	if !d.state.CompareAndSwap(directWriting, directIdle) {
		// directCloseAsked: only the loop moves the state from Writing.
		d.state.Store(directClosed)
		d.close()
	}
}

// close closes the duplicate (exactly once: see closeDirect and release).
func (d *directWriter) close() {
	_ = unix.Close(d.fd)
	d.dups.Add(-1)
}

// send writes b to the client: directly if direct is set and nothing of
// the connection is queued on the loop, else (and for the rest of a short
// write) through AsyncWrite. Called with the writer held.
func (d *directWriter) send(gc gnet.Conn, b []byte, direct bool) error {
	if direct && d.queued.Load() == 0 && !d.backlog.Load() {
		n, err := unix.Write(d.fd, b)
		if err == nil && n == len(b) {
			directCounters.direct.Add(1)
			hoptrace.Mark(hoptrace.Written)
			return nil
		}
		// EAGAIN, a short write, or an error: the loop writes the rest
		// (and on an error closes the connection, as for its own writes).
		if n > 0 {
			b = b[n:]
		}
	}
	d.queued.Add(1)
	directCounters.async.Add(1)
	if err := gc.AsyncWrite(b, checkOutboundDirect); err != nil {
		d.queued.Add(-1)
		return err
	}
	return nil
}

// written runs on the loop after each AsyncWrite of a connection with a
// directWriter: direct writes resume once nothing is queued or buffered.
func (d *directWriter) written(gc gnet.Conn) {
	d.backlog.Store(gc.OutboundBuffered() > 0)
	d.queued.Add(-1)
}
