package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// The learner side of Zab (Learner.java, Follower.java, Observer.java).
//
// A leader connection has two goroutines: a reader, which dials, reads
// packets (and the SNAP stream) and hands them to the owner through
// link.in, and a writer, which sends what the owner queues (quorumConn's,
// the same at the leader's end of the link). The owner
// goroutine steps the sync's zab.LearnerSync with every packet of the
// discovery and sync phases (FOLLOWERINFO/OBSERVERINFO, LEADERINFO/
// ACKEPOCH, DIFF/TRUNC/SNAP, NEWLEADER, UPTODATE) and carries out each
// step's Ready in order (truncate or load, apply, snapshot, log and
// fsync, epochs, then send); it serves no clients meanwhile. The disk work
// that is tree- or log-sized (a TRUNC's rewind and reload, a SNAP's
// rewind, the snapshot at NEWLEADER) runs as a job off the owner, which
// steps nothing until the job is back.

// linkQueueLimit bounds the owner's outgoing queue to the leader; a leader
// that stops reading that long is dropped.
const linkQueueLimit = 1 << 18

// learnerLink is one connection to a leader.
type learnerLink struct {
	// quorumConn is the connection, its queue and its writer (the
	// learner's end of the link; quorumconn.go).
	quorumConn
	leader   int64
	addr     string
	observer bool
	log      zerolog.Logger

	in chan linkMsg // broadcast packets for the owner

	writeTimeout time.Duration

	// What the link's goroutines (run, connect, readSnapStream) need of
	// the server, set once by startLearning: they read nothing else of it.
	quit        <-chan struct{}                                          // the server is stopping
	goRoutine   func(func())                                             // Server.goRoutine
	dialer      func(ctx context.Context, addr string) (net.Conn, error) // Config.QuorumDialer; nil: TCP
	sec         *quorumSec                                               // quorum TLS and SASL; nil: plain TCP
	initTimeout time.Duration                                            // initLimit ticks
	treeOpts    tree.Options                                             // the SNAP's tree
}

// linkMsg is a packet (or the error that ended the link) for the owner.
type linkMsg struct {
	link *learnerLink
	qp   wire.QuorumPacket
	// snap is the database the SNAP stream after the sync's SNAP packet
	// holds (read by the link's reader).
	snap *database
	err  error
}

// send queues a packet for the writer goroutine. It never blocks; a queue
// that grows without bound means the leader is gone, and the link closes.
func (l *learnerLink) send(qp wire.QuorumPacket) {
	l.enqueue("send queue to the leader overflowed", qp)
}

// writeFailed closes the link after a failed write (the writer's).
func (l *learnerLink) writeFailed(err error) {
	l.log.Warn().Err(err).Msg("write to leader failed")
	l.close("write to leader failed: " + err.Error())
}

// read reads one packet; no single read may wait longer than the
// reader's timeout (initLimit ticks until the NEWLEADER ACK is sent,
// syncLimit ticks after).
func (l *learnerLink) read() (wire.QuorumPacket, error) {
	qp, err := l.readPacket()
	if err != nil && l.isClosed() {
		err = fmt.Errorf("link closed: %s", l.closeReason())
	}
	return qp, err
}

// setReadTimeout changes the per-read timeout, the read in progress
// included (the owner, when the NEWLEADER ACK is queued).
func (l *learnerLink) setReadTimeout(d time.Duration) {
	l.rd.setTimeout(d)
	l.conn.SetReadDeadline(time.Now().Add(d))
}

