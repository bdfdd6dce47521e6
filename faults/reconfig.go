package faults

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
)

// Reconfigs is the dynamic reconfiguration workload (issue 17): while the
// other workloads run and the nemesis injects faults, one driver issues
// reconfigs through random live members, as the super user: remove a
// follower and add it back, remove the leader and add it back, make a
// participant an observer and back (and an observer a participant and
// back), in the incremental form (joiningServers/leavingServers) or, now
// and then, the non-incremental one (newMembers), most with the version
// read just before as the fromConfig guard. At most one member is out of
// its initial role or membership at a time, so a 3-participant ensemble
// keeps at least two voters. After the heal the driver restores the
// initial membership (retrying until a reconfig is acknowledged).
//
// Each reconfig is recorded with its outcome: ok (with the new
// configuration's version, the reply's mzxid), fail (an error the leader
// gave: BADVERSION, NEWCONFIGNOQUORUM, RECONFIGINPROGRESS, ...) or info
// (the connection was lost or the request timed out: it may have taken
// effect or not). Checked at the end (checkReconfigs, checkMembership):
// the history with the final configuration is linearizable for a register
// holding (version, members) under Java's reconfig rules, and every member
// serves, plays and keeps on disk that same configuration.
type Reconfigs struct {
	Every   time.Duration // pause between two reconfigs
	e       *Ensemble
	cs      *clients
	hist    *History
	initial config
	mu      sync.Mutex
	conns   map[int]*zk.Conn // super-user sessions, one per member
	ops     []reconfOp
	final   *config // what every member served at the end
	rng     *rand.Rand
}

// config is a configuration: its version and the server lines by id (the
// values of server.N, as /zookeeper/config holds them).
type config struct {
	Version int64
	Servers map[int]string
}

// parseConfig reads a /zookeeper/config text.
func parseConfig(text string) (config, error) {
	c := config{Servers: map[int]string{}}
	for id, line := range harness.ServerLines(text) {
		c.Servers[int(id)] = line
	}
	v := harness.ConfigVersion(text)
	if v == "" {
		return c, fmt.Errorf("no version line in %q", text)
	}
	n, err := strconv.ParseInt(v, 16, 64)
	if err != nil {
		return c, fmt.Errorf("version %q: %w", v, err)
	}
	c.Version = n
	return c, nil
}

// members is the server lines as one canonical string.
func (c config) members() string { return membersText(c.Servers) }

func membersText(servers map[int]string) string {
	ids := slices.Sorted(maps.Keys(servers))
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "server.%d=%s\n", id, servers[id])
	}
	return b.String()
}

func (c config) String() string {
	return fmt.Sprintf("%x {%s}", c.Version, strings.ReplaceAll(strings.TrimSpace(c.members()), "\n", ", "))
}

// reconfOp is one reconfig the driver issued, or the final read.
type reconfOp struct {
	Read    bool
	From    int64          // fromConfig guard, -1 for none
	Join    map[int]string // incremental: joining server lines
	Leave   []int          // incremental: leaving ids
	Members map[int]string // non-incremental: the whole new list (nil if incremental)
	Desc    string
	Via     string // the member it went through
	Leader  int    // the leader (when it was issued) it removes or demotes
	Status  Status
	Err     string
	Version int64  // ok: the new configuration's version; read: the version read
	ReadOut string // read: the members read
	Call    int64
	Return  int64
}

// apply is the membership the reconfig asks for, from servers.
func (o reconfOp) apply(servers map[int]string) map[int]string {
	if o.Members != nil {
		return maps.Clone(o.Members)
	}
	out := maps.Clone(servers)
	for _, id := range o.Leave {
		delete(out, id)
	}
	maps.Copy(out, o.Join)
	return out
}

func newReconfigs(e *Ensemble, cs *clients, hist *History, seed uint64) *Reconfigs {
	return &Reconfigs{Every: time.Second, e: e, cs: cs, hist: hist, conns: map[int]*zk.Conn{},
		rng: rand.New(rand.NewPCG(seed, 500))}
}

