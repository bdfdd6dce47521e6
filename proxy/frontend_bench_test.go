package proxy

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/zkgo/zkgo/wire"
)

// echoBackend answers every packet at once with a header-only reply, on
// one goroutine, as the server's owner goroutine does: the front end's own
// cost is what a benchmark through it measures.
type echoBackend struct {
	in   chan echoBatch
	quit chan struct{}
}

type echoBatch struct {
	c    Conn
	pkts []wire.ClientPacket
}

func newEchoBackend() *echoBackend {
	b := &echoBackend{in: make(chan echoBatch, 1<<14), quit: make(chan struct{})}
	go b.run()
	return b
}

func (b *echoBackend) Open(c Conn) any { return c }

func (b *echoBackend) Submit(h any, pkts []wire.ClientPacket) bool {
	select {
	case b.in <- echoBatch{c: h.(Conn), pkts: pkts}:
		return true
	default:
		return false
	}
}

func (b *echoBackend) Closed(any, error) {}

func (b *echoBackend) run() {
	for {
		select {
		case <-b.quit:
			return
		case ev := <-b.in:
			if len(ev.pkts) == 0 {
				continue
			}
			var out []byte
			for i := range ev.pkts {
				p := &ev.pkts[i]
				switch p.Kind {
				case wire.KindConnect:
					out = wire.AppendConnectResponse(out, wire.ConnectResponse{TimeOut: 30000, SessionID: 1,
						Passwd: make([]byte, 16)}, false)
				case wire.KindFourLetter:
					out = append(out, "imok"...)
				default:
					out = wire.AppendReply(out, wire.ReplyHeader{Xid: p.Header.Xid}, nil)
				}
			}
			ev.c.Send(out, len(ev.pkts))
			if ev.pkts[0].Kind == wire.KindFourLetter {
				ev.c.Close("four letter word")
			}
		}
	}
}

func startFrontend(tb testing.TB, be Backend, mutate func(*Config)) *Frontend {
	tb.Helper()
	cfg := Config{Addr: "127.0.0.1:0", Backend: be, Loops: 2}
	if mutate != nil {
		mutate(&cfg)
	}
	fe, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := fe.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = fe.Stop(ctx)
	})
	return fe
}

// handshake opens a session connection through the front end.
func handshake(tb testing.TB, addr string) (net.Conn, *bufio.Reader) {
	tb.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	if _, err := c.Write(wire.AppendConnect(nil, wire.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}, false, true)); err != nil {
		tb.Fatal(err)
	}
	br := bufio.NewReaderSize(c, 64<<10)
	if _, err := readFrameBody(br); err != nil {
		tb.Fatal(err)
	}
	return c, br
}

func readFrameBody(r *bufio.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

// BenchmarkFrontendPipelinedPings measures the front end's plaintext path:
// 8 connections, each writing pings 16 to a write as fast as the front end
// takes them (it pauses a connection at MaxOutstanding) and reading the
// replies, answered by echoBackend.
func BenchmarkFrontendPipelinedPings(b *testing.B) {
	be := newEchoBackend()
	defer close(be.quit)
	fe := startFrontend(b, be, nil)
	const conns, depth = 8, 64
	ping := wire.AppendRequest(nil, wire.RequestHeader{Xid: wire.XidPing, Type: wire.OpPing}, nil)
	type cl struct {
		c  net.Conn
		br *bufio.Reader
	}
	cls := make([]cl, conns)
	for i := range cls {
		c, br := handshake(b, fe.Addr().String())
		cls[i] = cl{c, br}
	}
	per := b.N/conns + 1
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, x := range cls {
		wg.Add(2)
		go func() {
			defer wg.Done()
			var buf []byte
			for sent := 0; sent < per; {
				buf = buf[:0]
				for k := 0; k < depth/4 && sent < per; k++ {
					buf = append(buf, ping...)
					sent++
				}
				if _, err := x.c.Write(buf); err != nil {
					b.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for got := 0; got < per; got++ {
				if _, err := readFrameBody(x.br); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
