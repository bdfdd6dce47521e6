package compattest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/decode"
	"github.com/zkgo/zkgo/internal/javaprom"
	"github.com/zkgo/zkgo/internal/rawzk"
	"github.com/zkgo/zkgo/ops"
	"github.com/zkgo/zkgo/proxy"
	"github.com/zkgo/zkgo/wire"
)

// Tests of `zkgo proxy` (issue 10). The client scenarios (go-zookeeper via
// forEach, kazoo, the Java client) also run through the proxy in their own
// tests, against zkgo and Java, with the transcripts compared to direct.

// startZKProxy starts a pass-through proxy in front of upstreams; mutate
// may adjust its config. It stops at test cleanup.
func startZKProxy(t testing.TB, mutate func(*proxy.PassConfig), upstreams ...string) *proxy.Passthrough {
	t.Helper()
	cfg := proxy.PassConfig{
		Listen:     "127.0.0.1:0",
		Upstreams:  upstreams,
		Logger:     harness.TestLogger(t, zerolog.WarnLevel),
		Loops:      2,
		RefusedFor: 2 * time.Second,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := proxy.NewPassthrough(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Stop(ctx)
	})
	return p
}

// wipeTree deletes every node but /zookeeper, so a scenario can run again
// on the same server (through the proxy after directly).
func wipeTree(t *testing.T, addr string) {
	t.Helper()
	c, _ := connect(t, addr, 10*time.Second)
	defer c.Close()
	// targets() configure super:test as the super user: ACLs do not stop it.
	must(t, c.AddAuth("digest", []byte("super:test")))
	var del func(p string)
	del = func(p string) {
		kids, _, err := c.Children(p)
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			t.Fatalf("wipe %s: %v", p, err)
		}
		for _, k := range kids {
			cp := p + "/" + k
			if p == "/" {
				cp = "/" + k
			}
			if cp == "/zookeeper" {
				continue
			}
			del(cp)
		}
		if p == "/" {
			return
		}
		if err := c.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			t.Fatalf("wipe %s: %v", p, err)
		}
	}
	del("/")
}

// metricValues flattens the proxy's metrics: "name{k=v,...}" -> value
// (counters, gauges; summaries as _count).
func metricValues(t *testing.T, p *proxy.Passthrough) map[string]float64 {
	t.Helper()
	mfs, err := p.Metrics().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetSummary() != nil:
				out[mf.GetName()+"_count{"+strings.Join(labels, ",")+"}"] = float64(m.GetSummary().GetSampleCount())
			}
		}
	}
	return out
}

