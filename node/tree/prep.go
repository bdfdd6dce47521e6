package tree

import (
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// change is one outstanding change (Java's PrepRequestProcessor.ChangeRecord):
// the state a prepared but not yet applied txn leaves a node in.
type change struct {
	zxid       wire.Zxid
	path       string
	exists     bool // false: the txn deletes the node
	stat       wire.StatPersisted
	childCount int32
	acl        []wire.ACL
	data       []byte
	dcrc       uint32 // dataCRC(path, data)
	// nodeDigest is the node's digest in this state (0 when deleted);
	// treeDigest is the tree digest once this change and every earlier
	// outstanding one are applied (Java's PrecalculatedDigest).
	nodeDigest uint64
	treeDigest uint64
}

// prepState is the outstanding-changes overlay: prepared txns are checked
// against the tree plus the changes of earlier prepared txns, so pipelined
// writes see each other before they are applied.
//
// Changes of applied txns are dropped a bounded number at a time (prepApplied
// and CleanPrep), not all at once: a change of an applied txn still holds
// the state its path has in the tree (a later txn that changed the path
// left a later change), so keeping it a little longer changes nothing.
type prepState struct {
	changes []*change          // changes[head:] in zxid order
	head    int                // changes before head were dropped
	byPath  map[string]*change // latest change per path
	// byOwner indexes the latest change per path whose node an ephemeral
	// owner holds in that state, by owner (closeSession's prep).
	byOwner map[int64]map[string]*change
	applied wire.Zxid // changes up to here belong to applied txns
	// save holds, while a txn is prepared, the index entries its changes
	// replaced, so that a rollback (of a failed multi op, or of a txn
	// beyond the size bound) restores them without a scan.
	save *savepoint
}

// savepoint is what a txn's changes replaced in the per-path indexes
// (maps made on first use).
type savepoint struct {
	byPath  map[string]*change
	byOwner map[ownerPath]*change
}

type ownerPath struct {
	owner int64
	path  string
}

// cleanPerApply bounds how many changes prepApplied drops per txn.
const cleanPerApply = 64

// prepApplied notes that txns up to zxid are applied (called by Apply) and
// drops some of their changes; CleanPrep drops the rest.
func (t *Tree) prepApplied(zxid wire.Zxid) {
	if zxid > t.prep.applied {
		t.prep.applied = zxid
	}
	t.CleanPrep(cleanPerApply)
}

// CleanPrep drops up to n changes of applied txns and reports whether any
// are left.
func (t *Tree) CleanPrep(n int) bool {
	ps := &t.prep
	for ; n > 0 && ps.head < len(ps.changes) && ps.changes[ps.head].zxid <= ps.applied; n-- {
		c := ps.changes[ps.head]
		ps.changes[ps.head] = nil
		ps.head++
		if ps.byPath[c.path] == c {
			delete(ps.byPath, c.path)
		}
		ps.unindexOwner(c)
	}
	if ps.head == len(ps.changes) {
		ps.changes, ps.head = ps.changes[:0], 0
	} else if ps.head > 1024 && ps.head > len(ps.changes)/2 {
		ps.changes = append(ps.changes[:0], ps.changes[ps.head:]...)
		ps.head = 0
	}
	return ps.head < len(ps.changes) && ps.changes[ps.head].zxid <= ps.applied
}

func (ps *prepState) indexOwner(c *change) {
	if !c.exists || c.stat.EphemeralOwner == 0 {
		return
	}
	if ps.byOwner == nil {
		ps.byOwner = make(map[int64]map[string]*change)
	}
	m := ps.byOwner[c.stat.EphemeralOwner]
	if m == nil {
		m = make(map[string]*change)
		ps.byOwner[c.stat.EphemeralOwner] = m
	}
	m[c.path] = c
}

func (ps *prepState) unindexOwner(c *change) {
	if !c.exists || c.stat.EphemeralOwner == 0 {
		return
	}
	if m := ps.byOwner[c.stat.EphemeralOwner]; m[c.path] == c {
		delete(m, c.path)
		if len(m) == 0 {
			delete(ps.byOwner, c.stat.EphemeralOwner)
		}
	}
}

// Outstanding returns the number of prepared changes not yet dropped.
func (t *Tree) Outstanding() int { return len(t.prep.changes) - t.prep.head }

// ResetPrep forgets all outstanding changes (on a role change).
func (t *Tree) ResetPrep() { t.prep = prepState{} }

func (t *Tree) addChange(c *change) {
	if t.prep.byPath == nil {
		t.prep.byPath = make(map[string]*change)
	}
	var prev uint64
	if old := t.record(c.path); old != nil {
		prev = old.nodeDigest
	}
	c.nodeDigest = 0
	if c.exists && !noDigest(c.path) {
		c.nodeDigest = t.dg.finish(c.dcrc, &c.stat)
	}
	c.treeDigest = t.prepDigest() - prev + c.nodeDigest
	ps := &t.prep
	if sp := ps.save; sp != nil {
		if sp.byPath == nil {
			sp.byPath = make(map[string]*change)
		}
		if _, ok := sp.byPath[c.path]; !ok {
			sp.byPath[c.path] = ps.byPath[c.path]
		}
		if c.exists && c.stat.EphemeralOwner != 0 {
			k := ownerPath{c.stat.EphemeralOwner, c.path}
			if sp.byOwner == nil {
				sp.byOwner = make(map[ownerPath]*change)
			}
			if _, ok := sp.byOwner[k]; !ok {
				sp.byOwner[k] = ps.byOwner[k.owner][k.path]
			}
		}
	}
	ps.changes = append(ps.changes, c)
	ps.byPath[c.path] = c
	ps.indexOwner(c)
}

// prepDigest is the tree digest once every outstanding change is applied
// (PrepRequestProcessor.getCurrentTreeDigest).
func (t *Tree) prepDigest() uint64 {
	if n := len(t.prep.changes); n > t.prep.head {
		return t.prep.changes[n-1].treeDigest
	}
	return t.digest
}

// record returns the current view of path (getRecordForPath), or nil when
// the node does not exist in the tree plus overlay.
func (t *Tree) record(path string) *change {
	if c, ok := t.prep.byPath[path]; ok {
		if !c.exists {
			return nil
		}
		return c
	}
	n := t.nodes.get(path)
	if n == nil {
		return nil
	}
	return &change{zxid: -1, path: path, exists: true, stat: n.Stat, childCount: int32(n.children.len()), acl: t.acls.Get(n.ACL),
		data: n.Data(), dcrc: n.dcrc, nodeDigest: t.nodeDigest(path, n)}
}

func (c *change) duplicate(zxid wire.Zxid) *change {
	d := *c
	d.zxid = zxid
	return &d
}

// SessionCheck validates a session for a write (SessionTracker.checkSession):
// it returns ErrOk, ErrSessionExpired or ErrSessionMoved.
type SessionCheck func(id wire.SessionID) wire.ErrCode

// PrepRequest is a client write to turn into a txn.
type PrepRequest struct {
	Session wire.SessionID
	Cxid    wire.Xid
	Type    wire.OpCode
	// Body is the decoded request record. deleteContainer carries its path
	// in Raw; createSession carries the negotiated timeout in Raw (i32).
	Body jute.Record
	Raw  []byte
	Auth []wire.ID
	Zxid wire.Zxid // the zxid this txn gets (consumed even if it fails)
	Time int64     // wall-clock ms for the txn header
	// CheckSession validates the session; nil accepts every session.
	CheckSession SessionCheck
	// ReconfigEnabled is reconfigEnabled (off by default).
	ReconfigEnabled bool
	// Reconfig, on a leader of an ensemble (nil elsewhere: a standalone
	// server has no quorum to reconfigure, UNIMPLEMENTED), computes the
	// configuration a reconfig asks for (quorum.Reconfig with the
	// leader's committed and last seen configurations and its synced
	// followers) and returns its text (QuorumVerifier.toString), or the
	// code of Java's refusal.
	Reconfig func(*wire.ReconfigRequest) ([]byte, wire.ErrCode)

	// fixed is the FixupACL of the ACL list being prepared, done in steps
	// by a PrepJob.
	fixed *aclFixup
}

// fixupACL is FixupACL with the tree's providers (x509, sasl), or the
// result a PrepJob worked out in steps for this very list.
func (t *Tree) fixupACL(req *PrepRequest, acl []wire.ACL) ([]wire.ACL, wire.ErrCode) {
	if f := req.fixed; f != nil && f.done && len(f.acl) == len(acl) && len(acl) > 0 && &f.acl[0] == &acl[0] {
		return f.out, f.code
	}
	return fixupACL(acl, req.Auth, t.opts.recordLimit(), t.opts)
}

// requestACL returns the ACL list of a create or setACL request.
func requestACL(body jute.Record) []wire.ACL {
	switch r := body.(type) {
	case *wire.CreateRequest:
		return r.ACL
	case *wire.CreateTTLRequest:
		return r.ACL
	case *wire.SetACLRequest:
		return r.ACL
	}
	return nil
}

// recordLimit is the txn size bound (Options.MaxTxnBytes).
func (o Options) recordLimit() int {
	if o.MaxTxnBytes > 0 {
		return o.MaxTxnBytes
	}
	return jute.QuorumMaxBuffer
}

// PrepError is a prep failure with its code (KeeperException).
type prepError struct {
	code wire.ErrCode
	path string
}

func fail(code wire.ErrCode, path string) *prepError { return &prepError{code, path} }

// Prep validates a write against the tree and outstanding changes and
// returns its txn, recording the txn's changes as outstanding. A rejected
// write becomes an error txn (type error, ErrorTxn{code}) that still uses
// req.Zxid, as PrepRequestProcessor does; a rejected multi becomes a multi
// of error sub-txns. The second result is the error reported to the client.
//
// The txn's encoding is bounded by Options.MaxTxnBytes, the limit every
// reader of the txn log and of PROPOSALs applies (Java's and zkgo's): a
// write whose txn would be larger (an "auth" ACL expanded to many ids, a
// large multi) is refused with BADARGUMENTS before anything is logged (in
// a multi, by the op whose txn crosses the limit),
// and a closeSession whose ephemeral list would be larger lists none (its
// readers then delete the session's ephemerals from their own index).
// Java 3.8 logs such a txn, acknowledges it, and then cannot read its own
// log (DIFFERENCES.md).
func (t *Tree) Prep(req *PrepRequest) (wire.TxnEntry, wire.ErrCode) {
	if j := t.BeginPrep(req); j != nil {
		j.Step(-1)
		return j.Result()
	}
	e := wire.TxnEntry{Hdr: wire.TxnHeader{ClientID: req.Session, Cxid: req.Cxid, Zxid: req.Zxid, Time: req.Time, Type: req.Type}}
	t.prep.save = &savepoint{} // for boundTxn's rollback
	body, perr := t.prepOne(req, req.Type, req.Body, true)
	if perr != nil {
		t.prep.save = nil
		e.Hdr.Type = wire.OpError
		e.Body = &wire.ErrorTxn{Err: perr.code}
		return e, perr.code
	}
	e.Body = body
	e.Digest = t.txnDigest()
	return t.boundTxn(e, wire.ErrOk)
}

// boundTxn applies the size bound of Prep to a prepared txn whose changes
// are recorded, with the savepoint (prepState.save) taken before them; it
// ends the savepoint. O(ops) of the txn, as its encoding.
func (t *Tree) boundTxn(e wire.TxnEntry, code wire.ErrCode) (wire.TxnEntry, wire.ErrCode) {
	limit := t.opts.recordLimit()
	if e.Size() <= limit {
		t.prep.save = nil
		return e, code
	}
	if c, ok := e.Body.(*wire.CloseSessionTxn); ok && e.Hdr.Type == wire.OpCloseSession {
		// The changes stay: every reader deletes the same nodes.
		t.prep.save = nil
		c.Paths2Delete = []string{}
		return e, code
	}
	t.rollback(e.Hdr.Zxid)
	if m, ok := e.Body.(*wire.MultiTxn); ok && e.Hdr.Type == wire.OpMulti {
		// As any failed multi: the op whose txn crosses the limit fails,
		// those before it report 0 and those after RUNTIMEINCONSISTENCY.
		size := e.Hdr.Size() + 4
		if e.Digest != nil {
			size += e.Digest.Size()
		}
		bad := len(m.Txns) - 1
		for i := range m.Txns {
			if size += m.Txns[i].Size(); size > limit {
				bad = i
				break
			}
		}
		txns := make([]wire.Txn, len(m.Txns))
		for i := range txns {
			code := wire.ErrOk
			switch {
			case i == bad:
				code = wire.ErrBadArguments
			case i > bad:
				code = wire.ErrRuntimeInconsistency
			}
			txns[i] = wire.Txn{Type: wire.OpError, Data: jute.Marshal(&wire.ErrorTxn{Err: code})}
		}
		e.Body = &wire.MultiTxn{Txns: txns}
		e.Digest = t.txnDigest()
		return e, wire.ErrBadArguments
	}
	e.Hdr.Type = wire.OpError
	e.Body = &wire.ErrorTxn{Err: wire.ErrBadArguments}
	e.Digest = nil
	return e, wire.ErrBadArguments
}

// txnDigest is the TxnDigest Java 3.6+ attaches to a prepared txn: the
// tree digest once it and every earlier outstanding txn are applied.
// Java attaches none to an error txn (a failed non-multi request).
func (t *Tree) txnDigest() *wire.TxnDigest {
	return &wire.TxnDigest{Version: DigestVersion, TreeDigest: int64(t.prepDigest())}
}

func (t *Tree) checkSession(req *PrepRequest) *prepError {
	if req.CheckSession == nil {
		return nil
	}
	if code := req.CheckSession(req.Session); code != wire.ErrOk {
		return fail(code, "")
	}
	return nil
}

// validateParent mirrors validatePathForCreate/getParentPathAndValidate's
// cheap checks: a slash must exist and no NUL byte.
func parentOf(path string) (string, *prepError) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 || strings.IndexByte(path, 0) >= 0 {
		return "", fail(wire.ErrBadArguments, path)
	}
	if i == 0 {
		return "/", nil
	}
	return path[:i], nil
}

