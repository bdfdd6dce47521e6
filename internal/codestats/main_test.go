package main

import (
	"slices"
	"testing"
)

func TestMeasure(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	st, err := measure("./testdata/cyc", "T", true)
	if err != nil {
		t.Fatal(err)
	}
	if st.fields != 3 || st.methods != 3 || st.methodFiles != 3 {
		t.Errorf("T: %d fields, %d methods in %d files; want 3, 3, 3", st.fields, st.methods, st.methodFiles)
	}
	if st.files != 3 || st.lines != 21 {
		t.Errorf("%d files, %d lines; want 3, 21", st.files, st.lines)
	}
	// a -> b (B), a -> c (helperC); b -> c (C); c -> b (helperB).
	want := [][2]string{{"b.go", "c.go"}}
	if !slices.Equal(st.mutual, want) {
		t.Errorf("mutual pairs %v, want %v", st.mutual, want)
	}
	if len(st.sccs) != 1 || !slices.Equal(st.sccs[0], []string{"b.go", "c.go"}) {
		t.Errorf("cycles %v, want [[b.go c.go]]", st.sccs)
	}
}
