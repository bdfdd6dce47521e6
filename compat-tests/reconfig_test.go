package compattest

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
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
