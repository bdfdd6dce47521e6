package node

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// The leader's side of a learner's sync (LearnerHandler.syncFollower,
// spec §4.5): zab.PlanSync decides from the committed-txn window
// (zab.CommittedLog) and the txn log; this queues what it decided, holds
// the proposals that would reach a syncing follower too early, counts the
// sync against the throttle, reads the txn log and walks the tree for a
// SNAP.

// syncLearner syncs a learner whose ACKEPOCH came in: zab.PlanSync
// decides DIFF, TRUNC or SNAP and the packets before NEWLEADER; this queues
// them, starts forwarding to the learner and queues NEWLEADER (for a SNAP,
// once the tree walk is done).
func (s *Server) syncLearner(h *learnerHandler) {
	ld := s.leader
	if !s.applyIdle() || h.readingLog {
		// A txn is committed but not yet in the tree nor among the
		// proposals to forward: sync once it is (resumeLearnerSyncs). Or
		// the txn log is being read for this learner: sync when it is.
		return
	}
	fromLog := h.fromLog
	h.fromLog = nil
	peer := h.peerLastZxid
	lastProcessed := s.tree.LastZxid
	in := zab.SyncInput{Peer: peer, LastProcessed: lastProcessed, Committed: s.committed.Window(),
		ForceSnap: ld.forceSnapSync, TxnLog: ld.snapSizeFactor >= 0}
	if fromLog != nil && fromLog.peer == peer {
		in.LogRead, in.FromLog = true, fromLog.entries
	}
	plan := zab.PlanSync(in)
	h.log.Info().Str("peer_last_zxid", peer.String()).Str("min_committed", plan.MinCommitted.String()).
		Str("max_committed", plan.MaxCommitted.String()).Str("last_processed", lastProcessed.String()).Msg("Synchronizing with learner")
	if plan.ReadTxnLog {
		// The log may hold up to snapshotSizeFactor x the snapshot: read
		// it on a goroutine, and plan again when it is read (the committed
		// window may have moved on by then: a gap between the two falls
		// back to a snapshot).
		s.readLogForSync(h, peer, ld.snapSizeFactor)
		return
	}
	logSyncPlan(h, &plan)
	needSnap := plan.Mode == wire.PacketSnap
	if !s.beginSync(h, needSnap) {
		return
	}
	h.syncMode = plan.Mode
	if needSnap {
		if err := s.startSnapSync(h); err != nil {
			s.dropHandler(h, "cannot prepare the snapshot: "+err.Error())
			return
		}
	}
	h.queue(plan.Packets...)
	s.startForwarding(h, plan.LastSeen)
	if h.gone {
		return
	}
	h.state = hsNewLeader
	s.peer.stats.syncs["leader-"+h.syncMode.String()]++
	if !needSnap {
		s.queueNewLeader(h)
	}
	// A SNAP learner gets NEWLEADER when the walk is done (advanceSnapSyncs).
}

// logSyncPlan logs a learner's sync plan as LearnerHandler.syncFollower
// does.
func logSyncPlan(h *learnerHandler, plan *zab.SyncPlan) {
	switch plan.Reason {
	case zab.SyncForced:
		h.log.Warn().Msg("Forcing snapshot sync - should not see this in production")
	case zab.SyncLogGap:
		h.log.Info().Str("end_of_log", plan.EndOfLog.String()).Str("min_committed", plan.MinCommitted.String()).
			Msg("gap between the end of the txn log and the committed log; sending a snapshot")
	case zab.SyncTruncAcrossEpochs:
		h.log.Warn().Msg("Cannot send TRUNC to peer: peer zxid is from a different epoch")
		h.log.Error().Msg("Unhandled scenario for peer sid: fall back to use snapshot")
	case zab.SyncUnhandled:
		h.log.Warn().Str("peer_last_zxid", h.peerLastZxid.String()).Msg("Unhandled scenario for peer; sending a snapshot")
	}
	if plan.Mode != wire.PacketSnap {
		h.log.Info().Str("zxid", plan.Packets[0].Zxid.String()).Str("reason", plan.Reason.String()).
			Msg("Sending " + plan.Mode.String())
	}
}

