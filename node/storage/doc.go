// Package storage reads and writes ZooKeeper's on-disk formats exactly as
// Java 3.8 does: txn log files (log.<zxid>), snapshots (snapshot.<zxid>,
// optionally .gz or .snappy), and the acceptedEpoch/currentEpoch files, all
// under <dir>/version-2. A data directory written by Java can be read here
// and the other way round.
//
// Package storage does I/O and nothing else: it keeps no server state and
// starts no goroutines; node decides when to append, sync, snapshot and
// purge.
package storage
