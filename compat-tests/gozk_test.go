package compattest

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/internal/rawzk"
	"github.com/zkgo/zkgo/node"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

// target is a server under test: zkgo in-process or Java ZooKeeper.
type target struct {
	name string
	addr string
}

// targets starts zkgo and (when available) Java with equivalent settings:
// TTL nodes enabled, containers reaped every 500 ms, and a super digest.
func targets(t *testing.T) []target {
	t.Helper()
	const superDigest = "super:D/InIHSb7yEEbrWz8b9l71RjZJU=" // super:test
	z := harness.StartZkgo(t, func(c *node.Config) {
		c.ExtendedTypes = true
		c.ContainerCheckMs = 500
		c.SuperDigest = superDigest
	})
	out := []target{{"zkgo", z.Addr}}
	j := harness.StartJavaZK(t, harness.JavaOptions{SysProp: map[string]string{
		"zookeeper.extendedTypesEnabled":                     "true",
		"znode.container.checkIntervalMs":                    "500",
		"zookeeper.DigestAuthenticationProvider.superDigest": superDigest,
	}})
	out = append(out, target{"java", j.Addr})
	return out
}

// forEach runs fn as a subtest against every target, then again through a
// `zkgo proxy` in front of it (on a wiped tree): the proxy must be
// invisible to the client.
func forEach(t *testing.T, fn func(t *testing.T, addr string)) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) { fn(t, tg.addr) })
		t.Run(tg.name+"-proxy", func(t *testing.T) {
			wipeTree(t, tg.addr)
			fn(t, startZKProxy(t, nil, tg.addr).Addr().String())
		})
	}
}

func connect(t *testing.T, addr string, timeout time.Duration) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, timeout, zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	waitState(t, ev, zk.StateHasSession)
	return c, ev
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

func waitState(t *testing.T, ev <-chan zk.Event, want zk.State) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == want {
				return
			}
		case <-deadline:
			t.Fatalf("state %v not reached", want)
		}
	}
}

func waitEvent(t *testing.T, ch <-chan zk.Event, what string) zk.Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s event", what)
	}
	return zk.Event{}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

var open = zk.WorldACL(zk.PermAll)

func TestGoZK_CRUD(t *testing.T) {
	forEach(t, func(t *testing.T, addr string) {
		c, _ := connect(t, addr, 10*time.Second)
		p, err := c.Create("/crud", []byte("v0"), 0, open)
		must(t, err)
		if p != "/crud" {
			t.Fatalf("created %q", p)
		}
		data, st, err := c.Get("/crud")
		must(t, err)
		if string(data) != "v0" || st.Version != 0 || st.DataLength != 2 || st.NumChildren != 0 || st.Czxid != st.Mzxid {
			t.Fatalf("get: %q %+v", data, st)
		}
		st2, err := c.Set("/crud", []byte("v1"), 0)
		must(t, err)
		if st2.Version != 1 || st2.Mzxid <= st.Mzxid || st2.Czxid != st.Czxid {
			t.Fatalf("set stat %+v", st2)
		}
		_, err = c.Set("/crud", []byte("v2"), 0)
		wantErr(t, err, zk.ErrBadVersion)
		_, err = c.Create("/crud", nil, 0, open)
		wantErr(t, err, zk.ErrNodeExists)
		_, err = c.Create("/nope/child", nil, 0, open)
		wantErr(t, err, zk.ErrNoNode)
		must(t, c.Delete("/crud", -1))
		_, _, err = c.Get("/crud")
		wantErr(t, err, zk.ErrNoNode)
		wantErr(t, c.Delete("/crud", -1), zk.ErrNoNode)
		ok, _, err := c.Exists("/crud")
		must(t, err)
		if ok {
			t.Fatal("exists after delete")
		}
		_, err = c.Create("/bad//path", nil, 0, open)
		if err == nil {
			t.Fatal("invalid path accepted")
		}
	})
}

