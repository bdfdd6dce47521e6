package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/internal/zktls"
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/ops"
	"github.com/zkgo/zkgo/proxy"
	"github.com/zkgo/zkgo/wire"
)

func init() {
	register("proxy", "run a protocol-aware ZooKeeper proxy in front of any ensemble", runProxy)
}

const proxyUsage = `usage: zkgo proxy --listen HOST:PORT --upstream H1:P1,H2:P2,... [flags]

Accepts ZooKeeper clients and gives each connection its own connection to
one of the upstream servers (round robin, skipping servers that refused
recently). Frames pass unchanged both ways and are decoded on the way for
metrics, policies, request logs and --record. See docs/proxy.md.
`

// opList is a comma-separated list of opcode names or numbers.
type opList []wire.OpCode

func (o *opList) String() string {
	s := make([]string, len(*o))
	for i, op := range *o {
		s[i] = op.String()
	}
	return strings.Join(s, ",")
}

func (o *opList) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if op, ok := wire.ParseOpCode(f); ok {
			*o = append(*o, op)
			continue
		}
		n, err := strconv.ParseInt(f, 10, 32)
		if err != nil {
			return fmt.Errorf("unknown opcode %q", f)
		}
		*o = append(*o, wire.OpCode(n))
	}
	return nil
}

// wordList is the --four-letter-words value: nil until set, so an empty
// value (no word allowed) differs from the default.
type wordList struct{ words []string }

func (w *wordList) String() string { return strings.Join(w.words, ",") }

func (w *wordList) Set(v string) error {
	w.words = []string{}
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			w.words = append(w.words, f)
		}
	}
	return nil
}

// proxyOptions is what the command line asks for.
type proxyOptions struct {
	cfg                   proxy.PassConfig
	level, metrics, pprof string
	reqLog, record        string
	recordMaxSize         int64
	recordFiles           int
	recordQueue           int64
	// TLS (docs/security.md): ssl.* files for the client and upstream sides.
	tlsConfig, upstreamTLSConfig string
}

// noLimit maps a flag's 0 ("no limit") to proxy.NoLimit.
func noLimit(n int) int {
	if n == 0 {
		return proxy.NoLimit
	}
	return n
}

