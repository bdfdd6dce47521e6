package bench

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"
)

// stat is the median and range of one figure over repetitions.
type stat struct {
	Med, Min, Max float64
	N             int
}

func statOf(v []float64) stat {
	if len(v) == 0 {
		return stat{Med: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	s := stat{Med: median(v), Min: v[0], Max: v[0], N: len(v)}
	for _, x := range v {
		s.Min = math.Min(s.Min, x)
		s.Max = math.Max(s.Max, x)
	}
	return s
}

func (s stat) ok() bool { return s.N > 0 && !math.IsNaN(s.Med) }

func (s stat) String() string {
	if !s.ok() {
		return "—"
	}
	if s.N == 1 || s.Min == s.Max {
		return fmtNum(s.Med)
	}
	return fmt.Sprintf("%s (%s–%s)", fmtNum(s.Med), fmtNum(s.Min), fmtNum(s.Max))
}

func ratio(g, j stat) string {
	if !g.ok() || !j.ok() || j.Med == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2fx", g.Med/j.Med)
}

func ratioVal(g, j stat) float64 {
	if !g.ok() || !j.ok() || j.Med == 0 {
		return math.NaN()
	}
	return g.Med / j.Med
}

// metric extracts one figure from a cell.
type metric func(Cell) (float64, bool)

var (
	mOps  metric = func(c Cell) (float64, bool) { return c.Result.OpsPerSec, c.Result != nil }
	mP50  metric = func(c Cell) (float64, bool) { return c.Result.Latency.P50, c.Result.Latency.Count > 0 }
	mP99  metric = func(c Cell) (float64, bool) { return c.Result.Latency.P99, c.Result.Latency.Count > 0 }
	mP999 metric = func(c Cell) (float64, bool) { return c.Result.Latency.P999, c.Result.Latency.Count > 0 }
	mCPU  metric = func(c Cell) (float64, bool) { return c.CPUUsPerOp, c.Result.Ops > 0 }
	mUsr  metric = func(c Cell) (float64, bool) { return c.UserUsPerOp, c.Result.Ops > 0 }
	mSys  metric = func(c Cell) (float64, bool) { return c.SysUsPerOp, c.Result.Ops > 0 }
	mCtx  metric = func(c Cell) (float64, bool) { return c.CtxPerOp, c.Result.Ops > 0 }
	mRSS  metric = func(c Cell) (float64, bool) { return float64(c.RSSKB) / 1024, c.RSSKB > 0 }
	mFs   metric = func(c Cell) (float64, bool) { return c.FsyncPerSec, c.FsyncPerSec > 0 }
	mTpf  metric = func(c Cell) (float64, bool) { return c.TxnPerFsync, c.TxnPerFsync > 0 }
	mFsUs metric = func(c Cell) (float64, bool) { return c.FsyncAvgUs, c.FsyncPerSec > 0 }
	mErr  metric = func(c Cell) (float64, bool) { return float64(c.Result.Errors), true }
	mRate metric = func(c Cell) (float64, bool) { return c.Rate, c.Rate > 0 }
)

func (rep *Report) stat(scenario string, k Kind, m metric) stat {
	return statWhere(rep.Cells[scenario], func(c Cell) bool { return c.Server == k && c.Result != nil }, m)
}

// statWhere is the stat of the figures m gives for the items keep
// selects (an item m has no figure for is left out).
func statWhere[T any](items []T, keep func(T) bool, m func(T) (float64, bool)) stat {
	var v []float64
	for _, it := range items {
		if !keep(it) {
			continue
		}
		if x, ok := m(it); ok {
			v = append(v, x)
		}
	}
	return statOf(v)
}

type memMetric func(MemCell) (float64, bool)

func (rep *Report) memStat(k Kind, m memMetric) stat {
	return statWhere(rep.Mem, func(c MemCell) bool { return c.Server == k }, m)
}

func kbToMB(kb int64) float64 { return float64(kb) / 1024 }

var memRows = []struct {
	name string
	m    memMetric
}{
	{"RSS at start (MB)", func(c MemCell) (float64, bool) { return kbToMB(c.BaseRSSKB), c.BaseRSSKB > 0 }},
	{"RSS with 10k idle sessions (MB)", func(c MemCell) (float64, bool) { return kbToMB(c.IdleRSSKB), c.IdleRSSKB > 0 }},
	{"**RSS for 10k idle sessions** (MB, delta)", func(c MemCell) (float64, bool) {
		return kbToMB(c.IdleDeltaKB) * 10000 / float64(c.IdleSessions), c.IdleSessions > 0
	}},
	{"1M znodes: load time (s)", func(c MemCell) (float64, bool) { return c.LoadSec, c.Znodes > 0 }},
	{"1M znodes: server CPU per znode loaded (µs)", func(c MemCell) (float64, bool) { return c.LoadCPUUsPerZnode, c.Znodes > 0 }},
	{"1M znodes: RSS right after load (MB)", func(c MemCell) (float64, bool) { return kbToMB(c.LoadedRSSKB), c.Znodes > 0 }},
	{"**1M znodes: RSS settled** (MB; Java after GC.run)", func(c MemCell) (float64, bool) { return kbToMB(c.SettledRSSKB), c.Znodes > 0 }},
	{"**1M znodes: RSS per 1M znodes** (MB, settled − start)", func(c MemCell) (float64, bool) {
		return kbToMB(c.TreeDeltaKB) * 1e6 / float64(c.Znodes), c.Znodes > 0
	}},
	{"1M znodes: peak RSS (MB, VmHWM)", func(c MemCell) (float64, bool) { return kbToMB(c.PeakRSSKB), c.Znodes > 0 }},
	{"1M znodes: Java heap used after GC (MB)", func(c MemCell) (float64, bool) {
		return kbToMB(c.JavaHeapUsedKB), c.JavaHeapUsedKB > 0
	}},
	{"**startup with 1M znodes** (s, exec → serves a read)", func(c MemCell) (float64, bool) { return c.StartupSec, c.StartupSec > 0 }},
	{"RSS after restart with 1M znodes (MB)", func(c MemCell) (float64, bool) { return kbToMB(c.StartupRSSKB), c.StartupRSSKB > 0 }},
}

// goal is one of issue 8's targets.
type goal struct {
	name, target string
	val          func(*Report) float64
	ok           func(float64) bool
}

func (rep *Report) scenarioRatio(name string, m metric) float64 {
	return ratioVal(rep.stat(name, Zkgo, m), rep.stat(name, rep.base(), m))
}

func (rep *Report) memRatio(i int) float64 {
	return ratioVal(rep.memStat(Zkgo, memRows[i].m), rep.memStat(rep.base(), memRows[i].m))
}

var goals = []goal{
	{"reads ops/s (get, 16×8)", "≥ 2x", func(r *Report) float64 { return r.scenarioRatio("get", mOps) }, func(v float64) bool { return v >= 2 }},
	{"read CPU per op (get)", "≤ 0.4x", func(r *Report) float64 { return r.scenarioRatio("get", mCPU) }, func(v float64) bool { return v <= 0.4 }},
	{"writes ops/s (set, 16×8)", "≥ 1.5x", func(r *Report) float64 { return r.scenarioRatio("set", mOps) }, func(v float64) bool { return v >= 1.5 }},
	{"RSS per 1M znodes of 100 B", "≤ 0.4x", func(r *Report) float64 { return r.memRatio(7) }, func(v float64) bool { return v <= 0.4 }},
	{"RSS per 10k idle sessions", "≤ 0.1x", func(r *Report) float64 { return r.memRatio(2) }, func(v float64) bool { return v <= 0.1 }},
	{"p99 at equal load (get @80% Java max)", "≤ 0.5x", func(r *Report) float64 { return r.scenarioRatio("get @80% Java max", mP99) }, func(v float64) bool { return v <= 0.5 }},
	{"p99 at equal load (set @80% Java max)", "≤ 0.5x", func(r *Report) float64 { return r.scenarioRatio("set @80% Java max", mP99) }, func(v float64) bool { return v <= 0.5 }},
}

func fmtRatio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return fmt.Sprintf("%.2fx", v)
}

// WriteMarkdown writes the report (without the history section).
func (rep *Report) WriteMarkdown(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("Generated by `make bench` (`zkgo bench compare`, profile **%s**) on %s in %s.\n",
		rep.Profile, rep.Date.Format("2006-01-02 15:04 MST"), (time.Duration(rep.Elapsed) * time.Second).String())
	baseName := "Java"
	if rep.base() != Java {
		baseName = string(rep.base())
		p("A/B of two zkgo builds: zkgo = `%s`, zkgo-base = `%s` (no Java in this run).\n", rep.Bin, rep.BaseBin)
	}
	p("Ratios are zkgo ÷ %s of the medians over %d interleaved repetitions (order: %s); "+
		"ops/s: higher is better, latency, CPU and memory: lower is better. Raw figures: median (min–max).\n\n",
		baseName, rep.Reps, strings.Join(rep.Order, " "))
	writeErrors(w, rep.Errors)

	p("## Ratios (zkgo ÷ %s)\n\n", baseName)
	p("| scenario | ops/s | p50 | p99 | p999 | server CPU µs/op | RSS |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, sc := range rep.Scenarios {
		n := sc.Name
		p("| %s | %s | %s | %s | %s | %s | %s |\n", n,
			fmtRatio(rep.scenarioRatio(n, mOps)), fmtRatio(rep.scenarioRatio(n, mP50)),
			fmtRatio(rep.scenarioRatio(n, mP99)), fmtRatio(rep.scenarioRatio(n, mP999)),
			fmtRatio(rep.scenarioRatio(n, mCPU)), fmtRatio(rep.scenarioRatio(n, mRSS)))
	}
	if len(rep.Mem) > 0 {
		for _, i := range []int{2, 7, 6, 10} {
			p("| %s | | | | | | %s |\n", strings.ReplaceAll(memRows[i].name, "**", ""), fmtRatio(rep.memRatio(i)))
		}
	}
	if rep.base() == Java {
		rep.writeGoals(w)
	}
	rep.writeTables(w, baseName)
}

// writeGoals writes issue 8's goals (ratios to Java).
func (rep *Report) writeGoals(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n## Goals (issue 8; goals, not gates)\n\n| goal | target | measured | met |\n|---|---|---:|---|\n")
	for _, g := range goals {
		v := g.val(rep)
		met := "no"
		if math.IsNaN(v) {
			met = "not measured"
		} else if g.ok(v) {
			met = "yes"
		}
		p("| %s | %s | %s | %s |\n", g.name, g.target, fmtRatio(v), met)
	}
}

// writeTables writes the raw figures and the setup.
func (rep *Report) writeTables(w io.Writer, baseName string) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	kinds := []Kind{rep.base(), Zkgo}

	p("\n## Throughput, latency, server CPU, RSS\n\n")
	p("Closed loop unless a rate is given (open loop, latency from the intended send time). " +
		"CPU = Δ(utime+stime) of the server process ÷ ops, user+sys split; RSS = VmRSS at the end of the window.\n\n")
	p("| scenario | conns×depth | server | ops/s | p50 µs | p99 µs | p999 µs | CPU µs/op | usr/sys | ctx sw/op | RSS MB | errors |\n")
	p("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, sc := range rep.Scenarios {
		n := sc.Name
		shape := fmt.Sprintf("%d×%d", sc.Conns, sc.Depth)
		if sc.RateOf != "" {
			if r := rep.stat(n, rep.base(), mRate); r.ok() {
				shape = fmt.Sprintf("%d conns @ %s/s", sc.Conns, fmtNum(r.Med))
			}
		}
		for _, k := range kinds {
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s/%s | %s | %s | %s |\n", n, shape, k,
				rep.stat(n, k, mOps), rep.stat(n, k, mP50), rep.stat(n, k, mP99), rep.stat(n, k, mP999),
				rep.stat(n, k, mCPU), fmtNum(rep.stat(n, k, mUsr).Med), fmtNum(rep.stat(n, k, mSys).Med),
				fmtNum(rep.stat(n, k, mCtx).Med), rep.stat(n, k, mRSS), fmtNum(rep.stat(n, k, mErr).Max))
		}
	}

	p("\n## Group commit (from mntr: zk_cnt_fsynctime, zk_sum_fsynctime, zk_sum_sync_processor_batch_size)\n\n")
	p("fsync µs: mean time of one txn log fsync (Δ sum ÷ Δ count; Java rounds each fsync to whole ms, so its figure is coarse).\n\n")
	p("| scenario | server | writes/s | fsyncs/s | writes per fsync | fsync µs |\n|---|---|---:|---:|---:|---:|\n")
	for _, sc := range rep.Scenarios {
		if sc.Class == "read" && sc.Name != "serial set" {
			continue
		}
		for _, k := range kinds {
			fs := rep.stat(sc.Name, k, mFs)
			if !fs.ok() {
				continue
			}
			p("| %s | %s | %s | %s | %s | %s |\n", sc.Name, k, rep.stat(sc.Name, k, mOps), fs, rep.stat(sc.Name, k, mTpf),
				rep.stat(sc.Name, k, mFsUs))
		}
	}

	if len(rep.Mem) > 0 {
		p("\n## Memory and startup\n\n")
		p("Fresh server with Java at -Xms=-Xmx%s. 10k sessions ping every 5 s (timeout 30 s); RSS read after two ping rounds. "+
			"%d znodes of %d B (figures scaled to 1M), fan-out 1000, 27-byte paths, loaded by multis of 100 creates over 8 connections; "+
			"settled = at least 10 s after the load (Java: after jcmd GC.run) and until RSS moved by under 1%% in 3 s (at most 40 s). "+
			"Startup: SIGKILL, then restart on the same data dir, timed from exec until a session reads.\n\n", rep.JavaMem, rep.MemZnodes, rep.MemDataSize)
		p("| metric | %s | zkgo | ratio |\n|---|---:|---:|---:|\n", baseName)
		for _, r := range memRows {
			j, g := rep.memStat(rep.base(), r.m), rep.memStat(Zkgo, r.m)
			if !j.ok() && !g.ok() {
				continue
			}
			p("| %s | %s | %s | %s |\n", r.name, j, g, ratio(g, j))
		}
	}
	p("\n### Serial latency (1 connection, 1 in flight)\n\n| | %s p50 µs | zkgo p50 µs | ratio |\n|---|---:|---:|---:|\n", baseName)
	for _, n := range []string{"serial get", "serial set"} {
		j, g := rep.stat(n, rep.base(), mP50), rep.stat(n, Zkgo, mP50)
		p("| %s | %s | %s | %s |\n", n, j, g, ratio(g, j))
	}
	// Issue 19 point 4: serial set p50 within fsync + 60 µs.
	if set, fs := rep.stat("serial set", Zkgo, mP50), rep.stat("serial set", Zkgo, mFsUs); set.ok() && fs.ok() {
		p("\nzkgo serial set p50 − its mean fsync (same run, medians over repetitions): %s µs (goal ≤ 60 µs; "+
			"a mean, so slow outliers of a disk shared with other work make it too large and the difference too small).\n",
			fmtNum(set.Med-fs.Med))
	}

	p("\n## Setup\n\n")
	p("- Machine: %s\n", machineText(rep.Machine, "; "))
	p("- zkgo built with %s; GOMAXPROCS and GOGC default\n", rep.GoVersion)
	p("- Java: %s; ZooKeeper 3.8.0 (Debian), QuorumPeerMain standalone, G1 (JVM default GC)\n", rep.Java)
	p("- Java heap: -Xms=-Xmx%s for the throughput scenarios, -Xms=-Xmx%s for the memory scenarios "+
		"(right-sized: see bench/README.md for the sweep)\n", rep.JavaHeap, rep.JavaMem)
	p("- Same zoo.cfg for both: tickTime=2000, forceSync=yes (fsync before ack), snapCount 100000 (default), "+
		"maxClientCnxns=0, 4lw.commands.whitelist=*; fresh dataDir per trial under %s\n", rep.WorkDir)
	p("- Per scenario: warm-up %s (discarded), measured %s; after each server start a 90/10 run of %s (discarded); "+
		"payload %d B, 1000 hot keys, getChildren2 on 10 children\n", rep.Warmup, rep.Duration, rep.ServerWU, rep.Size)
	p("- Load generator: `zkgo bench run` in the same process as the orchestrator, raw Jute, pre-encoded requests, " +
		"pipelined; only one server runs at a time; client and server share the 2 cores\n")
	for _, sc := range rep.Scenarios {
		if sc.TLS {
			p("- Rows over TLS (issue 18): each repetition starts a second server of each kind for them, after the plaintext " +
				"scenarios and with the same warm-up, with a secureClientPort (the same generated certificates for both, " +
				"ECDSA P-256; ssl.clientAuth=need, the load generator presents a client certificate); Java with " +
				"NettyServerCnxnFactory, which its TLS needs (the plaintext rows keep its default NIO factory)\n")
			break
		}
	}
}

