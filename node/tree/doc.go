// Package tree is ZooKeeper's data tree: znodes with their data, ACLs and
// stats, the ephemeral/container/TTL indexes, the ACL cache, and the tree
// digest. It applies transactions exactly as Java's DataTree.processTxn does
// and validates requests into transactions as PrepRequestProcessor does.
//
// Package tree is pure: no I/O, no clocks, no goroutines, no locks. Time
// arrives in txn headers and as arguments. It is owned by one goroutine.
//
// Stat model (mirrors DataNode): the stored StatPersisted.cversion counts the
// child creations; clients see cversion*2 - numChildren (so deletes count as
// changes too), and sequential names use the stored count.
package tree
