package decode

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/zkgo/zkgo/wire"
)

// Stats aggregates messages into a Report: per-op counts and latency
// percentiles, top paths, errors by code, sessions, quorum packets, sync
// modes and election rounds.
type Stats struct {
	ops      map[wire.OpCode]*opStat
	errs     map[wire.ErrCode]int64
	paths    map[string]int64
	sessions map[wire.SessionID]*SessionReport
	events   map[string]int64
	words    map[string]int64
	packets  map[string]int64
	txns     map[string]int64
	fwd      map[string]int64
	syncs    []SyncReport
	modes    map[string]int64
	elec     electionStats
	notifs   int64
	snaps    []SnapSummary
	connects int64
	unpaired int64
	kinds    map[string]int64
}

type opStat struct {
	requests, replies, errors int64
	hist                      *hdrhistogram.Histogram
}

// NewStats returns an empty Stats.
func NewStats() *Stats {
	return &Stats{ops: map[wire.OpCode]*opStat{}, errs: map[wire.ErrCode]int64{}, paths: map[string]int64{},
		sessions: map[wire.SessionID]*SessionReport{}, events: map[string]int64{}, words: map[string]int64{},
		packets: map[string]int64{}, txns: map[string]int64{}, fwd: map[string]int64{}, modes: map[string]int64{},
		elec: newElectionStats(), kinds: map[string]int64{}}
}

func (s *Stats) op(op wire.OpCode) *opStat {
	o := s.ops[op]
	if o == nil {
		o = &opStat{hist: hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)}
		s.ops[op] = o
	}
	return o
}

func (s *Stats) session(m *Message) *SessionReport {
	if !m.HasSession || m.Session == 0 || m.Conn == nil {
		return nil
	}
	r := s.sessions[m.Session]
	if r == nil {
		r = &SessionReport{Session: "0x" + strconv.FormatUint(uint64(m.Session), 16), First: m.Rel.Seconds(), conns: map[int64]bool{}}
		s.sessions[m.Session] = r
	}
	if !r.conns[m.Conn.ID] {
		r.conns[m.Conn.ID] = true
		r.Connections++
	}
	r.Last = m.Rel.Seconds()
	return r
}

// Add counts m.
func (s *Stats) Add(m *Message) {
	s.kinds[m.Kind.String()]++
	switch m.Kind {
	case KindConnect:
		s.connects++
	case KindConnectReply:
		if sr := s.session(m); sr != nil {
			if len(m.Parts) > 0 {
				if cr, ok := m.Parts[0].Rec.(*wire.ConnectResponse); ok {
					sr.TimeoutMs = cr.TimeOut
				}
			}
		}
	case KindRequest:
		o := s.op(m.Op)
		o.requests++
		if m.Path != "" {
			s.paths[m.Path]++
		}
		if sr := s.session(m); sr != nil && m.Channel == ChannelClient {
			sr.Requests++
			if m.Op == wire.OpCloseSession {
				sr.Closed = true
			}
		}
	case KindReply:
		if !m.Paired {
			s.unpaired++
			return
		}
		o := s.op(m.Op)
		o.replies++
		us := int64(m.Latency / time.Microsecond)
		_ = o.hist.RecordValue(max(us, 1))
		sr := s.session(m)
		if m.Code != wire.ErrOk {
			o.errors++
			s.errs[m.Code]++
			if sr != nil {
				sr.Errors++
			}
		}
	case KindWatchEvent:
		if sr := s.session(m); sr != nil {
			sr.WatchEvents++
		}
		if len(m.Parts) > 1 {
			if ev, ok := m.Parts[1].Rec.(*wire.WatcherEvent); ok {
				s.events[ev.Type.String()]++
			}
		}
	case KindFourLetter:
		s.words[m.Name]++
	case KindQuorumPacket:
		s.packets[m.Name]++
		switch m.Packet {
		case wire.PacketProposal:
			if m.HasOp {
				s.txns[m.Op.String()]++
			}
		case wire.PacketRequest:
			if m.HasOp {
				s.fwd[m.Op.String()]++
			}
		case wire.PacketDiff, wire.PacketSnap, wire.PacketTrunc:
			if m.Dir == FromServer {
				s.modes[m.Name]++
				s.syncs = append(s.syncs, SyncReport{Learner: m.Sid, Mode: m.Name, Zxid: m.Zxid.String(), At: m.Rel.Seconds(), Conn: m.Conn.ID})
			}
		}
	case KindSnapshot:
		if m.Snapshot != nil {
			s.snaps = append(s.snaps, *m.Snapshot)
			for i := len(s.syncs) - 1; i >= 0; i-- {
				if s.syncs[i].Conn == m.Conn.ID && s.syncs[i].Mode == "SNAP" && s.syncs[i].Snapshot == nil {
					sum := *m.Snapshot
					s.syncs[i].Snapshot = &sum
					break
				}
			}
		}
	case KindNotification:
		s.notifs++
		if m.Notification != nil {
			s.elec.notification(m)
		}
	}
	if m.Kind == KindQuorumPacket {
		s.elec.quorumPacket(m)
	}
}

