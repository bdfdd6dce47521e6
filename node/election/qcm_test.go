package election

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/zkgo/zkgo/node/fle"
	"github.com/zkgo/zkgo/wire"
)

// Raw-socket tests: the test plays Java peers byte by byte against one
// Service (sid 2). Members: 1 and 3 voters, 4 an observer; the test owns
// their listeners.

type rawEnv struct {
	t   *testing.T
	c   *cluster
	svc *Service
}

func newRawEnv(t *testing.T) *rawEnv {
	c := newCluster(t, []int64{1, 2, 3, 4}, 4)
	cfg := c.config(2, true)
	cfg.HandshakeTimeout = 300 * time.Millisecond
	svc, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.svcs[2] = svc
	return &rawEnv{t: t, c: c, svc: svc}
}

func (r *rawEnv) dial() net.Conn {
	r.t.Helper()
	conn, err := net.DialTimeout("tcp", r.svc.Addr().String(), 2*time.Second)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func (r *rawEnv) handshake(sid int64) net.Conn {
	r.t.Helper()
	conn := r.dial()
	if _, err := conn.Write(wire.AppendInitialMessage(nil, sid, r.c.members[sid].Addr)); err != nil {
		r.t.Fatal(err)
	}
	return conn
}

func notifFrame(st wire.ServerState, leader int64, zxid wire.Zxid, round, epoch int64, config []byte) []byte {
	n := wire.Notification{State: st, Leader: leader, Zxid: zxid, ElectionEpoch: round, PeerEpoch: epoch,
		Version: 2, Config: config, Layout: 44}
	return wire.AppendNotificationFrame(nil, &n)
}

func rawFrame(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

func readNotification(t *testing.T, r io.Reader, c net.Conn) wire.Notification {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	var hdr [4]byte
	body, err := readFrame(r, hdr[:])
	if err != nil {
		t.Fatalf("reading a notification: %v", err)
	}
	n, err := wire.DecodeNotification(body)
	if err != nil {
		t.Fatal(err)
	}
	n.Config = append([]byte(nil), n.Config...)
	return n
}

func expectClosed(t *testing.T, c net.Conn, within time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	buf := make([]byte, 64)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open after %v", within)
		}
		return
	}
}

func (r *rawEnv) waitStat(what string, f func(Stats) bool) {
	r.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !f(r.svc.Stats()) {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s: %+v", what, r.svc.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAcceptedObserverIsAnsweredAtOnce(t *testing.T) {
	for name, init := range map[string]func(r *rawEnv) []byte{
		"v1":   func(r *rawEnv) []byte { return wire.AppendInitialMessage(nil, 4, r.c.members[4].Addr) },
		"v2":   func(r *rawEnv) []byte { return v2Initial(4, r.c.members[4].Addr+"|10.9.9.9:1") },
		"3.4":  func(r *rawEnv) []byte { return binary.BigEndian.AppendUint64(nil, 4) },
		"wild": func(r *rawEnv) []byte { return v2Initial(4, "0.0.0.0:5|"+r.c.members[4].Addr) },
	} {
		t.Run(name, func(t *testing.T) {
			r := newRawEnv(t)
			conn := r.dial()
			if _, err := conn.Write(init(r)); err != nil {
				t.Fatal(err)
			}
			// An observer asks: it gets my current vote and state now.
			if _, err := conn.Write(notifFrame(wire.ServerLooking, fle.NoID, fle.NoID, 1, fle.NoID, []byte("x"))); err != nil {
				t.Fatal(err)
			}
			n := readNotification(t, conn, conn)
			if n.State != wire.ServerLooking || n.Leader != 2 || n.Zxid != -1 || n.ElectionEpoch != 0 || n.PeerEpoch != -1 ||
				n.Version != 2 || !bytes.Equal(n.Config, r.svc.cfg.ConfigText) {
				t.Fatalf("reply %+v config %q", n, n.Config)
			}
		})
	}
}

func v2Initial(sid int64, addrs string) []byte {
	proto := wire.ElectionProtocolV2
	b := binary.BigEndian.AppendUint64(nil, uint64(proto))
	b = binary.BigEndian.AppendUint64(b, uint64(sid))
	b = binary.BigEndian.AppendUint32(b, uint32(len(addrs)))
	return append(b, addrs...)
}

func badInitial(proto int64, sid int64, l int32, addr string) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(proto))
	b = binary.BigEndian.AppendUint64(b, uint64(sid))
	b = binary.BigEndian.AppendUint32(b, uint32(l))
	return append(b, addr...)
}

