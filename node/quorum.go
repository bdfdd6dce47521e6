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

func delimitedHost(h string) string {
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}

// configString is QuorumServer.toString: "host:qport:eport:type[;chost:cport]".
func (q QuorumServer) configString() string {
	s := fmt.Sprintf("%s:%d:%d:%s", delimitedHost(q.Host), q.QuorumPort, q.ElectionPort, q.Type)
	if q.clientSet {
		s += ";" + delimitedHost(q.ClientHost) + ":" + strconv.Itoa(q.ClientPort)
	}
	return s
}

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
	ids := make([]int64, 0, len(q.Servers))
	for id := range q.Servers {
		ids = append(ids, id)
	}
	quorum.JavaHashOrder(ids)
	var b strings.Builder
	for _, id := range ids {
		b.WriteString("server." + strconv.FormatInt(id, 10) + "=" + q.Servers[id].configString() + "\n")
	}
	if q.Verifier != nil {
		b.WriteString(q.Verifier.Text())
	}
	b.WriteString("version=" + strconv.FormatInt(q.Version, 16))
	return b.String()
}

// parseServerLine parses "host:qport:eport[:type][;[chost:]cport]".
func parseServerLine(id int64, v string) (QuorumServer, error) {
	q := QuorumServer{ID: id}
	parts := strings.Split(v, ";")
	if len(parts) > 2 {
		return q, fmt.Errorf("server.%d: %q does not have the form host:port:port[:type][;[host:]port]", id, v)
	}
	addr := parts[0]
	if strings.Contains(addr, "|") {
		return q, fmt.Errorf("server.%d: multiple addresses need multiAddress.enabled, which zkgo does not support", id)
	}
	var fields []string
	if strings.HasPrefix(addr, "[") {
		end := strings.Index(addr, "]")
		if end < 0 {
			return q, fmt.Errorf("server.%d: bad IPv6 address in %q", id, v)
		}
		fields = append([]string{addr[1:end]}, strings.Split(strings.TrimPrefix(addr[end+1:], ":"), ":")...)
	} else {
		fields = strings.Split(addr, ":")
	}
	if len(fields) != 3 && len(fields) != 4 {
		return q, fmt.Errorf("server.%d: %q does not have the form host:port:port[:type]", id, v)
	}
	q.Host = fields[0]
	var err error
	if q.QuorumPort, err = strconv.Atoi(fields[1]); err != nil {
		return q, fmt.Errorf("server.%d: Address unresolved: %s:%s", id, fields[0], fields[1])
	}
	if q.ElectionPort, err = strconv.Atoi(fields[2]); err != nil {
		return q, fmt.Errorf("server.%d: Address unresolved: %s:%s", id, fields[0], fields[2])
	}
	if q.QuorumPort == q.ElectionPort {
		return q, fmt.Errorf("server.%d: Client and election port must be different", id)
	}
	if len(fields) == 4 {
		switch strings.ToLower(strings.TrimSpace(fields[3])) {
		case "participant":
			q.Type = Participant
		case "observer":
			q.Type = Observer
		default:
			return q, fmt.Errorf("server.%d: Unrecognised peertype: %s", id, fields[3])
		}
	}
	if len(parts) == 2 {
		c := parts[1]
		host, port := "0.0.0.0", c
		if i := strings.LastIndex(c, ":"); i >= 0 {
			host, port = strings.Trim(c[:i], "[]"), c[i+1:]
		}
		p, err := strconv.Atoi(strings.TrimSpace(port))
		if err != nil {
			return q, fmt.Errorf("server.%d: bad client port in %q", id, v)
		}
		q.ClientHost, q.ClientPort, q.clientSet = host, p, true
	}
	return q, nil
}

// parseQuorum reads the server.N lines of a parsed zoo.cfg and the myid
// file. It returns nil when the configuration is standalone (no server
// lines, or a single participant with standaloneEnabled).
func parseQuorum(c *Config) (*Quorum, error) {
	q := &Quorum{Servers: map[int64]QuorumServer{}}
	for k, v := range c.Raw {
		if !strings.HasPrefix(k, "server.") {
			continue
		}
		id, err := strconv.ParseInt(k[len("server."):], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: server id is not a number", k)
		}
		s, err := parseServerLine(id, v)
		if err != nil {
			return nil, err
		}
		q.Servers[id] = s
	}
	if v, ok := c.Raw["version"]; ok {
		// QuorumMaj/QuorumHierarchical read it with Long.parseLong(v, 16);
		// Java refuses the config (standalone too) when that fails.
		var err error
		if q.Version, err = strconv.ParseInt(strings.TrimSpace(v), 16, 64); err != nil {
			return nil, fmt.Errorf("version: %q is not a hexadecimal number", v)
		}
	}
	if len(q.Servers) == 0 {
		// A standalone server: Java still parses group/weight lines and
		// fails on the same mistakes.
		if _, err := quorum.Parse(nil, c.Raw); err != nil {
			return nil, err
		}
		return nil, nil
	}
	members := make([]quorum.Member, 0, len(q.Servers))
	for id, s := range q.Servers {
		members = append(members, quorum.Member{ID: id, Voter: s.Type == Participant})
	}
	v, err := quorum.Parse(members, c.Raw)
	if err != nil {
		return nil, err
	}
	q.Verifier = v
	voters := len(q.Voters())
	if voters == 0 {
		return nil, errors.New("Observers w/o participants is an invalid configuration")
	}
	if voters == 1 && c.Standalone {
		if len(q.Servers) > 1 {
			return nil, errors.New("Observers w/o quorum is an invalid configuration")
		}
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