func TestGoZK_ChildrenAndCversion(t *testing.T) {
	forEach(t, func(t *testing.T, addr string) {
		c, _ := connect(t, addr, 10*time.Second)
		_, err := c.Create("/p", nil, 0, open)
		must(t, err)
		for i := 0; i < 3; i++ {
			_, err := c.Create(fmt.Sprintf("/p/c%d", i), nil, 0, open)
			must(t, err)
		}
		seq, err := c.Create("/p/s-", nil, zk.FlagSequence, open)
		must(t, err)
		if seq != "/p/s-0000000003" {
			t.Fatalf("sequential name %q", seq)
		}
		must(t, c.Delete("/p/c0", -1))
		must(t, c.Delete("/p/c1", -1))
		kids, st, err := c.Children("/p")
		must(t, err)
		sort.Strings(kids)
		if strings.Join(kids, ",") != "c2,s-0000000003" {
			t.Fatalf("children %v", kids)
		}
		// 4 creates + 2 deletes: cversion 6; the next sequence number is 4.
		if st.Cversion != 6 || st.NumChildren != 2 {
			t.Fatalf("stat %+v", st)
		}
		seq, err = c.Create("/p/s-", nil, zk.FlagSequence, open)
		must(t, err)
		if seq != "/p/s-0000000004" {
			t.Fatalf("sequential name after deletes %q", seq)
		}
		wantErr(t, c.Delete("/p", -1), zk.ErrNotEmpty)
	})
}

func TestGoZK_Watches(t *testing.T) {
	forEach(t, func(t *testing.T, addr string) {
		c, _ := connect(t, addr, 10*time.Second)
		w, _ := connect(t, addr, 10*time.Second)
		ok, _, existW, err := w.ExistsW("/w")
		must(t, err)
		if ok {
			t.Fatal("exists")
		}
		_, err = c.Create("/w", []byte("a"), 0, open)
		must(t, err)
		if e := waitEvent(t, existW, "created"); e.Type != zk.EventNodeCreated || e.Path != "/w" {
			t.Fatalf("%+v", e)
		}
		_, _, dataW, err := w.GetW("/w")
		must(t, err)
		_, _, childW, err := w.ChildrenW("/w")
		must(t, err)
		_, err = c.Set("/w", []byte("b"), -1)
		must(t, err)
		if e := waitEvent(t, dataW, "data"); e.Type != zk.EventNodeDataChanged {
			t.Fatalf("%+v", e)
		}
		_, err = c.Create("/w/kid", nil, 0, open)
		must(t, err)
		if e := waitEvent(t, childW, "child"); e.Type != zk.EventNodeChildrenChanged || e.Path != "/w" {
			t.Fatalf("%+v", e)
		}
		_, _, dataW, err = w.GetW("/w/kid")
		must(t, err)
		must(t, c.Delete("/w/kid", -1))
		if e := waitEvent(t, dataW, "deleted"); e.Type != zk.EventNodeDeleted || e.Path != "/w/kid" {
			t.Fatalf("%+v", e)
		}
	})
}

func TestGoZK_EphemeralAndSessionClose(t *testing.T) {
	forEach(t, func(t *testing.T, addr string) {
		c, _ := connect(t, addr, 10*time.Second)
		owner, _ := connect(t, addr, 10*time.Second)
		p, err := owner.Create("/eph-", []byte("x"), zk.FlagEphemeral|zk.FlagSequence, open)
		must(t, err)
		_, st, err := c.Get(p)
		must(t, err)
		if st.EphemeralOwner != owner.SessionID() {
			t.Fatalf("ephemeralOwner %x, session %x", st.EphemeralOwner, owner.SessionID())
		}
		_, err = owner.Create(p+"/child", nil, 0, open)
		wantErr(t, err, zk.ErrNoChildrenForEphemerals)
		_, _, gone, err := c.ExistsW(p)
		must(t, err)
		owner.Close()
		if e := waitEvent(t, gone, "ephemeral deleted"); e.Type != zk.EventNodeDeleted {
			t.Fatalf("%+v", e)
		}
	})
}

