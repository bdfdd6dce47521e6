package quorum

import (
	"math/rand"
	"slices"
	"strings"
	"testing"
)

func voters(ids ...int64) []Member {
	out := make([]Member, len(ids))
	for i, id := range ids {
		out[i] = Member{ID: id, Voter: true}
	}
	return out
}

func set(ids ...int64) map[int64]bool {
	s := map[int64]bool{}
	for _, id := range ids {
		s[id] = true
	}
	return s
}

func mustParse(t *testing.T, members []Member, cfg string) Verifier {
	t.Helper()
	v, err := Parse(members, props(cfg))
	if err != nil {
		t.Fatalf("Parse(%q): %v", cfg, err)
	}
	return v
}

func props(cfg string) map[string]string {
	p := map[string]string{}
	for _, line := range strings.Split(cfg, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			p[k] = v
		}
	}
	return p
}

func TestMajority(t *testing.T) {
	v := mustParse(t, append(voters(1, 2, 3, 4, 5), Member{ID: 6}), "server.1=x\nversion=0")
	if _, ok := v.(*Majority); !ok {
		t.Fatalf("%T, want *Majority", v)
	}
	for _, tc := range []struct {
		set  []int64
		want bool
	}{
		{nil, false},
		{[]int64{1, 2}, false},
		{[]int64{1, 2, 3}, true},
		{[]int64{1, 2, 6}, false}, // the observer adds nothing
		{[]int64{1, 2, 9}, false}, // nor does a stranger
		{[]int64{1, 2, 3, 4, 5}, true},
	} {
		if got := v.ContainsQuorum(set(tc.set...)); got != tc.want {
			t.Errorf("ContainsQuorum(%v) = %v, want %v", tc.set, got, tc.want)
		}
	}
	if v.ContainsQuorum(map[int64]bool{1: true, 2: true, 3: false}) {
		t.Error("an id mapped to false was counted")
	}
	if v.Weight(6) != 1 || v.Weight(42) != 1 {
		t.Error("QuorumMaj weighs every id 1")
	}
	if !slices.Equal(v.Voters(), []int64{1, 2, 3, 4, 5}) || v.IsVoter(6) || v.Text() != "" {
		t.Errorf("voters %v text %q", v.Voters(), v.Text())
	}
	// Even sizes: 2 of 4 is not a quorum (half = 2).
	if NewMajority([]int64{1, 2, 3, 4}).ContainsQuorum(set(1, 2)) {
		t.Error("2 of 4 is a quorum")
	}
}

// The example of QuorumHierarchical's class comment and of the admin
// guide (zookeeperHierarchicalQuorums.md): three groups of three, weight 1
// each; "a quorum once we have votes from at least two servers from each
// of two different groups".
func TestHierarchicalJavaDocExample(t *testing.T) {
	cfg := "group.1=1:2:3\ngroup.2=4:5:6\ngroup.3=7:8:9\n" +
		"weight.1=1\nweight.2=1\nweight.3=1\nweight.4=1\nweight.5=1\nweight.6=1\nweight.7=1\nweight.8=1\nweight.9=1"
	v := mustParse(t, voters(1, 2, 3, 4, 5, 6, 7, 8, 9), cfg)
	for _, tc := range []struct {
		set  []int64
		want bool
	}{
		{[]int64{1, 2, 4, 5}, true},
		{[]int64{1, 2, 3, 4}, false},           // one group only
		{[]int64{1, 4, 7, 2, 5}, true},         // two groups of two
		{[]int64{1, 4, 7}, false},              // a majority of servers in no group
		{[]int64{1, 2, 3, 4, 7}, false},        // 5 of 9 (a plain majority), one group
		{[]int64{2, 3, 8, 9}, true},            // 4 of 9, two groups
		{[]int64{1, 2, 3, 4, 5, 6, 7}, true},   // everything but a minority
		{[]int64{3, 6, 9, 1, 4, 7, 2}, true},   // group 1 full, 2 and 3 one each
		{[]int64{10, 11, 12, 13, 14}, false},   // strangers
		{[]int64{1, 2, 10, 11, 12, 13}, false}, // strangers add nothing
	} {
		if got := v.ContainsQuorum(set(tc.set...)); got != tc.want {
			t.Errorf("ContainsQuorum(%v) = %v, want %v", tc.set, got, tc.want)
		}
	}
}

