package wire

import (
	"encoding/binary"
	"errors"
	"slices"
	"strconv"

	"github.com/zkgo/zkgo/jute"
)

// Client framing (spec §10.1): every message on the client port is a 4-byte
// big-endian length followed by that many bytes.
//
//	+----------------+---------------------------------------------+
//	| i32 length (N) | N bytes: RequestHeader + record             |
//	+----------------+---------------------------------------------+
//
// The first message of a connection is a ConnectRequest (no header). A
// connection whose first four bytes are a four-letter word ("ruok", "srvr",
// ...) is an admin command, not a frame.

// FrameHeaderSize is the size of the length prefix.
const FrameHeaderSize = 4

// Frame errors.
var (
	// ErrFrameTooLarge means a frame length exceeded the limit.
	ErrFrameTooLarge = errors.New("wire: frame too large")
	// ErrFrameNegative means a frame length was negative.
	ErrFrameNegative = errors.New("wire: negative frame length")
)

// FrameError carries the offending length of a rejected frame.
type FrameError struct {
	Len int32
	Max int
	Err error
}

func (e *FrameError) Error() string {
	return e.Err.Error() + " (length " + strconv.Itoa(int(e.Len)) + ", max " + strconv.Itoa(e.Max) + ")"
}

func (e *FrameError) Unwrap() error { return e.Err }

// PeekFrame reads the length prefix at the start of b. It returns ok=false
// when fewer than 4 bytes are available. Lengths below 0 or above max are
// errors, as in Java's NIOServerCnxn (which uses jute.maxbuffer as max).
// bodyLen is the body size; the whole frame is bodyLen+4 bytes.
func PeekFrame(b []byte, max int) (bodyLen int, ok bool, err error) {
	if len(b) < FrameHeaderSize {
		return 0, false, nil
	}
	n := int32(binary.BigEndian.Uint32(b))
	if n < 0 {
		return 0, false, &FrameError{Len: n, Max: max, Err: ErrFrameNegative}
	}
	if int(n) > max {
		return 0, false, &FrameError{Len: n, Max: max, Err: ErrFrameTooLarge}
	}
	return int(n), true, nil
}

// BeginFrame appends a placeholder length prefix and returns its offset, for
// EndFrame to fill in.
func BeginFrame(w *jute.Writer) int {
	off := w.Len()
	w.Int(0)
	return off
}

// EndFrame writes the length of everything after the prefix at off.
func EndFrame(w *jute.Writer, off int) {
	w.SetInt32At(off, int32(w.Len()-off-FrameHeaderSize))
}

// AppendFrame appends a length-prefixed frame holding the given records.
func AppendFrame(b []byte, recs ...jute.Record) []byte {
	n := 0
	for _, r := range recs {
		n += r.Size()
	}
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	for _, r := range recs {
		b = jute.Append(b, r)
	}
	return b
}

// AppendReply appends a framed reply: ReplyHeader then body (which may be
// nil for header-only replies).
func AppendReply(b []byte, h ReplyHeader, body jute.Record) []byte {
	if body == nil {
		// Without a record no Writer is needed (one handed to Encode, an
		// interface call, escapes to the heap): a ping's reply allocates
		// nothing when b has room.
		b = binary.BigEndian.AppendUint32(b, 16)
		b = binary.BigEndian.AppendUint32(b, uint32(h.Xid))
		b = binary.BigEndian.AppendUint64(b, uint64(h.Zxid))
		return binary.BigEndian.AppendUint32(b, uint32(h.Err))
	}
	n := 16 + body.Size()
	// One growth for the whole frame (amortized over the replies of a
	// round), not one per field.
	w := jute.Writer{}
	w.Reset(binary.BigEndian.AppendUint32(slices.Grow(b, 4+n), uint32(n)))
	w.Int(int32(h.Xid))
	w.Long(int64(h.Zxid))
	w.Int(int32(h.Err))
	body.Encode(&w)
	return w.Bytes()
}

// AppendRequest appends a framed request: RequestHeader then body (nil for
// header-only requests such as ping and closeSession).
func AppendRequest(b []byte, h RequestHeader, body jute.Record) []byte {
	n := 8
	if body != nil {
		n += body.Size()
	}
	// One growth for the whole frame (amortized over the replies of a
	// round), not one per field.
	w := jute.Writer{}
	w.Reset(binary.BigEndian.AppendUint32(slices.Grow(b, 4+n), uint32(n)))
	w.Int(int32(h.Xid))
	w.Int(int32(h.Type))
	if body != nil {
		body.Encode(&w)
	}
	return w.Bytes()
}

// AppendWatchEvent appends a framed watch notification (xid -1, zxid -1).
func AppendWatchEvent(b []byte, ev WatcherEvent) []byte {
	n := 16 + ev.Size()
	w := jute.Writer{}
	w.Reset(binary.BigEndian.AppendUint32(slices.Grow(b, 4+n), uint32(n)))
	w.Int(int32(XidWatchEvent))
	w.Long(-1)
	w.Int(0)
	ev.Encode(&w)
	return w.Bytes()
}

// Four-letter words.

// FourLetterWords lists the admin commands of ZooKeeper 3.8 that a
// connection may send instead of a ConnectRequest.
var FourLetterWords = []string{"conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk",
	"srst", "srvr", "stat", "wchc", "wchp", "wchs", "mntr", "isro", "hash"}

// IsFourLetterWord reports whether b starts with a known four-letter word.
func IsFourLetterWord(b []byte) (string, bool) {
	if len(b) < 4 {
		return "", false
	}
	w := string(b[:4])
	for _, k := range FourLetterWords {
		if k == w {
			return w, true
		}
	}
	return "", false
}
