package compattest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/compat-tests/harness"
)

// Issue 20, point 1: zkgo's AdminServer against Java 3.8's (Jetty) on the
// same workload: the same command list, and for every command and alias
// the same JSON keys with the same value types (values are per process;
// maps keyed by session ids, paths or times are compared entry by entry),
// the same errors, and the same answers to other HTTP methods.

// adminWorkload leaves a session with an ephemeral node and data, child
// and exists watches on addr; the connection stays open until cleanup.
func adminWorkload(t *testing.T, addr string) {
	t.Helper()
	c := zkConn(t, addr)
	t.Cleanup(c.Close)
	_, err := c.Create("/adm", []byte("x"), 0, open)
	must(t, err)
	_, err = c.Create("/adm/eph", []byte("e"), zk.FlagEphemeral, open)
	must(t, err)
	_, _, _, err = c.GetW("/adm")
	must(t, err)
	_, _, _, err = c.ChildrenW("/adm")
	must(t, err)
	_, _, _, err = c.ExistsW("/adm/none")
	must(t, err)
}

func adminGet(t *testing.T, method, url string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	must(t, err)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

var adminLink = regexp.MustCompile(`<a href="/commands/([a-z_]+)">([a-z_]+)</a>`)

func adminNames(t *testing.T, base string) []string {
	t.Helper()
	code, _, b := adminGet(t, "GET", base+"/commands")
	if code != 200 {
		t.Fatalf("%s/commands: %d", base, code)
	}
	var names []string
	for _, m := range adminLink.FindAllStringSubmatch(string(b), -1) {
		names = append(names, m[1])
	}
	return names
}

// jsonKind is a JSON value's type.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// dynamicMaps are objects keyed by data (ids, paths, times, property
// names), compared entry against entry.
var dynamicMaps = map[string]bool{"expiry_time_to_session_ids": true, "session_id_to_ephemeral_paths": true,
	"session_id_to_watched_paths": true, "path_to_session_ids": true, "current_config": true}

// compareShape reports where z (zkgo) differs from j (Java) in keys or
// types.
func compareShape(path string, j, z any, diffs *[]string) {
	if jsonKind(j) != jsonKind(z) {
		*diffs = append(*diffs, fmt.Sprintf("%s: Java %s (%v), zkgo %s (%v)", path, jsonKind(j), j, jsonKind(z), z))
		return
	}
	switch jv := j.(type) {
	case []any:
		zv := z.([]any)
		if (len(jv) == 0) != (len(zv) == 0) {
			*diffs = append(*diffs, fmt.Sprintf("%s: Java %d elements, zkgo %d", path, len(jv), len(zv)))
			return
		}
		if len(jv) > 0 {
			compareShape(path+"[]", jv[0], zv[0], diffs)
		}
	case map[string]any:
		zv := z.(map[string]any)
		if dynamicMaps[lastKey(path)] {
			if (len(jv) == 0) != (len(zv) == 0) {
				*diffs = append(*diffs, fmt.Sprintf("%s: Java %d entries, zkgo %d", path, len(jv), len(zv)))
				return
			}
			// Java keeps empty expiry buckets: compare with an entry
			// that has elements when there is one.
			var jf any
			for _, v := range jv {
				if a, ok := v.([]any); jf == nil || ok && len(a) > 0 {
					jf = v
				}
			}
			for k, v := range zv {
				compareShape(path+"."+keyKind(k), jf, v, diffs)
			}
			return
		}
		for k, v := range jv {
			zvv, ok := zv[k]
			if !ok {
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: Java has it, zkgo does not", path, k))
				continue
			}
			compareShape(path+"."+k, v, zvv, diffs)
		}
		for k := range zv {
			if _, ok := jv[k]; !ok {
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: zkgo has it, Java does not", path, k))
			}
		}
	}
}

func lastKey(path string) string { return path[strings.LastIndexByte(path, '.')+1:] }

func keyKind(k string) string {
	if _, err := strconv.ParseInt(k, 10, 64); err == nil {
		return "<number>"
	}
	return "<" + k + ">"
}

func TestCompat_AdminServerJava(t *testing.T) {
	harness.SkipShort(t)
	javaPort := harness.FreePort(t)
	java := harness.StartJavaZK(t, harness.JavaOptions{Heap: "256m", AdminPort: javaPort})
	adminWorkload(t, java.Addr)

	bin := harness.BuildZkgo(t)
	zkgoPort := harness.FreePort(t)
	cfgPath, addr := writeZkgoConfig(t, "admin.serverAddress=127.0.0.1", "admin.serverPort="+strconv.Itoa(zkgoPort))
	harness.StartZkgoProc(t, bin, cfgPath, addr)
	adminWorkload(t, addr)

	jbase, zbase := fmt.Sprintf("http://127.0.0.1:%d", javaPort), fmt.Sprintf("http://127.0.0.1:%d", zkgoPort)
	// Java's AdminServer starts after the client port: wait for it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", javaPort)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Java's AdminServer did not listen:\n%s", java.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	jnames, znames := adminNames(t, jbase), adminNames(t, zbase)
	if !slices.Equal(jnames, znames) || len(jnames) < 20 {
		t.Fatalf("commands: Java %v, zkgo %v", jnames, znames)
	}
	aliases := []string{"crst", "conf", "config", "cons", "env", "envi", "gtmk", "icfg", "isro", "lsnp", "lead", "mntr",
		"orst", "stmk", "srvr", "stat", "srst", "obsr", "sysp", "wchc", "wchp", "wchs", "nosuch", "set_trace_mask?traceMask=306",
		"set_trace_mask?traceMask=x", "monitor/"}
	var compared, keys int
	for _, name := range append(slices.Clone(jnames), aliases...) {
		_, jct, jb := adminGet(t, "GET", jbase+"/commands/"+name)
		code, zct, zb := adminGet(t, "GET", zbase+"/commands/"+name)
		if code != 200 || zct != jct {
			t.Errorf("%s: zkgo %d %q, Java 200 %q", name, code, zct, jct)
		}
		var jv, zv map[string]any
		if err := json.Unmarshal(jb, &jv); err != nil {
			t.Fatalf("%s: Java's answer: %v\n%s", name, err, jb)
		}
		if err := json.Unmarshal(zb, &zv); err != nil {
			t.Errorf("%s: zkgo's answer: %v\n%s", name, err, zb)
			continue
		}
		var diffs []string
		switch strings.SplitN(name, "?", 2)[0] {
		case "monitor", "mntr":
			// Java's registry has ~500 values, zkgo measures a part
			// (docs/config.md): what zkgo prints, Java prints, same type.
			for k, v := range zv {
				jvv, ok := jv[k]
				if !ok {
					diffs = append(diffs, k+": zkgo has it, Java does not")
				} else if jsonKind(jvv) != jsonKind(v) {
					diffs = append(diffs, fmt.Sprintf("%s: Java %s, zkgo %s", k, jsonKind(jvv), jsonKind(v)))
				}
			}
		case "system_properties", "sysp":
			// A JVM's properties; zkgo has the config's. Strings both.
			for k, v := range zv {
				if jsonKind(v) != "string" && k != "command" && k != "error" {
					diffs = append(diffs, k+": not a string")
				}
			}
		default:
			compareShape(name, jv, zv, &diffs)
		}
		for _, k := range []string{"command", "error"} {
			if fmt.Sprint(jv[k]) != fmt.Sprint(zv[k]) {
				diffs = append(diffs, fmt.Sprintf("%s: Java %v, zkgo %v", k, jv[k], zv[k]))
			}
		}
		sort.Strings(diffs)
		for _, d := range diffs {
			t.Errorf("%s: %s", name, d)
		}
		compared++
		keys += len(zv)
	}
	t.Logf("%d commands and aliases compared (%d top-level keys from zkgo)", compared, keys)
	// Other methods: TRACE is forbidden, POST not allowed.
	for _, m := range []string{"TRACE", "POST", "PUT", "DELETE"} {
		jc, _, _ := adminGet(t, m, jbase+"/commands/ruok")
		zc, _, _ := adminGet(t, m, zbase+"/commands/ruok")
		if jc != zc {
			t.Errorf("%s: Java %d, zkgo %d", m, jc, zc)
		}
	}
}

// A port the AdminServer cannot bind is a warning: the server serves
// clients without it, as Java's QuorumPeer does; admin.enableServer=false
// opens nothing.
func TestIntegration_AdminPortInUse(t *testing.T) {
	bin := harness.BuildZkgo(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	cfgPath, addr := writeZkgoConfig(t, "admin.serverAddress=127.0.0.1", "admin.serverPort="+strconv.Itoa(port))
	p := harness.StartZkgoProc(t, bin, cfgPath, addr)
	c := zkConn(t, addr)
	_, err = c.Create("/served", nil, 0, open)
	must(t, err)
	c.Close()
	p.Kill()
	if log := readFile(t, p.LogPath); !strings.Contains(log, "problem starting AdminServer") {
		t.Errorf("no warning about the AdminServer's port:\n%s", log)
	}

	free := harness.FreePort(t)
	cfgPath, addr = writeZkgoConfig(t, "admin.enableServer=false", "admin.serverAddress=127.0.0.1", "admin.serverPort="+strconv.Itoa(free))
	harness.StartZkgoProc(t, bin, cfgPath, addr)
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", free)); err == nil {
		c.Close()
		t.Errorf("admin.enableServer=false, but port %d answers", free)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	return string(b)
}