const historyHeader = "## History\n\n" +
	"| date (UTC) | profile | get ops/s (J / G / ratio) | set ops/s (J / G / ratio) | get CPU µs/op ratio | " +
	"p99 get@80% ratio | RSS 1M znodes ratio | RSS 10k sessions ratio | startup 1M ratio |\n" +
	"|---|---|---|---|---:|---:|---:|---:|---:|\n"

func (rep *Report) historyRow() string {
	gj, gg := rep.stat("get", Java, mOps), rep.stat("get", Zkgo, mOps)
	sj, sg := rep.stat("set", Java, mOps), rep.stat("set", Zkgo, mOps)
	return fmt.Sprintf("| %s | %s | %s / %s / %s | %s / %s / %s | %s | %s | %s | %s | %s |\n",
		rep.Date.Format("2006-01-02 15:04"), rep.Profile,
		fmtNum(gj.Med), fmtNum(gg.Med), ratio(gg, gj), fmtNum(sj.Med), fmtNum(sg.Med), ratio(sg, sj),
		fmtRatio(rep.scenarioRatio("get", mCPU)), fmtRatio(rep.scenarioRatio("get @80% Java max", mP99)),
		fmtRatio(rep.memRatio(7)), fmtRatio(rep.memRatio(2)), fmtRatio(rep.memRatio(10)))
}

