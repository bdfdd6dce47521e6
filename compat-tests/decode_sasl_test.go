package compattest

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/compat-tests/harness"
)

// TestCompat_DecodeSASL decodes real client SASL DIGEST-MD5 exchanges
// (opcode 102) captured on the loopback interface: kazoo (pure-sasl) as
// bob, kazoo with a wrong password and the Java client (JAAS Client
// section) as bob, against Java 3.8 and against zkgo. zkgo decode and the
// Wireshark dissector must both show every SASL request and reply with
// its token and the outcome (0 or AUTHFAILED), and the exchanges, reduced
// to their shape (direction, token length, error code), must be the same
// for both servers.
func TestCompat_DecodeSASL(t *testing.T) {
	if testing.Short() {
		t.Skip("compat test")
	}
	j := harness.RequireJava(t)
	py := requireKazoo(t)
	classes := j.Compile(t, filepath.Join("java", "TLSClient.java"))
	props := map[string]string{"authProvider.1": "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"}
	z, jz := startSASLPair(t, props, "256m")
	javaArgs := []string{"-Dorg.slf4j.simpleLogger.defaultLogLevel=error", "-Xmx256m", "-XX:TieredStopAtLevel=1",
		"-Djava.security.auth.login.config=" + clientJAAS(t, "bob", "bobsecret")}
	shapes := map[string]string{}
	for _, tg := range []struct {
		name string
		addr string
		port int
	}{{"zkgo", z.Addr, addrPort(t, z.Addr)}, {"java", jz.Addr, jz.Port}} {
		capt := harness.StartCapture(t, harness.CaptureOptions{Tool: "tcpdump", Ports: []int{tg.port}})
		keepCapture(t, capt)
		var transcript strings.Builder
		transcript.WriteString(runKazooSASL(t, py, tg.addr, "dec-sasl-kazoo", "bob", "bobsecret"))
		transcript.WriteString(runKazooSASL(t, py, tg.addr, "never", "bob", "wrong"))
		transcript.WriteString(runJavaTLSClient(t, j, classes, javaArgs, tg.addr, "dec-sasl-java", "20", "whoami"))
		capt.StopComplete()
		if s := transcript.String(); !strings.Contains(s, "get: only bob") || !strings.Contains(s, "error: AuthFailedError") ||
			!strings.Contains(s, "whoami: sasl bob") {
			t.Fatalf("%s: client transcript:\n%s", tg.name, s)
		}

		out := runDecode(t, capt.Path, "--client-port", strconv.Itoa(tg.port))
		requireClean(t, out)
		checkDissector(t, capt.Path, out)
		req, rep, errs := out.stats.op("sasl")
		if req == 0 || req != rep || errs != 1 {
			t.Errorf("%s: sasl requests %d, replies %d, errors %d; want every request answered and one AUTHFAILED", tg.name, req, rep, errs)
		}
		shape := saslShape(t, tg.name, out)
		if !strings.Contains(shape, "reply err=-115") {
			t.Errorf("%s: no AUTHFAILED reply to a sasl request:\n%s", tg.name, shape)
		}
		shapes[tg.name] = shape
		t.Logf("%s: %s", tg.name, strings.TrimSpace(transcript.String()))

		// The text form shows the token with its length.
		text, err := exec.Command(harness.BuildZkgo(t), "decode", "-V", "--op", "sasl", capt.Path).Output()
		must(t, err)
		if !strings.Contains(string(text), "client sasl request") || !regexp.MustCompile(`token: .*\([0-9]+ bytes\)`).Match(text) {
			t.Errorf("%s: zkgo decode -V --op sasl:\n%s", tg.name, lastBytes(string(text), 3000))
		}
		// The dissector shows the same tokens, in the same order.
		if got, want := dissectedTokens(t, capt.Path), decodedTokens(out); got != want {
			t.Errorf("%s: SASL token lengths: dissector %s, zkgo decode %s", tg.name, got, want)
		}
	}
	if shapes["zkgo"] != shapes["java"] {
		t.Fatalf("SASL exchanges differ:\n%s", lineDiff(shapes["java"], shapes["zkgo"]))
	}
	t.Logf("SASL exchanges (both servers):\n%s", shapes["zkgo"])
}

