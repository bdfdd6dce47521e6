package node

import (
	"strings"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/node/watch"
	"github.com/zkgo/zkgo/wire"
)

// Requests whose work grows with their size or with the tree, run as
// connection jobs (jobs.go) when they are large.

// replyChunk is the size of the pieces a long reply is built in.
const replyChunk = 1 << 20

// replyPrefix is the frame length and reply header a chunked reply starts
// with, filled in when it is sent.
const replyPrefix = wire.FrameHeaderSize + 16

// chunkedReply is a framed reply built across rounds in pieces of about
// replyChunk bytes and sent piece by piece: the owner never copies, nor
// regrows, a long reply as a whole (a 16 MB buffer grown by appends costs
// a round up to 17 ms in copies and page faults).
type chunkedReply struct {
	w      jute.Writer
	chunks [][]byte
	done   int // bytes in chunks
}

func newChunkedReply() chunkedReply {
	var c chunkedReply
	c.w.Reset(make([]byte, replyPrefix, 64<<10))
	return c
}

// cut starts a new piece once the current one is full; called between
// items, so an item (at most a node's data) is never split.
func (c *chunkedReply) cut() {
	if c.w.Len() >= replyChunk {
		c.chunks = append(c.chunks, c.w.Bytes())
		c.done += c.w.Len()
		c.w.Reset(make([]byte, 0, replyChunk+replyChunk/4))
	}
}

// bodyLen returns the length of the body encoded so far.
func (c *chunkedReply) bodyLen() int { return c.done + c.w.Len() - replyPrefix }

// replyChunked sends a chunked reply after what cc has pending: its pieces
// but the last go to the sink now, the last one becomes the round's
// output buffer.
func (c *clients) replyChunked(cc *clientConn, xid wire.Xid, zxid wire.Zxid, err wire.ErrCode, cr *chunkedReply) {
	if cc.dead {
		return
	}
	parts := append(cr.chunks, cr.w.Bytes())
	size := cr.bodyLen() + replyPrefix - wire.FrameHeaderSize
	hw := jute.NewWriter(parts[0][:0])
	hw.Int(int32(size))
	hw.Int(int32(xid))
	hw.Long(int64(zxid))
	hw.Int(int32(err))
	if len(cc.out) > 0 {
		c.flushConn(cc)
	}
	for _, p := range parts[:len(parts)-1] {
		cc.sink.Send(p, 0)
	}
	cc.out = parts[len(parts)-1]
	cr.chunks, cr.w = nil, jute.Writer{}
	c.replied(cc, xid, zxid, size)
}

// setWatchesJob re-registers a reconnecting client's watches
// (DataTree.setWatches): a watch whose condition already changed since
// relativeZxid fires at once instead of being registered. The lists are
// handled in order, a bounded number of paths per round; a null list
// (length -1 on the wire) stops there with MARSHALLINGERROR, as Java's loop
// over it throws, after the earlier lists' events went out and their
// watches were registered. Each path is looked at once, when its turn
// comes; a txn applied between two rounds is seen by the paths after it,
// as if the client's setWatches had come in a little later for those.
// While a txn is applied in steps, the job waits.
type setWatchesJob struct {
	xid   wire.Xid
	rel   wire.Zxid
	lists [5][]string // data, exist, child, persistent, recursive
	list  int
	next  int
}

func newSetWatchesJob(xid wire.Xid, rel wire.Zxid, data, exist, child, persistent, recursive []string) *setWatchesJob {
	return &setWatchesJob{xid: xid, rel: rel, lists: [5][]string{data, exist, child, persistent, recursive}}
}

func (j *setWatchesJob) step(s *Server, cc *clientConn, budget int) (int, bool) {
	if s.sched.applyJob != nil {
		return 0, false
	}
	w := watch.Watcher(cc.id)
	ev := func(t wire.EventType, path string) {
		s.cl.sendEvent(cc, wire.WatcherEvent{Type: t, State: wire.StateSyncConnected, Path: path})
	}
	used := 0
	for ; j.list < len(j.lists); j.list, j.next = j.list+1, 0 {
		paths := j.lists[j.list]
		if paths == nil {
			s.cl.reply(cc, j.xid, wire.ErrMarshallingError, nil)
			return used, true
		}
		for ; j.next < len(paths); j.next++ {
			if used == budget {
				return used, false
			}
			used++
			p := paths[j.next]
			switch j.list {
			case 0: // data
				n := s.tree.Get(p)
				switch {
				case n == nil:
					ev(wire.EventNodeDeleted, p)
				case n.Stat.Mzxid > j.rel:
					ev(wire.EventNodeDataChanged, p)
				default:
					s.dataW.Add(p, w, watch.Standard)
				}
			case 1: // exist
				if s.tree.Get(p) != nil {
					ev(wire.EventNodeCreated, p)
				} else {
					s.dataW.Add(p, w, watch.Standard)
				}
			case 2: // child
				n := s.tree.Get(p)
				switch {
				case n == nil:
					ev(wire.EventNodeDeleted, p)
				case n.Stat.Pzxid > j.rel:
					ev(wire.EventNodeChildrenChanged, p)
				default:
					s.childW.Add(p, w, watch.Standard)
				}
			case 3: // persistent
				s.childW.Add(p, w, watch.Persistent)
				s.dataW.Add(p, w, watch.Persistent)
			case 4: // persistent recursive
				s.childW.Add(p, w, watch.PersistentRecursive)
				s.dataW.Add(p, w, watch.PersistentRecursive)
			}
		}
	}
	s.cl.reply(cc, j.xid, wire.ErrOk, nil)
	return used, true
}

