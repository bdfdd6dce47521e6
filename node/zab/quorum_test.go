package zab

import (
	"slices"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/wire"
)

// majority3o is three voters (1-3) and an observer (4).
func majority3o() quorum.Verifier { return quorum.NewMajority([]int64{1, 2, 3}) }

// hier9 is nine voters in three groups of three; server 9 weighs 0, and
// 10 is an observer.
func hier9(t *testing.T) quorum.Verifier {
	t.Helper()
	var members []quorum.Member
	for id := int64(1); id <= 9; id++ {
		members = append(members, quorum.Member{ID: id, Voter: true})
	}
	members = append(members, quorum.Member{ID: 10})
	v, err := quorum.Parse(members, map[string]string{
		"group.1": "1:2:3", "group.2": "4:5:6", "group.3": "7:8:9", "weight.9": "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestTracker(t *testing.T) {
	for _, tc := range []struct {
		name    string
		v       quorum.Verifier
		acks    []int64
		counted []int64 // acks that count
		quorum  bool
	}{
		{"majority: none", majority3o(), nil, nil, false},
		{"majority: one of three", majority3o(), []int64{1}, []int64{1}, false},
		{"majority: two of three", majority3o(), []int64{3, 1}, []int64{1, 3}, true},
		{"majority: an observer adds nothing", majority3o(), []int64{1, 4}, []int64{1}, false},
		{"majority: unknown ids add nothing", majority3o(), []int64{2, 7, -1}, []int64{2}, false},
		{"majority: repeated acks count once", majority3o(), []int64{2, 2, 2}, []int64{2}, false},
		{"hierarchical: majority of one group only", hier9(t), []int64{1, 2, 3}, []int64{1, 2, 3}, false},
		{"hierarchical: majorities of two groups", hier9(t), []int64{1, 2, 4, 5}, []int64{1, 2, 4, 5}, true},
		{"hierarchical: majorities of groups 1 and 3", hier9(t), []int64{1, 4, 7, 8, 2}, []int64{1, 2, 4, 7, 8}, true},
		{"hierarchical: one from each group", hier9(t), []int64{1, 4, 7}, []int64{1, 4, 7}, false},
		{"hierarchical: a zero weight adds nothing", hier9(t), []int64{1, 2, 9, 7}, []int64{1, 2, 7, 9}, false},
		{"hierarchical: the observer adds nothing", hier9(t), []int64{1, 2, 4, 10}, []int64{1, 2, 4}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker(tc.v)
			for _, id := range tc.acks {
				want := slices.Contains(tc.counted, id)
				if got := tr.Ack(id); got != want {
					t.Errorf("Ack(%d) = %v, want %v", id, got, want)
				}
			}
			if got := tr.IDs(); !slices.Equal(got, tc.counted) && !(len(got) == 0 && len(tc.counted) == 0) {
				t.Errorf("IDs = %v, want %v", got, tc.counted)
			}
			for _, id := range tc.counted {
				if !tr.Acked(id) {
					t.Errorf("Acked(%d) = false", id)
				}
			}
			if got := tr.HasQuorum(); got != tc.quorum {
				t.Errorf("HasQuorum = %v, want %v", got, tc.quorum)
			}
		})
	}
}

func TestTrackerString(t *testing.T) {
	tr := NewTracker(quorum.NewMajority([]int64{1, 2, 3, 10, 11}))
	for _, id := range []int64{11, 2, 10} {
		tr.Ack(id)
	}
	if got := tr.String(); got != "2,10,11" {
		t.Fatalf("String = %q", got)
	}
}

// A script of proposals, ACKs and commits: each line is
// "propose Z", "ack SID Z RESULT", "through SID Z" or "commit Z..." (the
// zxids Commit returns, in order, then false; "commit" alone: none).
func runOutstanding(t *testing.T, v quorum.Verifier, script string) {
	t.Helper()
	o := NewOutstanding(v, wire.MakeZxid(1, 0))
	z := func(s string) wire.Zxid {
		var c uint32
		for _, ch := range s {
			c = c*10 + uint32(ch-'0')
		}
		return wire.MakeZxid(1, c)
	}
	var sid = func(s string) int64 { return int64(z(s).Counter()) }
	for n, line := range strings.Split(strings.TrimSpace(script), "\n") {
		f := strings.Fields(line)
		switch f[0] {
		case "propose":
			o.Propose(z(f[1]))
		case "ack":
			if got := o.Ack(sid(f[1]), z(f[2])); got.String() != f[3] {
				t.Fatalf("line %d %q: %v", n+1, line, got)
			}
		case "through":
			o.AckThrough(sid(f[1]), z(f[2]))
		case "commit":
			for _, w := range f[1:] {
				got, ok := o.Commit()
				if !ok || got != z(w) {
					t.Fatalf("line %d %q: Commit() = %v, %v", n+1, line, got, ok)
				}
				if o.LastCommitted() != got {
					t.Fatalf("line %d: LastCommitted %v after committing %v", n+1, o.LastCommitted(), got)
				}
			}
			if got, ok := o.Commit(); ok {
				t.Fatalf("line %d %q: Commit() = %v, more than expected", n+1, line, got)
			}
		default:
			t.Fatalf("line %d: bad command %q", n+1, line)
		}
	}
}

func TestOutstanding(t *testing.T) {
	for _, tc := range []struct {
		name   string
		v      func(t *testing.T) quorum.Verifier
		script string
	}{
		{"commits in zxid order, a later quorum waits for the earlier", func(*testing.T) quorum.Verifier { return majority3o() }, `
propose 1
propose 2
propose 3
ack 1 2 counted
ack 2 2 counted
commit
ack 1 1 counted
commit
ack 3 1 counted
commit 1 2
ack 2 3 counted
commit
ack 3 3 counted
commit 3
`},
		{"late, repeated, NEWLEADER and unknown ACKs", func(*testing.T) quorum.Verifier { return majority3o() }, `
propose 1
ack 1 1 counted
ack 1 1 counted
commit
ack 2 1 counted
commit 1
ack 3 1 committed
ack 3 0 committed
ack 3 2 unknown
propose 2
ack 3 2 counted
`},
		{"an observer's ACK never counts", func(*testing.T) quorum.Verifier { return majority3o() }, `
propose 1
ack 1 1 counted
ack 4 1 not-voter
commit
ack 3 1 counted
commit 1
`},
		{"the leader's own ACK covers every proposal up to its durable zxid", func(*testing.T) quorum.Verifier { return majority3o() }, `
propose 1
propose 2
propose 3
through 1 2
commit
ack 2 1 counted
ack 2 2 counted
ack 2 3 counted
commit 1 2
through 1 3
commit 3
`},
		{"hierarchical: majorities of two groups commit", hier9, `
propose 1
ack 1 1 counted
ack 2 1 counted
ack 3 1 counted
commit
ack 9 1 counted
ack 7 1 counted
commit
ack 10 1 not-voter
ack 8 1 counted
commit 1
`},
	} {
		t.Run(tc.name, func(t *testing.T) { runOutstanding(t, tc.v(t), tc.script) })
	}
}

func TestOutstandingAcksAndBounds(t *testing.T) {
	o := NewOutstanding(majority3o(), 0x500000000)
	o.Propose(0x500000001)
	o.Propose(0x500000002)
	o.Ack(2, 0x500000002)
	o.Ack(4, 0x500000002)
	if ids, ok := o.Acks(0x500000002); !ok || !slices.Equal(ids, []int64{2}) {
		t.Fatalf("Acks = %v, %v", ids, ok)
	}
	if _, ok := o.Acks(0x500000003); ok {
		t.Fatal("Acks of a zxid never proposed")
	}
	if o.Len() != 2 || o.LastProposed() != 0x500000002 || o.LastCommitted() != 0x500000000 {
		t.Fatalf("Len %d, LastProposed %v, LastCommitted %v", o.Len(), o.LastProposed(), o.LastCommitted())
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a proposal at or below the last one was taken")
		}
	}()
	o.Propose(0x500000002)
}

