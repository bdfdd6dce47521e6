package wire

import "testing"

func TestJavaString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/a/b", "/a/b"},
		{"", ""},
		{"/\u00e9t\u00e9/\u4e2d/\u00a0/\uf900", "/\u00e9t\u00e9/\u4e2d/\u00a0/\uf900"},
		// Outside the BMP: two surrogates, three bytes each.
		{"/x/\U0001F600", "/x/\xed\xa0\xbd\xed\xb8\x80"},
		{"\U00010000", "\xed\xa0\x80\xed\xb0\x80"},
		// Malformed input becomes U+FFFD, one per malformed unit.
		{"/\xff", "/\xef\xbf\xbd"},
		{"\xc0\x80", "\xef\xbf\xbd\xef\xbf\xbd"},
		{"\xc3(", "\xef\xbf\xbd("},
		{"\xed\xa0\x80x", "\xef\xbf\xbdx"},                       // an encoded surrogate: one unit of 3
		{"\xe0\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, // overlong
		{"\xe4\xb8(", "\xef\xbf\xbd("},
		{"\xf0\x9f\x98(", "\xef\xbf\xbd("},
		{"\xf5\x80\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
		// A truncated sequence at the end ends the string.
		{"a\xe4\xb8", "a\xef\xbf\xbd"},
		{"a\xc3", "a\xef\xbf\xbd"},
		{"a\xf0\x9f", "a\xef\xbf\xbd"},
		{"a\xf0\x9f\x98", "a\xef\xbf\xbd"},
	} {
		if got := JavaString(tc.in); got != tc.want {
			t.Errorf("JavaString(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestToJavaStrings(t *testing.T) {
	m := &MultiRequest{Ops: []MultiOp{{Type: OpCreate, Op: &CreateRequest{Path: "/\xff",
		ACL: []ACL{{Perms: 31, ID: ID{Scheme: "digest", ID: "\U0001F600:x"}}}}}}}
	ToJavaStrings(m)
	c := m.Ops[0].Op.(*CreateRequest)
	if c.Path != "/\xef\xbf\xbd" || c.ACL[0].ID.ID != "\xed\xa0\xbd\xed\xb8\x80:x" {
		t.Fatalf("got %q %q", c.Path, c.ACL[0].ID.ID)
	}
	var sw SetWatches2
	ToJavaStrings(&sw) // null lists stay null
	if sw.DataWatches != nil {
		t.Fatal("null list became non-null")
	}
}

// FuzzJavaString: never panics, and Java's form holds exactly the UTF-16
// units the JDK decodes from the input. (It is not a fixed point: the JDK's
// decoder reads the surrogates of Java's own encoding as malformed.)
func FuzzJavaString(f *testing.F) {
	for _, s := range []string{"/a", "/\U0001F600", "\xed\xa0\x80", "\xe0\x80", "a\xf0\x9f\x98", "\xc3(\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		j := JavaString(s)
		a, b := JavaUnits(j), javaDecode(s)
		if len(a) != len(b) {
			t.Fatalf("%q: units %v, JDK decodes %v", s, a, b)
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%q: units %v, JDK decodes %v", s, a, b)
			}
		}
		_ = JavaUTF8([]byte(s))
	})
}
