package digestmd5

import (
	"errors"
	"testing"
)

// TestClientServerQuorum runs the Go client against the Go server with
// the quorum names, and checks a wrong password fails on the server and a
// forged rspauth on the client.
func TestClientServerQuorum(t *testing.T) {
	users := map[string]string{"learner": "s3cr\u00e9t"}
	pw := func(u string) (string, bool) { p, ok := users[u]; return p, ok }
	for _, c := range []struct {
		password string
		want     error
	}{{"s3cr\u00e9t", nil}, {"wrong", ErrAuth}} {
		s := &Server{Password: pw, ServiceProtocol: QuorumProtocol, ServerName: QuorumServerName}
		cl := &Client{User: "learner", Password: c.password, ServiceProtocol: QuorumProtocol, ServerName: QuorumServerName}
		ch, err := s.Next(nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := cl.Next(ch)
		if err != nil {
			t.Fatal(err)
		}
		rsp, err := s.Next(resp)
		if !errors.Is(err, c.want) {
			t.Fatalf("password %q: server says %v, want %v", c.password, err, c.want)
		}
		if c.want != nil {
			continue
		}
		if s.User != "learner" || s.AuthzID != "" {
			t.Fatalf("user %q authzid %q", s.User, s.AuthzID)
		}
		if out, err := cl.Next(rsp); err != nil || out != nil || !cl.Complete() {
			t.Fatalf("rspauth: %q %v complete %v", out, err, cl.Complete())
		}
	}
	// A server that does not know the password cannot forge rspauth.
	s := &Server{Password: pw, ServiceProtocol: QuorumProtocol, ServerName: QuorumServerName}
	cl := &Client{User: "learner", Password: "x", ServiceProtocol: QuorumProtocol, ServerName: QuorumServerName}
	ch, _ := s.Next(nil)
	if _, err := cl.Next(ch); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Next([]byte("rspauth=00112233445566778899aabbccddeeff")); !errors.Is(err, ErrAuth) || cl.Complete() {
		t.Fatalf("forged rspauth accepted: %v", err)
	}
	// A client of the client port's names is refused by a quorum server.
	s = &Server{Password: pw, ServiceProtocol: QuorumProtocol, ServerName: QuorumServerName}
	cl = &Client{User: "learner", Password: "s3cr\u00e9t", ServiceProtocol: Protocol, ServerName: Realm}
	ch, _ = s.Next(nil)
	resp, _ := cl.Next(ch)
	if _, err := s.Next(resp); !errors.Is(err, ErrProtocol) {
		t.Fatalf("digest-uri of the client port accepted: %v", err)
	}
}
