package node

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/session"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// durable is the server's disk: the txn log's writer (store) and its
// failure state, loading and replaying the database, snapshots (the one at
// startup, the background job, a learner's), autopurge, and what was last
// handed to the log. Its dependencies are explicit: the configuration, the
// log, the server's tree options and summaries, and three hooks into the
// server's lifecycle (quit, poke, goRoutine).
//
// Its state belongs to the owner goroutine. The methods that read only
// the dependencies (snapDir, logDir, loadDatabase, openTxnLogAt,
// writeSnapshotOf and what they call) are also safe from a learner sync's
// disk job, which runs them off the owner goroutine.
type durable struct {
	cfg   *Config
	log   zerolog.Logger
	opts  tree.Options
	jsum  *javaSummaries
	stats *stats
	// nowMs is the server's monotonic clock; quit closes when the server
	// stops; poke wakes the owner goroutine (from any goroutine);
	// goRoutine starts a goroutine Stop waits for.
	nowMs     func() int64
	quit      <-chan struct{}
	poke      func()
	goRoutine func(func())

	store store // durable txn log, or the in-memory stand-in
	// lastAppended is the last txn handed to the store (what a flush
	// waits for).
	lastAppended wire.Zxid
	storeErr     error // the txn log failed: writes are refused
	storeErrAt   int64 // mono ms of the failure (maybeRecoverStore)

	snap          *snapJob // the background snapshot being written
	snapDone      chan snapResult
	wantSnapshot  bool // a snapshot is due (maybeStartSnapshot)
	txnsSinceSnap int
	snapRoll      int // the random part of the snapshot trigger
	nextPurge     int64
}

// newDurable builds the disk of a server that is not started yet.
func newDurable(cfg *Config, log zerolog.Logger, opts tree.Options, jsum *javaSummaries, st *stats,
	nowMs func() int64, quit <-chan struct{}, poke func(), goRoutine func(func())) durable {
	return durable{cfg: cfg, log: log, opts: opts, jsum: jsum, stats: st, nowMs: nowMs, quit: quit, poke: poke,
		goRoutine: goRoutine, snapDone: make(chan snapResult, 1)}
}

// snapDir and logDir are the version-2 directories of dataDir and
// dataLogDir.
func (d *durable) snapDir() string { return storage.VersionDir(d.cfg.DataDir) }
func (d *durable) logDir() string  { return storage.VersionDir(d.cfg.DataLogDir) }

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

// database is a data tree and session table loaded from disk.
type database struct {
	tree     *tree.Tree
	sessions map[wire.SessionID]int32
	snap     *storage.SnapshotInfo // nil: no snapshot was loaded
	replayed int
	// digestMismatches counts digests in the log or snapshot that did not
	// match the tree (added to the server's stats by the owner).
	digestMismatches int64
	// recent are the last txns applied from the logs, for the committed
	// log (ZKDatabase's commitProposalPlaybackListener).
	recent []*wire.TxnEntry
}

// noteRecent keeps the last zab.DefaultCommitLogCount applied txns.
func (db *database) noteRecent(e *wire.TxnEntry) {
	if len(db.recent) >= 2*zab.DefaultCommitLogCount {
		db.recent = append(db.recent[:0:0], db.recent[len(db.recent)-zab.DefaultCommitLogCount+1:]...)
	}
	db.recent = append(db.recent, e)
}

