package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/internal/rawzk"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/proxy"
	"github.com/zkgo/zkgo/wire"
)

// The byte-corruption sweep: a small data directory written by a real
// zkgo server through the client protocol, every write acknowledged and
// tracked, is damaged one byte at a time (every position of the newest
// txn log, of an older one, and of a snapshot) and recovery runs on it
// in-process. Each time it must either refuse to start with the
// operator's error and leave the files as they were, or come back with
// exactly what was acknowledged, plus at most the one record that reached
// the disk but was never acknowledged (the only thing a torn tail may
// take away). Nothing acknowledged may ever be silently lost.

// sweepServer is a zkgo with a client front end on 127.0.0.1:0.
type sweepServer struct {
	srv  *Server
	fe   *proxy.Frontend
	addr string
}

func sweepConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.ClientPort = 0
	cfg.ClientPortAddress = "127.0.0.1"
	cfg.PreAllocSizeKB = 16
	return cfg
}

func startSweepServer(t *testing.T, dir string) *sweepServer {
	t.Helper()
	srv, err := New(sweepConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	fe, err := proxy.New(proxy.Config{Addr: "127.0.0.1:0", Backend: srv, MaxFrame: srv.Config().MaxBuffer, Loops: 1})
	if err == nil {
		err = fe.Start()
	}
	if err != nil {
		_ = srv.Stop(context.Background())
		t.Fatal(err)
	}
	ss := &sweepServer{srv: srv, fe: fe, addr: fe.Addr().String()}
	t.Cleanup(ss.stop)
	return ss
}

func (ss *sweepServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = ss.fe.Stop(ctx)
	_ = ss.srv.Stop(ctx)
}

// ackedWrites runs a mix of writes (create, setData, multi with an
// ephemeral, delete); each must be acknowledged, and model records the
// data every acknowledged node must have.
func ackedWrites(t *testing.T, addr, prefix string, n int, model map[string]string) {
	t.Helper()
	c, err := rawzk.Dial(addr, rawzk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	check := func(h wire.ReplyHeader, err error) {
		t.Helper()
		if err != nil || h.Err != wire.ErrOk {
			t.Fatalf("write not acknowledged: %v %v", h.Err, err)
		}
	}
	dir := "/" + prefix
	check(c.Do(wire.OpCreate, &wire.CreateRequest{Path: dir, Data: []byte(prefix), ACL: tree.OpenACLUnsafe}, nil))
	model[dir] = prefix
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("%s/n%02d", dir, i)
		check(c.Do(wire.OpCreate, &wire.CreateRequest{Path: p, Data: []byte("v0" + p), ACL: tree.OpenACLUnsafe}, nil))
		model[p] = "v0" + p
		switch i % 3 {
		case 1:
			check(c.Do(wire.OpSetData, &wire.SetDataRequest{Path: p, Data: []byte("v1" + p), Version: -1}, nil))
			model[p] = "v1" + p
		case 2:
			m := &wire.MultiRequest{Ops: []wire.MultiOp{
				{Type: wire.OpSetData, Op: &wire.SetDataRequest{Path: p, Data: []byte("v2" + p), Version: 0}},
				{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: p + "e", ACL: tree.OpenACLUnsafe, Flags: int32(wire.ModeEphemeral)}},
			}}
			var resp wire.MultiResponse
			check(c.Do(wire.OpMulti, m, &resp))
			for _, r := range resp.Results {
				if r.Type == wire.OpError {
					t.Fatalf("multi op failed: %v", r.Err)
				}
			}
			model[p], model[p+"e"] = "v2"+p, ""
		}
	}
	p := dir + "/n00"
	check(c.Do(wire.OpDelete, &wire.DeleteRequest{Path: p, Version: -1}, nil))
	delete(model, p)
}

// dbState summarises a loaded database.
type dbState struct {
	zxid   wire.Zxid
	digest uint64
	nodes  int
}

func loadState(dir string) (dbState, *database, error) {
	s, err := New(sweepConfig(dir))
	if err != nil {
		return dbState{}, nil, err
	}
	db, err := s.dur.loadDatabase()
	if err != nil {
		return dbState{}, nil, err
	}
	return dbState{zxid: db.tree.LastZxid, digest: db.tree.Digest(), nodes: db.tree.Len()}, db, nil
}

