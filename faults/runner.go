package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"
)

// RunConfig is one fault run.
type RunConfig struct {
	Seed     uint64
	Faults   []Fault
	Duration time.Duration // the workload under faults
	// Recovery is how long the workload goes on after the heal, before the
	// final checks.
	Recovery time.Duration
	// Dir holds the run's histories and logs (kept on failure).
	Dir string
	// Dial, when set, gives the address a workload worker connects to
	// instead of the ensemble (the self-test's tamper proxy): workload is
	// "registers" or "set", worker its index. ok=false keeps the default.
	Dial func(workload string, worker int) (servers []string, ok bool)
	// AfterWork, when set, runs once the workers have stopped, before the
	// final reads.
	AfterWork func()
	// Root is the parent of every znode the run uses ("" for /); runs
	// that share an ensemble use different roots.
	Root string
	// Reconfig runs the reconfig driver (Reconfigs) alongside the
	// workloads; the ensemble must have been made with
	// EnsembleConfig.Reconfig.
	Reconfig bool
	// Replay is the command line that repeats this run (for the report).
	Replay string
	Logf   func(format string, args ...any)
}

// Verdict is one checker's result.
type Verdict struct {
	Checker string
	OK      bool
	Unknown bool // the checker could not decide (porcupine timeout)
	Details []string
}

// Result is what a run found.
type Result struct {
	Mix       string
	Seed      uint64
	Schedule  []Step
	Nemesis   []string
	Counts    map[string][3]int // workload -> ok, fail, info
	Verdicts  []Verdict
	Elapsed   time.Duration
	Syncs     [3]int // learner syncs seen in the nodes' logs: DIFF, SNAP, TRUNC
	Dir       string
	Replay    string
	runDir    string
	linInfo   porcupine.LinearizationInfo
	histories []*History
}

// OK reports whether every checker passed.
func (r *Result) OK() bool {
	for _, v := range r.Verdicts {
		if !v.OK {
			return false
		}
	}
	return true
}

// Summary is one line for tables: mix, seed, verdict, operations, the
// checkers that failed.
func (r *Result) Summary() string {
	ops := 0
	info := 0
	for _, c := range r.Counts {
		ops += c[0] + c[1] + c[2]
		info += c[2]
	}
	var failed []string
	for _, v := range r.Verdicts {
		if !v.OK {
			failed = append(failed, v.Checker)
		}
	}
	verdict := "PASS"
	if len(failed) > 0 {
		verdict = "FAIL"
	}
	return fmt.Sprintf("FAULTS-SUMMARY mix=%s seed=%d verdict=%s ops=%d info=%d diff=%d snap=%d trunc=%d elapsed=%.1fs failed=%s",
		r.Mix, r.Seed, verdict, ops, info, r.Syncs[0], r.Syncs[1], r.Syncs[2], r.Elapsed.Seconds(), strings.Join(failed, ","))
}

