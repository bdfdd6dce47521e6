package sim

import (
	"fmt"
	"sort"

	"github.com/zkgo/zkgo/wire"
)

// checker holds Zab's properties, checked after every step:
//
//   - epochs only grow: no peer's accepted or current epoch goes down,
//     across crashes too, and the current epoch is never past the
//     accepted one;
//   - one leader per epoch: at most one peer is established (a quorum
//     acked its NEWLEADER) in an epoch;
//   - agreement: two logs holding a zxid hold the same txn there;
//   - no committed txn lost or reordered: the committed history (what a
//     leader committed, and a new leader's whole log once it is
//     established) only grows at its end; a new leader's log starts with
//     all of it; a txn applied as committed anywhere is in it; and all of
//     it is durable on a quorum of voters at every step;
//   - the databases agree: after applying a committed txn every peer's
//     tree has the same digest;
//   - ephemerals: once a peer applied a session's close (the client's or
//     the leader's expiry), it holds none of the session's ephemerals,
//     and no ephemeral of the session is created after the close;
//   - reads (sequential consistency): a client's read through any peer
//     is the key's value at a committed zxid, never older than what the
//     client has seen.
//
// Liveness: once no fault is in effect (every peer up, no pause,
// partition or slow link), a leader serves within livenessWindow.
//
// And at the end the clients' history is linearizable (porcupine).
type checker struct {
	s         *Sim
	viol      *Violation
	last      map[int64][2]int64 // epochs seen per peer
	leaderOf  map[int64]int64    // epoch -> the peer established in it
	sums      map[wire.Zxid]uint64
	committed []Rec
	digests   map[wire.Zxid]uint64
	closedAt  map[wire.SessionID]wire.Zxid // the committed close of each session
	dirty     bool
	// liveness: faults disturb the ensemble until quietFrom; a leader
	// was last seen serving at lastServing.
	quietFrom, lastServing int64
}

// livenessWindow is how long the ensemble may go without a serving
// leader once nothing disturbs it (every peer up, no pause, partition or
// slow link in effect): an election, a sync and their timeouts.
//
// The election runs with Java's (and node's) notification backoff: a
// LOOKING peer re-sends its vote only when a poll of notTimeout (200 ms,
// doubling up to 60 s at each silent poll) passes without a notification,
// and does not answer a LOOKING peer of its own round whose vote is
// worse. So a peer that missed the best candidate's vote (it was
// FOLLOWING a leadership that had just ended when the vote came) gets it
// only when the candidate's poll times out, which the other peers'
// re-sends postpone until their own doubling intervals pass the
// candidate's timeout: a few of its timeouts (seed 3020818: 3.3 s after
// the last fault, with the candidate's poll at 800 ms). The simulator
// once capped the backoff at 800 ms, which made that wait endless
// (TestFLEBackoffEndsStarvation); a cap models a
// zookeeper.fastleader.maxNotificationInterval setting, not the default.
const livenessWindow = 4000

// disturb records a fault whose effect lasts until until.
func (c *checker) disturb(until int64) { c.quietFrom = max(c.quietFrom, until) }

func (c *checker) init(s *Sim) {
	c.s = s
	c.last = map[int64][2]int64{}
	c.leaderOf = map[int64]int64{}
	c.sums = map[wire.Zxid]uint64{}
	c.digests = map[wire.Zxid]uint64{}
	c.closedAt = map[wire.SessionID]wire.Zxid{}
}

// start takes the initial disks: every txn logged anywhere is taken as
// committed if a quorum logged it (scenarios start from a committed
// history).
func (c *checker) start() {
	for _, p := range c.s.peers {
		for _, r := range p.store.History().Flat() {
			c.seen(p, r)
		}
	}
	if c.viol != nil {
		return
	}
	var zs []wire.Zxid
	for z := range c.sums {
		zs = append(zs, z)
	}
	sort.Slice(zs, func(i, j int) bool { return zs[i] < zs[j] })
	for _, z := range zs {
		set := map[int64]bool{}
		var rec Rec
		for _, p := range c.s.peers {
			for _, r := range p.store.History().Flat() {
				if r.Zxid() == z {
					set[p.id], rec = true, r
				}
			}
		}
		if !c.s.verifier.ContainsQuorum(set) {
			break
		}
		c.committed = append(c.committed, rec)
	}
	c.dirty = true
}

