package xchk

import (
	"fmt"
	"strings"
)

// Diff renders how got differs from want, line by line: "  " common, "- "
// only in want, "+ " only in got (longest common subsequence). Where one
// line was replaced by another, a "^" line names the words that differ.
func Diff(want, got []string, indent string) string {
	w, g := want, got
	lcs := make([][]int, len(w)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(g)+1)
	}
	for i := len(w) - 1; i >= 0; i-- {
		for j := len(g) - 1; j >= 0; j-- {
			if w[i] == g[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var b strings.Builder
	var minus, plus []string
	flush := func() {
		for _, l := range minus {
			fmt.Fprintf(&b, "%s- %s\n", indent, l)
		}
		for _, l := range plus {
			fmt.Fprintf(&b, "%s+ %s\n", indent, l)
		}
		for k := 0; k < len(minus) && k < len(plus); k++ {
			if h := wordHint(minus[k], plus[k]); h != "" {
				fmt.Fprintf(&b, "%s^ %s\n", indent, h)
			}
		}
		minus, plus = nil, nil
	}
	i, j := 0, 0
	for i < len(w) || j < len(g) {
		switch {
		case i < len(w) && j < len(g) && w[i] == g[j]:
			flush()
			fmt.Fprintf(&b, "%s  %s\n", indent, w[i])
			i++
			j++
		case i < len(w) && (j == len(g) || lcs[i+1][j] >= lcs[i][j+1]):
			minus = append(minus, w[i])
			i++
		default:
			plus = append(plus, g[j])
			j++
		}
	}
	flush()
	return b.String()
}

// wordHint names the words that differ between two lines of the same
// shape ("cv=5 vs cv=6").
func wordHint(a, b string) string {
	wa, wb := strings.Fields(strings.NewReplacer("{", "{ ", "}", " }").Replace(a)),
		strings.Fields(strings.NewReplacer("{", "{ ", "}", " }").Replace(b))
	if len(wa) != len(wb) {
		return ""
	}
	var parts []string
	for k := range wa {
		if wa[k] != wb[k] {
			parts = append(parts, wa[k]+" vs "+wb[k])
		}
	}
	if len(parts) == 0 || len(parts) > 4 {
		return ""
	}
	return strings.Join(parts, ", ")
}
