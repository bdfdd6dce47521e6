package bench

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

func TestParseStat(t *testing.T) {
	// The command name may contain spaces and parentheses.
	line := []byte("4242 (java (main) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 30 0 100 0 0")
	u, s, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if u != 12.34 || s != 5.67 {
		t.Fatalf("utime, stime = %v, %v; want 12.34, 5.67", u, s)
	}
	if _, _, err := parseStat([]byte("garbage")); err == nil {
		t.Fatal("no error for a line without ')'")
	}
}

func TestParseStatus(t *testing.T) {
	m := parseStatus([]byte("Name:\tzkgo\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t7\nvoluntary_ctxt_switches:\t99\n"))
	if m["VmRSS"] != 10240 || m["VmHWM"] != 20480 || m["Threads"] != 7 || m["voluntary_ctxt_switches"] != 99 {
		t.Fatalf("parseStatus = %v", m)
	}
}

func TestParseMntr(t *testing.T) {
	m := parseMntr("zk_version\t3.8.0-xyz, built on 2022\nzk_cnt_fsynctime\t42\nzk_avg_sync_processor_batch_size\t3.5\n")
	if m["zk_cnt_fsynctime"] != 42 || m["zk_avg_sync_processor_batch_size"] != 3.5 {
		t.Fatalf("parseMntr = %v", m)
	}
	if _, ok := m["zk_version"]; ok {
		t.Fatal("non-numeric key kept")
	}
}

func TestParseMix(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"get", "get:1"},
		{"90/10", "get:90,set:10"},
		{"100/0", "get:100"},
		{"0/100", "set:100"},
		{"get:3,createseq:1", "get:3,createseq:1"},
	} {
		m, err := ParseMix(tc.in)
		if err != nil {
			t.Fatalf("ParseMix(%q): %v", tc.in, err)
		}
		if m.String() != tc.want {
			t.Errorf("ParseMix(%q) = %s; want %s", tc.in, m, tc.want)
		}
	}
	for _, bad := range []string{"nope", "0/0", "get:-1", "a/b"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q): no error", bad)
		}
	}
}

func TestMixTableWeights(t *testing.T) {
	m, _ := ParseMix("70/30")
	tab := m.table()
	n := 0
	for _, op := range tab {
		if op == OpGet {
			n++
		}
	}
	if n != 179 { // 70% of 256, rounded down
		t.Fatalf("gets in table = %d; want 179", n)
	}
}

// decodeRequest splits a framed request into header and a decoded body.
func decodeRequest(t *testing.T, b []byte) (wire.RequestHeader, jute.Record, int) {
	t.Helper()
	n := int(binary.BigEndian.Uint32(b))
	if n+4 > len(b) {
		t.Fatalf("frame of %d bytes in %d", n, len(b))
	}
	r := jute.NewReader(b[4 : 4+n])
	var h wire.RequestHeader
	h.Decode(&r)
	rec, _, _ := wire.NewRequestRecord(h.Type)
	rec.Decode(&r)
	if r.Err() != nil || r.Remaining() != 0 {
		t.Fatalf("decode %v: err %v, %d bytes left", h.Type, r.Err(), r.Remaining())
	}
	return h, rec, 4 + n
}

