package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEnsembleConfigListsEveryMember(t *testing.T) {
	ports := []memberPorts{{2181, 2888, 3888}, {2182, 2889, 3889}, {2183, 2890, 3890}}
	for id := 1; id <= 3; id++ {
		cfg := ensembleConfig(id, ports, "/d/m"+string(rune('0'+id)), map[string]string{"snapCount": "1000", "tickTime": "500"})
		lines := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(cfg), "\n") {
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				t.Fatalf("member %d: bad line %q", id, l)
			}
			if _, dup := lines[k]; dup {
				t.Fatalf("member %d: key %s twice", id, k)
			}
			lines[k] = v
		}
		want := map[string]string{
			"server.1":          "127.0.0.1:2888:3888:participant;127.0.0.1:2181",
			"server.2":          "127.0.0.1:2889:3889:participant;127.0.0.1:2182",
			"server.3":          "127.0.0.1:2890:3890:participant;127.0.0.1:2183",
			"forceSync":         "yes",
			"dataDir":           "/d/m" + string(rune('0'+id)),
			"snapCount":         "1000",
			"tickTime":          "500", // props win
			"standaloneEnabled": "false",
		}
		for k, v := range want {
			if lines[k] != v {
				t.Errorf("member %d: %s=%q, want %q\n%s", id, k, lines[k], v, cfg)
			}
		}
		if _, ok := lines["clientPort"]; ok {
			t.Errorf("member %d: clientPort set besides the server.N client addresses", id)
		}
	}
}

func TestParseSrvr(t *testing.T) {
	java := "Zookeeper version: 3.8.0-5a02a05eddb59aee6ac762f7ea82e92a68eb9c0f, built on 2022-02-25 08:49 UTC\n" +
		"Latency min/avg/max: 0/0.4/12\nReceived: 10\nSent: 9\nConnections: 1\nOutstanding: 0\n" +
		"Zxid: 0x100000a2c\nMode: leader\nNode count: 1012\nProposal sizes last/min/max: 48/48/1100\n"
	if got := parseSrvr(java); got.Mode != "leader" || got.Zxid != 0x100000a2c {
		t.Fatalf("parseSrvr(java leader) = %+v", got)
	}
	if got := parseSrvr("This ZooKeeper instance is not currently serving requests\n"); got.Mode != "" || got.Zxid != -1 {
		t.Fatalf("parseSrvr(not serving) = %+v", got)
	}
	if got := parseSrvr("Zxid: 0x0\nMode: follower\n"); got.Mode != "follower" || got.Zxid != 0 {
		t.Fatalf("parseSrvr(follower) = %+v", got)
	}
}

func TestDefaultEnsembleMixes(t *testing.T) {
	byName := map[string]EnsembleMix{}
	for _, m := range DefaultEnsembleMixes() {
		byName[m.Name] = m
	}
	for _, m := range DefaultEnsembleMixes() {
		// The leader must have the highest sid (fresh data dirs: FLE
		// picks it), and a ratio divides by the all-Java ensemble of the
		// same size.
		if m.Leader != m.Size() {
			t.Errorf("%s: leader sid %d, want the highest (%d)", m.Name, m.Leader, m.Size())
		}
		if m.Base != "" {
			b, ok := byName[m.Base]
			if !ok || b.Size() != m.Size() || b.Base != "" {
				t.Errorf("%s: bad base %q", m.Name, m.Base)
			}
			for _, k := range b.Members {
				if k != Java {
					t.Errorf("%s: base %s has a %s member", m.Name, b.Name, k)
				}
			}
		}
	}
	if k := byName[MixZkgoLeader].LeaderKind(); k != Zkgo {
		t.Errorf("%s leads with %s", MixZkgoLeader, k)
	}
	if k := byName[MixJavaLeader].LeaderKind(); k != Java {
		t.Errorf("%s leads with %s", MixJavaLeader, k)
	}
	for i, k := range byName[MixJavaLeader].Members {
		if i+1 != byName[MixJavaLeader].Leader && k != Zkgo {
			t.Errorf("%s: follower sid %d is %s", MixJavaLeader, i+1, k)
		}
	}
}

