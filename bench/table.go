package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// PrintResults prints load-generator results as a table, one row per
// result and one per operation of a mixed result.
func PrintResults(w io.Writer, rs []*Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\top\tconns\tdepth\trate\tops/s\terrors\tp50 µs\tp90 µs\tp99 µs\tp999 µs\tmax µs\t")
	for _, r := range rs {
		rate := "closed"
		if r.Rate > 0 {
			rate = fmt.Sprintf("%.0f", r.Rate)
		}
		row := func(op string, ops string, s Summary) {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t\n",
				r.Name, op, r.Conns, r.Depth, rate, ops, r.Errors, s.P50, s.P90, s.P99, s.P999, s.Max)
		}
		row("all", fmt.Sprintf("%.0f", r.OpsPerSec), r.Latency)
		if len(r.PerOp) > 1 {
			for _, op := range sortedKeys(r.PerOp) {
				s := r.PerOp[op]
				row(op, fmt.Sprintf("%.0f", float64(s.Count)/r.Seconds), s)
			}
		}
	}
	tw.Flush()
}

// fmtNum formats a figure compactly (12.3k, 1.2M).
func fmtNum(v float64) string {
	a := v
	if a < 0 {
		a = -a
	}
	switch {
	case a >= 1e6:
		return trimZero(fmt.Sprintf("%.2f", v/1e6)) + "M"
	case a >= 1e4:
		return trimZero(fmt.Sprintf("%.1f", v/1e3)) + "k"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return trimZero(fmt.Sprintf("%.1f", v))
	default:
		return trimZero(fmt.Sprintf("%.2f", v))
	}
}

func trimZero(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
