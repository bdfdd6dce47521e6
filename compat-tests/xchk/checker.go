package xchk

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/zkgo/zkgo/wire"
)

// Options configure a Checker.
type Options struct {
	// Seed is shown in reports (0 for scripted suites).
	Seed int64
	// Replay is the command that replays the run, shown in reports.
	Replay string
	// History is how many steps a report shows (default 30).
	History int
}

// Checker runs steps in lockstep on its targets and compares outcomes.
// The first target is the oracle (Java); reports show it as "-" and each
// other target as "+".
type Checker struct {
	rs   []*runner
	opt  Options
	n    int
	hist []histEntry
	gen  map[int]int // session slot -> sessions created in it

	// Known counts the deliberate differences (DIFFERENCES.md rows) seen.
	Known map[string]int
	// Coverage counts "<op> <ERR>" outcomes of the oracle's replies and
	// "multi:<op> <ERR>" per-op results.
	Coverage map[string]int
	// Kinds counts the steps run per kind.
	Kinds map[Kind]int
}

type histEntry struct {
	n    int
	desc string
	out  [][]string
}

// NewChecker connects an observer session to every target.
func NewChecker(tgs []Target, opt Options) (*Checker, error) {
	if opt.History == 0 {
		opt.History = 30
	}
	c := &Checker{opt: opt, gen: map[int]int{}, Known: map[string]int{}, Coverage: map[string]int{}, Kinds: map[Kind]int{}}
	for _, tg := range tgs {
		r, err := newRunner(tg)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.rs = append(c.rs, r)
	}
	return c, nil
}

// Ops returns how many steps ran.
func (c *Checker) Ops() int { return c.n }

// Close ends every session on every target.
func (c *Checker) Close() {
	var wg sync.WaitGroup
	for _, r := range c.rs {
		wg.Add(1)
		go func() { defer wg.Done(); r.close() }()
	}
	wg.Wait()
}

// Finish fences every session (so events not yet followed by a reply are
// compared too) and closes the sessions.
func (c *Checker) Finish() *Divergence {
	d := c.Step(Fence())
	c.Close()
	return d
}

// Run runs steps until the first divergence.
func (c *Checker) Run(steps []Step) *Divergence {
	for _, st := range steps {
		if d := c.Step(st); d != nil {
			return d
		}
	}
	return nil
}

