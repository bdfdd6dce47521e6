//go:build !zabsabotage

package sim

// sabotage is empty outside zabsabotage builds: Config.Sabotage must be
// empty.
type sabotage struct {
	earlyReply, ignoreFsyncErr, keepLogAtSnap, noClosingCheck, noZxidCheck bool
}

// Sabotages lists the sabotages of this build (none).
var Sabotages []string

func newSabotage(name string) sabotage {
	if name != "" {
		panic("sim: sabotage " + name + " needs the zabsabotage build tag")
	}
	return sabotage{}
}
