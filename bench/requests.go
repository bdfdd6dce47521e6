package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// Op is a load-generator operation.
type Op uint8

// Operations of the load generator.
const (
	OpGet       Op = iota // getData of a random hot key
	OpExists              // exists of a random hot key
	OpChildren            // getChildren2 of a parent with Tree.Children children
	OpSet                 // setData of a random hot key
	OpCreate              // create, persistent, unique path
	OpCreateSeq           // create, persistent sequential
	OpCreateEph           // create, ephemeral, unique path
	OpDelete              // delete of a node this connection created (else a create)
	OpMulti               // multi: check + setData + create
	numOps
)

var opNames = [numOps]string{"get", "exists", "children", "set", "create", "createseq", "createeph", "delete", "multi"}

func (o Op) String() string {
	if o < numOps {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// IsWrite reports whether o changes the tree.
func (o Op) IsWrite() bool { return o >= OpSet }

// ParseOp parses an operation name.
func ParseOp(s string) (Op, error) {
	for i, n := range opNames {
		if n == s {
			return Op(i), nil
		}
	}
	return 0, fmt.Errorf("bench: unknown op %q (have %v)", s, opNames)
}

// Layout of the benchmark tree under Tree.Root:
//
//	<root>/k/0000000 ...   hot keys (Keys of them, Size bytes each)
//	<root>/kids/c000 ...   Children children for getChildren2
//	<root>/c, /s, /e, /m   parents of creates, sequential, ephemeral, multi creates
const (
	dirKeys  = "/k/"
	dirKids  = "/kids"
	dirCre   = "/c"
	dirSeq   = "/s"
	dirEph   = "/e"
	dirMulti = "/m"
)

// Tree describes the data a workload runs against.
type Tree struct {
	Root     string // default /zkbench
	Keys     int    // hot keys (default 1000)
	Size     int    // payload bytes of keys, sets and creates (default 1024)
	Children int    // children of <root>/kids (default 10)
}

func (t Tree) withDefaults() Tree {
	if t.Root == "" {
		t.Root = "/zkbench"
	}
	if t.Keys <= 0 {
		t.Keys = 1000
	}
	if t.Size < 0 {
		t.Size = 0
	}
	if t.Children < 0 {
		t.Children = 0
	}
	return t
}

func (t Tree) keyPath(i int) string { return fmt.Sprintf("%s%s%07d", t.Root, dirKeys, i) }

// openACL is ZooDefs.Ids.OPEN_ACL_UNSAFE.
var openACL = []wire.ACL{{Perms: int32(wire.PermAll), ID: wire.ID{Scheme: "world", ID: "anyone"}}}

// Create flags (CreateMode).
const (
	flagEphemeral  = 1
	flagSequential = 2
)

// seqMarker is the fixed-width placeholder patched with a counter in the
// unique-path templates.
const seqMarker = "9999999999"

// template is a pre-encoded request; the xid is patched at offset 4 and,
// for unique-path requests, the counter at seqOff.
type template struct {
	b      []byte
	seqOff int // -1: no counter
}

func newTemplate(op wire.OpCode, rec jute.Record) template {
	b := wire.AppendRequest(nil, wire.RequestHeader{Xid: 0, Type: op}, rec)
	t := template{b: b, seqOff: -1}
	if i := bytes.Index(b, []byte(seqMarker)); i >= 0 {
		t.seqOff = i
	}
	return t
}

// append appends the request with xid and counter seq.
func (t *template) append(dst []byte, xid int32, seq uint64) []byte {
	off := len(dst)
	dst = append(dst, t.b...)
	binary.BigEndian.PutUint32(dst[off+4:], uint32(xid))
	if t.seqOff >= 0 {
		putDigits(dst[off+t.seqOff:off+t.seqOff+len(seqMarker)], seq)
	}
	return dst
}

// putDigits writes v as zero-padded decimal filling d.
func putDigits(d []byte, v uint64) {
	for i := len(d) - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
}

// requestSet holds the templates of one connection.
type requestSet struct {
	get, exists, set []template // one per hot key
	children         template
	create, seq, eph template
	del              template
	multi            []template // per hot key (check+set on the key, create unique)
}

// newRequestSet encodes every request a connection may send. prefix makes
// the unique paths of this connection distinct from every other's.
func newRequestSet(t Tree, prefix string, mix Mix) *requestSet {
	rs := &requestSet{}
	data := make([]byte, t.Size)
	for i := range data {
		data[i] = 'a' + byte(i%26)
	}
	uses := mix.uses()
	if uses[OpGet] || uses[OpExists] || uses[OpSet] || uses[OpMulti] {
		for i := 0; i < t.Keys; i++ {
			p := t.keyPath(i)
			if uses[OpGet] {
				rs.get = append(rs.get, newTemplate(wire.OpGetData, &wire.GetDataRequest{Path: p}))
			}
			if uses[OpExists] {
				rs.exists = append(rs.exists, newTemplate(wire.OpExists, &wire.ExistsRequest{Path: p}))
			}
			if uses[OpSet] {
				rs.set = append(rs.set, newTemplate(wire.OpSetData, &wire.SetDataRequest{Path: p, Data: data, Version: -1}))
			}
			if uses[OpMulti] {
				m := &wire.MultiRequest{Ops: []wire.MultiOp{
					{Type: wire.OpCheck, Op: &wire.CheckVersionRequest{Path: p, Version: -1}},
					{Type: wire.OpSetData, Op: &wire.SetDataRequest{Path: p, Data: data, Version: -1}},
					{Type: wire.OpCreate, Op: &wire.CreateRequest{Path: t.Root + dirMulti + "/" + prefix + seqMarker, Data: data, ACL: openACL}},
				}}
				rs.multi = append(rs.multi, newTemplate(wire.OpMulti, m))
			}
		}
	}
	rs.children = newTemplate(wire.OpGetChildren2, &wire.GetChildren2Request{Path: t.Root + dirKids})
	rs.create = newTemplate(wire.OpCreate, &wire.CreateRequest{Path: t.Root + dirCre + "/" + prefix + seqMarker, Data: data, ACL: openACL})
	rs.seq = newTemplate(wire.OpCreate, &wire.CreateRequest{Path: t.Root + dirSeq + "/" + prefix, Data: data, ACL: openACL, Flags: flagSequential})
	rs.eph = newTemplate(wire.OpCreate, &wire.CreateRequest{Path: t.Root + dirEph + "/" + prefix + seqMarker, Data: data, ACL: openACL, Flags: flagEphemeral})
	rs.del = newTemplate(wire.OpDelete, &wire.DeleteRequest{Path: t.Root + dirCre + "/" + prefix + seqMarker, Version: -1})
	return rs
}

// Setup creates the benchmark tree (idempotent: existing nodes are kept)
// and resets the hot keys' data to t.Size bytes.
func Setup(addr string, t Tree) error {
	t = t.withDefaults()
	c, err := dial(addr, 30000)
	if err != nil {
		return err
	}
	defer c.closeSession(5 * time.Second)
	data := make([]byte, t.Size)
	for i := range data {
		data[i] = 'a' + byte(i%26)
	}
	var paths []string
	for _, d := range []string{"", dirCre, dirSeq, dirEph, dirMulti, dirKids, dirKeys[:len(dirKeys)-1]} {
		paths = append(paths, t.Root+d)
	}
	for i := 0; i < t.Children; i++ {
		paths = append(paths, fmt.Sprintf("%s%s/c%03d", t.Root, dirKids, i))
	}
	// Parents first, one by one; then the keys pipelined.
	xid := wire.Xid(1)
	for _, p := range paths {
		h, _, err := c.do(xid, wire.OpCreate, &wire.CreateRequest{Path: p, ACL: openACL})
		xid++
		if err != nil {
			return err
		}
		if h.Err != wire.ErrOk && h.Err != wire.ErrNodeExists {
			return fmt.Errorf("bench: setup create %s: %w", p, h.Err)
		}
	}
	var buf []byte
	const window = 256
	sent, recv := 0, 0
	for recv < t.Keys {
		buf = buf[:0]
		for sent < t.Keys && sent-recv < window {
			buf = wire.AppendRequest(buf, wire.RequestHeader{Xid: xid, Type: wire.OpCreate},
				&wire.CreateRequest{Path: t.keyPath(sent), Data: data, ACL: openACL})
			xid++
			sent++
		}
		if len(buf) > 0 {
			if _, err := c.nc.Write(buf); err != nil {
				return err
			}
		}
		h, err := c.readReply()
		if err != nil {
			return err
		}
		if h.Err != wire.ErrOk && h.Err != wire.ErrNodeExists {
			return fmt.Errorf("bench: setup create key: %w", h.Err)
		}
		recv++
	}
	return nil
}
