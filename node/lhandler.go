package node

import (
	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// The leader's side of one learner connection (LearnerHandler.java): the
// I/O. What the learner sent means and what it gets is decided by
// zab.Leader (node/zab/handler.go); this moves the packets. Two goroutines
// do it: a reader that hands every packet to the owner goroutine over
// leader.in, and the writer that sends what the owner queues (quorumConn's,
// the same at the learner's end of the link).
// A SNAP sync first spools the (fuzzy) tree walk to a temp file, then the
// writer sends SNAP, sessions, ACL map, nodes and the signature before any
// queued packet, so the proposals committed during the walk follow it;
// NEWLEADER is queued when the walk ends, after them (LearnerHandler.run).

// learnerHandler is one connected learner. Owner-goroutine fields are
// marked; the rest belongs to the I/O goroutines.
type learnerHandler struct {
	// quorumConn is the connection, its queue and its writer (the
	// leader's end of the link; quorumconn.go).
	quorumConn
	remote string
	log    zerolog.Logger

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

// queue adds packets for the writer; never blocks.
func (h *learnerHandler) queue(qps ...wire.QuorumPacket) {
	h.enqueue("send queue to the learner overflowed", qps...)
}

// writeFailed closes the link after a failed write (the writer's).
func (h *learnerHandler) writeFailed(err error) {
	h.close("write to learner failed: " + err.Error())
}

// reader hands packets to the owner until the connection fails.
func (h *learnerHandler) reader(in chan<- handlerMsg, quit <-chan struct{}) {
	for {
		qp, err := h.readPacket()
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
