package quorum

import (
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// req builds a ReconfigRequest; nil means null on the wire.
func req(joining, leaving, members *string, cur int64) *wire.ReconfigRequest {
	r := &wire.ReconfigRequest{CurConfigID: cur}
	var nulls jute.NullSet
	for i, f := range []struct {
		v   *string
		dst *string
	}{{joining, &r.JoiningServers}, {leaving, &r.LeavingServers}, {members, &r.NewMembers}} {
		if f.v == nil {
			nulls = nulls.With(i, true)
		} else {
			*f.dst = *f.v
		}
	}
	r.Nulls = nulls
	return r
}

func str(s string) *string { return &s }

func mustConfig(t *testing.T, text string) *Config {
	t.Helper()
	c, err := ParseConfigText(text, false)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The reconfigs a Java 3.8.0 ensemble (standaloneEnabled=false, leader
// 3, every member synced) answered, each from the configuration before
// it: the new configuration text is what its /zookeeper/config then held.
func TestReconfigAsJava(t *testing.T) {
	all := map[int64]bool{1: true, 2: true}
	for i, tc := range []struct {
		name string
		req  *wire.ReconfigRequest
		zxid int64
	}{
		{"remove 1", req(nil, str("1"), nil, -1), 0x200000002},
		{"add 1 as observer", req(str("server.1=127.0.0.1:27281:27381:observer;27181"), nil, nil, -1), 0x200000005},
		{"members, 2 without a type", req(nil, nil, str("server.1=127.0.0.1:27281:27381:participant;27181,"+
			"server.2=127.0.0.1:27282:27382;27182,server.3=127.0.0.1:27283:27383:participant;127.0.0.1:27183"), -1), 0x20000000b},
		{"remove 2,3 (the leader too)", req(nil, str("2,3"), nil, -1), 0x20000000e},
	} {
		cur := mustConfig(t, java380Configs[i].text)
		got, err := Reconfig(ReconfigState{Current: cur, LastSeen: cur, MyID: 3, Synced: all, Zxid: tc.zxid}, tc.req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if want := java380Configs[i+1].text; got.String() != want {
			t.Errorf("%s:\n%s\nwant\n%s", tc.name, got, want)
		}
	}
	// reconfig -v 1 -remove 2: BADVERSION, as Java answered.
	cur := mustConfig(t, java380Configs[2].text)
	_, err := Reconfig(ReconfigState{Current: cur, LastSeen: cur, MyID: 3, Synced: all, Zxid: 0x200000008},
		req(nil, str("2"), nil, 1))
	if !errors.Is(err, wire.ErrBadVersion) {
		t.Errorf("-v 1: %v", err)
	}
}

// Refusals, from PrepRequestProcessor's reconfig case in Java 3.8.0.
func TestReconfigRefusals(t *testing.T) {
	three := "server.1=127.0.0.1:2881:3881;2181\nserver.2=127.0.0.1:2882:3882;2182\nserver.3=127.0.0.1:2883:3883;2183\nversion=100000000"
	cur := mustConfig(t, three)
	pending := mustConfig(t, three)
	pending.Version = 0x100000005
	hier := mustConfig(t, three+"\ngroup.1=1:2:3")
	join4 := "server.4=127.0.0.1:2884:3884;2184"
	ten := mustConfig(t, "server.1=10.0.0.1:2881:3881;10.0.0.1:2181\nserver.2=10.0.0.2:2882:3882;2182\nserver.3=10.0.0.3:2883:3883;2183")
	named := mustConfig(t, "server.1=zk1.example:2881:3881;zk1.example:2181\n"+
		"server.2=myhost:2882:3882;myhost:2182\nserver.3=gone.example:2883:3883;gone.example:2183")
	hosts := func(h string) (netip.Addr, bool) {
		ip, ok := map[string]string{"zk1.example": "10.0.0.1", "other-name-of-zk1.example": "10.0.0.1",
			"zk4.example": "10.0.0.4", "myhost": "127.0.1.1"}[h]
		if !ok {
			return netip.Addr{}, false
		}
		return netip.MustParseAddr(ip), true
	}
	for _, tc := range []struct {
		name       string
		st         ReconfigState
		req        *wire.ReconfigRequest
		want       wire.ErrCode
		standalone bool
	}{
		{name: "in progress", st: ReconfigState{Current: cur, LastSeen: pending}, req: req(str(join4), nil, nil, -1),
			want: wire.ErrReconfigInProgress},
		{name: "version guard", st: ReconfigState{Current: cur}, req: req(str(join4), nil, nil, 0x100000001),
			want: wire.ErrBadVersion},
		{name: "version guard met", st: ReconfigState{Current: cur}, req: req(str(join4), nil, nil, 0x100000000)},
		{name: "incremental on hierarchical", st: ReconfigState{Current: hier}, req: req(str(join4), nil, nil, -1),
			want: wire.ErrBadArguments},
		{name: "joiner without '='", st: ReconfigState{Current: cur}, req: req(str("server.4"), nil, nil, -1),
			want: wire.ErrBadArguments},
		{name: "joiner without client port", st: ReconfigState{Current: cur},
			req: req(str("server.4=127.0.0.1:2884:3884"), nil, nil, -1), want: wire.ErrBadArguments},
		{name: "joiner with a bad type", st: ReconfigState{Current: cur},
			req: req(str("server.4=127.0.0.1:2884:3884:leader;2184"), nil, nil, -1), want: wire.ErrBadArguments},
		{name: "joiner with two addresses", st: ReconfigState{Current: cur},
			req: req(str("server.4=127.0.0.1:2884:3884|127.0.0.2:2884:3884;2184"), nil, nil, -1), want: wire.ErrBadArguments},
		{name: "joiner id not a number", st: ReconfigState{Current: cur},
			req: req(str("server.x=127.0.0.1:2884:3884;2184"), nil, nil, -1), want: wire.ErrMarshallingError},
		{name: "joiner port out of range", st: ReconfigState{Current: cur},
			req: req(str("server.4=127.0.0.1:70000:3884;2184"), nil, nil, -1), want: wire.ErrMarshallingError},
		{name: "leaver not a number", st: ReconfigState{Current: cur}, req: req(nil, str("two"), nil, -1),
			want: wire.ErrMarshallingError},
		{name: "address taken", st: ReconfigState{Current: mustConfig(t,
			"server.1=10.0.0.1:2881:3881;10.0.0.1:2181\nserver.2=10.0.0.2:2882:3882;2182\nserver.3=10.0.0.3:2883:3883;2183")},
			req: req(str("server.4=10.0.0.4:2884:3884;10.0.0.1:2181"), nil, nil, -1), want: wire.ErrBadArguments},
		{name: "loopback addresses may repeat", st: ReconfigState{Current: cur},
			req: req(str("server.4=127.0.0.1:2881:3884;2184"), nil, nil, -1)},
		// checkAddressDuplicate compares resolved addresses: a host name
		// and the IP it resolves to are one address, two names of one IP
		// too; a name resolving to a loopback address, or not resolving,
		// is left out.
		{name: "host name of a member's IP", st: ReconfigState{Current: ten, Resolve: hosts},
			req: req(str("server.4=zk1.example:2881:3884;2184"), nil, nil, -1), want: wire.ErrBadArguments},
		{name: "IP of a member's host name", st: ReconfigState{Current: named, Resolve: hosts},
			req: req(str("server.4=10.0.0.4:2884:3884;10.0.0.1:2181"), nil, nil, -1), want: wire.ErrBadArguments},
		{name: "two names of one IP", st: ReconfigState{Current: named, Resolve: hosts},
			req: req(str("server.4=zk4.example:2884:3884;other-name-of-zk1.example:2181"), nil, nil, -1), want: wire.ErrBadArguments},
		{name: "a name of a loopback address may repeat", st: ReconfigState{Current: named, Resolve: hosts},
			req: req(str("server.4=myhost:2884:3884;myhost:2182"), nil, nil, -1)},
		{name: "an unresolved name may repeat", st: ReconfigState{Current: named, Resolve: hosts},
			req: req(str("server.4=gone.example:2884:3884;gone.example:2183"), nil, nil, -1)},
		{name: "same name, other port", st: ReconfigState{Current: named, Resolve: hosts},
			req: req(str("server.4=zk1.example:2884:3884;zk1.example:2184"), nil, nil, -1)},
		{name: "one participant left, standaloneEnabled", st: ReconfigState{Current: cur}, standalone: true,
			req: req(nil, str("2,3"), nil, -1), want: wire.ErrBadArguments},
		{name: "one participant left", st: ReconfigState{Current: cur}, req: req(nil, str("2,3"), nil, -1)},
		{name: "none left", st: ReconfigState{Current: cur}, req: req(nil, str("1,2,3"), nil, -1),
			want: wire.ErrBadArguments},
		{name: "members: unknown key", st: ReconfigState{Current: cur},
			req: req(nil, nil, str("server.1=127.0.0.1:2881:3881;2181,tickTime=2000"), -1), want: wire.ErrBadArguments},
		{name: "members: observers only", st: ReconfigState{Current: cur}, standalone: true,
			req: req(nil, nil, str("server.1=127.0.0.1:2881:3881:observer;2181"), -1), want: wire.ErrMarshallingError},
		{name: "members: hierarchical", st: ReconfigState{Current: cur},
			req: req(nil, nil, str(three[:len(three)-len("\nversion=100000000")]+",group.1=1:2,group.2=3"), -1)},
		// Only 1 is synced with the leader (3): {1,3} is a quorum of
		// {1,2,3} but not of {1,2,3,4,5}.
		{name: "no synced quorum", st: ReconfigState{Current: cur, Synced: map[int64]bool{1: true, 2: false}},
			req: req(str(join4+",server.5=127.0.0.1:2885:3885;2185"), nil, nil, -1), want: wire.ErrNewConfigNoQuorum},
		{name: "synced quorum", st: ReconfigState{Current: cur, Synced: map[int64]bool{1: true, 2: true}},
			req: req(str(join4+",server.5=127.0.0.1:2885:3885;2185"), nil, nil, -1)},
		// The leader leaving: its own ack no longer counts.
		{name: "leader leaves, one synced", st: ReconfigState{Current: cur, Synced: map[int64]bool{1: true}},
			req: req(nil, str("3"), nil, -1), want: wire.ErrNewConfigNoQuorum},
		{name: "standalone", st: ReconfigState{}, req: req(nil, str("3"), nil, -1), want: wire.ErrUnimplemented},
	} {
		st := tc.st
		st.MyID, st.Zxid, st.StandaloneEnabled = 3, 0x100000007, tc.standalone
		if st.Synced == nil {
			st.Synced = map[int64]bool{1: true, 2: true}
		}
		got, err := Reconfig(st, tc.req)
		if tc.want == wire.ErrOk {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			} else if got.Version != 0x100000007 {
				t.Errorf("%s: version %#x", tc.name, got.Version)
			}
			continue
		}
		var re *ReconfigError
		if !errors.As(err, &re) || re.Code != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestVersionOf(t *testing.T) {
	for _, tc := range []struct {
		text string
		want int64
		ok   bool
	}{
		{java380Configs[0].text, 0x100000000, true},
		{"server.1=a:1:2\nversion=0", 0, true},
		{"server.1=a:1:2\n", 0, false},
		{"version=ffffffffffffffff", 0, false},
	} {
		v, ok := VersionOf(tc.text)
		if v != tc.want || ok != tc.ok {
			t.Errorf("%q: %#x %v", tc.text, v, ok)
		}
	}
}

// TestReconfigHosts: the names a reconfig's address check may look up are
// the joiners' and the last configuration's hosts that are not IP
// literals, each once; a request with none (IP literals only,
// non-incremental, no joiner) needs no lookup and is prepared at once.
func TestReconfigHosts(t *testing.T) {
	last := mustConfig(t, "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n"+
		"server.2=zk2.example:2888:3888:participant;zk2.example:2181\n"+
		"server.3=zk3.example:2888:3888:participant;10.0.0.3:2181\nversion=100000000")
	for _, tc := range []struct {
		name string
		req  *wire.ReconfigRequest
		want []string
	}{
		{"joiner by name", req(str("server.4=zk4.example:2888:3888;zk4c.example:2181"), nil, nil, -1),
			[]string{"zk4.example", "zk4c.example", "zk2.example", "zk3.example"}},
		{"joiners by IP", req(str("server.4=10.0.0.4:2888:3888;2181,server.5=[::5]:2888:3888;2181"), nil, nil, -1),
			[]string{"zk2.example", "zk3.example"}},
		{"leaving only", req(nil, str("2"), nil, -1), nil},
		{"empty joining", req(str(""), str("2"), nil, -1), nil},
		{"unparsable joiner", req(str("server.4=zk4.example"), nil, nil, -1), nil},
		{"non-incremental", req(nil, nil, str("server.1=zk1.example:2888:3888;2181"), -1), nil},
	} {
		got := ReconfigHosts(last, tc.req)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	allIP := mustConfig(t, "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\nversion=100000000")
	if got := ReconfigHosts(allIP, req(str("server.4=10.0.0.4:2888:3888;2181"), nil, nil, -1)); got != nil {
		t.Errorf("IP literals only: %q, want none", got)
	}
}
