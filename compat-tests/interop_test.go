package compattest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/node"
)

const interopSuper = "super:D/InIHSb7yEEbrWz8b9l71RjZJU=" // super:test

// nodeDump is everything a client can see of a node.
type nodeDump struct {
	Data string
	Stat zk.Stat
	ACL  []zk.ACL
}

// dumpTree reads the whole tree as the super user.
func dumpTree(t *testing.T, addr string) map[string]nodeDump {
	t.Helper()
	c, _ := connect(t, addr, 20*time.Second)
	defer c.Close()
	must(t, c.AddAuth("digest", []byte("super:test")))
	out := map[string]nodeDump{}
	var walk func(p string)
	walk = func(p string) {
		data, st, err := c.Get(p)
		must(t, err)
		acl, _, err := c.GetACL(p)
		must(t, err)
		out[p] = nodeDump{Data: string(data), Stat: *st, ACL: acl}
		kids, _, err := c.Children(p)
		must(t, err)
		sort.Strings(kids)
		for _, k := range kids {
			if p == "/" {
				walk("/" + k)
			} else {
				walk(p + "/" + k)
			}
		}
	}
	walk("/")
	return out
}

// buildTree writes a non-trivial tree: thousands of nodes at several
// depths, data of many sizes, ACLs, sequential counters, a container, TTL
// nodes, setData/setACL history, deletes, and ephemerals of a session that
// stays open. It returns that session so the caller can leave it open.
func buildTree(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, _ := connect(t, addr, 30*time.Second)
	must(t, c.AddAuth("digest", []byte("alice:secret")))
	rng := rand.New(rand.NewPCG(1, 2))
	for a := 0; a < 20; a++ {
		pa := fmt.Sprintf("/app%02d", a)
		_, err := c.Create(pa, []byte(pa), 0, open)
		must(t, err)
		var ops []any
		for b := 0; b < 100; b++ {
			data := make([]byte, rng.IntN(300))
			for i := range data {
				data[i] = byte(rng.IntN(256))
			}
			ops = append(ops, &zk.CreateRequest{Path: fmt.Sprintf("%s/n%03d", pa, b), Data: data, Acl: open})
		}
		_, err = c.Multi(ops...)
		must(t, err)
		for s := 0; s < 5; s++ {
			_, err := c.Create(pa+"/seq-", []byte{byte(s)}, zk.FlagSequence, open)
			must(t, err)
		}
		must(t, c.Delete(fmt.Sprintf("%s/n%03d", pa, 7), -1))
		_, err = c.Set(fmt.Sprintf("%s/n%03d", pa, 8), []byte("changed"), -1)
		must(t, err)
	}
	_, err := c.Create("/secure", []byte("s"), 0, zk.DigestACL(zk.PermAll, "alice", "secret"))
	must(t, err)
	_, err = c.Create("/mixed", nil, 0, append(zk.WorldACL(zk.PermRead), zk.ACL{Perms: zk.PermAll, Scheme: "ip", ID: "127.0.0.1"}))
	must(t, err)
	_, err = c.SetACL("/app00", zk.AuthACL(zk.PermAll), -1)
	must(t, err)
	_, err = c.CreateContainer("/box", nil, zk.FlagTTL&0, open)
	if err != nil {
		_, err = c.CreateContainer("/box", nil, 4, open)
	}
	must(t, err)
	_, err = c.Create("/box/item", nil, 0, open)
	must(t, err)
	_, err = c.CreateTTL("/ttl", []byte("t"), zk.FlagTTL, open, time.Hour)
	must(t, err)
	_, err = c.Create("/empty-data", nil, 0, open)
	must(t, err)
	owner, _ := connect(t, addr, 30*time.Second)
	for i := 0; i < 10; i++ {
		_, err := owner.Create(fmt.Sprintf("/eph%d", i), []byte("e"), zk.FlagEphemeral, open)
		must(t, err)
	}
	_, err = owner.Create("/app01/eseq-", nil, zk.FlagEphemeral|zk.FlagSequence, open)
	must(t, err)
	return owner
}

