package zab

import (
	"bytes"
	"runtime"
	"slices"
	"testing"
	"weak"

	"github.com/zkgo/zkgo/wire"
)

func entry(z wire.Zxid, path string) *wire.TxnEntry {
	return &wire.TxnEntry{Hdr: wire.TxnHeader{ClientID: 1, Cxid: 1, Zxid: z, Time: 1, Type: wire.OpCreate},
		Body: &wire.CreateTxn{Path: path, Data: []byte("x")}}
}

func zxids(cs []Committed) []wire.Zxid {
	var out []wire.Zxid
	for _, c := range cs {
		out = append(out, c.Zxid)
	}
	return out
}

func TestCommittedLog(t *testing.T) {
	span := func(from, to wire.Zxid) []wire.Zxid {
		var out []wire.Zxid
		for z := from; z <= to; z++ {
			out = append(out, z)
		}
		return out
	}
	for _, tc := range []struct {
		name          string
		limit         int
		add           []wire.Zxid
		window        []wire.Zxid
		minC, maxC    wire.Zxid
		lastProcessed wire.Zxid
	}{
		{"empty: both bounds are the last processed zxid", 3, nil, nil, 0x500000007, 0x500000007, 0x500000007},
		{"under the limit", 3, []wire.Zxid{1, 2}, []wire.Zxid{1, 2}, 1, 2, 9},
		{"at the limit", 3, []wire.Zxid{1, 2, 3}, []wire.Zxid{1, 2, 3}, 1, 3, 9},
		{"past the limit: the newest limit", 3, span(1, 5), span(3, 5), 3, 5, 9},
		{"long past the limit (trimmed)", 3, span(1, 20), span(18, 20), 18, 20, 20},
		{"an old or repeated zxid is ignored", 3, []wire.Zxid{1, 2, 2, 1, 3}, []wire.Zxid{1, 2, 3}, 1, 3, 3},
		{"across epochs", 2, []wire.Zxid{0x100000009, 0x200000001, 0x200000002}, []wire.Zxid{0x200000001, 0x200000002}, 0x200000001, 0x200000002, 0},
		{"the zero value keeps 500", 0, span(1, 1200), span(701, 1200), 701, 1200, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCommittedLog(tc.limit)
			for _, z := range tc.add {
				c.Add(entry(z, "/n"), nil)
			}
			if got := zxids(c.Window()); !slices.Equal(got, tc.window) {
				t.Errorf("Window = %v, want %v", got, tc.window)
			}
			if minC, maxC := c.Bounds(tc.lastProcessed); minC != tc.minC || maxC != tc.maxC {
				t.Errorf("Bounds = %v, %v; want %v, %v", minC, maxC, tc.minC, tc.maxC)
			}
		})
	}
}

func TestCommittedLogKeepsCopiesAndEncodes(t *testing.T) {
	var c CommittedLog
	e := entry(0x100000001, "/a")
	given := []byte("given")
	c.Add(e, given)
	e2 := entry(0x100000002, "/b")
	c.Add(e2, nil)
	e.Hdr.Zxid, e2.Hdr.Cxid = 0x100000099, 42 // the caller reuses its entries
	w := c.Window()
	if w[0].Entry == e || w[0].Entry.Hdr.Zxid != 0x100000001 || w[1].Entry.Hdr.Cxid != 1 {
		t.Fatal("the log shares the caller's entries")
	}
	if !bytes.Equal(w[0].Data(), given) {
		t.Fatalf("Data = %q, want the encoding given to Add", w[0].Data())
	}
	if want := wire.AppendTxnEntry(nil, entry(0x100000002, "/b")); !bytes.Equal(w[1].Data(), want) {
		t.Fatal("Data is not the PROPOSAL encoding of the txn")
	}
	c.Reset([]*wire.TxnEntry{entry(0x300000001, "/x"), entry(0x300000002, "/y")})
	if got := zxids(c.Window()); !slices.Equal(got, []wire.Zxid{0x300000001, 0x300000002}) {
		t.Fatalf("after Reset: %v", got)
	}
}

// TestCommittedLogHoldsOnlyTheLimit: the log keeps no more than its limit
// of txns alive (Java's committedLog keeps commitLogCount), not up to
// twice as many until an amortized trim: a txn that falls out of the
// window is garbage at once. In the 1M-znode memory bench each txn is a
// multi of 100 creates, and the extra half-window was about 9 MB.
func TestCommittedLogHoldsOnlyTheLimit(t *testing.T) {
	c := NewCommittedLog(3)
	var first []weak.Pointer[wire.TxnEntry]
	for z := wire.Zxid(1); z <= 40; z++ {
		c.Add(entry(z, "/n"), []byte("data"))
		if z <= 37 {
			first = append(first, weak.Make(c.entries[len(c.entries)-1].Entry))
		}
		if len(c.entries) > 3 {
			t.Fatalf("after %v: %d entries held, want at most 3", z, len(c.entries))
		}
	}
	runtime.GC()
	for i, wp := range first {
		if wp.Value() != nil {
			t.Fatalf("txn %d is still reachable after leaving the window", i+1)
		}
	}
	if got := zxids(c.Window()); !slices.Equal(got, []wire.Zxid{38, 39, 40}) {
		t.Fatalf("Window = %v", got)
	}
}
