package node

import (
	"iter"

	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

// reapContainers deletes empty containers that once had children and TTL
// nodes without children whose TTL has passed since their last change
// (ContainerManager), at most ContainerMaxPerMinute per minute. Java's
// ContainerManager reads the tree from its own thread; here a check of
// more than maxSortedReap nodes walks them across owner rounds
// (runReaper), and the deletions are proposed roundExpiries a round.
func (s *Server) reapContainers(nowWall int64) {
	if s.reapScan != nil {
		return // the last check is still walking
	}
	if s.tree.ReapCount() > maxSortedReap {
		next, stop := iter.Pull(s.tree.ReapPaths())
		s.reapScan = &reapScan{nowWall: nowWall, next: next, stop: stop}
		s.poke()
		return
	}
	if s.applyJob != nil {
		return // candidates are read from the tree: next check
	}
	s.queueReaps(s.reapCandidates(nowWall))
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

// queueReaps queues deletions of candidates within the per-minute budget.
func (s *Server) queueReaps(candidates []string) {
	budget := s.cfg.ContainerMaxPerMinute
	// Keep the per-minute window.
	cut := s.nowMs() - 60000
	k := 0
	for _, t := range s.reapHist {
		if t > cut {
			s.reapHist[k] = t
			k++
		}
	}
	s.reapHist = s.reapHist[:k]
	budget -= len(s.reapHist)
	for _, p := range candidates {
		if budget <= 0 {
			break
		}
		budget--
		s.reapHist = append(s.reapHist, s.nowMs())
		s.reaping = append(s.reaping, p)
	}
}

// runReaper walks a check a bounded number of nodes, then proposes queued
// deletions, budget of each per round. The walk waits while a txn is
// applied across rounds (it would read the txn half applied).
func (s *Server) runReaper(budget int) {
	if r := s.reapScan; r != nil && s.applyJob == nil {
		for range budget * 8 {
			p, ok := r.next()
			if !ok {
				r.stop()
				s.reapScan = nil
				s.queueReaps(r.found)
				break
			}
			if s.reapCandidate(p, r.nowWall) {
				r.found = append(r.found, p)
			}
		}
	}
	n := min(budget, len(s.reaping))
	for _, p := range s.reaping[:n] {
		s.proposeServerTxn(0, wire.OpDeleteContainer, &wire.DeleteTxn{Path: p})
	}
	clear(s.reaping[:n])
	s.reaping = s.reaping[n:]
	if len(s.reaping) == 0 {
		s.reaping = nil
	}
}

// dropReaper forgets a check and deletions not yet proposed (on a role
// change: the next leader checks again).
func (s *Server) dropReaper() {
	if s.reapScan != nil {
		s.reapScan.stop()
		s.reapScan = nil
	}
	s.reaping = nil
}

// reapCandidates mirrors ContainerManager.getCandidates.
func (s *Server) reapCandidates(nowWall int64) []string {
	var out []string
	for _, p := range s.tree.Containers() {
		if s.reapCandidate(p, nowWall) {
			out = append(out, p)
		}
	}
	for _, p := range s.tree.TTLs() {
		if s.reapCandidate(p, nowWall) {
			out = append(out, p)
		}
	}
	return out
}

// reapCandidate reports whether the container or TTL node at p is to be
// deleted: an empty container whose cversion is positive (it has had
// children), a TTL node without children unchanged for longer than its
// TTL.
func (s *Server) reapCandidate(p string, nowWall int64) bool {
	n := s.tree.Get(p)
	if n == nil || n.NumChildren() != 0 {
		return false
	}
	if n.Stat.EphemeralOwner == tree.ContainerOwner {
		return n.Stat.Cversion > 0
	}
	ttl := tree.TTLOf(n.Stat.EphemeralOwner)
	return ttl > 0 && nowWall-n.Stat.Mtime > ttl
}