// queueNewLeader queues NEWLEADER for a learner whose sync packets are all
// queued, and starts pinging it. For a SNAP that is once the tree walk is
// complete, as LearnerHandler.run queues NEWLEADER only after
// serializeSnapshot: every txn committed during the walk (already in the
// fuzzy snapshot) is then forwarded before NEWLEADER, where the learner
// applies it without comparing digests, and every txn after NEWLEADER
// changes the snapshot's tree, so its digest must match.
//
// The proposals held for a follower (holdProposal) that are still not
// committed go right after NEWLEADER, in zxid order; their COMMITs follow
// when they commit. O(held).
func (s *Server) queueNewLeader(h *learnerHandler) {
	h.queue(wire.QuorumPacket{Type: wire.PacketNewLeader, Zxid: s.leader.newLeaderZxid(), Data: []byte(s.cfg.Quorum.Text())})
	h.syncStarted = true
	if len(h.held) > 0 {
		pkts := make([]wire.QuorumPacket, len(h.held))
		for i, p := range h.held {
			pkts[i] = wire.QuorumPacket{Type: wire.PacketProposal, Zxid: p.entry.Hdr.Zxid, Data: p.data}
		}
		h.held = nil
		h.queue(pkts...)
	}
	if hook := s.cfg.NewLeaderQueued; hook != nil {
		hook(h.sid)
	}
}

// holdProposal keeps a proposal forwarded to a follower whose NEWLEADER is
// not queued yet, instead of queueing it. Java 3.8.0's learner
// (Learner.syncWithLeader) forgets the proposals it got before NEWLEADER
// when NEWLEADER arrives, and a COMMIT after NEWLEADER with no PROPOSAL
// after NEWLEADER then dereferences a null ("pif" is null) and kills the
// follower (ZOOKEEPER-4394, fixed in 3.9). So a follower never gets a
// PROPOSAL before NEWLEADER whose COMMIT would come after it: a held
// proposal goes out with its COMMIT when it commits (releaseHeld), or right
// after NEWLEADER (queueNewLeader). Until then the follower cannot ACK it,
// and no ACK of it is expected. Observers get no proposals, only INFORMs,
// which Java's learner handles in any position.
func (s *Server) holdProposal(h *learnerHandler, p *proposal) {
	if len(h.held) >= linkQueueLimit {
		s.dropHandler(h, "too many proposals held for the learner while it syncs")
		return
	}
	h.held = append(h.held, p)
}

// releaseHeld queues PROPOSAL and COMMIT of a committed proposal for a
// follower whose NEWLEADER is not queued yet. Commits come in zxid order,
// and every proposal after the point its sync covers was held in zxid
// order, so p is the oldest held one.
func (s *Server) releaseHeld(h *learnerHandler, p *proposal) {
	z := p.entry.Hdr.Zxid
	if len(h.held) == 0 || h.held[0] != p {
		// Cannot happen: nothing is committed at or below the zxid the
		// sync starts forwarding from. A COMMIT alone would leave the
		// follower without the txn; it syncs again instead.
		s.dropHandler(h, fmt.Sprintf("committed proposal %v was not forwarded to the syncing learner", z))
		return
	}
	h.held[0] = nil
	h.held = h.held[1:]
	if len(h.held) == 0 {
		h.held = nil
	}
	h.queue(wire.QuorumPacket{Type: wire.PacketProposal, Zxid: z, Data: p.data},
		wire.QuorumPacket{Type: wire.PacketCommit, Zxid: z})
}

// resumeLearnerSyncs syncs the learners that waited for the committed txns
// to be applied.
func (s *Server) resumeLearnerSyncs() {
	ld := s.leader
	if !ld.zab.EpochAcked() {
		return
	}
	for h := range ld.handlers {
		if h.state == hsWaitSync && !h.gone {
			s.syncLearner(h)
		}
	}
}

