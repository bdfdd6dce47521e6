package xchk

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/session"
	"github.com/zkgo/zkgo/wire"
)

// Target is one server under test.
type Target struct {
	Name string // "java", "zkgo", ...
	Addr string // host:port of its client port
	// SuperAuth is the digest credential ("user:password") of the
	// server's superDigest, used by the observer session; "" for none.
	SuperAuth string
}

const (
	replyWait = 15 * time.Second        // a reply that takes longer is "no reply"
	closeWait = 1500 * time.Millisecond // how long to wait for a server-side close
)

// sess is one client session on one server.
type sess struct {
	name     string
	id       wire.SessionID
	passwd   []byte
	timeout  int32
	c        *conn // nil while disconnected
	xid      int32
	lastZxid wire.Zxid // highest zxid in a reply to this session
	// unordered: the events before the next reply come from one session
	// close, expiry or reaping run and are compared as a set.
	unordered bool
}

func (s *sess) nextXid() wire.Xid {
	s.xid++
	return wire.Xid(s.xid)
}

// anchor maps a zxid to the first op whose reply carried it.
type anchor struct {
	zxid wire.Zxid
	op   int
}

// runner executes steps on one target and renders their outcomes.
type runner struct {
	tg      Target
	slots   map[int]*sess
	obs     *sess
	names   map[wire.SessionID]string
	anchors []anchor
	times   map[wire.Zxid]int64
	lastSeq map[string]string // parent -> newest sequential child created
	lastSID wire.SessionID    // newest session id handed out
	startMs int64
	op      int          // index of the step being run
	lastErr wire.ErrCode // error of the step's last reply
	gotErr  bool
}

func newRunner(tg Target) (*runner, error) {
	r := &runner{tg: tg, slots: map[int]*sess{}, names: map[wire.SessionID]string{},
		times: map[wire.Zxid]int64{}, lastSeq: map[string]string{}, startMs: wallNow()}
	c, err := dialConn(tg.Addr, wire.ConnectRequest{TimeOut: DefaultTimeoutMs}, true)
	if err != nil {
		return nil, fmt.Errorf("%s: observer session: %w", tg.Name, err)
	}
	r.obs = &sess{name: "OBS", id: c.reply.SessionID, passwd: c.reply.Passwd, timeout: c.reply.TimeOut, c: c}
	r.names[r.obs.id] = r.obs.name
	r.lastSID = r.obs.id
	if tg.SuperAuth != "" {
		lines := r.request(r.obs, Req{Op: wire.OpAuth, Xid: wire.XidAuth, Rec: &wire.AuthPacket{Scheme: "digest", Auth: []byte(tg.SuperAuth)}}, false)
		if !r.gotErr || r.lastErr != wire.ErrOk {
			return nil, fmt.Errorf("%s: observer super auth: %v", tg.Name, lines)
		}
	}
	r.request(r.obs, Req{Op: wire.OpPing}, false)
	return r, nil
}

// close ends every session (closeSession) and closes the sockets.
func (r *runner) close() {
	all := []*sess{r.obs}
	for _, s := range r.slots {
		all = append(all, s)
	}
	for _, s := range all {
		if s.c == nil {
			continue
		}
		_ = s.c.write(wire.AppendRequest(nil, wire.RequestHeader{Xid: s.nextXid(), Type: wire.OpCloseSession}, nil))
		s.c.closedByServer(closeWait)
		s.c.close()
		s.c = nil
	}
}

// label renders a zxid through this server's own sequence: "#k" is the
// zxid first reported by op k, "#k+d" the d-th txn after it.
func (r *runner) label(z wire.Zxid) string {
	if z <= 0 {
		return fmt.Sprint(int64(z))
	}
	i := sort.Search(len(r.anchors), func(i int) bool { return r.anchors[i].zxid >= z })
	if i < len(r.anchors) && r.anchors[i].zxid == z {
		return fmt.Sprintf("#%d", r.anchors[i].op)
	}
	if i == 0 {
		return fmt.Sprintf("?%d", int64(z))
	}
	a := r.anchors[i-1]
	return fmt.Sprintf("#%d+%d", a.op, int64(z-a.zxid))
}