// startLearning connects to the leader and syncs with it: the link's
// goroutines dial, write and read; the owner goroutine steps the sync's
// zab.LearnerSync with each packet read (learnerSync.step).
func (lr *learnerDriver) startLearning(leader int64, observer bool) {
	s := lr.s
	p := s.qs.peer
	s.dur.abortSnapshot()
	s.dur.quiesce()
	ls := s.qs.quorum().Servers[leader]
	l := &learnerLink{
		leader:       leader,
		addr:         ls.QuorumAddr(),
		observer:     observer,
		log:          s.log.With().Int64("leader", leader).Logger(),
		in:           make(chan linkMsg, 1024),
		writeTimeout: time.Duration(s.cfg.TickTime*s.cfg.SyncLimit) * time.Millisecond,
		quit:         s.lp.quit,
		goRoutine:    s.lp.goRoutine,
		dialer:       s.cfg.QuorumDialer,
		sec:          p.sec,
		initTimeout:  time.Duration(s.cfg.TickTime*s.cfg.InitLimit) * time.Millisecond,
		treeOpts:     s.opts,
	}
	l.initConn(s.cfg.RecordLimit())
	l.started = true // nothing holds the learner's queue back
	s.qs.setRole(roleSyncing)
	p.leader = leader
	lr.link = l
	q := s.qs.quorum()
	lr.lsync = &learnerSync{
		s:          s,
		lr:         lr,
		link:       l,
		start:      time.Now(),
		lastLogged: s.tree.LastZxid,
		zab: zab.NewLearnerSync(zab.LearnerConfig{ID: q.MyID, Observer: observer, ConfigVersion: q.Version,
			LastLogged: s.tree.LastZxid, AcceptedEpoch: p.acceptedEpoch, CurrentEpoch: p.currentEpoch,
			MaxRecord: s.cfg.RecordLimit(), View: lr.learnerView(leader, observer)}),
	}
	// FOLLOWERINFO or OBSERVERINFO waits in the queue until the writer
	// starts on the connection.
	l.send(lr.lsync.zab.Start())
	s.lp.goRoutine(l.run)
}

// run is the link's reader goroutine: it dials the leader, starts
// the writer, then reads packets for the owner until the link fails. The
// SNAP stream that follows the sync's SNAP packet is read here too and
// handed to the owner with that packet.
func (l *learnerLink) run() {
	deliver := func(m linkMsg) bool {
		select {
		case l.in <- m:
			return true
		case <-l.closed:
			return false
		case <-l.quit:
			return false
		}
	}
	if err := l.connect(); err != nil {
		deliver(linkMsg{link: l, err: err})
		return
	}
	l.goRoutine(func() { l.writer(l.writeTimeout, l.writeFailed) })
	leaderInfo, syncMode := false, false
	for {
		qp, err := l.read()
		if err != nil && l.isClosed() {
			// Closed by the owner, the writer or send: the owner learns
			// it from l.closed (onLinkClosed), not from this error.
			return
		}
		msg := linkMsg{link: l, qp: qp, err: err}
		if err == nil {
			switch {
			case qp.Type == wire.PacketLeaderInfo:
				leaderInfo = true
			case leaderInfo && !syncMode && (qp.Type == wire.PacketDiff || qp.Type == wire.PacketTrunc || qp.Type == wire.PacketSnap):
				// The sync mode (another one later is a protocol error the
				// owner warns about; no stream follows it).
				syncMode = true
				if qp.Type == wire.PacketSnap {
					l.log.Info().Str("zxid", qp.Zxid.String()).Msg("Getting a snapshot from leader")
					if msg.snap, err = l.readSnapStream(); err != nil {
						msg.err = fmt.Errorf("reading the leader's snapshot: %w", err)
					}
				}
			}
		}
		if !deliver(msg) || msg.err != nil {
			return
		}
	}
}

// connect dials the leader: up to 5 attempts 100 ms apart within
// initLimit ticks (Learner.connectToLeader).
func (l *learnerLink) connect() error {
	limit := l.initTimeout
	deadline := time.Now().Add(limit)
	var err error
	for tries := 0; tries < 5; tries++ {
		remaining := time.Until(deadline)
		if remaining <= 0 {
			break
		}
		var c net.Conn
		ctx, cancel := context.WithTimeout(context.Background(), remaining)
		if dial := l.dialer; dial != nil {
			c, err = dial(ctx, l.addr)
		} else {
			var d net.Dialer
			c, err = d.DialContext(ctx, "tcp", l.addr)
		}
		if err == nil { // quorum TLS and SASL (quorumsec.go)
			c, err = l.sec.dialLearner(ctx, c, l.addr)
		}
		cancel()
		if err == nil {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetNoDelay(true)
			}
			l.rd = newTimeoutReader(c, limit)
			l.br = bufio256(l.rd)
			l.bw = bufioWriter(c)
			l.mu.Lock()
			l.conn = c
			l.mu.Unlock()
			if l.isClosed() {
				c.Close()
				return errors.New("link closed while connecting")
			}
			return nil
		}
		l.log.Warn().Err(err).Int("try", tries).Str("addr", l.addr).Msg("Unexpected exception connecting to the leader")
		select {
		case <-time.After(100 * time.Millisecond):
		case <-l.closed:
			return errors.New("link closed while connecting")
		case <-l.quit:
			return errors.New("server stopping")
		}
	}
	return fmt.Errorf("connectToLeader exceeded on retries: %w", err)
}