func TestTemplatesEncodeValidRequests(t *testing.T) {
	tree := Tree{Keys: 3, Size: 16, Children: 2}.withDefaults()
	m, _ := ParseMix("get,exists,children,set,create,createseq,createeph,delete,multi")
	rs := newRequestSet(tree, "tok-007-", m)
	b := rs.create.append(nil, 77, 1234)
	h, rec, _ := decodeRequest(t, b)
	cr := rec.(*wire.CreateRequest)
	if h.Xid != 77 || h.Type != wire.OpCreate || cr.Path != "/zkbench/c/tok-007-0000001234" || len(cr.Data) != 16 {
		t.Fatalf("create = %+v %+v", h, cr)
	}
	b = rs.del.append(nil, 78, 1234)
	_, rec, _ = decodeRequest(t, b)
	if p := rec.(*wire.DeleteRequest).Path; p != "/zkbench/c/tok-007-0000001234" {
		t.Fatalf("delete path %q", p)
	}
	b = rs.multi[2].append(nil, 79, 5)
	_, rec, _ = decodeRequest(t, b)
	mr := rec.(*wire.MultiRequest)
	if len(mr.Ops) != 3 || mr.Ops[0].Type != wire.OpCheck || mr.Ops[2].Op.(*wire.CreateRequest).Path != "/zkbench/m/tok-007-0000000005" {
		t.Fatalf("multi = %+v", mr.Ops)
	}
	if p := mr.Ops[1].Op.(*wire.SetDataRequest).Path; p != tree.keyPath(2) {
		t.Fatalf("multi set path %q", p)
	}
	_, rec, _ = decodeRequest(t, rs.get[1].append(nil, 1, 0))
	if p := rec.(*wire.GetDataRequest).Path; p != "/zkbench/k/0000001" {
		t.Fatalf("get path %q", p)
	}
	_, rec, _ = decodeRequest(t, rs.seq.append(nil, 1, 0))
	if f := rec.(*wire.CreateRequest).Flags; f != flagSequential {
		t.Fatalf("seq flags %d", f)
	}
	_, rec, _ = decodeRequest(t, rs.eph.append(nil, 1, 3))
	if f := rec.(*wire.CreateRequest).Flags; f != flagEphemeral {
		t.Fatalf("eph flags %d", f)
	}
}

func TestWorkerDeleteFollowsCreate(t *testing.T) {
	tree := Tree{Keys: 1, Size: 0}.withDefaults()
	m, _ := ParseMix("delete")
	wk := &worker{rs: newRequestSet(tree, "p-", m), ops: m.table(), keys: 1, rng: 1}
	var b []byte
	var ops []Op
	for i := 0; i < 4; i++ {
		var op Op
		b, op = wk.appendNext(b)
		ops = append(ops, op)
	}
	want := []Op{OpCreate, OpDelete, OpCreate, OpDelete}
	for i := range want {
		if ops[i] != want[i] {
			t.Fatalf("ops = %v; want %v", ops, want)
		}
	}
	// The delete names the node the create before it made.
	_, c, n := decodeRequest(t, b)
	_, d, _ := decodeRequest(t, b[n:])
	if c.(*wire.CreateRequest).Path != d.(*wire.DeleteRequest).Path {
		t.Fatalf("create %q, delete %q", c.(*wire.CreateRequest).Path, d.(*wire.DeleteRequest).Path)
	}
}

func TestStatsAndFormatting(t *testing.T) {
	s := statOf([]float64{3, 1, 2})
	if s.Med != 2 || s.Min != 1 || s.Max != 3 {
		t.Fatalf("statOf = %+v", s)
	}
	if median([]float64{4, 1, 3, 2}) != 2.5 {
		t.Fatal("median of an even count")
	}
	if !math.IsNaN(statOf(nil).Med) {
		t.Fatal("statOf(nil) is not NaN")
	}
	for in, want := range map[float64]string{143541: "143.5k", 2_500_000: "2.5M", 722: "722", 12.26: "12.3", 7.456: "7.46", 40000: "40k"} {
		if got := fmtNum(in); got != want {
			t.Errorf("fmtNum(%v) = %q; want %q", in, got, want)
		}
	}
}

func TestResultsHistoryIsKept(t *testing.T) {
	rep := &Report{Profile: "quick", Date: time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC), Cells: map[string][]Cell{}}
	row := rep.historyRow()
	old := "# x\n\n## Ratios\n| a | b |\n\n" + historyHeader + "| 2029-01-01 00:00 | quick | row |\n"
	rows := historyRows(old)
	if len(rows) != 1 || !strings.HasPrefix(rows[0], "| 2029-01-01") {
		t.Fatalf("historyRows = %q", rows)
	}
	if !strings.HasPrefix(row, "| 2030-01-02 03:04 | quick |") {
		t.Fatalf("historyRow = %q", row)
	}
	var b strings.Builder
	rep.WriteMarkdown(&b) // an empty report renders without panicking
	if !strings.Contains(b.String(), "## Goals") {
		t.Fatal("no goals section")
	}
}