// dirFiles snapshots the regular files of a directory.
func dirFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// restoreDir makes dir hold exactly files.
func restoreDir(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if _, ok := files[e.Name()]; !ok {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// appendRecord appends a txn record after the last record of a log file
// (in its preallocated zeros), as a write that reached the disk but whose
// fsync never completed, so it was never acknowledged. It returns the
// record's offset and end.
func appendRecord(t *testing.T, path string, e *wire.TxnEntry) (int64, int64) {
	t.Helper()
	lr := storage.NewLogReader([]storage.LogFile{{Path: path}}, 0)
	end := int64(16)
	for {
		rec, err := lr.Next()
		if err != nil {
			break
		}
		end = rec.End
	}
	lr.Close()
	txn := wire.AppendTxnEntry(nil, e)
	rec := make([]byte, 12, 13+len(txn))
	binary.BigEndian.PutUint64(rec, uint64(adler32.Checksum(txn)))
	binary.BigEndian.PutUint32(rec[8:], uint32(len(txn)))
	rec = append(append(rec, txn...), 'B')
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(rec, end); err != nil {
		t.Fatal(err)
	}
	return end, end + int64(len(rec))
}

func TestRecoveryByteCorruptionSweep(t *testing.T) {
	dir := t.TempDir()
	v2 := storage.VersionDir(dir)
	model := map[string]string{}

	// Two server runs: the restart writes a snapshot in between, so the
	// directory holds snapshot.0, a later snapshot, and two logs.
	ss := startSweepServer(t, dir)
	ackedWrites(t, ss.addr, "a", 8, model)
	ss.stop()
	ss = startSweepServer(t, dir)
	deadline := time.Now().Add(10 * time.Second)
	for {
		snaps, _ := storage.ListSnapshots(v2)
		if len(snaps) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot after the restart: %+v", snaps)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ackedWrites(t, ss.addr, "b", 8, model)
	ss.stop()

	logs, _ := storage.ListLogs(v2)
	snaps, _ := storage.ListSnapshots(v2)
	if len(logs) != 2 || len(snaps) != 2 {
		t.Fatalf("want 2 logs and 2 snapshots, have %+v %+v", logs, snaps)
	}
	acked, _, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	// One more record, on disk but never acknowledged.
	newest := logs[1].Path
	unackedAt, unackedEnd := appendRecord(t, newest, &wire.TxnEntry{
		Hdr:  wire.TxnHeader{ClientID: 0x77, Cxid: 1, Zxid: acked.zxid + 1, Time: time.Now().UnixMilli(), Type: wire.OpCreate},
		Body: &wire.CreateTxn{Path: "/unacked", Data: []byte("never acknowledged"), ACL: tree.OpenACLUnsafe, ParentCVersion: 1},
	})
	full, _, err := loadState(dir)
	if err != nil || full.zxid != acked.zxid+1 {
		t.Fatalf("with the unacknowledged record: %+v %v", full, err)
	}
	// The acknowledged state holds every acknowledged write.
	orig := dirFiles(t, v2)
	_, adb, _ := func() (dbState, *database, error) {
		defer restoreDir(t, v2, orig)
		f, _ := os.OpenFile(newest, os.O_WRONLY, 0)
		f.Truncate(unackedAt)
		f.Close()
		return loadState(dir)
	}()
	for p, want := range model {
		if n := adb.tree.Get(p); n == nil || string(n.Data()) != want {
			t.Fatalf("acknowledged %s missing from the acknowledged state", p)
		}
	}

	type tally struct{ refused, same, torn int }
	// run flips one byte of name at pos and checks what recovery does.
	// [tornFrom, tornEnd) is the unacknowledged record in that file (empty:
	// none); mustRefuse: no state is acceptable.
	run := func(tl *tally, name string, pos int64, flip byte, tornFrom, tornEnd int64, mustRefuse bool) {
		t.Helper()
		path := filepath.Join(v2, name)
		want := bytes.Clone(orig[name])
		want[pos] ^= flip
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt(want[pos:pos+1], pos); err != nil {
			t.Fatal(err)
		}
		got, _, err := loadState(dir)
		if err != nil {
			msg := err.Error()
			if !strings.Contains(msg, "refusing to start") || !strings.Contains(msg, "zkgo txnlog verify") ||
				!strings.Contains(msg, name) {
				t.Fatalf("%s byte %d: refused without the operator's error: %v", name, pos, err)
			}
			// Nothing changed on disk.
			if b, _ := os.ReadFile(path); !bytes.Equal(b, want) {
				t.Fatalf("%s byte %d: refused but changed the file", name, pos)
			}
			if ents, _ := os.ReadDir(v2); len(ents) != len(orig) {
				t.Fatalf("%s byte %d: refused but added or removed files", name, pos)
			}
			tl.refused++
			if _, err := f.WriteAt(orig[name][pos:pos+1], pos); err != nil {
				t.Fatal(err)
			}
			return
		}
		if mustRefuse {
			t.Fatalf("%s byte %d: started at %v, want a refusal", name, pos, got.zxid)
		}
		switch {
		case got == full:
			tl.same++
			if _, err := f.WriteAt(orig[name][pos:pos+1], pos); err != nil {
				t.Fatal(err)
			}
		case got == acked && pos >= tornFrom && pos < tornEnd:
			// A torn tail cut: only the unacknowledged record, kept aside.
			side, _ := filepath.Glob(filepath.Join(v2, "torn-*"))
			if len(side) != 1 {
				t.Fatalf("%s byte %d: torn tail cut without a side file (%v)", name, pos, side)
			}
			tl.torn++
			restoreDir(t, v2, orig)
		default:
			t.Fatalf("%s byte %d: came back at %+v; acknowledged %+v (with the unacknowledged record %+v)",
				name, pos, got, acked, full)
		}
	}

	rng := rand.New(rand.NewPCG(14, 1))
	flip := func() byte { return byte(1 + rng.IntN(255)) }
	sweepFile := func(label, name string, tornFrom, tornEnd int64, mustRefuse bool, positions []int64) {
		var tl tally
		for _, pos := range positions {
			run(&tl, name, pos, flip(), tornFrom, tornEnd, mustRefuse)
		}
		t.Logf("%s (%s): %d positions: %d refused, %d unchanged, %d torn tail cut", label, name, len(positions),
			tl.refused, tl.same, tl.torn)
	}
	every := func(from, to int64) []int64 {
		var out []int64
		for p := from; p < to; p++ {
			out = append(out, p)
		}
		return out
	}
	newestName := filepath.Base(newest)
	// Every byte of the newest log's data, and a sample of its padding.
	pos := every(0, unackedEnd)
	for i := 0; i < 64; i++ {
		pos = append(pos, unackedEnd+rng.Int64N(int64(len(orig[newestName]))-unackedEnd))
	}
	sweepFile("newest log", newestName, unackedAt, unackedEnd, false, pos)

	// Every byte of the newest snapshot: recovery falls back to the older
	// snapshot and the logs, which cover everything.
	snapName := filepath.Base(snaps[0].Path)
	sweepFile("newest snapshot", snapName, -1, -1, false, every(0, int64(len(orig[snapName]))))

	// Without the newer snapshot, the older log is replayed: every byte of
	// its data (it is not the newest, so nothing in it is a torn tail).
	restoreDir(t, v2, orig)
	if err := os.Remove(snaps[0].Path); err != nil {
		t.Fatal(err)
	}
	orig = dirFiles(t, v2)
	oldName := filepath.Base(logs[0].Path)
	oldEnd := int64(bytes.LastIndexByte(bytes.TrimRight(orig[oldName], "\x00"), 'B') + 1)
	sweepFile("older log", oldName, -1, -1, false, every(0, oldEnd))

	// A damaged snapshot whose txns the logs no longer hold (purged):
	// recovery must refuse, never fall back to a state that misses them.
	restoreDir(t, v2, orig)
	ss = startSweepServer(t, dir) // writes a new snapshot after replaying
	deadline = time.Now().Add(10 * time.Second)
	for {
		if s, _ := storage.ListSnapshots(v2); len(s) >= 2 && s[0].Zxid >= full.zxid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no snapshot after the restart")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ss.stop()
	full, _, err = loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	snaps, _ = storage.ListSnapshots(v2)
	logs, _ = storage.ListLogs(v2)
	for _, l := range logs {
		if l.Zxid <= snaps[0].Zxid {
			os.Remove(l.Path) // purged: only the newest snapshot holds these txns
		}
	}
	orig = dirFiles(t, v2)
	snapName = filepath.Base(snaps[0].Path)
	var sample []int64
	for i := 0; i < 300; i++ {
		sample = append(sample, rng.Int64N(int64(len(orig[snapName]))))
	}
	sweepFile("snapshot without covering logs", snapName, -1, -1, true, sample)
}