// parseProxyFlags reads the proxy's flags; the int is an exit status when
// the command should not run (help, bad flags).
func parseProxyFlags(args []string) (proxyOptions, int, bool) {
	var o proxyOptions
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, proxyUsage)
		fmt.Fprintln(os.Stderr, "\nflags:")
		fs.PrintDefaults()
	}
	var upstreams strList
	var allow, deny opList
	words := wordList{words: proxy.DefaultFourLetterWords}
	listen := fs.String("listen", "127.0.0.1:2181", "client address to listen on")
	fs.Var(&upstreams, "upstream", "upstream servers host:port, comma-separated or repeated (required)")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9141; a port alone listens on 0.0.0.0, as Java's provider (httpHost)")
	shadow := fs.String("shadow", "", "mirror requests to this second ensemble (host:port) over its own session and count/log divergences")
	fs.StringVar(&o.record, "record", "", "write the traffic as JSON lines to this file ('zkgo decode' reads it back)")
	fs.Int64Var(&o.recordMaxSize, "record-max-size", proxy.DefaultRecordFileBytes, "rotate the --record file when it reaches this many bytes (FILE.1, FILE.2, ...)")
	fs.IntVar(&o.recordFiles, "record-max-files", proxy.DefaultRecordFiles, "--record files kept, the current one included (the oldest is removed)")
	fs.Int64Var(&o.recordQueue, "record-queue", proxy.DefaultRecordQueueBytes, "bytes of frames waiting for the --record writer; past it frames are dropped and counted")
	fs.StringVar(&o.level, "log-level", "info", logLevelUsage)
	fs.StringVar(&o.reqLog, "request-log", "", "log every answered request as a JSON line to this file ('-': stderr)")
	reqSample := fs.Uint("request-log-sample", 1, "log one request in N")
	loops := fs.Int("loops", 0, "event loops (default: number of CPUs)")
	dialTimeout := fs.Duration("dial-timeout", 3*time.Second, "upstream dial timeout")
	maxConns := fs.Int("max-conns-per-ip", proxy.DefaultMaxConnsPerIP, "close new connections from an IP with this many open (Java's maxClientCnxns; 0: no limit)")
	maxInFlight := fs.Int("max-in-flight", proxy.DefaultMaxInFlight, "stop reading a connection with this many unanswered requests (0: no limit)")
	maxRequest := fs.Int("max-request", jute.DefaultMaxBuffer, "close a client that sends a request frame larger than this (bytes)")
	maxResponse := fs.Int("max-response", 16<<20, "close a client whose reply frame is larger than this (bytes)")
	maxOutbound := fs.Int("max-outbound", 4<<20, "backpressure: stop reading one side while the other holds this many unsent bytes")
	rate := fs.Float64("rate-per-ip", 0, "requests per second allowed per client IP; excess requests are delayed (0: no limit)")
	burst := fs.Int("rate-burst", 0, "rate limiter bucket size (default: one second's worth)")
	readOnly := fs.Bool("read-only", false, "answer writes (and sync) with NOTREADONLY (-119), as a Java read-only server does")
	fs.Var(&allow, "allow", "only pass these opcodes (names as in 'zkgo decode', e.g. getData,exists); others are refused")
	fs.Var(&deny, "deny", "refuse these opcodes")
	fs.Var(&words, "four-letter-words", "four-letter words passed to the upstream, comma-separated ('*': all, '': none); others get Java's not-in-the-whitelist answer")
	fs.StringVar(&o.pprof, "pprof", "", "serve net/http/pprof on this address (profiling; e.g. 127.0.0.1:6060)")
	tlsListen := fs.String("tls-listen", "", "also take clients over TLS on this address (needs --tls-config); --listen '' takes TLS clients only")
	fs.StringVar(&o.tlsConfig, "tls-config", "", "file of ssl.* settings (zoo.cfg syntax, as for secureClientPort) for --tls-listen: key store, trust store, clientAuth, protocols, suites")
	fs.StringVar(&o.upstreamTLSConfig, "upstream-tls-config", "", "connect to the upstreams over TLS with this file of ssl.* settings (as a Java client's zookeeper.ssl.*: trust store, optional key store, hostnameVerification)")
	denyCode := fs.Int("deny-code", int(wire.ErrNoAuth), "error code refused requests are answered with (default NOAUTH, -102)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, 0, false
		}
		return o, 2, false
	}
	if len(upstreams) == 0 || fs.NArg() > 0 {
		fs.Usage()
		return o, 2, false
	}
	if (*tlsListen == "") != (o.tlsConfig == "") {
		fmt.Fprintln(os.Stderr, "zkgo proxy: --tls-listen and --tls-config go together")
		return o, 2, false
	}
	if *listen == "" && *tlsListen == "" {
		fmt.Fprintln(os.Stderr, "zkgo proxy: --listen '' needs --tls-listen")
		return o, 2, false
	}
	if o.metrics != "" {
		addr, err := metricsAddr(o.metrics)
		if err != nil {
			fmt.Fprintln(os.Stderr, "zkgo proxy: --metrics:", err)
			return o, 2, false
		}
		o.metrics = addr
	}
	if *maxConns < 0 || *maxInFlight < 0 {
		fmt.Fprintln(os.Stderr, "zkgo proxy: --max-conns-per-ip and --max-in-flight must not be negative (0: no limit)")
		return o, 2, false
	}
	o.cfg = proxy.PassConfig{
		Listen:           *listen,
		Upstreams:        upstreams,
		Loops:            *loops,
		DialTimeout:      *dialTimeout,
		MaxRequest:       *maxRequest,
		MaxResponse:      *maxResponse,
		MaxOutbound:      *maxOutbound,
		RequestLogSample: uint32(*reqSample),
		Policy: proxy.Policy{
			MaxConnsPerIP:   noLimit(*maxConns),
			MaxInFlight:     noLimit(*maxInFlight),
			RatePerIP:       *rate,
			RateBurst:       *burst,
			ReadOnly:        *readOnly,
			Allow:           allow,
			Deny:            deny,
			DenyCode:        wire.ErrCode(*denyCode),
			FourLetterWords: words.words,
		},
		Metrics:   proxy.NewMetrics(),
		Shadow:    *shadow,
		TLSListen: *tlsListen,
	}
	return o, 0, true
}