func (j *setWatchesJob) drop(*Server) {}

// namesReplyJob encodes a reply that is a list of names (getChildren,
// getChildren2, getEphemerals) across rounds. The names were copied when
// the request ran, so the reply is what the tree held then.
type namesReplyJob struct {
	xid   wire.Xid
	zxid  wire.Zxid
	names []string
	stat  *wire.Stat // getChildren2: follows the names
	r     chunkedReply
	next  int
}

func newNamesReplyJob(xid wire.Xid, zxid wire.Zxid, names []string, stat *wire.Stat) *namesReplyJob {
	j := &namesReplyJob{xid: xid, zxid: zxid, names: names, stat: stat, r: newChunkedReply()}
	j.r.w.VectorLen(len(names))
	return j
}

func (j *namesReplyJob) step(s *Server, cc *clientConn, budget int) (int, bool) {
	end := min(len(j.names), j.next+budget*nameOpsPerUnit)
	for ; j.next < end; j.next++ {
		j.r.w.String(j.names[j.next])
		j.r.cut()
	}
	used := (end + nameOpsPerUnit - 1) / nameOpsPerUnit
	if j.next < len(j.names) {
		return used, false
	}
	if j.stat != nil {
		j.stat.Encode(&j.r.w)
	}
	s.cl.replyChunked(cc, j.xid, j.zxid, wire.ErrOk, &j.r)
	j.names = nil
	return used, true
}

func (j *namesReplyJob) drop(*Server) {}

// replyNames answers with a list of names, at once when it is short and
// as a job when it is long.
func (c *clients) replyNames(cc *clientConn, xid wire.Xid, names []string, stat *wire.Stat) {
	if len(names) <= inlineConnOps*nameOpsPerUnit {
		var body jute.Record
		switch {
		case stat != nil:
			body = &wire.GetChildren2Response{Children: names, Stat: *stat}
		default:
			// GetEphemeralsResponse encodes the same: vector<ustring>.
			body = &wire.GetChildrenResponse{Children: names}
		}
		c.reply(cc, xid, wire.ErrOk, body)
		return
	}
	c.sched.startConnJob(cc, newNamesReplyJob(xid, (*c.tree).LastZxid, names, stat))
}

// multiReadJob answers a long multiRead across rounds. Java answers a
// multiRead while no txn is committed, so its reads see one state: while
// the job runs no txn is applied (applyHold), and it starts only when none
// is being applied (applyIdleFor: txns held back for this very session's
// sake do not count). Its reply is built as it goes and may not pass
// maxReplyBytes.
type multiReadJob struct {
	xid     wire.Xid
	ops     []wire.MultiOp
	next    int
	holding bool
	r       chunkedReply
	names   []string // a long getChildren result being encoded
	ni      int
}

func (j *multiReadJob) step(s *Server, cc *clientConn, budget int) (int, bool) {
	if !j.holding {
		if !s.sched.applyIdleFor(cc) {
			return 0, false
		}
		j.holding = true
		s.sched.applyHold++
		j.r = newChunkedReply()
	}
	used := 0
	for used < budget {
		if j.names != nil {
			end := min(len(j.names), j.ni+(budget-used)*nameOpsPerUnit)
			used += (end - j.ni + nameOpsPerUnit - 1) / nameOpsPerUnit
			for ; j.ni < end; j.ni++ {
				j.r.w.String(j.names[j.ni])
				j.r.cut()
			}
			if j.ni < len(j.names) && j.r.bodyLen() <= maxReplyBytes {
				return used, false
			}
			if j.ni == len(j.names) {
				j.names = nil
			}
		} else {
			if j.next == len(j.ops) {
				break
			}
			used++
			res := s.cl.readOp(cc, j.ops[j.next])
			j.next++
			h := wire.MultiHeader{Type: res.Type, Err: res.Err}
			if res.Type != wire.OpError {
				h.Err = 0
			}
			h.Encode(&j.r.w)
			if gc, ok := res.Result.(*wire.GetChildrenResponse); ok && len(gc.Children) > nameOpsPerUnit {
				// Encoded across steps like a getChildren reply.
				j.r.w.VectorLen(len(gc.Children))
				j.names, j.ni = gc.Children, 0
				continue
			}
			res.Result.Encode(&j.r.w)
			j.r.cut()
		}
		if n := j.r.bodyLen(); n > maxReplyBytes {
			s.log.Warn().Str("session", cc.session.String()).Str("remote", cc.remote).Int("ops", len(j.ops)).
				Int("reply_bytes", n).Msg("multiRead reply too large; closing the connection")
			j.release(s)
			s.cl.closeConnNow(cc, "multiRead reply too large")
			return used, true
		}
	}
	if j.next < len(j.ops) || j.names != nil {
		return used, false
	}
	j.release(s)
	end := wire.MultiHeader{Type: -1, Done: true, Err: -1}
	end.Encode(&j.r.w)
	s.cl.replyChunked(cc, j.xid, s.tree.LastZxid, wire.ErrOk, &j.r)
	return used, true
}

