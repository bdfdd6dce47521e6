//go:build javasweep

package compattest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/internal/rawzk"
	"github.com/zkgo/zkgo/node"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/proxy"
	"github.com/zkgo/zkgo/wire"
)

// TestJavaRecoverySweep runs the damaged data directories of the
// byte-corruption sweep (node/recovery_sweep_test.go) through zkgo and
// through Java ZooKeeper 3.8.0 and reports where the two disagree. It
// starts one JVM per position, so it is not part of `make test`: run it
// with `make durability-java` (docs/durability.md has the results).
//
// For each position it records what each server does: refuse to start, or
// start at some zxid. A start below the last acknowledged zxid is a silent
// loss of acknowledged writes.
func TestJavaRecoverySweep(t *testing.T) {
	j := harness.RequireJava(t)
	base := t.TempDir()
	dataDir := filepath.Join(base, "data")
	v2 := storage.VersionDir(dataDir)
	mutate := func(c *node.Config) { c.DataDir = dataDir; c.PreAllocSizeKB = 16 }

	// Two zkgo runs with acknowledged writes and a snapshot in between.
	z := harness.StartZkgo(t, mutate)
	sweepWrites(t, z.Addr, "a", 8)
	z.Stop()
	z = harness.StartZkgo(t, mutate)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if s, _ := storage.ListSnapshots(v2); len(s) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no snapshot after the restart")
		}
	}
	sweepWrites(t, z.Addr, "b", 8)
	z.Stop()
	logs, _ := storage.ListLogs(v2)
	snaps, _ := storage.ListSnapshots(v2)
	if len(logs) != 2 || len(snaps) != 2 {
		t.Fatalf("logs %v snapshots %v", logs, snaps)
	}
	// The acknowledged state, then one unacknowledged record on disk.
	ackedZxid := lastZxid(t, logs[1].Path)
	unackedAt, unackedEnd := appendUnacked(t, logs[1].Path, ackedZxid+1)
	orig := map[string][]byte{}
	ents, _ := os.ReadDir(v2)
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(v2, e.Name()))
		orig[e.Name()] = b
	}
	t.Logf("acknowledged up to %v; unacknowledged record %v at [%d,%d) of %s", ackedZxid, ackedZxid+1,
		unackedAt, unackedEnd, filepath.Base(logs[1].Path))

	rng := rand.New(rand.NewPCG(14, 2))
	type cas struct {
		file string
		pos  int64
		part string
	}
	var cases []cas
	newest := filepath.Base(logs[1].Path)
	recs := recordParts(orig[newest], unackedEnd)
	for i := 0; i < 180; i++ {
		p := rng.Int64N(unackedEnd)
		cases = append(cases, cas{newest, p, recs(p, unackedAt)})
	}
	for i := 0; i < 20; i++ {
		p := unackedEnd + rng.Int64N(int64(len(orig[newest]))-unackedEnd)
		cases = append(cases, cas{newest, p, "log: padding after the last record"})
	}
	snapName := filepath.Base(snaps[0].Path)
	for i := 0; i < 100; i++ {
		cases = append(cases, cas{snapName, rng.Int64N(int64(len(orig[snapName]))), "snapshot"})
	}
	sort.Slice(cases, func(a, b int) bool {
		if cases[a].file != cases[b].file {
			return cases[a].file < cases[b].file
		}
		return cases[a].pos < cases[b].pos
	})

	type outcome struct{ zk, java string }
	verdict := func(started bool, z wire.Zxid) string {
		switch {
		case !started:
			return "refuses"
		case z == ackedZxid+1:
			return "starts with every txn"
		case z == ackedZxid:
			return "cuts the unacknowledged txn"
		case z < ackedZxid:
			return "LOSS: starts at an older zxid"
		}
		return fmt.Sprintf("other: starts at %v", z)
	}
	tally := map[string]map[outcome]int{}
	examples := map[string]map[outcome][]string{}
	for i, c := range cases {
		dir := filepath.Join(base, fmt.Sprintf("case%03d", i))
		cv2 := storage.VersionDir(dir)
		if err := os.MkdirAll(cv2, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range orig {
			if name == c.file {
				b = bytes.Clone(b)
				b[c.pos] ^= byte(1 + rng.IntN(255))
			}
			if err := os.WriteFile(filepath.Join(cv2, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		javaDir := filepath.Join(base, fmt.Sprintf("java%03d", i))
		if err := os.CopyFS(javaDir, os.DirFS(dir)); err != nil {
			t.Fatal(err)
		}
		zs, zz := zkgoRecover(t, dir)
		js, jz, jlog := javaRecover(t, j, javaDir)
		o := outcome{verdict(zs, zz), verdict(js, jz)}
		if tally[c.part] == nil {
			tally[c.part], examples[c.part] = map[outcome]int{}, map[outcome][]string{}
		}
		tally[c.part][o]++
		if len(examples[c.part][o]) < 2 {
			ex := fmt.Sprintf("byte %d", c.pos)
			if js && jz < ackedZxid {
				ex += fmt.Sprintf(" (Java at %v)", jz)
			}
			if !js {
				ex += " (" + javaError(jlog) + ")"
			}
			examples[c.part][o] = append(examples[c.part][o], ex)
		}
		os.RemoveAll(dir)
		os.RemoveAll(javaDir)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| damaged part | zkgo | Java 3.8.0 | positions | examples |\n|---|---|---|---|---|\n")
	parts := make([]string, 0, len(tally))
	for p := range tally {
		parts = append(parts, p)
	}
	sort.Strings(parts)
	for _, p := range parts {
		var outs []outcome
		for o := range tally[p] {
			outs = append(outs, o)
		}
		sort.Slice(outs, func(a, b int) bool { return outs[a].zk+outs[a].java < outs[b].zk+outs[b].java })
		for _, o := range outs {
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %s |\n", p, o.zk, o.java, tally[p][o], strings.Join(examples[p][o], "; "))
		}
	}
	t.Log(b.String())
	for p, m := range tally {
		for o, n := range m {
			if strings.HasPrefix(o.zk, "LOSS") || strings.HasPrefix(o.zk, "other") {
				t.Errorf("zkgo lost acknowledged txns on %d positions of %s: %v", n, p, o)
			}
		}
	}
}

// sweepWrites makes n acknowledged creates (with setData and a multi).
func sweepWrites(t *testing.T, addr, prefix string, n int) {
	t.Helper()
	c, err := rawzk.Dial(addr, rawzk.Options{})
	must(t, err)
	defer c.Close()
	dir := "/" + prefix
	createAcked(t, c, dir, []byte(prefix))
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("%s/n%02d", dir, i)
		createAcked(t, c, p, []byte("v0"+p))
		if i%2 == 1 {
			var resp wire.MultiResponse
			h, err := c.Do(wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
				{Type: wire.OpSetData, Op: &wire.SetDataRequest{Path: p, Data: []byte("v1" + p), Version: 0}},
				{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: p + "m", ACL: tree.OpenACLUnsafe}},
			}}, &resp)
			must(t, err)
			if h.Err != wire.ErrOk || resp.Results[0].Type == wire.OpError {
				t.Fatalf("multi: %v %+v", h.Err, resp.Results)
			}
		}
	}
}

