package watch

import (
	"iter"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/zkgo/zkgo/wire"
)

// Watcher identifies who registered a watch (a client connection).
type Watcher uint64

// Mode is a watch's mode (WatcherMode).
type Mode uint8

// Watch modes.
const (
	Standard            Mode = iota // one-shot
	Persistent                      // stays after firing; this path only
	PersistentRecursive             // stays; this path and all below it
)

func (m Mode) String() string {
	switch m {
	case Standard:
		return "STANDARD"
	case Persistent:
		return "PERSISTENT"
	case PersistentRecursive:
		return "PERSISTENT_RECURSIVE"
	}
	return "Mode(?)"
}

// IsPersistent reports whether the watch survives firing.
func (m Mode) IsPersistent() bool { return m != Standard }

type key struct {
	w    Watcher
	path string
}

// Manager is one watch table (WatchManager).
type Manager struct {
	byPath    map[string]map[Watcher]struct{}
	byWatcher map[Watcher]map[string]struct{}
	modes     map[key]Mode // only non-standard modes are stored
	recursive int          // number of recursive registrations
	size      int          // (watcher, path) registrations
	// dead holds the watches of removed watchers still to be taken out
	// of byPath, a bounded number at a time (RemoveDead).
	dead []deadWatcher
}

type deadWatcher struct {
	w     Watcher
	paths map[string]struct{}
}

// NewManager returns an empty table.
func NewManager() *Manager {
	return &Manager{
		byPath:    make(map[string]map[Watcher]struct{}),
		byWatcher: make(map[Watcher]map[string]struct{}),
		modes:     make(map[key]Mode),
	}
}

// Add registers w on path with mode. As in Java 3.8, registering on a path
// where w already has a watch replaces that watch's mode. It reports
// whether the (watcher, path) pair is new.
func (m *Manager) Add(path string, w Watcher, mode Mode) bool {
	set := m.byPath[path]
	if set == nil {
		set = make(map[Watcher]struct{}, 1)
		m.byPath[path] = set
	}
	set[w] = struct{}{}
	paths := m.byWatcher[w]
	if paths == nil {
		paths = make(map[string]struct{}, 1)
		m.byWatcher[w] = paths
	}
	m.setMode(key{w, path}, mode)
	if _, ok := paths[path]; ok {
		return false
	}
	paths[path] = struct{}{}
	m.size++
	return true
}

func (m *Manager) setMode(k key, mode Mode) {
	old, had := m.modes[k]
	if had && old == PersistentRecursive {
		m.recursive--
	}
	if mode == Standard {
		delete(m.modes, k)
		return
	}
	m.modes[k] = mode
	if mode == PersistentRecursive {
		m.recursive++
	}
}

// ModeOf returns w's mode on path and whether a watch exists.
func (m *Manager) ModeOf(path string, w Watcher) (Mode, bool) {
	if _, ok := m.byPath[path][w]; !ok {
		return Standard, false
	}
	return m.modes[key{w, path}], true
}

// Trigger returns the watchers to notify of an event of type typ on path
// (WatchManager.triggerWatch), removing fired one-shot watches. Recursive
// watches on path or any ancestor fire for every event type except
// NodeChildrenChanged; other watches fire only on path itself. Each watcher
// appears once, in ascending order (up to 4096 of them; map order beyond);
// watchers in suppress are left out (but their one-shot watches are still
// consumed, as in Java).
func (m *Manager) Trigger(path string, typ wire.EventType, suppress map[Watcher]struct{}) []Watcher {
	if m.recursive == 0 {
		return m.triggerPath(path, suppress)
	}
	found := make(map[Watcher]struct{})
	visit := func(p string, atParent bool) {
		set := m.byPath[p]
		for w := range set {
			mode := m.modes[key{w, p}]
			switch {
			case mode == PersistentRecursive:
				if typ != wire.EventNodeChildrenChanged {
					found[w] = struct{}{}
				}
			case !atParent:
				found[w] = struct{}{}
				if mode == Standard {
					delete(set, w)
					m.size--
					if ps := m.byWatcher[w]; ps != nil {
						delete(ps, p)
						if len(ps) == 0 {
							delete(m.byWatcher, w)
						}
					}
				}
			}
		}
		if len(set) == 0 {
			delete(m.byPath, p)
		}
	}
	visit(path, false)
	if m.recursive > 0 {
		for p := path; p != "/"; {
			p = wire.ParentPath(p)
			visit(p, true)
		}
	}
	out := make([]Watcher, 0, len(found))
	for w := range found {
		if _, skip := suppress[w]; !skip {
			out = append(out, w)
		}
	}
	sortWatchers(out)
	return out
}

