package compattest

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
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
// zab decides, packet by packet.
type protoLearner struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	ls   *zab.LearnerSync
	bc   *zab.Broadcast
	// What the leader made it do.
	newLeader   *wire.QuorumPacket
	next        []*quorum.Config
	activations []zab.LearnerActivation
	packets     []wire.PacketType
}

func dialProtoLearner(t *testing.T, addr string, cfg zab.LearnerConfig) *protoLearner {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("dial the leader's quorum port: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	l := &protoLearner{t: t, conn: conn, r: bufio.NewReader(conn), ls: zab.NewLearnerSync(cfg)}
	first := l.ls.Start()
	l.send(first)
	return l
}

func (l *protoLearner) send(qp wire.QuorumPacket) {
	l.t.Helper()
	if err := wire.WriteQuorumPacket(l.conn, &qp); err != nil {
		l.t.Fatalf("send %v: %v", qp.Type, err)
	}
}

// step reads and carries out one packet from the leader.
func (l *protoLearner) step() {
	l.t.Helper()
	if err := l.conn.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		l.t.Fatal(err)
	}
	qp, err := wire.ReadQuorumPacket(l.r, 1<<20)
	if err != nil {
		l.t.Fatalf("read from the leader: %v", err)
	}
	l.packets = append(l.packets, qp.Type)
	if l.bc == nil {
		if qp.Type == wire.PacketNewLeader {
			cp := qp
			l.newLeader = &cp
		}
		r, err := l.ls.Step(&qp)
		if err != nil {
			l.t.Fatalf("sync: %v on %v", err, qp.Type)
		}
		if r.Truncate || r.ReceiveSnapshot {
			l.t.Fatalf("the leader sent a %v sync; the test expects DIFF", qp.Type)
		}
		l.note(r.NextConfig, r.Activations)
		for _, m := range r.Messages {
			l.send(m)
		}
		if l.ls.State() == zab.LearnerSynced {
			b, br, err := zab.NewBroadcast(zab.BroadcastConfig{LastZxid: wire.MakeZxid(uint32(l.ls.Synced().NewEpoch), 0), MaxRecord: 1 << 20}, l.ls.Synced())
			if err != nil {
				l.t.Fatalf("broadcast: %v", err)
			}
			l.bc = b
			l.carryOut(&br)
		}
		return
	}
	r, err := l.bc.Step(&qp)
	if err != nil {
		l.t.Fatalf("broadcast: %v on %v", err, qp.Type)
	}
	l.carryOut(&r)
}

func (l *protoLearner) note(next *quorum.Config, acts []zab.LearnerActivation) {
	if next != nil {
		l.next = append(l.next, next)
	}
	l.activations = append(l.activations, acts...)
}