func TestCellOfCountsCommittedWrites(t *testing.T) {
	m := DefaultEnsembleMixes()[0]
	res := &Result{Ops: 1000, Seconds: 1, OpsPerSec: 1000}
	before := []ProcSample{{UserSec: 1}, {UserSec: 1}, {UserSec: 1, SysSec: 1, JITSec: 0.2}}
	after := []ProcSample{{UserSec: 1.01}, {UserSec: 1.02}, {UserSec: 1.03, SysSec: 1.02, RSSKB: 2048, JITSec: 0.22}}
	c := cellOf(m, 0, res, 2, before, after, SrvrInfo{Zxid: 1<<32 | 100}, SrvrInfo{Zxid: 1<<32 | 600})
	if c.Committed != 500 {
		t.Fatalf("committed = %d, want 500", c.Committed)
	}
	// Leader: 0.05 s of CPU over 500 txns = 100 µs/write, over 1000 ops = 50 µs/op.
	if !near(c.LeaderCPUUsPerWrite, 100) || !near(c.LeaderCPUUsPerOp, 50) || !near(c.EnsembleCPUUsPerOp, 80) {
		t.Fatalf("cell = %+v", c)
	}
	if c.LeaderRSSKB != 2048 {
		t.Fatalf("leader RSS = %d", c.LeaderRSSKB)
	}
	// Of which the JIT threads: 0.02 s over 500 txns = 40 µs/write.
	if !near(c.LeaderJITUsPerWrite, 40) {
		t.Fatalf("leader JIT = %v µs/write, want 40", c.LeaderJITUsPerWrite)
	}
	// A new epoch in the window (an election) makes the count unusable.
	c = cellOf(m, 0, res, 2, before, after, SrvrInfo{Zxid: 1<<32 | 100}, SrvrInfo{Zxid: 2<<32 | 5})
	if c.Committed != 0 || c.LeaderCPUUsPerWrite != 0 {
		t.Fatalf("across epochs: %+v", c)
	}
}

func near(a, b float64) bool { return a > b*0.999 && a < b*1.001 }

// fakeEnsembleReport has set and serial rows: zkgo×3 twice Java's set
// ops/s and half its serial p50; the 5-node ensembles ran the set row only.
func fakeEnsembleReport() *EnsembleReport {
	rep := &EnsembleReport{Profile: "quick", Date: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC), Reps: 1,
		Mixes: DefaultEnsembleMixes(), Cells: map[string][]EnsembleCell{}}
	for _, s := range DefaultEnsembleScenarios() {
		if s.Name == rowSet || s.Name == rowSerial || s.Name == rowGet {
			rep.Scenarios = append(rep.Scenarios, s)
		}
	}
	add := func(sc, mix string, ops, p50, cpuw float64) {
		rep.Cells[sc] = append(rep.Cells[sc], EnsembleCell{Mix: mix, Committed: 100, LeaderCPUUsPerWrite: cpuw,
			Result: &Result{Ops: int64(ops), Seconds: 1, OpsPerSec: ops, Latency: Summary{Count: 1, P50: p50, P99: 2 * p50}}})
	}
	rep.Cells[rowSet] = append(rep.Cells[rowSet], EnsembleCell{Mix: MixJava3, Committed: 100, LeaderCPUUsPerWrite: 40, LeaderJITUsPerWrite: 15,
		Followers: 2, FollowerFsyncs: 40,
		Result: &Result{Ops: 10000, Seconds: 1, OpsPerSec: 10000, Latency: Summary{Count: 1, P50: 1000, P99: 2000}}})
	add(rowSet, MixZkgo3, 20000, 500, 10)
	add(rowSet, MixZkgoLeader, 15000, 700, 12)
	add(rowSet, MixJavaLeader, 11000, 900, 38)
	add(rowSet, MixJava5, 8000, 1200, 50)
	add(rowSet, MixZkgo5, 12000, 800, 20)
	add(rowSerial, MixJava3, 500, 2000, 100)
	add(rowSerial, MixZkgo3, 1000, 1000, 50)
	return rep
}

