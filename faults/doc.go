// Package faults is the fault-injection suite of issue 15: it starts 3- and
// 5-node ensembles of any mix of Java ZooKeeper 3.8 and zkgo nodes, each a
// separate process in its own network namespace on a bridge the run creates,
// drives workloads from clients in the root namespace, lets a seeded nemesis
// kill, pause, partition and starve the nodes, heals, and then checks the
// histories: linearizable CAS registers (porcupine), a sequential-append
// set, fenced locks and ephemerals, watches, and convergence of every node.
//
// Everything a run adds is named with one prefix, "zkf" followed by the
// third octet of its private subnet (10.213.X.0/24, X reserved atomically by
// creating the bridge zkfbX): namespaces zkfX-N, veth pairs zkfXhN/zkfXpN,
// iptables rules inside the namespaces only. Cleanup removes all of it and
// kills every process by PID, at test cleanup and on SIGINT/SIGTERM; a
// sweeper at start removes what a crashed run (whose PID, recorded in the
// bridge's alias, is gone) left behind.
//
// The tests need root (namespaces, iptables), iproute2 and iptables, Java
// ZooKeeper 3.8 for Java nodes, and skip under -short. See docs/faults.md.
package faults
