package faults

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Relay ports: with relays on, node N's zoo.cfg names every other node M by
// M's relay ports, which a relay listening in M's namespace forwards to M's
// real quorum and election ports. The relay can delay the bytes of the
// connections from (or to) a given peer: the kernel has no netem qdisc.
const (
	RelayQuorumPort   = 12888
	RelayElectionPort = 13888
)

// inNamespace runs f on an OS thread that has joined network namespace ns
// (sockets created by f belong to ns), then puts the thread back.
func inNamespace(ns string, f func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", ns, err)
	}
	ferr := f()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread is stuck in ns: leave it locked so it dies with
		// this goroutine instead of running other goroutines there.
		return errors.Join(ferr, fmt.Errorf("setns back from %s: %w", ns, err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// Relay forwards one node's relay ports to its real ports, inside its
// namespace, delaying traffic per peer.
type Relay struct {
	host  *Host
	lns   []net.Listener
	mu    sync.Mutex
	delay map[string]time.Duration // peer IP -> one-way delay added each direction
	conns map[net.Conn]bool
	wg    sync.WaitGroup
	rng   *rand.Rand
}

// StartRelay listens on host's relay ports.
func StartRelay(h *Host) (*Relay, error) {
	r := &Relay{host: h, delay: map[string]time.Duration{}, conns: map[net.Conn]bool{},
		rng: rand.New(rand.NewPCG(uint64(h.ID), 7))}
	for _, p := range [][2]int{{RelayQuorumPort, QuorumPort}, {RelayElectionPort, ElectionPort}} {
		var ln net.Listener
		err := inNamespace(h.NS, func() error {
			var err error
			ln, err = net.Listen("tcp", h.IP+":"+strconv.Itoa(p[0]))
			return err
		})
		if err != nil {
			_ = r.Close()
			return nil, fmt.Errorf("faults: relay for node %d: %w", h.ID, err)
		}
		r.lns = append(r.lns, ln)
		target := h.IP + ":" + strconv.Itoa(p[1])
		r.wg.Add(1)
		go r.accept(ln, target)
	}
	return r, nil
}

// SetDelay makes every byte between this node and peer wait d (each way,
// plus up to d/4 of jitter); 0 removes it.
func (r *Relay) SetDelay(peer *Host, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d == 0 {
		delete(r.delay, peer.IP)
	} else {
		r.delay[peer.IP] = d
	}
}

// ClearDelays removes every delay.
func (r *Relay) ClearDelays() {
	r.mu.Lock()
	r.delay = map[string]time.Duration{}
	r.mu.Unlock()
}

func (r *Relay) delayFor(ip string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.delay[ip]
	if d > 0 {
		d += time.Duration(r.rng.Int64N(int64(d)/4 + 1))
	}
	return d
}

// Close stops listening and closes every relayed connection.
func (r *Relay) Close() error {
	var errs []error
	for _, ln := range r.lns {
		errs = append(errs, ln.Close())
	}
	r.mu.Lock()
	for c := range r.conns {
		_ = c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return errors.Join(errs...)
}

func (r *Relay) track(c net.Conn, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on {
		r.conns[c] = true
	} else {
		delete(r.conns, c)
	}
}

func (r *Relay) accept(ln net.Listener, target string) {
	defer r.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		r.track(c, true)
		r.wg.Add(1)
		go func() { defer r.wg.Done(); r.connect(c, target) }()
	}
}

// connect dials the node for an accepted peer connection and relays
// between them. A node that is not listening yet (a leader that has just
// won an election binds its quorum port a moment later) would refuse the
// peer, which retries; the relay has already accepted, so it retries the
// dial itself for up to 3 s (well inside initLimit) before it gives up and
// closes the peer's connection.
func (r *Relay) connect(c net.Conn, target string) {
	peer, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	var s net.Conn
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := inNamespace(r.host.NS, func() error {
			var err error
			s, err = net.DialTimeout("tcp", target, time.Second)
			return err
		})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = c.Close()
			r.track(c, false)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.track(s, true)
	r.wg.Add(1)
	go func() { defer r.wg.Done(); r.pump(s, c, peer) }()
	r.pump(c, s, peer)
}

type chunk struct {
	due  time.Time
	data []byte
}

// pump copies src to dst, holding each chunk for the current delay of
// peer; order is kept. When either side ends, both close.
func (r *Relay) pump(src, dst net.Conn, peer string) {
	q := make(chan chunk, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range q {
			if w := time.Until(c.due); w > 0 {
				time.Sleep(w)
			}
			if _, err := dst.Write(c.data); err != nil {
				break
			}
		}
		for range q { // drain after a write error
		}
	}()
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			q <- chunk{due: time.Now().Add(r.delayFor(peer)), data: append([]byte(nil), buf[:n]...)}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				_ = src.Close()
			}
			break
		}
	}
	close(q)
	<-done
	_ = src.Close()
	_ = dst.Close()
	r.track(src, false)
	r.track(dst, false)
}
