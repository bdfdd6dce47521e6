// Package storage reads and writes ZooKeeper's on-disk formats exactly as
// Java 3.8 does: txn log files (log.<zxid>), snapshots (snapshot.<zxid>,
// optionally .gz or .snappy), and the acceptedEpoch/currentEpoch files, all
// under <dir>/version-2. A data directory written by Java can be read here
// and the other way round.
//
// Reading a txn log never truncates anything but a torn tail: the last
// record of the newest log, followed only by zeros and damaged only as an
// interrupted write damages it (logreader.go). Any other damage is a
// *LogError naming the file, offset and zxids, and recovery refuses to
// start on it; CheckLogs, PlanTruncate and Truncate are the operator's
// tools (zkgo txnlog verify, zkgo txnlog truncate). Every reader takes the
// record limit (jute.maxbuffer plus its extra allowance) as an argument.
//
// Package storage does I/O and nothing else: it keeps no server state and
// starts no goroutines; node decides when to append, sync, snapshot and
// purge.
package storage
