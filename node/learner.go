package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// The learner side of Zab (Learner.java, Follower.java, Observer.java).
//
// One goroutine per leader connection does the discovery and sync phases
// (connect, FOLLOWERINFO/OBSERVERINFO, LEADERINFO/ACKEPOCH, DIFF/TRUNC/SNAP,
// NEWLEADER, UPTODATE) with the txn log lent to it by the owner goroutine,
// which meanwhile serves no clients. It hands the result back over
// peer.syncDone and then keeps reading broadcast packets into link.in for
// the owner. A writer goroutine sends what the owner queues.

// linkQueueLimit bounds the owner's outgoing queue to the leader; a leader
// that stops reading that long is dropped.
const linkQueueLimit = 1 << 18

// learnerLink is one connection to a leader.
type learnerLink struct {
	leader   int64
	addr     string
	observer bool
	log      zerolog.Logger
	// maxRecord bounds every length in a packet from the leader
	// (Config.RecordLimit, as Java's BinaryInputArchive).
	maxRecord int

	conn net.Conn
	rd   *timeoutReader
	br   *bufio.Reader
	bw   *bufio.Writer

	in chan linkMsg // broadcast packets for the owner

	mu      sync.Mutex
	outQ    []wire.QuorumPacket
	outWake chan struct{}

	readTimeout  time.Duration // syncLimit ticks once synced
	writeTimeout time.Duration

	closeOnce sync.Once
	closed    chan struct{}
	reason    string
}

// linkMsg is a packet (or the error that ended the link) for the owner.
type linkMsg struct {
	link *learnerLink
	qp   wire.QuorumPacket
	err  error
}

func (l *learnerLink) close(reason string) {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.reason = reason
		conn := l.conn
		l.mu.Unlock()
		close(l.closed)
		if conn != nil {
			conn.Close()
		}
	})
}

// closeReason is why the link was closed ("" while open).
func (l *learnerLink) closeReason() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reason
}

func (l *learnerLink) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

// send queues a packet for the writer goroutine. It never blocks; a queue
// that grows without bound means the leader is gone, and the link closes.
func (l *learnerLink) send(qp wire.QuorumPacket) {
	l.mu.Lock()
	l.outQ = append(l.outQ, qp)
	n := len(l.outQ)
	l.mu.Unlock()
	if n > linkQueueLimit {
		l.close("send queue to the leader overflowed")
		return
	}
	select {
	case l.outWake <- struct{}{}:
	default:
	}
}

// writer sends queued packets, flushing after each batch.
func (l *learnerLink) writer() {
	var batch []wire.QuorumPacket
	for {
		select {
		case <-l.outWake:
		case <-l.closed:
			return
		}
		l.mu.Lock()
		batch, l.outQ = l.outQ, batch[:0]
		l.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		l.conn.SetWriteDeadline(time.Now().Add(l.writeTimeout))
		var err error
		for i := range batch {
			if err = writePacket(l.bw, &batch[i]); err != nil {
				break
			}
			batch[i] = wire.QuorumPacket{}
		}
		if err == nil {
			err = l.bw.Flush()
		}
		if err != nil {
			l.log.Warn().Err(err).Msg("write to leader failed")
			l.close("write to leader failed: " + err.Error())
			return
		}
	}
}

func writePacket(w *bufio.Writer, qp *wire.QuorumPacket) error {
	jw := jute.NewWriter(w.AvailableBuffer())
	qp.Encode(jw)
	_, err := w.Write(jw.Bytes())
	return err
}

// read reads one packet; no single read may wait longer than timeout.
func (l *learnerLink) read(timeout time.Duration) (wire.QuorumPacket, error) {
	l.rd.setTimeout(timeout)
	qp, err := wire.ReadQuorumPacket(l.br, l.maxRecord)
	if err != nil && l.isClosed() {
		err = fmt.Errorf("link closed: %s", l.closeReason())
	}
	return qp, err
}