func runProxy(args []string) int {
	o, code, ok := parseProxyFlags(args)
	if !ok {
		return code
	}
	cfg := o.cfg
	log, err := newLogger(o.level)
	if err != nil {
		fmt.Fprintln(os.Stderr, "zkgo proxy:", err)
		return 2
	}
	cfg.Logger = log
	if o.pprof != "" {
		go func() { log.Warn().Err(http.ListenAndServe(o.pprof, nil)).Msg("pprof server ended") }()
	}
	if o.reqLog != "" {
		var w io.Writer = os.Stderr
		if o.reqLog != "-" {
			f, err := os.OpenFile(o.reqLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				log.Error().Err(err).Msg("cannot open request log")
				return 1
			}
			defer f.Close()
			w = f
		}
		cfg.LogRequests = true
		cfg.RequestLog = zerolog.New(w).With().Timestamp().Logger()
	}
	if o.record != "" {
		rec, err := proxy.OpenRecorder(proxy.RecordConfig{Path: o.record, MaxFileBytes: o.recordMaxSize,
			MaxFiles: o.recordFiles, MaxQueueBytes: o.recordQueue, Metrics: cfg.Metrics})
		if err != nil {
			log.Error().Err(err).Msg("cannot create record file")
			return 1
		}
		cfg.Record = rec
	}
	closeTLS, err := proxyTLS(&cfg, o, log)
	if err != nil {
		log.Error().Err(err).Msg("cannot set up TLS")
		return 1
	}
	defer closeTLS()
	p, err := proxy.NewPassthrough(cfg)
	if err == nil {
		err = p.Start()
	}
	if err != nil {
		log.Error().Err(err).Msg("cannot start proxy")
		return 1
	}
	if o.metrics != "" {
		ms, _, err := serveProxyMetrics(o.metrics, cfg.Metrics, log.With().Str("component", "metrics").Logger())
		if err != nil {
			log.Error().Err(err).Str("addr", o.metrics).Msg("cannot serve metrics")
			_ = p.Stop(context.Background())
			return 1
		}
		defer ms.Close()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	log.Info().Str("signal", s.String()).Msg("shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = p.Stop(ctx)
	if cfg.Record != nil {
		err = errors.Join(err, cfg.Record.Close())
	}
	if err != nil {
		log.Error().Err(err).Msg("shutdown")
		return 1
	}
	return 0
}

// metricsAddr reads --metrics: a port alone listens on Java's provider's
// default host, 0.0.0.0; anything else is a listen address as it is.
func metricsAddr(v string) (string, error) {
	p, err := strconv.Atoi(v)
	switch {
	case err != nil:
		return v, nil
	case p < 0 || p > 65535:
		return "", fmt.Errorf("%d is not a port number", p)
	}
	return net.JoinHostPort("0.0.0.0", v), nil
}

// serveProxyMetrics serves the proxy's metrics at http://addr/metrics as
// the server serves Java's provider (ops.ServeMetrics): /metrics only,
// nothing added to the registry, the port bound before it returns.
func serveProxyMetrics(addr string, m *proxy.Metrics, log zerolog.Logger) (*http.Server, net.Addr, error) {
	return ops.ServeMetrics(addr, m.Registry, log)
}

// proxyTLS reads the --tls-config and --upstream-tls-config files and
// sets the TLS side of cfg; the returned func stops watching the stores.
func proxyTLS(cfg *proxy.PassConfig, o proxyOptions, log zerolog.Logger) (func(), error) {
	var srcs []*zktls.Source
	closeAll := func() {
		for _, s := range srcs {
			s.Close()
		}
	}
	if o.tlsConfig != "" {
		s, err := zktls.ReadFile(o.tlsConfig)
		if err != nil {
			return closeAll, err
		}
		src, err := zktls.NewSource(s, log.With().Str("component", "tls").Str("side", "client").Logger())
		if err != nil {
			return closeAll, err
		}
		srcs = append(srcs, src)
		if cfg.ClientTLS, err = src.ServerConfig(); err != nil {
			closeAll()
			return func() {}, err
		}
	}
	if o.upstreamTLSConfig != "" {
		s, err := zktls.ReadFile(o.upstreamTLSConfig)
		if err != nil {
			closeAll()
			return func() {}, err
		}
		src, err := zktls.NewSource(s, log.With().Str("component", "tls").Str("side", "upstream").Logger())
		if err != nil {
			closeAll()
			return func() {}, err
		}
		srcs = append(srcs, src)
		cfg.UpstreamTLS = src.ClientConfig
	}
	return closeAll, nil
}