// HierarchicalQuorumTest's configuration: group 2 weighs zero, so it does
// not count (numGroups is 1) and a majority of group 1 is a quorum.
func TestHierarchicalZeroWeightGroup(t *testing.T) {
	cfg := "group.1=1:2:3\ngroup.2=4:5\nweight.1=1\nweight.2=1\nweight.3=1\nweight.4=0\nweight.5=0"
	v := mustParse(t, voters(1, 2, 3, 4, 5), cfg)
	for _, tc := range []struct {
		set  []int64
		want bool
	}{
		{[]int64{1, 2}, true},
		{[]int64{1, 4, 5}, false},
		{[]int64{4, 5}, false},
		{[]int64{3, 1}, true},
	} {
		if got := v.ContainsQuorum(set(tc.set...)); got != tc.want {
			t.Errorf("ContainsQuorum(%v) = %v, want %v", tc.set, got, tc.want)
		}
	}
	if v.Weight(4) != 0 || v.Weight(1) != 1 {
		t.Errorf("weights 4:%d 1:%d", v.Weight(4), v.Weight(1))
	}
}

// Weights decide inside a group: more than half of the group's weight.
func TestHierarchicalWeights(t *testing.T) {
	// Group 1: 1 (weight 3), 2, 3 (weight 1 each): 1 alone holds 3 of 5.
	// Group 2: 4, 5, 6 (default weight 1).
	// Group 3: 7 (weight 2), 8 (weight 2): 4 of 4 needed more than 2.
	cfg := "group.1=1:2:3\ngroup.2=4:5:6\ngroup.3=7:8\nweight.1=3\nweight.7=2\nweight.8=2"
	v := mustParse(t, voters(1, 2, 3, 4, 5, 6, 7, 8), cfg)
	for _, tc := range []struct {
		set  []int64
		want bool
	}{
		{[]int64{1, 4, 5}, true},     // 3 servers of 8: not a majority, but two groups
		{[]int64{2, 3, 4, 5}, false}, // 2 of weight 5 in group 1
		{[]int64{2, 3, 4, 5, 7}, false},
		{[]int64{7, 8, 4, 5}, true},
		{[]int64{2, 3, 5, 6, 7, 8}, true},
		{[]int64{2, 3, 6, 7}, false}, // 4 of 8 servers, no group majority at all
	} {
		if got := v.ContainsQuorum(set(tc.set...)); got != tc.want {
			t.Errorf("ContainsQuorum(%v) = %v, want %v", tc.set, got, tc.want)
		}
	}
}

// An observer may sit in a group when it has a weight (it then counts in
// the group's weight, as in Java, though it never acks); it is not a voter.
func TestHierarchicalObservers(t *testing.T) {
	members := append(voters(1, 2, 3), Member{ID: 4}, Member{ID: 5})
	v := mustParse(t, members, "group.1=1:2\ngroup.2=3:4\nweight.4=1")
	if v.IsVoter(4) || v.IsVoter(5) || !slices.Equal(v.Voters(), []int64{1, 2, 3}) {
		t.Errorf("voters %v", v.Voters())
	}
	// Group 2 weighs 2 (3 and the observer 4): 3 alone is not more than
	// half of it, so with two groups nothing short of the observer's ack
	// (which never comes) is a quorum.
	if v.ContainsQuorum(set(1, 2, 3)) || !v.ContainsQuorum(set(1, 2, 3, 4)) {
		t.Error("observer weight in group 2")
	}
	if w := mustParse(t, members, "group.1=1:2\ngroup.2=3"); !w.ContainsQuorum(set(1, 2, 3)) {
		t.Error("without the observer group 2 is 3 alone")
	}
	// An observer outside every group needs nothing.
	if _, err := Parse(members, props("group.1=1:2:3")); err != nil {
		t.Error(err)
	}
}

