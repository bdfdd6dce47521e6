package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// Locks is the lock / ephemeral workload: each worker runs ZooKeeper's lock
// recipe (an EPHEMERAL_SEQUENTIAL child of Root; the lowest holds; others
// watch their predecessor) with its own session, and while it holds the
// lock writes a few fenced entries: a multi that checks its own lock node
// still exists and creates a PERSISTENT_SEQUENTIAL child of Res holding the
// lock node's name. Any error ends the session (closed, or left to expire)
// and the worker starts over with a new one.
//
// The check reads Res in sequence order on every server: each holder's
// entries must be contiguous (two holders never interleave, which is what
// mutual exclusion means in ZooKeeper's total order), every acknowledged
// entry is present, none is invented. The ephemeral check: no server keeps
// a lock node whose session ended (closed or expired); after every session
// is closed, Root is empty everywhere.
type Locks struct {
	Workers int
	Root    string
	Res     string
	hist    *History
	cs      *clients

	mu      sync.Mutex
	ended   map[int64]string // session id -> how it ended
	created map[string]bool  // lock node names this run created
}

func (l *Locks) setup(c *zk.Conn) error {
	l.ended, l.created = map[int64]string{}, map[string]bool{}
	for _, p := range []string{l.Root, l.Res} {
		if _, err := c.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
			return fmt.Errorf("create %s: %w", p, err)
		}
	}
	return nil
}

func (l *Locks) sessionEnded(sid int64, how string) {
	if sid == 0 {
		return
	}
	l.mu.Lock()
	l.ended[sid] = how
	l.mu.Unlock()
}

