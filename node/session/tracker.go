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
	// prev and next link the session into its expiry bucket's list
	// (intrusive: an idle session's place in the expiry queue costs
	// these 16 bytes, 48 in all, instead of an entry in a map per
	// bucket; docs/memory.md).
	prev, next *Session
}

// bucket is the sessions that expire at one tick, a doubly linked list
// through Session.prev/next.
type bucket struct {
	head *Session
	n    int
}

// walker is the position of a listing that walks a bucket across owner
// rounds (UnsortedBucket): unlinking the session it is about to visit
// moves it on to the next one, so a session that moves to another bucket
// does not take the walk with it.
type walker struct {
	next *Session
}

// Tracker is the session table plus its expiry queue.
type Tracker struct {
	interval int64
	sessions map[wire.SessionID]*Session
	buckets  map[int64]*bucket
	// spare holds emptied buckets for the next ticks: every ping moves
	// its session to a later bucket, and a tick's bucket is made and
	// dropped every tick.
	spare []*bucket
	// walkers are the listings walking a bucket now (few: dump and
	// admin commands).
	walkers []*walker
	nextExp int64
	nextID  wire.SessionID
}

// maxSpareBuckets bounds the emptied buckets kept for reuse; a session
// moves only a few ticks ahead at a time, so a few are in use at once.
const maxSpareBuckets = 4

// NewTracker returns an empty tracker with buckets of intervalMs (tickTime),
// handing out session ids starting at InitialSessionID(serverID, nowMs).
func NewTracker(intervalMs int64, serverID int64, nowMs int64) *Tracker {
	t := &Tracker{
		interval: intervalMs,
		sessions: make(map[wire.SessionID]*Session),
		buckets:  make(map[int64]*bucket),
		nextID:   InitialSessionID(serverID, nowMs),
	}
	t.nextExp = t.round(nowMs)
	return t
}

// round is ExpiryQueue.roundToNextInterval.
func (t *Tracker) round(ms int64) int64 { return (ms/t.interval + 1) * t.interval }

// Reset forgets every session (a learner that replaced its database);
// the id counter is kept so ids stay unique. Listings under way end.
func (t *Tracker) Reset() {
	t.sessions = make(map[wire.SessionID]*Session)
	t.buckets = make(map[int64]*bucket)
	t.spare = nil
	for _, w := range t.walkers {
		w.next = nil
	}
}

// link puts s at the head of the bucket of time exp, creating the bucket
// (from a spare one if there is one) when absent.
func (t *Tracker) link(s *Session, exp int64) {
	b := t.buckets[exp]
	if b == nil {
		if n := len(t.spare); n > 0 {
			b = t.spare[n-1]
			t.spare[n-1] = nil
			t.spare = t.spare[:n-1]
		} else {
			b = new(bucket)
		}
		t.buckets[exp] = b
	}
	s.prev, s.next = nil, b.head
	if b.head != nil {
		b.head.prev = s
	}
	b.head = s
	b.n++
	s.expiry = exp
}

// unlink takes s out of its bucket (s.expiry is its time), dropping the
// bucket when it empties, and moves on any walker about to visit s.
func (t *Tracker) unlink(s *Session) {
	for _, w := range t.walkers {
		if w.next == s {
			w.next = s.next
		}
	}
	if b := t.buckets[s.expiry]; b != nil {
		if s.prev != nil {
			s.prev.next = s.next
		} else if b.head == s {
			b.head = s.next
		}
		if s.next != nil {
			s.next.prev = s.prev
		}
		b.n--
		if b.n == 0 {
			t.dropBucket(s.expiry, b)
		}
	}
	s.prev, s.next = nil, nil
	s.expiry = 0
}

// dropBucket removes the empty bucket of exp and keeps it for reuse.
func (t *Tracker) dropBucket(exp int64, b *bucket) {
	delete(t.buckets, exp)
	if len(t.spare) < maxSpareBuckets {
		*b = bucket{}
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
	t.move(s, t.round(nowMs+int64(s.TimeoutMs)))
}

// move puts s in the bucket of time exp.
func (t *Tracker) move(s *Session, exp int64) {
	if exp == s.expiry {
		return
	}
	t.unschedule(s)
	t.link(s, exp)
}

func (t *Tracker) unschedule(s *Session) {
	if s.expiry == 0 {
		return
	}
	t.unlink(s)
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
	t.move(s, t.round(nowMs+int64(timeoutMs)))
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
			for b.head != nil && (max <= 0 || len(out) < max) {
				s := b.head
				t.unlink(s) // drops b with its last session
				s.Closing = true
				out = append(out, s)
			}
			if t.buckets[t.nextExp] == b {
				break
			}
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
		for s := b.head; s != nil; s = s.next {
			out[exp] = append(out[exp], s.ID)
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
func (t *Tracker) BucketLen(exp int64) int {
	if b := t.buckets[exp]; b != nil {
		return b.n
	}
	return 0
}

// EachInBucket yields the sessions of the bucket of time exp: sorted up to
// 4096, in list order beyond.
func (t *Tracker) EachInBucket(exp int64) iter.Seq[wire.SessionID] {
	if t.BucketLen(exp) <= 4096 {
		var ids []wire.SessionID
		if b := t.buckets[exp]; b != nil {
			ids = make([]wire.SessionID, 0, b.n)
			for s := b.head; s != nil; s = s.next {
				ids = append(ids, s.ID)
			}
		}
		slices.Sort(ids)
		return slices.Values(ids)
	}
	return t.UnsortedBucket(exp)
}

// UnsortedBucket yields the sessions of the bucket of time exp in list
// order, whatever their number (for listings gathered across owner rounds
// and sorted off the owner goroutine). Between two yields the bucket may
// change: a session that leaves it before its turn is not yielded, one
// that joins it may not be, and every session yielded still expires at
// exp. The walk registers itself with the tracker until it ends (or its
// iter.Pull is stopped).
func (t *Tracker) UnsortedBucket(exp int64) iter.Seq[wire.SessionID] {
	return func(yield func(wire.SessionID) bool) {
		b := t.buckets[exp]
		if b == nil {
			return
		}
		w := &walker{next: b.head}
		t.walkers = append(t.walkers, w)
		defer t.endWalk(w)
		for w.next != nil {
			s := w.next
			w.next = s.next
			if s.expiry == exp && !yield(s.ID) {
				return
			}
		}
	}
}

// endWalk forgets walker w.
func (t *Tracker) endWalk(w *walker) {
	if i := slices.Index(t.walkers, w); i >= 0 {
		t.walkers = slices.Delete(t.walkers, i, i+1)
	}
}

// Each yields every session in map order (a snapshot's tail, collected
// across owner rounds: the table may change between two yields).
func (t *Tracker) Each() iter.Seq[*Session] { return maps.Values(t.sessions) }
