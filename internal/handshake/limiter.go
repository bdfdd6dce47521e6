// Package handshake bounds the connections a quorum listener (the leader's
// learner port, the election port) holds before the peer has said who it
// is. Until then a connection costs a goroutine and buffers and proves
// nothing: a flood of them, or a few that drip a byte now and then, must
// neither exhaust the server nor keep a real peer out.
//
// A Limiter holds at most Max such connections. Admitting one more closes
// one already held: the oldest of the remote address that holds the most,
// so that one source flooding the port evicts its own connections and not
// a peer's. A real peer sends its first message as soon as it connects, so
// it is done long before it could be evicted; the caller also gives every
// handshake a deadline.
package handshake

import (
	"net"
	"sync"
)

// Limiter bounds the connections pending a handshake. Safe for concurrent
// use.
type Limiter struct {
	max int

	mu      sync.Mutex
	seq     uint64
	pending map[net.Conn]entry
	closed  bool
	evicted uint64
}

type entry struct {
	seq  uint64
	host string
}

// NewLimiter returns a Limiter for at most n pending connections (at
// least 1).
func NewLimiter(n int) *Limiter {
	return &Limiter{max: max(n, 1), pending: map[net.Conn]entry{}}
}

// Max is the limit.
func (l *Limiter) Max() int { return l.max }

// Admit registers c as pending its handshake. If Max connections are
// pending, one of them is closed first (see the package comment). It
// returns false, after closing c, once the Limiter is closed.
func (l *Limiter) Admit(c net.Conn) bool {
	host := remoteHost(c)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		_ = c.Close()
		return false
	}
	var victim net.Conn
	if len(l.pending) >= l.max {
		victim = l.victimLocked()
		delete(l.pending, victim)
		l.evicted++
	}
	l.seq++
	l.pending[c] = entry{seq: l.seq, host: host}
	l.mu.Unlock()
	if victim != nil {
		_ = victim.Close()
	}
	return true
}

// victimLocked picks the oldest connection of the host with the most
// pending connections.
func (l *Limiter) victimLocked() net.Conn {
	count := make(map[string]int, len(l.pending))
	most := 0
	for _, e := range l.pending {
		count[e.host]++
		most = max(most, count[e.host])
	}
	var victim net.Conn
	var oldest uint64
	for c, e := range l.pending {
		if count[e.host] == most && (victim == nil || e.seq < oldest) {
			victim, oldest = c, e.seq
		}
	}
	return victim
}

// Done ends c's pending state (its handshake finished or failed). It
// returns false if c was evicted (and closed) meanwhile or the Limiter was
// closed.
func (l *Limiter) Done(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.pending[c]; !ok {
		return false
	}
	delete(l.pending, c)
	return true
}

// Close closes every pending connection; later ones are refused.
func (l *Limiter) Close() {
	l.mu.Lock()
	l.closed = true
	conns := make([]net.Conn, 0, len(l.pending))
	for c := range l.pending {
		conns = append(conns, c)
	}
	clear(l.pending)
	l.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// Pending is the number of connections pending now.
func (l *Limiter) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending)
}

// Evicted is how many pending connections were closed to admit newer ones.
func (l *Limiter) Evicted() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.evicted
}

func remoteHost(c net.Conn) string {
	a := c.RemoteAddr()
	if a == nil {
		return ""
	}
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