func validatePath(path string) *prepError {
	if wire.ValidatePath(path, false) != nil {
		return fail(wire.ErrBadArguments, path)
	}
	return nil
}

func checkAndIncVersion(current, expected int32, path string) (int32, *prepError) {
	if expected != -1 && expected != current {
		return 0, fail(wire.ErrBadVersion, path)
	}
	return current + 1, nil
}

func isSpecialPath(path string) bool {
	return path == "/" || path == ZookeeperPath || path == QuotaPath || path == ConfigPath
}

// prepOne is pRequest2Txn for one operation; record=true adds outstanding
// changes (always true: a multi's failed op rolls back by truncation).
func (t *Tree) prepOne(req *PrepRequest, typ wire.OpCode, body jute.Record, _ bool) (jute.Record, *prepError) {
	zxid := req.Zxid
	switch typ {
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL:
		return t.prepCreate(req, typ, body)

	case wire.OpDeleteContainer:
		path := string(req.Raw)
		if d, ok := body.(*wire.DeleteTxn); ok {
			path = d.Path
		}
		parentPath, perr := parentOf(path)
		if perr != nil {
			return nil, perr
		}
		if isSpecialPath(path) {
			return nil, fail(wire.ErrBadArguments, path)
		}
		node := t.record(path)
		if node == nil {
			return nil, fail(wire.ErrNoNode, path)
		}
		if node.childCount > 0 {
			return nil, fail(wire.ErrNotEmpty, path)
		}
		if t.KindOf(node.stat.EphemeralOwner) == KindEphemeral {
			return nil, fail(wire.ErrBadVersion, path)
		}
		parent := t.record(parentPath)
		if parent == nil {
			return nil, fail(wire.ErrNoNode, parentPath)
		}
		p := parent.duplicate(zxid)
		p.childCount--
		p.stat.Pzxid = zxid
		t.addChange(p)
		t.addChange(&change{zxid: zxid, path: path})
		return &wire.DeleteTxn{Path: path}, nil

	case wire.OpDelete:
		if perr := t.checkSession(req); perr != nil {
			return nil, perr
		}
		d, ok := body.(*wire.DeleteRequest)
		if !ok || d.Nulls.Has(0) {
			return nil, fail(wire.ErrMarshallingError, "")
		}
		parentPath, perr := parentOf(d.Path)
		if perr != nil {
			return nil, perr
		}
		if isSpecialPath(d.Path) {
			return nil, fail(wire.ErrBadArguments, d.Path)
		}
		parent := t.record(parentPath)
		if parent == nil {
			return nil, fail(wire.ErrNoNode, parentPath)
		}
		if !CheckACL(parent.acl, wire.PermDelete, req.Auth) {
			return nil, fail(wire.ErrNoAuth, d.Path)
		}
		node := t.record(d.Path)
		if node == nil {
			return nil, fail(wire.ErrNoNode, d.Path)
		}
		if _, perr := checkAndIncVersion(node.stat.Version, d.Version, d.Path); perr != nil {
			return nil, perr
		}
		if node.childCount > 0 {
			return nil, fail(wire.ErrNotEmpty, d.Path)
		}
		p := parent.duplicate(zxid)
		p.childCount--
		p.stat.Pzxid = zxid
		t.addChange(p)
		t.addChange(&change{zxid: zxid, path: d.Path})
		return &wire.DeleteTxn{Path: d.Path}, nil

	case wire.OpSetData:
		if perr := t.checkSession(req); perr != nil {
			return nil, perr
		}
		s, ok := body.(*wire.SetDataRequest)
		if !ok {
			return nil, fail(wire.ErrMarshallingError, "")
		}
		if perr := validatePath(s.Path); perr != nil {
			return nil, perr
		}
		node := t.record(s.Path)
		if node == nil {
			return nil, fail(wire.ErrNoNode, s.Path)
		}
		if !CheckACL(node.acl, wire.PermWrite, req.Auth) {
			return nil, fail(wire.ErrNoAuth, s.Path)
		}
		v, perr := checkAndIncVersion(node.stat.Version, s.Version, s.Path)
		if perr != nil {
			return nil, perr
		}
		n := node.duplicate(zxid)
		n.stat.Version = v
		n.stat.Mtime = req.Time
		n.stat.Mzxid = zxid
		n.data = s.Data
		n.dcrc = dataCRC(s.Path, s.Data)
		t.addChange(n)
		return &wire.SetDataTxn{Path: s.Path, Data: s.Data, Version: v}, nil

	case wire.OpReconfig:
		// PrepRequestProcessor refuses a disabled reconfig before it
		// checks the session.
		if !req.ReconfigEnabled {
			return nil, fail(wire.ErrReconfigDisabled, "")
		}
		if perr := t.checkSession(req); perr != nil {
			return nil, perr
		}
		if req.Reconfig == nil {
			// Standalone servers have no quorum to reconfigure.
			return nil, fail(wire.ErrUnimplemented, "")
		}
		r, ok := body.(*wire.ReconfigRequest)
		if !ok {
			return nil, fail(wire.ErrMarshallingError, "")
		}
		text, code := req.Reconfig(r)
		if code != wire.ErrOk {
			return nil, fail(code, "")
		}
		// Then, as Java, WRITE on /zookeeper/config (a super user or
		// skipACL passes); the txn is a SetData of it with version -1,
		// which its stat takes when applied (DataTree.setData).
		node := t.record(ConfigPath)
		if node == nil {
			return nil, fail(wire.ErrNoNode, ConfigPath)
		}
		if !CheckACL(node.acl, wire.PermWrite, req.Auth) {
			return nil, fail(wire.ErrNoAuth, ConfigPath)
		}
		n := node.duplicate(zxid)
		n.stat.Version = -1
		n.data = text
		n.dcrc = dataCRC(ConfigPath, text)
		t.addChange(n)
		return &wire.SetDataTxn{Path: ConfigPath, Data: text, Version: -1}, nil

	case wire.OpSetACL:
		if perr := t.checkSession(req); perr != nil {
			return nil, perr
		}
		s, ok := body.(*wire.SetACLRequest)
		if !ok {
			return nil, fail(wire.ErrMarshallingError, "")
		}
		if perr := validatePath(s.Path); perr != nil {
			return nil, perr
		}
		acl, code := t.fixupACL(req, s.ACL)
		if code != wire.ErrOk {
			return nil, fail(code, s.Path)
		}
		node := t.record(s.Path)
		if node == nil {
			return nil, fail(wire.ErrNoNode, s.Path)
		}
		if !CheckACL(node.acl, wire.PermAdmin, req.Auth) {
			return nil, fail(wire.ErrNoAuth, s.Path)
		}
		v, perr := checkAndIncVersion(node.stat.Aversion, s.Version, s.Path)
		if perr != nil {
			return nil, perr
		}
		// The outstanding record keeps the node's old ACL, as Java's does:
		// a write pipelined behind the setACL is checked against the ACL
		// from before it, until the records of both are applied.
		n := node.duplicate(zxid)
		n.stat.Aversion = v
		t.addChange(n)
		return &wire.SetACLTxn{Path: s.Path, ACL: acl, Version: v}, nil

	case wire.OpCheck:
		if perr := t.checkSession(req); perr != nil {
			return nil, perr
		}
		c, ok := body.(*wire.CheckVersionRequest)
		if !ok {
			return nil, fail(wire.ErrMarshallingError, "")
		}
		if perr := validatePath(c.Path); perr != nil {
			return nil, perr
		}
		node := t.record(c.Path)
		if node == nil {
			return nil, fail(wire.ErrNoNode, c.Path)
		}
		if !CheckACL(node.acl, wire.PermRead, req.Auth) {
			return nil, fail(wire.ErrNoAuth, c.Path)
		}
		v, perr := checkAndIncVersion(node.stat.Version, c.Version, c.Path)
		if perr != nil {
			return nil, perr
		}
		return &wire.CheckVersionTxn{Path: c.Path, Version: v}, nil

	case wire.OpCreateSession:
		var to int32
		if c, ok := body.(*wire.CreateSessionTxn); ok {
			to = c.TimeOut
		} else if len(req.Raw) >= 4 {
			to = int32(uint32(req.Raw[0])<<24 | uint32(req.Raw[1])<<16 | uint32(req.Raw[2])<<8 | uint32(req.Raw[3]))
		}
		return &wire.CreateSessionTxn{TimeOut: to}, nil

	}
	return nil, fail(wire.ErrUnimplemented, "")
}