func (r *runner) noteZxid(s *sess, z wire.Zxid) {
	if z <= 0 {
		return
	}
	if s != nil && z > s.lastZxid {
		s.lastZxid = z
	}
	if n := len(r.anchors); n == 0 || r.anchors[n-1].zxid < z {
		r.anchors = append(r.anchors, anchor{zxid: z, op: r.op})
	}
	if len(r.times) > 1<<19 {
		r.times = map[wire.Zxid]int64{}
	}
}

// noteCreated remembers the newest sequential node per parent (for the
// "@seq:" placeholders).
func (r *runner) noteCreated(path string) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return
	}
	name := path[i+1:]
	if len(name) >= 10 && isSeqSuffix(name[len(name)-10:]) || strings.HasSuffix(name, "-2147483648") {
		parent := path[:i]
		if parent == "" {
			parent = "/"
		}
		r.lastSeq[parent] = path
	}
}

func isSeqSuffix(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && !(i == 0 && s[i] == '-') {
			return false
		}
	}
	return true
}

func (r *runner) resolveSeq(p string) string {
	parent := strings.TrimPrefix(p, seqPrefix)
	if got, ok := r.lastSeq[parent]; ok {
		return got
	}
	if parent == "/" {
		return "/s-0000000000"
	}
	return parent + "/s-0000000000"
}

// segment renders the events before a reply; it resets the session's
// unordered flag.
func segment(s *sess, evs []string) []string {
	if s.unordered && len(evs) > 1 {
		sort.Strings(evs)
		evs = append(evs, "(events above compared as a set)")
	}
	s.unordered = false
	return evs
}

// read consumes s's packets until the reply with xid want (a ping reply
// for want == XidPing), rendering events, unexpected replies and the
// reply. ok is false if the connection ended or nothing came in time.
func (r *runner) read(s *sess, want wire.Xid, op wire.OpCode) (lines []string, ok bool) {
	var evs []string
	for {
		p, err := s.c.next(replyWait)
		if err != nil {
			lines = append(lines, segment(s, evs)...)
			if errors.Is(err, errTimeout) {
				return append(lines, fmt.Sprintf("%s: no reply within %v", op, replyWait)), false
			}
			r.disconnected(s)
			return append(lines, op.String()+": no reply, connection closed by server"), false
		}
		if p.ev != nil {
			evs = append(evs, event(p))
			continue
		}
		r.noteZxid(s, p.h.Zxid)
		if p.h.Xid != want {
			evs = append(evs, fmt.Sprintf("unexpected reply xid=%d zxid=%s err=%s body=%s", p.h.Xid, r.label(p.h.Zxid),
				p.h.Err.Name(), quote(p.body)))
			continue
		}
		lines = append(lines, segment(s, evs)...)
		r.lastErr, r.gotErr = p.h.Err, true
		line := fmt.Sprintf("%s %s zxid=%s", op, p.h.Err.Name(), r.label(p.h.Zxid))
		if p.h.Xid < 0 && p.h.Xid != wire.XidPing {
			line += fmt.Sprintf(" xid=%d", p.h.Xid)
		}
		if b := r.body(op, p.h, p.body); b != "" {
			line += " " + b
		}
		return append(lines, line), true
	}
}

func (r *runner) disconnected(s *sess) {
	if s.c != nil {
		s.c.close()
		s.c = nil
	}
}

// request sends one request on s and reads its reply. A standalone check
// gets a ping behind it: Java 3.8.0 does not answer a successful check.
func (r *runner) request(s *sess, q Req, waitClose bool) []string {
	if s.c == nil {
		return []string{"not connected"}
	}
	rec := q.Rec
	if rec != nil {
		rec = resolvePaths(rec, r.resolveSeq)
	}
	if q.RelLast {
		switch v := rec.(type) {
		case *wire.SetWatches:
			c := *v
			c.RelativeZxid = s.lastZxid
			rec = &c
		case *wire.SetWatches2:
			c := *v
			c.RelativeZxid = s.lastZxid
			rec = &c
		}
	}
	xid := q.Xid
	if xid == 0 {
		xid = s.nextXid()
	}
	if q.Op == wire.OpPing {
		xid = wire.XidPing
	}
	var b []byte
	if rec == nil {
		b = wire.AppendRequest(nil, wire.RequestHeader{Xid: xid, Type: q.Op}, nil)
	} else {
		b = wire.AppendRequest(nil, wire.RequestHeader{Xid: xid, Type: q.Op}, rec)
	}
	check := q.Op == wire.OpCheck
	if check {
		b = wire.AppendRequest(b, wire.RequestHeader{Xid: wire.XidPing, Type: wire.OpPing}, nil)
	}
	r.gotErr = false
	if err := s.c.write(b); err != nil {
		r.disconnected(s)
		return []string{"write failed: connection closed"}
	}
	if check {
		return r.readCheck(s, xid)
	}
	lines, ok := r.read(s, xid, q.Op)
	if ok && waitClose {
		lines = append(lines, r.closeOutcome(s)...)
	}
	return lines
}

