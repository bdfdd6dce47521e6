// Package sim is a deterministic simulator of a zkgo ensemble: N peers in
// one process, each made of zkgo's own pure code (node/fle for the
// election, node/zab for the leadership's establishment, the sync plan
// and the learner's sync, node/tree for the database) driven the way
// package node drives it, on a simulated network and disk, in virtual
// time. One seed drives everything: the links' delays, the fault
// schedule (crashes, crashes between a Ready's persist and its send,
// pauses, connection cuts, partitions, slow links, failing fsyncs, torn
// records), the clients' writes. After every step a checker holds Zab's
// properties (epochs only grow, one established leader per epoch, logs
// agree, no committed txn lost or reordered, the committed history
// durable on a quorum, the trees agree); at the end porcupine checks the
// clients' history.
//
// Package sim is pure: no sockets, no files, no clocks, no goroutines of
// its own (porcupine, which checks a finished history, runs its search
// on goroutines). It is not part of the server: tests (TestSimSeeds,
// TestScenarios, the zabsabotage self-test) and internal/zabsim (`make
// sim`) run it.
//
// Broadcast is zab's on both sides (zab.Leader, zab.Broadcast), driven as
// node drives it. docs/zab.md ("The simulator") has the details, the
// sabotage table (zabsabotage builds: node/zab's own sabotages and the
// drivers') and what the simulator does not model yet.
package sim
