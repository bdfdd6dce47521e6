package compattest

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/internal/zktls/zktlstest"
	"github.com/zkgo/zkgo/node"
	"github.com/zkgo/zkgo/wire"
)

// Quorum TLS and quorum SASL (issue 18) between zkgo and Java 3.8 members:
// both channels (election and leader/learner), both directions, the
// rolling upgrade path plaintext -> portUnification -> sslQuorum, and
// peers refused for a wrong CA or a wrong SASL password.

// secEnsemble is a mixed ensemble whose members' zoo.cfg can change between
// restarts; zkgo members run in-process with their logs kept.
type secEnsemble struct {
	t    *testing.T
	m    *harness.Mixed
	kind map[int64]harness.MemberKind
	zk   map[int64]*harness.Zkgo
	logs map[int64]*syncBuffer
}

func newSecEnsemble(t *testing.T, specs []harness.MemberSpec, props, sys map[string]string) *secEnsemble {
	harness.SkipShort(t)
	m := harness.NewMixed(t, harness.MixedOptions{Members: specs, TickTime: 200, InitLimit: 25, SyncLimit: 10,
		Props: props, SysProps: sys})
	e := &secEnsemble{t: t, m: m, kind: map[int64]harness.MemberKind{}, zk: map[int64]*harness.Zkgo{},
		logs: map[int64]*syncBuffer{}}
	for _, s := range specs {
		e.kind[s.ID] = s.Kind
	}
	return e
}