// carryOut is a broadcast Ready on a disk that is durable at once.
func (l *protoLearner) carryOut(r *zab.BroadcastReady) {
	l.t.Helper()
	l.note(r.NextConfig, r.Activations)
	for _, m := range r.Messages {
		l.send(m)
	}
	if n := len(r.Append); n > 0 {
		d := l.bc.Durable(r.Append[n-1].Hdr.Zxid)
		for _, m := range d.Messages {
			l.send(m)
		}
	}
	if r.Ping != nil {
		l.send(wire.QuorumPacket{Type: wire.PacketPing, Zxid: r.Ping.Zxid, Data: wire.AppendTouchTable(nil, nil)})
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
	ens := harness.NewJavaEnsemble(t, harness.EnsembleOptions{Participants: 1, TickTime: 500,
		Props:   map[string]string{"reconfigEnabled": "true", "standaloneEnabled": "false"},
		SysProp: map[string]string{"zookeeper.DigestAuthenticationProvider.superDigest": superDigest}})
	ens.StartAll()
	if leader := ens.WaitLeader(60 * time.Second); leader != 1 {
		t.Fatalf("leader %d", leader)
	}
	java := ens.Server(1)

	// The learner: server 2, not in the configuration; it claims the
	// leader's history up to NEWLEADER of epoch 1, so that the sync is
	// a DIFF.
	qPort, ePort, cPort := harness.FreePort(t), harness.FreePort(t), harness.FreePort(t)
	cur, err := quorum.ParseConfigText(fmt.Sprintf("server.1=127.0.0.1:%d:%d:participant;127.0.0.1:%d\nversion=0",
		java.QuorumPort, java.ElectionPort, java.ClientPort), false)
	if err != nil {
		t.Fatal(err)
	}
	l := dialProtoLearner(t, "127.0.0.1:"+strconv.Itoa(java.QuorumPort), zab.LearnerConfig{ID: 2,
		LastLogged: wire.MakeZxid(1, 0), AcceptedEpoch: 0, CurrentEpoch: 0, MaxRecord: 1 << 20,
		View: zab.LearnerView{ID: 2, LeaderID: 1, Config: cur, ReconfigEnabled: true, LastSeenVersion: cur.Version}})
	for l.bc == nil {
		l.step()
	}
	if l.newLeader == nil {
		t.Fatal("no NEWLEADER")
	}
	nl, err := quorum.ParseConfigText(string(l.newLeader.Data), false)
	if err != nil {
		t.Fatalf("NEWLEADER data %q: %v", l.newLeader.Data, err)
	}
	if nl.Version != int64(l.newLeader.Zxid) {
		t.Errorf("NEWLEADER's configuration version %s, want NEWLEADER's zxid %v", quorum.HexVersion(nl.Version), l.newLeader.Zxid)
	}
	if len(l.activations) != 1 || l.activations[0].Config.Version != nl.Version || l.activations[0].Leave {
		t.Fatalf("activations after the sync: %+v", l.activations)
	}

	// The reconfig, through a Java client session of a super user; the
	// learner answers the leader meanwhile.
	c := zkConn(t, java.ClientAddr)
	must(t, c.AddAuth("digest", []byte("super:pw")))
	joining := fmt.Sprintf("server.2=127.0.0.1:%d:%d:participant;127.0.0.1:%d", qPort, ePort, cPort)
	type result struct {
		stat *zk.Stat
		err  error
	}
	done := make(chan result, 1)
	go func() {
		st, err := c.IncrementalReconfig([]string{joining}, nil, -1)
		done <- result{st, err}
	}()
	var res result
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case res = <-done:
		default:
			if time.Now().After(deadline) {
				t.Fatalf("the reconfig did not complete; packets: %v", l.packets)
			}
			l.step()
			continue
		}
		break
	}
	if res.err != nil {
		t.Fatalf("reconfig: %v (packets %v)", res.err, l.packets)
	}
	// Its COMMITANDACTIVATE may still be in flight.
	for len(l.activations) < 2 {
		l.step()
	}
	var proposed *quorum.Config
	for _, n := range l.next {
		if len(n.Voters()) == 2 {
			proposed = n
		}
	}
	if proposed == nil {
		t.Fatalf("no reconfig proposal seen: last seen %v", l.next)
	}
	a := l.activations[1]
	if a.Config.Version != proposed.Version || a.Designated != 1 || a.Leave || a.Observer {
		t.Fatalf("activation %+v, want version %s designated 1, staying", a, quorum.HexVersion(proposed.Version))
	}
	if got := fmt.Sprint(a.Config.Voters()); got != "[1 2]" {
		t.Fatalf("activated voters %s", got)
	}
	if res.stat == nil || res.stat.Mzxid != proposed.Version {
		t.Errorf("reconfig reply stat %+v, want mzxid %x (the new version)", res.stat, proposed.Version)
	}
	t.Logf("from the Java leader: %v; activated %s then %s", l.packets,
		quorum.HexVersion(l.activations[0].Config.Version), quorum.HexVersion(a.Config.Version))
	cfg, _, err := c.Get("/zookeeper/config")
	must(t, err)
	if string(cfg) != a.Config.String() {
		t.Errorf("/zookeeper/config %q, the learner activated %q", cfg, a.Config.String())
	}
}
