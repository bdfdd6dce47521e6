package zab

import (
	"fmt"

	"github.com/zkgo/zkgo/wire"
)

// The leader's choice of how to sync a learner whose ACKEPOCH came in
// (LearnerHandler.syncFollower, spec §4.5): DIFF when the learner is in
// step or its history is in the committed log (or in the txn log just
// before it), TRUNC when it has txns past the committed log, SNAP
// otherwise.

// SyncInput is what the leader knows when it plans a learner's sync.
type SyncInput struct {
	// Peer is the learner's last logged zxid (its ACKEPOCH's zxid).
	Peer wire.Zxid
	// LastProcessed is the leader's last applied zxid.
	LastProcessed wire.Zxid
	// Committed is the committed log's window (CommittedLog.Window).
	Committed []Committed
	// ForceSnap is zookeeper.forceSnapshotSync.
	ForceSnap bool
	// TxnLog says whether a learner older than the committed log may be
	// synced from the txn log (zookeeper.snapshotSizeFactor >= 0).
	TxnLog bool
	// LogRead is set once the txn log was read for this plan (the plan
	// asked for it: SyncPlan.ReadTxnLog); FromLog is what was read: the
	// committed txns from Peer on, contiguous (ZKDatabase.
	// getProposalsFromTxnLog), or nothing when the log does not hold Peer
	// or is too large to be worth it.
	LogRead bool
	FromLog []Committed
}

// SyncReason says why a plan chose its mode (what the leader logs).
type SyncReason uint8

// Reasons of a SyncPlan.
const (
	// SyncInStep: the learner has what the leader processed (DIFF, no
	// txns).
	SyncInStep SyncReason = iota + 1
	// SyncAhead: the learner has txns past the committed log (TRUNC to its
	// newest txn).
	SyncAhead
	// SyncCommittedLog: DIFF or TRUNC, then the txns from the committed
	// log.
	SyncCommittedLog
	// SyncTxnLog: DIFF or TRUNC, then the txns from the txn log and the
	// committed log after it.
	SyncTxnLog
	// SyncForced: SNAP because zookeeper.forceSnapshotSync is set.
	SyncForced
	// SyncTxnLogUnusable: SNAP: the learner is older than the committed
	// log and the txn log cannot serve it (does not hold Peer, too large,
	// not contiguous).
	SyncTxnLogUnusable
	// SyncLogGap: SNAP: the txn log ends before the committed log starts.
	SyncLogGap
	// SyncTruncAcrossEpochs: SNAP: the learner would need a TRUNC to a txn
	// of another epoch than its own ("Cannot send TRUNC to peer").
	SyncTruncAcrossEpochs
	// SyncUnhandled: SNAP: no other case applies: the learner is older
	// than the committed log and syncs from the txn log are off, or its
	// zxid is past the committed log with counter 0.
	SyncUnhandled
)

func (r SyncReason) String() string {
	switch r {
	case SyncInStep:
		return "in-step"
	case SyncAhead:
		return "ahead"
	case SyncCommittedLog:
		return "committed-log"
	case SyncTxnLog:
		return "txn-log"
	case SyncForced:
		return "forced"
	case SyncTxnLogUnusable:
		return "txn-log-unusable"
	case SyncLogGap:
		return "log-gap"
	case SyncTruncAcrossEpochs:
		return "trunc-across-epochs"
	case SyncUnhandled:
		return "unhandled"
	}
	return fmt.Sprintf("SyncReason(%d)", uint8(r))
}

// SyncPlan is how a learner is synced.
type SyncPlan struct {
	// ReadTxnLog: the plan needs the txn log from In.Peer on; read it (it
	// may take long: off the owner goroutine) and plan again with LogRead
	// and FromLog set. Nothing else in the plan is set.
	ReadTxnLog bool
	// Mode is wire.PacketDiff, PacketTrunc or PacketSnap.
	Mode   wire.PacketType
	Reason SyncReason
	// Packets go to the learner before NEWLEADER: DIFF or TRUNC, then a
	// PROPOSAL and a COMMIT for each txn after the learner's history.
	// Empty for a SNAP (the driver streams the snapshot).
	Packets []wire.QuorumPacket
	// LastSeen is the newest txn the learner has once it got Packets (or
	// the snapshot, which is LastProcessed): the leader forwards what
	// comes after it (Leader.startForwarding).
	LastSeen wire.Zxid
	// MinCommitted and MaxCommitted are the committed log's bounds the
	// plan used; EndOfLog is where the txn log's txns ended (SyncLogGap).
	MinCommitted, MaxCommitted wire.Zxid
	EndOfLog                   wire.Zxid
}

