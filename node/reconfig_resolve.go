package node

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/wire"
)

// A reconfig's address check (checkAddressDuplicate) compares resolved
// addresses, and a name lookup can take seconds: it must not hold the
// owner goroutine. The leader's prep of an incremental reconfig whose
// joiners or members are named by host (IP literals need no lookup and
// are prepared at once) hands the names to a lookup goroutine
// (reconfigLookupsMax at a time, each request's lookups within
// reconfigResolveTimeout) and prepares the request once they are back,
// with the addresses found. Meanwhile the request's session is held: its
// later requests that reach prep (writes, and an expiry's closeSession)
// wait behind it in order, and its reads already wait behind the
// request's reply slot, so the session's order is the one Java's single
// prep thread gives. Other sessions go on: their reads are answered and
// their writes prepared, ahead of the reconfig, which takes its zxid (and
// so its version) and reads the configuration when it is prepared.

// reconfigResolveTimeout bounds the name lookups of one reconfig
// request's address check; a name not resolved by then is unresolved (left
// out of the check, as Java leaves out an unresolved address).
const reconfigResolveTimeout = 2 * time.Second

// reconfigLookupsMax bounds the lookup goroutines running at once; the
// requests beyond it wait for a slot in arrival order.
const reconfigLookupsMax = 2

// reconfigResolver is a leader's reconfig requests waiting for their
// name lookups (peer.resolver). Owner goroutine state, but done, which the
// lookup goroutines fill.
type reconfigResolver struct {
	// lookup resolves one name (tests stub it); nil: the system resolver.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// timeout: a request's lookups' budget; 0 is reconfigResolveTimeout.
	timeout time.Duration
	// held: the sessions whose reconfig is being resolved, by session.
	held map[wire.SessionID]*heldReconfig
	// queue: held requests waiting for a lookup slot, in arrival order;
	// running: lookups under way.
	queue   []*heldReconfig
	running int

	mu   sync.Mutex
	done []*heldReconfig // lookups finished, for the owner (runResolved)
}

// heldReconfig is a reconfig request waiting for its name lookups, and
// the later preps of its session waiting behind it.
type heldReconfig struct {
	ld    *leaderDriver // the leadership it was asked of
	prop  *proposal
	r     *writeRequest
	hosts []string // to look up
	found map[string]netip.Addr
	after []prepItem
}

// holdsPrep queues it behind its session's reconfig when one is being
// resolved, and reports whether it did.
func (s *Server) holdsPrep(it prepItem) bool {
	if it.session == 0 || s.qs.peer == nil {
		return false
	}
	h := s.qs.peer.resolver.held[it.session]
	if h == nil {
		return false
	}
	h.after = append(h.after, it)
	return true
}

// reconfigLookups returns the Resolver a reconfig request r is prepared
// with, or starts the lookups it needs and reports wait (r is prepared
// again, through prep, once they are back). No resolver and no wait when
// this server does not prepare reconfigs (the prep refuses it) or the
// request names no host.
func (s *Server) reconfigLookups(prop *proposal, r *writeRequest) (quorum.Resolver, bool) {
	req, ok := r.body.(*wire.ReconfigRequest)
	ld := s.qs.leader
	if !ok || r.bodyErr != nil || !s.qs.reconfigOn() || ld == nil || !ld.serving() {
		return nil, false
	}
	cur, last := ld.zab.Config()
	if last == nil {
		last = cur
	}
	var hosts []string
	if cur != nil && last.Version == cur.Version && (req.CurConfigID == -1 || req.CurConfigID == last.Version) {
		// Refused before any lookup (RECONFIGINPROGRESS, BADVERSION)
		// otherwise, as in Java.
		hosts = quorum.ReconfigHosts(last, req)
	}
	var missing []string
	for _, h := range hosts {
		if _, ok := r.resolved[h]; !ok {
			missing = append(missing, h)
		}
	}
	if len(missing) > 0 {
		s.holdReconfig(&heldReconfig{ld: ld, prop: prop, r: r, hosts: missing})
		return nil, true
	}
	found := r.resolved
	return func(host string) (netip.Addr, bool) {
		ip := found[host] // a name not looked up: unresolved
		return ip, ip.IsValid()
	}, false
}

