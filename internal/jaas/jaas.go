// Package jaas reads JAAS login configuration files (the syntax of Java's
// default ConfigFile), as ZooKeeper deployments write them for SASL:
//
//	Server {
//	    org.apache.zookeeper.server.auth.DigestLoginModule required
//	    user_bob="bobsecret";
//	};
package jaas

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Module is one login module entry of a section.
type Module struct {
	Class   string
	Flag    string // required, requisite, sufficient, optional
	Options map[string]string
}

// Config maps section names to their modules.
type Config map[string][]Module

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("jaas: syntax error")

// ReadFile reads and parses a JAAS file.
func ReadFile(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("jaas: %w", err)
	}
	c, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

type token struct {
	s      string
	quoted bool
	line   int
}

func tokenize(src string) ([]token, error) {
	var out []token
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
				return nil, fmt.Errorf("%w: line %d: unterminated comment", ErrSyntax, line)
			}
			line += strings.Count(src[i:i+2+end], "\n")
			i += end + 4
		case c == '{' || c == '}' || c == ';' || c == '=':
			out = append(out, token{s: string(c), line: line})
			i++
		case c == '"':
			var b strings.Builder
			i++
			closed := false
			for i < len(src) {
				ch := src[i]
				i++
				if ch == '\\' && i < len(src) {
					b.WriteByte(src[i])
					i++
					continue
				}
				if ch == '"' {
					closed = true
					break
				}
				if ch == '\n' {
					line++
				}
				b.WriteByte(ch)
			}
			if !closed {
				return nil, fmt.Errorf("%w: line %d: unterminated string", ErrSyntax, line)
			}
			out = append(out, token{s: b.String(), quoted: true, line: line})
		default:
			j := i
			for j < len(src) && !strings.ContainsRune(" \t\r\n{};=\"", rune(src[j])) {
				j++
			}
			out = append(out, token{s: src[i:j], line: line})
			i = j
		}
	}
	return out, nil
}

// Parse parses JAAS configuration text.
func Parse(src string) (Config, error) {
	toks, err := tokenize(src)
	if err != nil {
		return nil, err
	}
	c := Config{}
	i := 0
	next := func() (token, bool) {
		if i >= len(toks) {
			return token{}, false
		}
		i++
		return toks[i-1], true
	}
	expect := func(s string) error {
		t, ok := next()
		if !ok || t.quoted || t.s != s {
			return fmt.Errorf("%w: line %d: expected %q, got %q", ErrSyntax, t.line, s, t.s)
		}
		return nil
	}
	for i < len(toks) {
		name, _ := next()
		if name.quoted || len(name.s) == 1 && strings.Contains("{};=", name.s) {
			return nil, fmt.Errorf("%w: line %d: expected a section name, got %q", ErrSyntax, name.line, name.s)
		}
		if err := expect("{"); err != nil {
			return nil, err
		}
		var mods []Module
		for {
			t, ok := next()
			if !ok {
				return nil, fmt.Errorf("%w: section %s not closed", ErrSyntax, name.s)
			}
			if !t.quoted && t.s == "}" {
				break
			}
			flag, ok := next()
			if !ok || flag.quoted {
				return nil, fmt.Errorf("%w: line %d: module %s needs a flag", ErrSyntax, t.line, t.s)
			}
			switch strings.ToLower(flag.s) {
			case "required", "requisite", "sufficient", "optional":
			default:
				return nil, fmt.Errorf("%w: line %d: bad flag %q for %s", ErrSyntax, flag.line, flag.s, t.s)
			}
			m := Module{Class: t.s, Flag: strings.ToLower(flag.s), Options: map[string]string{}}
			for {
				k, ok := next()
				if !ok {
					return nil, fmt.Errorf("%w: module %s not ended with ';'", ErrSyntax, m.Class)
				}
				if !k.quoted && k.s == ";" {
					break
				}
				if err := expect("="); err != nil {
					return nil, err
				}
				v, ok := next()
				if !ok {
					return nil, fmt.Errorf("%w: option %s has no value", ErrSyntax, k.s)
				}
				m.Options[k.s] = v.s
			}
			mods = append(mods, m)
		}
		if err := expect(";"); err != nil {
			return nil, err
		}
		c[name.s] = append(c[name.s], mods...)
	}
	return c, nil
}
