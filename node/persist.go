package node

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

// snapDir and logDir are the version-2 directories of dataDir and
// dataLogDir.
func (s *Server) snapDir() string { return storage.VersionDir(s.cfg.DataDir) }
func (s *Server) logDir() string  { return storage.VersionDir(s.cfg.DataLogDir) }

// loader restores a tree and session table from a snapshot.
type loader struct {
	t        *tree.Tree
	sessions map[wire.SessionID]int32
}

func (l *loader) Session(id wire.SessionID, to int32) error { l.sessions[id] = to; return nil }
func (l *loader) ACL(idx int64, acl []wire.ACL) error {
	l.t.ACLs().Put(idx, acl)
	return nil
}
func (l *loader) Node(path string, data []byte, acl int64, st *wire.StatPersisted) error {
	if !l.t.Restore(path, data, acl, *st) {
		return fmt.Errorf("invalid data tree: parent of %q missing", path)
	}
	return nil
}

// openStore loads the database from disk (newest valid snapshot plus the
// txn logs after it, as FileTxnSnapLog.restore does) and opens the txn log.
func (s *Server) openStore() (store, error) {
	snapDir, logDir := s.snapDir(), s.logDir()
	for _, d := range []string{snapDir, logDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("node: data directory: %w", err)
		}
	}
	start := time.Now()
	sessions := map[wire.SessionID]int32{}
	snaps, err := storage.ListSnapshots(snapDir)
	if err != nil {
		return nil, fmt.Errorf("node: list snapshots: %w", err)
	}
	var loaded *storage.SnapshotInfo
	tried := 0
	for _, f := range snaps {
		if tried == 100 {
			break
		}
		if !storage.LooksValid(f) {
			s.log.Warn().Str("file", f.Path).Msg("skipping invalid snapshot")
			continue
		}
		tried++
		l := &loader{t: tree.NewEmpty(s.opts), sessions: map[wire.SessionID]int32{}}
		info, err := storage.ReadSnapshot(f, l)
		if err != nil {
			s.log.Error().Err(err).Str("file", f.Path).Msg("problem reading snapshot; trying an older one")
			continue
		}
		l.t.ACLs().PurgeUnused()
		l.t.LastZxid = f.Zxid
		s.tree, sessions, loaded = l.t, l.sessions, &info
		break
	}
	logs, err := storage.ListLogs(logDir)
	if err != nil {
		return nil, fmt.Errorf("node: list txn logs: %w", err)
	}
	if loaded == nil && len(logs) > 0 && s.cfg.Properties["zookeeper.snapshot.trust.empty"] != "true" {
		return nil, fmt.Errorf("node: no snapshot found in %s but %d txn logs in %s; refusing to start "+
			"(set snapshot.trust.empty=true to start from the logs alone)", snapDir, len(logs), logDir)
	}
	if loaded == nil {
		s.tree = tree.New(s.opts)
	}
	replayed, err := s.replayLogs(logs, loaded, sessions)
	if err != nil {
		return nil, err
	}
	s.tree.EnsureSystemNodes()
	// Ephemerals of sessions that no longer exist (ZooKeeperServer.loadData).
	for _, id := range s.tree.EphemeralSessions() {
		if _, ok := sessions[id]; !ok {
			s.tree.KillSession(id, s.tree.LastZxid)
		}
	}
	now := s.nowMs()
	for id, to := range sessions {
		s.sessions.Add(id, to, now)
	}
	s.stats.loadTime = time.Since(start)
	l, err := storage.OpenTxnLog(logDir, storage.Options{PreAllocBytes: s.cfg.PreAllocSizeKB * 1024, ForceSync: s.cfg.ForceSync})
	if err != nil {
		return nil, err
	}
	st := newDiskStore(l, s.tree.LastZxid, s.log)
	s.zxid = s.tree.LastZxid
	// Java takes a snapshot at the end of loading (ZooKeeperServer.loadData).
	// A fresh directory needs one before any log is written (Java refuses
	// logs without a snapshot); otherwise it runs in the background.
	if loaded == nil {
		if err := s.snapshotNow(); err != nil {
			st.Close()
			return nil, err
		}
	} else if replayed > 0 {
		s.wantSnapshot = true
	}
	return st, nil
}

