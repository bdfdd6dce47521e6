package faults

import (
	"context"
	"fmt"
	"io"
	"log"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// SessionTimeout is the clients' requested session timeout: 16 ticks of
// DefaultTiming, well inside Java's [2, 20] tick bounds.
const SessionTimeout = 4 * time.Second

// clients opens go-zookeeper sessions that log to one file and remember
// which sessions expired.
type clients struct {
	log     *log.Logger
	mu      sync.Mutex
	expired map[int64]bool
	conns   []*zk.Conn
}

func newClients(w io.Writer) *clients {
	return &clients{log: log.New(w, "", log.Lmicroseconds), expired: map[int64]bool{}}
}

type prefixLogger struct {
	l      *log.Logger
	prefix string
}

func (p prefixLogger) Printf(format string, args ...any) { p.l.Printf(p.prefix+format, args...) }

// open connects to servers (in the order given: go-zookeeper shuffles
// them) and returns the connection; name prefixes its log lines.
func (cs *clients) open(name string, servers []string) (*zk.Conn, error) {
	lg := prefixLogger{cs.log, name + ": "}
	var c *zk.Conn
	var sid int64
	cb := func(ev zk.Event) {
		if ev.Type != zk.EventSession {
			return
		}
		lg.Printf("session event %v server=%s", ev.State, ev.Server)
		cs.mu.Lock() // c is set once Connect returns, and the callback may run before
		defer cs.mu.Unlock()
		if ev.State == zk.StateHasSession && c != nil {
			sid = c.SessionID()
		}
		if ev.State == zk.StateExpired && sid != 0 {
			cs.expired[sid] = true
		}
	}
	conn, _, err := zk.Connect(servers, SessionTimeout, zk.WithLogger(lg), zk.WithEventCallback(cb))
	if err != nil {
		return nil, fmt.Errorf("faults: connect %s: %w", name, err)
	}
	cs.mu.Lock()
	c = conn
	cs.conns = append(cs.conns, conn)
	cs.mu.Unlock()
	return conn, nil
}

// closeAll closes every connection opened (idempotent per connection).
func (cs *clients) closeAll() {
	cs.mu.Lock()
	conns := cs.conns
	cs.conns = nil
	cs.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() { defer wg.Done(); c.Close() }()
	}
	wg.Wait()
}

// Znode is one node as a server returned it in the final reads.
type Znode struct {
	Data    string
	Version int32
	Owner   int64 // EphemeralOwner
}

// readTree reads, from one server with sync first, every child of each of
// the given parents: path -> data, version, owner.
func readTree(ctx context.Context, c *zk.Conn, parents ...string) (map[string]Znode, error) {
	out := map[string]Znode{}
	for _, p := range parents {
		if _, err := call(ctx, 10*time.Second, func() (string, error) { return c.Sync(p) }); err != nil {
			return nil, fmt.Errorf("sync %s: %w", p, err)
		}
		kids, err := call(ctx, 10*time.Second, func() ([]string, error) {
			k, _, err := c.Children(p)
			return k, err
		})
		if err != nil {
			return nil, fmt.Errorf("children %s: %w", p, err)
		}
		sort.Strings(kids)
		for _, k := range kids {
			path := p + "/" + k
			type res struct {
				d  []byte
				st *zk.Stat
			}
			r, err := call(ctx, 10*time.Second, func() (res, error) {
				d, st, err := c.Get(path)
				return res{d, st}, err
			})
			if err == zk.ErrNoNode {
				continue // an ephemeral that went meanwhile
			}
			if err != nil {
				return nil, fmt.Errorf("get %s: %w", path, err)
			}
			out[path] = Znode{Data: string(r.d), Version: r.st.Version, Owner: r.st.EphemeralOwner}
		}
	}
	return out, nil
}

// diffTrees describes how b differs from a (at most max lines).
func diffTrees(a, b map[string]Znode, max int) []string {
	var out []string
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		x, okA := a[k]
		y, okB := b[k]
		switch {
		case !okA:
			out = append(out, fmt.Sprintf("%s: only on the second (%q v%d)", k, y.Data, y.Version))
		case !okB:
			out = append(out, fmt.Sprintf("%s: only on the first (%q v%d)", k, x.Data, x.Version))
		case x != y:
			out = append(out, fmt.Sprintf("%s: %q v%d vs %q v%d", k, x.Data, x.Version, y.Data, y.Version))
		}
		if len(out) >= max {
			out = append(out, "...")
			break
		}
	}
	return out
}

func short(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	return strings.TrimPrefix(s, "zk: ")
}
