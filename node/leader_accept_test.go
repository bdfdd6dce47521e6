package node

import (
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zkgo/zkgo/internal/handshake"
	"github.com/zkgo/zkgo/wire"
)

// flakyListener fails its first failures Accepts the way an exhausted
// file descriptor table does (EMFILE).
type flakyListener struct {
	net.Listener
	failures atomic.Int32
	calls    atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.calls.Add(1)
	if l.failures.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(),
			Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// A failed Accept does not make the leader deaf to learners: it retries
// (with a backoff) until the listener is closed, then returns.
func TestLeaderAcceptRetriesAfterError(t *testing.T) {
	ports := map[int64]int{1: freePort(t), 2: freePort(t), 3: freePort(t)}
	s, err := New(quorumMember(t, 3, ports, 50))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &flakyListener{Listener: ln}
	fl.failures.Store(4)
	ld := &leaderDriver{s: s, ln: fl, accepted: make(chan learnerArrival, learnerArrivals), pending: handshake.NewLimiter(20)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ld.acceptLearners()
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	f := dialQuorum(t, ln.Addr().String(), nil)
	f.followerInfo(2, 0)
	select {
	case a := <-ld.accepted:
		a.conn.Close()
		if a.first.Type != wire.PacketFollowerInfo {
			t.Fatalf("first packet %v, want FOLLOWERINFO", a.first.Type)
		}
	case <-done:
		t.Fatalf("acceptLearners returned after %d failed Accepts", 4-fl.failures.Load())
	case <-time.After(10 * time.Second):
		t.Fatal("the learner connection was not accepted within 10s")
	}
	if n := fl.calls.Load(); n < 5 {
		t.Fatalf("%d Accept calls, want the 4 failures and the success", n)
	}
	// Closing the listener ends it.
	ln.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("acceptLearners did not return after the listener was closed")
	}
}
