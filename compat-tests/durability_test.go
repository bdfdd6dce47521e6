package compattest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/internal/rawzk"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node"
	"github.com/zkgo/zkgo/node/storage"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

// writerLog tracks one writer's key: write n sets /k<i> to n (expecting
// version n-1) and creates /c<i>/n, atomically in one multi.
type writerLog struct {
	mu       sync.Mutex
	sent     int // highest n sent
	acked    int // highest n acknowledged
	failures int
}

// runWriter pipelines depth writes at a time until stop closes or the
// connection dies. It starts from version start.
func runWriter(addr string, i, start, depth int, wl *writerLog, stop <-chan struct{}) {
	c, err := rawzk.Dial(addr, rawzk.Options{TimeoutMs: 10000})
	if err != nil {
		return
	}
	defer c.Close()
	key, dir := fmt.Sprintf("/k%d", i), fmt.Sprintf("/c%d", i)
	acl := tree.OpenACLUnsafe
	type inflight struct {
		n  int
		ch <-chan rawzk.Reply
	}
	var q []inflight
	n := start
	for {
		for len(q) < depth {
			select {
			case <-stop:
				return
			default:
			}
			n++
			m := &wire.MultiRequest{Ops: []wire.MultiOp{
				{Type: wire.OpSetData, Op: &wire.SetDataRequest{Path: key, Data: []byte(strconv.Itoa(n)), Version: int32(n - 1)}},
				{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: dir + "/" + strconv.Itoa(n), ACL: acl}},
			}}
			ch, err := c.Send(c.NextXid(), wire.OpMulti, m)
			if err != nil {
				return
			}
			wl.mu.Lock()
			wl.sent = n
			wl.mu.Unlock()
			q = append(q, inflight{n, ch})
		}
		r, ok := <-q[0].ch
		if !ok {
			return
		}
		var resp wire.MultiResponse
		if err := jute.Unmarshal(r.Body, &resp); err != nil || r.Header.Err != wire.ErrOk {
			return
		}
		if len(resp.Results) != 2 || resp.Results[0].Type == wire.OpError {
			wl.mu.Lock()
			wl.failures++
			wl.mu.Unlock()
			return
		}
		wl.mu.Lock()
		wl.acked = q[0].n
		wl.mu.Unlock()
		q = q[1:]
	}
}

// TestDurabilityCrashLoop SIGKILLs zkgo repeatedly during a pipelined,
// concurrent write load; after every restart each acknowledged write must
// be there and nothing that was never sent may appear.
func TestDurabilityCrashLoop(t *testing.T) {
	bin := harness.BuildZkgo(t)
	dir := t.TempDir()
	port := harness.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := filepath.Join(dir, "zoo.cfg")
	harness.WriteZooCfg(t, cfg, map[string]string{
		"tickTime": "2000", "dataDir": filepath.Join(dir, "data"), "clientPort": strconv.Itoa(port),
		"clientPortAddress": "127.0.0.1", "4lw.commands.whitelist": "*", "maxClientCnxns": "0",
		// Small snapCount and preallocation: snapshots and log rolls happen
		// during the test and are crashed into too.
		"snapCount": "600", "preAllocSize": "256",
	})
	const writers, depth, rounds = 8, 16, 6
	logs := make([]*writerLog, writers)
	for i := range logs {
		logs[i] = &writerLog{}
	}
	p := harness.StartZkgoProc(t, bin, cfg, addr)
	setup, _ := connect(t, addr, 10*time.Second)
	for i := 0; i < writers; i++ {
		_, err := setup.Create(fmt.Sprintf("/k%d", i), []byte("0"), 0, open)
		must(t, err)
		_, err = setup.Create(fmt.Sprintf("/c%d", i), nil, 0, open)
		must(t, err)
	}
	setup.Close()
	rng := rand.New(rand.NewPCG(42, 7))
	total := 0
	for round := 0; round < rounds; round++ {
		// Resume each writer from what survived (its key's version).
		starts := make([]int, writers)
		chk, err := rawzk.Dial(addr, rawzk.Options{})
		must(t, err)
		for i := range starts {
			var st wire.ExistsResponse
			h, err := chk.Do(wire.OpExists, &wire.ExistsRequest{Path: fmt.Sprintf("/k%d", i)}, &st)
			must(t, err)
			if h.Err != wire.ErrOk {
				t.Fatal(h.Err)
			}
			starts[i] = int(st.Stat.Version)
		}
		chk.Close()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i := 0; i < writers; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				runWriter(addr, i, starts[i], depth, logs[i], stop)
			}(i)
		}
		time.Sleep(time.Duration(200+rng.IntN(500)) * time.Millisecond)
		p.Kill() // crash with writes in flight
		close(stop)
		wg.Wait()
		p = harness.StartZkgoProc(t, bin, cfg, addr)
		verifyAcked(t, addr, logs, round)
		for _, l := range logs {
			total += l.acked
		}
	}
	if total == 0 {
		t.Fatal("no write was ever acknowledged")
	}
	for i, l := range logs {
		if l.failures > 0 {
			t.Errorf("writer %d saw %d failed multis", i, l.failures)
		}
	}
	t.Logf("%d rounds of SIGKILL under load; writers reached versions %v", rounds, func() []int {
		var v []int
		for _, l := range logs {
			v = append(v, l.acked)
		}
		return v
	}())
}

