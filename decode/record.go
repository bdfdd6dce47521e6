package decode

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"time"
)

// Record files: `zkgo proxy --record` writes the traffic it forwards as
// JSON lines, one RecordLine per frame plus one when a connection pair
// opens and closes. The frame bytes are kept whole (base64 in JSON), so
// ReadRecord decodes them with the same decoder as a capture; the other
// fields are a readable summary for grep and jq.

// Record line events.
const (
	RecordOpen  = "open"
	RecordData  = "data"
	RecordClose = "close"
	// RecordDropped says that the recorder dropped Dropped frames (of any
	// connections) before this point: its queue or its file was full.
	RecordDropped = "dropped"
)

// RecordLine is one line of a record file.
type RecordLine struct {
	T      time.Time `json:"t"`
	Conn   uint64    `json:"conn"`
	Event  string    `json:"ev"`
	Client string    `json:"client"`
	Server string    `json:"server"`
	// Dir is "to-server" or "from-server" (data lines).
	Dir     string `json:"dir,omitempty"`
	Op      string `json:"op,omitempty"`
	Xid     *int32 `json:"xid,omitempty"`
	Err     *int32 `json:"err,omitempty"`
	Session string `json:"session,omitempty"`
	Path    string `json:"path,omitempty"`
	Text    string `json:"text,omitempty"`
	// Dropped is the number of frames a RecordDropped line reports.
	Dropped int64 `json:"dropped,omitempty"`
	// Frame is the frame as forwarded, length prefix included.
	Frame []byte `json:"frame,omitempty"`
}

// ErrNotRecord means the input is not a record file.
var ErrNotRecord = errors.New("decode: not a proxy record file")

// maxRecordLine bounds one line: a frame of MaxFrame bytes in base64 plus
// the summary fields.
func (d *Decoder) maxRecordLine() int { return d.cfg.MaxFrame/3*4 + 64<<10 }

// LooksLikeRecord reports whether the input starting with b is a record
// file rather than a capture.
func LooksLikeRecord(b []byte) bool { return len(b) > 0 && b[0] == '{' }

// ReadRecord decodes a record file written by `zkgo proxy --record`. Lines
// that do not parse are reported inline as undecodable notes and skipped;
// it returns an error only when the input is not a record file at all.
// It calls Finish at the end.
func (d *Decoder) ReadRecord(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), d.maxRecordLine())
	conns := map[uint64]*Conn{}
	var lines, parsed int64
	for sc.Scan() {
		lines++
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var l RecordLine
		if err := json.Unmarshal(b, &l); err != nil {
			if parsed == 0 {
				return 0, fmt.Errorf("%w: %v", ErrNotRecord, err)
			}
			d.recordProblem(lines, err)
			continue
		}
		parsed++
		switch l.Event {
		case RecordOpen, RecordData, RecordClose:
		case RecordDropped:
			d.recordDropped(l)
			continue
		default:
			d.recordProblem(lines, fmt.Errorf("unknown event %q", l.Event))
			continue
		}
		c := conns[l.Conn]
		if c == nil {
			if l.Event == RecordClose {
				continue
			}
			client, _ := netip.ParseAddrPort(l.Client)
			server, _ := netip.ParseAddrPort(l.Server)
			c = d.Open(client, server, l.T, true)
			c.setChannel(ChannelClient)
			conns[l.Conn] = c
		}
		switch l.Event {
		case RecordData:
			dir := ToServer
			switch l.Dir {
			case ToServer.String():
			case FromServer.String():
				dir = FromServer
			default:
				d.recordProblem(lines, fmt.Errorf("bad dir %q", l.Dir))
				continue
			}
			c.Data(dir, l.Frame, l.T)
		case RecordClose:
			c.Close(l.T)
			delete(conns, l.Conn)
		}
	}
	err := sc.Err()
	if err != nil {
		d.recordProblem(lines+1, err)
	}
	d.Finish()
	if lines == 0 && err != nil {
		return 0, fmt.Errorf("%w: %v", ErrNotRecord, err)
	}
	return lines, nil
}

// recordDropped reports frames missing from the record: the proxy's
// recorder dropped them (its queue or file was full), so replies may lack
// their requests and the other way round.
func (d *Decoder) recordDropped(l RecordLine) {
	d.counts.RecordDropped += l.Dropped
	d.Observe(l.T)
	m := &d.msg
	m.reset()
	d.n++
	m.N = d.n
	m.Kind = KindNote
	m.Name = "note"
	m.Time = l.T
	if d.begun {
		m.Rel = l.T.Sub(d.first)
	}
	m.Text = "record: " + strconv.FormatInt(l.Dropped, 10) + " frames dropped by the recorder here (its queue or file was full)"
	d.emit(m)
}

// recordProblem reports a damaged line of a record file.
func (d *Decoder) recordProblem(line int64, err error) {
	m := &d.msg
	m.reset()
	d.n++
	m.N = d.n
	m.Kind = KindUndecodable
	m.Name = "undecodable"
	m.Error = fmt.Errorf("record line %d: %w", line, err)
	d.emit(m)
}
