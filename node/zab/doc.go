// Package zab holds the decisions of ZooKeeper's atomic broadcast (Zab, as
// Java 3.8's Leader, LearnerHandler and Learner make them) as pure code, so
// that they can be tested one by one, in tables and scripts, and driven by
// a simulator with virtual time and faults.
//
// Package zab is pure: no sockets, no files, no clocks, no goroutines, no
// logger. It imports wire, jute and node/quorum only (internal/depcheck
// enforces it). Time reaches it as ticks (tickTime/2 each, counted by the
// driver), the network and the disk as the values the driver passes in.
//
// It is being built up from package node, which drives it (docs/zab.md has
// the migration and its state). So far it holds:
//
//   - the leader (leader.go, handler.go): Leader, a whole leadership. The
//     epoch agreed with a quorum, made current by a quorum of ACKEPOCHs,
//     each learner connection's handshake (Connect with its first packet,
//     then Receive: FOLLOWERINFO/OBSERVERINFO, LEADERINFO/ACKEPOCH, the
//     sync the driver plans (Ready.Syncs, StartSync, SnapReady), NEWLEADER
//     and its ACK, UPTODATE), the NEWLEADER quorum, each phase within a
//     number of ticks; then broadcast: Propose, the learners' ACKs and the
//     leader's own (Durable), commits in zxid order (COMMIT, INFORM, the
//     proposals held for a syncing follower, ZOOKEEPER-4394), SYNC
//     answers (SyncRequest), the sync throttle, pings, the transaction
//     timeout and the synced-quorum check (Tick). A learner connection is
//     a LinkID the driver picks. Its Ready (LeaderReady) lists, in the
//     order the driver carries them out, what to persist (HardState: the
//     epochs), which connections to close, which snapshots to stream, the
//     packets to send (Messages, addressed by LinkID), the txns to apply
//     (Commits), the server layer's packets (PING, REVALIDATE, REQUEST)
//     and the syncs to plan: the driver persists first and sends only
//     once that worked. node's processLeaderReady (node/leader.go) and
//     zabtest's leaderReady (zabtest/leader.go) are its two drivers.
//   - quorum counting (quorum.go): Tracker, the voters that acknowledged
//     one thing (an epoch, NEWLEADER, a learner being in sync), and
//     Outstanding, the leader's proposals waiting for a quorum of ACKs,
//     which commit in zxid order. Both count with a quorum.Verifier, so
//     majority and hierarchical quorums behave as Java's QuorumMaj and
//     QuorumHierarchical.
//   - the committed log (committed.go): CommittedLog, the last
//     commitLogCount committed txns a leader syncs learners from by DIFF
//     (ZKDatabase.committedLog), and Committed, one txn with its PROPOSAL
//     encoding.
//   - the leader's checks of a learner's first packet and ACKEPOCH
//     (handshake.go): CheckLearnerInfo, CheckAckEpoch, ParseAckEpoch; and its
//     transaction timeout per learner (synclimit.go): SyncLimitCheck.
//   - the learner's registration and sync (learner.go): LearnerSync, the
//     states from FOLLOWERINFO to UPTODATE, whose Ready (LearnerReady)
//     lists what to truncate, receive, apply, snapshot, log and persist
//     before its packets are sent; node's learner goroutine drives it.
//   - the sync plan (syncplan.go): PlanSync, the choice of DIFF, TRUNC or
//     SNAP for a learner and the packets before its NEWLEADER
//     (LearnerHandler.syncFollower and queueCommittedProposals), and
//     SyncThrottle (LearnerSyncThrottler); node's syncLearner drives them.
//
// Package node owns everything around these: the connections, the txn log,
// the tree, and the order in which it persists, sends and applies.
package zab