// TestTrackerTwoConfigurations: while a reconfiguration is pending a
// quorum is one of both configurations (SyncedLearnerTracker with two
// QuorumVerifierAcksetPairs); an ACK counts if its sender votes in
// either, and each configuration's ack set holds its own voters only.
func TestTrackerTwoConfigurations(t *testing.T) {
	old := quorum.NewMajority([]int64{1, 2, 3})
	next := quorum.NewMajority([]int64{1, 2, 5})
	tr := NewTracker(old, next)
	for _, step := range []struct {
		sid    int64
		counts bool
		quorum bool
	}{
		{1, true, false},
		{3, true, false}, // 1,3: a quorum of 1,2,3 only
		{4, false, false},
		{5, true, true}, // 1,5 of 1,2,5
	} {
		if got := tr.Ack(step.sid); got != step.counts {
			t.Errorf("Ack(%d) = %v, want %v", step.sid, got, step.counts)
		}
		if got := tr.HasQuorum(); got != step.quorum {
			t.Errorf("after %d: HasQuorum = %v, want %v", step.sid, got, step.quorum)
		}
	}
	if got, want := tr.AckedBy(0), []int64{1, 3}; !slices.Equal(got, want) {
		t.Errorf("AckedBy(0) = %v, want %v", got, want)
	}
	if got, want := tr.AckedBy(1), []int64{1, 5}; !slices.Equal(got, want) {
		t.Errorf("AckedBy(1) = %v, want %v", got, want)
	}

	// Proposals keep the verifiers they were made with.
	o := NewOutstanding(old, wire.MakeZxid(1, 0))
	o.SetVerifiers(old, next)
	o.Propose(wire.MakeZxid(1, 1))
	o.SetVerifiers(next)
	o.Propose(wire.MakeZxid(1, 2))
	for _, sid := range []int64{1, 3} {
		o.Ack(sid, wire.MakeZxid(1, 1))
		o.Ack(sid, wire.MakeZxid(1, 2))
	}
	if _, ok := o.Commit(); ok {
		t.Fatal("1:1 committed with a quorum of the old configuration only")
	}
	o.Ack(5, wire.MakeZxid(1, 1))
	o.Ack(5, wire.MakeZxid(1, 2))
	for _, want := range []wire.Zxid{wire.MakeZxid(1, 1), wire.MakeZxid(1, 2)} {
		if z, ok := o.Commit(); !ok || z != want {
			t.Fatalf("Commit = %v %v, want %v", z, ok, want)
		}
	}
}
