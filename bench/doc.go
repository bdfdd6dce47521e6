// Package bench measures zkgo against Java ZooKeeper 3.8 on one machine.
//
// It holds the load generator (a lean raw-wire client: pre-encoded requests,
// pipelined, closed-loop or coordinated-omission-safe open-loop, latency in
// HdrHistograms), the launchers that start Java ZooKeeper and zkgo as child
// processes with the same zoo.cfg, the /proc sampler (utime+stime, VmRSS),
// the memory and startup scenarios, and the report writer behind
// bench/RESULTS.md. Methodology: ../shared/BENCHMARKS.md.
//
// bench is a tool, not part of the server: it talks to servers only over
// the wire and through /proc, and neither node nor proxy imports it. It is
// run by `zkgo bench` (cmd/zkgo/bench.go) and `make bench`, never by
// `make test`.
package bench