// waitMetric waits until metric key has value want.
func waitMetric(t *testing.T, p *proxy.Passthrough, key string, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := metricValues(t, p)[key]
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", key, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestProxyMetricsKnownWorkload runs a fixed go-zookeeper workload through
// the proxy and checks the exact per-opcode counts, error counts, latency
// sample counts and watch events, against zkgo and Java.
func TestProxyMetricsKnownWorkload(t *testing.T) {
	for _, tg := range servingTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			wipeTree(t, tg.addr)
			var out bytes.Buffer
			var rec *proxy.Recorder
			p := startZKProxy(t, func(c *proxy.PassConfig) {
				c.Metrics = proxy.NewMetrics()
				rec = proxy.NewRecorder(&out, c.Metrics)
				c.Record = rec
			}, tg.addr)
			addr := p.Addr().String()
			c, _ := connect(t, addr, 30*time.Second) // long timeout: no ping during the test
			_, err := c.Create("/m", nil, 0, open)
			must(t, err)
			_, err = c.Create("/m/a", []byte("x"), 0, open)
			must(t, err)
			_, err = c.Create("/m/a", []byte("x"), 0, open)
			wantErr(t, err, zk.ErrNodeExists)
			_, _, err = c.Get("/m/a")
			must(t, err)
			_, _, err = c.Get("/m/missing")
			wantErr(t, err, zk.ErrNoNode)
			_, _, ch, err := c.GetW("/m/a")
			must(t, err)
			_, err = c.Set("/m/a", []byte("y"), -1)
			must(t, err)
			waitEvent(t, ch, "data")
			_, _, err = c.Children("/m")
			must(t, err)
			ok, _, err := c.Exists("/m/a")
			must(t, err)
			if !ok {
				t.Fatal("exists /m/a false")
			}
			must(t, c.Delete("/m/a", -1))
			must(t, c.Delete("/m", -1))
			c.Close()
			waitMetric(t, p, "zkproxy_sessions{}", 0)
			waitMetric(t, p, "zkproxy_connections{key=client}", 0)

			m := metricValues(t, p)
			want := map[string]float64{
				"zkproxy_requests{key=createSession}":                  1,
				"zkproxy_requests{key=create}":                         3,
				"zkproxy_requests{key=getData}":                        3,
				"zkproxy_requests{key=setData}":                        1,
				"zkproxy_requests{key=getChildren2}":                   1,
				"zkproxy_requests{key=exists}":                         1,
				"zkproxy_requests{key=delete}":                         2,
				"zkproxy_requests{key=closeSession}":                   1,
				"zkproxy_request_duration_ms_count{key=create}":        3,
				"zkproxy_request_duration_ms_count{key=getData}":       3,
				"zkproxy_request_duration_ms_count{key=delete}":        2,
				"zkproxy_request_duration_ms_count{key=closeSession}":  1,
				"zkproxy_request_duration_ms_count{key=createSession}": 1,
				"zkproxy_errors{key=create/NODEEXISTS}":                1,
				"zkproxy_errors{key=getData/NONODE}":                   1,
				"zkproxy_watch_events{}":                               1,
				"zkproxy_unmatched_replies{}":                          0,
				"zkproxy_connections{key=upstream}":                    0,
				"zkproxy_upstream_dials_ok{key=" + tg.addr + "}":       1,
			}
			for k, v := range want {
				if m[k] != v {
					t.Errorf("%s = %v, want %v", k, m[k], v)
				}
			}
			if m["zkproxy_bytes{key=in}"] == 0 || m["zkproxy_bytes{key=out}"] == 0 {
				t.Errorf("bytes not counted: %v", m)
			}
			checkProxyScrape(t, p)

			// The record decodes back into the same workload.
			must(t, p.Stop(context.Background()))
			must(t, rec.Close())
			checkRecord(t, out.Bytes())
		})
	}
}

// checkProxyScrape serves p's metrics as `zkgo proxy --metrics` does and
// checks what a scraper reads against the conventions of Java's
// PrometheusMetricsProvider (issue 20, point 2): counters without _total,
// summaries in milliseconds with Java's ADVANCED quantiles, one label
// "key", nothing outside zkproxy_. The latency quantiles of the workload's
// creates are finite positive milliseconds.
func checkProxyScrape(t *testing.T, p *proxy.Passthrough) {
	t.Helper()
	srv, addr, err := ops.ServeMetrics("127.0.0.1:0", p.Metrics().Registry, harness.TestLogger(t, zerolog.WarnLevel))
	must(t, err)
	defer srv.Close()
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	must(t, err)
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	must(t, err)
	var list []*dto.MetricFamily
	for _, f := range fams {
		list = append(list, f)
	}
	for _, e := range javaprom.Check("zkproxy_", list) {
		t.Error(e)
	}
	var creates *dto.Summary
	for _, m := range fams["zkproxy_request_duration_ms"].GetMetric() {
		if m.GetLabel()[0].GetValue() == "create" {
			creates = m.GetSummary()
		}
	}
	if creates == nil || len(creates.GetQuantile()) != 3 {
		t.Fatalf("create latency: %v", creates)
	}
	for _, q := range creates.GetQuantile() {
		if v := q.GetValue(); math.IsNaN(v) || v <= 0 || v > 10_000 {
			t.Errorf("create latency quantile %v = %v ms", q.GetQuantile(), v)
		}
	}
}