// Report is the summary --stats prints. JSON field names are stable.
type Report struct {
	Capture     *CaptureReport   `json:"capture,omitempty"`
	Messages    MessageReport    `json:"messages"`
	Connections map[string]int64 `json:"connections"`
	Ops         []OpReport       `json:"ops"`
	Errors      []ErrorReport    `json:"errors"`
	TopPaths    []PathReport     `json:"top_paths"`
	Sessions    []SessionReport  `json:"sessions"`
	WatchEvents map[string]int64 `json:"watch_events"`
	FourLetter  map[string]int64 `json:"four_letter_words"`
	Connects    int64            `json:"connects"`
	Unpaired    int64            `json:"unpaired_replies"`
	Unanswered  int64            `json:"unanswered_requests"`
	Quorum      map[string]int64 `json:"quorum_packets"`
	Proposals   map[string]int64 `json:"proposals_by_txn"`
	Forwarded   map[string]int64 `json:"forwarded_requests"`
	SyncModes   map[string]int64 `json:"sync_modes"`
	Syncs       []SyncReport     `json:"syncs"`
	Snapshots   []SnapSummary    `json:"snapshots"`
	Notifs      int64            `json:"notifications"`
	Elections   []ElectionReport `json:"elections"`
	// PeerInstances counts the processes of each sid the election channel
	// showed, by sid ("3": 2 when member 3 restarted once).
	PeerInstances map[string]int64 `json:"peer_instances"`
	Kinds         map[string]int64 `json:"kinds"`
}

// CaptureReport is CaptureStats in the report.
type CaptureReport struct {
	Format     string   `json:"format"`
	LinkTypes  []string `json:"link_types"`
	Packets    int64    `json:"packets"`
	TCPPackets int64    `json:"tcp_packets"`
	Other      int64    `json:"other_packets"`
	Truncated  int64    `json:"truncated_packets"`
	Clamped    int64    `json:"clamped_packets,omitempty"`
	SnapLens   int64    `json:"clamped_snap_lengths,omitempty"`
	IdleFlows  int64    `json:"idle_connections_closed,omitempty"`
	Evicted    int64    `json:"connections_over_limit,omitempty"`
	Bytes      int64    `json:"bytes"`
	Duration   float64  `json:"duration_s"`
	Error      string   `json:"error,omitempty"`
}

// MessageReport counts messages.
type MessageReport struct {
	Total       int64 `json:"total"`
	Undecodable int64 `json:"undecodable"`
	Notes       int64 `json:"notes"`
	Resyncs     int64 `json:"resyncs"`
	Gaps        int64 `json:"gaps"`
	GapBytes    int64 `json:"gap_bytes"`
	// RecordDropped: frames a proxy record says it dropped.
	RecordDropped int64 `json:"record_dropped,omitempty"`
	// Shed: connections dropped at the decoder's memory bound.
	Shed int64 `json:"connections_dropped_held,omitempty"`
}

