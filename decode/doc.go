// Package decode turns captured ZooKeeper traffic into messages: the client
// protocol, the leader/learner (Zab) channel and the election (FLE) channel,
// each decoded in full with the Java field names of the generated records.
// It backs `zkgo decode`.
//
// The package has two layers with a one-way dependency:
//
//   - Byte-stream decoding (Decoder, Conn and the per-channel parsers) is
//     pure: it is fed the reassembled bytes of each direction of a TCP
//     connection, with the capture timestamps, and calls a Sink for every
//     message. It does no I/O, reads no clock (time comes from the
//     capture) and keeps no goroutines. Channel detection by port and by
//     content, message framing, resynchronisation after a gap or on a
//     capture that starts mid-stream, request/response pairing and the
//     SNAP stream summary all live here.
//   - The capture layer (ReadCapture, capture.go) reads pcap and pcapng
//     (gopacket's pcapgo readers, no cgo), strips the link layer
//     (Ethernet, Linux cooked SLL/SLL2, loopback, raw IP), reassembles TCP
//     with gopacket's reassembly package and feeds the decoder. Bytes the
//     capture lacks become a gap as soon as the other side acknowledges
//     them, or after 2 s of capture time. A SYN that reuses a 4-tuple the
//     assembler still holds (TIME_WAIT reuse, after the old connection's
//     final ACK) ends the old connection and starts a new one.
//     Records reach pcapgo through clampReader (see the memory contract
//     below).
//
// ReadRecord (record.go) feeds the decoder from the JSON-lines file of
// `zkgo proxy --record` instead of a capture: each line carries one whole
// frame of one direction of a proxied connection; a "dropped" line (the
// recorder's queue or file was full) becomes a note and is counted in
// Counts.RecordDropped.
//
// Around the decoder sit pure consumers of messages: Filter, Stats and
// Printer (one line per message, a field tree, or JSON lines).
//
// Contract:
//   - It never panics on any input and never recovers from a panic:
//     every length is checked before it is used.
//   - Lengths are bounded before allocation: a client frame by
//     Config.MaxFrame, a quorum packet buffer by jute.QuorumMaxBuffer, an
//     election frame by wire.MaxElectionFrameSize; bytes waiting for
//     channel detection or resynchronisation are capped, and so are the
//     request tables used for pairing.
//   - Memory is bounded whatever the capture. pcapgo's readers take a
//     record's length from the file and read that many bytes into memory
//     (a buffer that grows as the bytes arrive: a gzip'd run of zeros can
//     fill gigabytes), so ReadCapture feeds them through clampReader
//     (clamp.go), which rewrites the stream: file and interface snap
//     lengths above MaxSnapLen (262144, tcpdump's maximum) are clamped, a
//     longer record keeps MaxSnapLen bytes and the rest is skipped unread,
//     pcapng blocks the decoder does not use are skipped, and a block whose
//     lengths contradict each other ends the capture with ErrBadBlock; each
//     cut is a counted note (CaptureStats.Clamped, SnapLens). At most
//     Config.MaxFlows TCP connections are open (the least recently active
//     one is closed for a new one; CaptureStats.Evicted), a connection
//     idle for Config.FlowIdle of capture time is closed
//     (CaptureStats.IdleFlows), reassembly holds at most 64 MiB of
//     out-of-order data, and the bytes all connections hold for decoding
//     are capped by Config.MaxHeld (the largest holder is dropped;
//     Counts.Shed). Every such decision is a note on the connection.
//   - What cannot be decoded is reported inline as a KindUndecodable
//     message with its byte offset in the half-stream, and decoding goes
//     on with the next plausible message.
//   - A Message and everything it points to is valid only during the Sink
//     call: records are reused between messages. Copy what you keep.
//
// Callers: cmd/zkgo (decode subcommand) and the compat tests.
package decode
