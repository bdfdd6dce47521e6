// Package zabtest is the test bench of package zab: an in-memory network
// of ordered links that can be cut, an in-memory txn log and epoch store
// with a durable watermark that a crash falls back to, and an environment
// that runs interaction scripts (internal/testutil/scripttest) against
// them, so that Zab's scenarios are checked packet by packet and without
// sockets, disks or clocks.
//
// It is pure, like zab. The environment drives the parts of Zab that are in
// package zab so far: a leader plans each learner's sync with zab.PlanSync
// from its committed log (zab.CommittedLog) and its txn log, and sends the
// packets; the learner's side of the sync (DIFF and TRUNC: log the
// proposals, make them durable, write the epoch, then ACK NEWLEADER, the
// order of Java 3.8.5+ and of zkgo) is played by the environment until the
// learner's state machine moves into zab too (docs/zab.md, step 5).
package zabtest
