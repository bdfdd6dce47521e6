package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/tree"
)

// Config is a server's configuration: the keys of Java's zoo.cfg (same
// names, same defaults) plus the system properties zkgo honours. Unknown
// zoo.cfg keys become "zookeeper.<key>" properties, as QuorumPeerConfig does.
type Config struct {
	TickTime          int    // tickTime, ms
	InitLimit         int    // initLimit, ticks
	SyncLimit         int    // syncLimit, ticks
	DataDir           string // dataDir
	DataLogDir        string // dataLogDir (default: DataDir)
	ClientPort        int    // clientPort
	ClientPortAddress string // clientPortAddress (default: all addresses)
	MaxClientCnxns    int    // maxClientCnxns per client IP (0: unlimited)
	MinSessionTimeout int    // minSessionTimeout, ms (default 2*tickTime)
	MaxSessionTimeout int    // maxSessionTimeout, ms (default 20*tickTime)
	// FourLetterWords is 4lw.commands.whitelist ("*" = all).
	FourLetterWords []string
	SnapCount       int   // zookeeper.snapCount / snapCount
	PreAllocSizeKB  int64 // zookeeper.preAllocSize / preAllocSize
	ForceSync       bool  // zookeeper.forceSync / forceSync (yes)
	SnapRetainCount int   // autopurge.snapRetainCount
	PurgeInterval   int   // autopurge.purgeInterval, hours (0: off)
	ExtendedTypes   bool  // zookeeper.extendedTypesEnabled
	SuperDigest     string
	// SnapCompression is zookeeper.snapshot.compression.method: "", "gz"
	// or "snappy".
	SnapCompression string
	SkipACL         bool // zookeeper.skipACL
	// EnforceAuth and EnforceAuthSchemes are zookeeper.enforce.auth.enabled
	// and zookeeper.enforce.auth.schemes (Java's AuthenticationHelper):
	// every request of a connection without an id of one of the schemes is
	// refused with SESSIONCLOSEDREQUIRESASLAUTH and the connection closed.
	EnforceAuth        bool
	EnforceAuthSchemes []string
	ReconfigEnabled    bool // reconfigEnabled
	Standalone         bool // standaloneEnabled
	MaxBuffer          int  // jute.maxbuffer
	// MaxBufferExtra is zookeeper.jute.maxbuffer.extrasize: 0 when unset
	// (Java's default: MaxBuffer); a set value below 1024 counts as 1024,
	// as in Java. RecordLimit combines the two.
	MaxBufferExtra int
	// ContainerCheckMs and ContainerMaxPerMinute drive container and TTL
	// reaping (znode.container.checkIntervalMs, znode.container.maxPerMinute).
	ContainerCheckMs      int
	ContainerMaxPerMinute int
	// MaxConcurrentSnapSyncs and MaxConcurrentDiffSyncs bound the SNAP and
	// DIFF/TRUNC syncs a leader runs at once (zookeeper.leader.
	// maxConcurrentSnapSyncs, default 10, and maxConcurrentDiffSyncs,
	// default 100; LearnerSyncThrottler). Only observers are refused;
	// followers are exempt but counted.
	MaxConcurrentSnapSyncs int
	MaxConcurrentDiffSyncs int

	// SecureClientPort and SecureClientPortAddress are the TLS client
	// port (secureClientPort; 0: none); its ssl.* settings are read by
	// ClientTLS (tlsconfig.go).
	SecureClientPort        int
	SecureClientPortAddress string
	// NoClientPort: zoo.cfg set only secureClientPort, so there is no
	// plaintext client listener (as in Java).
	NoClientPort bool

	// Quorum is the ensemble of the server.N lines and the myid file; nil
	// for a standalone server.
	Quorum *Quorum
	// Elector, when set, replaces fast leader election on the election
	// port (tests that pin the leader, tools). Only used with a Quorum.
	Elector Elector `json:"-"`
	// QuorumDialer, when set, opens learner connections to the leader's
	// quorum port (tests tap them; nil dials directly).
	QuorumDialer func(ctx context.Context, addr string) (net.Conn, error) `json:"-"`
	// SnapSyncGate, when set, is asked by a leader before each step of the
	// tree walk of a SNAP sync (tests that need txns committed during the
	// walk): false holds the walk until the owner's next round. It runs on
	// the owner goroutine and must not block.
	SnapSyncGate func() bool `json:"-"`
	// CommitGate, when set, is asked by a leader before it commits (tests
	// that need proposals outstanding while a learner syncs): false leaves
	// every acknowledged proposal outstanding, to be tried again at the end
	// of the owner's next round. It runs on the owner goroutine and must
	// not block.
	CommitGate func() bool `json:"-"`
	// NewLeaderQueued, when set, is called by a leader on the owner
	// goroutine right after it queues NEWLEADER for learner sid (tests);
	// it must not block. Held commits are tried again in the same round.
	NewLeaderQueued func(sid int64) `json:"-"`

	// Properties holds every system-property style setting read from the
	// file ("zookeeper.*" and the like), for envi/conf output.
	Properties map[string]string
	// Raw holds the file's key/value pairs as read.
	Raw map[string]string
	// Source is the config file path ("" for the embedded default).
	Source string

	// Logger for the server; the zero value logs nothing. The server adds
	// component=server (component=election for the election port); the
	// caller adds identity keys such as myid, which the server never does,
	// so that each key appears once per line.
	Logger zerolog.Logger `json:"-"`
}