func (t *Tree) prepCreate(req *PrepRequest, typ wire.OpCode, body jute.Record) (jute.Record, *prepError) {
	zxid := req.Zxid
	var (
		path  string
		data  []byte
		acl   []wire.ACL
		flags int32
		ttl   int64 = -1
	)
	switch r := body.(type) {
	case *wire.CreateRequest:
		path, data, acl, flags = r.Path, r.Data, r.ACL, r.Flags
		if r.Nulls.Has(0) {
			return nil, fail(wire.ErrMarshallingError, "") // Java: NPE on the null path
		}
	case *wire.CreateTTLRequest:
		path, data, acl, flags, ttl = r.Path, r.Data, r.ACL, r.Flags, r.TTL
		if r.Nulls.Has(0) {
			return nil, fail(wire.ErrMarshallingError, "")
		}
	default:
		return nil, fail(wire.ErrMarshallingError, "")
	}
	mode := wire.CreateMode(flags)
	if !mode.Valid() {
		return nil, fail(wire.ErrBadArguments, path)
	}
	// validateCreateRequest
	if mode.IsTTL() && !t.opts.ExtendedTypes {
		return nil, fail(wire.ErrUnimplemented, path)
	}
	if mode.IsTTL() {
		if ttl <= 0 || ttl > MaxTTL {
			return nil, fail(wire.ErrBadArguments, path)
		}
	} else if ttl >= 0 || typ == wire.OpCreateTTL {
		// Java lets a createTTL with a non-TTL mode and a negative ttl
		// through and then crashes applying it; zkgo rejects it.
		return nil, fail(wire.ErrBadArguments, path)
	}
	if perr := t.checkSession(req); perr != nil {
		return nil, perr
	}
	parentPath, perr := parentOf(path)
	if perr != nil {
		return nil, perr
	}
	fixed, code := t.fixupACL(req, acl)
	if code != wire.ErrOk {
		return nil, fail(code, path)
	}
	parent := t.record(parentPath)
	if parent == nil {
		return nil, fail(wire.ErrNoNode, parentPath)
	}
	if !CheckACL(parent.acl, wire.PermCreate, req.Auth) {
		return nil, fail(wire.ErrNoAuth, path)
	}
	parentCVersion := parent.stat.Cversion
	if mode.IsSequential() {
		path += SequenceSuffix(parentCVersion)
	}
	if perr := validatePath(path); perr != nil {
		return nil, perr
	}
	if t.record(path) != nil {
		return nil, fail(wire.ErrNodeExists, path)
	}
	if t.KindOf(parent.stat.EphemeralOwner) == KindEphemeral {
		return nil, fail(wire.ErrNoChildrenForEphemerals, path)
	}
	newCversion := parent.stat.Cversion + 1
	var txn jute.Record
	var owner int64
	switch {
	case typ == wire.OpCreateContainer:
		txn = &wire.CreateContainerTxn{Path: path, Data: data, ACL: fixed, ParentCVersion: newCversion}
	case typ == wire.OpCreateTTL:
		txn = &wire.CreateTTLTxn{Path: path, Data: data, ACL: fixed, ParentCVersion: newCversion, TTL: ttl}
	default:
		txn = &wire.CreateTxn{Path: path, Data: data, ACL: fixed, Ephemeral: mode.IsEphemeral(), ParentCVersion: newCversion}
	}
	// The opcode, not the flags, decides the kind of node (create with the
	// container flag makes a persistent node; createContainer always a
	// container).
	switch {
	case typ == wire.OpCreateContainer:
		owner = ContainerOwner
	case typ == wire.OpCreateTTL:
		owner = TTLOwner(ttl)
	case mode.IsEphemeral():
		owner = int64(req.Session)
	}
	p := parent.duplicate(zxid)
	p.childCount++
	p.stat.Cversion = newCversion
	p.stat.Pzxid = zxid
	t.addChange(p)
	t.addChange(&change{zxid: zxid, path: path, exists: true, acl: fixed, data: data, dcrc: dataCRC(path, data),
		stat: wire.StatPersisted{Czxid: zxid, Mzxid: zxid, Pzxid: zxid, Ctime: req.Time, Mtime: req.Time, EphemeralOwner: owner}})
	return txn, nil
}

