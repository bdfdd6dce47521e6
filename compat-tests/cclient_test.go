package compattest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
)

// cliMt is the C client's shell from Debian's zookeeper-bin package.
const cliMt = "/usr/lib/zookeeper/bin/cli_mt"

// cclientCommands are fed to cli_mt one at a time; "create" makes a node
// holding "new", "set" replaces the data with the rest of the line.
var cclientCommands = []string{
	"create /cc",
	"get /cc",
	"set /cc hello world",
	"get /cc",
	"create /cc",
	"create /nope/x",
	"create2 /cc/a",
	"create +e /cc/e",
	"create +s /cc/s",
	"create +es /cc/es",
	"create +c /cc/box",
	"create +t=600000 /cc/ttl",
	"ls /cc",
	"ls2 /cc",
	"get /cc/e",
	"exists /cc",
	"exists /nope",
	"wexists /cc/w",
	"create /cc/w",
	"set /cc/w again",
	"sync /cc",
	"delete /cc",
	"delete /cc/a",
	"delete /cc/a",
	"get /cc/a",
	"set /cc/a x",
	"addauth digest alice:secret",
	"get /zookeeper/config",
	"ls /zookeeper",
	"ls /nope",
}

// TestCClientShell drives the C client (cli_mt) over stdin against both
// servers and requires the same output: return codes, data, stats (times
// and ids normalised) and watch notifications.
func TestCClientShell(t *testing.T) {
	if _, err := os.Stat(cliMt); err != nil {
		harness.Unavailable(t, "%s missing (apt-get install zookeeper-bin)", cliMt)
	}
	got := map[string]string{}
	for _, tg := range servingTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			out := runCClient(t, tg.addr, cclientCommands)
			got[tg.name] = out
			for _, want := range []string{
				"> get /cc\n/cc: rc = 0\n value_len = 3\nnew\n",
				"> get /cc\n/cc: rc = 0\n value_len = 11\nhello world\n",
				"> create /cc\nCreating [/cc] node (mode: 0)\n[/cc]: rc = -110\n",
				"> create /nope/x\nCreating [/nope/x] node (mode: 0)\n[/nope/x]: rc = -101\n",
				"> create +s /cc/s\nCreating [/cc/s] node (mode: 2)\n[/cc/s]: rc = 0\n\tname = /cc/s0000000002\n",
				"> delete /cc\n/cc: rc = -111\n",
				// wexists armed an exists watch, ls a child watch.
				"> create /cc/w\nCreating [/cc/w] node (mode: 0)\nWatcher CREATED_EVENT state = CONNECTED_STATE for path /cc/w\n" +
					"Watcher CHILD_EVENT state = CONNECTED_STATE for path /cc\n[/cc/w]: rc = 0\n",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q\n%s", want, out)
				}
			}
		})
	}
	if z, j := got["zkgo"], got["java"]; z != "" && j != "" && z != j {
		t.Errorf("cli_mt output differs (- java, + zkgo)\n%s", lineDiff(j, z))
	}
}

// runCClient feeds cmds to an interactive cli_mt, one at a time: after each
// command it sends "sync /fenceN" and waits for that sync's completion, so
// each command's output (completions are delivered in order) is complete
// before the next command starts. Returns the normalised transcript.
func runCClient(t *testing.T, addr string, cmds []string) string {
	t.Helper()
	cmd := exec.Command(cliMt, "-h", addr)
	stdin, err := cmd.StdinPipe()
	must(t, err)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw // cli_mt prints everything on stderr
	must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	until := func(marker string) []string {
		var got []string
		timeout := time.After(15 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("cli_mt exited waiting for %q; output so far:\n%s", marker, strings.Join(got, "\n"))
				}
				if strings.Contains(l, marker) {
					return got
				}
				got = append(got, l)
			case <-timeout:
				t.Fatalf("cli_mt: no %q within 15s; output so far:\n%s", marker, strings.Join(got, "\n"))
			}
		}
	}
	until("Got a new session id")
	n := &cclientNorm{zxids: map[string]string{}}
	var b strings.Builder
	for i, c := range cmds {
		fence := fmt.Sprintf("/fence%d", i)
		_, err := fmt.Fprintf(stdin, "%s\nsync %s\n", c, fence)
		must(t, err)
		fmt.Fprintf(&b, "> %s\n", c)
		for _, l := range n.lines(until("[" + fence + "]: rc = 0")) {
			b.WriteString(l + "\n")
		}
	}
	_, _ = io.WriteString(stdin, "quit\n")
	stdin.Close()
	return b.String()
}

var (
	cclientLog   = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}:`)
	cclientZxid  = regexp.MustCompile(`([cm]zxid)=([0-9a-f]+)`)
	cclientTime  = regexp.MustCompile(`^(\t[cm]time ?= ?)(.*)$`)
	cclientOwner = regexp.MustCompile(`ephemeralOwner = ([0-9a-f]+)`)
)

// cclientNorm normalises cli_mt output: log lines, durations and the fence
// syncs go; times become T (or stay for the epoch); zxids become Z1, Z2, ...
// by first appearance; session ids become S; runs of child names are
// sorted (DIFFERENCES.md #5).
type cclientNorm struct {
	zxids map[string]string
}

func (n *cclientNorm) lines(in []string) []string {
	var out, run []string
	flush := func() {
		sort.Strings(run)
		out = append(out, run...)
		run = nil
	}
	for _, l := range in {
		switch {
		case cclientLog.MatchString(l), strings.HasPrefix(l, "time = "),
			strings.HasPrefix(l, "\tname = /fence"), l == "":
			continue
		}
		if m := cclientTime.FindStringSubmatch(l); m != nil && !strings.Contains(m[2], "1970") {
			l = m[1] + "T"
		}
		l = cclientZxid.ReplaceAllStringFunc(l, func(s string) string {
			m := cclientZxid.FindStringSubmatch(s)
			if m[2] == "0" {
				return s
			}
			if _, ok := n.zxids[m[2]]; !ok {
				n.zxids[m[2]] = fmt.Sprintf("Z%d", len(n.zxids)+1)
			}
			return m[1] + "=" + n.zxids[m[2]]
		})
		l = cclientOwner.ReplaceAllStringFunc(l, func(s string) string {
			if s == "ephemeralOwner = 0" {
				return s
			}
			return "ephemeralOwner = S"
		})
		if strings.HasPrefix(l, "\t") && !strings.Contains(l, "=") {
			run = append(run, l)
			continue
		}
		flush()
		out = append(out, l)
	}
	flush()
	return out
}
