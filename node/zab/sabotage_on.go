//go:build zabsabotage

package zab

import "sync/atomic"

// active is the sabotage in effect for every Leader, LearnerSync and
// Broadcast of the process (0: none).
var active atomic.Uint32

// Sabotages lists the sabotages of node/zab (zabsabotage builds only).
var Sabotages = sabotageNames[1:]

// SetSabotage breaks the core in the named way from now on, for the
// whole process ("": none); false for a name that is not one of
// Sabotages. Test-only: zabsabotage builds.
func SetSabotage(name string) bool {
	if name == "" {
		active.Store(0)
		return true
	}
	for i, n := range sabotageNames {
		if i > 0 && n == name {
			active.Store(uint32(i))
			return true
		}
	}
	return false
}

func sabotaged(s sabotage) bool { return active.Load() == uint32(s) }