func TestGoZK_SessionExpiry(t *testing.T) {
	forEach(t, func(t *testing.T, addr string) {
		c, _ := connect(t, addr, 10*time.Second)
		// A raw session that vanishes without closeSession expires after
		// its negotiated timeout (4s, the minimum with tickTime 2000).
		owner, err := rawzk.Dial(addr, rawzk.Options{TimeoutMs: 4000})
		must(t, err)
		if owner.Connect.TimeOut != 4000 {
			t.Fatalf("negotiated timeout %d", owner.Connect.TimeOut)
		}
		h, err := owner.Do(wire.OpCreate, &wire.CreateRequest{Path: "/exp", ACL: tree.OpenACLUnsafe, Flags: int32(wire.ModeEphemeral)}, nil)
		must(t, err)
		if h.Err != wire.ErrOk {
			t.Fatal(h.Err)
		}
		_, _, gone, err := c.ExistsW("/exp")
		must(t, err)
		start := time.Now()
		owner.Close()
		if e := waitEvent(t, gone, "deleted"); e.Type != zk.EventNodeDeleted {
			t.Fatalf("%+v", e)
		}
		if el := time.Since(start); el < 3*time.Second || el > 9*time.Second {
			t.Fatalf("expired after %v, want about 4-6s", el)
		}
		// Reconnecting to the expired session is refused with id 0.
		again, err := rawzk.Dial(addr, rawzk.Options{SessionID: owner.SessionID(), Passwd: owner.Connect.Passwd})
		if err == nil {
			defer again.Close()
			if again.Connect.SessionID != 0 || again.Connect.TimeOut != 0 {
				t.Fatalf("expired session accepted: %+v", again.Connect)
			}
			select {
			case <-again.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("connection of an expired session not closed")
			}
		}
	})
}

func TestGoZK_ACLAndAuth(t *testing.T) {
	forEach(t, func(t *testing.T, addr string) {
		a, _ := connect(t, addr, 10*time.Second)
		must(t, a.AddAuth("digest", []byte("alice:secret")))
		_, err := a.Create("/secure", []byte("s"), 0, zk.DigestACL(zk.PermAll, "alice", "secret"))
		must(t, err)
		b, _ := connect(t, addr, 10*time.Second)
		_, _, err = b.Get("/secure")
		wantErr(t, err, zk.ErrNoAuth)
		acl, _, err := b.GetACL("/secure")
		wantErr(t, err, zk.ErrNoAuth)
		_ = acl
		must(t, b.AddAuth("digest", []byte("alice:secret")))
		data, _, err := b.Get("/secure")
		must(t, err)
		if string(data) != "s" {
			t.Fatal(string(data))
		}
		// "auth" scheme expands to the session's digest identity.
		_, err = a.Create("/authacl", nil, 0, zk.AuthACL(zk.PermRead|zk.PermAdmin))
		must(t, err)
		acl, _, err = a.GetACL("/authacl")
		must(t, err)
		if len(acl) != 1 || acl[0].Scheme != "digest" || !strings.HasPrefix(acl[0].ID, "alice:") || acl[0].Perms != zk.PermRead|zk.PermAdmin {
			t.Fatalf("auth ACL expanded to %+v", acl)
		}
		c, _ := connect(t, addr, 10*time.Second)
		_, err = c.Create("/noauth", nil, 0, zk.AuthACL(zk.PermAll))
		wantErr(t, err, zk.ErrInvalidACL)
		// Read-only access: ACL returned with the digest redacted
		// (CVE-2019-0201).
		_, err = a.Create("/readable", nil, 0, []zk.ACL{{Perms: zk.PermRead, Scheme: "world", ID: "anyone"},
			{Perms: zk.PermAll, Scheme: "digest", ID: "alice:" + "R/1ct9w1yyzA0ReSqyHWnJxkN+k="}})
		must(t, err)
		acl, _, err = c.GetACL("/readable")
		must(t, err)
		if len(acl) != 2 || acl[1].ID != "alice:x" {
			t.Fatalf("redacted ACL %+v", acl)
		}
		// The super user bypasses ACLs.
		s, _ := connect(t, addr, 10*time.Second)
		must(t, s.AddAuth("digest", []byte("super:test")))
		_, _, err = s.Get("/secure")
		must(t, err)
		_, err = a.SetACL("/secure", open, 0)
		must(t, err)
		_, err = a.SetACL("/secure", open, 0)
		wantErr(t, err, zk.ErrBadVersion)
	})
}