// checkRecord decodes a record of the known workload.
func checkRecord(t *testing.T, rec []byte) {
	t.Helper()
	ops := map[string]int{}
	var undecodable, paired int
	d := decode.New(decode.Config{}, func(m *decode.Message) {
		switch m.Kind {
		case decode.KindUndecodable:
			undecodable++
			t.Errorf("undecodable: %v", m.Error)
		case decode.KindRequest:
			ops[m.Name]++
		case decode.KindReply:
			if m.Paired {
				paired++
			}
		}
	})
	if _, err := d.ReadRecord(bytes.NewReader(rec)); err != nil {
		t.Fatalf("ReadRecord: %v\n%s", err, rec)
	}
	want := map[string]int{"create": 3, "getData": 3, "setData": 1, "getChildren2": 1, "exists": 1, "delete": 2, "closeSession": 1}
	for op, n := range want {
		if ops[op] != n {
			t.Errorf("record: %d %s requests, want %d (all: %v)", ops[op], op, n, ops)
		}
	}
	if paired != 12 {
		t.Errorf("record: %d paired replies, want 12", paired)
	}
}

// TestProxyPolicies checks each policy against a zkgo upstream, with the
// decision counted.
func TestProxyPolicies(t *testing.T) {
	z := harness.StartZkgo(t, nil)

	t.Run("four-letter-words", func(t *testing.T) {
		p := startZKProxy(t, nil, z.Addr)
		for _, w := range []string{"ruok", "srvr", "mntr"} {
			direct, err := harness.FourLetter(z.Addr, w)
			must(t, err)
			via, err := harness.FourLetter(p.Addr().String(), w)
			must(t, err)
			if w == "ruok" && via != "imok" || len(via) == 0 || strings.Split(via, "\n")[0] != strings.Split(direct, "\n")[0] {
				t.Errorf("%s through the proxy: %q, direct %q", w, via, direct)
			}
		}
		waitMetric(t, p, "zkproxy_four_letter_words{key=srvr}", 1)
		// A client that half-closes right after the word (nc -N) still
		// gets the answer, whether or not the upstream is connected yet.
		for i := 0; i < 5; i++ {
			nc, err := net.Dial("tcp", p.Addr().String())
			must(t, err)
			_, err = nc.Write([]byte("ruok"))
			must(t, err)
			must(t, nc.(*net.TCPConn).CloseWrite())
			_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			b, err := io.ReadAll(nc)
			nc.Close()
			if string(b) != "imok" {
				t.Fatalf("half-closed ruok %d: %q %v", i, b, err)
			}
		}
	})

	t.Run("read-only", func(t *testing.T) {
		p := startZKProxy(t, func(c *proxy.PassConfig) { c.Policy.ReadOnly = true }, z.Addr)
		c, err := rawzk.Dial(p.Addr().String(), rawzk.Options{})
		must(t, err)
		defer c.Close()
		// Pipelined: a read, a refused write, a read; replies in order.
		x1, x2, x3 := c.NextXid(), c.NextXid(), c.NextXid()
		r1, err := c.Send(x1, wire.OpExists, &wire.ExistsRequest{Path: "/"})
		must(t, err)
		r2, err := c.Send(x2, wire.OpCreate, &wire.CreateRequest{Path: "/ro", ACL: openACL})
		must(t, err)
		r3, err := c.Send(x3, wire.OpGetData, &wire.GetDataRequest{Path: "/zookeeper"})
		must(t, err)
		a, b, cc := <-r1, <-r2, <-r3
		if a.Header.Err != 0 || cc.Header.Err != 0 || b.Header.Err != wire.ErrNotReadOnly || b.Header.Xid != x2 {
			t.Fatalf("replies %+v %+v %+v", a.Header, b.Header, cc.Header)
		}
		if b.Header.Zxid != a.Header.Zxid {
			t.Errorf("refusal zxid %v, want the last seen %v", b.Header.Zxid, a.Header.Zxid)
		}
		st := c.Stream()
		if len(st) != 3 || st[0].Header.Xid != x1 || st[1].Header.Xid != x2 || st[2].Header.Xid != x3 {
			t.Fatalf("reply order: %+v", st)
		}
		waitMetric(t, p, "zkproxy_policy_decisions{key=read_only}", 1)
	})

	t.Run("deny", func(t *testing.T) {
		p := startZKProxy(t, func(c *proxy.PassConfig) { c.Policy.Deny = []wire.OpCode{wire.OpGetChildren2, wire.OpGetChildren} }, z.Addr)
		c, _ := connect(t, p.Addr().String(), 10*time.Second)
		_, _, err := c.Children("/")
		wantErr(t, err, zk.ErrNoAuth)
		_, _, err = c.Get("/zookeeper")
		must(t, err)
		waitMetric(t, p, "zkproxy_policy_decisions{key=denied}", 1)
	})

	t.Run("max-conns-per-ip", func(t *testing.T) {
		p := startZKProxy(t, func(c *proxy.PassConfig) { c.Policy.MaxConnsPerIP = 2 }, z.Addr)
		a, err := rawzk.Dial(p.Addr().String(), rawzk.Options{})
		must(t, err)
		defer a.Close()
		b, err := rawzk.Dial(p.Addr().String(), rawzk.Options{})
		must(t, err)
		defer b.Close()
		if c, err := rawzk.Dial(p.Addr().String(), rawzk.Options{DialTimeout: 2 * time.Second}); err == nil {
			c.Close()
			t.Fatal("third connection from one IP was served")
		}
		waitMetric(t, p, "zkproxy_policy_decisions{key=max_conns_per_ip}", 1)
		if _, err := a.Do(wire.OpExists, &wire.ExistsRequest{Path: "/"}, nil); err != nil {
			t.Fatalf("first connection hurt: %v", err)
		}
	})

	t.Run("max-request-and-response", func(t *testing.T) {
		p := startZKProxy(t, func(c *proxy.PassConfig) { c.MaxRequest = 4096; c.MaxResponse = 8192 }, z.Addr)
		dc, _ := connect(t, z.Addr, 10*time.Second)
		_, err := dc.Create("/big", bytes.Repeat([]byte("b"), 10000), 0, open)
		must(t, err)
		defer dc.Delete("/big", -1)
		_, err = dc.Create("/small", []byte("s"), 0, open)
		must(t, err)
		defer dc.Delete("/small", -1)

		other, err := rawzk.Dial(p.Addr().String(), rawzk.Options{})
		must(t, err)
		defer other.Close()

		c, err := rawzk.Dial(p.Addr().String(), rawzk.Options{})
		must(t, err)
		if _, err := c.Do(wire.OpGetData, &wire.GetDataRequest{Path: "/small"}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Do(wire.OpGetData, &wire.GetDataRequest{Path: "/big"}, nil); err == nil {
			t.Fatal("reply over the limit was passed on")
		}
		waitMetric(t, p, "zkproxy_policy_decisions{key=max_response_size}", 1)

		c, err = rawzk.Dial(p.Addr().String(), rawzk.Options{})
		must(t, err)
		_, err = c.Do(wire.OpSetData, &wire.SetDataRequest{Path: "/small", Data: make([]byte, 5000), Version: -1}, nil)
		if err == nil {
			t.Fatal("request over the limit was passed on")
		}
		waitMetric(t, p, "zkproxy_policy_decisions{key=max_request_size}", 1)
		if _, err := other.Do(wire.OpExists, &wire.ExistsRequest{Path: "/"}, nil); err != nil {
			t.Fatalf("other client hurt: %v", err)
		}
	})

	t.Run("max-in-flight", func(t *testing.T) {
		p := startZKProxy(t, func(c *proxy.PassConfig) { c.Policy.MaxInFlight = 2 }, z.Addr)
		c, err := rawzk.Dial(p.Addr().String(), rawzk.Options{})
		must(t, err)
		defer c.Close()
		var chs []<-chan rawzk.Reply
		for i := 0; i < 50; i++ {
			ch, err := c.Send(c.NextXid(), wire.OpExists, &wire.ExistsRequest{Path: "/"})
			must(t, err)
			chs = append(chs, ch)
		}
		for i, ch := range chs {
			select {
			case r := <-ch:
				if r.Header.Err != 0 {
					t.Fatalf("reply %d: %v", i, r.Header.Err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("reply %d never came", i)
			}
		}
		if v := metricValues(t, p)["zkproxy_policy_decisions{key=max_in_flight}"]; v < 1 {
			t.Fatalf("in-flight limit never applied (%v)", v)
		}
	})

	t.Run("rate-per-ip", func(t *testing.T) {
		p := startZKProxy(t, func(c *proxy.PassConfig) { c.Policy.RatePerIP = 100; c.Policy.RateBurst = 10 }, z.Addr)
		c, err := rawzk.Dial(p.Addr().String(), rawzk.Options{})
		must(t, err)
		defer c.Close()
		start := time.Now()
		var chs []<-chan rawzk.Reply
		for i := 0; i < 40; i++ {
			ch, err := c.Send(c.NextXid(), wire.OpExists, &wire.ExistsRequest{Path: "/"})
			must(t, err)
			chs = append(chs, ch)
		}
		for _, ch := range chs {
			<-ch
		}
		// 40 requests, 10 at once then 100/s: at least 0.3 s.
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Fatalf("40 requests took %v at 100/s", d)
		}
		if v := metricValues(t, p)["zkproxy_policy_decisions{key=rate_limited}"]; v < 1 {
			t.Fatal("rate limit never applied")
		}
	})

	t.Run("garbage-from-client", func(t *testing.T) {
		p := startZKProxy(t, nil, z.Addr)
		good, err := rawzk.Dial(p.Addr().String(), rawzk.Options{})
		must(t, err)
		defer good.Close()
		bad, err := rawzk.Dial(p.Addr().String(), rawzk.Options{})
		must(t, err)
		must(t, bad.WriteRaw([]byte{0xff, 0xff, 0xff, 0xf0, 1, 2, 3}))
		select {
		case <-bad.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("garbage did not close the client")
		}
		if _, err := good.Do(wire.OpExists, &wire.ExistsRequest{Path: "/"}, nil); err != nil {
			t.Fatalf("other client hurt: %v", err)
		}
	})

	t.Run("garbage-from-upstream", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
		defer ln.Close()
		go func() {
			for {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer nc.Close()
					b := make([]byte, 4096)
					_, _ = nc.Read(b)
					_, _ = nc.Write([]byte{0x80, 0, 0, 0, 9, 9})
					_, _ = nc.Read(b)
				}()
			}
		}()
		p := startZKProxy(t, nil, ln.Addr().String())
		for i := 0; i < 2; i++ {
			if _, err := rawzk.Dial(p.Addr().String(), rawzk.Options{DialTimeout: 2 * time.Second}); err == nil {
				t.Fatal("handshake through a garbage upstream succeeded")
			}
		}
		// The proxy still serves other pairs.
		p2 := startZKProxy(t, nil, z.Addr)
		c, err := rawzk.Dial(p2.Addr().String(), rawzk.Options{})
		must(t, err)
		c.Close()
	})

	t.Run("slow-client", func(t *testing.T) {
		p := startZKProxy(t, func(c *proxy.PassConfig) { c.MaxOutbound = 64 << 10; c.MaxBuffered = 512 << 10 }, z.Addr)
		dc, _ := connect(t, z.Addr, 10*time.Second)
		_, err := dc.Create("/slow", bytes.Repeat([]byte("s"), 100000), 0, open)
		must(t, err)
		defer dc.Delete("/slow", -1)
		nc, err := net.Dial("tcp", p.Addr().String())
		must(t, err)
		defer nc.Close()
		_ = nc.(*net.TCPConn).SetReadBuffer(4096)
		var req []byte
		req = wire.AppendConnect(req, wire.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}, false, true)
		for i := 1; i <= 400; i++ {
			req = wire.AppendRequest(req, wire.RequestHeader{Xid: wire.Xid(i), Type: wire.OpGetData}, &wire.GetDataRequest{Path: "/slow"})
		}
		_ = nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, _ = nc.Write(req)
		// 40 MB of replies the client never reads: the pair is closed once
		// the upstream side buffers past MaxBuffered.
		waitMetric(t, p, "zkproxy_policy_decisions{key=slow_client}", 1)
	})
}

