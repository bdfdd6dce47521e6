package compattest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/node"
	"github.com/zkgo/zkgo/node/quorum"
)

// Dynamic reconfiguration (issue 17): what zkgo already shares with Java
// 3.8 while reconfigEnabled=true is refused for its quorum members.

// /zookeeper/config (what getConfig reads) is the same on every member of
// a mixed ensemble, zkgo and Java, participants and an observer, whatever
// form the server lines give the client address in: none (clientPort in
// zoo.cfg: the address is not shown), a port only (shown as 0.0.0.0:port)
// or host:port. Data and stat are compared (mtime and ctime aside, which
// each member sets when it starts).
func TestCompat_ConfigNodeMixed(t *testing.T) {
	harness.RequireJava(t)
	m := harness.NewMixed(t, harness.MixedOptions{
		Members: []harness.MemberSpec{
			{ID: 1, Kind: harness.MemberJava, Client: harness.ClientStatic},
			{ID: 2, Kind: harness.MemberExternal, Client: harness.ClientPortOnly},
			{ID: 3, Kind: harness.MemberExternal, Client: harness.ClientStatic},
			{ID: 4, Kind: harness.MemberJava},
			{ID: 5, Kind: harness.MemberExternal, Observer: true, Client: harness.ClientPortOnly},
			{ID: 6, Kind: harness.MemberJava, Observer: true, Client: harness.ClientStatic},
		},
		TickTime: 200, InitLimit: 20, SyncLimit: 10,
	})
	e := &zkgoEnsemble{t: t, m: m, zk: map[int64]*harness.Zkgo{}}
	m.Start(1)
	m.Start(4)
	m.Start(6)
	for _, id := range []int64{2, 3, 5} {
		e.start(id)
	}
	// Every member serves, the observers as observers, under one leader.
	modes := func() map[int64]string {
		out := map[int64]string{}
		for id := int64(1); id <= 6; id++ {
			if z := e.zk[id]; z != nil {
				out[id] = z.Server.Mode()
			} else if mode, err := m.Mode(id); err == nil {
				out[id] = mode
			}
		}
		return out
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		got := modes()
		leaders, serving := 0, 0
		for id, mode := range got {
			switch {
			case mode == "leader" && id <= 4:
				leaders++
				serving++
			case mode == "follower" && id <= 4, mode == "observer" && id > 4:
				serving++
			}
		}
		if leaders == 1 && serving == 6 {
			t.Logf("modes %v", got)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ensemble not formed: modes %v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}

	want := m.QuorumText()
	type view struct {
		data string
		stat zk.Stat
	}
	views := map[int64]view{}
	for id := int64(1); id <= 6; id++ {
		addr := m.ClientAddr(id)
		if z := e.zk[id]; z != nil {
			addr = z.Addr
		}
		c := zkConn(t, addr)
		data, st, err := c.Get("/zookeeper/config")
		must(t, err)
		st.Mtime, st.Ctime = 0, 0
		views[id] = view{string(data), *st}
	}
	for id, v := range views {
		if v.data != want {
			t.Errorf("member %d: /zookeeper/config differs (-expected +got):\n%s", id, lineDiff(want, v.data))
		}
		if v.stat != views[1].stat {
			t.Errorf("member %d: stat %s, Java member 1 has %s", id, fmtStat(v.stat), fmtStat(views[1].stat))
		}
	}
	checkJavaLogsOf(t, m, 1, 4, 6)
}

func fmtStat(s zk.Stat) string {
	return fmt.Sprintf("{czxid=%#x mzxid=%#x pzxid=%#x version=%d cversion=%d aversion=%d owner=%#x len=%d children=%d}",
		s.Czxid, s.Mzxid, s.Pzxid, s.Version, s.Cversion, s.Aversion, s.EphemeralOwner, s.DataLength, s.NumChildren)
}

// superDigest is super:pw, for reconfigs through zkCli.sh.
const superDigest = "super:0bX78nEegDzJM3ju0iLBEJdWzjg="

// TestCompat_DecodeReconfig captures a Java 3.8.0 ensemble with
// reconfigEnabled=true (three participants and an observer) through
// zkCli.sh reconfigs sent to a follower: a follower removed and added
// back, the observer promoted, a reconfig refused by its version guard.
// zkgo decode must show the reconfig requests and replies with the
// configuration version they produce, the forwarded REQUEST, the PROPOSAL
// of each new configuration, COMMITANDACTIVATE to followers,
// INFORMANDACTIVATE to the observer, and the configuration versions in
// NEWLEADER and in the election notifications.
func TestCompat_DecodeReconfig(t *testing.T) {
	harness.SkipShort(t)
	ens := harness.NewJavaEnsemble(t, harness.EnsembleOptions{Participants: 3, Observers: 1,
		Props:   map[string]string{"reconfigEnabled": "true", "standaloneEnabled": "false"},
		SysProp: map[string]string{"zookeeper.DigestAuthenticationProvider.superDigest": superDigest}})
	capt := harness.StartCapture(t, harness.CaptureOptions{Tool: "tshark", Ports: ens.Ports()})
	keepCapture(t, capt)
	ens.StartAll()
	leader := ens.WaitLeader(60 * time.Second)
	for id := 1; id <= 4; id++ {
		ens.WaitServing(id, 60*time.Second)
	}
	follower, other := 1, 2
	if leader == 1 {
		follower, other = 2, 3
	} else if leader == 2 {
		other = 3
	}
	f, o := ens.Server(follower), ens.Server(4)
	out := runZkCli(t, ens.Server(other).ClientAddr, []string{
		"addauth digest super:pw",
		fmt.Sprintf("reconfig -remove %d", follower),
		fmt.Sprintf("reconfig -add server.%d=127.0.0.1:%d:%d;%d", follower, f.QuorumPort, f.ElectionPort, f.ClientPort),
		fmt.Sprintf("reconfig -add server.4=127.0.0.1:%d:%d:participant;%d", o.QuorumPort, o.ElectionPort, o.ClientPort),
		"reconfig -v 1 -remove 4",
		"config",
	})
	t.Logf("zkCli.sh:\n%s", out)
	if strings.Count(out, "Committed new configuration") != 3 || !strings.Contains(out, "version No is not valid") {
		t.Fatalf("reconfigs through zkCli.sh did not go as planned:\n%s", out)
	}
	capt.StopComplete()

	var cp, qp, ep []int
	for _, s := range ens.Servers {
		cp, qp, ep = append(cp, s.ClientPort), append(qp, s.QuorumPort), append(ep, s.ElectionPort)
	}
	byPort := runDecode(t, capt.Path, "--client-port", portList(cp...), "--quorum-port", portList(qp...), "--election-port", portList(ep...))
	byContent := runDecode(t, capt.Path, "--no-default-ports")
	t.Run("wireshark", func(t *testing.T) { checkDissector(t, capt.Path, byContent) })
	// The same traffic from the middle: the capture cut after the first
	// reconfig, every connection then open seen without its opening
	// messages (and some halves starting with the other side).
	t.Run("wireshark mid-stream", func(t *testing.T) {
		mid := filepath.Join(t.TempDir(), "mid.pcapng")
		var from float64
		for _, m := range byPort.msgs {
			if m["name"] == "COMMITANDACTIVATE" {
				from = m["rel"].(float64) // seconds since the first packet
				break
			}
		}
		if from == 0 {
			t.Fatal("no COMMITANDACTIVATE to cut at")
		}
		cut := exec.Command("tshark", "-n", "-r", capt.Path, "-Y", fmt.Sprintf("frame.time_relative > %.6f", from), "-w", mid)
		if out, err := cut.CombinedOutput(); err != nil {
			t.Fatalf("tshark: %v\n%s", err, out)
		}
		ports := []string{"--client-port", portList(cp...), "--quorum-port", portList(qp...), "--election-port", portList(ep...)}
		out := runDecode(t, mid, ports...)
		checkDissector(t, mid, out, "-o", "zookeeper.client_ports:"+portList(cp...), "-o", "zookeeper.quorum_ports:"+portList(qp...),
			"-o", "zookeeper.election_ports:"+portList(ep...))
		t.Run("by content", func(t *testing.T) {
			checkDissector(t, mid, runDecode(t, mid, "--no-default-ports"))
		})
	})
	for name, out := range map[string]decodeOut{"by port": byPort, "by content": byContent} {
		t.Run(name, func(t *testing.T) {
			requireCleanBut(t, out, javaElectionResetCut)
			count := map[string]int{}
			replyVersions := map[string]bool{}
			var badVersion bool
			for _, m := range out.msgs {
				name, _ := m["name"].(string)
				cv, hasCV := m["config_version"].(string)
				zxid, _ := m["zxid"].(string)
				switch {
				case m["kind"] == "request" && name == "reconfig":
					count["request"]++
				case m["kind"] == "reply" && name == "reconfig" && m["err"] == "OK":
					if !hasCV || cv != zxid {
						t.Errorf("reconfig reply: config version %q, zxid %s: %v", cv, zxid, m)
					}
					replyVersions[cv] = true
				case m["kind"] == "reply" && name == "reconfig" && m["err"] == "BADVERSION":
					badVersion = true
				case name == "REQUEST" && m["op"] == "reconfig":
					count["forwarded"]++
				case name == "PROPOSAL" && m["op"] == "reconfig", name == "COMMITANDACTIVATE",
					name == "INFORMANDACTIVATE" && m["op"] == "reconfig":
					if !hasCV || cv != zxid {
						t.Errorf("%s: config version %q, zxid %s: %v", name, cv, zxid, m)
					}
					count[name]++
				case name == "NEWLEADER":
					// The leader's first configuration gets version
					// epoch 1 << 32 (Leader.lead, ZOOKEEPER-1783); a
					// learner joining later gets the current one.
					if !hasCV {
						t.Errorf("NEWLEADER without a config version: %v", m)
					}
					if cv == "0x100000000" {
						count[name]++
					}
				case m["kind"] == "notification":
					if hasCV {
						count["notification with config version"]++
					}
				}
			}
			if len(replyVersions) != 3 || !badVersion || count["request"] != 4 || count["forwarded"] != 4 {
				t.Errorf("client side: %d successful versions %v, bad version %v, counts %v", len(replyVersions), replyVersions, badVersion, count)
			}
			// Three proposals to the other two participants (and to the
			// observer as INFORMANDACTIVATE), each committed and activated.
			for _, k := range []string{"PROPOSAL", "COMMITANDACTIVATE", "INFORMANDACTIVATE", "NEWLEADER",
				"notification with config version"} {
				if count[k] == 0 {
					t.Errorf("no %s decoded: %v", k, count)
				}
			}
		})
	}
}

// TestCompat_ReconfigFilesAsJava: the files a Java 3.8.0 member writes
// when a configuration is activated, and the ones zkgo's writers
// (node.BackupStaticConfig, node.WriteActivatedConfig) produce from the
// same zoo.cfg and configuration text, are identical: zoo.cfg.bak, the
// dynamic file and the rewritten zoo.cfg (line order included), for the
// first configuration of a static-only zoo.cfg with reconfigEnabled=true
// (versioned by the first leader) and after a reconfig. The three members'
// server lines give their client address in each of Java's forms.
func TestCompat_ReconfigFilesAsJava(t *testing.T) {
	harness.SkipShort(t)
	ens := harness.NewJavaEnsemble(t, harness.EnsembleOptions{Participants: 3,
		Props:   map[string]string{"reconfigEnabled": "true", "standaloneEnabled": "false"},
		SysProp: map[string]string{"zookeeper.DigestAuthenticationProvider.superDigest": superDigest}})
	lines := map[int]string{}
	for _, s := range ens.Servers {
		l := fmt.Sprintf("127.0.0.1:%d:%d", s.QuorumPort, s.ElectionPort)
		switch s.ID {
		case 2:
			l += fmt.Sprintf(";%d", s.ClientPort)
		case 3:
			l += fmt.Sprintf(":participant;127.0.0.1:%d", s.ClientPort)
		}
		lines[s.ID] = l
	}
	orig := map[int]string{}
	for _, s := range ens.Servers {
		b, err := os.ReadFile(s.ConfigPath)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			k, _, _ := strings.Cut(l, "=")
			switch {
			case strings.HasPrefix(k, "server."):
				id, _ := strconv.Atoi(strings.TrimPrefix(k, "server."))
				l = k + "=" + lines[id]
			case s.ID != 1 && (k == "clientPort" || k == "clientPortAddress"):
				continue // in the server line
			}
			out = append(out, l)
		}
		orig[s.ID] = strings.Join(out, "\n") + "\n"
		if err := os.WriteFile(s.ConfigPath, []byte(orig[s.ID]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ens.StartAll()
	ens.WaitLeader(60 * time.Second)
	for id := 1; id <= 3; id++ {
		ens.WaitServing(id, 60*time.Second)
	}
	c := zkConn(t, ens.Server(1).ClientAddr)

	// zkgo's copy of each member's files, in a directory of its own.
	mine := map[int]string{}
	for _, s := range ens.Servers {
		dir := t.TempDir()
		mine[s.ID] = filepath.Join(dir, "zoo.cfg")
		if err := os.WriteFile(mine[s.ID], []byte(orig[s.ID]), 0o644); err != nil {
			t.Fatal(err)
		}
		must(t, node.BackupStaticConfig(mine[s.ID]))
	}
	compare := func(text string) {
		t.Helper()
		version, ok := quorum.VersionOf(text)
		if !ok {
			t.Fatalf("no version in %q", text)
		}
		name := "zoo.cfg.dynamic." + quorum.HexVersion(version)
		for _, s := range ens.Servers {
			javaDyn := filepath.Join(s.Dir, name)
			deadline := time.Now().Add(30 * time.Second)
			for {
				if _, err := os.Stat(javaDyn); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("member %d wrote no %s", s.ID, name)
				}
				time.Sleep(50 * time.Millisecond)
			}
			// Java writes the dynamic file, then zoo.cfg: wait for the
			// latter to point at the former.
			var javaCfg string
			for {
				b, err := os.ReadFile(s.ConfigPath)
				must(t, err)
				if javaCfg = string(b); strings.Contains(javaCfg, name+"\n") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("member %d: zoo.cfg does not name %s:\n%s", s.ID, name, javaCfg)
				}
				time.Sleep(50 * time.Millisecond)
			}
			must(t, node.WriteActivatedConfig(mine[s.ID], int64(s.ID), text, true))
			myDir := filepath.Dir(mine[s.ID])
			for _, f := range []string{name, "zoo.cfg", "zoo.cfg.bak"} {
				j, err := os.ReadFile(filepath.Join(s.Dir, f))
				must(t, err)
				z, err := os.ReadFile(filepath.Join(myDir, f))
				must(t, err)
				want := string(j)
				got := strings.ReplaceAll(string(z), myDir, s.Dir)
				if got != want {
					t.Errorf("member %d, %s after version %s differs (-java +zkgo):\n%s", s.ID, f,
						quorum.HexVersion(version), lineDiff(want, got))
				}
			}
		}
	}
	text, _, err := c.Get("/zookeeper/config")
	must(t, err)
	t.Logf("first configuration:\n%s", text)
	compare(string(text))

	out := runZkCli(t, ens.Server(1).ClientAddr, []string{
		"addauth digest super:pw",
		fmt.Sprintf("reconfig -add server.4=127.0.0.1:%d:%d:observer;%d", harness.FreePort(t), harness.FreePort(t), harness.FreePort(t)),
	})
	if !strings.Contains(out, "Committed new configuration") {
		t.Fatalf("reconfig through zkCli.sh:\n%s", out)
	}
	_, err = c.Sync("/")
	must(t, err)
	text, _, err = c.Get("/zookeeper/config")
	must(t, err)
	t.Logf("after the reconfig:\n%s", text)
	compare(string(text))
}

// TestCompat_StandaloneDisabledSingleServer: with standaloneEnabled=false
// a zoo.cfg with one server line makes a one-member ensemble, not a
// standalone server, in Java 3.8.0 and in zkgo alike (go-zookeeper's test
// cluster writes such configs): both lead, serve writes, and hold the same
// /zookeeper/config for the same server line.
func TestCompat_StandaloneDisabledSingleServer(t *testing.T) {
	harness.SkipShort(t)
	m := harness.NewMixed(t, harness.MixedOptions{
		Members: []harness.MemberSpec{{ID: 1, Kind: harness.MemberExternal}}, TickTime: 200})
	java := harness.NewMixed(t, harness.MixedOptions{
		Members: []harness.MemberSpec{{ID: 1, Kind: harness.MemberJava}}, TickTime: 200})
	java.Start(1)
	java.WaitMode(t, 1, "leader", 60*time.Second)
	m.Release(1)
	z := harness.StartZkgoMember(t, m.ConfigPath(1), nil)
	harness.WaitZkgoMode(t, z, "leader", 60*time.Second)
	for name, addr := range map[string]string{"java": java.ClientAddr(1), "zkgo": z.Addr} {
		c := zkConn(t, addr)
		_, err := c.Create("/x", []byte(name), 0, zk.WorldACL(zk.PermAll))
		must(t, err)
		waitData(t, c, "/x", []byte(name))
		cfg, _, err := c.Get("/zookeeper/config")
		must(t, err)
		want := java.QuorumText()
		if name == "zkgo" {
			want = m.QuorumText()
		}
		if string(cfg) != want {
			t.Errorf("%s: /zookeeper/config %q, want %q", name, cfg, want)
		}
	}
	checkJavaLogsOf(t, java, 1)
}
