package node

import (
	"context"

	"github.com/zkgo/zkgo/node/session"
	"github.com/zkgo/zkgo/node/watch"
	"github.com/zkgo/zkgo/wire"
)

// responder answers the four-letter words (fourletter.go,
// fourletter_job.go) and the AdminServer's commands (admin.go,
// admin_job.go), and holds the state only they read or set: the trace
// mask (gtmk/stmk) and the digest log (hash). Its methods run on the owner
// goroutine, except monitor and adminCommand, which run on the caller's
// and hand their reads to the owner (Server.Call, connection jobs).
//
// The tables it lists are its fields (set in Start, never replaced after);
// what changes with the server's role (the tree, the store, peer and
// leader), whether it serves, and the connection glue (answering and
// closing a connection, starting a connection job, Call) it reaches
// through s.
type responder struct {
	s *Server

	cfg           *Config
	stats         *stats
	conns         map[uint64]*clientConn
	sessions      *session.Tracker
	dataW, childW *watch.Manager

	traceMask int64 // gtmk/stmk (ZooTrace's default mask)
	digestLog []digestEntry
}

// Monitor returns what mntr prints, as key/value pairs in mntr's order
// (keys without the "zk_" prefix), read on the owner goroutine; for
// metrics exporters. A quorum member that is not serving reports only
// server_state and peer_state.
func (s *Server) Monitor(ctx context.Context) ([][2]string, error) { return s.resp.monitor(ctx) }

// AdminCommand runs the AdminServer command name with the request's
// parameters. The error is for the server being gone (ctx, shutdown);
// a command's own errors are in the map's "error", as in Java.
func (s *Server) AdminCommand(ctx context.Context, name string, kwargs map[string]string, ex AdminExtras) (map[string]any, error) {
	return s.resp.adminCommand(ctx, name, kwargs, ex)
}

// noteDigest records the tree's digest after applying zxid, for the hash
// command.
func (s *Server) noteDigest(zxid wire.Zxid) { s.resp.noteDigest(zxid, s.tree.Digest) }