// writeAll sends packets synchronously with one flush (sync phase only,
// before the writer goroutine owns the connection).
func (l *learnerLink) writeAll(qps []wire.QuorumPacket) error {
	if len(qps) == 0 {
		return nil
	}
	l.conn.SetWriteDeadline(time.Now().Add(l.writeTimeout))
	for i := range qps {
		if err := writePacket(l.bw, &qps[i]); err != nil {
			return err
		}
	}
	return l.bw.Flush()
}

// write sends one packet synchronously (sync phase only, before the
// writer goroutine owns the connection).
func (l *learnerLink) write(qp wire.QuorumPacket) error {
	l.conn.SetWriteDeadline(time.Now().Add(l.writeTimeout))
	if err := writePacket(l.bw, &qp); err != nil {
		return err
	}
	return l.bw.Flush()
}

// syncInput is what the owner lends the sync goroutine.
type syncInput struct {
	store          store
	lastLoggedZxid wire.Zxid
	acceptedEpoch  int64
	currentEpoch   int64
}

// syncOutcome is what the sync goroutine hands back.
type syncOutcome struct {
	link  *learnerLink
	err   error
	fatal bool // Java exits the process here (e.g. a TRUNC it cannot do)
	store store

	acceptedEpoch int64
	currentEpoch  int64
	newEpoch      int64
	mode          string
	took          time.Duration
	// db replaces the server's database (SNAP, TRUNC); nil after a DIFF.
	db *database
	// db was replaced on disk (logs truncated); if the sync failed the
	// owner must reload from disk.
	diskChanged bool
	// logged are the proposals written and fsynced before the NEWLEADER
	// ACK (followers); they wait for their COMMITs.
	logged []*wire.TxnEntry
	// notCommitted came after NEWLEADER (followers) or during the whole
	// sync (observers); committed lists the COMMITs not yet applied.
	notCommitted []*wire.TxnEntry
	committed    []wire.Zxid
}

// startLearning connects to the leader and syncs with it.
func (s *Server) startLearning(leader int64, observer bool) {
	p := s.peer
	s.abortSnapshot()
	s.quiesceStore()
	ls := s.cfg.Quorum.Servers[leader]
	l := &learnerLink{
		leader:       leader,
		addr:         ls.QuorumAddr(),
		observer:     observer,
		log:          s.log.With().Int64("leader", leader).Logger(),
		maxRecord:    s.cfg.RecordLimit(),
		in:           make(chan linkMsg, 1024),
		outWake:      make(chan struct{}, 1),
		closed:       make(chan struct{}),
		readTimeout:  time.Duration(s.cfg.TickTime*s.cfg.InitLimit) * time.Millisecond,
		writeTimeout: time.Duration(s.cfg.TickTime*s.cfg.SyncLimit) * time.Millisecond,
	}
	s.setRole(roleSyncing)
	p.leader = leader
	p.link = l
	in := syncInput{store: s.store, lastLoggedZxid: s.tree.LastZxid, acceptedEpoch: p.acceptedEpoch, currentEpoch: p.currentEpoch}
	s.goRoutine(func() { s.runLearner(l, in) })
}

// runLearner is the link goroutine: sync, hand over, then read broadcast
// packets for the owner until the link fails.
func (s *Server) runLearner(l *learnerLink, in syncInput) {
	out := s.syncWithLeader(l, in)
	out.link = l
	select {
	case s.peer.syncDone <- out:
	case <-s.quit:
		l.close("server stopping")
		if out.store != nil && out.store != in.store {
			out.store.Close()
		}
		return
	}
	if out.err != nil {
		l.close(out.err.Error())
		return
	}
	for {
		qp, err := l.read(l.readTimeout)
		if err != nil && l.isClosed() {
			// Closed by the owner, the writer or send: the owner learns
			// it from l.closed (onLinkClosed), not from this error.
			return
		}
		msg := linkMsg{link: l, qp: qp, err: err}
		select {
		case l.in <- msg:
		case <-l.closed:
			return
		case <-s.quit:
			return
		}
		if err != nil {
			return
		}
	}
}

