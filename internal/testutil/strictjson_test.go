package testutil

import "testing"

func TestStrictJSON(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`{"a":1,"b":"x","c":[1,{"a":2}],"d":{"a":null}}`, true},
		{`{"a":1,"a":2}`, false},
		{`{"level":"info","component":"election","component":"election"}`, false},
		{`{"a":{"b":1,"b":1}}`, false},
		{`[{"a":1},{"a":1,"a":1}]`, false},
		{`{"a":1}{"b":2}`, false},
		{`{"a":1`, false},
		{`not json`, false},
		{`{"a":"\"component\":\"x\"","component":"y"}`, true},
	} {
		if err := StrictJSON([]byte(tc.in)); (err == nil) != tc.ok {
			t.Errorf("StrictJSON(%s) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}
