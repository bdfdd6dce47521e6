package compattest

import (
	"debug/buildinfo"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/internal/rawzk"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// Issue 14, point 2: one request must not stall the server. One session
// sends the largest request the limits allow, for every kind of request,
// one after the other, while another session reads a small node on a
// fixed schedule (every probeInterval, whether or not the previous read was
// answered, so a stall delays every read sent during it). Then it
// pipelines batches of 1000 moderate requests (the most a connection may
// have outstanding), sent in one write. The reads' p99 must stay under
// 50 ms.
//
// The budget is for the owner goroutine: each of these requests is either
// linear and small, or split across owner rounds, or done elsewhere.
//
// What is measured, and why (docs/limits.md, "The tests"):
//   - The server is the zkgo binary, built without the race detector
//     (harness.BuildZkgo) and run as a process of its own, as it runs in
//     production: under `go test -race` an in-process server is 5-10x
//     slower and shares its heap, its garbage collector and its CPUs with
//     the test's own clients; its idle reads alone had a p99 over 50 ms on
//     a loaded CI host.
//   - It runs at nice -20 (where the test may raise its priority; the
//     value is logged), as a server has its host to itself: the other
//     test packages, Java servers and fault runs sharing the CI host's two
//     CPUs should not decide when it runs. A step that holds the owner
//     still delays the probe by as long.
//   - A read's latency is taken on the wire, by the kernel: from the
//     software transmit timestamp of the request on the probe's socket
//     (SO_TIMESTAMPING) to the receive timestamp of its reply
//     (SO_TIMESTAMPNS), the times tcpdump on lo would show: the server's
//     time from receipt to reply. The race-built, loaded test process
//     decides only when the probe sends and when it reads. What the
//     probe's goroutine saw, counted from when each read was due, is
//     logged beside it.

const (
	probeInterval = 2 * time.Millisecond
	probeP99      = 50 * time.Millisecond
	// sessionTimeout outlasts the setup however slow (rawzk sends no
	// pings).
	sessionTimeout = 600000
	// maxRecord is the largest request record a client may send: a frame
	// holds at most jute.maxbuffer bytes, the request header included.
	maxRecord = jute.DefaultMaxBuffer - 8
	// serverNice is the server process's nice value.
	serverNice = -20
)

// Timestamping flags (linux/net_tstamp.h), not in package syscall.
const (
	sofTimestampingTxSoftware = 1 << 1
	sofTimestampingSoftware   = 1 << 4
	sofTimestampingOptID      = 1 << 7
	sofTimestampingOptTSOnly  = 1 << 11
)

// probe reads /probe on a schedule over a connection of its own whose
// socket the kernel timestamps, and records each read's times.
type probe struct {
	conn  *net.TCPConn
	raw   syscall.RawConn
	frame int // the size of a getData /probe request frame
	mu    sync.Mutex
	reads []probeRead // by xid - 1
	errs  []string
	stop  chan struct{}
	sent  chan struct{} // closed when the sender is gone
	done  sync.WaitGroup
}

// probeRead is one read's times. sent and answered are the kernel's
// timestamps on the probe's socket; zero when the kernel gave none for it.
type probeRead struct {
	due      time.Time // on the schedule
	wrote    time.Time // the write returned: the request was in the kernel
	sent     time.Time // the request's last byte left the probe's socket
	answered time.Time // its reply reached the probe's socket
	read     time.Time // the probe's goroutine read the reply
	ok       bool
}

// start is when the request was the server's: when it left the probe's
// socket, or, if the server let it wait in that socket (it stopped reading
// and the socket buffers filled; the kernel then merges requests and stamps
// only the last), when the write returned.
func (r probeRead) start() time.Time {
	if r.sent.IsZero() || r.sent.After(r.wrote) {
		return r.wrote
	}
	return r.sent
}

// wire is the read's latency on the wire: from start to the reply reaching
// the probe's socket (or, if the kernel did not stamp it, to when the
// probe read it, which can only be later).
func (r probeRead) wire() time.Duration {
	answered := r.answered
	if answered.IsZero() {
		answered = r.read
	}
	return answered.Sub(r.start())
}

// client is the latency the probe's goroutine saw, from when the read was
// due to when it read the reply.
func (r probeRead) client() time.Duration { return r.read.Sub(r.due) }

// dialProbe connects the probe's session. Dial it just after the heavy
// session, so that the front end's round-robin puts it on another event
// loop (TestHeavyRequestsDoNotStallReads).
func dialProbe(t *testing.T, addr string) *probe {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	must(t, err)
	conn := c.(*net.TCPConn)
	t.Cleanup(func() { conn.Close() })
	req := wire.ConnectRequest{TimeOut: sessionTimeout, Passwd: make([]byte, 16)}
	_, err = conn.Write(wire.AppendConnect(nil, req, false, true))
	must(t, err)
	must(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	var hdr [4]byte
	_, err = io.ReadFull(conn, hdr[:])
	must(t, err)
	body := make([]byte, binary.BigEndian.Uint32(hdr[:])&0xffff)
	_, err = io.ReadFull(conn, body)
	must(t, err)
	cr, err := wire.DecodeConnectReply(body)
	must(t, err)
	if cr.SessionID == 0 {
		t.Fatalf("probe session: refused (%+v)", cr)
	}
	must(t, conn.SetReadDeadline(time.Time{}))
	raw, err := conn.SyscallConn()
	must(t, err)
	// Set after the handshake: OPT_ID counts the bytes sent from here on,
	// so a transmit timestamp's key names its request.
	var serr error
	must(t, raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
		if serr == nil {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPING,
				sofTimestampingTxSoftware|sofTimestampingSoftware|sofTimestampingOptID|sofTimestampingOptTSOnly)
		}
	}))
	if serr != nil {
		t.Fatalf("probe: socket timestamps: %v", serr)
	}
	return &probe{conn: conn, raw: raw, frame: len(probeRequest(1)), stop: make(chan struct{}), sent: make(chan struct{})}
}

