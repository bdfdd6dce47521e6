package jute

// Record is implemented by every generated Jute record.
type Record interface {
	// Encode appends the record's encoding to w.
	Encode(w *Writer)
	// Decode reads the record's fields from r; errors are left in r.
	Decode(r *Reader)
	// Size returns the exact encoded size in bytes.
	Size() int
	// Walk reports each field to v in declaration order.
	Walk(v Visitor)
	// JuteName returns the Java class name, e.g. "org.apache.zookeeper.data.Stat".
	JuteName() string
}

// Marshal returns the encoding of rec in a buffer of exactly rec.Size() bytes.
func Marshal(rec Record) []byte {
	w := Writer{b: make([]byte, 0, rec.Size())}
	rec.Encode(&w)
	return w.b
}

// Append appends the encoding of rec to b.
func Append(b []byte, rec Record) []byte {
	w := Writer{b: b}
	rec.Encode(&w)
	return w.b
}

// Unmarshal decodes rec from b with the default limit and requires that all
// of b is consumed.
func Unmarshal(b []byte, rec Record) error {
	r := NewReader(b)
	rec.Decode(&r)
	return r.Finish()
}

// UnmarshalMax is Unmarshal with an explicit length limit.
func UnmarshalMax(b []byte, rec Record, max int) error {
	r := NewReaderMax(b, max)
	rec.Decode(&r)
	return r.Finish()
}

// NullSet records which ustring fields of a record are null: bit i stands for
// the i-th ustring field in declaration order.
type NullSet uint64

// Has reports whether ustring field i is null.
func (n NullSet) Has(i int) bool { return n&(1<<uint(i)) != 0 }

// With returns n with ustring field i marked null (or not).
func (n NullSet) With(i int, null bool) NullSet {
	if null {
		return n | 1<<uint(i)
	}
	return n &^ (1 << uint(i))
}

// Visitor receives a record's fields from Walk. Names are the Java field
// names; vector elements are reported with an empty name.
type Visitor interface {
	Byte(name string, v int8)
	Bool(name string, v bool)
	Int(name string, v int32)
	Long(name string, v int64)
	Float(name string, v float32)
	Double(name string, v float64)
	Buffer(name string, v []byte)
	String(name string, v string, null bool)
	// StartRecord opens a nested record; typ is its Java class name.
	StartRecord(name, typ string)
	EndRecord()
	// StartVector opens a vector of n elements (-1 for null).
	StartVector(name string, n int)
	EndVector()
	// StartMap opens a map of n entries; keys and values alternate.
	StartMap(name string, n int)
	EndMap()
}

// FieldMeta describes one field of a record.
type FieldMeta struct {
	Name string // Java field name
	Type string // Jute type, e.g. "ustring", "vector<org.apache.zookeeper.data.ACL>"
}

// RecordMeta describes a record of the schema.
type RecordMeta struct {
	Name   string      // Java class name
	GoName string      // Go type name
	Fields []FieldMeta // in declaration order
	New    func() Record
}
