package decode

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/wire"
)

func TestReadRecordDecodesFramesAndSurvivesDamage(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	line := func(l RecordLine) string {
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	base := RecordLine{Conn: 7, Client: "127.0.0.1:5000", Server: "127.0.0.1:2181"}
	open := base
	open.Event, open.T = RecordOpen, t0
	connect := base
	connect.Event, connect.T, connect.Dir = RecordData, t0, ToServer.String()
	connect.Frame = wire.AppendConnect(nil, wire.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}, false, true)
	connectReply := base
	connectReply.Event, connectReply.T, connectReply.Dir = RecordData, t0.Add(time.Millisecond), FromServer.String()
	connectReply.Frame = wire.AppendConnectResponse(nil, wire.ConnectResponse{TimeOut: 30000, SessionID: 0x55, Passwd: make([]byte, 16)}, false)
	req := base
	req.Event, req.T, req.Dir = RecordData, t0.Add(2*time.Millisecond), ToServer.String()
	req.Frame = wire.AppendRequest(nil, wire.RequestHeader{Xid: 1, Type: wire.OpGetData}, &wire.GetDataRequest{Path: "/a"})
	rep := base
	rep.Event, rep.T, rep.Dir = RecordData, t0.Add(3*time.Millisecond), FromServer.String()
	rep.Frame = wire.AppendReply(nil, wire.ReplyHeader{Xid: 1, Zxid: 9}, &wire.GetDataResponse{Data: []byte("x")})
	cl := base
	cl.Event, cl.T = RecordClose, t0.Add(4*time.Millisecond)
	in := strings.Join([]string{line(open), line(connect), line(connectReply), "{not json", line(req), line(rep), line(cl)}, "\n")

	var kinds []string
	var latency time.Duration
	d := New(Config{}, func(m *Message) {
		kinds = append(kinds, m.Kind.String())
		if m.Kind == KindReply {
			latency = m.Latency
			if m.Path != "/a" || !m.Paired || m.Session != 0x55 {
				t.Errorf("reply: path %q paired %v session %#x", m.Path, m.Paired, uint64(m.Session))
			}
		}
	})
	n, err := d.ReadRecord(strings.NewReader(in))
	if err != nil || n != 7 {
		t.Fatalf("ReadRecord: %d lines, %v", n, err)
	}
	want := "connect connect-reply undecodable request reply"
	if got := strings.Join(kinds, " "); got != want {
		t.Fatalf("messages %q, want %q", got, want)
	}
	if latency != time.Millisecond {
		t.Errorf("latency %v, want 1ms", latency)
	}
	if _, err := New(Config{}, nil).ReadRecord(strings.NewReader("\x0a\x0d\x0d\x0a garbage")); err == nil {
		t.Error("a non-record input was accepted")
	}
}

// A dropped line of the recorder becomes a note and is counted; a line
// with an unknown event is reported, not taken for a connection.
func TestReadRecordDroppedLines(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	in := `{"t":"2026-11-22T06:00:00Z","conn":0,"ev":"dropped","client":"","server":"","text":"3 frames","dropped":3}
{"t":"2026-11-22T06:00:01Z","conn":0,"ev":"mystery","client":"","server":""}
{"t":"2026-11-22T06:00:02Z","conn":0,"ev":"dropped","client":"","server":"","dropped":2}`
	var notes, undecodable int
	d := New(Config{}, func(m *Message) {
		switch m.Kind {
		case KindNote:
			notes++
			if !strings.Contains(m.Text, "dropped by the recorder") || m.Time.Before(t0) {
				t.Errorf("note %q at %v", m.Text, m.Time)
			}
		case KindUndecodable:
			undecodable++
		default:
			t.Errorf("unexpected %v", m.Kind)
		}
	})
	if _, err := d.ReadRecord(strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if c := d.Counts(); c.RecordDropped != 5 || notes != 2 || undecodable != 1 || c.Conns != [4]int64{} {
		t.Fatalf("counts %+v, %d notes, %d undecodable", c, notes, undecodable)
	}
}
