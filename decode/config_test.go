package decode

import "testing"

func TestConfigVersion(t *testing.T) {
	for _, tc := range []struct {
		text string
		want int64
		ok   bool
	}{
		{"server.1=127.0.0.1:1:2:participant\nversion=100000000", 0x100000000, true},
		{"server.1=a:1:2:participant\nversion=0", 0, true},
		{"version=20000000e", 0x20000000e, true},
		{"version=ffffffffffffffff", -1, true},
		{"server.1=a:1:2\n", 0, false},
		{"server.1=a:1:2\nxversion=1", 0, false},
		{"version=", 0, false},
		{"version=zz", 0, false},
		{"version=10000000000000000", 0, false},
		{"", 0, false},
	} {
		v, ok := configVersion([]byte(tc.text))
		if v != tc.want || ok != tc.ok {
			t.Errorf("%q: %#x %v, want %#x %v", tc.text, v, ok, tc.want, tc.ok)
		}
	}
}
