package compattest

import (
	"bytes"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/compat-tests/harness"
)

// The Wireshark dissector `zkgo decode --wireshark-lua` generates, run by
// tshark over the captures of real Java 3.8 traffic the decode tests
// make: every message zkgo decode finds must be dissected, in the same
// order on each direction of each connection, with the same kind, name
// and key fields (xid, zxid, err, session, path, sid, configuration
// version).

// dissected is one message as compared: the fields both tools report.
type dissected struct {
	kind, name, xid, zxid, err, session, path, sid, configVersion string
}

func (d dissected) String() string {
	var b strings.Builder
	b.WriteString(d.kind + " " + d.name)
	for _, kv := range [][2]string{{"xid", d.xid}, {"zxid", d.zxid}, {"err", d.err}, {"session", d.session}, {"path", d.path},
		{"sid", d.sid}, {"configVersion", d.configVersion}} {
		if kv[1] != "" {
			b.WriteString(" " + kv[0] + "=" + kv[1])
		}
	}
	return b.String()
}

// fromDecode turns zkgo decode's JSON messages into per-direction lists.
func fromDecode(out decodeOut) map[string][]dissected {
	got := map[string][]dissected{}
	for _, m := range out.msgs {
		kind, _ := m["kind"].(string)
		if kind == "note" || kind == "undecodable" {
			continue
		}
		d := dissected{kind: kind, name: fmt.Sprint(m["name"])}
		if v, ok := m["xid"].(float64); ok {
			d.xid = strconv.FormatInt(int64(v), 10)
		}
		if v, ok := m["zxid"].(string); ok {
			d.zxid = v
		}
		if v, ok := m["config_version"].(string); ok {
			d.configVersion = v
		}
		if v, ok := m["err_code"].(float64); ok {
			d.err = strconv.FormatInt(int64(v), 10)
		}
		if v, ok := m["session"].(string); ok {
			d.session = v
		}
		if v, ok := m["path"].(string); ok {
			d.path = v
		}
		if v, ok := m["sid"].(float64); ok {
			d.sid = strconv.FormatInt(int64(v), 10)
		}
		key := fmt.Sprint(m["src"]) + " -> " + fmt.Sprint(m["dst"])
		got[key] = append(got[key], d)
	}
	return got
}

type pdmlField struct {
	Name     string      `xml:"name,attr"`
	Show     string      `xml:"show,attr"`
	Showname string      `xml:"showname,attr"`
	Value    string      `xml:"value,attr"`
	Size     string      `xml:"size,attr"`
	Fields   []pdmlField `xml:"field"`
}

type pdmlProto struct {
	Name   string      `xml:"name,attr"`
	Fields []pdmlField `xml:"field"`
}

type pdmlPacket struct {
	Protos []pdmlProto `xml:"proto"`
}

// hexInt reads a PDML value (big-endian hex bytes) as a signed integer.
func hexInt(v string) (int64, error) {
	b, err := hex.DecodeString(v)
	if err != nil || len(b) == 0 || len(b) > 8 {
		return 0, fmt.Errorf("value %q", v)
	}
	var u uint64
	for _, x := range b {
		u = u<<8 | uint64(x)
	}
	shift := 64 - 8*len(b)
	return int64(u<<shift) >> shift, nil
}

// pdmlInt reads an integer field: from its bytes, or from what it shows
// when it has none (a generated field).
func pdmlInt(f pdmlField) (int64, error) {
	if f.Value != "" {
		return hexInt(f.Value)
	}
	if h, ok := strings.CutPrefix(f.Show, "0x"); ok {
		u, err := strconv.ParseUint(h, 16, 64)
		return int64(u), err
	}
	return strconv.ParseInt(f.Show, 10, 64)
}