// replayLogs applies the logged txns after the snapshot, tolerating what a
// fuzzy snapshot already contains (FileTxnSnapLog.processTransaction).
func (s *Server) replayLogs(logs []storage.LogFile, snap *storage.SnapshotInfo, sessions map[wire.SessionID]int32) (int, error) {
	from := s.tree.LastZxid + 1
	lr := storage.NewLogReader(storage.LogsFrom(logs, from))
	defer lr.Close()
	n := 0
	var digestAt *storage.ZxidDigest
	if snap != nil && snap.Digest != nil {
		digestAt = snap.Digest
		s.checkSnapDigest(digestAt)
	}
	for {
		rec, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("node: reading txn log: %w", err)
		}
		h := &rec.Entry.Hdr
		if h.Zxid < from {
			continue
		}
		// Within an epoch zxids are consecutive: a jump means txns are
		// missing (a deleted or lost log file). Starting anyway would
		// silently drop acknowledged writes.
		if last := s.tree.LastZxid; h.Zxid.Epoch() == last.Epoch() && h.Zxid > last+1 {
			return n, fmt.Errorf("node: txn log gap: next txn is %v but the database is at %v (file %s); "+
				"a log file is missing or damaged", h.Zxid, last, rec.File)
		}
		switch h.Type {
		case wire.OpCreateSession:
			if c, ok := rec.Entry.Body.(*wire.CreateSessionTxn); ok {
				sessions[h.ClientID] = c.TimeOut
			}
		case wire.OpCloseSession:
			delete(sessions, h.ClientID)
		}
		s.tree.Apply(&rec.Entry)
		n++
		if rec.Entry.Digest != nil && rec.Entry.Digest.TreeDigest != int64(s.tree.Digest()) {
			s.stats.digestMismatches++
			s.log.Warn().Str("zxid", h.Zxid.String()).Uint64("ours", s.tree.Digest()).
				Int64("logged", rec.Entry.Digest.TreeDigest).Msg("tree digest differs from the txn's digest")
		}
		if digestAt != nil && digestAt.Zxid == h.Zxid {
			s.checkSnapDigest(digestAt)
		}
	}
	if lr.Torn {
		s.log.Warn().Str("file", lr.TornFile).Int64("offset", lr.TornOffset).
			Msg("last transaction was partial (torn write); truncating it")
		if err := storage.CutTornTail(lr.TornFile, lr.TornOffset); err != nil {
			return n, fmt.Errorf("node: truncate torn txn: %w", err)
		}
	}
	s.log.Info().Int("txns", n).Str("zxid", s.tree.LastZxid.String()).Msg("replayed txn log")
	return n, nil
}

// checkSnapDigest compares the tree digest with a snapshot's ZxidDigest
// when the tree has reached its zxid.
func (s *Server) checkSnapDigest(d *storage.ZxidDigest) {
	if d.Zxid != s.tree.LastZxid || d.Version != tree.DigestVersion {
		return
	}
	if d.Digest != s.tree.Digest() {
		s.stats.digestMismatches++
		s.log.Warn().Str("zxid", d.Zxid.String()).Uint64("ours", s.tree.Digest()).Uint64("snapshot", d.Digest).
			Msg("tree digest differs from the snapshot's digest")
	}
}

// snapshotNow writes a complete snapshot synchronously (startup only).
func (s *Server) snapshotNow() error {
	z := s.tree.LastZxid
	w, err := storage.NewSnapshotWriter(s.snapDir(), z, s.cfg.SnapCompression, true)
	if err != nil {
		return err
	}
	cur := s.tree.NewSnapshotCursor()
	defer cur.Release()
	var jw jute.Writer
	for {
		jw.Reset(jw.Bytes()[:0])
		done := cur.Next(&jw, 1<<30, 4<<20)
		if err := w.WriteNodes(jw.Bytes()); err != nil {
			w.Abort()
			return err
		}
		if done {
			break
		}
	}
	path, err := w.Finish(s.snapshotTail())
	if err != nil {
		return err
	}
	s.log.Info().Str("file", path).Int("nodes", cur.Nodes()).Msg("snapshot written")
	return nil
}

func (s *Server) snapshotTail() storage.SnapshotTail {
	var t storage.SnapshotTail
	for _, sess := range s.sessions.All() {
		t.Sessions = append(t.Sessions, wire.SessionTouch{SessionID: sess.ID, TimeoutMs: sess.TimeoutMs})
	}
	for _, a := range s.tree.SnapshotACLs() {
		t.ACLs = append(t.ACLs, storage.IndexedACL{Index: a.Index, ACL: a.ACL})
	}
	t.Digest = &storage.ZxidDigest{Zxid: s.tree.LastZxid, Version: tree.DigestVersion, Digest: s.tree.Digest()}
	return t
}

// Background snapshots. The owner goroutine encodes a bounded chunk of
// nodes per round and a writer goroutine streams them to disk, so client
// traffic keeps flowing while a large tree is written.

type snapMsg struct {
	nodes []byte
	tail  *storage.SnapshotTail
}

type snapJob struct {
	cur   *tree.SnapshotCursor
	ch    chan snapMsg
	zxid  wire.Zxid
	start time.Time
	sent  bool // tail sent
}

type snapResult struct {
	path  string
	zxid  wire.Zxid
	nodes int
	took  time.Duration
	err   error
}

// countTxnForSnapshot is SyncRequestProcessor's trigger: a snapshot after
// snapCount/2 + random(snapCount/2) txns.
func (s *Server) countTxnForSnapshot() {
	s.txnsSinceSnap++
	if s.snapRoll == 0 {
		s.snapRoll = 1 + rand.IntN(max(1, s.cfg.SnapCount/2))
	}
	if s.txnsSinceSnap > s.cfg.SnapCount/2+s.snapRoll {
		s.wantSnapshot = true
	}
}

