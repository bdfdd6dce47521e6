package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// Fault names a kind of fault the nemesis injects.
type Fault string

// The faults. Leader-targeted ones resolve the leader when they start.
const (
	FaultKill             Fault = "kill"             // kill -9 a random node, restart it (same dataDir)
	FaultKillLeader       Fault = "kill-leader"      // kill -9 the leader, restart it
	FaultPauseLeader      Fault = "pause-leader"     // SIGSTOP the leader past syncLimit or past the session timeout
	FaultPause            Fault = "pause"            // SIGSTOP a random node
	FaultIsolateLeader    Fault = "isolate-leader"   // the leader loses every peer (TRUNC when it rejoins)
	FaultHalves           Fault = "partition-halves" // a random minority / majority split
	FaultRing             Fault = "partition-ring"   // majorities ring (5) or bridge (3): each node sees a majority
	FaultOneWay           Fault = "partition-oneway" // one node stops receiving from another
	FaultLoss             Fault = "loss"             // random packet loss between all nodes
	FaultWipe             Fault = "wipe"             // kill a follower, wipe its dataDir, restart (SNAP)
	FaultBehind           Fault = "behind"           // keep a follower down while writes go on (DIFF from the leader's txn log)
	FaultLeaderBehind     Fault = "leader-loses-log" // kill the leader under load, restart it (its log tail truncated by TRUNC/DIFF)
	FaultDelay            Fault = "delay"            // slow links (relays): the leader's, one node's, or all of them
	faultHealName         Fault = "heal"
	defaultFaultGapLow          = 1 * time.Second
	defaultFaultGapSpread       = 2 * time.Second
)

// AllFaults is every fault the nemesis knows but delay, which needs the
// relays (ParseFaults("all+delay") adds it).
var AllFaults = []Fault{FaultKill, FaultKillLeader, FaultPauseLeader, FaultPause, FaultIsolateLeader, FaultHalves,
	FaultRing, FaultOneWay, FaultLoss, FaultWipe, FaultBehind, FaultLeaderBehind}

// ParseFaults reads a comma-separated fault list: "all" for AllFaults,
// "all+delay" for those and delay.
func ParseFaults(s string) ([]Fault, error) {
	switch s {
	case "", "all":
		return AllFaults, nil
	case "all+delay":
		return append(slices.Clone(AllFaults), FaultDelay), nil
	}
	var out []Fault
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(AllFaults, Fault(f)) && Fault(f) != FaultDelay {
			return nil, fmt.Errorf("faults: unknown fault %q (known: %v)", f, AllFaults)
		}
		out = append(out, Fault(f))
	}
	return out, nil
}

// Step is one scheduled fault: it starts At after the workload starts and
// lasts For; Pick and Param are its seeded random choices.
type Step struct {
	At, For time.Duration
	Fault   Fault
	Pick    int     // random node / split choice
	Param   float64 // loss probability
}

func (s Step) String() string {
	switch s.Fault {
	case FaultLoss:
		return fmt.Sprintf("%6.1fs %-16s for %4.1fs p=%.2f", s.At.Seconds(), s.Fault, s.For.Seconds(), s.Param)
	case FaultDelay:
		return fmt.Sprintf("%6.1fs %-16s for %4.1fs %3.0fms pick=%d", s.At.Seconds(), s.Fault, s.For.Seconds(),
			s.Param*1000, s.Pick)
	default:
		return fmt.Sprintf("%6.1fs %-16s for %4.1fs pick=%d", s.At.Seconds(), s.Fault, s.For.Seconds(), s.Pick)
	}
}

