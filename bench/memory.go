package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkgo/zkgo/wire"
)

// Memory tree layout: fan-out 1000, paths of 27 bytes
// (/membench/p0123/node-000456).
const memRoot = "/membench"

func memParent(i int) string   { return fmt.Sprintf("%s/p%04d", memRoot, i) }
func memChild(i, j int) string { return fmt.Sprintf("%s/p%04d/node-%06d", memRoot, i, j) }

// runMemory measures, on a fresh server: RSS for IdleSessions idle pinging
// sessions, RSS for MemZnodes znodes of MemDataSize bytes (right after the
// load, and settled: after jcmd GC.run for Java, a few seconds for both),
// and the time a restart on that data dir takes until it serves a read.
func (cfg *CompareConfig) runMemory(ctx context.Context, k Kind, r int, dir string) (*MemCell, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	dataDir := filepath.Join(dir, "data")
	srv, err := StartServer(cfg.spec(k, cfg.JavaMemHeap), dir, dataDir, 60*time.Second)
	if err != nil {
		return nil, err
	}
	defer func() { srv.Stop() }()
	cfg.logf("== %s memory %d: %s pid %d ready in %v", k, r+1, srv.Spec.Label(), srv.Pid(), srv.Ready.Round(time.Millisecond))
	mc := &MemCell{Server: k, Rep: r}
	settle := func(d time.Duration) {
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
	settle(2 * time.Second)
	if k == Java {
		JavaGC(srv.Pid())
		settle(time.Second)
	}
	base, err := ReadProc(srv.Pid())
	if err != nil {
		return nil, err
	}
	mc.BaseRSSKB = base.RSSKB
	if cfg.IdleSessions > 0 {
		rss, err := cfg.idleSessions(ctx, srv, cfg.IdleSessions)
		if err != nil {
			return mc, fmt.Errorf("idle sessions: %w", err)
		}
		mc.IdleSessions = cfg.IdleSessions
		mc.IdleRSSKB = rss
		mc.IdleDeltaKB = rss - base.RSSKB
		cfg.logf("  %d idle sessions: RSS %d MB (+%.1f MB, %.2f KB/session)", cfg.IdleSessions, rss>>10,
			float64(mc.IdleDeltaKB)/1024, float64(mc.IdleDeltaKB)/float64(cfg.IdleSessions))
		// Let the server finish closing them, and measure the tree from
		// a fresh base.
		settle(3 * time.Second)
		if k == Java {
			JavaGC(srv.Pid())
			settle(time.Second)
		}
		if s, err := ReadProc(srv.Pid()); err == nil {
			base = s
		}
	}
	if cfg.MemZnodes <= 0 || ctx.Err() != nil {
		return mc, ctx.Err()
	}
	before, _ := ReadProc(srv.Pid())
	t0 := time.Now()
	if err := loadZnodes(ctx, srv.Addr, 0, cfg.MemZnodes, cfg.MemDataSize, cfg.Log); err != nil {
		return mc, fmt.Errorf("load: %w", err)
	}
	mc.Znodes = cfg.MemZnodes
	mc.LoadSec = time.Since(t0).Seconds()
	loaded, _ := ReadProc(srv.Pid())
	mc.LoadedRSSKB = loaded.RSSKB
	mc.LoadCPUUsPerZnode = (loaded.CPUSec() - before.CPUSec()) * 1e6 / float64(cfg.MemZnodes)
	if k == Java {
		mc.JavaHeapUsedKB = JavaGC(srv.Pid())
	}
	settled := settleRSS(ctx, srv.Pid(), 10*time.Second, 40*time.Second)
	mc.SettledRSSKB = settled.RSSKB
	mc.PeakRSSKB = settled.HWMKB
	mc.TreeDeltaKB = settled.RSSKB - base.RSSKB
	cfg.logf("  %d znodes loaded in %.1fs: RSS %d MB, settled %d MB (tree +%d MB), peak %d MB",
		cfg.MemZnodes, mc.LoadSec, loaded.RSSKB>>10, settled.RSSKB>>10, mc.TreeDeltaKB>>10, settled.HWMKB>>10)
	srv.Stop()
	if ctx.Err() != nil {
		return mc, ctx.Err()
	}
	srv2, err := StartServer(cfg.spec(k, cfg.JavaMemHeap), dir, dataDir, 10*time.Minute)
	if err != nil {
		return mc, fmt.Errorf("restart: %w", err)
	}
	srv = srv2
	mc.StartupSec = srv.Ready.Seconds()
	if s, err := ReadProc(srv.Pid()); err == nil {
		mc.StartupRSSKB = s.RSSKB
	}
	// The restarted server must hold what was acknowledged.
	if c, err := dial(srv.Addr, 30000); err == nil {
		last := memChild((cfg.MemZnodes-1)/1000, (cfg.MemZnodes-1)%1000)
		h, _, err := c.do(1, wire.OpExists, &wire.ExistsRequest{Path: last})
		c.closeSession(5 * time.Second)
		if err == nil && h.Err != wire.ErrOk {
			return mc, fmt.Errorf("after restart %s: %w", last, h.Err)
		}
	}
	cfg.logf("  restart with %d znodes: serving after %.2fs, RSS %d MB", cfg.MemZnodes, mc.StartupSec, mc.StartupRSSKB>>10)
	return mc, nil
}

// settleRSS waits at least min, then until the process's RSS has moved by
// less than 1% over 3 s (at most max), and returns the last sample. Both
// servers get the same rule: Java after its explicit GC.run, zkgo after
// whatever its runtime (and its memory trimmer) does on its own.
func settleRSS(ctx context.Context, pid int, min, max time.Duration) ProcSample {
	t0 := time.Now()
	var hist []int64
	for {
		s, err := ReadProc(pid)
		if err != nil {
			return s
		}
		hist = append(hist, s.RSSKB)
		if el := time.Since(t0); el >= max || ctx.Err() != nil {
			return s
		} else if el >= min && len(hist) >= 4 {
			a, b := hist[len(hist)-4], s.RSSKB
			if d := a - b; d*100 <= a && -d*100 <= a {
				return s
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// idleSessions opens n sessions that only ping (every 5 s; timeout 30 s),
// waits for a full ping round and returns the server's RSS then. The
// sessions are closed before it returns.
func (cfg *CompareConfig) idleSessions(ctx context.Context, srv *Server, n int) (int64, error) {
	conns := make([]net.Conn, n)
	var failed atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := atomic.Int64{}
	t0 := time.Now()
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := dialBuf(srv.Addr, 30000, 64)
				if err != nil {
					failed.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				conns[i] = c.nc
			}
		}()
	}
	wg.Wait()
	defer func() {
		// closeSession on each, pipelined over the set.
		req := wire.AppendRequest(nil, wire.RequestHeader{Xid: 2, Type: wire.OpCloseSession}, nil)
		for _, c := range conns {
			if c != nil {
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = c.Write(req)
			}
		}
		time.Sleep(2 * time.Second)
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if f := failed.Load(); f > 0 {
		return 0, fmt.Errorf("%d of %d sessions failed: %v", f, n, firstErr)
	}
	cfg.logf("  %d sessions connected in %.1fs", n, time.Since(t0).Seconds())
	// Readers discard the ping replies.
	for _, c := range conns {
		go func(c net.Conn) {
			var b [256]byte
			for {
				if _, err := c.Read(b[:]); err != nil {
					return
				}
			}
		}(c)
	}
	ping := wire.AppendRequest(nil, wire.RequestHeader{Xid: wire.XidPing, Type: wire.OpPing}, nil)
	const round = 5 * time.Second
	pingRound := func() error {
		step := round / time.Duration(n)
		t := time.Now()
		for i, c := range conns {
			if _, err := c.Write(ping); err != nil {
				return fmt.Errorf("ping session %d: %w", i, err)
			}
			if d := time.Until(t.Add(step * time.Duration(i+1))); d > time.Millisecond {
				time.Sleep(d)
			}
		}
		return nil
	}
	for i := 0; i < 2; i++ {
		if err := pingRound(); err != nil {
			return 0, err
		}
	}
	s, err := ReadProc(srv.Pid())
	if err != nil {
		return 0, err
	}
	// The sessions must all still be alive: the server answers them.
	return s.RSSKB, ctx.Err()
}

// LoadZnodes creates n znodes of size bytes as the memory scenario does
// (under /membench, fan-out 1000, multis of 100 creates); progress goes to
// log if it is not nil.
func LoadZnodes(ctx context.Context, addr string, n, size int, log io.Writer) error {
	return loadZnodes(ctx, addr, 0, n, size, log)
}

// loadZnodes creates znodes from to n-1 of the tree of n znodes of size
// bytes under memRoot, fan-out 1000 (the parents it needs that do not
// exist yet one by one, from 0 the whole tree), children in multis of 100
// creates, pipelined over 8 connections with 8 multis in flight each.
func loadZnodes(ctx context.Context, addr string, from, n, size int, log io.Writer) error {
	parents := (n + 999) / 1000
	c, err := dial(addr, 30000)
	if err != nil {
		return err
	}
	for i := from/1000 - 1; i < parents; i++ {
		p := memRoot
		if i >= 0 {
			p = memParent(i)
		}
		h, _, err := c.do(wire.Xid(i+2), wire.OpCreate, &wire.CreateRequest{Path: p, ACL: openACL})
		if err != nil {
			c.nc.Close()
			return err
		}
		if h.Err != wire.ErrOk && h.Err != wire.ErrNodeExists {
			c.nc.Close()
			return fmt.Errorf("create %s: %w", p, h.Err)
		}
	}
	c.closeSession(5 * time.Second)
	data := make([]byte, size)
	for i := range data {
		data[i] = 'a' + byte(i%26)
	}
	const perMulti = 100
	batches := (n - from + perMulti - 1) / perMulti
	encode := func(b []byte, xid wire.Xid, batch int) []byte {
		m := &wire.MultiRequest{}
		for k := from + batch*perMulti; k < min(from+(batch+1)*perMulti, n); k++ {
			m.Ops = append(m.Ops, wire.MultiOp{Type: wire.OpCreate,
				Op: &wire.CreateRequest{Path: memChild(k/1000, k%1000), Data: data, ACL: openACL}})
		}
		return wire.AppendRequest(b, wire.RequestHeader{Xid: xid, Type: wire.OpMulti}, m)
	}
	var next, done atomic.Int64
	var errs error
	var mu sync.Mutex
	var wg sync.WaitGroup
	const nconns, depth = 8, 8
	for g := 0; g < nconns; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := func() error {
				c, err := dial(addr, 30000)
				if err != nil {
					return err
				}
				defer c.closeSession(5 * time.Second)
				inflight := 0
				xid := wire.Xid(1)
				var buf []byte
				for {
					buf = buf[:0]
					for inflight < depth && ctx.Err() == nil {
						b := int(next.Add(1) - 1)
						if b >= batches {
							break
						}
						buf = encode(buf, xid, b)
						xid++
						inflight++
					}
					if len(buf) > 0 {
						if _, err := c.nc.Write(buf); err != nil {
							return err
						}
					}
					if inflight == 0 {
						return ctx.Err()
					}
					h, err := c.readReply()
					if err != nil {
						return err
					}
					if h.Err != wire.ErrOk {
						return fmt.Errorf("multi create: %w", h.Err)
					}
					inflight--
					done.Add(1)
				}
			}()
			if err != nil {
				mu.Lock()
				errs = errors.Join(errs, err)
				mu.Unlock()
			}
		}()
	}
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		t0 := time.Now()
		for {
			select {
			case <-stop:
				if log != nil {
					fmt.Fprintf(log, "\r\033[K")
				}
				return
			case <-t.C:
				if log != nil {
					d := done.Load() * perMulti
					fmt.Fprintf(log, "\r\033[K  loading znodes: %d/%d  %.0f znodes/s", from+int(d), n, float64(d)/time.Since(t0).Seconds())
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	return errs
}
