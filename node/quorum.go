package node

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/node/quorum"
)

// LearnerType is a member's role in the ensemble.
type LearnerType uint8

// Member roles.
const (
	Participant LearnerType = iota
	Observer
)

func (t LearnerType) String() string {
	if t == Observer {
		return "observer"
	}
	return "participant"
}

// QuorumServer is one server.N line (QuorumPeer.QuorumServer).
type QuorumServer struct {
	ID           int64
	Host         string // as written (hostnames are kept, as Java keeps getHostString)
	QuorumPort   int
	ElectionPort int
	Type         LearnerType
	// ClientHost/ClientPort come from a ";[host:]port" suffix, if any.
	ClientHost string
	ClientPort int
	clientSet  bool
}

// QuorumAddr is host:quorumPort.
func (q QuorumServer) QuorumAddr() string {
	return net.JoinHostPort(q.Host, strconv.Itoa(q.QuorumPort))
}

// ElectionAddr is host:electionPort.
func (q QuorumServer) ElectionAddr() string {
	return net.JoinHostPort(q.Host, strconv.Itoa(q.ElectionPort))
}

// server is q as the pure package holds it.
func (q QuorumServer) server() quorum.Server {
	return quorum.Server{ID: q.ID, Host: q.Host, QuorumPort: q.QuorumPort, ElectionPort: q.ElectionPort,
		Observer: q.Type == Observer, HasClient: q.clientSet, ClientHost: q.ClientHost, ClientPort: q.ClientPort}
}

// quorumServer is s as a QuorumServer.
func quorumServer(s quorum.Server) QuorumServer {
	q := QuorumServer{ID: s.ID, Host: s.Host, QuorumPort: s.QuorumPort, ElectionPort: s.ElectionPort,
		ClientHost: s.ClientHost, ClientPort: s.ClientPort, clientSet: s.HasClient}
	if s.Observer {
		q.Type = Observer
	}
	return q
}

// configString is QuorumServer.toString: "host:qport:eport:type[;chost:cport]".
func (q QuorumServer) configString() string { return q.server().String() }

// Quorum is the ensemble configuration (Java's QuorumVerifier with the
// members it holds).
type Quorum struct {
	MyID    int64
	Servers map[int64]QuorumServer
	Version int64
	// Verifier decides what a quorum is: quorum.Majority (QuorumMaj), or
	// quorum.Hierarchical when zoo.cfg has group.N / weight.N lines. Every
	// count of the election and of the leader goes through it. nil (a
	// Quorum built by hand) means a majority of the participants.
	Verifier quorum.Verifier
	// qc is the configuration as node/quorum parsed it (nil for a Quorum
	// built by hand): the reconfig protocol's view of it (config).
	qc *quorum.Config
}

// config returns q as node/quorum's Config (the reconfig protocol's):
// the parsed one, or one built from the members and the verifier.
func (q *Quorum) config() *quorum.Config {
	if q.qc != nil {
		return q.qc
	}
	servers := make(map[int64]quorum.Server, len(q.Servers))
	for id, qs := range q.Servers {
		servers[id] = qs.server()
	}
	return &quorum.Config{Servers: servers, Verifier: q.verifier(), Version: q.Version}
}

// quorumOf is c as this member's Quorum (a configuration activated by
// the reconfig protocol). It is never changed once built.
func quorumOf(c *quorum.Config, myID int64) *Quorum {
	q := &Quorum{MyID: myID, Servers: make(map[int64]QuorumServer, len(c.Servers)), Version: c.Version, Verifier: c.Verifier, qc: c}
	for id, s := range c.Servers {
		q.Servers[id] = quorumServer(s)
	}
	return q
}

