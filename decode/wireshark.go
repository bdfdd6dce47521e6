package decode

import (
	"bytes"
	_ "embed"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// The Wireshark dissector: wireshark.lua holds the protocol logic (framing,
// channel recognition, request/reply pairing, the quorum and election
// channels); WiresharkLua fills in the tables it dissects records with,
// generated from wire's schema metadata (jute/zookeeper.jute) and its
// opcode, error, packet type, txn and multi tables, so the dissector
// follows the schema as the decoder does.

//go:embed wireshark.lua
var wiresharkTemplate []byte

const generatedMarker = "--@@GENERATED@@\n"

// WiresharkLua returns the Lua dissector.
func WiresharkLua() []byte {
	var g bytes.Buffer
	g.WriteString("-- Generated tables (zkgo " + "decode --wireshark-lua).\n")
	luaTable(&g, "OP_NAMES", wire.AllOpCodes, func(op wire.OpCode) (int64, string, bool) {
		return int64(op), strconv.Quote(op.String()), true
	})
	luaTable(&g, "ERR_NAMES", wire.AllErrCodes, func(e wire.ErrCode) (int64, string, bool) {
		return int64(e), strconv.Quote(e.Name()), true
	})
	var packets []wire.PacketType
	for t := wire.PacketType(1); t.Valid(); t++ {
		packets = append(packets, t)
	}
	luaTable(&g, "PACKET_NAMES", packets, func(t wire.PacketType) (int64, string, bool) {
		return int64(t), strconv.Quote(t.String()), true
	})
	states := []wire.ServerState{wire.ServerLooking, wire.ServerFollowing, wire.ServerLeading, wire.ServerObserving}
	luaTable(&g, "STATE_NAMES", states, func(s wire.ServerState) (int64, string, bool) {
		return int64(s), strconv.Quote(s.String()), true
	})
	g.WriteString("local FOUR_LETTER = {")
	for _, w := range wire.FourLetterWords {
		g.WriteString(" " + w + " = true,")
	}
	g.WriteString(" }\n")
	name := func(r jute.Record) string {
		if r == nil {
			return `""`
		}
		return strconv.Quote(r.JuteName())
	}
	luaTable(&g, "REQ_REC", wire.AllOpCodes, func(op wire.OpCode) (int64, string, bool) {
		r, _, known := wire.NewRequestRecord(op)
		return int64(op), name(r), known
	})
	luaTable(&g, "RESP_REC", wire.AllOpCodes, func(op wire.OpCode) (int64, string, bool) {
		r, _, known := wire.NewResponseRecord(op)
		return int64(op), name(r), known
	})
	luaTable(&g, "TXN_REC", wire.AllOpCodes, func(op wire.OpCode) (int64, string, bool) {
		r, ok := wire.NewTxnRecord(op)
		return int64(op), name(r), ok
	})
	luaTable(&g, "SUBTXN_REC", wire.AllOpCodes, func(op wire.OpCode) (int64, string, bool) {
		r, ok := wire.NewSubTxnRecord(op)
		return int64(op), name(r), ok
	})
	luaTable(&g, "MULTIOP_REC", wire.AllOpCodes, func(op wire.OpCode) (int64, string, bool) {
		r := wire.NewMultiOpRecord(op)
		return int64(op), name(r), r != nil
	})
	luaTable(&g, "MULTIRES_REC", wire.AllOpCodes, func(op wire.OpCode) (int64, string, bool) {
		r, ok := wire.NewMultiResultRecord(op)
		return int64(op), name(r), ok
	})
	luaRecords(&g)
	out := bytes.Replace(wiresharkTemplate, []byte(generatedMarker), g.Bytes(), 1)
	return out
}

func luaTable[T any](b *bytes.Buffer, name string, keys []T, entry func(T) (int64, string, bool)) {
	fmt.Fprintf(b, "local %s = {\n", name)
	for _, k := range keys {
		if n, v, ok := entry(k); ok {
			fmt.Fprintf(b, "\t[%d] = %s,\n", n, v)
		}
	}
	b.WriteString("}\n")
}

// hexLongs are long fields shown in hex (zxids, session ids, digests).
var hexLongs = []string{"czxid", "mzxid", "pzxid", "zxid", "lastZxidSeen", "relativeZxid", "sessionId", "clientId",
	"ephemeralOwner", "treeDigest", "dbid", "magic", "curConfigId", "configVersion"}

// luaRecords writes RECORDS (class -> {{field, type, ProtoField}}) and
// RECORD_FIELDS.
func luaRecords(b *bytes.Buffer) {
	b.WriteString("local RECORD_FIELDS = {}\nlocal function pf(f)\n\ttable.insert(RECORD_FIELDS, f)\n\treturn f\nend\n")
	short := map[string]int{}
	for _, r := range wire.Records {
		short[r.Name[strings.LastIndexByte(r.Name, '.')+1:]]++
	}
	b.WriteString("local RECORDS = {\n")
	for _, r := range wire.Records {
		cls := r.Name[strings.LastIndexByte(r.Name, '.')+1:]
		if short[cls] > 1 {
			cls = strings.ReplaceAll(r.Name, ".", "_")
		}
		fmt.Fprintf(b, "\t[%q] = {\n", r.Name)
		for _, f := range r.Fields {
			abbr := "zookeeper." + cls + "." + f.Name
			fmt.Fprintf(b, "\t\t{ %q, %q, %s },\n", f.Name, f.Type, protoField(r.Name, f, abbr))
		}
		b.WriteString("\t},\n")
	}
	b.WriteString("}\n")
}

func protoField(class string, f jute.FieldMeta, abbr string) string {
	typ := f.Type
	if e, ok := strings.CutPrefix(typ, "vector<"); ok {
		typ = strings.TrimSuffix(e, ">")
	}
	valueString := ""
	switch {
	case f.Name == "err":
		valueString = ", base.DEC, ERR_NAMES"
	case f.Name == "type" && class == "org.apache.zookeeper.server.quorum.QuorumPacket":
		valueString = ", base.DEC, PACKET_NAMES"
	case f.Name == "type":
		valueString = ", base.DEC, OP_NAMES"
	}
	switch typ {
	case "int":
		return fmt.Sprintf("pf(ProtoField.int32(%q, %q%s))", abbr, f.Name, valueString)
	case "long":
		if slices.Contains(hexLongs, f.Name) {
			return fmt.Sprintf("pf(ProtoField.uint64(%q, %q, base.HEX))", abbr, f.Name)
		}
		return fmt.Sprintf("pf(ProtoField.int64(%q, %q))", abbr, f.Name)
	case "boolean":
		return fmt.Sprintf("pf(ProtoField.bool(%q, %q))", abbr, f.Name)
	case "byte":
		return fmt.Sprintf("pf(ProtoField.int8(%q, %q))", abbr, f.Name)
	case "float":
		return fmt.Sprintf("pf(ProtoField.float(%q, %q))", abbr, f.Name)
	case "double":
		return fmt.Sprintf("pf(ProtoField.double(%q, %q))", abbr, f.Name)
	case "ustring":
		return fmt.Sprintf("pf(ProtoField.string(%q, %q, base.UNICODE))", abbr, f.Name)
	case "buffer":
		return fmt.Sprintf("pf(ProtoField.bytes(%q, %q))", abbr, f.Name)
	}
	return "nil" // a record: a subtree of its own fields
}
