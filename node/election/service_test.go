package election

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/wire"
)

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.ConsoleWriter{Out: testLogWriter{t}, NoColor: true, TimeFormat: "15:04:05.000"}).
		Level(zerolog.InfoLevel).With().Timestamp().Logger()
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func configText(members map[int64]Member) []byte {
	var b strings.Builder
	for id := int64(1); id <= int64(len(members))+10; id++ {
		m, ok := members[id]
		if !ok {
			continue
		}
		host, port, _ := net.SplitHostPort(m.Addr)
		typ := "participant"
		if !m.Voter {
			typ = "observer"
		}
		fmt.Fprintf(&b, "server.%d=%s:1:%s:%s\n", id, host, port, typ)
	}
	b.WriteString("version=0")
	return []byte(b.String())
}

type cluster struct {
	t         *testing.T
	members   map[int64]Member
	listeners map[int64]net.Listener
	svcs      map[int64]*Service
}

// newCluster allocates listeners for ids (voters unless in observers).
func newCluster(t *testing.T, ids []int64, observers ...int64) *cluster {
	c := &cluster{t: t, members: map[int64]Member{}, listeners: map[int64]net.Listener{}, svcs: map[int64]*Service{}}
	obs := map[int64]bool{}
	for _, o := range observers {
		obs[o] = true
	}
	for _, id := range ids {
		ln := listen(t)
		c.listeners[id] = ln
		c.members[id] = Member{ID: id, Addr: ln.Addr().String(), Voter: !obs[id]}
	}
	t.Cleanup(func() {
		for _, s := range c.svcs {
			_ = s.Close()
		}
		for _, ln := range c.listeners {
			_ = ln.Close()
		}
	})
	return c
}

func (c *cluster) config(id int64, canLead bool) Config {
	return Config{
		MyID:             id,
		Members:          c.members,
		ConfigText:       configText(c.members),
		Listener:         c.listeners[id],
		CanLead:          canLead,
		CnxTimeout:       time.Second,
		HandshakeTimeout: time.Second,
		Logger:           testLogger(c.t).With().Int64("node", id).Logger(),
	}
}

func (c *cluster) start(id int64, canLead bool) *Service {
	c.t.Helper()
	s, err := Start(c.config(id, canLead))
	if err != nil {
		c.t.Fatal(err)
	}
	c.svcs[id] = s
	return s
}

type lookResult struct {
	id  int64
	out Outcome
	err error
}

func look(ctx context.Context, s *Service, id int64, zxid wire.Zxid, epoch int64, out chan<- lookResult) {
	o, err := s.LookForLeader(ctx, zxid, epoch)
	out <- lookResult{id: id, out: o, err: err}
}