func verifyAcked(t *testing.T, addr string, logs []*writerLog, round int) {
	t.Helper()
	c, err := rawzk.Dial(addr, rawzk.Options{})
	must(t, err)
	defer c.Close()
	for i, l := range logs {
		l.mu.Lock()
		acked, sent := l.acked, l.sent
		l.mu.Unlock()
		var gd wire.GetDataResponse
		h, err := c.Do(wire.OpGetData, &wire.GetDataRequest{Path: fmt.Sprintf("/k%d", i)}, &gd)
		must(t, err)
		v := int(gd.Stat.Version)
		if h.Err != wire.ErrOk || string(gd.Data) != strconv.Itoa(v) {
			t.Fatalf("round %d key %d: err %v data %q version %d", round, i, h.Err, gd.Data, v)
		}
		if v < acked {
			t.Fatalf("round %d key %d: acknowledged write %d lost (version %d)", round, i, acked, v)
		}
		if v > sent {
			t.Fatalf("round %d key %d: version %d was never sent (sent up to %d)", round, i, v, sent)
		}
		var ch wire.GetChildren2Response
		h, err = c.Do(wire.OpGetChildren2, &wire.GetChildren2Request{Path: fmt.Sprintf("/c%d", i)}, &ch)
		must(t, err)
		if int(ch.Stat.NumChildren) != v {
			t.Fatalf("round %d key %d: version %d but %d children (multi not atomic)", round, i, v, ch.Stat.NumChildren)
		}
		// Keep the writer's counters in step with what survived.
		l.mu.Lock()
		l.sent, l.acked = v, v
		l.mu.Unlock()
	}
}

