package watch

import (
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/zkgo/zkgo/wire"
)

func TestOneShotFiresOnce(t *testing.T) {
	m := NewManager()
	m.Add("/a", 1, Standard)
	m.Add("/a", 2, Standard)
	if got := m.Trigger("/a", wire.EventNodeDataChanged, nil); !reflect.DeepEqual(got, []Watcher{1, 2}) {
		t.Fatal(got)
	}
	if got := m.Trigger("/a", wire.EventNodeDataChanged, nil); len(got) != 0 {
		t.Fatal("one-shot fired twice", got)
	}
	if m.Size() != 0 || len(m.AllWatchers()) != 0 {
		t.Fatal("not cleaned up")
	}
}

func TestPersistentAndRecursive(t *testing.T) {
	m := NewManager()
	m.Add("/a", 1, Persistent)
	m.Add("/a", 2, PersistentRecursive)
	m.Add("/a/b", 3, Standard)
	// Event on /a/b: recursive watcher 2 on the ancestor fires, the
	// persistent (non-recursive) watcher 1 on the ancestor does not.
	if got := m.Trigger("/a/b", wire.EventNodeDataChanged, nil); !reflect.DeepEqual(got, []Watcher{2, 3}) {
		t.Fatal(got)
	}
	// NodeChildrenChanged never reaches recursive watchers.
	if got := m.Trigger("/a", wire.EventNodeChildrenChanged, nil); !reflect.DeepEqual(got, []Watcher{1}) {
		t.Fatal(got)
	}
	// Persistent watches stay.
	if got := m.Trigger("/a", wire.EventNodeDataChanged, nil); !reflect.DeepEqual(got, []Watcher{1, 2}) {
		t.Fatal(got)
	}
	// Suppression.
	if got := m.Trigger("/a", wire.EventNodeDataChanged, map[Watcher]struct{}{1: {}}); !reflect.DeepEqual(got, []Watcher{2}) {
		t.Fatal(got)
	}
	m.RemoveWatcher(2)
	if got := m.Trigger("/a/b/c", wire.EventNodeCreated, nil); len(got) != 0 {
		t.Fatal("removed watcher fired", got)
	}
	if m.recursive != 0 {
		t.Fatal("recursive count", m.recursive)
	}
}

func TestModeReplacedBySecondRegistration(t *testing.T) {
	m := NewManager()
	m.Add("/a", 1, Persistent)
	if m.Add("/a", 1, Standard) {
		t.Fatal("same pair reported as new")
	}
	if mode, ok := m.ModeOf("/a", 1); !ok || mode != Standard {
		t.Fatal(mode, ok)
	}
	m.Trigger("/a", wire.EventNodeDataChanged, nil)
	if m.Contains("/a", 1) {
		t.Fatal("watch should have become one-shot")
	}
}

func TestRemove(t *testing.T) {
	m := NewManager()
	m.Add("/x", 5, PersistentRecursive)
	if !m.Remove("/x", 5) || m.Remove("/x", 5) {
		t.Fatal("remove")
	}
	if m.recursive != 0 || m.PathCount() != 0 {
		t.Fatal("state left behind")
	}
}

// TestRemoveWatcherInSteps: a watcher with many watches leaves at once as a
// watcher, its registrations are taken out a bounded number per
// RemoveDead, triggers meanwhile still consume its one-shot watches, and
// Size stays the number of registrations throughout.
func TestRemoveWatcherInSteps(t *testing.T) {
	m := NewManager()
	count := func() int {
		n := 0
		for _, set := range m.byPath {
			n += len(set)
		}
		return n
	}
	const n = 5000
	for i := 0; i < n; i++ {
		p := "/p" + strconv.Itoa(i)
		m.Add(p, 1, Standard)
		if i%10 == 0 {
			m.Add(p, 2, Standard)
		}
		if i%100 == 0 {
			m.Add(p, 1, PersistentRecursive)
		}
	}
	m.Add("/small", 3, Standard)
	if m.Size() != count() {
		t.Fatalf("size %d, registrations %d", m.Size(), count())
	}
	m.RemoveWatcher(3) // small: at once
	if m.Size() != count() || m.Contains("/small", 3) || m.DeadPending() {
		t.Fatalf("small watcher: size %d, registrations %d, dead pending %v", m.Size(), count(), m.DeadPending())
	}
	m.RemoveWatcher(1)
	if m.WatcherCount() != 1 || !m.DeadPending() {
		t.Fatalf("after RemoveWatcher: %d watchers, dead pending %v", m.WatcherCount(), m.DeadPending())
	}
	// A trigger before the registrations are gone names the removed
	// watcher and consumes its one-shot watch there.
	if got := m.Trigger("/p10", wire.EventNodeDataChanged, nil); !reflect.DeepEqual(got, []Watcher{1, 2}) {
		t.Fatalf("trigger: %v", got)
	}
	for steps := 0; m.DeadPending(); steps++ {
		if got := m.RemoveDead(300); got > 300 {
			t.Fatalf("RemoveDead(300) took %d", got)
		}
		if m.Size() != count() {
			t.Fatalf("step %d: size %d, registrations %d", steps, m.Size(), count())
		}
		if steps > n {
			t.Fatal("RemoveDead makes no progress")
		}
	}
	if m.Size() != n/10-1 || m.recursive != 0 || len(m.modes) != 0 {
		t.Fatalf("left: size %d (want %d), recursive %d, modes %d", m.Size(), n/10-1, m.recursive, len(m.modes))
	}
}

// TestFireMatchesTrigger fires a path's watches in steps on one table and
// with Trigger on a twin: the same watchers fire, the same watches stay
// (persistent ones), and a removed watcher's leftover registration goes.
func TestFireMatchesTrigger(t *testing.T) {
	build := func() *Manager {
		m := NewManager()
		for i := 0; i < 3000; i++ {
			mode := Standard
			if i%7 == 0 {
				mode = Persistent
			}
			m.Add("/p", Watcher(i), mode)
			m.Add("/other"+strconv.Itoa(i%3), Watcher(i), Standard)
		}
		for i := 0; i < smallWatcher+1; i++ {
			m.Add("/many"+strconv.Itoa(i), 5000, Standard)
		}
		m.Add("/p", 5000, Standard)
		m.RemoveWatcher(5000) // queued for RemoveDead, still on /p
		return m
	}
	a, b := build(), build()
	suppress := map[Watcher]struct{}{3: {}, 14: {}}
	want := a.Trigger("/p", wire.EventNodeDataChanged, suppress)
	f := b.Fire("/p", suppress)
	var got []Watcher
	steps := 0
	for done := false; !done; steps++ {
		got, done = f.Next(100, got)
	}
	if steps < 10 {
		t.Fatalf("fired in %d steps", steps)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("Fire found %d watchers, Trigger %d", len(got), len(want))
	}
	for a.DeadPending() {
		a.RemoveDead(1000)
	}
	for b.DeadPending() {
		b.RemoveDead(1000)
	}
	if a.Size() != b.Size() || !slices.Equal(a.Watchers("/p"), b.Watchers("/p")) || a.PathCount() != b.PathCount() {
		t.Fatalf("after firing: size %d/%d, /p watchers %d/%d", a.Size(), b.Size(), len(a.Watchers("/p")), len(b.Watchers("/p")))
	}
	if len(b.Watchers("/p")) != 3000/7+1 {
		t.Fatalf("%d persistent watches left on /p", len(b.Watchers("/p")))
	}
}
