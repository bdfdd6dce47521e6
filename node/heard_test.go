package node

import (
	"context"
	"testing"
	"time"

	"github.com/zkgo/zkgo/internal/rawzk"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/proxy"
	"github.com/zkgo/zkgo/wire"
)

// TestSessionHeardWhileOwnerBusy: a client that keeps pinging keeps its
// session while the owner goroutine is held in one step for three session
// timeouts and then checks expiry before it has taken the pings, and while
// the front end holds the client's pings because Submit parks it. Java
// touches a session when it reads a packet (issue 14 point 3); zkgo used
// to touch it only when the owner processed the ping, and expired it.
func TestSessionHeardWhileOwnerBusy(t *testing.T) {
	for _, parked := range []bool{false, true} {
		name := "stalled"
		if parked {
			name = "parked"
		}
		t.Run(name, func(t *testing.T) {
			cfg := sweepConfig(t.TempDir())
			cfg.TickTime = 200
			srv, err := New(cfg)
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
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = fe.Stop(ctx)
				_ = srv.Stop(ctx)
			})
			c, err := rawzk.Dial(fe.Addr().String(), rawzk.Options{TimeoutMs: 1000, NoStream: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sid, timeout := c.Connect.SessionID, time.Duration(c.Connect.TimeOut)*time.Millisecond
			if sid == 0 || timeout != time.Second {
				t.Fatalf("session %v timeout %v", sid, timeout)
			}
			ping := wire.AppendRequest(nil, wire.RequestHeader{Xid: wire.XidPing, Type: wire.OpPing}, nil)
			stop := make(chan struct{})
			pinged := make(chan struct{})
			go func() {
				defer close(pinged)
				tk := time.NewTicker(timeout / 10)
				defer tk.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tk.C:
						if c.WriteRaw(ping) != nil {
							return
						}
					}
				}
			}()
			defer func() { close(stop); <-pinged }()
			alive := false
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err = srv.Call(ctx, func() {
				if parked {
					srv.cl.parking.Store(true) // every batch is refused and held by the front end
				}
				// The stall itself: the owner takes nothing for three
				// session timeouts while the client pings...
				time.Sleep(3 * timeout)
				// ...then checks expiry before the pings it holds (the
				// select may pick the tick first).
				srv.sched.expireSessions(srv.lp.nowMs())
				sess := srv.sessions.Get(sid)
				alive = sess != nil && !sess.Closing
			})
			if err != nil {
				t.Fatal(err)
			}
			if !alive {
				t.Fatal("the session expired although its client pinged all along")
			}
			// The connection goes on: the held pings are answered, and a
			// request after them.
			if h, err := c.Do(wire.OpExists, &wire.ExistsRequest{Path: "/"}, &wire.ExistsResponse{}); err != nil || h.Err != wire.ErrOk {
				t.Fatalf("exists after the stall: %+v %v", h, err)
			}
		})
	}
}

// TestLearnerForwardsHeardSessions: a learner's PING reply to the leader
// lists the sessions of clients heard from whose packets it has not
// processed yet.
func TestLearnerForwardsHeardSessions(t *testing.T) {
	s := startStandalone(t)
	call(t, s, func() {
		sink := &recordSink{id: 9}
		cc := &clientConn{sink: sink, id: sink.id, remote: "127.0.0.1:1"}
		s.cl.register(cc)
		cc.session, cc.timeoutMs = 0x99, 4000
		s.qs.peer = &peer{learner: newLearnerDriver(s)}
		defer func() { s.qs.peer = nil }()
		if !s.qs.isLearner() {
			t.Error("the fake peer is not a learner")
			return
		}
		s.Received(cc) // bytes arrived; the owner has not taken the packets
		s.cl.runHeard()
		if to, ok := s.qs.peer.learner.touched[0x99]; !ok || to != 4000 {
			t.Errorf("touched for the next PING: %v", s.qs.peer.learner.touched)
		}
	})
}

// TestLearnerSessionSurvivesLeaderStall: a follower's client keeps pinging
// while the leader's owner goroutine is held for three session timeouts.
// The leader neither pinged the follower nor took its touch tables
// meanwhile, so the first tick after the hold does not expire sessions:
// it pings, and the follower's reply (which lists the session) is taken
// before the next tick expires anything. Java's leader pings learners and
// expires sessions on threads of their own.
func TestLearnerSessionSurvivesLeaderStall(t *testing.T) {
	ports := map[int64]int{1: freePort(t), 2: freePort(t), 3: freePort(t)}
	member := func(id int64) Config {
		cfg := quorumMember(t, id, ports, 10)
		cfg.TickTime = 300 // session timeouts of 600 ms to 6 s
		// The follower keeps its link to a leader silent for 9 s: longer
		// than the hold below, which is about sessions, not links.
		cfg.SyncLimit = 30
		return cfg
	}
	leader := startLearner(t, member(3))
	follower := startLearner(t, member(1))
	waitFor(t, func() bool { return leader.qs.Mode() == "leader" && follower.qs.Mode() == "follower" })

	cc := newFakeSink(1)
	h := follower.Open(cc)
	follower.Submit(h, []wire.ClientPacket{{Kind: wire.KindConnect, Connect: &wire.Connect{
		ConnectRequest: wire.ConnectRequest{TimeOut: 1500, Passwd: make([]byte, 16)}, HasReadOnly: true}}})
	resp := cc.frame(t)
	var cr wire.ConnectResponse
	if err := jute.Unmarshal(resp[:len(resp)-1], &cr); err != nil || cr.SessionID == 0 || cr.TimeOut != 1500 {
		t.Fatalf("ConnectResponse %+v %v", cr, err)
	}
	sid, timeout := cr.SessionID, time.Duration(cr.TimeOut)*time.Millisecond
	stop := make(chan struct{})
	pinged := make(chan struct{})
	go func() {
		defer close(pinged)
		tk := time.NewTicker(timeout / 10)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				follower.Submit(h, []wire.ClientPacket{{Kind: wire.KindRequest,
					Header: wire.RequestHeader{Xid: wire.XidPing, Type: wire.OpPing}}})
			}
		}
	}()
	defer func() { close(stop); <-pinged }()
	alive := func() bool {
		ok := false
		call(t, leader, func() {
			sess := leader.sessions.Get(sid)
			ok = sess != nil && !sess.Closing
		})
		return ok
	}
	waitFor(t, alive)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := leader.Call(ctx, func() {
		// The hold itself: the leader's owner takes nothing for three
		// session timeouts, then its tick comes.
		time.Sleep(3 * timeout)
		leader.onTick()
	})
	if err != nil {
		t.Fatal(err)
	}
	// The session lives on for two more timeouts (every tick expires
	// again by then).
	end := time.Now().Add(2 * timeout)
	tk := time.NewTicker(timeout / 10)
	defer tk.Stop()
	for time.Now().Before(end) {
		if !alive() {
			t.Fatal("the leader expired the session of a follower's client that pinged all along")
		}
		<-tk.C
	}
}