func TestHandshakeRejects(t *testing.T) {
	r := newRawEnv(t)
	for _, tc := range []struct {
		name    string
		b       []byte
		failure bool
	}{
		{"unknown protocol", badInitial(-5, 4, 5, "a:1"), true},
		{"zero length", badInitial(wire.ElectionProtocolV1, 4, 0, ""), true},
		{"negative length", badInitial(wire.ElectionProtocolV1, 4, -1, ""), true},
		{"too long", badInitial(wire.ElectionProtocolV1, 4, 4096, ""), true},
		{"no port", badInitial(wire.ElectionProtocolV1, 4, 10, "nohostport"), true},
		{"bad port", badInitial(wire.ElectionProtocolV1, 4, 8, "host:abc"), true},
		{"port range", badInitial(wire.ElectionProtocolV1, 4, 10, "host:70000"), true},
		{"truncated (handshake timeout)", badInitial(wire.ElectionProtocolV1, 4, 20, "127.0.0.1:1"), true},
		{"short first long", []byte{0xff, 0xff}, true},
		{"my own sid", wire.AppendInitialMessage(nil, 2, "127.0.0.1:1"), false},
	} {
		before := r.svc.Stats().HandshakeFailures
		conn := r.dial()
		if _, err := conn.Write(tc.b); err != nil {
			t.Fatal(err)
		}
		expectClosed(t, conn, 2*time.Second)
		if tc.failure {
			r.waitStat(tc.name, func(s Stats) bool { return s.HandshakeFailures == before+1 })
		}
	}
	// Still serving.
	conn := r.handshake(4)
	_, _ = conn.Write(notifFrame(wire.ServerLooking, 1, 1, 1, 1, []byte("x")))
	readNotification(t, conn, conn)
}

func TestBadFramesAreSurvived(t *testing.T) {
	r := newRawEnv(t)
	for _, tc := range []struct {
		name  string
		frame []byte
		close bool
	}{
		{"length 0", rawFrame(nil), true},
		{"length -1", []byte{0xff, 0xff, 0xff, 0xff}, true},
		{"length 512KiB+1", binary.BigEndian.AppendUint32(nil, 512*1024+1), true},
		{"short body", rawFrame(make([]byte, 10)), false},
		{"config length cut", rawFrame(append(binary.BigEndian.AppendUint32(make([]byte, 36), 2), 0, 0)), false},
		{"config length 1000", rawFrame(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(make([]byte, 36), 2), 1000)), false},
	} {
		conn := r.handshake(4)
		before := r.svc.Stats().NotificationsDropped
		if _, err := conn.Write(tc.frame); err != nil {
			t.Fatal(err)
		}
		if tc.close {
			expectClosed(t, conn, 2*time.Second)
			continue
		}
		r.waitStat(tc.name, func(s Stats) bool { return s.NotificationsDropped > before })
		// The connection survives a bad notification.
		_, _ = conn.Write(notifFrame(wire.ServerLooking, 1, 1, 1, 1, []byte("x")))
		readNotification(t, conn, conn)
	}
	// A voter's notification with an unknown state is dropped; a
	// non-voter is answered whatever its state (Java checks voters first).
	conn := r.handshake(3)
	before := r.svc.Stats().NotificationsDropped
	_, _ = conn.Write(notifFrame(wire.ServerState(7), 1, 1, 1, 1, []byte("x")))
	r.waitStat("invalid state", func(s Stats) bool { return s.NotificationsDropped > before })
	conn4 := r.handshake(4)
	_, _ = conn4.Write(notifFrame(wire.ServerState(7), 1, 1, 1, 1, []byte("x")))
	readNotification(t, conn4, conn4)
}

