package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zkgo/zkgo/wire"
)

// Follower restarts with a large tree (issue 19, point 2): on a fresh
// 3-node ensemble holding the memory scenario's tree (fan-out 1000, 100 B
// znodes), one follower (sid 1: Java in "zkgo leader + 2 java", zkgo in
// "java leader + 2 zkgo") is killed and restarted twice. For a DIFF it
// misses rejoinLag writes and restarts on its data dir (it reloads the
// tree from its own log, then the leader sends the writes it missed from
// its committed log); for a SNAP its data dir is emptied but for myid, so
// its last zxid is 0, which no log of the leader holds, and the leader
// streams a snapshot of the whole tree. Each time: from exec until srvr
// says follower and it serves a session, and how it synced (its log).

// Sync modes a restart is set up to need.
const (
	SyncDIFF = "DIFF"
	SyncSNAP = "SNAP"
)

// rejoinLag is how many writes the follower misses before its DIFF
// restart: well inside the committed log Java and zkgo keep (500
// proposals), so the leader sends a DIFF from it.
const rejoinLag = 100

// RejoinRow is one row of the restart measurement: a sync mode and a tree
// size.
type RejoinRow struct {
	Want   string `json:"want"` // SyncDIFF or SyncSNAP
	Znodes int    `json:"znodes"`
}

// Name is the row's name in the report (and what --only matches).
func (r RejoinRow) Name() string {
	if r.Want == SyncSNAP {
		return fmt.Sprintf("follower restarted on an empty data dir → serving after SNAP, %s znodes", fmtNum(float64(r.Znodes)))
	}
	return fmt.Sprintf("follower restarted %d writes behind → serving after DIFF, %s znodes", rejoinLag, fmtNum(float64(r.Znodes)))
}

// rejoinRows are the rows for tree sizes sizes: DIFF and SNAP for each.
func rejoinRows(sizes []int) []RejoinRow {
	var out []RejoinRow
	for _, n := range sizes {
		out = append(out, RejoinRow{Want: SyncDIFF, Znodes: n}, RejoinRow{Want: SyncSNAP, Znodes: n})
	}
	return out
}

// RejoinCell is one restart of a follower.
type RejoinCell struct {
	Mix    string `json:"mix"`
	Rep    int    `json:"rep"`
	Want   string `json:"want"`
	Znodes int    `json:"znodes"`
	// Member is the restarted follower ("1 (java)").
	Member string `json:"member"`
	// Ms is the time from exec until it follows and serves a session;
	// Sync is how it synced, from its log ("" when the log did not say).
	Ms   float64 `json:"ms"`
	Sync string  `json:"sync,omitempty"`
	Err  string  `json:"error,omitempty"`
}

// runsRejoin reports whether mix m runs the restart rows (the 3-node
// ensembles do).
func runsRejoin(m EnsembleMix) bool { return m.Size() == 3 }

// runRejoin starts m afresh (Java members with RejoinJavaHeap), and for
// each tree size of the report's rows, smallest first, grows the tree to
// that size through the leader and measures the DIFF and SNAP restarts of
// follower sid 1.
func (cfg *EnsembleConfig) runRejoin(ctx context.Context, rep *EnsembleReport, m EnsembleMix, r int, dir string) (err error) {
	defer os.RemoveAll(dir)
	spec := func(k Kind) ServerSpec {
		s := cfg.spec(k)
		if k == Java && cfg.RejoinJavaHeap != "" {
			s.JavaHeap = cfg.RejoinJavaHeap
		}
		return s
	}
	e, err := cfg.startEnsemble(m, spec, dir)
	if err != nil {
		return err
	}
	defer e.Stop()
	defer func() {
		if err != nil && ctx.Err() == nil {
			err = cfg.failed(e, fmt.Sprintf("%s-rep%d-restarts", fileSlug(m.Name), r+1), err)
		}
	}()
	leader, f := e.Leader(), e.Followers()[0]
	member := ""
	for i, s := range e.Members {
		if s == f {
			member = fmt.Sprintf("%d (%s)", i+1, s.Spec.Kind)
		}
	}
	cfg.logf("== %s rep %d/%d: follower restarts, leader sid %d (%s), restarting %s", m.Name, r+1, cfg.Reps, m.Leader,
		m.LeaderKind(), member)
	loaded := 0
	for _, row := range rep.RejoinRows {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if row.Znodes > loaded {
			t0 := time.Now()
			if err := loadZnodes(ctx, leader.Addr, loaded, row.Znodes, cfg.RejoinDataSize, cfg.Log); err != nil {
				return fmt.Errorf("loading %d znodes: %w", row.Znodes, err)
			}
			cfg.logf("  %s: %d znodes of %d B loaded through the leader in %v", m.Name, row.Znodes, cfg.RejoinDataSize,
				time.Since(t0).Round(time.Millisecond))
			loaded = row.Znodes
		}
		c := RejoinCell{Mix: m.Name, Rep: r, Want: row.Want, Znodes: row.Znodes, Member: member}
		f.Stop()
		var err error
		switch row.Want {
		case SyncDIFF:
			err = serialWrites(leader.Addr, memChild(0, 0), rejoinLag)
		case SyncSNAP:
			err = emptyDataDir(f.DataDir)
		default:
			err = fmt.Errorf("unknown sync mode %q", row.Want)
		}
		if err == nil {
			c.Ms, c.Sync, err = restartMember(f, cfg.StartTimeout)
		}
		if err != nil {
			c.Err = err.Error()
			rep.Rejoin = append(rep.Rejoin, c)
			return fmt.Errorf("%s: %w", row.Name(), err)
		}
		rep.Rejoin = append(rep.Rejoin, c)
		cfg.logf("  %-28s %-22s %s znodes: follower %s serving again %.0f ms after exec (%s, set up for %s)", "restart",
			m.Name, fmtNum(float64(row.Znodes)), member, c.Ms, c.Sync, row.Want)
	}
	return nil
}