// learnerSync is the sync the owner goroutine drives while the role is
// roleSyncing: the zab.LearnerSync and the Ready being carried out.
type learnerSync struct {
	s          *Server
	lr         *learnerDriver
	link       *learnerLink
	zab        *zab.LearnerSync
	start      time.Time
	lastLogged wire.Zxid // the log's last zxid when the sync began
	mode       string    // DIFF, SNAP or TRUNC
	// db is the database being built (SNAP, TRUNC); nil after a DIFF.
	db *database
	// diskChanged: the log was truncated or rewound; a failed sync
	// reloads the database from disk.
	diskChanged bool
	// snapAt is the zxid of the leader's snapshot (SNAP); once the
	// snapshot at NEWLEADER is durable, the logged txns and snapshots it
	// supersedes go (supersedeBySnap).
	snapAt    wire.Zxid
	snapTaken bool
	// logged are the proposals logged and fsynced before the NEWLEADER
	// ACK (followers); they wait for their COMMITs.
	logged []*wire.TxnEntry

	// The Ready being carried out, the packet it answers and the next
	// stage; nil when the owner may step the next packet.
	ready *zab.LearnerReady
	qp    wire.QuorumPacket
	snap  *database // read by the link's reader after SNAP
	stage syncStage
	// waitZxid: the stage waits for the log to be durable up to here.
	waitZxid wire.Zxid
	// job: a disk job (syncJob) holds the txn log; nothing else may use
	// it, and no packet is stepped, until it is back.
	job bool
}

// syncStage is where the carrying out of a LearnerReady is.
type syncStage uint8

const (
	stageConfig   syncStage = iota // write the configurations (reconfig)
	stageDatabase                  // truncate, or take the snapshot
	stageApply                     // apply txns to the database being built
	stageSnapshot                  // write a snapshot of it
	stageAppend                    // log the txns, wait until durable
	stageDurable                   // waiting for the fsync
	stageEpochs                    // write the epochs
	stageSend                      // send the messages
	stageDone
)

// syncJobResult is what a disk job hands back to the owner.
type syncJobResult struct {
	store store // the reopened txn log, if the job rewound it
	db    *database
	err   error
	fatal bool // Java exits the process here
}

// runJob runs fn off the owner goroutine, which steps nothing and leaves
// the txn log alone until the result is back (onJob, run by the owner).
func (ls *learnerSync) runJob(fn func() syncJobResult) {
	s := ls.s
	ls.job = true
	old := s.dur.store
	s.lp.goRoutine(func() {
		r := fn()
		select {
		case s.qs.peer.syncJobs <- func() { ls.onJob(r) }:
		case <-s.lp.quit:
			if r.store != nil && r.store != old {
				r.store.Close()
			}
		}
	})
}

