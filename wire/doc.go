// Package wire holds ZooKeeper 3.8's messages for the three channels zkgo
// speaks: the client port, the leader/learner (Zab) channel, and the election
// (FLE) channel, plus the transaction records shared by proposals and the
// on-disk log.
//
// Every Jute record is generated from jute/zookeeper.jute into
// records_gen.go (run `go generate ./wire`); do not edit it by hand. This
// package adds what is not a Jute record in Java: typed protocol constants,
// client framing (4-byte length prefix), the optional readOnly byte of
// ConnectRequest/ConnectResponse, multi request/response framing, txn and
// request/response dispatch by opcode, QuorumPacket helpers, and the FLE
// notification and QuorumCnxManager initial message.
//
// Package wire imports only jute and the standard library. It is pure: no
// I/O, no clocks.
package wire

//go:generate go run ../jute/cmd/jutegen -in ../jute/zookeeper.jute -out records_gen.go -pkg wire