// Schedule draws a fault schedule from seed: faults one at a time, each
// followed by its heal and a gap, until total. The kinds cycle through a
// seeded permutation of faults so a short run still sees each kind.
func Schedule(seed uint64, faults []Fault, total time.Duration) []Step {
	rng := rand.New(rand.NewPCG(seed, 0x6661756c7473))
	var out []Step
	at := 2 * time.Second
	var perm []int
	for i := 0; ; i++ {
		if len(faults) == 0 {
			return nil
		}
		if i%len(faults) == 0 {
			perm = rng.Perm(len(faults))
		}
		s := Step{At: at, Fault: faults[perm[i%len(faults)]], Pick: rng.IntN(1 << 16)}
		switch s.Fault {
		case FaultPauseLeader, FaultPause:
			// Past syncLimit (1.25 s) but within the session timeout,
			// or past the session timeout (4 s).
			if rng.IntN(2) == 0 {
				s.For = 2*time.Second + time.Duration(rng.IntN(1000))*time.Millisecond
			} else {
				s.For = 5*time.Second + time.Duration(rng.IntN(2000))*time.Millisecond
			}
		case FaultBehind:
			// Past the leader's 500-txn committed log at a few hundred
			// writes a second, yet a log smaller than the snapshot, so
			// the sync is a DIFF read from the leader's txn log.
			s.For = 3*time.Second + time.Duration(rng.IntN(2000))*time.Millisecond
		case FaultWipe, FaultLeaderBehind:
			s.For = 1*time.Second + time.Duration(rng.IntN(2000))*time.Millisecond
		case FaultLoss:
			s.For = 3*time.Second + time.Duration(rng.IntN(3000))*time.Millisecond
			s.Param = 0.1 + 0.3*rng.Float64()
		case FaultDelay:
			// 20-600 ms each way: from slow to past a tick, up to half
			// of syncLimit.
			s.For = 3*time.Second + time.Duration(rng.IntN(4000))*time.Millisecond
			s.Param = 0.02 + 0.58*rng.Float64()
		default:
			s.For = 2*time.Second + time.Duration(rng.IntN(4000))*time.Millisecond
		}
		if s.At+s.For > total {
			return out
		}
		out = append(out, s)
		at += s.For + defaultFaultGapLow + time.Duration(rng.IntN(int(defaultFaultGapSpread/time.Millisecond)))*time.Millisecond
	}
}

// Nemesis applies a schedule to an ensemble and logs what it did.
type Nemesis struct {
	e     *Ensemble
	t0    time.Time
	mu    sync.Mutex
	log   []string
	down  map[int]bool // killed, to restart at heal
	pause map[int]bool
}

func newNemesis(e *Ensemble, t0 time.Time) *Nemesis {
	return &Nemesis{e: e, t0: t0, down: map[int]bool{}, pause: map[int]bool{}}
}

func (n *Nemesis) logf(format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.log = append(n.log, fmt.Sprintf("%6.1fs ", time.Since(n.t0).Seconds())+fmt.Sprintf(format, args...))
}

// Log returns what the nemesis did, one line per action.
func (n *Nemesis) Log() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.log...)
}

func (n *Nemesis) describe(id int) string {
	node := n.e.Node(id)
	role := "participant"
	if node.Observer {
		role = "observer"
	}
	return fmt.Sprintf("node %d (%s %s)", id, node.Kind, role)
}

// leaderOr returns the leader, or a random participant when none answers.
func (n *Nemesis) leaderOr(pick int) int {
	if l := n.e.Leader(); l != 0 {
		return l
	}
	ps := n.e.Participants()
	return ps[pick%len(ps)]
}

// follower returns a running participant that is not the leader, or 0.
func (n *Nemesis) follower(pick int) int {
	l := n.e.Leader()
	var cands []int
	for _, id := range n.e.Participants() {
		if id != l {
			cands = append(cands, id)
		}
	}
	if len(cands) == 0 {
		return 0
	}
	return cands[pick%len(cands)]
}

