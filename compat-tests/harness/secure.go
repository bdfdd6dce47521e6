package harness

import (
	"context"
	"testing"

	"github.com/zkgo/zkgo/internal/zktls"
	"github.com/zkgo/zkgo/proxy"
)

// secureServing is an in-process zkgo's TLS side.
type secureServing struct {
	src *zktls.Source
	fes []*proxy.SecureFrontend
}

// startSecure starts the TLS listeners the config asks for, each on
// 127.0.0.1:0 (set SecureClientPort to any port number to get the secure
// port; client.portUnification gives a unified port beside the gnet one).
func (z *Zkgo) startSecure(t testing.TB) {
	t.Helper()
	settings, used, err := z.Config.ClientTLS()
	if err != nil {
		t.Fatalf("zkgo TLS settings: %v", err)
	}
	if !used {
		return
	}
	src, err := zktls.NewSource(settings, z.Config.Logger.With().Str("component", "tls").Logger())
	if err != nil {
		t.Fatalf("zkgo TLS stores: %v", err)
	}
	z.secure = &secureServing{src: src}
	tcfg, err := src.ServerConfig()
	if err != nil {
		t.Fatalf("zkgo TLS config: %v", err)
	}
	start := func(unified bool) string {
		fe, err := proxy.NewSecure(proxy.Config{Addr: "127.0.0.1:0", Backend: z.Server, Logger: z.Config.Logger,
			MaxFrame: z.Config.MaxBuffer}, tcfg, unified)
		if err == nil {
			err = fe.Start()
		}
		if err != nil {
			t.Fatalf("zkgo TLS listener: %v", err)
		}
		z.secure.fes = append(z.secure.fes, fe)
		return fe.Addr().String()
	}
	if z.Config.SecureClientPort != 0 {
		z.SecureAddr = start(false)
	}
	if z.Config.PortUnification() {
		z.UnifiedAddr = start(true)
	}
}

// SecureFrontends returns the TLS front ends (tests read their counters).
func (z *Zkgo) SecureFrontends() []*proxy.SecureFrontend {
	if z.secure == nil {
		return nil
	}
	return z.secure.fes
}

// TLSSource returns the key and trust stores in use, or nil.
func (z *Zkgo) TLSSource() *zktls.Source {
	if z.secure == nil {
		return nil
	}
	return z.secure.src
}

func (z *Zkgo) stopSecure(ctx context.Context) {
	if z.secure == nil {
		return
	}
	for _, fe := range z.secure.fes {
		_ = fe.Stop(ctx)
	}
	z.secure.src.Close()
}
