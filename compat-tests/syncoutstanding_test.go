package compattest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/node"
)

// ZOOKEEPER-4394: a Java 3.8.0 follower forgets, at NEWLEADER, the
// proposals it received before it (Learner.syncWithLeader clears
// packetsNotCommitted); a COMMIT between NEWLEADER and UPTODATE with no
// PROPOSAL after NEWLEADER then dies with `NullPointerException: Cannot
// read field "hdr" because "pif" is null`. A leader causes it by syncing a
// follower while a proposal is outstanding: the PROPOSAL goes before
// NEWLEADER, its COMMIT after. The zkgo leader holds such proposals for the
// syncing follower (DIFFERENCES row 35). Here the zkgo leader's commits are
// held (node.Config.CommitGate) while a Java follower syncs, by DIFF and by
// SNAP, and released as soon as the leader queues that follower's
// NEWLEADER (node.Config.NewLeaderQueued), before the follower can ACK it:
// exactly the window of the bug.

// commitHold is a CommitGate a test closes until the NEWLEADER of a given
// learner is queued.
type commitHold struct {
	open atomic.Bool
	sid  atomic.Int64 // the learner whose NEWLEADER opens the gate
	hits atomic.Int64 // NEWLEADERs that opened the gate
}

func (c *commitHold) gate() bool { return c.open.Load() }

func (c *commitHold) newLeaderQueued(sid int64) {
	if sid == c.sid.Load() && !c.open.Load() {
		c.open.Store(true)
		c.hits.Add(1)
	}
}

// outstandingProposals reads the zkgo leader's outstanding_proposals.
func outstandingProposals(t *testing.T, z *harness.Zkgo) string {
	t.Helper()
	return zkgoMntr(t, z, "outstanding_proposals")
}

func TestLeader_JavaFollowerSyncsWithProposalsOutstanding(t *testing.T) {
	harness.RequireJava(t)
	syncsWithProposalsOutstanding(t, true)
}

// The zkgo learner takes the same order (proposals after NEWLEADER are
// logged and ACKed once it serves, their COMMITs applied in order).
func TestLeader_ZkgoFollowerSyncsWithProposalsOutstanding(t *testing.T) {
	syncsWithProposalsOutstanding(t, false)
}

// syncsWithProposalsOutstanding has zkgo member 3 lead and member 1 (Java
// or zkgo) rejoin by DIFF and by SNAP while proposals are outstanding.
func syncsWithProposalsOutstanding(t *testing.T, java bool) {
	harness.SkipShort(t)
	kind := harness.MemberExternal
	if java {
		kind = harness.MemberJava
	}
	// initLimit 50 x 200 ms: the follower waits 10 s for each sync
	// packet, more than the held SNAP walk takes.
	m := harness.NewMixed(t, harness.MixedOptions{Members: []harness.MemberSpec{
		{ID: 1, Kind: kind}, {ID: 2, Kind: harness.MemberExternal}, {ID: 3, Kind: harness.MemberExternal}},
		TickTime: 200, InitLimit: 50, SyncLimit: 10})
	e := &zkgoEnsemble{t: t, m: m, zk: map[int64]*harness.Zkgo{}}
	walk := newSnapWalkHold()
	hold := &commitHold{}
	hold.open.Store(true)
	m.Release(3)
	e.zk[3] = harness.StartZkgoMember(t, m.ConfigPath(3), func(c *node.Config) {
		c.SnapSyncGate = walk.gate
		c.CommitGate = hold.gate
		c.NewLeaderQueued = hold.newLeaderQueued
	})
	start1 := func() {
		if java {
			m.Start(1)
		} else {
			e.start(1)
		}
	}
	stop1 := func() {
		if java {
			m.Kill(1)
		} else {
			e.stop(1)
		}
	}
	addr1 := func() string {
		if java {
			return m.ClientAddr(1)
		}
		return e.zk[1].Addr
	}
	wait1 := func() {
		t.Helper()
		if java {
			m.WaitMode(t, 1, "follower", 60*time.Second)
		} else {
			harness.WaitZkgoMode(t, e.zk[1], "follower", 60*time.Second)
		}
	}
	e.start(2)
	start1()
	if id := e.leader(); id != 3 {
		t.Fatalf("leader %d, want zkgo (3)", id)
	}
	wait1()
	cz := zkConn(t, e.zk[3].Addr)
	acked := map[string]bool{}
	create := func(p string) {
		t.Helper()
		_, err := cz.Create(p, []byte(p), 0, open)
		must(t, err)
		acked[p] = true
	}
	for i := 0; i < 20; i++ {
		create(fmt.Sprintf("/base%d", i))
	}
	// A long session timeout: its pings queue behind its held writes.
	writer, _ := connect(t, e.zk[3].Addr, 30*time.Second)

	// outstanding closes the commit gate until member 1's NEWLEADER is
	// queued, sends n creates, and waits until the leader has them all
	// outstanding (acknowledged by the quorum, not committed). The
	// function it returns waits for their replies.
	outstanding := func(phase string, n int) func() {
		t.Helper()
		hold.sid.Store(1)
		hold.open.Store(false)
		type result struct {
			path string
			err  error
		}
		results := make(chan result, n)
		for i := 0; i < n; i++ {
			p := fmt.Sprintf("/%s%d", phase, i)
			go func() {
				_, err := writer.Create(p, []byte(p), 0, open)
				results <- result{p, err}
			}()
		}
		deadline := time.Now().Add(30 * time.Second)
		for outstandingProposals(t, e.zk[3]) != fmt.Sprint(n) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the leader never had %d proposals outstanding (has %s)", phase, n, outstandingProposals(t, e.zk[3]))
			}
			time.Sleep(20 * time.Millisecond)
		}
		return func() {
			t.Helper()
			for i := 0; i < n; i++ {
				select {
				case r := <-results:
					if r.err != nil {
						t.Fatalf("%s: create %s: %v", phase, r.path, r.err)
					}
					acked[r.path] = true
				case <-time.After(60 * time.Second):
					t.Fatalf("%s: %d of %d held creates answered within 60s", phase, i, n)
				}
			}
		}
	}

	// DIFF: member 1 comes back behind by a few txns while three
	// proposals are outstanding.
	stop1()
	for i := 0; i < 10; i++ {
		create(fmt.Sprintf("/offline%d", i))
	}
	done := outstanding("diff", 3)
	start1()
	done()
	wait1()
	checkAcked(t, addr1(), acked)

	// SNAP: member 1 comes back empty; txns commit during the (held)
	// walk, and three proposals are outstanding when it ends.
	stop1()
	m.Wipe(1)
	walk.hold.Store(true)
	start1()
	walk.waitHeld(t)
	for i := 0; i < 5; i++ {
		create(fmt.Sprintf("/walk%d", i))
	}
	done = outstanding("snap", 3)
	walk.hold.Store(false)
	done()
	wait1()
	checkAcked(t, addr1(), acked)
	if n := hold.hits.Load(); n < 2 {
		t.Fatalf("the commit gate was opened by %d NEWLEADERs for member 1, want 2 (DIFF and SNAP)", n)
	}

	// Member 1 goes on serving and replicating.
	c1 := zkConn(t, addr1())
	_, err := c1.Create("/after", []byte("a"), 0, open)
	must(t, err)
	waitData(t, cz, "/after", []byte("a"))
	if java {
		checkJavaLogsOf(t, m, 1)
		return
	}
	for _, id := range []int64{1, 2, 3} {
		if n := zkgoDigestMismatches(t, e.zk[id]); n != "0" {
			t.Errorf("zkgo member %d counted %s digest mismatches", id, n)
		}
	}
}
