package node_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/node"
)

// TestHostResolverAsJava: the reconfig address check resolves host names
// as Java's InetSocketAddress: an IP literal is itself, localhost a
// loopback address (left out of the check), a name that does not resolve
// is unresolved (left out too).
func TestHostResolverAsJava(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resolve := node.HostResolver(ctx)
	if ip, ok := resolve("10.1.2.3"); !ok || ip.String() != "10.1.2.3" {
		t.Errorf("10.1.2.3 resolved to %v, %v", ip, ok)
	}
	if ip, ok := resolve("localhost"); !ok || !ip.IsLoopback() {
		t.Errorf("localhost resolved to %v, %v", ip, ok)
	}
	if ip, ok := resolve("no-such-host.invalid"); ok {
		t.Errorf("no-such-host.invalid resolved to %v", ip)
	}
}

// TestReconfigLookupOffOwner: a reconfig whose joiner is named by a host
// whose lookup hangs does not hold the leader's owner goroutine: while the
// lookup is pending another session's read and write on the leader are
// answered, and the reconfig's own session's later requests wait behind
// it (answered after its reply, the write with a later zxid, the read
// seeing the new configuration). The looked-up addresses reach the
// address check: two joiners whose names resolve to one address and port
// are refused with BADARGUMENTS, as Java's checkAddressDuplicate refuses
// them.
// The reconfig goes through the leader, and through a follower (which
// forwards it and the session's later write to the leader, where the
// write waits behind it).
func TestReconfigLookupOffOwner(t *testing.T) {
	t.Run("leader", func(t *testing.T) { testReconfigLookupOffOwner(t, true) })
	t.Run("follower", func(t *testing.T) { testReconfigLookupOffOwner(t, false) })
}

func testReconfigLookupOffOwner(t *testing.T, viaLeader bool) {
	e := startReconfigEnsemble(t, 1, 2, 3)
	lead := e.leader(t)
	through := lead
	if !viaLeader {
		for id := range e.zk {
			if id != lead {
				through = id
				break
			}
		}
	}
	entered := make(chan string, 8)
	release := make(chan struct{})
	var blocked atomic.Bool
	lookup := func(ctx context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "slow.zkgo.test":
			blocked.Store(true)
			defer blocked.Store(false)
			entered <- host
			select {
			case <-release:
				return []netip.Addr{netip.MustParseAddr("10.9.9.9")}, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		case "dupa.zkgo.test", "dupb.zkgo.test":
			return []netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("10.9.9.8")}, nil
		}
		return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}
	if err := e.zk[lead].Server.SetReconfigLookup(lookup, time.Minute); err != nil {
		t.Fatal(err)
	}
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	a := dialZk(t, e.zk[through].Addr)
	b := dialZk(t, e.zk[lead].Addr)

	type result struct {
		data []byte
		stat *zk.Stat
		err  error
	}
	reconfigDone := make(chan result, 1)
	go func() {
		st, err := a.IncrementalReconfig([]string{"server.4=slow.zkgo.test:2888:3888:observer;2181"}, nil, -1)
		reconfigDone <- result{stat: st, err: err}
	}()
	select {
	case <-entered:
	case r := <-reconfigDone:
		t.Fatalf("reconfig answered without looking its joiner up: %v", r.err)
	case <-time.After(30 * time.Second):
		t.Fatal("the reconfig's lookup did not start within 30s")
	}
	// The reconfig's session sends more; they must wait for its reply.
	createDone := make(chan result, 1)
	getDone := make(chan result, 1)
	go func() {
		_, err := a.Create("/after", nil, 0, zk.WorldACL(zk.PermAll))
		createDone <- result{err: err}
	}()
	go func() {
		d, st, err := a.Get("/zookeeper/config")
		getDone <- result{data: d, stat: st, err: err}
	}()
	// Another session is served meanwhile, reads and writes.
	if _, _, err := b.Get("/zookeeper/config"); err != nil {
		t.Fatalf("another session's read: %v", err)
	}
	if _, err := b.Create("/other", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("another session's write: %v", err)
	}
	if !blocked.Load() {
		t.Fatal("another session's read and write were answered only once the reconfig's lookup had ended")
	}
	select {
	case r := <-createDone:
		t.Fatalf("the reconfig's session's later write answered before the reconfig: %v", r.err)
	case r := <-getDone:
		t.Fatalf("the reconfig's session's later read answered before the reconfig: %v", r.err)
	case r := <-reconfigDone:
		t.Fatalf("reconfig answered while its lookup was pending: %v", r.err)
	default:
	}
	close(release)
	released = true

	var r result
	select {
	case r = <-reconfigDone:
	case <-time.After(30 * time.Second):
		t.Fatal("no reconfig reply within 30s of its lookup's end")
	}
	if r.err != nil {
		t.Fatalf("reconfig: %v", r.err)
	}
	g := <-getDone
	if g.err != nil || !strings.Contains(string(g.data), "server.4=slow.zkgo.test:2888:3888:observer;0.0.0.0:2181") {
		t.Fatalf("the session's read after its reconfig: %q, %v", g.data, g.err)
	}
	if g.stat.Mzxid != r.stat.Mzxid {
		t.Errorf("the session's read after its reconfig saw mzxid %#x, the reconfig's is %#x", g.stat.Mzxid, r.stat.Mzxid)
	}
	if c := <-createDone; c.err != nil {
		t.Fatalf("the session's write after its reconfig: %v", c.err)
	}
	ok, st, err := a.Exists("/after")
	if err != nil || !ok {
		t.Fatalf("/after: %v", err)
	}
	if st.Czxid <= r.stat.Mzxid {
		t.Errorf("the session's write after its reconfig has zxid %#x, the reconfig %#x", st.Czxid, r.stat.Mzxid)
	}

	// Two joiners whose names resolve to one address with one quorum port.
	if _, err := a.IncrementalReconfig([]string{"server.5=dupa.zkgo.test:2890:3890:observer;2182",
		"server.6=dupb.zkgo.test:2890:3891:observer;2183"}, nil, -1); !errors.Is(err, zk.ErrBadArguments) {
		t.Fatalf("joiners at one resolved address: %v, want %v", err, zk.ErrBadArguments)
	}
}
