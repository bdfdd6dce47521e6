package zab

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/wire"
)

// Tracker is the set of voters that acknowledged one thing: the epoch
// (Leader.connectingFollowers, electingFollowers), NEWLEADER
// (newLeaderProposal), a proposal, or being in sync at a tick
// (SyncedLearnerTracker). It counts with one verifier, or with two while
// a reconfiguration is pending (the committed configuration and the one
// proposed, Java's two QuorumVerifierAcksetPairs): then it has a quorum
// only when each of them does. The zero value is not usable: use
// NewTracker.
type Tracker struct {
	vs   []quorum.Verifier
	acks map[int64]bool
}

// NewTracker returns an empty tracker that counts with v, and with each
// of more as well (a quorum of every one is needed).
func NewTracker(v quorum.Verifier, more ...quorum.Verifier) Tracker {
	vs := make([]quorum.Verifier, 0, 1+len(more))
	vs = append(vs, v)
	vs = append(vs, more...)
	return Tracker{vs: vs, acks: make(map[int64]bool, 4)}
}

// Ack records sid's acknowledgement and reports whether it counts: only
// voters' do (SyncedLearnerTracker.addAck skips anyone who is not a voting
// member of a configuration it counts with); an observer's, or an
// unknown server's, is not recorded.
func (t *Tracker) Ack(sid int64) bool {
	for _, v := range t.vs {
		if v.IsVoter(sid) {
			t.acks[sid] = true
			return true
		}
	}
	return false
}

// AckedBy returns the voters of the i-th verifier (0: the first) that
// acknowledged, ascending: Java's ack set of that QuorumVerifierAcksetPair.
func (t *Tracker) AckedBy(i int) []int64 {
	var out []int64
	for _, id := range t.IDs() {
		if t.vs[i].IsVoter(id) {
			out = append(out, id)
		}
	}
	return out
}

// Verifiers is the number of verifiers the tracker counts with.
func (t *Tracker) Verifiers() int { return len(t.vs) }

// Acked reports whether sid's acknowledgement was recorded.
func (t *Tracker) Acked(sid int64) bool { return t.acks[sid] }

// HasQuorum reports whether the acknowledgements form a quorum
// (QuorumVerifier.containsQuorum), of every verifier it counts with
// (SyncedLearnerTracker.hasAllQuorums).
func (t *Tracker) HasQuorum() bool {
	for _, v := range t.vs {
		if !v.ContainsQuorum(t.acks) {
			return false
		}
	}
	return true
}

// Len is the number of voters recorded.
func (t *Tracker) Len() int { return len(t.acks) }