// beginSync counts h's sync against the leader's SNAP or DIFF throttle
// (LearnerSyncThrottler.beginSync). Followers are exempt, so the quorum
// can always form, but are counted; an observer over the limit is
// disconnected before anything of the sync is sent, and comes back later.
func (s *Server) beginSync(h *learnerHandler, snap bool) bool {
	ld := s.leader
	th, kind := &ld.diffSyncs, "DIFF"
	if snap {
		th, kind = &ld.snapSyncs, "SNAP"
	}
	exempt := !h.observer
	if !th.Begin(exempt) {
		h.log.Error().Str("sync", kind).Int("in_progress", th.InProgress()+1).Int("max", th.Max).
			Msg("too many concurrent sync.")
		s.peer.stats.syncs["leader-throttled"]++
		s.dropHandler(h, fmt.Sprintf("too many concurrent %s syncs (%d > %d)", kind, th.InProgress()+1, th.Max))
		return false
	}
	h.throttledBy = th
	h.log.Info().Str("sync", kind).Int("concurrent", th.InProgress()).Bool("exempt_from_throttle", exempt).Msg("sync counted")
	return true
}

// endSync releases the count beginSync took for h, if any.
func endSync(h *learnerHandler) {
	if h.throttledBy != nil {
		h.throttledBy.End()
		h.throttledBy = nil
	}
}

// startForwarding adds the learner to the broadcast (Leader.startForwarding).
// A follower's proposals not yet committed are held (holdProposal) until
// they commit or its NEWLEADER is queued, unlike Java, which queues them
// before NEWLEADER (DIFFERENCES row 35).
func (s *Server) startForwarding(h *learnerHandler, lastSeen wire.Zxid) {
	ld := s.leader
	if ld.outstanding.LastProposed() > lastSeen && !h.observer {
		for _, p := range s.inflight {
			if p.entry.Hdr.Zxid <= lastSeen || p.data == nil {
				continue
			}
			s.holdProposal(h, p)
		}
	}
	h.forwarding = true
}

// readLogForSync reads the txn log for h's DIFF on a goroutine and hands
// the result back to the owner through the learners' channel.
func (s *Server) readLogForSync(h *learnerHandler, peer wire.Zxid, factor float64) {
	ld := s.leader
	h.readingLog = true
	log := h.log
	snapDir, logDir, limit := s.snapDir(), s.logDir(), s.cfg.RecordLimit()
	s.goRoutine(func() {
		msg := handlerMsg{h: h, logRead: &logRead{peer: peer, entries: proposalsFromLog(log, snapDir, logDir, limit, peer, factor)}}
		select {
		case ld.in <- msg:
		case <-h.closed:
		case <-s.quit:
		}
	})
}