// DefaultConfig is what `zkgo server` uses without a config file:
// 127.0.0.1:2181, data under ./data. Derived settings (dataLogDir, session
// timeouts, ...) are filled in by New, so a caller may change DataDir or
// TickTime first. Unlike Java's default whitelist (srvr only) it allows
// every four-letter word, so `echo ruok | nc` works on a development
// server; a zoo.cfg read by LoadConfig follows Java's default.
func DefaultConfig() Config {
	return Config{
		FourLetterWords:   []string{"*"},
		TickTime:          2000,
		InitLimit:         10,
		SyncLimit:         5,
		DataDir:           "data",
		ClientPort:        2181,
		ClientPortAddress: "127.0.0.1",
		MaxClientCnxns:    60,
		Standalone:        true,
		ForceSync:         true,
	}
}

func (c Config) withDefaults() Config {
	if c.TickTime == 0 {
		c.TickTime = 2000
	}
	if c.InitLimit == 0 {
		c.InitLimit = 10
	}
	if c.SyncLimit == 0 {
		c.SyncLimit = 5
	}
	if c.DataLogDir == "" {
		c.DataLogDir = c.DataDir
	}
	if c.MinSessionTimeout <= 0 {
		c.MinSessionTimeout = 2 * c.TickTime
	}
	if c.MaxSessionTimeout <= 0 {
		c.MaxSessionTimeout = 20 * c.TickTime
	}
	if c.FourLetterWords == nil {
		c.FourLetterWords = []string{"srvr"}
	}
	if c.SnapCount == 0 {
		c.SnapCount = 100000
	}
	if c.PreAllocSizeKB == 0 {
		c.PreAllocSizeKB = 65536
	}
	if c.SnapRetainCount < 3 {
		c.SnapRetainCount = 3
	}
	if c.MaxBuffer == 0 {
		c.MaxBuffer = jute.DefaultMaxBuffer
	}
	if c.ContainerCheckMs == 0 {
		c.ContainerCheckMs = 60000
	}
	if c.ContainerMaxPerMinute == 0 {
		c.ContainerMaxPerMinute = 10000
	}
	if c.MaxConcurrentSnapSyncs == 0 {
		c.MaxConcurrentSnapSyncs = 10
	}
	if c.MaxConcurrentDiffSyncs == 0 {
		c.MaxConcurrentDiffSyncs = 100
	}
	if c.Properties == nil {
		c.Properties = map[string]string{}
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.TickTime <= 0 {
		errs = append(errs, errors.New("tickTime must be positive"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("dataDir is not set"))
	}
	if c.ClientPort < 0 || c.ClientPort > 65535 {
		errs = append(errs, fmt.Errorf("clientPort %d out of range", c.ClientPort))
	}
	if c.MinSessionTimeout > c.MaxSessionTimeout {
		errs = append(errs, fmt.Errorf("minSessionTimeout %d must not be larger than maxSessionTimeout %d",
			c.MinSessionTimeout, c.MaxSessionTimeout))
	}
	if c.MaxClientCnxns < 0 {
		errs = append(errs, errors.New("maxClientCnxns must not be negative"))
	}
	if c.MaxBuffer <= 0 {
		errs = append(errs, errors.New("jute.maxbuffer must be positive"))
	}
	// The limits decide what can be logged and read back: a value zkgo
	// cannot use is refused, never replaced by a default.
	for _, k := range juteLimitKeys {
		if v, ok := c.Properties[k]; ok {
			if _, err := strconv.Atoi(strings.TrimSpace(v)); err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a number", strings.TrimPrefix(k, "zookeeper."), v))
			}
		}
	}
	extra := int64(c.MaxBuffer)
	if c.MaxBufferExtra > 0 {
		extra = int64(c.MaxBufferExtra)
	}
	if c.MaxBufferExtra < 0 || int64(c.MaxBuffer)+max(extra, 1024) > math.MaxInt32 {
		errs = append(errs, fmt.Errorf("jute.maxbuffer %d plus jute.maxbuffer.extrasize %d does not fit in 31 bits",
			c.MaxBuffer, c.MaxBufferExtra))
	}
	// Java's LearnerSyncThrottler refuses these (its leader cannot start).
	for _, k := range syncThrottleKeys {
		if n, err := strconv.Atoi(strings.TrimSpace(c.Properties[k])); err == nil && n <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, was %d", k, n))
		}
	}
	// QuorumCnxManager reads it with Integer.parseInt: a value that is not
	// a 32-bit number stops a Java quorum member from starting.
	if v, ok := c.Properties[cnxTimeoutKey]; ok && c.Quorum != nil {
		if _, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a number", cnxTimeoutKey, v))
		}
	}
	if c.MaxConcurrentSnapSyncs < 0 || c.MaxConcurrentDiffSyncs < 0 {
		errs = append(errs, errors.New("MaxConcurrentSnapSyncs and MaxConcurrentDiffSyncs must not be negative"))
	}
	// Settings zkgo does not implement that matter to safety, security or
	// who can connect (configkeys.go, docs/config.md).
	errs = append(errs, refusedSettings(c.Raw, c.Quorum != nil)...)
	errs = append(errs, c.validateTLS()...)
	errs = append(errs, c.validateSASL()...)
	errs = append(errs, c.validateQuorumSec()...)
	if c.EnforceAuth {
		// AuthenticationHelper.validateConfiguredProperties, with zkgo's
		// providers (digest and ip) in place of the ProviderRegistry.
		if len(c.EnforceAuthSchemes) == 0 {
			errs = append(errs, errors.New("zookeeper.enforce.auth.enabled is true zookeeper.enforce.auth.schemes must be  configured."))
		}
		for _, scheme := range c.EnforceAuthSchemes {
			if scheme != tree.SchemeDigest && scheme != tree.SchemeIP && !(scheme == tree.SchemeX509 && c.X509Enabled()) &&
				!(scheme == tree.SchemeSASL && c.SASLEnabled()) {
				errs = append(errs, fmt.Errorf("Authentication scheme %s is not available.", scheme))
			}
		}
	}
	return errors.Join(errs...)
}

