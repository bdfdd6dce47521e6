package xchk

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// Kind is what a Step does.
type Kind uint8

// Step kinds.
const (
	// KRequest sends one request on session Sess and reads its reply (and
	// the session's events before it). A standalone check is followed by a
	// ping, because Java 3.8.0 does not answer a successful one
	// (DIFFERENCES.md #8).
	KRequest Kind = iota + 1
	// KBatch writes several requests on Sess in one write (pipelined) and
	// reads their replies.
	KBatch
	// KConnect opens a new session in slot Sess.
	KConnect
	// KReconnect connects slot Sess to its existing session again (the
	// live connection, if any, is taken over and must be closed by the
	// server).
	KReconnect
	// KDrop closes Sess's socket from the client side; the session lives
	// on.
	KDrop
	// KExpire drops Sess's connection and waits until the server expires
	// the session (its negotiated timeout must be short: reconnect with
	// TimeoutMs 1 first).
	KExpire
	// KFence pings every connected session and compares the events each
	// received since its last reply.
	KFence
	// KWaitGone waits until Path no longer exists (container and TTL
	// reaping), then fences every session: the events since the last fence
	// (the reaper's among them) are compared as a set.
	KWaitGone
	// KPrune deletes, as the super user on the observer session, every
	// child of Path whose name starts with Prefix (sorted order), to keep
	// random runs small.
	KPrune
	// KRaw writes Raw on Sess as it is and reads one reply or the close.
	KRaw
)

