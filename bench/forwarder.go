package bench

import (
	"context"
	"net"

	"github.com/panjf2000/gnet/v2"
)

// RunForwarder runs the baseline of `zkgo bench proxy`: the smallest
// pass-through that gnet allows, with the same plumbing as `zkgo proxy`
// (one upstream connection per client, dialled off the loop and enrolled
// on the client's loop, bytes written from the callback that read them)
// and nothing else: no framing, no decoding, no metrics. The proxy's
// overhead minus the forwarder's is what its protocol work costs; the
// forwarder's overhead is the price of two extra socket hops on the host.
// It blocks until ctx is done; ready, if not nil, is closed once it listens.
func RunForwarder(ctx context.Context, listen, upstream string, loops int, ready chan<- struct{}) error {
	f := &forwarder{upstream: upstream, ctx: ctx, ready: ready}
	return gnet.Run(f, "tcp://"+listen,
		gnet.WithMulticore(loops > 1), gnet.WithNumEventLoop(loops), gnet.WithReuseAddr(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay), gnet.WithLogLevel(0))
}

type forwarder struct {
	gnet.BuiltinEventEngine
	upstream string
	ctx      context.Context
	ready    chan<- struct{}
}

func (f *forwarder) OnBoot(eng gnet.Engine) gnet.Action {
	go func() {
		<-f.ctx.Done()
		_ = eng.Stop(context.Background())
	}()
	if f.ready != nil {
		close(f.ready)
	}
	return gnet.None
}

// fwdSide is one socket of a forwarded pair; peer is the other socket,
// nil until the upstream is enrolled. Both sockets live on one loop.
type fwdSide struct {
	peer gnet.Conn
	back *fwdSide // the client side, for the upstream side to complete
}

func (f *forwarder) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if s, ok := c.Context().(*fwdSide); ok {
		s.back.peer = c
		// The client may have sent bytes while the upstream was dialled.
		_ = s.peer.Wake(nil)
		return nil, gnet.None
	}
	cs := &fwdSide{}
	c.SetContext(cs)
	go func() {
		nc, err := net.Dial("tcp", f.upstream)
		if err != nil {
			_ = c.Close()
			return
		}
		ctx := gnet.NewContext(context.Background(), &fwdSide{peer: c, back: cs})
		if _, err := c.EventLoop().Enroll(ctx, nc); err != nil {
			_ = nc.Close()
			_ = c.Close()
		}
	}()
	return nil, gnet.None
}

func (f *forwarder) OnTraffic(c gnet.Conn) gnet.Action {
	s, ok := c.Context().(*fwdSide)
	if !ok || s.peer == nil {
		return gnet.None
	}
	b, _ := c.Next(-1)
	if len(b) > 0 {
		_, _ = s.peer.Write(b)
	}
	return gnet.None
}

func (f *forwarder) OnClose(c gnet.Conn, _ error) gnet.Action {
	if s, ok := c.Context().(*fwdSide); ok && s.peer != nil {
		_ = s.peer.Close()
	}
	return gnet.None
}
