// Command codestats measures the shape of a Go package for the notes that
// track node/'s restructuring (docs/zab.md): the fields and methods of a
// type, the lines of its non-test files, and which files call each other.
//
//	go run ./internal/codestats [-type Server] [-v] ./node [./node/zab ...]
//
// A file "calls" another when it refers to a function or method declared
// in the other (a call or a method value; test files are left out). Two
// files that call each other are a mutual pair; the strongly connected
// components of the file graph show the larger cycles. The package is type
// checked against the export data `go list -export` builds, so method
// calls resolve to their receiver type exactly. Standard library only.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

type listPkg struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Export     string
}

func main() {
	typeName := flag.String("type", "Server", "the type whose fields and methods are counted (first package only)")
	verbose := flag.Bool("v", false, "list the mutual pairs and each file's lines")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: codestats [-type T] [-v] pkg...")
		os.Exit(2)
	}
	for i, p := range flag.Args() {
		st, err := measure(p, *typeName, i == 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, "codestats:", err)
			os.Exit(1)
		}
		st.print(os.Stdout, *verbose)
	}
}

// stats is what measure reports for one package.
type stats struct {
	pkg             string
	typeName        string
	fields, methods int // -1 when the type is not counted
	methodFiles     int
	files, lines    int
	fileLines       map[string]int
	mutual          [][2]string
	sccs            [][]string // components with more than one file
}

func (st *stats) print(w io.Writer, verbose bool) {
	fmt.Fprintf(w, "package %s\n", st.pkg)
	if st.fields >= 0 {
		fmt.Fprintf(w, "  %s: %d fields, %d methods in %d files\n", st.typeName, st.fields, st.methods, st.methodFiles)
	}
	fmt.Fprintf(w, "  non-test .go: %d files, %d lines\n", st.files, st.lines)
	fmt.Fprintf(w, "  file pairs calling each other: %d\n", len(st.mutual))
	for _, c := range st.sccs {
		fmt.Fprintf(w, "  cycle of %d files: %s\n", len(c), strings.Join(c, " "))
	}
	if verbose {
		for _, m := range st.mutual {
			fmt.Fprintf(w, "    %s <-> %s\n", m[0], m[1])
		}
		names := make([]string, 0, len(st.fileLines))
		for f := range st.fileLines {
			names = append(names, f)
		}
		sort.Strings(names)
		for _, f := range names {
			fmt.Fprintf(w, "    %6d %s\n", st.fileLines[f], f)
		}
	}
}

func goList(args ...string) ([]listPkg, error) {
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %v: %w: %s", args, err, stderr.String())
	}
	var pkgs []listPkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p listPkg
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

func measure(pattern, typeName string, countType bool) (*stats, error) {
	pkgs, err := goList(pattern)
	if err != nil {
		return nil, err
	}
	if len(pkgs) != 1 {
		return nil, fmt.Errorf("%s: %d packages, want 1", pattern, len(pkgs))
	}
	target := pkgs[0]
	deps, err := goList("-deps", "-export", pattern)
	if err != nil {
		return nil, err
	}
	exports := map[string]string{}
	for _, d := range deps {
		exports[d.ImportPath] = d.Export
	}
	fset := token.NewFileSet()
	var files []*ast.File
	st := &stats{pkg: target.ImportPath, typeName: typeName, fields: -1, methods: -1, fileLines: map[string]int{}}
	for _, name := range target.GoFiles {
		path := filepath.Join(target.Dir, name)
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		n, err := countLines(path)
		if err != nil {
			return nil, err
		}
		st.fileLines[name] = n
		st.lines += n
		st.files++
	}
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		e := exports[path]
		if e == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(e)
	})
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Selections: map[*ast.SelectorExpr]*types.Selection{}}
	conf := types.Config{Importer: imp}
	tpkg, err := conf.Check(target.ImportPath, fset, files, info)
	if err != nil {
		return nil, fmt.Errorf("type check %s: %w", target.ImportPath, err)
	}
	if countType {
		if obj, ok := tpkg.Scope().Lookup(typeName).(*types.TypeName); ok {
			named := obj.Type().(*types.Named)
			if s, ok := named.Underlying().(*types.Struct); ok {
				st.fields = s.NumFields()
			}
			st.methods = named.NumMethods()
			mf := map[string]bool{}
			for i := range named.NumMethods() {
				mf[filepath.Base(fset.Position(named.Method(i).Pos()).Filename)] = true
			}
			st.methodFiles = len(mf)
		}
	}
	// File graph: uses of package-level functions and methods declared in
	// another file of the package.
	edges := map[string]map[string]bool{}
	for id, obj := range info.Uses {
		fn, ok := obj.(*types.Func)
		if !ok || fn.Pkg() != tpkg {
			continue
		}
		from := filepath.Base(fset.Position(id.Pos()).Filename)
		to := filepath.Base(fset.Position(fn.Pos()).Filename)
		if from == to || fset.Position(fn.Pos()).Filename == "" {
			continue
		}
		if edges[from] == nil {
			edges[from] = map[string]bool{}
		}
		edges[from][to] = true
	}
	for a, tos := range edges {
		for b := range tos {
			if a < b && edges[b][a] {
				st.mutual = append(st.mutual, [2]string{a, b})
			}
		}
	}
	sort.Slice(st.mutual, func(i, j int) bool {
		if st.mutual[i][0] != st.mutual[j][0] {
			return st.mutual[i][0] < st.mutual[j][0]
		}
		return st.mutual[i][1] < st.mutual[j][1]
	})
	st.sccs = components(st.fileLines, edges)
	return st, nil
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		n++
	}
	return n, sc.Err()
}

// components returns the strongly connected components of more than one
// file (Tarjan), each sorted, largest first.
func components(nodes map[string]int, edges map[string]map[string]bool) [][]string {
	names := make([]string, 0, len(nodes))
	for n := range nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	index := map[string]int{}
	low := map[string]int{}
	on := map[string]bool{}
	var stack []string
	var out [][]string
	next := 0
	var visit func(v string)
	visit = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		on[v] = true
		succ := make([]string, 0, len(edges[v]))
		for w := range edges[v] {
			succ = append(succ, w)
		}
		sort.Strings(succ)
		for _, w := range succ {
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if on[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var c []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				on[w] = false
				c = append(c, w)
				if w == v {
					break
				}
			}
			if len(c) > 1 {
				sort.Strings(c)
				out = append(out, c)
			}
		}
	}
	for _, n := range names {
		if _, seen := index[n]; !seen {
			visit(n)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}
