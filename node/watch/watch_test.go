package watch

import (
	"reflect"
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
