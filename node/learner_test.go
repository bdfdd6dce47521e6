package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/session"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/wire"
)

// A scripted leader drives a zkgo learner through the Zab 1.0 handshake
// and broadcast, checking every byte the learner sends against what a Java
// 3.8 leader requires (spec §4, §5, §12).

type fakeLeader struct {
	t  *testing.T
	ln net.Listener
	c  net.Conn
	br *bufio.Reader
}

func newFakeLeader(t *testing.T) *fakeLeader {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &fakeLeader{t: t, ln: ln}
}

func (f *fakeLeader) port() int { return f.ln.Addr().(*net.TCPAddr).Port }

func (f *fakeLeader) accept() {
	f.t.Helper()
	f.ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	c, err := f.ln.Accept()
	if err != nil {
		f.t.Fatalf("learner did not connect: %v", err)
	}
	f.c, f.br = c, bufio.NewReader(c)
	f.t.Cleanup(func() { c.Close() })
}

func (f *fakeLeader) send(qp wire.QuorumPacket) {
	f.t.Helper()
	if _, err := f.c.Write(jute.Marshal(&qp)); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeLeader) sendTxn(typ wire.PacketType, e *wire.TxnEntry) {
	f.send(wire.QuorumPacket{Type: typ, Zxid: e.Hdr.Zxid, Data: wire.AppendTxnEntry(nil, e)})
}

func (f *fakeLeader) read() wire.QuorumPacket {
	f.t.Helper()
	f.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	qp, err := wire.ReadQuorumPacket(f.br, jute.QuorumMaxBuffer)
	if err != nil {
		f.t.Fatalf("reading from learner: %v", err)
	}
	return qp
}

func (f *fakeLeader) expect(typ wire.PacketType, zxid wire.Zxid) wire.QuorumPacket {
	f.t.Helper()
	qp := f.read()
	if qp.Type != typ || qp.Zxid != zxid {
		f.t.Fatalf("learner sent %v %v, want %v %v", qp.Type, qp.Zxid, typ, zxid)
	}
	return qp
}

// fakeSink is a client connection.
type fakeSink struct {
	id     uint64
	mu     sync.Mutex
	out    bytes.Buffer
	closed string
	wake   chan struct{}
}

func newFakeSink(id uint64) *fakeSink { return &fakeSink{id: id, wake: make(chan struct{}, 1)} }

