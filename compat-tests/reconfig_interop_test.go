package compattest

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
)

// Dynamic reconfiguration between Java 3.8 and zkgo members (issue 17,
// point 4): members added, removed, promoted, demoted and replaced by
// reconfigs issued through a chosen member under client load, every
// member restarted from the files it wrote, and a reconfig refused for
// want of a quorum of the new configuration. Each scenario runs over a
// table of member kinds; the all-Java row proves the scenario against
// Java 3.8 alone.
//
// zkgo members are gated on one predicate, harness.ZkgoReconfig (does
// zkgo's config loader take reconfigEnabled=true for a quorum member?).
// While it does not, a row with zkgo members checks that each of them
// refuses its config, naming reconfigEnabled (today's documented
// behaviour, docs/quorum.md), and stops there; once the refusal is lifted
// the same row runs the whole scenario with zkgo members.

// reconfigRow is one row of a scenario's table. kinds gives the members in
// id order: j/z a Java/zkgo participant, J/Z an observer; the ones after a
// '+' are spares, not in the initial configuration (they join by
// reconfig). via is the member the reconfigs go through. long rows run
// only under `make test-reconfig` (ZKGO_RECONFIG_ALL=1), to keep `make
// test`'s share of these tests to a few minutes: it runs each scenario's
// all-Java row and its main mixed rows (reconfigs through a Java and
// through a zkgo member).
type reconfigRow struct {
	name  string
	kinds string
	via   int64
	long  bool
}

// reconfigAllRows reports whether the long rows run (make test-reconfig).
func reconfigAllRows() bool { return os.Getenv("ZKGO_RECONFIG_ALL") == "1" }

// reconfEnsemble is a mixed ensemble with reconfigEnabled=true in Java's
// split config layout, its zkgo members run in-process.
type reconfEnsemble struct {
	t     *testing.T
	m     *harness.Mixed
	kind  map[int64]byte // 'j' or 'z'
	zk    map[int64]*harness.Zkgo
	begun time.Time
	// removed are the members a scenario removed by reconfig.
	removed map[int64]bool
	// moved are the client addresses a scenario moved by reconfig.
	moved map[int64]string
	// zkLogs are the zkgo members' logs (JSON lines), kept across
	// restarts.
	zkLogs map[int64]*syncBuffer
}

func parseKinds(t *testing.T, kinds string) ([]harness.MemberSpec, map[int64]byte) {
	var specs []harness.MemberSpec
	kind := map[int64]byte{}
	spare := false
	id := int64(0)
	for _, c := range kinds {
		if c == '+' {
			spare = true
			continue
		}
		id++
		s := harness.MemberSpec{ID: id, Spare: spare, Observer: c == 'J' || c == 'Z'}
		switch c {
		case 'j', 'J':
			s.Kind, kind[id] = harness.MemberJava, 'j'
		case 'z', 'Z':
			s.Kind, kind[id] = harness.MemberExternal, 'z'
		default:
			t.Fatalf("member kinds %q: bad kind %q", kinds, c)
		}
		specs = append(specs, s)
	}
	return specs, kind
}

func newReconfEnsemble(t *testing.T, kinds string) *reconfEnsemble {
	t.Helper()
	harness.RequireJava(t)
	specs, kind := parseKinds(t, kinds)
	m := harness.NewMixed(t, harness.ReconfigOptions(harness.MixedOptions{
		Members: specs, TickTime: 200, InitLimit: 20, SyncLimit: 10}))
	return &reconfEnsemble{t: t, m: m, kind: kind, zk: map[int64]*harness.Zkgo{}, begun: time.Now(), zkLogs: map[int64]*syncBuffer{}}
}

// runReconfigRows runs scenario over the rows. A row with zkgo members
// runs only when harness.ZkgoReconfig holds; until then it checks that
// every zkgo member refuses its configuration, naming reconfigEnabled.
func runReconfigRows(t *testing.T, rows []reconfigRow, scenario func(t *testing.T, e *reconfEnsemble, via int64)) {
	harness.RequireJava(t)
	for _, row := range rows {
		if row.long && !reconfigAllRows() {
			t.Logf("row %q (%s) runs under make test-reconfig only", row.name, row.kinds)
			continue
		}
		t.Run(row.name, func(t *testing.T) {
			e := newReconfEnsemble(t, row.kinds)
			if e.hasZkgo() && !harness.ZkgoReconfig() {
				e.checkZkgoRefuses()
				return
			}
			scenario(t, e, row.via)
			t.Logf("%s (%s) took %v", row.name, row.kinds, time.Since(e.begun).Round(time.Millisecond))
		})
	}
}

func (e *reconfEnsemble) hasZkgo() bool {
	for _, k := range e.kind {
		if k == 'z' {
			return true
		}
	}
	return false
}

// checkZkgoRefuses: with reconfigEnabled=true not supported, every zkgo
// member's config (the split layout Java writes, reconfigEnabled=true) is
// refused at load, naming the key; and the same config with
// reconfigEnabled=false is accepted, so nothing else in it (the dynamic
// file, a spare's own membership, the super user) would stop the scenario
// once the refusal is lifted.
func (e *reconfEnsemble) checkZkgoRefuses() {
	e.t.Helper()
	refusal := harness.ZkgoReconfigRefusal()
	e.t.Logf("zkgo does not support reconfigEnabled=true yet (%v): checking its members refuse to start", refusal)
	for _, id := range e.ids() {
		if e.kind[id] != 'z' {
			continue
		}
		err := harness.ZkgoAccepts(e.m.ConfigPath(id))
		if err == nil || !strings.Contains(err.Error(), "reconfigEnabled") {
			e.t.Errorf("zkgo member %d: config accepted or refused for another reason: %v", id, err)
		}
		b, err := os.ReadFile(e.m.ConfigPath(id))
		if err != nil {
			e.t.Fatal(err)
		}
		off := filepath.Join(e.t.TempDir(), "zoo.cfg")
		if err := os.WriteFile(off, []byte(strings.Replace(string(b), "reconfigEnabled=true\n", "reconfigEnabled=false\n", 1)), 0o644); err != nil {
			e.t.Fatal(err)
		}
		if err := harness.ZkgoAccepts(off); err != nil {
			e.t.Errorf("zkgo member %d: its config with reconfigEnabled=false is refused too: %v", id, err)
		}
	}
}

