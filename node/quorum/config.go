package quorum

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Server is one server.N entry (QuorumPeer.QuorumServer), parsed from
// "host:quorumPort:electionPort[:type][;[clientHost:]clientPort]".
type Server struct {
	ID           int64
	Host         string // as written (Java keeps getHostString)
	QuorumPort   int
	ElectionPort int
	Observer     bool
	// HasClient: the entry has a client part. ClientHost is "0.0.0.0"
	// when it gave only a port. An entry without one has no client
	// address in QuorumVerifier.toString (Java fills a member's own from
	// clientPort but marks it isClientAddrFromStatic and hides it).
	HasClient  bool
	ClientHost string
	ClientPort int
}

// Type is "observer" or "participant", as Java spells LearnerType.
func (s Server) Type() string {
	if s.Observer {
		return "observer"
	}
	return "participant"
}

func delimited(h string) string {
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}

// String is QuorumServer.toString: "host:qport:eport:type[;chost:cport]".
func (s Server) String() string {
	out := delimited(s.Host) + ":" + strconv.Itoa(s.QuorumPort) + ":" + strconv.Itoa(s.ElectionPort) + ":" + s.Type()
	if s.HasClient {
		out += ";" + delimited(s.ClientHost) + ":" + strconv.Itoa(s.ClientPort)
	}
	return out
}

// javaSplitAll is String.split(regex) for a literal separator: trailing
// empty strings are dropped ("" splits into [""]).
func javaSplitAll(s, sep string) []string {
	parts := strings.Split(s, sep)
	for len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if len(parts) == 1 && parts[0] == "" && s != "" {
		return nil
	}
	return parts
}

// hostAndPort is ConfigUtils.getHostAndPort: "[v6]:a:b" keeps the
// bracketed host whole, anything else splits on ':'.
func hostAndPort(s string) ([]string, error) {
	if strings.HasPrefix(s, "[") {
		i := strings.Index(s, "]")
		if i < 0 {
			return nil, fmt.Errorf("%s starts with '[' but has no matching ']:'", s)
		}
		if i+2 == len(s) {
			return nil, fmt.Errorf("%s doesn't have a port after colon", s)
		}
		if i+2 < len(s) {
			return append([]string{s[1:i]}, javaSplitAll(s[i+2:], ":")...), nil
		}
		return []string{strings.NewReplacer("[", "", "]", "").Replace(s)}, nil
	}
	return javaSplitAll(s, ":"), nil
}

// javaParseInt is Integer.parseInt.
func javaParseInt(s string) (int, error) {
	if s == "" || s == "+" || s == "-" {
		return 0, strconv.ErrSyntax
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "+"), 10, 32)
	return int(n), err
}

// wrongFormat is QuorumServer's message for a spec it cannot split.
const wrongFormat = " does not have the form server_config or server_config;client_config" +
	" where server_config is the pipe separated list of host:port:port or host:port:port:type" +
	" and client_config is port or host:port"

// ErrMultiAddress is returned for a server spec with several addresses
// ("a:1:2|b:3:4"): zkgo does not implement multiAddress.enabled.
var ErrMultiAddress = errors.New("multiple addresses per server (a|b) need multiAddress.enabled, which zkgo does not implement")

