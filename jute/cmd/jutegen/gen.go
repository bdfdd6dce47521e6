package main

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
)

// fieldTypes gives a field a named Go type from the target package instead
// of its plain integer type ("Class.field" -> Go type). The named types are
// defined by hand in the target package (wire) and must have the same
// underlying type as the Jute type.
var fieldTypes = map[string]string{
	"Stat.czxid":                  "Zxid",
	"Stat.mzxid":                  "Zxid",
	"Stat.pzxid":                  "Zxid",
	"StatPersisted.czxid":         "Zxid",
	"StatPersisted.mzxid":         "Zxid",
	"StatPersisted.pzxid":         "Zxid",
	"ConnectRequest.lastZxidSeen": "Zxid",
	"ConnectRequest.sessionId":    "SessionID",
	"ConnectResponse.sessionId":   "SessionID",
	"SetWatches.relativeZxid":     "Zxid",
	"SetWatches2.relativeZxid":    "Zxid",
	"RequestHeader.xid":           "Xid",
	"RequestHeader.type":          "OpCode",
	"MultiHeader.type":            "OpCode",
	"MultiHeader.err":             "ErrCode",
	"ReplyHeader.xid":             "Xid",
	"ReplyHeader.zxid":            "Zxid",
	"ReplyHeader.err":             "ErrCode",
	"WatcherEvent.type":           "EventType",
	"WatcherEvent.state":          "KeeperState",
	"ErrorResponse.err":           "ErrCode",
	"QuorumPacket.type":           "PacketType",
	"QuorumPacket.zxid":           "Zxid",
	"TxnHeader.clientId":          "SessionID",
	"TxnHeader.cxid":              "Xid",
	"TxnHeader.zxid":              "Zxid",
	"TxnHeader.type":              "OpCode",
	"Txn.type":                    "OpCode",
	"ErrorTxn.err":                "ErrCode",
	"AddWatchRequest.mode":        "AddWatchMode",
	"CheckWatchesRequest.type":    "WatcherType",
	"RemoveWatchesRequest.type":   "WatcherType",
}

// fieldNames overrides the Go name of a Java field name.
var fieldNames = map[string]string{
	"serverid": "ServerID",
	"authinfo": "AuthInfo",
}

var initialisms = map[string]bool{"id": true, "acl": true, "ttl": true}

func goTypeName(javaName string) string {
	if javaName == "Id" {
		return "ID"
	}
	return javaName
}