// connectToLeader dials the leader: up to 5 attempts 100 ms apart within
// initLimit ticks (Learner.connectToLeader).
func (s *Server) connectToLeader(l *learnerLink) error {
	limit := time.Duration(s.cfg.TickTime*s.cfg.InitLimit) * time.Millisecond
	deadline := time.Now().Add(limit)
	var err error
	for tries := 0; tries < 5; tries++ {
		remaining := time.Until(deadline)
		if remaining <= 0 {
			break
		}
		var c net.Conn
		ctx, cancel := context.WithTimeout(context.Background(), remaining)
		if dial := s.cfg.QuorumDialer; dial != nil {
			c, err = dial(ctx, l.addr)
		} else {
			var d net.Dialer
			c, err = d.DialContext(ctx, "tcp", l.addr)
		}
		if err == nil { // quorum TLS and SASL (quorumsec.go)
			c, err = s.peer.sec.dialLearner(ctx, c, l.addr)
		}
		cancel()
		if err == nil {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetNoDelay(true)
			}
			l.rd = newTimeoutReader(c, limit)
			l.br = bufio.NewReaderSize(l.rd, 256<<10)
			l.bw = bufio.NewWriterSize(c, 64<<10)
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
		case <-s.quit:
			return errors.New("server stopping")
		}
	}
	return fmt.Errorf("connectToLeader exceeded on retries: %w", err)
}

