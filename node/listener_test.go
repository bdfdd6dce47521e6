package node

import (
	"net"
	"testing"

	"github.com/rs/zerolog"
)

// TestClientListenerMovesOnlyOnChange: a configuration that states the
// client address this member already serves on does not move the
// listener. Before, an activation whose previous configuration had no
// client address for this member bound the same port a second time: the
// old engine then closed every new connection it took (the fault suite's
// jjzZ and zzjJ reconfig seeds 1: a zkgo member's clients timed out for
// minutes).
func TestClientListenerMovesOnlyOnChange(t *testing.T) {
	var l clientListener
	l.port.Store(2181)
	var moved []string
	fn := func(addr string) (net.Addr, error) {
		moved = append(moved, addr)
		a, err := net.ResolveTCPAddr("tcp", addr)
		return a, err
	}
	l.rebind.Store(&fn)
	inline := func(f func()) { f() }
	log := zerolog.Nop()
	for _, c := range []struct {
		addr, cfgHost string
		moves         bool
	}{
		{"10.0.0.3:2181", "10.0.0.3", false},
		{"0.0.0.0:2181", "", false},
		{"[::]:2181", "0.0.0.0", false},
		{"10.0.0.3:2182", "10.0.0.3", true},  // moves to :2182
		{"10.0.0.3:2182", "10.0.0.3", false}, // and serves there now
		{"10.0.0.4:2182", "10.0.0.3", true},
		{"10.0.0.4:2182", "10.0.0.3", false},
	} {
		before := len(moved)
		l.move(c.addr, c.cfgHost, log, inline)
		if got := len(moved) > before; got != c.moves {
			t.Errorf("move to %s (configured host %q, serving on %v): moved %v, want %v", c.addr, c.cfgHost, l.port.Load(), got, c.moves)
		}
	}
}
