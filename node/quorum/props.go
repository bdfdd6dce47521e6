package quorum

import (
	"strings"
	"unicode/utf16"
)

// Properties is what java.util.Properties.load reads from a config text:
// the keys in the order they first appear, each with its last value.
// Java 3.8 reads zoo.cfg, the dynamic file and a reconfig's newMembers
// with it; Java 17's Properties keeps them in a ConcurrentHashMap, whose
// iteration order decides the line order of the static file Java rewrites
// (JavaOrder).
type Properties struct {
	keys []string
	vals map[string]string
}

// Get returns the value of key.
func (p *Properties) Get(key string) (string, bool) {
	v, ok := p.vals[key]
	return v, ok
}

// Keys returns the keys in the order they were first read.
func (p *Properties) Keys() []string { return append([]string(nil), p.keys...) }

// Map returns the key/value pairs as a map.
func (p *Properties) Map() map[string]string {
	out := make(map[string]string, len(p.vals))
	for k, v := range p.vals {
		out[k] = v
	}
	return out
}

// Set adds or replaces key (a replaced key keeps its place).
func (p *Properties) Set(key, val string) {
	if p.vals == nil {
		p.vals = map[string]string{}
	}
	if _, ok := p.vals[key]; !ok {
		p.keys = append(p.keys, key)
	}
	p.vals[key] = val
}

// Delete removes key.
func (p *Properties) Delete(key string) {
	if _, ok := p.vals[key]; !ok {
		return
	}
	delete(p.vals, key)
	for i, k := range p.keys {
		if k == key {
			p.keys = append(p.keys[:i], p.keys[i+1:]...)
			break
		}
	}
}

// Len is the number of keys.
func (p *Properties) Len() int { return len(p.keys) }

// ParseProperties reads text as Properties.load does: natural lines end
// in \n, \r or \r\n; leading blanks (space, tab, form feed) are skipped;
// lines whose first non-blank is # or ! are comments; a line ending in an
// odd number of backslashes continues on the next one (whose leading
// blanks are dropped); the key ends at the first unescaped '=', ':' or
// blank, after which blanks and one '=' or ':' are skipped; escapes (\t,
// \n, \r, \f, \uXXXX, \c for any other c) are undone in keys and values.
// Trailing blanks of a value are kept, as in Java.
func ParseProperties(text string) *Properties {
	p := &Properties{vals: map[string]string{}}
	lines := naturalLines(text)
	for i := 0; i < len(lines); i++ {
		line := strings.TrimLeft(lines[i], " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		for continues(line) && i+1 < len(lines) {
			line = line[:len(line)-1]
			i++
			line += strings.TrimLeft(lines[i], " \t\f")
		}
		if continues(line) {
			line = line[:len(line)-1] // a continuation at the end of the text
		}
		k, v := splitKeyValue(line)
		p.Set(unescape(k), unescape(v))
	}
	return p
}

func naturalLines(text string) []string {
	var out []string
	start := 0
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '\n':
			out = append(out, text[start:i])
			start = i + 1
		case '\r':
			out = append(out, text[start:i])
			if i+1 < len(text) && text[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

// continues reports whether line ends in an odd number of backslashes.
func continues(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

func splitKeyValue(line string) (string, string) {
	end := len(line)
	sep := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\\' {
			i++
			continue
		}
		if c == '=' || c == ':' {
			end, sep = i, true
			break
		}
		if c == ' ' || c == '\t' || c == '\f' {
			end = i
			break
		}
	}
	key := line[:end]
	rest := line[end:]
	if sep {
		rest = rest[1:]
	} else {
		rest = strings.TrimLeft(rest, " \t\f")
		if rest != "" && (rest[0] == '=' || rest[0] == ':') {
			rest = rest[1:]
		}
	}
	return key, strings.TrimLeft(rest, " \t\f")
}

func unescape(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			var r rune
			n := 0
			for ; n < 4 && i+1+n < len(s); n++ {
				d := unhex(s[i+1+n])
				if d < 0 {
					break
				}
				r = r<<4 | rune(d)
			}
			if n == 4 {
				b.WriteRune(r)
				i += 4
			} else {
				// Java throws "Malformed \uxxxx encoding"; keep the text.
				b.WriteString("\\u")
			}
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// javaStringHash is String.hashCode over the UTF-16 code units of s.
func javaStringHash(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}

// chmNode is one entry of a simulated ConcurrentHashMap bin.
type chmNode struct {
	hash int32
	key  string
	next *chmNode
}

// JavaOrder returns p's keys in the order Java 17 iterates
// Properties.entrySet() after Properties.load put them in this order: a
// ConcurrentHashMap created with capacity 8 (a table of 16 bins, doubled
// when the count reaches three quarters of it), iterated bin by bin, each
// bin in list order. The list order within a bin follows the map's
// resize (ConcurrentHashMap.transfer), which keeps the tail run of a bin
// and reverses the nodes before it.
//
// NB: a bin of 8 nodes makes Java grow the table early (treeifyBin on a
// small table); that needs 8 keys in one of 16 or more bins and is not
// simulated.
func (p *Properties) JavaOrder() []string {
	n := 16
	table := make([]*chmNode, n)
	sizeCtl := n - n>>2
	count := 0
	for _, k := range p.keys {
		h := javaStringHash(k)
		h = (h ^ int32(uint32(h)>>16)) & 0x7fffffff
		i := int(h) & (n - 1)
		node := &chmNode{hash: h, key: k}
		if table[i] == nil {
			table[i] = node
		} else {
			e := table[i]
			for e.next != nil {
				e = e.next
			}
			e.next = node
		}
		count++
		for count >= sizeCtl {
			table = chmTransfer(table)
			sizeCtl = (n << 1) - (n >> 1)
			n <<= 1
		}
	}
	out := make([]string, 0, len(p.keys))
	for _, f := range table {
		for e := f; e != nil; e = e.next {
			out = append(out, e.key)
		}
	}
	return out
}

// chmTransfer is ConcurrentHashMap.transfer for list bins, single-threaded.
func chmTransfer(tab []*chmNode) []*chmNode {
	n := len(tab)
	next := make([]*chmNode, 2*n)
	for i, f := range tab {
		if f == nil {
			continue
		}
		runBit := int(f.hash) & n
		lastRun := f
		for p := f.next; p != nil; p = p.next {
			if b := int(p.hash) & n; b != runBit {
				runBit, lastRun = b, p
			}
		}
		var ln, hn *chmNode
		if runBit == 0 {
			ln = lastRun
		} else {
			hn = lastRun
		}
		for p := f; p != lastRun; p = p.next {
			if int(p.hash)&n == 0 {
				ln = &chmNode{hash: p.hash, key: p.key, next: ln}
			} else {
				hn = &chmNode{hash: p.hash, key: p.key, next: hn}
			}
		}
		next[i], next[i+n] = ln, hn
	}
	return next
}