// TestProxySessionMove kills the server a client uses through the proxy;
// the client reconnects through the proxy, which dials another server, and
// keeps its session and ephemeral node. On a Java 3.8 ensemble and on an
// all-zkgo one.
func TestProxySessionMove(t *testing.T) {
	t.Run("java", func(t *testing.T) {
		harness.RequireJava(t)
		e := harness.StartJavaEnsemble(t, harness.EnsembleOptions{})
		e.WaitLeader(60 * time.Second)
		var ups []string
		for _, s := range e.Servers {
			waitServing(t, "server", s.ClientAddr)
			ups = append(ups, s.ClientAddr)
		}
		sessionMoveThroughProxy(t, ups, func(i int) { e.Kill(i + 1) })
	})
	t.Run("zkgo", func(t *testing.T) {
		e := newZkgoEnsemble(t, []harness.MemberSpec{
			{ID: 1, Kind: harness.MemberExternal}, {ID: 2, Kind: harness.MemberExternal}, {ID: 3, Kind: harness.MemberExternal}})
		var ups []string
		for id := int64(1); id <= 3; id++ {
			ups = append(ups, e.start(id).Addr)
		}
		e.leader()
		sessionMoveThroughProxy(t, ups, func(i int) { e.stop(int64(i + 1)) })
	})
}