// TestDurabilityDiskFull fills the data directory's filesystem: writes
// that cannot be made durable are refused with SYSTEMERROR (never
// acknowledged), reads keep working, writes resume once space returns, and
// a restart finds exactly the acknowledged writes.
func TestDurabilityDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		harness.Unavailable(t, "mounting a small tmpfs needs root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt).CombinedOutput(); err != nil {
		harness.Unavailable(t, "mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })
	data := filepath.Join(mnt, "data")
	mutate := func(c *node.Config) { c.DataDir = data; c.PreAllocSizeKB = 64 }
	z := harness.StartZkgo(t, mutate)
	c, err := rawzk.Dial(z.Addr, rawzk.Options{})
	must(t, err)
	// Leave about 600 KiB free.
	filler := filepath.Join(mnt, "filler")
	var st syscall.Statfs_t
	must(t, syscall.Statfs(mnt, &st))
	free := int64(st.Bavail) * int64(st.Bsize)
	must(t, os.WriteFile(filler, make([]byte, free-600<<10), 0o644))

	payload := make([]byte, 1024)
	var acked []string
	var refused int
	for n := 0; n < 3000 && refused < 5; n++ {
		path := fmt.Sprintf("/n%04d", n)
		h, err := c.Do(wire.OpCreate, &wire.CreateRequest{Path: path, Data: payload, ACL: tree.OpenACLUnsafe}, nil)
		must(t, err)
		switch h.Err {
		case wire.ErrOk:
			if refused > 0 {
				t.Fatalf("write %s acknowledged while the disk is full", path)
			}
			acked = append(acked, path)
		case wire.ErrSystemError:
			refused++
		default:
			t.Fatalf("create %s: %v", path, h.Err)
		}
	}
	if refused == 0 {
		t.Fatal("the disk never filled")
	}
	// Reads still work.
	var gd wire.GetDataResponse
	if h, err := c.Do(wire.OpGetData, &wire.GetDataRequest{Path: acked[len(acked)-1]}, &gd); err != nil || h.Err != wire.ErrOk {
		t.Fatalf("read while disk full: %v %v", h.Err, err)
	}
	// Free the space: writes resume after the log's retry.
	must(t, os.Remove(filler))
	resumed := false
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		path := fmt.Sprintf("/after%d", len(acked))
		h, err := c.Do(wire.OpCreate, &wire.CreateRequest{Path: path, Data: payload, ACL: tree.OpenACLUnsafe}, nil)
		must(t, err)
		if h.Err == wire.ErrOk {
			acked = append(acked, path)
			resumed = true
			break
		}
	}
	if !resumed {
		t.Fatal("writes did not resume after space was freed")
	}
	c.Close()
	z.Stop()
	// A restart holds exactly the acknowledged nodes.
	z2 := harness.StartZkgo(t, mutate)
	c2, _ := connect(t, z2.Addr, 10*time.Second)
	kids, _, err := c2.Children("/")
	must(t, err)
	var got []string
	for _, k := range kids {
		if k != "zookeeper" {
			got = append(got, "/"+k)
		}
	}
	sort.Strings(got)
	sort.Strings(acked)
	if strings.Join(got, ",") != strings.Join(acked, ",") {
		t.Fatalf("after restart:\n got %d nodes\nwant %d acknowledged", len(got), len(acked))
	}
	t.Logf("%d writes acknowledged, %d refused with SYSTEMERROR while full; all acknowledged ones survived a restart", len(acked), refused)
}

// TestRecoveryFallbacks: a damaged newest snapshot makes zkgo fall back to
// the previous one (and replay more log); a missing log file in the middle
// is a clear startup error, not silent data loss.
func TestRecoveryFallbacks(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	mutate := func(c *node.Config) { c.DataDir = dataDir; c.SnapCount = 50 }
	z := harness.StartZkgo(t, mutate)
	c, err := rawzk.Dial(z.Addr, rawzk.Options{})
	must(t, err)
	for i := 0; i < 400; i++ {
		h, err := c.Do(wire.OpCreate, &wire.CreateRequest{Path: fmt.Sprintf("/r%03d", i), Data: []byte("x"), ACL: tree.OpenACLUnsafe}, nil)
		must(t, err)
		if h.Err != wire.ErrOk {
			t.Fatal(h.Err)
		}
	}
	c.Close()
	time.Sleep(300 * time.Millisecond)
	z.Stop()
	v2 := filepath.Join(dataDir, "version-2")
	snaps, _ := filepath.Glob(filepath.Join(v2, "snapshot.*"))
	sort.Slice(snaps, func(i, j int) bool { return snapZxid(snaps[i]) < snapZxid(snaps[j]) })
	if len(snaps) < 3 {
		t.Fatalf("want several snapshots, got %v", snaps)
	}
	// Corrupt the newest snapshot in the middle (it still "looks valid").
	newest := snaps[len(snaps)-1]
	b, err := os.ReadFile(newest)
	must(t, err)
	b[len(b)/2] ^= 0xff
	must(t, os.WriteFile(newest, b, 0o644))
	z = harness.StartZkgo(t, mutate)
	cc, _ := connect(t, z.Addr, 10*time.Second)
	kids, _, err := cc.Children("/")
	must(t, err)
	if len(kids) != 401 {
		t.Fatalf("after falling back to an older snapshot: %d children, want 401", len(kids))
	}
	cc.Close()
	z.Stop()
	// Remove a log file from the middle: startup must refuse.
	logs, _ := filepath.Glob(filepath.Join(v2, "log.*"))
	sort.Slice(logs, func(i, j int) bool { return snapZxid(logs[i]) < snapZxid(logs[j]) })
	if len(logs) < 3 {
		t.Fatalf("want several logs, got %v", logs)
	}
	// Keep only the oldest snapshot so replay must cross the gap.
	snaps, _ = filepath.Glob(filepath.Join(v2, "snapshot.*"))
	sort.Slice(snaps, func(i, j int) bool { return snapZxid(snaps[i]) < snapZxid(snaps[j]) })
	for _, s := range snaps[1:] {
		must(t, os.Remove(s))
	}
	must(t, os.Remove(logs[1]))
	cfg := node.DefaultConfig()
	mutate(&cfg)
	cfg.ClientPort = 0
	cfg.Logger = harness.TestLogger(t, zerolog.InfoLevel)
	srv, err := node.New(cfg)
	must(t, err)
	if err := srv.Start(); err == nil || !strings.Contains(err.Error(), "gap") {
		t.Fatalf("start with a missing log file: err = %v, want a txn log gap error", err)
	}
}