// loadDatabase reads the newest valid snapshot plus the txn logs after it,
// as FileTxnSnapLog.restore does. It touches no server state, so a learner
// can reload in a sync's disk job (off the owner goroutine).
func (d *durable) loadDatabase() (*database, error) {
	snapDir, logDir := d.snapDir(), d.logDir()
	snaps, err := storage.ListSnapshots(snapDir)
	if err != nil {
		return nil, fmt.Errorf("node: list snapshots: %w", err)
	}
	db := &database{sessions: map[wire.SessionID]int32{}}
	tried := 0
	// skipped are the snapshots newer than the one loaded that could not
	// be used: the logs must bring the database past each of them.
	type skippedSnap struct {
		f      storage.SnapFile
		reason string
	}
	var skipped []skippedSnap
	for _, f := range snaps {
		if tried == 100 {
			break
		}
		if !storage.LooksValid(f) {
			d.log.Warn().Str("file", f.Path).Msg("skipping invalid snapshot")
			skipped = append(skipped, skippedSnap{f, "it does not end with a snapshot's seal"})
			continue
		}
		tried++
		l := &loader{t: tree.NewEmpty(d.opts), sessions: map[wire.SessionID]int32{}}
		info, err := storage.ReadSnapshot(f, l, d.cfg.RecordLimit())
		if err != nil {
			d.log.Error().Err(err).Str("file", f.Path).Msg("problem reading snapshot; trying an older one")
			skipped = append(skipped, skippedSnap{f, err.Error()})
			continue
		}
		l.t.ACLs().PurgeUnused()
		l.t.LastZxid = f.Zxid
		db.tree, db.sessions, db.snap = l.t, l.sessions, &info
		break
	}
	logs, err := storage.ListLogs(logDir)
	if err != nil {
		return nil, fmt.Errorf("node: list txn logs: %w", err)
	}
	if db.snap == nil && len(logs) > 0 && d.cfg.Properties["zookeeper.snapshot.trust.empty"] != "true" {
		return nil, fmt.Errorf("node: no snapshot found in %s but %d txn logs in %s; refusing to start "+
			"(set snapshot.trust.empty=true to start from the logs alone)", snapDir, len(logs), logDir)
	}
	if db.snap == nil {
		db.tree = tree.New(d.opts)
	}
	if err := d.replayLogs(db, logs); err != nil {
		return nil, err
	}
	// Falling back to an older snapshot is only safe if its txns still
	// cover the damaged one: otherwise what it held would silently be gone.
	for _, sk := range skipped {
		if sk.f.Zxid > db.tree.LastZxid {
			return nil, fmt.Errorf("node: refusing to start: snapshot %s is unusable (%s), and the older snapshots "+
				"plus the txn logs only reach %v, so the txns up to %v would be lost. Nothing on disk was changed; "+
				"`zkgo txnlog verify %s` reports every damaged file", sk.f.Path, sk.reason, db.tree.LastZxid, sk.f.Zxid, d.toolDirs())
		}
	}
	db.tree.EnsureSystemNodes()
	// Ephemerals of sessions that no longer exist (ZooKeeperServer.loadData).
	for _, id := range db.tree.EphemeralSessions() {
		if _, ok := db.sessions[id]; !ok {
			db.tree.KillSession(id, db.tree.LastZxid)
		}
	}
	return db, nil
}

// open creates the data directories, loads the database, hands it to
// install (the owner's tables), opens the txn log after it and takes the
// snapshot Java takes at the end of loading. The store is d.store from
// then on.
func (d *durable) open(install func(*database)) error {
	for _, dir := range []string{d.snapDir(), d.logDir()} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("node: data directory: %w", err)
		}
	}
	if d.cfg.MaxBuffer != jute.DefaultMaxBuffer || d.cfg.MaxBufferExtra > 0 {
		// Java 3.8 takes jute.maxbuffer only from -Djute.maxbuffer: a peer
		// or client with a smaller limit cannot read what this server logs,
		// proposes or returns.
		d.log.Warn().Int("jute_maxbuffer", d.cfg.MaxBuffer).Int("record_limit", d.cfg.RecordLimit()).
			Msg("jute.maxbuffer is not Java's default: start every Java server and client of this ensemble " +
				"with the same -Djute.maxbuffer (Java ignores the zoo.cfg line)")
	}
	start := time.Now()
	db, err := d.loadDatabase()
	if err != nil {
		return err
	}
	install(db)
	d.stats.loadTime = time.Since(start)
	d.jsum.dbInit.Observe(float64(d.stats.loadTime.Nanoseconds()) / 1e6)
	st, err := d.openTxnLogAt(db.tree.LastZxid)
	if err != nil {
		return err
	}
	// Java takes a snapshot at the end of loading (ZooKeeperServer.loadData).
	// A fresh directory needs one before any log is written (Java refuses
	// logs without a snapshot); otherwise it runs in the background.
	if db.snap == nil {
		if err := d.snapshotNow(db); err != nil {
			st.Close()
			return err
		}
	} else if db.replayed > 0 {
		d.wantSnapshot = true
	}
	d.store = st
	if d.cfg.PurgeInterval > 0 {
		d.nextPurge = d.nowMs() // DatadirCleanupManager purges at start, then every interval
	}
	return nil
}

