package zab

// Sabotages: the core broken on purpose, one rule at a time, in builds
// with the zabsabotage tag only (sabotage_on.go), so that the simulator
// (node/zab/sim, make sim-sabotage) can show it finds each. Outside those
// builds sabotaged is a constant false and the hooks compile away.
type sabotage uint32

const (
	// sabAckBeforeSync: a follower ACKs NEWLEADER before the txns of its
	// sync are logged: they go to the broadcast phase, logged and fsynced
	// after UPTODATE (Java before ZOOKEEPER-3911).
	sabAckBeforeSync sabotage = iota + 1
	// sabEpochBeforeLog: a follower makes the new epoch current as soon
	// as it accepts it (LEADERINFO), before its sync's txns are logged at
	// NEWLEADER (ZOOKEEPER-4643/4646, with the widest window).
	sabEpochBeforeLog
	// sabMinorityCommit: the leader commits a proposal once one voter
	// (itself or a follower) has it on disk.
	sabMinorityCommit
	// sabAckBeforeFsync: a follower ACKs a proposal when it hands it to
	// its log, before the fsync (ZOOKEEPER-4785's outcome).
	sabAckBeforeFsync
)

var sabotageNames = []string{
	sabAckBeforeSync:  "ack-before-sync",
	sabEpochBeforeLog: "epoch-before-log",
	sabMinorityCommit: "minority-commit",
	sabAckBeforeFsync: "ack-before-fsync",
}