func TestSmallerSidIsConnectedBackAndVotesFlow(t *testing.T) {
	r := newRawEnv(t)
	conn := r.handshake(1) // 1 < 2: the service hangs up and calls back
	expectClosed(t, conn, 2*time.Second)
	ln1 := r.c.listeners[1]
	_ = ln1.(*net.TCPListener).SetDeadline(time.Now().Add(3 * time.Second))
	back, err := ln1.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	br := bufio.NewReader(back)
	_ = back.SetReadDeadline(time.Now().Add(3 * time.Second))
	m, err := readInitialMessage(br)
	if err != nil || m.Protocol != wire.ElectionProtocolV1 || m.Sid != 2 || m.Addr != r.c.members[2].Addr {
		t.Fatalf("%+v %v", m, err)
	}
	// 1 (LOOKING, round 1, behind) talks first; then 2 starts electing.
	_, _ = back.Write(notifFrame(wire.ServerLooking, 1, 0x100000001, 1, 1, r.svc.cfg.ConfigText))
	r.waitStat("queued", func(s Stats) bool { return s.NotificationsReceived == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _, _ = r.svc.LookForLeader(ctx, 0x100000005, 1) }()
	n := readNotification(t, br, back)
	if n.State != wire.ServerLooking || n.Leader != 2 || n.Zxid != 0x100000005 || n.ElectionEpoch != 1 || n.PeerEpoch != 1 {
		t.Fatalf("%+v", n)
	}
	// 1 adopts 2's vote: with 2's own vote that is a quorum of 3.
	_, _ = back.Write(notifFrame(wire.ServerLooking, 2, 0x100000005, 1, 1, r.svc.cfg.ConfigText))
	r.waitStat("leading", func(s Stats) bool { return s.State == wire.ServerLeading })
	// Now 1 goes LOOKING again in round 2: it is told the current vote.
	_, _ = back.Write(notifFrame(wire.ServerLooking, 1, 0x100000001, 2, 1, r.svc.cfg.ConfigText))
	n = readNotification(t, br, back)
	for i := 0; i < 3 && n.State == wire.ServerLooking && n.Leader == 2; i++ {
		// 2's round-1 vote again, sent before it led: its answer to 1's
		// worse vote of the same round (DIFFERENCES row 64), or a re-send
		// at a notification timeout on a slow machine.
		n = readNotification(t, br, back)
	}
	if n.State != wire.ServerLeading || n.Leader != 2 || n.ElectionEpoch != 1 {
		t.Fatalf("%+v", n)
	}
}

func TestLastMessageResentOnNewConnection(t *testing.T) {
	r := newRawEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _, _ = r.svc.LookForLeader(ctx, 0x100000005, 1) }()
	// The service dials 3, says who it is and hangs up (3 > 2).
	ln3 := r.c.listeners[3]
	_ = ln3.(*net.TCPListener).SetDeadline(time.Now().Add(3 * time.Second))
	c, err := ln3.Accept()
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if m, err := readInitialMessage(br); err != nil || m.Sid != 2 {
		t.Fatalf("%+v %v", m, err)
	}
	expectClosed(t, c, 2*time.Second)
	_ = c.Close()
	// 3 connects back: the queued vote arrives.
	conn := r.handshake(3)
	first := readNotification(t, conn, conn)
	if first.Leader != 2 || first.ElectionEpoch != 1 {
		t.Fatalf("%+v", first)
	}
	dropped := r.svc.Stats().ConnectionsDropped
	_ = conn.Close()
	// Reconnect with nothing queued: the last message is sent again.
	r.waitStat("dropped", func(s Stats) bool { return s.ConnectionsDropped > dropped })
	conn = r.handshake(3)
	again := readNotification(t, conn, conn)
	if again.Leader != first.Leader || again.Zxid != first.Zxid || again.ElectionEpoch != first.ElectionEpoch {
		t.Fatalf("%+v vs %+v", again, first)
	}
}