func snapZxid(path string) int64 {
	parts := strings.Split(filepath.Base(path), ".")
	v, _ := strconv.ParseInt(parts[1], 16, 64)
	return v
}

// createAcked creates path through c and fails the test unless it is
// acknowledged.
func createAcked(t *testing.T, c *rawzk.Client, path string, data []byte) {
	t.Helper()
	h, err := c.Do(wire.OpCreate, &wire.CreateRequest{Path: path, Data: data, ACL: tree.OpenACLUnsafe}, nil)
	must(t, err)
	if h.Err != wire.ErrOk {
		t.Fatalf("create %s: %v", path, h.Err)
	}
}

// requireNodes fails the test unless every path exists with its data (or
// just exists, for nil data) and none of gone does.
func requireNodes(t *testing.T, addr string, want map[string][]byte, gone ...string) {
	t.Helper()
	c, err := rawzk.Dial(addr, rawzk.Options{})
	must(t, err)
	defer c.Close()
	for p, data := range want {
		if data == nil { // only its existence (its ACL may forbid reading)
			h, err := c.Do(wire.OpExists, &wire.ExistsRequest{Path: p}, nil)
			must(t, err)
			if h.Err != wire.ErrOk {
				t.Fatalf("acknowledged %s lost after a restart: %v", p, h.Err)
			}
			continue
		}
		// Read the reply with room for large nodes (rawzk's Do decodes
		// with the default 1 MiB limit).
		ch, err := c.Send(c.NextXid(), wire.OpGetData, &wire.GetDataRequest{Path: p})
		must(t, err)
		r := <-ch
		var gd wire.GetDataResponse
		if r.Header.Err == wire.ErrOk {
			must(t, jute.UnmarshalMax(r.Body, &gd, 64<<20))
		}
		if r.Header.Err != wire.ErrOk || !bytes.Equal(gd.Data, data) {
			t.Fatalf("acknowledged %s lost after a restart: %v (%d bytes)", p, r.Header.Err, len(gd.Data))
		}
	}
	for _, p := range gone {
		h, err := c.Do(wire.OpExists, &wire.ExistsRequest{Path: p}, nil)
		must(t, err)
		if h.Err != wire.ErrNoNode {
			t.Fatalf("%s exists after a restart: %v", p, h.Err)
		}
	}
}

