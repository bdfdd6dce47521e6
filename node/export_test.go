package node

import (
	"context"
	"net/netip"
	"time"
)

// EnableReconfigForTest turns dynamic reconfiguration on for c, as
// reconfigEnabled=true in zoo.cfg does (the tests' ensembles write zoo.cfg
// without it).
func EnableReconfigForTest(c *Config) {
	c.ReconfigEnabled = true
}

// HostResolver resolves host names with the system resolver as a
// reconfig's lookups do (resolveHost, reconfig_resolve.go).
func HostResolver(ctx context.Context) func(string) (netip.Addr, bool) {
	return func(host string) (netip.Addr, bool) {
		ip := resolveHost(ctx, nil, host)
		return ip, ip.IsValid()
	}
}

// SetReconfigLookup makes s's reconfig lookups use lookup instead of the
// system resolver (it runs on a lookup goroutine), each request's lookups
// within timeout.
func (s *Server) SetReconfigLookup(lookup func(ctx context.Context, host string) ([]netip.Addr, error), timeout time.Duration) error {
	return s.Call(context.Background(), func() {
		if s.qs.peer != nil {
			s.qs.peer.resolver.lookup, s.qs.peer.resolver.timeout = lookup, timeout
		}
	})
}
