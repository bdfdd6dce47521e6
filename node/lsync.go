package node

import (
	"errors"
	"io"
	"os"
	"sort"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// The leader's side of a learner's sync (LearnerHandler.syncFollower,
// spec §4.5): zab.PlanSync decides from the committed-txn window
// (zab.CommittedLog) and the txn log, and zab.Leader.StartSync carries the
// plan out (the throttle, the packets, the proposals held for a syncing
// follower, NEWLEADER); this reads the txn log and walks the tree for a
// SNAP.

// syncLearner plans the sync of a learner the leadership listed in
// Ready.Syncs (its ACKEPOCH came in and the epoch is current) and starts
// it (zab.Leader.StartSync).
func (ld *leaderDriver) syncLearner(h *learnerHandler) {
	s := ld.s
	if !s.sched.applyIdle() || h.readingLog {
		// A txn is committed but not yet in the tree nor among the
		// proposals to forward: sync once it is (resumeLearnerSyncs). Or
		// the txn log is being read for this learner: sync when it is.
		return
	}
	st, ok := ld.zab.Learner(h.link)
	if !ok || st.State != zab.HandlerWaitSync || !ld.zab.EpochAcked() {
		return
	}
	fromLog := h.fromLog
	h.fromLog = nil
	peer := st.LastZxid
	lastProcessed := s.tree.LastZxid
	in := zab.SyncInput{Peer: peer, LastProcessed: lastProcessed, Committed: s.qs.committed.Window(),
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
		ld.readLogForSync(h, peer, ld.snapSizeFactor)
		return
	}
	logSyncPlan(h, &plan, peer)
	snap := plan.Mode == wire.PacketSnap
	kind := "DIFF"
	if snap {
		kind = "SNAP"
	}
	err := ld.zab.StartSync(h.link, &plan)
	n, limit := ld.zab.SyncsInProgress(snap)
	switch {
	case errors.Is(err, zab.ErrSyncThrottled):
		h.log.Error().Str("sync", kind).Int("in_progress", n+1).Int("max", limit).Msg("too many concurrent sync.")
		s.qs.peer.stats.syncs["leader-throttled"]++
	case err != nil:
		h.log.Error().Err(err).Msg("sync not started")
	default:
		if st, ok := ld.zab.Learner(h.link); ok && st.State == zab.HandlerNewLeader {
			h.log.Info().Str("sync", kind).Int("concurrent", n).Bool("exempt_from_throttle", !st.Observer).Msg("sync counted")
			s.qs.peer.stats.syncs["leader-"+plan.Mode.String()]++
		}
	}
	ld.processLeaderReady()
}

// logSyncPlan logs a learner's sync plan as LearnerHandler.syncFollower
// does.
func logSyncPlan(h *learnerHandler, plan *zab.SyncPlan, peer wire.Zxid) {
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
		h.log.Warn().Str("peer_last_zxid", peer.String()).Msg("Unhandled scenario for peer; sending a snapshot")
	}
	if plan.Mode != wire.PacketSnap {
		h.log.Info().Str("zxid", plan.Packets[0].Zxid.String()).Str("reason", plan.Reason.String()).
			Msg("Sending " + plan.Mode.String())
	}
}

// resumeLearnerSyncs syncs the learners that waited for the committed txns
// to be applied.
func (ld *leaderDriver) resumeLearnerSyncs() {
	if !ld.zab.EpochAcked() {
		return
	}
	for _, st := range ld.zab.Learners() {
		if h := ld.links[st.Link]; h != nil && st.State == zab.HandlerWaitSync && !h.gone {
			ld.syncLearner(h)
		}
	}
}

// readLogForSync reads the txn log for h's DIFF on a goroutine and hands
// the result back to the owner through the learners' channel.
func (ld *leaderDriver) readLogForSync(h *learnerHandler, peer wire.Zxid, factor float64) {
	s := ld.s
	h.readingLog = true
	log := h.log
	snapDir, logDir, limit := s.dur.snapDir(), s.dur.logDir(), s.cfg.RecordLimit()
	s.lp.goRoutine(func() {
		msg := handlerMsg{h: h, logRead: &logRead{peer: peer, entries: proposalsFromLog(log, snapDir, logDir, limit, peer, factor)}}
		select {
		case ld.in <- msg:
		case <-h.closed:
		case <-s.lp.quit:
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
	snaps, err := storage.ListSnapshots(snapDir)
	if err != nil {
		log.Warn().Err(err).Msg("listing the snapshots for a sync")
		return nil
	}
	if len(snaps) > 0 {
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
		if n := len(out); n > 0 && logHole(out[n-1].Zxid, z) {
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
	if n := len(out); n > 0 {
		// A snapshot the read passes must be at one of its txns: one that
		// is not came from elsewhere (a SNAP sync), and the log around it
		// is not this server's history (txns of an old epoch it logged
		// and the leader's snapshot superseded, maybe never committed).
		for _, sn := range snaps {
			z := sn.Zxid
			if z <= peer || z > out[n-1].Zxid || z.Counter() == 0 {
				continue
			}
			if i := sort.Search(n, func(i int) bool { return out[i].Zxid >= z }); out[i].Zxid != z {
				log.Warn().Str("snapshot", sn.Path).Str("peer_last_zxid", peer.String()).
					Msg("txn log does not hold the zxid of a snapshot it passes; not using it for a sync")
				return nil
			}
		}
	}
	return out
}

// logHole reports whether the txn log's record z after prev leaves txns
// out (or goes back): within an epoch zxids are consecutive, and an
// epoch's first txn has counter 1 (a log that jumps into a new epoch
// elsewhere skips that epoch's first txns, which a SNAP brought).
func logHole(prev, z wire.Zxid) bool {
	if z <= prev {
		return true
	}
	if z.Epoch() == prev.Epoch() {
		return z != prev+1
	}
	return z.Counter() != 1
}

// startSnapSync begins spooling a fuzzy walk of the tree for h.
func (ld *leaderDriver) startSnapSync(h *learnerHandler) error {
	s := ld.s
	sp, err := newSnapSpool(s.dur.snapDir(), s.tree.LastZxid)
	if err != nil {
		return err
	}
	ld.snaps = append(ld.snaps, &snapSync{h: h, cur: s.tree.NewSnapshotCursor(), spool: sp})
	h.mu.Lock()
	h.snap = sp
	h.mu.Unlock()
	h.log.Info().Str("zxid", sp.zxid.String()).Msg("Sending snapshot")
	return nil
}

// advanceSnapSyncs spools the next part of every SNAP walk (end of each
// owner round); a finished walk gets its head (SNAP, sessions, ACL map)
// and its learner NEWLEADER, behind the txns committed during the walk.
func (ld *leaderDriver) advanceSnapSyncs() {
	if ld == nil || len(ld.snaps) == 0 {
		return
	}
	s := ld.s
	keep := ld.snaps[:0]
	held := false
	var spooled []zab.LinkID
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
				sn.tail = newTailCollector(s.sessions, s.tree)
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
		spooled = append(spooled, sn.h.link)
		sn.h.log.Info().Int("nodes", sn.spool.nodes).Str("zxid", sn.spool.zxid.String()).Msg("snapshot for the learner spooled")
	}
	ld.snaps = keep
	// NEWLEADER follows each spooled snapshot (once ld.snaps is whole
	// again: the Ready may drop a learner and its walk).
	for _, link := range spooled {
		ld.zab.SnapReady(link)
	}
	ld.processLeaderReady()
	if s.qs.leader == ld && len(ld.snaps) > 0 && !held {
		s.poke()
	}
}
