package scripttest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func echo(t *testing.T, c *Cmd) string {
	switch c.Name {
	case "echo":
		var out []string
		for _, a := range c.Args {
			if a.Key == "" {
				out = append(out, "echo: "+a.Val)
			} else {
				out = append(out, "key "+a.Key+": "+a.Val)
			}
		}
		return strings.Join(out, "\n")
	case "upper":
		return strings.ToUpper(strings.Join(c.Words(), " "))
	}
	t.Fatalf("%s: unknown command %s", c.Pos, c.Name)
	return ""
}

func TestRun(t *testing.T) { Run(t, "testdata/echo.txt", echo) }

func TestRewriteKeepsCommentsAndFixesOutputs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.txt")
	in := "# head\necho x\n----\nstale\nlines\n\n# mid\nupper a\n----\n\n# tail\n"
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	*rewrite = true
	defer func() { *rewrite = false }()
	Run(t, path, echo)
	b, _ := os.ReadFile(path)
	want := "# head\necho x\n----\necho: x\n\n# mid\nupper a\n----\nA\n\n# tail\n"
	if string(b) != want {
		t.Fatalf("rewritten:\n%s\nwant:\n%s", b, want)
	}
}

func TestParseErrors(t *testing.T) {
	if _, _, err := parse("p", "cmd\nno dashes\n"); err == nil {
		t.Fatal("a command without ---- was accepted")
	}
	c := parseCmd("p:1", "deliver 1 2 n=3")
	if c.Name != "deliver" || len(c.Words()) != 2 || c.String() != "deliver 1 2 n=3" {
		t.Fatalf("%+v", c)
	}
	if v, ok := c.Get("n"); !ok || v != "3" {
		t.Fatal("Get")
	}
}
