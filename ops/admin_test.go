package ops

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/node"
)

func startServer(t *testing.T) *node.Server {
	t.Helper()
	cfg := node.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.ClientPort = 0
	srv, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Stop(ctx)
	})
	return srv
}

func get(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAdminServerHTTP: the command list, a command by its alias, Java's
// errors, the methods Jetty refuses, and a taken port that only warns.
func TestAdminServerHTTP(t *testing.T) {
	srv := startServer(t)
	a := StartAdminServer(srv, node.AdminServerConfig{Enabled: true, Addr: "127.0.0.1:0", CommandURL: "/cmds",
		IdleTimeout: time.Second}, zerolog.Nop())
	if a == nil {
		t.Fatal("not started")
	}
	defer a.Close()
	base := "http://" + a.Addr().String()
	if code, body := get(t, "GET", base+"/cmds"); code != 200 || strings.Count(body, "<a href=\"/cmds/") != len(node.AdminCommands) {
		t.Errorf("list: %d\n%s", code, body)
	}
	for _, tc := range []struct {
		path string
		want map[string]any
	}{
		{"/cmds/mntr", map[string]any{"command": "monitor", "error": nil, "server_state": "standalone"}},
		{"/cmds/isro", map[string]any{"command": "is_read_only", "error": nil, "read_only": false}},
		{"/cmds/nope", map[string]any{"command": "nope", "error": "Unknown command: nope"}},
		{"/cmds/stmk", map[string]any{"command": "set_trace_mask", "error": "setTraceMask requires long traceMask argument"}},
		{"/cmds/stmk?traceMask=7", map[string]any{"command": "set_trace_mask", "error": nil, "tracemask": float64(7)}},
		{"/cmds/gtmk", map[string]any{"command": "get_trace_mask", "error": nil, "tracemask": float64(7)}},
		{"/cmds/lead", map[string]any{"command": "leader", "error": "server is not initialized"}},
	} {
		code, body := get(t, "GET", base+tc.path)
		var got map[string]any
		if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
			t.Errorf("%s: %d %v\n%s", tc.path, code, err, body)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %s = %v, want %v", tc.path, k, got[k], v)
			}
		}
	}
	for method, want := range map[string]int{"TRACE": 403, "POST": 405, "HEAD": 200} {
		if code, _ := get(t, method, base+"/cmds/ruok"); code != want {
			t.Errorf("%s: %d, want %d", method, code, want)
		}
	}
	if code, _ := get(t, "GET", base+"/other"); code != 404 {
		t.Errorf("/other: %d", code)
	}

	// A taken port: a warning, no AdminServer, nothing else stops.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var logged strings.Builder
	if b := StartAdminServer(srv, node.AdminServerConfig{Enabled: true, Addr: ln.Addr().String(), CommandURL: "/commands"},
		zerolog.New(&logged)); b != nil {
		b.Close()
		t.Error("started on a taken port")
	}
	if !strings.Contains(logged.String(), `"level":"warn"`) {
		t.Errorf("no warning: %s", logged.String())
	}
}