// IDs returns the voters recorded, ascending.
func (t *Tracker) IDs() []int64 {
	ids := make([]int64, 0, len(t.acks))
	for id := range t.acks {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// String lists the voters recorded, ascending, comma-separated ("1,2,3").
func (t *Tracker) String() string {
	ids := t.IDs()
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}

// AckResult says what Outstanding.Ack did with an ACK.
type AckResult uint8

// Outcomes of Outstanding.Ack.
const (
	// AckCounted: the ACK of a voter for an outstanding proposal.
	AckCounted AckResult = iota
	// AckNotVoter: for an outstanding proposal, from a server that does
	// not vote; nothing recorded.
	AckNotVoter
	// AckCommitted: for a proposal already committed (a late ACK), or for
	// NEWLEADER/UPTODATE (counter 0); nothing to do.
	AckCommitted
	// AckUnknown: for a zxid that is not outstanding and was never
	// committed ("Trying to commit future proposal").
	AckUnknown
)

func (r AckResult) String() string {
	switch r {
	case AckCounted:
		return "counted"
	case AckNotVoter:
		return "not-voter"
	case AckCommitted:
		return "committed"
	case AckUnknown:
		return "unknown"
	}
	return fmt.Sprintf("AckResult(%d)", uint8(r))
}

// Outstanding is the leader's proposals waiting for a quorum of ACKs
// (Leader.outstandingProposals), in zxid order. They commit in that order:
// a proposal with a quorum waits for every proposal before it
// (Leader.tryToCommit). The zero value is not usable: use NewOutstanding.
//
// Each proposal counts its ACKs with the verifiers set when it was made
// (SetVerifiers): the committed configuration, and the proposed one too
// while a reconfiguration is pending (Leader.propose).
type Outstanding struct {
	vs            []quorum.Verifier
	q             []pending
	lastProposed  wire.Zxid
	lastCommitted wire.Zxid
}

type pending struct {
	zxid wire.Zxid
	acks Tracker
}

// NewOutstanding returns an empty set whose history is committed up to
// lastCommitted (the NEWLEADER zxid when a leader starts to serve).
func NewOutstanding(v quorum.Verifier, lastCommitted wire.Zxid) *Outstanding {
	return &Outstanding{vs: []quorum.Verifier{v}, lastProposed: lastCommitted, lastCommitted: lastCommitted}
}

// SetVerifiers sets what the proposals made from now on count their ACKs
// with: v, and each of more as well. Proposals already made keep theirs.
func (o *Outstanding) SetVerifiers(v quorum.Verifier, more ...quorum.Verifier) {
	o.vs = append([]quorum.Verifier{v}, more...)
}

// Propose adds a proposal, with no ACKs yet. Zxids must increase.
func (o *Outstanding) Propose(z wire.Zxid) {
	if z <= o.lastProposed {
		panic(fmt.Sprintf("zab: proposal %v after %v", z, o.lastProposed))
	}
	o.lastProposed = z
	o.q = append(o.q, pending{zxid: z, acks: NewTracker(o.vs[0], o.vs[1:]...)})
}

// Ack counts sid's ACK of z (Leader.processAck).
func (o *Outstanding) Ack(sid int64, z wire.Zxid) AckResult {
	if z.Counter() == 0 || z <= o.lastCommitted {
		return AckCommitted
	}
	i := sort.Search(len(o.q), func(i int) bool { return o.q[i].zxid >= z })
	if i == len(o.q) || o.q[i].zxid != z {
		return AckUnknown
	}
	if !o.q[i].acks.Ack(sid) {
		return AckNotVoter
	}
	return AckCounted
}

// AckThrough counts sid's ACK of every outstanding proposal up to z: the
// leader's own, once its log is durable up to z (AckRequestProcessor).
func (o *Outstanding) AckThrough(sid int64, z wire.Zxid) {
	for i := range o.q {
		if o.q[i].zxid > z {
			break
		}
		o.q[i].acks.Ack(sid)
	}
}

// Next returns the ACKs of the oldest outstanding proposal, if any (what
// Commit would take off).
func (o *Outstanding) Next() (Tracker, bool) {
	if len(o.q) == 0 {
		return Tracker{}, false
	}
	return o.q[0].acks, true
}

// After returns the ACKs of the outstanding proposals newer than z, in
// zxid order.
func (o *Outstanding) After(z wire.Zxid) []Tracker {
	var out []Tracker
	for _, p := range o.q {
		if p.zxid > z {
			out = append(out, p.acks)
		}
	}
	return out
}

// Unack forgets sid's ACKs of the outstanding proposals after z: a
// learner synced again up to z (on a new connection) no longer has them
// on disk, as far as the leader knows (a TRUNC dropped them, or its log
// ends before them); it ACKs each again once it logged it anew. Java 3.8
// keeps them counted (compat-tests/DIFFERENCES.md).
func (o *Outstanding) Unack(sid int64, z wire.Zxid) {
	for i := range o.q {
		if o.q[i].zxid > z {
			delete(o.q[i].acks.acks, sid)
		}
	}
}

// Commit takes the oldest proposal off if a quorum acked it, and returns
// its zxid; ok is false when the oldest has no quorum yet (or there is
// none). Call it until it says false.
func (o *Outstanding) Commit() (z wire.Zxid, ok bool) {
	if len(o.q) == 0 || !(o.q[0].acks.HasQuorum() || sabotaged(sabMinorityCommit) && o.q[0].acks.Len() > 0) {
		return 0, false
	}
	z = o.q[0].zxid
	o.q[0] = pending{}
	o.q = o.q[1:]
	if len(o.q) == 0 {
		o.q = nil
	}
	o.lastCommitted = z
	return z, true
}

// Len is the number of proposals outstanding.
func (o *Outstanding) Len() int { return len(o.q) }

// LastProposed is the zxid of the newest proposal (or the start).
func (o *Outstanding) LastProposed() wire.Zxid { return o.lastProposed }

// LastCommitted is the zxid of the newest commit (or the start).
func (o *Outstanding) LastCommitted() wire.Zxid { return o.lastCommitted }

// Acks returns the voters that acked the outstanding proposal z, and
// whether z is outstanding.
func (o *Outstanding) Acks(z wire.Zxid) ([]int64, bool) {
	i := sort.Search(len(o.q), func(i int) bool { return o.q[i].zxid >= z })
	if i == len(o.q) || o.q[i].zxid != z {
		return nil, false
	}
	return o.q[i].acks.IDs(), true
}