func sessionMoveThroughProxy(t *testing.T, ups []string, kill func(i int)) {
	p := startZKProxy(t, nil, ups...)
	c, ev := connect(t, p.Addr().String(), 8*time.Second)
	_, err := c.Create("/moving", []byte("e"), zk.FlagEphemeral, open)
	must(t, err)
	sid := c.SessionID()
	m := metricValues(t, p)
	used := -1
	for i, u := range ups {
		if m["zkproxy_upstream_dials_ok{key="+u+"}"] == 1 {
			used = i
		}
	}
	if used < 0 {
		t.Fatalf("no upstream in use: %v", m)
	}
	kill(used)
	waitState(t, ev, zk.StateDisconnected)
	waitState(t, ev, zk.StateHasSession)
	if c.SessionID() != sid {
		t.Fatalf("session changed: %#x -> %#x", sid, c.SessionID())
	}
	ok, st, err := c.Exists("/moving")
	must(t, err)
	if !ok || st.EphemeralOwner != sid {
		t.Fatalf("ephemeral lost: %v %+v", ok, st)
	}
	m = metricValues(t, p)
	if m["zkproxy_upstream_dials_ok{key="+ups[used]+"}"] != 1 {
		t.Fatalf("reconnected to the killed server: %v", m)
	}
	if m["zkproxy_sessions{}"] != 1 {
		t.Fatalf("sessions gauge %v, want 1", m["zkproxy_sessions{}"])
	}
}