// setProps rewrites member id's zoo.cfg with props set (an empty value
// removes the key).
func (e *secEnsemble) setProps(id int64, props map[string]string) {
	e.t.Helper()
	path := e.m.ConfigPath(id)
	b, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, _, _ := strings.Cut(line, "=")
		if _, ok := props[k]; !ok {
			out = append(out, line)
		}
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if props[k] != "" {
			out = append(out, k+"="+props[k])
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *secEnsemble) start(id int64) {
	e.t.Helper()
	if e.kind[id] == harness.MemberJava {
		e.m.Start(id)
		return
	}
	e.m.Release(id)
	e.zk[id] = startZkgoLogged(e.t, e.m.ConfigPath(id), id, e.logs)
}

// startZkgoLogged starts zkgo member id from cfgPath with its log also
// kept, as JSON lines, in logs[id] (made on first use and kept across
// restarts).
func startZkgoLogged(t *testing.T, cfgPath string, id int64, logs map[int64]*syncBuffer) *harness.Zkgo {
	t.Helper()
	buf := logs[id]
	if buf == nil {
		buf = &syncBuffer{}
		logs[id] = buf
	}
	return harness.StartZkgoMember(t, cfgPath, func(c *node.Config) {
		c.Logger = harness.TestLoggerTo(t, zerolog.InfoLevel, buf).With().Int64("myid", id).Logger()
	})
}

func (e *secEnsemble) stop(id int64) {
	e.t.Helper()
	if e.kind[id] == harness.MemberJava {
		e.m.Kill(id)
		return
	}
	if z := e.zk[id]; z != nil {
		z.Stop()
		delete(e.zk, id)
	}
}

func (e *secEnsemble) log(id int64) string {
	if e.kind[id] == harness.MemberJava {
		return e.m.Log(id)
	}
	if b := e.logs[id]; b != nil {
		return b.String()
	}
	return ""
}

func (e *secEnsemble) mode(id int64) string {
	if e.kind[id] == harness.MemberJava {
		mode, _ := e.m.Mode(id)
		return mode
	}
	if z := e.zk[id]; z != nil {
		return z.Server.Mode()
	}
	return ""
}

// waitQuorum waits until the members in ids serve with exactly one leader
// among them, and returns it.
func (e *secEnsemble) waitQuorum(ids ...int64) int64 {
	e.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var leaders []int64
		serving := 0
		modes := map[int64]string{}
		for _, id := range ids {
			mode := e.mode(id)
			modes[id] = mode
			switch mode {
			case "leader":
				leaders = append(leaders, id)
				serving++
			case "follower", "observer":
				serving++
			}
		}
		if len(leaders) == 1 && serving == len(ids) {
			return leaders[0]
		}
		if time.Now().After(deadline) {
			for _, id := range ids {
				e.t.Logf("member %d (%v) log tail:\n%s", id, e.kind[id], tailString(e.log(id), 3000))
			}
			e.t.Fatalf("no quorum of %v within 90s: modes %v", ids, modes)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkAll waits until every acked path is on every member in ids (read
// after a sync through that member).
func (e *secEnsemble) checkAll(acked []string, ids ...int64) {
	e.t.Helper()
	for _, id := range ids {
		c := zkConn(e.t, e.m.ClientAddr(id))
		_, err := c.Sync("/")
		must(e.t, err)
		for _, p := range acked {
			waitData(e.t, c, p, []byte(p))
		}
		c.Close()
	}
}

// write creates n nodes through member id and returns their paths.
func (e *secEnsemble) write(id int64, prefix string, n int) []string {
	e.t.Helper()
	c := zkConn(e.t, e.m.ClientAddr(id))
	defer c.Close()
	var out []string
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("/%s-%d", prefix, i)
		_, err := c.Create(p, []byte(p), 0, open)
		must(e.t, err)
		out = append(out, p)
	}
	return out
}

// quorumTLSProps are the ssl.quorum.* lines of a member using set's files.
func quorumTLSProps(set *zktlstest.Set, extra map[string]string) map[string]string {
	p := map[string]string{
		"ssl.quorum.keyStore.location":   set.Server.PEMPath,
		"ssl.quorum.keyStore.type":       "PEM",
		"ssl.quorum.trustStore.location": set.CA.PEMPath,
		"ssl.quorum.trustStore.type":     "PEM",
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// TestQuorumTLS_MixedBothWays: sslQuorum=true with PEM stores in an
// ensemble of zkgo 1, Java 2, zkgo 3. zkgo 3 leads Java 2 and zkgo 1; then
// Java 2 leads zkgo 1 after 3 stops, and zkgo 3 rejoins behind the Java
// leader. Every acked write is on every member, and the Java member logs
// its TLS handshakes with zkgo.
func TestQuorumTLS_MixedBothWays(t *testing.T) {
	set := zktlstest.NewSet(t)
	e := newSecEnsemble(t, []harness.MemberSpec{
		{ID: 1, Kind: harness.MemberExternal}, {ID: 2, Kind: harness.MemberJava}, {ID: 3, Kind: harness.MemberExternal}},
		quorumTLSProps(set, map[string]string{"sslQuorum": "true"}), nil)
	// zkgo 1 and 3 first: 3 (the larger sid) leads, and Java 2 joins
	// behind it.
	e.start(1)
	e.start(3)
	if leader := e.waitQuorum(1, 3); leader != 3 {
		t.Fatalf("member %d leads, want zkgo 3", leader)
	}
	e.start(2)
	if leader := e.waitQuorum(1, 2, 3); leader != 3 {
		t.Fatalf("member %d leads, want zkgo 3", leader)
	}
	acked := e.write(2, "a", 20)
	acked = append(acked, e.write(1, "b", 20)...)
	e.checkAll(acked, 1, 2, 3)
	e.stop(3)
	if leader := e.waitQuorum(1, 2); leader != 2 {
		t.Fatalf("with zkgo 3 gone, member %d leads; want Java 2 (higher sid)", leader)
	}
	acked = append(acked, e.write(1, "c", 20)...)
	e.start(3)
	e.waitQuorum(1, 2, 3)
	acked = append(acked, e.write(3, "d", 20)...)
	e.checkAll(acked, 1, 2, 3)
	jl := e.m.Log(2)
	for _, want := range []string{"Accepted TLS connection from", "SSL handshake complete with"} {
		if !strings.Contains(jl, want) {
			t.Errorf("Java member 2 never logged %q", want)
		}
	}
	if strings.Contains(jl, "Blocked insecure connection attempt") {
		t.Errorf("Java member 2 saw a plaintext quorum connection:\n%s", tailString(jl, 3000))
	}
	for _, id := range []int64{1, 3} {
		if l := e.log(id); !strings.Contains(l, "Accepted TLS connection") || !strings.Contains(l, "SSL handshake complete") {
			t.Errorf("zkgo member %d did not log its quorum TLS handshakes", id)
		}
	}
}

// TestQuorumTLS_RollingUpgrade is Java's documented path, member by
// member with writes acked throughout: plaintext, then portUnification
// with the ssl.quorum.* stores, then sslQuorum=true, then
// portUnification=false. Members: Java 1, zkgo 2, Java 3.
func TestQuorumTLS_RollingUpgrade(t *testing.T) {
	ids := []int64{1, 2, 3}
	e := newSecEnsemble(t, []harness.MemberSpec{
		{ID: 1, Kind: harness.MemberJava}, {ID: 2, Kind: harness.MemberExternal}, {ID: 3, Kind: harness.MemberJava}}, nil, nil)
	rollingTLSUpgrade(t, e, ids)
	// Which member accepts which connection depends on sids and roles
	// (the larger sid keeps the election connection it dials): between
	// them the Java members took both kinds on unified ports.
	jl := e.m.Log(1) + e.m.Log(3)
	if !strings.Contains(jl, "Accepted plaintext connection from") {
		t.Errorf("no Java member took a plaintext connection on a unified port")
	}
	if !strings.Contains(jl, "Accepted TLS connection from") {
		t.Errorf("no Java member took a TLS quorum connection")
	}
	if l := e.log(2); !strings.Contains(l, "Accepted plaintext connection") || !strings.Contains(l, "Accepted TLS connection") {
		t.Errorf("zkgo member 2 did not take both kinds of connection on its unified ports")
	}
}

// rollingTLSUpgrade takes e's members ids (all stopped, plaintext) through
// the upgrade to TLS only, restarting one at a time, with a writer going
// through any member; every write it saw acked is then on every member.
func rollingTLSUpgrade(t *testing.T, e *secEnsemble, ids []int64) {
	set := zktlstest.NewSet(t)
	for _, id := range ids {
		e.start(id)
	}
	e.waitQuorum(ids...)

	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		// A writer through whichever member answers; every create it
		// sees acknowledged must survive.
		defer close(done)
		n := 0
		var c *zk.Conn
		for {
			select {
			case <-stop:
				if c != nil {
					c.Close()
				}
				return
			default:
			}
			if c == nil {
				var addrs []string
				for _, id := range ids {
					addrs = append(addrs, e.m.ClientAddr(id))
				}
				var err error
				c, _, err = zk.Connect(addrs, 10*time.Second, zk.WithLogger(quietLogger{}))
				if err != nil {
					c = nil
					time.Sleep(100 * time.Millisecond)
					continue
				}
			}
			p := fmt.Sprintf("/roll-%d", n)
			if _, err := c.Create(p, []byte(p), 0, open); err == nil || err == zk.ErrNodeExists {
				mu.Lock()
				acked = append(acked, p)
				mu.Unlock()
				n++
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	step := func(name string, props map[string]string) {
		t.Helper()
		for _, id := range ids {
			before := count()
			e.stop(id)
			e.setProps(id, props)
			e.start(id)
			e.waitQuorum(ids...)
			checkFor(t, 60*time.Second, func() bool { return count() > before+5 }, name+": writes acked after restarting a member")
		}
	}
	tlsProps := quorumTLSProps(set, map[string]string{"portUnification": "true"})
	step("portUnification", tlsProps)
	tlsProps["sslQuorum"] = "true"
	step("sslQuorum", tlsProps)
	tlsProps["portUnification"] = "false"
	step("TLS only", tlsProps)
	close(stop)
	<-done
	mu.Lock()
	all := append([]string(nil), acked...)
	mu.Unlock()
	if len(all) < 50 {
		t.Fatalf("only %d writes acked during the upgrade", len(all))
	}
	e.checkAll(all, ids...)
}

// TestQuorumTLS_WrongCARefused: a member whose certificate another CA
// signed (zkgo 3, then Java 5) is refused on the election and the quorum
// ports of zkgo and Java members, while the ensemble (Java 1, zkgo 2,
// Java 4) keeps serving writes.
func TestQuorumTLS_WrongCARefused(t *testing.T) {
	good := zktlstest.NewSet(t)
	bad := zktlstest.NewSet(t) // same names, another CA
	e := newSecEnsemble(t, []harness.MemberSpec{
		{ID: 1, Kind: harness.MemberJava}, {ID: 2, Kind: harness.MemberExternal}, {ID: 3, Kind: harness.MemberExternal},
		{ID: 4, Kind: harness.MemberJava}, {ID: 5, Kind: harness.MemberJava}},
		quorumTLSProps(good, map[string]string{"sslQuorum": "true"}), nil)
	e.setProps(3, quorumTLSProps(bad, nil))
	e.setProps(5, quorumTLSProps(bad, nil))
	e.start(1)
	e.start(2)
	e.start(4)
	leader := e.waitQuorum(1, 2, 4)
	acked := e.write(2, "before", 10)
	e.start(3)
	// A TLS client with the wrong CA's certificate at every port of the
	// running members: refused by the server's handshake, or it refuses
	// the server's certificate.
	badCfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12}
	cert, err := tls.LoadX509KeyPair(bad.Server.CertPath, bad.Server.KeyPath)
	must(t, err)
	badCfg.Certificates = []tls.Certificate{cert}
	// (Only the leader listens on its quorum port.)
	for _, addr := range []string{e.m.ElectionAddr(1), e.m.ElectionAddr(2), e.m.ElectionAddr(4), e.m.QuorumAddr(leader)} {
		c, err := tls.Dial("tcp", addr, badCfg)
		if err == nil {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = c.Read(make([]byte, 1))
			c.Close()
		}
		if err == nil {
			t.Errorf("%s: a client certificate of another CA was accepted", addr)
		}
	}
	// The bare TCP program of issue 18, claiming sid 3 in plaintext: its
	// initial message (election) and FOLLOWERINFO (quorum) reach nobody.
	for _, addr := range []string{e.m.ElectionAddr(1), e.m.ElectionAddr(2), e.m.QuorumAddr(leader)} {
		c, err := net.Dial("tcp", addr)
		must(t, err)
		_, _ = c.Write(wire.AppendInitialMessage(nil, 3, e.m.ElectionAddr(3)))
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
		if err == nil {
			t.Errorf("%s answered a plaintext peer", addr)
		}
	}
	checkFor(t, 30*time.Second, func() bool {
		return strings.Contains(e.m.Log(1), "Blocked insecure connection attempt") &&
			strings.Contains(e.log(2), "Blocked insecure connection attempt")
	}, "Java 1 and zkgo 2 to log the plaintext peer they blocked")
	acked = append(acked, e.write(1, "during", 10)...)
	// Member 3 keeps trying; it must never join.
	checkFor(t, 60*time.Second, func() bool {
		return strings.Count(e.log(3), "certificate signed by unknown authority") >= 3 &&
			strings.Count(e.log(2), "quorum TLS handshake failed") >= 3
	}, "member 3 to be refused by the others and to refuse them, repeatedly")
	if m := e.mode(3); m == "follower" || m == "leader" {
		t.Fatalf("member 3 with the wrong CA joined as %s", m)
	}
	acked = append(acked, e.write(2, "after", 10)...)
	e.checkAll(acked, 1, 2, 4)
	if l := e.log(3); !strings.Contains(l, "certificate") {
		t.Errorf("zkgo member 3 did not log the refused certificate:\n%s", tailString(l, 2000))
	}
	if l := e.log(2); !strings.Contains(l, "quorum TLS handshake failed") {
		t.Errorf("zkgo member 2 did not log refusing member 3:\n%s", tailString(l, 2000))
	}
	// Java 3.8 logs a failed quorum handshake as a TLS connection with
	// no session ("NONE - SSL_NULL_WITH_NULL_NULL") whose socket is then
	// closed.
	jl := e.m.Log(1)
	if !strings.Contains(jl, "SSL_NULL_WITH_NULL_NULL") && !strings.Contains(jl, "SSLHandshakeException") {
		t.Errorf("Java member 1 logged no TLS refusal:\n%s", tailString(jl, 3000))
	}

	// A Java member with the wrong CA: zkgo 2 refuses it, and it refuses
	// zkgo 2's certificate.
	e.stop(3)
	before := strings.Count(e.log(2), "quorum TLS handshake failed")
	e.start(5)
	checkFor(t, 60*time.Second, func() bool {
		return strings.Count(e.log(2), "quorum TLS handshake failed") >= before+2 &&
			strings.Contains(e.m.Log(5), "SSLHandshakeException")
	}, "zkgo member 2 to refuse Java member 5, and Java 5 to log the refused handshake")
	if m := e.mode(5); m == "follower" || m == "leader" {
		t.Fatalf("Java member 5 with the wrong CA joined as %s", m)
	}
	acked = append(acked, e.write(4, "java-bad", 10)...)
	e.checkAll(acked, 1, 2, 4)
}

// jaasFile writes a JAAS file with QuorumServer users and the
// QuorumLearner credentials.
func jaasFile(t *testing.T, dir, name, user, password string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	body := "QuorumServer {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  user_test=\"quorumsecret\";\n};\n" +
		"QuorumLearner {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  username=\"" + user +
		"\"\n  password=\"" + password + "\";\n};\n"
	must(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

var quorumSASLProps = map[string]string{
	"quorum.auth.enableSasl":         "true",
	"quorum.auth.learnerRequireSasl": "true",
	"quorum.auth.serverRequireSasl":  "true",
}

// TestQuorumSASL_Mixed: DIGEST-MD5 quorum SASL with every member requiring
// it forms an ensemble of zkgo 1, Java 2, zkgo 3 (each leading, learning,
// dialing and accepting with Java); Java logs the successful exchanges.
func TestQuorumSASL_Mixed(t *testing.T) { quorumSASLMixed(t, nil) }

// TestQuorumTLSAndSASL_Mixed: both at once (TLS first, then the
// QuorumAuthPacket exchange inside it), in every role with Java.
func TestQuorumTLSAndSASL_Mixed(t *testing.T) {
	quorumSASLMixed(t, quorumTLSProps(zktlstest.NewSet(t), map[string]string{"sslQuorum": "true"}))
}

func quorumSASLMixed(t *testing.T, extra map[string]string) {
	dir := t.TempDir()
	jf := jaasFile(t, dir, "jaas.conf", "test", "quorumsecret")
	props := map[string]string{"java.security.auth.login.config": jf}
	for k, v := range quorumSASLProps {
		props[k] = v
	}
	for k, v := range extra {
		props[k] = v
	}
	e := newSecEnsemble(t, []harness.MemberSpec{
		{ID: 1, Kind: harness.MemberExternal}, {ID: 2, Kind: harness.MemberJava}, {ID: 3, Kind: harness.MemberExternal}},
		props, map[string]string{"java.security.auth.login.config": jf})
	// A capture of the whole run, for zkgo decode (point 6 of issue 18).
	var cp, qp, ep []int
	for _, id := range []int64{1, 2, 3} {
		cp, qp, ep = append(cp, addrPort(t, e.m.ClientAddr(id))), append(qp, addrPort(t, e.m.QuorumAddr(id))),
			append(ep, addrPort(t, e.m.ElectionAddr(id)))
	}
	capt := harness.StartCapture(t, harness.CaptureOptions{Tool: "tshark", Ports: append(append(append([]int(nil), cp...), qp...), ep...)})
	keepCapture(t, capt)
	// zkgo 3 leads zkgo 1, then Java 2 joins behind it.
	e.start(1)
	e.start(3)
	if l := e.waitQuorum(1, 3); l != 3 {
		t.Fatalf("member %d leads, want zkgo 3", l)
	}
	e.start(2)
	if l := e.waitQuorum(1, 2, 3); l != 3 {
		t.Fatalf("member %d leads, want zkgo 3", l)
	}
	acked := e.write(2, "s", 20)
	e.stop(3)
	if l := e.waitQuorum(1, 2); l != 2 {
		t.Fatalf("member %d leads, want Java 2", l)
	}
	acked = append(acked, e.write(1, "t", 20)...)
	e.start(3)
	e.waitQuorum(1, 2, 3)
	e.checkAll(acked, 1, 2, 3)
	jl := e.m.Log(2)
	for _, want := range []string{"Successfully completed the authentication using SASL. learner addr",
		"Successfully completed the authentication using SASL. server addr"} {
		if !strings.Contains(jl, want) {
			t.Errorf("Java member 2 never logged %q", want)
		}
	}
	for _, id := range []int64{1, 3} {
		if !strings.Contains(e.log(id), "Successfully completed the authentication using SASL") {
			t.Errorf("zkgo member %d logged no SASL success", id)
		}
	}
	if extra["sslQuorum"] == "true" {
		if !strings.Contains(jl, "Accepted TLS connection from") || strings.Contains(jl, "Blocked insecure connection attempt") {
			t.Errorf("Java member 2 did not take only TLS quorum connections")
		}
	}

	// zkgo decode: in plaintext the QuorumAuthPackets are shown on both
	// quorum channels and everything decodes; under TLS each quorum and
	// election connection is named as quorum TLS and nothing in it is
	// decoded.
	capt.StopComplete()
	out := runDecode(t, capt.Path, "--client-port", portList(cp...), "--quorum-port", portList(qp...),
		"--election-port", portList(ep...))
	auths := map[string]int{}
	notes := map[string]int{}
	for _, m := range out.msgs {
		ch, _ := m["channel"].(string)
		switch {
		case m["name"] == "QuorumAuthPacket":
			auths[ch]++
		case m["kind"] == "note":
			txt, _ := m["text"].(string)
			switch {
			case strings.Contains(txt, "quorum TLS connection on the election port"):
				notes["election"]++
			case strings.Contains(txt, "quorum TLS connection on the leader/learner port"):
				notes["quorum"]++
			default:
				notes["other"]++
			}
		case m["kind"] == "undecodable" && !javaElectionResetCut(m):
			b, _ := json.Marshal(m)
			t.Errorf("undecodable: %s", b)
		}
	}
	if extra["sslQuorum"] == "true" {
		if notes["election"] == 0 || notes["quorum"] == 0 || notes["other"] != 0 || len(auths) != 0 {
			t.Errorf("TLS capture: notes %v, QuorumAuthPackets %v", notes, auths)
		}
		return
	}
	if auths["election"] == 0 || auths["quorum"] == 0 || len(notes) != 0 {
		t.Errorf("plaintext capture: QuorumAuthPackets %v, notes %v", auths, notes)
	}
	if out.stats.Notifications == 0 || out.stats.Quorum["FOLLOWERINFO"] == 0 {
		t.Errorf("nothing decoded after the SASL exchanges: %d notifications, quorum packets %v",
			out.stats.Notifications, out.stats.Quorum)
	}
}

// addrPort is the port of a host:port.
func addrPort(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	must(t, err)
	n, err := strconv.Atoi(p)
	must(t, err)
	return n
}

// TestQuorumSASL_WrongPasswordRefused: with learnerRequireSasl and
// serverRequireSasl, a zkgo member and then a Java member with a wrong
// QuorumLearner password, and then a zkgo member without quorum SASL, are
// refused by the others (Java and zkgo), which keep serving writes; Java
// logs its refusals as Java does.
func TestQuorumSASL_WrongPasswordRefused(t *testing.T) {
	dir := t.TempDir()
	good := jaasFile(t, dir, "good.conf", "test", "quorumsecret")
	bad := jaasFile(t, dir, "bad.conf", "test", "wrongpassword")
	props := map[string]string{"java.security.auth.login.config": good}
	for k, v := range quorumSASLProps {
		props[k] = v
	}
	e := newSecEnsemble(t, []harness.MemberSpec{
		{ID: 1, Kind: harness.MemberJava}, {ID: 2, Kind: harness.MemberExternal}, {ID: 3, Kind: harness.MemberExternal},
		{ID: 4, Kind: harness.MemberJava}, {ID: 5, Kind: harness.MemberJava}},
		props, map[string]string{"java.security.auth.login.config": good})
	e.setProps(3, map[string]string{"java.security.auth.login.config": bad})
	e.start(1)
	e.start(2)
	e.start(4)
	e.waitQuorum(1, 2, 4)
	acked := e.write(2, "w", 10)
	e.start(3)
	checkFor(t, 60*time.Second, func() bool {
		return strings.Contains(e.m.Log(1), "Failed to authenticate using SASL") &&
			strings.Count(e.log(3), "Authentication failed against server addr") >= 3
	}, "Java member 1 to log the failed SASL authentication of zkgo member 3, and 3 to be refused repeatedly")
	if m := e.mode(3); m == "follower" || m == "leader" {
		t.Fatalf("zkgo member 3 with a wrong password joined as %s", m)
	}
	acked = append(acked, e.write(1, "x", 10)...)
	// A Java member with the wrong password, refused by zkgo (and Java).
	// Java reads the JAAS file named by the JVM flag every Java member
	// shares, once, when it starts: member 5 starts while that file holds
	// the wrong password, and it is put back once 5 has used it.
	e.stop(3)
	must(t, os.Rename(good, good+".saved"))
	b, err := os.ReadFile(bad)
	must(t, err)
	must(t, os.WriteFile(good, b, 0o600))
	e.start(5)
	checkFor(t, 60*time.Second, func() bool {
		return strings.Contains(e.log(2), "Failed to authenticate using SASL") &&
			strings.Contains(e.m.Log(5), "Authentication failed against server addr")
	}, "zkgo member 2 to refuse Java member 5 and Java 5 to log it")
	must(t, os.Rename(good+".saved", good))
	if m := e.mode(5); m == "follower" || m == "leader" {
		t.Fatalf("Java member 5 with a wrong password joined as %s", m)
	}
	acked = append(acked, e.write(4, "y", 10)...)

	// A zkgo member without quorum SASL: the others require it.
	e.m.Kill(5)
	e.setProps(3, map[string]string{"quorum.auth.enableSasl": "", "quorum.auth.learnerRequireSasl": "",
		"quorum.auth.serverRequireSasl": "", "java.security.auth.login.config": ""})
	before := strings.Count(e.log(2), "Learner not trying to authenticate")
	e.start(3)
	checkFor(t, 60*time.Second, func() bool {
		return strings.Contains(e.m.Log(1), "Learner not trying to authenticate and authentication is required") &&
			strings.Count(e.log(2), "Learner not trying to authenticate") > before
	}, "Java member 1 and zkgo member 2 to refuse zkgo member 3 without SASL")
	if m := e.mode(3); m == "follower" || m == "leader" {
		t.Fatalf("zkgo member 3 without SASL joined as %s", m)
	}
	acked = append(acked, e.write(2, "z", 10)...)
	e.checkAll(acked, 1, 2, 4)
}
