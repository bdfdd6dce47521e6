// Package election runs ZooKeeper leader election on the election port
// (server.N=host:quorumPort:electionPort), wire-compatible with Java 3.8's
// QuorumCnxManager and FastLeaderElection, so a zkgo node can vote in, and
// join, a live Java ensemble.
//
// It owns the I/O: the listener, one TCP connection per peer (the one the
// larger sid initiates is kept), per-peer send queues of capacity 1 with
// "re-send the last message on a new connection", the 100-message receive
// queue that drops the oldest, and one goroutine that drives the pure
// state machine of package node/fle with received notifications and
// elapsed time, and carries out what it asks: send notifications, reconnect
// to everyone, report a decision or a CanLead=false "would win".
//
// Every notification carries Config.ConfigText, because Java parses the
// config of every notification it receives (an empty or unparseable one
// can kill its receiver thread).
//
// Package node (the QuorumPeer glue) calls Start once, LookForLeader each
// time it is LOOKING, SetPeerEpoch after a learner synced, SetLooking after
// losing a role, Stats for 4lw/mntr, and Close. Goroutines: the acceptor,
// one per handshake or dial in progress, two per connection, and the
// election goroutine; Close stops and waits for all of them.
//
// Deviations from Java: a handshake is read on its own goroutine (Java
// reads it on the listener thread unless quorum SASL is on), at most
// Config.MaxPendingHandshakes at a time (one more evicts one, see
// internal/handshake) and within HandshakeTimeout in total (Java's socket
// timeout restarts with every read), and links
// from one peer are still installed in accept order (an older connection
// handled late is refused); a dial's in-progress mark ends when it installs
// its link, so an acceptor that drops that link at once always connects
// back (Java can skip it, DIFFERENCES.md #23); a connection
// from a server with my own id is closed (Java leaves it open); received
// configs are not processed (no dynamic reconfiguration); a dial failure is
// logged once per peer until a dial succeeds.
package election