// serialWrites sets path's data n times through one session on addr.
func serialWrites(addr, path string, n int) error {
	c, err := dial(addr, 30000)
	if err != nil {
		return err
	}
	defer c.closeSession(5 * time.Second)
	for i := 0; i < n; i++ {
		h, _, err := c.do(wire.Xid(i+1), wire.OpSetData, &wire.SetDataRequest{Path: path, Data: []byte("lag"), Version: -1})
		if err != nil {
			return fmt.Errorf("setData %s (write %d of %d): %w", path, i+1, n, err)
		}
		if h.Err != wire.ErrOk {
			return fmt.Errorf("setData %s (write %d of %d): %w", path, i+1, n, h.Err)
		}
	}
	return nil
}

// emptyDataDir removes everything in a member's data dir but its myid.
func emptyDataDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs error
	for _, e := range ents {
		if e.Name() != "myid" {
			errs = errors.Join(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
		}
	}
	return errs
}

func (rep *EnsembleReport) rejoinStat(row RejoinRow, mix string) stat {
	return statWhere(rep.Rejoin, func(c RejoinCell) bool { return c.Mix == mix && c.Want == row.Want && c.Znodes == row.Znodes },
		func(c RejoinCell) (float64, bool) { return c.Ms, c.Err == "" && c.Ms > 0 })
}

func (rep *EnsembleReport) rejoinRatio(row RejoinRow, mix EnsembleMix) float64 {
	if mix.Base == "" {
		return math.NaN()
	}
	return ratioVal(rep.rejoinStat(row, mix.Name), rep.rejoinStat(row, mix.Base))
}

// rejoinSyncs lists the sync modes the restarts of row on mix logged.
func (rep *EnsembleReport) rejoinSyncs(row RejoinRow, mix string) string {
	var out []string
	seen := map[string]bool{}
	for _, c := range rep.Rejoin {
		if c.Mix != mix || c.Want != row.Want || c.Znodes != row.Znodes || c.Err != "" {
			continue
		}
		s := c.Sync
		if s == "" {
			s = "?"
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return strings.Join(out, ", ")
}

// rejoinRaw writes the follower restart figures: one line per ensemble
// and tree size, the DIFF and SNAP restarts side by side.
func (rep *EnsembleReport) rejoinRaw(w io.Writer) {
	if len(rep.Rejoin) == 0 {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("#### Follower restarts with a large tree: a fresh ensemble, the tree (fan-out 1000, %d B znodes) loaded through "+
		"the leader; follower sid 1 killed, then restarted %d writes behind on its data dir (DIFF) and on an emptied "+
		"data dir, myid kept (SNAP); time from exec until it follows and serves a session\n\n", rep.RejoinDataSize, rejoinLag)
	p("| ensemble | restarted member | znodes | after DIFF (ms) | synced | after SNAP (ms) | synced |\n")
	p("|---|---|---:|---:|---|---:|---|\n")
	var sizes []int
	for _, r := range rep.RejoinRows {
		if len(sizes) == 0 || sizes[len(sizes)-1] != r.Znodes {
			sizes = append(sizes, r.Znodes)
		}
	}
	for _, m := range rep.Mixes {
		member := ""
		for _, c := range rep.Rejoin {
			if c.Mix == m.Name {
				member = c.Member
			}
		}
		if member == "" {
			continue
		}
		for _, n := range sizes {
			d, s := RejoinRow{Want: SyncDIFF, Znodes: n}, RejoinRow{Want: SyncSNAP, Znodes: n}
			p("| %s | %s | %s | %s | %s | %s | %s |\n", m.Name, member, fmtNum(float64(n)),
				rep.rejoinStat(d, m.Name), rep.rejoinSyncs(d, m.Name), rep.rejoinStat(s, m.Name), rep.rejoinSyncs(s, m.Name))
		}
	}
	p("\n")
}
