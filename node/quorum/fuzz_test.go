package quorum

import (
	"strings"
	"testing"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// FuzzParseConfigText: configuration texts come from the network (FLE
// notifications, NEWLEADER, reconfig txns). Parsing never panics, and a
// text that parses (with a version that is not negative) renders to one
// that parses back to the same rendering.
// The input is split in two at an arbitrary point and joined by a newline
// or a comma, as newMembers may be.
func FuzzParseConfigText(f *testing.F) {
	for _, c := range java380Configs {
		f.Add(c.text, uint8(0), true)
	}
	f.Add("server.1=[::1]:1:2;[::1]:3\nserver.2=h:3:4:observer;5\ngroup.1=1:2\nweight.2=0\nversion=a", uint8(20), false)
	f.Add("server.1=a:1:2|b:1:2\nversion=-1", uint8(3), true)
	f.Fuzz(func(t *testing.T, text string, cut uint8, comma bool) {
		if int(cut) < len(text) {
			sep := "\n"
			if comma {
				sep = ","
			}
			text = text[:cut] + sep + text[cut:]
		}
		c, err := ParseConfigText(text, false)
		// NB: a negative version renders as Long.toHexString does
		// (ffff...), which Long.parseLong cannot read back, and hosts are
		// not escaped: the same in Java.
		if err == nil && c.Version >= 0 && plainHosts(c) {
			out := c.String()
			c2, err := ParseConfigText(out, false)
			if err != nil {
				t.Fatalf("%q renders %q, which does not parse: %v", text, out, err)
			}
			if out2 := c2.String(); out2 != out {
				t.Fatalf("%q renders %q, then %q", text, out, out2)
			}
			_ = DynamicFileText(out, true)
		}
		_ = StaticFileText(text, "/d", comma)
		_, _ = VersionOf(text)
		// The same text as a reconfig's members, and as joiners.
		r := &wire.ReconfigRequest{NewMembers: strings.ReplaceAll(text, "\n", ","), CurConfigID: -1}
		r.Nulls = jute.NullSet(0).With(0, true).With(1, true)
		cur := mustConfig(t, java380Configs[0].text)
		_, _ = Reconfig(ReconfigState{Current: cur, MyID: 3, Zxid: 7}, r)
		r = &wire.ReconfigRequest{JoiningServers: text, LeavingServers: text, CurConfigID: -1}
		r.Nulls = jute.NullSet(0).With(2, true)
		_, _ = Reconfig(ReconfigState{Current: cur, MyID: 3, Zxid: 7}, r)
	})
}

// plainHosts reports whether every host of c is made of characters that
// Properties reads back as written (a host of blanks or backslashes is not
// re-escaped by toString, in Java either).
func plainHosts(c *Config) bool {
	ok := func(h string) bool {
		for _, r := range h {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_:", r)) {
				return false
			}
		}
		return true
	}
	for _, s := range c.Servers {
		if !ok(s.Host) || !ok(s.ClientHost) {
			return false
		}
	}
	return true
}