// TestDurabilityOversizedTxnRefused is issue 14 reproduction (a): after
// 200 addauth digest, a create whose ACL has 300 "auth" entries expands to
// 60,000 ACL entries, a ~3.3 MB txn. zkgo used to log and acknowledge it,
// then on restart took it for a torn write and truncated the log, losing
// it and every acknowledged write after it; Java 3.8 acknowledges it too
// and then refuses to start ("Unreasonable length"). The write must be
// refused before it is logged, and nothing acknowledged may be lost.
func TestDurabilityOversizedTxnRefused(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	mutate := func(c *node.Config) { c.DataDir = dataDir }
	z := harness.StartZkgo(t, mutate)
	c, err := rawzk.Dial(z.Addr, rawzk.Options{})
	must(t, err)
	createAcked(t, c, "/before", []byte("b"))
	addAuths(t, c, 200)
	h, err := c.Do(wire.OpCreate, &wire.CreateRequest{Path: "/big", ACL: authACL(300)}, nil)
	must(t, err)
	if h.Err != wire.ErrBadArguments {
		t.Fatalf("create with 300 auth ACL entries after 200 addauth (a ~3.3 MB txn): %v, want BADARGUMENTS", h.Err)
	}
	// The same inside a multi.
	var mr wire.MultiResponse
	h, err = c.Do(wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
		{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/m1", ACL: tree.OpenACLUnsafe}},
		{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/m2", ACL: authACL(300)}},
	}}, &mr)
	must(t, err)
	if h.Err != wire.ErrOk || len(mr.Results) != 2 || mr.Results[0].Type != wire.OpError || mr.Results[0].Err != wire.ErrOk ||
		mr.Results[1].Type != wire.OpError || mr.Results[1].Err != wire.ErrBadArguments {
		t.Fatalf("multi with an oversized txn: %v %+v, want the second op to fail with BADARGUMENTS", h.Err, mr.Results)
	}
	// An expansion that still fits (10 x 200 entries) is fine.
	h, err = c.Do(wire.OpCreate, &wire.CreateRequest{Path: "/fits", ACL: authACL(10)}, nil)
	must(t, err)
	if h.Err != wire.ErrOk {
		t.Fatalf("create with 10 auth ACL entries: %v", h.Err)
	}
	createAcked(t, c, "/after", []byte("a"))
	c.Close()
	z.Stop()
	z = harness.StartZkgo(t, mutate)
	requireNodes(t, z.Addr, map[string][]byte{"/before": []byte("b"), "/fits": nil, "/after": []byte("a")}, "/big", "/m1", "/m2")
}

// TestDurabilityLargeMaxBuffer is issue 14 reproduction (b): with
// jute.maxbuffer=8388608 in zoo.cfg, a 3 MiB node is accepted; its txn
// must read back after a restart (the log reader used a fixed 2 MiB limit,
// took the record for a torn write and truncated the log).
func TestDurabilityLargeMaxBuffer(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	parsed, err := node.ParseConfig(strings.NewReader("dataDir=" + dataDir + "\nclientPort=2181\njute.maxbuffer=8388608\n"))
	must(t, err)
	if parsed.MaxBuffer != 8388608 {
		t.Fatalf("jute.maxbuffer from zoo.cfg: MaxBuffer %d", parsed.MaxBuffer)
	}
	mutate := func(c *node.Config) {
		c.DataDir, c.MaxBuffer, c.Properties = dataDir, parsed.MaxBuffer, parsed.Properties
	}
	z := harness.StartZkgo(t, mutate)
	c, err := rawzk.Dial(z.Addr, rawzk.Options{})
	must(t, err)
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16)
	createAcked(t, c, "/big", big)
	createAcked(t, c, "/after", []byte("a"))
	c.Close()
	z.Stop()
	z = harness.StartZkgo(t, mutate)
	requireNodes(t, z.Addr, map[string][]byte{"/big": big, "/after": []byte("a")})
	z.Stop()
	// A server with the default limit refuses the directory (the record is
	// complete, just too long for it) instead of cutting it away.
	cfg := node.DefaultConfig()
	cfg.DataDir, cfg.ClientPort = dataDir, 0
	cfg.Logger = harness.TestLogger(t, zerolog.InfoLevel)
	srv, err := node.New(cfg)
	must(t, err)
	err = srv.Start()
	if err == nil {
		_ = srv.Stop(context.Background())
		t.Fatal("a server with the default jute.maxbuffer started on a log holding a 3 MiB txn")
	}
	if !strings.Contains(err.Error(), "longer than this server's limit") || !strings.Contains(err.Error(), "refusing to start") {
		t.Fatalf("unclear refusal: %v", err)
	}
	z = harness.StartZkgo(t, mutate)
	requireNodes(t, z.Addr, map[string][]byte{"/big": big, "/after": []byte("a")})
}