// WriteResultsFile rewrites path with this report, keeping the history
// rows and the notes already there and adding this run's history row.
func (rep *Report) WriteResultsFile(path string) error {
	if rep.base() != Java {
		return fmt.Errorf("bench: an A/B run against %s does not rewrite %s (its history is zkgo ÷ Java)", rep.base(), path)
	}
	return writeResultsFile(path, "# Bench results: zkgo vs Java ZooKeeper 3.8\n\n"+
		"This file is written by `make bench` / `make bench-full`; do not edit by hand, except the "+
		"\"## Notes\" section at the end, which a run keeps. "+
		"Method: ../../shared/BENCHMARKS.md. The history at the end keeps one line per run.\n\n",
		rep.WriteMarkdown, historyHeader, rep.historyRow(), true)
}

// writeResultsFile rewrites the results file at path: title, the report
// (body), then the history section (header, the rows already in the file
// and row) and, with keepNotes, the file's "## Notes" section.
func writeResultsFile(path, title string, body func(io.Writer), header, row string, keepNotes bool) error {
	var rows []string
	var notes string
	if old, err := os.ReadFile(path); err == nil {
		rows = historyRows(string(old))
		if keepNotes {
			notes = notesSection(string(old))
		}
	}
	rows = append(rows, row)
	var b strings.Builder
	b.WriteString(title)
	body(&b)
	b.WriteString("\n")
	b.WriteString(header)
	for _, r := range rows {
		b.WriteString(r)
	}
	if notes != "" {
		b.WriteString("\n")
		b.WriteString(notes)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// writeErrors lists a run's errors, if any.
func writeErrors(w io.Writer, errs []string) {
	if len(errs) == 0 {
		return
	}
	fmt.Fprintf(w, "**Errors during the run:**\n\n")
	for _, e := range errs {
		fmt.Fprintf(w, "- %s\n", strings.ReplaceAll(strings.TrimSpace(e), "\n", " "))
	}
	fmt.Fprintf(w, "\n")
}

// machineText is MachineFacts' facts, "key: value", by key.
func machineText(m map[string]string, sep string) string {
	keys := sortedKeys(m)
	facts := make([]string, 0, len(keys))
	for _, k := range keys {
		facts = append(facts, k+": "+m[k])
	}
	return strings.Join(facts, sep)
}

// notesSection returns the hand-written "## Notes" section of a results
// file (from its heading to the end), which a new run keeps.
func notesSection(s string) string {
	i := strings.Index(s, "\n## Notes")
	if i < 0 {
		return ""
	}
	return strings.TrimRight(s[i+1:], "\n") + "\n"
}

// historyRows returns the table rows of the "## History" section of a
// results file.
func historyRows(s string) []string {
	i := strings.Index(s, "\n## History")
	if i < 0 {
		return nil
	}
	var rows []string
	for _, line := range strings.Split(s[i+1:], "\n") {
		if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| date") {
			rows = append(rows, line+"\n")
		}
		if strings.HasPrefix(line, "## ") && !strings.HasPrefix(line, "## History") {
			break
		}
	}
	return rows
}