// step steps the sync with a packet from the leader and starts
// carrying out the step's Ready (owner goroutine).
func (ls *learnerSync) step(m linkMsg) {
	l := ls.link
	state := ls.zab.State()
	if m.err != nil {
		reason := m.err.Error()
		if r := l.closeReason(); r != "" {
			reason = r
		}
		err := fmt.Errorf("during sync: %s", reason)
		switch state {
		case zab.LearnerLeaderInfo:
			err = fmt.Errorf("waiting for LEADERINFO: %s", reason)
		case zab.LearnerSyncMode:
			err = fmt.Errorf("waiting for the sync mode: %s", reason)
		}
		ls.fail(err, false)
		return
	}
	qp := &m.qp
	r, err := ls.zab.Step(qp)
	if err != nil {
		ls.fail(err, errors.Is(err, zab.ErrLearnerFatal))
		return
	}
	for _, w := range r.Warnings {
		l.log.Warn().Str("packet", qp.Type.String()).Str("zxid", qp.Zxid.String()).Msg(w)
	}
	switch {
	case state != zab.LearnerSyncMode && (qp.Type == wire.PacketDiff || qp.Type == wire.PacketSnap || qp.Type == wire.PacketTrunc):
		// A sync mode out of turn: the machine warned and ignored it.
	case qp.Type == wire.PacketDiff:
		ls.mode = "DIFF"
		l.log.Info().Str("zxid", qp.Zxid.String()).Msg("Getting a diff from the leader")
	case qp.Type == wire.PacketSnap:
		ls.mode = "SNAP" // logged by the reader, which read the stream
	case qp.Type == wire.PacketTrunc:
		ls.mode = "TRUNC"
		l.log.Warn().Str("zxid", qp.Zxid.String()).Msg("Truncating log to get in sync with the leader")
	case qp.Type == wire.PacketNewLeader:
		if r.HardState != nil {
			l.log.Info().Int("config_bytes", len(qp.Data)).Msg("Learner received NEWLEADER message")
		}
	case qp.Type == wire.PacketUpToDate:
		l.log.Info().Msg("Learner received UPTODATE message")
	}
	ls.ready, ls.qp, ls.snap, ls.stage = &r, m.qp, m.snap, stageConfig
	ls.carryOut()
}