// maybeStartSnapshot starts a background snapshot when one is due.
func (s *Server) maybeStartSnapshot() {
	if !s.wantSnapshot {
		return
	}
	s.wantSnapshot = false
	s.txnsSinceSnap, s.snapRoll = 0, 0
	if s.snap != nil {
		s.log.Warn().Msg("Too busy to snap, skipping")
		return
	}
	s.store.Roll()
	z := s.tree.LastZxid
	w, err := storage.NewSnapshotWriter(s.snapDir(), z, s.cfg.SnapCompression, true)
	if err != nil {
		s.log.Error().Err(err).Msg("cannot start snapshot")
		return
	}
	job := &snapJob{cur: s.tree.NewSnapshotCursor(), ch: make(chan snapMsg, 4), zxid: z, start: time.Now()}
	s.snap = job
	s.goRoutine(func() { s.writeSnapshot(w, job) })
}

// advanceSnapshot encodes the next chunk if the writer has room.
func (s *Server) advanceSnapshot() {
	job := s.snap
	if job == nil || job.sent {
		return
	}
	for len(job.ch) < cap(job.ch) {
		var jw jute.Writer
		jw.Grow(1 << 20)
		done := job.cur.Next(&jw, 2000, 1<<20)
		if jw.Len() > 0 {
			job.ch <- snapMsg{nodes: jw.Bytes()}
		}
		if done {
			if len(job.ch) == cap(job.ch) {
				return // send the tail next round
			}
			tail := s.snapshotTail()
			job.cur.Release()
			job.ch <- snapMsg{tail: &tail}
			job.sent = true
			return
		}
	}
}

// writeSnapshot is the snapshot writer goroutine.
func (s *Server) writeSnapshot(w *storage.SnapshotWriter, job *snapJob) {
	res := snapResult{zxid: job.zxid}
	failed := false
	for {
		var msg snapMsg
		select {
		case msg = <-job.ch:
		case <-s.quit:
			w.Abort()
			return
		}
		s.poke()
		if msg.tail != nil {
			if failed {
				w.Abort()
			} else {
				res.path, res.err = w.Finish(*msg.tail)
			}
			res.took = time.Since(job.start)
			res.nodes = job.cur.Nodes()
			select {
			case s.snapDone <- res:
			case <-s.quit:
			}
			return
		}
		if !failed {
			if err := w.WriteNodes(msg.nodes); err != nil {
				res.err, failed = err, true
			}
		}
	}
}

// poke wakes the owner goroutine without blocking.
func (s *Server) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Server) onSnapshotDone(r snapResult) {
	s.snap = nil
	if r.err != nil {
		s.log.Error().Err(r.err).Str("zxid", r.zxid.String()).Msg("snapshot failed")
		return
	}
	s.stats.snapshots++
	s.log.Info().Str("file", r.path).Int("nodes", r.nodes).Dur("took", r.took).Msg("snapshot written")
}

// onStoreFailure fails every txn the log could not make durable: their
// writers get SYSTEMERROR, prepared changes are forgotten, and writes are
// refused until the log recovers.
func (s *Server) onStoreFailure(f storeFailure) {
	s.onDurable(f.durable)
	for _, p := range s.inflight {
		p.failed, p.applied = true, true
		p.err = wire.ErrSystemError
		switch p.entry.Hdr.Type {
		case wire.OpCloseSession:
			// The session was not closed; let it expire again later.
			if sess := s.sessions.Get(p.entry.Hdr.ClientID); sess != nil {
				sess.Closing = false
				s.sessions.Add(sess.ID, sess.TimeoutMs, s.nowMs())
			}
		case wire.OpCreateSession:
			s.sessions.Remove(p.entry.Hdr.ClientID)
		}
		if p.connect != nil {
			p.connect.cc.connecting = false
			s.closeConn(p.connect.cc, "txn log failure")
			continue
		}
		if p.cc != nil {
			s.drainPending(p.cc)
		}
	}
	s.inflight = nil
	s.tree.ResetPrep()
	s.zxid = s.tree.LastZxid
	s.storeErr, s.storeErrAt = f.err, s.nowMs()
}

// maybeRecoverStore retries a failed log every few seconds.
func (s *Server) maybeRecoverStore() {
	if s.storeErr == nil || s.nowMs()-s.storeErrAt < 2000 {
		return
	}
	s.log.Info().Msg("retrying the txn log after a failure")
	s.storeErr = nil
	s.store.Recover()
}

// runPurge runs autopurge (DatadirCleanupManager) off the owner goroutine.
func (s *Server) runPurge() {
	snapDir, logDir, keep := s.snapDir(), s.logDir(), s.cfg.SnapRetainCount
	s.goRoutine(func() {
		removed, err := storage.Purge(snapDir, logDir, keep)
		if err != nil {
			s.log.Error().Err(err).Msg("purge failed")
		}
		if len(removed) > 0 {
			s.log.Info().Int("files", len(removed)).Msg("purged old snapshots and txn logs")
		}
	})
}