func TestEnsembleRatioTables(t *testing.T) {
	rep := fakeEnsembleReport()
	var b strings.Builder
	rep.WriteMarkdown(&b)
	out := b.String()
	ratios := out[:strings.Index(out, "### Raw figures")]
	for _, want := range []string{
		"| set (all members) | ops/s | 2.00x | 1.50x | 1.10x | 1.50x |",
		"| serial set (on a follower) | p50 | 0.50x | — | — | — |", // a FiveNode row without 5-node or mixed cells
		"| set (all members) | µs/write | 0.25x | 0.30x | 0.95x | 0.40x |",
		"| scenario | metric | zkgo×3 ÷ java×3 | zkgo leader + 2 java ÷ java×3 | java leader + 2 zkgo ÷ java×3 | zkgo×5 ÷ java×5 |",
	} {
		if !strings.Contains(ratios, want) {
			t.Errorf("ratio tables lack %q:\n%s", want, ratios)
		}
	}
	// The 5-node ensembles run only the FiveNode rows: the get row has an
	// empty 5-node column and no 5-node raw row.
	if !strings.Contains(ratios, "| get (all members) | ops/s | — | — | — | |") {
		t.Errorf("get row:\n%s", ratios)
	}
	raw := out[strings.Index(out, "### Raw figures"):]
	getRaw := raw[strings.Index(raw, "#### get"):strings.Index(raw, "#### set")]
	if strings.Contains(getRaw, "java×5") {
		t.Errorf("5-node row in a 3-node-only scenario:\n%s", getRaw)
	}
	if !strings.Contains(raw, "| zkgo×3 | 20k | 500 | 1000 |") {
		t.Errorf("raw set row missing:\n%s", raw)
	}
	// The Java leader's JIT share follows its CPU per write; a zkgo
	// leader has none ("—").
	if !strings.Contains(raw, "| 40 | 15 |") || !strings.Contains(raw, "| 10 | — |") || !strings.Contains(raw, "| of which JIT |") {
		t.Errorf("raw rows lack the leader's JIT CPU:\n%s", raw)
	}
	// txns per follower fsync: 100 committed × 2 followers ÷ 40 fsyncs;
	// "—" where the followers' fsyncs were not counted.
	if !strings.Contains(raw, "| 5 |\n") || !strings.Contains(raw, "txns per follower fsync |") {
		t.Errorf("raw rows lack txns per follower fsync:\n%s", raw)
	}
	if !strings.Contains(raw, "| zkgo×3 | 20k |") || !strings.Contains(raw[strings.Index(raw, "| zkgo×3 | 20k |"):], "| — |\n") {
		t.Errorf("a cell without follower fsyncs should show —:\n%s", raw)
	}
}

func TestJITThreadSec(t *testing.T) {
	// utime 150 + stime 50 ticks = 2 s for a compiler thread; other
	// threads (a name with spaces and parentheses too) count nothing.
	rest := " S 1 1 1 0 -1 4194368 10 0 0 0 150 50 0 0 20 0 1 0 100 0 0\n"
	for _, c := range []struct {
		comm string
		want float64
	}{
		{"C2 CompilerThre", 2},
		{"C1 CompilerThre", 2},
		{"LearnerHandler-", 0},
		{"GC Thread#0", 0},
		{"x) (C2 Compiler", 0},
	} {
		if got := jitThreadSec([]byte("42 (" + c.comm + ")" + rest)); !near(got+1, c.want+1) {
			t.Errorf("%q: %v s, want %v", c.comm, got, c.want)
		}
	}
	if got := jitThreadSec([]byte("garbage")); got != 0 {
		t.Errorf("garbage: %v", got)
	}
}

func TestMntrInt(t *testing.T) {
	out := "zk_version\t3.8.0\nzk_avg_fsynctime\t4.4\nzk_cnt_fsynctime\t4017\nzk_sum_fsynctime\t17942\n"
	if n, ok := mntrInt(out, "zk_cnt_fsynctime"); !ok || n != 4017 {
		t.Errorf("zk_cnt_fsynctime: %d, %v", n, ok)
	}
	if _, ok := mntrInt(out, "zk_avg_fsynctime"); ok {
		t.Error("a non-integer value read as one")
	}
	if _, ok := mntrInt(out, "zk_missing"); ok {
		t.Error("a missing key read")
	}
}

func TestEnsembleHistoryIsKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ENSEMBLE.md")
	rep := fakeEnsembleReport()
	if err := rep.WriteResultsFile(path); err != nil {
		t.Fatal(err)
	}
	rep.Date = rep.Date.Add(time.Hour)
	if err := rep.WriteResultsFile(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows := historyRows(string(b))
	if len(rows) != 2 {
		t.Fatalf("history rows = %q", rows)
	}
	if !strings.HasPrefix(rows[0], "| 2026-12-07 10:00 | quick | 10k / 20k / 2.00x | — | 0.50x | 0.25x | 1.50x | 1.10x | 1.50x |") ||
		!strings.HasPrefix(rows[1], "| 2026-12-07 11:00 |") {
		t.Fatalf("history rows = %q", rows)
	}
}

