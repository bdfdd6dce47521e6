package wire

import (
	"encoding/json"
	"testing"
)

func TestFormatText(t *testing.T) {
	r := CreateRequest{Path: "/a", Data: []byte("hi"), ACL: []ACL{{Perms: 31, ID: ID{Scheme: "world", ID: "anyone"}}}, Flags: 1}
	if got := FormatText(&r); got != `{path=/a, data="hi", acl=[{perms=31, id={scheme=world, id=anyone}}], flags=1}` {
		t.Fatal(got)
	}
	h := TxnHeader{ClientID: 0x1a2, Zxid: 0x100000001, Type: OpCreate}
	if got := FormatText(&h); got != `{clientId=0x1a2, cxid=0, zxid=0x100000001, time=0, type=1}` {
		t.Fatal(got)
	}
	if got := FormatText(&GetChildrenResponse{}); got != `{children=null}` {
		t.Fatal(got)
	}
	if got := FormatText(&SetDataRequest{Path: "/b", Data: []byte{0, 1, 255}}); got != `{path=/b, data=base64:AAH/, version=0}` {
		t.Fatal(got)
	}
}

func TestFormatJSONIsValidJSON(t *testing.T) {
	for _, m := range Records {
		rec := m.New()
		b := AppendJSON(nil, rec)
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v\n%s", m.Name, err, b)
		}
		if len(v) != len(m.Fields) {
			t.Fatalf("%s: %d keys, %d fields", m.Name, len(v), len(m.Fields))
		}
	}
	r := CreateRequest{Path: "/a\"\x01", Data: []byte("hi"), ACL: []ACL{{Perms: 1}, {Perms: 2}}}
	var v map[string]any
	if err := json.Unmarshal(AppendJSON(nil, &r), &v); err != nil {
		t.Fatal(err)
	}
	if v["path"] != "/a\"\x01" || v["data"] != "aGk=" || len(v["acl"].([]any)) != 2 {
		t.Fatal(v)
	}
}
