package zab

import (
	"errors"
	"fmt"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/wire"
)

// The learner's side of registering with a leader and syncing
// (Learner.registerWithLeader and syncWithLeader) as explicit states, in
// zkgo's persistence order (that of Java 3.8.5+): at NEWLEADER the txns
// received are made durable, then the current epoch is written, and only
// then is NEWLEADER acked.

// LearnerState is where a learner is in its sync.
type LearnerState uint8

// States of a LearnerSync.
const (
	// LearnerLeaderInfo: FOLLOWERINFO or OBSERVERINFO sent; waiting for
	// LEADERINFO.
	LearnerLeaderInfo LearnerState = iota
	// LearnerSyncMode: ACKEPOCH sent; waiting for DIFF, SNAP or TRUNC.
	LearnerSyncMode
	// LearnerBeforeNewLeader: receiving the sync's txns; NEWLEADER not
	// yet received.
	LearnerBeforeNewLeader
	// LearnerAfterNewLeader: NEWLEADER acked; waiting for UPTODATE.
	LearnerAfterNewLeader
	// LearnerSynced: UPTODATE received; the sync is over (Synced).
	LearnerSynced
)

func (s LearnerState) String() string {
	switch s {
	case LearnerLeaderInfo:
		return "leaderinfo"
	case LearnerSyncMode:
		return "syncmode"
	case LearnerBeforeNewLeader:
		return "before-newleader"
	case LearnerAfterNewLeader:
		return "after-newleader"
	case LearnerSynced:
		return "synced"
	}
	return fmt.Sprintf("LearnerState(%d)", uint8(s))
}

// LearnerConfig configures a LearnerSync.
type LearnerConfig struct {
	ID            int64
	Observer      bool  // OBSERVERINFO; observers log nothing at NEWLEADER
	ConfigVersion int64 // LearnerInfo.configVersion
	// LastLogged is the learner's newest logged txn; AcceptedEpoch and
	// CurrentEpoch are its epoch files.
	LastLogged                  wire.Zxid
	AcceptedEpoch, CurrentEpoch int64
	// MaxRecord bounds the lengths in a txn (jute.maxbuffer).
	MaxRecord int
	// View is what activations are decided with (dynamic
	// reconfiguration); Synced.View is it after the sync.
	View LearnerView
}

// LearnerReady is what one step asks the driver to do, in this order:
// truncate the log or read the snapshot that follows on the link (either
// replaces the database being built), apply Apply to that database, write
// a snapshot of it, append Append to the log and make it durable, write
// HardState, and only then send Messages to the leader. A failure of any
// of these ends the sync without sending.
type LearnerReady struct {
	// TruncateTo (with Truncate): drop every logged txn after it, and
	// build the database from what remains (TRUNC).
	Truncate   bool
	TruncateTo wire.Zxid
	// ReceiveSnapshot: read the snapshot stream that follows the SNAP
	// packet; the database is the snapshot, at SnapshotZxid.
	ReceiveSnapshot bool
	SnapshotZxid    wire.Zxid
	// Apply are committed txns to apply to the database being built, in
	// order (a SNAP or TRUNC learner before NEWLEADER).
	Apply []*wire.TxnEntry
	// WriteSnapshot: write a snapshot of the database (NEWLEADER after a
	// SNAP or TRUNC).
	WriteSnapshot bool
	// Append are txns to log and make durable (a follower's, at
	// NEWLEADER).
	Append    []*wire.TxnEntry
	HardState *HardState
	Messages  []wire.QuorumPacket
	// Warnings are unexpected but harmless things, for the log.
	Warnings []string
	// NextConfig (a reconfig proposal's or NEWLEADER's configuration, now
	// the last seen one: the .next file) and Activations (see
	// LearnerActivation) are written first, before anything else. An
	// activation with Leave ends the sync once they are written (Java's
	// "changes proposed in reconfig"); the rest of the Ready is empty.
	NextConfig  *quorum.Config
	Activations []LearnerActivation
}

// Synced is the outcome of a sync: the txns received after NEWLEADER (and
// an observer's whole sync) that are not committed yet, the zxids of the
// COMMITs that came for logged txns, and the txns logged at NEWLEADER,
// which wait for their COMMITs in the broadcast phase.
type Synced struct {
	Mode         wire.PacketType
	NewEpoch     int64
	Logged       []*wire.TxnEntry
	NotCommitted []*wire.TxnEntry
	Committed    []wire.Zxid
	// View is the learner's view after the sync, for NewBroadcast.
	View LearnerView
}