// carryOut carries out the sync's Ready from its current stage on, in
// the order zab.LearnerReady prescribes, until a stage has to wait (a disk
// job, the fsync) or the Ready is done. Nothing is sent before everything
// the Ready persists is durable: the accepted epoch before ACKEPOCH, the
// synced proposals and the current epoch before the NEWLEADER ACK
// (ZOOKEEPER-3911/4643/4646/4785).
func (ls *learnerSync) carryOut() {
	s := ls.s
	p := s.qs.peer
	r := ls.ready
	l := ls.link
	for ls.ready != nil && !ls.job {
		switch ls.stage {
		case stageConfig:
			ls.stage = stageDatabase
			if r.NextConfig == nil && len(r.Activations) == 0 {
				break
			}
			leave, err := ls.lr.learnerConfigs(r.NextConfig, r.Activations, func() *tree.Tree {
				if ls.db != nil {
					return ls.db.tree
				}
				return s.tree
			})
			if err == nil && leave != nil {
				err = errors.New(leave.Reason)
			}
			if err != nil {
				// Java's "changes proposed in reconfig": the rest of the
				// Ready is empty.
				ls.fail(err, false)
				return
			}
		case stageDatabase:
			ls.stage = stageApply
			if r.Truncate || r.ReceiveSnapshot {
				ls.diskChanged = true
				ls.startRewind(r)
			}
		case stageApply:
			for _, e := range r.Apply {
				applySyncTxn(ls.db, e)
			}
			ls.stage = stageSnapshot
		case stageSnapshot:
			ls.stage = stageAppend
			if r.WriteSnapshot {
				db := ls.db
				snapTaken, snapAt := ls.snapTaken, ls.snapAt
				ls.runJob(func() syncJobResult {
					path, nodes, err := s.dur.writeSnapshotOf(db.tree, databaseTail(db))
					if err != nil {
						return syncJobResult{err: fmt.Errorf("snapshot at NEWLEADER: %w", err)}
					}
					l.log.Info().Str("file", path).Int("nodes", nodes).Msg("snapshot written")
					if snapTaken {
						if err := ls.supersedeBySnap(snapAt, db.tree.LastZxid); err != nil {
							return syncJobResult{err: err}
						}
					}
					return syncJobResult{}
				})
			}
		case stageAppend:
			ls.stage = stageEpochs
			if len(r.Append) > 0 {
				// ZOOKEEPER-3911/4643/4646: the proposals are durable
				// before the NEWLEADER ACK.
				if s.dur.storeErr != nil {
					ls.fail(fmt.Errorf("logging the sync proposals: %w", s.dur.storeErr), false)
					return
				}
				for _, e := range r.Append {
					s.dur.store.Append(e)
					s.dur.lastAppended = e.Hdr.Zxid
				}
				s.dur.store.Sync()
				ls.logged = r.Append
				ls.waitZxid = r.Append[len(r.Append)-1].Hdr.Zxid
				ls.stage = stageDurable
			}
		case stageDurable:
			if s.dur.store.DurableZxid() < ls.waitZxid {
				return // onDurable goes on
			}
			ls.stage = stageEpochs
		case stageEpochs:
			if hs := r.HardState; hs != nil {
				if hs.AcceptedEpoch != p.acceptedEpoch {
					if err := storage.WriteEpoch(s.dur.snapDir(), storage.AcceptedEpochFile, hs.AcceptedEpoch); err != nil {
						ls.fail(fmt.Errorf("persist acceptedEpoch: %w", err), false)
						return
					}
					p.acceptedEpoch = hs.AcceptedEpoch
				}
				if hs.CurrentEpoch != p.currentEpoch {
					if err := storage.WriteEpoch(s.dur.snapDir(), storage.CurrentEpochFile, hs.CurrentEpoch); err != nil {
						ls.fail(fmt.Errorf("persist currentEpoch: %w", err), false)
						return
					}
					p.currentEpoch = hs.CurrentEpoch
				}
			}
			ls.stage = stageSend
		case stageSend:
			for _, m := range r.Messages {
				l.send(m)
			}
			if ls.qp.Type == wire.PacketNewLeader && len(r.Messages) > 0 {
				// From the NEWLEADER ACK on, every read waits syncLimit
				// ticks at most.
				l.setReadTimeout(time.Duration(s.cfg.TickTime*s.cfg.SyncLimit) * time.Millisecond)
			}
			if ls.qp.Type == wire.PacketLeaderInfo && len(r.Messages) > 0 {
				epochReply, _ := wire.ParseEpochData(r.Messages[0].Data)
				l.log.Info().Int64("new_epoch", ls.zab.Synced().NewEpoch).Str("last_logged", ls.lastLogged.String()).
					Int32("epoch_reply", epochReply).Msg("registered with the leader")
			}
			ls.stage = stageDone
		case stageDone:
			ls.ready, ls.snap = nil, nil
			if ls.zab.State() == zab.LearnerSynced {
				ls.finish()
			}
			return
		}
	}
}

// startRewind starts the disk job of a TRUNC (drop the logged txns after
// the zxid, reload the database) or a SNAP (the logged txns past the
// snapshot must not come back at restart: drop them, and any newer
// snapshot).
func (ls *learnerSync) startRewind(r *zab.LearnerReady) {
	s := ls.s
	st := s.dur.store
	if r.ReceiveSnapshot {
		db := ls.snap
		z := r.SnapshotZxid
		ls.snapTaken, ls.snapAt = true, z
		ls.runJob(func() syncJobResult {
			db.tree.LastZxid = z
			nst, err := ls.rewindDisk(st, z, false)
			return syncJobResult{store: nst, db: db, err: err, fatal: err != nil && nst == nil}
		})
		return
	}
	z := r.TruncateTo
	ls.runJob(func() syncJobResult {
		nst, err := ls.rewindDisk(st, z, true)
		if err != nil {
			return syncJobResult{store: nst, fatal: true, err: fmt.Errorf("not able to truncate the log to %v: %w; "+
				"wipe this server's data directory so it resyncs from a snapshot", z, err)}
		}
		db, err := s.dur.loadDatabase()
		if err != nil {
			return syncJobResult{store: nst, fatal: true, err: fmt.Errorf("reload after truncating to %v: %w", z, err)}
		}
		if db.tree.LastZxid != z {
			// The disk does not hold the history up to z: after a SNAP
			// sync whose leader never got its NEWLEADER quorum (its
			// snapshot held its uncommitted tail), the next leader TRUNCs
			// below that snapshot, and the older snapshots and logs it
			// superseded are gone (supersedeBySnap). Serving z from this
			// database would lose the txns in between: stop; what is
			// left on disk is older than z, and a restart syncs again.
			return syncJobResult{store: nst, fatal: true, err: fmt.Errorf("after truncating to %v the database on disk reaches %v only; "+
				"stopping rather than serving it (a restart syncs from the leader again)", z, db.tree.LastZxid)}
		}
		return syncJobResult{store: nst, db: db}
	})
}

