package main

import (
	"context"
	"crypto/tls"
	"errors"
	"net"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/internal/zktls"
	"github.com/zkgo/zkgo/node"
	"github.com/zkgo/zkgo/proxy"
)

// secureServing is the TLS side of the client listeners: the key and trust
// stores (watched for changes) and the TLS front ends.
type secureServing struct {
	src *zktls.Source
	fes []*proxy.SecureFrontend
}

func (s *secureServing) stop(ctx context.Context) error {
	var err error
	for _, fe := range s.fes {
		err = errors.Join(err, fe.Stop(ctx))
	}
	s.fes = nil
	return err
}

func (s *secureServing) close() {
	_ = s.stop(context.Background())
	if s.src != nil {
		s.src.Close()
	}
}

// serveClients starts the client listeners zoo.cfg asks for: clientPort on
// gnet (or, with client.portUnification, on the TLS front end taking both),
// and secureClientPort on the TLS front end.
func serveClients(srv *node.Server, log zerolog.Logger) (*proxy.Frontend, *secureServing, error) {
	cfg := srv.Config()
	sec := &secureServing{}
	settings, useTLS, err := cfg.ClientTLS()
	if err != nil {
		return nil, sec, err
	}
	var tlsCfg *tls.Config
	if useTLS {
		if sec.src, err = zktls.NewSource(settings, log.With().Str("component", "tls").Logger()); err != nil {
			return nil, sec, err
		}
		c, err := sec.src.ServerConfig()
		if err != nil {
			sec.close()
			return nil, sec, err
		}
		tlsCfg = c
	}
	base := proxy.Config{Backend: srv, Logger: log, MaxFrame: cfg.MaxBuffer}
	var fe *proxy.Frontend
	if cfg.NoClientPort {
		// Java's getClientPort without a plaintext listener (conf).
		srv.SetClientPort(-1)
	} else {
		if cfg.PortUnification() {
			pc := base
			pc.Addr = cfg.ClientAddr()
			u, err := proxy.NewSecure(pc, tlsCfg, true)
			if err == nil {
				err = u.Start()
			}
			if err != nil {
				sec.close()
				return nil, sec, err
			}
			sec.fes = append(sec.fes, u)
			if a, ok := u.Addr().(*net.TCPAddr); ok {
				srv.SetClientPort(a.Port)
			}
		} else {
			pc := base
			pc.Addr = cfg.ClientAddr()
			fe, err = proxy.New(pc)
			if err == nil {
				err = fe.Start()
			}
			if err != nil {
				sec.close()
				return nil, sec, err
			}
			if a, ok := fe.Addr().(*net.TCPAddr); ok {
				srv.SetClientPort(a.Port)
			}
			// A reconfiguration that changes this member's client
			// address moves the listener (Java's cnxnFactory.reconfigure).
			srv.SetClientRebind(fe.Rebind)
		}
	}
	if cfg.SecureClientPort > 0 {
		sc := base
		sc.Addr = cfg.SecureClientAddr()
		s, err := proxy.NewSecure(sc, tlsCfg, false)
		if err == nil {
			err = s.Start()
		}
		if err != nil {
			if fe != nil {
				_ = fe.Stop(context.Background())
			}
			sec.close()
			return nil, sec, err
		}
		sec.fes = append(sec.fes, s)
	}
	return fe, sec, nil
}
