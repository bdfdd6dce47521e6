// Package proxy is zkgo's client-facing network layer: gnet event loops that
// accept ZooKeeper client connections, frame and decode their requests, and
// write replies, plus (in passthrough.go) a protocol-aware proxy in front of
// any ensemble.
//
// Contract:
//   - Each connection is owned by one event loop; its state lives in
//     c.Context() and is touched only from that loop's callbacks.
//   - Nothing here blocks a loop: no disk, no dial, no lock waits, no
//     channel sends that can block. Hand-offs to the Backend are
//     non-blocking; a Backend that cannot take more gets the connection
//     closed.
//   - Replies reach the client only through Conn.Send (gnet AsyncWrite),
//     the single reply path, so a session's replies, pings and watch events
//     stay in the order the Backend produced them.
//   - Frames are bounded by jute.maxbuffer; a connection with too many
//     requests in flight stops being read (backpressure) and is closed if it
//     keeps sending past MaxInboundBytes; a client that does not read its
//     replies is closed past MaxOutboundBytes.
//
// proxy imports wire, never node: the server is reached through Backend,
// which cmd/zkgo wires to node.Server.
package proxy
