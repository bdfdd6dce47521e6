package zab

import "github.com/zkgo/zkgo/wire"

// SyncLimitCheck is LearnerHandler.SyncLimitCheck with ticks for time: it
// tracks the oldest proposal sent to a learner and not ACKed, and the next
// one, and says when the oldest has waited too long (the leader then
// closes the learner's connection: "transaction timeout").
type SyncLimitCheck struct {
	oldest, next       wire.Zxid
	oldestAt, nextAt   int64 // the tick it was sent at
	hasOldest, hasNext bool
}

// Sent records a PROPOSAL sent at tick now.
func (c *SyncLimitCheck) Sent(z wire.Zxid, now int64) {
	if !c.hasOldest {
		c.oldest, c.oldestAt, c.hasOldest = z, now, true
		return
	}
	c.next, c.nextAt, c.hasNext = z, now, true
}

// Acked clears the proposal an ACK is for: the oldest (the next one, if
// any, becomes the oldest) or the next; an ACK for any other zxid changes
// nothing, as in Java.
func (c *SyncLimitCheck) Acked(z wire.Zxid) {
	switch {
	case c.hasOldest && z == c.oldest:
		c.oldest, c.oldestAt, c.hasOldest = c.next, c.nextAt, c.hasNext
		c.next, c.nextAt, c.hasNext = 0, 0, false
	case c.hasNext && z == c.next:
		c.next, c.nextAt, c.hasNext = 0, 0, false
	}
}

// Expired reports whether the oldest proposal has waited more than limit
// ticks at tick now. Checked once a tick, a limit of 2*syncLimit ticks
// fires within half a tick after syncLimit*tickTime, as Java's check of
// the elapsed milliseconds at each ping (every tickTime/2) does, give or
// take that half tick (compat-tests/DIFFERENCES.md row 52).
func (c *SyncLimitCheck) Expired(now, limit int64) bool {
	return c.hasOldest && now-c.oldestAt > limit
}
