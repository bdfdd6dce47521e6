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
// a list in no order plus a map from name to position, so that a copy of
// the names (getChildren, a snapshot walk) is one memmove however large the
// set, not an iteration over a map.
//
// Every set also knows its node's parent's set (up) and how many nodes
// are below its node (desc), so getAllChildrenNumber is a field read; a
// node's create or delete walks the up chain (its depth) by pointer.
type childSet struct {
	sorted []string
	list   []string         // large form: the names
	big    map[string]int32 // large form: name -> index in list
	up     *childSet        // the parent node's set; nil for the root's
	desc   int64            // nodes below this set's node
}

func (s *childSet) len() int {
	if s == nil {
		return 0
	}
	if s.big != nil {
		return len(s.list)
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
		s.big[name] = int32(len(s.list))
		s.list = append(s.list, name)
		return true
	}
	i, ok := slices.BinarySearch(s.sorted, name)
	if ok {
		return false
	}
	if len(s.sorted) >= maxSortedChildren {
		s.big = make(map[string]int32, 2*len(s.sorted))
		s.list = make([]string, 0, 2*len(s.sorted))
		for _, n := range s.sorted {
			s.big[n] = int32(len(s.list))
			s.list = append(s.list, n)
		}
		s.big[name] = int32(len(s.list))
		s.list = append(s.list, name)
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
		i, ok := s.big[name]
		if !ok {
			return
		}
		last := len(s.list) - 1
		if int(i) != last {
			s.list[i] = s.list[last]
			s.big[s.list[i]] = i
		}
		s.list[last] = ""
		s.list = s.list[:last]
		delete(s.big, name)
		if len(s.list) < minMapChildren {
			s.sorted = s.sortedNames()
			s.big, s.list = nil, nil
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
		return slices.Clone(s.list)
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
		for _, n := range s.list {
			fn(n)
		}
		return
	}
	for _, n := range s.sorted {
		fn(n)
	}
}

// at returns the i-th name (in the set's order, stable while it does not
// change).
func (s *childSet) at(i int) string {
	if s.big != nil {
		return s.list[i]
	}
	return s.sorted[i]
}

// descendants returns the number of nodes below the set's node.
func (s *childSet) descendants() int64 {
	if s == nil {
		return 0
	}
	return s.desc
}

// addDescendants adds n to the descendant counts of s and every set above.
func (s *childSet) addDescendants(n int64) {
	for ; s != nil; s = s.up {
		s.desc += n
	}
}
