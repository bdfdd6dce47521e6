package session

import (
	"encoding/hex"
	"iter"
	"runtime"
	"testing"
	"unsafe"

	"github.com/zkgo/zkgo/wire"
)

// Vectors computed with OpenJDK 17: new java.util.Random(42).nextBytes(16),
// and the password Java generates for session id 0x123456789.
func TestJavaRandomMatchesJDK(t *testing.T) {
	b := make([]byte, 16)
	newJavaRandom(42).nextBytes(b)
	if got := hex.EncodeToString(b); got != "359d41baf78afe0de1bbe7ae28c0450c" {
		t.Fatalf("Random(42).nextBytes = %s", got)
	}
	if got := hex.EncodeToString(Password(0x123456789)); got != "b11647e5db8ff1c8bd6768eac33a41ce" {
		t.Fatalf("Password = %s", got)
	}
}

func TestInitialSessionID(t *testing.T) {
	id := InitialSessionID(3, 0x0123456789)
	if uint64(id)>>56 != 3 {
		t.Fatalf("top byte %x", uint64(id)>>56)
	}
	if uint64(id)&(1<<56-1) != (0x0123456789<<16)&(1<<56-1) {
		t.Fatalf("low bits %x", uint64(id))
	}
	// ms<<24 then >>>8 puts the clock's low 40 bits in bits 16..55.
	if got := InitialSessionID(0, 1); got != 1<<16 {
		t.Fatalf("InitialSessionID(0,1) = %x", got)
	}
}

func TestExpiryBuckets(t *testing.T) {
	tr := NewTracker(2000, 0, 10000) // next check at 12000
	s := tr.Add(tr.NextID(), 4000, 10000)
	if s.expiry != 16000 { // round(14000) = 16000
		t.Fatalf("expiry %d", s.expiry)
	}
	if got := tr.Expire(14000, 0); len(got) != 0 {
		t.Fatal("expired early")
	}
	if !tr.Touch(s.ID, 13000) { // round(17000) = 18000
		t.Fatal("touch")
	}
	if got := tr.Expire(16000, 0); len(got) != 0 {
		t.Fatal("touched session expired")
	}
	got := tr.Expire(18000, 0)
	if len(got) != 1 || got[0].ID != s.ID || !got[0].Closing {
		t.Fatalf("expire: %+v", got)
	}
	if tr.Touch(s.ID, 18000) {
		t.Fatal("closing session touched")
	}
	tr.Remove(s.ID)
	if tr.Len() != 0 {
		t.Fatal("remove")
	}
}

// TestExpireInChunks: a bucket taken a few sessions at a time stays the
// next to check; a session of it touched meanwhile escapes.
func TestExpireInChunks(t *testing.T) {
	tr := NewTracker(2000, 0, 10000)
	var ids []wire.SessionID
	for range 10 {
		ids = append(ids, tr.Add(tr.NextID(), 4000, 10000).ID)
	}
	tr.Add(tr.NextID(), 8000, 10000) // a later bucket
	seen := map[wire.SessionID]bool{}
	var touched wire.SessionID
	for round := 0; ; round++ {
		got := tr.Expire(16000, 3)
		for _, s := range got {
			if seen[s.ID] || !s.Closing || s.ID == touched {
				t.Fatalf("round %d: %v again, not closing or touched", round, s.ID)
			}
			seen[s.ID] = true
		}
		if round == 0 {
			for _, id := range ids {
				if !seen[id] {
					touched = id
					break
				}
			}
			if !tr.Touch(touched, 13000) {
				t.Fatal("touch")
			}
		}
		if len(got) < 3 {
			break
		}
	}
	if len(seen) != 9 || tr.NextExpiry() != 18000 {
		t.Fatalf("%d expired, next check %d; want 9, 18000", len(seen), tr.NextExpiry())
	}
	if got := tr.Expire(18000, 3); len(got) != 1 || got[0].ID != touched {
		t.Fatalf("at 18000: %v, want the touched session", got)
	}
}

func TestNextIDIncrements(t *testing.T) {
	tr := NewTracker(2000, 1, 5)
	a, b := tr.NextID(), tr.NextID()
	if b != a+1 || uint64(a)>>56 != 1 {
		t.Fatalf("%v %v", a, b)
	}
	_ = wire.SessionID(0)
}

// TestTouchAllocatesNothing: idle sessions pinging keep moving to later
// buckets; once a few buckets have come and gone, the maps are reused and
// a touch allocates nothing (each was garbage that grew an idle server's
// heap between collections: docs/memory.md).
func TestTouchAllocatesNothing(t *testing.T) {
	tr := NewTracker(2000, 0, 10000)
	var ids []wire.SessionID
	for range 1000 {
		ids = append(ids, tr.Add(tr.NextID(), 30000, 10000).ID)
	}
	now := int64(10000)
	round := func() {
		now += 2000
		for _, id := range ids {
			if !tr.TouchWith(id, 30000, now) {
				t.Fatalf("touch %v", id)
			}
		}
		tr.Expire(now, 0)
	}
	for range 10 {
		round()
	}
	if a := testing.AllocsPerRun(20, round); a != 0 {
		t.Fatalf("%v allocations per round of 1000 touches, want 0", a)
	}
	if tr.Len() != len(ids) || len(tr.Buckets()) != 1 {
		t.Fatalf("%d sessions in %d buckets, want %d in 1", tr.Len(), len(tr.Buckets()), len(ids))
	}
}