// juteLimitKeys are the properties behind MaxBuffer and MaxBufferExtra.
var juteLimitKeys = [2]string{"zookeeper.jute.maxbuffer", "zookeeper.jute.maxbuffer.extrasize"}

// RecordLimit is the largest buffer or string a txn log record, snapshot
// or quorum packet may hold (BinaryInputArchive.checkLength: jute.maxbuffer
// plus the extra allowance). Every reader of those uses it, and the write
// path refuses a txn whose encoding would exceed it, so whatever is logged
// or proposed can be read back.
func (c Config) RecordLimit() int {
	extra := -1
	if c.MaxBufferExtra > 0 {
		extra = c.MaxBufferExtra
	}
	return jute.ArchiveLimit(c.MaxBuffer, extra)
}

// ClientAddr returns the client listen address host:port.
func (c Config) ClientAddr() string {
	host := c.ClientPortAddress
	if host == "" {
		host = "0.0.0.0"
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(c.ClientPort)
}

// FourLetterAllowed reports whether cmd is on the whitelist.
func (c Config) FourLetterAllowed(cmd string) bool {
	for _, w := range c.FourLetterWords {
		if w == "*" || w == cmd {
			return true
		}
	}
	return false
}

// LoadConfig reads a Java zoo.cfg file.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	cfg, err := ParseConfig(f)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	cfg.Source = path
	if !filepath.IsAbs(cfg.DataDir) && cfg.DataDir != "" {
		// Java resolves relative paths against the working directory too.
		cfg.DataDir = filepath.Clean(cfg.DataDir)
	}
	return cfg, nil
}

