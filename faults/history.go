package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// Status is how an operation completed.
type Status string

// Operation outcomes, as in Jepsen: ok and fail are definite (the operation
// took effect, or certainly did not); info is indeterminate (it may or may
// not have taken effect, e.g. the connection was lost during a write).
const (
	StatusOK   Status = "ok"
	StatusFail Status = "fail"
	StatusInfo Status = "info"
)

// Op is one operation of a history: its invocation and completion.
type Op struct {
	Process int    `json:"process"`
	F       string `json:"f"`
	Key     string `json:"key,omitempty"`
	Value   string `json:"value,omitempty"`
	// Expect is a CAS's expected version.
	Expect int32 `json:"expect,omitempty"`
	// Version is what a read or write returned.
	Version int32  `json:"version,omitempty"`
	Result  string `json:"result,omitempty"`
	Status  Status `json:"status"`
	Err     string `json:"err,omitempty"`
	Call    int64  `json:"call"`   // ns since the run started
	Return  int64  `json:"return"` // ns since the run started
	Server  string `json:"server,omitempty"`
}

// History is one workload's operations, safe for concurrent appends.
type History struct {
	Name string
	t0   time.Time
	mu   sync.Mutex
	ops  []Op
}

// NewHistory starts a history whose timestamps count from t0.
func NewHistory(name string, t0 time.Time) *History { return &History{Name: name, t0: t0} }

// Now is the current timestamp of the history's clock.
func (h *History) Now() int64 { return int64(time.Since(h.t0)) }

// Add appends a completed operation.
func (h *History) Add(op Op) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// Ops returns a copy of the operations, ordered by invocation.
func (h *History) Ops() []Op {
	h.mu.Lock()
	out := append([]Op(nil), h.ops...)
	h.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Call < out[j].Call })
	return out
}

// Counts returns how many operations ended ok, fail and info.
func (h *History) Counts() (ok, fail, info int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, op := range h.ops {
		switch op.Status {
		case StatusOK:
			ok++
		case StatusFail:
			fail++
		default:
			info++
		}
	}
	return ok, fail, info
}

// WriteEvents writes the history as Jepsen-style events, one JSON object a
// line: an invoke at Call, then ok/fail/info at Return (info has no return
// time in the checker: it may take effect at any later point).
func (h *History) WriteEvents(w io.Writer) error {
	type event struct {
		Type string `json:"type"`
		Time int64  `json:"time"`
		Op
	}
	var evs []event
	for _, op := range h.Ops() {
		evs = append(evs, event{Type: "invoke", Time: op.Call, Op: op}, event{Type: string(op.Status), Time: op.Return, Op: op})
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time < evs[j].Time })
	enc := json.NewEncoder(w)
	for _, e := range evs {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return nil
}

// infinity is the return time of indeterminate operations for porcupine:
// they may be linearized at any point after their invocation.
const infinity = math.MaxInt64

// classify maps a go-zookeeper error to an outcome. Only answers the server
// gave (bad version, no node, node exists, ...) and requests the client
// never sent (ErrNoServer: flushed from the send queue) are definite; a
// lost connection or an expired session during a request is indeterminate.
func classify(err error) Status {
	switch {
	case err == nil:
		return StatusOK
	case errors.Is(err, zk.ErrNoServer),
		errors.Is(err, zk.ErrBadVersion), errors.Is(err, zk.ErrNoNode), errors.Is(err, zk.ErrNodeExists),
		errors.Is(err, zk.ErrNotEmpty), errors.Is(err, zk.ErrBadArguments), errors.Is(err, zk.ErrNoAuth):
		return StatusFail
	default:
		return StatusInfo
	}
}

// errTimeout is returned by call when a request does not complete in time.
var errTimeout = errors.New("faults: request timed out")

// call runs f with a deadline: go-zookeeper waits forever for a server, so
// final checks bound every request. f keeps running after a timeout; its
// result is dropped.
func call[T any](ctx context.Context, d time.Duration, f func() (T, error)) (T, error) {
	type res struct {
		v   T
		err error
	}
	ch := make(chan res, 1)
	go func() {
		v, err := f()
		ch <- res{v, err}
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-t.C:
		var zero T
		return zero, fmt.Errorf("%w after %v", errTimeout, d)
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
