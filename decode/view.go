package decode

import (
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// Views of payloads that are not Jute records in Java. Each walks like a
// generated record, with the names Java uses for the values (the fields of
// the class that reads them, or the local variable), so the printers treat
// every part alike.

type fieldKind uint8

const (
	fInt fieldKind = iota
	fLong
	fBool
	fString
	fBuffer
	fRecords // a vector of records (Sub)
)

// Field is one value of a Fields view.
type Field struct {
	Name  string
	kind  fieldKind
	Int   int64
	Str   string
	Bytes []byte
	Sub   []Fields
}

// Fields is a record view built by the decoder.
type Fields struct {
	Name string // Java class (or class.method) the values come from
	F    []Field
}

// JuteName returns the Java name of the view.
func (f *Fields) JuteName() string { return f.Name }

// Walk reports the fields to v as a generated record would.
func (f *Fields) Walk(v jute.Visitor) {
	for i := range f.F {
		x := &f.F[i]
		switch x.kind {
		case fInt:
			v.Int(x.Name, int32(x.Int))
		case fLong:
			v.Long(x.Name, x.Int)
		case fBool:
			v.Bool(x.Name, x.Int != 0)
		case fString:
			v.String(x.Name, x.Str, false)
		case fBuffer:
			v.Buffer(x.Name, x.Bytes)
		case fRecords:
			v.StartVector(x.Name, len(x.Sub))
			for j := range x.Sub {
				v.StartRecord("", x.Sub[j].Name)
				x.Sub[j].Walk(v)
				v.EndRecord()
			}
			v.EndVector()
		}
	}
}

func (f *Fields) int32(name string, v int32) *Fields {
	f.F = append(f.F, Field{Name: name, kind: fInt, Int: int64(v)})
	return f
}

func (f *Fields) long(name string, v int64) *Fields {
	f.F = append(f.F, Field{Name: name, kind: fLong, Int: v})
	return f
}

func (f *Fields) bool(name string, v bool) *Fields {
	x := Field{Name: name, kind: fBool}
	if v {
		x.Int = 1
	}
	f.F = append(f.F, x)
	return f
}

func (f *Fields) str(name, v string) *Fields {
	f.F = append(f.F, Field{Name: name, kind: fString, Str: v})
	return f
}

func (f *Fields) buf(name string, v []byte) *Fields {
	f.F = append(f.F, Field{Name: name, kind: fBuffer, Bytes: v})
	return f
}

func (f *Fields) recs(name string, v []Fields) *Fields {
	f.F = append(f.F, Field{Name: name, kind: fRecords, Sub: v})
	return f
}

func newFields(name string) *Fields { return &Fields{Name: name} }

// notificationView walks an FLE notification in wire order with the field
// names of FastLeaderElection.Notification.
type notificationView struct{ n *wire.Notification }

func (notificationView) JuteName() string {
	return "org.apache.zookeeper.server.quorum.FastLeaderElection.Notification"
}

func (nv notificationView) Walk(v jute.Visitor) {
	n := nv.n
	v.Int("state", int32(n.State))
	v.Long("leader", n.Leader)
	v.Long("zxid", int64(n.Zxid))
	v.Long("electionEpoch", n.ElectionEpoch)
	if n.Layout == 28 {
		return
	}
	v.Long("peerEpoch", n.PeerEpoch)
	v.Int("version", n.Version)
	if n.Layout == 44 && n.Version > 1 {
		v.String("config", string(n.Config), false)
	}
}

// SnapSummary summarises the snapshot stream a leader writes after SNAP
// (spec §4.6): sessions, the ACL cache, the DataTree nodes and the
// "BenWasHere" signature.
type SnapSummary struct {
	Zxid       wire.Zxid `json:"zxid"` // zxid of the SNAP packet
	Sessions   int64     `json:"sessions"`
	ACLEntries int64     `json:"acl_entries"` // entries of the ACL cache
	Nodes      int64     `json:"nodes"`       // nodes, the root included
	Ephemerals int64     `json:"ephemerals"`  // nodes with an owning session
	DataBytes  int64     `json:"data_bytes"`
	Signature  string    `json:"signature"`
	Bytes      int64     `json:"bytes"` // length of the stream on the wire
}

// JuteName names the view after the Java method that writes the stream.
func (*SnapSummary) JuteName() string {
	return "org.apache.zookeeper.server.quorum.LearnerHandler.snapStream"
}

// Walk reports the summary.
func (s *SnapSummary) Walk(v jute.Visitor) {
	v.Long("zxid", int64(s.Zxid))
	v.Int("sessionCount", int32(s.Sessions))
	v.Int("aclCacheSize", int32(s.ACLEntries))
	v.Long("nodeCount", s.Nodes)
	v.Long("ephemeralCount", s.Ephemerals)
	v.Long("dataBytes", s.DataBytes)
	v.String("signature", s.Signature, false)
	v.Long("streamBytes", s.Bytes)
}