func TestInboxDropsOldest(t *testing.T) {
	b := inbox{signal: make(chan struct{}, 1)}
	for i := range 150 {
		b.push(inMsg{sid: int64(i)})
	}
	if b.droppedCount() != 50 {
		t.Fatalf("dropped %d", b.droppedCount())
	}
	for i := 50; i < 150; i++ {
		m, ok := b.pop()
		if !ok || m.sid != int64(i) {
			t.Fatalf("pop %d: %+v %v", i, m, ok)
		}
	}
	if _, ok := b.pop(); ok {
		t.Fatal("not empty")
	}
}

func TestReadInitialMessage(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		sid  int64
		ok   bool
	}{
		{"v1", wire.AppendInitialMessage(nil, 7, "10.0.0.1:3888"), 7, true},
		{"v1 ipv6", wire.AppendInitialMessage(nil, 7, "[::1]:3888"), 7, true},
		{"v2", v2Initial(7, "a:1|b:2"), 7, true},
		{"3.4", binary.BigEndian.AppendUint64(nil, 9), 9, true},
		{"bad v2 item", v2Initial(7, "a:1|b"), 0, false},
		{"short", wire.AppendInitialMessage(nil, 7, "10.0.0.1:3888")[:25], 0, false},
	} {
		m, err := readInitialMessage(bufio.NewReader(bytes.NewReader(tc.b)))
		if (err == nil) != tc.ok || (tc.ok && m.Sid != tc.sid) {
			t.Errorf("%s: %+v %v", tc.name, m, err)
		}
	}
}

// FuzzReceivePath feeds arbitrary bytes through what a connection's bytes
// meet: the initial message, frames, notification decoding and the state
// machine. It must never panic.
func FuzzReceivePath(f *testing.F) {
	good := wire.AppendInitialMessage(nil, 3, "127.0.0.1:3888")
	good = append(good, notifFrame(wire.ServerLooking, 3, 5, 1, 1, []byte("server.1=a:1:2:participant\nversion=0"))...)
	good = append(good, notifFrame(wire.ServerFollowing, 1, 5, 1, 1, nil)...)
	f.Add(good, uint8(10))
	f.Add(binary.BigEndian.AppendUint64(rawFrame(make([]byte, 28)), 2), uint8(3))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		e, err := fle.New(fle.Config{ID: 2, Voters: []int64{1, 2, 3}, CanLead: split%2 == 0})
		if err != nil {
			t.Fatal(err)
		}
		e.Start(5, 1)
		cut := min(int(split), len(data))
		r := bufio.NewReader(io.MultiReader(bytes.NewReader(data[:cut]), bytes.NewReader(data[cut:])))
		m, err := readInitialMessage(r)
		if err != nil {
			return
		}
		var hdr [4]byte
		for {
			body, err := readFrame(r, hdr[:])
			if err != nil {
				return
			}
			n, err := wire.DecodeNotification(body)
			if err != nil {
				continue
			}
			e.Step(fle.FromWire(m.Sid, &n))
			e.Tick(time.Second, split%3 == 0)
			for _, out := range e.Ready().Messages {
				if out.Leader == 2 && split%2 == 1 {
					t.Fatalf("CanLead=false voted for itself: %+v", out)
				}
			}
		}
	})
}