// ErrLearnerFatal marks errors after which Java exits the process (an
// unexpected sync mode); others end the sync and the learner looks for a
// leader again.
var ErrLearnerFatal = errors.New("zab: the learner cannot go on")

// LearnerSync is a learner's registration and sync with one leader.
type LearnerSync struct {
	cfg          LearnerConfig
	state        LearnerState
	hard         HardState
	newEpoch     int64
	mode         wire.PacketType
	writeToLog   bool
	lastQueued   wire.Zxid
	notCommitted []*wire.TxnEntry
	committed    []wire.Zxid
	logged       []*wire.TxnEntry
	view         LearnerView
	newLeaderQV  *quorum.Config
}

// NewLearnerSync starts a sync; Start returns the first packet to send.
func NewLearnerSync(cfg LearnerConfig) *LearnerSync {
	return &LearnerSync{cfg: cfg, view: cfg.View, hard: HardState{AcceptedEpoch: cfg.AcceptedEpoch, CurrentEpoch: cfg.CurrentEpoch}}
}

// Start returns FOLLOWERINFO or OBSERVERINFO: zxid acceptedEpoch<<32 and
// the LearnerInfo.
func (l *LearnerSync) Start() wire.QuorumPacket {
	typ := wire.PacketFollowerInfo
	if l.cfg.Observer {
		typ = wire.PacketObserverInfo
	}
	info := wire.LearnerInfo{ServerID: l.cfg.ID, ProtocolVersion: wire.ProtocolVersion, ConfigVersion: l.cfg.ConfigVersion}
	return wire.QuorumPacket{Type: typ, Zxid: wire.MakeZxid(uint32(l.cfg.AcceptedEpoch), 0), Data: jute.Marshal(&info)}
}

// State is where the sync is.
func (l *LearnerSync) State() LearnerState { return l.state }

// Synced returns the outcome once the state is LearnerSynced.
func (l *LearnerSync) Synced() Synced {
	return Synced{Mode: l.mode, NewEpoch: l.newEpoch, Logged: l.logged, NotCommitted: l.notCommitted, Committed: l.committed,
		View: l.view}
}

func (l *LearnerSync) newLeaderZxid() wire.Zxid { return wire.MakeZxid(uint32(l.newEpoch), 0) }

// pendingTxn is the proposal of zxid z this sync received and has not
// applied: after NEWLEADER a COMMIT leaves its proposal in notCommitted (it
// is applied at UPTODATE), so a COMMITANDACTIVATE may name one behind
// others, or one logged at NEWLEADER. Java 3.8.0 looks only at the first
// pending proposal and misses those activations (DIFFERENCES row 65).
func (l *LearnerSync) pendingTxn(z wire.Zxid) *wire.TxnEntry {
	for _, list := range [][]*wire.TxnEntry{l.notCommitted, l.logged} {
		for _, e := range list {
			if e.Hdr.Zxid == z {
				return e
			}
		}
	}
	return nil
}