// parseProperties reads java.util.Properties-style "key=value" lines
// (also "key: value" and "key value"), skipping # and ! comments, with
// backslash line continuations.
func parseProperties(r io.Reader) (map[string]string, []string, error) {
	out := map[string]string{}
	var order []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var pending string
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if pending != "" {
			line = pending + line
			pending = ""
		}
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		if strings.HasSuffix(line, "\\") && !strings.HasSuffix(line, "\\\\") {
			pending = strings.TrimSuffix(line, "\\")
			continue
		}
		i := strings.IndexAny(line, "=: \t")
		key, val := line, ""
		if i >= 0 {
			key = line[:i]
			rest := strings.TrimLeft(line[i:], " \t")
			if rest != "" && (rest[0] == '=' || rest[0] == ':') {
				rest = rest[1:]
			}
			val = strings.TrimLeft(rest, " \t")
		}
		if _, seen := out[key]; !seen {
			order = append(order, key)
		}
		out[key] = val
	}
	return out, order, sc.Err()
}

// ParseConfig parses zoo.cfg content (QuorumPeerConfig.parseProperties).
func ParseConfig(r io.Reader) (Config, error) {
	props, order, err := parseProperties(r)
	if err != nil {
		return Config{}, err
	}
	// Java's defaults when a key is absent: tickTime 3000
	// (ZooKeeperServer.DEFAULT_TICK_TIME), maxClientCnxns 60.
	c := Config{Raw: props, Properties: map[string]string{}, Standalone: true, ForceSync: true,
		TickTime: 3000, MaxClientCnxns: 60}
	var errs []error
	atoi := func(k, v string) int {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a number", k, v))
		}
		return n
	}
	for _, k := range order {
		v := strings.TrimSpace(props[k])
		switch k {
		case "tickTime":
			c.TickTime = atoi(k, v)
			if c.TickTime == 0 {
				errs = append(errs, errors.New("tickTime is not set"))
			}
		case "initLimit":
			c.InitLimit = atoi(k, v)
		case "syncLimit":
			c.SyncLimit = atoi(k, v)
		case "dataDir":
			c.DataDir = v
		case "dataLogDir":
			c.DataLogDir = v
		case "clientPort":
			c.ClientPort = atoi(k, v)
		case "clientPortAddress":
			c.ClientPortAddress = v
		case "secureClientPort":
			c.SecureClientPort = atoi(k, v)
		case "secureClientPortAddress":
			c.SecureClientPortAddress = v
		case "maxClientCnxns":
			c.MaxClientCnxns = atoi(k, v)
		case "minSessionTimeout":
			c.MinSessionTimeout = atoi(k, v)
		case "maxSessionTimeout":
			c.MaxSessionTimeout = atoi(k, v)
		case "4lw.commands.whitelist":
			c.FourLetterWords = nil
			for _, w := range strings.Split(v, ",") {
				if w = strings.TrimSpace(w); w != "" {
					c.FourLetterWords = append(c.FourLetterWords, w)
				}
			}
			if c.FourLetterWords == nil {
				c.FourLetterWords = []string{}
			}
		case "autopurge.snapRetainCount":
			c.SnapRetainCount = atoi(k, v)
		case "autopurge.purgeInterval":
			c.PurgeInterval = atoi(k, v)
		case "standaloneEnabled":
			c.Standalone = strings.EqualFold(v, "true")
		case "reconfigEnabled":
			c.ReconfigEnabled = strings.EqualFold(v, "true")
		case "admin.enableServer", "admin.serverPort", "admin.serverAddress", "admin.commandURL",
			"electionAlg", "quorumListenOnAllIPs", "peerType", "syncEnabled", "dynamicConfigFile",
			"observerMasterPort", "metricsProvider.className",
			"localSessionsEnabled", "localSessionsUpgradingEnabled", "multiAddress.enabled",
			"multiAddress.reachabilityCheckTimeoutMs", "multiAddress.reachabilityCheckEnabled",
			"clientPortListenBacklog", "connectToLearnerMasterLimit", "quorum.auth.enableSasl",
			"quorum.auth.learnerRequireSasl", "quorum.auth.serverRequireSasl", "sslQuorum", "portUnification",
			"quorum.cnxn.threads.size", "maxResponseCacheSize", "oraclePath":
			// Known keys zkgo accepts; those that matter to a role are
			// read from Raw by that role.
		default:
			if strings.HasPrefix(k, "server.") || strings.HasPrefix(k, "group") || strings.HasPrefix(k, "weight") ||
				strings.HasPrefix(k, "metricsProvider.") {
				continue
			}
			// QuorumPeerConfig: any other key becomes a system property,
			// prefixed with "zookeeper." unless it already is.
			name := k
			if !strings.HasPrefix(k, "zookeeper.") {
				name = "zookeeper." + k
			}
			c.Properties[name] = v
		}
	}
	c.applyProperties()
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	if v, ok := props["electionAlg"]; ok && strings.TrimSpace(v) != "3" {
		return c, fmt.Errorf("electionAlg %s is not supported (only 3, fast leader election)", v)
	}
	// QuorumPeerConfig.parseProperties: clientPort 0 means unset.
	if c.ClientPort == 0 {
		if _, ok := props["clientPortAddress"]; ok {
			return c, errors.New("clientPortAddress is set but clientPort is not set")
		}
	}
	q, err := parseQuorum(&c)
	if err != nil {
		return c, err
	}
	c.Quorum = q
	if q != nil {
		if me := q.Me(); me.clientSet {
			// QuorumPeerConfig.setupClientPort: the server line's client
			// address wins when clientPort is absent, and must agree with
			// it otherwise.
			if c.ClientPort == 0 {
				c.ClientPort = me.ClientPort
				c.ClientPortAddress = me.ClientHost
			} else if c.ClientPort != me.ClientPort {
				return c, fmt.Errorf("client address for this server (id = %d) in static config file is %s:%d, "+
					"but clientPort is %d", q.MyID, me.ClientHost, me.ClientPort, c.ClientPort)
			}
		}
	}
	if c.ClientPort == 0 && c.SecureClientPort > 0 {
		// Java serves the secure port alone.
		c.NoClientPort = true
	}
	if err := checkSecurePort(&c, props); err != nil {
		return c, err
	}
	if c.ClientPort == 0 && !c.NoClientPort {
		// Java 3.8.0 then runs without any client listener; zkgo's front
		// end would listen on a random port on every interface. Neither is
		// what an operator meant (compat-tests/DIFFERENCES.md).
		return c, errors.New("no client port: set clientPort (or this server's client address in its " +
			"server.N line, server.N=host:quorumPort:electionPort;[clientHost:]clientPort)")
	}
	return c.withDefaults(), nil
}

