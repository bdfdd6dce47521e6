// Package scripttest runs interaction scripts against a test environment
// and compares what it prints with the expected output in the script
// (STYLE.md §1.7, after etcd-raft's datadriven tests). Standard library
// only.
//
// A script is a sequence of cases separated by blank lines. Each case is a
// command line, a "----" line and the expected output (possibly empty):
//
//	# comments and blank lines between cases are kept
//	deliver 1 2
//	----
//	2->1 ACKEPOCH 0x100000000
//
// A command line is a name followed by arguments, each a word or a
// key=value pair. An output has no blank lines (a blank line ends it).
//
// With -rewrite the runner writes the actual outputs back into the script
// instead of comparing them.
package scripttest

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected outputs of script tests with the actual ones")

// Arg is one argument of a command: Key is empty for a plain word.
type Arg struct {
	Key, Val string
}

// Cmd is one command of a script.
type Cmd struct {
	Pos  string // file:line, for messages
	Name string
	Args []Arg
}

// String is the command line as written (normalized spacing).
func (c *Cmd) String() string {
	parts := []string{c.Name}
	for _, a := range c.Args {
		if a.Key != "" {
			parts = append(parts, a.Key+"="+a.Val)
		} else {
			parts = append(parts, a.Val)
		}
	}
	return strings.Join(parts, " ")
}

// Get returns the value of key=value, and whether it is there.
func (c *Cmd) Get(key string) (string, bool) {
	for _, a := range c.Args {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// Words returns the plain (non key=value) arguments.
func (c *Cmd) Words() []string {
	var out []string
	for _, a := range c.Args {
		if a.Key == "" {
			out = append(out, a.Val)
		}
	}
	return out
}

// block is one case of a script, with what precedes it.
type block struct {
	pre      []string // comments and blank lines before the command
	cmd      Cmd
	line     string
	expected string
}

func parse(path, text string) ([]block, []string, error) {
	lines := strings.Split(text, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var blocks []block
	var pre []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			pre = append(pre, l)
			continue
		}
		b := block{pre: pre, line: l, cmd: parseCmd(fmt.Sprintf("%s:%d", path, i+1), l)}
		pre = nil
		i++
		if i >= len(lines) || lines[i] != "----" {
			return nil, nil, fmt.Errorf("%s:%d: command %q is not followed by ----", path, i+1, l)
		}
		var out []string
		for i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
			i++
			out = append(out, lines[i])
		}
		b.expected = strings.Join(out, "\n")
		blocks = append(blocks, b)
	}
	return blocks, pre, nil
}

func parseCmd(pos, line string) Cmd {
	f := strings.Fields(line)
	c := Cmd{Pos: pos, Name: f[0]}
	for _, w := range f[1:] {
		if k, v, ok := strings.Cut(w, "="); ok {
			c.Args = append(c.Args, Arg{Key: k, Val: v})
		} else {
			c.Args = append(c.Args, Arg{Val: w})
		}
	}
	return c
}

// Run runs the script at path: for each case it calls fn and compares the
// output (trailing newlines trimmed; it must have no blank line) with the
// expected one, or with -rewrite writes it back. fn may call t.Fatal.
func Run(t *testing.T, path string, fn func(t *testing.T, c *Cmd) string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blocks, tail, err := parse(path, string(b))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, blk := range blocks {
		got := strings.TrimRight(fn(t, &blk.cmd), "\n")
		for _, l := range strings.Split(got, "\n") {
			if got != "" && strings.TrimSpace(l) == "" {
				t.Fatalf("%s: %s: the output has a blank line:\n%s", blk.cmd.Pos, blk.line, got)
			}
		}
		if !*rewrite && got != blk.expected {
			t.Errorf("%s: %s\ngot:\n%s\nwant:\n%s", blk.cmd.Pos, blk.line, got, blk.expected)
		}
		for _, l := range blk.pre {
			out.WriteString(l + "\n")
		}
		out.WriteString(blk.line + "\n----\n")
		if got != "" {
			out.WriteString(got + "\n")
		}
	}
	for _, l := range tail {
		out.WriteString(l + "\n")
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
