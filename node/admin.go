package node

import (
	"context"
	"iter"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/node/watch"
	"github.com/zkgo/zkgo/node/zab"
)

// The AdminServer's commands (Java 3.8's admin.Commands): each returns the
// response map Java's JsonOutputter prints, keys in snake_case as Java's
// ObjectMapper writes them, "command" and "error" included. The HTTP side
// is in package ops. Commands read the server on the owner goroutine
// through Call (the same reads the matching four-letter word makes, no
// I/O), those whose answer grows with the server across owner rounds
// (adminGather, admin_job.go); directory sizes are walked outside it.

// AdminCommandSpec is one command: its names (the primary one first) and
// whether it needs a serving server.
type AdminCommandSpec struct {
	Names          []string
	ServerRequired bool
}

// AdminCommands lists Java 3.8.0's commands.
var AdminCommands = []AdminCommandSpec{
	{[]string{"connection_stat_reset", "crst"}, true},
	{[]string{"configuration", "conf", "config"}, true},
	{[]string{"connections", "cons"}, true},
	{[]string{"hash"}, true},
	{[]string{"dirs"}, true},
	{[]string{"dump"}, true},
	{[]string{"environment", "env", "envi"}, false},
	{[]string{"get_trace_mask", "gtmk"}, false},
	{[]string{"initial_configuration", "icfg"}, true},
	{[]string{"is_read_only", "isro"}, true},
	{[]string{"last_snapshot", "lsnp"}, true},
	{[]string{"leader", "lead"}, true},
	{[]string{"monitor", "mntr"}, false},
	{[]string{"observer_connection_stat_reset", "orst"}, true},
	{[]string{"ruok"}, true},
	{[]string{"set_trace_mask", "stmk"}, false},
	{[]string{"server_stats", "srvr"}, true},
	{[]string{"stats", "stat"}, true},
	{[]string{"stat_reset", "srst"}, true},
	{[]string{"observers", "obsr"}, true},
	{[]string{"system_properties", "sysp"}, false},
	{[]string{"voting_view"}, true},
	{[]string{"watches", "wchc"}, true},
	{[]string{"watches_by_path", "wchp"}, true},
	{[]string{"watch_summary", "wchs"}, true},
	{[]string{"zabstate"}, false},
}

// adminSpec returns the command named name (any of its names).
func adminSpec(name string) (AdminCommandSpec, bool) {
	for _, c := range AdminCommands {
		for _, n := range c.Names {
			if n == name {
				return c, true
			}
		}
	}
	return AdminCommandSpec{}, false
}

// AdminExtras is what the commands need from outside the server: the
// config file's text as read at startup, and the last snapshot.
type AdminExtras struct {
	InitialConfig string
	// LastSnapshot returns the newest snapshot's zxid and modification
	// time in seconds (ok false when there is none).
	LastSnapshot func() (zxid int64, unixSec int64, ok bool)
}