// installDatabase makes db the server's tree and session table.
func (s *Server) installDatabase(db *database) {
	s.tree = db.tree
	s.sessions.Reset()
	now := s.lp.nowMs()
	for id, to := range db.sessions {
		s.sessions.Add(id, to, now)
	}
	s.stats.digestMismatches += db.digestMismatches
	db.digestMismatches = 0
	s.qs.committed.Reset(db.recent)
	s.wr.zxid = s.tree.LastZxid
	s.dur.lastAppended = s.tree.LastZxid
	s.resp.digestLog = nil
}

// openTxnLogAt opens the txn log with everything up to upTo on disk.
// It touches no server state (a learner sync's disk job uses it).
func (d *durable) openTxnLogAt(upTo wire.Zxid) (*diskStore, error) {
	l, err := storage.OpenTxnLog(d.logDir(), storage.Options{PreAllocBytes: d.cfg.PreAllocSizeKB * 1024, ForceSync: d.cfg.ForceSync})
	if err != nil {
		return nil, err
	}
	return newDiskStore(l, upTo, d.log, d.jsum), nil
}

// replayLogs applies the logged txns after the snapshot, tolerating what a
// fuzzy snapshot already contains (FileTxnSnapLog.processTransaction).
func (d *durable) replayLogs(db *database, logs []storage.LogFile) error {
	t := db.tree
	from := t.LastZxid + 1
	lr := storage.NewLogReader(storage.LogsFrom(logs, from), d.cfg.RecordLimit())
	defer lr.Close()
	var digestAt *storage.ZxidDigest
	// Until the replay reaches the snapshot's digest zxid the tree is
	// fuzzy (txns the walk already saw are applied again), so txn digests
	// are not compared (DataTree.compareDigest's digestFromLoadedSnapshot).
	fuzzy := false
	if db.snap != nil && db.snap.Digest != nil {
		digestAt = db.snap.Digest
		d.checkSnapDigest(db, digestAt)
		fuzzy = digestAt.Zxid > t.LastZxid
	}
	for {
		rec, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return d.logDamage(err, t.LastZxid)
		}
		h := &rec.Entry.Hdr
		if h.Zxid < from {
			continue
		}
		// Within an epoch zxids are consecutive: a jump means txns are
		// missing (a deleted or lost log file). Starting anyway would
		// silently drop acknowledged writes.
		if last := t.LastZxid; h.Zxid.Epoch() == last.Epoch() && h.Zxid > last+1 {
			return fmt.Errorf("node: refusing to start: txn log gap: next txn is %v but the database is at %v (file %s); "+
				"a log file is missing or damaged. Nothing on disk was changed; `zkgo txnlog verify %s` reports every file",
				h.Zxid, last, rec.File, d.toolDirs())
		}
		e := rec.Entry
		applyToDatabase(db, &e)
		db.noteRecent(&e)
		db.replayed++
		if digestAt != nil && digestAt.Zxid == h.Zxid {
			fuzzy = false
		}
		if !fuzzy && rec.Entry.Digest != nil && rec.Entry.Digest.TreeDigest != int64(t.Digest()) {
			db.digestMismatches++
			d.log.Warn().Str("zxid", h.Zxid.String()).Uint64("ours", t.Digest()).
				Int64("logged", rec.Entry.Digest.TreeDigest).Msg("tree digest differs from the txn's digest")
		}
		if digestAt != nil && digestAt.Zxid == h.Zxid {
			d.checkSnapDigest(db, digestAt)
		}
	}
	for _, f := range lr.Empty {
		d.log.Info().Str("file", f).Msg("txn log file holds no txn (created just before a crash)")
	}
	if tt := lr.Tail; tt != nil {
		// The record a crash interrupted: never acknowledged, since its
		// fsync did not complete. Its bytes are kept in a side file.
		side, err := storage.CutTornTail(tt)
		if err != nil {
			return fmt.Errorf("node: cut the torn txn at the end of the log: %w", err)
		}
		ev := d.log.Warn().Str("file", tt.File).Int64("offset", tt.Offset).Int64("bytes", tt.End-tt.Offset).
			Str("reason", tt.Reason).Str("kept_in", side)
		if tt.ZxidKnown {
			ev = ev.Str("torn_zxid", tt.Zxid.String())
		}
		ev.Str("zxid", t.LastZxid.String()).Msg("last transaction was partial (torn write); cut it from the log")
	}
	d.log.Info().Int("txns", db.replayed).Str("zxid", t.LastZxid.String()).Msg("replayed txn log")
	return nil
}

