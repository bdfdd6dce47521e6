package fle

import (
	"time"

	"github.com/zkgo/zkgo/wire"
)

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds, in the order a round meets them.
const (
	EventNewRound   EventKind = iota // Start: Round, Vote = my proposal (HasVote false: empty CanLead=false proposal)
	EventReceived                    // N passed the receive side's checks (queued or answered)
	EventDropped                     // N was dropped or ignored; Reason says why
	EventNewerRound                  // N is from a newer round: Round is the new logical clock
	EventProposal                    // my proposal changed to Vote
	EventQuorum                      // a quorum votes for Vote: the finalize wait starts
	EventPutBack                     // N beat my proposal during the finalize wait
	EventTimeout                     // a poll timed out: Timeout is the next one, Delivered chose re-send over reconnect
	EventDecided                     // State, Vote, Path
)

func (k EventKind) String() string {
	switch k {
	case EventNewRound:
		return "new-round"
	case EventReceived:
		return "received"
	case EventDropped:
		return "dropped"
	case EventNewerRound:
		return "newer-round"
	case EventProposal:
		return "proposal"
	case EventQuorum:
		return "quorum"
	case EventPutBack:
		return "put-back"
	case EventTimeout:
		return "timeout"
	case EventDecided:
		return "decided"
	}
	return "EventKind(?)"
}

// Event describes one step of the machine for the driver to log (Config.Trace).
// Package fle does not log itself: it stays free of I/O dependencies.
type Event struct {
	Kind      EventKind
	Round     int64 // logical clock
	N         Notification
	Vote      Vote
	HasVote   bool
	Reason    string // EventDropped
	Timeout   time.Duration
	Delivered bool
	State     wire.ServerState // EventDecided
	Path      Path             // EventDecided
}