func (k Kind) String() string {
	switch k {
	case KRequest:
		return "request"
	case KBatch:
		return "batch"
	case KConnect:
		return "connect"
	case KReconnect:
		return "reconnect"
	case KDrop:
		return "drop"
	case KExpire:
		return "expire"
	case KFence:
		return "fence"
	case KWaitGone:
		return "wait-gone"
	case KPrune:
		return "prune"
	case KRaw:
		return "raw"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Req is one request of a Step.
type Req struct {
	Op  wire.OpCode
	Rec jute.Record // nil for header-only requests
	// Xid is the request's xid; 0 takes the session's next xid.
	Xid wire.Xid
	// RelLast sets a SetWatches/SetWatches2 RelativeZxid to the last zxid
	// the session saw on each server.
	RelLast bool
}

// Step is one operation of a run, executed on every target.
type Step struct {
	Kind Kind
	Sess int   // session slot
	Req        // KRequest
	Reqs []Req // KBatch
	// KConnect / KReconnect options.
	TimeoutMs  int32 // requested timeout (0: DefaultTimeoutMs)
	NoReadOnly bool  // omit the readOnly byte, as go-zookeeper does
	BadPasswd  bool  // reconnect with a wrong password
	ZxidAhead  bool  // reconnect claiming a zxid the server has not seen
	// KWaitGone, KPrune.
	Path, Prefix string
	// KRaw.
	Raw []byte
	// CloseWait is how long to wait for the server to close the
	// connection after the reply (requests that may close it: failed auth,
	// unknown opcodes, malformed frames). 0 does not wait.
	CloseWait bool
	// Want, when set, is the error the reply must carry on every server
	// (scripted suites assert that they reach the path they mean to).
	Want    *wire.ErrCode
	Comment string
}

// DefaultTimeoutMs is the session timeout sessions ask for unless told
// otherwise (the pair's maxSessionTimeout allows it).
const DefaultTimeoutMs = 60000

// Placeholder paths: "@seq:<parent>" is the newest sequential node each
// server created under parent (each server uses its own, which must be
// the same name on conforming servers).
const seqPrefix = "@seq:"

// SeqOf returns the placeholder for the newest sequential child of parent.
func SeqOf(parent string) string { return seqPrefix + parent }

// Helpers building requests.

// OpenACL is world:anyone with every permission.
var OpenACL = []wire.ACL{{Perms: int32(wire.PermAll), ID: wire.ID{Scheme: "world", ID: "anyone"}}}

// DigestACL is digest:user:base64(sha1(user:password)) with perms.
func DigestACL(user, password string, perms wire.Perm) wire.ACL {
	sum := sha1.Sum([]byte(user + ":" + password))
	return wire.ACL{Perms: int32(perms), ID: wire.ID{Scheme: "digest", ID: user + ":" + base64.StdEncoding.EncodeToString(sum[:])}}
}

// ACLOf builds one ACL entry.
func ACLOf(scheme, id string, perms wire.Perm) wire.ACL {
	return wire.ACL{Perms: int32(perms), ID: wire.ID{Scheme: scheme, ID: id}}
}

// Do is a KRequest step.
func Do(sess int, op wire.OpCode, rec jute.Record) Step {
	return Step{Kind: KRequest, Sess: sess, Req: Req{Op: op, Rec: rec}}
}

// Expect sets the error every server must answer with.
func (s Step) Expect(code wire.ErrCode) Step {
	s.Want = &code
	return s
}

// Note attaches a comment shown in histories.
func (s Step) Note(c string) Step {
	s.Comment = c
	return s
}

// Create is a create (opcode 1) with data and the open ACL.
func Create(sess int, path, data string, mode wire.CreateMode) Step {
	return Do(sess, wire.OpCreate, &wire.CreateRequest{Path: path, Data: []byte(data), ACL: OpenACL, Flags: int32(mode)})
}

// SetData is a setData.
func SetData(sess int, path, data string, version int32) Step {
	return Do(sess, wire.OpSetData, &wire.SetDataRequest{Path: path, Data: []byte(data), Version: version})
}

// Delete is a delete.
func Delete(sess int, path string, version int32) Step {
	return Do(sess, wire.OpDelete, &wire.DeleteRequest{Path: path, Version: version})
}

// GetData is a getData.
func GetData(sess int, path string, watch bool) Step {
	return Do(sess, wire.OpGetData, &wire.GetDataRequest{Path: path, Watch: watch})
}

// Exists is an exists.
func Exists(sess int, path string, watch bool) Step {
	return Do(sess, wire.OpExists, &wire.ExistsRequest{Path: path, Watch: watch})
}

// Children is a getChildren2.
func Children(sess int, path string, watch bool) Step {
	return Do(sess, wire.OpGetChildren2, &wire.GetChildren2Request{Path: path, Watch: watch})
}

// Auth is an auth packet with the Java client's xid.
func Auth(sess int, scheme, cred string) Step {
	s := Do(sess, wire.OpAuth, &wire.AuthPacket{Scheme: scheme, Auth: []byte(cred)})
	s.Xid = wire.XidAuth
	return s
}

// Connect opens a new session in slot sess.
func Connect(sess int) Step { return Step{Kind: KConnect, Sess: sess} }

// Reconnect reconnects slot sess to its session.
func Reconnect(sess int) Step { return Step{Kind: KReconnect, Sess: sess} }

// Drop closes slot sess's socket.
func Drop(sess int) Step { return Step{Kind: KDrop, Sess: sess} }

// Fence pings every session.
func Fence() Step { return Step{Kind: KFence} }

// Describe renders a step for histories.
func (s Step) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "S%d ", s.Sess)
	switch s.Kind {
	case KRequest:
		b.WriteString(describeReq(s.Req))
	case KBatch:
		parts := make([]string, len(s.Reqs))
		for i, r := range s.Reqs {
			parts[i] = describeReq(r)
		}
		b.WriteString("batch[" + strings.Join(parts, " | ") + "]")
	case KConnect, KReconnect:
		b.WriteString(s.Kind.String())
		if s.TimeoutMs != 0 {
			fmt.Fprintf(&b, " timeout=%d", s.TimeoutMs)
		}
		if s.NoReadOnly {
			b.WriteString(" no-readOnly-byte")
		}
		if s.BadPasswd {
			b.WriteString(" wrong-password")
		}
		if s.ZxidAhead {
			b.WriteString(" zxid-ahead")
		}
	case KWaitGone:
		b.Reset()
		b.WriteString("wait until " + qpath(s.Path) + " is reaped")
	case KPrune:
		b.Reset()
		fmt.Fprintf(&b, "prune %s/%s*", qpath(s.Path), s.Prefix)
	case KFence:
		b.Reset()
		b.WriteString("fence")
	case KRaw:
		fmt.Fprintf(&b, "raw %d bytes", len(s.Raw))
	default:
		b.WriteString(s.Kind.String())
	}
	if s.Want != nil {
		b.WriteString(" (want " + s.Want.Name() + ")")
	}
	if s.Comment != "" {
		b.WriteString("  // " + s.Comment)
	}
	return b.String()
}