func goFieldName(javaName string) string {
	if n, ok := fieldNames[javaName]; ok {
		return n
	}
	var words []string
	start := 0
	rs := []rune(javaName)
	for i := 1; i < len(rs); i++ {
		if unicode.IsUpper(rs[i]) && !unicode.IsUpper(rs[i-1]) {
			words = append(words, string(rs[start:i]))
			start = i
		}
	}
	words = append(words, string(rs[start:]))
	var b strings.Builder
	for _, w := range words {
		if initialisms[strings.ToLower(w)] {
			b.WriteString(strings.ToUpper(w))
			continue
		}
		r := []rune(w)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	return b.String()
}

type generator struct {
	pkg     string
	juteImp string
	classes []*class
	byName  map[string]*class
	buf     bytes.Buffer
	entries []string // generated map entry types
}

func (g *generator) p(format string, args ...any) {
	fmt.Fprintf(&g.buf, format, args...)
	g.buf.WriteByte('\n')
}

func (g *generator) simpleName(full string) string {
	return goTypeName(g.byName[full].name)
}

// goType returns the Go type of t; owner/fname name a map entry type.
func (g *generator) goType(c *class, f field, t *jtype, top bool) string {
	if top {
		if n, ok := fieldTypes[c.name+"."+f.name]; ok {
			return n
		}
	}
	switch t.kind {
	case kByte:
		return "int8"
	case kBool:
		return "bool"
	case kInt:
		return "int32"
	case kLong:
		return "int64"
	case kFloat:
		return "float32"
	case kDouble:
		return "float64"
	case kString:
		return "string"
	case kBuffer:
		return "[]byte"
	case kVector:
		return "[]" + g.goType(c, f, t.elem, false)
	case kMap:
		return "[]" + g.entryName(c, f)
	default:
		return g.simpleName(t.ref)
	}
}

func (g *generator) entryName(c *class, f field) string {
	return goTypeName(c.name) + goFieldName(f.name) + "Entry"
}

// minSize is the smallest encoding of a value of type t.
func (g *generator) minSize(t *jtype) int {
	switch t.kind {
	case kByte, kBool:
		return 1
	case kInt, kFloat, kString, kBuffer, kVector, kMap:
		return 4
	case kLong, kDouble:
		return 8
	default:
		n := 0
		for _, f := range g.byName[t.ref].fields {
			n += g.minSize(f.typ)
		}
		return n
	}
}

// fixedSize reports the size of t if it does not depend on the value.
func (g *generator) fixedSize(t *jtype) (int, bool) {
	switch t.kind {
	case kByte, kBool:
		return 1, true
	case kInt, kFloat:
		return 4, true
	case kLong, kDouble:
		return 8, true
	case kRecord:
		n := 0
		for _, f := range g.byName[t.ref].fields {
			s, ok := g.fixedSize(f.typ)
			if !ok {
				return 0, false
			}
			n += s
		}
		return n, true
	}
	return 0, false
}

var rw = map[kind][2]string{
	kByte:   {"Byte", "int8"},
	kBool:   {"Bool", "bool"},
	kInt:    {"Int", "int32"},
	kLong:   {"Long", "int64"},
	kFloat:  {"Float", "float32"},
	kDouble: {"Double", "float64"},
}

func (g *generator) stringIndex(c *class, name string) int {
	i := 0
	for _, f := range c.fields {
		if f.typ.kind == kString {
			if f.name == name {
				return i
			}
			i++
		}
	}
	return -1
}

func (g *generator) generate() ([]byte, error) {
	g.byName = map[string]*class{}
	for _, c := range g.classes {
		g.byName[c.fullName()] = c
	}
	g.p("// Code generated by jutegen from jute/zookeeper.jute. DO NOT EDIT.")
	g.p("")
	g.p("package %s", g.pkg)
	g.p("")
	g.p("import jute %q", g.juteImp)
	g.p("")
	for _, c := range g.classes {
		if err := g.genClass(c); err != nil {
			return nil, err
		}
	}
	g.genMeta()
	return g.buf.Bytes(), nil
}

func (g *generator) genClass(c *class) error {
	name := goTypeName(c.name)
	nStrings := 0
	for _, f := range c.fields {
		if f.typ.kind == kString {
			nStrings++
		}
		if goFieldName(f.name) == "Nulls" {
			return fmt.Errorf("%s: field name %q clashes with the generated Nulls field", c.fullName(), f.name)
		}
	}
	if nStrings > 64 {
		return fmt.Errorf("%s: more than 64 ustring fields", c.fullName())
	}
	g.p("// %s is the Jute record %s.", name, c.fullName())
	g.p("type %s struct {", name)
	for _, f := range c.fields {
		g.p("\t%s %s // %s %s", goFieldName(f.name), g.goType(c, f, f.typ, true), f.typ, f.name)
	}
	if nStrings > 0 {
		var names []string
		for _, f := range c.fields {
			if f.typ.kind == kString {
				names = append(names, goFieldName(f.name))
			}
		}
		g.p("\t// Nulls marks ustring fields that are null on the wire: bit i is")
		g.p("\t// the i-th ustring field (%s).", strings.Join(names, ", "))
		g.p("\tNulls jute.NullSet")
	}
	g.p("}")
	g.p("")
	for _, f := range c.fields {
		if f.typ.kind == kMap {
			en := g.entryName(c, f)
			g.p("// %s is one entry of %s.%s.", en, name, goFieldName(f.name))
			g.p("type %s struct {", en)
			g.p("\tKey %s", g.goType(c, f, f.typ.elem, false))
			g.p("\tValue %s", g.goType(c, f, f.typ.val, false))
			g.p("}")
			g.p("")
		}
	}
	g.p("// JuteName returns %q.", c.fullName())
	g.p("func (*%s) JuteName() string { return %q }", name, c.fullName())
	g.p("")

	// Size
	g.p("// Size returns the encoded size of r in bytes.")
	fixed := 0
	var dyn []field
	for _, f := range c.fields {
		if s, ok := g.fixedSize(f.typ); ok {
			fixed += s
		} else {
			dyn = append(dyn, f)
		}
	}
	if len(dyn) == 0 {
		g.p("func (r *%s) Size() int { return %d }", name, fixed)
	} else {
		g.p("func (r *%s) Size() int {", name)
		g.p("\tn := %d", fixed)
		for _, f := range dyn {
			g.sizeExpr(f.typ, "r."+goFieldName(f.name), 1)
		}
		g.p("\treturn n")
		g.p("}")
	}
	g.p("")

	// Encode
	g.p("// Encode appends r to w.")
	g.p("func (r *%s) Encode(w *jute.Writer) {", name)
	for _, f := range c.fields {
		g.encode(c, f, f.typ, "r."+goFieldName(f.name), 1, true)
	}
	g.p("}")
	g.p("")

	// Decode
	g.p("// Decode reads r from jr; errors are left in jr.")
	g.p("func (r *%s) Decode(jr *jute.Reader) {", name)
	if nStrings > 0 {
		g.p("\tr.Nulls = 0")
	}
	for _, f := range c.fields {
		g.decode(c, f, f.typ, "r."+goFieldName(f.name), 1, true)
	}
	g.p("}")
	g.p("")

	// Walk
	g.p("// Walk reports r's fields to v in declaration order.")
	g.p("func (r *%s) Walk(v jute.Visitor) {", name)
	for _, f := range c.fields {
		g.walk(c, f, f.typ, "r."+goFieldName(f.name), fmt.Sprintf("%q", f.name), 1, true)
	}
	g.p("}")
	g.p("")
	return nil
}

func ind(depth int) string { return strings.Repeat("\t", depth) }

func (g *generator) sizeExpr(t *jtype, expr string, depth int) {
	in := ind(depth)
	switch t.kind {
	case kString, kBuffer:
		g.p("%sn += 4 + len(%s)", in, expr)
	case kVector:
		g.p("%sn += 4", in)
		if s, ok := g.fixedSize(t.elem); ok {
			g.p("%sn += %d * len(%s)", in, s, expr)
			return
		}
		iv := fmt.Sprintf("i%d", depth)
		g.p("%sfor %s := range %s {", in, iv, expr)
		g.sizeExpr(t.elem, expr+"["+iv+"]", depth+1)
		g.p("%s}", in)
	case kMap:
		g.p("%sn += 4", in)
		iv := fmt.Sprintf("i%d", depth)
		g.p("%sfor %s := range %s {", in, iv, expr)
		if s, ok := g.fixedSize(t.elem); ok {
			g.p("%s\tn += %d", in, s)
		} else {
			g.sizeExpr(t.elem, expr+"["+iv+"].Key", depth+1)
		}
		if s, ok := g.fixedSize(t.val); ok {
			g.p("%s\tn += %d", in, s)
		} else {
			g.sizeExpr(t.val, expr+"["+iv+"].Value", depth+1)
		}
		g.p("%s}", in)
	case kRecord:
		g.p("%sn += %s.Size()", in, expr)
	default:
		s, _ := g.fixedSize(t)
		g.p("%sn += %d", in, s)
	}
}

func (g *generator) encode(c *class, f field, t *jtype, expr string, depth int, top bool) {
	in := ind(depth)
	switch t.kind {
	case kByte, kBool, kInt, kLong, kFloat, kDouble:
		m := rw[t.kind]
		if top {
			if _, ok := fieldTypes[c.name+"."+f.name]; ok {
				g.p("%sw.%s(%s(%s))", in, m[0], m[1], expr)
				return
			}
		}
		g.p("%sw.%s(%s)", in, m[0], expr)
	case kString:
		if top {
			g.p("%sw.OptString(%s, r.Nulls.Has(%d))", in, expr, g.stringIndex(c, f.name))
		} else {
			g.p("%sw.String(%s)", in, expr)
		}
	case kBuffer:
		g.p("%sw.Buffer(%s)", in, expr)
	case kVector:
		iv := fmt.Sprintf("i%d", depth)
		g.p("%sif %s == nil {", in, expr)
		g.p("%s\tw.VectorLen(-1)", in)
		g.p("%s} else {", in)
		g.p("%s\tw.VectorLen(len(%s))", in, expr)
		g.p("%s\tfor %s := range %s {", in, iv, expr)
		g.encode(c, f, t.elem, expr+"["+iv+"]", depth+2, false)
		g.p("%s\t}", in)
		g.p("%s}", in)
	case kMap:
		iv := fmt.Sprintf("i%d", depth)
		g.p("%sw.VectorLen(len(%s))", in, expr)
		g.p("%sfor %s := range %s {", in, iv, expr)
		g.encode(c, f, t.elem, expr+"["+iv+"].Key", depth+1, false)
		g.encode(c, f, t.val, expr+"["+iv+"].Value", depth+1, false)
		g.p("%s}", in)
	case kRecord:
		g.p("%s%s.Encode(w)", in, expr)
	}
}

func (g *generator) decode(c *class, f field, t *jtype, expr string, depth int, top bool) {
	in := ind(depth)
	switch t.kind {
	case kByte, kBool, kInt, kLong, kFloat, kDouble:
		m := rw[t.kind]
		if top {
			if n, ok := fieldTypes[c.name+"."+f.name]; ok {
				g.p("%s%s = %s(jr.%s())", in, expr, n, m[0])
				return
			}
		}
		g.p("%s%s = jr.%s()", in, expr, m[0])
	case kString:
		if top {
			g.p("%s{", in)
			g.p("%s\ts, null := jr.OptString()", in)
			g.p("%s\t%s = s", in, expr)
			g.p("%s\tr.Nulls = r.Nulls.With(%d, null)", in, g.stringIndex(c, f.name))
			g.p("%s}", in)
		} else {
			g.p("%s%s = jr.String()", in, expr)
		}
	case kBuffer:
		g.p("%s%s = jr.Buffer()", in, expr)
	case kVector:
		nv := fmt.Sprintf("n%d", depth)
		iv := fmt.Sprintf("i%d", depth)
		g.p("%sif %s := jr.VectorLen(%d); %s < 0 {", in, nv, g.minSize(t.elem), nv)
		g.p("%s\t%s = nil", in, expr)
		g.p("%s} else {", in)
		g.p("%s\t%s = make(%s, %s)", in, expr, g.goType(c, f, t, false), nv)
		g.p("%s\tfor %s := 0; %s < %s && jr.Err() == nil; %s++ {", in, iv, iv, nv, iv)
		g.decode(c, f, t.elem, expr+"["+iv+"]", depth+2, false)
		g.p("%s\t}", in)
		g.p("%s}", in)
	case kMap:
		nv := fmt.Sprintf("n%d", depth)
		iv := fmt.Sprintf("i%d", depth)
		g.p("%s{", in)
		g.p("%s\t%s := jr.MapLen(%d)", in, nv, g.minSize(t.elem)+g.minSize(t.val))
		g.p("%s\t%s = make(%s, %s)", in, expr, g.goType(c, f, t, false), nv)
		g.p("%s\tfor %s := 0; %s < %s && jr.Err() == nil; %s++ {", in, iv, iv, nv, iv)
		g.decode(c, f, t.elem, expr+"["+iv+"].Key", depth+2, false)
		g.decode(c, f, t.val, expr+"["+iv+"].Value", depth+2, false)
		g.p("%s\t}", in)
		g.p("%s}", in)
	case kRecord:
		g.p("%s%s.Decode(jr)", in, expr)
	}
}

func (g *generator) walk(c *class, f field, t *jtype, expr, name string, depth int, top bool) {
	in := ind(depth)
	switch t.kind {
	case kByte, kBool, kInt, kLong, kFloat, kDouble:
		m := rw[t.kind]
		if top {
			if _, ok := fieldTypes[c.name+"."+f.name]; ok {
				g.p("%sv.%s(%s, %s(%s))", in, m[0], name, m[1], expr)
				return
			}
		}
		g.p("%sv.%s(%s, %s)", in, m[0], name, expr)
	case kString:
		if top {
			g.p("%sv.String(%s, %s, r.Nulls.Has(%d))", in, name, expr, g.stringIndex(c, f.name))
		} else {
			g.p("%sv.String(%s, %s, false)", in, name, expr)
		}
	case kBuffer:
		g.p("%sv.Buffer(%s, %s)", in, name, expr)
	case kVector:
		iv := fmt.Sprintf("i%d", depth)
		g.p("%sif %s == nil {", in, expr)
		g.p("%s\tv.StartVector(%s, -1)", in, name)
		g.p("%s} else {", in)
		g.p("%s\tv.StartVector(%s, len(%s))", in, name, expr)
		g.p("%s\tfor %s := range %s {", in, iv, expr)
		g.walk(c, f, t.elem, expr+"["+iv+"]", `""`, depth+2, false)
		g.p("%s\t}", in)
		g.p("%s}", in)
		g.p("%sv.EndVector()", in)
	case kMap:
		iv := fmt.Sprintf("i%d", depth)
		g.p("%sv.StartMap(%s, len(%s))", in, name, expr)
		g.p("%sfor %s := range %s {", in, iv, expr)
		g.walk(c, f, t.elem, expr+"["+iv+"].Key", `"key"`, depth+1, false)
		g.walk(c, f, t.val, expr+"["+iv+"].Value", `"value"`, depth+1, false)
		g.p("%s}", in)
		g.p("%sv.EndMap()", in)
	case kRecord:
		g.p("%sv.StartRecord(%s, %q)", in, name, t.ref)
		g.p("%s%s.Walk(v)", in, expr)
		g.p("%sv.EndRecord()", in)
	}
}

func (g *generator) genMeta() {
	g.p("// Records lists every record of the schema, in schema order.")
	g.p("var Records = []jute.RecordMeta{")
	for _, c := range g.classes {
		name := goTypeName(c.name)
		g.p("\t{")
		g.p("\t\tName: %q,", c.fullName())
		g.p("\t\tGoName: %q,", name)
		g.p("\t\tFields: []jute.FieldMeta{")
		for _, f := range c.fields {
			g.p("\t\t\t{Name: %q, Type: %q},", f.name, f.typ.String())
		}
		g.p("\t\t},")
		g.p("\t\tNew: func() jute.Record { return new(%s) },", name)
		g.p("\t},")
	}
	g.p("}")
}
