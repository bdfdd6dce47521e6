package compattest

import (
	"bufio"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// protoLearner is a learner made of node/zab's pure learner side
// (zab.LearnerSync, then zab.Broadcast) on a TCP connection to a real
// leader, its disk a no-op that is always durable: what it sends is what
// zab decides, packet by packet. It runs on its own goroutine (a leader
// drops a learner that does not answer its pings within syncLimit); the
// test reads its state with snapshot and waits with waitFor.
type protoLearner struct {
	conn     net.Conn
	r        *bufio.Reader
	ls       *zab.LearnerSync
	bc       *zab.Broadcast
	observer bool

	mu sync.Mutex
	st protoState
}

// protoState is what the leader made the learner do, and how it ended.
type protoState struct {
	synced      bool
	newLeader   *wire.QuorumPacket
	next        []*quorum.Config
	activations []zab.LearnerActivation
	packets     []wire.PacketType
	err         error
}

func startProtoLearner(t *testing.T, addr string, cfg zab.LearnerConfig) *protoLearner {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("dial the leader's quorum port: %v", err)
	}
	l := &protoLearner{conn: conn, r: bufio.NewReader(conn), ls: zab.NewLearnerSync(cfg), observer: cfg.Observer}
	done := make(chan struct{})
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	go func() {
		defer close(done)
		err := l.send(l.ls.Start())
		for err == nil {
			err = l.step()
		}
		l.mu.Lock()
		l.st.err = err
		l.mu.Unlock()
	}()
	return l
}

func (l *protoLearner) snapshot() protoState {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.st
	st.next = slices.Clone(st.next)
	st.activations = slices.Clone(st.activations)
	st.packets = slices.Clone(st.packets)
	return st
}

// waitFor polls the learner's state (pollUntil) until cond holds; the
// learner stopping fails the test at once.
func (l *protoLearner) waitFor(t *testing.T, what string, cond func(protoState) bool) protoState {
	t.Helper()
	var st protoState
	pollUntil(t, time.Minute, what, func() bool {
		st = l.snapshot()
		if st.err != nil {
			t.Fatalf("waiting for %s: the learner stopped: %v (after %v)", what, st.err, st.packets)
		}
		return cond(st)
	})
	return st
}

func (l *protoLearner) send(qp wire.QuorumPacket) error {
	if err := wire.WriteQuorumPacket(l.conn, &qp); err != nil {
		return fmt.Errorf("send %v: %w", qp.Type, err)
	}
	return nil
}

func (l *protoLearner) sendAll(qps []wire.QuorumPacket) error {
	for _, qp := range qps {
		if err := l.send(qp); err != nil {
			return err
		}
	}
	return nil
}

// step reads and carries out one packet from the leader.
func (l *protoLearner) step() error {
	qp, err := wire.ReadQuorumPacket(l.r, 1<<20)
	if err != nil {
		return fmt.Errorf("read from the leader: %w", err)
	}
	l.mu.Lock()
	l.st.packets = append(l.st.packets, qp.Type)
	l.mu.Unlock()
	if l.bc == nil {
		if qp.Type == wire.PacketNewLeader {
			cp := qp
			l.mu.Lock()
			l.st.newLeader = &cp
			l.mu.Unlock()
		}
		r, err := l.ls.Step(&qp)
		if err != nil {
			return fmt.Errorf("sync: %w on %v", err, qp.Type)
		}
		if r.Truncate || r.ReceiveSnapshot {
			return fmt.Errorf("the leader sent a %v sync; the test expects DIFF", qp.Type)
		}
		l.note(r.NextConfig, r.Activations)
		if err := l.sendAll(r.Messages); err != nil {
			return err
		}
		if l.ls.State() != zab.LearnerSynced {
			return nil
		}
		b, br, err := zab.NewBroadcast(zab.BroadcastConfig{Observer: l.observer,
			LastZxid: wire.MakeZxid(uint32(l.ls.Synced().NewEpoch), 0), MaxRecord: 1 << 20}, l.ls.Synced())
		if err != nil {
			return fmt.Errorf("broadcast: %w", err)
		}
		l.bc = b
		l.mu.Lock()
		l.st.synced = true
		l.mu.Unlock()
		return l.carryOut(&br)
	}
	r, err := l.bc.Step(&qp)
	if err != nil {
		return fmt.Errorf("broadcast: %w on %v", err, qp.Type)
	}
	return l.carryOut(&r)
}

func (l *protoLearner) note(next *quorum.Config, acts []zab.LearnerActivation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if next != nil {
		l.st.next = append(l.st.next, next)
	}
	l.st.activations = append(l.st.activations, acts...)
}

// carryOut is a broadcast Ready on a disk that is durable at once.
func (l *protoLearner) carryOut(r *zab.BroadcastReady) error {
	l.note(r.NextConfig, r.Activations)
	if err := l.sendAll(r.Messages); err != nil {
		return err
	}
	if n := len(r.Append); n > 0 {
		if err := l.sendAll(l.bc.Durable(r.Append[n-1].Hdr.Zxid).Messages); err != nil {
			return err
		}
	}
	if r.Ping != nil {
		return l.send(wire.QuorumPacket{Type: wire.PacketPing, Zxid: r.Ping.Zxid, Data: wire.AppendTouchTable(nil, nil)})
	}
	return nil
}

