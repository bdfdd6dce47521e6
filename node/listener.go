package node

import (
	"net"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"
)

// clientListener is where the front end serves clients: the port it bound
// (conf, the admin server's view) and the move of the listener that an
// activated configuration asks for. Safe from any goroutine.
type clientListener struct {
	port   atomic.Int64                                   // the client port served on
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
func (l *clientListener) move(addr string, log zerolog.Logger, goRoutine func(func())) {
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
		log.Info().Str("client_addr", bound.String()).Msg("client listener moved by the activated configuration")
	})
}