// A hand-written "## Notes" section at the end of RESULTS.md survives the
// next run, after the history, which keeps both rows.
func TestResultsNotesAreKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "RESULTS.md")
	rep := &Report{Profile: "quick", Date: time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC), Cells: map[string][]Cell{}}
	if err := rep.WriteResultsFile(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	notes := "## Notes\n\nMeasured by hand on a shared machine.\n"
	if err := os.WriteFile(path, append(b, []byte("\n"+notes)...), 0o644); err != nil {
		t.Fatal(err)
	}
	rep.Date = rep.Date.Add(time.Hour)
	if err := rep.WriteResultsFile(path); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	s := string(b)
	if !strings.HasSuffix(s, notes) {
		t.Fatalf("notes lost or moved:\n%s", s[max(0, len(s)-300):])
	}
	if rows := historyRows(s); len(rows) != 2 {
		t.Fatalf("history rows %q, want 2", rows)
	}
}

// make bench runs a get and a set row over TLS on servers of their own;
// a --tls run (make bench-tls), where every row goes over TLS, drops them,
// and --only selects among both kinds.
func TestSelectScenariosOverTLS(t *testing.T) {
	names := func(sc []Scenario) []string {
		var out []string
		for _, s := range sc {
			out = append(out, s.Name)
		}
		return out
	}
	sel, plain, overTLS := selectScenarios(DefaultScenarios(), nil, false)
	if got := names(overTLS); !slices.Equal(got, []string{"get over TLS", "set over TLS"}) {
		t.Fatalf("TLS rows %q", got)
	}
	if len(sel) != len(plain)+len(overTLS) || slices.Contains(names(plain), "get over TLS") {
		t.Fatalf("plain %q, TLS %q, all %q", names(plain), names(overTLS), names(sel))
	}
	sel, plain, overTLS = selectScenarios(DefaultScenarios(), nil, true)
	if len(overTLS) != 0 || len(sel) != len(plain) || slices.Contains(names(sel), "set over TLS") {
		t.Fatalf("--tls run: plain %q, TLS %q", names(plain), names(overTLS))
	}
	sel, plain, overTLS = selectScenarios(DefaultScenarios(), regexp.MustCompile(`^(get|set)( over TLS)?$`), false)
	if !slices.Equal(names(sel), []string{"get", "set", "get over TLS", "set over TLS"}) || len(plain) != 2 || len(overTLS) != 2 {
		t.Fatalf("--only: %q", names(sel))
	}
}

// An A/B run (--zkgo-baseline) divides by the baseline build, not by
// Java: the ratios, the raw rows of both builds, no goals (they are
// ratios to Java), the open-loop rate of the baseline, and RESULTS.md is
// left alone.
func TestZkgoBaselineReport(t *testing.T) {
	cell := func(k Kind, ops, cpu float64) Cell {
		return Cell{Server: k, Result: &Result{OpsPerSec: ops, Ops: int64(ops)}, CPUUsPerOp: cpu}
	}
	rep := &Report{Profile: "quick", Date: time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC), Base: ZkgoBase,
		BaseBin: "/tmp/old/zkgo", Bin: "/tmp/new/zkgo", Scenarios: []Scenario{{Name: "get", Conns: 16, Depth: 8}},
		Cells: map[string][]Cell{"get": {cell(ZkgoBase, 100, 4), cell(Zkgo, 120, 5), cell(ZkgoBase, 110, 4)}}}
	if r := rep.scenarioRatio("get", mCPU); r != 1.25 {
		t.Errorf("CPU ratio %v, want 1.25 (zkgo ÷ zkgo-base)", r)
	}
	if r := rep.javaRate("get"); r != 105 {
		t.Errorf("open-loop base rate %v, want the baseline's median 105", r)
	}
	var b strings.Builder
	rep.WriteMarkdown(&b)
	out := b.String()
	for _, want := range []string{"## Ratios (zkgo ÷ zkgo-base)", "| get | 16×8 | zkgo-base |", "| get | 16×8 | zkgo |", "/tmp/old/zkgo"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "## Goals") || strings.Contains(out, "| java |") {
		t.Errorf("an A/B report has Java's goals or rows:\n%s", out)
	}
	path := filepath.Join(t.TempDir(), "RESULTS.md")
	if err := rep.WriteResultsFile(path); err == nil {
		t.Error("an A/B run rewrote RESULTS.md")
	}
}