// syncWithLeader runs discovery and synchronization (Learner.registerWithLeader
// and syncWithLeader) as the driver of a zab.LearnerSync: every packet
// from the leader goes through its Step, and the driver carries out the
// step's Ready in order (truncate or receive the snapshot, apply, write a
// snapshot, log and fsync, write the epochs) before it sends anything:
// every proposal is fsynced, then currentEpoch written, then the NEWLEADER
// ACK sent (Java 3.8.5+'s order).
func (s *Server) syncWithLeader(l *learnerLink, in syncInput) (out syncOutcome) {
	start := time.Now()
	out.store = in.store
	out.acceptedEpoch, out.currentEpoch = in.acceptedEpoch, in.currentEpoch
	fail := func(err error) syncOutcome {
		out.err = err
		return out
	}
	if err := s.connectToLeader(l); err != nil {
		return fail(err)
	}
	q := s.cfg.Quorum
	ls := zab.NewLearnerSync(zab.LearnerConfig{ID: q.MyID, Observer: l.observer, ConfigVersion: q.Version,
		LastLogged: in.lastLoggedZxid, AcceptedEpoch: in.acceptedEpoch, CurrentEpoch: in.currentEpoch,
		MaxRecord: s.cfg.RecordLimit()})
	if err := l.write(ls.Start()); err != nil {
		return fail(fmt.Errorf("register with leader: %w", err))
	}
	initTimeout := time.Duration(s.cfg.TickTime*s.cfg.InitLimit) * time.Millisecond
	syncTimeout := time.Duration(s.cfg.TickTime*s.cfg.SyncLimit) * time.Millisecond
	var db *database // the replaced database (SNAP, TRUNC)
	for {
		state := ls.State()
		readTimeout := initTimeout
		if state == zab.LearnerAfterNewLeader {
			readTimeout = syncTimeout
		}
		qp, err := l.read(readTimeout)
		if err != nil {
			switch state {
			case zab.LearnerLeaderInfo:
				return fail(fmt.Errorf("waiting for LEADERINFO: %w", err))
			case zab.LearnerSyncMode:
				return fail(fmt.Errorf("waiting for the sync mode: %w", err))
			}
			return fail(fmt.Errorf("during sync: %w", err))
		}
		r, err := ls.Step(&qp)
		if err != nil {
			out.fatal = errors.Is(err, zab.ErrLearnerFatal)
			return fail(err)
		}
		for _, w := range r.Warnings {
			l.log.Warn().Str("packet", qp.Type.String()).Str("zxid", qp.Zxid.String()).Msg(w)
		}
		switch {
		case state != zab.LearnerSyncMode && (qp.Type == wire.PacketDiff || qp.Type == wire.PacketSnap || qp.Type == wire.PacketTrunc):
			// A sync mode out of turn: the machine warned and ignored it.
		case qp.Type == wire.PacketDiff:
			out.mode = "DIFF"
			l.log.Info().Str("zxid", qp.Zxid.String()).Msg("Getting a diff from the leader")
		case qp.Type == wire.PacketSnap:
			out.mode = "SNAP"
			l.log.Info().Str("zxid", qp.Zxid.String()).Msg("Getting a snapshot from leader")
		case qp.Type == wire.PacketTrunc:
			out.mode = "TRUNC"
			l.log.Warn().Str("zxid", qp.Zxid.String()).Msg("Truncating log to get in sync with the leader")
		case qp.Type == wire.PacketNewLeader:
			if r.HardState != nil {
				l.log.Info().Int("config_bytes", len(qp.Data)).Msg("Learner received NEWLEADER message")
			}
		case qp.Type == wire.PacketUpToDate:
			l.log.Info().Msg("Learner received UPTODATE message")
		}
		if r.Truncate || r.ReceiveSnapshot {
			if db, err = s.replaceDatabase(l, &out, &r); err != nil {
				return fail(err)
			}
			db.tree.InitConfig([]byte(q.Text()), q.Version, wallMs())
			out.db = db
		}
		for _, e := range r.Apply {
			s.applySyncTxn(db, e)
		}
		if r.WriteSnapshot {
			path, nodes, err := s.writeSnapshotOf(db.tree, databaseTail(db))
			if err != nil {
				return fail(fmt.Errorf("snapshot at NEWLEADER: %w", err))
			}
			l.log.Info().Str("file", path).Int("nodes", nodes).Msg("snapshot written")
		}
		if len(r.Append) > 0 {
			// ZOOKEEPER-3911/4643/4646: the proposals are durable before
			// the NEWLEADER ACK.
			for _, e := range r.Append {
				out.store.Append(e)
			}
			out.store.Sync()
			if err := s.waitDurable(out.store, r.Append[len(r.Append)-1].Hdr.Zxid); err != nil {
				return fail(fmt.Errorf("logging the sync proposals: %w", err))
			}
			out.logged = r.Append
		}
		if hs := r.HardState; hs != nil {
			if hs.AcceptedEpoch != out.acceptedEpoch {
				if err := storage.WriteEpoch(s.snapDir(), storage.AcceptedEpochFile, hs.AcceptedEpoch); err != nil {
					return fail(fmt.Errorf("persist acceptedEpoch: %w", err))
				}
				out.acceptedEpoch = hs.AcceptedEpoch
			}
			if hs.CurrentEpoch != out.currentEpoch {
				if err := storage.WriteEpoch(s.snapDir(), storage.CurrentEpochFile, hs.CurrentEpoch); err != nil {
					return fail(fmt.Errorf("persist currentEpoch: %w", err))
				}
				out.currentEpoch = hs.CurrentEpoch
			}
		}
		if err := l.writeAll(r.Messages); err != nil {
			return fail(fmt.Errorf("sending %v to the leader: %w", r.Messages[0].Type, err))
		}
		if qp.Type == wire.PacketLeaderInfo {
			sy := ls.Synced()
			out.newEpoch = sy.NewEpoch
			epochReply, _ := wire.ParseEpochData(r.Messages[0].Data)
			l.log.Info().Int64("new_epoch", sy.NewEpoch).Str("last_logged", in.lastLoggedZxid.String()).
				Int32("epoch_reply", epochReply).Msg("registered with the leader")
		}
		if ls.State() == zab.LearnerSynced {
			sy := ls.Synced()
			out.notCommitted, out.committed = sy.NotCommitted, sy.Committed
			out.took = time.Since(start)
			l.readTimeout = syncTimeout
			return out
		}
	}
}

