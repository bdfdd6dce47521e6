package wire

import (
	"unicode/utf16"

	"github.com/zkgo/zkgo/jute"
)

// Java servers do not keep the bytes of a string they read: jute decodes
// it into a Java String (UTF-16) with the JDK's UTF-8 decoder, which turns
// each malformed sequence into U+FFFD, and writes a String back one UTF-16
// unit at a time, 1 to 3 bytes each. A character outside the BMP therefore
// goes out as two 3-byte surrogate encodings (CESU-8), and malformed input
// comes back repaired. Whatever a Java server echoes (a sync path, the path
// of a setWatches catch-up event, a stored ACL id) is in that form; zkgo
// converts every string of a request to it on arrival, so it stores,
// compares and echoes what Java would. The mapping is one to one on Java
// Strings, so equality and lookups are unaffected; for valid UTF-8 within
// the BMP (every valid znode path) it is the identity.

// JavaString returns the bytes a Java 3.8 server writes for the string it
// decodes from s.
func JavaString(s string) string {
	i := 0
	for i < len(s) && s[i] < 0x80 {
		i++
	}
	if i == len(s) {
		return s
	}
	out := appendJavaUnits(make([]byte, 0, len(s)+8), javaDecode(s))
	if string(out) == s {
		return s
	}
	return string(out)
}

// JavaUTF8 returns the standard UTF-8 bytes (String.getBytes(UTF_8)) of
// the string Java decodes from b, as a string: malformed input repaired,
// characters outside the BMP as 4 bytes. This is what Java's digest
// provider hashes.
func JavaUTF8(b []byte) string {
	i := 0
	for i < len(b) && b[i] < 0x80 {
		i++
	}
	if i == len(b) {
		return string(b)
	}
	return string(utf16.Decode(javaDecode(string(b))))
}

// JavaUnits returns the UTF-16 units of a string held in Java's form (as
// JavaString returns it, or as Java wrote it to a snapshot or txn log):
// every 1-, 2- or 3-byte sequence is one unit, surrogates included. Bytes
// that are not in that form decode as the JDK decodes them.
func JavaUnits(s string) []uint16 {
	out := make([]uint16, 0, len(s))
	for i := 0; i < len(s); {
		b := s[i]
		switch {
		case b < 0x80:
			out = append(out, uint16(b))
			i++
			continue
		case b >= 0xc2 && b <= 0xdf && i+1 < len(s) && s[i+1]&0xc0 == 0x80:
			out = append(out, uint16(b&0x1f)<<6|uint16(s[i+1]&0x3f))
			i += 2
			continue
		case b >= 0xe0 && b <= 0xef && i+2 < len(s) && s[i+1]&0xc0 == 0x80 && s[i+2]&0xc0 == 0x80 &&
			(b != 0xe0 || s[i+1] >= 0xa0):
			out = append(out, uint16(b&0x0f)<<12|uint16(s[i+1]&0x3f)<<6|uint16(s[i+2]&0x3f))
			i += 3
			continue
		}
		// Not in Java's form from here on: decode the rest as the JDK would.
		return append(out, javaDecode(s[i:])...)
	}
	return out
}

// javaDecode decodes s as the JDK's String(byte[], UTF_8) does (JDK 17 and
// later): malformed input becomes U+FFFD, one per malformed unit, where the
// unit length follows the JDK's rules, and a truncated sequence at the end
// ends the decoding.
func javaDecode(s string) []uint16 {
	const repl = 0xfffd
	cont := func(b byte) bool { return b&0xc0 == 0x80 }
	out := make([]uint16, 0, len(s))
	sp, sl := 0, len(s)
	for sp < sl {
		b1 := s[sp]
		sp++
		switch {
		case b1 < 0x80:
			out = append(out, uint16(b1))
		case b1 >= 0xc2 && b1 <= 0xdf: // 2 bytes
			if sp < sl {
				b2 := s[sp]
				sp++
				if !cont(b2) {
					out = append(out, repl)
					sp--
				} else {
					out = append(out, uint16(b1&0x1f)<<6|uint16(b2&0x3f))
				}
				continue
			}
			out = append(out, repl)
			return out
		case b1 >= 0xe0 && b1 <= 0xef: // 3 bytes
			if sp+1 < sl {
				b2, b3 := s[sp], s[sp+1]
				sp += 2
				if b1 == 0xe0 && b2&0xe0 == 0x80 || !cont(b2) || !cont(b3) {
					out = append(out, repl)
					sp -= 3
					if b1 == 0xe0 && b2&0xe0 == 0x80 || !cont(b2) {
						sp++
					} else {
						sp += 2
					}
					continue
				}
				c := uint16(b1&0x0f)<<12 | uint16(b2&0x3f)<<6 | uint16(b3&0x3f)
				if c >= 0xd800 && c <= 0xdfff {
					out = append(out, repl)
				} else {
					out = append(out, c)
				}
				continue
			}
			if sp < sl && (b1 == 0xe0 && s[sp]&0xe0 == 0x80 || !cont(s[sp])) {
				out = append(out, repl)
				continue
			}
			out = append(out, repl)
			return out
		case b1 >= 0xf0 && b1 <= 0xf7: // 4 bytes
			if sp+2 < sl {
				b2, b3, b4 := s[sp], s[sp+1], s[sp+2]
				sp += 3
				uc := rune(b1&0x07)<<18 | rune(b2&0x3f)<<12 | rune(b3&0x3f)<<6 | rune(b4&0x3f)
				if !cont(b2) || !cont(b3) || !cont(b4) || uc < 0x10000 || uc > 0x10ffff {
					out = append(out, repl)
					sp -= 4
					sp += malformed4(b1, b2, b3)
					continue
				}
				uc -= 0x10000
				out = append(out, uint16(0xd800+(uc>>10)), uint16(0xdc00+(uc&0x3ff)))
				continue
			}
			if b1 > 0xf4 || sp < sl && malformed42(b1, s[sp]) {
				out = append(out, repl)
				continue
			}
			sp++
			out = append(out, repl)
			if sp < sl && !cont(s[sp]) {
				continue
			}
			return out
		default: // a stray continuation byte, C0, C1, F8..FF
			out = append(out, repl)
		}
	}
	return out
}