// TestProxyRecordFile writes a record file and decodes it back as `zkgo
// decode` does (format detection, then ReadRecord).
func TestProxyRecordFile(t *testing.T) {
	z := harness.StartZkgo(t, nil)
	path := filepath.Join(t.TempDir(), "rec.jsonl")
	f, err := os.Create(path)
	must(t, err)
	var rec *proxy.Recorder
	var reqLog bytes.Buffer
	p := startZKProxy(t, func(c *proxy.PassConfig) {
		c.Metrics = proxy.NewMetrics()
		rec = proxy.NewRecorder(f, c.Metrics)
		c.Record = rec
		c.LogRequests = true
		c.RequestLog = zerolog.New(&reqLog)
	}, z.Addr)
	c, err := rawzk.Dial(p.Addr().String(), rawzk.Options{})
	must(t, err)
	_, err = c.Do(wire.OpExists, &wire.ExistsRequest{Path: "/zookeeper"}, nil)
	must(t, err)
	must(t, c.CloseSession())
	c.Close()
	must(t, p.Stop(context.Background()))
	must(t, rec.Close())
	b, err := os.ReadFile(path)
	must(t, err)
	if !decode.LooksLikeRecord(b) {
		t.Fatalf("record not detected: %.100q", b)
	}
	var lines []string
	d := decode.New(decode.Config{}, func(m *decode.Message) {
		if m.Kind == decode.KindReply && m.Paired {
			lines = append(lines, m.Name+" "+m.Path)
		}
	})
	_, err = d.ReadRecord(bytes.NewReader(b))
	must(t, err)
	if got := strings.Join(lines, ";"); got != "exists /zookeeper;closeSession " {
		t.Fatalf("decoded %q", got)
	}
	// The request log has one JSON line per answered request.
	logLines := strings.Split(strings.TrimSpace(reqLog.String()), "\n")
	if len(logLines) != 2 || !strings.Contains(logLines[0], `"op":"exists"`) ||
		!strings.Contains(logLines[0], `"path":"/zookeeper"`) || !strings.Contains(logLines[0], `"err":0`) ||
		!strings.Contains(logLines[0], `"latency":`) || !strings.Contains(logLines[0], `"session":"0x`) ||
		!strings.Contains(logLines[1], `"op":"closeSession"`) {
		t.Fatalf("request log:\n%s", reqLog.String())
	}
}