// ParseServer parses the value of a server.N line with the rules and
// messages of QuorumServer(long, String) as Java 3.8 runs it with
// multiAddress.enabled=false (its default; zkgo refuses true).
func ParseServer(id int64, spec string) (Server, error) {
	s := Server{ID: id}
	parts := javaSplitAll(spec, ";")
	if len(parts) == 0 {
		return s, fmt.Errorf("%s%s", spec, wrongFormat)
	}
	if len(parts) == 2 {
		cp, err := hostAndPort(parts[1])
		if err != nil {
			return s, err
		}
		if len(cp) > 2 {
			return s, fmt.Errorf("%s%s", spec, wrongFormat)
		}
		if len(cp) == 0 {
			// ":".split(":") is empty: Java indexes it at -1.
			return s, javaRuntime(fmt.Errorf("%s: Index -1 out of bounds for length 0", spec))
		}
		s.ClientHost = "0.0.0.0"
		if len(cp) == 2 {
			s.ClientHost = cp[0]
		}
		port, err := javaParseInt(cp[len(cp)-1])
		if err != nil {
			// Java names the host before it has one.
			return s, fmt.Errorf("Address unresolved: null:%s", cp[len(cp)-1])
		}
		if port < 0 || port > 65535 {
			return s, javaRuntime(fmt.Errorf("port out of range:%d", port))
		}
		s.HasClient, s.ClientPort = true, port
	}
	addrs := javaSplitAll(parts[0], "|")
	if len(addrs) > 1 {
		return s, fmt.Errorf("server.%d: %w", id, ErrMultiAddress)
	}
	if len(addrs) == 0 {
		return s, fmt.Errorf("%s%s", spec, wrongFormat)
	}
	sp, err := hostAndPort(addrs[0])
	if err != nil {
		return s, err
	}
	if len(parts) > 2 || len(sp) < 3 || len(sp) > 4 {
		return s, fmt.Errorf("%s%s", spec, wrongFormat)
	}
	s.Host = sp[0]
	if s.QuorumPort, err = javaParseInt(sp[1]); err != nil {
		return s, fmt.Errorf("Address unresolved: %s:%s", sp[0], sp[1])
	}
	if s.ElectionPort, err = javaParseInt(sp[2]); err != nil {
		return s, fmt.Errorf("Address unresolved: %s:%s", sp[0], sp[2])
	}
	for _, p := range []int{s.QuorumPort, s.ElectionPort} {
		if p < 0 || p > 65535 {
			return s, javaRuntime(fmt.Errorf("port out of range:%d", p))
		}
	}
	if s.QuorumPort == s.ElectionPort {
		return s, fmt.Errorf("Client and election port must be different! Please update the configuration file on server.%d", id)
	}
	if len(sp) == 4 {
		switch strings.ToLower(strings.TrimSpace(sp[3])) {
		case "observer":
			s.Observer = true
		case "participant":
		default:
			return s, fmt.Errorf("Unrecognised peertype: %s", sp[3])
		}
	}
	return s, nil
}

// Resolver gives the address a host name stands for, as Java's
// InetSocketAddress resolves a QuorumServer's hosts: ok is false when it
// does not resolve. An IP literal stands for itself.
type Resolver func(host string) (ip netip.Addr, ok bool)

// conflictsWith is QuorumServer.checkAddressDuplicate: an address of s
// (quorum, election, client) equal to one of o's, addresses that are
// unresolved, wildcard or loopback excepted. With a resolver, addresses
// compare as Java's resolved InetSocketAddresses do (a host name and the
// IP it resolves to are the same address; a name that resolves to a
// loopback address is left out); without one (a pure caller), hosts that
// are not IP literals compare by name and "localhost" is loopback.
func (s Server) conflictsWith(o Server, resolve Resolver) error {
	type addr struct {
		host string
		port int
		ip   netip.Addr
	}
	list := func(v Server) []addr {
		out := []addr{{host: v.Host, port: v.QuorumPort}}
		if v.HasClient {
			out = append(out, addr{host: v.ClientHost, port: v.ClientPort})
		}
		out = append(out, addr{host: v.Host, port: v.ElectionPort})
		kept := out[:0]
		for _, a := range out {
			ip, err := netip.ParseAddr(a.host)
			switch {
			case err == nil:
			case resolve != nil:
				var ok bool
				if ip, ok = resolve(a.host); !ok {
					continue // unresolved
				}
			case strings.EqualFold(a.host, "localhost"):
				continue
			}
			if ip.IsValid() {
				ip = ip.Unmap()
				if ip.IsUnspecified() || ip.IsLoopback() {
					continue
				}
			}
			a.ip = ip
			kept = append(kept, a)
		}
		return kept
	}
	same := func(a, b addr) bool {
		if a.port != b.port {
			return false
		}
		if a.ip.IsValid() || b.ip.IsValid() {
			return a.ip == b.ip
		}
		return strings.EqualFold(a.host, b.host)
	}
	others := list(o)
	for _, my := range list(s) {
		for _, other := range others {
			if same(my, other) {
				return fmt.Errorf("%s:%d of server.%d conflicts %s:%d of server.%d",
					my.host, my.port, s.ID, other.host, other.port, o.ID)
			}
		}
	}
	return nil
}

// Config is a quorum configuration: Java's QuorumVerifier with the
// members it holds and its version.
type Config struct {
	Servers  map[int64]Server
	Verifier Verifier
	Version  int64
	// hier: built from group/weight keys (QuorumHierarchical); Props are
	// kept to rebuild it.
	hier bool
}

// Hierarchical reports whether the configuration is a QuorumHierarchical
// one (incremental reconfigs need a majority one).
func (c *Config) Hierarchical() bool { return c.hier }