// startReconfigJava starts a one-member Java 3.8 ensemble with
// reconfigEnabled=true and standaloneEnabled=false and a super user, and
// a client session of that super user on it.
func startReconfigJava(t *testing.T) (*harness.EnsembleServer, *zk.Conn) {
	t.Helper()
	ens := harness.NewJavaEnsemble(t, harness.EnsembleOptions{Participants: 1, TickTime: 500,
		Props:   map[string]string{"reconfigEnabled": "true", "standaloneEnabled": "false"},
		SysProp: map[string]string{"zookeeper.DigestAuthenticationProvider.superDigest": superDigest}})
	ens.StartAll()
	if leader := ens.WaitLeader(60 * time.Second); leader != 1 {
		t.Fatalf("leader %d", leader)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Java's log:\n%s", ens.Log(1))
		}
	})
	java := ens.Server(1)
	c := zkConn(t, java.ClientAddr)
	must(t, c.AddAuth("digest", []byte("super:pw")))
	return java, c
}

// javaZxid is the Java server's last zxid (srvr's "Zxid:"): a learner
// claiming it gets an empty DIFF (no other writes are made meanwhile).
func javaZxid(t *testing.T, addr string) wire.Zxid {
	t.Helper()
	out, err := harness.FourLetter(addr, "srvr")
	if err != nil {
		t.Fatalf("srvr: %v", err)
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Zxid: "); ok {
			z, err := strconv.ParseInt(strings.TrimSpace(v), 0, 64)
			if err != nil {
				t.Fatalf("srvr zxid %q: %v", v, err)
			}
			return wire.Zxid(z)
		}
	}
	t.Fatalf("no zxid in srvr:\n%s", out)
	return 0
}

// serverLine is a server.N line for a learner that listens nowhere.
func serverLine(t *testing.T, id int, role string) string {
	return fmt.Sprintf("server.%d=127.0.0.1:%d:%d:%s;127.0.0.1:%d", id, harness.FreePort(t), harness.FreePort(t), role, harness.FreePort(t))
}

// checkActivated checks an activation against the configuration
// /zookeeper/config now holds: the txn's version, Java's designated
// leader 1, the learner staying, in its role, the voters and observers
// wanted.
func checkActivated(t *testing.T, c *zk.Conn, a zab.LearnerActivation, observer bool, want string) {
	t.Helper()
	if a.Config.Version != int64(a.Zxid) || a.Designated != 1 || a.Leave || a.Observer != observer {
		t.Fatalf("activation %+v: want the txn's version, designated leader 1, staying (observer %v)", a, observer)
	}
	if got := fmt.Sprintf("voters %v observers %v", a.Config.Voters(), a.Config.Observers()); got != want {
		t.Fatalf("activated %s, want %s", got, want)
	}
	cfg, _, err := c.Get("/zookeeper/config")
	must(t, err)
	if string(cfg) != a.Config.String() {
		t.Errorf("/zookeeper/config %q, the learner activated %q", cfg, a.Config.String())
	}
}

// TestReconfigProto_ZabLearnerJoinsJavaLeader: node/zab's learner side
// against a real Java 3.8 leader with reconfigEnabled=true. A server
// outside the configuration connects as a non-voting follower and syncs;
// NEWLEADER carries the configuration with the version bumped to the
// NEWLEADER zxid (ZOOKEEPER-1783), which the learner activates at
// UPTODATE. A reconfig adding it (issued through a Java client session)
// needs its ACK, since the new configuration (1, 2) has no quorum without
// it; the learner sees the proposal's configuration (the .next file),
// ACKs it, and COMMITANDACTIVATE with the designated leader 1 activates
// it without making the learner leave: Java and zab agree on every
// packet.
func TestReconfigProto_ZabLearnerJoinsJavaLeader(t *testing.T) {
	harness.SkipShort(t)
	java, c := startReconfigJava(t)
	// The learner: server 2, not in the configuration; it claims the
	// leader's history, so that the sync is an empty DIFF. Its own
	// configuration is version 0.
	cur, err := quorum.ParseConfigText(fmt.Sprintf("server.1=127.0.0.1:%d:%d:participant;127.0.0.1:%d\nversion=0",
		java.QuorumPort, java.ElectionPort, java.ClientPort), false)
	if err != nil {
		t.Fatal(err)
	}
	l := startProtoLearner(t, "127.0.0.1:"+strconv.Itoa(java.QuorumPort), zab.LearnerConfig{ID: 2,
		LastLogged: javaZxid(t, java.ClientAddr), MaxRecord: 1 << 20,
		View: zab.LearnerView{ID: 2, LeaderID: 1, Config: cur, ReconfigEnabled: true, LastSeenVersion: cur.Version}})
	st := l.waitFor(t, "the sync", func(st protoState) bool { return st.synced })
	if st.newLeader == nil {
		t.Fatal("no NEWLEADER")
	}
	nl, err := quorum.ParseConfigText(string(st.newLeader.Data), false)
	if err != nil {
		t.Fatalf("NEWLEADER data %q: %v", st.newLeader.Data, err)
	}
	if nl.Version != int64(st.newLeader.Zxid) {
		t.Errorf("NEWLEADER's configuration version %s, want NEWLEADER's zxid %v", quorum.HexVersion(nl.Version), st.newLeader.Zxid)
	}
	if len(st.activations) != 1 || st.activations[0].Config.Version != nl.Version || st.activations[0].Leave {
		t.Fatalf("activations after the sync: %+v", st.activations)
	}

	stat, err := c.IncrementalReconfig([]string{serverLine(t, 2, "participant")}, nil, -1)
	if err != nil {
		t.Fatalf("reconfig: %v (packets %v)", err, l.snapshot().packets)
	}
	// Its COMMITANDACTIVATE may still be in flight.
	st = l.waitFor(t, "the activation", func(st protoState) bool { return len(st.activations) >= 2 })
	a := st.activations[1]
	// The proposal came first: its configuration became the last seen.
	if len(st.next) == 0 || st.next[len(st.next)-1].Version != a.Config.Version {
		t.Fatalf("no reconfig proposal seen before its activation: last seen %v", st.next)
	}
	checkActivated(t, c, a, false, "voters [1 2] observers []")
	if stat == nil || stat.Mzxid != a.Config.Version {
		t.Errorf("reconfig reply stat %+v, want mzxid %x (the new version)", stat, a.Config.Version)
	}
	t.Logf("from the Java leader: %v; activated %s then %s", st.packets,
		quorum.HexVersion(st.activations[0].Config.Version), quorum.HexVersion(a.Config.Version))
}