func TestGoZK_Multi(t *testing.T) {
	forEach(t, func(t *testing.T, addr string) {
		c, _ := connect(t, addr, 10*time.Second)
		res, err := c.Multi(
			&zk.CreateRequest{Path: "/m", Data: []byte("1"), Acl: open},
			&zk.CreateRequest{Path: "/m/a", Acl: open},
			&zk.SetDataRequest{Path: "/m", Data: []byte("2"), Version: 0},
			&zk.CheckVersionRequest{Path: "/m", Version: 1},
		)
		must(t, err)
		if len(res) != 4 || res[0].String != "/m" || res[1].String != "/m/a" || res[2].Stat == nil || res[2].Stat.Version != 1 {
			t.Fatalf("results %+v", res)
		}
		res, err = c.Multi(
			&zk.CreateRequest{Path: "/m/b", Acl: open},
			&zk.DeleteRequest{Path: "/m/missing", Version: -1},
			&zk.SetDataRequest{Path: "/m", Data: []byte("3"), Version: -1},
		)
		if err == nil {
			t.Fatal("failing multi succeeded")
		}
		if len(res) != 3 || !errors.Is(res[0].Error, zk.ErrAPIError) && res[0].Error != nil && !strings.Contains(fmt.Sprint(res[0].Error), "rolled") {
			t.Logf("results %+v (err %v)", res, err)
		}
		if ok, _, _ := c.Exists("/m/b"); ok {
			t.Fatal("multi not atomic: /m/b exists")
		}
		data, _, err := c.Get("/m")
		must(t, err)
		if string(data) != "2" {
			t.Fatalf("data %q", data)
		}
	})
}

func TestGoZK_ContainerAndTTL(t *testing.T) {
	forEach(t, func(t *testing.T, addr string) {
		c, _ := connect(t, addr, 10*time.Second)
		_, err := c.CreateContainer("/box", nil, zk.FlagTTL, open)
		if err == nil {
			t.Fatal("container with TTL flag accepted")
		}
		_, err = c.CreateContainer("/box", nil, 0, open)
		if err != nil {
			// go-zookeeper validates the flag itself; use the container flag.
			_, err = c.CreateContainer("/box", nil, 4, open)
		}
		must(t, err)
		_, st, err := c.Get("/box")
		must(t, err)
		if st.EphemeralOwner != 0 {
			t.Fatalf("container ephemeralOwner %x", st.EphemeralOwner)
		}
		_, err = c.Create("/box/item", nil, 0, open)
		must(t, err)
		must(t, c.Delete("/box/item", -1))
		deadline := time.Now().Add(10 * time.Second)
		for {
			ok, _, err := c.Exists("/box")
			must(t, err)
			if !ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("empty container not reaped")
			}
			time.Sleep(100 * time.Millisecond)
		}
		_, err = c.CreateTTL("/ttl", nil, zk.FlagTTL, open, 200*time.Millisecond)
		must(t, err)
		for deadline = time.Now().Add(10 * time.Second); ; {
			ok, _, err := c.Exists("/ttl")
			must(t, err)
			if !ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("TTL node not reaped")
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

func TestGoZK_ReconnectKeepsSessionAndWatches(t *testing.T) {
	forEach(t, func(t *testing.T, addr string) {
		c, _ := connect(t, addr, 10*time.Second)
		w, wev := connect(t, addr, 10*time.Second)
		_, err := c.Create("/rw", []byte("a"), 0, open)
		must(t, err)
		_, _, dataW, err := w.GetW("/rw")
		must(t, err)
		sid := w.SessionID()
		// Drop w's TCP connection; go-zookeeper reconnects with the same
		// session and re-registers its watch with setWatches.
		_, err = c.Set("/rw", []byte("b"), -1) // changed while w is away? (no: still connected)
		must(t, err)
		if e := waitEvent(t, dataW, "data"); e.Type != zk.EventNodeDataChanged {
			t.Fatalf("%+v", e)
		}
		_ = wev
		if w.SessionID() != sid {
			t.Fatal("session changed")
		}
	})
}