// PlanSync decides how to sync a learner (LearnerHandler.syncFollower).
func PlanSync(in SyncInput) SyncPlan {
	peer := in.Peer
	minC, maxC := in.LastProcessed, in.LastProcessed
	if n := len(in.Committed); n > 0 {
		minC, maxC = in.Committed[0].Zxid, in.Committed[n-1].Zxid
	}
	p := SyncPlan{MinCommitted: minC, MaxCommitted: maxC}
	var q queue
	snap := func(r SyncReason) SyncPlan {
		p.Mode, p.Reason, p.LastSeen, p.Packets = wire.PacketSnap, r, in.LastProcessed, nil
		return p
	}
	done := func(r SyncReason, lastSeen wire.Zxid) SyncPlan {
		if q.needOp {
			// Java: "Unhandled scenario for peer sid ... fall back to use
			// snapshot".
			return snap(SyncTruncAcrossEpochs)
		}
		p.Mode, p.Reason, p.Packets, p.LastSeen = q.pkts[0].Type, r, q.pkts, lastSeen
		return p
	}
	switch {
	case in.ForceSnap:
		return snap(SyncForced)
	case in.LastProcessed == peer:
		q.op(wire.PacketDiff, peer)
		return done(SyncInStep, peer)
	case peer > maxC && peer.Counter() != 0:
		q.op(wire.PacketTrunc, maxC)
		return done(SyncAhead, maxC)
	case maxC >= peer && minC <= peer:
		last := q.committed(in.Committed, peer, 0, maxC, false)
		return done(SyncCommittedLog, last)
	case peer < minC && in.TxnLog:
		if !in.LogRead {
			return SyncPlan{ReadTxnLog: true, MinCommitted: minC, MaxCommitted: maxC}
		}
		if len(in.FromLog) == 0 {
			return snap(SyncTxnLogUnusable)
		}
		last := q.committed(in.FromLog, peer, minC, maxC, true)
		if last < minC {
			p.EndOfLog = last
			return snap(SyncLogGap)
		}
		last = q.committed(in.Committed, last, 0, maxC, false)
		return done(SyncTxnLog, last)
	}
	return snap(SyncUnhandled)
}

// queue is the packets of a DIFF or TRUNC being planned.
type queue struct {
	pkts   []wire.QuorumPacket
	needOp bool // no DIFF or TRUNC yet
}

func (q *queue) op(t wire.PacketType, z wire.Zxid) {
	q.pkts = append(q.pkts, wire.QuorumPacket{Type: t, Zxid: z})
}

// committed is LearnerHandler.queueCommittedProposals: DIFF or TRUNC as
// the first packet (unless one is queued), then PROPOSAL and COMMIT for
// every entry after peer, up to maxZxid when hasMax. It returns the
// newest zxid queued (peer when none). A TRUNC to an entry of another
// epoch than peer's cannot be sent: it stops there, with needOp set.
func (q *queue) committed(entries []Committed, peer, maxZxid, lastCommitted wire.Zxid, hasMax bool) wire.Zxid {
	if len(q.pkts) == 0 {
		q.needOp = true
	}
	newEpoch := peer.Counter() == 0
	queued := peer
	prev := wire.Zxid(-1)
	for i := range entries {
		ce := &entries[i]
		z := ce.Zxid
		if hasMax && z > maxZxid {
			break
		}
		if z < peer {
			prev = z
			continue
		}
		if q.needOp {
			if z == peer {
				q.op(wire.PacketDiff, lastCommitted)
				q.needOp = false
				continue
			}
			if newEpoch {
				q.op(wire.PacketDiff, lastCommitted)
				q.needOp = false
			} else if z > peer {
				if z.Epoch() != peer.Epoch() {
					return queued
				}
				q.op(wire.PacketTrunc, prev)
				q.needOp = false
			}
		}
		if z <= queued {
			continue
		}
		q.pkts = append(q.pkts,
			wire.QuorumPacket{Type: wire.PacketProposal, Zxid: z, Data: ce.Data()},
			wire.QuorumPacket{Type: wire.PacketCommit, Zxid: z})
		queued = z
	}
	if q.needOp && newEpoch {
		q.op(wire.PacketDiff, lastCommitted)
		q.needOp = false
	}
	return queued
}

// SyncThrottle is LearnerSyncThrottler: it counts the syncs of one kind
// (SNAP, or DIFF and TRUNC) from the sync decision to the learner's
// NEWLEADER ACK (or its end), and refuses one more past Max unless the
// learner is exempt. The leader exempts followers, so that a quorum can
// always form; they are counted all the same.
type SyncThrottle struct {
	Max        int
	inProgress int
}

// Begin counts a sync and reports whether it may go on; false (the limit
// reached and the learner not exempt) counts nothing.
func (t *SyncThrottle) Begin(exempt bool) bool {
	if !exempt && t.inProgress >= t.Max {
		return false
	}
	t.inProgress++
	return true
}

// End releases a sync Begin counted.
func (t *SyncThrottle) End() {
	if t.inProgress == 0 {
		panic("zab: SyncThrottle.End without Begin")
	}
	t.inProgress--
}

// InProgress is the number of syncs counted and not ended.
func (t *SyncThrottle) InProgress() int { return t.inProgress }