// proposalsFromLog reads the committed txns from the txn log starting at
// peer (ZKDatabase.getProposalsFromTxnLog): nothing when the log does not
// hold peer itself, or when the logs to read are larger than factor times
// the newest snapshot. Runs off the owner goroutine (readLogForSync): a
// log of snapshotSizeFactor x a large snapshot takes seconds to read.
// limit bounds a record (Config.RecordLimit).
func proposalsFromLog(log zerolog.Logger, snapDir, logDir string, limit int, peer wire.Zxid, factor float64) []zab.Committed {
	var sizeLimit int64
	if snaps, err := storage.ListSnapshots(snapDir); err == nil && len(snaps) > 0 {
		if st, err := os.Stat(snaps[0].Path); err == nil {
			sizeLimit = int64(float64(st.Size()) * factor)
		}
	}
	logs, err := storage.ListLogs(logDir)
	if err != nil || len(logs) == 0 {
		return nil
	}
	files := storage.LogsFrom(logs, peer)
	if sizeLimit > 0 {
		var total int64
		for _, f := range files {
			if st, err := os.Stat(f.Path); err == nil {
				total += st.Size()
			}
		}
		if total > sizeLimit {
			log.Info().Int64("txnlog_size", total).Int64("limit", sizeLimit).Msg("Txnlog size exceeds sizeLimit")
			return nil
		}
	}
	lr := storage.NewLogReader(files, limit)
	defer lr.Close()
	var out []zab.Committed
	for {
		rec, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, storage.ErrCorruptLog) {
			// Damage, or the end of the file being appended to right now:
			// what was read is contiguous, and the caller syncs by SNAP
			// unless it reaches the committed log.
			log.Warn().Err(err).Msg("txn log unreadable from here; using what precedes it for a sync")
			break
		}
		if err != nil {
			log.Warn().Err(err).Msg("reading the txn log for a sync")
			return nil
		}
		z := rec.Entry.Hdr.Zxid
		if n := len(out); n > 0 && (z <= out[n-1].Zxid || (z.Epoch() == out[n-1].Zxid.Epoch() && z != out[n-1].Zxid+1)) {
			// A DIFF across a hole would skip txns: sync by SNAP instead.
			log.Warn().Str("zxid", z.String()).Str("previous", out[n-1].Zxid.String()).Str("file", rec.File).
				Msg("txn log is not contiguous; not using it for a sync")
			return nil
		}
		if len(out) == 0 {
			if z > peer {
				log.Warn().Str("zxid", peer.String()).Msg("Unable to find proposals from txnlog")
				return nil
			}
			if z < peer {
				continue
			}
		}
		e := rec.Entry
		out = append(out, zab.NewCommitted(&e, nil))
	}
	return out
}

// startSnapSync begins spooling a fuzzy walk of the tree for h.
func (s *Server) startSnapSync(h *learnerHandler) error {
	sp, err := newSnapSpool(s.snapDir(), s.tree.LastZxid)
	if err != nil {
		return err
	}
	s.leader.snaps = append(s.leader.snaps, &snapSync{h: h, cur: s.tree.NewSnapshotCursor(), spool: sp})
	h.mu.Lock()
	h.snap = sp
	h.mu.Unlock()
	h.log.Info().Str("zxid", sp.zxid.String()).Msg("Sending snapshot")
	return nil
}

// advanceSnapSyncs spools the next part of every SNAP walk (end of each
// owner round); a finished walk gets its head (SNAP, sessions, ACL map)
// and its learner NEWLEADER, behind the txns committed during the walk.
func (s *Server) advanceSnapSyncs() {
	ld := s.leader
	if ld == nil || len(ld.snaps) == 0 {
		return
	}
	keep := ld.snaps[:0]
	held := false
	for _, sn := range ld.snaps {
		if gate := s.cfg.SnapSyncGate; gate != nil && !gate() {
			// Held by a test: tried again at the owner's next round
			// (without spinning: a tick or an event brings it).
			keep = append(keep, sn)
			held = true
			continue
		}
		if sn.tail == nil {
			// A round's chunk of the walk (as a background snapshot's).
			sn.w.Reset(sn.w.Bytes()[:0])
			done := sn.cur.Next(&sn.w, snapChunkNodes, snapChunkBytes)
			sn.spool.write(sn.w.Bytes())
			sn.spool.nodes = sn.cur.Nodes()
			if done {
				sn.tail = s.newTailCollector()
			}
			keep = append(keep, sn)
			continue
		}
		// Then the sessions and the ACL map, a round's worth at a time;
		// the handler's writer sorts and encodes them.
		if !sn.tail.step(roundTailEntries) {
			keep = append(keep, sn)
			continue
		}
		sn.cur.Release()
		sn.spool.finish(sn.tail.tail)
		sn.h.poke()
		s.queueNewLeader(sn.h)
		sn.h.log.Info().Int("nodes", sn.spool.nodes).Str("zxid", sn.spool.zxid.String()).Msg("snapshot for the learner spooled")
	}
	ld.snaps = keep
	if len(ld.snaps) > 0 && !held {
		s.poke()
	}
}