// adminCommand is Server.AdminCommand.
func (rp *responder) adminCommand(ctx context.Context, name string, kwargs map[string]string, ex AdminExtras) (map[string]any, error) {
	spec, ok := adminSpec(name)
	if !ok {
		return map[string]any{"command": name, "error": "Unknown command: " + name}, nil
	}
	primary := spec.Names[0]
	r := map[string]any{"command": primary, "error": nil}
	var err error
	var serving bool
	// fill runs fn on the owner goroutine. After an error fn may still
	// run there later: nothing reads or writes r or serving then.
	fill := func(fn func()) error {
		return rp.s.Call(ctx, func() {
			serving = rp.s.qs.serving()
			if spec.ServerRequired && !serving {
				return
			}
			fn()
		})
	}
	// gather runs gen across owner rounds (after the same check); the
	// same rule holds for what it writes.
	gather := func(gen iter.Seq[int]) error {
		return rp.adminGather(ctx, func() bool {
			serving = rp.s.qs.serving()
			return !spec.ServerRequired || serving
		}, gen, primary == adminResetConns)
	}
	switch primary {
	case "ruok":
		err = fill(func() {})
	case "stat_reset":
		err = fill(func() { rp.stats.reset() })
	case "observer_connection_stat_reset":
		err = fill(func() {}) // zkgo keeps no per-observer connection stats
	case "configuration":
		err = fill(func() { rp.adminConf(r) })
	case "dirs":
		if err = fill(func() {}); err == nil && serving {
			// Walked here, off the owner goroutine (the paths are config).
			sz := rp.readDirSizes()
			// Java's getDataDirSize measures the txn-log dir, as dirs prints.
			r["datadir_size"], r["logdir_size"] = sz.logs, sz.snap
		}
	case "environment":
		if err = fill(func() {}); err == nil {
			// Built here, off the owner goroutine: it reads the user
			// database and the runtime's memory statistics.
			var b strings.Builder
			writeEnvi(&b)
			for _, line := range strings.Split(b.String(), "\n") {
				if k, v, ok := strings.Cut(line, "="); ok {
					r[k] = v
				}
			}
		}
	case "hash":
		err = fill(func() {
			ds := make([]any, 0, len(rp.digestLog))
			for _, d := range rp.digestLog {
				ds = append(ds, map[string]any{"zxid": int64(d.zxid), "digest_version": 2, "digest": int64(d.digest)})
			}
			r["digests"] = ds
		})
	case "get_trace_mask":
		err = fill(func() { r["tracemask"] = rp.traceMask })
	case "set_trace_mask":
		v, ok := kwargs["traceMask"]
		if !ok {
			r["error"] = "setTraceMask requires long traceMask argument"
			break
		}
		mask, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil {
			r["error"] = "setTraceMask requires long traceMask argument, got " + v
			break
		}
		if err = fill(func() { rp.traceMask = mask }); err == nil {
			r["tracemask"] = mask
		}
	case "initial_configuration":
		// Java keeps the config text in standalone mode only
		// (ZooKeeperServerMain); a quorum member answers null.
		err = fill(func() {
			if rp.s.qs.peer == nil {
				r["initial_configuration"] = ex.InitialConfig
			} else {
				r["initial_configuration"] = nil
			}
		})
	case "is_read_only":
		err = fill(func() { r["read_only"] = false })
	case "last_snapshot":
		if err = fill(func() {}); err != nil || !serving {
			break
		}
		zxid, ts := int64(-1), int64(-1)
		if ex.LastSnapshot != nil {
			if z, t, found := ex.LastSnapshot(); found {
				zxid, ts = z, t
			}
		}
		r["zxid"] = strconv.FormatUint(uint64(zxid), 16)
		r["timestamp"] = ts
	case "leader":
		err = fill(func() {
			if rp.s.qs.peer == nil {
				r["error"] = "server is not initialized"
				return
			}
			r["is_leader"] = rp.s.qs.peer.role == roleLeading
			r["leader_id"] = rp.s.qs.peer.leader
			ip := "" // QuorumPeer.getLeaderAddress: the leader's host
			if ls, ok := rp.s.qs.quorum().Servers[rp.s.qs.peer.leader]; ok && rp.s.qs.peer.role != roleLooking {
				ip = ls.Host
			}
			r["leader_ip"] = ip
		})
	case "monitor":
		var kv [][2]string
		kv, err = rp.monitor(ctx)
		for _, p := range kv {
			r[p[0]] = adminValue(p[1])
		}
	case "server_stats":
		err = fill(func() { rp.adminStats(r) })
	case "observers":
		err = fill(func() { rp.adminObservers(r) })
	case "system_properties":
		err = fill(func() {
			for k, v := range rp.cfg.Properties {
				r[k] = v
			}
		})
	case "voting_view":
		err = fill(func() { r["current_config"] = rp.adminVotingView() })
	case "zabstate":
		err = fill(func() { rp.adminZabState(r) })
	default:
		if gen, finish := rp.adminListing(primary); gen != nil {
			// Its answer grows with the server: gathered across owner
			// rounds, built off the owner goroutine once complete.
			if err = gather(gen); err == nil && serving {
				finish(r)
			}
		}
	}
	if st, ok := r["server_stats"].(map[string]any); err == nil && ok { // srvr, stat
		sz := rp.readDirSizes() // off the owner goroutine
		st["data_dir_size"], st["log_dir_size"] = sz.logs, sz.snap
	}
	if err != nil {
		return nil, err
	}
	if spec.ServerRequired && !serving {
		// Java names the command as asked (runCommand's cmdName).
		return map[string]any{"command": name, "error": "This ZooKeeper instance is not currently serving requests"}, nil
	}
	return r, nil
}