// TestDurabilityDamagedLogRefused is issue 14 reproduction (c): one
// damaged byte in the middle of a txn log (a length byte, the 'B', the
// checksum, a zeroed length) made zkgo stop reading there, cut the log and
// come back at an old zxid with a closed session alive again. It must
// refuse to start, name the file, offset and zxids, point at the tools,
// and leave every file as it was.
func TestDurabilityDamagedLogRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(b []byte, off, l int64)
	}{
		{"length byte", func(b []byte, off, l int64) { b[off+9] ^= 0x40 }},
		{"length smaller", func(b []byte, off, l int64) { b[off+11] -= 3 }},
		{"end-of-record byte", func(b []byte, off, l int64) { b[off+12+l] = 'X' }},
		{"checksum", func(b []byte, off, l int64) { b[off+7] ^= 1 }},
		{"zero length", func(b []byte, off, l int64) { copy(b[off+8:off+12], []byte{0, 0, 0, 0}) }},
		{"zeroed header", func(b []byte, off, l int64) { copy(b[off:off+12], make([]byte, 12)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data")
			mutate := func(c *node.Config) { c.DataDir = dataDir }
			z := harness.StartZkgo(t, mutate)
			c, err := rawzk.Dial(z.Addr, rawzk.Options{})
			must(t, err)
			for i := 0; i < 10; i++ {
				createAcked(t, c, fmt.Sprintf("/n%d", i), []byte("data"))
			}
			must(t, c.CloseSession())
			c.Close()
			z.Stop()
			logs, err := storage.ListLogs(storage.VersionDir(dataDir))
			must(t, err)
			if len(logs) != 1 {
				t.Fatalf("logs %+v", logs)
			}
			b, err := os.ReadFile(logs[0].Path)
			must(t, err)
			recs := logRecords(b)
			mid := recs[len(recs)/2]
			tc.damage(b, mid.off, mid.len)
			must(t, os.WriteFile(logs[0].Path, b, 0o644))
			before := dirContents(t, storage.VersionDir(dataDir))

			cfg := node.DefaultConfig()
			mutate(&cfg)
			cfg.ClientPort = 0
			cfg.Logger = harness.TestLogger(t, zerolog.InfoLevel)
			srv, err := node.New(cfg)
			must(t, err)
			err = srv.Start()
			if err == nil {
				_ = srv.Stop(context.Background())
				t.Fatal("started on a log damaged in the middle")
			}
			msg := err.Error()
			for _, want := range []string{"refusing to start", logs[0].Path, fmt.Sprintf("offset %d", mid.off),
				"last good txn before it: " + recs[len(recs)/2-1].zxid.String(), "zkgo txnlog verify", "zkgo txnlog truncate --at"} {
				if !strings.Contains(msg, want) {
					t.Fatalf("refusal %q does not say %q", msg, want)
				}
			}
			if after := dirContents(t, storage.VersionDir(dataDir)); after != before {
				t.Fatalf("refusing to start changed the data directory:\n%s\nwas\n%s", after, before)
			}
		})
	}
}

// logRecord is where a txn log record lies in its file.
type logRecord struct {
	off, len int64
	zxid     wire.Zxid
}

// logRecords walks the records of an undamaged txn log file.
func logRecords(b []byte) []logRecord {
	var out []logRecord
	for off := int64(16); off+12 <= int64(len(b)); {
		l := int64(binary.BigEndian.Uint32(b[off+8:]))
		if l == 0 || off+13+l > int64(len(b)) {
			break
		}
		out = append(out, logRecord{off: off, len: l, zxid: wire.Zxid(binary.BigEndian.Uint64(b[off+12+12:]))})
		off += 13 + l
	}
	return out
}

// dirContents describes every file of dir (name, size, content hash).
func dirContents(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	must(t, err)
	var b strings.Builder
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		must(t, err)
		fmt.Fprintf(&b, "%s %d %x\n", e.Name(), len(data), sha256.Sum256(data))
	}
	return b.String()
}