// TestUnsortedBucketAcrossMoves: a listing that walks a bucket across
// owner rounds yields only sessions that still expire at its time, even
// when the bucket's map is emptied and reused for a later time meanwhile.
func TestUnsortedBucketAcrossMoves(t *testing.T) {
	tr := NewTracker(2000, 0, 10000)
	for range 100 {
		tr.Add(tr.NextID(), 4000, 10000) // all expire at 16000
	}
	next, stop := iter.Pull(tr.UnsortedBucket(16000))
	defer stop()
	first, ok := next()
	if !ok {
		t.Fatal("empty bucket")
	}
	// Every session moves to 18000; the 16000 map is emptied and reused.
	for s := range tr.Each() {
		tr.Touch(s.ID, 13000)
	}
	if tr.BucketLen(16000) != 0 || tr.BucketLen(18000) != 100 {
		t.Fatalf("buckets %v", tr.Buckets())
	}
	for id, ok := next(); ok; id, ok = next() {
		if id == first {
			t.Fatalf("%v yielded twice", id)
		}
		if tr.Get(id).expiry != 16000 {
			t.Fatalf("%v yielded for 16000, expires at %d", id, tr.Get(id).expiry)
		}
	}
}

// TestUnsortedBucketWalkSurvivesUnlinks: the expiry buckets are lists
// through the sessions; a walk across owner rounds whose next session
// moves to another bucket, is removed, or expires goes on with the rest
// of its own bucket and yields every session that stayed, once.
func TestUnsortedBucketWalkSurvivesUnlinks(t *testing.T) {
	tr := NewTracker(2000, 0, 10000)
	for range 100 {
		tr.Add(tr.NextID(), 4000, 10000) // all expire at 16000
	}
	next, stop := iter.Pull(tr.UnsortedBucket(16000))
	defer stop()
	yielded := map[wire.SessionID]bool{}
	stayed := map[wire.SessionID]bool{}
	for i := 0; ; i++ {
		id, ok := next()
		if !ok {
			break
		}
		if yielded[id] || tr.Get(id) == nil || tr.Get(id).expiry != 16000 {
			t.Fatalf("%v yielded twice, removed or moved", id)
		}
		yielded[id] = true
		// Unlink sessions of the bucket not visited yet, among them the
		// walk's next one (list order is the reverse of adding).
		for s := range tr.Each() {
			if yielded[s.ID] || s.expiry != 16000 {
				continue
			}
			switch i % 3 {
			case 0:
				tr.Touch(s.ID, 13000) // to 18000
			case 1:
				tr.Remove(s.ID)
			}
			break
		}
		// And the one the walk visits next, whatever the map order.
		if i%3 != 2 {
			if w := tr.walkers; len(w) == 1 && w[0].next != nil {
				if i%3 == 0 {
					tr.Touch(w[0].next.ID, 13000)
				} else {
					tr.Remove(w[0].next.ID)
				}
			}
		}
	}
	for s := range tr.Each() {
		if s.expiry == 16000 {
			stayed[s.ID] = true
		}
	}
	if len(stayed) == 0 || len(stayed) != len(yielded) {
		t.Fatalf("yielded %d of the %d sessions that stayed", len(yielded), len(stayed))
	}
	for id := range stayed {
		if !yielded[id] {
			t.Fatalf("%v stayed in the bucket but was not yielded", id)
		}
	}
	if len(tr.walkers) != 0 {
		t.Fatalf("%d walkers left after the walk", len(tr.walkers))
	}
	// A walk stopped early unregisters too.
	next2, stop2 := iter.Pull(tr.UnsortedBucket(16000))
	if _, ok := next2(); !ok || len(tr.walkers) != 1 {
		t.Fatalf("second walk: %d walkers", len(tr.walkers))
	}
	stop2()
	if len(tr.walkers) != 0 {
		t.Fatalf("%d walkers left after stop", len(tr.walkers))
	}
}

// TestSessionLayout keeps a session's record and its place in the expiry
// queue in one 48-byte allocation (docs/memory.md: every idle session has
// one).
func TestSessionLayout(t *testing.T) {
	if n := unsafe.Sizeof(Session{}); n > 48 {
		t.Fatalf("session.Session is %d bytes, want at most 48", n)
	}
}

// TestTrackerBytesPerSession: 100k sessions that keep being touched into
// later buckets, as idle sessions pinging are, cost the tracker under 90
// bytes each of live heap (the session record and its table entry; the
// expiry buckets were a map per tick, ≈ 60 bytes a session more).
func TestTrackerBytesPerSession(t *testing.T) {
	const n = 100_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tr := NewTracker(2000, 0, 10000)
	ids := make([]wire.SessionID, n)
	for i := range ids {
		ids[i] = tr.Add(tr.NextID(), 30000, 10000).ID
	}
	now := int64(10000)
	for range 6 { // a ping every 5 s, spread over the round
		now += 5000
		for i, id := range ids {
			tr.TouchWith(id, 30000, now+int64(i*5000/n))
		}
		tr.Expire(now, 0)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (float64(after.HeapAlloc) - float64(before.HeapAlloc) - float64(n*8)) / n
	if tr.Len() != n {
		t.Fatalf("%d sessions, want %d", tr.Len(), n)
	}
	t.Logf("%.1f bytes per session", per)
	if per > 90 {
		t.Fatalf("%.1f bytes of live heap per tracked session, want at most 90", per)
	}
	runtime.KeepAlive(ids)
}