func compareDumps(t *testing.T, from, to string, a, b map[string]nodeDump) {
	t.Helper()
	if len(a) != len(b) {
		t.Errorf("%s has %d nodes, %s has %d", from, len(a), to, len(b))
	}
	var bad []string
	for p, na := range a {
		nb, ok := b[p]
		switch {
		case !ok:
			bad = append(bad, p+": missing")
		case na.Data != nb.Data:
			bad = append(bad, p+": data differs")
		case na.Stat != nb.Stat:
			bad = append(bad, fmt.Sprintf("%s: stat %+v vs %+v", p, na.Stat, nb.Stat))
		case fmt.Sprint(na.ACL) != fmt.Sprint(nb.ACL):
			bad = append(bad, fmt.Sprintf("%s: acl %v vs %v", p, na.ACL, nb.ACL))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Fatalf("%s -> %s: %d nodes differ:\n%s", from, to, len(bad), strings.Join(bad[:min(len(bad), 20)], "\n"))
	}
}

var interopJavaProps = map[string]string{
	"zookeeper.extendedTypesEnabled":                     "true",
	"zookeeper.DigestAuthenticationProvider.superDigest": interopSuper,
}

func interopZkgo(dataDir string) func(*node.Config) {
	return func(c *node.Config) {
		c.DataDir = dataDir
		c.ExtendedTypes = true
		c.SuperDigest = interopSuper
	}
}

// TestInteropJavaDataDirToZkgo: zkgo starts from a data directory written
// by Java 3.8 and serves the same tree (data, every stat field, ACLs),
// sessions and zxid.
func TestInteropJavaDataDirToZkgo(t *testing.T) {
	for _, comp := range []string{"", "gz", "snappy"} {
		t.Run("compression="+comp, func(t *testing.T) { javaToZkgo(t, comp) })
	}
}

func javaToZkgo(t *testing.T, comp string) {
	dataDir := filepath.Join(t.TempDir(), "data")
	props := map[string]string{}
	for k, v := range interopJavaProps {
		props[k] = v
	}
	if comp != "" {
		props["zookeeper.snapshot.compression.method"] = comp
		props["zookeeper.snapCount"] = "100" // Java writes compressed snapshots midway
	}
	j := harness.StartJavaZK(t, harness.JavaOptions{DataDir: dataDir, SysProp: props})
	owner := buildTree(t, j.Addr)
	want := dumpTree(t, j.Addr)
	javaZxid := srvrZxid(t, j.Addr)
	sid := owner.SessionID()
	j.Stop() // SIGKILL: the txn log is all Java relied on
	if comp != "" {
		if snaps, _ := filepath.Glob(filepath.Join(dataDir, "version-2", "snapshot.*."+comp)); len(snaps) == 0 {
			t.Fatalf("Java wrote no %s snapshot", comp)
		}
		// Leave zkgo no choice but the compressed snapshots.
		plain, _ := filepath.Glob(filepath.Join(dataDir, "version-2", "snapshot.*"))
		for _, p := range plain {
			if !strings.HasSuffix(p, "."+comp) {
				must(t, os.Remove(p))
			}
		}
	}
	z := harness.StartZkgo(t, interopZkgo(dataDir))
	got := dumpTree(t, z.Addr)
	compareDumps(t, "java", "zkgo", want, got)
	if zz := srvrZxid(t, z.Addr); zz < javaZxid {
		t.Fatalf("zkgo zxid %#x is behind Java's %#x", zz, javaZxid)
	}
	// Java's live session is a session of zkgo now: its ephemerals stay
	// until it expires, and the client may reconnect to it.
	if got["/eph3"].Stat.EphemeralOwner != sid {
		t.Fatalf("ephemeral owner %x, session %x", got["/eph3"].Stat.EphemeralOwner, sid)
	}
	if out, _ := harness.FourLetter(z.Addr, "dump"); !strings.Contains(out, fmt.Sprintf("0x%x", sid)) {
		t.Fatalf("session %x not in zkgo's session table:\n%s", sid, out)
	}
	t.Logf("%d nodes from Java's data dir served identically by zkgo", len(got))
}

// TestInteropZkgoDataDirToJava: Java 3.8 starts from a data directory
// written by zkgo (snapshots and txn logs), serves the same tree, accepts
// zkgo's tree digest, and logs no errors.
func TestInteropZkgoDataDirToJava(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	z := harness.StartZkgo(t, func(c *node.Config) {
		interopZkgo(dataDir)(c)
		c.SnapCount = 100 // background snapshots and log rolls midway
	})
	owner := buildTree(t, z.Addr)
	want := dumpTree(t, z.Addr)
	_ = owner
	z.Stop()
	snaps, _ := filepath.Glob(filepath.Join(dataDir, "version-2", "snapshot.*"))
	logs, _ := filepath.Glob(filepath.Join(dataDir, "version-2", "log.*"))
	if len(snaps) < 2 || len(logs) < 2 {
		t.Fatalf("expected several snapshots and logs, got %v %v", snaps, logs)
	}
	j := harness.StartJavaZK(t, harness.JavaOptions{DataDir: dataDir, SysProp: interopJavaProps})
	got := dumpTree(t, j.Addr)
	compareDumps(t, "zkgo", "java", want, got)
	log := j.Log()
	// Anything Java's loading code complains about (the harness's own
	// readiness probe produces an unrelated "not running" warning, and
	// under load Java may log "Error closing a command socket" when the
	// probe's four-letter-word connection is gone before Java closes it).
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "Error closing a command socket") {
			continue
		}
		bad := strings.Contains(l, " ERROR ") || strings.Contains(l, "Digests are not matching") ||
			strings.Contains(l, "digest mismatch") ||
			(strings.Contains(l, " WARN ") && (strings.Contains(l, "persistence") || strings.Contains(l, "DataTree") ||
				strings.Contains(l, "ZKDatabase") || strings.Contains(l, "FileSnap") || strings.Contains(l, "FileTxn")))
		if bad {
			t.Fatalf("Java complained reading zkgo's data: %s", l)
		}
	}
	if !strings.Contains(log, "The digest in the snapshot has digest version of 2") {
		t.Fatalf("Java did not read zkgo's snapshot digest:\n%s", log)
	}
	t.Logf("%d nodes from zkgo's data dir (%d snapshots, %d logs) served identically by Java", len(got), len(snaps), len(logs))
}

func srvrZxid(t *testing.T, addr string) int64 {
	t.Helper()
	out, err := harness.FourLetter(addr, "srvr")
	must(t, err)
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "Zxid: 0x"); ok {
			var z int64
			fmt.Sscanf(v, "%x", &z)
			return z
		}
	}
	t.Fatalf("no zxid in %q", out)
	return 0
}