// lastZxid returns the zxid of the last record of a log file.
func lastZxid(t *testing.T, path string) wire.Zxid {
	t.Helper()
	lr := storage.NewLogReader([]storage.LogFile{{Path: path}}, 0)
	defer lr.Close()
	var z wire.Zxid
	for {
		r, err := lr.Next()
		if err != nil {
			return z
		}
		z = r.Entry.Hdr.Zxid
	}
}

// appendUnacked writes one more create txn record after the last record,
// as a write that reached the disk but was never acknowledged.
func appendUnacked(t *testing.T, path string, z wire.Zxid) (int64, int64) {
	t.Helper()
	b, _ := os.ReadFile(path)
	end := int64(16)
	for _, r := range logRecords(b) {
		end = r.off + 13 + r.len
	}
	txn := wire.AppendTxnEntry(nil, &wire.TxnEntry{
		Hdr:  wire.TxnHeader{ClientID: 0x77, Cxid: 1, Zxid: z, Time: time.Now().UnixMilli(), Type: wire.OpCreate},
		Body: &wire.CreateTxn{Path: "/unacked", Data: []byte("never acknowledged"), ACL: tree.OpenACLUnsafe, ParentCVersion: 1},
	})
	rec := make([]byte, 12, 13+len(txn))
	binary.BigEndian.PutUint64(rec, uint64(adler32.Checksum(txn)))
	binary.BigEndian.PutUint32(rec[8:], uint32(len(txn)))
	rec = append(append(rec, txn...), 'B')
	copy(b[end:], rec)
	must(t, os.WriteFile(path, b, 0o644))
	return end, end + int64(len(rec))
}

