package harness

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/node"
)

// Dynamic reconfiguration (issue 17) support for mixed ensembles: members
// started with reconfigEnabled=true and Java's split config layout
// (MixedOptions.Reconfig, Dynamic), spare members that join by reconfig
// (MemberSpec.Spare), reconfigs issued through a chosen member, and what a
// member keeps on disk and serves as /zookeeper/config.

// SuperDigest is the digest of super:SuperPassword. Reconfig needs the
// super user (or skipACL) in Java 3.8: ReconfigOptions give it to every
// member, Java and zkgo.
const (
	SuperDigest   = "super:0bX78nEegDzJM3ju0iLBEJdWzjg="
	SuperPassword = "pw"
)

// ReconfigOptions returns opt with reconfigEnabled=true, the split
// (dynamic file) layout and the super user's digest set for every member
// (in zoo.cfg, which zkgo reads and Java turns into the
// zookeeper.DigestAuthenticationProvider.superDigest system property, and
// as that system property for Java members too).
func ReconfigOptions(opt MixedOptions) MixedOptions {
	opt.Reconfig, opt.Dynamic = true, true
	props := map[string]string{"DigestAuthenticationProvider.superDigest": SuperDigest}
	for k, v := range opt.Props {
		props[k] = v
	}
	sys := map[string]string{"zookeeper.DigestAuthenticationProvider.superDigest": SuperDigest}
	for k, v := range opt.SysProps {
		sys[k] = v
	}
	opt.Props, opt.SysProps = props, sys
	return opt
}

var zkgoReconfig struct {
	once sync.Once
	err  error
}

// ZkgoReconfig reports whether zkgo accepts reconfigEnabled=true for a
// quorum member: whether node.LoadConfig and node.New take a three-member
// zoo.cfg (split layout, as Java writes it) with it. Until the reconfig
// protocol is in (issue 17) they refuse it, naming reconfigEnabled, and
// the reconfig compat tests check that refusal for their zkgo members
// instead of running the scenario; once the refusal is lifted, the same
// tests run the full scenarios with zkgo members.
func ZkgoReconfig() bool { return ZkgoReconfigRefusal() == nil }

// ZkgoReconfigRefusal is the error zkgo gives for a quorum member with
// reconfigEnabled=true, nil once it accepts one (ZkgoReconfig).
func ZkgoReconfigRefusal() error {
	zkgoReconfig.once.Do(func() {
		dir, err := os.MkdirTemp("", "zkgo-reconfig-probe-")
		if err != nil {
			zkgoReconfig.err = fmt.Errorf("probe: %w", err)
			return
		}
		defer os.RemoveAll(dir)
		zkgoReconfig.err = ZkgoAccepts(probeConfig(dir))
	})
	return zkgoReconfig.err
}

// probeConfig writes a three-member zoo.cfg with reconfigEnabled=true and
// its dynamic file into dir and returns the zoo.cfg's path.
func probeConfig(dir string) string {
	data := filepath.Join(dir, "data")
	_ = os.MkdirAll(data, 0o755)
	_ = os.WriteFile(filepath.Join(data, "myid"), []byte("1\n"), 0o644)
	dyn := filepath.Join(dir, "zoo.cfg.dynamic.0")
	_ = os.WriteFile(dyn, []byte("server.1=127.0.0.1:1:2:participant;127.0.0.1:3\n"+
		"server.2=127.0.0.1:4:5:participant;127.0.0.1:6\n"+
		"server.3=127.0.0.1:7:8:participant;127.0.0.1:9\n"), 0o644)
	cfg := filepath.Join(dir, "zoo.cfg")
	_ = os.WriteFile(cfg, []byte(sortedLines(map[string]string{
		"tickTime": "200", "initLimit": "10", "syncLimit": "5", "dataDir": data,
		"standaloneEnabled": "false", "reconfigEnabled": "true", "dynamicConfigFile": dyn,
	})), 0o644)
	return cfg
}