func describeReq(r Req) string {
	op := r.Op.String()
	if r.Xid != 0 {
		op += fmt.Sprintf("[xid=%d]", r.Xid)
	}
	if r.Rec == nil {
		return op
	}
	return op + " " + describeRec(r.Rec, r.RelLast)
}

func describeRec(rec jute.Record, relLast bool) string {
	switch v := rec.(type) {
	case *wire.CreateRequest:
		return fmt.Sprintf("%s %s %s flags=%d", qpath(v.Path), quote(v.Data), acls(v.ACL), v.Flags)
	case *wire.CreateTTLRequest:
		return fmt.Sprintf("%s %s %s flags=%d ttl=%d", qpath(v.Path), quote(v.Data), acls(v.ACL), v.Flags, v.TTL)
	case *wire.SetDataRequest:
		return fmt.Sprintf("%s %s v=%d", qpath(v.Path), quote(v.Data), v.Version)
	case *wire.DeleteRequest:
		return fmt.Sprintf("%s v=%d", qpath(v.Path), v.Version)
	case *wire.CheckVersionRequest:
		return fmt.Sprintf("%s v=%d", qpath(v.Path), v.Version)
	case *wire.ExistsRequest:
		return fmt.Sprintf("%s watch=%v", qpath(v.Path), v.Watch)
	case *wire.GetDataRequest:
		return fmt.Sprintf("%s watch=%v", qpath(v.Path), v.Watch)
	case *wire.GetChildrenRequest:
		return fmt.Sprintf("%s watch=%v", qpath(v.Path), v.Watch)
	case *wire.GetChildren2Request:
		return fmt.Sprintf("%s watch=%v", qpath(v.Path), v.Watch)
	case *wire.SetACLRequest:
		return fmt.Sprintf("%s %s v=%d", qpath(v.Path), acls(v.ACL), v.Version)
	case *wire.AuthPacket:
		return fmt.Sprintf("%s %q", v.Scheme, v.Auth)
	case *wire.MultiRequest:
		parts := make([]string, len(v.Ops))
		for i, op := range v.Ops {
			parts[i] = op.Type.String() + " " + describeRec(op.Op, false)
		}
		return "[" + strings.Join(parts, "; ") + "]"
	case *wire.SetWatches:
		rel := fmt.Sprint(v.RelativeZxid)
		if relLast {
			rel = "last-seen"
		}
		return fmt.Sprintf("rel=%s data=%v exist=%v child=%v", rel, v.DataWatches, v.ExistWatches, v.ChildWatches)
	case *wire.SetWatches2:
		rel := fmt.Sprint(v.RelativeZxid)
		if relLast {
			rel = "last-seen"
		}
		return fmt.Sprintf("rel=%s data=%v exist=%v child=%v persistent=%v recursive=%v", rel, v.DataWatches,
			v.ExistWatches, v.ChildWatches, v.PersistentWatches, v.PersistentRecursiveWatches)
	case rawBody:
		return "raw-body=" + quote(v)
	}
	return wire.FormatText(rec)
}

// RawBody is a request body sent exactly as given (malformed requests).
func RawBody(b []byte) jute.Record { return rawBody(b) }

type rawBody []byte

func (b rawBody) Encode(w *jute.Writer) { w.Raw(b) }
func (rawBody) Decode(*jute.Reader)     {}
func (b rawBody) Size() int             { return len(b) }
func (rawBody) Walk(jute.Visitor)       {}
func (rawBody) JuteName() string        { return "raw" }

