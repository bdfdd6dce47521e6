package node

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"
)

// clientListener is where the front end serves clients: the port it bound
// (conf, the admin server's view) and the move of the listener that an
// activated configuration asks for. Safe from any goroutine.
type clientListener struct {
	port   atomic.Int64                                   // the client port served on
	host   atomic.Pointer[string]                         // the host it was last moved to (nil: the configured one)
	rebind atomic.Pointer[func(string) (net.Addr, error)] // the front end's move (SetClientRebind); nil: it cannot move
	mu     sync.Mutex                                     // one move at a time
	seq    atomic.Uint64                                  // orders the moves asked for
}

// move moves the client listener to addr, the client address an activated
// configuration gives this server, as Java's QuorumPeer.processReconfig
// does (cnxnFactory.reconfigure): the connections open stay, new ones are
// taken on addr. The move binds, so it runs on a goroutine of its own (go);
// moves run in the order asked, a later one superseding one not yet
// started.
func (l *clientListener) move(addr, cfgHost string, log zerolog.Logger, goRoutine func(func())) {
	if l.serves(addr, cfgHost) {
		// Java moves only when the new address differs from the one its
		// factory is bound to (processReconfig); a configuration that
		// only states the address this member already serves on (its
		// previous one did not) must not bind the port a second time.
		return
	}
	fn := l.rebind.Load()
	if fn == nil {
		log.Error().Str("client_addr", addr).Int64("serving_port", l.port.Load()).
			Msg("the activated configuration moves this server's client address; this client listener cannot move: it keeps serving until restarted")
		return
	}
	seq := l.seq.Add(1)
	goRoutine(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.seq.Load() != seq {
			return // a later configuration moves it again
		}
		bound, err := (*fn)(addr)
		if err != nil {
			log.Error().Err(err).Str("client_addr", addr).Msg("cannot move the client listener; it keeps serving where it did")
			return
		}
		if a, ok := bound.(*net.TCPAddr); ok {
			l.port.Store(int64(a.Port))
		}
		if h, _, err := net.SplitHostPort(addr); err == nil {
			l.host.Store(&h)
		}
		log.Info().Str("client_addr", bound.String()).Msg("client listener moved by the activated configuration")
	})
}

// serves reports whether the listener is bound to addr already: the same
// port, and the same host (the one it was last moved to, else cfgHost,
// the configured clientPortAddress; an empty host or an unspecified IP is
// the wildcard).
func (l *clientListener) serves(addr, cfgHost string) bool {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	port, err := strconv.Atoi(p)
	if err != nil || int64(port) != l.port.Load() {
		return false
	}
	cur := cfgHost
	if c := l.host.Load(); c != nil {
		cur = *c
	}
	return sameHost(h, cur)
}

// sameHost compares two hosts of a listening address: equal strings, the
// same IP, or both the wildcard.
func sameHost(a, b string) bool {
	if a == b {
		return true
	}
	wild := func(h string) bool {
		ip := net.ParseIP(h)
		return h == "" || ip != nil && ip.IsUnspecified()
	}
	if wild(a) || wild(b) {
		return wild(a) && wild(b)
	}
	ia, ib := net.ParseIP(a), net.ParseIP(b)
	return ia != nil && ib != nil && ia.Equal(ib)
}