func stringsOrEmpty(v any) []string {
	if s, ok := v.([]string); ok {
		return s
	}
	return []string{}
}

// adminValue types an mntr value as Java's map holds it: a long, a double
// (Java prints them with a decimal point) or a string.
func adminValue(v string) any {
	if i, err := strconv.ParseInt(v, 10, 64); err == nil {
		return i
	}
	if strings.ContainsAny(v, ".eE") {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	}
	return v
}

func (rp *responder) watcherSessionID(w watch.Watcher) int64 {
	if c := rp.conns[uint64(w)]; c != nil {
		return int64(c.session)
	}
	return 0
}

// adminConf is ZooKeeperServerConf.toMap.
func (rp *responder) adminConf(r map[string]any) {
	snapDir, logDir := rp.versionDirs()
	port := int(rp.s.cl.lis.port.Load())
	if port == 0 {
		port = rp.cfg.ClientPort
	}
	var id int64
	if rp.s.qs.quorum() != nil {
		id = rp.s.qs.quorum().MyID
	}
	r["client_port"] = port
	r["data_dir"] = snapDir
	r["data_log_dir"] = logDir
	r["tick_time"] = rp.cfg.TickTime
	r["max_client_cnxns"] = rp.cfg.MaxClientCnxns
	r["min_session_timeout"] = rp.cfg.MinSessionTimeout
	r["max_session_timeout"] = rp.cfg.MaxSessionTimeout
	r["server_id"] = id
	r["client_port_listen_backlog"] = -1
}

// adminStats is srvr/stat without the connections: ServerStats and the
// counts beside it.
func (rp *responder) adminStats(r map[string]any) {
	st := rp.stats
	resp := map[string]any{"last_buffer_size": st.lastRespSize, "min_buffer_size": st.minRespSize, "max_buffer_size": st.maxRespSize}
	avg, _ := strconv.ParseFloat(javaAvg(st.latencySum, st.latencyCount), 64)
	r["version"] = VersionString
	r["read_only"] = false
	r["server_stats"] = map[string]any{
		"packets_sent":                 st.sentPackets,
		"packets_received":             st.received,
		"fsync_threshold_exceed_count": 0,
		"client_response_stats":        resp,
		"server_state":                 rp.s.qs.modeName(),
		"last_processed_zxid":          int64(rp.s.tree.LastZxid),
		"outstanding_requests":         rp.outstanding(),
		"avg_latency":                  avg,
		"max_latency":                  st.maxLatency,
		"min_latency":                  st.shownMin(),
		"num_alive_client_connections": len(rp.conns),
		"uptime":                       rp.s.lp.nowMs() - rp.s.lp.startMs,
		"auth_failed_count":            st.authFailed,
		"non_mtlsremote_conn_count":    0,
		"non_mtlslocal_conn_count":     0,
		"provider_null":                false,
	}
	r["client_response"] = resp
	if ld := rp.s.qs.leader; ld != nil {
		r["proposal_stats"] = map[string]any{"last_buffer_size": ld.proposalSizes[0], "min_buffer_size": ld.proposalSizes[1],
			"max_buffer_size": ld.proposalSizes[2]}
	}
	r["node_count"] = rp.nodeCount()
}

