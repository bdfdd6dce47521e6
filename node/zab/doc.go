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
//     states from FOLLOWERINFO to UPTODATE (LearnerState). NewLearnerSync
//     takes the learner's id, role, last logged zxid and epochs; Start
//     gives FOLLOWERINFO or OBSERVERINFO; Step takes each packet from the
//     leader and returns a LearnerReady, to be carried out in its order
//     and completely before the next packet is stepped: truncate
//     (Truncate, TruncateTo) or take the snapshot that followed SNAP
//     (ReceiveSnapshot, SnapshotZxid), apply Apply to the database being
//     built, write a snapshot of it (WriteSnapshot), append Append and
//     make it durable, write HardState, and only then send Messages. A
//     driver that crashes anywhere in between loses nothing the leader
//     was told about: the accepted epoch is durable before ACKEPOCH, the
//     synced proposals and the current epoch before the NEWLEADER ACK
//     (ZOOKEEPER-3911/4643/4646/4785). An error ends the sync;
//     ErrLearnerFatal marks those after which Java exits. Once State is
//     LearnerSynced, Synced is the outcome, which NewBroadcast takes.
//     node drives it on its owner goroutine (learnerSync in
//     node/learner.go): the link's reader feeds it packets, disk work
//     that is log- or tree-sized runs as a job the owner waits for;
//     zabtest's learnerReceive (zabtest/env.go) is its other driver.
//   - the follower's and observer's broadcast phase (follower.go):
//     Broadcast. NewBroadcast(BroadcastConfig, Synced) starts it from a
//     sync's outcome; Step takes each packet from the leader; Durable(z)
//     reports the txn log durable up to z and returns the ACKs then due
//     (a follower ACKs a proposal only once it is durable). Each
//     BroadcastReady is carried out in order: append Append to the log,
//     send Messages, apply Apply (committed txns, in zxid order), then
//     the server layer's packets (Ping to answer with the session touch
//     table, Revalidate, Sync). A Step error means leaving the leader:
//     a packet that does not decode, or a COMMIT that is not for the
//     oldest pending proposal (ErrCommitMismatch: Java logs it and exits,
//     node logs the same and syncs again). LastQueued and Pending report
//     the newest zxid received and the proposals waiting for a COMMIT.
//     node's onLinkMsg and carryOutBroadcast (node/follow.go) and
//     zabtest's broadcastReady (zabtest/learner.go) are its two drivers.
//   - the sync plan (syncplan.go): PlanSync, the choice of DIFF, TRUNC or
//     SNAP for a learner and the packets before its NEWLEADER
//     (LearnerHandler.syncFollower and queueCommittedProposals), and
//     SyncThrottle (LearnerSyncThrottler); node's syncLearner drives them.
//   - sabotages (sabotage.go, sabotage_on.go): the core broken on purpose,
//     one rule at a time, in builds with the zabsabotage tag only
//     (SetSabotage), so that the simulator (node/zab/sim, make
//     sim-sabotage) shows it finds each; in other builds the hooks are a
//     constant false.
//
// Package node owns everything around these: the connections, the txn log,
// the tree, and the order in which it persists, sends and applies.
package zab
