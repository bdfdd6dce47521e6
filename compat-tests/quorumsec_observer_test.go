package compattest

import (
	"crypto/x509/pkix"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/internal/zktls/zktlstest"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// Observers under quorum TLS and quorum SASL (issue 18) with Java 3.8 on
// the other side of every link: a zkgo observer behind a Java leader, a
// Java observer behind a zkgo leader, the rolling upgrade with observers
// in the ensemble, and observers refused (no SASL, wrong CA) while the
// ensemble and its sessions carry on.

// obsRoles names the members of an observer ensemble: voters zkgoA, java
// and zkgoB (zkgoA < java < zkgoB: zkgoB leads first, java once zkgoB
// stops) and observers obsZkgo and obsJava.
type obsRoles struct{ zkgoA, java, zkgoB, obsZkgo, obsJava int64 }

var (
	// highObservers: the observers have the largest sids, so the
	// election connections they dial are the ones kept.
	highObservers = obsRoles{zkgoA: 1, java: 2, zkgoB: 3, obsZkgo: 4, obsJava: 5}
	// lowObservers: the observers have the smallest sids; a voter drops
	// the election connection an observer dials (after its TLS and SASL
	// handshake) and dials it back, so each observer's election port
	// accepts secure connections from voters too.
	lowObservers = obsRoles{zkgoA: 3, java: 4, zkgoB: 5, obsZkgo: 1, obsJava: 2}
)

func (r obsRoles) all() []int64 { return []int64{r.zkgoA, r.java, r.zkgoB, r.obsZkgo, r.obsJava} }

func observerEnsemble(t *testing.T, r obsRoles, props, sys map[string]string) *secEnsemble {
	return newSecEnsemble(t, []harness.MemberSpec{
		{ID: r.zkgoA, Kind: harness.MemberExternal}, {ID: r.java, Kind: harness.MemberJava},
		{ID: r.zkgoB, Kind: harness.MemberExternal},
		{ID: r.obsZkgo, Kind: harness.MemberExternal, Observer: true}, {ID: r.obsJava, Kind: harness.MemberJava, Observer: true}},
		props, sys)
}

// logHas reports whether one line of log holds every one of subs.
func logHas(log string, subs ...string) bool {
	for _, line := range strings.Split(log, "\n") {
		ok := true
		for _, s := range subs {
			if !strings.Contains(line, s) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// colonPort is ":port" of a host:port, as both zkgo's and Java's logs end
// a remote address with it.
func colonPort(t *testing.T, addr string) string { return ":" + strconv.Itoa(portOf(t, addr)) }

// learnerConnLogged reports whether a zkgo leader's log shows msg for
// the connection of learner sid (matched by its remote address, which the
// leader logs when the learner's first packet names its sid).
func learnerConnLogged(t *testing.T, log string, sid int64, msg string) bool {
	t.Helper()
	var remotes []string
	for _, line := range strings.Split(log, "\n") {
		var rec struct {
			Message, Learner string
			SID              int64 `json:"sid"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Message == "Follower sid connected" && rec.SID == sid {
			remotes = append(remotes, rec.Learner)
		}
	}
	for _, r := range remotes {
		if logHas(log, msg, `"remote":"`+r+`"`) {
			return true
		}
	}
	return false
}

// wantObservers fails t unless every id serves as an observer.
func (e *secEnsemble) wantObservers(ids ...int64) {
	e.t.Helper()
	for _, id := range ids {
		if m := e.mode(id); m != "observer" {
			e.t.Fatalf("member %d (%v) serves as %q, want observer", id, e.kind[id], m)
		}
	}
}

// TestQuorumTLS_Observers: sslQuorum=true with a zkgo and a Java
// observer whose sids are below the voters' (lowObservers). zkgo leads
// zkgo, both observers and then Java; then Java leads once that zkgo
// leader stops, and both observers follow it. Writes through either
// observer are forwarded to the leader of the moment and every acked
// write is on every member; the observers' quorum connections to both
// leaders and the voters' election connections to the observers are TLS.
func TestQuorumTLS_Observers(t *testing.T) {
	r := lowObservers
	e := observerEnsemble(t, r, quorumTLSProps(zktlstest.NewSet(t), map[string]string{"sslQuorum": "true"}), nil)
	quorumObservers(t, e, r)
	// The learner side of the zkgo observer's quorum connections, to the
	// zkgo leader and then the Java leader.
	for _, l := range []int64{r.zkgoB, r.java} {
		qp := colonPort(t, e.m.QuorumAddr(l))
		if !logHas(e.log(r.obsZkgo), "SSL handshake complete", qp) {
			t.Errorf("zkgo observer logged no TLS handshake with leader %d's quorum port %s", l, qp)
		}
	}
	// Java's learner logs nothing of its TLS handshake: the zkgo leader
	// says which of its learner connections was the Java observer, and
	// that it came over TLS.
	if !learnerConnLogged(t, e.log(r.zkgoB), r.obsJava, "Accepted TLS connection") {
		t.Errorf("the zkgo leader did not log the Java observer's learner connection as TLS:\n%s",
			tailString(e.log(r.zkgoB), 3000))
	}
	// The voters dialing the observers' election ports.
	if !strings.Contains(e.log(r.obsZkgo), "Accepted TLS connection") {
		t.Errorf("the zkgo observer accepted no TLS election connection")
	}
	if !strings.Contains(e.m.Log(r.obsJava), "Accepted TLS connection from") {
		t.Errorf("the Java observer accepted no TLS election connection")
	}
	for _, id := range []int64{r.java, r.obsJava} {
		if jl := e.m.Log(id); strings.Contains(jl, "Blocked insecure connection attempt") {
			t.Errorf("Java member %d saw a plaintext quorum connection:\n%s", id, tailString(jl, 3000))
		}
	}
}

// quorumSASLObserverProps are zoo.cfg lines and Java system properties
// for DIGEST-MD5 quorum SASL required by every member.
func quorumSASLObserverProps(t *testing.T) (props, sys map[string]string) {
	jf := jaasFile(t, t.TempDir(), "jaas.conf", "test", "quorumsecret")
	props = map[string]string{"java.security.auth.login.config": jf}
	for k, v := range quorumSASLProps {
		props[k] = v
	}
	return props, map[string]string{"java.security.auth.login.config": jf}
}

// TestQuorumSASL_Observers: DIGEST-MD5 quorum SASL required by every
// member (learnerRequireSasl and serverRequireSasl), with the roles of
// TestQuorumTLS_Observers but the observers' sids above the voters' (see
// TestQuorumSASL_LowSidObservers for why); each observer authenticates
// to each leader's quorum port and says so.
func TestQuorumSASL_Observers(t *testing.T) {
	r := highObservers
	props, sys := quorumSASLObserverProps(t)
	e := observerEnsemble(t, r, props, sys)
	quorumObservers(t, e, r)
	for _, l := range []int64{r.zkgoB, r.java} {
		qp := colonPort(t, e.m.QuorumAddr(l))
		if !logHas(e.log(r.obsZkgo), "Successfully completed the authentication using SASL", qp) {
			t.Errorf("the zkgo observer logged no SASL authentication to leader %d's quorum port %s", l, qp)
		}
		if !logHas(e.m.Log(r.obsJava), "Successfully completed the authentication using SASL. server addr", qp) {
			t.Errorf("the Java observer logged no SASL authentication to leader %d's quorum port %s", l, qp)
		}
	}
	if !learnerConnLogged(t, e.log(r.zkgoB), r.obsJava, "Successfully completed the authentication using SASL") {
		t.Errorf("the zkgo leader did not log authenticating the Java observer's learner connection")
	}
	// The Java leader authenticated learners (its log does not say which
	// member a learner address is).
	if !strings.Contains(e.m.Log(r.java), "Successfully completed the authentication using SASL. learner addr") {
		t.Errorf("Java member %d never authenticated a learner", r.java)
	}
}

// quorumObservers runs the observer scenario on an observerEnsemble.
func quorumObservers(t *testing.T, e *secEnsemble, r obsRoles) {
	e.start(r.zkgoA)
	e.start(r.zkgoB)
	if l := e.waitQuorum(r.zkgoA, r.zkgoB); l != r.zkgoB {
		t.Fatalf("member %d leads, want zkgo %d", l, r.zkgoB)
	}
	e.start(r.obsZkgo)
	e.start(r.obsJava)
	if l := e.waitQuorum(r.zkgoA, r.zkgoB, r.obsZkgo, r.obsJava); l != r.zkgoB {
		t.Fatalf("member %d leads, want zkgo %d", l, r.zkgoB)
	}
	e.wantObservers(r.obsZkgo, r.obsJava)
	acked := e.write(r.obsJava, "java-obs-zkgo-leader", 10)
	acked = append(acked, e.write(r.obsZkgo, "zkgo-obs-zkgo-leader", 10)...)
	e.start(r.java)
	if l := e.waitQuorum(r.all()...); l != r.zkgoB {
		t.Fatalf("member %d leads, want zkgo %d", l, r.zkgoB)
	}
	e.checkAll(acked, r.all()...)
	e.stop(r.zkgoB)
	if l := e.waitQuorum(r.zkgoA, r.java, r.obsZkgo, r.obsJava); l != r.java {
		t.Fatalf("with zkgo %d gone, member %d leads; want Java %d", r.zkgoB, l, r.java)
	}
	e.wantObservers(r.obsZkgo, r.obsJava)
	acked = append(acked, e.write(r.obsZkgo, "zkgo-obs-java-leader", 10)...)
	acked = append(acked, e.write(r.obsJava, "java-obs-java-leader", 10)...)
	e.checkAll(acked, r.zkgoA, r.java, r.obsZkgo, r.obsJava)
	jl := e.m.Log(r.obsJava)
	for _, l := range []int64{r.zkgoB, r.java} {
		if !strings.Contains(jl, "Observing new leader sid="+strconv.FormatInt(l, 10)) {
			t.Errorf("the Java observer never observed leader %d:\n%s", l, tailString(jl, 3000))
		}
	}
}

// TestQuorumSASL_LowSidObservers pins DIFFERENCES.md row 58. Quorum SASL
// with observers whose sids are below the voters' (lowObservers): a
// voter drops the election connection an observer dials and dials it
// back. zkgo voters authenticate on every connection they dial, so both
// observers (zkgo and Java) join behind zkgo voters even with
// serverRequireSasl. A Java 3.8.0 voter runs no SASL when it dials a
// non-voting member and says nothing until it hears from it
// (ZOOKEEPER-4886, fixed in 3.8.5): once it leads, observers with
// serverRequireSasl refuse it ("Failed to authenticate using SASL") and
// cannot observe; restarted with serverRequireSasl=false (the JAAS file
// and learnerRequireSasl unchanged) they let it through after their
// socket timeout, as Java does, and observe it.
func TestQuorumSASL_LowSidObservers(t *testing.T) {
	r := lowObservers
	props, sys := quorumSASLObserverProps(t)
	e := observerEnsemble(t, r, props, sys)
	e.start(r.zkgoA)
	e.start(r.zkgoB)
	if l := e.waitQuorum(r.zkgoA, r.zkgoB); l != r.zkgoB {
		t.Fatalf("member %d leads, want zkgo %d", l, r.zkgoB)
	}
	e.start(r.obsZkgo)
	e.start(r.obsJava)
	e.waitQuorum(r.zkgoA, r.zkgoB, r.obsZkgo, r.obsJava)
	e.wantObservers(r.obsZkgo, r.obsJava)
	// The zkgo voters authenticated to the observers' election ports.
	if !logHas(e.log(r.obsZkgo), "Successfully completed the authentication using SASL", `"user":"test"`) {
		t.Errorf("the zkgo observer authenticated no voter on its election port")
	}
	if !strings.Contains(e.m.Log(r.obsJava), "Successfully completed the authentication using SASL. learner addr") {
		t.Errorf("the Java observer authenticated no voter on its election port")
	}
	acked := e.write(r.obsJava, "java-obs", 5)
	acked = append(acked, e.write(r.obsZkgo, "zkgo-obs", 5)...)
	e.start(r.java)
	e.waitQuorum(r.all()...)
	e.checkAll(acked, r.all()...)

	// The Java voter leads: the observers refuse its election
	// connections, which carry no SASL.
	const failed = "Failed to authenticate using SASL"
	before := [2]int{strings.Count(e.log(r.obsZkgo), failed), strings.Count(e.m.Log(r.obsJava), failed)}
	e.stop(r.zkgoB)
	if l := e.waitQuorum(r.zkgoA, r.java); l != r.java {
		t.Fatalf("member %d leads, want Java %d", l, r.java)
	}
	checkFor(t, 60*time.Second, func() bool {
		return strings.Count(e.log(r.obsZkgo), failed) >= before[0]+2 && strings.Count(e.m.Log(r.obsJava), failed) >= before[1]+2
	}, "both observers to refuse the Java leader's unauthenticated election connections")
	for _, id := range []int64{r.obsZkgo, r.obsJava} {
		if m := e.mode(id); m == "observer" {
			t.Fatalf("observer %d observes the Java 3.8.0 leader with serverRequireSasl: is ZOOKEEPER-4886 fixed in this Java?", id)
		}
	}
	acked = append(acked, e.write(r.zkgoA, "voters", 5)...)

	// serverRequireSasl=false on the observers: they let the Java
	// leader's connections through and observe it.
	for _, id := range []int64{r.obsZkgo, r.obsJava} {
		e.stop(id)
		e.setProps(id, map[string]string{"quorum.auth.serverRequireSasl": "false"})
		e.start(id)
	}
	if l := e.waitQuorum(r.zkgoA, r.java, r.obsZkgo, r.obsJava); l != r.java {
		t.Fatalf("member %d leads, want Java %d", l, r.java)
	}
	e.wantObservers(r.obsZkgo, r.obsJava)
	if !strings.Contains(e.log(r.obsZkgo), "Maintaining learner connection despite SASL authentication failure") {
		t.Errorf("the zkgo observer did not log letting the Java voter through")
	}
	acked = append(acked, e.write(r.obsZkgo, "zkgo-obs-java-leader", 5)...)
	acked = append(acked, e.write(r.obsJava, "java-obs-java-leader", 5)...)
	e.checkAll(acked, r.zkgoA, r.java, r.obsZkgo, r.obsJava)
}

// watchedSession is a session on one member owning an ephemeral node, to
// show that refusing a peer disturbed no one.
type watchedSession struct {
	member int64
	c      *zk.Conn
	ev     <-chan zk.Event
	id     int64
	eph    string
}

// openSessions opens a session with an ephemeral node on each member.
func (e *secEnsemble) openSessions(ids ...int64) []*watchedSession {
	e.t.Helper()
	var out []*watchedSession
	for _, id := range ids {
		c, ev := connect(e.t, e.m.ClientAddr(id), 10*time.Second)
		s := &watchedSession{member: id, c: c, ev: ev, id: c.SessionID(), eph: "/session-on-" + strconv.FormatInt(id, 10)}
		_, err := c.Create(s.eph, nil, zk.FlagEphemeral, open)
		must(e.t, err)
		out = append(out, s)
	}
	return out
}

// checkSessions fails t if a session lost its connection or its id since
// openSessions, or cannot write and see its ephemeral node.
func (e *secEnsemble) checkSessions(ss []*watchedSession) {
	e.t.Helper()
	for _, s := range ss {
	drain:
		for {
			select {
			case ev := <-s.ev:
				if ev.State == zk.StateDisconnected || ev.State == zk.StateExpired || ev.State == zk.StateAuthFailed {
					e.t.Errorf("session on member %d: %v", s.member, ev.State)
				}
			default:
				break drain
			}
		}
		if got := s.c.SessionID(); got != s.id {
			e.t.Errorf("session on member %d: id %#x, was %#x", s.member, got, s.id)
		}
		if ok, _, err := s.c.Exists(s.eph); err != nil || !ok {
			e.t.Errorf("session on member %d: its ephemeral %s: exists=%v, %v", s.member, s.eph, ok, err)
		}
		_, err := s.c.Set(s.eph, []byte("still here"), -1)
		must(e.t, err)
	}
}

// probeObserverInfo connects to a leader's quorum port in plaintext and
// sends OBSERVERINFO for sid without any QuorumAuthPacket: the leader
// must close the connection without a word.
func probeObserverInfo(t *testing.T, addr string, sid int64) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	must(t, err)
	defer c.Close()
	info := wire.LearnerInfo{ServerID: sid, ProtocolVersion: wire.ProtocolVersion}
	_, err = c.Write(jute.Append(nil, &wire.QuorumPacket{Type: wire.PacketObserverInfo, Data: jute.Marshal(&info)}))
	must(t, err)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(make([]byte, 64))
	if err == nil || n > 0 {
		t.Errorf("%s answered an OBSERVERINFO without SASL (%d bytes, %v)", addr, n, err)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("%s kept an OBSERVERINFO without SASL open for 10s", addr)
	}
}

const saslRefusal = "Learner not trying to authenticate and authentication is required"

// TestQuorumSASL_ObserverWithoutSASLRefused: voters zkgo 1, Java 2 and
// zkgo 3 require quorum SASL (enableSasl, learnerRequireSasl,
// serverRequireSasl). A zkgo observer (4) and a Java observer (5) without
// quorum SASL are refused on every voter's election port, by Java and
// zkgo with the same log line, and never observe; a bare OBSERVERINFO
// without SASL on the leader's quorum port is closed unanswered by the
// zkgo leader and by the Java leader alike. Meanwhile the voters serve
// writes and their sessions never notice.
func TestQuorumSASL_ObserverWithoutSASLRefused(t *testing.T) {
	props, sys := quorumSASLObserverProps(t)
	e := observerEnsemble(t, highObservers, props, sys)
	noSASL := map[string]string{"quorum.auth.enableSasl": "", "quorum.auth.learnerRequireSasl": "",
		"quorum.auth.serverRequireSasl": "", "java.security.auth.login.config": ""}
	e.setProps(4, noSASL)
	e.setProps(5, noSASL)
	e.start(1)
	e.start(3)
	if l := e.waitQuorum(1, 3); l != 3 {
		t.Fatalf("member %d leads, want zkgo 3", l)
	}
	e.start(2)
	if l := e.waitQuorum(1, 2, 3); l != 3 {
		t.Fatalf("member %d leads, want zkgo 3", l)
	}
	sessions := e.openSessions(1, 2, 3)
	acked := e.write(1, "before", 5)
	refusals := func(ids ...int64) map[int64]int {
		out := map[int64]int{}
		for _, id := range ids {
			out[id] = strings.Count(e.log(id), saslRefusal)
		}
		return out
	}
	refusedBy := func(what string, before map[int64]int) {
		t.Helper()
		checkFor(t, 60*time.Second, func() bool {
			now := refusals(1, 2, 3)
			for id, n := range before {
				if now[id] < n+2 {
					return false
				}
			}
			return true
		}, what+" to be refused, repeatedly, by each voter")
	}

	// The zkgo observer, then the Java observer, behind the zkgo leader.
	before := refusals(1, 2, 3)
	e.start(4)
	refusedBy("zkgo observer 4 without SASL", before)
	if m := e.mode(4); m == "observer" {
		t.Fatalf("zkgo observer 4 without SASL observes")
	}
	e.stop(4)
	before = refusals(1, 2, 3)
	e.start(5)
	refusedBy("Java observer 5 without SASL", before)
	if m := e.mode(5); m == "observer" {
		t.Fatalf("Java observer 5 without SASL observes")
	}
	e.m.Kill(5)
	before = refusals(3)
	probeObserverInfo(t, e.m.QuorumAddr(3), 4)
	checkFor(t, 10*time.Second, func() bool { return refusals(3)[3] > before[3] },
		"zkgo leader 3 to log refusing OBSERVERINFO without SASL")
	e.checkSessions(sessions)
	acked = append(acked, e.write(2, "during", 5)...)
	acked = append(acked, e.write(3, "during3", 5)...)
	e.checkAll(acked, 1, 2, 3)

	// Behind the Java leader: the same bare OBSERVERINFO, and the zkgo
	// observer again.
	e.stop(3)
	if l := e.waitQuorum(1, 2); l != 2 {
		t.Fatalf("member %d leads, want Java 2", l)
	}
	before = refusals(2)
	probeObserverInfo(t, e.m.QuorumAddr(2), 4)
	checkFor(t, 10*time.Second, func() bool { return refusals(2)[2] > before[2] },
		"Java leader 2 to log refusing OBSERVERINFO without SASL")
	before = refusals(1, 2)
	e.start(4)
	checkFor(t, 60*time.Second, func() bool {
		now := refusals(1, 2)
		return now[1] >= before[1]+2 && now[2] >= before[2]+2
	}, "zkgo observer 4 to be refused by zkgo 1 and the Java leader 2")
	if m := e.mode(4); m == "observer" {
		t.Fatalf("zkgo observer 4 without SASL observes")
	}
	acked = append(acked, e.write(1, "after", 5)...)
	e.checkAll(acked, 1, 2)
}

// TestQuorumSASL_ObserverWithoutSASLAdmittedUnlessRequired: voters with
// quorum.auth.enableSasl and learnerRequireSasl but not serverRequireSasl
// (zkgo 1, Java 2, zkgo 3) authenticate when they dial, and let a member
// that does not try through, as Java does: a zkgo observer (4) and a
// Java observer (5) without quorum SASL observe, behind the zkgo leader
// and then behind the Java leader.
func TestQuorumSASL_ObserverWithoutSASLAdmittedUnlessRequired(t *testing.T) {
	r := highObservers
	props, sys := quorumSASLObserverProps(t)
	props["quorum.auth.serverRequireSasl"] = "false"
	e := observerEnsemble(t, r, props, sys)
	noSASL := map[string]string{"quorum.auth.enableSasl": "", "quorum.auth.learnerRequireSasl": "",
		"quorum.auth.serverRequireSasl": "", "java.security.auth.login.config": ""}
	e.setProps(r.obsZkgo, noSASL)
	e.setProps(r.obsJava, noSASL)
	quorumObservers(t, e, r)
	// The voters authenticated each other all along.
	if !strings.Contains(e.m.Log(r.java), "Successfully completed the authentication using SASL. learner addr") {
		t.Errorf("Java voter %d authenticated no member", r.java)
	}
	for _, id := range []int64{r.zkgoA, r.zkgoB} {
		if !logHas(e.log(id), "Successfully completed the authentication using SASL", `"user":"test"`) {
			t.Errorf("zkgo voter %d authenticated no member", id)
		}
	}
}

// javaTLSRefusals counts the refused TLS handshakes in a Java member's log
// (the accepting side logs a connection with no session,
// "SSL_NULL_WITH_NULL_NULL"; either side an SSLHandshakeException).
func javaTLSRefusals(log string) int {
	return strings.Count(log, "SSL_NULL_WITH_NULL_NULL") + strings.Count(log, "SSLHandshakeException")
}

// TestQuorumTLS_ObserverBadCertRefused: with sslQuorum=true, a zkgo
// observer (4) and then a Java observer (5) whose certificates another CA
// signed are refused by the voters zkgo 1, Java 2 and zkgo 3 (and refuse
// them), and so is the zkgo observer with an expired certificate of the
// right CA; none of them observes, while the voters and a good zkgo observer (6)
// keep serving and their sessions never notice.
func TestQuorumTLS_ObserverBadCertRefused(t *testing.T) {
	good := zktlstest.NewSet(t)
	bad := zktlstest.NewSet(t) // same names, another CA
	e := newSecEnsemble(t, []harness.MemberSpec{
		{ID: 1, Kind: harness.MemberExternal}, {ID: 2, Kind: harness.MemberJava}, {ID: 3, Kind: harness.MemberExternal},
		{ID: 4, Kind: harness.MemberExternal, Observer: true}, {ID: 5, Kind: harness.MemberJava, Observer: true},
		{ID: 6, Kind: harness.MemberExternal, Observer: true}},
		quorumTLSProps(good, map[string]string{"sslQuorum": "true"}), nil)
	e.setProps(4, quorumTLSProps(bad, nil))
	e.setProps(5, quorumTLSProps(bad, nil))
	e.start(1)
	e.start(3)
	if l := e.waitQuorum(1, 3); l != 3 {
		t.Fatalf("member %d leads, want zkgo 3", l)
	}
	e.start(2)
	e.start(6)
	if l := e.waitQuorum(1, 2, 3, 6); l != 3 {
		t.Fatalf("member %d leads, want zkgo 3", l)
	}
	e.wantObservers(6)
	sessions := e.openSessions(1, 2, 3, 6)
	acked := e.write(6, "before", 5)
	const zkgoRefusal = "quorum TLS handshake failed"
	refusals := func() [3]int {
		return [3]int{strings.Count(e.log(1), zkgoRefusal), javaTLSRefusals(e.m.Log(2)), strings.Count(e.log(3), zkgoRefusal)}
	}
	refusedBy := func(what string, before [3]int, self func() bool) {
		t.Helper()
		checkFor(t, 60*time.Second, func() bool {
			now := refusals()
			return now[0] >= before[0]+2 && now[1] > before[1] && now[2] >= before[2]+2 && self()
		}, what+" to be refused by zkgo 1, Java 2 and zkgo 3 and to refuse them")
	}

	before := refusals()
	e.start(4)
	refusedBy("zkgo observer 4 with the wrong CA", before, func() bool {
		return strings.Count(e.log(4), "certificate signed by unknown authority") >= 3
	})
	if m := e.mode(4); m == "observer" {
		t.Fatalf("zkgo observer 4 with the wrong CA observes")
	}
	if !strings.Contains(e.log(4), "Cannot open secure channel") {
		t.Errorf("zkgo observer 4 did not log its refused handshakes:\n%s", tailString(e.log(4), 2000))
	}
	acked = append(acked, e.write(2, "during", 5)...)
	e.stop(4)

	before = refusals()
	e.start(5)
	refusedBy("Java observer 5 with the wrong CA", before, func() bool {
		return strings.Count(e.m.Log(5), "SSLHandshakeException") >= 2
	})
	if m := e.mode(5); m == "observer" {
		t.Fatalf("Java observer 5 with the wrong CA observes")
	}
	e.m.Kill(5)

	// An expired certificate the right CA signed.
	expired := good.CA.Issue(t, zktlstest.LeafOptions{Subject: pkix.Name{CommonName: "zkgo-server"}, Server: true,
		Client: true, Expired: true, FileStem: "expired"})
	e.setProps(4, quorumTLSProps(good, map[string]string{"ssl.quorum.keyStore.location": expired.PEMPath}))
	before = refusals()
	e.start(4)
	refusedBy("zkgo observer 4 with an expired certificate", before, func() bool { return true })
	for _, id := range []int64{1, 3} {
		if !strings.Contains(e.log(id), "expired") {
			t.Errorf("zkgo voter %d did not log refusing an expired certificate", id)
		}
	}
	if m := e.mode(4); m == "observer" {
		t.Fatalf("zkgo observer 4 with an expired certificate observes")
	}
	e.stop(4)

	e.checkSessions(sessions)
	e.wantObservers(6)
	acked = append(acked, e.write(1, "after", 5)...)
	acked = append(acked, e.write(6, "after6", 5)...)
	e.checkAll(acked, 1, 2, 3, 6)
}

// TestQuorumTLS_RollingUpgradeWithObservers: Java's rolling upgrade
// (TestQuorumTLS_RollingUpgrade) with observers: voters zkgo 3, Java 4,
// zkgo 5 and observers zkgo 1 and Java 2, restarted one at a time through
// portUnification, sslQuorum and TLS only, with writes acked throughout
// (through observers too) and none lost. The observers observe again
// after each restart, the last time over TLS.
func TestQuorumTLS_RollingUpgradeWithObservers(t *testing.T) {
	e := observerEnsemble(t, lowObservers, nil, nil)
	rollingTLSUpgrade(t, e, []int64{3, 4, 5, 1, 2})
	e.wantObservers(1, 2)
	if jl := e.m.Log(4); !strings.Contains(jl, "Accepted plaintext connection from") ||
		!strings.Contains(jl, "Accepted TLS connection from") {
		t.Errorf("Java voter 4 did not take both kinds of connection on its unified ports")
	}
	if l := e.log(3) + e.log(5); !strings.Contains(l, "Accepted plaintext connection") ||
		!strings.Contains(l, "Accepted TLS connection") {
		t.Errorf("zkgo voters 3 and 5 did not take both kinds of connection on their unified ports")
	}
	if !strings.Contains(e.log(1), "SSL handshake complete") {
		t.Errorf("zkgo observer 1 never dialed over TLS")
	}
	if !strings.Contains(e.m.Log(2), "SSL handshake complete with") {
		t.Errorf("Java observer 2 never dialed over TLS")
	}
}
