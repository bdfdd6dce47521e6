package tree

import (
	"slices"
	"sort"
)

// Thresholds of a childSet's two forms. A sorted slice costs 16 bytes a
// name and an insert moves half of it; past maxSortedChildren a map's
// constant-time insert wins, and below minMapChildren the set goes back to
// a slice.
const (
	maxSortedChildren = 4096
	minMapChildren    = maxSortedChildren / 2
)

// childSet is the set of a node's children names. Names are substrings of
// the children's paths (the keys of Tree.nodes), so they cost no storage of
// their own. Small sets (nearly all of them) are a sorted slice; large ones
// a map.
type childSet struct {
	sorted []string
	big    map[string]struct{}
}

func (s *childSet) len() int {
	if s == nil {
		return 0
	}
	if s.big != nil {
		return len(s.big)
	}
	return len(s.sorted)
}

func (s *childSet) has(name string) bool {
	if s == nil {
		return false
	}
	if s.big != nil {
		_, ok := s.big[name]
		return ok
	}
	_, ok := slices.BinarySearch(s.sorted, name)
	return ok
}

// add inserts name; it reports false if name was already there.
func (s *childSet) add(name string) bool {
	if s.big != nil {
		if _, ok := s.big[name]; ok {
			return false
		}
		s.big[name] = struct{}{}
		return true
	}
	i, ok := slices.BinarySearch(s.sorted, name)
	if ok {
		return false
	}
	if len(s.sorted) >= maxSortedChildren {
		s.big = make(map[string]struct{}, 2*len(s.sorted))
		for _, n := range s.sorted {
			s.big[n] = struct{}{}
		}
		s.big[name] = struct{}{}
		s.sorted = nil
		return true
	}
	s.sorted = slices.Insert(s.sorted, i, name)
	return true
}

func (s *childSet) remove(name string) {
	if s == nil {
		return
	}
	if s.big != nil {
		delete(s.big, name)
		if len(s.big) < minMapChildren {
			s.sorted = s.sortedNames()
			s.big = nil
		}
		return
	}
	if i, ok := slices.BinarySearch(s.sorted, name); ok {
		s.sorted = slices.Delete(s.sorted, i, i+1)
		if len(s.sorted) == 0 {
			s.sorted = nil
		} else if cap(s.sorted) > 64 && cap(s.sorted) > 4*len(s.sorted) {
			s.sorted = slices.Clip(slices.Clone(s.sorted))
		}
	}
}

// names returns a copy of the names (sorted while the set is small).
func (s *childSet) names() []string {
	if s == nil {
		return []string{}
	}
	if s.big != nil {
		out := make([]string, 0, len(s.big))
		for n := range s.big {
			out = append(out, n)
		}
		return out
	}
	return append(make([]string, 0, len(s.sorted)), s.sorted...)
}

// sortedNames returns a sorted copy of the names.
func (s *childSet) sortedNames() []string {
	out := s.names()
	if s != nil && s.big != nil {
		sort.Strings(out)
	}
	return out
}

// each calls fn for every name.
func (s *childSet) each(fn func(name string)) {
	if s == nil {
		return
	}
	if s.big != nil {
		for n := range s.big {
			fn(n)
		}
		return
	}
	for _, n := range s.sorted {
		fn(n)
	}
}
