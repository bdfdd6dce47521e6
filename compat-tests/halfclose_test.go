package compattest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/node"
)

// openFDs lists this process's open descriptors (fd -> what it points at).
func openFDs(t *testing.T) map[string]string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("list fds: %v", err)
	}
	out := make(map[string]string, len(ents))
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out[e.Name()] = target
	}
	return out
}

// waitFDsBack waits until the process has no more descriptors than base
// (the server keeps none per finished connection); it fails t with the
// extra descriptors otherwise.
func waitFDsBack(t *testing.T, base map[string]string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		now := openFDs(t)
		if len(now) <= len(base) {
			return
		}
		if time.Now().After(deadline) {
			var extra []string
			for fd, target := range now {
				if base[fd] != target {
					extra = append(extra, fd+" -> "+target)
				}
			}
			sort.Strings(extra)
			if len(extra) > 20 {
				extra = append(extra[:20], "...")
			}
			t.Fatalf("%d descriptors open, %d before (not back within %v): %s", len(now), len(base), within,
				strings.Join(extra, ", "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fourLetterWords are the commands zkgo serves, with what the answer
// starts with (not serving output is never expected here).
var fourLetterWords = []struct{ word, prefix string }{
	{"ruok", "imok"}, {"isro", "rw"}, {"gtmk", ""}, {"srvr", "Zookeeper version:"},
	{"stat", "Zookeeper version:"}, {"cons", " /"}, {"crst", "Connection stats reset."},
	{"srst", "Server stats reset."}, {"mntr", "zk_version"}, {"conf", "clientPort="},
	{"envi", "Environment:"}, {"wchs", ""}, {"wchc", ""}, {"wchp", ""}, {"dump", "SessionTracker dump:"},
	{"dirs", "datadir_size:"}, {"hash", ""}, {"stmk", ""},
}

// sendWord sends word (stmk with its 8-byte mask in the same write) and
// either half-closes and reads the answer (as nc -N does) or, with
// fullClose, closes at once without reading.
func sendWord(addr, word string, fullClose bool) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	msg := []byte(word)
	if word == "stmk" {
		msg = binary.BigEndian.AppendUint64(msg, 306)
	}
	if _, err := c.Write(msg); err != nil {
		return "", err
	}
	if fullClose {
		return "", nil
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}

// halfClosedWords sends total four-letter words from words in turn,
// parallel at a time; one in five closes at once without reading, the
// others half-close and must get an answer that starts as expected. It
// returns what went wrong and how many were answered.
func halfClosedWords(addr string, words []struct{ word, prefix string }, total, parallel int) ([]string, int) {
	var (
		mu       sync.Mutex
		failures []string
		answered int
	)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				fw := words[i%len(words)]
				full := i%5 == 4
				out, err := sendWord(addr, fw.word, full)
				mu.Lock()
				switch {
				case full:
					if err != nil {
						failures = append(failures, fmt.Sprintf("%s (full close): %v", fw.word, err))
					}
				case err != nil:
					failures = append(failures, fmt.Sprintf("%s: %v (got %q)", fw.word, err, out))
				case out == "" || !strings.HasPrefix(out, fw.prefix):
					failures = append(failures, fmt.Sprintf("%s: answer %q", fw.word, out))
				default:
					answered++
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < total; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return failures, answered
}

// TestFourLetterHalfClosed sends thousands of four-letter words, every one
// zkgo serves, 64 at a time, each followed at once by a half-close (nc -N)
// or, one in five, a full close. Issue 14 point 4: every half-closed
// request is answered and closed, and when all are done the server holds
// no descriptor for any of them (no CLOSE-WAIT, no dup left to a
// finalizer).
func TestFourLetterHalfClosed(t *testing.T) {
	z := harness.StartZkgo(t, func(c *node.Config) { c.MaxClientCnxns = 0 })
	waitServing(t, "zkgo", z.Addr)
	// Some state for the commands to show: a watch, and enough txns
	// for a line of hash (one every 128 zxids).
	c, ev, err := zk.Connect([]string{z.Addr}, 20*time.Second, zk.WithLogger(quietLogger{}))
	must(t, err)
	waitState(t, ev, zk.StateHasSession)
	for i := 0; i < 130; i++ {
		if _, err := c.Create(fmt.Sprintf("/hc%d", i), nil, 0, open); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, _, err := c.GetW("/hc0"); err != nil {
		t.Fatal(err)
	}
	base := openFDs(t)

	failures, answered := halfClosedWords(z.Addr, fourLetterWords, 4000, 64)
	if len(failures) > 0 {
		t.Errorf("%d of %d half-closed requests not answered; first: %s", len(failures), answered+len(failures),
			strings.Join(failures[:min(10, len(failures))], "; "))
	}
	t.Logf("%d half-closed requests answered", answered)
	waitFDsBack(t, base, 10*time.Second)
	c.Close()
	if out, err := harness.FourLetter(z.Addr, "ruok"); err != nil || out != "imok" {
		t.Fatalf("ruok afterwards: %q %v", out, err)
	}
}

// TestFourLetterOverMaxClientCnxns sends half-closed four-letter words in
// bursts far above maxClientCnxns: each connection is either answered or
// closed without an answer (Java refuses the excess at accept), never left
// open, and the server's descriptors return to their baseline. Run with
// -race: closing a four-letter-word connection for maxClientCnxns used to
// race with the front end setting up its answer socket.
func TestFourLetterOverMaxClientCnxns(t *testing.T) {
	z := harness.StartZkgo(t, func(c *node.Config) { c.MaxClientCnxns = 3 })
	waitServing(t, "zkgo", z.Addr)
	base := openFDs(t)

	const rounds, burst = 10, 40
	var mu sync.Mutex
	var answered, refused int
	var failures []string
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		for i := 0; i < burst; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := sendWord(z.Addr, "ruok", false)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case out == "imok" && err == nil:
					answered++
				case out == "":
					// Closed without an answer (reset or FIN): refused.
					var ne net.Error
					if err != nil && errors.As(err, &ne) && ne.Timeout() {
						failures = append(failures, "left open: "+err.Error())
						return
					}
					refused++
				default:
					failures = append(failures, fmt.Sprintf("answer %q, %v", out, err))
				}
			}()
		}
		wg.Wait()
	}
	if len(failures) > 0 {
		t.Errorf("%d bad outcomes, first: %s", len(failures), failures[0])
	}
	if answered == 0 || refused == 0 {
		t.Errorf("answered %d, refused %d: want both (bursts of %d over a limit of 3)", answered, refused, burst)
	}
	t.Logf("answered %d, refused %d", answered, refused)
	waitFDsBack(t, base, 10*time.Second)
}

// TestFourLetterHalfClosedThroughProxy is TestFourLetterHalfClosed through
// `zkgo proxy` (which keeps its own duplicate of a four-letter-word socket
// for the answer), in front of zkgo and of Java: every half-closed word is
// answered and the process (proxy, and zkgo when it is the upstream) keeps
// no descriptor afterwards. Only words every proxy policy lets through,
// and fewer at a time than a per-IP connection limit.
func TestFourLetterHalfClosedThroughProxy(t *testing.T) {
	z := harness.StartZkgo(t, func(c *node.Config) { c.MaxClientCnxns = 0 })
	j := harness.StartJavaZK(t, harness.JavaOptions{})
	for _, tg := range []target{{name: "zkgo", addr: z.Addr}, {name: "java", addr: j.Addr}} {
		t.Run(tg.name, func(t *testing.T) {
			waitServing(t, tg.name, tg.addr)
			p := startZKProxy(t, nil, tg.addr)
			addr := p.Addr().String()
			waitServing(t, "proxy", addr)
			base := openFDs(t)
			words := []struct{ word, prefix string }{{"ruok", "imok"}, {"srvr", "Zookeeper version:"}}
			failures, answered := halfClosedWords(addr, words, 2000, 32)
			if len(failures) > 0 {
				t.Errorf("%d of %d half-closed requests not answered; first: %s", len(failures), answered+len(failures),
					strings.Join(failures[:min(10, len(failures))], "; "))
			}
			t.Logf("%d half-closed requests answered through the proxy", answered)
			waitFDsBack(t, base, 10*time.Second)
		})
	}
}