// saslShape reduces the decoded sasl messages to one line each, per
// connection in the order of the capture: the kind, the token length and
// the error code of a reply. Connections are numbered by first appearance.
func saslShape(t *testing.T, name string, out decodeOut) string {
	t.Helper()
	conns := map[string]int{}
	var b strings.Builder
	for _, m := range out.msgs {
		if m["op"] != "sasl" {
			continue
		}
		key := fmt.Sprint(m["src"], m["dst"])
		if m["kind"] == "reply" {
			key = fmt.Sprint(m["dst"], m["src"])
		}
		if _, ok := conns[key]; !ok {
			conns[key] = len(conns) + 1
		}
		tok := saslToken(m)
		switch m["kind"] {
		case "request":
			if tok < 0 {
				t.Errorf("%s: sasl request without a token: %v", name, m)
			}
			// The client's token carries its random cnonce, whose length
			// kazoo's pure-sasl varies: only its presence is compared.
			fmt.Fprintf(&b, "conn %d request token %s\n", conns[key], map[bool]string{true: "empty", false: "non-empty"}[tok == 0])
		case "reply":
			code, _ := m["err_code"].(float64)
			if code == 0 && tok <= 0 {
				t.Errorf("%s: successful sasl reply without a token: %v", name, m)
			}
			size, _ := m["size"].(float64)
			if code != 0 {
				// No token decoded; the frame's size says what body it has.
				fmt.Fprintf(&b, "conn %d reply err=%d size=%d\n", conns[key], int(code), int(size))
				break
			}
			fmt.Fprintf(&b, "conn %d reply err=%d token=%d\n", conns[key], int(code), tok)
		default:
			t.Errorf("%s: sasl message of kind %v: %v", name, m["kind"], m)
		}
	}
	return b.String()
}

// saslToken is the length of the token of a decoded sasl request or
// reply, -1 when it has none (a reply with an error has no body).
func saslToken(m map[string]any) int {
	recs, _ := m["records"].([]any)
	for _, r := range recs {
		rec, _ := r.(map[string]any)
		fields, _ := rec["fields"].(map[string]any)
		tok, ok := fields["token"]
		if !ok {
			continue
		}
		s, _ := tok.(string)
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return -1
		}
		return len(b)
	}
	return -1
}

// decodedTokens lists the token lengths of the sasl requests (q) and
// replies (p) zkgo decode shows, in the order of the capture.
func decodedTokens(out decodeOut) string {
	var b strings.Builder
	for _, m := range out.msgs {
		if m["op"] != "sasl" {
			continue
		}
		if n := saslToken(m); n >= 0 {
			fmt.Fprintf(&b, "%s%d ", string(fmt.Sprint(m["kind"])[2]), n)
		}
	}
	return b.String()
}

// dissectedTokens lists the token lengths of the sasl requests (q) and
// replies (p) the Wireshark dissector shows, in the order of the capture.
func dissectedTokens(t *testing.T, capture string) string {
	t.Helper()
	lua := filepath.Join(t.TempDir(), "zookeeper.lua")
	src, err := exec.Command(harness.BuildZkgo(t), "decode", "--wireshark-lua").Output()
	must(t, err)
	must(t, os.WriteFile(lua, src, 0o644))
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		harness.Unavailable(t, "tshark: %v", err)
	}
	pdml, err := exec.Command(tshark, "-2", "-n", "-X", "lua_script:"+lua, "-o", "tcp.try_heuristic_first:TRUE",
		"-T", "pdml", "-r", capture).Output()
	must(t, err)
	var b strings.Builder
	// token is the length of the token field among fs: a bytes field, or
	// the text the dissector adds for an empty or null buffer.
	var token func(fs []pdmlField) string
	token = func(fs []pdmlField) string {
		for _, f := range fs {
			switch {
			case strings.HasSuffix(f.Name, "SASLRequest.token"), strings.HasSuffix(f.Name, "SASLResponse.token"):
				return f.Size
			case f.Name == "_ws.lua.text" && f.Showname == "token: (empty)":
				return "0"
			case f.Name == "_ws.lua.text" && f.Showname == "token: null":
				return "null"
			}
			if v := token(f.Fields); v != "" {
				return v
			}
		}
		return ""
	}
	walk := func(fs []pdmlField) {
		for _, m := range fs {
			if m.Name != "zookeeper.msg" {
				continue
			}
			var kind, name string
			for _, f := range m.Fields {
				switch f.Name {
				case "zookeeper.kind":
					kind = f.Show
				case "zookeeper.name":
					name = f.Show
				}
			}
			if name != "sasl" {
				continue
			}
			if n := token(m.Fields); n != "" && len(kind) > 2 {
				b.WriteString(kind[2:3] + n + " ")
			}
		}
	}
	dec := xml.NewDecoder(bytes.NewReader(pdml))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		must(t, err)
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "packet" {
			continue
		}
		var p pdmlPacket
		must(t, dec.DecodeElement(&p, &se))
		for _, pr := range p.Protos {
			if pr.Name == "zookeeper" {
				walk(pr.Fields)
			}
		}
	}
	return b.String()
}
