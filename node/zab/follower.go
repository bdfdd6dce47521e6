package zab

import (
	"errors"
	"fmt"

	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/wire"
)

// The broadcast phase of a follower or an observer (Follower.processPacket,
// Observer.processPacket, FollowerZooKeeperServer's pending txns and the
// SendAckRequestProcessor): what each packet from the leader asks the
// learner to log, apply, answer or hand to the server layer.

// ErrCommitMismatch marks a COMMIT for a zxid that is not the oldest
// pending proposal. Java logs "Committing zxid 0x.. but next pending txn
// 0x.." and exits the process (UNMATCHED_TXN_COMMIT, code 12); zkgo's
// driver logs the same and drops the leader to sync again
// (compat-tests/DIFFERENCES.md row 12).
var ErrCommitMismatch = errors.New("zab: COMMIT does not match the next pending proposal")

// BroadcastConfig configures a Broadcast.
type BroadcastConfig struct {
	Observer bool
	// LastZxid is the last zxid of the database the sync built (the
	// learner's last processed zxid).
	LastZxid wire.Zxid
	// MaxRecord bounds the lengths in a txn (jute.maxbuffer).
	MaxRecord int
}

// BroadcastReady is what one step of a Broadcast asks the driver to do,
// in this order: write NextConfig and Activations (dynamic
// reconfiguration; see LearnerView), append Append to the txn log (a follower ACKs each one
// when the driver reports it durable, Durable; an observer does not ACK),
// send Messages to the leader, then apply Apply to the database in order
// (committed txns: the leader had a quorum for them, so a follower applies
// them whether or not its own copy is durable yet, as Java's
// CommitProcessor does).
type BroadcastReady struct {
	// NextConfig: a reconfig proposal's configuration, now the last seen
	// one; the driver writes it as the .next file before anything else
	// (Follower.processPacket's setLastSeenQuorumVerifier).
	NextConfig *quorum.Config
	// Activations: configurations activated (LearnerActivation), written
	// and switched to before Apply; one with Leave means leaving the
	// leader once this Ready is carried out.
	Activations []LearnerActivation
	Append      []*wire.TxnEntry
	Messages    []wire.QuorumPacket
	Apply       []*wire.TxnEntry
	// Ping is the leader's PING, to be answered with the sessions touched
	// since the last one (Learner.ping; the server layer's table).
	Ping *wire.QuorumPacket
	// Revalidate is the leader's answer to a REVALIDATE, for the server
	// layer (the client waiting for it).
	Revalidate *wire.QuorumPacket
	// Sync: the leader answered the oldest client sync forwarded to it.
	Sync bool
	// Warnings are unexpected but harmless things, for the log.
	Warnings []string
	// Errors are things Java logs at ERROR and goes on from.
	Errors []string
}

// Broadcast is a learner's broadcast phase, from UPTODATE until the link
// to the leader ends.
type Broadcast struct {
	cfg        BroadcastConfig
	view       LearnerView
	lastQueued wire.Zxid
	// pending are a follower's logged proposals waiting for their COMMIT,
	// in zxid order; acks, those whose ACK waits for their fsync.
	pending []*wire.TxnEntry
	acks    []wire.Zxid
}

// NewBroadcast starts the broadcast phase from a sync's outcome: the
// proposals logged at NEWLEADER wait for their COMMITs; a follower logs
// the proposals that came after NEWLEADER (ACKed once durable) and applies
// the COMMITs seen so far, in order; an observer logs and applies each txn
// that came with its COMMIT (INFORM). The Ready is to be carried out as
// any other; an error is to be handled as Step's.
func NewBroadcast(cfg BroadcastConfig, sy Synced) (*Broadcast, BroadcastReady, error) {
	b := &Broadcast{cfg: cfg, view: sy.View, lastQueued: cfg.LastZxid}
	var r BroadcastReady
	b.pending = append(b.pending, sy.Logged...)
	for _, e := range sy.Logged {
		b.lastQueued = e.Hdr.Zxid
	}
	if !cfg.Observer {
		for _, e := range sy.NotCommitted {
			b.logProposal(&r, e)
		}
		for _, z := range sy.Committed {
			if err := b.commit(&r, z); err != nil {
				return b, r, err
			}
		}
		return b, r, nil
	}
	committed := sy.Committed
	for _, e := range sy.NotCommitted {
		b.lastQueued = e.Hdr.Zxid
		if len(committed) == 0 || committed[0] != e.Hdr.Zxid {
			r.Warnings = append(r.Warnings, fmt.Sprintf("proposal %v without a matching commit after sync; skipping", e.Hdr.Zxid))
			continue
		}
		committed = committed[1:]
		r.Append = append(r.Append, e)
		r.Apply = append(r.Apply, e)
	}
	return b, r, nil
}

// Observer reports whether this is an observer's broadcast.
func (b *Broadcast) Observer() bool { return b.cfg.Observer }

// LastQueued is the newest proposal (or INFORM) received.
func (b *Broadcast) LastQueued() wire.Zxid { return b.lastQueued }

// Pending is the number of logged proposals waiting for their COMMIT.
func (b *Broadcast) Pending() int { return len(b.pending) }

func (b *Broadcast) logProposal(r *BroadcastReady, e *wire.TxnEntry) {
	b.pending = append(b.pending, e)
	b.lastQueued = max(b.lastQueued, e.Hdr.Zxid)
	if sabotaged(sabAckBeforeFsync) {
		r.Messages = append(r.Messages, wire.QuorumPacket{Type: wire.PacketAck, Zxid: e.Hdr.Zxid})
	} else {
		b.acks = append(b.acks, e.Hdr.Zxid)
	}
	r.Append = append(r.Append, e)
}

