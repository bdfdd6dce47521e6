package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"
)

// Registers is the CAS-register workload: workers read (getData, confirmed
// by a multi with a version check, which goes through the leader's total
// order), write (setData) and compare-and-set (setData with a version) a
// few keys at a time; keys rotate every KeyLife so each key's history stays
// small enough for porcupine.
//
// A plain getData is not linearizable in ZooKeeper (a follower may serve
// stale data), so only reads whose version the check confirmed enter the
// porcupine history; every read, confirmed or not, enters the session
// check: one session never reads a version older than one it has seen or
// written (ZooKeeper's per-session ordering, kept across reconnects by the
// client's last zxid).
type Registers struct {
	Workers int
	Keys    int           // live keys at a time
	KeyLife time.Duration // a key generation's lifetime
	Gens    int           // generations created at setup
	Root    string
	hist    *History
	t0      time.Time
}

func (r *Registers) key(gen, i int) string { return fmt.Sprintf("%s/k%03d-%d", r.Root, gen, i) }

func (r *Registers) setup(ctx context.Context, c *zk.Conn) error {
	if _, err := c.Create(r.Root, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
		return fmt.Errorf("create %s: %w", r.Root, err)
	}
	var ops []any
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		_, err := call(ctx, 30*time.Second, func() ([]zk.MultiResponse, error) { return c.Multi(ops...) })
		ops = ops[:0]
		return err
	}
	for g := 0; g < r.Gens; g++ {
		for i := 0; i < r.Keys; i++ {
			ops = append(ops, &zk.CreateRequest{Path: r.key(g, i), Data: []byte("init"), Acl: zk.WorldACL(zk.PermAll)})
			if len(ops) == 50 {
				if err := flush(); err != nil {
					return fmt.Errorf("create registers: %w", err)
				}
			}
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("create registers: %w", err)
	}
	return nil
}

// run is one worker: it keeps issuing operations until ctx ends.
func (r *Registers) run(ctx context.Context, id int, c *zk.Conn, rng *rand.Rand, server string) {
	seen := map[string]int32{}
	n := 0
	for ctx.Err() == nil {
		gen := min(int(time.Since(r.t0)/r.KeyLife), r.Gens-1)
		k := r.key(gen, rng.IntN(r.Keys))
		n++
		val := fmt.Sprintf("w%d-%d", id, n)
		op := Op{Process: id, Key: k, Server: server}
		switch p := rng.IntN(10); {
		case p < 4:
			op.F = "read"
			op.Call = r.hist.Now()
			d, st, err := c.Get(k)
			if err != nil {
				op.Return, op.Status, op.Err = r.hist.Now(), StatusFail, short(err) // a read has no effect
				break
			}
			op.Value, op.Version = string(d), st.Version
			_, err = c.Multi(&zk.CheckVersionRequest{Path: k, Version: st.Version})
			op.Return = r.hist.Now()
			switch {
			case err == nil:
				op.Status, op.Result = StatusOK, "confirmed"
			case err == zk.ErrBadVersion:
				op.Status, op.Result = StatusOK, "stale" // a legal stale read: session check only
			default:
				op.Status, op.Result, op.Err = StatusOK, "unconfirmed", short(err)
			}
		case p < 7:
			op.F, op.Value = "write", val
			op.Call = r.hist.Now()
			st, err := c.Set(k, []byte(val), -1)
			op.Return, op.Status, op.Err = r.hist.Now(), classify(err), short(err)
			if err == nil {
				op.Version = st.Version
			}
		default:
			op.F, op.Value, op.Expect = "cas", val, seen[k]
			op.Call = r.hist.Now()
			st, err := c.Set(k, []byte(val), op.Expect)
			op.Return, op.Status, op.Err = r.hist.Now(), classify(err), short(err)
			switch {
			case err == nil:
				op.Version = st.Version
			case err == zk.ErrBadVersion:
				op.Result = "badversion"
			}
		}
		if op.Status == StatusOK && op.Version > seen[k] {
			seen[k] = op.Version
		}
		r.hist.Add(op)
		pace(ctx, rng)
	}
}