// runDissector runs tshark with the generated dissector over capture and
// returns the messages it dissected, per direction. tshark makes two
// passes (-2) and prints the second, so the dissector's state kept from
// the first pass is what is checked, as when Wireshark redraws a packet.
func runDissector(t *testing.T, capture string, tsharkArgs ...string) map[string][]dissected {
	t.Helper()
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		harness.Unavailable(t, "tshark: %v", err)
	}
	lua := filepath.Join(t.TempDir(), "zookeeper.lua")
	src, err := exec.Command(harness.BuildZkgo(t), "decode", "--wireshark-lua").Output()
	if err != nil {
		t.Fatalf("zkgo decode --wireshark-lua: %v", err)
	}
	if err := os.WriteFile(lua, src, 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-2", "-n", "-X", "lua_script:" + lua, "-o", "tcp.try_heuristic_first:TRUE"}, tsharkArgs...)
	cmd := exec.Command(tshark, append(args, "-T", "pdml", "-r", capture)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	if s := stderr.String(); strings.Contains(s, "Lua") || strings.Contains(s, "lua") {
		t.Fatalf("tshark reported a Lua problem:\n%s", s)
	}
	got := map[string][]dissected{}
	dec := xml.NewDecoder(&stdout)
	var malformed []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("PDML: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "packet" {
			continue
		}
		var p pdmlPacket
		if err := dec.DecodeElement(&p, &se); err != nil {
			t.Fatalf("PDML packet: %v", err)
		}
		var src, dst, sport, dport, frame string
		for _, pr := range p.Protos {
			var walk func(fs []pdmlField)
			walk = func(fs []pdmlField) {
				for _, f := range fs {
					walk(f.Fields)
					switch f.Name {
					case "ip.src", "ipv6.src":
						src = f.Show
					case "ip.dst", "ipv6.dst":
						dst = f.Show
					case "tcp.srcport":
						sport = f.Show
					case "tcp.dstport":
						dport = f.Show
					case "frame.number":
						frame = f.Show
					case "_ws.expert":
						if pr.Name == "zookeeper" {
							malformed = append(malformed, "frame "+frame+": "+f.Show)
						}
					}
				}
			}
			walk(pr.Fields)
		}
		if strings.Contains(src, ":") {
			src = "[" + src + "]"
			dst = "[" + dst + "]"
		}
		key := src + ":" + sport + " -> " + dst + ":" + dport
		for _, pr := range p.Protos {
			if pr.Name != "zookeeper" {
				continue
			}
			for _, m := range pr.Fields {
				if m.Name != "zookeeper.msg" {
					continue
				}
				var d dissected
				for _, f := range m.Fields {
					var iv int64
					var ierr error
					switch f.Name {
					case "zookeeper.xid", "zookeeper.zxid", "zookeeper.err", "zookeeper.session", "zookeeper.sid",
						"zookeeper.config_version":
						iv, ierr = pdmlInt(f)
						if ierr != nil {
							t.Fatalf("frame %s: %s: %v", frame, f.Name, ierr)
						}
					}
					switch f.Name {
					case "zookeeper.kind":
						d.kind = f.Show
					case "zookeeper.name":
						d.name = f.Show
					case "zookeeper.path":
						d.path = f.Show
					case "zookeeper.xid":
						d.xid = strconv.FormatInt(iv, 10)
					case "zookeeper.err":
						d.err = strconv.FormatInt(iv, 10)
					case "zookeeper.sid":
						d.sid = strconv.FormatInt(iv, 10)
					case "zookeeper.zxid":
						d.zxid = "0x" + strconv.FormatUint(uint64(iv), 16)
					case "zookeeper.session":
						d.session = "0x" + strconv.FormatUint(uint64(iv), 16)
					case "zookeeper.config_version":
						d.configVersion = "0x" + strconv.FormatUint(uint64(iv), 16)
					}
				}
				got[key] = append(got[key], d)
			}
		}
	}
	if len(malformed) > 0 {
		t.Errorf("tshark flagged problems (expert info) in %s", strings.Join(malformed, ", "))
	}
	return got
}

// checkDissector compares the dissector's messages on capture with zkgo
// decode's; tsharkArgs are extra tshark flags (preferences).
func checkDissector(t *testing.T, capture string, out decodeOut, tsharkArgs ...string) {
	t.Helper()
	want := fromDecode(out)
	got := runDissector(t, capture, tsharkArgs...)
	var n int
	for key, w := range want {
		g := got[key]
		n += len(w)
		for i := range max(len(w), len(g)) {
			var ws, gs string
			if i < len(w) {
				ws = w[i].String()
			}
			if i < len(g) {
				gs = g[i].String()
			}
			if ws != gs {
				t.Errorf("%s: %s message %d: zkgo decode %q, dissector %q (%d and %d messages)", filepath.Base(capture), key, i, ws, gs, len(w), len(g))
				break
			}
		}
	}
	for key, g := range got {
		if _, ok := want[key]; !ok {
			t.Errorf("%s: %s: the dissector found %d messages zkgo decode did not (first %s)", filepath.Base(capture), key, len(g), g[0])
		}
	}
	if n == 0 {
		t.Fatalf("%s: no message to compare", capture)
	}
	t.Logf("%s: the dissector matched zkgo decode on %d messages over %d directions", filepath.Base(capture), n, len(want))
}
