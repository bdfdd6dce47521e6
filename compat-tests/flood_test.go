package compattest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/internal/rawzk"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node"
	"github.com/zkgo/zkgo/wire"
)

// TestFloodBadConnections keeps one go-zookeeper session busy while other
// connections send garbage, bad frame lengths, truncated frames, a slow
// 1 MB request and nothing at all. Every bad connection must be closed by
// the server, the busy session must see no error and no latency spike, and
// the server must still answer ruok afterwards. The same assertions run
// against Java ZooKeeper 3.8 (docs/java-semantics/sessions-watches.md §1.2,
// §1.7), in parallel.
func TestFloodBadConnections(t *testing.T) {
	z := harness.StartZkgo(t, func(c *node.Config) { c.MaxClientCnxns = 0 })
	j := harness.StartJavaZK(t, harness.JavaOptions{})
	for _, tg := range []target{{name: "zkgo", addr: z.Addr}, {name: "java", addr: j.Addr}} {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			waitServing(t, tg.name, tg.addr)
			flood(t, tg.addr)
		})
	}
}

// floodWorker does create/get/set/delete in a loop on one session and
// records errors and the slowest operation.
type floodWorker struct {
	mu      sync.Mutex
	ops     int
	maxLat  time.Duration
	errs    []string
	stop    chan struct{}
	stopped chan struct{}
}

func startFloodWorker(t *testing.T, addr string) *floodWorker {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogger(quietLogger{}))
	must(t, err)
	t.Cleanup(c.Close)
	waitState(t, ev, zk.StateHasSession)
	w := &floodWorker{stop: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		for e := range ev {
			if e.State != zk.StateHasSession && e.State != zk.StateConnected && e.Type == zk.EventSession {
				w.fail(fmt.Sprintf("session event %v", e.State))
			}
		}
	}()
	go func() {
		defer close(w.stopped)
		if _, err := c.Create("/flood", nil, 0, open); err != nil {
			w.fail("create /flood: " + err.Error())
		}
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			p := fmt.Sprintf("/flood/n%d", i)
			data := []byte(strconv.Itoa(i))
			w.timed("create", func() error { _, err := c.Create(p, data, 0, open); return err })
			w.timed("get", func() error {
				got, _, err := c.Get(p)
				if err == nil && string(got) != string(data) {
					err = fmt.Errorf("got %q", got)
				}
				return err
			})
			w.timed("set", func() error { _, err := c.Set("/flood", data, -1); return err })
			w.timed("delete", func() error { return c.Delete(p, -1) })
		}
	}()
	return w
}

func (w *floodWorker) timed(op string, f func() error) {
	start := time.Now()
	err := f()
	d := time.Since(start)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ops++
	w.maxLat = max(w.maxLat, d)
	if err != nil {
		w.errs = append(w.errs, op+": "+err.Error())
	}
}

func (w *floodWorker) fail(msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.errs = append(w.errs, msg)
}

func (w *floodWorker) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ops
}

// expectClosed reads from c until the server closes it and returns what it
// read; it fails t if c is still open after within.
func expectClosed(t *testing.T, what string, c net.Conn, within time.Duration) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("%s: connection still open after %v (read %d bytes)", what, within, len(b))
	}
	return b
}

func frameLen(n int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }

// aliveConnections reads zk_num_alive_connections from mntr.
func aliveConnections(t *testing.T, addr string) int {
	t.Helper()
	out, err := harness.FourLetter(addr, "mntr")
	must(t, err)
	n, err := strconv.Atoi(mntrValue(out, "zk_num_alive_connections"))
	if err != nil {
		t.Fatalf("mntr zk_num_alive_connections: %v\n%s", err, out)
	}
	return n
}

