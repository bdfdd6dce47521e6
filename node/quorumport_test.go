package node

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/wire"
)

// Issue 14, point 7: the leader's quorum (learner) port bounds connections
// that have not sent their first packet, gives that packet a deadline in
// total, and refuses a FOLLOWERINFO whose accepted epoch would make the
// next epoch wrap.

// leadingElector makes its server lead at once.
type leadingElector struct{ id int64 }

func (e leadingElector) LookForLeader(ctx context.Context, _ wire.Zxid, _ int64) (ElectionOutcome, error) {
	return ElectionOutcome{State: wire.ServerLeading, Leader: e.id}, ctx.Err()
}
func (leadingElector) SetPeerEpoch(int64)          {}
func (leadingElector) SetLooking(wire.Zxid, int64) {}
func (leadingElector) Close() error                { return nil }

func quorumAddrOf(s *Server) string { return s.cfg.Quorum.Me().QuorumAddr() }

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// quorumMember is the config of member id of a three-member ensemble whose
// member 3 leads; the others follow it.
func quorumMember(t *testing.T, id int64, ports map[int64]int, initLimit int) Config {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.TickTime = 100
	cfg.InitLimit = initLimit
	cfg.SyncLimit = 10
	servers := map[int64]QuorumServer{}
	for sid := int64(1); sid <= 3; sid++ {
		servers[sid] = QuorumServer{ID: sid, Host: "127.0.0.1", QuorumPort: ports[sid], ElectionPort: 1}
	}
	cfg.Quorum = &Quorum{MyID: id, Servers: servers}
	if id == 3 {
		cfg.Elector = leadingElector{id: 3}
	} else {
		cfg.Elector = StaticLeader{Leader: 3}
	}
	return cfg
}

// fakeLearner is a raw connection to a leader's quorum port.
type fakeLearner struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialQuorum(t *testing.T, addr string, local net.IP) *fakeLearner {
	t.Helper()
	d := net.Dialer{Timeout: 2 * time.Second}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
	}
	var c net.Conn
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err = d.Dial("tcp", addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { c.Close() })
	return &fakeLearner{t: t, c: c, br: bufio.NewReader(c)}
}

func (f *fakeLearner) followerInfo(sid int64, z wire.Zxid) {
	f.t.Helper()
	info := wire.LearnerInfo{ServerID: sid, ProtocolVersion: wire.ProtocolVersion}
	qp := wire.QuorumPacket{Type: wire.PacketFollowerInfo, Zxid: z, Data: jute.Marshal(&info)}
	var w jute.Writer
	qp.Encode(&w)
	if _, err := f.c.Write(w.Bytes()); err != nil {
		f.t.Fatal(err)
	}
}

// closedWithin reports whether the leader closed the connection within d
// (reading whatever it sends meanwhile).
func (f *fakeLearner) closedWithin(d time.Duration) bool {
	f.c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 256)
	for {
		_, err := f.br.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}
}

