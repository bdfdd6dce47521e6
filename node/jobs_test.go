package node

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/node/watch"
	"github.com/zkgo/zkgo/wire"
)

// recordSink is a connection that keeps what it is sent.
type recordSink struct {
	id  uint64
	mu  sync.Mutex
	out []byte
}

func (r *recordSink) ID() uint64         { return r.id }
func (r *recordSink) RemoteAddr() string { return "127.0.0.1:1" }
func (r *recordSink) Send(b []byte, _ int) bool {
	r.mu.Lock()
	r.out = append(r.out, b...)
	r.mu.Unlock()
	return true
}
func (r *recordSink) Close(string) {}

func (r *recordSink) sent() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.out...)
}

func call(t *testing.T, s *Server, fn func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Call(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

// TestFanOutDeliversAcrossRounds: one change watched by more connections
// than a round notifies is delivered across rounds; until every event is
// out the txn does not count as applied (no reply can carry its zxid
// ahead of an event) and reads of its path wait, while reads of other
// paths do not.
func TestFanOutDeliversAcrossRounds(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.MaxClientCnxns = 0
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	const n = 3 * roundDeliveries
	sinks := make([]*recordSink, n)
	var p *proposal
	var before wire.Zxid
	call(t, s, func() {
		z := s.tree.LastZxid + 1
		e := wire.TxnEntry{Hdr: wire.TxnHeader{Zxid: z, Type: wire.OpCreate}, Body: &wire.CreateTxn{Path: "/w", ACL: tree.OpenACLUnsafe, ParentCVersion: -1}}
		s.tree.Apply(&e)
		s.zxid = z
		for i := range sinks {
			sinks[i] = &recordSink{id: uint64(100 + i)}
			cc := &clientConn{sink: sinks[i], id: sinks[i].id, remote: "127.0.0.1:1"}
			s.register(cc)
			cc.session = wire.SessionID(1000 + i)
			mode := watch.Standard
			if i%2 == 0 {
				mode = watch.Persistent
			}
			s.dataW.Add("/w", watch.Watcher(cc.id), mode)
			if i%3 == 0 {
				s.childW.Add("/w", watch.Watcher(cc.id), watch.Standard)
			}
		}
		before = s.tree.LastZxid
		p = &proposal{op: wire.OpSetData, start: time.Now(), entry: wire.TxnEntry{
			Hdr:  wire.TxnHeader{Zxid: s.nextZxid(), Type: wire.OpSetData},
			Body: &wire.SetDataTxn{Path: "/w", Data: []byte("x"), Version: 1}}}
		s.applyProposal(p)
		if s.applyJob == nil {
			t.Error("the events of 3 rounds were sent in one")
			return
		}
		if s.tree.LastZxid != before || p.applied {
			t.Errorf("the txn counts as applied before its events are out (last zxid %v, was %v)", s.tree.LastZxid, before)
		}
		if !s.readWaits("/w") || s.readWaits("/other") {
			t.Errorf("read barrier: /w waits %v, /other waits %v", s.readWaits("/w"), s.readWaits("/other"))
		}
	})
	wait := func() {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for done := false; !done; {
			call(t, s, func() { done = s.applyJob == nil })
			if time.Now().After(deadline) {
				t.Fatal("the events are still not out")
			}
		}
	}
	wait()
	call(t, s, func() {
		if s.tree.LastZxid != p.entry.Hdr.Zxid || !p.applied {
			t.Errorf("after the events: last zxid %v, applied %v", s.tree.LastZxid, p.applied)
		}
		if got := s.dataW.WatcherCountOf("/w"); got != n/2 {
			t.Errorf("%d data watches left on /w, want the %d persistent ones", got, n/2)
		}
	})
	events := func(i int) int {
		b := sinks[i].sent()
		k := 0
		for len(b) >= 4 {
			k++
			b = b[4+int(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3])):]
		}
		return k
	}
	for i := range sinks {
		if events(i) != 1 {
			t.Fatalf("connection %d got %d events for the setData, want 1", i, events(i))
		}
	}
	// The node goes: each connection watching it (data, child or both)
	// gets one NodeDeleted.
	call(t, s, func() {
		p = &proposal{op: wire.OpDelete, start: time.Now(), entry: wire.TxnEntry{
			Hdr: wire.TxnHeader{Zxid: s.nextZxid(), Type: wire.OpDelete}, Body: &wire.DeleteTxn{Path: "/w"}}}
		s.applyProposal(p)
	})
	wait()
	for i := range sinks {
		want := 1
		if i%2 != 0 && i%3 != 0 {
			want = 0 // its one-shot data watch fired already, and no child watch
		}
		if got := events(i) - 1; got != want {
			t.Fatalf("connection %d got %d events for the delete, want %d", i, got, want)
		}
	}
}
