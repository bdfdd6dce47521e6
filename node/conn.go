package node

import (
	"math"
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
	// Every idle session has one (10k idle sessions are a benchmark row):
	// the fields are grouped by size, 8-byte words first, so that it stays
	// in the 384-byte size class (TestClientConnLayout). Anything a
	// request needs only while it runs belongs elsewhere (clients, the
	// job, the pendingItem).
	sink       Sink
	id         uint64
	remote     string
	nextClosed *clientConn // link in clients.closedQ
	nextParked *clientConn // link in clients.parkedQ
	// Backpressure, shared with the event loop (Submit): parked while in
	// parkedQ or clients.parked; admitted once resumed, to pass the line;
	// parkedPkts is the size of the refused batch.
	parkedPkts atomic.Int64
	// Receipt, from the event loop (Received): heardAt is when bytes last
	// arrived (nowMs), heard is set while cc is in clients.heardQ.
	heardAt   atomic.Int64
	nextHeard *clientConn // link in clients.heardQ

	// owner state
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
	// reqAt is when the request being processed reached the owner
	// goroutine (its latency counts from there), jobAt that of job's.
	reqAt, jobAt arrival
	out          []byte // output accumulated this round
	stats        connStats
	// sasl is the DIGEST-MD5 exchange in progress (sasl.go).
	sasl *digestmd5.Server

	parked   atomic.Bool
	admitted atomic.Bool
	heard    atomic.Bool
	gone     atomic.Bool // socket closed (set from the event loop)
	// javaDone counts the packets of the batch being submitted whose
	// strings Submit has converted (event loop only).
	javaDone int32
	// queuedWrites counts the items of pending that are requests to
	// propose or forward once their turn comes (writes, a learner's
	// syncs): while there is one, a later write is queued behind it
	// rather than proposed at once, so that a session's txns are proposed
	// in the order it sent them.
	queuedWrites int32
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
}

// ip is the host part of the client's address (the key of clients.perIP).
func (cc *clientConn) ip() string { return hostOf(cc.remote) }

// arrival is when a request reached the owner goroutine: nanoseconds on
// the monotonic clock since the server started, 0 for unknown. 8 bytes
// where a time.Time takes 24, twice in every connection.
type arrival int64

// arrivalOf converts a time read on the owner goroutine.
func (c *clients) arrivalOf(t time.Time) arrival {
	return arrival(max(t.Sub(c.start), 1))
}

// arrivalTime converts back (a time.Time with its monotonic reading).
func (c *clients) arrivalTime(a arrival) time.Time {
	return c.start.Add(time.Duration(a))
}

// sinceArrival is how long ago a was (0 for unknown).
func (c *clients) sinceArrival(a arrival) time.Duration {
	if a == 0 {
		return 0
	}
	return max(0, time.Since(c.start)-time.Duration(a))
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
	at    arrival // when it reached the owner goroutine
}

// connStats are the per-connection figures of the cons command.
type connStats struct {
	received, sent           int64
	lastZxid                 wire.Zxid
	lastRespTime             int64 // wall ms
	minLatency, maxLatency   int64
	latencySum, latencyCount int64
	established              int64 // wall ms
	lastCxid                 wire.Xid
	lastOpCode               wire.OpCode // opNA before any; named by lastOpName
	lastLatMs                int32       // ms (clamped): lastLatencyMs
	wasReset                 bool
}

// opNA is lastOpCode before a request: opAbbrev names it "NA".
const opNA = wire.OpCode(math.MinInt32)

// lastOpName is cons's lop: Java's short name of the last op.
func (cs *connStats) lastOpName() string { return opAbbrev(cs.lastOpCode) }

// lastLatencyMs is cons's llat.
func (cs *connStats) lastLatencyMs() int64 { return int64(cs.lastLatMs) }

// reset is crst (ServerCnxn.resetStats).
func (cs *connStats) reset() {
	cs.received, cs.sent = 0, 0
	cs.minLatency, cs.maxLatency = 1<<63-1, 0
	cs.lastOpCode = opNA
	cs.lastCxid = -1
	cs.lastZxid = -1
	cs.lastRespTime, cs.lastLatMs = 0, 0
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
	cs.lastLatMs = int32(min(latencyMs, math.MaxInt32))
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
func (c *clients) reply(cc *clientConn, xid wire.Xid, err wire.ErrCode, body jute.Record) {
	if cc.dead {
		return
	}
	c.replyZxid(cc, xid, (*c.tree).LastZxid, err, body)
}

// replyZxid is reply with an explicit header zxid.
func (c *clients) replyZxid(cc *clientConn, xid wire.Xid, zxid wire.Zxid, err wire.ErrCode, body jute.Record) {
	if cc.dead {
		return
	}
	cc.growOut()
	before := len(cc.out)
	cc.out = wire.AppendReply(cc.out, wire.ReplyHeader{Xid: xid, Zxid: zxid, Err: err}, body)
	c.replied(cc, xid, zxid, len(cc.out)-before-wire.FrameHeaderSize)
}

// replied counts a reply of size bytes (without its length prefix) just
// added to cc's output.
func (c *clients) replied(cc *clientConn, xid wire.Xid, zxid wire.Zxid, size int) {
	c.stats.observeResp(int64(size))
	cc.completed++
	cc.sentPkts++
	if xid >= 0 {
		cc.stats.lastCxid = xid
	}
	cc.stats.lastZxid = zxid
	cc.stats.lastRespTime = c.nowMs()
	c.markDirty(cc)
}

// sendEvent appends a watch notification (not a reply: completed is not
// counted).
func (c *clients) sendEvent(cc *clientConn, ev wire.WatcherEvent) {
	if cc.dead || cc.closing {
		return
	}
	cc.growOut()
	cc.out = wire.AppendWatchEvent(cc.out, ev)
	cc.sentPkts++
	c.markDirty(cc)
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