// conn is the super user's session to member id alone (opened once;
// go-zookeeper reconnects it and sends the credentials again).
func (r *Reconfigs) conn(ctx context.Context, id int) (*zk.Conn, error) {
	r.mu.Lock()
	c := r.conns[id]
	r.mu.Unlock()
	if c != nil {
		return c, nil
	}
	c, err := r.cs.open(fmt.Sprintf("reconfig%d", id), []string{r.e.Node(id).ClientAddr()})
	if err != nil {
		return nil, err
	}
	if _, err := call(ctx, 15*time.Second, func() (struct{}, error) {
		return struct{}{}, c.AddAuth("digest", []byte("super:"+harness.SuperPassword))
	}); err != nil {
		c.Close()
		return nil, fmt.Errorf("addauth super at node %d: %w", id, err)
	}
	r.mu.Lock()
	r.conns[id] = c
	r.mu.Unlock()
	return c, nil
}

// read returns the configuration member id serves after a sync.
func (r *Reconfigs) read(ctx context.Context, id int) (config, error) {
	c, err := r.conn(ctx, id)
	if err != nil {
		return config{}, err
	}
	text, err := call(ctx, 10*time.Second, func() (string, error) {
		if _, err := c.Sync("/zookeeper/config"); err != nil {
			return "", err
		}
		d, _, err := c.Get("/zookeeper/config")
		return string(d), err
	})
	if err != nil {
		return config{}, err
	}
	return parseConfig(text)
}

// start reads the initial configuration once every member serves the same
// one with a version (the first leader's NEWLEADER gives version 0 its
// epoch's zxid).
func (r *Reconfigs) start(ctx context.Context) error {
	cfgs, err := r.served(ctx, 60*time.Second)
	if err != nil {
		return fmt.Errorf("faults: reconfig: initial configuration: %w", err)
	}
	r.initial = cfgs[r.e.Nodes[0].ID]
	return nil
}

