package tree

import (
	"iter"
	"maps"
	"sort"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// LargeTxn is the number of ops (of a multi) or ephemerals (of a closing
// session) from which the caller should prepare or apply a txn in steps,
// a bounded number of ops per owner round, instead of in one call.
const LargeTxn = 512

// PrepJob prepares one multi, closeSession, or create or setACL with a long
// ACL list, a bounded number of ops (or ACL entries) per Step, so that the
// owner goroutine can answer other clients in between. Between the steps of
// a job nothing else may be prepared (its zxid is taken and its changes are
// partly recorded); txns may be applied.
type PrepJob struct {
	t   *Tree
	req *PrepRequest
	e   wire.TxnEntry

	// multi
	ops      []wire.MultiOp
	txns     []wire.Txn
	firstErr wire.ErrCode

	// closeSession
	paths    []string // candidates, then (prefix) those deleted
	kept     int
	candNext func() (string, bool) // gathers a large session's candidates
	candStop func()

	// fix is the ACL fixup of the op (or request) about to be prepared,
	// when its list is long; size counts ops and long lists' entries.
	fix    *aclFixup
	single bool
	size   int

	i    int
	done bool
	code wire.ErrCode
}

// BeginPrep starts preparing a multi, a closeSession, or a create or setACL
// with a list of more than LargeTxn ACL entries; for other requests it
// returns nil (use Prep). Size says how much the job has to do (to decide
// between running it at once and in steps).
func (t *Tree) BeginPrep(req *PrepRequest) *PrepJob {
	e := wire.TxnEntry{Hdr: wire.TxnHeader{ClientID: req.Session, Cxid: req.Cxid, Zxid: req.Zxid, Time: req.Time, Type: req.Type}}
	j := &PrepJob{t: t, req: req, e: e}
	switch req.Type {
	case wire.OpMulti:
		m, ok := req.Body.(*wire.MultiRequest)
		if !ok {
			j.fail(wire.ErrMarshallingError)
			return j
		}
		ops, ok := normalizeMultiOps(m.Ops)
		if !ok {
			// MultiOperationRecord refuses mixed or read-only ops: the whole
			// request becomes MARSHALLINGERROR.
			j.fail(wire.ErrMarshallingError)
			return j
		}
		j.ops = ops
		// Rollback restores what the multi's changes replace.
		t.prep.save = &savepoint{byPath: make(map[string]*change), byOwner: make(map[ownerPath]*change)}
		j.txns = make([]wire.Txn, 0, len(ops))
		j.firstErr = wire.ErrOk
		j.size = len(ops)
		for _, op := range ops {
			if n := len(requestACL(op.Op)); n > LargeTxn {
				j.size += n
			}
		}
	case wire.OpCloseSession:
		inTree := t.ephemerals[req.Session]
		j.size = len(inTree) + len(t.prep.byOwner[int64(req.Session)])
		if j.size <= maxSortedChildren {
			j.paths = t.closeSessionCandidates(req.Session)
			break
		}
		// Many ephemerals: those prepared but not applied are taken now
		// (an apply between steps may move one into the tree's set after
		// the walk passed, and clean it from the overlay), the tree's set
		// is walked in steps, in map order. A path met twice is harmless:
		// the second time its latest change is the deletion just
		// recorded, which closeSessionPath skips.
		j.paths = make([]string, 0, j.size)
		for p := range t.prep.byOwner[int64(req.Session)] {
			j.paths = append(j.paths, p)
		}
		j.candNext, j.candStop = iter.Pull(maps.Keys(inTree))
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL, wire.OpSetACL:
		n := len(requestACL(req.Body))
		if n <= LargeTxn {
			return nil
		}
		j.single, j.size = true, n
		t.prep.save = &savepoint{} // for boundTxn's rollback
	default:
		return nil
	}
	return j
}

// Abandon releases what a job that will not be finished holds.
func (j *PrepJob) Abandon() {
	if j.candNext != nil {
		j.candStop()
		j.candNext = nil
	}
}

// Closing returns the session of a closeSession job.
func (j *PrepJob) Closing() (wire.SessionID, bool) {
	return j.req.Session, j.req.Type == wire.OpCloseSession
}

// Size returns the number of ops (and entries of long ACL lists) the job
// prepares.
func (j *PrepJob) Size() int { return j.size }

// fixupStep works on the ACL fixup of body (when its list is long) and
// reports the entries it looked at and whether the fixup is done (or not
// needed); the op's prep then uses its result.
func (j *PrepJob) fixupStep(body jute.Record, budget int) (int, bool) {
	acl := requestACL(body)
	if len(acl) <= LargeTxn {
		return 0, true
	}
	if j.fix == nil {
		j.fix = newACLFixup(acl, j.req.Auth, j.t.opts.recordLimit(), j.t.opts)
	}
	used, done := j.fix.step(budget)
	if done {
		j.req.fixed = j.fix
	}
	return used, done
}

// Step prepares up to budget ops (all when budget < 0) and reports how many
// it did and whether the job is complete.
func (j *PrepJob) Step(budget int) (int, bool) {
	if j.done {
		return 0, true
	}
	used := 0
	if j.single {
		n, fixed := j.fixupStep(j.req.Body, budget)
		if !fixed {
			return n, false
		}
		j.prepSingle()
		return n + 1, true
	}
	switch j.req.Type {
	case wire.OpMulti:
		for ; j.i < len(j.ops) && (budget < 0 || used < budget); j.i++ {
			if j.firstErr == wire.ErrOk {
				n, fixed := j.fixupStep(j.ops[j.i].Op, budget-used)
				used += n
				if !fixed {
					return used, false
				}
			}
			used++
			ok := j.multiOp(j.ops[j.i])
			j.fix, j.req.fixed = nil, nil
			if !ok {
				return used, true
			}
		}
		if j.i == len(j.ops) {
			j.e.Body = &wire.MultiTxn{Txns: j.txns}
			j.e.Digest = j.t.txnDigest()
			j.e, j.code = j.t.boundTxn(j.e, j.firstErr)
			j.done = true
		}
	case wire.OpCloseSession:
		for j.candNext != nil && (budget < 0 || used < budget) {
			used++
			p, ok := j.candNext()
			if !ok {
				j.candStop()
				j.candNext = nil
				break
			}
			j.paths = append(j.paths, p)
		}
		if j.candNext != nil {
			return used, false
		}
		for ; j.i < len(j.paths) && (budget < 0 || used < budget); j.i++ {
			used++
			j.closeSessionPath(j.paths[j.i])
		}
		if j.i == len(j.paths) {
			j.e.Body = &wire.CloseSessionTxn{Paths2Delete: j.paths[:j.kept:j.kept]}
			j.e.Digest = j.t.txnDigest()
			j.e, j.code = j.t.boundTxn(j.e, wire.ErrOk)
			j.done = true
		}
	}
	return used, j.done
}

// prepSingle prepares a create or setACL whose ACL fixup is done, as Prep.
func (j *PrepJob) prepSingle() {
	t := j.t
	body, perr := t.prepOne(j.req, j.req.Type, j.req.Body, true)
	j.fix, j.req.fixed = nil, nil
	j.done = true
	if perr != nil {
		t.prep.save = nil
		j.e.Hdr.Type = wire.OpError
		j.e.Body = &wire.ErrorTxn{Err: perr.code}
		j.code = perr.code
		return
	}
	j.e.Body = body
	j.e.Digest = t.txnDigest()
	j.e, j.code = t.boundTxn(j.e, wire.ErrOk)
}

// Result returns the txn and the error reported to the client; valid once
// Step reported done.
func (j *PrepJob) Result() (wire.TxnEntry, wire.ErrCode) { return j.e, j.code }

// fail makes the whole request an error txn.
func (j *PrepJob) fail(code wire.ErrCode) {
	j.e.Hdr.Type = wire.OpError
	j.e.Body = &wire.ErrorTxn{Err: code}
	j.e.Digest = nil
	j.code = code
	j.done = true
}

// multiOp prepares one op of a multi, mirroring the multi branch of
// PrepRequestProcessor: ops are prepared in order; at the first failure the
// changes made by the multi are rolled back, the failed op becomes
// ErrorTxn{code}, earlier ops keep their txns and later ops become
// ErrorTxn{RUNTIMEINCONSISTENCY}. The client sees the first error. It
// reports false when the whole request failed.
func (j *PrepJob) multiOp(op wire.MultiOp) bool {
	t := j.t
	if j.firstErr != wire.ErrOk {
		j.txns = append(j.txns, wire.Txn{Type: wire.OpError, Data: jute.Marshal(&wire.ErrorTxn{Err: wire.ErrRuntimeInconsistency})})
		return true
	}
	if _, plain := op.Op.(*wire.CreateRequest); plain && op.Type == wire.OpCreateTTL {
		// Java's Op.create gave a CreateRequest with TTL flags the
		// createTTL opcode; preparing it casts the record to
		// CreateTTLRequest and fails (ClassCastException). That is not a
		// KeeperException, so the whole request becomes MARSHALLINGERROR
		// and the ops prepared so far are dropped. Only reached when no
		// earlier op failed.
		t.rollback(j.req.Zxid)
		j.fail(wire.ErrMarshallingError)
		return false
	}
	rec, perr := t.prepOne(j.req, op.Type, op.Op, true)
	if perr != nil && perr.code == wire.ErrMarshallingError {
		// Every MARSHALLINGERROR of prep stands for a Java exception that
		// is not a KeeperException (a NullPointerException on a null field,
		// a ClassCastException): the multi's loop does not catch it, and
		// the whole request fails as above.
		t.rollback(j.req.Zxid)
		j.fail(wire.ErrMarshallingError)
		return false
	}
	if perr != nil {
		j.firstErr = perr.code
		t.rollback(j.req.Zxid)
		j.txns = append(j.txns, wire.Txn{Type: wire.OpError, Data: jute.Marshal(&wire.ErrorTxn{Err: perr.code})})
		return true
	}
	j.txns = append(j.txns, wire.Txn{Type: op.Type, Data: jute.Marshal(rec)})
	return true
}

// rollback removes the changes of the multi at zxid (the last ones) and
// puts back the index entries they replaced (those of applied txns whose
// changes were dropped meanwhile are left out: the tree has their state).
func (t *Tree) rollback(zxid wire.Zxid) {
	ps := &t.prep
	mark := len(ps.changes)
	for mark > ps.head && ps.changes[mark-1].zxid == zxid {
		mark--
		ps.changes[mark] = nil
	}
	ps.changes = ps.changes[:mark]
	sp := ps.save
	ps.save = nil
	if sp == nil {
		return
	}
	live := func(c *change) bool { return c != nil && c.zxid > ps.applied }
	for p, old := range sp.byPath {
		if live(old) {
			ps.byPath[p] = old
		} else {
			delete(ps.byPath, p)
		}
	}
	for k, old := range sp.byOwner {
		m := ps.byOwner[k.owner]
		switch {
		case live(old):
			if m == nil {
				m = make(map[string]*change)
				ps.byOwner[k.owner] = m
			}
			m[k.path] = old
		case m != nil:
			delete(m, k.path)
			if len(m) == 0 {
				delete(ps.byOwner, k.owner)
			}
		}
	}
}

// closeSessionCandidates lists the paths a closeSession may delete: the
// session's ephemerals in the tree and in outstanding changes. Java's prep
// starts from the tree's set and replays every outstanding change over it
// (a deletion removes the path, a change whose node the session owns adds
// it); that leaves exactly the paths whose latest state is a node the
// session owns, which closeSessionPath checks path by path. Sorted up to
// 4096 paths, in map order beyond (Java's is HashSet order).
func (t *Tree) closeSessionCandidates(id wire.SessionID) []string {
	inTree, inPrep := t.ephemerals[id], t.prep.byOwner[int64(id)]
	paths := make([]string, 0, len(inTree)+len(inPrep))
	for p := range inTree {
		paths = append(paths, p)
	}
	for p := range inPrep {
		if _, dup := inTree[p]; !dup {
			paths = append(paths, p)
		}
	}
	if len(paths) <= maxSortedChildren {
		sort.Strings(paths)
	}
	return paths
}

// closeSessionPath records the deletion of one candidate path of the
// closing session if its latest state is a node the session owns.
func (j *PrepJob) closeSessionPath(p string) {
	t := j.t
	zxid := j.req.Zxid
	rec := t.record(p)
	if rec == nil || rec.stat.EphemeralOwner != int64(j.req.Session) {
		return
	}
	j.paths[j.kept] = p
	j.kept++
	if parentPath, perr := parentOf(p); perr == nil {
		if parent := t.record(parentPath); parent != nil {
			pc := parent.duplicate(zxid)
			pc.stat.Pzxid = zxid
			t.addChange(pc)
		}
	}
	t.addChange(&change{zxid: zxid, path: p})
}
