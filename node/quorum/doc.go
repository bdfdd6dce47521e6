// Package quorum decides which sets of servers form a quorum, as Java
// ZooKeeper 3.8's QuorumVerifier implementations do: Majority
// (QuorumMaj, more than half of the voters) and Hierarchical
// (QuorumHierarchical, the group.N / weight.N lines of zoo.cfg: a quorum
// is a majority of the non-zero-weight groups, each holding more than half
// of its group's weight).
//
// Every quorum decision of a zkgo member goes through one Verifier: fast
// leader election's termination predicate and vote order (node/fle), and
// the leader's counts (epoch agreement, ACKEPOCH, NEWLEADER acks, proposal
// acks, the synced-quorum check that makes a leader step down). A member
// that counted differently from its Java peers could help elect two leaders
// or commit a write without the quorum Java expects.
//
// Parse builds the verifier from the server.N members and the zoo.cfg keys
// with Java's rules and error messages (QuorumPeerConfig.parseDynamicConfig,
// QuorumHierarchical.parse), and Text renders the group/weight lines of
// QuorumHierarchical.toString.
//
// Config is the whole quorum configuration (QuorumVerifier with its
// members and version): ParseServer reads the server.N grammar
// (QuorumServer), ParseConfig the properties of zoo.cfg, a dynamic file
// or a reconfig's newMembers (parseDynamicConfig), and String renders
// QuorumVerifier.toString, the text of /zookeeper/config. files.go renders
// the files Java 3.8 writes when a configuration is activated
// (zoo.cfg.dynamic.<version>, .next, and the static zoo.cfg rewrite, whose
// line order is that of Java 17's Properties, a ConcurrentHashMap, which
// Properties.JavaOrder simulates).
//
// Package quorum is pure: no I/O, no clocks, no goroutines.
package quorum