// The configurations Java refuses, with Java's messages where Java has one
// (QuorumHierarchical.parse), and those where Java fails with a runtime
// exception, refused with a message of ours.
func TestHierarchicalParseErrors(t *testing.T) {
	members := append(voters(1, 2, 3), Member{ID: 4})
	for _, tc := range []struct {
		cfg, want string
	}{
		{"weight.1=2", "Server 1is not in a group"}, // weight alone makes it hierarchical
		{"group.1=1:2", "Server 3is not in a group"},
		{"group.1=1:2\ngroup.2=2:3", "Server 2is in multiple groups"},
		{"group.1=1:2\ngroup.2=3:4", "server 4 is not a participant and has no weight.4 line"},
		{"group.1=1:2\ngroup.2=3:9", "server 9 is not a participant and has no weight.9 line"},
		{"group.1=1:x\ngroup.2=3", `group.1: server id "x" is not a number`},
		{"group.1=1::2\ngroup.2=3", `group.1: server id "" is not a number`},
		{"group.1=\ngroup.2=1:2:3", `group.1: server id "" is not a number`},
		{"group.1=1:2:3\nweight.1=heavy", `weight.1: weight "heavy" is not a number`},
		{"group.1=1:2:3\nweight.1=2 ", `weight.1: weight "2 " is not a number`},
		{"group=1:2:3", `group: "group" is not a number`},
		{"group.a=1:2:3", `group.a: "a" is not a number`},
	} {
		_, err := Parse(members, props(tc.cfg))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// Java's parser quirks that do not fail: the id is what follows the first
// dot of any key starting with group/weight, trailing ':' are dropped, a
// leading '+' is a sign.
func TestHierarchicalParseQuirks(t *testing.T) {
	v := mustParse(t, voters(1, 2, 3), "groupA.1=1:2:\ngroups.2=+3\nweightX.3=+2")
	h := v.(*Hierarchical)
	if g, _ := h.GroupOf(2); g != 1 {
		t.Errorf("2 in group %d", g)
	}
	if g, _ := h.GroupOf(3); g != 2 || h.Weight(3) != 2 {
		t.Errorf("3 in group %d weight %d", g, h.Weight(3))
	}
}

// Java's toString lines: groups by gid, members and weights by sid, in
// HashMap order (ascending for small ids), default weights included.
func TestHierarchicalText(t *testing.T) {
	v := mustParse(t, append(voters(1, 2, 3, 4, 5), Member{ID: 6}), "group.2=4:5\ngroup.1=3:1:2:6\nweight.6=0\nweight.3=2")
	want := "group.1=1:2:3:6\ngroup.2=4:5\nweight.1=1\nweight.2=1\nweight.3=2\nweight.4=1\nweight.5=1\nweight.6=0\n"
	if got := v.Text(); got != want {
		t.Errorf("Text:\n%s\nwant:\n%s", got, want)
	}
	// Past 12 entries the HashMap has 32 buckets: 16 and 17 no longer
	// share buckets with 0 and 1.
	ids := []int64{17, 3, 16, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11}
	JavaHashOrder(ids)
	if !slices.Equal(ids, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16, 17}) {
		t.Errorf("order %v", ids)
	}
	small := []int64{17, 1, 16, 0}
	JavaHashOrder(small)
	if !slices.Equal(small, []int64{0, 16, 1, 17}) {
		t.Errorf("order %v", small)
	}
}

// With one group holding every voter at weight 1, Hierarchical decides
// exactly as Majority does; checked on random sets.
func TestHierarchicalOneGroupIsMajority(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for n := 1; n <= 9; n++ {
		ids := make([]int64, n)
		parts := make([]string, n)
		for i := range ids {
			ids[i] = int64(i + 1)
			parts[i] = string(rune('0' + i + 1))
		}
		h := mustParse(t, voters(ids...), "group.1="+strings.Join(parts, ":"))
		m := NewMajority(ids)
		for k := 0; k < 200; k++ {
			s := map[int64]bool{}
			for _, id := range ids {
				if rng.Intn(2) == 0 {
					s[id] = true
				}
			}
			if h.ContainsQuorum(s) != m.ContainsQuorum(s) {
				t.Fatalf("n=%d set %v: hierarchical %v, majority %v", n, s, h.ContainsQuorum(s), m.ContainsQuorum(s))
			}
		}
	}
}
