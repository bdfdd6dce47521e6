package xchk

import (
	"strconv"
	"testing"

	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/node"
)

// SuperAuth is the digest login of the pairs' superDigest.
const SuperAuth = "super:test"

// superDigest is digest:super:base64(sha1("super:test")).
const superDigest = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="

// PairConfig is one configuration, applied the same way to Java and zkgo.
type PairConfig struct {
	TickTime          int  // ms (default 100, so a session can expire in 200 ms)
	MinSessionTimeout int  // ms (default 2*TickTime, as both servers default)
	MaxSessionTimeout int  // ms (default DefaultTimeoutMs)
	ExtendedTypes     bool // zookeeper.extendedTypesEnabled (TTL nodes)
	// ContainerCheckMs is znode.container.checkIntervalMs (default one hour:
	// no reaping behind a random run's back).
	ContainerCheckMs int
	NoSuperDigest    bool // leave zookeeper.DigestAuthenticationProvider.superDigest unset
	// JavaDataDir and ZkgoDataDir start the servers on existing data (each
	// gets its own directory; they are used in place).
	JavaDataDir, ZkgoDataDir string
	// TrustEmptySnapshot is zookeeper.snapshot.trust.empty (start from txn
	// logs without a snapshot).
	TrustEmptySnapshot bool
	// DigestMismatches is how many digest mismatches zkgo is expected to
	// count (a scenario where Java counts the same; default none).
	DigestMismatches int
	// WrapZkgo, when set, replaces zkgo's address by the one it returns (a
	// Tamper proxy in front of it).
	WrapZkgo func(addr string) string
}

func (pc PairConfig) withDefaults() PairConfig {
	if pc.TickTime == 0 {
		pc.TickTime = 100
	}
	if pc.MinSessionTimeout == 0 {
		pc.MinSessionTimeout = 2 * pc.TickTime
	}
	if pc.MaxSessionTimeout == 0 {
		pc.MaxSessionTimeout = DefaultTimeoutMs
	}
	if pc.ContainerCheckMs == 0 {
		pc.ContainerCheckMs = 3600_000
	}
	return pc
}

// StartPair starts Java ZooKeeper 3.8 and zkgo with equivalent
// configuration (fsync off on both: conformance, not durability, is under
// test here) and returns them as targets, Java first. Both stop at test
// cleanup. It skips or fails (CI=true) when Java is missing.
func StartPair(t testing.TB, pc PairConfig) []Target {
	t.Helper()
	harness.SkipShort(t)
	harness.RequireJava(t)
	pc = pc.withDefaults()
	sys := map[string]string{
		// Java decodes digest credentials with the JVM's default charset;
		// zkgo always with UTF-8 (DIFFERENCES.md #21).
		"file.encoding":                   "UTF-8",
		"zookeeper.forceSync":             "no",
		"znode.container.checkIntervalMs": strconv.Itoa(pc.ContainerCheckMs),
	}
	if pc.ExtendedTypes {
		sys["zookeeper.extendedTypesEnabled"] = "true"
	}
	if !pc.NoSuperDigest {
		sys["zookeeper.DigestAuthenticationProvider.superDigest"] = superDigest
	}
	if pc.TrustEmptySnapshot {
		sys["zookeeper.snapshot.trust.empty"] = "true"
	}
	j := harness.StartJavaZK(t, harness.JavaOptions{
		Props: map[string]string{
			"tickTime":          strconv.Itoa(pc.TickTime),
			"minSessionTimeout": strconv.Itoa(pc.MinSessionTimeout),
			"maxSessionTimeout": strconv.Itoa(pc.MaxSessionTimeout),
		},
		SysProp: sys,
		DataDir: pc.JavaDataDir,
	})
	z := harness.StartZkgo(t, func(c *node.Config) {
		c.TickTime = pc.TickTime
		c.MinSessionTimeout = pc.MinSessionTimeout
		c.MaxSessionTimeout = pc.MaxSessionTimeout
		c.ExtendedTypes = pc.ExtendedTypes
		c.ContainerCheckMs = pc.ContainerCheckMs
		c.ForceSync = false
		c.MaxClientCnxns = 0
		// Warnings and errors only: a run has many thousands of sessions.
		c.Logger = harness.TestLogger(t, zerolog.WarnLevel)
		if !pc.NoSuperDigest {
			c.SuperDigest = superDigest
		}
		if pc.ZkgoDataDir != "" {
			c.DataDir = pc.ZkgoDataDir
		}
		if pc.TrustEmptySnapshot {
			if c.Properties == nil {
				c.Properties = map[string]string{}
			}
			c.Properties["zookeeper.snapshot.trust.empty"] = "true"
		}
	})
	z.DigestMismatches = pc.DigestMismatches
	super := SuperAuth
	if pc.NoSuperDigest {
		super = ""
	}
	zaddr := z.Addr
	if pc.WrapZkgo != nil {
		zaddr = pc.WrapZkgo(zaddr)
	}
	return []Target{{Name: "java", Addr: j.Addr, SuperAuth: super}, {Name: "zkgo", Addr: zaddr, SuperAuth: super}}
}