// Run applies the schedule until it ends or ctx is cancelled; it heals
// after each fault. Errors of the fault machinery (not of the ensemble)
// are returned.
func (n *Nemesis) Run(ctx context.Context, steps []Step) error {
	for _, s := range steps {
		if wait := time.Until(n.t0.Add(s.At)); wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
		if err := n.apply(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

func (n *Nemesis) sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (n *Nemesis) apply(ctx context.Context, s Step) error {
	e := n.e
	nodes := len(e.Nodes)
	all := make([]int, 0, nodes)
	for _, node := range e.Nodes {
		all = append(all, node.ID)
	}
	switch s.Fault {
	case FaultKill, FaultKillLeader, FaultLeaderBehind:
		id := all[s.Pick%nodes]
		if s.Fault != FaultKill {
			id = n.leaderOr(s.Pick)
		}
		n.logf("%s: kill -9 %s", s.Fault, n.describe(id))
		if err := n.kill(id); err != nil {
			return err
		}
		n.sleep(ctx, s.For)
		return n.restart(id)
	case FaultBehind:
		id := n.follower(s.Pick)
		if id == 0 {
			return nil
		}
		n.logf("%s: kill -9 %s and keep it down %.1fs", s.Fault, n.describe(id), s.For.Seconds())
		if err := n.kill(id); err != nil {
			return err
		}
		n.sleep(ctx, s.For)
		return n.restart(id)
	case FaultWipe:
		// Only a healthy ensemble may lose one node's disk: a quorum
		// without it still holds every acknowledged txn.
		if _, err := e.WaitHealthy(30 * time.Second); err != nil {
			n.logf("%s: skipped, ensemble not healthy: %v", s.Fault, err)
			return nil
		}
		id := n.follower(s.Pick)
		n.logf("%s: kill -9 %s, wipe its dataDir, restart", s.Fault, n.describe(id))
		if err := n.kill(id); err != nil {
			return err
		}
		if err := e.Wipe(id); err != nil {
			return err
		}
		if err := n.restart(id); err != nil {
			return err
		}
		// Let it sync (SNAP) before the next fault can take another node.
		if _, err := e.WaitHealthy(60 * time.Second); err != nil {
			n.logf("%s: node %d did not rejoin: %v", s.Fault, id, err)
		}
		n.sleep(ctx, s.For)
		return nil
	case FaultPause, FaultPauseLeader:
		id := all[s.Pick%nodes]
		if s.Fault == FaultPauseLeader {
			id = n.leaderOr(s.Pick)
		}
		n.logf("%s: SIGSTOP %s for %.1fs", s.Fault, n.describe(id), s.For.Seconds())
		n.mu.Lock()
		n.pause[id] = true
		n.mu.Unlock()
		if err := e.Pause(id); err != nil {
			return err
		}
		n.sleep(ctx, s.For)
		n.mu.Lock()
		delete(n.pause, id)
		n.mu.Unlock()
		n.logf("%s: SIGCONT node %d", s.Fault, id)
		return e.Resume(id)
	case FaultIsolateLeader:
		id := n.leaderOr(s.Pick)
		var rest []int
		for _, o := range all {
			if o != id {
				rest = append(rest, o)
			}
		}
		n.logf("%s: isolate %s from %v", s.Fault, n.describe(id), rest)
		if err := n.partition([]int{id}, rest); err != nil {
			return err
		}
	case FaultHalves:
		perm := rand.New(rand.NewPCG(uint64(s.Pick), 1)).Perm(nodes)
		var a, b []int
		for i, p := range perm {
			if i < nodes/2 {
				a = append(a, all[p])
			} else {
				b = append(b, all[p])
			}
		}
		n.logf("%s: %v | %v", s.Fault, a, b)
		if err := n.partition(a, b); err != nil {
			return err
		}
	case FaultRing:
		perm := rand.New(rand.NewPCG(uint64(s.Pick), 2)).Perm(nodes)
		ring := make([]int, nodes)
		for i, p := range perm {
			ring[i] = all[p]
		}
		// Each node keeps its ring neighbours (for 3 nodes: a bridge
		// node between two that cannot see each other).
		var cut [][2]int
		for i := range ring {
			for j := i + 1; j < nodes; j++ {
				d := j - i
				if d != 1 && d != nodes-1 || nodes == 3 && i == 0 && j == 2 {
					cut = append(cut, [2]int{ring[i], ring[j]})
				}
			}
		}
		n.logf("%s: ring %v, cut %v", s.Fault, ring, cut)
		for _, c := range cut {
			if err := n.partition([]int{c[0]}, []int{c[1]}); err != nil {
				return err
			}
		}
	case FaultOneWay:
		perm := rand.New(rand.NewPCG(uint64(s.Pick), 3)).Perm(nodes)
		from, to := all[perm[0]], all[perm[1]]
		if l := e.Leader(); l != 0 && s.Pick%2 == 0 {
			from = l // half the time the leader's packets are the ones lost
			if to == l {
				to = all[perm[0]]
			}
		}
		n.logf("%s: node %d stops receiving from node %d", s.Fault, to, from)
		if err := e.Net.Host(to).Drop(e.Net.Host(from)); err != nil {
			return err
		}
	case FaultLoss:
		n.logf("%s: every node drops %.0f%% of its peers' packets", s.Fault, 100*s.Param)
		for _, a := range all {
			var peers []*Host
			for _, b := range all {
				if a != b {
					peers = append(peers, e.Net.Host(b))
				}
			}
			if err := e.Net.Host(a).Loss(s.Param, peers...); err != nil {
				return err
			}
		}
	case FaultDelay:
		if !e.Relayed() {
			n.logf("%s: skipped (no relays)", s.Fault)
			return nil
		}
		d := time.Duration(s.Param * float64(time.Second))
		var slow []int
		switch s.Pick % 3 {
		case 0:
			slow = []int{n.leaderOr(s.Pick)}
		case 1:
			slow = []int{all[s.Pick%nodes]}
		default:
			slow = all
		}
		n.logf("%s: links of %v slowed by %v each way", s.Fault, slow, d)
		for _, a := range slow {
			for _, b := range all {
				if a != b {
					e.SetDelay(a, b, d)
				}
			}
		}
	default:
		return fmt.Errorf("faults: unknown fault %q", s.Fault)
	}
	n.sleep(ctx, s.For)
	n.logf("%s: heal network", s.Fault)
	e.ClearDelays()
	return e.Net.Heal()
}

// partition cuts every link between group a and group b, both ways.
func (n *Nemesis) partition(a, b []int) error {
	var errs []error
	for _, x := range a {
		for _, y := range b {
			hx, hy := n.e.Net.Host(x), n.e.Net.Host(y)
			errs = append(errs, hx.Drop(hy), hy.Drop(hx))
		}
	}
	return errors.Join(errs...)
}

func (n *Nemesis) kill(id int) error {
	n.mu.Lock()
	n.down[id] = true
	n.mu.Unlock()
	return n.e.Kill(id)
}

func (n *Nemesis) restart(id int) error {
	n.logf("restart node %d", id)
	n.mu.Lock()
	delete(n.down, id)
	n.mu.Unlock()
	return n.e.Start(id)
}

// HealAll ends every fault: network rules flushed, paused nodes continued,
// killed nodes restarted.
func (n *Nemesis) HealAll() error {
	var errs []error
	errs = append(errs, n.e.Net.Heal())
	n.e.ClearDelays()
	n.mu.Lock()
	paused := n.pause
	down := n.down
	n.pause, n.down = map[int]bool{}, map[int]bool{}
	n.mu.Unlock()
	for id := range paused {
		errs = append(errs, n.e.Resume(id))
	}
	for id := range down {
		errs = append(errs, n.e.Start(id))
	}
	for _, node := range n.e.Nodes {
		if !node.Running() && !node.Exited() {
			errs = append(errs, n.e.Start(node.ID))
		}
	}
	n.logf("%s: network healed, every node running", faultHealName)
	return errors.Join(errs...)
}
