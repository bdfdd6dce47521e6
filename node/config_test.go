package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/node/quorum"
)

func TestParseConfigJavaRules(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader(`
# comment
! also a comment
dataDir=/var/zk
clientPort: 2182
maxSessionTimeout 90000
4lw.commands.whitelist = ruok , stat ,,
snapCount=5000
extendedTypesEnabled=true
DigestAuthenticationProvider.superDigest=super:abc=
myCustomKey=  hello world
tickTime=2000
tickTime=2500
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TickTime != 2500 {
		t.Errorf("last duplicate wins: tickTime %d", cfg.TickTime)
	}
	if cfg.ClientPort != 2182 || cfg.DataDir != "/var/zk" || cfg.DataLogDir != "/var/zk" {
		t.Errorf("ports/dirs: %+v", cfg)
	}
	if cfg.MinSessionTimeout != 5000 || cfg.MaxSessionTimeout != 90000 {
		t.Errorf("timeouts %d %d", cfg.MinSessionTimeout, cfg.MaxSessionTimeout)
	}
	if strings.Join(cfg.FourLetterWords, ",") != "ruok,stat" {
		t.Errorf("whitelist %v", cfg.FourLetterWords)
	}
	if cfg.SnapCount != 5000 || !cfg.ExtendedTypes || cfg.SuperDigest != "super:abc=" {
		t.Errorf("properties: %+v", cfg)
	}
	if cfg.Properties["zookeeper.myCustomKey"] != "hello world" {
		t.Errorf("unknown key: %q", cfg.Properties["zookeeper.myCustomKey"])
	}
	if cfg.MaxClientCnxns != 60 {
		t.Errorf("maxClientCnxns default %d", cfg.MaxClientCnxns)
	}
	if !cfg.FourLetterAllowed("stat") || cfg.FourLetterAllowed("mntr") {
		t.Error("whitelist check")
	}
}

func TestParseConfigDefaultsAndErrors(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader("clientPort=2181\ndataDir=/d\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TickTime != 3000 || cfg.MinSessionTimeout != 6000 || cfg.MaxSessionTimeout != 60000 {
		t.Errorf("Java defaults: tick %d min %d max %d", cfg.TickTime, cfg.MinSessionTimeout, cfg.MaxSessionTimeout)
	}
	if len(cfg.FourLetterWords) != 1 || cfg.FourLetterWords[0] != "srvr" {
		t.Errorf("default whitelist %v", cfg.FourLetterWords)
	}
	if _, err := ParseConfig(strings.NewReader("tickTime=2s\ndataDir=/d\n")); err == nil {
		t.Error("tickTime=2s accepted")
	}
	c, _ := ParseConfig(strings.NewReader("clientPort=2181\nminSessionTimeout=9000\nmaxSessionTimeout=5000\ndataDir=/d\n"))
	if c.validate() == nil {
		t.Error("min > max accepted")
	}
	if (Config{}).withDefaults().validate() == nil {
		t.Error("missing dataDir accepted")
	}
	// The embedded default (make run) answers every word, ruok included.
	if d := DefaultConfig(); !d.FourLetterAllowed("ruok") || !d.FourLetterAllowed("mntr") {
		t.Errorf("embedded default whitelist %v", d.FourLetterWords)
	}
}

func TestQuorumConfigText(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(dir+"/myid", []byte("2\n"), 0o644)
	cfg, err := ParseConfig(strings.NewReader("clientPort=2181\ndataDir=" + dir + "\ninitLimit=5\nsyncLimit=2\n" +
		"server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889:participant\nserver.3=10.0.0.3:2890:3890:observer;2181\n"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := parseQuorum(&cfg)
	if err != nil || q == nil {
		t.Fatalf("%v %v", q, err)
	}
	want := "server.1=127.0.0.1:2888:3888:participant\nserver.2=127.0.0.1:2889:3889:participant\n" +
		"server.3=10.0.0.3:2890:3890:observer;0.0.0.0:2181\nversion=0"
	if q.Text() != want {
		t.Fatalf("text:\n%s\nwant:\n%s", q.Text(), want)
	}
	if q.MyID != 2 || len(q.Voters()) != 2 || q.IsVoter(3) {
		t.Fatalf("%+v", q)
	}
	if !q.IsQuorum(map[int64]bool{1: true, 2: true}) || q.IsQuorum(map[int64]bool{1: true, 3: true}) {
		t.Fatal("quorum math")
	}
	// A single participant is standalone.
	cfg2, _ := ParseConfig(strings.NewReader("clientPort=2181\ndataDir=" + dir + "\nserver.1=127.0.0.1:2888:3888\n"))
	if q2, err := parseQuorum(&cfg2); q2 != nil || err != nil {
		t.Fatalf("single server: %v %v", q2, err)
	}
	for _, bad := range []string{"server.1=h:1:1", "server.1=h:1", "server.1=h:1:2:leader", "server.x=h:1:2"} {
		c, _ := ParseConfig(strings.NewReader("clientPort=2181\ndataDir=" + dir + "\ninitLimit=5\nsyncLimit=2\n" + bad + "\nserver.2=h:3:4\n"))
		if _, err := parseQuorum(&c); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestQuorumConfigRefusesUnsupportedFeatures(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "myid"), []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := "tickTime=200\ninitLimit=5\nsyncLimit=2\ndataDir=" + dir + "\n" +
		"server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889;2182\nserver.3=127.0.0.1:2890:3890:observer\n"
	cfg, err := ParseConfig(strings.NewReader(base))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Quorum == nil || cfg.Quorum.MyID != 2 || cfg.ClientPort != 2182 || cfg.ClientPortAddress != "0.0.0.0" {
		t.Fatalf("quorum %+v clientPort %d addr %q", cfg.Quorum, cfg.ClientPort, cfg.ClientPortAddress)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"sslQuorum", "quorum.auth.enableSasl", "multiAddress.enabled"} {
		c, err := ParseConfig(strings.NewReader(base + k + "=true\n"))
		if err == nil {
			err = c.validate()
		}
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=true accepted (%v)", k, err)
		}
	}
	// Dynamic reconfiguration is taken (issue 17).
	if c, err := ParseConfig(strings.NewReader(base + "reconfigEnabled=true\n")); err != nil || c.validate() != nil || !c.ReconfigEnabled {
		t.Errorf("reconfigEnabled=true refused: %v", err)
	}
	if _, err := ParseConfig(strings.NewReader(base + "clientPort=2199\n")); err == nil {
		t.Error("clientPort disagreeing with the server line accepted")
	}
	if _, err := ParseConfig(strings.NewReader(strings.Replace(base, "initLimit=5\n", "", 1))); err == nil {
		t.Error("quorum config without initLimit accepted")
	}
}

// The leader's sync throttle keys, as Java reads them: zoo.cfg keys become
// zookeeper.* properties; a value that is not a number means the default
// (Integer.getInteger); zero or less is refused (LearnerSyncThrottler).
func TestParseConfigSyncThrottle(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader("clientPort=2181\ndataDir=/d\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConcurrentSnapSyncs != 10 || cfg.MaxConcurrentDiffSyncs != 100 {
		t.Errorf("defaults %d %d, want 10 100", cfg.MaxConcurrentSnapSyncs, cfg.MaxConcurrentDiffSyncs)
	}
	cfg, err = ParseConfig(strings.NewReader("clientPort=2181\ndataDir=/d\nleader.maxConcurrentSnapSyncs=3\nzookeeper.leader.maxConcurrentDiffSyncs=7\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConcurrentSnapSyncs != 3 || cfg.MaxConcurrentDiffSyncs != 7 {
		t.Errorf("set %d %d, want 3 7", cfg.MaxConcurrentSnapSyncs, cfg.MaxConcurrentDiffSyncs)
	}
	cfg, err = ParseConfig(strings.NewReader("clientPort=2181\ndataDir=/d\nleader.maxConcurrentSnapSyncs=many\n"))
	if err != nil || cfg.MaxConcurrentSnapSyncs != 10 {
		t.Errorf("not a number: %d %v, want the default", cfg.MaxConcurrentSnapSyncs, err)
	}
	for _, bad := range []string{"leader.maxConcurrentSnapSyncs=0", "leader.maxConcurrentDiffSyncs=-2"} {
		c, err := ParseConfig(strings.NewReader("clientPort=2181\ndataDir=/d\n" + bad + "\n"))
		if err == nil {
			err = c.validate()
		}
		if err == nil || !strings.Contains(err.Error(), "must be positive") {
			t.Errorf("%s: %v, want refused", bad, err)
		}
	}
}

// group.N / weight.N lines (QuorumHierarchical) are parsed, not skipped:
// the member's every quorum count follows them, /zookeeper/config and
// notifications carry them, and Java's configuration errors are refused.
func TestQuorumConfigHierarchical(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "myid"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := "tickTime=200\ninitLimit=5\nsyncLimit=2\nclientPort=2181\ndataDir=" + dir + "\n" +
		"server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890\n" +
		"server.4=127.0.0.1:2891:3891\nserver.5=127.0.0.1:2892:3892\nserver.6=127.0.0.1:2893:3893:observer\n"
	cfg, err := ParseConfig(strings.NewReader(base + "group.1=1:2\ngroup.2=3:4\ngroup.3=5\nweight.5=2\n"))
	if err != nil {
		t.Fatal(err)
	}
	q := cfg.Quorum
	if _, ok := q.Verifier.(*quorum.Hierarchical); !ok {
		t.Fatalf("verifier %T, want hierarchical", q.Verifier)
	}
	for _, tc := range []struct {
		acks []int64
		want bool
	}{
		{[]int64{1, 3, 5}, false},   // a majority of 5 voters, one group
		{[]int64{1, 2, 5}, true},    // groups 1 and 3
		{[]int64{1, 2, 3, 4}, true}, // groups 1 and 2
		{[]int64{1, 2, 6}, false},   // the observer adds nothing
	} {
		acks := map[int64]bool{}
		for _, id := range tc.acks {
			acks[id] = true
		}
		if got := q.IsQuorum(acks); got != tc.want {
			t.Errorf("IsQuorum(%v) = %v, want %v", tc.acks, got, tc.want)
		}
	}
	want := "server.1=127.0.0.1:2888:3888:participant\nserver.2=127.0.0.1:2889:3889:participant\n" +
		"server.3=127.0.0.1:2890:3890:participant\nserver.4=127.0.0.1:2891:3891:participant\n" +
		"server.5=127.0.0.1:2892:3892:participant\nserver.6=127.0.0.1:2893:3893:observer\n" +
		"group.1=1:2\ngroup.2=3:4\ngroup.3=5\nweight.1=1\nweight.2=1\nweight.3=1\nweight.4=1\nweight.5=2\nversion=0"
	if q.Text() != want {
		t.Errorf("text:\n%s\nwant:\n%s", q.Text(), want)
	}
	for bad, msg := range map[string]string{
		"group.1=1:2\ngroup.2=3:4\n":               "Server 5is not in a group",
		"weight.1=3\n":                             "Server 1is not in a group",
		"group.1=1:2:3\ngroup.2=3:4:5\n":           "Server 3is in multiple groups",
		"group.1=1:2:3\ngroup.2=4:5:6\n":           "server 6 is not a participant and has no weight.6 line",
		"group.1=1:2:3\ngroup.2=4:5\nweight.2=x\n": `weight "x" is not a number`,
	} {
		if _, err := ParseConfig(strings.NewReader(base + bad)); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want %q", bad, err, msg)
		}
	}
	// Without group lines it is QuorumMaj: 3 of 5 is a quorum.
	cfg, err = ParseConfig(strings.NewReader(base))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Quorum.Verifier.(*quorum.Majority); !ok || !cfg.Quorum.IsQuorum(map[int64]bool{1: true, 3: true, 5: true}) {
		t.Errorf("verifier %T", cfg.Quorum.Verifier)
	}
}

// zoo.cfg keys zkgo does not implement and that matter to safety,
// security or who can connect refuse the start, naming the key (issue 14,
// point 5); the rest start, some with a warning.
func TestParseConfigRefusesUnimplementedSettings(t *testing.T) {
	base := "clientPort=2181\ndataDir=/d\n"
	for _, line := range []string{
		"secureClientPort=2281", // without a key store
		"secureClientPortAddress=127.0.0.1",
		"ssl.keyStore.type=JKS",
		"ssl.quorum.trustStore.type=JKS",
		"ssl.clientAuth=maybe",
		"ssl.authProvider=kerberos",
		"zookeeper.authProvider.2=com.example.MyProvider",
		"portUnification=maybe",
		"letAnySaslUserDoX=bob",
		"client.portUnification=true", // without a key store
		"DigestAuthenticationProvider.enabled=false",
		"DigestAuthenticationProvider.digestAlg=SHA3-256",
		"localSessionsEnabled=true",
		"observerMasterPort=2191",
		"oraclePath=/etc/zk/oracle",
		"enforceQuota=true",
		"zookeeper.enforceQuota=true",
		"leaderServes=no",
		"audit.enable=true",
		"maxCnxns=1000",
		"connection_throttle_tokens=100",
		"quorum.auth.learnerRequireSasl=true",
	} {
		key, _, _ := strings.Cut(line, "=")
		c, err := ParseConfig(strings.NewReader(base + line + "\n"))
		if err == nil {
			err = c.withDefaults().validate()
		}
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: %v, want refused naming %s", line, err, key)
		}
	}
	// These start: Java's defaults written out, keys that only tune Java
	// internals, and the built-in providers.
	for _, line := range []string{
		"secureClientPort=0",
		"portUnification=false",
		"authProvider.1=org.apache.zookeeper.server.auth.DigestAuthenticationProvider",
		"authProvider.ip=org.apache.zookeeper.server.auth.IPAuthenticationProvider",
		"DigestAuthenticationProvider.enabled=true",
		"DigestAuthenticationProvider.digestAlg=SHA1",
		"localSessionsEnabled=false",
		"localSessionsUpgradingEnabled=true",
		"observerMasterPort=0",
		"enforceQuota=false",
		"leaderServes=yes",
		"audit.enable=false",
		"maxCnxns=0",
		"admin.enableServer=false",
		"admin.serverPort=8080",
		"metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
		"sslQuorum=true", // standalone: no quorum to secure
		"reconfigEnabled=true",
		"globalOutstandingLimit=1000",
		"serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
		"commitLogCount=500",
		"allowSaslFailedClients=true",
		"kerberos.removeHostFromPrincipal=true",
	} {
		c, err := ParseConfig(strings.NewReader(base + line + "\n"))
		if err == nil {
			err = c.withDefaults().validate()
		}
		if err != nil {
			t.Errorf("%s: %v, want accepted", line, err)
		}
	}
	// The AdminServer and the Prometheus metrics provider are implemented
	// (TestAdminServerConfig, TestMetricsProviderConfig): asking for them
	// warns about nothing.
	c, err := ParseConfig(strings.NewReader(base + "admin.enableServer=true\nadmin.serverPort=8081\n" +
		"metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\nmetricsProvider.httpPort=7000\n"))
	if err != nil {
		t.Fatal(err)
	}
	if w := warnedSettings(c.Raw); len(w) != 0 {
		t.Errorf("warned about %v", w)
	}
	// Quorum-only refusals apply to quorum members (TestQuorumConfigRefusesUnsupportedFeatures).
}

// TestAdminServerConfig: the admin.* keys. The AdminServer is on unless
// admin.enableServer is exactly "false" (Java's test), at
// serverAddress:serverPort (0.0.0.0:8080) under commandURL (/commands);
// TLS and values that are not numbers refuse the config naming the key;
// keys nothing reads warn.
func TestAdminServerConfig(t *testing.T) {
	const base = "dataDir=/d\nclientPort=2181\n"
	for _, tc := range []struct {
		cfg, addr, url, refused, warned string
		on                              bool
		idle                            time.Duration
	}{
		{cfg: "", on: true, addr: "0.0.0.0:8080", url: "/commands", idle: 30 * time.Second},
		{cfg: "admin.enableServer=false\nadmin.serverPort=x\nadmin.forceHttps=true\n"},
		{cfg: "admin.enableServer=FALSE\n", on: true, addr: "0.0.0.0:8080", url: "/commands", idle: 30 * time.Second},
		{cfg: "admin.serverAddress=127.0.0.1\nadmin.serverPort=9090\nadmin.commandURL=/cmd/\nadmin.idleTimeout=5000\nadmin.httpVersion=11\n",
			on: true, addr: "127.0.0.1:9090", url: "/cmd", idle: 5 * time.Second},
		{cfg: "zookeeper.admin.serverPort=9091\n", on: true, addr: "0.0.0.0:9091", url: "/commands", idle: 30 * time.Second},
		{cfg: "admin.httpVersion=10\nadmin.color=blue\n", on: true, addr: "0.0.0.0:8080", url: "/commands", idle: 30 * time.Second,
			warned: "admin.color,admin.httpVersion"},
		{cfg: "admin.serverPort=eighty\n", refused: "admin.serverPort=eighty"},
		{cfg: "admin.idleTimeout=soon\n", refused: "admin.idleTimeout=soon"},
		{cfg: "admin.forceHttps=true\n", refused: "admin.forceHttps=true"},
		{cfg: "admin.portUnification=true\n", refused: "admin.portUnification=true"},
	} {
		c, err := ParseConfig(strings.NewReader(base + tc.cfg))
		if err == nil {
			err = c.withDefaults().validate()
		}
		if tc.refused != "" {
			if err == nil || !strings.Contains(err.Error(), tc.refused) {
				t.Errorf("%q: error %v, want one naming %s", tc.cfg, err, tc.refused)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.cfg, err)
			continue
		}
		ac, _, _ := ParseAdminServer(c.Raw)
		if ac.Enabled != tc.on || tc.on && (ac.Addr != tc.addr || ac.CommandURL != tc.url || ac.IdleTimeout != tc.idle) {
			t.Errorf("%q: %+v", tc.cfg, ac)
		}
		var warned []string
		for _, w := range warnedSettings(c.Raw) {
			warned = append(warned, w[0])
		}
		if got := strings.Join(warned, ","); got != tc.warned {
			t.Errorf("%q: warned about %q, want %q", tc.cfg, got, tc.warned)
		}
	}
}

// TestMetricsProviderConfig: the metricsProvider.* keys. PrometheusMetricsProvider
// is served on httpHost:httpPort; values Java's configure cannot parse, and
// provider classes zkgo cannot load, refuse the config naming the key;
// keys nothing reads are warned about.
func TestMetricsProviderConfig(t *testing.T) {
	const base = "dataDir=/d\nclientPort=2181\n"
	const prom = "metricsProvider.className=" + PrometheusProviderClass + "\n"
	for _, tc := range []struct {
		cfg, addr, refused, warned string
		on                         bool
	}{
		{cfg: "", addr: "0.0.0.0:7000"},
		{cfg: "metricsProvider.className=" + NullProviderClass + "\n", addr: "0.0.0.0:7000"},
		{cfg: prom, addr: "0.0.0.0:7000", on: true},
		{cfg: prom + "metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=7001\nmetricsProvider.exportJvmInfo=false\n" +
			"metricsProvider.numWorkerThreads=4\nmetricsProvider.maxQueueSize=10\nmetricsProvider.workerShutdownTimeoutMs=10\n",
			addr: "127.0.0.1:7001", on: true},
		{cfg: prom + "metricsProvider.exportJvmInfo=true\n", addr: "0.0.0.0:7000", on: true, warned: "metricsProvider.exportJvmInfo"},
		{cfg: prom + "metricsProvider.color=blue\n", addr: "0.0.0.0:7000", on: true, warned: "metricsProvider.color"},
		{cfg: "metricsProvider.httpPort=7001\n", addr: "0.0.0.0:7000", warned: "metricsProvider.httpPort"},
		{cfg: prom + "metricsProvider.httpPort=seven\n", refused: "metricsProvider.httpPort=seven"},
		{cfg: prom + "metricsProvider.httpPort=70000\n", refused: "metricsProvider.httpPort=70000"},
		{cfg: prom + "metricsProvider.numWorkerThreads=x\n", refused: "metricsProvider.numWorkerThreads=x"},
		{cfg: "metricsProvider.className=com.example.Mine\n", refused: "metricsProvider.className=com.example.Mine"},
	} {
		c, err := ParseConfig(strings.NewReader(base + tc.cfg))
		if err == nil {
			err = c.withDefaults().validate()
		}
		if tc.refused != "" {
			if err == nil || !strings.Contains(err.Error(), tc.refused) {
				t.Errorf("%q: error %v, want one naming %s", tc.cfg, err, tc.refused)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.cfg, err)
			continue
		}
		mp, _, _ := ParseMetricsProvider(c.Raw)
		if mp.Prometheus != tc.on || mp.Addr != tc.addr {
			t.Errorf("%q: %+v, want prometheus %v at %s", tc.cfg, mp, tc.on, tc.addr)
		}
		var warned []string
		for _, w := range warnedSettings(c.Raw) {
			warned = append(warned, w[0])
		}
		if got := strings.Join(warned, ","); got != tc.warned {
			t.Errorf("%q: warned about %q, want %q", tc.cfg, got, tc.warned)
		}
	}
}

// Java's client port rules (QuorumPeerConfig.parseProperties and
// setupClientPort): clientPortAddress needs clientPort; the server line's
// client address stands in for clientPort. With no client port at all Java
// 3.8.0 runs without a client listener; zkgo refuses to start rather than
// listen on a random port of every interface.
func TestParseConfigClientPort(t *testing.T) {
	for cfg, want := range map[string]string{
		"dataDir=/d\n":                                                  "no client port",
		"dataDir=/d\nclientPort=0\n":                                    "no client port",
		"dataDir=/d\nclientPortAddress=127.0.0.1\n":                     "clientPortAddress is set but clientPort is not set",
		"dataDir=/d\nclientPort=0\nsecureClientPortAddress=127.0.0.1\n": "secureClientPortAddress is set but secureClientPort is not set",
	} {
		if _, err := ParseConfig(strings.NewReader(cfg)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", cfg, err, want)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "myid"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	quorum := "initLimit=5\nsyncLimit=2\ndataDir=" + dir + "\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890\n"
	c, err := ParseConfig(strings.NewReader(quorum + "server.1=127.0.0.1:2888:3888;127.0.0.2:2185\n"))
	if err != nil || c.ClientPort != 2185 || c.ClientPortAddress != "127.0.0.2" {
		t.Errorf("server line client address: %d %q %v", c.ClientPort, c.ClientPortAddress, err)
	}
	if _, err := ParseConfig(strings.NewReader(quorum + "server.1=127.0.0.1:2888:3888\n")); err == nil ||
		!strings.Contains(err.Error(), "no client port") {
		t.Errorf("quorum member without a client port: %v", err)
	}
	if _, err := ParseConfig(strings.NewReader(quorum + "clientPortAddress=127.0.0.1\nserver.1=127.0.0.1:2888:3888;2185\n")); err == nil ||
		!strings.Contains(err.Error(), "clientPortAddress is set but clientPort is not set") {
		t.Errorf("clientPortAddress without clientPort: %v", err)
	}
}

// enforce.auth.enabled / enforce.auth.schemes as Java's
// AuthenticationHelper reads and validates them.
func TestParseConfigEnforceAuth(t *testing.T) {
	base := "clientPort=2181\ndataDir=/d\n"
	c, err := ParseConfig(strings.NewReader(base + "enforce.auth.enabled=TRUE\nenforce.auth.schemes= digest , ip\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.EnforceAuth || strings.Join(c.EnforceAuthSchemes, ",") != "digest,ip" {
		t.Errorf("enforce %v %q", c.EnforceAuth, c.EnforceAuthSchemes)
	}
	if err := c.validate(); err != nil {
		t.Error(err)
	}
	for cfg, want := range map[string]string{
		"enforce.auth.enabled=true\n":                                                                 "zookeeper.enforce.auth.enabled is true zookeeper.enforce.auth.schemes must be  configured.",
		"enforce.auth.enabled=true\nenforce.auth.schemes=sasl\n":                                      "Authentication scheme sasl is not available.",
		"enforce.auth.enabled=true\nenforce.auth.schemes=digest,\n":                                   "Authentication scheme  is not available.",
		"enforce.auth.enabled=true\nenforce.auth.schemes=super\n":                                     "Authentication scheme super is not available.",
		"sessionRequireClientSASLAuth=true\n":                                                         "Authentication scheme sasl is not available.",
		"sessionRequireClientSASLAuth=true\nenforce.auth.enabled=true\nenforce.auth.schemes=digest\n": "Authentication scheme sasl is not available.",
	} {
		c, err := ParseConfig(strings.NewReader(base + cfg))
		if err == nil {
			err = c.validate()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", cfg, err, want)
		}
	}
	// Disabled, the schemes are not checked (Java validates only when on).
	c, _ = ParseConfig(strings.NewReader(base + "enforce.auth.enabled=false\nenforce.auth.schemes=sasl\n"))
	if c.EnforceAuth || c.validate() != nil {
		t.Errorf("disabled enforce: %v %v", c.EnforceAuth, c.validate())
	}
}

// TestRecordLimit: every reader and the write path use jute.maxbuffer plus
// Java's extra allowance (BinaryInputArchive: zookeeper.jute.maxbuffer.
// extrasize, default jute.maxbuffer, never below 1024). zoo.cfg spells
// them jute.maxbuffer and jute.maxbuffer.extrasize; values zkgo cannot use
// are refused.
func TestRecordLimit(t *testing.T) {
	for _, tc := range []struct {
		cfg  string
		want int
	}{
		{"", 2 * 0xfffff},
		{"jute.maxbuffer=8388608\n", 2 * 8388608},
		{"jute.maxbuffer=8388608\njute.maxbuffer.extrasize=4096\n", 8388608 + 4096},
		{"jute.maxbuffer.extrasize=10\n", 0xfffff + 1024},
		{"zookeeper.jute.maxbuffer=2000000\n", 4000000},
	} {
		c, err := ParseConfig(strings.NewReader("dataDir=/d\nclientPort=2181\n" + tc.cfg))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.validate(); err != nil {
			t.Fatalf("%q: %v", tc.cfg, err)
		}
		if got := c.RecordLimit(); got != tc.want {
			t.Errorf("%q: record limit %d, want %d", tc.cfg, got, tc.want)
		}
	}
	for _, bad := range []string{"jute.maxbuffer=1M\n", "jute.maxbuffer.extrasize=lots\n", "jute.maxbuffer=-5\n",
		"jute.maxbuffer=2000000000\n"} {
		c, err := ParseConfig(strings.NewReader("dataDir=/d\nclientPort=2181\n" + bad))
		if err == nil {
			err = c.validate()
		}
		if err == nil || !strings.Contains(err.Error(), "jute.maxbuffer") {
			t.Errorf("%q accepted: %v", bad, err)
		}
	}
}

// Numeric quorum keys Java parses strictly refuse the config when they
// are not numbers: cnxTimeout (QuorumCnxManager, Integer.parseInt; read by
// quorum members only) and version (QuorumMaj, Long.parseLong(v, 16);
// standalone too). Checked against Java 3.8.0: both exit with code 2.
func TestParseConfigRefusesNonNumericQuorumKeys(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "myid"), []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	quorumBase := "tickTime=200\ninitLimit=5\nsyncLimit=2\nclientPort=2181\ndataDir=" + dir + "\n" +
		"server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890\n"
	standalone := "tickTime=200\nclientPort=2181\ndataDir=" + dir + "\n"
	load := func(text string) (Config, error) {
		c, err := ParseConfig(strings.NewReader(text))
		if err == nil {
			err = c.validate()
		}
		return c, err
	}
	for _, tc := range []struct {
		name, text, key string // key: "" when accepted
	}{
		{"cnxTimeout number", quorumBase + "cnxTimeout=7000\n", ""},
		{"cnxTimeout word", quorumBase + "cnxTimeout=abc\n", "zookeeper.cnxTimeout"},
		{"cnxTimeout 5s", quorumBase + "cnxTimeout=5s\n", "zookeeper.cnxTimeout"},
		{"cnxTimeout beyond int", quorumBase + "cnxTimeout=3000000000\n", "zookeeper.cnxTimeout"},
		{"cnxTimeout standalone", standalone + "cnxTimeout=abc\n", ""},
		{"version hex", quorumBase + "version=100000000\n", ""},
		{"version word", quorumBase + "version=zz\n", "version"},
		{"version 0x", quorumBase + "version=0x10\n", "version"},
		{"version standalone", standalone + "version=zz\n", "version"},
	} {
		c, err := load(tc.text)
		switch {
		case tc.key == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.key != "" && (err == nil || !strings.Contains(err.Error(), tc.key)):
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.key)
		case tc.name == "version hex" && (c.Quorum == nil || c.Quorum.Version != 0x100000000):
			t.Errorf("%s: quorum %+v, want version 0x100000000", tc.name, c.Quorum)
		}
	}
}

// TestSnapshotSizeFactorAsJava: zookeeper.snapshotSizeFactor above 1 or
// not a number falls back to 0.33 as in Java 3.8's ZKDatabase (faults
// finding F3: zkgo's leader used 10 as given and sent DIFFs where Java
// sends a SNAP).
func TestSnapshotSizeFactorAsJava(t *testing.T) {
	for _, tc := range []struct {
		value string
		set   bool
		want  float64
	}{
		{"", false, 0.33},
		{"0.5", true, 0.5},
		{"1", true, 1},
		{"10", true, 0.33},
		{"1.01", true, 0.33},
		{"-1", true, -1},
		{"0", true, 0},
		{"many", true, 0.33},
		{"NaN", true, 0.33},
	} {
		p := map[string]string{}
		if tc.set {
			p["zookeeper.snapshotSizeFactor"] = tc.value
		}
		if got := snapshotSizeFactor(p, zerolog.Nop()); got != tc.want {
			t.Errorf("snapshotSizeFactor=%q: got %v, want %v", tc.value, got, tc.want)
		}
	}
}

// dynamicConfigFile as Java 3.8 writes it: zoo.cfg without servers, the
// servers in zoo.cfg.dynamic.<hex>, whose name gives the version. The
// files are those a Java 3.8.0 member (id 1, no client part in its own
// server line) left after its first activation.
func TestParseConfigDynamicFile(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "myid"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("quorum", "testdata", "java380", name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.ReplaceAll(string(b), "/tmp/rc/zk1", dir)
	}
	static := read("zk1.zoo.cfg.100000000")
	dyn := filepath.Join(dir, "zoo.cfg.dynamic.100000000")
	if err := os.WriteFile(dyn, []byte(read("zoo.cfg.dynamic.100000000")), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(strings.NewReader(static))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	q := cfg.Quorum
	if q == nil || q.MyID != 1 || q.Version != 0x100000000 || len(q.Voters()) != 3 {
		t.Fatalf("quorum %+v", q)
	}
	want := "server.1=127.0.0.1:27281:27381:participant\n" +
		"server.2=127.0.0.1:27282:27382:participant;0.0.0.0:27182\n" +
		"server.3=127.0.0.1:27283:27383:participant;127.0.0.1:27183\nversion=100000000"
	if q.Text() != want {
		t.Errorf("text:\n%s\nwant\n%s", q.Text(), want)
	}
	if cfg.ClientPort != 27181 {
		t.Errorf("clientPort %d", cfg.ClientPort)
	}

	// Java's refusals, with its messages.
	for _, tc := range []struct {
		static, dynamic, want string
	}{
		{static + "server.4=127.0.0.1:1:2\n", read("zoo.cfg.dynamic.100000000"),
			"parameter: server.4 must be in a separate dynamic config file"},
		{static + "group.1=1:2:3\n", read("zoo.cfg.dynamic.100000000"),
			"parameter: group.1 must be in a separate dynamic config file"},
		{static, read("zoo.cfg.dynamic.100000000") + "\nversion=100000000", "dynamic file shouldn't have version inside"},
		{static, read("zoo.cfg.dynamic.100000000") + "\ntickTime=2000", "Unrecognised parameter: tickTime"},
		{static, "server.1=127.0.0.1:27281:27381|127.0.0.2:27281:27381\nserver.2=127.0.0.1:27282:27382",
			"multiAddress.enabled"},
	} {
		if err := os.WriteFile(dyn, []byte(tc.dynamic), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ParseConfig(strings.NewReader(tc.static))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v, want %q", err, tc.want)
		}
	}
	// A file name without a version means version 0.
	plain := filepath.Join(dir, "zoo.cfg.dynamic")
	if err := os.WriteFile(plain, []byte(read("zoo.cfg.dynamic.100000000")), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err = ParseConfig(strings.NewReader(strings.Replace(static, dyn, plain, 1)))
	if err != nil || cfg.Quorum == nil || cfg.Quorum.Version != 0 {
		t.Fatalf("%v %+v", err, cfg.Quorum)
	}
}

// standaloneEnabled=false: one participant is an ensemble of one, and no
// participant at all is refused (QuorumPeerConfig.parseDynamicConfig).
func TestParseConfigStandaloneDisabled(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "myid"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := "tickTime=200\ninitLimit=5\nsyncLimit=2\nclientPort=2181\ndataDir=" + dir + "\n"
	cfg, err := ParseConfig(strings.NewReader(base + "standaloneEnabled=false\nserver.1=127.0.0.1:2888:3888\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Quorum == nil || cfg.Quorum.MyID != 1 || len(cfg.Quorum.Voters()) != 1 {
		t.Fatalf("one participant with standaloneEnabled=false: quorum %+v", cfg.Quorum)
	}
	_, err = ParseConfig(strings.NewReader(base + "standaloneEnabled=false\n"))
	if err == nil || !strings.Contains(err.Error(), "standaloneEnabled = false then number of participants should be >0") {
		t.Errorf("no participants with standaloneEnabled=false: %v", err)
	}
	cfg, err = ParseConfig(strings.NewReader(base + "server.1=127.0.0.1:2888:3888\n"))
	if err != nil || cfg.Quorum != nil {
		t.Errorf("one participant, standaloneEnabled default: %v %+v", err, cfg.Quorum)
	}
}

// The version is rendered as Long.toHexString renders it: unsigned.
func TestQuorumTextNegativeVersion(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "myid"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(strings.NewReader("tickTime=200\ninitLimit=5\nsyncLimit=2\nclientPort=2181\ndataDir=" + dir +
		"\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nversion=-1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Quorum.Text(); !strings.HasSuffix(got, "\nversion=ffffffffffffffff") {
		t.Errorf("text %q", got)
	}
}
