package wire

import (
	"errors"

	"github.com/zkgo/zkgo/jute"
)

// ErrUnknownTxnType means a txn header named a type Java cannot read.
var ErrUnknownTxnType = errors.New("wire: unknown txn type")

// NewTxnRecord returns an empty body record for a top-level txn of type t
// (SerializeUtils.deserializeTxn). ok=false for types Java rejects.
func NewTxnRecord(t OpCode) (jute.Record, bool) {
	switch t {
	case OpCreate, OpCreate2:
		return new(CreateTxn), true
	case OpCreateContainer:
		return new(CreateContainerTxn), true
	case OpCreateTTL:
		return new(CreateTTLTxn), true
	case OpDelete, OpDeleteContainer:
		return new(DeleteTxn), true
	case OpSetData, OpReconfig:
		return new(SetDataTxn), true
	case OpSetACL:
		return new(SetACLTxn), true
	case OpMulti:
		return new(MultiTxn), true
	case OpCreateSession:
		return new(CreateSessionTxn), true
	case OpCloseSession:
		return new(CloseSessionTxn), true
	case OpError:
		return new(ErrorTxn), true
	}
	return nil, false
}

// NewSubTxnRecord returns an empty record for one Txn of a MultiTxn
// (DataTree.processTxn's multi branch).
func NewSubTxnRecord(t OpCode) (jute.Record, bool) {
	switch t {
	case OpCreate, OpCreate2:
		return new(CreateTxn), true
	case OpCreateTTL:
		return new(CreateTTLTxn), true
	case OpCreateContainer:
		return new(CreateContainerTxn), true
	case OpDelete, OpDeleteContainer:
		return new(DeleteTxn), true
	case OpSetData:
		return new(SetDataTxn), true
	case OpCheck:
		return new(CheckVersionTxn), true
	case OpError:
		return new(ErrorTxn), true
	}
	return nil, false
}

// TxnDigestVersion is the digest version Java 3.6+ writes.
const TxnDigestVersion = 2

// TxnEntry is one transaction as carried in a PROPOSAL and stored in the txn
// log: TxnHeader ++ body ++ optional TxnDigest (spec §6.1).
type TxnEntry struct {
	Hdr TxnHeader
	// Body is the txn record; nil for a closeSession written without a
	// CloseSessionTxn (pre-3.6 style).
	Body jute.Record
	// Digest is present when the writer appended a TxnDigest.
	Digest *TxnDigest
}

// Size returns the encoded size.
func (e *TxnEntry) Size() int {
	n := e.Hdr.Size()
	if e.Body != nil {
		n += e.Body.Size()
	}
	if e.Digest != nil {
		n += e.Digest.Size()
	}
	return n
}

// AppendTxnEntry appends the encoding of e to b.
func AppendTxnEntry(b []byte, e *TxnEntry) []byte {
	w := jute.NewWriter(b)
	e.Hdr.Encode(w)
	if e.Body != nil {
		e.Body.Encode(w)
	}
	if e.Digest != nil {
		e.Digest.Encode(w)
	}
	return w.Bytes()
}

// DecodeTxnEntry decodes a txn entry the way Java 3.8 does: a create whose
// body ends early is read as CreateTxnV0 (parentCVersion -1), a
// closeSession with no body has a nil Body, a missing TxnDigest leaves Digest
// nil, and trailing bytes after the digest are ignored.
func DecodeTxnEntry(b []byte, max int) (TxnEntry, error) {
	var e TxnEntry
	r := jute.NewReaderMax(b, max)
	e.Hdr.Decode(&r)
	if err := r.Err(); err != nil {
		return e, err
	}
	body, ok := NewTxnRecord(e.Hdr.Type)
	if !ok {
		return e, ErrUnknownTxnType
	}
	start := r.Offset()
	if e.Hdr.Type == OpCloseSession && r.Remaining() == 0 {
		return e, nil
	}
	body.Decode(&r)
	if err := r.Err(); err != nil {
		if !isShort(err) {
			return e, err
		}
		switch e.Hdr.Type {
		case OpCreate:
			r2 := jute.NewReaderMax(b[start:], max)
			var v0 CreateTxnV0
			v0.Decode(&r2)
			if err := r2.Err(); err != nil {
				return e, err
			}
			e.Body = &CreateTxn{Path: v0.Path, Data: v0.Data, ACL: v0.ACL, Ephemeral: v0.Ephemeral, ParentCVersion: -1, Nulls: v0.Nulls}
			return e, nil
		case OpCloseSession:
			return e, nil
		}
		return e, err
	}
	e.Body = body
	if r.Remaining() >= 12 {
		var d TxnDigest
		d.Decode(&r)
		e.Digest = &d
	}
	return e, nil
}

// DecodeSubTxns decodes the bodies of a MultiTxn's Txns.
func DecodeSubTxns(m *MultiTxn, max int) ([]jute.Record, error) {
	out := make([]jute.Record, len(m.Txns))
	for i, t := range m.Txns {
		rec, ok := NewSubTxnRecord(t.Type)
		if !ok {
			return nil, ErrUnknownTxnType
		}
		if err := jute.UnmarshalMax(t.Data, rec, max); err != nil {
			// Java reads sub-records from a stream and ignores trailing bytes.
			if !errors.Is(err, jute.ErrTrailingBytes) {
				return nil, err
			}
		}
		out[i] = rec
	}
	return out, nil
}