// toolDirs is the directory arguments of `zkgo txnlog verify|truncate`
// for this server.
func (d *durable) toolDirs() string {
	if d.cfg.DataDir == d.cfg.DataLogDir {
		return d.cfg.DataLogDir
	}
	return "--snapdir " + d.cfg.DataDir + " " + d.cfg.DataLogDir
}

// logDamage explains a damaged txn log to the operator: zkgo does not
// start, changes nothing, and names the tools that let a human decide
// what to drop. reached is the zxid the database got to.
func (d *durable) logDamage(err error, reached wire.Zxid) error {
	if !errors.Is(err, storage.ErrCorruptLog) {
		return fmt.Errorf("node: reading txn log: %w", err)
	}
	return fmt.Errorf("node: refusing to start: %w. Nothing on disk was changed. `zkgo txnlog verify %s` reports "+
		"every damaged file; `zkgo txnlog truncate --at %s %s` keeps the txns up to %s and moves everything after "+
		"them into a backup directory (acknowledged txns after it are lost unless another server still has them)",
		err, d.toolDirs(), reached, d.toolDirs(), reached)
}

// applyToDatabase applies a txn to a tree and its session table without
// watches or replies (log replay, and a learner's in-memory sync).
func applyToDatabase(db *database, e *wire.TxnEntry) tree.Result {
	h := &e.Hdr
	switch h.Type {
	case wire.OpCreateSession:
		if c, ok := e.Body.(*wire.CreateSessionTxn); ok {
			db.sessions[h.ClientID] = c.TimeOut
		}
	case wire.OpCloseSession:
		delete(db.sessions, h.ClientID)
	}
	return db.tree.Apply(e)
}

// checkSnapDigest compares the tree digest with a snapshot's ZxidDigest
// when the tree has reached its zxid.
func (d *durable) checkSnapDigest(db *database, zd *storage.ZxidDigest) {
	t := db.tree
	if zd.Zxid != t.LastZxid || zd.Version != tree.DigestVersion {
		return
	}
	if zd.Digest != t.Digest() {
		db.digestMismatches++
		d.log.Warn().Str("zxid", zd.Zxid.String()).Uint64("ours", t.Digest()).Uint64("snapshot", zd.Digest).
			Msg("tree digest differs from the snapshot's digest")
	}
}

// snapshotNow writes a complete snapshot of the database just loaded
// synchronously (startup only).
func (d *durable) snapshotNow(db *database) error {
	tail := databaseTail(db)
	sortTail(&tail)
	path, nodes, err := d.writeSnapshotOf(db.tree, tail)
	if err != nil {
		return err
	}
	d.log.Info().Str("file", path).Int("nodes", nodes).Msg("snapshot written")
	return nil
}

// writeSnapshotOf writes a complete, fsynced snapshot of t with tail (its
// sessions, ACLs and digest) at t.LastZxid.
func (d *durable) writeSnapshotOf(t *tree.Tree, tail storage.SnapshotTail) (string, int, error) {
	w, err := storage.NewSnapshotWriter(d.snapDir(), t.LastZxid, d.cfg.SnapCompression, true)
	if err != nil {
		return "", 0, err
	}
	cur := t.NewSnapshotCursor()
	defer cur.Release()
	var jw jute.Writer
	for {
		jw.Reset(jw.Bytes()[:0])
		done := cur.Next(&jw, 1<<30, 4<<20)
		if err := w.WriteNodes(jw.Bytes()); err != nil {
			w.Abort()
			return "", 0, err
		}
		if done {
			break
		}
	}
	path, err := w.Finish(tail)
	return path, cur.Nodes(), err
}

