package compattest

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
)

// tcpProxy forwards connections to a server; drop cuts every connection and
// refuses new ones until resume, so a client sees a disconnect and then
// reconnects to the same session.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	paused bool
	conns  map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.drop()
	})
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		paused := p.paused
		p.mu.Unlock()
		if paused {
			c.Close()
			continue
		}
		s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		go p.pipe(c, s)
		go p.pipe(s, c)
	}
}

func (p *tcpProxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

func (p *tcpProxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *tcpProxy) resume() {
	p.mu.Lock()
	p.paused = false
	p.mu.Unlock()
}

// TestJavaClientScenario runs java/ClientScenario.java (ZooKeeper's own
// client: create2 with Stat, TTL and container nodes, addWatch, getEphemerals,
// getAllChildrenNumber, multiRead, whoAmI, removeWatches, and a reconnect
// through a proxy that re-registers watches with setWatches2) against both
// servers and requires the same transcript.
func TestJavaClientScenario(t *testing.T) {
	j := harness.RequireJava(t)
	classes := j.Compile(t, filepath.Join("java", "ClientScenario.java"))
	got := map[string]string{}
	var runs []target
	for _, tg := range servingTargets(t) {
		// Each server directly, then through `zkgo proxy` (same transcript).
		runs = append(runs, tg, target{name: tg.name + "-proxy", addr: tg.addr})
	}
	for _, tg := range runs {
		t.Run(tg.name, func(t *testing.T) {
			addr := tg.addr
			if strings.HasSuffix(tg.name, "-proxy") {
				wipeTree(t, tg.addr)
				addr = startZKProxy(t, nil, tg.addr).Addr().String()
			}
			proxy := startProxy(t, addr)
			cmd := j.Command(classes, "ClientScenario", []string{"-Dorg.slf4j.simpleLogger.defaultLogLevel=error",
				"-Xmx256m", "-XX:TieredStopAtLevel=1"}, addr, proxy.addr())
			stdin, err := cmd.StdinPipe()
			must(t, err)
			stdout, err := cmd.StdoutPipe()
			must(t, err)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			must(t, cmd.Start())
			done := make(chan struct{})
			timer := time.AfterFunc(90*time.Second, func() { _ = cmd.Process.Kill() })
			defer timer.Stop()
			var transcript strings.Builder
			go func() {
				defer close(done)
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					line := sc.Text()
					switch line {
					case "@@drop":
						proxy.drop()
					case "@@resume":
						proxy.resume()
					default:
						transcript.WriteString(line + "\n")
						continue
					}
					_, _ = io.WriteString(stdin, "ok\n")
				}
			}()
			<-done
			err = cmd.Wait()
			got[tg.name] = transcript.String()
			if err != nil {
				t.Fatalf("ClientScenario: %v\nstdout:\n%s\nstderr:\n%s", err, transcript.String(), stderr.String())
			}
			out := transcript.String()
			for _, want := range []string{
				"  event after create /jr/a: NodeCreated SyncConnected /jr/a",
				"  event after set /jr (fence: no NodeChildrenChanged before it): NodeDataChanged SyncConnected /jr",
				"  event after create /jp/c: NodeChildrenChanged SyncConnected /jp",
				"same session: true; ephemeral kept: true",
				"  catch-up events: [NodeDataChanged SyncConnected /jw, NodeCreated SyncConnected /jw-new, NodeChildrenChanged SyncConnected /jw]",
				"## done",
			} {
				if !strings.Contains(out, want+"\n") {
					t.Errorf("transcript lacks %q\n%s", want, out)
				}
			}
		})
	}
	if z, j := got["zkgo"], got["java"]; z != "" && j != "" && z != j {
		t.Errorf("Java client transcripts differ (- java, + zkgo)\n%s", lineDiff(j, z))
	}
	for _, name := range []string{"zkgo", "java"} {
		if d, p := got[name], got[name+"-proxy"]; d != "" && p != "" && d != p {
			t.Errorf("%s: Java client transcripts differ through the proxy (- direct, + proxy)\n%s", name, lineDiff(d, p))
		}
	}
}
