package wire

import (
	"encoding/base64"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zkgo/zkgo/jute"
)

// Record formatting for tools (dumps, the capture decoder): any generated
// record can be printed as compact text or JSON with its Java field names,
// driven by its Walk method (no reflection). Fields that hold zxids and
// session ids are printed in hex, as ZooKeeper's tools do.

// hexFields are fields printed as 0x-prefixed hex.
var hexFields = map[string]bool{
	"zxid": true, "czxid": true, "mzxid": true, "pzxid": true, "lastZxidSeen": true, "relativeZxid": true,
	"sessionId": true, "clientId": true, "ephemeralOwner": true, "serverid": true, "curConfigId": true,
	"configVersion": true, "magic": true,
}

// HexField reports whether a field name is printed in hex.
func HexField(name string) bool { return hexFields[name] }

func hexInt(v int64) string { return "0x" + strconv.FormatUint(uint64(v), 16) }

// printable reports whether b is readable UTF-8 text.
func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r < 0x20 && r != '\n' && r != '\t' && r != '\r' {
			return false
		}
	}
	return true
}

// textVisitor builds "{name=value, ...}".
type textVisitor struct {
	b     strings.Builder
	first []bool
	nulls []bool
}

func (t *textVisitor) sep(name string) {
	n := len(t.first) - 1
	if n >= 0 {
		if !t.first[n] {
			t.b.WriteString(", ")
		}
		t.first[n] = false
	}
	if name != "" {
		t.b.WriteString(name)
		t.b.WriteByte('=')
	}
}

func (t *textVisitor) num(name string, v int64) {
	t.sep(name)
	if hexFields[name] {
		t.b.WriteString(hexInt(v))
	} else {
		t.b.WriteString(strconv.FormatInt(v, 10))
	}
}
func (t *textVisitor) Byte(n string, v int8)  { t.num(n, int64(v)) }
func (t *textVisitor) Int(n string, v int32)  { t.num(n, int64(v)) }
func (t *textVisitor) Long(n string, v int64) { t.num(n, v) }
func (t *textVisitor) Bool(n string, v bool)  { t.sep(n); t.b.WriteString(strconv.FormatBool(v)) }
func (t *textVisitor) Float(n string, v float32) {
	t.sep(n)
	t.b.WriteString(strconv.FormatFloat(float64(v), 'g', -1, 32))
}
func (t *textVisitor) Double(n string, v float64) {
	t.sep(n)
	t.b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
}
func (t *textVisitor) Buffer(n string, v []byte) {
	t.sep(n)
	switch {
	case v == nil:
		t.b.WriteString("null")
	case printable(v):
		t.b.WriteString(strconv.Quote(string(v)))
	default:
		t.b.WriteString("base64:" + base64.StdEncoding.EncodeToString(v))
	}
}
func (t *textVisitor) String(n string, v string, null bool) {
	t.sep(n)
	if null {
		t.b.WriteString("null")
		return
	}
	t.b.WriteString(v)
}
func (t *textVisitor) StartRecord(n, _ string) {
	t.sep(n)
	t.b.WriteByte('{')
	t.first = append(t.first, true)
}
func (t *textVisitor) EndRecord() { t.b.WriteByte('}'); t.first = t.first[:len(t.first)-1] }
func (t *textVisitor) StartVector(n string, c int) {
	t.sep(n)
	t.first = append(t.first, true)
	t.nulls = append(t.nulls, c < 0)
	if c < 0 {
		t.b.WriteString("null")
		return
	}
	t.b.WriteByte('[')
}
func (t *textVisitor) EndVector() {
	null := t.nulls[len(t.nulls)-1]
	t.first, t.nulls = t.first[:len(t.first)-1], t.nulls[:len(t.nulls)-1]
	if !null {
		t.b.WriteByte(']')
	}
}
func (t *textVisitor) StartMap(n string, c int) { t.StartVector(n, c) }
func (t *textVisitor) EndMap()                  { t.EndVector() }

// FormatText renders rec as {field=value, ...}.
func FormatText(rec jute.Record) string {
	var t textVisitor
	t.b.WriteByte('{')
	t.first = []bool{true}
	rec.Walk(&t)
	t.b.WriteByte('}')
	return t.b.String()
}

