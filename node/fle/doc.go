// Package fle is ZooKeeper's fast leader election (FastLeaderElection in
// Java 3.8) as a pure state machine, so a zkgo peer can vote in an ensemble
// of Java peers and be counted by them.
//
// An Election owns what Java's FastLeaderElection object owns: the logical
// clock (election round), the current proposal, the receive queue, the
// per-round recvset and outofelection tables, and the notification
// timeout. It also mirrors the receive side (FastLeaderElection.Messenger's
// WorkerReceiver): which notifications are queued for the round and which
// are answered at once.
//
// Package fle is pure: no sockets, no files, no clocks, no goroutines, no
// logger (Config.Trace reports each step for the driver to log). The
// driver (package node/election) feeds it
//
//   - Step(n): one decoded notification from peer n.From,
//   - Tick(elapsed, delivered): time passing, plus whether any peer's send
//     queue is empty (QuorumCnxManager.haveDelivered),
//   - Start / Abort / SetLooking / SetPeerEpoch: the QuorumPeer side,
//
// and collects Ready(): notifications to send, "reconnect to everyone"
// requests, the decision, and the "would win" report. NextTimeout tells the
// driver when the next Tick matters. Notifications a voter sends to itself
// travel through the receive queue as they do in Java (QuorumCnxManager
// loops them back), so a peer's own vote is counted in its recvset.
//
// # Java behaviour mirrored (FastLeaderElection.lookForLeader, 3.8)
//
//   - Start increments the logical clock, sets the proposal to the initial
//     vote (myid, lastLoggedZxid, currentEpoch), or NoID (math.MinInt64)
//     for all three on a non-voter, and sends it to every voter, itself
//     included.
//   - Notifications whose sender or proposed leader is not a voter are
//     dropped. LOOKING notifications are ignored when my lastLoggedZxid is
//     -1 or theirs is -1; a higher round resets the clock, recvset and
//     proposal (better of theirs and my initial vote); a lower round is
//     dropped; an equal round is adopted when TotalOrder says it is better.
//   - A quorum (Config.Verifier: QuorumMaj, more than half the voters, or
//     QuorumHierarchical, see package node/quorum) of recvset votes
//     equal to (proposal, clock) starts the finalize wait (200 ms): a
//     notification that beats the proposal is put back and the round goes
//     on; any other one is discarded; silence decides (LEADING when the
//     proposal is me, else FOLLOWING, or OBSERVING for non-voters).
//   - FOLLOWING/LEADING notifications go into recvset (same round) and
//     always into outofelection; a quorum of equal votes (Vote.equals: only
//     leader and peerEpoch for non-LOOKING votes, only the leader when one
//     side has version 0) plus checkLeader (the leader itself must have said
//     LEADING, or, if the leader is me, the round must match) decides. The
//     outofelection path also adopts the notification's round as the clock.
//     OBSERVING notifications are ignored.
//   - A poll without notifications for notTimeout (200 ms doubling up to
//     60 s) re-sends the proposal if some send queue is empty, else asks the
//     driver to reconnect to everyone.
//   - Receive side: a sender that is not a voter gets my current vote and
//     state at once; while LOOKING everything is queued and a LOOKING sender
//     in an older round gets my proposal; when not LOOKING a LOOKING sender
//     gets my current vote (the round that elected it and the peer epoch
//     SetPeerEpoch set) with my real state.
//
// # CanLead=false
//
// zkgo cannot lead yet, but as a voter it must still vote so Java peers
// can count it. With Config.CanLead false a voter never proposes itself and
// never votes for a leader whose history may be behind its own:
//
//   - Its proposal starts empty. It adopts a LOOKING vote v only if v
//     covers its history: v.PeerEpoch > currentEpoch, or v.PeerEpoch ==
//     currentEpoch and v.Zxid >= lastLoggedZxid (the sid is not a tie-break
//     here: an equal-history peer with a smaller sid is fine), and v's
//     leader is not itself. Among covering votes TotalOrder picks the best,
//     exactly as Java does. With a proposal it behaves as Java: it sends
//     notifications, counts equal votes (its own included), waits
//     finalizeWait and decides FOLLOWING.
//   - While its proposal is empty it sends no vote. So that established
//     peers still answer it (Java only answers LOOKING senders), it sends
//     a probe instead: a LOOKING notification with zxid -1 and peerEpoch -1
//     for the lowest other voter. Java ignores such a notification in every
//     election loop (lookForLeader drops n.zxid == -1 before it looks at
//     the round), so the probe is never counted as a vote, but FOLLOWING and
//     LEADING peers answer it with their vote and LOOKING peers in a later
//     round answer with their proposal. The outofelection path that joins an
//     established leader is unchanged.
//   - Its logical clock can run ahead of idle Java peers (each round
//     increments it), and Java ignores probes. So, with no proposal, it
//     also adopts a covering LOOKING vote from an older round (Java would
//     drop it and answer with its own proposal), and a new round starts
//     from the best covering LOOKING vote remembered from earlier rounds;
//     the vote it then sends moves those peers to its round.
//   - If no vote seen in the round covers it (so Java would elect it), it
//     stays LOOKING with an empty proposal; WouldWin reports this with the
//     best competing vote seen, once per round (after the condition held
//     for finalizeWait, or at a notification timeout), for the driver to
//     log and count. It never answers a peer with a vote for itself: with
//     no proposal it does not answer, and it ignores FOLLOWING/LEADING
//     votes that name it leader.
//
// Why: a voter that votes for a less up-to-date leader can help elect a
// leader that lacks transactions this voter acknowledged, and those may
// have been committed; the new leader would then truncate them everywhere.
// Refusing such votes keeps Java's guarantee that the elected leader has
// every committed transaction. The cost is availability: when zkgo holds
// the freshest history, the remaining Java voters must form a quorum
// without it (the zkgo voter then joins that leader through the
// outofelection path and is truncated to its history by the sync, as a
// late Java follower would be).
//
// With CanLead true the machine is Java's, with one addition: a voter of
// my round whose vote is worse than my proposal is answered with it, once
// per sender and round (Java waits for its own poll to time out, which
// other notifications can postpone for seconds; DIFFERENCES row 64).
//
// Vote order is totalOrderPredicate: a candidate whose weight is 0 (a
// weight.N=0 line of a hierarchical quorum) never beats the proposal.
//
// Not mirrored: dynamic reconfiguration (the config text in notifications
// is the driver's business; received configs are not processed) and
// QuorumOracleMaj. The receive queue holds at most MaxQueue
// notifications (Java's is unbounded); the oldest is dropped beyond that.
package fle