// Step runs st on every target and compares the outcomes.
func (c *Checker) Step(st Step) *Divergence {
	c.n++
	c.Kinds[st.Kind]++
	name := ""
	if st.Kind == KConnect {
		c.gen[st.Sess]++
		name = fmt.Sprintf("S%d", st.Sess)
		if g := c.gen[st.Sess]; g > 1 {
			name = fmt.Sprintf("S%d.%d", st.Sess, g)
		}
	}
	out := make([][]string, len(c.rs))
	var wg sync.WaitGroup
	for i, r := range c.rs {
		r.op = c.n
		wg.Add(1)
		go func() { defer wg.Done(); out[i] = r.exec(st, name) }()
	}
	wg.Wait()
	c.count(out[0])
	var d *Divergence
	for i := 1; i < len(out) && d == nil; i++ {
		if equal(out[0], out[i]) {
			continue
		}
		if row, o, x, fix := c.known(st, out[0], out[i]); row != "" && equal(o, x) {
			c.Known[row]++
			out[0], out[i] = o, x
			if fix != nil {
				fix(c.rs[i])
			}
			continue
		}
		d = c.divergence(st, i, out, fmt.Sprintf("%s and %s differ", c.rs[0].tg.Name, c.rs[i].tg.Name))
	}
	if d == nil && st.Want != nil {
		for i, r := range c.rs {
			if !r.gotErr || r.lastErr != *st.Want {
				got := "no reply"
				if r.gotErr {
					got = r.lastErr.Name()
				}
				d = c.divergence(st, i, out, fmt.Sprintf("the step must answer %s; %s answered %s",
					st.Want.Name(), r.tg.Name, got))
				break
			}
		}
	}
	c.hist = append(c.hist, histEntry{n: c.n, desc: st.Describe(), out: out})
	if len(c.hist) > c.opt.History {
		c.hist = c.hist[len(c.hist)-c.opt.History:]
	}
	return d
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// count records the oracle's reply codes for coverage.
func (c *Checker) count(lines []string) {
	for _, l := range lines {
		if i := strings.Index(l, ": "); i > 0 && i < 8 && l[0] == 'S' {
			continue // fence output of another session
		}
		f := strings.Fields(l)
		if len(f) >= 3 && strings.HasPrefix(f[2], "zxid=") {
			if _, ok := wire.ParseOpCode(f[0]); ok {
				c.Coverage[f[0]+" "+f[1]]++
				if f[0] == "multi" || f[0] == "multiRead" {
					c.countMulti(f[0], l)
				}
			}
		}
		if strings.HasPrefix(l, "check: no reply") {
			c.Coverage["check OK"]++
		}
	}
}

func (c *Checker) countMulti(op, line string) {
	i := strings.Index(line, "[")
	if i < 0 {
		return
	}
	for _, part := range strings.Split(strings.TrimSuffix(line[i+1:], "]"), "; ") {
		name, _, _ := strings.Cut(part, " ")
		if strings.HasPrefix(name, "error(") {
			c.Coverage[op+":"+strings.TrimSuffix(strings.TrimPrefix(name, "error("), ")")]++
		} else if name != "" {
			c.Coverage[op+":"+name+" OK"]++
		}
	}
}

// known recognises the deliberate differences of DIFFERENCES.md. It
// returns the row, both outcomes with the difference replaced by the same
// text, and a fix that brings the candidate's state in line with the
// oracle's, or row "" when the outcomes differ otherwise.
func (c *Checker) known(st Step, oracle, cand []string) (row string, o, x []string, fix func(*runner)) {
	if len(oracle) != len(cand) {
		return "", nil, nil, nil
	}
	o = append([]string(nil), oracle...)
	x = append([]string(nil), cand...)
	for i := range o {
		if o[i] == x[i] {
			continue
		}
		// #8: a successful standalone check: Java 3.8.0 sends no reply
		// (and still consumes a zxid), zkgo answers OK, header only.
		if o[i] == "check: no reply" && strings.HasPrefix(x[i], "check OK zxid=") && !strings.Contains(x[i], "body=") {
			row = "#8 standalone check succeeds: Java sends no reply, zkgo replies OK"
			o[i] = row
			x[i] = row
			continue
		}
		// #20: taking a session over on a new connection: Java closes the
		// live connection only if its factory still maps the session to
		// it, and it unmaps the session whenever any earlier connection of
		// the session closes (removeCnxnFromSessionMap removes by id), so
		// after a drop and a quick reconnect the live connection can stay
		// open. zkgo always closes it.
		if o[i] == "previous connection still open" && x[i] == "previous connection closed by server" {
			row = "#20 session takeover: Java may leave the previous connection open, zkgo closes it"
			o[i] = row
			x[i] = row
			continue
		}
		// #1: an unknown opcode: both answer UNIMPLEMENTED with zxid -1;
		// Java closes the connection, zkgo keeps it.
		if o[i] == "connection closed by server" && x[i] == "connection still open" && i > 0 &&
			strings.Contains(o[i-1], "UNIMPLEMENTED zxid=-1") && o[i-1] == x[i-1] {
			row = "#1 unknown opcode: Java closes the connection, zkgo keeps the session usable"
			o[i] = row
			x[i] = row
			slot := st.Sess
			fix = func(r *runner) {
				if s := r.slots[slot]; s != nil {
					r.disconnected(s)
				}
			}
			continue
		}
		return "", nil, nil, nil
	}
	return row, o, x, fix
}

// Divergence is a step whose outcome differs between the oracle and a
// candidate (or does not meet the step's expectation).
type Divergence struct {
	Seed    int64
	Op      int
	Step    string
	Reason  string
	Names   []string   // target names, oracle first
	Outcome [][]string // per target
	History []string   // the steps before, oldest first, with outcomes
	Replay  string
	cand    int
}

func (c *Checker) divergence(st Step, cand int, out [][]string, reason string) *Divergence {
	d := &Divergence{Seed: c.opt.Seed, Op: c.n, Step: st.Describe(), Reason: reason, Outcome: out,
		Replay: c.opt.Replay, cand: cand}
	for _, r := range c.rs {
		d.Names = append(d.Names, r.tg.Name)
	}
	for _, h := range c.hist {
		d.History = append(d.History, fmt.Sprintf("op %d: %s", h.n, h.desc))
		same := true
		for _, o := range h.out[1:] {
			same = same && equal(h.out[0], o)
		}
		for i, o := range h.out {
			if !same {
				d.History = append(d.History, fmt.Sprintf("    [%s]", d.Names[i]))
			}
			for _, l := range o {
				d.History = append(d.History, "      "+l)
			}
			if same {
				break
			}
		}
	}
	return d
}

// Error renders the report: the step, both outcomes as a diff, the
// history and how to replay.
func (d *Divergence) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "xchk: divergence at op %d", d.Op)
	if d.Seed != 0 {
		fmt.Fprintf(&b, " (seed %d)", d.Seed)
	}
	fmt.Fprintf(&b, ": %s\n  step: %s\n", d.Reason, d.Step)
	o, x := d.Outcome[0], d.Outcome[d.cand]
	if d.cand == 0 || equal(o, x) {
		fmt.Fprintf(&b, "  outcome (%s):\n", strings.Join(d.Names, ", "))
		for _, l := range o {
			b.WriteString("      " + l + "\n")
		}
	} else {
		fmt.Fprintf(&b, "  outcome (- %s, + %s):\n", d.Names[0], d.Names[d.cand])
		b.WriteString(Diff(o, x, "    "))
	}
	if len(d.History) > 0 {
		fmt.Fprintf(&b, "  history (last %d steps, oldest first):\n", countSteps(d.History))
		for _, l := range d.History {
			b.WriteString("    " + l + "\n")
		}
	}
	if d.Replay != "" {
		fmt.Fprintf(&b, "  replay: %s\n", d.Replay)
	}
	return b.String()
}

func countSteps(h []string) int {
	n := 0
	for _, l := range h {
		if strings.HasPrefix(l, "op ") {
			n++
		}
	}
	return n
}

// KnownSummary lists the deliberate differences seen, for logs.
func (c *Checker) KnownSummary() string {
	if len(c.Known) == 0 {
		return "none"
	}
	rows := make([]string, 0, len(c.Known))
	for r, n := range c.Known {
		rows = append(rows, fmt.Sprintf("%s (x%d)", r, n))
	}
	sort.Strings(rows)
	return strings.Join(rows, "; ")
}