// Voters returns the participant ids, ascending.
func (q *Quorum) Voters() []int64 {
	var out []int64
	for id, s := range q.Servers {
		if s.Type == Participant {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// IsVoter reports whether id is a participant.
func (q *Quorum) IsVoter(id int64) bool {
	s, ok := q.Servers[id]
	return ok && s.Type == Participant
}

// verifier returns Verifier, or for a Quorum built by hand without one a
// majority of the participants.
func (q *Quorum) verifier() quorum.Verifier {
	if q.Verifier != nil {
		return q.Verifier
	}
	return quorum.NewMajority(q.Voters())
}

// Me returns this server's entry.
func (q *Quorum) Me() QuorumServer { return q.Servers[q.MyID] }

// IsQuorum reports whether acks (a set of ids) form a quorum
// (QuorumVerifier.containsQuorum); ids that are not participants add
// nothing.
func (q *Quorum) IsQuorum(acks map[int64]bool) bool {
	if q.Verifier != nil {
		return q.Verifier.ContainsQuorum(acks)
	}
	n := 0
	for id, in := range acks {
		if in && q.IsVoter(id) {
			n++
		}
	}
	return n > len(q.Voters())/2
}

// Text is QuorumVerifier.toString: one "server.N=..." line per member (in
// HashMap order, which for small ids is ascending), the group.N and
// weight.N lines of a hierarchical quorum, and "version=<hex>" without a
// trailing newline. It is what FLE notifications, NEWLEADER and
// /zookeeper/config carry.
func (q *Quorum) Text() string {
	servers := make(map[int64]quorum.Server, len(q.Servers))
	for id, qs := range q.Servers {
		servers[id] = qs.server()
	}
	return quorum.ServersText(servers, q.Verifier) + "version=" + quorum.HexVersion(q.Version)
}

// errDynamicVersion is Java's message for a version line in a dynamic file.
var errDynamicVersion = errors.New("dynamic file shouldn't have version inside")

// quorumProps returns the properties the ensemble is read from, as
// QuorumPeerConfig.parse takes them: with dynamicConfigFile, that file
// (its version from the file name, "zoo.cfg.dynamic.<hex>"; none means
// 0) read with the dynamic-file rules; without it, zoo.cfg itself
// (backward-compatible mode).
func quorumProps(c *Config) (props *quorum.Properties, opt quorum.ParseOptions, err error) {
	opt = quorum.ParseOptions{StandaloneEnabled: c.Standalone}
	dyn, ok := c.Raw["dynamicConfigFile"]
	if !ok {
		opt.BackwardCompatible = true
		props = &quorum.Properties{}
		for _, k := range sortedKeys(c.Raw) {
			props.Set(k, c.Raw[k])
		}
		return props, opt, nil
	}
	dyn = strings.TrimSpace(dyn)
	// QuorumPeerConfig.parseProperties: the servers may not be in both.
	for _, k := range sortedKeys(c.Raw) {
		if strings.HasPrefix(k, "server.") || quorum.IsHierarchicalKey(k) {
			return nil, opt, fmt.Errorf("parameter: %s must be in a separate dynamic config file", k)
		}
	}
	b, err := os.ReadFile(dyn)
	if err != nil {
		return nil, opt, fmt.Errorf("Error processing %s: %w", dyn, err)
	}
	props = quorum.ParseProperties(string(b))
	if _, has := props.Get("version"); has {
		return nil, opt, fmt.Errorf("Error processing %s: %w", dyn, errDynamicVersion)
	}
	if v, ok := quorum.VersionFromFilename(dyn); ok {
		props.Set("version", v)
	}
	// NB: zoo.cfg.dynamic.next (QuorumPeerConfig's last seen config) is
	// only used with reconfigEnabled=true: the reconfig protocol reads it
	// (reconfig.go).
	return props, opt, nil
}

// parseQuorum reads the ensemble (the server.N lines of zoo.cfg, or of its
// dynamicConfigFile) and the myid file. It returns nil when the
// configuration is standalone (no server lines, or a single participant
// with standaloneEnabled).
func parseQuorum(c *Config) (*Quorum, error) {
	props, opt, err := quorumProps(c)
	if err != nil {
		return nil, err
	}
	for _, k := range props.Keys() {
		if v, _ := props.Get(k); strings.HasPrefix(k, "server.") && strings.Contains(strings.SplitN(v, ";", 2)[0], "|") {
			return nil, fmt.Errorf("%s=%s: %w", k, v, quorum.ErrMultiAddress)
		}
	}
	qc, err := quorum.ParseConfig(props, opt)
	if err != nil {
		return nil, err
	}
	q := &Quorum{Servers: map[int64]QuorumServer{}, Version: qc.Version}
	for id, s := range qc.Servers {
		q.Servers[id] = quorumServer(s)
	}
	if len(q.Servers) == 0 {
		return nil, nil
	}
	q.Verifier = qc.Verifier
	q.qc = qc
	if !qc.Distributed(c.Standalone) {
		return nil, nil
	}
	b, err := os.ReadFile(filepath.Join(c.DataDir, "myid"))
	if err != nil {
		return nil, fmt.Errorf("myid file is missing: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	id, err := strconv.ParseInt(line, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("serverid %s is not a number", line)
	}
	if _, ok := q.Servers[id]; !ok {
		return nil, fmt.Errorf("myid %d has no server.%d line", id, id)
	}
	q.MyID = id
	if pt, ok := c.Raw["peerType"]; ok {
		want := Participant
		if strings.EqualFold(strings.TrimSpace(pt), "observer") {
			want = Observer
		}
		if want != q.Servers[id].Type {
			// Java warns and lets the server line win.
			c.Logger.Warn().Str("peerType", pt).Str("server_line", q.Servers[id].Type.String()).
				Msg("Peer type from servers list does not match peerType; using the servers list")
		}
	}
	if c.InitLimit <= 0 {
		return nil, errors.New("initLimit is not set")
	}
	if c.SyncLimit <= 0 {
		return nil, errors.New("syncLimit is not set")
	}
	return q, nil
}

func delimitedHost(h string) string {
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}