func (c *checker) fail(kind, format string, args ...any) {
	if c.viol != nil {
		return
	}
	c.viol = &Violation{Kind: kind, Msg: fmt.Sprintf(format, args...), At: c.s.now, Step: c.s.steps}
	c.s.tracef("VIOLATION %s: %s", kind, c.viol.Msg)
}

// seen takes a txn a peer logged: the same zxid is the same txn
// everywhere.
func (c *checker) seen(p *Peer, r Rec) {
	if s, ok := c.sums[r.Zxid()]; ok && s != r.Sum {
		c.fail("agreement", "peer %d logged a txn at %s that differs from one logged before", p.id, zx(r.Zxid()))
		return
	}
	c.sums[r.Zxid()] = r.Sum
}

// established: p is serving epoch; its log must start with everything
// committed in the epochs before (Zab's primary order), and it commits
// the rest of its log. A leader of an older epoch can be established
// after a newer one (a NEWLEADER ACK stays counted after the learner
// moved on, in Java as in zkgo); it cannot commit anything then (a
// quorum accepted the newer epoch), and its log may add nothing before
// what the newer epoch committed.
func (c *checker) established(p *Peer, epoch int64) {
	if l, ok := c.leaderOf[epoch]; ok && l != p.id {
		c.fail("leader", "peers %d and %d both established in epoch %d", l, p.id, epoch)
		return
	}
	c.leaderOf[epoch] = p.id
	log := p.store.History()
	n := 0 // committed txns of earlier epochs
	for n < len(c.committed) && int64(c.committed[n].Zxid().Epoch()) < epoch {
		n++
	}
	for i, r := range c.committed[:n] {
		if i >= log.Len() || log.At(i).Zxid() != r.Zxid() || log.At(i).Sum != r.Sum {
			got := "nothing"
			if i < log.Len() {
				got = zx(log.At(i).Zxid())
			}
			c.fail("lost", "leader %d of epoch %d has %s where the committed txn %s is (committed history %s..%s)",
				p.id, epoch, got, zx(r.Zxid()), zx(c.committed[0].Zxid()), zx(c.committed[len(c.committed)-1].Zxid()))
			return
		}
	}
	if log.Len() > n {
		if n < len(c.committed) {
			c.fail("order", "leader %d of epoch %d commits %s..%s, before %s, committed in a later epoch",
				p.id, epoch, zx(log.At(n).Zxid()), zx(log.At(log.Len()-1).Zxid()), zx(c.committed[n].Zxid()))
			return
		}
		for i := n; i < log.Len(); i++ {
			c.committed = append(c.committed, log.At(i))
		}
	}
	c.dirty = true
}

// committedBy: a leader committed rec.
func (c *checker) committedBy(p *Peer, r Rec) {
	if n := len(c.committed); n > 0 && c.committed[n-1].Zxid() >= r.Zxid() {
		if i := c.find(r.Zxid()); i >= 0 && c.committed[i].Sum == r.Sum {
			return // committed again by the same leader's history: fine
		}
		c.fail("order", "leader %d commits %s after %s", p.id, zx(r.Zxid()), zx(c.committed[n-1].Zxid()))
		return
	}
	c.committed = append(c.committed, r)
	c.dirty = true
}

func (c *checker) find(z wire.Zxid) int {
	i := sort.Search(len(c.committed), func(i int) bool { return c.committed[i].Zxid() >= z })
	if i < len(c.committed) && c.committed[i].Zxid() == z {
		return i
	}
	return -1
}

// applied: p applied rec as committed.
func (c *checker) applied(p *Peer, r Rec) {
	i := c.find(r.Zxid())
	if i < 0 || c.committed[i].Sum != r.Sum {
		c.fail("order", "peer %d applied %s, which is not committed", p.id, zx(r.Zxid()))
		return
	}
	d := p.db.Digest()
	if old, ok := c.digests[r.Zxid()]; ok && old != d {
		c.fail("digest", "peer %d's tree after %s differs from another peer's", p.id, zx(r.Zxid()))
		return
	}
	c.digests[r.Zxid()] = d
	c.ephemerals(p, r)
}

