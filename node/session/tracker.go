package session

import (
	"iter"
	"maps"
	"slices"
	"sort"

	"github.com/zkgo/zkgo/wire"
)

// Session is one tracked session.
type Session struct {
	ID        wire.SessionID
	TimeoutMs int32
	// Closing is set when the session expired or was closed and its
	// closeSession txn is under way; it can no longer be touched.
	Closing bool
	// Owner identifies the server the session is attached to (leaders
	// track learners' sessions); 0 for local.
	Owner int64

	expiry int64 // bucket time; 0 = not queued
}

// Tracker is the session table plus its expiry queue.
type Tracker struct {
	interval int64
	sessions map[wire.SessionID]*Session
	buckets  map[int64]map[wire.SessionID]*Session
	// spare holds emptied bucket maps, cleared, for the next buckets:
	// every ping moves its session to a later bucket, and a fresh map
	// per tick grown entry by entry was most of what an idle session
	// allocated (docs/memory.md).
	spare   []map[wire.SessionID]*Session
	nextExp int64
	nextID  wire.SessionID
}

// maxSpareBuckets bounds the emptied maps kept for reuse; a session moves
// only a few ticks ahead at a time, so a few are in use at once.
const maxSpareBuckets = 4

// NewTracker returns an empty tracker with buckets of intervalMs (tickTime),
// handing out session ids starting at InitialSessionID(serverID, nowMs).
func NewTracker(intervalMs int64, serverID int64, nowMs int64) *Tracker {
	t := &Tracker{
		interval: intervalMs,
		sessions: make(map[wire.SessionID]*Session),
		buckets:  make(map[int64]map[wire.SessionID]*Session),
		nextID:   InitialSessionID(serverID, nowMs),
	}
	t.nextExp = t.round(nowMs)
	return t
}

// round is ExpiryQueue.roundToNextInterval.
func (t *Tracker) round(ms int64) int64 { return (ms/t.interval + 1) * t.interval }

// Reset forgets every session (a learner that replaced its database);
// the id counter is kept so ids stay unique.
func (t *Tracker) Reset() {
	t.sessions = make(map[wire.SessionID]*Session)
	t.buckets = make(map[int64]map[wire.SessionID]*Session)
	t.spare = nil
}

// bucket returns the bucket of expiry time exp, creating it (from a spare
// map if there is one) when absent.
func (t *Tracker) bucket(exp int64) map[wire.SessionID]*Session {
	b := t.buckets[exp]
	if b == nil {
		if n := len(t.spare); n > 0 {
			b = t.spare[n-1]
			t.spare[n-1] = nil
			t.spare = t.spare[:n-1]
		} else {
			b = make(map[wire.SessionID]*Session)
		}
		t.buckets[exp] = b
	}
	return b
}

// dropBucket removes the empty bucket of exp and keeps its map for reuse.
// An iterator still walking it (UnsortedBucket) skips what a reuse puts
// in it: it yields only sessions whose expiry is still exp.
func (t *Tracker) dropBucket(exp int64, b map[wire.SessionID]*Session) {
	delete(t.buckets, exp)
	if len(t.spare) < maxSpareBuckets {
		clear(b)
		t.spare = append(t.spare, b)
	}
}

// NextID reserves and returns a new session id.
func (t *Tracker) NextID() wire.SessionID {
	id := t.nextID
	t.nextID++
	return id
}

// Add starts tracking a session (new, replayed from the log, or loaded
// from a snapshot) and schedules its expiry. An existing session keeps its
// entry and is touched.
func (t *Tracker) Add(id wire.SessionID, timeoutMs int32, nowMs int64) *Session {
	s := t.sessions[id]
	if s == nil {
		s = &Session{ID: id, TimeoutMs: timeoutMs}
		t.sessions[id] = s
	}
	s.TimeoutMs = timeoutMs
	t.schedule(s, nowMs)
	return s
}

func (t *Tracker) schedule(s *Session, nowMs int64) {
	exp := t.round(nowMs + int64(s.TimeoutMs))
	if exp == s.expiry {
		return
	}
	t.unschedule(s)
	t.bucket(exp)[s.ID] = s
	s.expiry = exp
}

func (t *Tracker) unschedule(s *Session) {
	if s.expiry == 0 {
		return
	}
	if b := t.buckets[s.expiry]; b != nil {
		delete(b, s.ID)
		if len(b) == 0 {
			t.dropBucket(s.expiry, b)
		}
	}
	s.expiry = 0
}

// Get returns the session or nil.
func (t *Tracker) Get(id wire.SessionID) *Session { return t.sessions[id] }

// Touch extends a live session's expiry (SessionTrackerImpl.touchSession).
// It returns false for unknown or closing sessions.
func (t *Tracker) Touch(id wire.SessionID, nowMs int64) bool {
	s := t.sessions[id]
	if s == nil || s.Closing {
		return false
	}
	t.schedule(s, nowMs)
	return true
}

