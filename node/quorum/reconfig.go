package quorum

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/wire"
)

// ReconfigError is a refused reconfig: the error code the client gets
// (and the leader logs as an error txn) and Java's message.
type ReconfigError struct {
	Code wire.ErrCode
	Msg  string
}

func (e *ReconfigError) Error() string {
	if e.Msg == "" {
		return "reconfig: " + e.Code.Error()
	}
	return "reconfig: " + e.Code.Error() + ": " + e.Msg
}

// Unwrap returns the code, so errors.Is(err, wire.ErrBadVersion) works.
func (e *ReconfigError) Unwrap() error { return e.Code }

func refuse(code wire.ErrCode, format string, args ...any) error {
	return &ReconfigError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// ReconfigState is what the leader's PrepRequestProcessor consults for a
// reconfig.
type ReconfigState struct {
	// Current is the committed configuration (getQuorumVerifier) and
	// LastSeen the last one proposed (getLastSeenQuorumVerifier; Current
	// when none is pending).
	Current, LastSeen *Config
	// StandaloneEnabled is standaloneEnabled.
	StandaloneEnabled bool
	// MyID is the leader's id; Synced the learners whose LearnerHandler
	// is synced (forwardingFollowers, Leader.isQuorumSynced).
	MyID   int64
	Synced map[int64]bool
	// Zxid is the zxid the reconfig txn gets: the new version.
	Zxid int64
	// Resolve resolves the host names of the joining servers and of the
	// members they are checked against (checkAddressDuplicate compares
	// resolved addresses); nil compares names.
	Resolve Resolver
}

// Reconfig computes the configuration a reconfig request asks for, as
// the leader's PrepRequestProcessor does once reconfigEnabled and the
// session have been checked (ReconfigDisabled first, then the session, in
// Java's order): ReconfigInProgress while a proposed configuration is not
// committed; BadVersion when curConfigId is neither -1 nor the last seen
// version; then the new membership, incremental (leavingServers removed,
// then joiningServers added or replaced, each "server.N=spec" with a
// client port, on a majority configuration only) or non-incremental
// (newMembers, servers separated by ',' or newlines, with group/weight
// lines if wanted), versioned st.Zxid; BadArguments when it cannot be
// built or keeps too few participants; NewConfigNoQuorum when the synced
// participants (the leader included) are no quorum of it.
// MarshallingError where Java meets an unchecked exception (an id that is
// not a number, a port out of range, ...).
//
// The caller checks the ACL of /zookeeper/config (WRITE, or a super user,
// or skipACL) after Reconfig succeeds, as Java does, and proposes a
// SetDataTxn of /zookeeper/config with version -1 and data
// new.String().
func Reconfig(st ReconfigState, req *wire.ReconfigRequest) (*Config, error) {
	last := st.LastSeen
	if last == nil {
		last = st.Current
	}
	if st.Current == nil || last == nil {
		return nil, refuse(wire.ErrUnimplemented, "no quorum configuration (standalone)")
	}
	if last.Version != st.Current.Version {
		return nil, refuse(wire.ErrReconfigInProgress, "")
	}
	if req.CurConfigID != -1 && req.CurConfigID != last.Version {
		return nil, refuse(wire.ErrBadVersion, "Reconfiguration from version %d failed -- last seen version is %d",
			req.CurConfigID, last.Version)
	}
	var next *Config
	var err error
	if !req.Nulls.Has(2) {
		next, err = nonIncremental(req.NewMembers, st.StandaloneEnabled)
	} else {
		var joining, leaving *string
		if !req.Nulls.Has(0) {
			joining = &req.JoiningServers
		}
		if !req.Nulls.Has(1) {
			leaving = &req.LeavingServers
		}
		next, err = incremental(last, joining, leaving, st.Resolve)
	}
	if err != nil {
		return nil, err
	}
	next.Version = st.Zxid
	nv := len(next.Voters())
	if st.StandaloneEnabled && nv < 2 {
		return nil, refuse(wire.ErrBadArguments, "Reconfig failed - new configuration must include at least 2 followers")
	}
	if nv < 1 {
		return nil, refuse(wire.ErrBadArguments, "Reconfig failed - new configuration must include at least 1 follower")
	}
	ids := map[int64]bool{}
	if next.Verifier.IsVoter(st.MyID) {
		ids[st.MyID] = true
	}
	for sid, ok := range st.Synced {
		if ok && next.Verifier.IsVoter(sid) {
			ids[sid] = true
		}
	}
	if !next.Verifier.ContainsQuorum(ids) {
		return nil, refuse(wire.ErrNewConfigNoQuorum,
			"Reconfig failed - there must be a connected and synced quorum in new configuration")
	}
	return next, nil
}

// configError maps a configuration error as Java's reconfig does:
// ConfigException is BadArguments, an unchecked exception
// MarshallingError.
func configError(err error, badArgsMsg string) error {
	if errors.Is(err, ErrJavaRuntime) {
		return refuse(wire.ErrMarshallingError, "%v", err)
	}
	if badArgsMsg == "" {
		badArgsMsg = err.Error()
	}
	return refuse(wire.ErrBadArguments, "%s", badArgsMsg)
}

func nonIncremental(members string, standaloneEnabled bool) (*Config, error) {
	p := ParseProperties(strings.ReplaceAll(members, ",", "\n"))
	c, err := ParseConfig(p, ParseOptions{StandaloneEnabled: standaloneEnabled})
	if err != nil {
		return nil, configError(err, "")
	}
	return c, nil
}

// splitList is StringUtils.split: String.split, each part trimmed, empty
// parts dropped.
func splitList(s, sep string) []string {
	var out []string
	for _, part := range strings.Split(s, sep) {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func incremental(last *Config, joining, leaving *string, resolve Resolver) (*Config, error) {
	if last.Hierarchical() {
		return nil, refuse(wire.ErrBadArguments,
			"Incremental reconfiguration requested but last configuration seen has a non-majority quorum system")
	}
	next := make(map[int64]Server, len(last.Servers))
	for id, s := range last.Servers {
		next[id] = s
	}
	if leaving != nil {
		for _, l := range splitList(*leaving, ",") {
			sid, err := javaParseLong(l)
			if err != nil {
				return nil, refuse(wire.ErrMarshallingError, "leaving server %q is not a number", l)
			}
			delete(next, sid)
		}
	}
	if joining != nil {
		for _, j := range splitList(*joining, ",") {
			parts := splitList(j, "=")
			if len(parts) != 2 {
				return nil, refuse(wire.ErrBadArguments, "Wrong format of server string")
			}
			sid, err := javaParseLong(parts[0][strings.LastIndexByte(parts[0], '.')+1:])
			if err != nil {
				return nil, refuse(wire.ErrMarshallingError, "joining server id %q is not a number", parts[0])
			}
			s, err := ParseServer(sid, parts[1])
			if err != nil {
				return nil, configError(err, "Reconfiguration failed")
			}
			if !s.HasClient {
				return nil, refuse(wire.ErrBadArguments,
					"Wrong format of server string - each server should have 3 ports specified")
			}
			for _, o := range next {
				if o.ID == sid {
					continue
				}
				if err := s.conflictsWith(o, resolve); err != nil {
					return nil, refuse(wire.ErrBadArguments, "%v", err)
				}
			}
			next[sid] = s
		}
	}
	members := make([]Member, 0, len(next))
	for id, s := range next {
		members = append(members, Member{ID: id, Voter: !s.Observer})
	}
	v, err := Parse(members, nil)
	if err != nil {
		return nil, configError(err, "")
	}
	return &Config{Servers: next, Verifier: v}, nil
}

// VersionOf returns the version line of a configuration text
// ("version=<hex>", QuorumVerifier.toString's last line), or false.
func VersionOf(text string) (int64, bool) {
	i := strings.LastIndex(text, "version=")
	if i < 0 || (i > 0 && text[i-1] != '\n') {
		return 0, false
	}
	line := text[i+len("version="):]
	if j := strings.IndexAny(line, "\r\n"); j >= 0 {
		line = line[:j]
	}
	v, err := ParseVersion(strings.TrimSpace(line))
	if err != nil {
		return 0, false
	}
	return v, true
}

// FormatVersion renders a configuration version for people: "0x" and
// the hex digits Java uses.
func FormatVersion(v int64) string { return "0x" + strconv.FormatUint(uint64(v), 16) }

// ReconfigHosts returns the host names (not IP literals, each once) that
// Reconfig may give its Resolver for req against the last seen
// configuration last: those of the joining servers and of last's members,
// which the joiners' addresses are checked against. Nil when the request
// needs no lookup (non-incremental, no joiners, or every host an IP
// literal), so that the caller can run Reconfig at once.
func ReconfigHosts(last *Config, req *wire.ReconfigRequest) []string {
	if last == nil || !req.Nulls.Has(2) || req.Nulls.Has(0) {
		return nil
	}
	var hosts []string
	seen := map[string]bool{}
	add := func(s Server) {
		for _, h := range []string{s.Host, s.ClientHost} {
			if h == "" || seen[h] {
				continue
			}
			seen[h] = true
			if _, err := netip.ParseAddr(h); err != nil {
				hosts = append(hosts, h)
			}
		}
	}
	joiners := 0
	for _, j := range splitList(req.JoiningServers, ",") {
		parts := splitList(j, "=")
		if len(parts) != 2 {
			continue
		}
		if s, err := ParseServer(0, parts[1]); err == nil {
			add(s)
			joiners++
		}
	}
	if joiners == 0 {
		return nil
	}
	ids := make([]int64, 0, len(last.Servers))
	for id := range last.Servers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		add(last.Servers[id])
	}
	return hosts
}