// jsonVisitor builds a JSON object. Buffers are base64 strings; hex fields
// are "0x..." strings; nulls are null.
type jsonVisitor struct {
	b     []byte
	first []bool
	inArr []bool
	nulls []bool
}

func (j *jsonVisitor) sep(name string) {
	n := len(j.first) - 1
	if n >= 0 {
		if !j.first[n] {
			j.b = append(j.b, ',')
		}
		j.first[n] = false
	}
	if n >= 0 && !j.inArr[n] {
		j.b = strconv.AppendQuote(j.b, name)
		j.b = append(j.b, ':')
	}
}

func (j *jsonVisitor) num(name string, v int64) {
	j.sep(name)
	if hexFields[name] {
		j.b = append(j.b, `"0x`...)
		j.b = strconv.AppendUint(j.b, uint64(v), 16)
		j.b = append(j.b, '"')
		return
	}
	j.b = strconv.AppendInt(j.b, v, 10)
}
func (j *jsonVisitor) Byte(n string, v int8)  { j.num(n, int64(v)) }
func (j *jsonVisitor) Int(n string, v int32)  { j.num(n, int64(v)) }
func (j *jsonVisitor) Long(n string, v int64) { j.num(n, v) }
func (j *jsonVisitor) Bool(n string, v bool)  { j.sep(n); j.b = strconv.AppendBool(j.b, v) }
func (j *jsonVisitor) Float(n string, v float32) {
	j.sep(n)
	j.b = strconv.AppendFloat(j.b, float64(v), 'g', -1, 32)
}
func (j *jsonVisitor) Double(n string, v float64) {
	j.sep(n)
	j.b = strconv.AppendFloat(j.b, v, 'g', -1, 64)
}
func (j *jsonVisitor) Buffer(n string, v []byte) {
	j.sep(n)
	if v == nil {
		j.b = append(j.b, "null"...)
		return
	}
	j.b = append(j.b, '"')
	j.b = base64.StdEncoding.AppendEncode(j.b, v)
	j.b = append(j.b, '"')
}
func (j *jsonVisitor) String(n string, v string, null bool) {
	j.sep(n)
	if null {
		j.b = append(j.b, "null"...)
		return
	}
	j.b = appendJSONString(j.b, v)
}
func (j *jsonVisitor) StartRecord(n, _ string) {
	j.sep(n)
	j.b = append(j.b, '{')
	j.first, j.inArr = append(j.first, true), append(j.inArr, false)
}
func (j *jsonVisitor) EndRecord() {
	j.b = append(j.b, '}')
	j.first, j.inArr = j.first[:len(j.first)-1], j.inArr[:len(j.inArr)-1]
}
func (j *jsonVisitor) StartVector(n string, c int) {
	j.sep(n)
	if c < 0 {
		j.b = append(j.b, "null"...)
		j.first, j.inArr = append(j.first, true), append(j.inArr, true)
		j.nulls = append(j.nulls, true)
		return
	}
	j.b = append(j.b, '[')
	j.first, j.inArr = append(j.first, true), append(j.inArr, true)
	j.nulls = append(j.nulls, false)
}
func (j *jsonVisitor) EndVector() {
	null := j.nulls[len(j.nulls)-1]
	j.nulls = j.nulls[:len(j.nulls)-1]
	j.first, j.inArr = j.first[:len(j.first)-1], j.inArr[:len(j.inArr)-1]
	if !null {
		j.b = append(j.b, ']')
	}
}
func (j *jsonVisitor) StartMap(n string, c int) { j.StartVector(n, c) }
func (j *jsonVisitor) EndMap()                  { j.EndVector() }

// appendJSONString quotes s for JSON (invalid UTF-8 becomes U+FFFD).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[r>>4], "0123456789abcdef"[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

// AppendJSON appends rec as a JSON object.
func AppendJSON(b []byte, rec jute.Record) []byte { return AppendWalkJSON(b, rec) }

// AppendWalkJSON appends the fields rec walks as a JSON object; it
// allocates nothing beyond growing b.
func AppendWalkJSON(b []byte, rec interface{ Walk(jute.Visitor) }) []byte {
	j := jsonVisitor{b: append(b, '{'), first: []bool{true}, inArr: []bool{false}}
	rec.Walk(&j)
	return append(j.b, '}')
}

// AppendJSONString quotes a string for JSON output.
func AppendJSONString(b []byte, s string) []byte { return appendJSONString(b, s) }
