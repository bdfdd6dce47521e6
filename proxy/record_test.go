package proxy

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkgo/zkgo/decode"
)

// gatedWriter blocks every write until open is closed.
type gatedWriter struct {
	open chan struct{}
	mu   sync.Mutex
	b    strings.Builder
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	<-w.open
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// seqFrame is a frame of n bytes whose first 4 bytes after the length
// prefix hold i.
func seqFrame(i, n int) []byte {
	b := make([]byte, n)
	binary.BigEndian.PutUint32(b, uint32(n-4))
	binary.BigEndian.PutUint32(b[4:], uint32(i))
	return b
}

func readLines(t *testing.T, text string) []decode.RecordLine {
	t.Helper()
	var out []decode.RecordLine
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 8<<20)
	for sc.Scan() {
		var l decode.RecordLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

// The queue between the loops and the writer is bounded in bytes: with a
// writer that does not write, 1 MB frames are dropped (counted) once the
// bound is reached, and the stream reports the drops.
func TestRecorderQueueBoundedInBytes(t *testing.T) {
	m := NewMetrics()
	w := &gatedWriter{open: make(chan struct{})}
	const maxQueue = 4 << 20
	r, err := OpenRecorder(RecordConfig{Writer: w, MaxQueueBytes: maxQueue, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	pr := &pair{id: 7, remote: "10.0.0.1:4000", upAddr: "10.0.0.2:2181"}
	const n = 60
	for i := 0; i < n; i++ {
		r.frame(pr, toServer, seqFrame(i, 1<<20), time.Now(), "", "")
		if q := r.queued.Load(); q > maxQueue {
			t.Fatalf("after frame %d: %d bytes queued, bound %d", i, q, maxQueue)
		}
	}
	dropped := int64(metricValue(t, m, "zkproxy_record_dropped"))
	if dropped < n-maxQueue/(1<<20) {
		t.Fatalf("%d frames dropped of %d, with room for %d", dropped, n, maxQueue/(1<<20))
	}
	close(w.open)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	var data, reported int64
	for _, l := range readLines(t, w.b.String()) {
		switch l.Event {
		case decode.RecordData:
			data++
		case decode.RecordDropped:
			reported += l.Dropped
		}
	}
	if data+dropped != n || reported != dropped {
		t.Fatalf("%d written + %d dropped != %d frames, or %d reported dropped", data, dropped, n, reported)
	}
}

// A file recorder rotates at its size cap and keeps MaxFiles files, which
// hold the newest frames in order.
func TestRecorderRotates(t *testing.T) {
	m := NewMetrics()
	path := t.TempDir() + "/rec.jsonl"
	const capBytes = 64 << 10
	r, err := OpenRecorder(RecordConfig{Path: path, MaxFileBytes: capBytes, MaxFiles: 3, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	pr := &pair{id: 1, remote: "10.0.0.1:4000", upAddr: "10.0.0.2:2181"}
	const n = 500
	for i := 0; i < n; i++ {
		r.frame(pr, toServer, seqFrame(i, 1024), time.Now(), "", "")
		for r.queued.Load() > 1<<20 { // stay under the queue bound: nothing dropped
			time.Sleep(time.Millisecond)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".3"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a fourth file is kept: %v", err)
	}
	var all string
	for _, p := range []string{path + ".2", path + ".1", path} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > capBytes {
			t.Fatalf("%s has %d bytes, cap %d", p, len(b), capBytes)
		}
		all += string(b)
	}
	lines := readLines(t, all)
	if len(lines) == 0 || len(lines) == n {
		t.Fatalf("%d lines kept of %d", len(lines), n)
	}
	first := int(binary.BigEndian.Uint32(lines[0].Frame[4:]))
	for k, l := range lines {
		if l.Event != decode.RecordData || int(binary.BigEndian.Uint32(l.Frame[4:])) != first+k {
			t.Fatalf("line %d: %+v, want frame %d", k, l, first+k)
		}
	}
	if first+len(lines) != n {
		t.Fatalf("kept frames %d..%d, want the newest up to %d", first, first+len(lines)-1, n-1)
	}
	if rot := metricValue(t, m, "zkproxy_record_rotations"); rot < 2 {
		t.Fatalf("%v rotations", rot)
	}
	if d := metricValue(t, m, "zkproxy_record_dropped"); d != 0 {
		t.Fatalf("%v frames dropped", d)
	}
}

// A capped Writer (it cannot rotate) stops taking lines at its cap; the
// lines it lost are reported at the end.
func TestRecorderCappedWriter(t *testing.T) {
	m := NewMetrics()
	var b strings.Builder
	const capBytes = 16 << 10
	r, err := OpenRecorder(RecordConfig{Writer: &b, MaxFileBytes: capBytes, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	pr := &pair{id: 1}
	const n = 100
	for i := 0; i < n; i++ {
		r.frame(pr, fromServer, seqFrame(i, 1024), time.Now(), "", "")
		for r.queued.Load() > 1<<20 {
			time.Sleep(time.Millisecond)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, b.String())
	last := lines[len(lines)-1]
	dropped := int64(metricValue(t, m, "zkproxy_record_dropped"))
	if last.Event != decode.RecordDropped || last.Dropped != dropped || int64(len(lines)-1)+dropped != n {
		t.Fatalf("%d lines, last %+v, %d dropped", len(lines), last, dropped)
	}
	if len(b.String())-len(last.Text) > capBytes+200 {
		t.Fatalf("%d bytes written, cap %d", len(b.String()), capBytes)
	}
}

// metricValue returns the value of the unlabelled counter name in m.
func metricValue(t *testing.T, m *Metrics, name string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
