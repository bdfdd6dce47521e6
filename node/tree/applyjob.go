package tree

import (
	"errors"
	"iter"
	"maps"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// ApplyJob applies one multi or closeSession a bounded number of ops per
// Step, so that the owner goroutine can answer other clients in between.
//
// Until Finish, the tree holds part of the txn: LastZxid still names the
// txn before it, and a tracking job (BeginApply with track) records every
// path it has changed so far (Touches). A read of a path the job has not
// changed yet sees the state from before the txn, which is a state the
// txn's readers may see; a read of a changed path must wait for Finish, and
// so must every other apply. The atomicity of a txn is kept for readers
// that way, without holding all of them back for the whole txn.
type ApplyJob struct {
	t   *Tree
	e   *wire.TxnEntry
	res Result

	// multi
	m       *wire.MultiTxn
	subs    []jute.Record
	decoded bool
	failed  bool // some sub-txn is an error: nothing is applied
	post    bool // past the failed sub-txn

	// create of a zookeeper_stats node above a large subtree
	quota   bool
	created bool
	qstep   *quotaStep
	walk    *quotaWalk

	// closeSession
	paths    []string            // the txn's paths, applied first
	local    map[string]struct{} // the session's ephemerals the txn may not list
	leftover []string
	listed   bool
	// leftNext walks the local paths the txn did not list when there are
	// many (a closeSession whose list did not fit in a txn lists none).
	leftNext func() (string, bool)
	leftStop func()

	i    int
	done bool
}

// BeginApply starts applying a multi or closeSession txn, or the create of
// a zookeeper_stats node above a large subtree (LargeQuotaStats); for any
// other txn (or a body that is not one) it returns nil: use Apply. With
// track, the paths it changes are recorded for Touches until Finish.
func (t *Tree) BeginApply(e *wire.TxnEntry, track bool) *ApplyJob {
	switch e.Hdr.Type {
	case wire.OpMulti:
		m, ok := e.Body.(*wire.MultiTxn)
		if !ok {
			return nil
		}
		j := t.newApplyJob(e, track)
		j.m = m
		j.subs = make([]jute.Record, len(m.Txns))
		j.presize(len(m.Txns))
		for i := range m.Txns {
			if m.Txns[i].Type == wire.OpError {
				j.failed = true
				break
			}
		}
		return j
	case wire.OpCloseSession:
		var paths []string
		if c, ok := e.Body.(*wire.CloseSessionTxn); ok && c != nil {
			paths = c.Paths2Delete
			if paths == nil {
				paths = []string{}
			}
		}
		return t.beginKill(e, paths, track)
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL:
		if t.LargeQuotaStats(e) {
			j := t.newApplyJob(e, track)
			j.quota = true
			return j
		}
	}
	return nil
}

func (t *Tree) newApplyJob(e *wire.TxnEntry, track bool) *ApplyJob {
	if t.quotaSetup {
		// The first txn after a snapshot was loaded: Java set up quota
		// tracking at the end of loading it.
		t.setupQuota()
	}
	if track {
		t.touched = make(map[string]struct{})
	}
	return &ApplyJob{t: t, e: e, res: Result{Type: e.Hdr.Type}}
}

// presize reserves the events of a job of n ops (a deletion or a creation
// triggers two): growing the list as it fills would copy it, and a copy of
// 200,000 events takes a round's few milliseconds.
func (j *ApplyJob) presize(n int) {
	if n > LargeTxn {
		j.res.Events = make([]Event, 0, 2*n)
	}
}

// beginKill starts deleting a session's ephemerals: first the paths the txn
// lists (3.6+ CloseSessionTxn), then any others still indexed (Java logs
// those as unexpected). paths == nil means a pre-3.6 closeSession with no
// body.
func (t *Tree) beginKill(e *wire.TxnEntry, paths []string, track bool) *ApplyJob {
	j := t.newApplyJob(e, track)
	j.paths = paths
	j.local = t.ephemerals[e.Hdr.ClientID]
	delete(t.ephemerals, e.Hdr.ClientID)
	t.ephCount -= len(j.local)
	j.presize(max(len(paths), len(j.local)))
	return j
}

// Size returns the number of ops the job applies.
func (j *ApplyJob) Size() int {
	if j.m != nil {
		return len(j.m.Txns)
	}
	return max(len(j.paths), len(j.local))
}

// Touches reports whether the job changed path so far.
func (j *ApplyJob) Touches(path string) bool {
	if path == "" {
		path = "/"
	}
	_, ok := j.t.touched[path]
	return ok
}

// Step applies up to budget ops (all when budget < 0) and reports how many
// it did and whether the txn is completely applied.
func (j *ApplyJob) Step(budget int) (int, bool) {
	if j.done {
		return 0, true
	}
	if j.m != nil {
		return j.stepMulti(budget)
	}
	if j.quota {
		return j.stepQuota(budget)
	}
	return j.stepKill(budget)
}

// stepQuota applies the create of a zookeeper_stats node whose quota
// covers a large subtree: the create first, its count of the subtree
// (DataTree.updateQuotaForPath) in steps, then the stats.
func (j *ApplyJob) stepQuota(budget int) (int, bool) {
	t := j.t
	if !j.created {
		j.created = true
		t.deferStats = true
		t.applyOne(j.e.Hdr.Type, j.e.Body, &j.e.Hdr, &j.res)
		t.deferStats = false
		j.qstep, t.deferred = t.deferred, nil
		if j.qstep == nil {
			j.done = true // the create failed
			return 1, true
		}
		j.walk = t.newQuotaWalk(j.qstep.p)
		return 1, false
	}
	used, done := j.walk.step(t, budget)
	if done {
		t.quotaStatsCreated(j.qstep, j.walk.count, j.walk.bytes)
		j.walk, j.done = nil, true
	}
	return used, done
}

// Result returns the txn's result so far (complete once Step reported
// done), for the caller to fire its watches before Finish.
func (j *ApplyJob) Result() *Result { return &j.res }

// Finish ends the job: the txn counts as applied (LastZxid), and its
// result is returned.
func (j *ApplyJob) Finish() Result {
	j.t.touched = nil
	j.t.applied(j.e.Hdr.Zxid)
	return j.res
}

// stepMulti mirrors the multi branch of DataTree.processTxn: if any sub-txn
// is an error, nothing is applied and every op reports an ErrorTxn (0
// before the first error, RUNTIMEINCONSISTENCY after it, the error itself
// at it). The sub-txns are decoded first, all of them: one that does not
// decode fails the whole txn before anything changes.
func (j *ApplyJob) stepMulti(budget int) (int, bool) {
	used := 0
	txns := j.m.Txns
	if !j.decoded {
		for ; j.i < len(txns) && (budget < 0 || used < budget); j.i++ {
			used++
			rec, ok := wire.NewSubTxnRecord(txns[j.i].Type)
			if !ok {
				return used, j.malformed()
			}
			if err := jute.UnmarshalMax(txns[j.i].Data, rec, j.t.opts.recordLimit()); err != nil &&
				!errors.Is(err, jute.ErrTrailingBytes) {
				// Java reads sub-records from a stream and ignores
				// trailing bytes; anything else fails the txn.
				return used, j.malformed()
			}
			j.subs[j.i] = rec
		}
		if j.i < len(txns) {
			return used, false
		}
		j.decoded, j.i = true, 0
		j.res.Multi = make([]Result, 0, len(txns))
		if j.res.Events == nil {
			// A create or a delete fires two events, a setData one: the
			// ops append to one slice sized once, not each to its own
			// (garbage in the size classes of the nodes being created).
			j.res.Events = make([]Event, 0, 2*len(txns))
		}
	}
	t, h, res := j.t, &j.e.Hdr, &j.res
	for ; j.i < len(txns) && (budget < 0 || used < budget); j.i++ {
		used++
		st := txns[j.i]
		sub := Result{Type: st.Type}
		if j.failed {
			switch {
			case st.Type == wire.OpError:
				sub.Type = wire.OpError
				sub.Err = j.subs[j.i].(*wire.ErrorTxn).Err
				j.post = true
			case j.post:
				sub.Type = wire.OpError
				sub.Err = wire.ErrRuntimeInconsistency
			default:
				sub.Type = wire.OpError
				sub.Err = wire.ErrOk
			}
			if res.Err == wire.ErrOk && sub.Err != wire.ErrOk {
				res.Err = sub.Err
			}
			res.Multi = append(res.Multi, sub)
			continue
		}
		sub.Events = res.Events // the op appends its events after the txn's
		t.applyOne(st.Type, j.subs[j.i], h, &sub)
		j.subs[j.i] = nil
		res.Events, sub.Events = sub.Events, nil
		if res.Err == wire.ErrOk && sub.Err != wire.ErrOk {
			res.Err = sub.Err
		}
		res.Multi = append(res.Multi, sub)
	}
	j.done = j.i == len(txns)
	return used, j.done
}

// malformed ends a multi whose sub-txns do not decode: nothing applied.
func (j *ApplyJob) malformed() bool {
	j.res.Err = wire.ErrMarshallingError
	j.done = true
	return true
}

func (j *ApplyJob) stepKill(budget int) (int, bool) {
	used := 0
	t, zxid, res := j.t, j.e.Hdr.Zxid, &j.res
	del := func(p string) {
		sub := Result{}
		if t.deleteNode(p, zxid, &sub) == wire.ErrOk {
			res.Removed = append(res.Removed, p)
			res.Events = append(res.Events, sub.Events...)
		}
	}
	for ; j.i < len(j.paths) && (budget < 0 || used < budget); j.i++ {
		used++
		del(j.paths[j.i])
		delete(j.local, j.paths[j.i])
	}
	if j.i < len(j.paths) {
		return used, false
	}
	if !j.listed {
		// What the txn did not list: normally nothing, but everything
		// when the list did not fit in a txn (Prep's size bound). Sorted
		// up to 4096 paths; beyond, taken from the set in steps, in map
		// order (Java's is HashSet order): a sort of 100,000 paths would
		// be one long owner step.
		j.listed = true
		if len(j.local) <= maxSortedChildren {
			j.leftover = sortedKeys(j.local)
			used += len(j.leftover)
		} else {
			j.leftNext, j.leftStop = iter.Pull(maps.Keys(j.local))
		}
	}
	if j.leftNext != nil {
		for budget < 0 || used < budget {
			used++
			p, ok := j.leftNext()
			if !ok {
				j.leftStop()
				j.leftNext = nil
				j.done = true
				return used, true
			}
			del(p) // j.local is no longer the tree's index: not changed
			j.i++
		}
		return used, false
	}
	k := j.i - len(j.paths)
	for ; k < len(j.leftover) && (budget < 0 || used < budget); k++ {
		used++
		del(j.leftover[k])
		j.i++
	}
	j.done = k == len(j.leftover)
	return used, j.done
}
