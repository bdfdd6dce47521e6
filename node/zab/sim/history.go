package sim

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/zkgo/zkgo/wire"
)

// OpKind is a client write of the register workload.
type OpKind uint8

// Client writes: each key is a register with a version.
const (
	// OpCreate creates the key (NODEEXISTS if it is there).
	OpCreate OpKind = iota
	// OpSet sets it whatever its version (NONODE if it is not there).
	OpSet
	// OpCAS sets it if its version is Ver (BADVERSION otherwise).
	OpCAS
)

func (k OpKind) String() string { return [...]string{"create", "set", "cas"}[k] }

// Op is one client write as the client saw it: invoked at Call, answered
// at Return with Err and, for a set, the node's new version (OutVer).
// Unknown: the client got no answer (its server went away, or it timed
// out): the write may have happened at any point after Call, or never.
type Op struct {
	Client  int
	Kind    OpKind
	Key     string
	Ver     int32 // OpCAS: the expected version
	Call    int64
	Return  int64
	Err     wire.ErrCode
	OutVer  int32
	Unknown bool
}

func (o Op) String() string {
	in := fmt.Sprintf("c%d %s %s", o.Client, o.Kind, o.Key)
	if o.Kind == OpCAS {
		in += fmt.Sprintf("@%d", o.Ver)
	}
	switch {
	case o.Unknown:
		return in + " -> ?"
	case o.Err != wire.ErrOk:
		return in + " -> " + o.Err.Error()
	}
	return fmt.Sprintf("%s -> ok v%d", in, o.OutVer)
}

// register is a key's state in the model.
type register struct {
	exists bool
	ver    int32
}

// RegisterModel is the porcupine model of the workload: each key a
// register with ZooKeeper's create/setData semantics (a create starts at
// version 0, a set adds one, a CAS sets only at its expected version).
// An Unknown op may take effect or fail, as the state says, at any point
// after its call.
var RegisterModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, o := range h {
			k := o.Input.(Op).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], o)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return register{} },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(register), input.(Op), output.(Op)
		var err wire.ErrCode
		next := st
		switch {
		case in.Kind == OpCreate && st.exists:
			err = wire.ErrNodeExists
		case in.Kind == OpCreate:
			next = register{exists: true}
		case !st.exists:
			err = wire.ErrNoNode
		case in.Kind == OpCAS && in.Ver != st.ver:
			err = wire.ErrBadVersion
		default:
			next.ver++
		}
		if out.Unknown {
			return true, next
		}
		if out.Err == wire.ErrSessionExpired {
			// refused before it was prepared: no effect
			return true, st
		}
		if out.Err != err {
			return false, st
		}
		if err == wire.ErrOk && in.Kind != OpCreate && out.OutVer != next.ver {
			return false, st
		}
		return true, next
	},
	DescribeOperation: func(input, output any) string { return output.(Op).String() },
	DescribeState: func(state any) string {
		st := state.(register)
		if !st.exists {
			return "absent"
		}
		return fmt.Sprintf("v%d", st.ver)
	},
}

// CheckHistory checks ops with porcupine against RegisterModel, key by
// key; info names the first key that fails and its last operations. A
// check that takes more than 20 s passes (and says so in info):
// porcupine's search is exponential in the worst case.
func CheckHistory(ops []Op) (ok bool, info string) {
	var keys []string
	byKey := map[string][]porcupine.Operation{}
	for _, o := range ops {
		ret := o.Return
		if o.Unknown {
			ret = math.MaxInt64
		}
		if _, ok := byKey[o.Key]; !ok {
			keys = append(keys, o.Key)
		}
		byKey[o.Key] = append(byKey[o.Key], porcupine.Operation{ClientId: o.Client, Input: o, Call: o.Call, Output: o, Return: ret})
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch porcupine.CheckOperationsTimeout(RegisterModel, byKey[k], 20*time.Second) {
		case porcupine.Illegal:
			return false, describe(k, byKey[k])
		case porcupine.Unknown:
			info = "timed out on " + k
		}
	}
	return true, info
}

// describe lists the last operations on key k (at most 30).
func describe(k string, h []porcupine.Operation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "key %s (%d writes", k, len(h))
	if len(h) > 30 {
		fmt.Fprintf(&b, ", the last 30")
		h = h[len(h)-30:]
	}
	b.WriteString("): ")
	for _, o := range h {
		op := o.Input.(Op)
		if op.Unknown {
			fmt.Fprintf(&b, "[%d,-] %s; ", op.Call, op)
		} else {
			fmt.Fprintf(&b, "[%d,%d] %s; ", op.Call, op.Return, op)
		}
	}
	return strings.TrimSuffix(b.String(), "; ")
}
