// Package depcheck enforces the dependency rules of STYLE.md §2: the pure
// packages import neither I/O, clocks nor the network, and proxy and node
// never import each other.
package depcheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/zkgo/zkgo"

// pure lists the packages that must stay deterministic and I/O-free: no
// network, files, clocks or goroutines.
var pure = []string{
	"jute",
	"wire",
	"node/tree",
	"node/session",
	"node/watch",
	"node/fle",
	"node/quorum",
	"node/zab",
	"node/zab/zabtest",
	"node/zab/sim",
}

// forbiddenDirect are imports a pure package may not have itself. (The
// standard library reaches os internally, e.g. crypto reads its settings;
// that is not our code doing I/O.)
var forbiddenDirect = []string{"net", "os", "os/exec", "os/signal", "syscall", "io/fs", "path/filepath"}

// forbiddenForPure are imports a pure package may not have, directly or
// through its dependencies.
var forbiddenForPure = []string{
	"net",
	"github.com/panjf2000/gnet/v2",
	module + "/node/storage",
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Fields(string(out))
}

func TestPurePackagesHaveNoIO(t *testing.T) {
	for _, p := range pure {
		deps := goList(t, "-deps", module+"/"+p)
		for _, d := range deps {
			for _, f := range forbiddenForPure {
				if d == f {
					t.Errorf("pure package %s depends on %s", p, d)
				}
			}
		}
		for _, d := range goList(t, "-f", `{{join .Imports " "}}`, module+"/"+p) {
			for _, f := range forbiddenDirect {
				if d == f {
					t.Errorf("pure package %s imports %s", p, d)
				}
			}
		}
		// Direct use of wall clocks and sleeps, and goroutines.
		files := goList(t, "-f", `{{range .GoFiles}}{{$.Dir}}/{{.}} {{end}}`, module+"/"+p)
		for _, file := range files {
			checkNoClock(t, file)
		}
	}
}

func checkNoClock(t *testing.T, file string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if g, ok := n.(*ast.GoStmt); ok {
			t.Errorf("%s: pure code starts a goroutine at %v", filepath.Base(file), fset.Position(g.Pos()))
		}
		return true
	})
	timeName := ""
	for _, imp := range f.Imports {
		if imp.Path.Value == `"time"` {
			timeName = "time"
			if imp.Name != nil {
				timeName = imp.Name.Name
			}
		}
	}
	if timeName == "" {
		return
	}
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok && id.Name == timeName {
			switch sel.Sel.Name {
			case "Now", "Sleep", "After", "Tick", "NewTimer", "NewTicker", "Since", "Until", "AfterFunc":
				t.Errorf("%s: pure code calls time.%s", filepath.Base(file), sel.Sel.Name)
			}
		}
		return true
	})
}

func TestProxyAndNodeAreIndependent(t *testing.T) {
	for _, pair := range [][2]string{{"proxy", "node"}, {"node", "proxy"}} {
		pkgs := goList(t, module+"/"+pair[0]+"/...")
		for _, p := range pkgs {
			for _, d := range goList(t, "-deps", p) {
				if d == module+"/"+pair[1] || strings.HasPrefix(d, module+"/"+pair[1]+"/") {
					t.Errorf("%s imports %s", p, d)
				}
			}
		}
	}
}

// localImports lists, for some pure packages, the only packages of this
// module they may depend on (directly or not).
var localImports = map[string][]string{
	"node/zab":         {"jute", "wire", "node/quorum"},
	"node/zab/zabtest": {"jute", "wire", "node/quorum", "node/zab"},
	"node/zab/sim":     {"jute", "wire", "node/quorum", "node/zab", "node/fle", "node/tree"},
}

func TestPureLocalImports(t *testing.T) {
	for p, allowed := range localImports {
		for _, d := range goList(t, "-deps", module+"/"+p) {
			if !strings.HasPrefix(d, module+"/") || d == module+"/"+p {
				continue
			}
			ok := false
			for _, a := range allowed {
				ok = ok || d == module+"/"+a
			}
			if !ok {
				t.Errorf("%s depends on %s; it may use only %v", p, d, allowed)
			}
		}
	}
}