func probeRequest(xid wire.Xid) []byte {
	return wire.AppendRequest(nil, wire.RequestHeader{Xid: xid, Type: wire.OpGetData}, &wire.GetDataRequest{Path: "/probe"})
}

// start begins the schedule.
func (p *probe) start() {
	p.done.Add(1)
	go p.readLoop()
	go p.sendLoop()
}

func (p *probe) sendLoop() {
	defer close(p.sent)
	timer := time.NewTimer(0)
	defer timer.Stop()
	begin := time.Now()
	for i := 0; ; i++ {
		due := begin.Add(time.Duration(i) * probeInterval)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-p.stop:
				return
			case <-timer.C:
			}
		}
		select {
		case <-p.stop:
			return
		default:
		}
		req := probeRequest(wire.Xid(i + 1))
		p.mu.Lock()
		p.reads = append(p.reads, probeRead{due: due})
		p.mu.Unlock()
		if _, err := p.conn.Write(req); err != nil {
			p.fail("send: " + err.Error())
			return
		}
		wrote := time.Now()
		p.mu.Lock()
		p.reads[i].wrote = wrote
		p.mu.Unlock()
		p.readTxStamps()
	}
}

// readTxStamps takes the transmit timestamps queued on the socket's error
// queue (loopback queues one in the write that sent the request).
func (p *probe) readTxStamps() {
	oob := make([]byte, 512)
	for {
		var oobn int
		var rerr error
		if err := p.raw.Control(func(fd uintptr) {
			for {
				_, oobn, _, _, rerr = syscall.Recvmsg(int(fd), nil, oob, syscall.MSG_ERRQUEUE|syscall.MSG_DONTWAIT)
				if rerr != syscall.EINTR {
					return
				}
			}
		}); err != nil {
			rerr = err
		}
		if rerr == syscall.EAGAIN {
			return
		}
		if rerr != nil {
			p.fail("transmit timestamps: " + rerr.Error())
			return
		}
		ts, key, ok := txStamp(oob[:oobn])
		if !ok {
			continue
		}
		// key is the offset of the request's last byte; every request has
		// the same size.
		if (key+1)%uint32(p.frame) != 0 {
			p.fail(fmt.Sprintf("transmit timestamp for byte %d: not the end of a request", key))
			continue
		}
		i := int((key+1)/uint32(p.frame)) - 1
		p.mu.Lock()
		if i < len(p.reads) {
			p.reads[i].sent = ts
		} else {
			p.errs = append(p.errs, fmt.Sprintf("transmit timestamp for request %d, before it was sent", i+1))
		}
		p.mu.Unlock()
	}
}

// txStamp reads the software timestamp and its key (the byte offset) from
// an error-queue message.
func txStamp(oob []byte) (ts time.Time, key uint32, ok bool) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return ts, 0, false
	}
	var haveTS, haveKey bool
	for _, m := range msgs {
		switch {
		case m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SO_TIMESTAMPING && len(m.Data) >= 16:
			// struct scm_timestamping: ts[0] is the software timestamp.
			ts, haveTS = timespec(m.Data), true
		case (m.Header.Level == syscall.SOL_IP && m.Header.Type == syscall.IP_RECVERR) ||
			(m.Header.Level == syscall.SOL_IPV6 && m.Header.Type == syscall.IPV6_RECVERR):
			// struct sock_extended_err: ee_origin at 4 (4:
			// SO_EE_ORIGIN_TIMESTAMPING), ee_data at 12.
			if len(m.Data) >= 16 && m.Data[4] == 4 {
				key, haveKey = binary.NativeEndian.Uint32(m.Data[12:]), true
			}
		}
	}
	return ts, key, haveTS && haveKey
}