// served waits until every member serves the same configuration with a
// non-zero version and returns what each served (the last attempt's, with
// the error, on timeout).
func (r *Reconfigs) served(ctx context.Context, timeout time.Duration) (map[int]config, error) {
	deadline := time.Now().Add(timeout)
	for {
		got := map[int]config{}
		var errs []string
		for _, n := range r.e.Nodes {
			c, err := r.read(ctx, n.ID)
			if err != nil {
				errs = append(errs, fmt.Sprintf("node %d: %v", n.ID, err))
				continue
			}
			got[n.ID] = c
		}
		if len(errs) == 0 {
			ref := got[r.e.Nodes[0].ID]
			same := ref.Version != 0
			for _, c := range got {
				same = same && c.Version == ref.Version && c.members() == ref.members()
			}
			if same {
				return got, nil
			}
			errs = append(errs, "members disagree")
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			var desc []string
			for _, n := range r.e.Nodes {
				if c, ok := got[n.ID]; ok {
					desc = append(desc, fmt.Sprintf("node %d serves %s", n.ID, c))
				}
			}
			return got, fmt.Errorf("not one configuration after %v: %s; %s", timeout, strings.Join(errs, "; "),
				strings.Join(desc, "; "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// live returns the members that run and are not paused.
func (r *Reconfigs) live() []int {
	var out []int
	for _, n := range r.e.Nodes {
		if n.Running() && !n.Paused() {
			out = append(out, n.ID)
		}
	}
	return out
}

// run issues reconfigs until ctx ends.
func (r *Reconfigs) run(ctx context.Context) {
	for ctx.Err() == nil {
		r.step(ctx, false)
		select {
		case <-ctx.Done():
		case <-time.After(r.Every/2 + time.Duration(r.rng.Int64N(int64(r.Every)))):
		}
	}
}

// restore issues reconfigs back to the initial membership until one is
// acknowledged or the configuration already is it; it gives up after
// timeout.
func (r *Reconfigs) restore(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) && ctx.Err() == nil {
		done, msg := r.step(ctx, true)
		if done {
			return nil
		}
		last = msg
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("the initial membership was not restored within %v (last: %s)", timeout, last)
}

// step reads the configuration through a random live member and issues
// one reconfig through another (or the same) random live member. With
// back, or whenever a member is out of its initial place, the reconfig
// restores the initial membership; otherwise it moves one member out of
// it. It reports whether the configuration was the initial one (back) and
// what happened.
func (r *Reconfigs) step(ctx context.Context, back bool) (bool, string) {
	live := r.live()
	if len(live) == 0 {
		return false, "no live member"
	}
	readVia := live[r.rng.IntN(len(live))]
	cur, err := r.read(ctx, readVia)
	if err != nil {
		return false, fmt.Sprintf("read via node %d: %v", readVia, err)
	}
	op := reconfOp{From: -1}
	if r.rng.IntN(10) < 7 || back {
		op.From = cur.Version
	}
	initial := r.initial.Servers
	if maps.Equal(cur.Servers, initial) {
		if back {
			return true, ""
		}
		r.perturb(&op, cur)
	} else {
		// Back to the initial membership: what differs joins again
		// (with its initial line) and what is extra leaves.
		op.Join = map[int]string{}
		for id, line := range initial {
			if cur.Servers[id] != line {
				op.Join[id] = line
			}
		}
		for id := range cur.Servers {
			if _, ok := initial[id]; !ok {
				op.Leave = append(op.Leave, id)
			}
		}
		op.Desc = "restore"
	}
	if r.rng.IntN(10) < 3 {
		op.Members, op.Join, op.Leave = op.apply(cur.Servers), nil, nil
	}
	if maps.Equal(op.apply(cur.Servers), cur.Servers) {
		return false, "no change to ask for"
	}
	// A leader this reconfig removes or demotes may, once it has
	// designated another, have proposals that never commit (the log
	// checker's allowance for the refusal that follows).
	if leader := r.e.Leader(); leader != 0 && isParticipant(cur.Servers[leader]) &&
		!isParticipant(op.apply(cur.Servers)[leader]) {
		op.Leader = leader
	}
	via := live[r.rng.IntN(len(live))]
	r.issue(ctx, via, &op)
	return false, fmt.Sprintf("%s via node %d: %s %s", op.Desc, via, op.Status, op.Err)
}

// isParticipant reports whether a server line (a value of server.N) is a
// participant's; "" (not a member) is not.
func isParticipant(line string) bool { return line != "" && !strings.Contains(line, ":observer") }

// perturb fills op with a change of one member: remove a follower, remove
// the leader, make a participant an observer, or an observer a participant.
func (r *Reconfigs) perturb(op *reconfOp, cur config) {
	leader := r.e.Leader()
	var followers, participants, observers []int
	for _, id := range slices.Sorted(maps.Keys(cur.Servers)) {
		if strings.Contains(cur.Servers[id], ":observer") {
			observers = append(observers, id)
			continue
		}
		participants = append(participants, id)
		if id != leader {
			followers = append(followers, id)
		}
	}
	choices := []string{"remove-follower", "demote"}
	if leader != 0 && cur.Servers[leader] != "" {
		choices = append(choices, "remove-leader", "demote-leader")
	}
	if len(observers) > 0 {
		choices = append(choices, "promote", "promote")
	}
	if len(participants) < 3 {
		choices = slices.DeleteFunc(choices, func(s string) bool { return s != "promote" })
	}
	if len(choices) == 0 || len(followers) == 0 {
		choices = []string{"promote"}
		if len(observers) == 0 {
			return
		}
	}
	op.Desc = choices[r.rng.IntN(len(choices))]
	switch op.Desc {
	case "remove-follower":
		op.Leave = []int{followers[r.rng.IntN(len(followers))]}
	case "remove-leader":
		op.Leave = []int{leader}
	case "demote":
		id := followers[r.rng.IntN(len(followers))]
		op.Join = map[int]string{id: r.e.ServerLine(id, true)}
	case "demote-leader":
		op.Join = map[int]string{leader: r.e.ServerLine(leader, true)}
	case "promote":
		id := observers[r.rng.IntN(len(observers))]
		op.Join = map[int]string{id: r.e.ServerLine(id, false)}
	}
}

// issue sends op through member via and records its outcome.
func (r *Reconfigs) issue(ctx context.Context, via int, op *reconfOp) {
	op.Via = fmt.Sprintf("node %d (%s)", via, r.e.Node(via).Kind)
	op.Call = r.hist.Now()
	c, err := r.conn(ctx, via)
	var st *zk.Stat
	if err == nil {
		st, err = call(ctx, 15*time.Second, func() (*zk.Stat, error) {
			if op.Members != nil {
				var m []string
				for _, id := range slices.Sorted(maps.Keys(op.Members)) {
					m = append(m, fmt.Sprintf("server.%d=%s", id, op.Members[id]))
				}
				return c.Reconfig(m, op.From)
			}
			var join, leave []string
			for _, id := range slices.Sorted(maps.Keys(op.Join)) {
				join = append(join, fmt.Sprintf("server.%d=%s", id, op.Join[id]))
			}
			for _, id := range op.Leave {
				leave = append(leave, strconv.Itoa(id))
			}
			return c.IncrementalReconfig(join, leave, op.From)
		})
	}
	op.Return = r.hist.Now()
	op.Status, op.Err = classifyReconfig(err), short(err)
	if err == nil {
		op.Version = st.Mzxid
	}
	if op.Status != StatusFail && op.Leader != 0 {
		r.e.markUnseated(op.Leader)
	}
	r.mu.Lock()
	r.ops = append(r.ops, *op)
	r.mu.Unlock()
	h := Op{Process: 500, F: "reconfig", Key: fmt.Sprintf("from=%x", op.From), Value: op.describe(),
		Status: op.Status, Err: op.Err, Call: op.Call, Return: op.Return, Server: r.e.Node(via).ClientAddr()}
	if op.Status == StatusOK {
		h.Result = fmt.Sprintf("version=%x", op.Version)
	}
	r.hist.Add(h)
}

// line is the op for a report: when, what, outcome.
func (o reconfOp) line() string {
	s := fmt.Sprintf("%6.1fs-%6.1fs %s from=%x via %s: %s", float64(o.Call)/1e9, float64(o.Return)/1e9,
		o.describe(), o.From, o.Via, o.Status)
	if o.Status == StatusOK {
		s += fmt.Sprintf(" version=%x", o.Version)
	}
	if o.Err != "" {
		s += " (" + o.Err + ")"
	}
	return s
}

func (o reconfOp) describe() string {
	var b strings.Builder
	b.WriteString(o.Desc)
	if o.Members != nil {
		fmt.Fprintf(&b, " members=%v", slices.Sorted(maps.Keys(o.Members)))
		for _, id := range slices.Sorted(maps.Keys(o.Members)) {
			if strings.Contains(o.Members[id], ":observer") {
				fmt.Fprintf(&b, " observer=%d", id)
			}
		}
		return b.String()
	}
	for _, id := range slices.Sorted(maps.Keys(o.Join)) {
		role := "participant"
		if strings.Contains(o.Join[id], ":observer") {
			role = "observer"
		}
		fmt.Fprintf(&b, " join=%d:%s", id, role)
	}
	for _, id := range o.Leave {
		fmt.Fprintf(&b, " leave=%d", id)
	}
	return b.String()
}

// Reconfig error codes go-zookeeper 1.0.4 has no name for.
const (
	errNewConfigNoQuorum  = -13
	errReconfigInProgress = -14
)

// classifyReconfig: an error the leader gave is definite (the reconfig did
// not happen); a lost connection or a timeout is indeterminate.
func classifyReconfig(err error) Status {
	switch {
	case err == nil:
		return StatusOK
	case harness.IsCode(err, harness.ErrNewConfigNoQuorum), harness.IsCode(err, harness.ErrReconfigInProgress),
		errors.Is(err, zk.ErrReconfigDisabled):
		return StatusFail
	}
	return classify(err)
}

// Model state: the committed configuration. Version 0: not known (an
// indeterminate reconfig took effect; its version was never returned).
type reconfState struct {
	Version int64
	Members string
}

// reconfigModel is the sequential specification of the configuration
// under reconfigs, as Java 3.8's leader computes them
// (PrepRequestProcessor): a guard other than -1 must equal the current
// version or the reconfig fails with BADVERSION; an applied reconfig moves
// to a larger version and the membership the request asks for; any other
// refusal changes nothing. The final read must see the state.
func reconfigModel(initial config) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return reconfState{Version: initial.Version, Members: initial.members()} },
		Step: func(state, input, output any) (bool, any) {
			s, op := state.(reconfState), input.(reconfOp)
			out := output.(reconfOp)
			if op.Read {
				return s.Members == out.ReadOut && (s.Version == 0 || s.Version == out.Version), s
			}
			guardOK := op.From == -1 || s.Version == 0 || op.From == s.Version
			servers, _ := parseMembers(s.Members)
			next := reconfState{Members: membersText(op.apply(servers))}
			switch out.Status {
			case StatusOK:
				if !guardOK || (s.Version != 0 && out.Version <= s.Version) {
					return false, s
				}
				next.Version = out.Version
				return true, next
			case StatusFail:
				if out.Err == short(zk.ErrBadVersion) {
					return op.From != -1 && (s.Version == 0 || op.From != s.Version), s
				}
				return true, s
			default: // info: takes effect here (if its guard holds) or never
				if guardOK {
					return true, next
				}
				return true, s
			}
		},
		DescribeOperation: func(input, output any) string {
			op, out := input.(reconfOp), output.(reconfOp)
			if op.Read {
				return fmt.Sprintf("read -> %x %s", out.Version, out.ReadOut)
			}
			return fmt.Sprintf("reconfig %s from=%x -> %s %s %x", op.describe(), op.From, out.Status, out.Err, out.Version)
		},
		DescribeState: func(state any) string {
			s := state.(reconfState)
			return fmt.Sprintf("%x %s", s.Version, s.Members)
		},
	}
}

func parseMembers(text string) (map[int]string, error) {
	out := map[int]string{}
	for id, line := range harness.ServerLines(text) {
		out[int(id)] = line
	}
	return out, nil
}

// check runs the model over the history and the final read.
func (r *Reconfigs) check() Verdict {
	v := Verdict{Checker: "reconfigs", OK: true}
	r.mu.Lock()
	ops := slices.Clone(r.ops)
	final := r.final
	r.mu.Unlock()
	counts := map[Status]int{}
	for _, op := range ops {
		counts[op.Status]++
	}
	v.Details = append(v.Details, fmt.Sprintf("%d reconfigs: %d ok, %d fail, %d info; initial %s", len(ops),
		counts[StatusOK], counts[StatusFail], counts[StatusInfo], r.initial))
	if final == nil {
		v.OK = false
		v.Details = append(v.Details, "no final configuration to check against (the members never agreed)")
		return v
	}
	v.Details = append(v.Details, fmt.Sprintf("final %s", final))
	for _, op := range ops {
		v.Details = append(v.Details, "  "+op.line())
	}
	var hist []porcupine.Operation
	end := r.hist.Now()
	for _, op := range ops {
		ret := op.Return
		if op.Status == StatusInfo {
			ret = infinity
		}
		hist = append(hist, porcupine.Operation{ClientId: 0, Input: op, Output: op, Call: op.Call, Return: ret})
	}
	read := reconfOp{Read: true, Version: final.Version, ReadOut: final.members(), Call: end, Return: end + 1}
	hist = append(hist, porcupine.Operation{ClientId: 1, Input: read, Output: read, Call: end, Return: end + 1})
	res := porcupine.CheckOperationsTimeout(reconfigModel(r.initial), hist, 60*time.Second)
	switch res {
	case porcupine.Illegal:
		v.OK = false
		v.Details = append(v.Details, "the reconfig history (above) with the final configuration is not linearizable")
	case porcupine.Unknown:
		v.Unknown = true
		v.Details = append(v.Details, "porcupine timed out: no verdict")
	}
	return v
}

// checkMembership reads, after the heal and the restore, what every
// member serves as /zookeeper/config, its role, and the dynamic file its
// zoo.cfg names: all must be the same configuration (same version), each
// member's role must be its role in it (leader or follower for a
// participant, exactly one leader, observer for an observer), and each
// zoo.cfg must name zoo.cfg.dynamic.<version> holding exactly its server
// lines (and no server line of its own). restoreErr is the restore's
// failure, if any.
func (r *Reconfigs) checkMembership(ctx context.Context, restoreErr error) Verdict {
	v := Verdict{Checker: "membership", OK: true}
	if restoreErr != nil {
		v.OK = false
		v.Details = append(v.Details, restoreErr.Error())
	}
	cfgs, err := r.served(ctx, 60*time.Second)
	if err != nil {
		v.OK = false
		v.Details = append(v.Details, err.Error())
		return v
	}
	final := cfgs[r.e.Nodes[0].ID]
	r.mu.Lock()
	r.final = &final
	r.mu.Unlock()
	v.Details = append(v.Details, fmt.Sprintf("every member serves %s", final))
	// Roles: a member settles into a role changed by the last
	// activation within a few elections.
	bad := waitEmpty(ctx, 30*time.Second, func() []string {
		var bad []string
		leaders := 0
		for _, n := range r.e.Nodes {
			mode, err := r.e.Mode(n.ID)
			line, member := final.Servers[n.ID]
			switch {
			case err != nil:
				bad = append(bad, fmt.Sprintf("node %d: srvr: %v", n.ID, err))
			case mode == "leader":
				leaders++
				if !member || strings.Contains(line, ":observer") {
					bad = append(bad, fmt.Sprintf("node %d leads but is not a participant of %s", n.ID, final))
				}
			case !member && mode != "follower" && mode != "observer":
				bad = append(bad, fmt.Sprintf("node %d (not a member) is in mode %q", n.ID, mode))
			case member && strings.Contains(line, ":observer") && mode != "observer":
				bad = append(bad, fmt.Sprintf("node %d is an observer of the configuration but in mode %q", n.ID, mode))
			case member && strings.Contains(line, ":participant") && mode != "follower":
				bad = append(bad, fmt.Sprintf("node %d is a participant of the configuration but in mode %q", n.ID, mode))
			}
		}
		if leaders != 1 {
			bad = append(bad, fmt.Sprintf("%d leaders", leaders))
		}
		return bad
	})
	if len(bad) > 0 {
		v.OK = false
		v.Details = append(v.Details, bad...)
	}
	// Files: each member writes them when it activates the
	// configuration, which can follow its serving it by a moment.
	for _, n := range r.e.Nodes {
		var last string
		deadline := time.Now().Add(20 * time.Second)
		for {
			last = r.diskMismatch(n, final)
			if last == "" || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if last != "" {
			v.OK = false
			v.Details = append(v.Details, fmt.Sprintf("node %d on disk: %s", n.ID, last))
		}
	}
	return v
}

// diskMismatch describes how node n's zoo.cfg and dynamic file differ from
// configuration c ("" when they agree).
func (r *Reconfigs) diskMismatch(n *Node, c config) string {
	b, err := os.ReadFile(n.Config)
	if err != nil {
		return err.Error()
	}
	static := string(b)
	if len(harness.ServerLines(static)) > 0 {
		return "zoo.cfg still holds server lines"
	}
	var dyn string
	for _, l := range strings.Split(static, "\n") {
		if v, ok := strings.CutPrefix(l, "dynamicConfigFile="); ok {
			dyn = strings.TrimSpace(v)
		}
	}
	want := "zoo.cfg.dynamic." + strconv.FormatInt(c.Version, 16)
	if !strings.HasSuffix(dyn, "/"+want) {
		return fmt.Sprintf("zoo.cfg names dynamicConfigFile=%q, want .../%s", dyn, want)
	}
	d, err := os.ReadFile(dyn)
	if err != nil {
		return err.Error()
	}
	got, _ := parseMembers(string(d))
	if !maps.Equal(got, c.Servers) {
		return fmt.Sprintf("%s holds %q, want %q", want, membersText(got), c.members())
	}
	return ""
}
