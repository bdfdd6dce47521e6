package compattest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
)

// zkCli is ZooKeeper's Java shell from Debian's zookeeper package.
const zkCli = "/usr/share/zookeeper/bin/zkCli.sh"

// zkCliSeparator is a command that prints a constant line; it follows every
// command so the output can be split per command.
const zkCliSeparator = "printwatches"

var zkCliCommands = []string{
	"create /zc hello",
	"create /zc again",
	"create -e /zc/e eph",
	"create -s /zc/s",
	"create -c /zc/box",
	"create -t 600000 /zc/ttl",
	"create /zc/a/b",
	"get /zc",
	"set /zc world",
	"get -s /zc",
	"stat /zc/e",
	"stat /nope",
	"ls /zc",
	"ls -s /zc",
	"ls -R /zc",
	"whoami",
	"addauth digest alice:secret",
	"whoami",
	"getAcl /zc",
	"setAcl /zc/s0000000001 auth:alice:cdrwa",
	"getAcl -s /zc/s0000000001",
	"create /zc/d data digest:alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=:cdra",
	"getAcl /zc/d",
	"set /zc/d x",
	"getEphemerals",
	"getEphemerals /zc/b",
	"getAllChildrenNumber /zc",
	"getAllChildrenNumber /nope",
	"sync /zc",
	"set -v 5 /zc x",
	"delete /zc",
	"delete -v 3 /zc/box",
	"deleteall /zc",
	"get /zc",
	"config",
	"ls /zookeeper",
}

// TestZkCliShell runs zkCli.sh with commands on stdin against both servers
// and requires the same output per command (log lines, times, zxids and
// session ids normalised).
func TestZkCliShell(t *testing.T) {
	if _, err := os.Stat(zkCli); err != nil {
		harness.Unavailable(t, "%s missing (apt-get install zookeeper)", zkCli)
	}
	harness.RequireJava(t)
	got := map[string]string{}
	for _, tg := range servingTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			out := runZkCli(t, tg.addr, zkCliCommands)
			got[tg.name] = out
			for _, want := range []string{
				"> create /zc hello\nCreated /zc\n",
				"> create /zc again\nNode already exists: /zc\n",
				"> get /zc\nhello\n",
				"> get -s /zc\nworld\ncZxid = Z1\nctime = T\nmZxid = Z",
				"> stat /zc/e\ncZxid = Z",
				"ephemeralOwner = S\ndataLength = 3\nnumChildren = 0\n",
				"> ls /zc\n[box, e, s0000000001, ttl]\n",
				"> whoami\nAuth scheme: User\ndigest: alice\nip: 127.0.0.1\n",
				"> getAcl /zc\n'world,'anyone\n: cdrwa\n",
				"> getAllChildrenNumber /zc\n5\n",
				"> set /zc/d x\nInsufficient permission : /zc/d\n",
				"> delete /zc\nNode not empty: /zc\n",
				"> get /zc\nNode does not exist: /zc\n",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q\n%s", want, out)
				}
			}
		})
	}
	if z, j := got["zkgo"], got["java"]; z != "" && j != "" && z != j {
		t.Errorf("zkCli output differs (- java, + zkgo)\n%s", lineDiff(j, z))
	}
}

// runZkCli runs zkCli.sh -server addr with cmds (each followed by the
// separator) on stdin and returns the normalised output, each command's
// lines under "> command".
func runZkCli(t *testing.T, addr string, cmds []string) string {
	t.Helper()
	return runZkCliFlags(t, addr, cmds, "")
}

// runZkCliFlags is runZkCli with extra client JVM flags.
func runZkCliFlags(t *testing.T, addr string, cmds []string, jvmFlags string) string {
	t.Helper()
	var in strings.Builder
	for _, c := range cmds {
		fmt.Fprintf(&in, "%s\n%s\n", c, zkCliSeparator)
	}
	in.WriteString("quit\n")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, zkCli, "-server", addr)
	cmd.Env = append(os.Environ(), "ZOO_LOG_DIR="+t.TempDir(), "CLIENT_JVMFLAGS=-XX:TieredStopAtLevel=1 "+jvmFlags)
	cmd.Stdin = strings.NewReader(in.String())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out // one pipe: results and errors stay in order
	if err := cmd.Run(); err != nil {
		t.Fatalf("zkCli.sh: %v\n%s", err, out.String())
	}
	chunks := strings.Split(out.String(), zkCliSeparator+" is on\n")
	if len(chunks) != len(cmds)+1 {
		t.Fatalf("zkCli.sh: %d separators for %d commands\n%s", len(chunks)-1, len(cmds), out.String())
	}
	n := &zkCliNorm{zxids: map[string]string{}}
	var b strings.Builder
	for i, c := range cmds {
		fmt.Fprintf(&b, "> %s\n", c)
		for _, l := range n.lines(chunks[i]) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

var (
	zkCliNoise = regexp.MustCompile(`^(SLF4J: |WATCHER::$|WatchedEvent state:|Connecting to |Welcome to ZooKeeper!$|JLine support is |\[[^\]]*\] (INFO|WARN|ERROR|DEBUG) )`)
	zkCliZxid  = regexp.MustCompile(`^([cmp]Zxid = )(0x[0-9a-f]+)$`)
	zkCliTime  = regexp.MustCompile(`^([cm]time = ).*$`)
	zkCliOwner = regexp.MustCompile(`^ephemeralOwner = 0x[0-9a-f]*[1-9a-f][0-9a-f]*$`)
)

// zkCliNorm drops log and connection-state lines (the latter arrive
// asynchronously), replaces times with T, zxids with Z1, Z2, ... by first
// appearance and session ids with S.
type zkCliNorm struct {
	zxids map[string]string
}

func (n *zkCliNorm) lines(chunk string) []string {
	var out []string
	for _, l := range strings.Split(chunk, "\n") {
		if l == "" || zkCliNoise.MatchString(l) {
			continue
		}
		if m := zkCliZxid.FindStringSubmatch(l); m != nil && m[2] != "0x0" {
			if _, ok := n.zxids[m[2]]; !ok {
				n.zxids[m[2]] = fmt.Sprintf("Z%d", len(n.zxids)+1)
			}
			l = m[1] + n.zxids[m[2]]
		}
		l = zkCliTime.ReplaceAllString(l, "${1}T")
		l = zkCliOwner.ReplaceAllString(l, "ephemeralOwner = S")
		out = append(out, l)
	}
	return out
}