// OpReport is one client opcode.
type OpReport struct {
	Op       string  `json:"op"`
	Requests int64   `json:"requests"`
	Replies  int64   `json:"replies"`
	Errors   int64   `json:"errors"`
	P50us    float64 `json:"p50_us"`
	P99us    float64 `json:"p99_us"`
	MaxUs    float64 `json:"max_us"`
}

// ErrorReport counts replies with one error code.
type ErrorReport struct {
	Code  int32  `json:"code"`
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// PathReport counts requests naming a path.
type PathReport struct {
	Path  string `json:"path"`
	Count int64  `json:"count"`
}

// SessionReport summarises one client session.
type SessionReport struct {
	Session     string  `json:"session"`
	Connections int64   `json:"connections"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	WatchEvents int64   `json:"watch_events"`
	TimeoutMs   int32   `json:"timeout_ms"`
	Closed      bool    `json:"closed"`
	First       float64 `json:"first_s"`
	Last        float64 `json:"last_s"`
	conns       map[int64]bool
}

// SyncReport is one learner synchronisation.
type SyncReport struct {
	Learner  int64        `json:"learner"`
	Mode     string       `json:"mode"`
	Zxid     string       `json:"zxid"`
	At       float64      `json:"at_s"`
	Conn     int64        `json:"conn"`
	Snapshot *SnapSummary `json:"snapshot,omitempty"`
}

// ElectionReport is one election round: the members (peer instances) that
// went LOOKING together, from the first LOOKING notification until each of
// them followed or led.
type ElectionReport struct {
	// ElectionEpoch is the last electionEpoch the lookers voted in;
	// FirstEpoch the first (a restarted member starts again at 1).
	ElectionEpoch int64          `json:"election_epoch"`
	FirstEpoch    int64          `json:"first_epoch"`
	Notifications int64          `json:"notifications"`
	Senders       []int64        `json:"senders"` // every sid that sent one of them
	Looking       []PeerInstance `json:"looking"`
	Leader        int64          `json:"leader"` // -1 if the capture does not show it
	LeaderZxid    string         `json:"leader_zxid,omitempty"`
	PeerEpoch     int64          `json:"peer_epoch"`
	At            float64        `json:"at_s"`
}

// PeerInstance is one process of a member: Instance 2 is the member
// after its first restart.
type PeerInstance struct {
	Sid      int64 `json:"sid"`
	Instance int   `json:"instance"`
}

func (p PeerInstance) String() string {
	if p.Instance > 1 {
		return strconv.FormatInt(p.Sid, 10) + "#" + strconv.Itoa(p.Instance)
	}
	return strconv.FormatInt(p.Sid, 10)
}

// Report builds the summary. cap may be nil.
func (s *Stats) Report(c Counts, cap *CaptureStats, topN int) *Report {
	r := &Report{
		Messages: MessageReport{Total: c.Messages, Undecodable: c.Undecodable, Notes: c.Notes, Resyncs: c.Resyncs,
			Gaps: c.Gaps, GapBytes: c.GapBytes, RecordDropped: c.RecordDropped, Shed: c.Shed},
		Connections: map[string]int64{},
		WatchEvents: s.events, FourLetter: s.words, Connects: s.connects, Unpaired: s.unpaired,
		Unanswered: c.Unanswered, Quorum: s.packets, Proposals: s.txns, Forwarded: s.fwd, SyncModes: s.modes,
		Syncs: s.syncs, Snapshots: s.snaps, Notifs: s.notifs, Kinds: s.kinds,
		Ops: []OpReport{}, Errors: []ErrorReport{}, TopPaths: []PathReport{}, Sessions: []SessionReport{},
		Elections: []ElectionReport{},
	}
	for ch, n := range c.Conns {
		name := Channel(ch).String()
		if Channel(ch) == ChannelUnknown {
			name = "other"
		}
		r.Connections[name] = n
	}
	if cap != nil {
		cr := &CaptureReport{Format: cap.Format, LinkTypes: cap.LinkTypes, Packets: cap.Packets, TCPPackets: cap.TCPPackets,
			Other: cap.Other, Truncated: cap.Truncated, Clamped: cap.Clamped, SnapLens: cap.SnapLens,
			IdleFlows: cap.IdleFlows, Evicted: cap.Evicted, Bytes: cap.Bytes, Duration: cap.Last.Sub(cap.First).Seconds()}
		if cap.Err != nil {
			cr.Error = cap.Err.Error()
		}
		r.Capture = cr
	}
	for op, o := range s.ops {
		or := OpReport{Op: op.String(), Requests: o.requests, Replies: o.replies, Errors: o.errors}
		if o.hist.TotalCount() > 0 {
			or.P50us = float64(o.hist.ValueAtQuantile(50))
			or.P99us = float64(o.hist.ValueAtQuantile(99))
			or.MaxUs = float64(o.hist.Max())
		}
		r.Ops = append(r.Ops, or)
	}
	slices.SortFunc(r.Ops, func(a, b OpReport) int { return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Op, b.Op)) })
	for code, n := range s.errs {
		r.Errors = append(r.Errors, ErrorReport{Code: int32(code), Name: code.Name(), Count: n})
	}
	slices.SortFunc(r.Errors, func(a, b ErrorReport) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Code, b.Code)) })
	for p, n := range s.paths {
		r.TopPaths = append(r.TopPaths, PathReport{Path: p, Count: n})
	}
	slices.SortFunc(r.TopPaths, func(a, b PathReport) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Path, b.Path)) })
	if topN > 0 && len(r.TopPaths) > topN {
		r.TopPaths = r.TopPaths[:topN]
	}
	for _, sr := range s.sessions {
		r.Sessions = append(r.Sessions, *sr)
	}
	slices.SortFunc(r.Sessions, func(a, b SessionReport) int {
		return cmp.Or(cmp.Compare(a.First, b.First), cmp.Compare(a.Session, b.Session))
	})
	r.Elections, r.PeerInstances = s.elec.report()
	return r
}

// WriteText prints r for people.
func (r *Report) WriteText(w io.Writer) error {
	p := &errWriter{w: w}
	p.f("== zkgo decode statistics ==\n")
	if c := r.Capture; c != nil {
		p.f("capture: %s (%v), %d packets (%d TCP, %d other, %d truncated), %d bytes, %.3fs\n",
			c.Format, c.LinkTypes, c.Packets, c.TCPPackets, c.Other, c.Truncated, c.Bytes, c.Duration)
		if c.Error != "" {
			p.f("capture error: %s\n", c.Error)
		}
		if c.Clamped > 0 || c.SnapLens > 0 || c.IdleFlows > 0 || c.Evicted > 0 {
			p.f("capture bounds: %d records cut to %d bytes, %d snap lengths clamped, %d idle connections closed, %d connections closed over the limit\n",
				c.Clamped, MaxSnapLen, c.SnapLens, c.IdleFlows, c.Evicted)
		}
	}
	m := r.Messages
	p.f("messages: %d (undecodable %d, notes %d, resyncs %d, gaps %d / %d bytes)\n", m.Total, m.Undecodable, m.Notes, m.Resyncs, m.Gaps, m.GapBytes)
	if m.RecordDropped > 0 {
		p.f("record: %d frames dropped by the proxy's recorder\n", m.RecordDropped)
	}
	if m.Shed > 0 {
		p.f("memory bound: %d connections dropped holding too much\n", m.Shed)
	}
	p.f("connections: client %d, quorum %d, election %d, other %d\n", r.Connections["client"], r.Connections["quorum"],
		r.Connections["election"], r.Connections["other"])
	if len(r.Ops) > 0 {
		p.f("\nclient operations:\n  %-22s %9s %9s %7s %11s %11s %11s\n", "op", "requests", "replies", "errors", "p50", "p99", "max")
		for _, o := range r.Ops {
			p.f("  %-22s %9d %9d %7d %11s %11s %11s\n", o.Op, o.Requests, o.Replies, o.Errors, us(o.P50us), us(o.P99us), us(o.MaxUs))
		}
		p.f("  connects %d, unpaired replies %d, unanswered requests %d\n", r.Connects, r.Unpaired, r.Unanswered)
	}
	if len(r.Errors) > 0 {
		p.f("\nerrors by code:\n")
		for _, e := range r.Errors {
			p.f("  %-28s %6d\n", e.Name+" ("+strconv.Itoa(int(e.Code))+")", e.Count)
		}
	}
	if len(r.TopPaths) > 0 {
		p.f("\ntop paths:\n")
		for _, t := range r.TopPaths {
			p.f("  %8d  %s\n", t.Count, t.Path)
		}
	}
	if len(r.WatchEvents) > 0 {
		p.f("\nwatch events: %s\n", mapText(r.WatchEvents))
	}
	if len(r.FourLetter) > 0 {
		p.f("four-letter words: %s\n", mapText(r.FourLetter))
	}
	if len(r.Sessions) > 0 {
		p.f("\nsessions:\n  %-20s %5s %8s %6s %6s %8s %6s %10s %10s\n", "session", "conns", "requests", "errors", "events", "timeout", "closed", "first", "last")
		for _, s := range r.Sessions {
			p.f("  %-20s %5d %8d %6d %6d %8d %6v %9.3fs %9.3fs\n", s.Session, s.Connections, s.Requests, s.Errors, s.WatchEvents, s.TimeoutMs, s.Closed, s.First, s.Last)
		}
	}
	if len(r.Quorum) > 0 {
		p.f("\nquorum packets: %s\n", mapText(r.Quorum))
		if len(r.Proposals) > 0 {
			p.f("proposals by txn type: %s\n", mapText(r.Proposals))
		}
		if len(r.Forwarded) > 0 {
			p.f("forwarded requests: %s\n", mapText(r.Forwarded))
		}
		p.f("sync modes: %s\n", mapText(r.SyncModes))
		for _, s := range r.Syncs {
			p.f("  %9.3fs learner %d %s zxid %s", s.At, s.Learner, s.Mode, s.Zxid)
			if s.Snapshot != nil {
				p.f(" (snapshot: %d sessions, %d nodes, %d data bytes, signature %q, %d bytes)", s.Snapshot.Sessions,
					s.Snapshot.Nodes, s.Snapshot.DataBytes, s.Snapshot.Signature, s.Snapshot.Bytes)
			}
			p.f("\n")
		}
	}
	if r.Notifs > 0 {
		p.f("\nelection: %d notifications, %d rounds; peer instances by sid: %s\n", r.Notifs, len(r.Elections), mapText(r.PeerInstances))
		for _, e := range r.Elections {
			epochs := strconv.FormatInt(e.ElectionEpoch, 10)
			if e.FirstEpoch != e.ElectionEpoch {
				epochs = strconv.FormatInt(e.FirstEpoch, 10) + "-" + epochs
			}
			p.f("  %9.3fs electionEpoch %s: looking %v, %d notifications from %v, leader %d (zxid %s, peerEpoch %d)\n", e.At,
				epochs, e.Looking, e.Notifications, e.Senders, e.Leader, e.LeaderZxid, e.PeerEpoch)
		}
	}
	return p.err
}

func us(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v < 1000:
		return strconv.FormatFloat(v, 'f', 0, 64) + "us"
	case v < 1e6:
		return strconv.FormatFloat(v/1e3, 'f', 2, 64) + "ms"
	}
	return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "s"
}

func mapText(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := []byte{}
	for i, k := range keys {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, k...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, m[k], 10)
	}
	if len(b) == 0 {
		return "none"
	}
	return string(b)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) f(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