// ZkgoAccepts reports whether zkgo would start from zoo.cfg cfgPath: nil,
// or the error node.LoadConfig or node.New gives (New only validates; it
// starts nothing).
func ZkgoAccepts(cfgPath string) error {
	cfg, err := node.LoadConfig(cfgPath)
	if err != nil {
		return err
	}
	cfg.Logger = zerolog.Nop()
	_, err = node.New(cfg)
	return err
}

// Spare reports whether member id was a spare (not in the initial
// configuration).
func (m *Mixed) Spare(id int64) bool { return m.member(id).spec.Spare }

// Dir is member id's directory: zoo.cfg and the dynamic files Java writes
// next to it.
func (m *Mixed) Dir(id int64) string { return m.member(id).dir }

// JoinLine is member id's server spec as a reconfig's joining or new
// member list takes it: "server.N=127.0.0.1:q:e:role;127.0.0.1:c" with
// role observer or participant as asked (not as the member started).
func (m *Mixed) JoinLine(id int64, observer bool) string {
	mm := m.member(id)
	role := "participant"
	if observer {
		role = "observer"
	}
	return fmt.Sprintf("server.%d=127.0.0.1:%d:%d:%s;127.0.0.1:%d", id, mm.quorumPort, mm.elec, role, mm.clientPort)
}

// TextLine is the "server.N=..." line Java's QuorumServer.toString gives
// member id in role observer or participant: the line of JoinLine, as
// /zookeeper/config and the dynamic files hold it.
func (m *Mixed) TextLine(id int64, observer bool) string { return m.JoinLine(id, observer) }

// DiskConfig is what a member keeps on disk: zoo.cfg's own lines (the
// static part) and the dynamic file it names, read as a Java member reads
// them at start.
type DiskConfig struct {
	Static      string           // zoo.cfg
	DynamicPath string           // dynamicConfigFile, "" when the servers are in zoo.cfg
	Version     string           // hex, from the dynamic file's name ("" when none)
	Servers     map[int64]string // server.N values, from the dynamic file (or zoo.cfg)
	Files       []string         // the zoo.cfg* file names in the member's directory
}

// ReadDiskConfig reads member id's zoo.cfg and the dynamic file it names.
func (m *Mixed) ReadDiskConfig(id int64) (DiskConfig, error) {
	mm := m.member(id)
	var dc DiskConfig
	b, err := os.ReadFile(mm.cfgPath)
	if err != nil {
		return dc, err
	}
	dc.Static = string(b)
	src := dc.Static
	for _, l := range strings.Split(dc.Static, "\n") {
		if v, ok := strings.CutPrefix(l, "dynamicConfigFile="); ok {
			dc.DynamicPath = strings.TrimSpace(v)
		}
	}
	if dc.DynamicPath != "" {
		b, err := os.ReadFile(dc.DynamicPath)
		if err != nil {
			return dc, err
		}
		src = string(b)
		if i := strings.LastIndexByte(dc.DynamicPath, '.'); i >= 0 {
			if v, err := strconv.ParseInt(dc.DynamicPath[i+1:], 16, 64); err == nil {
				dc.Version = strconv.FormatInt(v, 16)
			}
		}
	}
	dc.Servers = ServerLines(src)
	ents, err := os.ReadDir(mm.dir)
	if err != nil {
		return dc, err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "zoo.cfg") {
			dc.Files = append(dc.Files, e.Name())
		}
	}
	return dc, nil
}

// ServerLines returns the server.N values of a config text (zoo.cfg, a
// dynamic file or /zookeeper/config), by id.
func ServerLines(text string) map[int64]string {
	out := map[int64]string{}
	for _, l := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if !ok {
			continue
		}
		if n, ok := strings.CutPrefix(strings.TrimSpace(k), "server."); ok {
			if id, err := strconv.ParseInt(n, 10, 64); err == nil {
				out[id] = strings.TrimSpace(v)
			}
		}
	}
	return out
}