// TouchWith is Touch with the timeout of the client's current connection
// (a reconnect may negotiate a new one); the recorded timeout is kept.
func (t *Tracker) TouchWith(id wire.SessionID, timeoutMs int32, nowMs int64) bool {
	s := t.sessions[id]
	if s == nil || s.Closing {
		return false
	}
	exp := t.round(nowMs + int64(timeoutMs))
	if exp != s.expiry {
		t.unschedule(s)
		t.bucket(exp)[s.ID] = s
		s.expiry = exp
	}
	return true
}

// Extend is TouchWith for a client heard from at atMs, which may be
// earlier than the session's last touch: the expiry only ever moves later.
func (t *Tracker) Extend(id wire.SessionID, timeoutMs int32, atMs int64) bool {
	s := t.sessions[id]
	if s == nil || s.Closing {
		return false
	}
	if exp := t.round(atMs + int64(timeoutMs)); s.expiry != 0 && exp <= s.expiry {
		return true
	}
	return t.TouchWith(id, timeoutMs, atMs)
}

// SetClosing marks a session as closing; it will not be touched again.
func (t *Tracker) SetClosing(id wire.SessionID) {
	if s := t.sessions[id]; s != nil {
		s.Closing = true
	}
}

// Remove forgets a session.
func (t *Tracker) Remove(id wire.SessionID) {
	if s := t.sessions[id]; s != nil {
		t.unschedule(s)
		delete(t.sessions, id)
	}
}

// Expire returns up to max of the sessions whose bucket time has passed
// (all of them when max <= 0), marking them closing, in id order (up to
// 4096 of them; more come in map order, as Java's come in HashSet order,
// rather than sorted in one owner round). Like ExpiryQueue.poll it walks
// bucket by bucket; a bucket it leaves part of stays the next to check,
// and a session of it touched meanwhile moves to a later bucket.
func (t *Tracker) Expire(nowMs int64, max int) []*Session {
	var out []*Session
	for nowMs >= t.nextExp {
		if b := t.buckets[t.nextExp]; b != nil {
			for id, s := range b {
				if max > 0 && len(out) == max {
					break
				}
				delete(b, id)
				s.expiry = 0
				s.Closing = true
				out = append(out, s)
			}
			if len(b) > 0 {
				break
			}
			t.dropBucket(t.nextExp, b)
		}
		t.nextExp += t.interval
	}
	if len(out) <= 4096 {
		sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	}
	return out
}

// NextExpiry returns the time of the next bucket to check.
func (t *Tracker) NextExpiry() int64 { return t.nextExp }

// Len returns the number of sessions.
func (t *Tracker) Len() int { return len(t.sessions) }

// All returns every session, in id order.
func (t *Tracker) All() []*Session {
	out := make([]*Session, 0, len(t.sessions))
	for _, s := range t.sessions {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// BucketTimes lists the expiry bucket times (for the dump command).
func (t *Tracker) BucketTimes() map[int64][]wire.SessionID {
	out := make(map[int64][]wire.SessionID, len(t.buckets))
	for exp, b := range t.buckets {
		for id := range b {
			out[exp] = append(out[exp], id)
		}
		sort.Slice(out[exp], func(i, j int) bool { return out[exp][i] < out[exp][j] })
	}
	return out
}

// Buckets returns the expiry bucket times, sorted (for the dump command;
// there are few: one per tick a session can expire at).
func (t *Tracker) Buckets() []int64 {
	out := make([]int64, 0, len(t.buckets))
	for exp := range t.buckets {
		out = append(out, exp)
	}
	slices.Sort(out)
	return out
}

// BucketLen returns the number of sessions in the bucket of time exp.
func (t *Tracker) BucketLen(exp int64) int { return len(t.buckets[exp]) }

// EachInBucket yields the sessions of the bucket of time exp: sorted up to
// 4096, in map order beyond.
func (t *Tracker) EachInBucket(exp int64) iter.Seq[wire.SessionID] {
	b := t.buckets[exp]
	if len(b) <= 4096 {
		ids := slices.Sorted(maps.Keys(b))
		return slices.Values(ids)
	}
	return inBucket(b, exp)
}

// UnsortedBucket yields the sessions of the bucket of time exp in map
// order, whatever their number (for listings gathered across owner rounds
// and sorted off the owner goroutine).
func (t *Tracker) UnsortedBucket(exp int64) iter.Seq[wire.SessionID] {
	return inBucket(t.buckets[exp], exp)
}

// inBucket yields the sessions of b that still expire at exp: b may be
// emptied and reused for another time while a caller walks it across
// owner rounds.
func inBucket(b map[wire.SessionID]*Session, exp int64) iter.Seq[wire.SessionID] {
	return func(yield func(wire.SessionID) bool) {
		for id, s := range b {
			if s.expiry == exp && !yield(id) {
				return
			}
		}
	}
}

// Each yields every session in map order (a snapshot's tail, collected
// across owner rounds: the table may change between two yields).
func (t *Tracker) Each() iter.Seq[*Session] { return maps.Values(t.sessions) }
