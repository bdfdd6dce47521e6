package harness

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/node"
	"github.com/zkgo/zkgo/proxy"
)

// Zkgo is a zkgo server running in-process.
type Zkgo struct {
	Addr     string
	Server   *node.Server
	Frontend *proxy.Frontend
	Config   node.Config
	// DigestMismatches is how many digest mismatches the test expects
	// zkgo to count (a scenario where Java counts them too); any other
	// count fails the test at cleanup.
	DigestMismatches int
	// SecureAddr and UnifiedAddr are the TLS client port and the
	// client.portUnification port, when the config asks for them
	// (secure.go).
	SecureAddr, UnifiedAddr string
	secure                  *secureServing
	stop                    sync.Once
}

// TestLogger sends zerolog output to t.Log.
func TestLogger(t testing.TB, level zerolog.Level) zerolog.Logger {
	return zerolog.New(zerolog.ConsoleWriter{Out: testWriter{t}, NoColor: true, TimeFormat: "15:04:05.000"}).
		Level(level).With().Timestamp().Logger()
}

// TestLoggerTo is TestLogger that also writes every event, as a JSON
// line, to w (a test that reads a member's log afterwards).
func TestLoggerTo(t testing.TB, level zerolog.Level, w io.Writer) zerolog.Logger {
	cw := zerolog.ConsoleWriter{Out: testWriter{t}, NoColor: true, TimeFormat: "15:04:05.000"}
	return zerolog.New(zerolog.MultiLevelWriter(cw, w)).Level(level).With().Timestamp().Logger()
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// StartZkgo starts a standalone zkgo on 127.0.0.1:0 with its data in a
// temp dir; mutate may adjust the config. It stops at test cleanup.
func StartZkgo(t testing.TB, mutate func(*node.Config)) *Zkgo {
	t.Helper()
	SkipShort(t)
	cfg := node.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.ClientPort = 0
	cfg.FourLetterWords = []string{"*"}
	cfg.Logger = TestLogger(t, zerolog.InfoLevel)
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := node.New(cfg)
	if err != nil {
		t.Fatalf("zkgo config: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("zkgo start: %v", err)
	}
	fe, err := proxy.New(proxy.Config{Addr: cfg.ClientAddr(), Backend: srv, Logger: cfg.Logger, MaxFrame: srv.Config().MaxBuffer, Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := fe.Start(); err != nil {
		t.Fatalf("zkgo listen: %v", err)
	}
	if a, ok := fe.Addr().(*net.TCPAddr); ok {
		srv.SetClientPort(a.Port)
	}
	z := &Zkgo{Addr: fe.Addr().String(), Server: srv, Frontend: fe, Config: srv.Config()}
	t.Cleanup(func() { z.checkDigests(t); z.Stop() })
	z.startSecure(t)
	return z
}

// checkDigests fails the test if the server's tree disagreed with a txn's
// digest (its own prep's, or a leader's) other than the expected number of
// times.
func (z *Zkgo) checkDigests(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := z.Server.Monitor(ctx)
	if err != nil {
		return // already stopped by the test
	}
	for _, p := range kv {
		if p[0] == "digest_mismatches_count" && p[1] != strconv.Itoa(z.DigestMismatches) {
			t.Errorf("zkgo counted %s digest mismatches, want %d", p[1], z.DigestMismatches)
		}
	}
}

// StartZkgoMember starts an in-process zkgo from a quorum member's zoo.cfg
// (it serves on the client port the file gives and takes part in
// elections; a file without server lines starts it standalone); mutate may adjust the parsed config. It does not wait for
// the member to join: use WaitZkgoMode.
func StartZkgoMember(t testing.TB, cfgPath string, mutate func(*node.Config)) *Zkgo {
	t.Helper()
	cfg, err := node.LoadConfig(cfgPath)
	if err != nil {
		t.Fatalf("zkgo config: %v", err)
	}
	cfg.Logger = TestLogger(t, zerolog.InfoLevel)
	if cfg.Quorum != nil { // a zoo.cfg without server lines runs standalone
		cfg.Logger = cfg.Logger.With().Int64("myid", cfg.Quorum.MyID).Logger()
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := node.New(cfg)
	if err != nil {
		t.Fatalf("zkgo config: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("zkgo start: %v", err)
	}
	fe, err := proxy.New(proxy.Config{Addr: srv.Config().ClientAddr(), Backend: srv, Logger: cfg.Logger,
		MaxFrame: srv.Config().MaxBuffer, Loops: 2})
	if err == nil {
		err = fe.Start()
	}
	if err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Stop(ctx)
		t.Fatalf("zkgo listen: %v", err)
	}
	srv.SetClientRebind(fe.Rebind)
	z := &Zkgo{Addr: fe.Addr().String(), Server: srv, Frontend: fe, Config: srv.Config()}
	t.Cleanup(func() { z.checkDigests(t); z.Stop() })
	return z
}

// WaitZkgoMode waits until an in-process zkgo reports mode (e.g.
// "follower").
func WaitZkgoMode(t testing.TB, z *Zkgo, mode string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for z.Server.Mode() != mode {
		if time.Now().After(deadline) {
			t.Fatalf("zkgo is %s after %v, want %s", z.Server.Mode(), timeout, mode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops an in-process zkgo (it is stopped at cleanup anyway).
func (z *Zkgo) Stop() {
	z.stop.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = z.Frontend.Stop(ctx)
		z.stopSecure(ctx)
		_ = z.Server.Stop(ctx)
	})
}
