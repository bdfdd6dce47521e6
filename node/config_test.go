package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	cfg, err := ParseConfig(strings.NewReader("dataDir=/d\n"))
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
	c, _ := ParseConfig(strings.NewReader("minSessionTimeout=9000\nmaxSessionTimeout=5000\ndataDir=/d\n"))
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
	cfg, err := ParseConfig(strings.NewReader("dataDir=" + dir + "\ninitLimit=5\nsyncLimit=2\n" +
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
	cfg2, _ := ParseConfig(strings.NewReader("dataDir=" + dir + "\nserver.1=127.0.0.1:2888:3888\n"))
	if q2, err := parseQuorum(&cfg2); q2 != nil || err != nil {
		t.Fatalf("single server: %v %v", q2, err)
	}
	for _, bad := range []string{"server.1=h:1:1", "server.1=h:1", "server.1=h:1:2:leader", "server.x=h:1:2"} {
		c, _ := ParseConfig(strings.NewReader("dataDir=" + dir + "\ninitLimit=5\nsyncLimit=2\n" + bad + "\nserver.2=h:3:4\n"))
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
	for _, k := range []string{"sslQuorum", "quorum.auth.enableSasl", "reconfigEnabled"} {
		c, err := ParseConfig(strings.NewReader(base + k + "=true\n"))
		if err == nil {
			err = c.validate()
		}
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=true accepted (%v)", k, err)
		}
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
	cfg, err := ParseConfig(strings.NewReader("dataDir=/d\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConcurrentSnapSyncs != 10 || cfg.MaxConcurrentDiffSyncs != 100 {
		t.Errorf("defaults %d %d, want 10 100", cfg.MaxConcurrentSnapSyncs, cfg.MaxConcurrentDiffSyncs)
	}
	cfg, err = ParseConfig(strings.NewReader("dataDir=/d\nleader.maxConcurrentSnapSyncs=3\nzookeeper.leader.maxConcurrentDiffSyncs=7\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConcurrentSnapSyncs != 3 || cfg.MaxConcurrentDiffSyncs != 7 {
		t.Errorf("set %d %d, want 3 7", cfg.MaxConcurrentSnapSyncs, cfg.MaxConcurrentDiffSyncs)
	}
	cfg, err = ParseConfig(strings.NewReader("dataDir=/d\nleader.maxConcurrentSnapSyncs=many\n"))
	if err != nil || cfg.MaxConcurrentSnapSyncs != 10 {
		t.Errorf("not a number: %d %v, want the default", cfg.MaxConcurrentSnapSyncs, err)
	}
	for _, bad := range []string{"leader.maxConcurrentSnapSyncs=0", "leader.maxConcurrentDiffSyncs=-2"} {
		c, err := ParseConfig(strings.NewReader("dataDir=/d\n" + bad + "\n"))
		if err == nil {
			err = c.validate()
		}
		if err == nil || !strings.Contains(err.Error(), "must be positive") {
			t.Errorf("%s: %v, want refused", bad, err)
		}
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
		c, err := ParseConfig(strings.NewReader("dataDir=/d\n" + tc.cfg))
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
		c, err := ParseConfig(strings.NewReader("dataDir=/d\n" + bad))
		if err == nil {
			err = c.validate()
		}
		if err == nil || !strings.Contains(err.Error(), "jute.maxbuffer") {
			t.Errorf("%q accepted: %v", bad, err)
		}
	}
}
