package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestGeneratedCodeIsFresh fails when wire/records_gen.go does not match
// what jutegen makes of jute/zookeeper.jute (run `make generate`).
func TestGeneratedCodeIsFresh(t *testing.T) {
	out := filepath.Join(t.TempDir(), "records_gen.go")
	if err := run("../../zookeeper.jute", out, "wire", "github.com/zkgo/zkgo/jute"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../../wire/records_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("wire/records_gen.go is stale: run `make generate` and commit the result")
	}
}

func TestParseErrors(t *testing.T) {
	for _, src := range []string{
		"module a { class B { int x } }",
		"module a { class B { C x; } }",
		"module a { class B { vector<int x; } }",
		"module a { class B { int x; }",
		"module a { class B { int x; } class B { int y; } }",
		"module a { class B { D d; } class D { int x; } }",
		"/* unterminated",
		"module a { class B { int 1x; } }",
	} {
		if _, err := parse(src); err == nil {
			t.Errorf("parse(%q) succeeded", src)
		}
	}
	cs, err := parse("module a.b { class C { map<ustring,vector<long>> m; buffer b; } class D { C c; vector<C> cs; } }")
	if err != nil || len(cs) != 2 || cs[1].fields[0].typ.ref != "a.b.C" {
		t.Fatalf("%v %v", cs, err)
	}
}

func TestFieldNames(t *testing.T) {
	for in, want := range map[string]string{
		"sessionId": "SessionID", "acl": "ACL", "ttl": "TTL", "czxid": "Czxid", "ephemeralOwner": "EphemeralOwner",
		"parentCVersion": "ParentCVersion", "serverid": "ServerID", "paths2Delete": "Paths2Delete", "curConfigId": "CurConfigID",
	} {
		if got := goFieldName(in); got != want {
			t.Errorf("goFieldName(%q) = %q, want %q", in, got, want)
		}
	}
}