// triggerPath is Trigger when no recursive watch exists: only path's own
// watchers fire, each once (no set is needed to merge ancestors').
func (m *Manager) triggerPath(path string, suppress map[Watcher]struct{}) []Watcher {
	set := m.byPath[path]
	if len(set) == 0 {
		return nil
	}
	out := make([]Watcher, 0, len(set))
	for w := range set {
		if mode := m.modes[key{w, path}]; mode == Standard {
			delete(set, w)
			m.size--
			if ps := m.byWatcher[w]; ps != nil {
				delete(ps, path)
				if len(ps) == 0 {
					delete(m.byWatcher, w)
				}
			}
		}
		if _, skip := suppress[w]; !skip {
			out = append(out, w)
		}
	}
	if len(set) == 0 {
		delete(m.byPath, path)
	}
	sortWatchers(out)
	return out
}

// sortWatchers orders watchers by id up to 4096 of them (beyond, the order
// is map order: one event's delivery order across connections is not
// observable by any client).
func sortWatchers(ws []Watcher) {
	if len(ws) <= smallList {
		slices.Sort(ws)
	}
}

// Firing is a trigger of one path's watches drained a bounded number at a
// time (Fire, Next): the watchers registered on the path when it began all
// fire, once; a registration on the path meanwhile is the caller's to
// prevent (it would not fire). Only when no recursive watch exists.
type Firing struct {
	m        *Manager
	path     string
	next     func() (Watcher, bool)
	stop     func()
	suppress map[Watcher]struct{}
	kept     map[Watcher]struct{} // the path's set being refilled with persistent watches
}

// Fire starts a trigger of path's watches in steps; it returns nil when a
// plain Trigger must be used (recursive watches exist).
func (m *Manager) Fire(path string, suppress map[Watcher]struct{}) *Firing {
	if m.recursive > 0 {
		return nil
	}
	set := m.byPath[path]
	delete(m.byPath, path)
	f := &Firing{m: m, path: path, suppress: suppress}
	f.next, f.stop = iter.Pull(maps.Keys(set))
	return f
}

// Next appends up to n watchers to notify to out, consuming their one-shot
// watches, and reports whether the firing is done.
func (f *Firing) Next(n int, out []Watcher) ([]Watcher, bool) {
	m := f.m
	for ; n > 0; n-- {
		w, ok := f.next()
		if !ok {
			f.stop()
			if len(f.kept) > 0 {
				if set := m.byPath[f.path]; set != nil {
					maps.Copy(set, f.kept)
				} else {
					m.byPath[f.path] = f.kept
				}
			}
			return out, true
		}
		ps := m.byWatcher[w]
		switch mode := m.modes[key{w, f.path}]; {
		case ps == nil:
			// A removed watcher whose registrations are not all taken out
			// yet: this one goes now (and fires for no one, as Trigger's).
			m.size--
			m.setMode(key{w, f.path}, Standard)
		case mode == Standard:
			m.size--
			delete(ps, f.path)
			if len(ps) == 0 {
				delete(m.byWatcher, w)
			}
		default:
			if f.kept == nil {
				f.kept = make(map[Watcher]struct{})
			}
			f.kept[w] = struct{}{}
		}
		if _, skip := f.suppress[w]; !skip {
			out = append(out, w)
		}
	}
	return out, false
}

// WatcherCountOf returns the number of watchers of path.
func (m *Manager) WatcherCountOf(path string) int { return len(m.byPath[path]) }

// Watched reports whether a trigger on path may find a watcher (one on
// path, or any recursive watch).
func (m *Manager) Watched(path string) bool { return len(m.byPath[path]) > 0 || m.recursive > 0 }

// Remove deletes w's watch on path (removeWatches), reporting whether one
// existed.
func (m *Manager) Remove(path string, w Watcher) bool {
	set := m.byPath[path]
	if _, ok := set[w]; !ok {
		return false
	}
	delete(set, w)
	if len(set) == 0 {
		delete(m.byPath, path)
	}
	if ps := m.byWatcher[w]; ps != nil {
		delete(ps, path)
		m.size--
		if len(ps) == 0 {
			delete(m.byWatcher, w)
		}
	}
	m.setMode(key{w, path}, Standard)
	return true
}

// smallWatcher is the number of watches RemoveWatcher drops at once; a
// watcher with more is queued for RemoveDead.
const smallWatcher = 256

// RemoveWatcher drops every watch of w (its connection closed). A watcher
// with many watches is only unlinked here (it no longer counts as a
// watcher) and its registrations are taken out by RemoveDead, a bounded
// number per call: until then a trigger may still name w, which must be
// gone (never reused) for the caller, and consumes its one-shot watches as
// usual.
func (m *Manager) RemoveWatcher(w Watcher) {
	ps := m.byWatcher[w]
	delete(m.byWatcher, w)
	if len(ps) > smallWatcher {
		m.dead = append(m.dead, deadWatcher{w: w, paths: ps})
		return
	}
	for p := range ps {
		m.unlink(w, p)
	}
}

// unlink takes w's registration on p out of byPath and modes.
func (m *Manager) unlink(w Watcher, p string) {
	if set := m.byPath[p]; set != nil {
		if _, ok := set[w]; ok {
			delete(set, w)
			m.size--
		}
		if len(set) == 0 {
			delete(m.byPath, p)
		}
	}
	m.setMode(key{w, p}, Standard)
}