// cnxTimeoutKey is the election connection timeout (zoo.cfg cnxTimeout).
const cnxTimeoutKey = "zookeeper.cnxTimeout"

// syncThrottleKeys are the leader's sync throttle properties (snap, diff).
var syncThrottleKeys = [2]string{"zookeeper.leader.maxConcurrentSnapSyncs", "zookeeper.leader.maxConcurrentDiffSyncs"}

// applyProperties reads the system properties zkgo honours.
func (c *Config) applyProperties() {
	p := c.Properties
	if v, ok := p["zookeeper.snapCount"]; ok {
		c.SnapCount, _ = strconv.Atoi(v)
	}
	if v, ok := p["zookeeper.preAllocSize"]; ok {
		c.PreAllocSizeKB, _ = strconv.ParseInt(v, 10, 64)
	}
	if v, ok := p["zookeeper.forceSync"]; ok {
		c.ForceSync = !strings.EqualFold(v, "no")
	}
	if v, ok := p["zookeeper.extendedTypesEnabled"]; ok {
		c.ExtendedTypes = strings.EqualFold(v, "true")
	}
	if v, ok := p["zookeeper.DigestAuthenticationProvider.superDigest"]; ok {
		c.SuperDigest = v
	}
	if v, ok := p["zookeeper.snapshot.compression.method"]; ok {
		c.SnapCompression = v
	}
	if v, ok := p["zookeeper.skipACL"]; ok {
		c.SkipACL = strings.EqualFold(v, "yes")
	}
	// AuthenticationHelper.initConfigurations: sessionRequireClientSASLAuth
	// is enforce.auth with the sasl scheme; otherwise enforce.auth.schemes
	// is split on ',' and trimmed (empty entries kept, as Java keeps them).
	if strings.EqualFold(p["zookeeper.sessionRequireClientSASLAuth"], "true") {
		c.EnforceAuth, c.EnforceAuthSchemes = true, []string{"sasl"}
	} else {
		c.EnforceAuth = strings.EqualFold(p["zookeeper.enforce.auth.enabled"], "true")
		c.EnforceAuthSchemes = nil
		if v, ok := p["zookeeper.enforce.auth.schemes"]; ok {
			for _, sc := range strings.Split(v, ",") {
				c.EnforceAuthSchemes = append(c.EnforceAuthSchemes, strings.TrimSpace(sc))
			}
		}
	}
	// jute.maxbuffer in zoo.cfg: Java 3.8 reads it only as the JVM system
	// property, so there a zoo.cfg line does nothing; zkgo has no JVM and
	// takes it from here (DIFFERENCES.md). validate refuses non-numbers.
	if v, ok := p[juteLimitKeys[0]]; ok {
		c.MaxBuffer, _ = strconv.Atoi(strings.TrimSpace(v))
	}
	if v, ok := p[juteLimitKeys[1]]; ok {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			c.MaxBufferExtra = max(n, 1024)
		}
	}
	if v, ok := p["zookeeper.znode.container.checkIntervalMs"]; ok {
		c.ContainerCheckMs, _ = strconv.Atoi(v)
	}
	if v, ok := p["zookeeper.znode.container.maxPerMinute"]; ok {
		c.ContainerMaxPerMinute, _ = strconv.Atoi(v)
	}
	// Integer.getInteger: a value that is not a number means the default;
	// zero or less is refused by validate.
	for key, dst := range map[string]*int{
		syncThrottleKeys[0]: &c.MaxConcurrentSnapSyncs,
		syncThrottleKeys[1]: &c.MaxConcurrentDiffSyncs,
	} {
		if n, err := strconv.Atoi(strings.TrimSpace(p[key])); err == nil && n > 0 {
			*dst = n
		}
	}
}

