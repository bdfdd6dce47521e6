package tree

import (
	"testing"

	"github.com/zkgo/zkgo/wire"
)

func TestX509ACLs(t *testing.T) {
	for id, want := range map[string]bool{"CN=a,O=b": true, "CN=a\\,b": true, "cn=x+ou=y": true, "2.5.4.3=x": true,
		"not a name": false, "": false, "CN": false, "=x": false, `CN="a`: false} {
		if validX500(id) != want {
			t.Errorf("validX500(%q) = %v", id, !want)
		}
	}
	acl := []wire.ACL{{Perms: int32(wire.PermRead), ID: wire.ID{Scheme: SchemeX509, ID: "CN=a,O=b"}}}
	if !CheckACL(acl, wire.PermRead, []wire.ID{{Scheme: SchemeX509, ID: "CN=a,O=b"}}) {
		t.Error("the subject is refused")
	}
	if CheckACL(acl, wire.PermRead, []wire.ID{{Scheme: SchemeX509, ID: "CN=a"}, {Scheme: SchemeIP, ID: "127.0.0.1"}}) {
		t.Error("another subject is admitted")
	}
	// Without the provider an x509 ACL is invalid, as in Java.
	if _, code := fixupACL(acl, nil, 0, Options{}); code != wire.ErrInvalidACL {
		t.Errorf("no provider: %v", code)
	}
	if out, code := fixupACL(acl, nil, 0, Options{X509: true}); code != wire.ErrOk || len(out) != 1 {
		t.Errorf("provider: %v %v", out, code)
	}
	// "auth" expands to the session's x509 id.
	auth := []wire.ACL{{Perms: int32(wire.PermAll), ID: wire.ID{Scheme: SchemeAuth}}}
	out, code := fixupACL(auth, []wire.ID{{Scheme: SchemeIP, ID: "1.2.3.4"}, {Scheme: SchemeX509, ID: "CN=a"}}, 0, Options{X509: true})
	if code != wire.ErrOk || len(out) != 1 || out[0].ID.Scheme != SchemeX509 {
		t.Errorf("auth expansion %v %v", out, code)
	}
}
