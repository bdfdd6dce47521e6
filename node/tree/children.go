package tree

import (
	"slices"
	"sort"
	"strings"
)

// Thresholds of a childSet's two forms. A sorted slice costs 16 bytes a
// name and an insert moves half of it; past maxSortedChildren a map's
// constant-time insert wins, and below minMapChildren the set goes back to
// a slice.
const (
	maxSortedChildren = 4096
	minMapChildren    = maxSortedChildren / 2
)

// childSet is the set of a node's children. It holds the child nodes,
// whose records (Node.Path) hold the names: no name costs storage of its
// own. Small sets (nearly all of them) are a slice sorted by name; large
// ones the children and their names in no order plus a map from name to
// position (names and keys are views of the records: renamed follows a
// child's new record), so that a copy of the names (getChildren, a
// snapshot walk) is one memmove however large the set, not an iteration
// over a map or a read of every child's record.
//
// Every set also knows its node's parent's set (up) and how many nodes
// are below its node (desc), so getAllChildrenNumber is a field read; a
// node's create or delete walks the up chain (its depth) by pointer.
type childSet struct {
	sorted []*Node
	list   []*Node          // large form: the children
	lnames []string         // large form: their names, list[i]'s at i
	big    map[string]int32 // large form: name -> index in list
	up     *childSet        // the parent node's set; nil for the root's
	desc   int64            // nodes below this set's node
}

func cmpName(c *Node, name string) int { return strings.Compare(c.name(), name) }

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
	_, ok := slices.BinarySearchFunc(s.sorted, name, cmpName)
	return ok
}

// add inserts the child c; it reports false if its name was already there
// (c then takes the place of the node of that name).
func (s *childSet) add(c *Node) bool {
	name := c.name()
	if s.big != nil {
		if i, ok := s.big[name]; ok {
			s.list[i], s.lnames[i] = c, name
			delete(s.big, name)
			s.big[name] = i
			return false
		}
		s.big[name] = int32(len(s.list))
		s.list = append(s.list, c)
		s.lnames = append(s.lnames, name)
		return true
	}
	i, ok := slices.BinarySearchFunc(s.sorted, name, cmpName)
	if ok {
		s.sorted[i] = c
		return false
	}
	if len(s.sorted) >= maxSortedChildren {
		s.big = make(map[string]int32, 2*len(s.sorted))
		s.list = make([]*Node, 0, 2*len(s.sorted))
		s.lnames = make([]string, 0, 2*len(s.sorted))
		for _, n := range s.sorted {
			nn := n.name()
			s.big[nn] = int32(len(s.list))
			s.list = append(s.list, n)
			s.lnames = append(s.lnames, nn)
		}
		s.big[name] = int32(len(s.list))
		s.list = append(s.list, c)
		s.lnames = append(s.lnames, name)
		s.sorted = nil
		return true
	}
	s.sorted = slices.Insert(s.sorted, i, c)
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
		delete(s.big, name)
		if int(i) != last {
			s.list[i], s.lnames[i] = s.list[last], s.lnames[last]
			s.big[s.lnames[i]] = i
		}
		s.list[last], s.lnames[last] = nil, ""
		s.list, s.lnames = s.list[:last], s.lnames[:last]
		if len(s.list) < minMapChildren {
			s.sorted = slices.Clone(s.list)
			slices.SortFunc(s.sorted, func(a, b *Node) int { return strings.Compare(a.name(), b.name()) })
			s.big, s.list, s.lnames = nil, nil, nil
		}
		return
	}
	if i, ok := slices.BinarySearchFunc(s.sorted, name, cmpName); ok {
		s.sorted = slices.Delete(s.sorted, i, i+1)
		if len(s.sorted) == 0 {
			s.sorted = nil
		} else if cap(s.sorted) > 64 && cap(s.sorted) > 4*len(s.sorted) {
			s.sorted = slices.Clip(slices.Clone(s.sorted))
		}
	}
}

// renamed re-keys the child c, which has a new record, in a large set (a
// small one reads the names from the nodes as they are).
func (s *childSet) renamed(c *Node) {
	if s == nil || s.big == nil {
		return
	}
	name := c.name()
	if i, ok := s.big[name]; ok && s.list[i] == c {
		delete(s.big, name)
		s.big[name] = i
		s.lnames[i] = name
	}
}

// nodes returns the set's children: sorted by name while the set is
// small. The slice is the set's own: read it before the set changes.
func (s *childSet) nodes() []*Node {
	if s == nil {
		return nil
	}
	if s.big != nil {
		return s.list
	}
	return s.sorted
}

// names returns a copy of the names (sorted while the set is small).
func (s *childSet) names() []string {
	if s != nil && s.big != nil {
		return slices.Clone(s.lnames)
	}
	ns := s.nodes()
	out := make([]string, len(ns))
	for i, c := range ns {
		out[i] = c.name()
	}
	return out
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
	if s != nil && s.big != nil {
		for _, n := range s.lnames {
			fn(n)
		}
		return
	}
	for _, c := range s.nodes() {
		fn(c.name())
	}
}

// at returns the i-th name (in the set's order, stable while it does not
// change).
func (s *childSet) at(i int) string {
	if s.big != nil {
		return s.lnames[i]
	}
	return s.sorted[i].name()
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
