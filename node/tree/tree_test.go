package tree

import "testing"

func TestSequenceSuffix(t *testing.T) {
	for n, want := range map[int32]string{0: "0000000000", 42: "0000000042", 2147483647: "2147483647",
		-1: "-000000001", -2147483648: "-2147483648", 1234567890: "1234567890"} {
		if got := SequenceSuffix(n); got != want {
			t.Errorf("SequenceSuffix(%d) = %q, want %q", n, got, want)
		}
	}
}
