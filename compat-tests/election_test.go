package compattest

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/node/election"
	"github.com/zkgo/zkgo/wire"
)

// Leader election against real Java 3.8 peers: zkgo's election.Service runs
// in-process as an external member of a mixed ensemble.

// syncBuffer collects a zkgo service's log for assertions.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startElection runs zkgo's election service as member id of mx.
func startElection(t *testing.T, mx *harness.Mixed, id int64, canLead bool) (*election.Service, *syncBuffer) {
	t.Helper()
	members := map[int64]election.Member{}
	for _, s := range mx.Members() {
		members[s.ID] = election.Member{ID: s.ID, Addr: mx.ElectionAddr(s.ID), Voter: !s.Observer}
	}
	mx.Release(id)
	buf := &syncBuffer{}
	console := zerolog.ConsoleWriter{Out: tLogWriter{t}, NoColor: true, TimeFormat: "15:04:05.000"}
	log := zerolog.New(zerolog.MultiLevelWriter(console, buf)).
		Level(zerolog.InfoLevel).With().Timestamp().Int64("zkgo", id).Logger()
	svc, err := election.Start(election.Config{
		MyID:             id,
		Members:          members,
		ConfigText:       []byte(mx.QuorumText()),
		CanLead:          canLead,
		CnxTimeout:       2 * time.Second,
		HandshakeTimeout: time.Second, // tickTime 200ms * syncLimit 5
		Logger:           log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	return svc, buf
}

// tLogWriter sends log lines to t.Log.
type tLogWriter struct{ t testing.TB }

func (w tLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

type electionResult struct {
	out election.Outcome
	err error
}

func lookAsync(ctx context.Context, svc *election.Service, zxid wire.Zxid, epoch int64) <-chan electionResult {
	ch := make(chan electionResult, 1)
	go func() {
		out, err := svc.LookForLeader(ctx, zxid, epoch)
		ch <- electionResult{out, err}
	}()
	return ch
}

func waitElection(t *testing.T, ch <-chan electionResult, timeout time.Duration) election.Outcome {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("LookForLeader: %v", r.err)
		}
		return r.out
	case <-time.After(timeout):
		t.Fatalf("no election outcome within %v", timeout)
	}
	return election.Outcome{}
}

// waitLog waits until Java member id's log matches re.
func waitLog(t *testing.T, mx *harness.Mixed, id int64, re *regexp.Regexp, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !re.MatchString(mx.Log(id)) {
		if time.Now().After(deadline) {
			t.Fatalf("member %d log never matched %q:\n%s", id, re, tailString(mx.Log(id), 6000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

var (
	javaLeading = regexp.MustCompile(`Peer state changed: leading`)
	javaLooking = regexp.MustCompile(`\bLOOKING\b`)
	// A Java peer logs every notification it accepts; this one is from
	// zkgo member 1..9, decoded with zkgo's config version (0).
	javaGotZkgo = func(sid int64) *regexp.Regexp {
		return regexp.MustCompile(`Notification: my state:\w+; n.sid:` + strconv.FormatInt(sid, 10) + `, n.state:\w+, n.leader:\d+,.* n.config version:0`)
	}
)

// expectedJava are log lines mentioning exceptions or errors that these
// tests cause on purpose: members that are down refuse connections, a Java
// leader elected with zkgo's vote waits in vain for zkgo to follow (zkgo
// only votes here), and connections zkgo closes at the end or replaces when
// both sides dial at once. Anything else (a notification or config zkgo
// sent that Java could not parse, a bad initial message) fails the test.
var expectedJava = []*regexp.Regexp{
	regexp.MustCompile(`Cannot open channel to \d+ at election address`),
	regexp.MustCompile(`java\.net\.ConnectException: Connection refused`),
	regexp.MustCompile(`Timeout while waiting for epoch from quorum`),
	regexp.MustCompile(`Timeout while waiting for NEWLEADER`),
	regexp.MustCompile(`java\.lang\.InterruptedException: Timeout while waiting`),
	regexp.MustCompile(`Unexpected exception`), // QuorumPeer.run wraps the two above
	regexp.MustCompile(`Exception when following the leader`),
	regexp.MustCompile(`java\.net\.SocketTimeoutException: Read timed out`),
	regexp.MustCompile(`Connection broken for id \d+, my id = \d+`),
	regexp.MustCompile(`java\.io\.EOFException`),
	regexp.MustCompile(`java\.net\.SocketException: (Socket closed|Connection reset|Broken pipe)`),
	regexp.MustCompile(`Exception while listening to address`), // JVM killed at cleanup
	regexp.MustCompile(`Interrupting SendWorker thread from RecvWorker`),
	regexp.MustCompile(`Interrupted while waiting for message on queue`), // a replaced SendWorker
	regexp.MustCompile(`Exception causing close of session`),
	// A four-letter word's reply written while Java closes its client
	// connections at a role change: NIOServerCnxn.sendBufferSync logs the
	// AsynchronousCloseException as ERROR. (It was listed among the
	// learner tests' benign lines only, which these tests do not use.)
	regexp.MustCompile(`Error sending data synchronously`),
}

// checkJavaLogs fails on exception or error lines no test step explains.
// A flagged line is judged with the log entry it belongs to (the line with
// the timestamp plus its stack trace). ZOOKEEPER-4394 in a Java follower of
// a Java leader is Java's own bug (javaLogWithout4394).
func checkJavaLogs(t *testing.T, mx *harness.Mixed, ids ...int64) {
	t.Helper()
	for _, id := range ids {
		flagged := map[string]bool{}
		for _, line := range javaExceptions(mx, id) {
			flagged[line] = true
		}
	entries:
		for _, entry := range javaLogEntries(javaLogWithout4394(mx, id)) {
			hit := false
			for _, line := range strings.Split(entry, "\n") {
				hit = hit || flagged[line]
			}
			if !hit {
				continue
			}
			for _, re := range expectedJava {
				if re.MatchString(entry) {
					continue entries
				}
			}
			t.Errorf("member %d: unexpected Java log entry:\n%s", id, tailString(entry, 3000))
		}
	}
}

var javaLogStart = regexp.MustCompile(`^(\d\d:\d\d:\d\d\.\d{3} |==== )`)

// javaLogEntries splits a slf4j-simple log into entries: a timestamped line
// and the lines (stack traces) that follow it.
func javaLogEntries(log string) []string {
	var out []string
	var cur []string
	for _, line := range strings.Split(log, "\n") {
		if javaLogStart.MatchString(line) && len(cur) > 0 {
			out = append(out, strings.Join(cur, "\n"))
			cur = nil
		}
		cur = append(cur, line)
	}
	if len(cur) > 0 {
		out = append(out, strings.Join(cur, "\n"))
	}
	return out
}

func newElectionEnsemble(t *testing.T, members ...harness.MemberSpec) *harness.Mixed {
	t.Helper()
	harness.RequireJava(t)
	return harness.NewMixed(t, harness.MixedOptions{Members: members, TickTime: 200, InitLimit: 10, SyncLimit: 5})
}

// {1: zkgo CanLead=false, 2: Java (down), 3: Java}: zkgo's vote makes Java 3
// leader, whichever starts first. zkgo has the smaller sid, so Java 3 keeps
// the connection it initiates.
func TestCompat_ElectionZkgoVotesJavaLeader(t *testing.T) {
	for _, zkgoFirst := range []bool{true, false} {
		name := "java-first"
		if zkgoFirst {
			name = "zkgo-first"
		}
		t.Run(name, func(t *testing.T) {
			mx := newElectionEnsemble(t,
				harness.MemberSpec{ID: 1, Kind: harness.MemberExternal},
				harness.MemberSpec{ID: 2, Kind: harness.MemberJava},
				harness.MemberSpec{ID: 3, Kind: harness.MemberJava},
			)
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			var svc *election.Service
			var res <-chan electionResult
			if zkgoFirst {
				svc, _ = startElection(t, mx, 1, false)
				res = lookAsync(ctx, svc, 0, 0)
				mx.Start(3)
			} else {
				mx.Start(3)
				waitLog(t, mx, 3, javaLooking, 20*time.Second)
				svc, _ = startElection(t, mx, 1, false)
				res = lookAsync(ctx, svc, 0, 0)
			}
			out := waitElection(t, res, 30*time.Second)
			if out.State != wire.ServerFollowing || out.Vote.Leader != 3 || out.Vote.Zxid != 0 || out.Vote.PeerEpoch != 0 {
				t.Fatalf("zkgo outcome %+v, want FOLLOWING leader 3", out)
			}
			waitLog(t, mx, 3, javaLeading, 10*time.Second)
			waitLog(t, mx, 3, javaGotZkgo(1), time.Second)
			st := svc.Stats()
			if st.State != wire.ServerFollowing || st.Vote.Leader != 3 || st.WouldWin != 0 || st.NotificationsSent == 0 {
				t.Fatalf("stats %+v", st)
			}
			checkJavaLogs(t, mx, 3)
		})
	}
}

// {1: Java, 2: Java (down), 3: zkgo}: zkgo has the larger sid, so it must
// keep the connection it makes to Java 1. With equal (empty) histories
// Java 1 covers zkgo's, so zkgo votes for it and Java 1 leads.
func TestCompat_ElectionZkgoLargerSid(t *testing.T) {
	mx := newElectionEnsemble(t,
		harness.MemberSpec{ID: 1, Kind: harness.MemberJava},
		harness.MemberSpec{ID: 2, Kind: harness.MemberJava},
		harness.MemberSpec{ID: 3, Kind: harness.MemberExternal},
	)
	mx.Start(1)
	svc, logs := startElection(t, mx, 3, false)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	out := waitElection(t, lookAsync(ctx, svc, 0, 0), 30*time.Second)
	if out.State != wire.ServerFollowing || out.Vote.Leader != 1 {
		t.Fatalf("zkgo outcome %+v, want FOLLOWING leader 1", out)
	}
	waitLog(t, mx, 1, javaLeading, 10*time.Second)
	if !regexp.MustCompile(`"sid":1,[^\n]*"direction":"outbound"[^\n]*"message":"election connection established"`).MatchString(logs.String()) {
		t.Fatalf("zkgo never kept an outbound connection to Java 1:\n%s", logs.String())
	}
	if st := svc.Stats(); st.WouldWin != 0 || st.Connections != 1 {
		t.Fatalf("stats %+v", st)
	}
	// Java 1 accepted zkgo's connection (and, if it dialled zkgo first, was
	// called back).
	waitLog(t, mx, 1, regexp.MustCompile(`Received connection request from /127\.0\.0\.1:`), time.Second)
	checkJavaLogs(t, mx, 1)
}

// {1: Java, 2: Java (down), 3: zkgo CanLead=false} where zkgo's history
// is strictly ahead: zkgo would win, so it does not vote, and Java 1 alone
// cannot lead. When zkgo retries with a history Java 1 covers, zkgo's new
// round (ahead of Java 1's) still reaches Java 1 and Java 1 leads.
func TestCompat_ElectionZkgoWouldWin(t *testing.T) {
	mx := newElectionEnsemble(t,
		harness.MemberSpec{ID: 1, Kind: harness.MemberJava},
		harness.MemberSpec{ID: 2, Kind: harness.MemberJava},
		harness.MemberSpec{ID: 3, Kind: harness.MemberExternal},
	)
	mx.Start(1)
	waitLog(t, mx, 1, javaLooking, 20*time.Second)
	svc, logs := startElection(t, mx, 3, false)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	r := <-lookAsync(ctx, svc, wire.MakeZxid(1, 5), 1)
	if !errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("LookForLeader with the freshest history returned %+v %v", r.out, r.err)
	}
	waitLog(t, mx, 1, javaGotZkgo(3), time.Second) // Java heard zkgo's probes
	if javaLeading.MatchString(mx.Log(1)) {
		t.Fatalf("Java 1 led without a quorum:\n%s", tailString(mx.Log(1), 4000))
	}
	st := svc.Stats()
	if st.WouldWin != 1 || st.State != wire.ServerLooking || st.HasProposal {
		t.Fatalf("stats %+v", st)
	}
	if !strings.Contains(logs.String(), "would be elected but cannot lead") {
		t.Fatal("no would-win warning logged")
	}
	if n := strings.Count(logs.String(), "would be elected but cannot lead"); n != 1 {
		t.Fatalf("would-win logged %d times in one round", n)
	}
	if mode, _ := mx.Mode(1); mode != "" {
		t.Fatalf("Java 1 mode %q", mode)
	}

	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	out := waitElection(t, lookAsync(ctx2, svc, 0, 0), 25*time.Second)
	if out.State != wire.ServerFollowing || out.Vote.Leader != 1 {
		t.Fatalf("zkgo outcome %+v, want FOLLOWING leader 1", out)
	}
	waitLog(t, mx, 1, javaLeading, 10*time.Second)
	checkJavaLogs(t, mx, 1)
}

// Three Java voters elect a leader; then zkgo joins as a fourth voter
// (CanLead=false) and as an observer. Both learn the established leader from
// the Java peers' FOLLOWING/LEADING answers (outofelection), with the new
// epoch the leader established.
func TestCompat_ElectionLateJoin(t *testing.T) {
	mx := newElectionEnsemble(t,
		harness.MemberSpec{ID: 1, Kind: harness.MemberJava},
		harness.MemberSpec{ID: 2, Kind: harness.MemberJava},
		harness.MemberSpec{ID: 3, Kind: harness.MemberJava},
		harness.MemberSpec{ID: 4, Kind: harness.MemberExternal},
		harness.MemberSpec{ID: 5, Kind: harness.MemberExternal, Observer: true},
	)
	for _, id := range []int64{1, 2, 3} {
		mx.Start(id)
	}
	deadline := time.Now().Add(40 * time.Second)
	var leader int64
	for {
		if l, ok := mx.Leader(); ok {
			leader = l
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Java leader:\n%s", tailString(mx.Log(3), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, id := range []int64{1, 2, 3} {
		if id != leader {
			mx.WaitMode(t, id, "follower", 20*time.Second)
		}
	}
	voter, _ := startElection(t, mx, 4, false)
	observer, _ := startElection(t, mx, 5, false)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	rv := lookAsync(ctx, voter, 0, 0)
	ro := lookAsync(ctx, observer, 0, 0)
	ov := waitElection(t, rv, 20*time.Second)
	oo := waitElection(t, ro, 20*time.Second)
	// A fresh ensemble's first leader establishes epoch 1.
	if ov.State != wire.ServerFollowing || ov.Vote.Leader != leader || ov.Vote.PeerEpoch != 1 {
		t.Fatalf("voter outcome %+v, want FOLLOWING %d epoch 1", ov, leader)
	}
	if oo.State != wire.ServerObserving || oo.Vote.Leader != leader || oo.Vote.PeerEpoch != 1 {
		t.Fatalf("observer outcome %+v, want OBSERVING %d epoch 1", oo, leader)
	}
	if l, ok := mx.Leader(); !ok || l != leader {
		t.Fatalf("leader changed: %d %v", l, ok)
	}
	waitLog(t, mx, leader, javaGotZkgo(4), time.Second)
	checkJavaLogs(t, mx, 1, 2, 3)

	// The leader dies and comes back empty; the Java voters elect again
	// (epoch 2) and zkgo, LOOKING again, learns the new leader.
	mx.Kill(leader)
	mx.Wipe(leader)
	mx.Restart(leader)
	deadline = time.Now().Add(40 * time.Second)
	var leader2 int64
	for {
		if l, ok := mx.Leader(); ok {
			leader2 = l
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Java leader after restarting %d", leader)
		}
		time.Sleep(100 * time.Millisecond)
	}
	voter.SetLooking(0, 0)
	ov2 := waitElection(t, lookAsync(ctx, voter, 0, 0), 20*time.Second)
	if ov2.State != wire.ServerFollowing || ov2.Vote.Leader != leader2 || ov2.Vote.PeerEpoch != 2 {
		t.Fatalf("voter outcome after failover %+v, want FOLLOWING %d epoch 2", ov2, leader2)
	}
	checkJavaLogs(t, mx, 1, 2, 3)
}
