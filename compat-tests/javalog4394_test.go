package compattest

import (
	"regexp"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/compat-tests/harness"
)

// ZOOKEEPER-4394 (fixed in 3.9): a Java 3.8.0 follower forgets, at
// NEWLEADER, the proposals it received before it, and a COMMIT between
// NEWLEADER and UPTODATE with no PROPOSAL after NEWLEADER then kills its
// sync. A Java leader causes it whenever a proposal is outstanding while it
// syncs a follower (Leader.startForwarding queues the PROPOSAL before
// NEWLEADER). Between Java nodes that is Java's bug, so the log checks
// accept its signature in a Java follower's log while it followed a Java
// leader; behind a zkgo leader, which holds such proposals (DIFFERENCES row
// 35), it stays a failure.

var (
	// zk4394NPE is the failed sync itself (Learner.syncWithLeader).
	zk4394NPE = regexp.MustCompile(`NullPointerException: Cannot read field "hdr" because "pif" is null`)
	// zk4394FollowOn is what the failed sync leaves behind: the sync
	// thread flushing ACKs to the closed leader socket, and the next
	// sync's JMX registration of the follower that was never unregistered.
	zk4394FollowOn = regexp.MustCompile(strings.Join([]string{
		`Severe unrecoverable error, from thread : SyncThread:\d+`,
		`NullPointerException: Cannot invoke "java\.net\.Socket\.isClosed\(\)" because "this\.learner\.sock" is null`,
		`InstanceAlreadyExistsException: \S*name2=Follower`,
	}, "|"))
	// zk4394Reload is what a Java member that hit ZOOKEEPER-4394 logs
	// when it reloads its data: right after the failed sync (its
	// QuorumPeer thread) and at its next start ([main]), and as digest
	// mismatches until its next sync (docs/faults.md).
	zk4394Reload = regexp.MustCompile(`\] (ERROR|WARN) \S+ - (\d+\(highestZxid\) > \d+\(next log\)|First digest mismatch on txn|(\[\d+ times\] )?Message: ?Digests are not matching)`)
	// javaLearnerConnected names the quorum port of the leader a Java
	// learner (re)connected to (Learner.connectToLeader).
	javaLearnerConnected = regexp.MustCompile(`Successfully connected to leader, using address: \S*:(\d+)`)
)

// without4394 returns the log without the entries (a timestamped line and
// its stack trace) of ZOOKEEPER-4394 that happened while the member
// followed a leader whose quorum port isJava accepts: the failed sync and,
// after one, its follow-on entries.
func without4394(log string, isJava func(port string) bool) string {
	var out []string
	javaLeader, seen := false, false
	for _, entry := range javaLogEntries(log) {
		if m := javaLearnerConnected.FindStringSubmatch(entry); m != nil {
			javaLeader = isJava(m[1])
		}
		if javaLeader && zk4394NPE.MatchString(entry) {
			seen = true
			continue
		}
		if seen && zk4394FollowOn.MatchString(entry) {
			continue
		}
		out = append(out, entry)
	}
	return strings.Join(out, "\n")
}

// javaLogWithout4394 is Java member id's log without ZOOKEEPER-4394's
// entries from while it followed a Java member.
func javaLogWithout4394(m *harness.Mixed, id int64) string {
	java := map[string]bool{}
	for _, s := range m.Members() {
		if s.Kind == harness.MemberJava {
			_, port, _ := strings.Cut(m.QuorumAddr(s.ID), ":")
			java[port] = true
		}
	}
	return without4394(m.Log(id), func(port string) bool { return java[port] })
}

// javaHit4394 reports whether Java member id hit ZOOKEEPER-4394 behind a
// Java leader (javaLogWithout4394 takes its signature out): the lines of
// zk4394Reload are then its aftermath, not zkgo's doing. Every Java log
// check shares it (learner and reconfig compat tests).
func javaHit4394(m *harness.Mixed, id int64) bool {
	return zk4394NPE.MatchString(m.Log(id)) && !zk4394NPE.MatchString(javaLogWithout4394(m, id))
}