// databaseTail is snapshotTail for a database that is not the server's.
func databaseTail(db *database) storage.SnapshotTail {
	var t storage.SnapshotTail
	for id, to := range db.sessions {
		t.Sessions = append(t.Sessions, wire.SessionTouch{SessionID: id, TimeoutMs: to})
	}
	for _, a := range db.tree.SnapshotACLs() {
		t.ACLs = append(t.ACLs, storage.IndexedACL{Index: a.Index, ACL: a.ACL})
	}
	t.Digest = &storage.ZxidDigest{Zxid: db.tree.LastZxid, Version: tree.DigestVersion, Digest: db.tree.Digest()}
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
	cur    *tree.SnapshotCursor
	w      jute.Writer // the chunk being encoded (owner goroutine)
	walked bool        // the cursor has visited every node
	free   chan []byte // chunk buffers the writer is done with
	ch     chan snapMsg
	zxid   wire.Zxid
	start  time.Time
	sent   bool // tail sent
	tail   *tailCollector
	abort  chan struct{} // closed to abandon the snapshot
	done   chan struct{} // closed when the writer goroutine has finished
}

type snapResult struct {
	path  string
	zxid  wire.Zxid
	nodes int
	took  time.Duration
	err   error
}

// append hands a txn to the log writer (made durable at the end of the
// round, by Sync) and counts it for the snapshot trigger.
func (d *durable) append(e *wire.TxnEntry) {
	d.store.Append(e)
	d.lastAppended = e.Hdr.Zxid
	d.countTxnForSnapshot()
}

// countTxnForSnapshot is SyncRequestProcessor's trigger: a snapshot after
// snapCount/2 + random(snapCount/2) txns.
func (d *durable) countTxnForSnapshot() {
	d.txnsSinceSnap++
	if d.snapRoll == 0 {
		d.snapRoll = 1 + rand.IntN(max(1, d.cfg.SnapCount/2))
	}
	if d.txnsSinceSnap > d.cfg.SnapCount/2+d.snapRoll {
		d.wantSnapshot = true
	}
}

// maybeStartSnapshot starts a background snapshot of t when one is due.
func (d *durable) maybeStartSnapshot(t *tree.Tree) {
	if !d.wantSnapshot {
		return
	}
	d.wantSnapshot = false
	d.txnsSinceSnap, d.snapRoll = 0, 0
	if d.snap != nil {
		d.log.Warn().Msg("Too busy to snap, skipping")
		return
	}
	d.store.Roll()
	z := t.LastZxid
	w, err := storage.NewSnapshotWriter(d.snapDir(), z, d.cfg.SnapCompression, true)
	if err != nil {
		d.log.Error().Err(err).Msg("cannot start snapshot")
		return
	}
	job := &snapJob{cur: t.NewSnapshotCursor(), ch: make(chan snapMsg, 4), zxid: z, start: time.Now(),
		free: make(chan []byte, 4), abort: make(chan struct{}), done: make(chan struct{})}
	job.w.Reset(make([]byte, 0, snapChunkBytes+64<<10))
	d.snap = job
	d.goRoutine(func() { d.writeSnapshot(w, job) })
}

// Per owner round, a background snapshot encodes at most one chunk of
// this many nodes or bytes, so that the requests of that round wait for
// a bounded amount of encoding (about a millisecond) however large the
// tree is. The writer goroutine pokes the owner after each chunk, so an
// idle server still snapshots at full speed.
const (
	snapChunkNodes = 1000
	snapChunkBytes = 256 << 10
)