// adminVotingView is voting_view's current_config: the voting members.
func (rp *responder) adminVotingView() map[string]any {
	out := map[string]any{}
	q := rp.s.qs.quorum()
	if q == nil {
		return out
	}
	for _, id := range q.Voters() {
		qs := q.Servers[id]
		client := ""
		if qs.ClientPort != 0 {
			h := qs.ClientHost
			if h == "" {
				h = "0.0.0.0"
			}
			client = delimitedHost(h) + ":" + strconv.Itoa(qs.ClientPort)
		}
		out[strconv.FormatInt(id, 10)] = map[string]any{
			"server_addresses":   []string{qs.QuorumAddr()},
			"election_addresses": []string{qs.ElectionAddr()},
			"client_address":     client,
			"learner_type":       "participant",
		}
	}
	return out
}

// adminZabState is zabstate.
func (rp *responder) adminZabState(r map[string]any) {
	if rp.s.qs.peer == nil || !rp.s.qs.serving() {
		r["voting"] = false
		r["zabstate"] = ""
		return
	}
	q := rp.s.qs.quorum()
	me := q.Me()
	last := int64(rp.s.tree.LastZxid)
	state := "broadcast"
	if rp.s.qs.peer.role == roleSyncing {
		state = "synchronization"
	}
	r["myid"] = q.MyID
	r["is_leader"] = rp.s.qs.peer.role == roleLeading
	r["quorum_address"] = multipleAddresses(me.Host, me.QuorumPort)
	r["election_address"] = multipleAddresses(me.Host, me.ElectionPort)
	client := ""
	if me.ClientPort != 0 {
		client = delimitedHost(me.ClientHost) + ":" + strconv.Itoa(me.ClientPort)
	}
	r["client_address"] = client
	r["voting"] = q.IsVoter(q.MyID)
	r["last_zxid"] = "0x" + strconv.FormatUint(uint64(last), 16)
	r["zab_epoch"] = last >> 32
	r["zab_counter"] = last & 0xffffffff
	r["zabstate"] = state
}

// multipleAddresses is a one-address MultipleAddresses as Jackson writes
// its getters (zabstate's quorum_address and election_address).
func multipleAddresses(host string, port int) map[string]any {
	addr := delimitedHost(host) + ":" + strconv.Itoa(port)
	one := []string{addr}
	return map[string]any{
		"empty":                          false,
		"all_addresses":                  one,
		"all_reachable_addresses":        one,
		"one":                            addr,
		"reachable_address":              addr,
		"wildcard_addresses":             []string{"0.0.0.0:" + strconv.Itoa(port)},
		"all_ports":                      []int{port},
		"all_host_strings":               []string{host},
		"all_reachable_addresses_or_all": one,
		"reachable_or_one":               addr,
	}
}

// adminObservers is observers: on the leader, LearnerHandler's info of
// each synced observer. zkgo keeps no establishment time nor packet and
// request counts per learner: those are 0.
func (rp *responder) adminObservers(r map[string]any) {
	obs := []any{}
	if ld := rp.s.qs.leader; ld != nil {
		for _, st := range ld.zab.Learners() {
			h := ld.links[st.Link]
			if h == nil || !st.Observer || st.State != zab.HandlerBroadcast {
				continue
			}
			h.mu.Lock()
			queued := len(h.outQ)
			h.mu.Unlock()
			obs = append(obs, map[string]any{
				"remote_socket_address": javaSocketAddr(h.remote),
				"sid":                   st.SID,
				"established":           0,
				"queued_packets":        queued,
				"queued_packets_size":   0,
				"packets_received":      0,
				"packets_sent":          0,
				"requests":              0,
				"last_zxid":             int64(st.LastZxid),
			})
		}
	}
	r["synced_observers"] = len(obs)
	r["observers"] = obs
}