// javaExceptions is m.JavaExceptions(id) (the lines that name an exception
// or are logged at ERROR) without ZOOKEEPER-4394 under a Java leader.
func javaExceptions(m *harness.Mixed, id int64) []string {
	var out []string
	for _, line := range strings.Split(javaLogWithout4394(m, id), "\n") {
		if strings.Contains(line, "Exception") || strings.Contains(line, " ERROR ") {
			out = append(out, line)
		}
	}
	return out
}

// The signature is taken out only after a connection to a Java leader,
// follow-on entries only after such a failed sync.
func TestJavaLog4394OnlyUnderJavaLeader(t *testing.T) {
	const (
		connected = "07:24:34.121 [LeaderConnector-/127.0.0.1:%s] INFO org.apache.zookeeper.server.quorum.Learner - Successfully connected to leader, using address: /127.0.0.1:%s\n"
		npe       = "07:24:35.055 [QuorumPeer[myid=1]] WARN org.apache.zookeeper.server.quorum.Learner - Exception when following the leader\n" +
			"java.lang.NullPointerException: Cannot read field \"hdr\" because \"pif\" is null\n" +
			"\tat org.apache.zookeeper.server.quorum.Learner.syncWithLeader(Learner.java:655)\n"
		severe = "07:24:35.066 [SyncThread:1] ERROR org.apache.zookeeper.server.ZooKeeperCriticalThread - Severe unrecoverable error, from thread : SyncThread:1\n" +
			"java.lang.NullPointerException: Cannot invoke \"java.net.Socket.isClosed()\" because \"this.learner.sock\" is null\n" +
			"\tat org.apache.zookeeper.server.quorum.SendAckRequestProcessor.flush(SendAckRequestProcessor.java:67)\n"
		jmx = "07:24:35.090 [QuorumPeer[myid=1]] WARN org.apache.zookeeper.server.ZooKeeperServer - Failed to register with JMX\n" +
			"javax.management.InstanceAlreadyExistsException: org.apache.ZooKeeperService:name0=ReplicatedServer_id1,name1=replica.1,name2=Follower,name3=InMemoryDataTree\n"
		other = "07:24:36.000 [QuorumPeer[myid=1]] ERROR org.apache.zookeeper.server.quorum.Learner - something else\n"
	)
	conn := func(port string) string { return strings.ReplaceAll(connected, "%s", port) }
	isJava := func(port string) bool { return port == "5001" }
	for _, tc := range []struct {
		name, log string
		kept      []string // substrings that must stay
		gone      []string // substrings that must be taken out
	}{
		{"java leader", conn("5001") + npe + severe + conn("5001") + jmx + other,
			[]string{"something else"}, []string{`"pif" is null`, "Severe unrecoverable", "learner.sock", "InstanceAlreadyExists"}},
		{"zkgo leader", conn("5003") + npe + severe + conn("5003") + jmx,
			[]string{`"pif" is null`, "Severe unrecoverable", "learner.sock", "InstanceAlreadyExists"}, nil},
		{"java then zkgo leader", conn("5001") + conn("5003") + npe,
			[]string{`"pif" is null`}, nil},
		{"follow-ons without the failed sync", conn("5001") + severe + jmx,
			[]string{"Severe unrecoverable", "learner.sock", "InstanceAlreadyExists"}, nil},
	} {
		checkContains(t, tc.name, without4394(tc.log, isJava), tc.kept, tc.gone, "was taken out", "was kept")
	}
}

// checkContains fails, naming the case, for each string of in that got
// lacks (missing) and each of out it holds (present).
func checkContains(t *testing.T, name, got string, in, out []string, missing, present string) {
	t.Helper()
	for _, s := range in {
		if !strings.Contains(got, s) {
			t.Errorf("%s: %q %s:\n%s", name, s, missing, got)
		}
	}
	for _, s := range out {
		if strings.Contains(got, s) {
			t.Errorf("%s: %q %s:\n%s", name, s, present, got)
		}
	}
}
