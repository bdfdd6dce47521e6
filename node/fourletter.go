package node

import (
	"context"
	"encoding/binary"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zkgo/zkgo/node/watch"
	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// VersionString is the version text of srvr/stat/mntr/envi. Java 3.8 prints
// "3.8.0-<commit>, built on yyyy-MM-dd HH:mm UTC"; zkgo uses the older
// "MM/dd/yyyy HH:mm GMT" date form because go-zookeeper's FLWSrvr (a stock
// client) cannot parse the 3.8 one (compat-tests/DIFFERENCES.md). The build
// may override it with -ldflags.
var VersionString = "3.8.0-zkgo-0.1.0, built on 11/22/2026 00:00 GMT"

// fourLetter answers an admin command and closes the connection
// (NIOServerCnxn.checkFourLetterWord). The whitelist comes from
// 4lw.commands.whitelist; srvr is always allowed, as in Java.
//
// Every way out ends in the sink's Close (after its Send, when there is an
// answer), also for a connection that is already closing or gone: the
// front end keeps a duplicate of a four-letter-word socket for the answer,
// and that Send or Close is what releases it.
func (rp *responder) fourLetter(cc *clientConn, word string, arg []byte) {
	cc.fourLetter = true
	reason := "four letter word " + word
	if cc.closing {
		// Refused before its word was read (maxClientCnxns): Java refuses
		// such a connection at accept, unanswered.
		cc.sink.Close(reason)
		return
	}
	var out string
	switch {
	case word != "srvr" && !rp.cfg.FourLetterAllowed(word):
		out = word + " is not executed because it is not in the whitelist.\n"
	case word == "stmk" && len(arg) < 8:
		// Java needs the 8-byte mask in the same read; otherwise it closes
		// without a reply.
		if cc.dead {
			cc.sink.Close("stmk without mask")
			return
		}
		rp.s.cl.closeConn(cc, "stmk without mask")
		return
	default:
		if rp.s.qs.serving() || word == "envi" {
			if j := rp.fourLetterJob(word); j != nil {
				// Its output grows with the server's state, or it needs
				// the disk: built across rounds (fourletter_job.go).
				rp.s.sched.runConnJob(cc, j)
				return
			}
		}
		out = rp.fourLetterOutput(cc, word, arg)
	}
	rp.answerFourLetter(cc, word, []byte(out))
}

// answerFourLetter sends a four-letter word's output and closes; also for
// a connection whose job built the output across rounds.
func (rp *responder) answerFourLetter(cc *clientConn, word string, out []byte) {
	reason := "four letter word " + word
	// Java's writer sends (and counts) one packet per 8 KiB block.
	chunks := int64((len(out) + 8191) / 8192)
	cc.stats.sent += chunks
	rp.stats.sentPackets += chunks
	if cc.dead {
		// The client half-closed right after the word (nc -N): the event
		// loop has closed its socket, the front end's duplicate takes the
		// answer. Java answers these too.
		cc.sink.Send(out, 1)
		cc.sink.Close(reason)
		return
	}
	if len(cc.out) == 0 {
		cc.out = out // a long output is not copied again
	} else {
		cc.out = append(cc.out, out...)
	}
	cc.completed++
	rp.s.cl.markDirty(cc)
	rp.s.cl.closeConn(cc, reason)
}

// notServing is Java's ZK_NOT_SERVING reply, printed by most commands
// while a quorum member is electing or syncing.
const notServing = "This ZooKeeper instance is not currently serving requests\n"

func (rp *responder) fourLetterOutput(cc *clientConn, word string, arg []byte) string {
	var b strings.Builder
	if !rp.s.qs.serving() {
		switch word {
		case "isro":
			return "null"
		case "srvr", "stat", "cons", "crst", "srst", "mntr", "conf", "wchs", "wchc", "wchp", "dump", "dirs", "hash":
			return notServing
		}
	}
	switch word {
	case "ruok":
		return "imok"
	case "isro":
		return "rw"
	case "gtmk":
		return strconv.FormatInt(rp.traceMask, 10)
	case "stmk":
		rp.traceMask = int64(binary.BigEndian.Uint64(arg))
		return strconv.FormatInt(rp.traceMask, 10)
	case "srvr":
		rp.writeStat(&b)
	case "crst":
		for _, c := range rp.conns {
			c.stats.reset()
		}
		b.WriteString("Connection stats reset.\n")
	case "srst":
		rp.stats.reset()
		b.WriteString("Server stats reset.\n")
	case "wchs":
		b.WriteString(strconv.Itoa(rp.dataW.WatcherCount()) + " connections watching " + strconv.Itoa(rp.dataW.PathCount()) + " paths\n")
		b.WriteString("Total watches:" + strconv.Itoa(rp.dataW.Size()) + "\n")
	case "hash":
		for _, d := range rp.digestLog {
			b.WriteString(strconv.FormatUint(uint64(d.zxid), 16) + ": " + strconv.FormatInt(int64(d.digest), 10) + "\n")
		}
	}
	return b.String()
}

func (rp *responder) sortedConns() []*clientConn {
	out := make([]*clientConn, 0, len(rp.conns))
	for _, c := range rp.conns {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (rp *responder) watcherSession(w watch.Watcher) string {
	if c := rp.conns[uint64(w)]; c != nil {
		return "0x" + strconv.FormatUint(uint64(c.session), 16)
	}
	return "0x0"
}

// javaSocketAddr formats a remote address as InetSocketAddress.toString.
func javaSocketAddr(remote string) string {
	host, port := remote, ""
	if i := strings.LastIndexByte(remote, ':'); i >= 0 {
		host, port = remote[:i], remote[i+1:]
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	h := javaHostAddress(host)
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	return "/" + h + ":" + port
}

// connLine is ServerCnxn.dumpConnectionInfo.
func (rp *responder) connLine(c *clientConn, full bool) string {
	ops := "1"
	if c.fourLetter || c.closing {
		ops = "0"
	}
	queued := len(c.pending)
	var b strings.Builder
	b.WriteString(" " + javaSocketAddr(c.remote) + "[" + ops + "](queued=" + strconv.Itoa(queued) +
		",recved=" + strconv.FormatInt(c.stats.received, 10) + ",sent=" + strconv.FormatInt(c.stats.sent, 10))
	if full && c.session != 0 {
		st := &c.stats
		b.WriteString(",sid=0x" + strconv.FormatUint(uint64(c.session), 16))
		b.WriteString(",lop=" + st.lastOpName())
		b.WriteString(",est=" + strconv.FormatInt(st.established, 10))
		b.WriteString(",to=" + strconv.Itoa(int(c.timeoutMs)))
		if st.lastCxid >= 0 {
			b.WriteString(",lcxid=0x" + strconv.FormatUint(uint64(uint32(st.lastCxid)), 16))
		}
		b.WriteString(",lzxid=0x" + strconv.FormatUint(uint64(st.lastZxid), 16))
		b.WriteString(",lresp=" + strconv.FormatInt(st.lastRespTime, 10))
		b.WriteString(",llat=" + strconv.FormatInt(st.lastLatencyMs(), 10))
		b.WriteString(",minlat=" + strconv.FormatInt(st.shownMin(), 10))
		avg := int64(0)
		if st.latencyCount > 0 {
			avg = st.latencySum / st.latencyCount
		}
		b.WriteString(",avglat=" + strconv.FormatInt(avg, 10))
		b.WriteString(",maxlat=" + strconv.FormatInt(st.maxLatency, 10))
	}
	b.WriteString(")")
	return b.String()
}

// writeStat is srvr (ServerStats.toString); stat adds the clients
// (statLines).
func (rp *responder) writeStat(b *strings.Builder) {
	b.WriteString("Zookeeper version: " + VersionString + "\n")
	rp.writeStatTail(b)
}

// writeStatTail is the part of srvr and stat after the clients.
func (rp *responder) writeStatTail(b *strings.Builder) {
	st := rp.stats
	b.WriteString("Latency min/avg/max: " + strconv.FormatInt(st.shownMin(), 10) + "/" + javaAvg(st.latencySum, st.latencyCount) +
		"/" + strconv.FormatInt(st.maxLatency, 10) + "\n")
	b.WriteString("Received: " + strconv.FormatInt(st.received, 10) + "\n")
	b.WriteString("Sent: " + strconv.FormatInt(st.sentPackets, 10) + "\n")
	b.WriteString("Connections: " + strconv.Itoa(len(rp.conns)) + "\n")
	b.WriteString("Outstanding: " + strconv.Itoa(rp.outstanding()) + "\n")
	b.WriteString("Zxid: 0x" + strconv.FormatUint(uint64(rp.s.tree.LastZxid), 16) + "\n")
	b.WriteString("Mode: " + rp.s.qs.modeName() + "\n")
	b.WriteString("Node count: " + strconv.Itoa(rp.nodeCount()) + "\n")
	if ld := rp.s.qs.leader; ld != nil {
		b.WriteString("Proposal sizes last/min/max: " + strconv.FormatInt(ld.proposalSizes[0], 10) + "/" +
			strconv.FormatInt(ld.proposalSizes[1], 10) + "/" + strconv.FormatInt(ld.proposalSizes[2], 10) + "\n")
	}
}

// nodeCount is Java's DataTree node count, which holds the root twice
// (under "" and "/").
func (rp *responder) nodeCount() int { return rp.s.tree.Len() + 1 }

// outstanding counts requests received but not answered.
func (rp *responder) outstanding() int { return rp.s.cl.outstandingN }

// writeMntr is the monitor command: zk_<key>\t<value> lines, with the keys
// Java 3.8 prints first (version, state and its gauges, in Java's order),
// then the counters zkgo tracks.
func (rp *responder) writeMntr(b *strings.Builder, fds fdCounts) {
	line := func(k, v string) { b.WriteString("zk_" + k + "\t" + v + "\n") }
	i64 := func(k string, v int64) { line(k, strconv.FormatInt(v, 10)) }
	st := rp.stats
	line("version", VersionString)
	line("server_state", rp.s.qs.modeName())
	i64("ephemerals_count", int64(rp.s.tree.EphemeralCount()))
	i64("num_alive_connections", int64(len(rp.conns)))
	line("avg_latency", javaAvg(st.latencySum, st.latencyCount))
	i64("outstanding_requests", int64(rp.outstanding()))
	i64("znode_count", int64(rp.nodeCount()))
	i64("global_sessions", int64(rp.sessions.Len()))
	i64("non_mtls_remote_conn_count", 0)
	i64("last_client_response_size", st.lastRespSize)
	i64("packets_sent", st.sentPackets)
	i64("packets_received", st.received)
	i64("max_client_response_size", st.maxRespSize)
	line("connection_drop_probability", "0.0")
	i64("watch_count", int64(rp.dataW.Size()+rp.childW.Size()))
	i64("auth_failed_count", st.authFailed)
	i64("min_latency", st.shownMin())
	open, max := fds.open, fds.max
	i64("max_file_descriptor_count", max)
	i64("approximate_data_size", rp.s.tree.DataBytes())
	i64("open_file_descriptor_count", open)
	i64("local_sessions", 0)
	i64("uptime", time.Since(rp.s.lp.start).Milliseconds())
	i64("max_latency", st.maxLatency)
	i64("outstanding_tls_handshake", 0)
	i64("min_client_response_size", st.minRespSize)
	i64("non_mtls_local_conn_count", 0)
	i64("digest_mismatches_count", st.digestMismatches)
	i64("connection_rejected", st.connRejected)
	i64("sessionless_connections_expired", st.sessionlessExpired)
	i64("stale_sessions_expired", st.expired)
	i64("connection_request_count", st.connectRequests)
	i64("connection_revalidate_count", st.revalidates)
	i64("outstanding_changes_queued", int64(rp.s.tree.Outstanding()))
	i64("snap_count", st.snapshots)
	// Group commit, as Java's summaries: fsynctime (ms per fsync) and
	// sync_processor_batch_size (txns per fsync).
	ss := rp.s.dur.store.Stats()
	minUs := ss.minFsyncUs
	if minUs < 0 {
		minUs = 0
	}
	line("avg_fsynctime", javaAvg(ss.fsyncMicros/1000, ss.fsyncs))
	i64("min_fsynctime", minUs/1000)
	i64("max_fsynctime", ss.maxFsyncUs/1000)
	i64("cnt_fsynctime", ss.fsyncs)
	i64("sum_fsynctime", ss.fsyncMicros/1000)
	line("avg_sync_processor_batch_size", javaAvg(ss.txns, ss.fsyncs))
	i64("min_sync_processor_batch_size", min(1, ss.fsyncs))
	i64("max_sync_processor_batch_size", ss.maxBatch)
	i64("cnt_sync_processor_batch_size", ss.fsyncs)
	i64("sum_sync_processor_batch_size", ss.txns)
	// dbinittime: how long loading the database took (one sample).
	ms := st.loadTime.Milliseconds()
	line("avg_dbinittime", javaAvg(ms, 1))
	i64("min_dbinittime", ms)
	i64("max_dbinittime", ms)
	i64("cnt_dbinittime", 1)
	i64("sum_dbinittime", ms)
	// Request latencies by kind (ms from arrival at the owner goroutine).
	st.reads.write(line, "readlatency")
	st.updates.write(line, "updatelatency")
	if p := rp.s.qs.peer; p != nil {
		line("peer_state", rp.peerState())
		i64("quorum_size", int64(len(rp.s.qs.quorum().Voters())))
		i64("learner_proposal_received_count", p.stats.proposals)
		i64("learner_commit_received_count", p.stats.commits)
		i64("learner_requests_forwarded", p.stats.forwarded)
		i64("learner_link_drops", p.stats.linkDrops)
		i64("election_count", p.stats.elections)
		if fe, ok := p.elector.(fleElector); ok {
			es := fe.svc.Stats()
			i64("election_would_win", int64(es.WouldWin))
			i64("election_logical_clock", es.LogicalClock)
			i64("election_connections", int64(es.Connections))
			i64("election_notifications_sent", int64(es.NotificationsSent))
			i64("election_notifications_received", int64(es.NotificationsReceived))
			i64("election_pending_handshakes", int64(es.PendingHandshakes))
			i64("election_handshakes_evicted", int64(es.HandshakesEvicted))
		}
		i64("election_time", p.stats.electionTook.Milliseconds())
		i64("sync_diff_count", p.stats.syncs["DIFF"])
		i64("sync_snap_count", p.stats.syncs["SNAP"])
		i64("sync_trunc_count", p.stats.syncs["TRUNC"])
		i64("last_sync_time", p.stats.lastSyncTook.Milliseconds())
		pending := 0
		if b := p.learner.bcast; b != nil {
			pending = b.Pending()
		}
		i64("pending_txns", int64(pending))
		if ld := rp.s.qs.leader; ld != nil {
			var learners, synced, syncedObservers int64
			for _, h := range ld.zab.Learners() {
				learners++
				if h.State == zab.HandlerBroadcast {
					if h.Observer {
						syncedObservers++
					} else {
						synced++
					}
				}
			}
			i64("learners", learners)
			i64("synced_followers", synced)
			i64("synced_observers", syncedObservers)
			i64("pending_syncs", int64(ld.zab.PendingSyncs()))
			i64("last_proposal_size", ld.proposalSizes[0])
			i64("min_proposal_size", ld.proposalSizes[1])
			i64("max_proposal_size", ld.proposalSizes[2])
			i64("outstanding_proposals", int64(len(rp.s.wr.inflight)))
			i64("quorum_pending_handshakes", int64(ld.pending.Pending()))
			i64("quorum_handshakes_evicted", int64(ld.pending.Evicted()))
		}
		i64("current_epoch", p.currentEpoch)
		i64("accepted_epoch", p.acceptedEpoch)
	}
}

// monitor is Server.Monitor.
func (rp *responder) monitor(ctx context.Context) ([][2]string, error) {
	var text string
	fds := readFDCounts() // /proc, off the owner goroutine
	err := rp.s.Call(ctx, func() {
		if !rp.s.qs.serving() {
			text = "zk_server_state\t" + rp.s.qs.modeName() + "\nzk_peer_state\t" + rp.peerState() + "\n"
			return
		}
		var b strings.Builder
		rp.writeMntr(&b, fds)
		text = b.String()
	})
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		out = append(out, [2]string{strings.TrimPrefix(k, "zk_"), v})
	}
	return out, nil
}

// peerState is QuorumPeer.getDetailedPeerState: "following - broadcast".
func (rp *responder) peerState() string {
	if rp.s.qs.peer == nil {
		return "standalone"
	}
	switch rp.s.qs.peer.role {
	case roleLeading:
		if rp.s.qs.leader != nil && rp.s.qs.leader.serving() {
			return "leading - broadcast"
		}
		return "leading - synchronization"
	case roleFollowing:
		return "following - broadcast"
	case roleObserving:
		return "observing - broadcast"
	case roleSyncing:
		if rp.s.qs.peer.learner.link != nil && rp.s.qs.peer.learner.link.observer {
			return "observing - synchronization"
		}
		return "following - synchronization"
	}
	return "looking - discovery"
}

// writeConf is ZooKeeperServer.dumpConf.
func (rp *responder) writeConf(b *strings.Builder, sizes dirSizes) {
	snapDir, logDir := rp.versionDirs()
	snapSize, logSize := sizes.snap, sizes.logs
	port := int(rp.s.cl.lis.port.Load())
	if port == 0 {
		port = rp.cfg.ClientPort
	}
	b.WriteString("clientPort=" + strconv.Itoa(port) + "\n")
	b.WriteString("secureClientPort=" + strconv.Itoa(rp.cfg.secureClientPortShown()) + "\n")
	b.WriteString("dataDir=" + snapDir + "\n")
	b.WriteString("dataDirSize=" + strconv.FormatInt(logSize, 10) + "\n") // swapped, as in Java
	b.WriteString("dataLogDir=" + logDir + "\n")
	b.WriteString("dataLogSize=" + strconv.FormatInt(snapSize, 10) + "\n")
	b.WriteString("tickTime=" + strconv.Itoa(rp.cfg.TickTime) + "\n")
	b.WriteString("maxClientCnxns=" + strconv.Itoa(rp.cfg.MaxClientCnxns) + "\n")
	b.WriteString("minSessionTimeout=" + strconv.Itoa(rp.cfg.MinSessionTimeout) + "\n")
	b.WriteString("maxSessionTimeout=" + strconv.Itoa(rp.cfg.MaxSessionTimeout) + "\n")
	b.WriteString("clientPortListenBacklog=-1\n")
	q := rp.s.qs.quorum()
	if q == nil {
		b.WriteString("serverId=0\n")
		return
	}
	// QuorumZooKeeperServer.dumpConf.
	me := q.Me()
	b.WriteString("serverId=" + strconv.FormatInt(q.MyID, 10) + "\n")
	b.WriteString("initLimit=" + strconv.Itoa(rp.cfg.InitLimit) + "\n")
	b.WriteString("syncLimit=" + strconv.Itoa(rp.cfg.SyncLimit) + "\n")
	b.WriteString("electionAlg=3\n")
	b.WriteString("electionPort=" + strconv.Itoa(me.ElectionPort) + "\n")
	b.WriteString("quorumPort=" + strconv.Itoa(me.QuorumPort) + "\n")
	b.WriteString("peerType=" + strconv.Itoa(int(me.Type)) + "\n")
	b.WriteString("membership: \n")
	b.WriteString(q.Text())
}

// versionDirs returns the absolute snapshot and txn-log directories.
func (rp *responder) versionDirs() (snap, logs string) {
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	return filepath.Join(abs(rp.cfg.DataDir), "version-2"), filepath.Join(abs(rp.cfg.DataLogDir), "version-2")
}

// dirSizes are the byte sizes of the snapshot and log directories.
type dirSizes struct{ snap, logs int64 }

// readDirSizes sums the regular files under the snapshot and log
// directories (a directory walk: keep it off the owner goroutine).
func (rp *responder) readDirSizes() dirSizes {
	sd, ld := rp.versionDirs()
	return dirSizes{dirSize(sd), dirSize(ld)}
}

// writeDirs is the dirs command. Java swaps the labels: datadir_size
// reports the txn-log dir.
func writeDirs(b *strings.Builder, sizes dirSizes) {
	b.WriteString("datadir_size: " + strconv.FormatInt(sizes.logs, 10) + "\n")
	b.WriteString("logdir_size: " + strconv.FormatInt(sizes.snap, 10) + "\n")
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// writeEnvi lists the environment with Java's keys, filled in with what
// the Go runtime knows.
func writeEnvi(b *strings.Builder) {
	host, _ := os.Hostname()
	if host == "" {
		host = "<NA>"
	}
	uname, uhome := "<NA>", "<NA>"
	if u, err := user.Current(); err == nil {
		uname, uhome = u.Username, u.HomeDir
	}
	wd, _ := os.Getwd()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	osName := runtime.GOOS
	if osName == "linux" {
		osName = "Linux"
	}
	kv := [][2]string{
		{"zookeeper.version", VersionString},
		{"host.name", host},
		{"java.version", runtime.Version()},
		{"java.vendor", "zkgo (Go runtime)"},
		{"java.home", "<NA>"},
		{"java.class.path", "<NA>"},
		{"java.library.path", "<NA>"},
		{"java.io.tmpdir", os.TempDir()},
		{"java.compiler", "<NA>"},
		{"os.name", osName},
		{"os.arch", runtime.GOARCH},
		{"os.version", kernelRelease()},
		{"user.name", uname},
		{"user.home", uhome},
		{"user.dir", wd},
		{"os.memory.free", strconv.FormatUint((ms.HeapIdle-ms.HeapReleased)>>20, 10) + "MB"},
		{"os.memory.max", strconv.FormatUint(ms.Sys>>20, 10) + "MB"},
		{"os.memory.total", strconv.FormatUint(ms.HeapSys>>20, 10) + "MB"},
	}
	b.WriteString("Environment:\n")
	for _, p := range kv {
		b.WriteString(p[0] + "=" + p[1] + "\n")
	}
}

func kernelRelease() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return "<NA>"
	}
	var b strings.Builder
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	return b.String()
}

// fdCounts are the open and maximum file descriptor counts.
type fdCounts struct{ open, max int64 }

// readFDCounts reads them (a directory read of /proc/self/fd: keep it off
// the owner goroutine).
func readFDCounts() fdCounts {
	var c fdCounts
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		c.open = int64(len(ents))
	}
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) == nil {
		c.max = int64(r.Cur)
	}
	return c
}

// javaDate formats like java.util.Date.toString in UTC.
func javaDate(t time.Time) string { return t.UTC().Format("Mon Jan 02 15:04:05 MST 2006") }

// digestEntry is one line of the hash command (DataTree's digest log).
type digestEntry struct {
	zxid   wire.Zxid
	digest uint64
}

// Digest log constants (DataTree.DIGEST_LOG_INTERVAL/LIMIT).
const (
	digestLogInterval = 128
	digestLogLimit    = 1024
)

// noteDigest records the tree's digest after applying zxid, every
// digestLogInterval txns.
func (rp *responder) noteDigest(zxid wire.Zxid, digest func() uint64) {
	if zxid%digestLogInterval != 0 {
		return
	}
	rp.digestLog = append(rp.digestLog, digestEntry{zxid: zxid, digest: digest()})
	if len(rp.digestLog) > digestLogLimit {
		rp.digestLog = rp.digestLog[1:]
	}
}