// onJob takes a disk job's result back and goes on with the Ready.
func (ls *learnerSync) onJob(r syncJobResult) {
	s := ls.s
	ls.job = false
	if r.store != nil {
		s.dur.store = r.store
		s.dur.lastAppended = s.dur.store.DurableZxid()
	}
	if s.qs.peer.syncing() != ls {
		return // cannot happen: nothing ends a sync while a job runs
	}
	if r.err != nil {
		ls.fail(r.err, r.fatal)
		return
	}
	if r.db != nil {
		q := s.qs.quorum()
		r.db.tree.InitConfig([]byte(q.Text()), q.Version, wallMs())
		ls.db = r.db
	}
	ls.carryOut()
}

// onDurable goes on with a Ready that waits for the fsync.
func (ls *learnerSync) onDurable() {
	if ls.ready != nil && ls.stage == stageDurable {
		ls.carryOut()
	}
}

// fail ends a sync that failed: a fatal error stops the server (Java
// exits), any other looks for a leader again from a consistent database
// (reloaded from disk if the sync changed the disk; else with the txns the
// sync logged applied, as Java's fastForwardDataBase).
func (ls *learnerSync) fail(err error, fatal bool) {
	s := ls.s
	p := s.qs.peer
	p.stats.linkDrops++
	ls.link.close(err.Error())
	ls.lr.link, ls.lr.lsync = nil, nil
	if fatal {
		s.log.Error().Err(err).Msg("cannot continue as a learner; stopping (Java exits here)")
		s.fail(err)
		return
	}
	s.log.Warn().Err(err).Str("mode", ls.mode).Msg("Exception when following the leader")
	if err := ls.lr.recoverAfterSync(ls.diskChanged); err != nil {
		s.log.Error().Err(err).Msg("cannot reload the database after a failed sync; stopping")
		s.fail(err)
		return
	}
	s.qs.becomeLooking("sync with the leader failed", 200*time.Millisecond)
}

// applySyncTxn applies a committed txn to the database being built during
// a SNAP or TRUNC sync (before NEWLEADER). Digests are not compared here:
// a leader's snapshot is fuzzy until these txns are applied, and Java's
// learner applies them without the digest too.
func applySyncTxn(db *database, e *wire.TxnEntry) {
	if e.Hdr.Zxid <= db.tree.LastZxid {
		return
	}
	applyToDatabase(db, e)
	db.noteRecent(e)
}

// readSnapStream loads the SNAP payload: sessions, the data tree, then the
// "BenWasHere" signature (spec §4.6).
func (l *learnerLink) readSnapStream() (*database, error) {
	l.rd.setTimeout(l.initTimeout)
	sr := storage.NewStreamReaderFrom(l.br, l.maxRecord)
	ld := &loader{t: tree.NewEmpty(l.treeOpts), sessions: map[wire.SessionID]int32{}}
	if err := storage.ReadSessions(sr, ld); err != nil {
		return nil, err
	}
	if err := storage.ReadDataTree(sr, ld); err != nil {
		return nil, err
	}
	sig, err := sr.String()
	if err != nil {
		return nil, err
	}
	if sig != wire.SnapSignature {
		return nil, fmt.Errorf("missing signature: got %q", sig)
	}
	ld.t.ACLs().PurgeUnused()
	ld.t.EnsureSystemNodes()
	return &database{tree: ld.t, sessions: ld.sessions}, nil
}

