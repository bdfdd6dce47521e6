// Command jutegen turns a Jute schema (jute/zookeeper.jute) into Go records
// with Encode, Decode, Size and Walk methods and a metadata table. It uses no
// reflection at run time; the generated code calls jute.Writer and
// jute.Reader directly.
//
// Usage (from wire/gen.go):
//
//	go run ../jute/cmd/jutegen -in ../jute/zookeeper.jute -out records_gen.go -pkg wire
package main

import (
	"flag"
	"fmt"
	"go/format"
	"os"
)

func main() {
	in := flag.String("in", "", "Jute schema file")
	out := flag.String("out", "", "Go file to write")
	pkg := flag.String("pkg", "wire", "Go package name")
	juteImp := flag.String("jute", "github.com/zkgo/zkgo/jute", "import path of the jute package")
	flag.Parse()
	if *in == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*in, *out, *pkg, *juteImp); err != nil {
		fmt.Fprintln(os.Stderr, "jutegen:", err)
		os.Exit(1)
	}
}

func run(in, out, pkg, juteImp string) error {
	src, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	classes, err := parse(string(src))
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	g := &generator{pkg: pkg, juteImp: juteImp, classes: classes}
	code, err := g.generate()
	if err != nil {
		return err
	}
	formatted, err := format.Source(code)
	if err != nil {
		return fmt.Errorf("generated code does not compile: %w", err)
	}
	return os.WriteFile(out, formatted, 0o644)
}