// replaceDatabase carries out a TRUNC (drop the logged txns after the
// zxid, reload) or a SNAP (read the snapshot stream; the logged txns past
// it must not come back at restart: drop them, and any newer snapshot).
func (s *Server) replaceDatabase(l *learnerLink, out *syncOutcome, r *zab.LearnerReady) (*database, error) {
	out.diskChanged = true
	if r.ReceiveSnapshot {
		db, err := s.readSnapStream(l)
		if err != nil {
			return nil, fmt.Errorf("reading the leader's snapshot: %w", err)
		}
		db.tree.LastZxid = r.SnapshotZxid
		st, err := s.rewindDisk(out.store, r.SnapshotZxid, false)
		out.store = st
		if err != nil {
			out.fatal = st == nil
			return nil, err
		}
		return db, nil
	}
	st, err := s.rewindDisk(out.store, r.TruncateTo, true)
	out.store = st
	if err != nil {
		out.fatal = true
		return nil, fmt.Errorf("not able to truncate the log to %v: %w; "+
			"wipe this server's data directory so it resyncs from a snapshot", r.TruncateTo, err)
	}
	db, err := s.loadDatabase()
	if err != nil {
		out.fatal = true
		return nil, fmt.Errorf("reload after truncating to %v: %w", r.TruncateTo, err)
	}
	db.tree.LastZxid = r.TruncateTo
	return db, nil
}

// applySyncTxn applies a committed txn to the database being built during
// a SNAP or TRUNC sync (before NEWLEADER). Digests are not compared here:
// a leader's snapshot is fuzzy until these txns are applied, and Java's
// learner applies them without the digest too.
func (s *Server) applySyncTxn(db *database, e *wire.TxnEntry) {
	if e.Hdr.Zxid <= db.tree.LastZxid {
		return
	}
	applyToDatabase(db, e)
	db.noteRecent(e)
}

// readSnapStream loads the SNAP payload: sessions, the data tree, then the
// "BenWasHere" signature (spec §4.6).
func (s *Server) readSnapStream(l *learnerLink) (*database, error) {
	l.rd.setTimeout(time.Duration(s.cfg.TickTime*s.cfg.InitLimit) * time.Millisecond)
	sr := storage.NewStreamReaderFrom(l.br, s.cfg.RecordLimit())
	ld := &loader{t: tree.NewEmpty(s.opts), sessions: map[wire.SessionID]int32{}}
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
func (s *Server) rewindDisk(st store, zxid wire.Zxid, strict bool) (store, error) {
	if err := st.Close(); err != nil {
		s.log.Warn().Err(err).Msg("closing the txn log before truncation")
	}
	var err error
	if strict {
		err = storage.TruncateTo(s.logDir(), zxid, s.cfg.RecordLimit())
	} else {
		err = storage.DropAfter(s.logDir(), zxid, s.cfg.RecordLimit())
	}
	if err == nil {
		var removed []string
		removed, err = storage.RemoveSnapshotsAfter(s.snapDir(), zxid)
		for _, f := range removed {
			s.log.Info().Str("file", f).Str("zxid", zxid.String()).Msg("removed snapshot newer than the leader's history")
		}
	}
	nst, oerr := s.openTxnLogAt(zxid)
	if oerr != nil {
		return nil, errors.Join(err, oerr)
	}
	return nst, err
}

// waitDurable blocks until the store has made everything up to z durable.
// Only the goroutine that holds the store may call it.
func (s *Server) waitDurable(st store, z wire.Zxid) error {
	for st.DurableZxid() < z {
		select {
		case <-st.Durable():
		case f := <-st.Failed():
			return f.err
		case <-s.quit:
			return errors.New("server stopping")
		}
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