// timespec decodes a 64-bit struct timespec.
func timespec(b []byte) time.Time {
	return time.Unix(int64(binary.NativeEndian.Uint64(b)), int64(binary.NativeEndian.Uint64(b[8:])))
}

func (p *probe) readLoop() {
	defer p.done.Done()
	var hdr [4]byte
	buf := make([]byte, 4096)
	oob := make([]byte, 512)
	for {
		// A frame is read in two exact reads, so a read's receive
		// timestamp is that of the packet holding its reply (a read that
		// took in several packets would carry the latest one's).
		if _, err := p.recvFull(hdr[:], oob); err != nil {
			p.closed(err)
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[:]))
		if n < 16 || n > len(buf) {
			p.fail(fmt.Sprintf("reply of %d bytes", n))
			return
		}
		ts, err := p.recvFull(buf[:n], oob)
		if err != nil {
			p.closed(err)
			return
		}
		now := time.Now()
		r := jute.NewReader(buf[:n])
		var h wire.ReplyHeader
		h.Decode(&r)
		if h.Err != wire.ErrOk {
			p.fail("getData /probe: " + h.Err.Error())
		}
		i := int(h.Xid) - 1
		p.mu.Lock()
		if i < 0 || i >= len(p.reads) || p.reads[i].ok {
			p.mu.Unlock()
			p.fail(fmt.Sprintf("reply with xid %d", h.Xid))
			continue
		}
		p.reads[i].answered, p.reads[i].read, p.reads[i].ok = ts, now, true
		p.mu.Unlock()
	}
}

func (p *probe) closed(err error) {
	select {
	case <-p.stop:
	default:
		p.fail("connection: " + err.Error())
	}
}

// recvFull fills b from the socket and returns the receive timestamp of
// the last part read (zero if the kernel gave none).
func (p *probe) recvFull(b, oob []byte) (time.Time, error) {
	var ts time.Time
	for len(b) > 0 {
		var n, oobn int
		var rerr error
		err := p.raw.Read(func(fd uintptr) bool {
			for {
				n, oobn, _, _, rerr = syscall.Recvmsg(int(fd), b, oob, 0)
				if rerr != syscall.EINTR {
					return rerr != syscall.EAGAIN
				}
			}
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			return ts, err
		}
		if n == 0 {
			return ts, io.EOF
		}
		if msgs, err := syscall.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SO_TIMESTAMPNS && len(m.Data) >= 16 {
					ts = timespec(m.Data)
				}
			}
		}
		b = b[n:]
	}
	return ts, nil
}

// waitReads waits until the probe has had n more replies.
func (p *probe) waitReads(t *testing.T, n int) {
	t.Helper()
	want := p.answered() + n
	checkFor(t, time.Minute, func() bool { return p.answered() >= want }, "the probe's reads")
}

func (p *probe) answered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for i := len(p.reads) - 1; i >= 0; i-- {
		if p.reads[i].ok {
			n = i + 1
			break
		}
	}
	return n
}

func (p *probe) fail(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errs = append(p.errs, msg)
}

// errors summarizes the probe's failures: the first one and how many.
func (p *probe) errors() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.errs) == 0 {
		return ""
	}
	return fmt.Sprintf("%d failed reads, the first: %s", len(p.errs), p.errs[0])
}

// finish stops the schedule once every read sent is answered, and returns
// the reads.
func (p *probe) finish(t *testing.T) []probeRead {
	t.Helper()
	close(p.stop)
	<-p.sent
	checkFor(t, time.Minute, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, r := range p.reads {
			if !r.ok {
				return false
			}
		}
		return true
	}, "the probe's last replies")
	p.readTxStamps()
	p.conn.Close()
	p.done.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.reads)
}

// heavyStep is one request of the heavy session and the answer it must get.
type heavyStep struct {
	name string
	op   wire.OpCode
	body jute.Record
	want wire.ErrCode
	// check, if set, looks at the reply body.
	check func(t *testing.T, body []byte)
}