// addAuths sends n addauth digest packets on c and waits for them.
func addAuths(t *testing.T, c *rawzk.Client, n int) {
	t.Helper()
	var replies []<-chan rawzk.Reply
	for i := 0; i < n; i++ {
		ch, err := c.Send(wire.XidAuth, wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte(fmt.Sprintf("user%03d:pw", i))})
		must(t, err)
		replies = append(replies, ch)
	}
	for _, ch := range replies {
		if r := <-ch; r.Header.Err != wire.ErrOk {
			t.Fatalf("addauth: %v", r.Header.Err)
		}
	}
}

// authACL is n distinct "auth" ACL entries.
func authACL(n int) []wire.ACL {
	var acl []wire.ACL
	for i := 0; i < n; i++ {
		acl = append(acl, wire.ACL{Perms: int32(wire.PermAll), ID: wire.ID{Scheme: "auth", ID: fmt.Sprintf("x%d", i)}})
	}
	return acl
}

// TestDurabilityLargestTxnReachesJavaFollowers: what a zkgo leader logs and
// proposes, Java 3.8 followers must be able to read (their limit is
// jute.maxbuffer plus the extra allowance, 2 x 0xfffff by default). A txn
// just under that limit (an "auth" ACL expanded to 34,000 entries, sent
// through a Java follower) reaches every follower; one over it (the ~3.3
// MB txn of issue 14's reproduction) is refused with BADARGUMENTS instead
// of being proposed to followers that cannot read it.
func TestDurabilityLargestTxnReachesJavaFollowers(t *testing.T) {
	e := zkgoLeadsTwoJava(t)
	c, err := rawzk.Dial(e.m.ClientAddr(1), rawzk.Options{})
	must(t, err)
	defer c.Close()
	addAuths(t, c, 200)
	h, err := c.Do(wire.OpCreate, &wire.CreateRequest{Path: "/fits", ACL: authACL(170)}, nil)
	must(t, err)
	if h.Err != wire.ErrOk {
		t.Fatalf("create with a ~1.9 MB txn through a Java follower: %v", h.Err)
	}
	h, err = c.Do(wire.OpCreate, &wire.CreateRequest{Path: "/big", ACL: authACL(300)}, nil)
	must(t, err)
	if h.Err != wire.ErrBadArguments {
		t.Fatalf("create with a ~3.3 MB txn through a Java follower: %v, want BADARGUMENTS", h.Err)
	}
	createAcked(t, c, "/after", []byte("a"))
	for _, addr := range []string{e.m.ClientAddr(2), e.zk[3].Addr} {
		rc, err := rawzk.Dial(addr, rawzk.Options{})
		must(t, err)
		if h, err := rc.Do(wire.OpSync, &wire.SyncRequest{Path: "/"}, nil); err != nil || h.Err != wire.ErrOk {
			t.Fatalf("sync on %s: %v %v", addr, h.Err, err)
		}
		for _, p := range []string{"/fits", "/after"} {
			if h, err := rc.Do(wire.OpExists, &wire.ExistsRequest{Path: p}, nil); err != nil || h.Err != wire.ErrOk {
				t.Fatalf("%s on %s: %v %v", p, addr, h.Err, err)
			}
		}
		rc.Close()
	}
	for _, id := range []int64{1, 2} {
		if mode, err := e.m.Mode(id); err != nil || mode != "follower" {
			t.Fatalf("Java member %d: %s %v", id, mode, err)
		}
	}
	checkJavaLogsOf(t, e.m, 1, 2)
}

