// Package digestmd5 is the server side of the SASL DIGEST-MD5 mechanism
// (RFC 2831) as Java's DigestMD5Server runs it for ZooKeeper: realm
// "zk-sasl-md5", protocol "zookeeper", quality of protection "auth" only
// (no integrity or confidentiality layer), one challenge, one response,
// rspauth.
package digestmd5

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ZooKeeper's DIGEST-MD5 names: the client port's (ZooKeeperSaslServer)
// and the quorum ports' (QuorumAuth). The server name is the realm too.
const (
	Realm            = "zk-sasl-md5"
	Protocol         = "zookeeper"
	QuorumServerName = "zk-quorum-sasl-md5"
	QuorumProtocol   = "zookeeper-quorum"
)

func (s *Server) names() (protocol, realm string) {
	protocol, realm = Protocol, Realm
	if s.ServiceProtocol != "" {
		protocol = s.ServiceProtocol
	}
	if s.ServerName != "" {
		realm = s.ServerName
	}
	return protocol, realm
}

// Errors. Every failure of a response is ErrAuth (wrapped with detail for
// the log); the client is told no more than that.
var (
	ErrAuth     = errors.New("digest-md5: authentication failed")
	ErrProtocol = errors.New("digest-md5: protocol error")
)

// maxToken bounds what a response may hold.
const maxToken = 4096

// Server is one DIGEST-MD5 exchange. It is not safe for concurrent use.
type Server struct {
	// Password returns the password of user, or false for an unknown
	// user.
	Password func(user string) (string, bool)
	// ServiceProtocol and ServerName make the realm and the digest-uri
	// a response must name (protocol/serverName); empty means the client
	// port's Protocol and Realm. Quorum SASL uses QuorumProtocol and
	// QuorumServerName.
	ServiceProtocol, ServerName string
	nonce                       string
	step                        int
	// User is the authenticated user name once Complete, and AuthzID the
	// authorization id the client asked for (empty: none, the user).
	User, AuthzID string
}

// Complete reports whether the client was authenticated.
func (s *Server) Complete() bool { return s.step == 2 }

// Next takes the client's token and returns the server's. The first
// token must be empty (DIGEST-MD5 has no initial response); the second
// is the digest-response, answered with rspauth when it proves the
// password.
func (s *Server) Next(token []byte) ([]byte, error) {
	switch s.step {
	case 0:
		if len(token) != 0 {
			return nil, fmt.Errorf("%w: initial response not expected", ErrProtocol)
		}
		// As Java's DigestMD5Server: a nonce of 30 random bytes in
		// base64, and no qop directive (absent means "auth", the only
		// quality of protection offered).
		var b [30]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("digest-md5: nonce: %w", err)
		}
		s.nonce = base64.StdEncoding.EncodeToString(b[:])
		s.step = 1
		_, realm := s.names()
		return []byte(`realm="` + realm + `",nonce="` + s.nonce + `",charset=utf-8,algorithm=md5-sess`), nil
	case 1:
		s.step = 3 // failed unless completed below
		rsp, err := s.verify(token)
		if err != nil {
			return nil, err
		}
		s.step = 2
		return rsp, nil
	}
	return nil, fmt.Errorf("%w: exchange already finished", ErrProtocol)
}

func (s *Server) verify(token []byte) ([]byte, error) {
	if len(token) > maxToken {
		return nil, fmt.Errorf("%w: response of %d bytes", ErrProtocol, len(token))
	}
	d, err := ParseDirectives(string(token))
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"username", "nonce", "cnonce", "nc", "digest-uri", "response"} {
		if _, ok := d[k]; !ok {
			return nil, fmt.Errorf("%w: response lacks %s", ErrProtocol, k)
		}
	}
	if d["nonce"] != s.nonce {
		return nil, fmt.Errorf("%w: nonce mismatch", ErrProtocol)
	}
	if d["nc"] != "00000001" {
		return nil, fmt.Errorf("%w: nonce count %s", ErrProtocol, d["nc"])
	}
	if q, ok := d["qop"]; ok && q != "auth" {
		return nil, fmt.Errorf("%w: qop %s not offered", ErrProtocol, q)
	}
	protocol, myRealm := s.names()
	realm, hasRealm := d["realm"]
	if hasRealm && realm != myRealm {
		return nil, fmt.Errorf("%w: realm %q", ErrProtocol, realm)
	}
	uri := d["digest-uri"]
	if !strings.EqualFold(uri, protocol+"/"+myRealm) {
		// Java checks the protocol and the server name of digest-uri.
		return nil, fmt.Errorf("%w: digest-uri %q", ErrProtocol, uri)
	}
	user := d["username"]
	password, known := s.Password(user)
	if !known {
		return nil, fmt.Errorf("%w: user %q not found", ErrAuth, user)
	}
	utf8cs := d["charset"] == "utf-8"
	h := md5.New()
	h.Write(encode(user, utf8cs))
	h.Write([]byte(":"))
	h.Write(encode(realm, utf8cs))
	h.Write([]byte(":"))
	h.Write(encode(password, true))
	a1 := h.Sum(nil)
	a1 = append(a1, ":"+s.nonce+":"+d["cnonce"]...)
	if z, ok := d["authzid"]; ok {
		a1 = append(a1, ":"+z...)
	}
	ha1 := hexMD5(a1)
	kd := func(a2 string) string {
		return hexMD5([]byte(ha1 + ":" + s.nonce + ":" + d["nc"] + ":" + d["cnonce"] + ":auth:" + hexMD5([]byte(a2))))
	}
	want := kd("AUTHENTICATE:" + uri)
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(d["response"])), []byte(want)) != 1 {
		return nil, fmt.Errorf("%w: wrong password for user %q", ErrAuth, user)
	}
	s.User = user
	s.AuthzID = d["authzid"]
	return []byte("rspauth=" + kd(":"+uri)), nil
}

func hexMD5(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// encode is RFC 2831's rule for the strings hashed into A1: with
// charset=utf-8 a string whose characters all fit ISO 8859-1 is hashed in
// ISO 8859-1, others in UTF-8; without it the bytes are taken as sent.
// Passwords (Go strings, from the JAAS file) always follow the first rule.
func encode(s string, utf8cs bool) []byte {
	if !utf8cs || !utf8.ValidString(s) {
		return []byte(s)
	}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return []byte(s)
		}
		out = append(out, byte(r))
	}
	return out
}

// ParseDirectives parses a comma-separated list of name=value directives,
// values plain or quoted (with backslash escapes). A repeated directive is
// a protocol error.
func ParseDirectives(s string) (map[string]string, error) {
	d := map[string]string{}
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
			i++
		}
		if i >= len(s) {
			break
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return nil, fmt.Errorf("%w: directive without a value", ErrProtocol)
		}
		name := strings.ToLower(strings.TrimSpace(s[i : i+eq]))
		i += eq + 1
		for i < len(s) && s[i] == ' ' {
			i++
		}
		var val strings.Builder
		if i < len(s) && s[i] == '"' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				i++
				if c == '\\' && i < len(s) {
					val.WriteByte(s[i])
					i++
					continue
				}
				if c == '"' {
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("%w: unterminated quoted value", ErrProtocol)
			}
		} else {
			for i < len(s) && s[i] != ',' {
				val.WriteByte(s[i])
				i++
			}
		}
		if _, dup := d[name]; dup {
			return nil, fmt.Errorf("%w: directive %s repeated", ErrProtocol, name)
		}
		d[name] = strings.TrimSpace(val.String())
	}
	return d, nil
}