func (e *reconfEnsemble) ids() []int64 {
	ids := slices.Collect(maps.Keys(e.kind))
	slices.Sort(ids)
	return ids
}

// initial is the ids of the members of the initial configuration.
func (e *reconfEnsemble) initial() []int64 {
	var out []int64
	for _, id := range e.ids() {
		if !e.m.Spare(id) {
			out = append(out, id)
		}
	}
	return out
}

func (e *reconfEnsemble) start(id int64) {
	e.t.Helper()
	if e.kind[id] == 'j' {
		e.m.Start(id)
		return
	}
	e.m.Release(id)
	if e.zkLogs == nil {
		e.zkLogs = map[int64]*syncBuffer{}
	}
	e.zk[id] = startZkgoLogged(e.t, e.m.ConfigPath(id), id, e.zkLogs)
}

func (e *reconfEnsemble) stop(id int64) {
	if e.kind[id] == 'j' {
		e.m.Kill(id)
		return
	}
	if z := e.zk[id]; z != nil {
		z.Stop()
		delete(e.zk, id)
	}
}

func (e *reconfEnsemble) addr(id int64) string {
	if a, ok := e.moved[id]; ok {
		return a
	}
	return e.m.ClientAddr(id)
}

func (e *reconfEnsemble) mode(id int64) string {
	if e.kind[id] == 'z' {
		if z := e.zk[id]; z != nil {
			return z.Server.Mode()
		}
		return ""
	}
	if !e.m.Running(id) {
		return ""
	}
	mode, _ := e.m.Mode(id)
	return mode
}

func (e *reconfEnsemble) modes(ids []int64) map[int64]string {
	out := map[int64]string{}
	for _, id := range ids {
		out[id] = e.mode(id)
	}
	return out
}

// startInitial starts the initial members, highest id first (so that,
// with equal empty histories, the highest id leads), and waits until one
// leads and the others serve; it returns the leader.
func (e *reconfEnsemble) startInitial() int64 {
	e.t.Helper()
	ids := e.initial()
	for i := len(ids) - 1; i >= 0; i-- {
		e.start(ids[i])
		if i == len(ids)-1 && e.kind[ids[i]] == 'j' {
			// A JVM takes a second or more to come up: the others wait
			// until it answers srvr (its election starts right after),
			// or, on a loaded machine, two of them elect each other
			// before it takes part.
			checkFor(e.t, 60*time.Second, func() bool {
				_, err := e.m.Mode(ids[i])
				return err == nil
			}, fmt.Sprintf("member %d answering srvr", ids[i]))
		}
	}
	obs := map[int64]bool{}
	for _, s := range e.m.Members() {
		obs[s.ID] = s.Observer && !s.Spare
	}
	return e.waitLeader(ids, obs)
}