// advanceSnapshot encodes the next chunk of t (whose sessions are
// sessions) if the writer has room. applying: a txn is half applied, so
// the tail's digest must wait.
func (d *durable) advanceSnapshot(t *tree.Tree, sessions *session.Tracker, applying bool) {
	job := d.snap
	if job == nil || job.sent || len(job.ch) == cap(job.ch) {
		return
	}
	if job.cur.Next(&job.w, snapChunkNodes, snapChunkBytes) {
		job.walked = true
	}
	if job.w.Len() > 0 {
		job.ch <- snapMsg{nodes: job.w.Bytes()}
		// The writer owns that buffer now; take a recycled one.
		var buf []byte
		select {
		case buf = <-job.free:
		default:
			buf = make([]byte, 0, snapChunkBytes+64<<10)
		}
		job.w.Reset(buf[:0])
		return // the tail, if due, goes next round
	}
	if !job.walked || len(job.ch) == cap(job.ch) {
		return
	}
	// The tail: sessions and ACL map gathered a round's worth at a time,
	// then the digest, not while a txn is half applied (the digest and
	// the zxid must describe one state).
	if job.tail == nil {
		job.tail = newTailCollector(sessions, t)
	}
	if !job.tail.step(roundTailEntries) || applying {
		d.poke()
		return
	}
	tail := job.tail.tail
	tail.Digest = &storage.ZxidDigest{Zxid: t.LastZxid, Version: tree.DigestVersion, Digest: t.Digest()}
	job.cur.Release()
	job.ch <- snapMsg{tail: &tail}
	job.sent = true
}

// writeSnapshot is the snapshot writer goroutine.
func (d *durable) writeSnapshot(w *storage.SnapshotWriter, job *snapJob) {
	defer close(job.done)
	res := snapResult{zxid: job.zxid}
	failed := false
	for {
		var msg snapMsg
		select {
		case msg = <-job.ch:
		case <-job.abort:
			w.Abort()
			return
		case <-d.quit:
			w.Abort()
			return
		}
		d.poke()
		if msg.tail != nil {
			if failed {
				w.Abort()
			} else {
				sortTail(msg.tail)
				res.path, res.err = w.Finish(*msg.tail)
			}
			res.took = time.Since(job.start)
			res.nodes = job.cur.Nodes()
			select {
			case d.snapDone <- res:
			case <-job.abort:
				if res.path != "" {
					os.Remove(res.path)
				}
			case <-d.quit:
			}
			return
		}
		if !failed {
			if err := w.WriteNodes(msg.nodes); err != nil {
				res.err, failed = err, true
			}
		}
		select {
		case job.free <- msg.nodes:
		default:
		}
	}
}

// poke wakes the owner goroutine without blocking.
func (s *Server) poke() {
	select {
	case s.lp.wake <- struct{}{}:
	default:
	}
}

// abortSnapshot abandons a background snapshot (a learner is about to
// replace or rewind its database) and waits for its writer to stop.
func (d *durable) abortSnapshot() {
	job := d.snap
	if job == nil {
		return
	}
	close(job.abort)
	<-job.done
	if job.tail != nil {
		job.tail.stop()
	}
	if !job.sent {
		job.cur.Release()
	}
	d.snap = nil
	select {
	case r := <-d.snapDone:
		// It finished before the abort: keep it, it is a valid snapshot.
		d.onSnapshotDone(r)
	default:
	}
	d.log.Info().Str("zxid", job.zxid.String()).Msg("background snapshot abandoned")
}

func (d *durable) onSnapshotDone(r snapResult) {
	d.snap = nil
	if r.err != nil {
		d.log.Error().Err(r.err).Str("zxid", r.zxid.String()).Msg("snapshot failed")
		return
	}
	d.stats.snapshots++
	d.log.Info().Str("file", r.path).Int("nodes", r.nodes).Dur("took", r.took).Msg("snapshot written")
}

