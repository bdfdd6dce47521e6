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
//     non-blocking; when the Backend cannot take more it refuses the
//     batch, the connection holds it and waits for the Backend's Resume
//     (in turn with the other waiting connections): overload slows
//     clients down, it never closes them.
//   - Replies reach the client only through Conn.Send, the single reply
//     path, so a session's replies, pings and watch events stay in the
//     order the Backend produced them. Send writes a reply itself, from the
//     Backend's goroutine, when the client has nothing else in flight and
//     nothing of the connection waits in gnet (direct.go: no hand-off to the
//     loop, through a duplicate descriptor the loop never waits for);
//     otherwise it queues it with gnet AsyncWrite. Send calls for one
//     connection wait for each other; they are never made on a loop.
//   - Frames are bounded by jute.maxbuffer; a connection with too many
//     requests in flight stops being read (backpressure) and is closed if it
//     keeps sending past MaxInboundBytes (gnet reads every readable socket,
//     so this bounds what a paused connection can make us buffer); a client
//     that does not read its replies is closed past MaxOutboundBytes.
//   - A four-letter-word connection keeps a duplicate of its socket, so the
//     answer gets out after the client half-closed (nc -N); the duplicate is
//     closed by the answer, by the Backend's Close, by the front end's close
//     of a word the Backend never got, or at Stop: never by a finalizer.
//
// secure.go is the TLS front end (secureClientPort, client.portUnification):
// gnet has no TLS, so it runs a reader and a writer goroutine per
// connection on crypto/tls, under the same contract as above (open notice,
// refusal and Resume, MaxOutstanding, MaxOutboundBytes), with the
// client certificate's subject for the Backend. passtls.go gives the
// pass-through proxy TLS towards clients and upstreams by bridging each
// TLS stream to a gnet loop through a Unix socket pair.
//
// proxy imports wire, never node: the server is reached through Backend,
// which cmd/zkgo wires to node.Server.
package proxy
