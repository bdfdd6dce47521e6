package proxy

import "github.com/zkgo/zkgo/wire"

// Conn is the Backend's handle on one client connection. It is an alias of
// an unnamed interface type so that the server package can declare the very
// same type (node.Sink) without importing proxy. All methods are safe to
// call from any goroutine.
type Conn = interface {
	// ID is unique among the connections of this process.
	ID() uint64
	// RemoteAddr is the client's "ip:port".
	RemoteAddr() string
	// Send queues b for the client and takes ownership of it. completed is
	// the number of requests whose replies b finishes (for backpressure).
	// It returns false if the connection is closed or being closed.
	Send(b []byte, completed int) bool
	// Close closes the connection after the bytes already queued are
	// written. reason is logged.
	Close(reason string)
	// Resume tells the front end that the Backend has room again after
	// it refused the connection's packets (Backend.Submit returned
	// false): the front end submits what it held, once.
	Resume()
}

// Backend is the server behind the front end. Its methods are called on
// event loops and must not block.
type Backend interface {
	// Open registers a new connection; the returned handle is passed back
	// with the connection's packets and its close.
	Open(c Conn) any
	// Submit hands over packets decoded from the connection, in order. The
	// packets belong to the Backend once it returns true. It returns false
	// if the Backend cannot take them now (its queue is full, or other
	// connections are waiting for room): the front end keeps them, reads
	// nothing more from the connection than its per-connection limits
	// allow, and submits them again, with whatever it decoded since, once
	// the Backend calls the connection's Resume. A refused connection is
	// never closed for it: overload slows clients down. The Backend calls
	// Resume once per refusal, unless the connection closed or the Backend
	// stopped. The front end submits an empty batch right after Open.
	Submit(h any, pkts []wire.ClientPacket) bool
	// Closed reports that the connection is gone. It is called exactly once
	// per Open.
	Closed(h any, err error)
}

// ReceiptBackend is a Backend that is told each time bytes arrive from a
// connection, before they are decoded and also while the connection's
// packets are held (Submit refused them, or it has MaxOutstanding requests
// in flight): a client is heard when its packets arrive, as Java touches a
// session when it reads a packet, not only when the server gets to it.
// Received is called on the connection's event loop and must be cheap and
// never block.
type ReceiptBackend interface {
	Backend
	Received(h any)
}
