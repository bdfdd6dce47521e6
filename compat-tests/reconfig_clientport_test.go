package compattest

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
)

// TestCompat_ReconfigMovesZkgoClientPort: a reconfig that changes member
// 1's client port (a follower of Java leader 3) moves its client
// listener when member 1 activates the configuration, as Java 3.8's
// QuorumPeer.processReconfig does (cnxnFactory.reconfigure): new clients
// are served on the new port and not on the old one, the session opened
// on the old port before the move is served on without a disconnect,
// conf reports the new port, and every member's dynamic file has the new
// line. The all-Java row shows Java doing it; the zkgo rows are held to
// the same checks (DIFFERENCES row 62: zkgo's old port closes new
// connections at once instead of refusing them).
func TestCompat_ReconfigMovesZkgoClientPort(t *testing.T) {
	runReconfigRows(t, []reconfigRow{
		{"java member moved via java", "jjj", 2, false},
		{"zkgo member moved via java", "zjj", 2, false},
		{"zkgo member moved via itself", "zjj", 1, true},
	}, func(t *testing.T, e *reconfEnsemble, via int64) {
		e.startInitial()
		w := e.writers("a", 2, 3)
		waitAcks(t, w, 20)
		oldAddr := e.addr(1)
		kept, kev, err := zk.Connect([]string{oldAddr}, 10*time.Second, zk.WithLogInfo(false))
		if err != nil {
			t.Fatal(err)
		}
		defer kept.Close()
		for ev := range kev {
			if ev.State == zk.StateHasSession {
				break
			}
		}
		newPort, release := harness.ReservePort(t)
		release()
		line := e.m.JoinLine(1, false)
		moved := line[:strings.LastIndex(line, ":")+1] + strconv.Itoa(newPort)
		newAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(newPort))
		text := e.reconfig(via, []string{moved}, nil)
		if !strings.Contains(text, ";"+newAddr+"\n") {
			t.Fatalf("configuration after moving member 1's client port: %q", text)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, err := harness.FourLetter(newAddr, "ruok")
			if err == nil && out == "imok" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("member 1 does not answer on its new client address %s: %q, %v", newAddr, out, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		e.moved = map[int64]string{1: newAddr}
		if out, err := harness.FourLetter(oldAddr, "ruok"); err == nil && out == "imok" {
			t.Errorf("member 1 still takes new connections on its old client address %s", oldAddr)
		}
		conf, err := harness.FourLetter(newAddr, "conf")
		if err != nil || !strings.Contains(conf, "clientPort="+strconv.Itoa(newPort)+"\n") {
			t.Errorf("conf of member 1 on its new address: %v\n%s", err, conf)
		}
		e.checkDisk(ids(1, 2, 3), text)
		waitAcks(t, w, 20)
		if _, err := kept.Sync("/"); err != nil {
			t.Fatalf("the session opened on the old port before the move: %v", err)
		}
		for {
			select {
			case ev := <-kev:
				if ev.Type == zk.EventSession && ev.State != zk.StateHasSession {
					t.Fatalf("the session opened on the old port before the move saw %v", ev.State)
				}
				continue
			default:
			}
			break
		}
		e.finish(w, ids(1, 2, 3))
	})
}