// commit takes the oldest pending proposal off for a COMMIT of z
// (FollowerZooKeeperServer.commit).
func (b *Broadcast) commit(r *BroadcastReady, z wire.Zxid) error {
	if len(b.pending) == 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("Committing %v without seeing txn", z))
		return nil
	}
	e := b.pending[0]
	if e.Hdr.Zxid != z {
		return fmt.Errorf("%w: Committing zxid %v but next pending txn %v", ErrCommitMismatch, z, e.Hdr.Zxid)
	}
	b.pending[0] = nil
	b.pending = b.pending[1:]
	if len(b.pending) == 0 {
		b.pending = nil
	}
	r.Apply = append(r.Apply, e)
	return nil
}

// Durable reports that the txn log is durable up to z: the ACKs of the
// proposals logged up to z (SendAckRequestProcessor), in zxid order.
func (b *Broadcast) Durable(z wire.Zxid) BroadcastReady {
	var r BroadcastReady
	i := 0
	for i < len(b.acks) && b.acks[i] <= z {
		r.Messages = append(r.Messages, wire.QuorumPacket{Type: wire.PacketAck, Zxid: b.acks[i]})
		i++
	}
	b.acks = b.acks[i:]
	if len(b.acks) == 0 {
		b.acks = nil
	}
	return r
}

// Step takes one packet from the leader. An error means the learner
// leaves this leader (a packet that does not decode, a COMMIT that does
// not match: ErrCommitMismatch).
func (b *Broadcast) Step(qp *wire.QuorumPacket) (BroadcastReady, error) {
	var r BroadcastReady
	switch qp.Type {
	case wire.PacketPing:
		r.Ping = qp
	case wire.PacketProposal:
		if b.cfg.Observer {
			r.Warnings = append(r.Warnings, fmt.Sprintf("Ignoring proposal %v", qp.Zxid))
			break
		}
		e, err := wire.DecodeTxnEntry(qp.Data, b.cfg.MaxRecord)
		if err != nil {
			return r, fmt.Errorf("PROPOSAL %v does not decode: %w", qp.Zxid, err)
		}
		z := e.Hdr.Zxid
		if z != b.lastQueued+1 && !(z.Counter() == 1 && z.Epoch() > b.lastQueued.Epoch()) {
			r.Warnings = append(r.Warnings, fmt.Sprintf("Got zxid %v out of sequence, expected %v", z, b.lastQueued+1))
		}
		b.lastQueued = z
		next, err := b.view.configOfTxn(&e)
		if err != nil {
			return r, err
		}
		r.NextConfig = b.view.seen(next)
		b.logProposal(&r, &e)
	case wire.PacketCommit, wire.PacketCommitAndActivate:
		if b.cfg.Observer {
			r.Warnings = append(r.Warnings, fmt.Sprintf("Ignoring commit %v", qp.Zxid))
			break
		}
		if qp.Type == wire.PacketCommitAndActivate {
			// Follower.processPacket: the configuration of the oldest
			// pending txn is activated, then it commits.
			d, err := designatedOf(qp)
			if err != nil {
				return r, err
			}
			if len(b.pending) == 0 {
				return r, fmt.Errorf("COMMITANDACTIVATE %v with no pending txn", qp.Zxid)
			}
			next, err := b.view.configOfTxn(b.pending[0])
			if err == nil && next == nil && b.view.Config != nil {
				err = fmt.Errorf("%w: COMMITANDACTIVATE %v for txn %v, not a reconfig", ErrReconfigData, qp.Zxid, b.pending[0].Hdr.Zxid)
			}
			if err != nil {
				return r, err
			}
			if a := b.view.activate(next, qp.Zxid, d); a != nil {
				r.Activations = append(r.Activations, *a)
			}
		}
		if err := b.commit(&r, qp.Zxid); err != nil {
			return r, err
		}
	case wire.PacketInform, wire.PacketInformAndActivate:
		if !b.cfg.Observer {
			r.Warnings = append(r.Warnings, fmt.Sprintf("Unknown packet type %v", qp.Type))
			break
		}
		data := qp.Data
		if qp.Type == wire.PacketInformAndActivate {
			if len(data) < 8 {
				return r, errors.New("INFORMANDACTIVATE without a leader id")
			}
			data = data[8:]
		}
		e, err := wire.DecodeTxnEntry(data, b.cfg.MaxRecord)
		if err != nil {
			return r, fmt.Errorf("INFORM %v does not decode: %w", qp.Zxid, err)
		}
		if qp.Type == wire.PacketInformAndActivate {
			// Observer.processPacket: activate, then apply.
			d, _ := designatedOf(qp)
			next, err := b.view.configOfTxn(&e)
			if err == nil && next == nil && b.view.Config != nil {
				err = fmt.Errorf("%w: INFORMANDACTIVATE %v is not a reconfig", ErrReconfigData, qp.Zxid)
			}
			if err != nil {
				return r, err
			}
			if a := b.view.activate(next, qp.Zxid, d); a != nil {
				r.Activations = append(r.Activations, *a)
			}
		}
		b.lastQueued = e.Hdr.Zxid
		r.Append = append(r.Append, &e)
		r.Apply = append(r.Apply, &e)
	case wire.PacketUpToDate:
		r.Errors = append(r.Errors, "Received an UPTODATE message after the learner started")
	case wire.PacketRevalidate:
		r.Revalidate = qp
	case wire.PacketSync:
		r.Sync = true
	default:
		r.Warnings = append(r.Warnings, fmt.Sprintf("Unknown packet type %v", qp.Type))
	}
	return r, nil
}

// View is the learner's view after the packets stepped so far (its
// committed configuration, role and leader).
func (b *Broadcast) View() LearnerView { return b.view }
