package node

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zkgo/zkgo/node/watch"
	"github.com/zkgo/zkgo/wire"
)

// adminScale builds, on s's owner goroutine, issue 14's scale for the
// AdminServer's listings: 20,000 connections with sessions (each watching
// /w, the first 2,000 watching 100 paths more: 220,000 watches), 20,000
// sessions in the expiry buckets and 100,000 ephemerals of 1,000 sessions.
func adminScale(t *testing.T, s *Server) {
	t.Helper()
	const (
		conns      = 20_000
		watchers   = 2_000
		perWatcher = 100
		ephemerals = 100_000
		owners     = 1_000
	)
	call(t, s, func() {
		createNode(t, s, "/w", 0)
		createNode(t, s, "/e", 0)
		for i := 0; i < ephemerals; i++ {
			createNode(t, s, "/e/"+strconv.Itoa(i), wire.SessionID(1<<41+i%owners))
		}
		now := s.lp.nowMs()
		for i := 0; i < conns; i++ {
			id := wire.SessionID(1<<41 + i)
			// Timeouts spread over 20 expiry buckets, all far longer
			// than the test: under -race on a loaded host it has run
			// past 30 s, and sessions that expired meanwhile took their
			// ephemerals with them (dump counted fewer than created).
			s.sessions.Add(id, 600000+int32(i%20)*2000, now)
			cc := benchConn(s, uint64(i+1), id)
			s.dataW.Add("/w", watch.Watcher(cc.id), watch.Standard)
			if i < watchers {
				for j := 0; j < perWatcher; j++ {
					s.dataW.Add("/w/"+strconv.Itoa(i)+"/"+strconv.Itoa(j), watch.Watcher(cc.id), watch.Standard)
				}
			}
		}
	})
}

// threadNow is the calling thread's CPU time.
func threadNow() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return time.Duration(ts.Nano())
}

// TestAdminListingsAcrossRounds: at issue 14's scale (110,000 watches,
// 100,000 ephemerals, 10,000 connections) the AdminServer commands whose
// answer grows with the server gather it across owner rounds, as the
// four-letter words do: while each runs, no owner step takes more than a
// few rounds' budget, and its answer is complete. At 21a6d70 each was one
// owner step (watches: 100-300 ms of owner time under -race).
func TestAdminListingsAcrossRounds(t *testing.T) {
	s := startStandalone(t, func(c *Config) { c.MaxClientCnxns = 0 })
	adminScale(t, s)
	// A round's job work is bounded by roundConnOps and roundJobTime
	// (2 ms); the limit leaves room for -race and a loaded host.
	const limit = 10 * roundJobTime
	count := func(v any) int {
		switch v := v.(type) {
		case []any:
			return len(v)
		case []string:
			return len(v)
		case []int64:
			return len(v)
		case map[string]any:
			n := 0
			for _, e := range v {
				n += max(1, countOf(e))
			}
			return n
		}
		return -1
	}
	g := startOwnerSteps(t, s)
	defer g.stop(t)
	for _, tc := range []struct {
		cmd, key string
		want     int // entries in r[key] (a map: the entries of its lists)
	}{
		{"watches", "session_id_to_watched_paths", 220_000},
		{"watches_by_path", "path_to_session_ids", 220_000},
		{"watch_summary", "num_total_watches", 220_000},
		{"dump", "session_id_to_ephemeral_paths", 100_000},
		{"connections", "connections", 20_000},
		{"stats", "connections", 20_000},
		{"connection_stat_reset", "", 0},
	} {
		g.reset(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		start := time.Now()
		r, err := s.AdminCommand(ctx, tc.cmd, nil, AdminExtras{})
		took := time.Since(start)
		cancel()
		longest, longestSys, steps, _ := g.end(t)
		if err != nil {
			t.Fatalf("%s: %v", tc.cmd, err)
		}
		if r["error"] != nil {
			t.Fatalf("%s: %v", tc.cmd, r["error"])
		}
		if tc.key != "" {
			got := count(r[tc.key])
			if n, ok := r[tc.key].(int); ok {
				got = n
			}
			if got != tc.want {
				t.Errorf("%s: %s has %d entries, want %d", tc.cmd, tc.key, got, tc.want)
			}
		}
		t.Logf("%s: %v, %d owner steps, longest %v (and %v in the kernel)", tc.cmd, took.Round(time.Millisecond), steps,
			longest.Round(10*time.Microsecond), longestSys.Round(10*time.Microsecond))
		if longest > limit {
			t.Errorf("%s held the owner goroutine %v in one step (limit %v)", tc.cmd, longest.Round(10*time.Microsecond), limit)
		}
	}
	// A request that gives up gets its error; its job stops at its next
	// step (what it gathered is not read: -race would see it).
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	_, err := s.AdminCommand(ctx, "watches_by_path", nil, AdminExtras{})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("watches_by_path with 1 ms: %v, want the deadline's error", err)
	}
	waitFor(t, func() bool {
		n := 0
		call(t, s, func() { n = len(s.sched.connJobs) })
		return n == 0
	})
}