func TestFailoverTables(t *testing.T) {
	rep := fakeEnsembleReport()
	rep.Failover = []FailoverCell{
		{Mix: MixJava3, FirstWriteMs: 800, NewLeader: "2 (java)", RejoinMs: 2000, RejoinSync: "DIFF", TxnsBeforeKill: 30000},
		{Mix: MixJava3, Rep: 1, FirstWriteMs: 1000, NewLeader: "2 (java)", RejoinMs: 1800, RejoinSync: "DIFF", TxnsBeforeKill: 34000},
		{Mix: MixZkgo3, FirstWriteMs: 450, NewLeader: "2 (zkgo)", RejoinMs: 90, RejoinSync: "DIFF"},
		{Mix: MixJavaLeader, FirstWriteMs: 1800, NewLeader: "2 (zkgo)", RejoinMs: 1900, RejoinSync: "TRUNC"},
	}
	markdownHas(t, rep,
		// java×3's median first write is 900 ms, its rejoin 1900 ms.
		"| leader SIGKILL → first acked write via a survivor | 0.50x | — | 2.00x | — |",
		"| killed leader restarted → following and serving | 0.05x | — | 1.00x | — |",
		// The txns the restarted member reloads: "—" where srvr failed.
		"| java×3 | 900 (800–1000) | 2 (java) | 1900 (1800–2000) | DIFF | 32k (30k–34k) |",
		"| java leader + 2 zkgo | 1800 | 2 (zkgo) | 1900 | TRUNC | — |",
	)
	if !strings.Contains(rep.historyRow(), "| 0.50x |\n") {
		t.Errorf("history row without the failover ratio: %q", rep.historyRow())
	}
}

func TestSyncMode(t *testing.T) {
	for _, tc := range []struct{ log, want string }{
		{"[QuorumPeer[myid=3]] INFO Learner - Getting a diff from the leader 0x200000004\n", "DIFF"},
		{"INFO Learner - Getting a snapshot from leader 0x600000000\n", "SNAP"},
		{"WARN Learner - Truncating log to get in sync with the leader 0x100000009\n", "TRUNC"},
		{`{"level":"info","mode":"SNAP","role":"follower","message":"synced with the leader; serving clients"}` + "\n", "SNAP"},
		// zkgo's mode field on other lines (a failed attempt) says nothing.
		{`{"level":"warn","mode":"DIFF","message":"Exception when following the leader"}` + "\n", ""},
		{"nothing here\n", ""},
	} {
		if got := syncMode(tc.log); got != tc.want {
			t.Errorf("syncMode(%q) = %q, want %q", tc.log, got, tc.want)
		}
	}
}

// The committed ENSEMBLE.md keeps the header's columns: its history
// header is ensembleHistoryHeader, and every history row (one per
// official run) has as many cells as that header.
func TestEnsembleCommittedHistory(t *testing.T) {
	b, err := os.ReadFile("ENSEMBLE.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), ensembleHistoryHeader) {
		t.Fatalf("history header differs from ensembleHistoryHeader")
	}
	cells := func(row string) int { return strings.Count(strings.TrimSpace(row), "|") - 1 }
	want := cells(strings.Split(ensembleHistoryHeader, "\n")[2])
	for _, r := range historyRows(string(b)) {
		if got := cells(r); got != want {
			t.Errorf("history row with %d cells, header has %d: %q", got, want, r)
		}
	}
}

