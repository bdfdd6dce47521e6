package ops

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/node"
)

// AdminServer is Java 3.8's JettyAdminServer: GET <commandURL>/<command>
// runs one of node.AdminCommands and answers its JSON (status 200, errors
// inside, as Java); <commandURL> alone lists the commands. Java 3.8.0 has
// no authentication on these commands; like Jetty's constraint there,
// TRACE is forbidden, and methods other than GET/HEAD are not allowed.
type AdminServer struct {
	srv  *node.Server
	cfg  node.AdminServerConfig
	ex   node.AdminExtras
	http *http.Server
	addr net.Addr
	log  zerolog.Logger
}

// commandTimeout bounds how long a request waits for the server's owner
// goroutine (a stopped server answers with an error).
const commandTimeout = 10 * time.Second

// StartAdminServer starts the AdminServer of srv as cfg says. A port that
// cannot be bound is logged as a warning and nil is returned: the server
// keeps serving clients, as Java's QuorumPeer does ("Problem starting
// AdminServer").
func StartAdminServer(srv *node.Server, cfg node.AdminServerConfig, log zerolog.Logger) *AdminServer {
	if !cfg.Enabled {
		return nil
	}
	a := &AdminServer{srv: srv, cfg: cfg, log: log}
	sc := srv.Config()
	if sc.Source != "" {
		if b, err := os.ReadFile(sc.Source); err == nil {
			a.ex.InitialConfig = string(b)
		}
	}
	snapDir := filepath.Join(sc.DataDir, "version-2")
	a.ex.LastSnapshot = func() (int64, int64, bool) { return lastSnapshot(snapDir) }
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		log.Warn().Err(err).Str("addr", cfg.Addr).Msg("problem starting AdminServer; serving clients without it")
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc(cfg.CommandURL, a.serve)
	mux.HandleFunc(cfg.CommandURL+"/", a.serve)
	a.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: cfg.IdleTimeout,
		IdleTimeout: cfg.IdleTimeout}
	a.addr = ln.Addr()
	go func() {
		if err := a.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn().Err(err).Msg("AdminServer ended")
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Str("command_url", cfg.CommandURL).Msg("started AdminServer")
	return a
}

// Addr is the address the AdminServer listens on.
func (a *AdminServer) Addr() net.Addr { return a.addr }

// Close stops the AdminServer.
func (a *AdminServer) Close() error {
	if a == nil || a.http == nil {
		return nil
	}
	return a.http.Close()
}

func (a *AdminServer) serve(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodTrace:
		w.WriteHeader(http.StatusForbidden)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	cmd := strings.TrimPrefix(r.URL.Path, a.cfg.CommandURL)
	if cmd == "" || cmd == "/" {
		a.links(w)
		return
	}
	cmd = strings.TrimPrefix(cmd, "/")
	kwargs := map[string]string{}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			kwargs[k] = v[0]
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), commandTimeout)
	defer cancel()
	resp, err := a.srv.AdminCommand(ctx, cmd, kwargs, a.ex)
	if err != nil {
		resp = map[string]any{"command": cmd, "error": "server unavailable: " + err.Error()}
	}
	b, err := json.MarshalIndent(resp, "", "  ")
	if err != nil {
		b = []byte(`{"error": "Exception writing command response to JSON"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// links lists the primary names, sorted, as Java's CommandServlet does.
func (a *AdminServer) links(w http.ResponseWriter) {
	names := make([]string, 0, len(node.AdminCommands))
	for _, c := range node.AdminCommands {
		names = append(names, c.Names[0])
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(`<a href="` + a.cfg.CommandURL + "/" + n + `">` + n + "</a>\n<br/>\n")
	}
	w.Header().Set("Content-Type", "text/html;charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

// lastSnapshot returns the newest snapshot file's zxid and modification
// time in seconds (FileSnap.getLastSnapshotInfo).
func lastSnapshot(dir string) (int64, int64, bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, false
	}
	var best int64 = -1
	var mtime int64
	for _, e := range entries {
		hex, ok := strings.CutPrefix(e.Name(), "snapshot.")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		z, err := strconv.ParseUint(hex, 16, 64)
		if err != nil || int64(z) <= best {
			continue
		}
		info, err := e.Info()
		if err != nil || info.Size() == 0 {
			continue
		}
		best, mtime = int64(z), info.ModTime().Unix()
	}
	return best, mtime, best >= 0
}