// read: a client read key through p at p's zxid z, having seen last
// before. Sequential consistency: z is not older than last, z is
// committed, and the value is the key's in the committed history at z.
func (c *checker) read(p *Peer, client int, key string, exists bool, ver int32, z, last wire.Zxid) {
	if z < last {
		c.fail("read", "client c%d read %s at %s through peer %d after it had seen %s", client, key, zx(z), p.id, zx(last))
		return
	}
	i := -1
	if z != 0 {
		if i = c.find(z); i < 0 {
			c.fail("read", "peer %d served a read at %s, which is not committed", p.id, zx(z))
			return
		}
	}
	wantExists, wantVer := false, int32(0)
scan:
	for j := i; j >= 0; j-- {
		switch b := c.committed[j].E.Body.(type) {
		case *wire.CreateTxn:
			if b.Path == key {
				wantExists, wantVer = true, 0
				break scan
			}
		case *wire.SetDataTxn:
			if b.Path == key {
				wantExists, wantVer = true, b.Version
				break scan
			}
		}
	}
	if exists != wantExists || ver != wantVer {
		c.fail("read", "client c%d read %s through peer %d at %s: exists %v version %d; the committed history has exists %v version %d there",
			client, key, p.id, zx(z), exists, ver, wantExists, wantVer)
	}
}

// ephemerals: a session's ephemerals go with its close, on every peer,
// and none is created after it.
func (c *checker) ephemerals(p *Peer, r Rec) {
	id := r.E.Hdr.ClientID
	switch r.E.Hdr.Type {
	case wire.OpCloseSession:
		if eph := p.db.Ephemerals(id); len(eph) > 0 {
			c.fail("ephemeral", "peer %d keeps %v of session %#x after its close at %s", p.id, eph, int64(id), zx(r.Zxid()))
			return
		}
		if _, ok := c.closedAt[id]; !ok {
			c.closedAt[id] = r.Zxid()
		}
	case wire.OpCreate, wire.OpCreate2:
		ct, ok := r.E.Body.(*wire.CreateTxn)
		if z, closed := c.closedAt[id]; ok && ct.Ephemeral && closed && r.Zxid() > z {
			c.fail("ephemeral", "peer %d creates %s, an ephemeral of session %#x, at %s: the session closed at %s",
				p.id, ct.Path, int64(id), zx(r.Zxid()), zx(z))
		}
	}
}

// step runs the checks that look at every peer.
func (c *checker) step() {
	if c.viol != nil {
		return
	}
	for _, p := range c.s.peers {
		a, cur := p.store.AcceptedEpoch, p.store.CurrentEpoch
		l := c.last[p.id]
		if a < l[0] || cur < l[1] {
			c.fail("epoch", "peer %d's epochs went from %d/%d to %d/%d", p.id, l[0], l[1], a, cur)
			return
		}
		if cur > a {
			c.fail("epoch", "peer %d's current epoch %d is past its accepted epoch %d", p.id, cur, a)
			return
		}
		c.last[p.id] = [2]int64{a, cur}
	}
	c.live()
	if c.viol != nil || !c.dirty || c.s.cfg.NoDurableCheck {
		return
	}
	c.dirty = false
	set := map[int64]bool{}
	for _, p := range c.s.peers {
		if c.hasCommitted(p.store.DurableHistory()) {
			set[p.id] = true
		}
	}
	if !c.s.verifier.ContainsQuorum(set) {
		var ids []int64
		for id := range set {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		c.fail("durable", "the committed history up to %s is durable only on %v", zx(c.committed[len(c.committed)-1].Zxid()), ids)
	}
}

// hasCommitted reports whether log holds the whole committed history.
func (c *checker) hasCommitted(log Hist) bool {
	j, n := 0, log.Len()
	for _, r := range c.committed {
		for j < n && log.At(j).Zxid() < r.Zxid() {
			j++
		}
		if j == n || log.At(j).Zxid() != r.Zxid() || log.At(j).Sum != r.Sum {
			return false
		}
		j++
	}
	return true
}

// live checks that a leader serves within livenessWindow of the last
// disturbance (a driver that deadlocks shows up here).
func (c *checker) live() {
	for _, p := range c.s.peers {
		if p.up && p.ld != nil && p.ld.bc != nil {
			c.lastServing = c.s.now
			return
		}
	}
	if since := max(c.quietFrom, c.lastServing); c.s.now-since > livenessWindow {
		c.fail("liveness", "no leader served for %d ms since t=%d, with no fault in effect", c.s.now-since, since)
	}
}

// final runs the end-of-run check: the clients' history is linearizable.
func (c *checker) final() {
	if h := c.s.clients.history(); len(h) > 0 {
		if ok, info := CheckHistory(h); !ok {
			c.fail("linearizability", "the clients' history is not linearizable: %s", info)
		}
	}
}
