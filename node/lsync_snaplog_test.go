package node

import (
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

// Issue 16: a follower synced by SNAP at X must not keep, once the
// snapshot at NEWLEADER is durable, the txns it logged up to X: some are
// of another branch of the history (never committed), and once it leads,
// a DIFF read from its log would send them and skip the committed txns
// the snapshot holds. Its own older snapshots go too (the logs after them
// are gone: falling back to one would load a history with a hole).
func TestLearnerSnapSyncDropsTheLogTheSnapshotSupersedes(t *testing.T) {
	dir := t.TempDir()
	f := newFakeLeader(t)
	cfg := learnerConfig(t, dir, f.port(), false)
	vdir := storage.VersionDir(dir)
	// The follower's disk: a snapshot at 1:2, then 1:1..1:5 logged in
	// epoch 1, of which the leader of epoch 2 has 1:1..1:3 only.
	seedLearnerDisk(t, cfg, 2, 5)
	s := startLearner(t, cfg)
	f.handshake(3, 0x100000000, 0x100000005, 1)
	// SNAP at 2:2.
	w := snapStream(wire.StatPersisted{Pzxid: 0x200000002, Cversion: 2}, []snapNode{
		{"/zookeeper", 0}, {"/a", 0x200000001}, {"/b", 0x200000002}})
	f.send(wire.QuorumPacket{Type: wire.PacketSnap, Zxid: 0x200000002})
	f.c.Write(w.Bytes())
	f.send(wire.QuorumPacket{Type: wire.PacketNewLeader, Zxid: 0x300000000, Data: []byte(s.cfg.Quorum.Text())})
	f.expect(wire.PacketAck, 0x300000000)

	// At the NEWLEADER ACK the snapshot at 2:2 is durable, and nothing
	// of the follower's own history below it is left.
	snaps, _ := storage.ListSnapshots(vdir)
	if len(snaps) != 1 || snaps[0].Zxid != 0x200000002 {
		t.Fatalf("snapshots after the SNAP sync: %+v, want only the one at 0x200000002", snaps)
	}
	logs, _ := storage.ListLogs(vdir)
	lr := storage.NewLogReader(logs, 0)
	for {
		rec, err := lr.Next()
		if err != nil {
			break
		}
		if rec.Entry.Hdr.Zxid <= 0x200000002 {
			lr.Close()
			t.Fatalf("txn %v (%s) still logged after the SNAP sync at 0x200000002", rec.Entry.Hdr.Zxid, rec.File)
		}
	}
	lr.Close()
	f.send(wire.QuorumPacket{Type: wire.PacketUpToDate, Zxid: -1})
	f.expect(wire.PacketAck, 0x300000000)
	waitFor(t, func() bool { return s.qs.Mode() == "follower" })

	// Broadcast goes on in a new log file, and a restart loads the
	// snapshot plus that log.
	f.sendTxn(wire.PacketProposal, createTxn(0x300000001, 0, 0, "/c", 3))
	f.expect(wire.PacketAck, 0x300000001)
	// (the ACK follows the fsync: the log holds 3:1 now)
	s2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db, err := s2.dur.loadDatabase()
	if err != nil {
		t.Fatal(err)
	}
	if db.tree.LastZxid != 0x300000001 {
		t.Fatalf("reloaded at %v, want 0x300000001", db.tree.LastZxid)
	}
	for _, p := range []string{"/old3", "/old4", "/old5"} {
		if db.tree.Get(p) != nil {
			t.Fatalf("%s of the old branch is back after a reload", p)
		}
	}
}

// seedLearnerDisk writes a learner's disk: the txns 1:1..1:last logged
// (creating /old1, /old2, ...), a snapshot with the first snapThrough of
// them applied (at 1:snapThrough, or 0), and both epochs 1.
func seedLearnerDisk(t *testing.T, cfg Config, snapThrough, last uint32) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := storage.OpenTxnLog(s.dur.logDir(), storage.Options{PreAllocBytes: 8192})
	if err != nil {
		t.Fatal(err)
	}
	db := &database{tree: tree.New(s.opts), sessions: map[wire.SessionID]int32{}}
	for c := uint32(1); c <= last; c++ {
		e := createTxn(wire.MakeZxid(1, c), 0, 0, "/old"+string(rune('0'+c)), int32(c))
		if err := l.Append(e); err != nil {
			t.Fatal(err)
		}
		if c <= snapThrough {
			applyToDatabase(db, e)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.dur.writeSnapshotOf(db.tree, databaseTail(db)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{storage.AcceptedEpochFile, storage.CurrentEpochFile} {
		if err := storage.WriteEpoch(s.dur.snapDir(), name, 1); err != nil {
			t.Fatal(err)
		}
	}
}

// Issue 16: a leader that has no txn at all (its committed log is empty,
// its last zxid 0) sends a learner that logged txns it never committed
// TRUNC 0, as Java's does. The learner drops every logged txn and syncs;
// before, storage.TruncateTo refused (its oldest log starts after 0+1) and
// the learner stopped, asking for its data directory to be wiped.
func TestLearnerTruncToZeroDropsEveryLoggedTxn(t *testing.T) {
	dir := t.TempDir()
	f := newFakeLeader(t)
	cfg := learnerConfig(t, dir, f.port(), false)
	seedLearnerDisk(t, cfg, 0, 3)
	s := startLearner(t, cfg)
	f.handshake(2, 0x100000000, 0x100000003, 1)
	f.send(wire.QuorumPacket{Type: wire.PacketTrunc, Zxid: 0})
	f.send(wire.QuorumPacket{Type: wire.PacketNewLeader, Zxid: 0x200000000, Data: []byte(s.cfg.Quorum.Text())})
	f.expect(wire.PacketAck, 0x200000000)
	vdir := storage.VersionDir(dir)
	logs, _ := storage.ListLogs(vdir)
	lr := storage.NewLogReader(logs, 0)
	if rec, err := lr.Next(); err == nil {
		lr.Close()
		t.Fatalf("txn %v (%s) still logged after TRUNC 0", rec.Entry.Hdr.Zxid, rec.File)
	}
	lr.Close()
	f.send(wire.QuorumPacket{Type: wire.PacketUpToDate, Zxid: -1})
	f.expect(wire.PacketAck, 0x200000000)
	waitFor(t, func() bool { return s.qs.Mode() == "follower" })
	f.sendTxn(wire.PacketProposal, createTxn(0x200000001, 0, 0, "/new", 1))
	f.expect(wire.PacketAck, 0x200000001)
	s2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db, err := s2.dur.loadDatabase()
	if err != nil {
		t.Fatal(err)
	}
	if db.tree.LastZxid != 0x200000001 || db.tree.Get("/new") == nil {
		t.Fatalf("reloaded at %v, want 0x200000001 with /new", db.tree.LastZxid)
	}
	for _, p := range []string{"/old1", "/old2", "/old3"} {
		if db.tree.Get(p) != nil {
			t.Fatalf("%s, truncated away, is back after a reload", p)
		}
	}
}

// Issue 16 (simulator seed 6030476): a learner synced by SNAP from a leader
// that never got its NEWLEADER quorum (no UPTODATE) can be told by the
// next leader to TRUNC below that snapshot: it held the old leader's
// uncommitted tail. The older snapshots and logs the SNAP superseded are
// gone, so the learner cannot rebuild its database at the TRUNC zxid.
// It used to claim the zxid anyway, with every txn after what was left on
// disk missing; it stops instead, and serves nothing.
func TestLearnerSnapWithoutUpToDateThenTruncBelowIt(t *testing.T) {
	dir := t.TempDir()
	f := newFakeLeader(t)
	cfg := learnerConfig(t, dir, f.port(), false)
	// A snapshot at 1:2, then 1:1..1:5 logged in epoch 1.
	seedLearnerDisk(t, cfg, 2, 5)
	s := startLearner(t, cfg)
	f.handshake(3, 0x100000000, 0x100000005, 1)
	// The leader of epoch 3 holds 1:1..1:6 (1:6 logged by nobody else)
	// and sends a SNAP at 1:6.
	nodes := []snapNode{{"/zookeeper", 0}}
	for c := uint32(1); c <= 5; c++ {
		nodes = append(nodes, snapNode{"/old" + string(rune('0'+c)), wire.MakeZxid(1, c)})
	}
	w := snapStream(wire.StatPersisted{Pzxid: 0x100000006, Cversion: 6}, append(nodes, snapNode{"/x", 0x100000006}))
	f.send(wire.QuorumPacket{Type: wire.PacketSnap, Zxid: 0x100000006})
	f.c.Write(w.Bytes())
	f.send(wire.QuorumPacket{Type: wire.PacketNewLeader, Zxid: 0x300000000, Data: []byte(s.cfg.Quorum.Text())})
	f.expect(wire.PacketAck, 0x300000000)
	// That leader never gets its quorum: the link goes, no UPTODATE.
	f.c.Close()
	// The next leader (epoch 4) has 1:1..1:5: TRUNC to 1:5.
	f.handshake(4, 0x300000000, 0x100000006, 3)
	f.send(wire.QuorumPacket{Type: wire.PacketTrunc, Zxid: 0x100000005})
	f.send(wire.QuorumPacket{Type: wire.PacketNewLeader, Zxid: 0x400000000, Data: []byte(s.cfg.Quorum.Text())})
	select {
	case <-s.Done():
	case <-time.After(20 * time.Second):
		var at wire.Zxid
		var missing []string
		call(t, s, func() {
			at = s.tree.LastZxid
			for c := uint32(1); c <= 5; c++ {
				if p := "/old" + string(rune('0'+c)); s.tree.Get(p) == nil {
					missing = append(missing, p)
				}
			}
		})
		t.Fatalf("the learner went on after a TRUNC to 0x100000005 it could not rebuild (tree at %v, missing %v)", at, missing)
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "reaches") {
		t.Fatalf("stopped with %v, want the TRUNC it could not rebuild", err)
	}
}

// Issue 16 (simulator seed 9288139): a follower whose log starts after its
// snapshot (the older files went with a SNAP's supersede) logged 2:1, 2:2
// that the next leader does not have; the leader TRUNCs it to 1:5, the
// snapshot's zxid. storage.TruncateTo refuses a zxid older than the oldest
// log, and the learner stopped (fatal: "not able to truncate the log"),
// again at every restart; with the snapshot at 1:5 the TRUNC is dropping
// every logged txn after it.
func TestLearnerTruncToItsSnapshotWithALaterLog(t *testing.T) {
	dir := t.TempDir()
	f := newFakeLeader(t)
	cfg := learnerConfig(t, dir, f.port(), false)
	{
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		db := &database{tree: tree.New(s.opts), sessions: map[wire.SessionID]int32{}}
		for c := uint32(1); c <= 5; c++ {
			applyToDatabase(db, createTxn(wire.MakeZxid(1, c), 0, 0, "/old"+string(rune('0'+c)), int32(c)))
		}
		if _, _, err := s.dur.writeSnapshotOf(db.tree, databaseTail(db)); err != nil {
			t.Fatal(err)
		}
		l, err := storage.OpenTxnLog(s.dur.logDir(), storage.Options{PreAllocBytes: 8192})
		if err != nil {
			t.Fatal(err)
		}
		for c := uint32(1); c <= 2; c++ {
			if err := l.Append(createTxn(wire.MakeZxid(2, c), 0, 0, "/new"+string(rune('0'+c)), int32(5+c))); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{storage.AcceptedEpochFile, storage.CurrentEpochFile} {
			if err := storage.WriteEpoch(s.dur.snapDir(), name, 2); err != nil {
				t.Fatal(err)
			}
		}
	}
	s := startLearner(t, cfg)
	f.handshake(3, 0x200000000, 0x200000002, 2)
	f.send(wire.QuorumPacket{Type: wire.PacketTrunc, Zxid: 0x100000005})
	f.send(wire.QuorumPacket{Type: wire.PacketNewLeader, Zxid: 0x300000000, Data: []byte(s.cfg.Quorum.Text())})
	f.expect(wire.PacketAck, 0x300000000)
	f.send(wire.QuorumPacket{Type: wire.PacketUpToDate, Zxid: -1})
	f.expect(wire.PacketAck, 0x300000000)
	waitFor(t, func() bool { return s.qs.Mode() == "follower" })
	call(t, s, func() {
		if s.tree.LastZxid != 0x100000005 || s.tree.Get("/old5") == nil || s.tree.Get("/new1") != nil {
			t.Errorf("after the TRUNC: tree at %v, /old5 %v, /new1 %v", s.tree.LastZxid, s.tree.Get("/old5") != nil, s.tree.Get("/new1") != nil)
		}
	})
}

// snapNode is a znode of snapStream: its path and the zxid that created it
// (0: none).
type snapNode struct {
	path string
	zxid wire.Zxid
}

// snapStream is the byte stream a leader sends after SNAP: no sessions, an
// empty ACL map, the root (stat root), then nodes (data "d"), "/" and the
// signature.
func snapStream(root wire.StatPersisted, nodes []snapNode) *jute.Writer {
	w := jute.NewWriter(nil)
	w.Int(0)
	w.Int(0)
	w.String("")
	w.Buffer([]byte("d"))
	w.Long(-1)
	root.Encode(w)
	for _, n := range nodes {
		w.String(n.path)
		w.Buffer([]byte("d"))
		w.Long(-1)
		st := wire.StatPersisted{Czxid: n.zxid, Mzxid: n.zxid, Pzxid: n.zxid}
		st.Encode(w)
	}
	w.String("/")
	w.String("BenWasHere")
	return w
}