// Step takes one packet from the leader.
func (l *LearnerSync) Step(qp *wire.QuorumPacket) (LearnerReady, error) {
	var r LearnerReady
	switch l.state {
	case LearnerLeaderInfo:
		return l.stepLeaderInfo(qp)
	case LearnerSyncMode:
		return l.stepSyncMode(qp)
	case LearnerSynced:
		return r, fmt.Errorf("zab: %v after the sync", qp.Type)
	}
	switch qp.Type {
	case wire.PacketProposal:
		e, err := wire.DecodeTxnEntry(qp.Data, l.cfg.MaxRecord)
		if err != nil {
			return r, fmt.Errorf("PROPOSAL %v: %w", qp.Zxid, err)
		}
		z := e.Hdr.Zxid
		if z != l.lastQueued+1 && !(z.Counter() == 1 && z.Epoch() > l.lastQueued.Epoch()) {
			r.Warnings = append(r.Warnings, fmt.Sprintf("Got zxid %v out of sequence, expected %v", z, l.lastQueued+1))
		}
		l.lastQueued = z
		next, err := l.view.configOfTxn(&e)
		if err != nil {
			return r, err
		}
		r.NextConfig = l.view.seen(next)
		l.notCommitted = append(l.notCommitted, &e)
	case wire.PacketCommit, wire.PacketCommitAndActivate:
		if e := l.pendingTxn(qp.Zxid); qp.Type == wire.PacketCommitAndActivate && e != nil {
			d, err := designatedOf(qp)
			if err != nil {
				return r, err
			}
			next, err := l.view.configOfTxn(e)
			if err == nil && next == nil && l.view.Config != nil {
				err = fmt.Errorf("%w: COMMITANDACTIVATE %v for a txn that is not a reconfig", ErrReconfigData, qp.Zxid)
			}
			if err != nil {
				return r, err
			}
			if a := l.view.activate(next, qp.Zxid, d); a != nil {
				r.Activations = append(r.Activations, *a)
				if a.Leave {
					return r, nil
				}
			}
		}
		if l.writeToLog {
			l.committed = append(l.committed, qp.Zxid)
			break
		}
		if len(l.notCommitted) == 0 || l.notCommitted[0].Hdr.Zxid != qp.Zxid {
			next := wire.Zxid(-1)
			if len(l.notCommitted) > 0 {
				next = l.notCommitted[0].Hdr.Zxid
			}
			r.Warnings = append(r.Warnings, fmt.Sprintf("Committing %v, which is not the next proposal (%v)", qp.Zxid, next))
			break
		}
		r.Apply = append(r.Apply, l.notCommitted[0])
		l.notCommitted = l.notCommitted[1:]
	case wire.PacketInform, wire.PacketInformAndActivate:
		data := qp.Data
		if qp.Type == wire.PacketInformAndActivate {
			if len(data) < 8 {
				return r, fmt.Errorf("INFORMANDACTIVATE %v: short data", qp.Zxid)
			}
			data = data[8:]
		}
		e, err := wire.DecodeTxnEntry(data, l.cfg.MaxRecord)
		if err != nil {
			return r, fmt.Errorf("INFORM %v: %w", qp.Zxid, err)
		}
		if qp.Type == wire.PacketInformAndActivate {
			d, _ := designatedOf(qp)
			next, err := l.view.configOfTxn(&e)
			if err == nil && next == nil && l.view.Config != nil {
				err = fmt.Errorf("%w: INFORMANDACTIVATE %v is not a reconfig", ErrReconfigData, qp.Zxid)
			}
			if err != nil {
				return r, err
			}
			if a := l.view.activate(next, qp.Zxid, d); a != nil {
				r.Activations = append(r.Activations, *a)
				if a.Leave {
					return r, nil
				}
			}
		}
		if qp.Type == wire.PacketInform {
			if e.Hdr.Zxid != l.lastQueued+1 {
				r.Warnings = append(r.Warnings, fmt.Sprintf("Got zxid %v out of sequence, expected %v", e.Hdr.Zxid, l.lastQueued+1))
			}
			l.lastQueued = e.Hdr.Zxid
		}
		if !l.writeToLog {
			r.Apply = append(r.Apply, &e)
		} else {
			l.notCommitted = append(l.notCommitted, &e)
			l.committed = append(l.committed, qp.Zxid)
		}
	case wire.PacketNewLeader:
		if l.state == LearnerAfterNewLeader {
			r.Warnings = append(r.Warnings, "second NEWLEADER during sync; ignoring")
			break
		}
		l.state = LearnerAfterNewLeader
		if len(qp.Data) > 1 {
			// Learner.syncWithLeader: NEWLEADER's configuration is the
			// last seen one, activated at UPTODATE (a text that does not
			// read is only reported, as Java prints it and goes on).
			if c, err := l.view.parse(qp.Data); err != nil {
				r.Warnings = append(r.Warnings, "NEWLEADER configuration: "+err.Error())
			} else {
				r.NextConfig, l.newLeaderQV = l.view.seen(c), c
			}
		}
		r.WriteSnapshot = l.mode != wire.PacketDiff
		l.writeToLog = true
		if !l.cfg.Observer && len(l.notCommitted) > 0 && !sabotaged(sabAckBeforeSync) {
			// ZOOKEEPER-3911/4643/4646: the proposals are durable before
			// the NEWLEADER ACK.
			r.Append = l.notCommitted
			l.logged = l.notCommitted
			l.notCommitted = nil
		}
		l.hard.CurrentEpoch = l.newEpoch
		h := l.hard
		r.HardState = &h
		r.Messages = append(r.Messages, wire.QuorumPacket{Type: wire.PacketAck, Zxid: l.newLeaderZxid()})
	case wire.PacketUpToDate:
		if l.state != LearnerAfterNewLeader {
			return r, errors.New("UPTODATE before NEWLEADER (pre-Zab-1.0 leader?)")
		}
		if c := l.newLeaderQV; c != nil {
			l.newLeaderQV = nil
			if a := l.view.activate(c, l.newLeaderZxid(), -1); a != nil {
				r.Activations = append(r.Activations, *a)
				if a.Leave {
					return r, nil
				}
			}
		}
		l.state = LearnerSynced
		// ACK the UPTODATE, then the proposals logged at NEWLEADER.
		r.Messages = append(r.Messages, wire.QuorumPacket{Type: wire.PacketAck, Zxid: l.newLeaderZxid()})
		for _, e := range l.logged {
			r.Messages = append(r.Messages, wire.QuorumPacket{Type: wire.PacketAck, Zxid: e.Hdr.Zxid})
		}
	case wire.PacketPing:
		// Not answered during a sync: the first packet after ACKEPOCH
		// must be the NEWLEADER ACK.
	default:
		r.Warnings = append(r.Warnings, fmt.Sprintf("ignoring unexpected %v during sync", qp.Type))
	}
	return r, nil
}