func TestLeaderRefusesAcceptedEpochThatWouldWrap(t *testing.T) {
	ports := map[int64]int{1: freePort(t), 2: freePort(t), 3: freePort(t)}
	cfg := quorumMember(t, 3, ports, 50)
	leader := startLearner(t, cfg)
	addr := quorumAddrOf(leader)
	// 0xffffffff: Java reads -1 and ignores it; zkgo used to propose
	// 0x100000000, i.e. zxid epoch 0. 0x7fffffff: Java proposes
	// 0x80000000, a negative zxid.
	for _, forged := range []uint32{0xffffffff, 0x7fffffff} {
		f := dialQuorum(t, addr, nil)
		f.followerInfo(1, wire.MakeZxid(forged, 0))
		f.c.SetReadDeadline(time.Now().Add(3 * time.Second))
		qp, err := wire.ReadQuorumPacket(f.br, jute.QuorumMaxBuffer)
		if err == nil {
			t.Fatalf("FOLLOWERINFO with accepted epoch %#x: the leader answered %v %v, want the connection closed", forged, qp.Type, qp.Zxid)
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !isConnReset(err) {
			t.Fatalf("FOLLOWERINFO with accepted epoch %#x: %v, want the connection closed", forged, err)
		}
	}
	// The leader is still discovering, and a real learner gets epoch 1.
	f := dialQuorum(t, addr, nil)
	f.followerInfo(1, 0)
	f.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	qp, err := wire.ReadQuorumPacket(f.br, jute.QuorumMaxBuffer)
	if err != nil || qp.Type != wire.PacketLeaderInfo || qp.Zxid != wire.MakeZxid(1, 0) {
		t.Fatalf("real learner: %v %v (%v), want LEADERINFO 0x100000000", qp.Type, qp.Zxid, err)
	}
	if e, err := storage.ReadEpoch(storage.VersionDir(cfg.DataDir), storage.AcceptedEpochFile); err != nil || e != 1 {
		t.Fatalf("the leader's acceptedEpoch is %d (%v), want 1", e, err)
	}
}

func isConnReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

// startServingPair starts leader 3 and follower 1 and waits until the
// leader serves.
func startServingPair(t *testing.T, initLimit int) (*Server, map[int64]int) {
	t.Helper()
	ports := map[int64]int{1: freePort(t), 2: freePort(t), 3: freePort(t)}
	leader := startLearner(t, quorumMember(t, 3, ports, initLimit))
	follower := startLearner(t, quorumMember(t, 1, ports, initLimit))
	waitFor(t, func() bool { return leader.qs.Mode() == "leader" && follower.qs.Mode() == "follower" })
	return leader, ports
}

// A connection that sends its first packet a byte at a time is closed
// initLimit ticks after it connected, however regularly it drips (Java's
// socket timeout restarts with every byte).
func TestLeaderClosesSlowDripLearnerConnection(t *testing.T) {
	leader, _ := startServingPair(t, 10) // 1 s to send the first packet
	f := dialQuorum(t, quorumAddrOf(leader), nil)
	info := wire.LearnerInfo{ServerID: 2, ProtocolVersion: wire.ProtocolVersion}
	var w jute.Writer
	(&wire.QuorumPacket{Type: wire.PacketFollowerInfo, Data: jute.Marshal(&info)}).Encode(&w)
	pkt := w.Bytes()
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		buf := make([]byte, 16)
		f.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			if _, err := f.c.Read(buf); err != nil {
				closed <- time.Since(start)
				return
			}
		}
	}()
	tick := time.NewTicker(150 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case d := <-closed:
			if d > 3*time.Second {
				t.Fatalf("the dripping connection was closed after %v, want about 1s", d)
			}
			return
		case <-tick.C:
			if time.Since(start) > 4*time.Second {
				t.Fatal("the dripping connection is still open after 4s (initLimit ticks: 1s)")
			}
			// Never the last byte: the packet never completes.
			_, _ = f.c.Write(pkt[i%(len(pkt)-1) : i%(len(pkt)-1)+1])
		}
	}
}

// A flood of connections that never send a packet is capped (the oldest
// of the busiest address are closed), costs no goroutine beyond the cap,
// and a real learner still gets through while it goes on.
func TestLeaderCapsPendingLearnerConnections(t *testing.T) {
	leader, _ := startServingPair(t, 100) // 10 s to send the first packet
	addr := quorumAddrOf(leader)
	flooder := net.ParseIP("127.0.0.2")
	before := runtime.NumGoroutine()
	const flood = 100
	conns := make([]*fakeLearner, flood)
	for i := range conns {
		conns[i] = dialQuorum(t, addr, flooder)
		_, _ = conns[i].c.Write([]byte{0, 0}) // half a packet type
	}
	// Well before the 10 s deadline, all but the cap (20) are closed.
	deadline := time.Now().Add(5 * time.Second)
	for {
		closed := 0
		for _, f := range conns {
			if f.closedWithin(time.Millisecond) {
				closed++
			}
		}
		if closed >= flood-20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pending connections closed after 5s, want at least %d", closed, flood, flood-20)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine() - before; n > 20+10 {
		t.Fatalf("%d more goroutines with %d pending connections, want at most the cap (20) and a few", n, flood)
	}
	// The flood goes on while learner 2 connects.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: flooder}}
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if c, err := d.Dial("tcp", addr); err == nil {
				held = append(held, c)
			}
			if len(held) > 200 {
				held[0].Close()
				held = held[1:]
			}
		}
	}()
	f := dialQuorum(t, addr, nil)
	f.followerInfo(2, 0)
	f.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	qp, err := wire.ReadQuorumPacket(f.br, jute.QuorumMaxBuffer)
	close(stop)
	wg.Wait()
	if err != nil || qp.Type != wire.PacketLeaderInfo {
		t.Fatalf("learner 2 during the flood: %v %v (%v), want LEADERINFO", qp.Type, qp.Zxid, err)
	}
}

