package node

import (
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/wire"

	"github.com/zkgo/zkgo/node/zab"
)

// quorumSide is a server's quorum membership, apart from the rest of the
// server: the configuration in force, the peer (elections, the learner
// side, the epochs), the leadership while it leads, the committed log and
// the role published for Mode. Server embeds it; the methods here read
// and change only this state. Everything except quorum() and Mode() runs
// on the owner goroutine.
type quorumSide struct {
	// What it needs of the server, set in New: the configuration (its
	// Quorum is the one the server started with, nil when standalone),
	// the log, and moveClientPort, which moves the client listener to an
	// activated configuration's client address (listener.go).
	cfg            *Config
	log            zerolog.Logger
	moveClientPort func(addr string)
	// wakeOwner wakes the owner goroutine (safe from any goroutine).
	wakeOwner func()
	// host is the rest of the server, as the role changes need it.
	host quorumHost
	// quorumNow is the configuration in force once the reconfig protocol
	// activated one (nil: cfg.Quorum); each value is immutable, replaced
	// whole on the owner goroutine (quorum()).
	quorumNow atomic.Pointer[Quorum]

	// quorum membership (nil when standalone)
	peer   *peer
	leader *leaderDriver // while this server leads
	// committed is the window of recent committed txns a leader syncs
	// learners from (ZKDatabase.committedLog); every role keeps it.
	committed zab.CommittedLog
	role      atomic.Uint32 // peer role, for Mode
}

// quorumHost is what the quorum side's role changes (becomeLooking,
// onElection, stepDown, ...) need of the rest of the server: *Server.
type quorumHost interface {
	// settleForElection readies the server for an election: applies
	// settled, session expiry and the reaper stopped.
	settleForElection()
	// closeAllClients closes every client connection.
	closeAllClients(reason string)
	// becomeLeading starts the leader role; leaveLeading ends it.
	becomeLeading(out ElectionOutcome)
	leaveLeading()
	// lastZxid is the tree's last zxid.
	lastZxid() wire.Zxid
	// initConfig makes an activated configuration /zookeeper/config.
	initConfig(c *quorum.Config)
}

// quorum is the configuration in force: the last one activated, or the
// one the server started with. Safe from any goroutine; the value is
// never changed, only replaced.
func (qs *quorumSide) quorum() *Quorum {
	if q := qs.quorumNow.Load(); q != nil {
		return q
	}
	return qs.cfg.Quorum
}

// reconfigOn reports whether this quorum member runs the reconfig
// protocol (reconfigEnabled=true).
func (qs *quorumSide) reconfigOn() bool {
	return qs.cfg.ReconfigEnabled && qs.cfg.Quorum != nil
}

// setRole changes the peer's role (owner goroutine) and publishes it for Mode.
func (qs *quorumSide) setRole(r role) {
	qs.peer.role = r
	qs.role.Store(uint32(r))
}

// Mode returns the server's mode as srvr prints it: "standalone",
// "looking", "synchronizing", "follower" or "observer". Safe from any
// goroutine.
func (qs *quorumSide) Mode() string { return role(qs.role.Load()).String() }

// serving reports whether clients are served (standalone, or a learner
// that finished its sync).
func (qs *quorumSide) serving() bool {
	if qs.peer == nil {
		return true
	}
	switch qs.peer.role {
	case roleFollowing, roleObserving:
		return true
	case roleLeading:
		return qs.leader != nil && qs.leader.serving()
	}
	return false
}

// ownsStore reports whether the owner goroutine may use the txn log (not
// while a learner's sync has a disk job running on it).
func (qs *quorumSide) ownsStore() bool {
	return qs.peer == nil || qs.peer.learner.lsync == nil || !qs.peer.learner.lsync.job
}

// isLearner reports whether writes go to a leader (a quorum member that
// does not lead).
func (qs *quorumSide) isLearner() bool { return qs.peer != nil && qs.peer.role != roleLeading }

// modeName is srvr's "Mode:" and mntr's server_state.
func (qs *quorumSide) modeName() string {
	if qs.peer == nil {
		return "standalone"
	}
	return qs.peer.role.String()
}

// stopPeer ends the quorum side at shutdown.
func (qs *quorumSide) stopPeer() {
	p := qs.peer
	if p == nil {
		return
	}
	p.cancel()
	if l := p.learner.link; l != nil {
		l.close("server stopping")
	}
	if ld := qs.leader; ld != nil {
		ld.ln.Close()
		ld.pending.Close()
		drainArrivals(ld)
		for _, h := range ld.links {
			h.close("server stopping")
		}
		for _, sn := range ld.snaps {
			sn.spool.discard()
		}
	}
	if p.elector != nil {
		p.elector.Close()
	}
	p.sec.close()
}