// fit returns the largest n for which build(n) encodes within maxRecord,
// and build(n).
func fit(t *testing.T, hi int, build func(n int) jute.Record) jute.Record {
	t.Helper()
	lo, all := 0, hi
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if len(jute.Marshal(build(mid))) <= maxRecord {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	rec := build(lo)
	if sz := len(jute.Marshal(rec)); sz > maxRecord || (lo < all && sz < maxRecord-4096) {
		t.Fatalf("fit: %d entries make %d bytes, want just under %d", lo, sz, maxRecord)
	}
	return rec
}

// decodeAll decodes a reply body that may pass jute.maxbuffer.
func decodeAll(t *testing.T, b []byte, rec jute.Record) {
	t.Helper()
	r := jute.NewReaderMax(b, 64<<20)
	rec.Decode(&r)
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
}

func distinctACL(n int) []wire.ACL {
	acl := make([]wire.ACL, n)
	for i := range acl {
		acl[i] = wire.ACL{Perms: int32(i), ID: wire.ID{Scheme: "world", ID: "anyone"}}
	}
	return acl
}

// stallAttempts is how many times TestHeavyRequestsDoNotStallReads runs
// the heavy phase, each on a fresh server, before it calls a p99 over the
// limit a failure. A step of zkgo that holds the owner is in every attempt
// (the same requests do the same work in each); a spell in which the
// shared CI host does not run the server (docs/limits.md) is not.
const stallAttempts = 3

func TestHeavyRequestsDoNotStallReads(t *testing.T) {
	var got []time.Duration
	for attempt := 1; attempt <= stallAttempts; attempt++ {
		var p99 time.Duration
		if !t.Run(fmt.Sprintf("attempt%d", attempt), func(t *testing.T) { p99 = heavyPhase(t) }) {
			return // a wrong answer, a closed connection: no retry
		}
		got = append(got, p99)
		if p99 < probeP99 {
			return
		}
		t.Logf("attempt %d: getData p99 %v on the wire during the heavy requests (limit %v)", attempt, p99, probeP99)
	}
	t.Errorf("getData p99 on the wire during the heavy requests was %v in all %d attempts, want < %v", got, stallAttempts, probeP99)
}

// heavyPhase starts a server, sends the heaviest request of every kind
// while a probe session reads, checks every answer, and returns the
// probe's p99 on the wire during the heavy requests.
func heavyPhase(t *testing.T) time.Duration {
	// The zkgo binary, not race-built, in a process of its own; sessions
	// long enough to stay idle through a slow setup (rawzk sends no pings).
	addr := startStallServer(t)
	// A request is decoded on its connection's event loop (a 1 MB one in
	// 14 ms, 50 ms under -race: docs/limits.md), which that loop's other
	// connections wait for. The point here is the owner goroutine every
	// client waits for, so the probe's connection is kept off heavy's loop:
	// the front end has a loop per CPU and hands them out in turn, so the
	// probe, dialled just after heavy, is on the next one (with two CPUs
	// or more). eph sends nothing during the heavy phase but its
	// closeSession.
	eph, err := rawzk.Dial(addr, rawzk.Options{TimeoutMs: sessionTimeout, NoStream: true})
	must(t, err)
	t.Cleanup(func() { eph.Close() })
	// It keeps no record of what it is sent (its setWatches fire 100,000
	// events): the test's own work should not crowd the server's CPUs.
	heavy, err := rawzk.Dial(addr, rawzk.Options{TimeoutMs: sessionTimeout, NoStream: true})
	must(t, err)
	t.Cleanup(func() { heavy.Close() })
	p := dialProbe(t, addr)
	send := func(op wire.OpCode, body jute.Record, want wire.ErrCode, frame []byte, xid wire.Xid) []byte {
		t.Helper()
		var ch <-chan rawzk.Reply
		var err error
		if frame != nil {
			ch, err = heavy.SendFrame(xid, frame)
		} else {
			ch, err = heavy.Send(heavy.NextXid(), op, body)
		}
		must(t, err)
		select {
		case r, ok := <-ch:
			if !ok {
				t.Fatalf("%v: connection closed: %v", op, heavy.Err())
			}
			if r.Header.Err != want {
				// Go on: the latencies are the point of the test.
				t.Errorf("%v: %v, want %v", op, r.Header.Err, want)
				return nil
			}
			return r.Body
		case <-time.After(2 * time.Minute):
			t.Fatalf("%v: no reply", op)
		}
		return nil
	}
	do := func(op wire.OpCode, body jute.Record, want wire.ErrCode) []byte {
		t.Helper()
		return send(op, body, want, nil, 0)
	}
	mk := func(path string, data []byte) {
		t.Helper()
		do(wire.OpCreate, &wire.CreateRequest{Path: path, Data: data, ACL: open2}, wire.ErrOk)
	}

	// Setup, before the probe starts.
	mk("/probe", []byte("p"))
	mk("/h", nil)
	mk("/h/kids", nil)
	const kids = 200000
	kidNames := names("/h/kids/", kids)
	for i := 0; i < kids; {
		var m *wire.MultiRequest
		m = fit(t, kids-i, func(n int) jute.Record {
			ops := make([]wire.MultiOp, n)
			for j := range ops {
				ops[j] = wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: kidNames[i+j], ACL: open2}}
			}
			return &wire.MultiRequest{Ops: ops}
		}).(*wire.MultiRequest)
		do(wire.OpMulti, m, wire.ErrOk)
		i += len(m.Ops)
	}
	mk("/h/bigdata", make([]byte, maxRecord-64))
	mk("/h/target", nil)
	mk("/h/mid", make([]byte, 4<<10))
	// A node with 1000 children (a getChildren well under the size answered
	// in steps).
	mk("/h/few", nil)
	fewNames := names("/h/few/", 1000)
	for i := 0; i < len(fewNames); i += 1000 {
		ops := make([]wire.MultiOp, 1000)
		for j := range ops {
			ops[j] = wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: fewNames[i+j], ACL: open2}}
		}
		do(wire.OpMulti, &wire.MultiRequest{Ops: ops}, wire.ErrOk)
	}
	deep := "/h/deep"
	mk(deep, nil)
	for i := 0; i < 2000; i++ {
		deep += "/d"
		mk(deep, nil)
	}
	for i := 0; i < 3; i++ {
		do(wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("user" + strconv.Itoa(i) + ":pw")}, wire.ErrOk)
	}
	// A session with 100,000 ephemerals, closed among the heavy requests
	// (one closeSession txn deletes them all).
	mk("/h/eph", nil)
	const ephemerals = 100000
	ephNames := names("/h/eph/", ephemerals)
	for i := 0; i < ephemerals; {
		m := fit(t, ephemerals-i, func(n int) jute.Record {
			ops := make([]wire.MultiOp, n)
			for j := range ops {
				ops[j] = wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: ephNames[i+j], ACL: open2, Flags: int32(wire.ModeEphemeral)}}
			}
			return &wire.MultiRequest{Ops: ops}
		}).(*wire.MultiRequest)
		if h, err := eph.Do(wire.OpMulti, m, nil); err != nil || h.Err != wire.ErrOk {
			t.Fatalf("ephemerals: %v %v", h.Err, err)
		}
		i += len(m.Ops)
	}

	acls := distinctACL(60000)
	mkMulti := func(paths []string, op func(p string) wire.MultiOp) func(n int) jute.Record {
		return func(n int) jute.Record {
			ops := make([]wire.MultiOp, 0, n)
			for j := 0; j < n; j++ {
				ops = append(ops, op(paths[j%len(paths)]))
			}
			return &wire.MultiRequest{Ops: ops}
		}
	}
	mNames := names("/h/m/", 60000)
	bigKids := names("/h/bigdata/", 60000)
	longName := "/h/" + strings.Repeat("x", maxRecord-64)
	var deepMissing strings.Builder
	for deepMissing.Len() < maxRecord-32 {
		deepMissing.WriteString("/a")
	}
	pathList := func(paths []string) func(n int) jute.Record {
		return func(n int) jute.Record {
			l := make([]string, n)
			for j := range l {
				l[j] = paths[j%len(paths)]
			}
			return &wire.SetWatches{RelativeZxid: 1 << 62, DataWatches: l, ExistWatches: []string{}, ChildWatches: []string{}}
		}
	}
	missing := names("/h/missing/", 200000)
	steps := []heavyStep{
		{name: "create with the most distinct ACL entries", op: wire.OpCreate, want: wire.ErrOk,
			body: fit(t, len(acls), func(n int) jute.Record { return &wire.CreateRequest{Path: "/h/acl", ACL: acls[:n]} })},
		{name: "create with the most ACL entries, the last invalid", op: wire.OpCreate, want: wire.ErrInvalidACL,
			body: fit(t, len(acls), func(n int) jute.Record {
				return &wire.CreateRequest{Path: "/h/acl2", ACL: append(slices.Clone(acls[:n]), wire.ACL{Perms: 1, ID: wire.ID{Scheme: "nosuch", ID: "x"}})}
			})},
		{name: "setACL with the most distinct ACL entries", op: wire.OpSetACL, want: wire.ErrOk,
			body: fit(t, len(acls), func(n int) jute.Record { return &wire.SetACLRequest{Path: "/h/target", ACL: acls[:n], Version: -1} })},
		{name: "create with the most auth entries (expansion past jute.maxbuffer)", op: wire.OpCreate, want: wire.ErrBadArguments,
			body: fit(t, 100000, func(n int) jute.Record {
				acl := make([]wire.ACL, n)
				for i := range acl {
					acl[i] = wire.ACL{Perms: int32(i), ID: wire.ID{Scheme: "auth", ID: ""}}
				}
				return &wire.CreateRequest{Path: "/h/acl3", ACL: acl}
			})},
		{name: "multi: the most creates", op: wire.OpMulti, want: wire.ErrOk,
			body: fit(t, len(mNames), mkMulti(mNames, func(p string) wire.MultiOp {
				return wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: p, ACL: open2}}
			}))},
		{name: "multi: the most setData", op: wire.OpMulti, want: wire.ErrOk,
			body: fit(t, 100000, mkMulti(mNames[:15000], func(p string) wire.MultiOp {
				return wire.MultiOp{Type: wire.OpSetData, Op: &wire.SetDataRequest{Path: p, Data: []byte("x"), Version: -1}}
			}))},
		{name: "multi: the most checks of a node with 1 MiB of data", op: wire.OpMulti, want: wire.ErrOk,
			body: fit(t, 100000, mkMulti([]string{"/h/bigdata"}, func(p string) wire.MultiOp {
				return wire.MultiOp{Type: wire.OpCheck, Op: &wire.CheckVersionRequest{Path: p, Version: -1}}
			}))},
		{name: "multi: the most creates under a node with 1 MiB of data", op: wire.OpMulti, want: wire.ErrOk,
			body: fit(t, len(bigKids), mkMulti(bigKids, func(p string) wire.MultiOp {
				return wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: p, ACL: open2}}
			}))},
		{name: "multi: the most creates, the last failing", op: wire.OpMulti, want: wire.ErrOk,
			body: fit(t, len(mNames), func(n int) jute.Record {
				ops := make([]wire.MultiOp, n)
				for j := range ops {
					ops[j] = wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/h/m2/" + b36(j), ACL: open2}}
				}
				if n > 0 {
					ops[0] = wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/h/m2", ACL: open2}}
					ops[n-1] = wire.MultiOp{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: "/h/m2", ACL: open2}}
				}
				return &wire.MultiRequest{Ops: ops}
			})},
		{name: "setWatches: the most data watches on existing nodes", op: wire.OpSetWatches, want: wire.ErrOk,
			body: fit(t, 200000, pathList(kidNames))},
		{name: "setWatches: the most data watches on missing nodes (events)", op: wire.OpSetWatches, want: wire.ErrOk,
			body: fit(t, 200000, pathList(missing))},
		{name: "setWatches: the most exist watches on missing nodes", op: wire.OpSetWatches, want: wire.ErrOk,
			body: fit(t, 200000, func(n int) jute.Record {
				return &wire.SetWatches{DataWatches: []string{}, ExistWatches: missing[:n], ChildWatches: []string{}}
			})},
		{name: "setWatches2: the most persistent and recursive watches", op: wire.OpSetWatches2, want: wire.ErrOk,
			body: fit(t, 200000, func(n int) jute.Record {
				return &wire.SetWatches2{DataWatches: []string{}, ExistWatches: []string{}, ChildWatches: []string{},
					PersistentWatches: missing[:n/2], PersistentRecursiveWatches: missing[n/2 : n]}
			})},
		{name: "addWatch: recursive on the longest path", op: wire.OpAddWatch, want: wire.ErrOk,
			body: &wire.AddWatchRequest{Path: longName, Mode: wire.AddWatchPersistentRecursive}},
		{name: "create: the longest path", op: wire.OpCreate, want: wire.ErrOk,
			body: &wire.CreateRequest{Path: longName, ACL: open2}},
		{name: "getData: the longest path", op: wire.OpGetData, want: wire.ErrOk, body: &wire.GetDataRequest{Path: longName}},
		{name: "getData: the deepest missing path", op: wire.OpGetData, want: wire.ErrNoNode,
			body: &wire.GetDataRequest{Path: deepMissing.String(), Watch: true}},
		{name: "create: 2000 levels down", op: wire.OpCreate, want: wire.ErrOk, body: &wire.CreateRequest{Path: deep + "/leaf", ACL: open2}},
		{name: "getChildren: 200,000 children", op: wire.OpGetChildren, want: wire.ErrOk,
			body: &wire.GetChildrenRequest{Path: "/h/kids", Watch: true}, check: func(t *testing.T, b []byte) {
				var r wire.GetChildrenResponse
				decodeAll(t, b, &r)
				if len(r.Children) != kids {
					t.Fatalf("getChildren: %d children, want %d", len(r.Children), kids)
				}
			}},
		{name: "getChildren2: 200,000 children", op: wire.OpGetChildren2, want: wire.ErrOk,
			body: &wire.GetChildren2Request{Path: "/h/kids"}, check: func(t *testing.T, b []byte) {
				var r wire.GetChildren2Response
				decodeAll(t, b, &r)
				if len(r.Children) != kids || r.Stat.NumChildren != kids {
					t.Fatalf("getChildren2: %d children (stat %d), want %d", len(r.Children), r.Stat.NumChildren, kids)
				}
			}},
		{name: "getAllChildrenNumber: /", op: wire.OpGetAllChildrenNumber, want: wire.ErrOk,
			body: &wire.GetAllChildrenNumberRequest{Path: "/"}},
		{name: "getAllChildrenNumber: /h/kids", op: wire.OpGetAllChildrenNumber, want: wire.ErrOk,
			body: &wire.GetAllChildrenNumberRequest{Path: "/h/kids"}, check: func(t *testing.T, b []byte) {
				var r wire.GetAllChildrenNumberResponse
				decodeAll(t, b, &r)
				if r.TotalNumber != kids {
					t.Fatalf("getAllChildrenNumber: %d, want %d", r.TotalNumber, kids)
				}
			}},
		{name: "multi: the most deletes", op: wire.OpMulti, want: wire.ErrOk,
			body: fit(t, len(mNames), mkMulti(mNames, func(p string) wire.MultiOp {
				return wire.MultiOp{Type: wire.OpDelete, Op: &wire.DeleteRequest{Path: p, Version: -1}}
			}))},
	}

	// Encoded now, so that the client spends no CPU on them meanwhile.
	frames := make([][]byte, len(steps))
	xids := make([]wire.Xid, len(steps))
	for i, st := range steps {
		xids[i] = heavy.NextXid()
		frames[i] = wire.AppendRequest(nil, wire.RequestHeader{Xid: xids[i], Type: st.op}, st.body)
	}
	// Batches of pipelined requests, each moderate, as many as the front
	// end lets a connection have outstanding (1000), sent in one write.
	type batch struct {
		name   string
		xids   []wire.Xid
		frames []byte
	}
	var batches []batch
	for _, b := range []struct {
		name string
		op   wire.OpCode
		body jute.Record
	}{
		{"1000 pipelined getChildren of 1000 children", wire.OpGetChildren, &wire.GetChildrenRequest{Path: "/h/few"}},
		{"1000 pipelined getData of 4 KiB", wire.OpGetData, &wire.GetDataRequest{Path: "/h/mid"}},
		{"1000 pipelined setData", wire.OpSetData, &wire.SetDataRequest{Path: "/h/target", Data: []byte("x"), Version: -1}},
	} {
		bt := batch{name: b.name}
		for range 1000 {
			x := heavy.NextXid()
			bt.xids = append(bt.xids, x)
			bt.frames = wire.AppendRequest(bt.frames, wire.RequestHeader{Xid: x, Type: b.op}, b.body)
		}
		batches = append(batches, bt)
	}
	p.start()
	idleStart := time.Now()
	p.waitReads(t, 300) // a baseline for the log: the probe alone
	idleEnd := time.Now()
	type timing struct {
		name       string
		start, end time.Time
	}
	var timings []timing
	heavyStart := time.Now()
	for i, st := range steps {
		start := time.Now()
		body := send(st.op, st.body, st.want, frames[i], xids[i])
		if st.check != nil && body != nil {
			st.check(t, body)
		}
		timings = append(timings, timing{st.name, start, time.Now()})
		// One heavy request at a time: the next goes once the probe has
		// done a few more reads (its effects, such as the garbage it left,
		// still count against the probe).
		p.waitReads(t, 25)
	}
	for _, b := range batches {
		start := time.Now()
		chans, err := heavy.SendFrames(b.xids, b.frames)
		must(t, err)
		for i, ch := range chans {
			select {
			case r, ok := <-ch:
				if !ok {
					t.Fatalf("%s: connection closed: %v", b.name, heavy.Err())
				}
				if r.Header.Err != wire.ErrOk {
					t.Errorf("%s: reply %d: %v", b.name, i, r.Header.Err)
				}
			case <-time.After(2 * time.Minute):
				t.Fatalf("%s: no reply %d", b.name, i)
			}
		}
		timings = append(timings, timing{b.name, start, time.Now()})
		p.waitReads(t, 25)
	}
	// The session with 100,000 ephemerals closes; then the heavy session's
	// connection, with its 500,000 watches, goes.
	start := time.Now()
	if h, err := eph.Do(wire.OpCloseSession, nil, nil); err != nil || h.Err != wire.ErrOk {
		t.Fatalf("closeSession: %v %v", h.Err, err)
	}
	timings = append(timings, timing{"closeSession of a session with 100,000 ephemerals", start, time.Now()})
	p.waitReads(t, 25)
	start = time.Now()
	heavy.Close()
	p.waitReads(t, 100)
	timings = append(timings, timing{"a connection with 500,000 watches closes", start, time.Now()})
	heavyEnd := time.Now()
	reads := p.finish(t)
	if e := p.errors(); e != "" {
		t.Fatalf("probe session: %s", e)
	}
	// The kernel stamps every request and reply on loopback; a request
	// that waited in the probe's socket (the server did not read it) is
	// counted from its write, a reply it did not stamp to when the probe
	// read it (later, never earlier).
	var waited, unstamped int
	for _, r := range reads {
		if !r.start().Equal(r.sent) {
			waited++
		}
		if r.answered.IsZero() {
			unstamped++
		}
	}
	if unstamped == len(reads) {
		t.Fatalf("the kernel timestamped none of the probe's %d replies", len(reads))
	}
	during := func(from, to time.Time) (wireLat, clientLat []time.Duration) {
		for _, r := range reads {
			if !r.due.Before(from) && r.due.Before(to) {
				wireLat = append(wireLat, r.wire())
				clientLat = append(clientLat, r.client())
			}
		}
		slices.Sort(wireLat)
		slices.Sort(clientLat)
		return wireLat, clientLat
	}
	pct := func(l []time.Duration, q int) time.Duration { return l[len(l)*q/100].Round(10 * time.Microsecond) }
	summary := func(w, c []time.Duration) string {
		return fmt.Sprintf("on the wire p50 %v, p99 %v, max %v; seen by the client p50 %v, p99 %v, max %v",
			pct(w, 50), pct(w, 99), w[len(w)-1].Round(10*time.Microsecond), pct(c, 50), pct(c, 99), c[len(c)-1].Round(10*time.Microsecond))
	}
	if w, c := during(idleStart, idleEnd); len(w) > 0 {
		t.Logf("%d reads with no heavy request: %s", len(w), summary(w, c))
	}
	for _, tm := range timings {
		w, c := during(tm.start, tm.end)
		var ww, wc time.Duration
		if len(w) > 0 {
			ww, wc = w[len(w)-1], c[len(c)-1]
		}
		t.Logf("%-70s took %8v, slowest read %v on the wire (%v seen by the client)", tm.name, tm.end.Sub(tm.start).Round(time.Millisecond),
			ww.Round(100*time.Microsecond), wc.Round(100*time.Microsecond))
	}
	lat, clientLat := during(heavyStart, heavyEnd)
	if len(lat) < 100 {
		t.Fatalf("only %d probe reads during the heavy requests", len(lat))
	}
	t.Logf("%d reads during %v of heavy requests: %s", len(lat), heavyEnd.Sub(heavyStart).Round(time.Millisecond), summary(lat, clientLat))
	t.Logf("of the probe's %d reads, %d waited in its socket for the server to read them, %d replies had no receive timestamp", len(reads), waited, unstamped)
	p99 := lat[len(lat)*99/100]
	if p99 >= probeP99 {
		logSlowSpells(t, reads)
	}
	checkDigests(t, addr)
	return p99
}