// RemoveDead takes out up to n registrations of removed watchers and
// returns how many it took.
func (m *Manager) RemoveDead(n int) int {
	done := 0
	for done < n && len(m.dead) > 0 {
		d := &m.dead[0]
		for p := range d.paths {
			m.unlink(d.w, p)
			delete(d.paths, p)
			if done++; done == n {
				break
			}
		}
		if len(d.paths) == 0 {
			m.dead[0] = deadWatcher{}
			m.dead = m.dead[1:]
		}
	}
	if len(m.dead) == 0 {
		m.dead = nil
	}
	return done
}

// DeadPending reports whether RemoveDead has work left.
func (m *Manager) DeadPending() bool { return len(m.dead) > 0 }

// Contains reports whether w watches path.
func (m *Manager) Contains(path string, w Watcher) bool {
	_, ok := m.byPath[path][w]
	return ok
}

// Paths returns the paths w watches, sorted.
func (m *Manager) Paths(w Watcher) []string {
	out := make([]string, 0, len(m.byWatcher[w]))
	for p := range m.byWatcher[w] {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Watchers returns the watchers of path, sorted.
func (m *Manager) Watchers(path string) []Watcher {
	out := make([]Watcher, 0, len(m.byPath[path]))
	for w := range m.byPath[path] {
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// AllPaths returns every watched path, sorted.
func (m *Manager) AllPaths() []string {
	out := make([]string, 0, len(m.byPath))
	for p := range m.byPath {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// AllWatchers returns every watcher with watches, sorted.
func (m *Manager) AllWatchers() []Watcher {
	out := make([]Watcher, 0, len(m.byWatcher))
	for w := range m.byWatcher {
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Size returns the number of (watcher, path) registrations, those of
// removed watchers not yet taken out included.
func (m *Manager) Size() int { return m.size }

// WatcherCount returns the number of watchers with watches.
func (m *Manager) WatcherCount() int { return len(m.byWatcher) }

// PathCount returns the number of watched paths.
func (m *Manager) PathCount() int { return len(m.byPath) }

// CheckJava38 answers checkWatches as Java 3.8's
// WatchManager.containsWatcher does, failure included. It walks the path
// with PathParentIterator (the path alone, or up to "/" when any recursive
// watch exists): the path itself matches if anyone at all (not only w)
// watches it (fixed in 3.9 by ZOOKEEPER-4472; zkgo keeps 3.8's answer), and
// w's own mode on the path is recursive. The iterator computes each parent
// before the current step is examined, so a path whose next parent has no
// "/" left (a relative path such as "abc") fails, which Java reports as
// MARSHALLINGERROR: fails is true then. The empty path is never walked.
func (m *Manager) CheckJava38(path string, w Watcher) (found, fails bool) {
	recursive := m.modes[key{w, path}] == PersistentRecursive
	for level, p := 0, path; p != ""; level++ {
		if level > 0 && m.recursive == 0 {
			break // PathParentIterator.forPathOnly
		}
		cur := p
		if p == "/" {
			p = ""
		} else {
			i := strings.LastIndexByte(p, '/')
			if i < 0 {
				return false, true
			}
			if p = p[:i]; p == "" {
				p = "/"
			}
		}
		if level == 0 && len(m.byPath[cur]) > 0 {
			return true, false
		}
		if recursive {
			return true, false
		}
	}
	return false, false
}

// smallList is the size up to which the listing helpers sort.
const smallList = 4096

// EachWatcher yields every watcher with watches: sorted up to 4096 of them,
// in map order beyond (listings built across owner rounds: the table may
// change between two yields, as Go's map iteration allows).
func (m *Manager) EachWatcher() iter.Seq[Watcher] {
	if len(m.byWatcher) <= smallList {
		return slices.Values(m.AllWatchers())
	}
	return maps.Keys(m.byWatcher)
}

// EachPathOf yields the paths w watches, sorted up to 4096, in map order
// beyond.
func (m *Manager) EachPathOf(w Watcher) iter.Seq[string] {
	if len(m.byWatcher[w]) <= smallList {
		return slices.Values(m.Paths(w))
	}
	return maps.Keys(m.byWatcher[w])
}

// EachPath yields every watched path, sorted up to 4096, in map order
// beyond.
func (m *Manager) EachPath() iter.Seq[string] {
	if len(m.byPath) <= smallList {
		return slices.Values(m.AllPaths())
	}
	return maps.Keys(m.byPath)
}

// EachWatcherOf yields the watchers of path, sorted up to 4096, in map
// order beyond.
func (m *Manager) EachWatcherOf(path string) iter.Seq[Watcher] {
	if len(m.byPath[path]) <= smallList {
		return slices.Values(m.Watchers(path))
	}
	return maps.Keys(m.byPath[path])
}
