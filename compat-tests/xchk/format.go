package xchk

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// This file renders replies as normalised text: what must be equal on two
// conforming servers is printed as is, what must differ is mapped (see the
// package comment).

// quote renders data: short data quoted, long data as length and digest,
// null as "null".
func quote(b []byte) string {
	if b == nil {
		return "null"
	}
	if len(b) <= 48 {
		if utf8.Valid(b) {
			return strconv.Quote(string(b))
		}
		return "0x" + hex.EncodeToString(b)
	}
	sum := sha1.Sum(b)
	return fmt.Sprintf("<%d bytes sha1:%x>", len(b), sum[:6])
}

// qpath renders a path so odd characters stay visible.
func qpath(p string) string {
	for _, r := range p {
		if r < 0x21 || r == '"' || r == '\\' || r >= 0x7f {
			return strconv.Quote(p)
		}
	}
	if p == "" {
		return `""`
	}
	return p
}

// set renders an unordered list sorted (DIFFERENCES.md #5).
func set(l []string) string {
	s := make([]string, len(l))
	for i, v := range l {
		s[i] = qpath(v)
	}
	sort.Strings(s)
	return "[" + strings.Join(s, " ") + "]"
}

// stat renders a Stat with zxids, times and owners normalised.
func (r *runner) stat(st wire.Stat) string {
	ctime := r.time(st.Czxid, st.Ctime)
	mtime := r.time(st.Mzxid, st.Mtime)
	switch {
	case st.Mzxid == st.Czxid && st.Mtime == st.Ctime:
		mtime = "=ctime"
	case st.Mzxid == st.Czxid:
		mtime += "(!=ctime)"
	case st.Mzxid > st.Czxid && st.Mtime < st.Ctime:
		mtime += "(<ctime)"
	}
	return fmt.Sprintf("{cz=%s mz=%s pz=%s ctime=%s mtime=%s v=%d cv=%d av=%d eph=%s len=%d kids=%d}",
		r.label(st.Czxid), r.label(st.Mzxid), r.label(st.Pzxid), ctime, mtime,
		st.Version, st.Cversion, st.Aversion, r.owner(st.EphemeralOwner), st.DataLength, st.NumChildren)
}

// time checks a txn time: zero for the built-in nodes (zxid 0), otherwise
// between the start of the run and now, and the same every time the txn's
// time is seen.
func (r *runner) time(z wire.Zxid, ms int64) string {
	if z == 0 {
		if ms == 0 {
			return "0"
		}
		return strconv.FormatInt(ms, 10)
	}
	if prev, ok := r.times[z]; ok && prev != ms {
		return fmt.Sprintf("%d(was %d for %s)", ms, prev, r.label(z))
	}
	r.times[z] = ms
	now := wallNow()
	if ms < r.startMs-5000 || ms > now+5000 {
		return strconv.FormatInt(ms, 10) + "(implausible)"
	}
	return "T"
}

func (r *runner) owner(id int64) string {
	if id == 0 {
		return "0"
	}
	if n, ok := r.names[wire.SessionID(id)]; ok {
		return n
	}
	return fmt.Sprintf("%#x(unknown)", id)
}

func acls(l []wire.ACL) string {
	if l == nil {
		return "null"
	}
	s := make([]string, len(l))
	for i, a := range l {
		s[i] = qpath(fmt.Sprintf("%s:%s:%d", a.ID.Scheme, a.ID.ID, a.Perms))
	}
	return "[" + strings.Join(s, " ") + "]"
}

// body decodes and renders a reply body for op; bytes that do not belong
// there are shown.
func (r *runner) body(op wire.OpCode, h wire.ReplyHeader, b []byte) string {
	if !wire.ReplyHasBody(op, h.Err) || h.Err != wire.ErrOk && len(b) == 0 {
		if len(b) != 0 {
			return fmt.Sprintf("unexpected-body=%s", quote(b))
		}
		return ""
	}
	rec, _, _ := wire.NewResponseRecord(op)
	jr := jute.NewReaderMax(b, maxFrame)
	rec.Decode(&jr)
	if err := jr.Err(); err != nil {
		return fmt.Sprintf("undecodable(%v)=%s", err, quote(b))
	}
	out := r.record(rec)
	if jr.Remaining() > 0 {
		out += " trailing=" + quote(jr.Rest())
	}
	return out
}

// record renders a response record.
func (r *runner) record(rec jute.Record) string {
	switch v := rec.(type) {
	case *wire.CreateResponse:
		r.noteCreated(v.Path)
		return qpath(v.Path)
	case *wire.Create2Response:
		r.noteCreated(v.Path)
		return qpath(v.Path) + " " + r.stat(v.Stat)
	case *wire.ExistsResponse:
		return r.stat(v.Stat)
	case *wire.SetDataResponse:
		return r.stat(v.Stat)
	case *wire.GetDataResponse:
		return quote(v.Data) + " " + r.stat(v.Stat)
	case *wire.GetChildrenResponse:
		return set(v.Children)
	case *wire.GetChildren2Response:
		return set(v.Children) + " " + r.stat(v.Stat)
	case *wire.SetACLResponse:
		return r.stat(v.Stat)
	case *wire.GetACLResponse:
		return acls(v.ACL) + " " + r.stat(v.Stat)
	case *wire.SyncResponse:
		if v.Nulls.Has(0) {
			return "null"
		}
		return qpath(v.Path)
	case *wire.GetEphemeralsResponse:
		return set(v.Ephemerals)
	case *wire.GetAllChildrenNumberResponse:
		return strconv.Itoa(int(v.TotalNumber))
	case *wire.ErrorResponse:
		return "{err=" + v.Err.Name() + "}"
	case *wire.SetSASLResponse:
		return "token=" + quote(v.Token)
	case *wire.WhoAmIResponse:
		// ConcurrentHashMap order, which zkgo reproduces: a list.
		parts := make([]string, len(v.ClientInfo))
		for i, ci := range v.ClientInfo {
			user := ci.User
			if ci.Nulls.Has(1) {
				user = "<null>"
			}
			parts[i] = qpath(ci.AuthScheme + ":" + user)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case *wire.MultiResponse:
		parts := make([]string, len(v.Results))
		for i, res := range v.Results {
			if res.Type == wire.OpError {
				parts[i] = "error(" + res.Err.Name() + ")"
				continue
			}
			p := res.Type.String()
			if res.Result != nil {
				p += " " + r.record(res.Result)
			}
			parts[i] = p
		}
		return "[" + strings.Join(parts, "; ") + "]"
	}
	return wire.FormatText(rec)
}

// event renders a watch notification.
func event(p packet) string {
	e := p.ev
	out := fmt.Sprintf("event %v %s", e.Type, qpath(e.Path))
	if e.State != wire.StateSyncConnected || p.h.Zxid != -1 || p.h.Err != 0 {
		out += fmt.Sprintf(" state=%v zxid=%d err=%s", e.State, p.h.Zxid, p.h.Err.Name())
	}
	return out
}