// readCheck reads a standalone check's reply, if any, and the ping behind
// it.
func (r *runner) readCheck(s *sess, xid wire.Xid) []string {
	var evs, lines []string
	answered := false
	for {
		p, err := s.c.next(replyWait)
		if err != nil {
			lines = append(lines, segment(s, evs)...)
			r.disconnected(s)
			return append(lines, "check: connection closed by server")
		}
		if p.ev != nil {
			evs = append(evs, event(p))
			continue
		}
		r.noteZxid(s, p.h.Zxid)
		lines = append(lines, segment(s, evs)...)
		evs = nil
		switch p.h.Xid {
		case xid:
			answered = true
			r.lastErr, r.gotErr = p.h.Err, true
			line := fmt.Sprintf("check %s zxid=%s", p.h.Err.Name(), r.label(p.h.Zxid))
			if len(p.body) > 0 {
				line += " body=" + quote(p.body)
			}
			lines = append(lines, line)
		case wire.XidPing:
			if !answered {
				r.lastErr, r.gotErr = wire.ErrOk, true
				lines = append(lines, "check: no reply")
			}
			return append(lines, fmt.Sprintf("ping %s zxid=%s", p.h.Err.Name(), r.label(p.h.Zxid)))
		default:
			lines = append(lines, fmt.Sprintf("unexpected reply xid=%d err=%s", p.h.Xid, p.h.Err.Name()))
		}
	}
}

// closeOutcome waits for the server to close s's connection and renders
// what arrived after the last reply.
func (r *runner) closeOutcome(s *sess) []string {
	if s.c == nil {
		return nil
	}
	if !s.c.closedByServer(closeWait) {
		return []string{"connection still open"}
	}
	var lines []string
	for _, p := range s.c.pending() {
		if p.ev != nil {
			lines = append(lines, "after close: "+event(p))
		} else {
			lines = append(lines, fmt.Sprintf("after close: reply xid=%d err=%s", p.h.Xid, p.h.Err.Name()))
		}
	}
	r.disconnected(s)
	return append(lines, "connection closed by server")
}

// fence pings s and renders its pending events and the ping reply.
func (r *runner) fence(s *sess) []string {
	if s.c == nil {
		return nil
	}
	lines := r.request(s, Req{Op: wire.OpPing}, false)
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = s.name + ": " + l
	}
	return out
}

// fenceAll fences every connected session in slot order.
func (r *runner) fenceAll() []string {
	var lines []string
	for _, k := range r.slotOrder() {
		lines = append(lines, r.fence(r.slots[k])...)
	}
	return lines
}

