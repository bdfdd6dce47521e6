package sim

import (
	"testing"

	"github.com/zkgo/zkgo/wire"
)

func op(client int, kind OpKind, key string, ver int32, call, ret int64, err wire.ErrCode, out int32) Op {
	return Op{Client: client, Kind: kind, Key: key, Ver: ver, Call: call, Return: ret, Err: err, OutVer: out}
}

func unknown(client int, kind OpKind, key string, ver int32, call int64) Op {
	return Op{Client: client, Kind: kind, Key: key, Ver: ver, Call: call, Unknown: true}
}

// TestRegisterModel checks the porcupine model on histories whose answer
// is known.
func TestRegisterModel(t *testing.T) {
	for _, c := range []struct {
		name string
		h    []Op
		ok   bool
	}{
		{"sequential", []Op{
			op(0, OpCreate, "/a", 0, 0, 10, wire.ErrOk, 0),
			op(1, OpSet, "/a", 0, 20, 30, wire.ErrOk, 1),
			op(0, OpCAS, "/a", 1, 40, 50, wire.ErrOk, 2),
			op(1, OpCAS, "/a", 1, 60, 70, wire.ErrBadVersion, 0),
			op(0, OpCreate, "/a", 0, 80, 90, wire.ErrNodeExists, 0),
		}, true},
		{"concurrent CAS, one wins", []Op{
			op(0, OpCreate, "/a", 0, 0, 10, wire.ErrOk, 0),
			op(1, OpCAS, "/a", 0, 20, 50, wire.ErrBadVersion, 0),
			op(2, OpCAS, "/a", 0, 25, 40, wire.ErrOk, 1),
		}, true},
		{"two CAS at one version both win", []Op{
			op(0, OpCreate, "/a", 0, 0, 10, wire.ErrOk, 0),
			op(1, OpCAS, "/a", 0, 20, 30, wire.ErrOk, 1),
			op(2, OpCAS, "/a", 0, 40, 50, wire.ErrOk, 1),
		}, false},
		{"a set that went back in time", []Op{
			op(0, OpCreate, "/a", 0, 0, 10, wire.ErrOk, 0),
			op(1, OpSet, "/a", 0, 20, 30, wire.ErrOk, 1),
			op(2, OpSet, "/a", 0, 40, 50, wire.ErrOk, 1),
		}, false},
		{"a write acknowledged, then lost", []Op{
			op(0, OpCreate, "/a", 0, 0, 10, wire.ErrOk, 0),
			op(1, OpCreate, "/a", 0, 20, 30, wire.ErrOk, 0),
		}, false},
		{"an unknown write explains a later version", []Op{
			op(0, OpCreate, "/a", 0, 0, 10, wire.ErrOk, 0),
			unknown(1, OpSet, "/a", 0, 15),
			op(2, OpCAS, "/a", 1, 40, 50, wire.ErrOk, 2),
		}, true},
		{"an unknown write that never happened", []Op{
			op(0, OpCreate, "/a", 0, 0, 10, wire.ErrOk, 0),
			unknown(1, OpSet, "/a", 0, 15),
			op(2, OpCAS, "/a", 0, 40, 50, wire.ErrOk, 1),
		}, true},
		{"an unknown write cannot act before its call", []Op{
			op(0, OpCreate, "/a", 0, 0, 10, wire.ErrOk, 0),
			op(2, OpCAS, "/a", 1, 20, 30, wire.ErrOk, 2),
			unknown(1, OpSet, "/a", 0, 40),
		}, false},
		{"keys are independent", []Op{
			op(0, OpCreate, "/a", 0, 0, 10, wire.ErrOk, 0),
			op(1, OpSet, "/b", 0, 5, 15, wire.ErrNoNode, 0),
			op(1, OpCreate, "/b", 0, 20, 30, wire.ErrOk, 0),
			op(0, OpCAS, "/b", 0, 40, 50, wire.ErrOk, 1),
			op(0, OpCAS, "/a", 0, 60, 70, wire.ErrOk, 1),
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ok, info := CheckHistory(c.h)
			if ok != c.ok {
				t.Fatalf("linearizable = %v, want %v (%s)", ok, c.ok, info)
			}
		})
	}
}

// TestHistoryRecorded: a run with clients records a history porcupine
// accepts, with answered writes in it.
func TestHistoryRecorded(t *testing.T) {
	r := Run(Config{Seed: 5})
	if r.Violation != nil {
		t.Fatal(r.Violation)
	}
	answered := 0
	for _, o := range r.History {
		if !o.Unknown {
			answered++
		}
	}
	if answered == 0 || answered != r.Ops {
		t.Fatalf("history has %d answered writes, the run %d", answered, r.Ops)
	}
	if ok, info := CheckHistory(r.History); !ok {
		t.Fatal(info)
	}
}