// Report is the human-readable summary of a run.
func (r *Result) Report() string {
	var b strings.Builder
	verdict := "PASS"
	if !r.OK() {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "faults run %s: mix=%s seed=%d elapsed=%.1fs\n", verdict, r.Mix, r.Seed, r.Elapsed.Seconds())
	fmt.Fprintf(&b, "schedule:\n")
	for _, s := range r.Schedule {
		fmt.Fprintf(&b, "  %s\n", s)
	}
	fmt.Fprintf(&b, "nemesis:\n")
	for _, l := range r.Nemesis {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	fmt.Fprintf(&b, "learner syncs: DIFF %d, SNAP %d, TRUNC %d\n", r.Syncs[0], r.Syncs[1], r.Syncs[2])
	names := make([]string, 0, len(r.Counts))
	for k := range r.Counts {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintf(&b, "operations (ok/fail/info):")
	for _, k := range names {
		c := r.Counts[k]
		fmt.Fprintf(&b, " %s %d/%d/%d;", k, c[0], c[1], c[2])
	}
	b.WriteString("\ncheckers:\n")
	for _, v := range r.Verdicts {
		s := "ok"
		switch {
		case v.Unknown:
			s = "unknown"
		case !v.OK:
			s = "VIOLATION"
		}
		fmt.Fprintf(&b, "  %-14s %s\n", v.Checker, s)
		for i, d := range v.Details {
			if i == 20 {
				fmt.Fprintf(&b, "      ... %d more\n", len(v.Details)-20)
				break
			}
			fmt.Fprintf(&b, "      %s\n", d)
		}
	}
	if r.Dir != "" {
		fmt.Fprintf(&b, "saved: %s\n", r.Dir)
	}
	if r.Replay != "" {
		fmt.Fprintf(&b, "replay: %s\n", r.Replay)
	}
	b.WriteString(r.Summary() + "\n")
	return b.String()
}

// workloads of one run.
type workloads struct {
	reg   *Registers
	set   *Set
	locks *Locks
	watch *Watches
}

// Run drives the workloads against a running, healthy ensemble while the
// nemesis applies the seeded schedule; then it heals, lets the workload
// run through Recovery, stops it and runs every checker.
func Run(ctx context.Context, e *Ensemble, cfg RunConfig) (*Result, error) {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Recovery == 0 {
		cfg.Recovery = 5 * time.Second
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	clog, err := os.Create(filepath.Join(cfg.Dir, "clients.log"))
	if err != nil {
		return nil, err
	}
	defer clog.Close()
	cs := newClients(clog)
	defer cs.closeAll()

	start := time.Now()
	res := &Result{Mix: e.Mix, Seed: cfg.Seed, Counts: map[string][3]int{}, Replay: cfg.Replay,
		runDir: cfg.Dir}
	res.Schedule = Schedule(cfg.Seed, cfg.Faults, cfg.Duration)
	servers := e.Servers()

	admin, err := cs.open("admin", servers)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	gens := int((cfg.Duration+cfg.Recovery+time.Minute)/(5*time.Second)) + 1
	root := cfg.Root
	if root != "" {
		if _, err := admin.Create(root, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
			return nil, fmt.Errorf("faults: create %s: %w", root, err)
		}
	}
	w := workloads{
		reg: &Registers{Workers: 5, Keys: 3, KeyLife: 5 * time.Second, Gens: gens, Root: root + "/r",
			hist: NewHistory("registers", t0), t0: t0},
		set:   &Set{Workers: 2, Root: root + "/set", hist: NewHistory("set", t0)},
		locks: &Locks{Workers: 3, Root: root + "/lock", Res: root + "/lockres", hist: NewHistory("locks", t0), cs: cs},
		watch: &Watches{Path: root + "/watched", hist: NewHistory("watches", t0)},
	}
	res.histories = []*History{w.reg.hist, w.set.hist, w.locks.hist, w.watch.hist}
	if err := errors.Join(w.reg.setup(ctx, admin), w.set.setup(admin), w.locks.setup(admin), w.watch.setup(admin)); err != nil {
		return nil, fmt.Errorf("faults: workload setup: %w", err)
	}

	var rc *Reconfigs
	if cfg.Reconfig {
		if !e.dynamic {
			return nil, fmt.Errorf("faults: reconfig run of mix %s, which was started without reconfigEnabled", e.Mix)
		}
		rc = newReconfigs(e, cs, NewHistory("reconfigs", t0), cfg.Seed)
		if err := rc.start(ctx); err != nil {
			return nil, err
		}
		res.histories = append(res.histories, rc.hist)
	}

	// Workers.
	wctx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	var wg sync.WaitGroup
	dial := func(workload string, i int) []string {
		if cfg.Dial != nil {
			if s, ok := cfg.Dial(workload, i); ok {
				return s
			}
		}
		return servers
	}
	for i := 0; i < w.reg.Workers; i++ {
		addrs := dial("registers", i)
		c, err := cs.open(fmt.Sprintf("reg%d", i), addrs)
		if err != nil {
			return nil, err
		}
		wr := rand.New(rand.NewPCG(cfg.Seed, uint64(100+i)))
		wg.Add(1)
		go func() { defer wg.Done(); w.reg.run(wctx, i, c, wr, strings.Join(addrs, ",")) }()
	}
	for i := 0; i < w.set.Workers; i++ {
		addrs := dial("set", i)
		c, err := cs.open(fmt.Sprintf("set%d", i), addrs)
		if err != nil {
			return nil, err
		}
		wr := rand.New(rand.NewPCG(cfg.Seed, uint64(200+i)))
		wg.Add(1)
		go func() { defer wg.Done(); w.set.run(wctx, 100+i, c, wr, strings.Join(addrs, ",")) }()
	}
	for i := 0; i < w.locks.Workers; i++ {
		wr := rand.New(rand.NewPCG(cfg.Seed, uint64(300+i)))
		wg.Add(1)
		go func() { defer wg.Done(); w.locks.run(wctx, 200+i, servers, wr) }()
	}
	writer, err := cs.open("watch-writer", servers)
	if err != nil {
		return nil, err
	}
	wg.Add(1)
	go func() { defer wg.Done(); w.watch.write(wctx, writer, rand.New(rand.NewPCG(cfg.Seed, 400))) }()
	stopWatch := make(chan struct{})
	var watchWG sync.WaitGroup
	var watcherIDs []int
	for _, n := range e.Nodes {
		c, err := cs.open(fmt.Sprintf("watcher%d", n.ID), []string{n.ClientAddr()})
		if err != nil {
			return nil, err
		}
		watcherIDs = append(watcherIDs, n.ID)
		watchWG.Add(1)
		go func() { defer watchWG.Done(); w.watch.watch(stopWatch, n.ID, c) }()
	}
	defer func() {
		close(stopWatch)
		watchWG.Wait()
	}()

	// Nemesis (and reconfigs, under the same faults).
	nem := newNemesis(e, t0)
	nctx, stopNem := context.WithTimeout(ctx, cfg.Duration)
	var rcWG sync.WaitGroup
	if rc != nil {
		rcWG.Add(1)
		go func() { defer rcWG.Done(); rc.run(nctx) }()
	}
	nemErr := nem.Run(nctx, res.Schedule)
	<-nctx.Done()
	stopNem()
	rcWG.Wait()
	healErr := nem.HealAll()
	if err := errors.Join(nemErr, healErr); err != nil {
		stopWork()
		wg.Wait()
		return nil, fmt.Errorf("faults: nemesis: %w", err)
	}
	cfg.Logf("faults: healed at %.1fs, recovering", time.Since(t0).Seconds())
	var verdicts []Verdict
	leader, herr := e.WaitHealthy(90 * time.Second)
	recovery := Verdict{Checker: "recovery", OK: herr == nil}
	if herr != nil {
		recovery.Details = append(recovery.Details, herr.Error())
		recovery.Details = append(recovery.Details, e.DumpStuck()...)
	} else {
		recovery.Details = append(recovery.Details, fmt.Sprintf("healthy %.1fs after the heal, leader node %d",
			time.Since(t0).Seconds()-cfg.Duration.Seconds(), leader))
	}
	for _, n := range e.Nodes {
		if n.Exited() {
			recovery.OK = false
			recovery.Details = append(recovery.Details, fmt.Sprintf("node %d (%s) exited by itself", n.ID, n.Kind))
		}
	}
	verdicts = append(verdicts, recovery)
	var restoreErr error
	if rc != nil {
		// Back to the initial membership while the workloads go on.
		restoreErr = rc.restore(ctx, 90*time.Second)
		cfg.Logf("faults: reconfig restore at %.1fs: %v", time.Since(t0).Seconds(), restoreErr)
	}
	select {
	case <-ctx.Done():
	case <-time.After(cfg.Recovery):
	}
	stopWork()
	wg.Wait()
	if cfg.AfterWork != nil {
		cfg.AfterWork()
	}
	res.Nemesis = nem.Log()

	// Final reads, from every node.
	cctx, cancel := context.WithTimeout(ctx, time.Duration(len(e.Nodes))*finalReadBudget+time.Minute)
	defer cancel()
	finals := map[int]map[string]Znode{}
	var readErrs []string
	for _, n := range e.Nodes {
		nctx, ncancel := context.WithTimeout(cctx, finalReadBudget)
		tree, err := finalRead(nctx, time.Second, func(i int) (map[string]Znode, error) {
			c, err := cs.open(fmt.Sprintf("final%d-%d", n.ID, i), []string{n.ClientAddr()})
			if err != nil {
				return nil, err
			}
			tree, err := readTree(nctx, c, w.reg.Root, w.set.Root, w.locks.Res)
			if err != nil {
				c.Close() // a new session for the next attempt
				return nil, err
			}
			if d, st, err := c.Get(w.watch.Path); err == nil {
				tree[w.watch.Path] = Znode{Data: string(d), Version: st.Version}
			}
			return tree, nil
		}, func(err error) { cfg.Logf("faults: final read of node %d: %v; reading again", n.ID, err) })
		ncancel()
		if err != nil {
			readErrs = append(readErrs, fmt.Sprintf("node %d: %v", n.ID, err))
			continue
		}
		finals[n.ID] = tree
	}

	// Convergence.
	conv := Verdict{Checker: "convergence", OK: len(readErrs) == 0, Details: readErrs}
	ref := 0
	for _, n := range e.Nodes {
		if _, ok := finals[n.ID]; ok && ref == 0 {
			ref = n.ID
		}
	}
	for _, n := range e.Nodes {
		if f, ok := finals[n.ID]; ok && n.ID != ref {
			if d := diffTrees(finals[ref], f, 10); len(d) > 0 {
				conv.OK = false
				conv.Details = append(conv.Details, fmt.Sprintf("node %d differs from node %d:", n.ID, ref))
				conv.Details = append(conv.Details, d...)
			}
		}
	}
	conv.Details = append(conv.Details, e.logFindings()...)
	for _, d := range conv.Details {
		if strings.HasPrefix(d, "log:") {
			conv.OK = false
		}
	}
	verdicts = append(verdicts, conv)
	final := finals[ref]
	if rc != nil {
		verdicts = append(verdicts, rc.checkMembership(cctx, restoreErr), rc.check())
	}

	// Registers.
	linOK, info := checkLinearizable(w.reg)
	res.linInfo = info
	lin := Verdict{Checker: "linearizable", OK: linOK != porcupine.Illegal, Unknown: linOK == porcupine.Unknown}
	if linOK == porcupine.Illegal {
		lin.Details = append(lin.Details, "porcupine: the register history is not linearizable (see linearizability.html)")
	}
	if linOK == porcupine.Unknown {
		lin.Details = append(lin.Details, "porcupine timed out: no verdict")
	}
	if final != nil {
		if bad := w.reg.checkFinal(final); len(bad) > 0 {
			lin.OK = false
			lin.Details = append(lin.Details, bad...)
		}
	}
	verdicts = append(verdicts, lin)
	sess := w.reg.checkSessions()
	verdicts = append(verdicts, Verdict{Checker: "session-order", OK: len(sess) == 0, Details: sess})

	// Set.
	setV := Verdict{Checker: "set", OK: true}
	for id, f := range finals {
		if bad := w.set.check(f); len(bad) > 0 {
			setV.OK = false
			for _, b := range bad {
				setV.Details = append(setV.Details, fmt.Sprintf("node %d: %s", id, b))
			}
		}
	}
	verdicts = append(verdicts, setV)

	// Locks: fencing on every node; ephemerals of ended sessions gone on
	// every node; after every session closes, the lock dir is empty.
	lockV := Verdict{Checker: "locks", OK: true}
	for id, f := range finals {
		for _, b := range w.locks.checkFenced(f) {
			lockV.OK = false
			lockV.Details = append(lockV.Details, fmt.Sprintf("node %d: %s", id, b))
		}
	}
	verdicts = append(verdicts, lockV)
	verdicts = append(verdicts, checkEphemerals(cctx, e, cs, w.locks))

	// Watches.
	var finalVersion int32
	if z, ok := final[w.watch.Path]; ok {
		finalVersion = z.Version
	}
	wbad := w.watch.check(cctx, watcherIDs, finalVersion, 20*time.Second)
	verdicts = append(verdicts, Verdict{Checker: "watches", OK: len(wbad) == 0, Details: wbad})

	res.Verdicts = verdicts
	for _, n := range e.Nodes {
		for _, l := range e.LogLines(n.ID, "Getting a diff from the leader", "Getting a snapshot from leader",
			"Truncating log to get in sync with the leader") {
			switch {
			case strings.Contains(l, "diff"):
				res.Syncs[0]++
			case strings.Contains(l, "snapshot"):
				res.Syncs[1]++
			default:
				res.Syncs[2]++
			}
		}
	}
	for _, h := range res.histories {
		ok, fail, info := h.Counts()
		res.Counts[h.Name] = [3]int{ok, fail, info}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// checkLinearizable runs porcupine on the register history (bounded time).
func checkLinearizable(r *Registers) (porcupine.CheckResult, porcupine.LinearizationInfo) {
	return porcupine.CheckOperationsVerbose(RegisterModel, r.porcupineHistory(), 120*time.Second)
}

// checkEphemerals verifies that no server keeps a lock node of a session
// that ended, then closes every remaining session and waits for the lock
// dir to be empty on every server.
func checkEphemerals(ctx context.Context, e *Ensemble, cs *clients, l *Locks) Verdict {
	v := Verdict{Checker: "ephemerals", OK: true}
	cs.mu.Lock()
	expired := make(map[int64]bool, len(cs.expired))
	for k := range cs.expired {
		expired[k] = true
	}
	cs.mu.Unlock()
	readers := map[int]*zk.Conn{}
	for _, n := range e.Nodes {
		c, err := cs.open(fmt.Sprintf("eph%d", n.ID), []string{n.ClientAddr()})
		if err != nil {
			v.OK = false
			v.Details = append(v.Details, err.Error())
			return v
		}
		readers[n.ID] = c
	}
	// Sessions left to expire need up to the timeout (plus a tick of
	// slack per server) to go.
	bad := waitEmpty(ctx, 3*SessionTimeout, func() []string {
		var bad []string
		for _, n := range e.Nodes {
			tree, err := readTree(ctx, readers[n.ID], l.Root)
			if err != nil {
				bad = append(bad, fmt.Sprintf("node %d: %v", n.ID, err))
				continue
			}
			bad = append(bad, l.deadOwners(fmt.Sprintf("node %d", n.ID), tree, expired)...)
		}
		return bad
	})
	if len(bad) > 0 {
		v.OK = false
		v.Details = append(v.Details, bad...)
	}
	return v
}

// logFindings scans every node's log for what must never appear: digest
// mismatches, commits without a proposal, panics, data races, a Java
// thread dying or a NullPointerException, and unexpected exceptions other
// than the network errors every kill, pause or partition causes. Known
// defects of Java 3.8.0 itself (javaDefects) are reported with their
// ZooKeeper issue, prefixed "known:", and do not fail the run.
func (e *Ensemble) logFindings() []string {
	var out []string
	for _, n := range e.Nodes {
		lines := e.logLinesWithNext(n.ID, "igest mismatch", "Digests are not matching", "without seeing txn",
			"next pending txn", "Unexpected exception", "UNEXPECTED_ERROR", "panic:", "DATA RACE",
			"Severe unrecoverable error", "NullPointerException", "Getting a ", "Successfully connected to leader",
			"Learner received NEWLEADER message", "following - broadcast", "New election. My id", "FileTxnLog - Current zxid")
		after4394 := false
		// tainted: the node hit ZOOKEEPER-4394 (behind a Java leader), so
		// the snapshots it wrote since may hold a tree with txns applied
		// twice; a restart that loads them replays its log over that tree.
		tainted := false
		// relogged: after that, the node logged txns again over ones
		// its log held (a DIFF from its tree's older zxid).
		relogged := false
		// The kind of the leader a Java learner last connected to: only a
		// Java leader sends the order behind ZOOKEEPER-4394; a zkgo leader
		// holds those proposals (DIFFERENCES row 35), so the same failure
		// behind it is zkgo's. Before any connection line, the leader is
		// taken as Java only if the ensemble has no zkgo node.
		leader := e.onlyJava()
		var aborted javaAbortedSync
		for _, l := range lines {
			if m := javaLearnerConnected.FindStringSubmatch(l[0]); m != nil {
				leader = e.kindAt(m[1]) == Java
				continue
			}
			// A Java learner whose sync ends between NEWLEADER and
			// UPTODATE (javaAbortedSync): noted, for the reader of a
			// run that lost a write (docs/faults.md, F4).
			if n.Kind == Java {
				if note := aborted.note(l[0]); note != "" {
					out = append(out, fmt.Sprintf("known: node %d (java): %s", n.ID, note))
				}
			}
			if strings.Contains(l[0], "Getting a ") {
				after4394 = false // the next sync starts from a reloaded database
				if strings.Contains(l[0], "Getting a snapshot") {
					relogged = false
				}
				continue
			}
			if strings.Contains(l[0], "FileTxnLog - Current zxid") {
				relogged = relogged || (tainted && n.Kind == Java && strings.Contains(l[0], " is <= "))
				continue
			}
			if strings.Contains(l[0], "Learner received NEWLEADER message") || strings.Contains(l[0], "following - broadcast") ||
				strings.Contains(l[0], "New election. My id") {
				continue
			}
			if networkError(l[0], l[1]) {
				continue
			}
			// A leader removed or demoted by a reconfig may have logged
			// proposals after it that never committed (it commits nothing
			// once it designated another); when it then connects to the
			// designated leader, still in the old epoch while it gathers
			// its quorum, a Java leader refuses it as ahead until the new
			// epoch is established, and it syncs then (TRUNC). Seen in
			// the all-Java row of TestCompat_ReconfigRemoveLeader too.
			if m := javaAheadOfLeader.FindStringSubmatch(l[0]); m != nil && n.Kind == Java &&
				strings.HasPrefix(l[1], "java.io.IOException: Follower is ahead of the leader") {
				if id := e.nodeAt(m[1]); id != 0 && e.wasUnseated(id) {
					out = append(out, fmt.Sprintf("known: node %d (java): refused node %d, a leader a reconfig unseated, as ahead: %s",
						n.ID, id, truncate(l[1], 150)))
					continue
				}
			}
			if n.Kind == Java {
				if issue := javaDefect(l[0], l[1]); issue != "" && (leader || issue != zk4394) {
					after4394 = true
					tainted = tainted || issue == zk4394
					out = append(out, fmt.Sprintf("known: node %d (java): %s (%s)", n.ID, truncate(l[0]+" "+l[1], 200), issue))
					continue
				}
				// After that exception Java reloads its database on top
				// of the tree that already holds the txns it replays
				// ("highestZxid > next log"), so a closeSession finds its
				// ephemerals gone and the digest differs.
				mismatch := strings.Contains(l[0], "igest mismatch") || strings.Contains(l[0], "Digests are not matching")
				if after4394 && mismatch {
					out = append(out, fmt.Sprintf("known: node %d (java): %s (ZOOKEEPER-4394 aftermath: replay over an applied tree)",
						n.ID, truncate(l[0], 200)))
					continue
				}
				// The same, on disk: a restart ([main] loads the database)
				// of a node that hit it earlier replays its log over a
				// snapshot written from that tree ("highestZxid > next
				// log" at startup, which a clean restart does not log).
				if tainted && mismatch && strings.Contains(l[0], "[main]") {
					out = append(out, fmt.Sprintf("known: node %d (java): %s (ZOOKEEPER-4394 aftermath: startup replay over a snapshot of that tree)",
						n.ID, truncate(l[0], 200)))
					continue
				}
				// And in memory across syncs: the exception ends a sync
				// between NEWLEADER and UPTODATE, so the tree is not
				// brought up to the log (F4's state); the next DIFF, from
				// the tree's zxid, logs txns again over the ones the log
				// holds ("Current zxid X is <= Y") and the tree and log
				// part. Known until a SNAP replaces the tree.
				if relogged && mismatch {
					out = append(out, fmt.Sprintf("known: node %d (java): %s (ZOOKEEPER-4394 aftermath: txns logged again after an aborted sync)",
						n.ID, truncate(l[0], 200)))
					continue
				}
			}
			out = append(out, fmt.Sprintf("log: node %d (%s): %s | %s", n.ID, n.Kind, truncate(l[0], 250), truncate(l[1], 150)))
			if len(out) > 20 {
				return out
			}
		}
	}
	return out
}

// javaAbortedSync follows a Java learner's syncs in its log. Java 3.8.0's
// learner logs the DIFF's txns and writes the new currentEpoch at
// NEWLEADER but applies them to its tree only at UPTODATE; when the sync
// ends in between, Learner.shutdown finds a server that never started and
// skips fastForwardDataBase, so its next election offers the new epoch
// with the tree's older zxid, and it can win against a peer holding txns
// committed after that zxid and truncate them (the ZOOKEEPER-4643 class;
// upstream the ZOOKEEPER-4394 change applies committed txns at NEWLEADER
// before the epoch and the ACK). zkgo's learner applies what it logged
// when a sync fails (recoverAfterSync) and offers that zxid.
type javaAbortedSync struct {
	diff      int64 // the zxid of the last "Getting a diff from the leader"
	newLeader bool  // NEWLEADER received, UPTODATE not yet
}

var (
	javaDiffLine     = regexp.MustCompile(`Getting a diff from the leader 0x([0-9a-f]+)`)
	javaElectionLine = regexp.MustCompile(`New election\. My id = \d+, proposed zxid=0x([0-9a-f]+)`)
)

// note takes the next line of interest and describes the defect's
// signature when this line completes it.
func (j *javaAbortedSync) note(line string) string {
	switch {
	case strings.Contains(line, "Getting a "):
		j.diff, j.newLeader = 0, false
		if m := javaDiffLine.FindStringSubmatch(line); m != nil {
			j.diff, _ = strconv.ParseInt(m[1], 16, 64)
		}
	case strings.Contains(line, "Learner received NEWLEADER message"):
		j.newLeader = j.diff != 0
	case strings.Contains(line, "following - broadcast"):
		j.newLeader = false
	case strings.Contains(line, "New election. My id"):
		m := javaElectionLine.FindStringSubmatch(line)
		aborted, diff := j.newLeader, j.diff
		j.diff, j.newLeader = 0, false
		if m == nil || !aborted {
			return ""
		}
		z, _ := strconv.ParseInt(m[1], 16, 64)
		if z < diff {
			return fmt.Sprintf("a sync ended between NEWLEADER and UPTODATE; the election that followed offers zxid %#x, "+
				"below the %#x of the DIFF it logged, with the new epoch (ZOOKEEPER-4643 class: txns committed after "+
				"%#x may be truncated if it leads)", z, diff, z)
		}
	}
	return ""
}

// javaDefects are log signatures of defects of Java ZooKeeper 3.8.0 that
// a Java-only ensemble can hit too (docs/faults.md has the evidence).
var javaDefects = []struct{ line, next, issue string }{
	// Learner.syncWithLeader clears packetsNotCommitted at NEWLEADER, then
	// a COMMIT for one of those proposals dereferences the empty queue's
	// head. Java's own leader sends that order (Leader.startForwarding
	// queues outstanding proposals before LearnerHandler queues NEWLEADER).
	{"Exception when following the leader", `because "pif" is null`, zk4394},
	// The learner's SyncThread, still flushing, finds the socket of the
	// follower that shut down on that NullPointerException.
	// A follower shutting down (after that exception, or when its leader
	// goes) while its SyncThread still flushes acks finds no socket.
	{"Severe unrecoverable error, from thread : SyncThread", `because "this.learner.sock" is null`, "follower shutdown race"},
	{"Cannot read field \"hdr\" because \"pif\" is null", "", zk4394},
	{"Cannot invoke \"java.net.Socket.isClosed()\" because \"this.learner.sock\" is null", "", "follower shutdown race"},
}

const zk4394 = "ZOOKEEPER-4394"

// javaLearnerConnected names the address of the leader a Java learner
// (re)connected to (Learner.connectToLeader); relays listen on the
// destination's address, so the address names the node either way.
var javaLearnerConnected = regexp.MustCompile(`Successfully connected to leader, using address: \S*?/?(\d+\.\d+\.\d+\.\d+):\d+`)

// javaAheadOfLeader is a Java LearnerHandler's failure; its thread names
// the learner's address.
var javaAheadOfLeader = regexp.MustCompile(`\[LearnerHandler-/(\d+\.\d+\.\d+\.\d+):\d+\] ERROR \S+ - Unexpected exception in LearnerHandler`)

// nodeAt is the id of the node at ip; 0 when none is.
func (e *Ensemble) nodeAt(ip string) int {
	for _, n := range e.Nodes {
		if n.Host != nil && n.Host.IP == ip {
			return n.ID
		}
	}
	return 0
}

// kindAt is the kind of the node at ip; 0 when none is.
func (e *Ensemble) kindAt(ip string) Kind {
	for _, n := range e.Nodes {
		if n.Host != nil && n.Host.IP == ip {
			return n.Kind
		}
	}
	return 0
}

// onlyJava reports whether every node of the ensemble runs Java.
func (e *Ensemble) onlyJava() bool {
	for _, n := range e.Nodes {
		if n.Kind != Java {
			return false
		}
	}
	return true
}

func javaDefect(line, next string) string {
	for _, d := range javaDefects {
		if strings.Contains(line, d.line) && strings.Contains(next, d.next) {
			return d.issue
		}
	}
	return ""
}

// networkError reports whether an "Unexpected exception" line (with the
// line after it, where Java prints the exception) is a peer's or client's
// connection failing, which every kill, pause or partition causes.
func networkError(line, next string) bool {
	// A Java thread that dies on its own socket closing under it: the
	// follower is shutting down (its leader went away) while
	// FollowerRequestProcessor or SyncThread still writes to the leader.
	severe := strings.Contains(line, "Severe unrecoverable error")
	if !strings.Contains(line, "Unexpected exception") && !severe {
		return false
	}
	if i := strings.Index(line, `"error":"`); i >= 0 { // zkgo's JSON log: the error is on the line
		msg := line[i:]
		for _, s := range []string{"connection refused", "connection reset", "i/o timeout", "EOF", "broken pipe",
			"no route to host", "use of closed network connection"} {
			if strings.Contains(msg, s) {
				return true
			}
		}
		return false
	}
	// An elected leader whose followers did not all come in time, or a
	// follower that gave up on its leader: liveness, not safety. A
	// leader's LearnerHandler interrupted while the leader shuts down.
	if strings.Contains(next, "Timeout while waiting for") || strings.HasPrefix(strings.TrimSpace(next), "java.lang.InterruptedException") {
		return true
	}
	for _, s := range []string{"java.net.SocketException", "java.net.SocketTimeoutException", "java.io.EOFException",
		"java.net.ConnectException", "java.net.NoRouteToHostException", "EndOfStreamException",
		"java.io.IOException: Connection reset"} {
		if strings.HasPrefix(strings.TrimSpace(next), s) {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// finalReadBudget is how long the final reads may retry one node.
const finalReadBudget = 60 * time.Second

// finalRead reads one node's tree for the convergence check, again (a new
// session each time, every interval) until ctx ends. An election in the
// moments after the recovery (a leader that lost its followers at once and
// is re-elected within a second or two: jjz seed 2 of a loaded run)
// fails a read without the node having diverged; only a node that cannot
// be read at all within the budget is reported, with its first error.
func finalRead(ctx context.Context, interval time.Duration, attempt func(i int) (map[string]Znode, error), retrying func(error)) (map[string]Znode, error) {
	var first error
	for i := 0; ; i++ {
		tree, err := attempt(i)
		if err == nil {
			return tree, nil
		}
		if first == nil {
			first = err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (read %d times)", first, i+1)
		case <-time.After(interval):
		}
		retrying(err)
	}
}