// ConfigVersion returns the version line of a config text ("" if none).
func ConfigVersion(text string) string {
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "version="); ok {
			return v
		}
	}
	return ""
}

// ConfigText builds the /zookeeper/config text a configuration of the
// given members has (QuorumMaj.toString): their TextLine in id order,
// observers as asked, then "version=<hex>".
func (m *Mixed) ConfigText(version string, observers map[int64]bool, ids ...int64) string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(m.TextLine(id, observers[id]) + "\n")
	}
	return b.String() + "version=" + version
}

// SuperConn connects to addr only (no failover) and authenticates as the
// super user, as a reconfig needs.
func SuperConn(addr string) (*zk.Conn, error) {
	c, ev, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogger(quiet{}))
	if err != nil {
		return nil, err
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				if err := c.AddAuth("digest", []byte("super:"+SuperPassword)); err != nil {
					c.Close()
					return nil, fmt.Errorf("addauth super at %s: %w", addr, err)
				}
				return c, nil
			}
		case <-deadline:
			c.Close()
			return nil, fmt.Errorf("no session at %s within 20s", addr)
		}
	}
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}

// ErrNewConfigNoQuorum is go-zookeeper 1.0.4's error for Java's
// NEWCONFIGNOQUORUM (-13), which it has no name for.
const ErrNewConfigNoQuorum = "unknown error: -13"

// ErrReconfigInProgress is the same for RECONFIGINPROGRESS (-14).
const ErrReconfigInProgress = "unknown error: -14"

// IsCode reports whether err is go-zookeeper's error for an error code
// it has no name for (ErrNewConfigNoQuorum, ErrReconfigInProgress).
func IsCode(err error, code string) bool { return err != nil && err.Error() == code }

// Reconfig issues an incremental reconfig through the member at addr as
// the super user (go-zookeeper's IncrementalReconfig; fromVersion -1 for
// no guard) and returns the new configuration's text as the member then
// serves it.
func Reconfig(addr string, joining, leaving []string, fromVersion int64) (string, error) {
	return reconfig(addr, func(c *zk.Conn) error {
		_, err := c.IncrementalReconfig(joining, leaving, fromVersion)
		return err
	})
}

// ReconfigMembers issues a non-incremental reconfig (go-zookeeper's
// Reconfig: the whole new member list) through the member at addr.
func ReconfigMembers(addr string, members []string, fromVersion int64) (string, error) {
	return reconfig(addr, func(c *zk.Conn) error {
		_, err := c.Reconfig(members, fromVersion)
		return err
	})
}

func reconfig(addr string, do func(*zk.Conn) error) (string, error) {
	c, err := SuperConn(addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := do(c); err != nil {
		return "", err
	}
	if _, err := c.Sync("/zookeeper/config"); err == nil {
		if data, _, err := c.Get("/zookeeper/config"); err == nil {
			return string(data), nil
		}
	}
	// The reconfig was acknowledged, but the member may have dropped its
	// clients since: a member whose role or leader changes with the new
	// configuration closes their connections while it rejoins (Java's
	// "changes proposed in reconfig"). Read what it serves once it is
	// back, with a new session.
	c.Close()
	var last error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		text, err := ServedConfig(addr)
		if err == nil {
			return text, nil
		}
		last = err
	}
	return "", fmt.Errorf("sync and getConfig after reconfig: %w", last)
}

// ServedConfig reads /zookeeper/config from the member at addr after a
// sync.
func ServedConfig(addr string) (string, error) {
	c, ev, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogger(quiet{}))
	if err != nil {
		return "", err
	}
	defer c.Close()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State != zk.StateHasSession {
				continue
			}
			if _, err := c.Sync("/zookeeper/config"); err != nil {
				return "", err
			}
			data, _, err := c.Get("/zookeeper/config")
			return string(data), err
		case <-deadline:
			return "", errors.New("no session within 15s")
		}
	}
}
