package zab

import (
	"testing"

	"github.com/zkgo/zkgo/wire"
)

func TestSyncLimitCheck(t *testing.T) {
	type step struct {
		op      string // "sent", "acked", "check"
		z       wire.Zxid
		now     int64
		expired bool
	}
	const limit = 4
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"nothing sent never expires", []step{{op: "check", now: 100}}},
		{"fires after more than limit ticks", []step{
			{op: "sent", z: 1, now: 10},
			{op: "check", now: 14},
			{op: "check", now: 15, expired: true},
		}},
		{"acking the oldest hands the clock to the next", []step{
			{op: "sent", z: 1, now: 10},
			{op: "sent", z: 2, now: 12},
			{op: "acked", z: 1},
			{op: "check", now: 16},
			{op: "check", now: 17, expired: true},
			{op: "acked", z: 2},
			{op: "check", now: 100},
		}},
		{"only two are tracked: a third replaces the next", []step{
			{op: "sent", z: 1, now: 10},
			{op: "sent", z: 2, now: 11},
			{op: "sent", z: 3, now: 12},
			{op: "acked", z: 1},
			{op: "check", now: 16},
			{op: "check", now: 17, expired: true},
		}},
		{"an ACK of the next one first clears only it", []step{
			{op: "sent", z: 1, now: 10},
			{op: "sent", z: 2, now: 11},
			{op: "acked", z: 2},
			{op: "check", now: 15, expired: true},
			{op: "acked", z: 1},
			{op: "check", now: 100},
		}},
		{"an ACK of anything else changes nothing", []step{
			{op: "sent", z: 5, now: 10},
			{op: "acked", z: 4},
			{op: "acked", z: 6},
			{op: "check", now: 15, expired: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c SyncLimitCheck
			for i, s := range tc.steps {
				switch s.op {
				case "sent":
					c.Sent(s.z, s.now)
				case "acked":
					c.Acked(s.z)
				case "check":
					if got := c.Expired(s.now, limit); got != s.expired {
						t.Fatalf("step %d: expired(%d) = %v, want %v", i, s.now, got, s.expired)
					}
				}
			}
		})
	}
}
