package quorum

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The configurations a Java 3.8.0 ensemble of three went through (started
// from a static-only zoo.cfg with reconfigEnabled=true, then reconfig
// -remove 1; -add server.1=...:observer;27181; -members (all three
// participants); -remove 2,3), as its /zookeeper/config showed them.
var java380Configs = []struct {
	version string
	text    string
}{
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

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "java380", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The dynamic files Java wrote for each configuration.
func TestDynamicFileTextAsJava(t *testing.T) {
	for _, c := range java380Configs {
		want := readTestdata(t, "zoo.cfg.dynamic."+c.version)
		if got := DynamicFileText(c.text, false); got != want {
			t.Errorf("version %s: got\n%q\nwant\n%q", c.version, got, want)
		}
		// The .next file keeps the version line, sorted with the rest.
		if got := DynamicFileText(c.text, true); got != want+"\nversion="+c.version {
			t.Errorf("version %s, keepVersion: got %q", c.version, got)
		}
	}
}

// The static-only zoo.cfg of member 1 (no client part in its server line)
// and member 2 (one) parse into the first configuration, and the static
// file rewrites reproduce Java's, line order included, after the first
// activation and after every reconfig.
func TestStaticFileTextAsJava(t *testing.T) {
	for _, m := range []struct {
		id   int64
		name string
	}{{1, "zk1"}, {2, "zk2"}} {
		orig := readTestdata(t, m.name+".zoo.cfg.orig")
		cfg, err := ParseConfig(ParseProperties(orig), ParseOptions{BackwardCompatible: true})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Version = 0x100000000
		if got := cfg.String(); got != java380Configs[0].text {
			t.Errorf("%s: config text\n%s\nwant\n%s", m.name, got, java380Configs[0].text)
		}
		static := orig
		for i, c := range java380Configs {
			next, err := ParseConfigText(c.text, false)
			if err != nil {
				t.Fatal(err)
			}
			me, ok := next.Servers[m.id]
			dyn := "/tmp/rc/" + m.name + "/zoo.cfg.dynamic." + c.version
			static = StaticFileText(static, dyn, ok && me.HasClient)
			if i == 0 {
				if want := readTestdata(t, m.name+".zoo.cfg."+c.version); static != want {
					t.Errorf("%s after %s:\n%s\nwant\n%s", m.name, c.version, static, want)
				}
			}
			if got := next.String(); got != c.text {
				t.Errorf("round trip of %s: %q", c.version, got)
			}
		}
		if want := readTestdata(t, m.name+".zoo.cfg.final"); static != want {
			t.Errorf("%s final:\n%s\nwant\n%s", m.name, static, want)
		}
	}
}

func TestVersionFromFilename(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string
		ok   bool
	}{
		{"zoo.cfg.dynamic.100000000", "100000000", true},
		{"zoo.cfg.dynamic.0", "0", true},
		{"zoo.cfg.dynamic.00A", "a", true},
		{"zoo.cfg.dynamic", "", false},
		{"/a.b/zoo_cfg", "", false},
		{"zoo.cfg.dynamic.next", "", false},
	} {
		got, ok := VersionFromFilename(tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: %q %v, want %q %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	if got := DynamicFileName("/x/zoo.cfg", 0x20000000b); got != "/x/zoo.cfg.dynamic.20000000b" {
		t.Errorf("DynamicFileName: %s", got)
	}
}

func TestParsePropertiesAsJava(t *testing.T) {
	p := ParseProperties("# c\n  ! c2\na=1\nb : 2 \nc 3\nd\\\n   e=4\r\nf=x\\=y\\u0041\\\\\ng=\\\n\na=5\n\\ k=v")
	for _, kv := range [][2]string{{"a", "5"}, {"b", "2 "}, {"c", "3"}, {"de", "4"}, {"f", "x=yA\\"}, {"g", ""}, {" k", "v"}} {
		if v, ok := p.Get(kv[0]); !ok || v != kv[1] {
			t.Errorf("%q = %q (%v), want %q", kv[0], v, ok, kv[1])
		}
	}
	if got := strings.Join(p.Keys(), ","); got != "a,b,c,de,f,g, k" {
		t.Errorf("keys %s", got)
	}
}

// JavaOrder against the orders Java 17 printed for Properties.entrySet()
// after Properties.load of each file (testdata/javaorder/*.order, from a
// 12-line Java program): 5 to 52 keys, so tables of 16, 32, 64 and 128
// bins, with their resizes.
func TestPropertiesJavaOrder(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "javaorder", "*.cfg"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	files = append(files, filepath.Join("testdata", "java380", "zk1.zoo.cfg.orig"))
	for _, f := range files {
		cfg, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		wantFile := strings.TrimSuffix(f, ".cfg") + ".order"
		if strings.HasSuffix(f, ".orig") {
			wantFile = filepath.Join("testdata", "javaorder", "zk1.zoo.cfg.orig.order")
		}
		want, err := os.ReadFile(wantFile)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(ParseProperties(string(cfg)).JavaOrder(), ",")
		if got != strings.TrimSpace(string(want)) {
			t.Errorf("%s:\ngot  %s\nwant %s", f, got, want)
		}
	}
}