// An epoch file a zxid cannot carry (Java 3.8 writes acceptedEpoch
// 2147483648 after a FOLLOWERINFO with accepted epoch 0x7fffffff) refuses
// to start, naming the file.
func TestStartRefusesEpochBeyondZxid(t *testing.T) {
	ports := map[int64]int{1: freePort(t), 2: freePort(t), 3: freePort(t)}
	for _, name := range []string{storage.AcceptedEpochFile, storage.CurrentEpochFile} {
		cfg := quorumMember(t, 1, ports, 10)
		dir := storage.VersionDir(cfg.DataDir)
		if err := storage.WriteEpoch(dir, storage.AcceptedEpochFile, 1<<31); err != nil {
			t.Fatal(err)
		}
		if err := storage.WriteEpoch(dir, name, 1<<31); err != nil {
			t.Fatal(err)
		}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Start()
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			s.Stop(ctx)
			cancel()
			t.Fatalf("%s = 2147483648: the server started", name)
		}
		if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "2147483648") {
			t.Fatalf("%s = 2147483648: %v, want an error naming the file and value", name, err)
		}
	}
}

func TestQuorumConnectionSettings(t *testing.T) {
	ports := map[int64]int{1: freePort(t), 2: freePort(t), 3: freePort(t)}
	for _, tc := range []struct {
		raw, props map[string]string
		pending    int
		timeout    time.Duration
		err        string
	}{
		{pending: 20, timeout: time.Second}, // tickTime 100 * syncLimit 10
		{raw: map[string]string{"quorum.cnxn.threads.size": "50"}, pending: 50, timeout: time.Second},
		{raw: map[string]string{"quorum.cnxn.threads.size": "5"}, pending: 20, timeout: time.Second},
		{raw: map[string]string{"quorum.cnxn.threads.size": "many"}, err: "quorum.cnxn.threads.size"},
		{props: map[string]string{"zookeeper.quorumCnxnTimeoutMs": "2500"}, pending: 20, timeout: 2500 * time.Millisecond},
		{props: map[string]string{"zookeeper.quorumCnxnTimeoutMs": "-1"}, pending: 20, timeout: time.Second},
		{props: map[string]string{"zookeeper.quorumCnxnTimeoutMs": "2s"}, err: "zookeeper.quorumCnxnTimeoutMs"},
	} {
		cfg := quorumMember(t, 1, ports, 10)
		cfg.Raw, cfg.Properties = tc.raw, tc.props
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		p := &peer{q: cfg.Quorum}
		err = p.connLimits(&s.cfg)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v %v: error %v, want one naming %s", tc.raw, tc.props, err, tc.err)
			}
		case err != nil:
			t.Errorf("%v %v: %v", tc.raw, tc.props, err)
		case p.maxPendingHandshakes != tc.pending || p.electionHandshakeTimeout != tc.timeout:
			t.Errorf("%v %v: pending %d timeout %v, want %d and %v", tc.raw, tc.props,
				p.maxPendingHandshakes, p.electionHandshakeTimeout, tc.pending, tc.timeout)
		}
	}
}

// A LEADERINFO whose zxid has the top bit set (what Java 3.8 sends after
// proposing epoch 0x80000000) carries a negative epoch, as Java's learner
// reads it: it is below ours, and the learner refuses it without touching
// its acceptedEpoch.
func TestLearnerRefusesNegativeLeaderEpoch(t *testing.T) {
	dir := t.TempDir()
	f := newFakeLeader(t)
	startLearner(t, learnerConfig(t, dir, f.port(), false))
	f.accept()
	if fi := f.read(); fi.Type != wire.PacketFollowerInfo {
		t.Fatalf("first packet %v", fi.Type)
	}
	f.send(wire.QuorumPacket{Type: wire.PacketLeaderInfo, Zxid: wire.MakeZxid(0x80000000, 0), Data: wire.EpochData(wire.ProtocolVersion)})
	f.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if qp, err := wire.ReadQuorumPacket(f.br, jute.QuorumMaxBuffer); err == nil {
		t.Fatalf("the learner answered LEADERINFO 0x8000000000000000 with %v %v, want the connection closed", qp.Type, qp.Zxid)
	}
	if e, err := storage.ReadEpoch(storage.VersionDir(dir), storage.AcceptedEpochFile); err != nil || e != 0 {
		t.Fatalf("acceptedEpoch %d (%v), want 0", e, err)
	}
}