// The follower restart rows: a ratio per mix in the failover table (an
// empty cell for the 5-node ensembles, which do not run them), and the
// DIFF and SNAP figures side by side in the raw table with the sync mode
// each restart logged.
func TestRejoinTables(t *testing.T) {
	rep := fakeEnsembleReport()
	rep.RejoinRows = rejoinRows([]int{100_000})
	rep.RejoinDataSize = 100
	add := func(mix, member, want string, ms float64, sync string) {
		rep.Rejoin = append(rep.Rejoin, RejoinCell{Mix: mix, Want: want, Znodes: 100_000, Member: member, Ms: ms, Sync: sync})
	}
	add(MixJava3, "1 (java)", SyncDIFF, 4000, "DIFF")
	add(MixJava3, "1 (java)", SyncDIFF, 6000, "DIFF")
	add(MixJava3, "1 (java)", SyncSNAP, 8000, "SNAP")
	add(MixZkgo3, "1 (zkgo)", SyncDIFF, 1000, "DIFF")
	add(MixZkgo3, "1 (zkgo)", SyncSNAP, 2000, "SNAP")
	add(MixJavaLeader, "1 (zkgo)", SyncSNAP, 4000, "")
	rep.Rejoin = append(rep.Rejoin, RejoinCell{Mix: MixZkgoLeader, Want: SyncDIFF, Znodes: 100_000, Member: "1 (java)",
		Err: "did not follow within 1m30s"})
	out := markdownHas(t, rep,
		"### Ratios: failover (median time)\n\n| measurement | zkgo×3 ÷ java×3 |",
		// java×3's DIFF median is 5000 ms; a failed restart counts for nothing.
		"| follower restarted 100 writes behind → serving after DIFF, 100k znodes | 0.20x | — | — | |",
		"| follower restarted on an empty data dir → serving after SNAP, 100k znodes | 0.25x | — | 0.50x | |",
		"| java×3 | 1 (java) | 100k | 5000 (4000–6000) | DIFF | 8000 | SNAP |",
		"| java leader + 2 zkgo | 1 (zkgo) | 100k | — |  | 4000 | ? |",
		"| zkgo leader + 2 java | 1 (java) | 100k | — |  | — |  |",
	)
	// Without failover cells the table has only the restart rows.
	if strings.Contains(out, "leader SIGKILL") {
		t.Errorf("failover rows without failover cells:\n%s", out)
	}
}

// markdownHas checks that rep's Markdown has every line of wants, and
// returns it.
func markdownHas(t *testing.T, rep *EnsembleReport, wants ...string) string {
	t.Helper()
	var b strings.Builder
	rep.WriteMarkdown(&b)
	out := b.String()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	return out
}

func TestRejoinRowNames(t *testing.T) {
	rows := rejoinRows([]int{100_000, 1_000_000})
	if len(rows) != 4 || rows[0].Want != SyncDIFF || rows[1].Want != SyncSNAP || rows[3].Znodes != 1_000_000 {
		t.Fatalf("rows = %+v", rows)
	}
	if n := rows[3].Name(); n != "follower restarted on an empty data dir → serving after SNAP, 1M znodes" {
		t.Fatalf("name = %q", n)
	}
}

// A SNAP restart empties the data dir but keeps myid (the member must
// keep its sid).
func TestEmptyDataDirKeepsMyid(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"myid", "version-2/log.100000001", "version-2/snapshot.0", "zkgo.lock"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := emptyDataDir(dir); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "myid" {
		t.Fatalf("left %v, want only myid", ents)
	}
}

// A failed ensemble run keeps each member's log under the logs dir, named
// after the mix, the repetition and the member.
func TestKeepLogsCopiesEveryMemberLog(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "logs")
	e := &Ensemble{Mix: EnsembleMix{Name: "java leader + 2 zkgo"}}
	for i, k := range []Kind{Zkgo, Zkgo, Java} {
		p := filepath.Join(src, string(rune('1'+i))+".log")
		if err := os.WriteFile(p, []byte("log of member "+string(rune('1'+i))), 0o644); err != nil {
			t.Fatal(err)
		}
		e.Members = append(e.Members, &Server{Spec: ServerSpec{Kind: k}, LogPath: p})
	}
	cfg := &EnsembleConfig{LogsDir: dst}
	label := fileSlug(e.Mix.Name) + "-rep2-restarts"
	if label != "java-leader-2-zkgo-rep2-restarts" {
		t.Fatalf("label %q", label)
	}
	dir, err := cfg.keepLogs(e, label)
	if err != nil || dir != dst {
		t.Fatalf("keepLogs: %q, %v", dir, err)
	}
	for i, k := range []Kind{Zkgo, Zkgo, Java} {
		name := filepath.Join(dst, label+"-m"+string(rune('1'+i))+"-"+string(k)+".log")
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if want := "log of member " + string(rune('1'+i)); string(b) != want {
			t.Errorf("%s: %q, want %q", name, b, want)
		}
	}
	if got := fileSlug("zkgo×3"); got != "zkgo-3" {
		t.Errorf("fileSlug(zkgo×3) = %q", got)
	}
}