// resolvePaths returns rec with "@seq:" placeholders replaced by fn (rec
// itself when it has none).
func resolvePaths(rec jute.Record, fn func(string) string) jute.Record {
	res := func(p string) (string, bool) {
		if strings.HasPrefix(p, seqPrefix) {
			return fn(p), true
		}
		return p, false
	}
	switch v := rec.(type) {
	case *wire.CreateRequest:
		if p, ok := res(v.Path); ok {
			c := *v
			c.Path = p
			return &c
		}
	case *wire.CreateTTLRequest:
		if p, ok := res(v.Path); ok {
			c := *v
			c.Path = p
			return &c
		}
	case *wire.DeleteRequest:
		if p, ok := res(v.Path); ok {
			c := *v
			c.Path = p
			return &c
		}
	case *wire.SetDataRequest:
		if p, ok := res(v.Path); ok {
			c := *v
			c.Path = p
			return &c
		}
	case *wire.CheckVersionRequest:
		if p, ok := res(v.Path); ok {
			c := *v
			c.Path = p
			return &c
		}
	case *wire.ExistsRequest:
		if p, ok := res(v.Path); ok {
			c := *v
			c.Path = p
			return &c
		}
	case *wire.GetDataRequest:
		if p, ok := res(v.Path); ok {
			c := *v
			c.Path = p
			return &c
		}
	case *wire.GetChildrenRequest:
		if p, ok := res(v.Path); ok {
			c := *v
			c.Path = p
			return &c
		}
	case *wire.GetChildren2Request:
		if p, ok := res(v.Path); ok {
			c := *v
			c.Path = p
			return &c
		}
	case *wire.GetACLRequest:
		if p, ok := res(v.Path); ok {
			c := *v
			c.Path = p
			return &c
		}
	case *wire.SetACLRequest:
		if p, ok := res(v.Path); ok {
			c := *v
			c.Path = p
			return &c
		}
	case *wire.AddWatchRequest:
		if p, ok := res(v.Path); ok {
			c := *v
			c.Path = p
			return &c
		}
	case *wire.CheckWatchesRequest:
		if p, ok := res(v.Path); ok {
			c := *v
			c.Path = p
			return &c
		}
	case *wire.RemoveWatchesRequest:
		if p, ok := res(v.Path); ok {
			c := *v
			c.Path = p
			return &c
		}
	case *wire.SyncRequest:
		if p, ok := res(v.Path); ok {
			c := *v
			c.Path = p
			return &c
		}
	case *wire.GetAllChildrenNumberRequest:
		if p, ok := res(v.Path); ok {
			c := *v
			c.Path = p
			return &c
		}
	case *wire.SetWatches:
		c := *v
		c.DataWatches, c.ExistWatches, c.ChildWatches = resolveList(v.DataWatches, fn), resolveList(v.ExistWatches, fn),
			resolveList(v.ChildWatches, fn)
		return &c
	case *wire.SetWatches2:
		c := *v
		c.DataWatches, c.ExistWatches, c.ChildWatches = resolveList(v.DataWatches, fn), resolveList(v.ExistWatches, fn),
			resolveList(v.ChildWatches, fn)
		c.PersistentWatches, c.PersistentRecursiveWatches = resolveList(v.PersistentWatches, fn),
			resolveList(v.PersistentRecursiveWatches, fn)
		return &c
	case *wire.MultiRequest:
		var out *wire.MultiRequest
		for i, op := range v.Ops {
			if r := resolvePaths(op.Op, fn); r != op.Op {
				if out == nil {
					out = &wire.MultiRequest{Ops: append([]wire.MultiOp(nil), v.Ops...)}
				}
				out.Ops[i].Op = r
			}
		}
		if out != nil {
			return out
		}
	}
	return rec
}

// resolveList resolves placeholders in a path list, keeping null null.
func resolveList(l []string, fn func(string) string) []string {
	if l == nil {
		return nil
	}
	out := make([]string, len(l))
	for i, p := range l {
		if strings.HasPrefix(p, seqPrefix) {
			p = fn(p)
		}
		out[i] = p
	}
	return out
}
