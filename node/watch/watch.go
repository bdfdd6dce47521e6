package watch

import (
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
// appears once, in ascending order; watchers in suppress are left out (but
// their one-shot watches are still consumed, as in Java).
func (m *Manager) Trigger(path string, typ wire.EventType, suppress map[Watcher]struct{}) []Watcher {
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
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

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
		if len(ps) == 0 {
			delete(m.byWatcher, w)
		}
	}
	m.setMode(key{w, path}, Standard)
	return true
}

// RemoveWatcher drops every watch of w (its connection closed).
func (m *Manager) RemoveWatcher(w Watcher) {
	for p := range m.byWatcher[w] {
		if set := m.byPath[p]; set != nil {
			delete(set, w)
			if len(set) == 0 {
				delete(m.byPath, p)
			}
		}
		m.setMode(key{w, p}, Standard)
	}
	delete(m.byWatcher, w)
}

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

// Size returns the number of (watcher, path) registrations.
func (m *Manager) Size() int {
	n := 0
	for _, s := range m.byPath {
		n += len(s)
	}
	return n
}

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
