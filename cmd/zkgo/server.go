package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	_ "net/http/pprof" // served only with --pprof
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/zkgo/zkgo/internal/memtrim"
	"github.com/zkgo/zkgo/node"
	"github.com/zkgo/zkgo/ops"
	"github.com/zkgo/zkgo/proxy"
)

// The server is the front end's Backend.
var _ proxy.Backend = (*node.Server)(nil)

func init() {
	register("server", "run a ZooKeeper server (zoo.cfg compatible)", runServer)
}

func runServer(args []string) int {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "zoo.cfg to read (default: 127.0.0.1:2181, data in ./data)")
	level := fs.String("log-level", "info", logLevelUsage)
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics (the mntr values) at http://ADDR/metrics, e.g. 127.0.0.1:9141")
	jaasFile := fs.String("jaas", "", "JAAS file for client SASL (DIGEST-MD5), as Java's -Djava.security.auth.login.config; the zoo.cfg key java.security.auth.login.config does the same")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this address (profiling; e.g. 127.0.0.1:6060)")
	trim := fs.Bool("memory-trim", true, "after a burst of allocation followed by a few quiet seconds, collect once and return the freed memory to the OS (see docs/memory.md)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 1 && *cfgPath == "" {
		// Java's QuorumPeerMain takes the config file as its argument.
		*cfgPath = fs.Arg(0)
	}
	log, err := newLogger(*level)
	if err != nil {
		fmt.Fprintln(os.Stderr, "zkgo server:", err)
		return 2
	}
	if *pprofAddr != "" {
		go func() { log.Warn().Err(http.ListenAndServe(*pprofAddr, nil)).Msg("pprof server ended") }()
	}
	cfg := node.DefaultConfig()
	if *cfgPath != "" {
		if cfg, err = node.LoadConfig(*cfgPath); err != nil {
			log.Error().Err(err).Msg("cannot read config")
			return 1
		}
	}
	if cfg.Quorum != nil {
		// Every line of an ensemble member names it; the packages add only
		// their component, so each key appears once.
		log = log.With().Int64("myid", cfg.Quorum.MyID).Logger()
	}
	cfg.Logger = log
	if *jaasFile != "" {
		cfg.SetJAASFile(*jaasFile)
	}
	srv, err := node.New(cfg)
	if err != nil {
		log.Error().Err(err).Msg("invalid config")
		return 1
	}
	if err := srv.Start(); err != nil {
		log.Error().Err(err).Msg("cannot start server")
		return 1
	}
	fe, sec, err := serveClients(srv, log)
	if err != nil {
		log.Error().Err(err).Msg("cannot serve clients")
		_ = srv.Stop(context.Background())
		return 1
	}
	defer sec.close()
	// The AdminServer (admin.*, on by default as in Java 3.8): a port that
	// cannot be bound is a warning, the server keeps serving.
	if ac, _, _ := node.ParseAdminServer(srv.Config().Raw); ac.Enabled {
		as := ops.StartAdminServer(srv, ac, log.With().Str("component", "admin").Logger())
		defer as.Close()
	}
	// metricsProvider.className=...PrometheusMetricsProvider: Java's names
	// on httpHost:httpPort. Java does not start when its provider cannot
	// (a port in use), nor does zkgo.
	if mp, _, _ := node.ParseMetricsProvider(srv.Config().Raw); mp.Prometheus {
		ms, _, err := ops.ServeMetrics(mp.Addr, ops.JavaRegistry(srv, srv.JavaSummaries()...), log.With().Str("component", "metrics").Logger())
		if err != nil {
			log.Error().Err(err).Str("addr", mp.Addr).Msg("cannot start the Prometheus metrics provider")
			_ = fe.Stop(context.Background())
			_ = srv.Stop(context.Background())
			return 1
		}
		defer ms.Close()
	}
	if *metricsAddr != "" {
		ms, err := serveMetrics(*metricsAddr, serverMetrics(srv), log)
		if err != nil {
			log.Error().Err(err).Msg("cannot serve metrics")
			_ = sec.stop(context.Background())
			if fe != nil {
				_ = fe.Stop(context.Background())
			}
			_ = srv.Stop(context.Background())
			return 1
		}
		defer ms.Close()
	}
	if *trim {
		tctx, stopTrim := context.WithCancel(context.Background())
		defer stopTrim()
		tlog := log.With().Str("component", "memtrim").Logger()
		go memtrim.Run(tctx, memtrim.DefaultPolicy(), func(before, after memtrim.Sample) {
			if e := tlog.Debug(); e.Enabled() {
				e.Uint64("live_bytes", after.Live).Uint64("reclaimed_bytes", before.Reclaimable()).Msg("quiet: returned free heap memory to the OS")
			}
		})
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		log.Info().Str("signal", s.String()).Msg("shutting down")
	case <-srv.Done():
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = sec.stop(ctx)
	if fe != nil {
		err = errors.Join(err, fe.Stop(ctx))
	}
	if e := srv.Stop(ctx); e != nil && err == nil {
		err = e
	}
	if err != nil {
		log.Error().Err(err).Msg("shutdown")
		return 1
	}
	if err := srv.Err(); err != nil {
		// The server stopped itself where Java's QuorumPeer exits (e.g. a
		// TRUNC it could not apply): exit 13, Java's QUORUM_PACKET_ERROR.
		log.Error().Err(err).Msg("server stopped itself")
		return 13
	}
	return 0
}