// TestDurabilityCloseSessionTxnBounded: a closeSession txn lists the
// session's ephemerals (CloseSessionTxn), so a session with 2.3 MB of
// ephemeral paths made a txn longer than any reader accepts; zkgo logged
// it and on restart cut the log there (the session and its ephemerals came
// back, later writes were lost). Its list is left empty when it would not
// fit: every reader then deletes the session's ephemerals from its own
// index, as for a pre-3.6 closeSession.
func TestDurabilityCloseSessionTxnBounded(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	mutate := func(c *node.Config) { c.DataDir = dataDir }
	z := harness.StartZkgo(t, mutate)
	c, err := rawzk.Dial(z.Addr, rawzk.Options{})
	must(t, err)
	const n = 24000
	prefix := "/e-" + strings.Repeat("p", 90) + "-"
	var replies []<-chan rawzk.Reply
	for i := 0; i < n; i++ {
		ch, err := c.Send(c.NextXid(), wire.OpCreate, &wire.CreateRequest{Path: fmt.Sprintf("%s%05d", prefix, i),
			ACL: tree.OpenACLUnsafe, Flags: int32(wire.ModeEphemeral)})
		must(t, err)
		replies = append(replies, ch)
		if len(replies) == 500 || i == n-1 {
			for _, ch := range replies {
				if r := <-ch; r.Header.Err != wire.ErrOk {
					t.Fatalf("ephemeral: %v", r.Header.Err)
				}
			}
			replies = replies[:0]
		}
	}
	must(t, c.CloseSession())
	c.Close()
	c2, err := rawzk.Dial(z.Addr, rawzk.Options{})
	must(t, err)
	createAcked(t, c2, "/after", []byte("a"))
	var kids wire.GetChildrenResponse
	h, err := c2.Do(wire.OpGetChildren, &wire.GetChildrenRequest{Path: "/"}, &kids)
	must(t, err)
	if h.Err != wire.ErrOk || len(kids.Children) != 2 {
		t.Fatalf("after closing the session: %v, %d children of /", h.Err, len(kids.Children))
	}
	c2.Close()
	z.Stop()
	z = harness.StartZkgo(t, mutate)
	requireNodes(t, z.Addr, map[string][]byte{"/after": []byte("a")}, fmt.Sprintf("%s%05d", prefix, 0), fmt.Sprintf("%s%05d", prefix, n-1))
}

// TestDurabilityTornTailKeptAside: a record a crash interrupted at the end
// of the newest log (its header and part of its bytes, no 'B', zeros
// after) is cut at start, and its bytes are kept in a side file next to
// the log whose name neither zkgo nor Java reads as a log or snapshot:
// zkgo and then Java 3.8 start on the directory with every acknowledged
// write.
func TestDurabilityTornTailKeptAside(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	v2 := storage.VersionDir(dataDir)
	mutate := func(c *node.Config) { c.DataDir = dataDir }
	z := harness.StartZkgo(t, mutate)
	c, err := rawzk.Dial(z.Addr, rawzk.Options{})
	must(t, err)
	want := map[string][]byte{}
	for i := 0; i < 5; i++ {
		p := fmt.Sprintf("/n%d", i)
		createAcked(t, c, p, []byte(p))
		want[p] = []byte(p)
	}
	c.Close()
	z.Stop()
	logs, err := storage.ListLogs(v2)
	must(t, err)
	path := logs[len(logs)-1].Path
	b, err := os.ReadFile(path)
	must(t, err)
	recs := logRecords(b)
	end := recs[len(recs)-1].off + 13 + recs[len(recs)-1].len
	torn := []byte{0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 60, 0, 0, 0, 0, 0, 0, 0, 9}
	copy(b[end:], torn) // 20 of the record's 73 bytes made it
	must(t, os.WriteFile(path, b, 0o644))

	z = harness.StartZkgo(t, mutate)
	requireNodes(t, z.Addr, want)
	z.Stop()
	side, _ := filepath.Glob(filepath.Join(v2, "torn-*"))
	if len(side) != 1 {
		t.Fatalf("torn tail cut without a side file: %v", side)
	}
	kept, err := os.ReadFile(side[0])
	must(t, err)
	if !bytes.Equal(bytes.TrimRight(kept, "\x00"), torn) {
		t.Fatalf("side file %s holds %x, want the torn bytes %x", side[0], kept, torn)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != end {
		t.Fatalf("log not cut at %d: %v %v", end, st.Size(), err)
	}
	files, _ := storage.ListLogs(v2)
	for _, f := range files {
		if f.Path == side[0] {
			t.Fatalf("the side file is taken for a log: %v", files)
		}
	}
	j := harness.StartJavaZK(t, harness.JavaOptions{DataDir: dataDir})
	requireNodes(t, j.Addr, want)
}