// Voters returns the participants, ascending.
func (c *Config) Voters() []int64 {
	var out []int64
	for id, s := range c.Servers {
		if !s.Observer {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Observers returns the observers, ascending.
func (c *Config) Observers() []int64 {
	var out []int64
	for id, s := range c.Servers {
		if s.Observer {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// String is QuorumVerifier.toString: one "server.N=..." line per member
// in the order of Java's HashMap, the group/weight lines of a
// hierarchical verifier, and "version=<hex>" with no trailing newline.
// It is the data of /zookeeper/config and what NEWLEADER, FLE
// notifications and reconfig txns carry.
func (c *Config) String() string {
	return ServersText(c.Servers, c.Verifier) + "version=" + HexVersion(c.Version)
}

// ServersText is the server lines (and group/weight lines of v, if any)
// of QuorumVerifier.toString, each ending in a newline.
func ServersText(servers map[int64]Server, v Verifier) string {
	ids := make([]int64, 0, len(servers))
	for id := range servers {
		ids = append(ids, id)
	}
	JavaHashOrder(ids)
	var b strings.Builder
	for _, id := range ids {
		b.WriteString("server." + strconv.FormatInt(id, 10) + "=" + servers[id].String() + "\n")
	}
	if v != nil {
		b.WriteString(v.Text())
	}
	return b.String()
}

// HexVersion is Long.toHexString: lower-case hex of the unsigned value.
func HexVersion(v int64) string { return strconv.FormatUint(uint64(v), 16) }

// ParseVersion reads a version as Long.parseLong(s, 16) does.
func ParseVersion(s string) (int64, error) {
	if s == "" || s == "+" || s == "-" {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseInt(strings.TrimPrefix(s, "+"), 16, 64)
}

// ParseOptions are the settings parseDynamicConfig depends on.
type ParseOptions struct {
	// BackwardCompatible: the properties are a whole zoo.cfg (servers in
	// the static file), so keys other than server.N, group, weight and
	// version are allowed. Otherwise (a dynamic file, a reconfig's
	// newMembers) any other key is "Unrecognised parameter".
	BackwardCompatible bool
	// StandaloneEnabled is standaloneEnabled (default true in Java).
	StandaloneEnabled bool
}

// ParseConfig builds a configuration from properties as
// QuorumPeerConfig.parseDynamicConfig does: QuorumHierarchical when a key
// starts with "group" or "weight", else QuorumMaj; "version" is read as
// hex; then Java's checks on the number of participants and observers.
// A configuration without any server is returned with no servers (a
// standalone server's).
func ParseConfig(p *Properties, opt ParseOptions) (*Config, error) {
	c := &Config{Servers: map[int64]Server{}}
	for _, k := range p.Keys() {
		key := strings.TrimSpace(k)
		v, _ := p.Get(k)
		switch {
		case IsHierarchicalKey(key):
			c.hier = true
		case strings.HasPrefix(k, "server."):
			id, err := javaParseLong(k[len("server."):])
			if err != nil {
				return nil, javaRuntime(fmt.Errorf("%s: server id is not a number", k))
			}
			s, err := ParseServer(id, v)
			if err != nil {
				return nil, err
			}
			c.Servers[id] = s
		case k == "version":
			ver, err := ParseVersion(v)
			if err != nil {
				return nil, javaRuntime(fmt.Errorf("version: %q is not a hexadecimal number", v))
			}
			c.Version = ver
		case !opt.BackwardCompatible && key != "version":
			return nil, fmt.Errorf("Unrecognised parameter: %s", key)
		}
	}
	members := make([]Member, 0, len(c.Servers))
	for id, s := range c.Servers {
		members = append(members, Member{ID: id, Voter: !s.Observer})
	}
	props := map[string]string{}
	if c.hier {
		props = p.Map()
	}
	v, err := Parse(members, props)
	if err != nil {
		return nil, err
	}
	c.Verifier = v
	nv, no := len(c.Voters()), len(c.Observers())
	switch {
	case nv == 0:
		if !opt.StandaloneEnabled {
			return nil, javaRuntime(errors.New("standaloneEnabled = false then number of participants should be >0"))
		}
		if no > 0 {
			return nil, javaRuntime(errors.New("Observers w/o participants is an invalid configuration"))
		}
	case nv == 1 && opt.StandaloneEnabled:
		if no > 0 {
			return nil, javaRuntime(errors.New("Observers w/o quorum is an invalid configuration"))
		}
	}
	return c, nil
}

// ParseConfigText parses a configuration text (QuorumVerifier.toString,
// a dynamic file, NEWLEADER data) as QuorumPeer.configFromString does:
// the dynamic-file rules, standaloneEnabled as given.
func ParseConfigText(text string, standaloneEnabled bool) (*Config, error) {
	return ParseConfig(ParseProperties(text), ParseOptions{StandaloneEnabled: standaloneEnabled})
}

// Distributed is QuorumPeerConfig.isDistributed: the server runs as a
// quorum member (more than one participant, or standaloneEnabled=false).
func (c *Config) Distributed(standaloneEnabled bool) bool {
	return c != nil && (!standaloneEnabled || len(c.Voters()) > 1)
}