// recordParts names the part of a txn log a byte position is in.
func recordParts(b []byte, end int64) func(pos, unacked int64) string {
	recs := logRecords(b[:end])
	return func(pos, unacked int64) string {
		switch {
		case pos < 16:
			return "log: file header"
		case pos >= unacked:
			return "log: last record (never acknowledged)"
		}
		for _, r := range recs {
			if pos >= r.off && pos < r.off+13+r.len {
				switch off := pos - r.off; {
				case off < 8:
					return "log: acked record, checksum"
				case off < 12:
					return "log: acked record, length"
				case off == 12+r.len:
					return "log: acked record, 'B'"
				default:
					return "log: acked record, txn bytes"
				}
			}
		}
		return "log: padding"
	}
}

// zkgoRecover starts zkgo in-process on dir and returns where it started.
func zkgoRecover(t *testing.T, dir string) (bool, wire.Zxid) {
	cfg := node.DefaultConfig()
	cfg.DataDir, cfg.ClientPort = dir, 0
	cfg.Logger = zerolog.Nop()
	srv, err := node.New(cfg)
	must(t, err)
	if err := srv.Start(); err != nil {
		return false, 0
	}
	defer srv.Stop(context.Background())
	fe, err := proxy.New(proxy.Config{Addr: "127.0.0.1:0", Backend: srv, Loops: 1})
	must(t, err)
	must(t, fe.Start())
	defer fe.Stop(context.Background())
	out, err := harness.FourLetter(fe.Addr().String(), "srvr")
	must(t, err)
	return true, parseSrvrZxid(out)
}

var parseSrvrZxidRE = regexp.MustCompile(`Zxid: 0x([0-9a-f]+)`)

func parseSrvrZxid(out string) wire.Zxid {
	m := parseSrvrZxidRE.FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseUint(m[1], 16, 64)
	return wire.Zxid(v)
}

// javaRecover starts Java 3.8.0 on dir; it returns whether it served, its
// zxid and its log.
func javaRecover(t *testing.T, j *harness.Java, dir string) (bool, wire.Zxid, string) {
	port := harness.FreePort(t)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	must(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"admin.enableServer=false\n4lw.commands.whitelist=*\n", dir, port)), 0o644))
	logPath := filepath.Join(dir, "java.log")
	logf, err := os.Create(logPath)
	must(t, err)
	cmd := exec.Command(j.Java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dzookeeper.admin.enableServer=false",
		"-cp", j.Classpath("/etc/zookeeper/conf"), "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	must(t, cmd.Start())
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	started, z := false, wire.Zxid(-1)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			deadline = time.Now()
			continue
		default:
		}
		if out, err := harness.FourLetter(addr, "srvr"); err == nil && strings.HasPrefix(out, "Zookeeper version:") {
			started, z = true, parseSrvrZxid(out)
			break
		}
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
	b, _ := os.ReadFile(logPath)
	return started, z, string(b)
}

var javaErrRE = regexp.MustCompile(`(?m)^(java\.io\.\w+Exception: .*)$`)

// javaError is the exception Java exited with.
func javaError(log string) string {
	if m := javaErrRE.FindStringSubmatch(log); m != nil {
		return m[1]
	}
	return "no exception logged"
}