// holdReconfig holds h's session and starts its lookups, or queues them.
func (s *Server) holdReconfig(h *heldReconfig) {
	rs := &s.qs.peer.resolver
	if rs.held == nil {
		rs.held = map[wire.SessionID]*heldReconfig{}
	}
	rs.held[h.r.session] = h
	s.log.Info().Str("session", h.r.session.String()).Strs("hosts", h.hosts).
		Msg("reconfig waits for its host names to resolve")
	if rs.running >= reconfigLookupsMax {
		rs.queue = append(rs.queue, h)
		return
	}
	s.startLookups(h)
}

// startLookups resolves h's names on a goroutine, within
// reconfigResolveTimeout (or until the server stops), and hands h back to
// the owner (runResolved).
func (s *Server) startLookups(h *heldReconfig) {
	rs := &s.qs.peer.resolver
	rs.running++
	lookup := rs.lookup
	timeout := rs.timeout
	if timeout <= 0 {
		timeout = reconfigResolveTimeout
	}
	hosts := h.hosts
	s.lp.goRoutine(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		go func() {
			select {
			case <-s.lp.quit:
				cancel()
			case <-ctx.Done():
			}
		}()
		found := make(map[string]netip.Addr, len(hosts))
		for _, host := range hosts {
			found[host] = resolveHost(ctx, lookup, host)
		}
		rs.mu.Lock()
		h.found = found
		rs.done = append(rs.done, h)
		rs.mu.Unlock()
		s.poke()
	})
}

// resolveHost resolves host as Java's InetSocketAddress does for a
// QuorumServer: the first IPv4 address (the JVM prefers IPv4), else the
// first; invalid when it does not resolve within ctx. lookup nil is the
// system resolver.
func resolveHost(ctx context.Context, lookup func(context.Context, string) ([]netip.Addr, error), host string) netip.Addr {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip
	}
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	ips, err := lookup(ctx, host)
	if err != nil {
		return netip.Addr{}
	}
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			return ip.Unmap()
		}
	}
	if len(ips) > 0 {
		return ips[0]
	}
	return netip.Addr{}
}

// runResolved prepares the reconfig requests whose lookups are back (the
// owner goroutine, each round), then their sessions' preps held behind
// them, in order, through prep; it starts the lookups waiting for a slot.
func (s *Server) runResolved() {
	if s.qs.peer == nil {
		return
	}
	rs := &s.qs.peer.resolver
	rs.mu.Lock()
	done := rs.done
	rs.done = nil
	rs.mu.Unlock()
	for _, h := range done {
		rs.running--
		if rs.held[h.r.session] != h {
			continue // dropped (dropPreps): the leadership ended
		}
		delete(rs.held, h.r.session)
		if h.r.resolved == nil {
			h.r.resolved = make(map[string]netip.Addr, len(h.found))
		}
		for host, ip := range h.found {
			h.r.resolved[host] = ip
		}
		prop, r := h.prop, h.r
		if s.qs.leader != h.ld {
			s.failHeld(h, nil)
			continue
		}
		// Before anything waiting to be prepared (its session's requests
		// queued in prepWait before it was held came after it), behind a
		// large write being prepared; held again if the configuration
		// changed meanwhile and names other hosts.
		s.prepareFirst(prepItem{prop: prop, session: r.session, run: func() { s.prepareWrite(prop, r) }})
		for _, it := range h.after {
			s.prepare(it)
		}
	}
	for rs.running < reconfigLookupsMax && len(rs.queue) > 0 {
		h := rs.queue[0]
		rs.queue[0] = nil
		rs.queue = rs.queue[1:]
		if rs.held[h.r.session] == h {
			s.startLookups(h)
		}
	}
	if len(rs.queue) == 0 {
		rs.queue = nil
	}
}

// failHeld drops a held reconfig and its session's preps behind it (the
// leadership ended, or the txn log failed): fail gets each client's
// proposal (nil: the ones of no leader's dropPreps, failed as dropPreps
// fails them); expiries held are undone.
func (s *Server) failHeld(h *heldReconfig, fail func(*proposal)) {
	if fail == nil {
		fail = func(p *proposal) {
			if p.cc != nil {
				s.cl.closeConn(p.cc, "leader shutting down")
			}
		}
	}
	fail(h.prop)
	for _, it := range h.after {
		s.dropPrepItem(it, fail)
	}
}

// dropHeldReconfigs drops every held reconfig (dropPreps).
func (s *Server) dropHeldReconfigs(fail func(*proposal)) {
	if s.qs.peer == nil {
		return
	}
	rs := &s.qs.peer.resolver
	for _, h := range rs.held {
		s.failHeld(h, fail)
	}
	rs.held, rs.queue = nil, nil
}