// SortedProperties returns the properties as sorted key=value pairs.
func (c Config) SortedProperties() [][2]string {
	out := make([][2]string, 0, len(c.Properties))
	for k, v := range c.Properties {
		out = append(out, [2]string{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// defaultSnapshotSizeFactor is zookeeper.snapshotSizeFactor's default.
const defaultSnapshotSizeFactor = 0.33

// snapshotSizeFactor is zookeeper.snapshotSizeFactor as Java 3.8's
// ZKDatabase takes it: a value above 1, or one that is not a number, falls
// back to the default with a warning; a negative one turns DIFFs from the
// txn log off, zero leaves their size unbounded.
func snapshotSizeFactor(p map[string]string, log zerolog.Logger) float64 {
	const key = "zookeeper.snapshotSizeFactor"
	s, ok := p[key]
	if !ok {
		return defaultSnapshotSizeFactor
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	switch {
	case err != nil || math.IsNaN(v):
		log.Error().Str("key", key).Str("value", s).Float64("default", defaultSnapshotSizeFactor).
			Msg("Error parsing zookeeper.snapshotSizeFactor, using the default")
		return defaultSnapshotSizeFactor
	case v > 1:
		log.Warn().Str("key", key).Float64("value", v).Float64("default", defaultSnapshotSizeFactor).
			Msg("The configured zookeeper.snapshotSizeFactor is invalid, going to use the default")
		return defaultSnapshotSizeFactor
	}
	return v
}
