package decode

import (
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// Well-known ZooKeeper ports, used when a connection's content does not
// tell its channel (unless Config.NoWellKnownPorts).
const (
	WellKnownClientPort   = 2181
	WellKnownQuorumPort   = 2888
	WellKnownElectionPort = 3888
)

// Limits.
const (
	// DefaultMaxFrame bounds a client frame. Java's server rejects requests
	// above jute.maxbuffer (1 MiB) but replies may be larger; 16 MiB leaves
	// room for servers with a raised jute.maxbuffer.
	DefaultMaxFrame = 16 << 20
	// DefaultMaxPending bounds the requests awaiting a reply on one
	// connection.
	DefaultMaxPending = 1 << 16
	// maxDetectBytes is how much of a connection is held while its channel
	// is unknown.
	maxDetectBytes = 64 << 10
	// maxFourLetterText bounds the kept text of a four-letter-word reply.
	maxFourLetterText = 1 << 20
	// DefaultMaxFlows bounds the TCP connections a capture keeps open.
	DefaultMaxFlows = 16384
	// DefaultFlowIdle is how long (capture time) a connection may go
	// without a packet before it is closed.
	DefaultFlowIdle = 10 * time.Minute
	// DefaultMaxHeld bounds the memory all connections hold for decoding.
	DefaultMaxHeld = 256 << 20
)

// Config configures a Decoder.
type Config struct {
	// Ports of each channel (the accepting side's port). A connection to
	// one of them is decoded as that channel without looking at content.
	ClientPorts, QuorumPorts, ElectionPorts []uint16
	// NoWellKnownPorts turns off the fallback to 2181/2888/3888 for
	// connections whose content is not recognised.
	NoWellKnownPorts bool
	// MaxFrame bounds client frames (default DefaultMaxFrame).
	MaxFrame int
	// MaxPending bounds the pairing table of one connection (default
	// DefaultMaxPending).
	MaxPending int
	// MaxFlows bounds the TCP connections ReadCapture keeps open (default
	// DefaultMaxFlows): at the limit, the least recently active one is
	// closed, with a note.
	MaxFlows int
	// FlowIdle closes a connection that has had no packet for that long
	// in capture time, with a note (default DefaultFlowIdle).
	FlowIdle time.Duration
	// MaxHeld bounds the bytes all connections hold for decoding (partial
	// messages, bytes awaiting channel detection, requests awaiting their
	// replies; default DefaultMaxHeld). Past it, the connection holding
	// the most is dropped, with a note, until the total is under it.
	MaxHeld int64
}

func (c Config) withDefaults() Config {
	if c.MaxFrame <= 0 {
		c.MaxFrame = DefaultMaxFrame
	}
	if c.MaxPending <= 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.MaxFlows <= 0 {
		c.MaxFlows = DefaultMaxFlows
	}
	if c.FlowIdle <= 0 {
		c.FlowIdle = DefaultFlowIdle
	}
	if c.MaxHeld <= 0 {
		c.MaxHeld = DefaultMaxHeld
	}
	return c
}

// Counts are the decoder's running totals.
type Counts struct {
	Messages     int64 // messages given to the sink, notes and undecodable included
	Undecodable  int64
	Notes        int64
	Resyncs      int64 // times decoding resumed after lost framing
	Gaps         int64 // holes in the capture (bytes never seen)
	GapBytes     int64
	Conns        [4]int64 // connections by Channel (ChannelUnknown: not ZooKeeper)
	IgnoredBytes int64    // bytes of connections that are not ZooKeeper
	Unanswered   int64    // requests still waiting for a reply when their connection ended
	// RecordDropped is the number of frames a proxy record reports it
	// dropped (decode.RecordDropped lines).
	RecordDropped int64
	// Shed counts connections dropped at Config.MaxHeld.
	Shed int64
	// TLSConns are the connections that start with a TLS handshake
	// record (a secure client port, or TLS on a unified port): their
	// TLSBytes cannot be decoded. They are not counted in Conns.
	TLSConns, TLSBytes int64
}

// Decoder decodes the connections of one capture. It is not safe for
// concurrent use: feed it from one goroutine.
type Decoder struct {
	cfg   Config
	sink  Sink
	msg   Message
	n     int64
	first time.Time
	begun bool
	last  time.Time

	nconn  int64
	open   map[*Conn]struct{}
	held   int64 // sum of Conn.acct over open connections
	counts Counts

	sidByAddr   map[netip.AddrPort]int64 // election address -> sid
	sidByQuorum map[netip.AddrPort]int64 // quorum (leader) address -> sid
	lastConfig  string                   // the config text learnConfig read last
	epeers      map[int64]*electionPeer

	// Reused decode targets; see Message's validity rule.
	rd          jute.Reader
	reqs, resps [opSlots]jute.Record
	reqHdr      wire.RequestHeader
	repHdr      wire.ReplyHeader
	event       wire.WatcherEvent
	qp          wire.QuorumPacket
	notif       wire.Notification
}

// New returns a Decoder that calls sink for every message.
func New(cfg Config, sink Sink) *Decoder {
	if sink == nil {
		sink = func(*Message) {}
	}
	return &Decoder{cfg: cfg.withDefaults(), sink: sink, open: map[*Conn]struct{}{},
		sidByAddr: map[netip.AddrPort]int64{}, sidByQuorum: map[netip.AddrPort]int64{}, epeers: map[int64]*electionPeer{}}
}

// Counts returns the running totals.
func (d *Decoder) Counts() Counts { return d.counts }

// First returns the time of the first data the decoder saw.
func (d *Decoder) First() time.Time { return d.first }

// Observe tells the decoder that capture time t has been reached (the
// capture layer calls it for every packet, so relative times start at the
// first packet even when it carries no ZooKeeper data).
func (d *Decoder) Observe(t time.Time) {
	if !d.begun {
		d.first, d.begun = t, true
	}
	if t.After(d.last) {
		d.last = t
	}
}

// Open starts a connection from client to server. sure tells whether the
// roles are known (the capture holds the SYN); if not, content may swap
// them.
func (d *Decoder) Open(client, server netip.AddrPort, t time.Time, sure bool) *Conn {
	d.Observe(t)
	d.nconn++
	c := &Conn{d: d, sure: sure}
	c.info = ConnInfo{ID: d.nconn, Client: client, Server: server, Sid: -1, ServerSid: -1}
	c.election.peerSid = -1
	c.election.attached = [2]int64{-1, -1}
	for i := range c.h {
		c.h[i].synced = true
	}
	if ch, ok := d.portChannel(server.Port(), false); ok {
		c.setChannel(ch)
	} else if !sure {
		if ch, ok := d.portChannel(client.Port(), false); ok {
			c.swap()
			c.setChannel(ch)
		}
	}
	d.open[c] = struct{}{}
	return c
}

// account updates what c holds in the total and, past Config.MaxHeld,
// drops the connections holding the most until the total fits.
func (d *Decoder) account(c *Conn) {
	if !c.closed {
		now := c.held()
		d.held += now - c.acct
		c.acct = now
	}
	for d.held > d.cfg.MaxHeld {
		var victim *Conn
		for o := range d.open {
			if victim == nil || o.acct > victim.acct || o.acct == victim.acct && o.info.ID < victim.info.ID {
				victim = o
			}
		}
		if victim == nil || victim.acct == 0 {
			return
		}
		d.counts.Shed++
		d.note(victim, ToServer, -1, victim.acct, "connection dropped: the decoder holds more than "+
			strconv.FormatInt(d.cfg.MaxHeld, 10)+" bytes for all connections, this one "+
			strconv.FormatInt(victim.acct, 10))
		victim.Close(d.last)
	}
}

// Held returns the bytes all open connections hold for decoding.
func (d *Decoder) Held() int64 { return d.held }

// portChannel maps a port to a channel: configured ports, then (when
// wellKnown) the defaults.
func (d *Decoder) portChannel(p uint16, wellKnown bool) (Channel, bool) {
	switch {
	case slices.Contains(d.cfg.ClientPorts, p):
		return ChannelClient, true
	case slices.Contains(d.cfg.QuorumPorts, p):
		return ChannelQuorum, true
	case slices.Contains(d.cfg.ElectionPorts, p):
		return ChannelElection, true
	}
	if wellKnown && !d.cfg.NoWellKnownPorts {
		switch p {
		case WellKnownClientPort:
			return ChannelClient, true
		case WellKnownQuorumPort:
			return ChannelQuorum, true
		case WellKnownElectionPort:
			return ChannelElection, true
		}
	}
	return ChannelUnknown, false
}

// Finish ends every connection still open (the capture is over), in the
// order they were opened.
func (d *Decoder) Finish() {
	conns := make([]*Conn, 0, len(d.open))
	for c := range d.open {
		conns = append(conns, c)
	}
	slices.SortFunc(conns, func(a, b *Conn) int { return int(a.info.ID - b.info.ID) })
	for _, c := range conns {
		c.Close(d.last)
	}
}

// begin starts a message of c's half dir. The caller fills it and calls
// emit.
func (d *Decoder) begin(c *Conn, dir Dir, kind Kind, off, size int64) *Message {
	m := &d.msg
	m.reset()
	d.n++
	m.N = d.n
	m.Conn = &c.info
	m.Dir = dir
	m.Channel = c.info.Channel
	m.Kind = kind
	m.Offset = off
	m.Size = size
	m.Time = c.h[dir].t
	m.Rel = m.Time.Sub(d.first)
	m.Sid = c.info.Sid
	if c.info.Session != 0 {
		m.setSession(c.info.Session)
	}
	return m
}

func (d *Decoder) emit(m *Message) {
	d.counts.Messages++
	switch m.Kind {
	case KindUndecodable:
		d.counts.Undecodable++
	case KindNote:
		d.counts.Notes++
	}
	d.sink(m)
}

// note emits a KindNote.
func (d *Decoder) note(c *Conn, dir Dir, off, size int64, text string) {
	m := d.begin(c, dir, KindNote, off, size)
	m.Name = "note"
	m.Text = text
	d.emit(m)
}

// undecodable emits a KindUndecodable.
func (d *Decoder) undecodable(c *Conn, dir Dir, off, size int64, err error) {
	m := d.begin(c, dir, KindUndecodable, off, size)
	m.Name = "undecodable"
	m.Error = err
	d.emit(m)
}

// reader returns the decoder's reusable Reader over b (records decoded
// through an interface would otherwise move a fresh Reader to the heap).
func (d *Decoder) reader(b []byte, max int) *jute.Reader {
	d.rd = jute.NewReaderMax(b, max)
	return &d.rd
}

// replyHasBody is wire.ReplyHasBody without allocating a record.
func (d *Decoder) replyHasBody(op wire.OpCode, err wire.ErrCode) bool {
	if op == wire.OpMulti || op == wire.OpMultiRead {
		return true
	}
	if err != wire.ErrOk {
		return false
	}
	_, has, _ := d.response(op)
	return has
}

// Opcode-indexed record caches. Opcodes span -11..107.
const (
	opBase  = 16
	opSlots = 128
)

func opSlot(op wire.OpCode) (int, bool) {
	i := int(op) + opBase
	return i, i >= 0 && i < opSlots
}

// request returns a reusable record for a request body with opcode op.
func (d *Decoder) request(op wire.OpCode) (rec jute.Record, has, known bool) {
	i, ok := opSlot(op)
	if ok && d.reqs[i] != nil {
		return d.reqs[i], true, true
	}
	rec, has, known = wire.NewRequestRecord(op)
	if ok && has {
		d.reqs[i] = rec
	}
	return rec, has, known
}

// response returns a reusable record for a successful reply to op.
func (d *Decoder) response(op wire.OpCode) (rec jute.Record, has, known bool) {
	i, ok := opSlot(op)
	if ok && d.resps[i] != nil {
		return d.resps[i], true, true
	}
	rec, has, known = wire.NewResponseRecord(op)
	if ok && has {
		d.resps[i] = rec
	}
	return rec, has, known
}