func TestServicesElectHighest(t *testing.T) {
	c := newCluster(t, []int64{1, 2, 3})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res := make(chan lookResult, 3)
	zxids := map[int64]wire.Zxid{1: 0x100000007, 2: 0x100000009, 3: 0x100000008}
	for _, id := range []int64{1, 2, 3} {
		c.start(id, true)
	}
	// 2 starts looking first, and 1 and 3 only once its vote has reached
	// them: otherwise, on a loaded machine, 1 and 3 can agree on 3 (a
	// quorum) and end the election before 2 says anything, which is FLE
	// working as designed. 1 and 3 then start together (simultaneous dials).
	go look(ctx, c.svcs[2], 2, zxids[2], 1, res)
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range []int64{1, 3} {
		for c.svcs[id].Stats().NotificationsReceived == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%d: 2's vote did not arrive", id)
			}
			time.Sleep(time.Millisecond)
		}
	}
	for _, id := range []int64{1, 3} {
		go look(ctx, c.svcs[id], id, zxids[id], 1, res)
	}
	for range 3 {
		r := <-res
		if r.err != nil {
			t.Fatalf("%d: %v", r.id, r.err)
		}
		want := wire.ServerFollowing
		if r.id == 2 {
			want = wire.ServerLeading
		}
		if r.out.State != want || r.out.Vote.Leader != 2 || r.out.Vote.Zxid != 0x100000009 || r.out.Vote.PeerEpoch != 1 {
			t.Fatalf("%d: %+v", r.id, r.out)
		}
	}
	for id, s := range c.svcs {
		if st := s.Stats(); st.State == wire.ServerLooking || st.Vote.Leader != 2 || st.Elections != 1 {
			t.Errorf("%d: stats %+v", id, st)
		}
	}
	// One connection per pair, once simultaneous dials have settled (an
	// acceptor that hears from a smaller sid drops its link and calls back).
	deadline = time.Now().Add(5 * time.Second)
	for id, s := range c.svcs {
		for s.Stats().Connections != 2 {
			if time.Now().After(deadline) {
				t.Fatalf("%d: %d connections", id, s.Stats().Connections)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func TestServiceCanLeadFalseFollowsEqualHistory(t *testing.T) {
	c := newCluster(t, []int64{1, 2, 3})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res := make(chan lookResult, 2)
	go look(ctx, c.start(3, false), 3, 0x100000005, 1, res)
	go look(ctx, c.start(1, true), 1, 0x100000005, 1, res)
	got := map[int64]Outcome{}
	for range 2 {
		r := <-res
		if r.err != nil {
			t.Fatalf("%d: %v", r.id, r.err)
		}
		got[r.id] = r.out
	}
	if got[1].State != wire.ServerLeading || got[3].State != wire.ServerFollowing || got[3].Vote.Leader != 1 {
		t.Fatalf("%+v", got)
	}
	if c.svcs[3].Stats().WouldWin != 0 {
		t.Fatal("would-win with a covering peer")
	}
}

func TestServiceCanLeadFalseFreshestDoesNotVote(t *testing.T) {
	c := newCluster(t, []int64{1, 2, 3})
	s3 := c.start(3, false)
	s1 := c.start(1, true)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	res := make(chan lookResult, 2)
	go look(ctx, s3, 3, 0x100000009, 1, res)
	go look(ctx, s1, 1, 0x100000005, 1, res)
	for range 2 {
		r := <-res
		if r.err != context.DeadlineExceeded {
			t.Fatalf("%d decided: %+v %v", r.id, r.out, r.err)
		}
	}
	if w := s3.Stats().WouldWin; w != 1 {
		t.Fatalf("would-win %d", w)
	}
	if st := s3.Stats(); st.State != wire.ServerLooking {
		t.Fatalf("%+v", st)
	}
	// 2 comes up: 1 and 2 elect 2 (equal history, higher sid) and 3
	// follows, via a new round.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	res2 := make(chan lookResult, 3)
	go look(ctx2, s1, 1, 0x100000005, 1, res2)
	go look(ctx2, c.start(2, true), 2, 0x100000005, 1, res2)
	go look(ctx2, s3, 3, 0x100000009, 1, res2)
	for range 3 {
		r := <-res2
		if r.err != nil || r.out.Vote.Leader != 2 {
			t.Fatalf("%d: %+v %v", r.id, r.out, r.err)
		}
	}
}

func TestServiceLateJoinerAndObserver(t *testing.T) {
	c := newCluster(t, []int64{1, 2, 3, 4}, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res := make(chan lookResult, 4)
	go look(ctx, c.start(1, true), 1, 0x100000005, 1, res)
	go look(ctx, c.start(2, true), 2, 0x100000004, 1, res)
	for range 2 {
		if r := <-res; r.err != nil || r.out.Vote.Leader != 1 {
			t.Fatalf("%+v", r)
		}
	}
	c.svcs[1].SetPeerEpoch(2)
	c.svcs[2].SetPeerEpoch(2)
	go look(ctx, c.start(3, false), 3, 0x100000001, 1, res)
	go look(ctx, c.start(4, true), 4, 0x100000001, 1, res)
	for range 2 {
		r := <-res
		if r.err != nil || r.out.Vote.Leader != 1 || r.out.Vote.PeerEpoch != 2 {
			t.Fatalf("%+v", r)
		}
		want := wire.ServerFollowing
		if r.id == 4 {
			want = wire.ServerObserving
		}
		if r.out.State != want {
			t.Fatalf("%d: %v", r.id, r.out.State)
		}
	}
}

func TestLookForLeaderCancelAndBusy(t *testing.T) {
	c := newCluster(t, []int64{1, 2, 3})
	s := c.start(1, true)
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan lookResult, 1)
	go look(ctx, s, 1, 5, 0, res)
	deadline := time.Now().Add(5 * time.Second)
	for !s.Stats().Running {
		if time.Now().After(deadline) {
			t.Fatal("round not running")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := s.LookForLeader(context.Background(), 5, 0); err != ErrBusy {
		t.Fatalf("second LookForLeader: %v", err)
	}
	cancel()
	if r := <-res; r.err != context.Canceled {
		t.Fatalf("%v", r.err)
	}
	if st := s.Stats(); st.Running || st.State != wire.ServerLooking || st.LogicalClock != 1 {
		t.Fatalf("%+v", st)
	}
	// Close while waiting.
	go look(context.Background(), s, 1, 5, 0, res)
	for !s.Stats().Running {
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if r := <-res; r.err != ErrClosed {
		t.Fatalf("%v", r.err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

func TestCloseStopsAllGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		c := newCluster(t, []int64{1, 2, 3})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		res := make(chan lookResult, 3)
		for _, id := range []int64{1, 2, 3} {
			go look(ctx, c.start(id, true), id, 1, 1, res)
		}
		for range 3 {
			<-res
		}
		var wg sync.WaitGroup
		for _, s := range c.svcs {
			wg.Add(1)
			go func() { defer wg.Done(); _ = s.Close() }()
		}
		wg.Wait()
	}()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d > %d\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConfigValidate(t *testing.T) {
	good := map[int64]Member{1: {ID: 1, Addr: "127.0.0.1:1", Voter: true}}
	for name, cfg := range map[string]Config{
		"not a member": {MyID: 2, Members: good, ConfigText: []byte("server.1=x")},
		"no text":      {MyID: 1, Members: good},
		"no servers":   {MyID: 1, Members: good, ConfigText: []byte("version=0")},
		"bad addr":     {MyID: 1, Members: map[int64]Member{1: {ID: 1, Addr: "nope", Voter: true}}, ConfigText: []byte("server.1=x")},
		"id mismatch":  {MyID: 1, Members: map[int64]Member{1: {ID: 2, Addr: "127.0.0.1:1", Voter: true}}, ConfigText: []byte("server.1=x")},
		"no voters":    {MyID: 1, Members: map[int64]Member{1: {ID: 1, Addr: "127.0.0.1:1"}}, ConfigText: []byte("server.1=x")},
	} {
		if _, err := Start(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
