package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// Watches is the watch workload: one writer keeps setting Path; one watcher
// per server, each connected to that server only, re-reads Path (getData
// with a watch) whenever its watch fires and at most then (no polling).
// Across reconnects go-zookeeper re-registers the watch with setWatches;
// after an expiry it gets EventNotWatching and reads again.
//
// The check: every watcher's versions only go up, and after the heal each
// one reaches the final version by notifications alone, so no acknowledged
// change went unnoticed by a watcher on any server.
type Watches struct {
	Path string
	hist *History

	mu       sync.Mutex
	observed map[int][]int32 // watcher (server id) -> versions read
	notes    map[int]string
}

func (w *Watches) setup(c *zk.Conn) error {
	w.observed, w.notes = map[int][]int32{}, map[int]string{}
	if _, err := c.Create(w.Path, []byte("0"), 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
		return fmt.Errorf("create %s: %w", w.Path, err)
	}
	return nil
}

func (w *Watches) write(ctx context.Context, c *zk.Conn, rng *rand.Rand) {
	for n := 1; ctx.Err() == nil; n++ {
		op := Op{Process: 0, F: "write", Key: w.Path, Value: fmt.Sprint(n), Call: w.hist.Now()}
		st, err := c.Set(w.Path, []byte(op.Value), -1)
		op.Return, op.Status, op.Err = w.hist.Now(), classify(err), short(err)
		if err == nil {
			op.Version = st.Version
		}
		w.hist.Add(op)
		pace(ctx, rng)
		pace(ctx, rng)
	}
}

// watch is one watcher on server id; it runs until stop is closed.
func (w *Watches) watch(stop <-chan struct{}, id int, c *zk.Conn) {
	backoff := time.NewTimer(0)
	defer backoff.Stop()
	for {
		select {
		case <-stop:
			return
		default:
		}
		_, st, ch, err := c.GetW(w.Path)
		if err != nil {
			// No watch was set: try again shortly (this is the only retry).
			backoff.Reset(200 * time.Millisecond)
			select {
			case <-stop:
				return
			case <-backoff.C:
			}
			continue
		}
		w.mu.Lock()
		w.observed[id] = append(w.observed[id], st.Version)
		w.mu.Unlock()
		select {
		case <-stop:
			return
		case ev := <-ch:
			if ev.Type == zk.EventNotWatching {
				w.mu.Lock()
				w.notes[id] += fmt.Sprintf("not watching (%v); ", ev.Err)
				w.mu.Unlock()
			}
		}
	}
}

func (w *Watches) last(id int) (int32, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	vs := w.observed[id]
	if len(vs) == 0 {
		return 0, false
	}
	return vs[len(vs)-1], true
}

// check waits for every watcher to reach final and verifies its versions
// never went back.
func (w *Watches) check(ctx context.Context, ids []int, final int32, timeout time.Duration) []string {
	var bad []string
	for _, id := range ids {
		deadline := time.Now().Add(timeout)
		for {
			v, ok := w.last(id)
			if ok && v >= final {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				w.mu.Lock()
				note := w.notes[id]
				w.mu.Unlock()
				bad = append(bad, fmt.Sprintf("watcher on node %d stuck at v%d (ok=%v), final v%d: a change was not notified %s",
					id, v, ok, final, note))
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		w.mu.Lock()
		vs := w.observed[id]
		for i := 1; i < len(vs); i++ {
			if vs[i] < vs[i-1] {
				bad = append(bad, fmt.Sprintf("watcher on node %d read v%d after v%d", id, vs[i], vs[i-1]))
				break
			}
		}
		w.mu.Unlock()
	}
	return bad
}