// logSlowSpells logs the spells in which the probe's reads took probeP99 or
// more on the wire (to match against the server's log).
func logSlowSpells(t *testing.T, reads []probeRead) {
	t.Helper()
	type spell struct {
		from, to time.Time
		n        int
		worst    time.Duration
	}
	var spells []spell
	for _, r := range reads {
		d := r.wire()
		if d < probeP99 {
			continue
		}
		if k := len(spells) - 1; k >= 0 && !r.start().After(spells[k].to) {
			spells[k].n++
			spells[k].worst = max(spells[k].worst, d)
			spells[k].to = r.start().Add(d)
			continue
		}
		spells = append(spells, spell{from: r.start(), to: r.start().Add(d), n: 1, worst: d})
	}
	for _, sp := range spells {
		t.Logf("slow reads from %s to %s: %d, the slowest %v", sp.from.UTC().Format("15:04:05.000"), sp.to.UTC().Format("15:04:05.000"),
			sp.n, sp.worst.Round(100*time.Microsecond))
	}
}

// startStallServer starts the zkgo binary (not race-built) as a standalone
// server and returns its client address.
func startStallServer(t *testing.T) string {
	t.Helper()
	bin := harness.BuildZkgo(t)
	info, err := buildinfo.ReadFile(bin)
	must(t, err)
	for _, s := range info.Settings {
		if s.Key == "-race" && s.Value == "true" {
			t.Fatalf("%s is built with the race detector (GOFLAGS=%q): this test measures a production build", bin, os.Getenv("GOFLAGS"))
		}
	}
	cfgPath, addr := writeZkgoConfig(t, "maxSessionTimeout="+strconv.Itoa(sessionTimeout))
	z := harness.StartZkgoProcNice(t, bin, serverNice, cfgPath, addr)
	nice, err := z.Nice()
	must(t, err)
	t.Logf("zkgo runs at nice %d", nice)
	return addr
}

// checkDigests fails the test if the server's tree ever disagreed with a
// txn's digest (as harness.StartZkgo checks an in-process server).
func checkDigests(t *testing.T, addr string) {
	t.Helper()
	out, err := harness.FourLetter(addr, "mntr")
	must(t, err)
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "\t"); ok && k == "zk_digest_mismatches_count" {
			if v != "0" {
				t.Errorf("zkgo counted %s digest mismatches", v)
			}
			return
		}
	}
	t.Errorf("mntr has no zk_digest_mismatches_count:\n%s", out)
}
