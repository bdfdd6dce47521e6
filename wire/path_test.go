package wire

import "testing"

func TestValidatePath(t *testing.T) {
	ok := []string{"/", "/a", "/a/b", "/a.b", "/..a", "/a..", "/.a/b.", "/é/中", "/a b", "/zookeeper/quota", "/~!@#$%^&*()"}
	bad := []string{"", "a", "/a/", "//", "/a//b", "/.", "/..", "/a/.", "/a/../b", "/a/./b", "/a\x00b", "/a\x01",
		"/a\x7f", "/\u0085", "/\ue000", "/\ufff0", "/\U0001F600", "/\xff", "/a/"}
	for _, p := range ok {
		if err := ValidatePath(p, false); err != nil {
			t.Errorf("%q rejected: %v", p, err)
		}
	}
	for _, p := range bad {
		if err := ValidatePath(p, false); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
	// A sequential create may end in '/': the server appends digits.
	if err := ValidatePath("/a/", true); err != nil {
		t.Errorf("sequential /a/ rejected: %v", err)
	}
	if err := ValidatePath("/a/.", true); err != nil {
		t.Errorf("sequential /a/. rejected: %v", err)
	}
	if ParentPath("/a") != "/" || ParentPath("/a/b/c") != "/a/b" || BaseName("/a/b") != "b" || JoinPath("/", "x") != "/x" || JoinPath("/a", "x") != "/a/x" {
		t.Fatal("path helpers")
	}
}