// A new connection whose send queue is empty re-sends the last message; one
// with a queued message sends that instead (SendWorker.run).
func TestSendWorkerResendsLastMessage(t *testing.T) {
	for _, queued := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		s := &Service{cfg: Config{CnxTimeout: time.Second}, peers: map[int64]*peer{}, conns: map[net.Conn]struct{}{},
			ctx: ctx, cancel: cancel}
		p := s.peerLocked(3)
		p.last = rawFrame([]byte("last"))
		if queued {
			p.queued = rawFrame([]byte("newer"))
		}
		a, b := net.Pipe()
		s.startLink(3, a, bufio.NewReader(a), 1)
		var hdr [4]byte
		_ = b.SetReadDeadline(time.Now().Add(2 * time.Second))
		body, err := readFrame(b, hdr[:])
		want := "last"
		if queued {
			want = "newer"
		}
		if err != nil || string(body) != want {
			t.Fatalf("queued=%v: %q %v", queued, body, err)
		}
		// Only one message: nothing else follows.
		_ = b.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := readFrame(b, hdr[:]); err == nil {
			t.Fatalf("queued=%v: a second message was sent", queued)
		}
		// A message queued later is sent and becomes the last one.
		s.toSend(3, rawFrame([]byte("x1")))
		_ = b.SetReadDeadline(time.Now().Add(2 * time.Second))
		if body, err := readFrame(b, hdr[:]); err != nil || string(body) != "x1" {
			t.Fatalf("%q %v", body, err)
		}
		if string(p.last[4:]) != "x1" {
			t.Fatalf("last = %q", p.last)
		}
		cancel()
		_ = b.Close()
		s.wg.Wait()
	}
}

func TestSendQueueKeepsNewest(t *testing.T) {
	s := &Service{peers: map[int64]*peer{}, conns: map[net.Conn]struct{}{}, closed: false}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer s.cancel()
	s.toSend(9, []byte("old")) // sid 9 is unknown: no dial, stays queued
	s.toSend(9, []byte("new"))
	if p := s.peers[9]; string(p.queued) != "new" || s.haveDelivered() {
		t.Fatalf("queued %q delivered %v", p.queued, s.haveDelivered())
	}
	s.peers[9].queued = nil
	if !s.haveDelivered() {
		t.Fatal("an empty queue means delivered")
	}
}

// A dial to a smaller sid has just installed its link when that peer's own
// dial arrives (simultaneous dials): the acceptor drops the link and must
// connect back even though its dial has not returned yet. Before the fix
// the dial still counted as in progress, the connect-back was skipped and
// the pair stayed without a connection until the next message.
func TestConnectBackWhileOwnDialFinishes(t *testing.T) {
	r := newRawEnv(t)
	linked := make(chan struct{})
	release := make(chan struct{})
	first := true
	r.svc.afterDialLink = func(sid int64) {
		if sid != 1 || !first {
			return
		}
		first = false
		close(linked)
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
	}
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	ln1 := r.c.listeners[1].(*net.TCPListener)
	accept := func() (net.Conn, *bufio.Reader) {
		t.Helper()
		_ = ln1.SetDeadline(time.Now().Add(3 * time.Second))
		c, err := ln1.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		br := bufio.NewReader(c)
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if m, err := readInitialMessage(br); err != nil || m.Sid != 2 {
			t.Fatalf("%+v %v", m, err)
		}
		return c, br
	}
	frame := notifFrame(wire.ServerLooking, 2, 0x100000005, 1, 1, r.svc.cfg.ConfigText)
	r.svc.toSend(1, frame)
	a, abr := accept()
	if n := readNotification(t, abr, a); n.Leader != 2 {
		t.Fatalf("%+v", n)
	}
	select {
	case <-linked:
	case <-time.After(3 * time.Second):
		t.Fatal("the dial to 1 installed no link")
	}
	// 1 dials 2 while 2's dial is still returning: 2 hangs up on both.
	in := r.handshake(1)
	expectClosed(t, in, 2*time.Second)
	expectClosed(t, a, 2*time.Second)
	close(release)
	// 2 connects back and re-sends its last message.
	b, bbr := accept()
	if n := readNotification(t, bbr, b); n.Leader != 2 || n.Zxid != 0x100000005 {
		t.Fatalf("%+v", n)
	}
	r.waitStat("one connection", func(s Stats) bool { return s.Connections == 1 })
}

