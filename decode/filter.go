package decode

import (
	"errors"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/wire"
)

// Filter selects messages. Zero fields select everything. Undecodable
// messages and notes pass every test but Channels: damage is always shown.
type Filter struct {
	Sessions   []wire.SessionID
	PathPrefix string
	// Ops are message names, matched without case: client opcodes
	// ("create"), quorum packet types ("PROPOSAL"), txn types of proposals
	// and forwarded requests, "notification", "initial", "snapshot", the
	// four-letter words.
	Ops      []string
	ZxidMin  wire.Zxid
	ZxidMax  wire.Zxid
	HasZxid  bool
	Channels []Channel
}

// Empty reports whether f selects everything.
func (f *Filter) Empty() bool {
	return len(f.Sessions) == 0 && f.PathPrefix == "" && len(f.Ops) == 0 && !f.HasZxid && len(f.Channels) == 0
}

// Match reports whether m passes f.
func (f *Filter) Match(m *Message) bool {
	if len(f.Channels) > 0 {
		ok := false
		for _, c := range f.Channels {
			ok = ok || c == m.Channel
		}
		if !ok {
			return false
		}
	}
	if m.Kind == KindUndecodable || m.Kind == KindNote {
		return true
	}
	if len(f.Sessions) > 0 {
		ok := false
		for _, s := range f.Sessions {
			ok = ok || (m.HasSession && s == m.Session)
		}
		if !ok {
			return false
		}
	}
	if f.PathPrefix != "" && !strings.HasPrefix(m.Path, f.PathPrefix) {
		return false
	}
	if f.HasZxid && (!m.HasZxid || m.Zxid < f.ZxidMin || m.Zxid > f.ZxidMax) {
		return false
	}
	if len(f.Ops) > 0 {
		ok := false
		for _, o := range f.Ops {
			ok = ok || strings.EqualFold(o, m.Name) || (m.HasOp && strings.EqualFold(o, m.Op.String()))
		}
		if !ok {
			return false
		}
	}
	return true
}

// ParseZxidRange parses "A:B", "A:" or ":B" (hex with 0x, or decimal) into
// an inclusive range; a single value selects that zxid.
func ParseZxidRange(s string) (lo, hi wire.Zxid, err error) {
	a, b, found := strings.Cut(s, ":")
	if !found {
		b = a
	}
	lo, hi = 0, wire.Zxid(1<<63-1)
	if a != "" {
		v, err := parseInt64(a)
		if err != nil {
			return 0, 0, err
		}
		lo = wire.Zxid(v)
	}
	if b != "" {
		v, err := parseInt64(b)
		if err != nil {
			return 0, 0, err
		}
		hi = wire.Zxid(v)
	}
	if lo > hi {
		return 0, 0, errors.New("decode: empty zxid range " + s)
	}
	return lo, hi, nil
}

// ParseSessionID parses a session id in hex (0x...) or decimal.
func ParseSessionID(s string) (wire.SessionID, error) {
	v, err := parseInt64(s)
	return wire.SessionID(v), err
}

func parseInt64(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		v, err := strconv.ParseUint(h, 16, 64)
		return int64(v), err
	}
	return strconv.ParseInt(s, 10, 64)
}