// waitLeader waits until exactly one of ids leads and each other serves,
// observers (by the observers map) as observers and participants as
// followers; it returns the leader.
func (e *reconfEnsemble) waitLeader(ids []int64, observers map[int64]bool) int64 {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := e.modes(ids)
		var leaders []int64
		ok := true
		for id, mode := range got {
			switch {
			case mode == "leader" && !observers[id]:
				leaders = append(leaders, id)
			case mode == "follower" && !observers[id], mode == "observer" && observers[id]:
			default:
				ok = false
			}
		}
		if ok && len(leaders) == 1 {
			return leaders[0]
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("members %v: modes %v, want one leader, observers %v", ids, got, observers)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startSpares starts every spare member (they join by reconfig later)
// while w writes. Behind a Java leader, a Java spare's first sync is
// done with the writers paused: a 3.8.0 learner that syncs with a Java
// leader while proposals are outstanding can hit ZOOKEEPER-4394
// (docs/faults.md, F2) and keep txns in its log that its tree lacks; once
// a reconfig makes it a voter it can then win an election on its tree's
// older zxid and truncate committed txns on every member (seen in this
// file's "java for zkgo" row: Java 4 hit it behind Java 3, the reconfig
// to {1,4,5} committed, 4 and the not yet synced 5 elected 4 at the older
// zxid and acknowledged writes were gone everywhere; docs/faults.md F6).
// That is Java's defect between Java nodes, which zkgo cannot change;
// zkgo leaders never send that order (DIFFERENCES row 35), so zkgo
// spares, and any spare behind a zkgo leader, sync under load.
func (e *reconfEnsemble) startSpares(w *ackedWriters) {
	e.t.Helper()
	var javaSpares []int64
	for _, id := range e.ids() {
		if e.m.Spare(id) && e.kind[id] == 'j' {
			javaSpares = append(javaSpares, id)
		}
	}
	javaLeads := false
	for id, mode := range e.modes(e.initial()) {
		if mode == "leader" && e.kind[id] == 'j' {
			javaLeads = true
		}
	}
	// ZKGO_RECONFIG_SYNC_UNDER_LOAD=1 keeps the writers going (to hunt
	// F6 again, or to show a loss without it: finish tells them apart).
	quiet := javaLeads && len(javaSpares) > 0 && os.Getenv("ZKGO_RECONFIG_SYNC_UNDER_LOAD") == ""
	if quiet {
		w.pause()
		defer w.resume()
	}
	for _, id := range e.ids() {
		if e.m.Spare(id) {
			e.start(id)
		}
	}
	if !quiet {
		return
	}
	checkFor(e.t, 60*time.Second, func() bool {
		for _, id := range javaSpares {
			if m := e.mode(id); m != "follower" && m != "observer" {
				return false
			}
		}
		return true
	}, fmt.Sprintf("Java spares %v synced with the Java leader", javaSpares))
}

// reconfig issues an incremental reconfig through member via and returns
// the configuration text via serves after it. A reconfig that removes the
// leader can lose the reply with the connection (as go-zookeeper's own
// test of it allows); the caller then checks the outcome with waitConfig.
func (e *reconfEnsemble) reconfig(via int64, joining, leaving []string) string {
	e.t.Helper()
	text, err := harness.Reconfig(e.addr(via), joining, leaving, -1)
	if errors.Is(err, zk.ErrConnectionClosed) {
		e.t.Logf("reconfig through %d: %v (the outcome is checked on the members)", via, err)
		return ""
	}
	if err != nil {
		e.t.Fatalf("reconfig through %d (joining %v, leaving %v): %v", via, joining, leaving, err)
	}
	e.t.Logf("reconfig through %d (joining %v, leaving %v) -> %q", via, joining, leaving, text)
	return text
}

// cfgWant is a configuration: its members' ids, the observers among them.
type cfgWant struct {
	ids       []int64
	observers map[int64]bool
}

func (w cfgWant) servers(m *harness.Mixed) map[int64]string {
	out := map[int64]string{}
	for _, id := range w.ids {
		_, line, _ := strings.Cut(m.TextLine(id, w.observers[id]), "=")
		out[id] = line
	}
	return out
}

// waitConfig waits until every member of ids serves (after a sync) the
// configuration w as /zookeeper/config, all with the same version, and
// returns that text.
func (e *reconfEnsemble) waitConfig(ids []int64, w cfgWant) string {
	e.t.Helper()
	servers := w.servers(e.m)
	deadline := time.Now().Add(60 * time.Second)
	var texts map[int64]string
	for {
		texts = map[int64]string{}
		ok := true
		version := ""
		for _, id := range ids {
			text, err := harness.ServedConfig(e.addr(id))
			texts[id] = text
			if err != nil {
				texts[id] = "error: " + err.Error()
				ok = false
				continue
			}
			v := harness.ConfigVersion(text)
			if !maps.Equal(harness.ServerLines(text), servers) || (version != "" && v != version) {
				ok = false
			}
			version = v
		}
		if ok {
			text := texts[ids[0]]
			if wantText := e.m.ConfigText(harness.ConfigVersion(text), w.observers, w.ids...); text != wantText {
				e.t.Errorf("/zookeeper/config differs from Java's rendering (-expected +got):\n%s", lineDiff(wantText, text))
			}
			return text
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("configuration %v (observers %v) not served by %v within 60s: %v\nmodes %v", w.ids, w.observers, ids, texts, e.modes(e.ids()))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkDisk checks that every member of ids has on disk the configuration
// text (Java's layout: zoo.cfg names zoo.cfg.dynamic.<version>, which
// holds the servers of text and no version line).
func (e *reconfEnsemble) checkDisk(ids []int64, text string) {
	e.t.Helper()
	version := harness.ConfigVersion(text)
	servers := harness.ServerLines(text)
	for _, id := range ids {
		// A member writes its files when it activates the
		// configuration, which can follow its serving it by a moment.
		deadline := time.Now().Add(20 * time.Second)
		for {
			dc, err := e.m.ReadDiskConfig(id)
			if err == nil && dc.Version == version && maps.Equal(dc.Servers, servers) &&
				strings.HasSuffix(dc.DynamicPath, "zoo.cfg.dynamic."+version) && !strings.Contains(dc.Static, "\nserver.") {
				break
			}
			if time.Now().After(deadline) {
				e.t.Errorf("member %d: on disk %+v (%v), want version %s servers %v", id, dc, err, version, servers)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// finish stops the writers and checks every acknowledged write is on each
// member of ids, then the Java members' logs.
func (e *reconfEnsemble) finish(w *ackedWriters, ids []int64) {
	e.t.Helper()
	acked := w.halt()
	if len(acked) == 0 {
		e.t.Errorf("no write was acknowledged during the scenario")
	}
	e.t.Logf("%d acknowledged writes", len(acked))
	var hit []int64
	for _, id := range e.ids() {
		if e.kind[id] == 'j' && javaHit4394(e.m, id) {
			hit = append(hit, id)
		}
	}
	for _, id := range ids {
		if lost := checkAcked(e.t, e.addr(id), acked); lost > 0 {
			// A loss is a failure whatever its cause; say which it
			// is. With no ZOOKEEPER-4394 on a Java member, F6 does
			// not explain it: look at zkgo first.
			if len(hit) == 0 {
				e.t.Errorf("member %d lost acknowledged writes and no Java member hit ZOOKEEPER-4394: not docs/faults.md F6; look at zkgo", id)
			} else {
				e.t.Errorf("member %d lost acknowledged writes after Java members %v hit ZOOKEEPER-4394 behind a Java leader (docs/faults.md F6?)", id, hit)
			}
		}
	}
	e.checkJavaLogs()
}

// checkJavaLogs checks the Java members' logs as checkJavaLogsOf does,
// allowing reconfigJavaLines and, on a member that hit ZOOKEEPER-4394
// behind a Java leader (javalog4394_test.go), the aftermath docs/faults.md
// describes: reloading, it replays its log over a tree or snapshot already
// holding those txns and logs "highestZxid > next log" and digest
// mismatches (seen on joiners syncing under load in the all-Java rows of
// TestCompat_ReconfigAddParticipant and TestCompat_ReconfigRestartAll).
func (e *reconfEnsemble) checkJavaLogs() {
	e.t.Helper()
	for _, id := range e.ids() {
		if e.kind[id] != 'j' {
			continue
		}
		log := e.m.Log(id)
		hit4394 := javaHit4394(e.m, id)
		if hit4394 {
			e.t.Logf("Java member %d hit ZOOKEEPER-4394 behind a Java leader", id)
		}
		allowed := map[string]bool{}
		for _, line := range aheadOfRemoved(log, e.removed) {
			allowed[line] = true
		}
		for _, entry := range javaLogEntries(log) {
			if reconfigJavaEntries.MatchString(entry) {
				for _, line := range strings.Split(entry, "\n") {
					allowed[line] = true
				}
			}
		}
		for _, line := range afterLeaderLost(log) {
			allowed[line] = true
		}
		for _, line := range javaExceptions(e.m, id) {
			if allowed[line] || benignJavaLine(line) || reconfigJavaLines.MatchString(line) || e.javaTimingLine(id, line) || (hit4394 && zk4394Reload.MatchString(line)) ||
				(!e.hasZkgo() && allJavaLines.MatchString(line)) {
				continue
			}
			e.t.Errorf("Java member %d logged: %s\n%s", id, line, logContext(log, line, 25))
		}
		for _, line := range strings.Split(log, "\n") {
			if !strings.Contains(line, "Digests are not matching") && !strings.Contains(line, "digest mismatch") {
				continue
			}
			if hit4394 && zk4394Reload.MatchString(line) {
				continue
			}
			e.t.Errorf("Java member %d reported a digest mismatch:\n%s", id, logContext(log, line, 30))
		}
	}
}

// javaLeaderLost is a Java follower's connection to its leader ending:
// the leader closed it (EOF, socket errors) or the follower left it for a
// reconfig (Follower.processPacket and Learner.syncWithLeader throw
// "changes proposed in reconfig").
var javaLeaderLost = regexp.MustCompile(`WARN \S+ - Exception when following the leader\n(java\.io\.EOFException|java\.net\.SocketException|java\.lang\.Exception: changes proposed in reconfig)`)

// afterLeaderLost returns the lines of the follow-on entries
// (zk4394FollowOn) that come after a Java learner lost its leader
// connection (javaLeaderLost). They are Java's own shutdown races, whoever
// led: Follower.shutdown clears the leader socket while the SyncThread
// still flushes ACKs (SendAckRequestProcessor dies on the null socket,
// "Severe unrecoverable error"), and a follower role shut down before its
// server reached RUNNING skips unregisterJMX, so the next sync cannot
// register its Follower MBean. Seen in mixed rows when a reconfig's
// COMMITANDACTIVATE ends the leader (zkgo or Java: the leader steps down
// once its followers leave, "Not sufficient followers synced") while a
// Java joiner still syncs or flushes. Whether the leader was right to go
// is judged by the rest of the scenario (membership, acknowledged
// writes), not by these lines.
//
// An allowance lasts until the follower's next sync completes (UPTODATE:
// the MBean a lost role left is met at that sync's NEWLEADER, before it)
// or the process restarts (the harness's start marker: a new JVM has no
// leftover MBean).
func afterLeaderLost(log string) []string {
	var out []string
	lost := false
	for _, entry := range javaLogEntries(log) {
		switch {
		case javaLeaderLost.MatchString(entry):
			lost = true
		case strings.Contains(entry, "Learner received UPTODATE message"), strings.HasPrefix(entry, "==== "):
			lost = false
		case lost && zk4394FollowOn.MatchString(entry):
			out = append(out, strings.Split(entry, "\n")...)
		}
	}
	return out
}

// javaAhead is a Java leader refusing a learner whose history is ahead
// of its own, and the line naming that learner as its handler closes it.
var (
	javaAheadEntry  = regexp.MustCompile(`^\S+ \[(LearnerHandler-[^\]]+)\] `)
	javaAheadClosed = regexp.MustCompile(`^\S+ \[(LearnerHandler-[^\]]+)\] INFO \S+ - (?:Synchronously|Asynchronously) closing socket to learner (\d+)\.`)
)

// aheadOfRemoved returns the "Follower is ahead of the leader" lines a
// Java leader logged about learners in removed: a leader removed by a
// reconfig may have logged proposals after the reconfig that never
// committed, and when it connects to the designated leader (which keeps
// the epoch) as a non-voting learner it is refused as ahead until it
// learns the new epoch. Seen in the all-Java row of
// TestCompat_ReconfigRemoveLeader; about any other learner the line stays
// a finding.
func aheadOfRemoved(log string, removed map[int64]bool) []string {
	var out []string
	lines := strings.Split(log, "\n")
	for i, line := range lines {
		if !strings.HasPrefix(line, "java.io.IOException: Follower is ahead of the leader") {
			continue
		}
		// The handler thread's entry is the timestamped line just above
		// the exception; its next "closing socket to learner N" names N.
		if i == 0 {
			continue
		}
		m := javaAheadEntry.FindStringSubmatch(lines[i-1])
		if m == nil {
			continue
		}
		thread := m[1]
		for _, next := range lines[i+1:] {
			if m := javaAheadClosed.FindStringSubmatch(next); m != nil && m[1] == thread {
				if sid, err := strconv.ParseInt(m[2], 10, 64); err == nil && removed[sid] {
					out = append(out, line)
				}
				break
			}
		}
	}
	return out
}

// reconfigJavaLines are the Java log lines reconfigs cause between Java
// members alone (each seen in the all-Java rows).
var reconfigJavaLines = regexp.MustCompile(strings.Join([]string{
	// the leader's note of the refusal scenario (f) asks for (INFO).
	`INFO .*Got user-level KeeperException .*type:reconfig .*Error:KeeperErrorCode = NewConfigNoQuorum`,
	// how a Java learner leaves its leader when an activated
	// configuration changes its role or its leader (Follower and
	// Observer processPacket throw it to restart the election; logged
	// with the "Exception when following the leader" WARN).
	`java\.lang\.Exception: changes proposed in reconfig`,
	// a Java member whose election is restarted by a reconfig (joiners
	// and leavers): the old QuorumCnxManager's connection executor is
	// already terminated when FLE's WorkerSender still dials a peer
	// (ERROR, with the RejectedExecutionException).
	`ERROR \S+ - Exception while submitting quorum connection request`,
	`java\.util\.concurrent\.RejectedExecutionException: Task Thread\[QuorumConnectionReqThread-`,
}, "|"))

// reconfigJavaEntries are log entries (a line and its stack trace) seen
// in all-Java rows whose first line alone would be too broad to allow: a
// follower whose leader left the configuration closes the leader socket
// while its FollowerRequestProcessor still forwards a client request, and
// that thread dies on the closed socket (ERROR "Severe unrecoverable
// error"); the member then rejoins the new leader. And the harness's own
// four-letter-word probe (srvr) of a member still loading its database
// makes Java fail closing that command connection (as interop_test.go
// notes).
var reconfigJavaEntries = regexp.MustCompile(`^\S+ \[FollowerRequestProcessor:\d+\] ERROR \S+ - Severe unrecoverable error, from thread : FollowerRequestProcessor:\d+\njava\.net\.SocketException: Socket closed\n|` +
	`^\S+ \[NIOWorkerThread-\d+\] ERROR \S+ - Error closing a command socket \njava\.lang\.NullPointerException: Cannot invoke "org\.apache\.zookeeper\.server\.ZKDatabase\.removeCnxn\(\S+\)" because "this\.zkDb" is null\n`)

// allJavaLines are allowed in all-Java rows only: seen there, but in a
// mixed row they could be zkgo's doing and are left for a person to judge.
// A Java learner shut down while its SyncThread still flushes ACKs (a joiner
// restarting its election when a newer configuration arrives) dies on the
// null leader socket, and its next sync cannot register the Follower MBean
// the failed one left: ZOOKEEPER-4394's follow-on lines
// (javalog4394_test.go), here without the NPE that starts 4394. A Java
// follower elected into FOLLOWING of a leader its own configuration does
// not list yet (seen while five members of go-zookeeper's static-only
// zoo.cfg move to their first versioned configuration) fails to find it
// (Follower.followLeader: Learner.findLeader returns null) and looks
// again.
var allJavaLines = regexp.MustCompile(`java\.lang\.NullPointerException: Cannot read field "addr" because "leaderServer" is null|` +
	zk4394FollowOn.String())

// javaEpochTimeout is a Java member elected leader whose voters did not
// all come within initLimit (Leader.getEpochToPropose, logged with its
// stack): it gives up leading and looks again. Allowed in all-Java rows,
// and in mixed rows on a Java member that another member gave up
// connecting to (gaveUpOn): the race seen in "java for zkgo" (2026-12-07
// and 08), where the zkgo voters decided in the election sooner than the
// JVM that won it, found its learner port not open yet and, as Java's
// Learner.connectToLeader does (five tries, leaderConnectDelayDuringRetryMs
// 100 ms apart), gave up and looked again. A zkgo learner that could not
// follow a Java leader for another reason still fails the row.
var javaEpochTimeout = regexp.MustCompile(`java\.lang\.InterruptedException: Timeout while waiting for epoch from quorum`)

// gaveUpConnecting is a learner giving up its connects to a leader's
// quorum port: zkgo's "connectToLeader exceeded on retries: dial tcp
// HOST:PORT: ..." and Java's "connectToLeader exceeded" / "retries
// exceeded" warnings ("connecting to /HOST:PORT").
var gaveUpConnecting = regexp.MustCompile(`connectToLeader exceeded on retries: dial tcp [^\s"]*:(\d+)|(?:connectToLeader|retries) exceeded\. tries=\d+, remaining init limit=-?\d+, connecting to \S*:(\d+)`)

// gaveUpOn reports whether any member's log shows a learner giving up
// connecting to member id's quorum port.
func (e *reconfEnsemble) gaveUpOn(id int64) bool {
	_, port, _ := strings.Cut(e.m.QuorumAddr(id), ":")
	var logs []string
	for _, other := range e.ids() {
		if e.kind[other] == 'j' {
			logs = append(logs, e.m.Log(other))
		} else if b := e.zkLogs[other]; b != nil {
			logs = append(logs, b.String())
		}
	}
	for _, log := range logs {
		for _, m := range gaveUpConnecting.FindAllStringSubmatch(log, -1) {
			if m[1] == port || m[2] == port {
				return true
			}
		}
	}
	return false
}

// javaStaleNewLeaderAck is a Java leader refusing a learner's ACK of an
// older epoch where it waits for the NEWLEADER ACK: a 3.8.0 learner acks a
// proposal before NEWLEADER's ACK (ZOOKEEPER-4685, fixed after 3.8).
// Allowed when the learner it names is a Java member.
var javaStaleNewLeaderAck = regexp.MustCompile(`ERROR \S+ - NEWLEADER ACK from sid: (\d+) is from a different epoch`)

// javaTimingLine reports whether line, logged by Java member id, is
// javaEpochTimeout where it is allowed or javaStaleNewLeaderAck about a
// Java learner.
func (e *reconfEnsemble) javaTimingLine(id int64, line string) bool {
	if javaEpochTimeout.MatchString(line) {
		return !e.hasZkgo() || e.gaveUpOn(id)
	}
	if m := javaStaleNewLeaderAck.FindStringSubmatch(line); m != nil {
		sid, err := strconv.ParseInt(m[1], 10, 64)
		return err == nil && e.kind[sid] == 'j'
	}
	return false
}

func (e *reconfEnsemble) writers(phase string, ids ...int64) *ackedWriters {
	addrs := map[string]string{}
	for _, id := range ids {
		addrs[strconv.FormatInt(id, 10)] = e.addr(id)
	}
	return startWriters(phase, addrs)
}

// waitAcks waits until the writers have n more acknowledged writes than
// when it was called (the ensemble makes progress).
func waitAcks(t *testing.T, w *ackedWriters, n int) {
	t.Helper()
	w.mu.Lock()
	base := len(w.acked)
	w.mu.Unlock()
	checkFor(t, 30*time.Second, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.acked) >= base+n
	}, fmt.Sprintf("%d more acknowledged writes", n))
}

func ids(n ...int64) []int64 { return n }

// (a) A participant added by a reconfig issued through another member:
// zkgo through Java, Java through zkgo.
func TestCompat_ReconfigAddParticipant(t *testing.T) {
	runReconfigRows(t, []reconfigRow{
		{"java joins via java", "jjj+j", 1, false},
		{"zkgo joins via java", "jjj+z", 1, false},
		{"java joins via zkgo", "zjj+j", 1, false},
		{"zkgo joins via zkgo", "zzz+z", 1, true},
	}, func(t *testing.T, e *reconfEnsemble, via int64) {
		e.startInitial()
		w := e.writers("a", 1, 2, 3)
		waitAcks(t, w, 20)
		e.startSpares(w)
		e.reconfig(via, []string{e.m.JoinLine(4, false)}, nil)
		text := e.waitConfig(ids(1, 2, 3, 4), cfgWant{ids: ids(1, 2, 3, 4)})
		e.waitLeader(ids(1, 2, 3, 4), nil)
		waitAcks(t, w, 20)
		e.checkDisk(ids(1, 2, 3, 4), text)
		e.finish(w, ids(1, 2, 3, 4))
	})
}

// (b) The leader removed by a reconfig through a follower: the designated
// leader (a follower that acked the reconfig) takes over, no acknowledged
// write is lost. The initial leader is member 3 (started first, highest
// id); the rows choose its kind.
func TestCompat_ReconfigRemoveLeader(t *testing.T) {
	runReconfigRows(t, []reconfigRow{
		{"java leader of java", "jjj", 1, false},
		{"java leader, zkgo follower", "zjj", 1, false},
		{"java leader, via zkgo", "jzj", 2, true},
		{"zkgo leader of java", "jjz", 1, false},
		{"zkgo leader of zkgo", "zzz", 1, true},
	}, func(t *testing.T, e *reconfEnsemble, via int64) {
		if leader := e.startInitial(); leader != 3 {
			t.Fatalf("leader %d, want 3 (started first)", leader)
		}
		w := e.writers("b", 1, 2)
		waitAcks(t, w, 20)
		logAt := map[int64]int{}
		for _, id := range ids(1, 2) {
			logAt[id] = len(e.m.Log(id))
		}
		e.reconfig(via, nil, []string{"3"})
		e.removed = map[int64]bool{3: true}
		text := e.waitConfig(ids(1, 2), cfgWant{ids: ids(1, 2)})
		leader := e.waitLeader(ids(1, 2), nil)
		t.Logf("new leader %d; removed member 3 is in mode %q", leader, e.mode(3))
		// The designated leader takes over without an election: the
		// members COMMITANDACTIVATE names it to go straight to leading
		// or following it (QuorumPeer's reconfigFlag), so no Java member
		// of the new configuration starts a new election.
		for _, id := range ids(1, 2) {
			if e.kind[id] != 'j' {
				continue
			}
			since := e.m.Log(id)[logAt[id]:]
			if i := strings.Index(since, "New election. My id"); i >= 0 {
				t.Errorf("Java member %d held an election after the reconfig instead of taking the designated leader:\n%s",
					id, logContext(since, since[i:strings.IndexByte(since[i:], '\n')+i], 5))
			}
		}
		if e.mode(3) == "leader" {
			t.Errorf("removed member 3 still leads")
		}
		waitAcks(t, w, 20)
		e.checkDisk(ids(1, 2), text)
		e.finish(w, ids(1, 2))
	})
}

// (c) An observer promoted to participant, then demoted back, by
// incremental reconfigs giving its new role.
func TestCompat_ReconfigObserverRoles(t *testing.T) {
	runReconfigRows(t, []reconfigRow{
		{"java observer", "jjjJ", 1, false},
		{"zkgo observer via java", "jjjZ", 1, false},
		{"zkgo observer via zkgo", "zjjZ", 1, true},
		{"java observer via zkgo", "zjjJ", 1, false},
	}, func(t *testing.T, e *reconfEnsemble, via int64) {
		e.startInitial()
		all := ids(1, 2, 3, 4)
		w := e.writers("c", all...)
		waitAcks(t, w, 20)

		e.reconfig(via, []string{e.m.JoinLine(4, false)}, nil)
		e.waitConfig(all, cfgWant{ids: all})
		e.waitLeader(all, nil)
		waitAcks(t, w, 20)

		e.reconfig(via, []string{e.m.JoinLine(4, true)}, nil)
		text := e.waitConfig(all, cfgWant{ids: all, observers: map[int64]bool{4: true}})
		e.waitLeader(all, map[int64]bool{4: true})
		waitAcks(t, w, 20)
		e.checkDisk(all, text)
		e.finish(w, all)
	})
}

// (d) Two of three members replaced by a non-incremental reconfig (the
// whole new member list): {1,2,3} becomes {1,4,5}, the leader (3) among
// the leavers.
func TestCompat_ReconfigReplaceTwo(t *testing.T) {
	runReconfigRows(t, []reconfigRow{
		{"java for java", "jjj+jj", 1, false},
		{"zkgo for java", "jjj+zz", 1, false},
		{"java for zkgo", "zzj+jj", 1, false},
		{"mixed via zkgo", "zjz+jz", 1, false},
	}, func(t *testing.T, e *reconfEnsemble, via int64) {
		e.startInitial()
		w := e.writers("d", 1)
		waitAcks(t, w, 20)
		e.startSpares(w)
		members := []string{e.m.JoinLine(1, false), e.m.JoinLine(4, false), e.m.JoinLine(5, false)}
		e.removed = map[int64]bool{2: true, 3: true}
		// The new members must have synced with the leader first (as
		// non-voting learners): until they have, Java refuses the
		// reconfig with NEWCONFIGNOQUORUM.
		deadline := time.Now().Add(60 * time.Second)
		for {
			text, err := harness.ReconfigMembers(e.addr(via), members, -1)
			if err == nil || errors.Is(err, zk.ErrConnectionClosed) {
				t.Logf("non-incremental reconfig through %d: %q %v", via, text, err)
				break
			}
			if !harness.IsCode(err, harness.ErrNewConfigNoQuorum) || time.Now().After(deadline) {
				t.Fatalf("non-incremental reconfig through %d: %v", via, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		final := ids(1, 4, 5)
		text := e.waitConfig(final, cfgWant{ids: final})
		e.waitLeader(final, nil)
		waitAcks(t, w, 20)
		e.checkDisk(final, text)
		e.finish(w, final)
	})
}

// (e) After reconfigs (a member added, another removed) every member is
// restarted from the files it wrote and comes back with the same
// membership, dynamic file and /zookeeper/config, and every acknowledged
// write.
func TestCompat_ReconfigRestartAll(t *testing.T) {
	runReconfigRows(t, []reconfigRow{
		{"java", "jjj+j", 1, false},
		{"mixed", "jzj+z", 3, false},
		{"mixed via zkgo", "jzj+z", 2, false},
		{"zkgo joins java", "jjj+z", 2, true},
		{"zkgo", "zzz+z", 2, true},
	}, func(t *testing.T, e *reconfEnsemble, via int64) {
		e.startInitial()
		w := e.writers("e", 2, 3)
		waitAcks(t, w, 20)
		e.startSpares(w)
		e.reconfig(via, []string{e.m.JoinLine(4, false)}, nil)
		e.waitConfig(ids(1, 2, 3, 4), cfgWant{ids: ids(1, 2, 3, 4)})
		e.reconfig(via, nil, []string{"1"})
		e.removed = map[int64]bool{1: true}
		final := ids(2, 3, 4)
		text := e.waitConfig(final, cfgWant{ids: final})
		e.waitLeader(final, nil)
		waitAcks(t, w, 20)
		acked := w.halt()
		e.checkDisk(final, text)

		for _, id := range e.ids() {
			e.stop(id)
		}
		for _, id := range final {
			e.start(id)
		}
		e.waitLeader(final, nil)
		if got := e.waitConfig(final, cfgWant{ids: final}); got != text {
			t.Errorf("after the restart /zookeeper/config differs (-before +after):\n%s", lineDiff(text, got))
		}
		e.checkDisk(final, text)
		w2 := e.writers("e2", final...)
		waitAcks(t, w2, 20)
		maps.Copy(acked, w2.halt())
		for _, id := range final {
			checkAcked(t, e.addr(id), acked)
		}
		e.checkJavaLogs()
	})
}

// (f) A reconfig whose new configuration has no quorum of synced members
// (two members that are not running) is refused with NEWCONFIGNOQUORUM,
// incremental and not, and changes nothing.
func TestCompat_ReconfigNoQuorum(t *testing.T) {
	runReconfigRows(t, []reconfigRow{
		{"java", "jjj+jj", 1, false},
		{"via zkgo follower", "zjj+jj", 1, false},
		{"zkgo leader", "jjz+jj", 1, false},
		{"zkgo", "zzz+zz", 2, true},
	}, func(t *testing.T, e *reconfEnsemble, via int64) {
		e.startInitial()
		initial := ids(1, 2, 3)
		before := e.waitConfig(initial, cfgWant{ids: initial})
		w := e.writers("f", initial...)
		waitAcks(t, w, 20)
		// Spares 4 and 5 are never started.
		_, err := harness.Reconfig(e.addr(via), []string{e.m.JoinLine(4, false), e.m.JoinLine(5, false)}, []string{"2", "3"}, -1)
		if !harness.IsCode(err, harness.ErrNewConfigNoQuorum) {
			t.Errorf("incremental reconfig to {1,4,5}: %v, want NEWCONFIGNOQUORUM (%s)", err, harness.ErrNewConfigNoQuorum)
		}
		_, err = harness.ReconfigMembers(e.addr(via), []string{e.m.JoinLine(1, false), e.m.JoinLine(4, false), e.m.JoinLine(5, false)}, -1)
		if !harness.IsCode(err, harness.ErrNewConfigNoQuorum) {
			t.Errorf("non-incremental reconfig to {1,4,5}: %v, want NEWCONFIGNOQUORUM (%s)", err, harness.ErrNewConfigNoQuorum)
		}
		waitAcks(t, w, 20)
		if after := e.waitConfig(initial, cfgWant{ids: initial}); after != before {
			t.Errorf("configuration changed by refused reconfigs (-before +after):\n%s", lineDiff(before, after))
		}
		e.waitLeader(initial, nil)
		e.finish(w, initial)
	})
}

// aheadOfRemoved picks the refusal of a removed learner only, as Java
// 3.8.0 logged it in TestCompat_ReconfigRemoveLeader's all-Java row.
func TestAheadOfRemoved(t *testing.T) {
	const ahead = "java.io.IOException: Follower is ahead of the leader, leader summary: 1 (current epoch), 4294967327 (last zxid)"
	log := strings.Join([]string{
		"15:29:51.600 [LearnerHandler-/127.0.0.1:36370] INFO org.apache.zookeeper.server.quorum.LearnerHandler - Follower sid: 2 : info : 127.0.0.1:1:2:participant;127.0.0.1:3",
		"15:29:51.638 [LearnerHandler-/127.0.0.1:36376] ERROR org.apache.zookeeper.server.quorum.LearnerHandler - Unexpected exception in LearnerHandler: ",
		ahead,
		"\tat org.apache.zookeeper.server.quorum.Leader.waitForEpochAck(Leader.java:1471)",
		"15:29:51.639 [LearnerHandler-/127.0.0.1:36370] INFO org.apache.zookeeper.server.quorum.LearnerHandler - Synchronously closing socket to learner 2.",
		"15:29:51.639 [LearnerHandler-/127.0.0.1:36376] INFO org.apache.zookeeper.server.quorum.LearnerHandler - Synchronously closing socket to learner 3.",
	}, "\n")
	if got := aheadOfRemoved(log, map[int64]bool{3: true}); len(got) != 1 || got[0] != ahead {
		t.Errorf("learner 3 removed: %q, want the refusal", got)
	}
	for _, removed := range []map[int64]bool{nil, {2: true}} {
		if got := aheadOfRemoved(log, removed); len(got) != 0 {
			t.Errorf("removed %v: %q, want nothing", removed, got)
		}
	}
}

// The follow-on entries are allowed only after the learner lost its
// leader connection, and nothing else after it is.
func TestAfterLeaderLost(t *testing.T) {
	const (
		eof = "00:02:23.125 [QuorumPeer[myid=4]] WARN org.apache.zookeeper.server.quorum.Learner - Exception when following the leader\n" +
			"java.io.EOFException\n\tat java.base/java.io.DataInputStream.readInt(DataInputStream.java:386)\n"
		reconfig = "00:02:23.125 [QuorumPeer[myid=4]] WARN org.apache.zookeeper.server.quorum.Learner - Exception when following the leader\n" +
			"java.lang.Exception: changes proposed in reconfig\n"
		severe = "00:02:23.138 [SyncThread:4] ERROR org.apache.zookeeper.server.ZooKeeperCriticalThread - Severe unrecoverable error, from thread : SyncThread:4\n" +
			"java.lang.NullPointerException: Cannot invoke \"java.net.Socket.isClosed()\" because \"this.learner.sock\" is null\n" +
			"\tat org.apache.zookeeper.server.quorum.SendAckRequestProcessor.flush(SendAckRequestProcessor.java:67)\n"
		jmx = "00:02:23.270 [QuorumPeer[myid=4]] WARN org.apache.zookeeper.server.ZooKeeperServer - Failed to register with JMX\n" +
			"javax.management.InstanceAlreadyExistsException: org.apache.ZooKeeperService:name0=ReplicatedServer_id4,name1=replica.4,name2=Follower,name3=InMemoryDataTree\n"
		other    = "00:02:24.000 [QuorumPeer[myid=4]] ERROR org.apache.zookeeper.server.quorum.Learner - something else\n"
		uptodate = "00:02:23.300 [QuorumPeer[myid=4]] INFO org.apache.zookeeper.server.quorum.Learner - Learner received UPTODATE message\n"
		restart  = "==== zkgo harness: starting member 4 at 00:02:25.000\n"
	)
	for _, tc := range []struct {
		name, log  string
		allowed    []string
		notAllowed []string
	}{
		{"after EOF", eof + severe + jmx + other, []string{"Severe unrecoverable", "learner.sock", "InstanceAlreadyExists"}, []string{"something else", "EOFException"}},
		{"after a reconfig", reconfig + jmx, []string{"InstanceAlreadyExists"}, []string{"changes proposed"}},
		{"without a lost leader", severe + jmx + eof + other, nil, []string{"Severe unrecoverable", "learner.sock", "InstanceAlreadyExists", "something else"}},
		{"after the next sync", eof + uptodate + severe + jmx, nil, []string{"Severe unrecoverable", "learner.sock", "InstanceAlreadyExists"}},
		{"after a restart", eof + restart + jmx, nil, []string{"InstanceAlreadyExists"}},
	} {
		checkContains(t, tc.name, strings.Join(afterLeaderLost(tc.log), "\n"), tc.allowed, tc.notAllowed, "not allowed", "allowed")
	}
}

// gaveUpConnecting finds the port in zkgo's and Java's give-up lines and
// nothing in a learner's single failed try.
func TestGaveUpConnecting(t *testing.T) {
	for _, tc := range []struct{ line, port string }{
		{`{"level":"warn","myid":1,"error":"waiting for LEADERINFO: connectToLeader exceeded on retries: dial tcp 127.0.0.1:41305: connect: connection refused","message":"Exception when following the leader"}`, "41305"},
		{`00:00:01.000 [LeaderConnector-/127.0.0.1:41305] ERROR org.apache.zookeeper.server.quorum.Learner - Unexpected exception, retries exceeded. tries=4, remaining init limit=1500, connecting to /127.0.0.1:41305`, "41305"},
		{`00:00:01.000 [LeaderConnector-/127.0.0.1:41306] ERROR org.apache.zookeeper.server.quorum.Learner - Unexpected exception, connectToLeader exceeded. tries=2, remaining init limit=-3, connecting to /127.0.0.1:41306`, "41306"},
		{`00:00:01.000 [LeaderConnector-/127.0.0.1:41305] WARN org.apache.zookeeper.server.quorum.Learner - Unexpected exception, tries=0, remaining init limit=1900, connecting to /127.0.0.1:41305`, ""},
	} {
		got := ""
		if m := gaveUpConnecting.FindStringSubmatch(tc.line); m != nil {
			got = m[1] + m[2]
		}
		if got != tc.port {
			t.Errorf("port %q, want %q in %s", got, tc.port, tc.line)
		}
	}
}
