package main

import (
	"fmt"
	"strings"
	"unicode"
)

// The Jute DDL, as zookeeper.jute uses it:
//
//	file   = { module }
//	module = "module" qname "{" { class } "}"
//	class  = "class" ident "{" { field } "}"
//	field  = type ident ";"
//	type   = "byte" | "boolean" | "int" | "long" | "float" | "double"
//	       | "ustring" | "buffer" | "vector" "<" type ">"
//	       | "map" "<" type "," type ">" | qname
//
// Comments are // to end of line and /* ... */.

type kind int

const (
	kByte kind = iota
	kBool
	kInt
	kLong
	kFloat
	kDouble
	kString
	kBuffer
	kVector
	kMap
	kRecord
)

type jtype struct {
	kind kind
	elem *jtype // vector element, map key
	val  *jtype // map value
	ref  string // record: fully qualified Java name (resolved)
}

func (t *jtype) String() string {
	switch t.kind {
	case kByte:
		return "byte"
	case kBool:
		return "boolean"
	case kInt:
		return "int"
	case kLong:
		return "long"
	case kFloat:
		return "float"
	case kDouble:
		return "double"
	case kString:
		return "ustring"
	case kBuffer:
		return "buffer"
	case kVector:
		return "vector<" + t.elem.String() + ">"
	case kMap:
		return "map<" + t.elem.String() + "," + t.val.String() + ">"
	default:
		return t.ref
	}
}

type field struct {
	name string
	typ  *jtype
}

type class struct {
	module string
	name   string
	fields []field
}

func (c *class) fullName() string { return c.module + "." + c.name }

type token struct {
	text string
	line int
}

func lex(src string) ([]token, error) {
	var toks []token
	line := 1
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated comment", line)
			}
			line += strings.Count(src[i:i+2+end], "\n")
			i += end + 4
		case strings.ContainsRune("{}<>,;", rune(c)):
			toks = append(toks, token{string(c), line})
			i++
		case c == '_' || unicode.IsLetter(rune(c)):
			j := i
			for j < len(src) && (src[j] == '_' || src[j] == '.' || unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j]))) {
				j++
			}
			toks = append(toks, token{src[i:j], line})
			i = j
		default:
			return nil, fmt.Errorf("line %d: unexpected character %q", line, c)
		}
	}
	return toks, nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].text
	}
	return ""
}

func (p *parser) line() int {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].line
	}
	if len(p.toks) > 0 {
		return p.toks[len(p.toks)-1].line
	}
	return 0
}

func (p *parser) next() string {
	t := p.peek()
	p.pos++
	return t
}

func (p *parser) expect(s string) error {
	if got := p.next(); got != s {
		return fmt.Errorf("line %d: expected %q, got %q", p.line(), s, got)
	}
	return nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r == '.' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))) {
			return false
		}
	}
	return true
}

func parse(src string) ([]*class, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	var classes []*class
	for p.peek() != "" {
		if err := p.expect("module"); err != nil {
			return nil, err
		}
		mod := p.next()
		if !isIdent(mod) {
			return nil, fmt.Errorf("line %d: bad module name %q", p.line(), mod)
		}
		if err := p.expect("{"); err != nil {
			return nil, err
		}
		for p.peek() != "}" {
			c, err := p.class(mod)
			if err != nil {
				return nil, err
			}
			classes = append(classes, c)
		}
		p.next()
	}
	return classes, resolve(classes)
}

func (p *parser) class(mod string) (*class, error) {
	if err := p.expect("class"); err != nil {
		return nil, err
	}
	c := &class{module: mod, name: p.next()}
	if !isIdent(c.name) || strings.Contains(c.name, ".") {
		return nil, fmt.Errorf("line %d: bad class name %q", p.line(), c.name)
	}
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	for p.peek() != "}" {
		if p.peek() == "" {
			return nil, fmt.Errorf("line %d: unexpected end of file in class %s", p.line(), c.name)
		}
		t, err := p.typ()
		if err != nil {
			return nil, err
		}
		name := p.next()
		if !isIdent(name) || strings.Contains(name, ".") {
			return nil, fmt.Errorf("line %d: bad field name %q", p.line(), name)
		}
		if err := p.expect(";"); err != nil {
			return nil, err
		}
		c.fields = append(c.fields, field{name: name, typ: t})
	}
	p.next()
	return c, nil
}

func (p *parser) typ() (*jtype, error) {
	t := p.next()
	switch t {
	case "byte":
		return &jtype{kind: kByte}, nil
	case "boolean":
		return &jtype{kind: kBool}, nil
	case "int":
		return &jtype{kind: kInt}, nil
	case "long":
		return &jtype{kind: kLong}, nil
	case "float":
		return &jtype{kind: kFloat}, nil
	case "double":
		return &jtype{kind: kDouble}, nil
	case "ustring":
		return &jtype{kind: kString}, nil
	case "buffer":
		return &jtype{kind: kBuffer}, nil
	case "vector":
		if err := p.expect("<"); err != nil {
			return nil, err
		}
		e, err := p.typ()
		if err != nil {
			return nil, err
		}
		return &jtype{kind: kVector, elem: e}, p.expect(">")
	case "map":
		if err := p.expect("<"); err != nil {
			return nil, err
		}
		k, err := p.typ()
		if err != nil {
			return nil, err
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
		v, err := p.typ()
		if err != nil {
			return nil, err
		}
		return &jtype{kind: kMap, elem: k, val: v}, p.expect(">")
	}
	if !isIdent(t) {
		return nil, fmt.Errorf("line %d: bad type %q", p.line(), t)
	}
	return &jtype{kind: kRecord, ref: t}, nil
}

// resolve turns record references into fully qualified names: an
// unqualified name refers to a class of the same module.
func resolve(classes []*class) error {
	byName := map[string]*class{}
	for _, c := range classes {
		if byName[c.fullName()] != nil {
			return fmt.Errorf("class %s defined twice", c.fullName())
		}
		byName[c.fullName()] = c
	}
	var fix func(c *class, t *jtype) error
	fix = func(c *class, t *jtype) error {
		switch t.kind {
		case kVector:
			return fix(c, t.elem)
		case kMap:
			if err := fix(c, t.elem); err != nil {
				return err
			}
			return fix(c, t.val)
		case kRecord:
			if !strings.Contains(t.ref, ".") {
				t.ref = c.module + "." + t.ref
			}
			if byName[t.ref] == nil {
				return fmt.Errorf("%s: unknown record type %s", c.fullName(), t.ref)
			}
		}
		return nil
	}
	for _, c := range classes {
		for _, f := range c.fields {
			if err := fix(c, f.typ); err != nil {
				return err
			}
		}
	}
	// A record may only refer to records defined before it, so the
	// minimum-size computation and Go's type ordering stay simple.
	seen := map[string]bool{}
	var check func(t *jtype) bool
	check = func(t *jtype) bool {
		switch t.kind {
		case kVector:
			return check(t.elem)
		case kMap:
			return check(t.elem) && check(t.val)
		case kRecord:
			return seen[t.ref]
		}
		return true
	}
	for _, c := range classes {
		for _, f := range c.fields {
			if !check(f.typ) {
				return fmt.Errorf("%s.%s refers to a record not defined before it", c.fullName(), f.name)
			}
		}
		seen[c.fullName()] = true
	}
	return nil
}
