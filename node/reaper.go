package node

import (
	"iter"

	"github.com/zkgo/zkgo/node/tree"
)

// reaper deletes empty containers that once had children and TTL nodes
// without children whose TTL has passed since their last change
// (ContainerManager), at most maxPerMinute per minute. Java's
// ContainerManager reads the tree from its own thread; here a check of
// more than maxSortedReap nodes walks them across owner rounds (run), and
// the deletions are proposed a budget a round. It runs on the owner
// goroutine: the tick starts a check, runJobs runs it.
type reaper struct {
	maxPerMinute int
	nowMs        func() int64      // the server's monotonic clock
	propose      func(path string) // proposes a deleteContainer txn

	next  int64     // mono ms of the next check
	hist  []int64   // when the deletions of the last minute were queued
	scan  *reapScan // a check walking many containers and TTL nodes
	queue []string  // deletions to propose
}

// due reports whether a check is due at now, and if so schedules the next
// one every ms later.
func (r *reaper) due(now, every int64) bool {
	if now < r.next {
		return false
	}
	r.next = now + every
	return true
}

// newReaper returns the reaper of a server whose config allows
// maxPerMinute deletions a minute.
func newReaper(maxPerMinute int, nowMs func() int64, propose func(path string)) reaper {
	return reaper{maxPerMinute: maxPerMinute, nowMs: nowMs, propose: propose}
}

// check starts a check of t's containers and TTL nodes at wall time
// nowWall, unless the last one is still walking. A check of many nodes
// becomes a walk across rounds, and check reports true: the owner has
// work for its next round. Otherwise, unless a txn is being applied across
// rounds (applying: the tree is half changed, the next check reads it),
// the candidates are queued at once.
func (r *reaper) check(t *tree.Tree, nowWall int64, applying bool) (walk bool) {
	if r.scan != nil {
		return false // the last check is still walking
	}
	if t.ReapCount() > maxSortedReap {
		next, stop := iter.Pull(t.ReapPaths())
		r.scan = &reapScan{nowWall: nowWall, next: next, stop: stop}
		return true
	}
	if applying {
		return false // candidates are read from the tree: next check
	}
	r.enqueue(reapCandidates(t, nowWall))
	return false
}

// maxSortedReap is the number of containers and TTL nodes a check reads in
// one step, in path order; beyond it they are read across rounds in map
// order (Java's are in hash order).
const maxSortedReap = 4096

// reapScan is a container/TTL check walking the tree across rounds.
type reapScan struct {
	nowWall int64
	next    func() (string, bool)
	stop    func()
	found   []string
}

// enqueue queues deletions of candidates within the per-minute budget.
func (r *reaper) enqueue(candidates []string) {
	budget := r.maxPerMinute
	// Keep the per-minute window.
	cut := r.nowMs() - 60000
	k := 0
	for _, t := range r.hist {
		if t > cut {
			r.hist[k] = t
			k++
		}
	}
	r.hist = r.hist[:k]
	budget -= len(r.hist)
	for _, p := range candidates {
		if budget <= 0 {
			break
		}
		budget--
		r.hist = append(r.hist, r.nowMs())
		r.queue = append(r.queue, p)
	}
}

// run walks a check a bounded number of nodes of t, then proposes queued
// deletions, budget of each per round. The walk waits while a txn is
// applied across rounds (applying: it would read the txn half applied).
func (r *reaper) run(t *tree.Tree, budget int, applying bool) {
	if sc := r.scan; sc != nil && !applying {
		for range budget * 8 {
			p, ok := sc.next()
			if !ok {
				sc.stop()
				r.scan = nil
				r.enqueue(sc.found)
				break
			}
			if reapCandidate(t, p, sc.nowWall) {
				sc.found = append(sc.found, p)
			}
		}
	}
	n := min(budget, len(r.queue))
	for _, p := range r.queue[:n] {
		r.propose(p)
	}
	clear(r.queue[:n])
	r.queue = r.queue[n:]
	if len(r.queue) == 0 {
		r.queue = nil
	}
}

// pending reports whether a check is walking or deletions wait to be
// proposed (work for the next round).
func (r *reaper) pending() bool { return r.scan != nil || len(r.queue) > 0 }

// drop forgets a check and deletions not yet proposed (on a role change:
// the next leader checks again).
func (r *reaper) drop() {
	if r.scan != nil {
		r.scan.stop()
		r.scan = nil
	}
	r.queue = nil
}

// dropReaper is reaper.drop, for the role changes (peer.go).
func (s *Server) dropReaper() { s.reap.drop() }

// reapCandidates mirrors ContainerManager.getCandidates.
func reapCandidates(t *tree.Tree, nowWall int64) []string {
	var out []string
	for _, p := range t.Containers() {
		if reapCandidate(t, p, nowWall) {
			out = append(out, p)
		}
	}
	for _, p := range t.TTLs() {
		if reapCandidate(t, p, nowWall) {
			out = append(out, p)
		}
	}
	return out
}

// reapCandidate reports whether the container or TTL node at p is to be
// deleted: an empty container whose cversion is positive (it has had
// children), a TTL node without children unchanged for longer than its
// TTL.
func reapCandidate(t *tree.Tree, p string, nowWall int64) bool {
	n := t.Get(p)
	if n == nil || n.NumChildren() != 0 {
		return false
	}
	if n.Stat.EphemeralOwner == tree.ContainerOwner {
		return n.Stat.Cversion > 0
	}
	ttl := tree.TTLOf(n.Stat.EphemeralOwner)
	return ttl > 0 && nowWall-n.Stat.Mtime > ttl
}
