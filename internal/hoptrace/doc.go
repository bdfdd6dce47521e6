// Package hoptrace times the hand-offs of one request through a
// standalone server (issue 19: serial set). Built only with the hoptrace
// build tag (`go build -tags hoptrace`); otherwise Mark is an empty
// function the compiler removes.
//
// It assumes one request in flight at a time (a serial client, as the
// bench's "serial set" row): each Mark stores the time of its stage for
// the current request, and the last stage (Written) closes the record.
// A process built with the tag writes the table to stderr on SIGUSR1
// (Report) and starts over; bench/hoptrace.sh (make hoptrace) drives it.
package hoptrace

// Stage is a point on a write's path.
type Stage int

// The stages of a serial write, in order.
const (
	Traffic   Stage = iota // the event loop got the bytes (OnTraffic)
	Submitted              // the decoded packets are handed to the owner (events channel)
	Owner                  // the owner goroutine took the event
	Proposed               // the owner prepared the txn and queued it for the log
	HandedOff              // the owner handed the txn to the log writer (end of its round)
	Writer                 // the log writer goroutine took the batch
	WriteDone              // write(2) of the batch returned
	FsyncDone              // fdatasync returned
	Durable                // the owner took the durable notice
	Applied                // the owner applied the txn and queued the reply
	Flushed                // the owner handed the reply to the front end (AsyncWrite or direct)
	Written                // the reply was written: AsyncWrite's callback on the event loop, or the direct reply path's write(2) on the owner goroutine
	NumStages
)

var names = [NumStages]string{"traffic", "submitted", "owner", "proposed", "handed_off", "writer", "write_done",
	"fsync_done", "durable", "applied", "flushed", "written"}

// String names the stage.
func (s Stage) String() string {
	if s >= 0 && s < NumStages {
		return names[s]
	}
	return "?"
}