// normalizeMultiOps rebuilds a multi's ops the way Java's
// MultiOperationRecord does (Op.create picks the opcode from the flags:
// create2 becomes create, flags 4 a container create, a createTTL without
// TTL flags a plain create). It reports false when Java would reject the
// whole request while decoding it: read ops mixed with writes or alone. A
// CreateRequest with TTL flags gets the createTTL opcode, as Java's Op.create
// gives it; prepMulti fails on it when it gets there.
func normalizeMultiOps(in []wire.MultiOp) ([]wire.MultiOp, bool) {
	out := make([]wire.MultiOp, 0, len(in))
	reads := 0
	for _, op := range in {
		switch r := op.Op.(type) {
		case *wire.CreateRequest:
			switch wire.CreateMode(r.Flags) {
			case wire.ModePersistentWithTTL, wire.ModePersistentSequentialWithTTL:
				op.Type = wire.OpCreateTTL
			case wire.ModeContainer:
				op.Type = wire.OpCreateContainer
			default:
				op.Type = wire.OpCreate
			}
		case *wire.CreateTTLRequest:
			if !wire.CreateMode(r.Flags).IsTTL() {
				c := &wire.CreateRequest{Path: r.Path, Data: r.Data, ACL: r.ACL, Flags: r.Flags, Nulls: r.Nulls}
				op = wire.MultiOp{Type: wire.OpCreate, Op: c}
				if wire.CreateMode(r.Flags) == wire.ModeContainer {
					op.Type = wire.OpCreateContainer
				}
			}
		case *wire.GetDataRequest, *wire.GetChildrenRequest:
			reads++
		}
		out = append(out, op)
	}
	if reads > 0 {
		return nil, false
	}
	return out, true
}

// SequenceSuffix formats a sequence number as Java's String.format("%010d")
// does: ten digits, zero-padded, with the sign counted in the width
// (-5 -> "-000000005"); wider numbers are not truncated.
func SequenceSuffix(n int32) string {
	digits := strconv.FormatInt(int64(n), 10)
	neg := n < 0
	if neg {
		digits = digits[1:]
	}
	width := 10
	if neg {
		width = 9
	}
	for len(digits) < width {
		digits = "0" + digits
	}
	if neg {
		return "-" + digits
	}
	return digits
}