func (l *LearnerSync) stepLeaderInfo(qp *wire.QuorumPacket) (LearnerReady, error) {
	var r LearnerReady
	if qp.Type != wire.PacketLeaderInfo {
		// Pre-Zab-1.0 leaders send NEWLEADER here; 3.4+ never do.
		return r, fmt.Errorf("first packet from the leader is %v, not LEADERINFO", qp.Type)
	}
	// As Java reads it: an epoch with the top bit set is negative.
	newEpoch := int64(qp.Zxid) >> 32
	if _, err := wire.ParseEpochData(qp.Data); err != nil {
		return r, fmt.Errorf("LEADERINFO: %w", err)
	}
	var reply int32
	switch {
	case newEpoch > l.hard.AcceptedEpoch:
		reply = int32(l.hard.CurrentEpoch)
		l.hard.AcceptedEpoch = newEpoch
		if sabotaged(sabEpochBeforeLog) && !l.cfg.Observer {
			l.hard.CurrentEpoch = newEpoch
		}
		h := l.hard
		r.HardState = &h
	case newEpoch == l.hard.AcceptedEpoch:
		// Already acked this epoch: -1 says "don't count me again".
		reply = -1
	default:
		return r, fmt.Errorf("leaders epoch, %d, is less than accepted epoch, %d", newEpoch, l.hard.AcceptedEpoch)
	}
	l.newEpoch = newEpoch
	l.state = LearnerSyncMode
	r.Messages = []wire.QuorumPacket{{Type: wire.PacketAckEpoch, Zxid: l.cfg.LastLogged, Data: wire.EpochData(reply)}}
	return r, nil
}

func (l *LearnerSync) stepSyncMode(qp *wire.QuorumPacket) (LearnerReady, error) {
	var r LearnerReady
	switch qp.Type {
	case wire.PacketDiff:
		l.lastQueued = l.cfg.LastLogged
		// A DIFF's txns go to the log; their commits wait for broadcast.
		l.writeToLog = true
	case wire.PacketSnap:
		r.ReceiveSnapshot, r.SnapshotZxid = true, qp.Zxid
		l.lastQueued = qp.Zxid
	case wire.PacketTrunc:
		r.Truncate, r.TruncateTo = true, qp.Zxid
		l.lastQueued = qp.Zxid
	default:
		// Java calls System.exit(13) here.
		return r, fmt.Errorf("%w: got unexpected packet from leader: %v, expected DIFF, SNAP or TRUNC", ErrLearnerFatal, qp.Type)
	}
	l.mode = qp.Type
	l.state = LearnerBeforeNewLeader
	return r, nil
}