// malformed42 is the JDK's check of a 4-byte lead and its second byte.
func malformed42(b1, b2 byte) bool {
	return b1 == 0xf0 && (b2 < 0x90 || b2 > 0xbf) || b1 == 0xf4 && b2&0xf0 != 0x80 || b2&0xc0 != 0x80
}

// malformed4 is the length of a malformed 4-byte unit, as the JDK counts it.
func malformed4(b1, b2, b3 byte) int {
	if b1 > 0xf4 || malformed42(b1, b2) {
		return 1
	}
	if b3&0xc0 != 0x80 {
		return 2
	}
	return 3
}

// appendJavaUnits encodes UTF-16 units as jute's BinaryOutputArchive does:
// each unit on its own, in 1, 2 or 3 bytes.
func appendJavaUnits(b []byte, units []uint16) []byte {
	for _, c := range units {
		switch {
		case c < 0x80:
			b = append(b, byte(c))
		case c < 0x800:
			b = append(b, 0xc0|byte(c>>6), 0x80|byte(c&0x3f))
		default:
			b = append(b, 0xe0|byte(c>>12), 0x80|byte(c>>6&0x3f), 0x80|byte(c&0x3f))
		}
	}
	return b
}

func javaStrings(l []string) {
	for i := range l {
		l[i] = JavaString(l[i])
	}
}

func javaACLs(l []ACL) {
	for i := range l {
		l[i].ID.Scheme = JavaString(l[i].ID.Scheme)
		l[i].ID.ID = JavaString(l[i].ID.ID)
	}
}

// ToJavaStrings converts, in place, every string field of a client
// request body to the form a Java server holds it in (JavaString). Other
// records are left alone.
func ToJavaStrings(rec jute.Record) {
	switch r := rec.(type) {
	case *CreateRequest:
		r.Path = JavaString(r.Path)
		javaACLs(r.ACL)
	case *CreateTTLRequest:
		r.Path = JavaString(r.Path)
		javaACLs(r.ACL)
	case *DeleteRequest:
		r.Path = JavaString(r.Path)
	case *ExistsRequest:
		r.Path = JavaString(r.Path)
	case *GetDataRequest:
		r.Path = JavaString(r.Path)
	case *SetDataRequest:
		r.Path = JavaString(r.Path)
	case *GetACLRequest:
		r.Path = JavaString(r.Path)
	case *SetACLRequest:
		r.Path = JavaString(r.Path)
		javaACLs(r.ACL)
	case *GetChildrenRequest:
		r.Path = JavaString(r.Path)
	case *GetChildren2Request:
		r.Path = JavaString(r.Path)
	case *SyncRequest:
		r.Path = JavaString(r.Path)
	case *CheckVersionRequest:
		r.Path = JavaString(r.Path)
	case *GetAllChildrenNumberRequest:
		r.Path = JavaString(r.Path)
	case *GetEphemeralsRequest:
		r.PrefixPath = JavaString(r.PrefixPath)
	case *AddWatchRequest:
		r.Path = JavaString(r.Path)
	case *CheckWatchesRequest:
		r.Path = JavaString(r.Path)
	case *RemoveWatchesRequest:
		r.Path = JavaString(r.Path)
	case *SetWatches:
		javaStrings(r.DataWatches)
		javaStrings(r.ExistWatches)
		javaStrings(r.ChildWatches)
	case *SetWatches2:
		javaStrings(r.DataWatches)
		javaStrings(r.ExistWatches)
		javaStrings(r.ChildWatches)
		javaStrings(r.PersistentWatches)
		javaStrings(r.PersistentRecursiveWatches)
	case *ReconfigRequest:
		r.JoiningServers = JavaString(r.JoiningServers)
		r.LeavingServers = JavaString(r.LeavingServers)
		r.NewMembers = JavaString(r.NewMembers)
	case *AuthPacket:
		r.Scheme = JavaString(r.Scheme)
	case *MultiRequest:
		for _, op := range r.Ops {
			ToJavaStrings(op.Op)
		}
	}
}
