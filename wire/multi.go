package wire

import (
	"errors"

	"github.com/zkgo/zkgo/jute"
)

// ErrBadMultiOp means a multi request or response held an operation type
// that Java's MultiOperationRecord / MultiResponse rejects.
var ErrBadMultiOp = errors.New("wire: invalid multi operation type")

// MultiOp is one operation of a multi or multiRead request.
type MultiOp struct {
	Type OpCode
	// Op is *CreateRequest (create, create2, createContainer),
	// *CreateTTLRequest, *DeleteRequest, *SetDataRequest,
	// *CheckVersionRequest, *GetChildrenRequest or *GetDataRequest.
	Op jute.Record
}

// MultiRequest mirrors org.apache.zookeeper.MultiOperationRecord: a sequence
// of MultiHeader{type, done=false, err=-1} + op record, ended by
// MultiHeader{-1, true, -1}.
type MultiRequest struct {
	Ops []MultiOp
}

// NewMultiOpRecord returns an empty record for a multi op type, or nil if
// Java's MultiOperationRecord does not accept the type.
func NewMultiOpRecord(t OpCode) jute.Record {
	switch t {
	case OpCreate, OpCreate2, OpCreateContainer:
		return new(CreateRequest)
	case OpCreateTTL:
		return new(CreateTTLRequest)
	case OpDelete:
		return new(DeleteRequest)
	case OpSetData:
		return new(SetDataRequest)
	case OpCheck:
		return new(CheckVersionRequest)
	case OpGetChildren:
		return new(GetChildrenRequest)
	case OpGetData:
		return new(GetDataRequest)
	}
	return nil
}

var multiEnd = MultiHeader{Type: -1, Done: true, Err: -1}

// JuteName returns the Java class name.
func (*MultiRequest) JuteName() string { return "org.apache.zookeeper.MultiOperationRecord" }

// Size returns the encoded size.
func (m *MultiRequest) Size() int {
	n := 9 // end header
	for _, op := range m.Ops {
		n += 9 + op.Op.Size()
	}
	return n
}

// Encode appends m to w.
func (m *MultiRequest) Encode(w *jute.Writer) {
	for _, op := range m.Ops {
		h := MultiHeader{Type: op.Type, Done: false, Err: -1}
		h.Encode(w)
		op.Op.Encode(w)
	}
	multiEnd.Encode(w)
}

// Decode reads m from r.
func (m *MultiRequest) Decode(r *jute.Reader) {
	m.Ops = m.Ops[:0]
	for r.Err() == nil {
		var h MultiHeader
		h.Decode(r)
		if r.Err() != nil || h.Done {
			return
		}
		rec := NewMultiOpRecord(h.Type)
		if rec == nil {
			r.Fail(ErrBadMultiOp)
			return
		}
		rec.Decode(r)
		m.Ops = append(m.Ops, MultiOp{Type: h.Type, Op: rec})
	}
}

// Walk reports m's operations to v.
func (m *MultiRequest) Walk(v jute.Visitor) {
	v.StartVector("ops", len(m.Ops))
	for _, op := range m.Ops {
		v.StartRecord("", op.Op.JuteName())
		v.Int("type", int32(op.Type))
		op.Op.Walk(v)
		v.EndRecord()
	}
	v.EndVector()
}

// MultiResult is one result of a multi or multiRead response.
type MultiResult struct {
	Type OpCode  // OpError for a failed op
	Err  ErrCode // the error for OpError results, else ErrOk
	// Result is *CreateResponse (create), *Create2Response (create2, and
	// createTTL/createContainer which Java reports as create2),
	// *SetDataResponse, *GetChildrenResponse, *GetDataResponse,
	// *ErrorResponse (error), or nil (delete, check).
	Result jute.Record
}

// MultiResponse mirrors org.apache.zookeeper.MultiResponse.
type MultiResponse struct {
	Results []MultiResult
}

// NewMultiResultRecord returns an empty result record for a multi result
// type; ok=false if Java's MultiResponse does not accept the type. delete
// and check have no record (nil, true).
func NewMultiResultRecord(t OpCode) (jute.Record, bool) {
	switch t {
	case OpCreate:
		return new(CreateResponse), true
	case OpCreate2:
		return new(Create2Response), true
	case OpDelete, OpCheck:
		return nil, true
	case OpSetData:
		return new(SetDataResponse), true
	case OpGetChildren:
		return new(GetChildrenResponse), true
	case OpGetData:
		return new(GetDataResponse), true
	case OpError:
		return new(ErrorResponse), true
	}
	return nil, false
}

// JuteName returns the Java class name.
func (*MultiResponse) JuteName() string { return "org.apache.zookeeper.MultiResponse" }

// Size returns the encoded size.
func (m *MultiResponse) Size() int {
	n := 9
	for _, res := range m.Results {
		n += 9
		if res.Result != nil {
			n += res.Result.Size()
		}
	}
	return n
}

// Encode appends m to w. The header's err is the result's error for error
// results and 0 otherwise, as Java writes it.
func (m *MultiResponse) Encode(w *jute.Writer) {
	for _, res := range m.Results {
		h := MultiHeader{Type: res.Type, Done: false, Err: 0}
		if res.Type == OpError {
			h.Err = res.Err
		}
		h.Encode(w)
		if res.Result != nil {
			res.Result.Encode(w)
		}
	}
	multiEnd.Encode(w)
}

// Decode reads m from r.
func (m *MultiResponse) Decode(r *jute.Reader) {
	m.Results = m.Results[:0]
	for r.Err() == nil {
		var h MultiHeader
		h.Decode(r)
		if r.Err() != nil || h.Done {
			return
		}
		rec, ok := NewMultiResultRecord(h.Type)
		if !ok {
			r.Fail(ErrBadMultiOp)
			return
		}
		res := MultiResult{Type: h.Type, Result: rec}
		if rec != nil {
			rec.Decode(r)
		}
		if h.Type == OpError {
			res.Err = h.Err
			if e, ok := rec.(*ErrorResponse); ok && r.Err() == nil {
				res.Err = e.Err
			}
		}
		m.Results = append(m.Results, res)
	}
}

// Walk reports m's results to v.
func (m *MultiResponse) Walk(v jute.Visitor) {
	v.StartVector("results", len(m.Results))
	for _, res := range m.Results {
		name := "org.apache.zookeeper.OpResult"
		if res.Result != nil {
			name = res.Result.JuteName()
		}
		v.StartRecord("", name)
		v.Int("type", int32(res.Type))
		v.Int("err", int32(res.Err))
		if res.Result != nil {
			res.Result.Walk(v)
		}
		v.EndRecord()
	}
	v.EndVector()
}
