package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/zkgo/zkgo/node"
)

// TestHostResolverAsJava: the reconfig address check resolves host names
// as Java's InetSocketAddress: an IP literal is itself, localhost a
// loopback address (left out of the check), a name that does not resolve
// is unresolved (left out too).
func TestHostResolverAsJava(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resolve := node.HostResolver(ctx)
	if ip, ok := resolve("10.1.2.3"); !ok || ip.String() != "10.1.2.3" {
		t.Errorf("10.1.2.3 resolved to %v, %v", ip, ok)
	}
	if ip, ok := resolve("localhost"); !ok || !ip.IsLoopback() {
		t.Errorf("localhost resolved to %v, %v", ip, ok)
	}
	if ip, ok := resolve("no-such-host.invalid"); ok {
		t.Errorf("no-such-host.invalid resolved to %v", ip)
	}
}
