//go:build zabsabotage

package sim

// Test-only sabotages of the core's rules, to show the simulator finds
// them (issue 16, point 5). Each breaks one rule of the contract between
// node/zab and its driver:
//
//   - ack-before-sync: a learner sends its NEWLEADER ACK before the txns
//     of its sync are on disk (they are fsynced later, as Java did before
//     ZOOKEEPER-3911);
//   - epoch-before-log: a learner writes its new current epoch before it
//     logs the txns of its sync (ZOOKEEPER-4643/4646);
//   - minority-commit: the leader commits a proposal once it alone has it
//     on disk;
//   - ack-before-fsync: a follower ACKs a proposal (and the txns it got
//     between NEWLEADER and UPTODATE) when it logs it, before its fsync
//     (ZOOKEEPER-4785's outcome);
//   - ignore-fsync-error: a peer whose fsync failed goes on and
//     acknowledges what it logged, as if it were on disk;
//   - reply-before-commit: the leader answers a client's write when it
//     proposes it, not once it is committed (found by porcupine only: no
//     Zab property breaks);
//   - keep-log-at-snap: a learner synced by SNAP keeps the txns it logged
//     up to the snapshot's zxid, as node does today (rewindDisk's
//     DropAfter): some may be of another branch of the history, never
//     committed; once it leads, its txn-log read for a DIFF (node's
//     proposalsFromLog, which reads through a hole between two epochs)
//     sends them to a learner, and skips the committed txns the snapshot
//     holds.
type sabotage struct {
	ackBeforeSync, epochFirst, minorityCommit, earlyReply, ignoreFsyncErr, ackUnsynced, keepLogAtSnap bool
}

// Sabotages lists the sabotages of this build.
var Sabotages = []string{"ack-before-sync", "epoch-before-log", "minority-commit", "ack-before-fsync", "ignore-fsync-error", "reply-before-commit", "keep-log-at-snap"}

func newSabotage(name string) sabotage {
	switch name {
	case "":
		return sabotage{}
	case "ack-before-sync":
		return sabotage{ackBeforeSync: true}
	case "epoch-before-log":
		return sabotage{epochFirst: true}
	case "minority-commit":
		return sabotage{minorityCommit: true}
	case "ack-before-fsync":
		return sabotage{ackUnsynced: true}
	case "ignore-fsync-error":
		return sabotage{ignoreFsyncErr: true}
	case "reply-before-commit":
		return sabotage{earlyReply: true}
	case "keep-log-at-snap":
		return sabotage{keepLogAtSnap: true}
	}
	panic("sim: unknown sabotage " + name)
}
