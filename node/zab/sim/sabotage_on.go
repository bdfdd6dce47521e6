//go:build zabsabotage

package sim

import "github.com/zkgo/zkgo/node/zab"

// Test-only sabotages, to show the simulator finds them (issue 16, point
// 5). Those of node/zab break the core itself (node/zab/sabotage.go):
//
//   - ack-before-sync: a follower ACKs NEWLEADER before the txns of its
//     sync are logged (they are logged after UPTODATE, as Java did before
//     ZOOKEEPER-3911);
//   - epoch-before-log: a follower makes the new epoch current as soon as
//     it accepts it (LEADERINFO), before it logs the sync's txns
//     (ZOOKEEPER-4643/4646);
//   - minority-commit: the leader commits a proposal once one voter has
//     it on disk;
//   - ack-before-fsync: a follower ACKs a proposal (and the txns it got
//     between NEWLEADER and UPTODATE) when it logs it, before its fsync
//     (ZOOKEEPER-4785's outcome).
//
// The others break what the driver and the server layer do around the
// core, which node/zab never sees:
//
//   - ignore-fsync-error: a peer whose fsync failed goes on and
//     acknowledges what it logged, as if it were on disk (the fsync's
//     error is the driver's to act on: node/zab only hears of what is
//     durable);
//   - reply-before-commit: the leader answers a client's write when it
//     proposes it, not once it is committed (the server layer's; found
//     by porcupine only: no Zab property breaks);
//   - keep-log-at-snap: a learner synced by SNAP keeps the txns it logged
//     up to the snapshot's zxid, as node's driver did before it removed
//     them (rewindDisk's DropAfter alone): some may be of another branch of the
//     history, never committed; once it leads, its txn-log read for a
//     DIFF (node's proposalsFromLog without its check of the snapshots
//     the read passes, which this sabotage removes too: it reads through
//     a hole between two epochs) sends them to a learner, and skips the
//     committed txns the snapshot holds;
//   - no-closing-check: the leader does not mark a session closing when
//     it prepares its close, so a request of that session prepared before
//     the close is applied still passes its session check: an ephemeral
//     created after its session's close, which nothing will ever delete
//     (ZOOKEEPER-1208);
//   - no-zxid-check: a server takes a client that has seen a newer zxid
//     than it has (Java refuses it): the client's read goes back in time.
type sabotage struct {
	earlyReply, ignoreFsyncErr, keepLogAtSnap, noClosingCheck, noZxidCheck bool
}

// Sabotages lists the sabotages of this build.
var Sabotages = append(append([]string(nil), zab.Sabotages...), "ignore-fsync-error", "reply-before-commit", "keep-log-at-snap", "no-closing-check", "no-zxid-check")

// newSabotage applies the named sabotage: node/zab's for the process (a
// run of another sabotage, or of none, turns it off again: runs with
// different sabotages must not overlap).
func newSabotage(name string) sabotage {
	if zab.SetSabotage(name) {
		return sabotage{}
	}
	zab.SetSabotage("")
	switch name {
	case "ignore-fsync-error":
		return sabotage{ignoreFsyncErr: true}
	case "reply-before-commit":
		return sabotage{earlyReply: true}
	case "keep-log-at-snap":
		return sabotage{keepLogAtSnap: true}
	case "no-closing-check":
		return sabotage{noClosingCheck: true}
	case "no-zxid-check":
		return sabotage{noZxidCheck: true}
	}
	panic("sim: unknown sabotage " + name)
}