func (c *fakeSink) ID() uint64         { return c.id }
func (c *fakeSink) RemoteAddr() string { return "127.0.0.1:5555" }
func (c *fakeSink) Send(b []byte, _ int) bool {
	c.mu.Lock()
	c.out.Write(b)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// Resume is a no-op: these tests never fill the server's queue.
func (c *fakeSink) Resume() {}

func (c *fakeSink) Close(reason string) {
	c.mu.Lock()
	c.closed = reason
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// frame waits for the next length-prefixed frame the server sent.
func (c *fakeSink) frame(t *testing.T) []byte {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		b := c.out.Bytes()
		if len(b) >= 4 {
			n := int(binary.BigEndian.Uint32(b))
			if len(b) >= 4+n {
				f := append([]byte(nil), b[4:4+n]...)
				c.out.Next(4 + n)
				c.mu.Unlock()
				return f
			}
		}
		closed := c.closed
		c.mu.Unlock()
		if closed != "" {
			t.Fatalf("connection closed: %s", closed)
		}
		select {
		case <-c.wake:
		case <-deadline:
			t.Fatal("no reply from the server")
		}
	}
}

func (c *fakeSink) reply(t *testing.T) (wire.ReplyHeader, []byte) {
	t.Helper()
	f := c.frame(t)
	var h wire.ReplyHeader
	r := jute.NewReader(f)
	h.Decode(&r)
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	return h, f[r.Offset():]
}

func learnerConfig(t *testing.T, dir string, leaderPort int, observer bool) Config {
	typ := Participant
	if observer {
		typ = Observer
	}
	q := &Quorum{MyID: 2, Servers: map[int64]QuorumServer{
		1: {ID: 1, Host: "127.0.0.1", QuorumPort: leaderPort, ElectionPort: 1},
		2: {ID: 2, Host: "127.0.0.1", QuorumPort: 2, ElectionPort: 3, Type: typ},
		3: {ID: 3, Host: "127.0.0.1", QuorumPort: 4, ElectionPort: 5},
	}}
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.TickTime = 100
	cfg.InitLimit = 20
	cfg.SyncLimit = 10
	cfg.Quorum = q
	cfg.Elector = StaticLeader{Leader: 1, Observer: observer}
	return cfg
}

func startLearner(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s
}

func txn(zxid wire.Zxid, session wire.SessionID, cxid wire.Xid, typ wire.OpCode, body jute.Record) *wire.TxnEntry {
	return &wire.TxnEntry{Hdr: wire.TxnHeader{ClientID: session, Cxid: cxid, Zxid: zxid, Time: 1700000000000, Type: typ}, Body: body}
}

func createTxn(zxid wire.Zxid, session wire.SessionID, cxid wire.Xid, path string, pcv int32) *wire.TxnEntry {
	return txn(zxid, session, cxid, wire.OpCreate, &wire.CreateTxn{Path: path, Data: []byte("v"),
		ACL: []wire.ACL{{Perms: 31, ID: wire.ID{Scheme: "world", ID: "anyone"}}}, ParentCVersion: pcv})
}

// handshake runs discovery up to the sync packet and checks the learner's
// FOLLOWERINFO and ACKEPOCH.
func (f *fakeLeader) handshake(newEpoch int64, wantAccepted, wantLastZxid wire.Zxid, wantEpochReply int32) {
	f.t.Helper()
	f.accept()
	fi := f.read()
	if fi.Type != wire.PacketFollowerInfo || fi.Zxid != wantAccepted {
		f.t.Fatalf("first packet %v %v, want FOLLOWERINFO %v", fi.Type, fi.Zxid, wantAccepted)
	}
	li, err := wire.ParseLearnerInfo(fi.Data)
	if err != nil || li.ServerID != 2 || li.ProtocolVersion != wire.ProtocolVersion || len(fi.Data) != 20 {
		f.t.Fatalf("LearnerInfo %+v (%d bytes) err %v", li, len(fi.Data), err)
	}
	f.send(wire.QuorumPacket{Type: wire.PacketLeaderInfo, Zxid: wire.MakeZxid(uint32(newEpoch), 0), Data: wire.EpochData(wire.ProtocolVersion)})
	ae := f.expect(wire.PacketAckEpoch, wantLastZxid)
	if v, err := wire.ParseEpochData(ae.Data); err != nil || v != wantEpochReply || len(ae.Data) != 4 {
		f.t.Fatalf("ACKEPOCH data %x, want epoch %d", ae.Data, wantEpochReply)
	}
}

func TestLearnerDiffSyncAndBroadcast(t *testing.T) {
	dir := t.TempDir()
	f := newFakeLeader(t)
	s := startLearner(t, learnerConfig(t, dir, f.port(), false))
	f.handshake(1, 0, 0, 0)
	if e, err := storage.ReadEpoch(storage.VersionDir(dir), storage.AcceptedEpochFile); err != nil || e != 1 {
		t.Fatalf("acceptedEpoch %d %v, want 1 before ACKEPOCH", e, err)
	}
	// DIFF with a committed pair, a bare proposal, a PING the learner
	// must not answer, then NEWLEADER.
	f.send(wire.QuorumPacket{Type: wire.PacketDiff, Zxid: 0})
	f.sendTxn(wire.PacketProposal, createTxn(0x100000001, 0, 0, "/a", 1))
	f.send(wire.QuorumPacket{Type: wire.PacketCommit, Zxid: 0x100000001})
	f.sendTxn(wire.PacketProposal, createTxn(0x100000002, 0, 0, "/b", 2))
	f.send(wire.QuorumPacket{Type: wire.PacketPing, Zxid: 0x100000002})
	f.send(wire.QuorumPacket{Type: wire.PacketNewLeader, Zxid: 0x100000000, Data: []byte(s.cfg.Quorum.Text())})
	// The first packet after ACKEPOCH is the NEWLEADER ACK, sent after the
	// proposals are durable and currentEpoch is written.
	f.expect(wire.PacketAck, 0x100000000)
	if e, err := storage.ReadEpoch(storage.VersionDir(dir), storage.CurrentEpochFile); err != nil || e != 1 {
		t.Fatalf("currentEpoch %d %v, want 1 at the NEWLEADER ACK", e, err)
	}
	logs, _ := storage.ListLogs(storage.VersionDir(dir))
	lr := storage.NewLogReader(logs, 0)
	n := 0
	for {
		if _, err := lr.Next(); err != nil {
			break
		}
		n++
	}
	lr.Close()
	if n != 2 {
		t.Fatalf("%d txns logged at the NEWLEADER ACK, want 2", n)
	}
	f.send(wire.QuorumPacket{Type: wire.PacketUpToDate, Zxid: -1})
	f.expect(wire.PacketAck, 0x100000000)
	f.expect(wire.PacketAck, 0x100000001)
	f.expect(wire.PacketAck, 0x100000002)
	// Broadcast: commit the bare proposal, then a new one.
	f.send(wire.QuorumPacket{Type: wire.PacketCommit, Zxid: 0x100000002})
	f.sendTxn(wire.PacketProposal, createTxn(0x100000003, 0, 0, "/c", 3))
	f.expect(wire.PacketAck, 0x100000003)
	f.send(wire.QuorumPacket{Type: wire.PacketCommit, Zxid: 0x100000003})

	// A client: its session is created through the leader.
	cc := newFakeSink(1)
	h := s.Open(cc)
	s.Submit(h, []wire.ClientPacket{{Kind: wire.KindConnect, Connect: &wire.Connect{
		ConnectRequest: wire.ConnectRequest{TimeOut: 1500, Passwd: make([]byte, 16)}, HasReadOnly: true}}})
	req := f.expect(wire.PacketRequest, -1)
	rh, body, err := wire.ParseRequestPacket(req.Data)
	if err != nil || rh.Type != wire.OpCreateSession || rh.Cxid != 0 || len(body) != 4 || binary.BigEndian.Uint32(body) != 1500 {
		t.Fatalf("createSession REQUEST %+v body %x err %v", rh, body, err)
	}
	if int64(rh.SessionID)>>56 != 2 {
		t.Fatalf("session id %v does not carry myid 2 in its top byte", rh.SessionID)
	}
	if req.AuthInfo != nil {
		// Java's createSession Request has no auth info: a null list.
		t.Fatalf("createSession REQUEST authinfo %+v, want none (null)", req.AuthInfo)
	}
	sid := rh.SessionID
	f.sendTxn(wire.PacketProposal, txn(0x100000004, sid, 0, wire.OpCreateSession, &wire.CreateSessionTxn{TimeOut: 1500}))
	f.expect(wire.PacketAck, 0x100000004)
	f.send(wire.QuorumPacket{Type: wire.PacketCommit, Zxid: 0x100000004})
	resp := cc.frame(t)
	var cr wire.ConnectResponse
	if err := jute.Unmarshal(resp[:len(resp)-1], &cr); err != nil || cr.SessionID != sid || cr.TimeOut != 1500 {
		t.Fatalf("ConnectResponse %+v %v", cr, err)
	}
	// A write is forwarded with the raw record and answered at its commit.
	cbody := jute.Marshal(&wire.CreateRequest{Path: "/d", Data: []byte("x"), ACL: []wire.ACL{{Perms: 31, ID: wire.ID{Scheme: "world", ID: "anyone"}}}})
	s.Submit(h, []wire.ClientPacket{{Kind: wire.KindRequest, Header: wire.RequestHeader{Xid: 1, Type: wire.OpCreate},
		Body: &wire.CreateRequest{Path: "/d"}, Raw: cbody}})
	// A read behind it waits for it.
	s.Submit(h, []wire.ClientPacket{{Kind: wire.KindRequest, Header: wire.RequestHeader{Xid: 2, Type: wire.OpExists},
		Body: &wire.ExistsRequest{Path: "/d"}}})
	req = f.expect(wire.PacketRequest, -1)
	rh, body, _ = wire.ParseRequestPacket(req.Data)
	if rh.SessionID != sid || rh.Cxid != 1 || rh.Type != wire.OpCreate || !bytes.Equal(body, cbody) {
		t.Fatalf("create REQUEST %+v body %x", rh, body)
	}
	if len(req.AuthInfo) != 1 || req.AuthInfo[0].Scheme != "ip" {
		t.Fatalf("create REQUEST authinfo %+v, want the client's ip id", req.AuthInfo)
	}
	f.sendTxn(wire.PacketProposal, createTxn(0x100000005, sid, 1, "/d", 5))
	f.expect(wire.PacketAck, 0x100000005)
	f.send(wire.QuorumPacket{Type: wire.PacketCommit, Zxid: 0x100000005})
	if rep, _ := cc.reply(t); rep.Xid != 1 || rep.Err != wire.ErrOk || rep.Zxid != 0x100000005 {
		t.Fatalf("create reply %+v", rep)
	}
	if rep, _ := cc.reply(t); rep.Xid != 2 || rep.Err != wire.ErrOk {
		t.Fatalf("exists reply %+v (must see the forwarded create)", rep)
	}
	// PING: the reply carries the touched session, zxid and authinfo echoed.
	f.send(wire.QuorumPacket{Type: wire.PacketPing, Zxid: 0x100000005})
	ping := f.expect(wire.PacketPing, 0x100000005)
	touches, err := wire.ParseTouchTable(ping.Data)
	if err != nil || len(touches) != 1 || touches[0].SessionID != sid || touches[0].TimeoutMs != 1500 {
		t.Fatalf("PING touch table %+v %v", touches, err)
	}
	// Nothing touched since: an empty table that is not null.
	f.send(wire.QuorumPacket{Type: wire.PacketPing, Zxid: 0x100000005})
	ping = f.expect(wire.PacketPing, 0x100000005)
	if ping.Data == nil || len(ping.Data) != 0 {
		t.Fatalf("idle PING reply data %v, want empty non-null", ping.Data)
	}
	// sync is forwarded and completed by SYNC.
	sbody := jute.Marshal(&wire.SyncRequest{Path: "/d"})
	s.Submit(h, []wire.ClientPacket{{Kind: wire.KindRequest, Header: wire.RequestHeader{Xid: 3, Type: wire.OpSync},
		Body: &wire.SyncRequest{Path: "/d"}, Raw: sbody}})
	req = f.expect(wire.PacketRequest, -1)
	if rh, _, _ = wire.ParseRequestPacket(req.Data); rh.Type != wire.OpSync || rh.Cxid != 3 {
		t.Fatalf("sync REQUEST %+v", rh)
	}
	f.send(wire.QuorumPacket{Type: wire.PacketSync, Zxid: 0})
	if rep, _ := cc.reply(t); rep.Xid != 3 || rep.Err != wire.ErrOk || rep.Zxid != 0x100000005 {
		t.Fatalf("sync reply %+v", rep)
	}
	// A commit out of order makes the learner drop the leader (Java exits
	// with UNMATCHED_TXN_COMMIT) and close its clients.
	f.sendTxn(wire.PacketProposal, createTxn(0x100000006, 0, 0, "/e", 6))
	f.expect(wire.PacketAck, 0x100000006)
	f.send(wire.QuorumPacket{Type: wire.PacketCommit, Zxid: 0x100000007})
	f.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := wire.ReadQuorumPacket(f.br, jute.QuorumMaxBuffer); err == nil {
		t.Fatal("learner kept the link after a mismatched COMMIT")
	}
	// It comes back, with the logged proposal applied (lastLoggedZxid), and
	// a TRUNC rolls that proposal back.
	f.handshake(1, 0x100000000, 0x100000006, -1)
	f.send(wire.QuorumPacket{Type: wire.PacketTrunc, Zxid: 0x100000005})
	f.send(wire.QuorumPacket{Type: wire.PacketNewLeader, Zxid: 0x100000000, Data: []byte(s.cfg.Quorum.Text())})
	f.expect(wire.PacketAck, 0x100000000)
	f.send(wire.QuorumPacket{Type: wire.PacketUpToDate, Zxid: -1})
	f.expect(wire.PacketAck, 0x100000000)
	// The SNAP-or-TRUNC snapshot at NEWLEADER is at the truncation point,
	// and /e is gone from the tree.
	waitFor(t, func() bool { return s.qs.Mode() == "follower" })
	snaps, _ := storage.ListSnapshots(storage.VersionDir(dir))
	if len(snaps) == 0 || snaps[0].Zxid != 0x100000005 {
		t.Fatalf("snapshots %+v, want the newest at 0x100000005", snaps)
	}
	var last wire.Zxid
	logs, _ = storage.ListLogs(storage.VersionDir(dir))
	lr = storage.NewLogReader(logs, 0)
	for {
		rec, err := lr.Next()
		if err != nil {
			break
		}
		last = rec.Entry.Hdr.Zxid
	}
	lr.Close()
	if last != 0x100000005 {
		t.Fatalf("txn log ends at %v after TRUNC, want 0x100000005", last)
	}
}

func TestLearnerSnapSync(t *testing.T) {
	dir := t.TempDir()
	f := newFakeLeader(t)
	s := startLearner(t, learnerConfig(t, dir, f.port(), true))
	f.accept()
	if fi := f.read(); fi.Type != wire.PacketObserverInfo {
		t.Fatalf("observer sent %v", fi.Type)
	}
	f.send(wire.QuorumPacket{Type: wire.PacketLeaderInfo, Zxid: 0x300000000, Data: wire.EpochData(wire.ProtocolVersion)})
	f.expect(wire.PacketAckEpoch, 0)
	// SNAP stream: sessions, ACL map, nodes (root as ""), "/", signature.
	w := jute.NewWriter(nil)
	w.Int(1)
	w.Long(0x500)
	w.Int(1500)
	w.Int(1)
	w.Long(1)
	w.Int(1)
	w.Int(31)
	w.String("digest")
	w.String("u:x")
	node := func(path string, acl int64, st wire.StatPersisted) {
		w.String(path)
		w.Buffer([]byte("d"))
		w.Long(acl)
		st.Encode(w)
	}
	node("", -1, wire.StatPersisted{Pzxid: 0x200000002, Cversion: 2})
	node("/zookeeper", -1, wire.StatPersisted{})
	node("/x", 1, wire.StatPersisted{Czxid: 0x200000001, Mzxid: 0x200000001, Pzxid: 0x200000001})
	node("/x/eph", -1, wire.StatPersisted{Czxid: 0x200000002, Mzxid: 0x200000002, Pzxid: 0x200000002, EphemeralOwner: 0x500})
	w.String("/")
	w.String("BenWasHere")
	f.send(wire.QuorumPacket{Type: wire.PacketSnap, Zxid: 0x200000002})
	f.c.Write(w.Bytes())
	// INFORM before NEWLEADER is applied in memory.
	f.sendTxn(wire.PacketInform, createTxn(0x200000003, 0x500, 5, "/y", 3))
	f.send(wire.QuorumPacket{Type: wire.PacketNewLeader, Zxid: 0x300000000, Data: []byte(s.cfg.Quorum.Text())})
	f.expect(wire.PacketAck, 0x300000000)
	snaps, _ := storage.ListSnapshots(storage.VersionDir(dir))
	if len(snaps) == 0 || snaps[0].Zxid != 0x200000003 {
		t.Fatalf("snapshot at NEWLEADER: %+v, want 0x200000003", snaps)
	}
	// INFORM after NEWLEADER waits for UPTODATE.
	f.sendTxn(wire.PacketInform, createTxn(0x300000001, 0x500, 6, "/z", 4))
	f.send(wire.QuorumPacket{Type: wire.PacketUpToDate, Zxid: -1})
	f.expect(wire.PacketAck, 0x300000000)
	waitFor(t, func() bool { return s.qs.Mode() == "observer" })
	// Broadcast INFORM is applied; observers never ACK proposals.
	f.sendTxn(wire.PacketInform, createTxn(0x300000002, 0x500, 7, "/w", 5))
	f.send(wire.QuorumPacket{Type: wire.PacketPing, Zxid: 0x300000002})
	f.expect(wire.PacketPing, 0x300000002)
	cc := newFakeSink(1)
	h := s.Open(cc)
	s.Submit(h, []wire.ClientPacket{{Kind: wire.KindConnect, Connect: &wire.Connect{
		ConnectRequest: wire.ConnectRequest{TimeOut: 1500, SessionID: 0x500, Passwd: sessionPassword(0x500)}, HasReadOnly: true}}})
	rv := f.expect(wire.PacketRevalidate, -1)
	if id, to, err := wire.ParseRevalidateRequest(rv.Data); err != nil || id != 0x500 || to != 1500 || len(rv.Data) != 12 {
		t.Fatalf("REVALIDATE %x", rv.Data)
	}
	f.send(wire.QuorumPacket{Type: wire.PacketRevalidate, Zxid: -1, Data: wire.AppendRevalidateReply(nil, 0x500, true)})
	cc.frame(t)
	for _, p := range []string{"/x", "/x/eph", "/y", "/z", "/w"} {
		s.Submit(h, []wire.ClientPacket{{Kind: wire.KindRequest, Header: wire.RequestHeader{Xid: 1, Type: wire.OpExists},
			Body: &wire.ExistsRequest{Path: p}}})
		if rep, _ := cc.reply(t); rep.Err != wire.ErrOk {
			t.Fatalf("%s: %v after SNAP sync", p, rep.Err)
		}
	}
	if e, _ := storage.ReadEpoch(storage.VersionDir(dir), storage.CurrentEpochFile); e != 3 {
		t.Fatalf("currentEpoch %d, want 3", e)
	}
}

func sessionPassword(id wire.SessionID) []byte { return session.Password(id) }

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A link closed by its writer (a failed write to a dead leader) must end
// following even though the reader never reports an error: the follower
// goes looking and, with the static elector, registers with the leader
// again. (A follower once stayed FOLLOWING a dead leader this way.)
func TestLearnerLinkClosedByWriterEndsFollowing(t *testing.T) {
	dir := t.TempDir()
	f := newFakeLeader(t)
	s := startLearner(t, learnerConfig(t, dir, f.port(), false))
	f.handshake(1, 0, 0, 0)
	f.send(wire.QuorumPacket{Type: wire.PacketDiff, Zxid: 0})
	f.send(wire.QuorumPacket{Type: wire.PacketNewLeader, Zxid: 0x100000000, Data: []byte(s.cfg.Quorum.Text())})
	f.expect(wire.PacketAck, 0x100000000)
	f.send(wire.QuorumPacket{Type: wire.PacketUpToDate, Zxid: -1})
	f.expect(wire.PacketAck, 0x100000000)
	waitFor(t, func() bool { return s.qs.Mode() == "follower" })
	first := f.c
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Call(ctx, func() { s.qs.peer.learner.link.close("write to leader failed: test") }); err != nil {
		t.Fatal(err)
	}
	f.accept()
	if f.c == first {
		t.Fatal("no new connection")
	}
	if fi := f.read(); fi.Type != wire.PacketFollowerInfo {
		t.Fatalf("after the link closed the learner sent %v, want FOLLOWERINFO", fi.Type)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	var drops int64
	s.Call(ctx2, func() { drops = s.qs.peer.stats.linkDrops })
	if drops != 1 {
		t.Fatalf("link drops %d, want 1", drops)
	}
}

// A follower whose leader goes away looks for a new one after its short
// backoff, not at its next tick: with tickTime 10 minutes (ticks every 5)
// it must be back at the leader's door at once. Java's QuorumPeer starts
// its election as soon as it is LOOKING; zkgo once waited for the tick,
// which made the first write after a leader kill take up to a second more
// than Java's (tickTime/2 with the usual 2000).
func TestLearnerLooksAgainWithoutWaitingForATick(t *testing.T) {
	dir := t.TempDir()
	f := newFakeLeader(t)
	cfg := learnerConfig(t, dir, f.port(), false)
	cfg.TickTime = 600_000
	cfg.InitLimit, cfg.SyncLimit = 2, 2
	s := startLearner(t, cfg)
	f.handshake(1, 0, 0, 0)
	f.send(wire.QuorumPacket{Type: wire.PacketDiff, Zxid: 0})
	f.send(wire.QuorumPacket{Type: wire.PacketNewLeader, Zxid: 0x100000000, Data: []byte(s.cfg.Quorum.Text())})
	f.expect(wire.PacketAck, 0x100000000)
	f.send(wire.QuorumPacket{Type: wire.PacketUpToDate, Zxid: -1})
	f.expect(wire.PacketAck, 0x100000000)
	waitFor(t, func() bool { return s.qs.Mode() == "follower" })
	first := f.c
	first.Close() // the leader is gone
	f.accept()    // within 10 s, far less than the 5 minutes to the next tick
	if f.c == first {
		t.Fatal("no new connection")
	}
	if fi := f.read(); fi.Type != wire.PacketFollowerInfo {
		t.Fatalf("after the leader went away the learner sent %v, want FOLLOWERINFO", fi.Type)
	}
}