// rewindDisk closes the txn log, removes every txn (and snapshot) after
// zxid and reopens the log. strict requires a log that holds zxid (TRUNC).
// It returns the reopened store, or nil if the log could not be reopened.
func (ls *learnerSync) rewindDisk(st store, zxid wire.Zxid, strict bool) (store, error) {
	s := ls.s
	if err := st.Close(); err != nil {
		s.log.Warn().Err(err).Msg("closing the txn log before truncation")
	}
	var err error
	if strict {
		err = storage.TruncateTo(s.dur.logDir(), zxid, s.cfg.RecordLimit())
		if err != nil && snapshotAt(s.dur.snapDir(), zxid) {
			// The log starts after zxid (its older files went with a
			// SNAP's supersede, or a purge) but a snapshot is at zxid
			// exactly: dropping every logged txn after it is the TRUNC.
			err = storage.DropAfter(s.dur.logDir(), zxid, s.cfg.RecordLimit())
		}
	} else {
		err = storage.DropAfter(s.dur.logDir(), zxid, s.cfg.RecordLimit())
	}
	if err == nil {
		var removed []string
		removed, err = storage.RemoveSnapshotsAfter(s.dur.snapDir(), zxid)
		for _, f := range removed {
			s.log.Info().Str("file", f).Str("zxid", zxid.String()).Msg("removed snapshot newer than the leader's history")
		}
	}
	nst, oerr := s.dur.openTxnLogAt(zxid)
	if oerr != nil {
		return nil, errors.Join(err, oerr)
	}
	return nst, err
}

// snapshotAt reports whether dir holds a snapshot at zxid.
func snapshotAt(dir string, zxid wire.Zxid) bool {
	snaps, err := storage.ListSnapshots(dir)
	if err != nil {
		return false
	}
	for _, sn := range snaps {
		if sn.Zxid == zxid {
			return true
		}
	}
	return false
}

// supersedeBySnap removes, once the snapshot at NEWLEADER (at snapZxid)
// is durable after a SNAP at x, the snapshots older than it and the txn
// log files holding only txns up to x. Those txns are in the leader's
// snapshot or were never committed (another branch of the history that
// this learner logged and the leader does not have): left in the log,
// such a txn would be read for a DIFF once this server leads (reading
// through the hole up to x), and an old snapshot plus the later logs
// would be a history with a hole. Snapshots go first: a crash in between
// leaves the newest snapshot and logs nobody replays below it.
func (ls *learnerSync) supersedeBySnap(x, snapZxid wire.Zxid) error {
	s := ls.s
	removed, err := storage.RemoveSnapshotsBefore(s.dur.snapDir(), snapZxid)
	for _, f := range removed {
		s.log.Info().Str("file", f).Str("snapshot_zxid", snapZxid.String()).Msg("removed snapshot superseded by the leader's")
	}
	if err != nil {
		return fmt.Errorf("removing the snapshots the leader's snapshot supersedes: %w", err)
	}
	removed, err = storage.DropThrough(s.dur.logDir(), x, s.cfg.RecordLimit())
	for _, f := range removed {
		s.log.Info().Str("file", f).Str("zxid", x.String()).Msg("removed txn log superseded by the leader's snapshot")
	}
	if err != nil {
		return fmt.Errorf("removing the txn logs the leader's snapshot supersedes: %w", err)
	}
	return nil
}

// timeoutReader gives every read on the connection its own deadline,
// as Java's SO_TIMEOUT does (a large SNAP stream may take long in total,
// but no single read may stall longer than the timeout).
type timeoutReader struct {
	c net.Conn
	d atomic.Int64 // time.Duration; the owner goroutine may change it
}

func newTimeoutReader(c net.Conn, d time.Duration) *timeoutReader {
	r := &timeoutReader{c: c}
	r.setTimeout(d)
	return r
}

// setTimeout changes the per-read timeout; safe while a read is running.
func (r *timeoutReader) setTimeout(d time.Duration) { r.d.Store(int64(d)) }

func (r *timeoutReader) Read(b []byte) (int, error) {
	r.c.SetReadDeadline(time.Now().Add(time.Duration(r.d.Load())))
	return r.c.Read(b)
}
