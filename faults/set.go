package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"github.com/go-zookeeper/zk"
)

// Set is the sequential-append workload: workers create PERSISTENT_SEQUENTIAL
// children of Root, each with a unique payload.
type Set struct {
	Workers int
	Root    string
	hist    *History
}

func (s *Set) setup(c *zk.Conn) error {
	if _, err := c.Create(s.Root, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
		return fmt.Errorf("create %s: %w", s.Root, err)
	}
	return nil
}

func (s *Set) run(ctx context.Context, id int, c *zk.Conn, rng *rand.Rand, server string) {
	for n := 1; ctx.Err() == nil; n++ {
		op := Op{Process: id, F: "add", Value: fmt.Sprintf("s%d-%d", id, n), Server: server}
		op.Call = s.hist.Now()
		name, err := c.Create(s.Root+"/e-", []byte(op.Value), zk.FlagSequence, zk.WorldACL(zk.PermAll))
		op.Return, op.Status, op.Err = s.hist.Now(), classify(err), short(err)
		op.Result = name
		s.hist.Add(op)
		pace(ctx, rng)
	}
}

func seqOf(name string) (int64, bool) {
	i := strings.LastIndex(name, "e-")
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(name[i+2:], 10, 64)
	return n, err == nil
}

// check verifies the set one server holds at the end against the history:
// every acknowledged create is present with its payload, no payload twice,
// none that no create sent or whose create definitely failed, acknowledged
// sequence numbers unique and in real-time order.
func (s *Set) check(final map[string]Znode) []string {
	var bad []string
	byValue := map[string]Op{}
	for _, op := range s.hist.Ops() {
		byValue[op.Value] = op
	}
	present := map[string]string{} // payload -> path
	for path, z := range final {
		if !strings.HasPrefix(path, s.Root+"/") {
			continue
		}
		if other, dup := present[z.Data]; dup {
			bad = append(bad, fmt.Sprintf("payload %q twice: %s and %s", z.Data, other, path))
		}
		present[z.Data] = path
		op, ok := byValue[z.Data]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%s holds %q, which no create sent (invented)", path, z.Data))
		case op.Status == StatusFail:
			bad = append(bad, fmt.Sprintf("%s holds %q, whose create failed definitely (%s)", path, z.Data, op.Err))
		case op.Status == StatusOK && op.Result != path:
			bad = append(bad, fmt.Sprintf("%q was acknowledged as %s but is at %s", z.Data, op.Result, path))
		}
	}
	acked := []Op{}
	names := map[string]string{}
	for _, op := range s.hist.Ops() {
		if op.Status != StatusOK {
			continue
		}
		acked = append(acked, op)
		if _, ok := present[op.Value]; !ok {
			bad = append(bad, fmt.Sprintf("acknowledged create %s (%q, acked at %s) is missing (lost)", op.Result, op.Value,
				fmtTime(op.Return)))
		}
		if other, dup := names[op.Result]; dup {
			bad = append(bad, fmt.Sprintf("sequence %s acknowledged twice: %q and %q", op.Result, other, op.Value))
		}
		names[op.Result] = op.Value
	}
	sort.Strings(bad)
	// Real-time order: a create acknowledged before another was invoked
	// has the smaller sequence number (among the acknowledged creates that
	// are where their reply said).
	var order []string
	kept := acked[:0]
	for _, op := range acked {
		if present[op.Value] == op.Result {
			kept = append(kept, op)
		}
	}
	acked = kept
	sort.Slice(acked, func(i, j int) bool { return acked[i].Return < acked[j].Return })
	var maxSeq int64 = -1
	var maxOp Op
	byCall := append([]Op(nil), acked...)
	sort.Slice(byCall, func(i, j int) bool { return byCall[i].Call < byCall[j].Call })
	j := 0
	for _, op := range byCall {
		for j < len(acked) && acked[j].Return < op.Call {
			if q, ok := seqOf(acked[j].Result); ok && q > maxSeq {
				maxSeq, maxOp = q, acked[j]
			}
			j++
		}
		if q, ok := seqOf(op.Result); ok && q <= maxSeq {
			order = append(order, fmt.Sprintf("%s (invoked %s) has a sequence number below %s, acknowledged before (at %s)",
				op.Result, fmtTime(op.Call), maxOp.Result, fmtTime(maxOp.Return)))
		}
	}
	return append(bad, order...)
}