func (j *multiReadJob) release(s *Server) {
	if j.holding {
		j.holding = false
		s.sched.applyHold--
	}
}

func (j *multiReadJob) drop(s *Server) { j.release(s) }

// readOp runs one op of a multiRead. MultiOperationRecord drops the ops'
// watch flags; a failure becomes an ErrorResult for that op only.
func (c *clients) readOp(cc *clientConn, op wire.MultiOp) wire.MultiResult {
	switch r := op.Op.(type) {
	case *wire.GetDataRequest:
		gd, code := c.getData(cc, r.Path, false)
		if code != wire.ErrOk {
			return wire.MultiResult{Type: wire.OpError, Err: code, Result: &wire.ErrorResponse{Err: code}}
		}
		return wire.MultiResult{Type: wire.OpGetData, Result: gd}
	case *wire.GetChildrenRequest:
		ch, _, code := c.getChildren(cc, r.Path, false)
		if code != wire.ErrOk {
			return wire.MultiResult{Type: wire.OpError, Err: code, Result: &wire.ErrorResponse{Err: code}}
		}
		return wire.MultiResult{Type: wire.OpGetChildren, Result: &wire.GetChildrenResponse{Children: ch}}
	}
	return wire.MultiResult{Type: wire.OpError, Err: wire.ErrMarshallingError, Result: &wire.ErrorResponse{Err: wire.ErrMarshallingError}}
}

// readPath returns the path a read request reads (or whose watches it
// changes: a path's watches may be firing in steps), for the apply
// barrier; all is true for reads that look at more than one node.
func readPath(op wire.OpCode, body any) (path string, all bool) {
	switch r := body.(type) {
	case *wire.AddWatchRequest:
		return r.Path, false
	case *wire.CheckWatchesRequest:
		return r.Path, false
	case *wire.RemoveWatchesRequest:
		return r.Path, false
	case *wire.ExistsRequest:
		return r.Path, false
	case *wire.GetDataRequest:
		return r.Path, false
	case *wire.GetChildrenRequest:
		return r.Path, false
	case *wire.GetChildren2Request:
		return r.Path, false
	case *wire.GetACLRequest:
		return r.Path, false
	}
	switch op {
	case wire.OpGetAllChildrenNumber, wire.OpGetEphemerals, wire.OpSetWatches, wire.OpSetWatches2, wire.OpMultiRead:
		return "", true
	}
	return "", false
}

// ephemeralsWithPrefix filters a session's ephemerals as getEphemerals
// does: a blank prefix (or "/") takes them all.
func ephemeralsWithPrefix(all []string, prefix string) []string {
	if blank := strings.TrimSpace(prefix); blank == "" || blank == "/" {
		return all
	}
	out := make([]string, 0, len(all))
	for _, e := range all {
		if strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// multiReplyJob encodes the reply of a long multi across rounds.
type multiReplyJob struct {
	xid     wire.Xid
	zxid    wire.Zxid
	code    wire.ErrCode
	results []tree.Result
	next    int
	r       chunkedReply
}

func (j *multiReplyJob) step(s *Server, cc *clientConn, budget int) (int, bool) {
	end := min(len(j.results), j.next+budget)
	for ; j.next < end; j.next++ {
		mr := multiResult(&j.results[j.next])
		h := wire.MultiHeader{Type: mr.Type}
		if mr.Type == wire.OpError {
			h.Err = mr.Err
		}
		h.Encode(&j.r.w)
		if mr.Result != nil {
			mr.Result.Encode(&j.r.w)
		}
		j.r.cut()
	}
	if j.next < len(j.results) {
		return budget, false
	}
	last := wire.MultiHeader{Type: -1, Done: true, Err: -1}
	last.Encode(&j.r.w)
	s.cl.replyChunked(cc, j.xid, j.zxid, j.code, &j.r)
	j.results = nil
	return end, true
}

func (j *multiReplyJob) drop(*Server) {}
