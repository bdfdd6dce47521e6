package node

import (
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

// reapContainers deletes empty containers that once had children and TTL
// nodes without children whose TTL has passed since their last change
// (ContainerManager), at most ContainerMaxPerMinute per minute.
func (s *Server) reapContainers(nowWall int64) {
	if s.applyJob != nil {
		return // candidates are read from the tree: next check
	}
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
	for _, p := range s.reapCandidates(nowWall) {
		if budget <= 0 {
			break
		}
		budget--
		s.reapHist = append(s.reapHist, s.nowMs())
		s.proposeServerTxn(0, wire.OpDeleteContainer, &wire.DeleteTxn{Path: p})
	}
}

// reapCandidates mirrors ContainerManager.getCandidates.
func (s *Server) reapCandidates(nowWall int64) []string {
	var out []string
	for _, p := range s.tree.Containers() {
		n := s.tree.Get(p)
		// cversion > 0: the container has had children.
		if n != nil && n.NumChildren() == 0 && n.Stat.Cversion > 0 {
			out = append(out, p)
		}
	}
	for _, p := range s.tree.TTLs() {
		n := s.tree.Get(p)
		if n == nil || n.NumChildren() != 0 {
			continue
		}
		if ttl := tree.TTLOf(n.Stat.EphemeralOwner); ttl > 0 && nowWall-n.Stat.Mtime > ttl {
			out = append(out, p)
		}
	}
	return out
}
