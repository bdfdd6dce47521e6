package sim

// HookPoint is a step of a driver where a scenario can act.
type HookPoint uint8

// Hook points.
const (
	// HookNewLeaderPersisted: a learner persisted what NEWLEADER asks
	// (txns logged and fsynced, current epoch written) and is about to
	// send its ACK.
	HookNewLeaderPersisted HookPoint = iota
	// HookNewLeaderAcked: a learner sent its NEWLEADER ACK.
	HookNewLeaderAcked
	// HookServing: a leader is established (a quorum acked NEWLEADER).
	HookServing
	// HookCrashed: a peer crashed (its disk is what survived).
	HookCrashed
	// HookSyncStarted: a learner carried out what its sync's first
	// packet (DIFF, TRUNC or SNAP) asked.
	HookSyncStarted
)

// Hook runs Do when Peer (0: any) reaches At, the first time only.
type Hook struct {
	Peer int64
	At   HookPoint
	Do   func(s *Sim, p *Peer)
	done bool
}

func (s *Sim) hook(p *Peer, at HookPoint) {
	for i := range s.cfg.Hooks {
		h := &s.cfg.Hooks[i]
		if !h.done && h.At == at && (h.Peer == 0 || h.Peer == p.id) {
			h.done = true
			h.Do(s, p)
		}
	}
}

// Crash crashes peer id now (keeping keep unsynced records) and restarts
// it after restartAfter ms.
func (s *Sim) Crash(id int64, keep int, restartAfter int64) { s.peer(id).crash(keep, restartAfter) }

// Now is the virtual time, in ms.
func (s *Sim) Now() int64 { return s.now }