func countOf(v any) int {
	switch v := v.(type) {
	case []string:
		return len(v)
	case []int64:
		return len(v)
	}
	return 0
}

// TestAdminListingsAsOneStep: what the listings gather across rounds comes
// out as the JSON the one-step listings of 21a6d70 gave (kept below as the
// oracle, read in one Call): with connections sharing a session and
// connections without one, a watcher whose connection is gone (session 0),
// a closed connection whose watches are still being taken out, sessions in
// several expiry buckets and ephemerals of several sessions.
func TestAdminListingsAsOneStep(t *testing.T) {
	s := startStandalone(t, func(c *Config) { c.MaxClientCnxns = 0 })
	call(t, s, func() {
		createNode(t, s, "/e", 0)
		now := s.lp.nowMs()
		// More of each than a piece of a gathered list holds (1024), less
		// than the one-step listings sorted (4096).
		for i := 0; i < 1500; i++ {
			id := wire.SessionID(1<<41 + i%1250) // 1250 sessions: some have two connections
			if i < 1250 {
				s.sessions.Add(id, 4000+int32(i%7)*2000, now)
			}
			cc := benchConn(s, uint64(1000+(i*7919)%1500), id)
			if i >= 1400 {
				cc.session = 0 // no session (yet)
			}
			cc.stats.received, cc.stats.sent = int64(i), int64(2*i)
			cc.stats.lastOpCode, cc.stats.lastCxid, cc.stats.lastZxid = wire.OpGetData, wire.Xid(i), wire.Zxid(i)
			cc.stats.latencySum, cc.stats.latencyCount, cc.stats.maxLatency = int64(3*i), int64(i%4), int64(i)
			s.dataW.Add("/w", watch.Watcher(cc.id), watch.Standard)
			for j := 0; j < i%5; j++ {
				s.dataW.Add("/p/"+strconv.Itoa(i%7)+"/"+strconv.Itoa(j), watch.Watcher(cc.id), watch.Standard)
			}
			if i%100 == 0 && i < 1250 {
				for j := 0; j < 200; j++ {
					createNode(t, s, "/e/"+strconv.Itoa(i)+"-"+strconv.Itoa(j), id)
				}
			}
		}
		s.dataW.Add("/p/0/0", 99999, watch.Standard) // no connection
		for j := 0; j < 2*smallWatcherForTest; j++ {
			s.dataW.Add("/gone/"+strconv.Itoa(j), 88888, watch.Standard)
		}
		s.dataW.RemoveWatcher(88888) // its watches are taken out in steps
		if !s.dataW.DeadPending() {
			t.Error("no watches left to take out")
		}
	})
	// The oracle: 21a6d70's one-step listings.
	oracle := func(cmd string) map[string]any {
		r := map[string]any{}
		call(t, s, func() {
			switch cmd {
			case "watches":
				m := map[string]any{}
				for _, w := range s.dataW.AllWatchers() {
					id := strconv.FormatInt(int64(s.resp.watcherSessionID(w)), 10)
					m[id] = append(stringsOrEmpty(m[id]), s.dataW.Paths(w)...)
				}
				r["session_id_to_watched_paths"] = m
			case "watches_by_path":
				m := map[string]any{}
				for _, p := range s.dataW.AllPaths() {
					ids := []int64{}
					for _, w := range s.dataW.Watchers(p) {
						ids = append(ids, int64(s.resp.watcherSessionID(w)))
					}
					m[p] = ids
				}
				r["path_to_session_ids"] = m
			case "watch_summary":
				ws := s.dataW.AllWatchers()
				total := 0
				for _, w := range ws {
					total += len(s.dataW.Paths(w))
				}
				r["num_connections"], r["num_paths"], r["num_total_watches"] = len(ws), s.dataW.PathCount(), total
			case "dump":
				exp := map[string]any{}
				for t, ids := range s.sessions.BucketTimes() {
					l := make([]int64, 0, len(ids))
					for _, id := range ids {
						l = append(l, int64(id))
					}
					slices.Sort(l)
					exp[strconv.FormatInt(t, 10)] = l
				}
				eph := map[string]any{}
				for _, id := range s.tree.EphemeralSessions() {
					eph[strconv.FormatInt(int64(id), 10)] = append([]string{}, s.tree.Ephemerals(id)...)
				}
				r["expiry_time_to_session_ids"] = exp
				r["session_id_to_ephemeral_paths"] = eph
			case "connections", "stats":
				out := []any{}
				for _, c := range s.resp.sortedConns() {
					ops := 1
					if c.fourLetter || c.closing {
						ops = 0
					}
					m := map[string]any{
						"remote_socket_address": strings.TrimPrefix(javaSocketAddr(c.remote), "/"),
						"interest_ops":          ops,
						"outstanding_requests":  len(c.pending),
						"packets_received":      c.stats.received,
						"packets_sent":          c.stats.sent,
					}
					if cmd == "connections" && c.session != 0 {
						st := &c.stats
						avg := int64(0)
						if st.latencyCount > 0 {
							avg = st.latencySum / st.latencyCount
						}
						m["session_id"] = int64(c.session)
						m["last_operation"] = st.lastOpName()
						m["established"] = st.established
						m["session_timeout"] = int64(c.timeoutMs)
						m["last_cxid"] = int64(st.lastCxid)
						m["last_zxid"] = int64(st.lastZxid)
						m["last_response_time"] = st.lastRespTime
						m["last_latency"] = st.lastLatencyMs()
						m["min_latency"] = st.shownMin()
						m["avg_latency"] = avg
						m["max_latency"] = st.maxLatency
					}
					out = append(out, m)
				}
				r["connections"] = out
				r["secure_connections"] = []any{}
			}
		})
		return r
	}
	for _, cmd := range []string{"watches", "watches_by_path", "watch_summary", "dump", "connections", "stats"} {
		want := oracle(cmd)
		got, err := s.AdminCommand(context.Background(), cmd, nil, AdminExtras{})
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		for k, v := range want {
			wb, _ := json.Marshal(v)
			gb, _ := json.Marshal(got[k])
			if string(wb) != string(gb) {
				t.Errorf("%s: %s is\n%.600s\nwant\n%.600s", cmd, k, gb, wb)
			}
		}
	}
	// connection_stat_reset resets every connection's stats.
	if _, err := s.AdminCommand(context.Background(), "crst", nil, AdminExtras{}); err != nil {
		t.Fatal(err)
	}
	call(t, s, func() {
		for _, c := range s.cl.conns {
			if c.stats.received != 0 || c.stats.lastOpName() != "NA" || !c.stats.wasReset {
				t.Fatalf("connection %d not reset: %+v", c.id, c.stats)
			}
		}
	})
}

const smallWatcherForTest = 256 // watch.smallWatcher: RemoveWatcher defers past it