func (l *Locks) run(ctx context.Context, id int, servers []string, rng *rand.Rand) {
	for attempt := 1; ctx.Err() == nil; attempt++ {
		c, err := l.cs.open(fmt.Sprintf("lock%d.%d", id, attempt), servers)
		if err != nil {
			return
		}
		began := time.Now()
		l.session(ctx, id, attempt, c, rng)
		sid := c.SessionID()
		c.Close() // closeSession if connected; otherwise the session expires
		l.sessionEnded(sid, "closed")
		if time.Since(began) < 100*time.Millisecond {
			// No server answered: do not spin through sessions.
			t := time.NewTimer(250 * time.Millisecond)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
		pace(ctx, rng)
	}
}

// session runs the recipe on one session until an error or ctx ends.
func (l *Locks) session(ctx context.Context, id, attempt int, c *zk.Conn, rng *rand.Rand) {
	for round := 1; ctx.Err() == nil; round++ {
		tag := fmt.Sprintf("p%d-a%d-r%d", id, attempt, round)
		op := Op{Process: id, F: "acquire", Value: tag, Call: l.hist.Now()}
		me, err := c.Create(l.Root+"/l-", []byte(tag), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err != nil {
			op.Return, op.Status, op.Err = l.hist.Now(), classify(err), short(err)
			l.hist.Add(op)
			return
		}
		l.mu.Lock()
		l.created[me] = true
		l.mu.Unlock()
		if !l.waitLowest(ctx, c, me) {
			op.Return, op.Status, op.Err, op.Result = l.hist.Now(), StatusInfo, "gave up waiting", me
			l.hist.Add(op)
			return
		}
		op.Return, op.Status, op.Result = l.hist.Now(), StatusOK, me
		l.hist.Add(op)
		for i := 0; i < 3; i++ {
			w := Op{Process: id, F: "fenced-write", Value: me, Call: l.hist.Now()}
			res, err := c.Multi(&zk.CheckVersionRequest{Path: me, Version: 0},
				&zk.CreateRequest{Path: l.Res + "/f-", Data: []byte(me), Acl: zk.WorldACL(zk.PermAll), Flags: zk.FlagSequence})
			w.Return, w.Status, w.Err = l.hist.Now(), classify(err), short(err)
			if err == nil && len(res) == 2 {
				w.Result = res[1].String
			}
			l.hist.Add(w)
			if err != nil {
				return
			}
			pace(ctx, rng)
		}
		rel := Op{Process: id, F: "release", Value: me, Call: l.hist.Now()}
		err = c.Delete(me, -1)
		rel.Return, rel.Status, rel.Err = l.hist.Now(), classify(err), short(err)
		l.hist.Add(rel)
		if err != nil {
			return
		}
	}
}

// waitLowest returns when me is the lowest child of Root (true), or on an
// error or ctx's end (false).
func (l *Locks) waitLowest(ctx context.Context, c *zk.Conn, me string) bool {
	mine := me[strings.LastIndexByte(me, '/')+1:]
	for ctx.Err() == nil {
		kids, _, err := c.Children(l.Root)
		if err != nil {
			return false
		}
		sort.Strings(kids)
		prev := ""
		found := false
		for _, k := range kids {
			if k == mine {
				found = true
				break
			}
			prev = k
		}
		if !found {
			return false // our node is gone: the session ended
		}
		if prev == "" {
			return true
		}
		ok, _, ch, err := c.ExistsW(l.Root + "/" + prev)
		if err != nil {
			return false
		}
		if !ok {
			continue
		}
		select {
		case ev := <-ch:
			if ev.Type == zk.EventNotWatching {
				return false
			}
		case <-ctx.Done():
			return false
		}
	}
	return false
}

// checkFenced verifies Res as one server holds it.
func (l *Locks) checkFenced(final map[string]Znode) []string {
	type entry struct {
		seq    int64
		path   string
		holder string
	}
	var es []entry
	for path, z := range final {
		if !strings.HasPrefix(path, l.Res+"/") {
			continue
		}
		q, _ := seqOf(strings.Replace(path, "/f-", "/e-", 1))
		es = append(es, entry{q, path, z.Data})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].seq < es[j].seq })
	var bad []string
	done := map[string]bool{}
	cur := ""
	for _, e := range es {
		l.mu.Lock()
		known := l.created[e.holder]
		l.mu.Unlock()
		if !known {
			bad = append(bad, fmt.Sprintf("%s names lock node %q, which no worker created (invented)", e.path, e.holder))
		}
		if e.holder != cur {
			if done[e.holder] {
				bad = append(bad, fmt.Sprintf("%s: holder %s writes again after another holder wrote (two holders)",
					e.path, e.holder))
			}
			if cur != "" {
				done[cur] = true
			}
			cur = e.holder
		}
	}
	present := map[string]bool{}
	for _, e := range es {
		present[e.path] = true
	}
	for _, op := range l.hist.Ops() {
		if op.F == "fenced-write" && op.Status == StatusOK && !present[op.Result] {
			bad = append(bad, fmt.Sprintf("acknowledged fenced write %s (holder %s, acked at %s) is missing (lost)",
				op.Result, op.Value, fmtTime(op.Return)))
		}
	}
	return bad
}

// deadOwners lists lock nodes one server holds for sessions known to have
// ended (closed by the client, or reported expired).
func (l *Locks) deadOwners(server string, final map[string]Znode, expired map[int64]bool) []string {
	var bad []string
	l.mu.Lock()
	defer l.mu.Unlock()
	for path, z := range final {
		if !strings.HasPrefix(path, l.Root+"/") || z.Owner == 0 {
			continue
		}
		how, ended := l.ended[z.Owner]
		if !ended && expired[z.Owner] {
			how, ended = "expired", true
		}
		if ended {
			bad = append(bad, fmt.Sprintf("%s still has %s of session %#x, which %s", server, path, z.Owner, how))
		}
	}
	sort.Strings(bad)
	return bad
}

// waitEmpty polls (the lock dir drains as sessions close and expire) until
// f reports nothing or the timeout passes; it returns f's last report.
func waitEmpty(ctx context.Context, timeout time.Duration, f func() []string) []string {
	deadline := time.Now().Add(timeout)
	for {
		bad := f()
		if len(bad) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return bad
		}
		time.Sleep(250 * time.Millisecond)
	}
}
