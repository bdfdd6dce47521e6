package node

import (
	"sync/atomic"
	"time"

	"github.com/zkgo/zkgo/internal/digestmd5"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// clientConn is the server's state for one client connection. Owned by
// the server goroutine except for gone and nextClosed (set by Closed) and
// the backpressure fields (set by Submit).
type clientConn struct {
	// Fields are grouped by size so that an idle connection costs as
	// little as it can (10k idle sessions are a benchmark row).
	sink       Sink
	id         uint64
	remote     string
	nextClosed *clientConn // link in Server.closedQ
	nextParked *clientConn // link in Server.parkedQ
	// Backpressure, shared with the event loop (Submit): parked while in
	// parkedQ or Server.parked; admitted once resumed, to pass the line;
	// parkedPkts is the size of the refused batch.
	parkedPkts atomic.Int64
	parked     atomic.Bool
	admitted   atomic.Bool
	// queuedSync is set while a sync taken from pending runs: syncAfter
	// is its target (execRequest).
	queuedSync bool
	syncAfter  wire.Zxid
	// javaDone counts the packets of the batch being submitted whose
	// strings Submit has converted (event loop only).
	javaDone int
	// Receipt, from the event loop (Received): heardAt is when bytes last
	// arrived (nowMs), heard is set while cc is in Server.heardQ.
	heardAt   atomic.Int64
	heard     atomic.Bool
	nextHeard *clientConn // link in Server.heardQ

	// owner state
	ip         string
	openedAt   int64
	session    wire.SessionID // 0 until the handshake completes
	lastActive int64          // mono ms of the last packet (connection expiry)
	// auth starts as the shared ip entry of the client's address (full
	// slice: addauth appends to a copy).
	auth    []wire.ID
	pending []pendingItem // replies owed, in request order
	// job is a request of this connection done across owner rounds. The
	// writes in pending may have been sent before it (a job starts when
	// its request is processed, whether or not earlier writes are still
	// being committed); its later requests wait behind it.
	job connJob
	// lastSeq numbers the requests as they are read; reqSeq is the number
	// of the request being processed now (a queued one when it is taken
	// from pending), jobSeq that of job's request, so that a proposal's
	// seq tells whether its request came after job's (earlierPending).
	lastSeq, reqSeq, jobSeq uint64
	// queuedWrites counts the items of pending that are requests to
	// propose or forward once their turn comes (writes, a learner's
	// syncs): while there is one, a later write is queued behind it
	// rather than proposed at once, so that a session's txns are proposed
	// in the order it sent them.
	queuedWrites int
	// reqAt is when the request being processed reached the owner
	// goroutine (its latency counts from there), jobAt that of job's.
	reqAt, jobAt time.Time
	out          []byte // output accumulated this round
	stats        connStats
	gone         atomic.Bool // socket closed (set from the event loop)
	timeoutMs    int32
	outHint      int32 // size of the last round's output: the next buffer's capacity
	completed    int32 // requests answered by out
	sentPkts     int32
	// reconnectOld: a learner's reconnect waiting for REVALIDATE came
	// from a client without the readOnly byte.
	reconnectOld bool
	registered   bool
	connecting   bool // ConnectRequest in progress (createSession in flight)
	readOnly     bool
	inDirty      bool
	closing      bool // we asked the front end to close it
	closeNow     bool
	dead         bool // the socket is gone
	fourLetter   bool
	// sasl is the DIGEST-MD5 exchange in progress (sasl.go).
	sasl *digestmd5.Server
}

// pendingItem is one request awaiting its turn: either a write whose txn is
// in flight (prop) or a request that must run after earlier writes (pkt).
type pendingItem struct {
	prop *proposal
	pkt  *wire.ClientPacket
	// auth is the connection's auth when pkt was read (snap set): Java's
	// Request copies it then, so an auth read later does not apply to it.
	auth []wire.ID
	snap bool
	// syncAfter: for a sync, the last txn committed when it arrived (what
	// it must wait for, and no more: not a write its session sent after
	// it).
	syncAfter wire.Zxid
	// seq is the request's number (clientConn.lastSeq when it was read).
	seq uint64
	// write: pkt is to be proposed or forwarded (counted in queuedWrites).
	write bool
	at    time.Time // when it reached the owner goroutine
}

// connStats are the per-connection figures of the cons command.
type connStats struct {
	received, sent           int64
	lastOp                   string
	lastZxid                 wire.Zxid
	lastRespTime             int64 // wall ms
	lastLatency              int64 // ms
	minLatency, maxLatency   int64
	latencySum, latencyCount int64
	established              int64 // wall ms
	lastCxid                 wire.Xid
	wasReset                 bool
}

// reset is crst (ServerCnxn.resetStats).
func (cs *connStats) reset() {
	cs.received, cs.sent = 0, 0
	cs.minLatency, cs.maxLatency = 1<<63-1, 0
	cs.lastOp = "NA"
	cs.lastCxid = -1
	cs.lastZxid = -1
	cs.lastRespTime, cs.lastLatency = 0, 0
	cs.latencySum, cs.latencyCount = 0, 0
	cs.wasReset = true
}

// shownMin mirrors Java: minLatency starts at 0 (so reads 0) until the
// first crst; after it, it reads 0 until a request completes.
func (cs *connStats) shownMin() int64 {
	if !cs.wasReset || cs.latencyCount == 0 {
		return 0
	}
	return cs.minLatency
}

func (cs *connStats) observe(latencyMs int64) {
	cs.lastLatency = latencyMs
	if cs.wasReset && latencyMs < cs.minLatency {
		cs.minLatency = latencyMs
	}
	if latencyMs > cs.maxLatency {
		cs.maxLatency = latencyMs
	}
	cs.latencySum += latencyMs
	cs.latencyCount++
}

// reply appends a framed reply to cc's output.
func (s *Server) reply(cc *clientConn, xid wire.Xid, err wire.ErrCode, body jute.Record) {
	if cc.dead {
		return
	}
	s.replyZxid(cc, xid, s.tree.LastZxid, err, body)
}

// replyZxid is reply with an explicit header zxid.
func (s *Server) replyZxid(cc *clientConn, xid wire.Xid, zxid wire.Zxid, err wire.ErrCode, body jute.Record) {
	if cc.dead {
		return
	}
	cc.growOut()
	before := len(cc.out)
	cc.out = wire.AppendReply(cc.out, wire.ReplyHeader{Xid: xid, Zxid: zxid, Err: err}, body)
	s.replied(cc, xid, zxid, len(cc.out)-before-wire.FrameHeaderSize)
}

// replied counts a reply of size bytes (without its length prefix) just
// added to cc's output.
func (s *Server) replied(cc *clientConn, xid wire.Xid, zxid wire.Zxid, size int) {
	s.stats.observeResp(int64(size))
	cc.completed++
	cc.sentPkts++
	if xid >= 0 {
		cc.stats.lastCxid = xid
	}
	cc.stats.lastZxid = zxid
	cc.stats.lastRespTime = s.nowMs()
	s.markDirty(cc)
}

// sendEvent appends a watch notification (not a reply: completed is not
// counted).
func (s *Server) sendEvent(cc *clientConn, ev wire.WatcherEvent) {
	if cc.dead || cc.closing {
		return
	}
	cc.growOut()
	cc.out = wire.AppendWatchEvent(cc.out, ev)
	cc.sentPkts++
	s.markDirty(cc)
}

// maxOutHint caps the capacity a round's output buffer starts with.
const maxOutHint = 64 << 10

// growOut starts a round's output buffer at the size the last round needed,
// so that pipelined replies are appended without regrowing it each time.
func (cc *clientConn) growOut() {
	if cc.out == nil && cc.outHint > 0 {
		cc.out = make([]byte, 0, cc.outHint)
	}
}