func flood(t *testing.T, addr string) {
	w := startFloodWorker(t, addr)
	deadline := time.Now().Add(10 * time.Second)
	for w.count() < 20 {
		if time.Now().After(deadline) {
			t.Fatal("flood worker made no progress")
		}
		time.Sleep(10 * time.Millisecond)
	}
	baseline := aliveConnections(t, addr)
	const maxBuffer = jute.DefaultMaxBuffer // both servers run with the default jute.maxbuffer

	dial := func() net.Conn {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Errorf("dial: %v", err)
			return nil
		}
		return c
	}
	var wg sync.WaitGroup
	run := func(f func(t *testing.T)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(t)
		}()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	garbage[0] = 0xde // a negative length, and no four-letter word

	// Connections whose first bytes are bad: closed at once, nothing sent
	// back.
	for _, bad := range []struct {
		name string
		data []byte
	}{
		{"random garbage", garbage},
		{"negative frame length", append(frameLen(-256), make([]byte, 64)...)},
		{"length -1", frameLen(-1)},
		{"frame length jute.maxbuffer+1", append(frameLen(maxBuffer+1), make([]byte, 1024)...)},
		{"frame length 2^31-1", frameLen(1<<31 - 1)},
		{"zero frame length", frameLen(0)},
		{"truncated ConnectRequest", append(frameLen(8), 0, 0, 0, 0, 0, 0, 0, 0)},
		{"telnet break", []byte{0xff, 0xf4, 0xff, 0xfd}},
	} {
		run(func(t *testing.T) {
			c := dial()
			if c == nil {
				return
			}
			defer c.Close()
			if _, err := c.Write(bad.data); err != nil {
				return // already closed: fine
			}
			if b := expectClosed(t, bad.name, c, 5*time.Second); len(b) != 0 {
				t.Errorf("%s: server sent %q", bad.name, b)
			}
		})
	}
	// A truncated frame and then the client hangs up: the server must
	// forget the connection (checked with the connection count below).
	run(func(t *testing.T) {
		c := dial()
		if c == nil {
			return
		}
		_, _ = c.Write(append(frameLen(45), 0, 0, 0, 0, 0, 0, 0))
		time.Sleep(50 * time.Millisecond)
		c.Close()
	})
	// After a valid handshake: garbage and bad lengths close the connection
	// with no reply.
	for _, bad := range []struct {
		name string
		data []byte
	}{
		{"garbage after connect", garbage},
		{"negative length after connect", frameLen(-5)},
		{"oversized frame after connect", append(frameLen(maxBuffer+1), make([]byte, 4096)...)},
		{"four-letter word after connect", []byte("ruok")},
		{"frame shorter than a request header", append(frameLen(3), 0, 0, 1)},
	} {
		run(func(t *testing.T) {
			c, err := rawzk.Dial(addr, rawzk.Options{})
			if err != nil {
				t.Errorf("%s: %v", bad.name, err)
				return
			}
			defer c.Close()
			_ = c.WriteRaw(bad.data)
			select {
			case <-c.Done():
			case <-time.After(5 * time.Second):
				t.Errorf("%s: connection still open after 5s", bad.name)
			}
			if st := c.Stream(); len(st) != 0 {
				t.Errorf("%s: server replied %+v", bad.name, st[0].Header)
			}
		})
	}
	// A valid 1 MB-ish setData trickled in 32 KiB pieces: accepted and
	// applied, while the busy session is unaffected.
	run(func(t *testing.T) {
		c, err := rawzk.Dial(addr, rawzk.Options{})
		if err != nil {
			t.Errorf("slow frame: %v", err)
			return
		}
		defer c.Close()
		if h, err := c.Do(wire.OpCreate, createReq("/flood-big", "", wire.ModeEphemeral), nil); err != nil || h.Err != wire.ErrOk {
			t.Errorf("slow frame: create: %+v %v", h, err)
			return
		}
		data := make([]byte, maxBuffer-64)
		for i := range data {
			data[i] = byte(i)
		}
		frame := wire.AppendRequest(nil, wire.RequestHeader{Xid: 1000, Type: wire.OpSetData},
			&wire.SetDataRequest{Path: "/flood-big", Data: data, Version: -1})
		if len(frame)-4 > maxBuffer {
			t.Errorf("slow frame: %d bytes is over jute.maxbuffer", len(frame)-4)
			return
		}
		for off := 0; off < len(frame); off += 32 << 10 {
			if err := c.WriteRaw(frame[off:min(off+32<<10, len(frame))]); err != nil {
				t.Errorf("slow frame: write at %d: %v", off, err)
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
		var st wire.GetDataResponse
		h, err := c.Do(wire.OpGetData, getReq("/flood-big", false), &st)
		if err != nil || h.Err != wire.ErrOk || len(st.Data) != len(data) || st.Stat.Version != 1 {
			t.Errorf("slow frame: getData after it: %+v %v len=%d version=%d", h, err, len(st.Data), st.Stat.Version)
		}
		for _, p := range c.Stream() {
			if p.Header.Xid == 1000 && p.Header.Err != wire.ErrOk {
				t.Errorf("slow frame: setData reply %+v", p.Header)
			}
		}
	})
	// Many connections that send nothing, or only part of a ConnectRequest:
	// closed by the server once the sessionless timeout (10 s; Java closes
	// within 10-20 s) passes.
	idleStart := time.Now()
	var idle []net.Conn
	for i := 0; i < 50; i++ {
		if c := dial(); c != nil {
			idle = append(idle, c)
			if i%10 == 0 {
				_, _ = c.Write(frameLen(45)) // a length, then silence
			}
		}
	}
	wg.Wait()
	var iwg sync.WaitGroup
	for i, c := range idle {
		iwg.Add(1)
		go func() {
			defer iwg.Done()
			defer c.Close()
			if b := expectClosed(t, fmt.Sprintf("idle connection %d", i), c, 30*time.Second); len(b) != 0 {
				t.Errorf("idle connection %d: server sent %q", i, b)
			}
			if el := time.Since(idleStart); el < 9*time.Second {
				t.Errorf("idle connection %d closed after %v, before the 10 s sessionless timeout", i, el)
			}
		}()
	}
	iwg.Wait()
	t.Logf("idle connections closed after %v", time.Since(idleStart))

	close(w.stop)
	<-w.stopped
	w.mu.Lock()
	ops, maxLat, errs := w.ops, w.maxLat, w.errs
	w.mu.Unlock()
	t.Logf("busy session: %d ops, slowest %v", ops, maxLat)
	if len(errs) > 0 {
		t.Errorf("busy session saw errors: %s", strings.Join(errs, "; "))
	}
	if maxLat > 2*time.Second {
		t.Errorf("busy session: an operation took %v", maxLat)
	}
	if out, err := harness.FourLetter(addr, "ruok"); err != nil || out != "imok" {
		t.Errorf("ruok after the flood: %q %v", out, err)
	}
	// Every connection the flood opened is gone: back to the busy session
	// (and the mntr probe itself).
	for deadline := time.Now().Add(5 * time.Second); ; {
		n := aliveConnections(t, addr)
		if n == baseline {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%d connections alive after the flood, %d before", n, baseline)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}