// TestReconfigProto_ZabObserverWithJavaLeader: node/zab's observer side
// against a real Java 3.8 leader. Added as an observer first (its ACK is
// not needed), it connects with the configuration /zookeeper/config
// holds, so NEWLEADER brings nothing new; a second reconfig reaches it
// as INFORMANDACTIVATE (the txn after the designated leader), which it
// activates and stays an observer of leader 1. An observer that is not in
// NEWLEADER's configuration leaves at UPTODATE, to come back as a
// non-voting follower, as Java's updateLearnerType has it.
func TestReconfigProto_ZabObserverWithJavaLeader(t *testing.T) {
	harness.SkipShort(t)
	java, c := startReconfigJava(t)
	addr := "127.0.0.1:" + strconv.Itoa(java.QuorumPort)

	// Not in the configuration: it leaves at UPTODATE.
	v0, err := quorum.ParseConfigText(fmt.Sprintf("server.1=127.0.0.1:%d:%d:participant;127.0.0.1:%d\nversion=0",
		java.QuorumPort, java.ElectionPort, java.ClientPort), false)
	if err != nil {
		t.Fatal(err)
	}
	out := startProtoLearner(t, addr, zab.LearnerConfig{ID: 2, Observer: true, LastLogged: javaZxid(t, java.ClientAddr), MaxRecord: 1 << 20,
		View: zab.LearnerView{ID: 2, LeaderID: 1, Observer: true, Config: v0, ReconfigEnabled: true, LastSeenVersion: 0}})
	st := out.waitFor(t, "the activation at UPTODATE", func(st protoState) bool { return len(st.activations) > 0 })
	if a := st.activations[0]; !a.Leave || a.Observer || st.synced {
		t.Fatalf("an observer outside NEWLEADER's configuration: %+v (synced %v), want it to leave as a participant", a, st.synced)
	}
	out.conn.Close()

	if _, err := c.IncrementalReconfig([]string{serverLine(t, 2, "observer")}, nil, -1); err != nil {
		t.Fatalf("adding the observer: %v", err)
	}
	data, _, err := c.Get("/zookeeper/config")
	must(t, err)
	cur, err := quorum.ParseConfigText(string(data), false)
	if err != nil {
		t.Fatal(err)
	}
	l := startProtoLearner(t, addr, zab.LearnerConfig{ID: 2, Observer: true, LastLogged: javaZxid(t, java.ClientAddr), MaxRecord: 1 << 20,
		View: zab.LearnerView{ID: 2, LeaderID: 1, Observer: true, Config: cur, ReconfigEnabled: true, LastSeenVersion: cur.Version}})
	st = l.waitFor(t, "the sync", func(st protoState) bool { return st.synced })
	if len(st.activations) != 0 {
		t.Fatalf("activations with the current configuration: %+v", st.activations)
	}
	if _, err := c.IncrementalReconfig([]string{serverLine(t, 3, "observer")}, nil, -1); err != nil {
		t.Fatalf("adding another observer: %v", err)
	}
	st = l.waitFor(t, "the activation", func(st protoState) bool { return len(st.activations) >= 1 })
	checkActivated(t, c, st.activations[0], true, "voters [1] observers [2 3]")
	if !slices.Contains(st.packets, wire.PacketInformAndActivate) || slices.Contains(st.packets, wire.PacketProposal) {
		t.Errorf("an observer got %v", st.packets)
	}
	t.Logf("from the Java leader: %v", st.packets)
}