// pace spaces a worker's operations (0-20 ms) so a two-CPU box shared with
// the servers is not saturated.
func pace(ctx context.Context, rng *rand.Rand) {
	t := time.NewTimer(time.Duration(rng.IntN(20)) * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// regIn and regOut are porcupine's input and output of a register op.
type regIn struct {
	Key    string
	F      string
	Value  string
	Expect int32
}

type regOut struct {
	Result  string // ok, badversion, unknown
	Value   string
	Version int32
}

type regState struct {
	Value   string
	Version int32
}

// RegisterModel is the sequential specification of a ZooKeeper znode used
// as a CAS register: every applied setData bumps the version by one.
var RegisterModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(regIn).Key
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], op)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return regState{Value: "init", Version: 0} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(regState), input.(regIn), output.(regOut)
		next := regState{Value: in.Value, Version: s.Version + 1}
		switch in.F {
		case "read":
			return out.Value == s.Value && out.Version == s.Version, s
		case "write":
			if out.Result == "unknown" {
				return true, next
			}
			return out.Version == next.Version, next
		case "cas":
			switch out.Result {
			case "ok":
				return s.Version == in.Expect && out.Version == next.Version, next
			case "badversion":
				return s.Version != in.Expect, s
			default: // unknown: applies iff the version matched when it took effect
				if s.Version == in.Expect {
					return true, next
				}
				return true, s
			}
		}
		return false, s
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(regIn), output.(regOut)
		switch in.F {
		case "read":
			return fmt.Sprintf("read(%s) -> %q v%d", shortKey(in.Key), out.Value, out.Version)
		case "write":
			return fmt.Sprintf("write(%s, %q) -> %s v%d", shortKey(in.Key), in.Value, out.Result, out.Version)
		default:
			return fmt.Sprintf("cas(%s, v%d, %q) -> %s v%d", shortKey(in.Key), in.Expect, in.Value, out.Result, out.Version)
		}
	},
	DescribeState: func(state any) string {
		s := state.(regState)
		return fmt.Sprintf("%q v%d", s.Value, s.Version)
	},
}

func shortKey(k string) string { return k[strings.LastIndexByte(k, '/')+1:] }

// porcupineHistory turns the register history into porcupine operations:
// confirmed reads, ok and badversion writes, and indeterminate writes with
// an unknown result that may take effect at any time after their call.
// Failed operations and unconfirmed reads have no effect and are left out.
func (r *Registers) porcupineHistory() []porcupine.Operation {
	var out []porcupine.Operation
	for _, op := range r.hist.Ops() {
		in := regIn{Key: op.Key, F: op.F, Value: op.Value, Expect: op.Expect}
		po := porcupine.Operation{ClientId: op.Process, Input: in, Call: op.Call, Return: op.Return}
		switch {
		case op.F == "read" && op.Result == "confirmed":
			po.Output = regOut{Result: "ok", Value: op.Value, Version: op.Version}
		case op.F == "read":
			continue
		case op.Status == StatusOK:
			po.Output = regOut{Result: "ok", Version: op.Version}
		case op.Result == "badversion":
			po.Output = regOut{Result: "badversion"}
		case op.Status == StatusInfo:
			po.Output, po.Return = regOut{Result: "unknown"}, infinity
		default:
			continue
		}
		out = append(out, po)
	}
	return out
}

// checkSessions verifies per-session monotonic reads and read-your-writes:
// a worker never sees a key's version go back.
func (r *Registers) checkSessions() []string {
	var bad []string
	type pk struct {
		p int
		k string
	}
	seen := map[pk]Op{}
	for _, op := range r.hist.Ops() {
		if op.Status != StatusOK || op.F == "cas" && op.Result == "badversion" {
			continue
		}
		k := pk{op.Process, op.Key}
		if prev, ok := seen[k]; ok && op.F == "read" && op.Version < prev.Version {
			bad = append(bad, fmt.Sprintf("process %d read %s v%d at %s after it saw v%d (%s at %s)", op.Process,
				shortKey(op.Key), op.Version, fmtTime(op.Call), prev.Version, prev.F, fmtTime(prev.Return)))
			continue
		}
		if prev, ok := seen[k]; !ok || op.Version >= prev.Version {
			seen[k] = op
		}
	}
	return bad
}

// checkFinal verifies the registers every server holds at the end against
// the history: a key's final value was written by some write that did not
// definitely fail (or is the initial value).
func (r *Registers) checkFinal(final map[string]Znode) []string {
	written := map[string]Status{}
	for _, op := range r.hist.Ops() {
		if op.F != "read" {
			if s, ok := written[op.Value]; !ok || s != StatusOK {
				written[op.Value] = op.Status
				if op.Result == "badversion" {
					written[op.Value] = StatusFail
				}
			}
		}
	}
	var bad []string
	for path, z := range final {
		if !strings.HasPrefix(path, r.Root+"/") || z.Data == "init" && z.Version == 0 {
			continue
		}
		s, ok := written[z.Data]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%s holds %q v%d, which no operation wrote", path, z.Data, z.Version))
		case s == StatusFail:
			bad = append(bad, fmt.Sprintf("%s holds %q v%d, written by an operation that failed", path, z.Data, z.Version))
		}
	}
	sort.Strings(bad)
	return bad
}

func fmtTime(ns int64) string {
	if ns == infinity {
		return "never"
	}
	return strconv.FormatFloat(float64(ns)/1e9, 'f', 3, 64) + "s"
}