// A peer with a larger sid dials twice (the first connection lost, say);
// the acceptor reads the second one's initial message first. The older
// connection, handled late, must not replace the live link: Java handles
// accepted connections one by one in accept order.
func TestOlderAcceptedConnectionDoesNotReplaceNewer(t *testing.T) {
	r := newRawEnv(t)
	older := r.dial()
	newer := r.handshake(3)
	r.waitStat("link", func(s Stats) bool { return s.Connections == 1 })
	if _, err := older.Write(wire.AppendInitialMessage(nil, 3, r.c.members[3].Addr)); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, older, 2*time.Second)
	_ = newer.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	var ne net.Error
	if _, err := newer.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("the newer connection: %v", err)
	}
	if st := r.svc.Stats(); st.Connections != 1 || st.ConnectionsEstablished != 1 || st.ConnectionsDropped != 0 {
		t.Fatalf("%+v", st)
	}
}

// Issue 14, point 7: connections that never finish their initial message
// are capped (quorum.cnxn.threads.size, 20 here: the oldest of the busiest
// address are closed), and a real peer still gets through while they go on.
func TestPendingHandshakesAreCapped(t *testing.T) {
	c := newCluster(t, []int64{1, 2, 3, 4}, 4)
	cfg := c.config(2, true)
	cfg.HandshakeTimeout = time.Minute // only the cap can close them
	svc, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.svcs[2] = svc
	r := &rawEnv{t: t, c: c, svc: svc}
	flooder := &net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	const flood, limit = 100, 20 // quorum.cnxn.threads.size's default
	conns := make([]net.Conn, flood)
	for i := range conns {
		conn, err := flooder.Dial("tcp", svc.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		_, _ = conn.Write([]byte{0xff, 0xff, 0xff}) // part of a protocol version
		conns[i] = conn
	}
	isClosed := func(conn net.Conn) bool {
		_ = conn.SetReadDeadline(time.Now().Add(time.Millisecond))
		_, err := conn.Read(make([]byte, 1))
		var ne net.Error
		return err != nil && !(errors.As(err, &ne) && ne.Timeout())
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		closed := 0
		for _, conn := range conns {
			if isClosed(conn) {
				closed++
			}
		}
		if closed >= flood-limit {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pending election connections closed, want at least %d", closed, flood, flood-limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The flood goes on while observer 4 connects.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if conn, err := flooder.Dial("tcp", svc.Addr().String()); err == nil {
				held = append(held, conn)
			}
			if len(held) > 200 {
				_ = held[0].Close()
				held = held[1:]
			}
		}
	}()
	conn := r.handshake(4)
	_, _ = conn.Write(notifFrame(wire.ServerLooking, fle.NoID, fle.NoID, 1, fle.NoID, []byte("x")))
	n := readNotification(t, conn, conn)
	close(stop)
	<-done
	if n.Leader != 2 {
		t.Fatalf("observer 4 during the flood got %+v", n)
	}
}

// An initial message dripped a byte at a time is cut off by the handshake
// deadline, which counts from the connection, not from the last byte.
func TestSlowDripHandshakeIsClosed(t *testing.T) {
	r := newRawEnv(t) // 300 ms handshake deadline
	conn := r.dial()
	msg := v2Initial(4, r.c.members[4].Addr)
	start := time.Now()
	for i := 0; i < len(msg)-1; i++ {
		if _, err := conn.Write(msg[i : i+1]); err != nil {
			break // closed
		}
		if time.Since(start) > 3*time.Second {
			t.Fatal("the dripping connection is still open after 3s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	expectClosed(t, conn, time.Second)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("closed after %v, want about 300ms", d)
	}
}
