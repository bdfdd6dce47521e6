package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The files a Java 3.8.0 member writes through five configurations
// (node/quorum/testdata/java380, from a live ensemble started with a
// static-only zoo.cfg and reconfigEnabled=true): the backup, each dynamic
// file and the static rewrites, byte for byte.
func TestWriteActivatedConfigAsJava(t *testing.T) {
	configs := []struct{ version, text string }{
		{"100000000", "server.1=127.0.0.1:27281:27381:participant\n" +
			"server.2=127.0.0.1:27282:27382:participant;0.0.0.0:27182\n" +
			"server.3=127.0.0.1:27283:27383:participant;127.0.0.1:27183\nversion=100000000"},
		{"200000002", "server.2=127.0.0.1:27282:27382:participant;0.0.0.0:27182\n" +
			"server.3=127.0.0.1:27283:27383:participant;127.0.0.1:27183\nversion=200000002"},
		{"200000005", "server.1=127.0.0.1:27281:27381:observer;0.0.0.0:27181\n" +
			"server.2=127.0.0.1:27282:27382:participant;0.0.0.0:27182\n" +
			"server.3=127.0.0.1:27283:27383:participant;127.0.0.1:27183\nversion=200000005"},
		{"20000000b", "server.1=127.0.0.1:27281:27381:participant;0.0.0.0:27181\n" +
			"server.2=127.0.0.1:27282:27382:participant;0.0.0.0:27182\n" +
			"server.3=127.0.0.1:27283:27383:participant;127.0.0.1:27183\nversion=20000000b"},
		{"20000000e", "server.1=127.0.0.1:27281:27381:participant;0.0.0.0:27181\nversion=20000000e"},
	}
	for _, m := range []struct {
		id   int64
		name string
	}{{1, "zk1"}, {2, "zk2"}} {
		dir, err := filepath.EvalSymlinks(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		fixture := func(name string) string {
			b, err := os.ReadFile(filepath.Join("quorum", "testdata", "java380", name))
			if err != nil {
				t.Fatal(err)
			}
			return strings.ReplaceAll(string(b), "/tmp/rc/"+m.name, dir)
		}
		file := func(name string) string {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		cfgPath := filepath.Join(dir, "zoo.cfg")
		if err := os.WriteFile(cfgPath, []byte(fixture(m.name+".zoo.cfg.orig")), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := BackupStaticConfig(cfgPath); err != nil {
			t.Fatal(err)
		}
		if got := file("zoo.cfg.bak"); got != fixture(m.name+".zoo.cfg.orig") {
			t.Errorf("%s backup: %q", m.name, got)
		}
		for i, c := range configs {
			if err := WriteNextConfig(cfgPath, c.text); err != nil {
				t.Fatal(err)
			}
			if got := file("zoo.cfg.dynamic.next"); !strings.HasSuffix(got, "\nversion="+c.version) {
				t.Errorf("%s next: %q", m.name, got)
			}
			if err := WriteActivatedConfig(cfgPath, m.id, c.text, true); err != nil {
				t.Fatal(err)
			}
			if got, want := file("zoo.cfg.dynamic."+c.version), fixture("zoo.cfg.dynamic."+c.version); got != want {
				t.Errorf("%s dynamic %s:\n%q\nwant\n%q", m.name, c.version, got, want)
			}
			if _, err := os.Stat(filepath.Join(dir, "zoo.cfg.dynamic.next")); !os.IsNotExist(err) {
				t.Errorf("%s: .next left after activating %s (%v)", m.name, c.version, err)
			}
			if i == 0 {
				if got, want := file("zoo.cfg"), fixture(m.name+".zoo.cfg.100000000"); got != want {
					t.Errorf("%s zoo.cfg after %s:\n%s\nwant\n%s", m.name, c.version, got, want)
				}
			}
		}
		if got, want := file("zoo.cfg"), fixture(m.name+".zoo.cfg.final"); got != want {
			t.Errorf("%s final zoo.cfg:\n%s\nwant\n%s", m.name, got, want)
		}
		// zkgo reads back what it wrote.
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		static := strings.ReplaceAll(file("zoo.cfg"), "/tmp/rc/"+m.name+"/data", filepath.Join(dir, "data"))
		if err := os.WriteFile(filepath.Join(dir, "data", "myid"), []byte("1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := ParseConfig(strings.NewReader(static))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Quorum == nil || cfg.Quorum.Text() != configs[len(configs)-1].text {
			t.Errorf("%s read back: %+v", m.name, cfg.Quorum)
		}
	}
}
