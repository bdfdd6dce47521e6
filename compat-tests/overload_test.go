package compattest

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/node"
	"github.com/zkgo/zkgo/wire"
)

// pollUntil calls cond every 10 ms until it holds; it fails t with what
// after within.
func pollUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dialSession dials addr and completes a session handshake on a plain
// socket; it returns the connection and a reader positioned after the
// ConnectResponse.
func dialSession(addr string, timeoutMs int32) (net.Conn, *bufio.Reader, wire.ConnectReply, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, nil, wire.ConnectReply{}, err
	}
	req := wire.ConnectRequest{TimeOut: timeoutMs, Passwd: make([]byte, 16)}
	if _, err := c.Write(wire.AppendConnect(nil, req, false, true)); err != nil {
		c.Close()
		return nil, nil, wire.ConnectReply{}, err
	}
	br := bufio.NewReaderSize(c, 64<<10)
	body, err := readRawFrame(br)
	if err != nil {
		c.Close()
		return nil, nil, wire.ConnectReply{}, fmt.Errorf("handshake: %w", err)
	}
	cr, err := wire.DecodeConnectReply(body)
	if err != nil {
		c.Close()
		return nil, nil, wire.ConnectReply{}, err
	}
	return c, br, cr, nil
}

func readRawFrame(r *bufio.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(hdr[:]))
	if n < 0 || n > 16<<20 {
		return nil, fmt.Errorf("bad frame length %d", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

// flooder pipelines pings and getData requests on one session as fast as
// the server takes them, keeping at most limit unanswered, and reads every
// reply: a well-formed client that only asks a lot.
type flooder struct {
	conn      net.Conn
	sent      atomic.Int64
	recvd     atomic.Int64
	limit     int64
	gap       time.Duration
	stopping  atomic.Bool
	err       atomic.Pointer[error]
	readDone  chan struct{}
	writeDone chan struct{}
}

func startFlooder(t *testing.T, addr, path string, limit int64, gap time.Duration) *flooder {
	t.Helper()
	c, br, cr, err := dialSession(addr, 30000)
	if err != nil {
		t.Fatalf("flooder connect: %v", err)
	}
	if cr.SessionID == 0 {
		t.Fatal("flooder: no session")
	}
	f := &flooder{conn: c, limit: limit, gap: gap, readDone: make(chan struct{}), writeDone: make(chan struct{})}
	t.Cleanup(func() { f.stop() })
	ping := wire.AppendRequest(nil, wire.RequestHeader{Xid: wire.XidPing, Type: wire.OpPing}, nil)
	go func() {
		defer close(f.readDone)
		for {
			if _, err := readRawFrame(br); err != nil {
				if !f.stopping.Load() {
					f.err.CompareAndSwap(nil, &err)
				}
				return
			}
			f.recvd.Add(1)
		}
	}()
	go func() {
		defer close(f.writeDone)
		var buf []byte
		for xid := int32(1); !f.stopping.Load(); xid++ {
			if f.sent.Load()-f.recvd.Load() >= f.limit {
				time.Sleep(200 * time.Microsecond) // load generator pacing, not a wait for state
				continue
			}
			// One request per write, so the server sees many small reads.
			if xid%2 == 0 {
				buf = wire.AppendRequest(buf[:0], wire.RequestHeader{Xid: wire.Xid(xid), Type: wire.OpGetData},
					&wire.GetDataRequest{Path: path})
			} else {
				buf = append(buf[:0], ping...)
			}
			if _, err := c.Write(buf); err != nil {
				if !f.stopping.Load() {
					f.err.CompareAndSwap(nil, &err)
				}
				return
			}
			f.sent.Add(1)
			// Spaced writes reach the server as separate reads: many
			// small batches, the worst case for the server's queue.
			time.Sleep(f.gap) // load generator pacing, not a wait for state
		}
	}()
	return f
}

func (f *flooder) unanswered() int64 { return f.sent.Load() - f.recvd.Load() }

func (f *flooder) failed() error {
	if e := f.err.Load(); e != nil {
		return *e
	}
	return nil
}

func (f *flooder) stop() {
	if f.stopping.Swap(true) {
		return
	}
	<-f.writeDone
	_ = f.conn.Close()
	<-f.readDone
}

// TestOverloadSlowsClientsDown floods the server from 40 connections
// (pipelined pings and getData, each within the per-connection limit and
// reading its replies) while the owner goroutine is held in one long step,
// so the event queue fills. Issue 14 point 3: nobody may be disconnected
// for it. The well-behaved session must keep its session and connection
// and be answered within a bounded delay once the step ends, connections
// opened during the stall must get their sessions, and no flooder is
// closed either (they only asked a lot; they are slowed down).
func TestOverloadSlowsClientsDown(t *testing.T) {
	z := harness.StartZkgo(t, func(c *node.Config) { c.MaxClientCnxns = 0 })
	waitServing(t, "zkgo", z.Addr)

	good, ev, err := zk.Connect([]string{z.Addr}, 20*time.Second, zk.WithLogger(quietLogger{}))
	must(t, err)
	t.Cleanup(good.Close)
	waitState(t, ev, zk.StateHasSession)
	var sessionTrouble atomic.Pointer[string]
	go func() {
		// After the handshake any session event (disconnected,
		// connecting, expired) means the session was disturbed.
		for e := range ev {
			if e.Type == zk.EventSession {
				s := e.State.String()
				sessionTrouble.CompareAndSwap(nil, &s)
			}
		}
	}()
	if _, err := good.Create("/overload", []byte("payload"), 0, open); err != nil {
		t.Fatal(err)
	}
	sid := good.SessionID()

	const nFlooders = 40
	const limit = 1200 // above the front end's 1000 per connection: some wait in its buffer
	floods := make([]*flooder, nFlooders)
	for i := range floods {
		floods[i] = startFlooder(t, z.Addr, "/overload", limit, time.Millisecond)
	}
	// Everyone is flooding before the stall.
	pollUntil(t, 20*time.Second, "flooders running", func() bool {
		for _, f := range floods {
			if f.recvd.Load() < 100 {
				return false
			}
		}
		return true
	})

	// Hold the owner goroutine in one step.
	release := make(chan struct{})
	stalled := make(chan struct{})
	callDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		callDone <- z.Server.Call(ctx, func() { close(stalled); <-release })
	}()
	var releaseOnce sync.Once
	unstall := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unstall)
	<-stalled
	stallStart := time.Now()

	// Every flooder reaches its limit: the server holds 40 x 1000
	// requests it cannot run yet, far more batches than its queue takes.
	pollUntil(t, 20*time.Second, "flooders at their limit", func() bool {
		for _, f := range floods {
			if f.unanswered() < limit && f.failed() == nil {
				return false
			}
		}
		return true
	})

	// The well-behaved session asks during the stall...
	getDone := make(chan error, 1)
	go func() {
		got, _, err := good.Get("/overload")
		if err == nil && string(got) != "payload" {
			err = fmt.Errorf("got %q", got)
		}
		getDone <- err
	}()
	// ...and new clients connect during the stall.
	const nNew = 5
	newDone := make(chan error, nNew)
	for i := 0; i < nNew; i++ {
		go func() {
			c, _, cr, err := dialSession(z.Addr, 30000)
			if err == nil {
				if cr.SessionID == 0 {
					err = errors.New("no session")
				}
				c.Close()
			}
			newDone <- err
		}()
	}
	// Let the new connections' first packets reach the full queue.
	time.Sleep(500 * time.Millisecond) // the stall itself: how long the owner is held
	for i, f := range floods {
		if err := f.failed(); err != nil {
			t.Errorf("flooder %d lost its connection during the stall: %v", i, err)
		}
	}
	refused := z.Frontend.Refused()
	unstall()
	if err := <-callDone; err != nil {
		t.Fatalf("stall step: %v", err)
	}
	stall := time.Since(stallStart)

	// Bounded latency: the request made during the stall is answered
	// soon after it ends, and so are later ones while the flood goes on.
	const bound = 3 * time.Second
	select {
	case err := <-getDone:
		if err != nil {
			t.Fatalf("getData during the stall: %v", err)
		}
	case <-time.After(stall + bound):
		t.Fatalf("getData made during a %v stall not answered %v after it", stall, bound)
	}
	for i := 0; i < nNew; i++ {
		select {
		case err := <-newDone:
			if err != nil {
				t.Errorf("connection opened during the stall: %v", err)
			}
		case <-time.After(bound + 5*time.Second):
			t.Fatalf("connection opened during the stall got no session")
		}
	}
	var lats []time.Duration
	for i := 0; i < 50; i++ {
		start := time.Now()
		if _, _, err := good.Get("/overload"); err != nil {
			t.Fatalf("getData %d under flood: %v", i, err)
		}
		lats = append(lats, time.Since(start))
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	t.Logf("stall %v, %d batches made to wait; well-behaved getData under flood: p50 %v, max %v",
		stall, refused, lats[len(lats)/2], lats[len(lats)-1])
	if refused == 0 {
		t.Errorf("the server's queue never filled: the stall did not overload it")
	}
	if lats[len(lats)-1] > bound {
		t.Errorf("well-behaved getData under flood took %v (bound %v)", lats[len(lats)-1], bound)
	}
	for i, f := range floods {
		if f.recvd.Load() == 0 {
			t.Errorf("flooder %d got nothing", i)
		}
		if err := f.failed(); err != nil {
			t.Errorf("flooder %d lost its connection: %v", i, err)
		}
	}
	for _, f := range floods {
		f.stop()
	}
	if s := sessionTrouble.Load(); s != nil {
		t.Errorf("well-behaved session: %s", *s)
	}
	if good.SessionID() != sid || good.State() != zk.StateHasSession {
		t.Errorf("well-behaved session changed: 0x%x -> 0x%x, state %v", sid, good.SessionID(), good.State())
	}
	if _, _, err := good.Get("/overload"); err != nil {
		t.Errorf("well-behaved session after the flood: %v", err)
	}
}