func (r *runner) slotOrder() []int {
	keys := make([]int, 0, len(r.slots))
	for k := range r.slots {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

// connectLine renders a ConnectResponse for a new session.
func (r *runner) sessionLine(cr wire.ConnectReply, what string) string {
	ro := "readOnly=absent"
	if cr.HasReadOnly {
		ro = fmt.Sprintf("readOnly=%v", cr.ReadOnly)
	}
	pw := "passwd=derived"
	if !bytes.Equal(cr.Passwd, session.Password(cr.SessionID)) {
		pw = "passwd=" + quote(cr.Passwd)
	}
	return fmt.Sprintf("%s timeout=%d %s %s protocolVersion=%d", what, cr.TimeOut, pw, ro, cr.ProtocolVersion)
}

// connect opens a new session in slot k.
func (r *runner) connect(st Step, name string) []string {
	if old := r.slots[k(st)]; old != nil && old.c != nil {
		old.c.close()
	}
	timeout := st.TimeoutMs
	if timeout == 0 {
		timeout = DefaultTimeoutMs
	}
	c, err := dialConn(r.tg.Addr, wire.ConnectRequest{TimeOut: timeout}, !st.NoReadOnly)
	if err != nil {
		delete(r.slots, k(st))
		if errors.Is(err, errRefused) {
			return []string{"connect refused: closed without a ConnectResponse"}
		}
		return []string{"connect failed: " + err.Error()}
	}
	cr := c.reply
	sid := "sid=0"
	if cr.SessionID != 0 {
		switch {
		case uint64(cr.SessionID)>>56 != 1:
			sid = fmt.Sprintf("sid=%#x(server id byte is not 1)", cr.SessionID)
		case cr.SessionID == r.lastSID+1:
			sid = "sid=previous+1"
		default:
			sid = fmt.Sprintf("sid=previous%+d", int64(cr.SessionID-r.lastSID))
		}
		r.lastSID = cr.SessionID
	}
	s := &sess{name: name, id: cr.SessionID, passwd: cr.Passwd, timeout: cr.TimeOut, c: c}
	r.slots[k(st)] = s
	r.names[s.id] = name
	return []string{r.sessionLine(cr, "session "+name+" "+sid)}
}

func k(st Step) int { return st.Sess }

// reconnect connects slot k to its session again.
func (r *runner) reconnect(st Step) []string {
	s := r.slots[k(st)]
	if s == nil {
		return []string{"no session in this slot"}
	}
	var lines []string
	old := s.c
	if old != nil {
		// Whatever the old connection still gets before the takeover.
		lines = append(lines, r.fence(s)...)
		old = s.c
	}
	timeout := st.TimeoutMs
	if timeout == 0 {
		timeout = DefaultTimeoutMs
	}
	pw := s.passwd
	if st.BadPasswd {
		pw = append([]byte(nil), pw...)
		pw[0] ^= 0xff
	}
	last := s.lastZxid
	if st.ZxidAhead {
		last = r.maxZxid() + 1<<20
	}
	c, err := dialConn(r.tg.Addr, wire.ConnectRequest{TimeOut: timeout, SessionID: s.id, Passwd: pw, LastZxidSeen: last}, !st.NoReadOnly)
	if old != nil {
		if old.closedByServer(closeWait) {
			lines = append(lines, "previous connection closed by server")
		} else {
			lines = append(lines, "previous connection still open")
		}
		old.close()
		if s.c == old {
			s.c = nil
		}
	}
	if err != nil {
		if errors.Is(err, errRefused) {
			return append(lines, "reconnect refused: closed without a ConnectResponse")
		}
		return append(lines, "reconnect failed: "+err.Error())
	}
	cr := c.reply
	if cr.SessionID == 0 {
		lines = append(lines, r.sessionLine(cr, "reconnect rejected: session=0"))
		if c.closedByServer(closeWait) {
			lines = append(lines, "connection closed by server")
		} else {
			lines = append(lines, "connection still open")
		}
		c.close()
		return lines
	}
	what := "reconnected " + s.name
	if cr.SessionID != s.id {
		what = fmt.Sprintf("reconnected to another session %#x", cr.SessionID)
	}
	if !bytes.Equal(cr.Passwd, s.passwd) {
		what += " (password changed)"
	}
	s.c = c
	s.timeout = cr.TimeOut
	return append(lines, r.sessionLine(cr, what))
}

func (r *runner) maxZxid() wire.Zxid {
	if n := len(r.anchors); n > 0 {
		return r.anchors[n-1].zxid
	}
	return 0
}

// drop closes slot k's socket after fencing it.
func (r *runner) drop(st Step) []string {
	s := r.slots[k(st)]
	if s == nil || s.c == nil {
		return []string{"not connected"}
	}
	lines := r.fence(s)
	r.disconnected(s)
	r.waitConnGone(s.id)
	return append(lines, "dropped")
}

// waitConnGone waits (up to 5 s) until the server no longer lists a
// connection of session id (cons), that is until it processed a close
// the client made. Until then the session's watches are still there, and
// checkWatches (Java 3.8 answers OK if anyone watches the path) would
// depend on which server noticed the close first.
func (r *runner) waitConnGone(id wire.SessionID) {
	needle := fmt.Sprintf("sid=0x%x,", uint64(id))
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		out, err := harness.FourLetter(r.tg.Addr, "cons")
		if err != nil || !strings.Contains(out, needle) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// expire drops slot k's connection and waits (observing through the
// observer session) until the server logged the session's closeSession
// txn; then fences every other session.
func (r *runner) expire(st Step) []string {
	s := r.slots[k(st)]
	if s == nil || s.c == nil {
		return []string{"not connected"}
	}
	lines := r.fenceAll()
	base := r.obsZxid()
	r.disconnected(s)
	start := time.Now()
	timeout := time.Duration(s.timeout) * time.Millisecond
	deadline := start.Add(timeout + 10*time.Second)
	expired := false
	for time.Now().Before(deadline) {
		if z := r.obsZxid(); z > base {
			expired = true
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if took := time.Since(start); expired && took <= 2*timeout+5*time.Second {
		lines = append(lines, fmt.Sprintf("session %s expired (timeout %d)", s.name, s.timeout))
	} else if expired {
		lines = append(lines, fmt.Sprintf("session %s expired late: after %v (timeout %d)", s.name, took.Round(time.Millisecond), s.timeout))
	} else {
		lines = append(lines, fmt.Sprintf("session %s NOT expired within %v of its timeout", s.name, 10*time.Second))
	}
	for _, o := range r.slots {
		o.unordered = true
	}
	return append(lines, r.fenceAll()...)
}

// obsZxid pings the observer and returns the reply's zxid.
func (r *runner) obsZxid() wire.Zxid {
	o := r.obs
	if o.c == nil {
		return 0
	}
	if err := o.c.write(wire.AppendRequest(nil, wire.RequestHeader{Xid: wire.XidPing, Type: wire.OpPing}, nil)); err != nil {
		return 0
	}
	for {
		p, err := o.c.next(replyWait)
		if err != nil {
			return 0
		}
		if p.ev == nil && p.h.Xid == wire.XidPing {
			r.noteZxid(o, p.h.Zxid)
			return p.h.Zxid
		}
	}
}

// waitGone polls (on the observer) until path does not exist, then
// fences every session. The reaper's events, and those of the step that
// made the node a candidate (the script fences before it), are compared
// as sets: when the reaper runs relative to that step's reply is timing.
func (r *runner) waitGone(st Step) []string {
	var lines []string
	deadline := time.Now().Add(20 * time.Second)
	gone := false
	for time.Now().Before(deadline) {
		o := r.obs
		xid := o.nextXid()
		if err := o.c.write(wire.AppendRequest(nil, wire.RequestHeader{Xid: xid, Type: wire.OpExists},
			&wire.ExistsRequest{Path: st.Path})); err != nil {
			break
		}
		p, err := o.c.next(replyWait)
		if err != nil {
			break
		}
		if p.h.Err == wire.ErrNoNode {
			gone = true
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if gone {
		lines = append(lines, qpath(st.Path)+" reaped")
	} else {
		lines = append(lines, qpath(st.Path)+" still there after 20s")
	}
	for _, o := range r.slots {
		o.unordered = true
	}
	return append(lines, r.fenceAll()...)
}

// prune deletes path's children whose names start with prefix, as the
// observer (super).
func (r *runner) prune(st Step) []string {
	o := r.obs
	names, err := r.childNames(st.Path)
	if err != nil {
		return []string{"prune: getChildren " + qpath(st.Path) + ": " + err.Error()}
	}
	lines := []string{"children " + set(names)}
	for _, n := range names {
		if !strings.HasPrefix(n, st.Prefix) {
			continue
		}
		p := st.Path + "/" + n
		if st.Path == "/" {
			p = "/" + n
		}
		l := r.request(o, Req{Op: wire.OpDelete, Rec: &wire.DeleteRequest{Path: p, Version: -1}}, false)
		lines = append(lines, n+": "+strings.Join(l, "; "))
	}
	return lines
}

func (r *runner) childNames(path string) ([]string, error) {
	o := r.obs
	xid := o.nextXid()
	if err := o.c.write(wire.AppendRequest(nil, wire.RequestHeader{Xid: xid, Type: wire.OpGetChildren},
		&wire.GetChildrenRequest{Path: path})); err != nil {
		return nil, err
	}
	for {
		p, err := o.c.next(replyWait)
		if err != nil {
			return nil, err
		}
		if p.ev != nil || p.h.Xid != xid {
			continue
		}
		r.noteZxid(o, p.h.Zxid)
		if p.h.Err != wire.ErrOk {
			return nil, p.h.Err
		}
		var resp wire.GetChildrenResponse
		jr := jute.NewReaderMax(p.body, maxFrame)
		resp.Decode(&jr)
		if jr.Err() != nil {
			return nil, jr.Err()
		}
		sort.Strings(resp.Children)
		return resp.Children, nil
	}
}

// raw writes bytes on slot k and reads one reply or the close.
func (r *runner) raw(st Step) []string {
	s := r.slots[k(st)]
	if s == nil || s.c == nil {
		return []string{"not connected"}
	}
	r.gotErr = false
	if err := s.c.write(st.Raw); err != nil {
		r.disconnected(s)
		return []string{"write failed: connection closed"}
	}
	var evs []string
	for {
		p, err := s.c.next(closeWait + time.Second)
		if err != nil {
			lines := segment(s, evs)
			if errors.Is(err, errTimeout) {
				return append(lines, "no reply, connection still open")
			}
			r.disconnected(s)
			return append(lines, "no reply, connection closed by server")
		}
		if p.ev != nil {
			evs = append(evs, event(p))
			continue
		}
		r.noteZxid(s, p.h.Zxid)
		r.lastErr, r.gotErr = p.h.Err, true
		lines := append(segment(s, evs), fmt.Sprintf("reply xid=%d %s zxid=%s body=%s", p.h.Xid, p.h.Err.Name(),
			r.label(p.h.Zxid), quote(p.body)))
		if st.CloseWait {
			lines = append(lines, r.closeOutcome(s)...)
		}
		return lines
	}
}

// exec runs one step; name is the session name for KConnect.
func (r *runner) exec(st Step, name string) []string {
	r.gotErr = false
	switch st.Kind {
	case KRequest:
		s := r.slots[k(st)]
		if s == nil {
			return []string{"no session in this slot"}
		}
		if st.Op != wire.OpCloseSession {
			return r.request(s, st.Req, st.CloseWait)
		}
		// The events of a session close (its ephemerals, deleted in HashSet
		// order) are compared as sets: fence every session before and after.
		lines := r.fenceAll()
		s.unordered = true
		lines = append(lines, r.request(s, st.Req, false)...)
		if s.c != nil {
			lines = append(lines, r.closeOutcome(s)...)
		}
		for _, o := range r.slots {
			o.unordered = true
		}
		return append(lines, r.fenceAll()...)
	case KBatch:
		s := r.slots[k(st)]
		if s == nil || s.c == nil {
			return []string{"not connected"}
		}
		var b []byte
		xids := make([]wire.Xid, len(st.Reqs))
		for i, q := range st.Reqs {
			xid := q.Xid
			if xid == 0 {
				xid = s.nextXid()
			}
			if q.Op == wire.OpPing {
				xid = wire.XidPing
			}
			xids[i] = xid
			rec := q.Rec
			if rec != nil {
				rec = resolvePaths(rec, r.resolveSeq)
			}
			b = wire.AppendRequest(b, wire.RequestHeader{Xid: xid, Type: q.Op}, rec)
		}
		if err := s.c.write(b); err != nil {
			r.disconnected(s)
			return []string{"write failed: connection closed"}
		}
		var lines []string
		for i, q := range st.Reqs {
			l, ok := r.read(s, xids[i], q.Op)
			lines = append(lines, l...)
			if !ok {
				break
			}
		}
		return lines
	case KConnect:
		return r.connect(st, name)
	case KReconnect:
		return r.reconnect(st)
	case KDrop:
		return r.drop(st)
	case KExpire:
		return r.expire(st)
	case KFence:
		return r.fenceAll()
	case KWaitGone:
		return r.waitGone(st)
	case KPrune:
		return r.prune(st)
	case KRaw:
		return r.raw(st)
	}
	return []string{"unknown step kind " + st.Kind.String()}
}

func wallNow() int64 { return time.Now().UnixMilli() }