// TestProxyShadow runs a workload through a proxy with zkgo as the primary
// and Java as the shadow: every reply and event is compared and none
// differs. Then a node that exists only on the shadow makes one reply
// differ, which is counted.
func TestProxyShadow(t *testing.T) {
	tgs := servingTargets(t)
	primary, shadow := tgs[0], tgs[1]
	for _, tg := range tgs {
		wipeTree(t, tg.addr)
	}
	p := startZKProxy(t, func(c *proxy.PassConfig) { c.Shadow = shadow.addr }, primary.addr)
	c, _ := connect(t, p.Addr().String(), 30*time.Second)
	_, err := c.Create("/sh", []byte("x"), 0, open)
	must(t, err)
	_, err = c.Create("/sh/e", nil, zk.FlagEphemeral, open)
	must(t, err)
	_, err = c.Create("/sh/s-", nil, zk.FlagSequence, open)
	must(t, err)
	_, _, ch, err := c.GetW("/sh")
	must(t, err)
	_, err = c.Set("/sh", []byte("y"), -1)
	must(t, err)
	waitEvent(t, ch, "data")
	_, _, err = c.Children("/sh")
	must(t, err)
	_, st, err := c.Get("/sh/e")
	must(t, err)
	if st.EphemeralOwner != c.SessionID() {
		t.Fatal("ephemeral owner")
	}
	_, err = c.Create("/sh", nil, 0, open)
	wantErr(t, err, zk.ErrNodeExists)
	_, err = c.Multi(&zk.CreateRequest{Path: "/sh/m", Data: []byte("m"), Acl: open}, &zk.SetDataRequest{Path: "/sh/m", Data: []byte("n"), Version: -1})
	must(t, err)
	// Sync: the last reply has been compared once both sides answered.
	_, err = c.Sync("/sh")
	must(t, err)
	deadline := time.Now().Add(10 * time.Second)
	var m map[string]float64
	for {
		m = metricValues(t, p)
		if m["zkproxy_shadow_compared{}"] >= 11 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m["zkproxy_shadow_compared{}"] < 11 {
		t.Fatalf("compared %v, want >= 11", m["zkproxy_shadow_compared{}"])
	}
	for k, v := range m {
		if strings.HasPrefix(k, "zkproxy_shadow_divergences") && v != 0 {
			t.Errorf("%s = %v (zkgo and Java disagree)", k, v)
		}
		if strings.HasPrefix(k, "zkproxy_shadow_dropped") && v != 0 {
			t.Errorf("%s = %v", k, v)
		}
	}

	// A node only the shadow has: exists differs.
	sc, _ := connect(t, shadow.addr, 10*time.Second)
	_, err = sc.Create("/only-shadow", nil, 0, open)
	must(t, err)
	ok, _, err := c.Exists("/only-shadow")
	must(t, err)
	if ok {
		t.Fatal("client answered from the shadow")
	}
	waitMetric(t, p, "zkproxy_shadow_divergences{key=exists}", 1)
}