// onStoreFailure fails every txn the log could not make durable: their
// writers get SYSTEMERROR, prepared changes are forgotten, and writes are
// refused until the log recovers.
func (s *Server) onStoreFailure(f storeFailure) {
	if s.qs.leader != nil {
		// A leader cannot ACK its own proposals: let another server lead.
		s.log.Error().Err(f.err).Str("durable_zxid", f.durable.String()).Msg("txn log failed")
		s.dur.store.Recover()
		s.qs.stepDown("txn log failure: " + f.err.Error())
		return
	}
	if s.qs.isLearner() {
		// A learner cannot ACK what it could not log: leave the leader and
		// resync from what is durable.
		s.log.Error().Err(f.err).Str("durable_zxid", f.durable.String()).Msg("txn log failed")
		s.onDurable(f.durable)
		s.dur.lastAppended = f.durable
		s.dur.store.Recover()
		s.qs.peer.learner.dropLink(fmt.Errorf("txn log failure: %w", f.err))
		return
	}
	s.onDurable(f.durable)
	for _, p := range s.wr.inflight {
		p.failed, p.applied = true, true
		p.err = wire.ErrSystemError
		switch p.entry.Hdr.Type {
		case wire.OpCloseSession:
			// The session was not closed; let it expire again later.
			if sess := s.sessions.Get(p.entry.Hdr.ClientID); sess != nil {
				sess.Closing = false
				s.sessions.Add(sess.ID, sess.TimeoutMs, s.lp.nowMs())
			}
		case wire.OpCreateSession:
			s.sessions.Remove(p.entry.Hdr.ClientID)
		}
		if p.connect != nil {
			p.connect.cc.connecting = false
			s.cl.closeConn(p.connect.cc, "txn log failure")
			continue
		}
		if p.cc != nil {
			s.cl.drainPending(p.cc)
		}
	}
	s.wr.inflight = nil
	s.dropPreps(func(p *proposal) {
		p.failed, p.applied = true, true
		p.err = wire.ErrSystemError
		if p.connect != nil {
			p.connect.cc.connecting = false
			s.cl.closeConn(p.connect.cc, "txn log failure")
			return
		}
		if p.cc != nil {
			s.cl.drainPending(p.cc)
		}
	})
	s.tree.ResetPrep()
	s.wr.zxid = s.lastApplied()
	s.dur.lastAppended = f.durable
	s.dur.storeErr, s.dur.storeErrAt = f.err, s.lp.nowMs()
}

// onTick retries a failed log and runs autopurge when due (now: the
// server's monotonic ms).
func (d *durable) onTick(now int64) {
	d.maybeRecoverStore(now)
	if d.cfg.PurgeInterval > 0 && now >= d.nextPurge {
		d.nextPurge = now + int64(d.cfg.PurgeInterval)*3600*1000
		d.runPurge()
	}
}

// maybeRecoverStore retries a failed log every few seconds.
func (d *durable) maybeRecoverStore(now int64) {
	if d.storeErr == nil || now-d.storeErrAt < 2000 {
		return
	}
	d.log.Info().Msg("retrying the txn log after a failure")
	d.storeErr = nil
	d.store.Recover()
}

// runPurge runs autopurge (DatadirCleanupManager) off the owner goroutine.
func (d *durable) runPurge() {
	snapDir, logDir, keep := d.snapDir(), d.logDir(), d.cfg.SnapRetainCount
	d.goRoutine(func() {
		removed, err := storage.Purge(snapDir, logDir, keep)
		if err != nil {
			d.log.Error().Err(err).Msg("purge failed")
		}
		if len(removed) > 0 {
			d.log.Info().Int("files", len(removed)).Msg("purged old snapshots and txn logs")
		}
	})
}

// quiesce hands the log writer what is pending and waits until it is
// durable (role changes only).
func (d *durable) quiesce() {
	if d.store == nil || d.storeErr != nil {
		return
	}
	d.store.Sync()
	if err := d.waitDurable(d.store, d.lastAppended); err != nil {
		d.log.Warn().Err(err).Msg("txn log did not flush")
	}
}

// waitDurable blocks until the store has made everything up to z durable.
// Only the goroutine that holds the store may call it.
func (d *durable) waitDurable(st store, z wire.Zxid) error {
	for st.DurableZxid() < z {
		select {
		case <-st.Durable():
		case f := <-st.Failed():
			return f.err
		case <-d.quit:
			return errors.New("server stopping")
		}
	}
	return nil
}
