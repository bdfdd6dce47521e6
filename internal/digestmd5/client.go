package digestmd5

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
)

// Client is the client side of one DIGEST-MD5 exchange, as Java's
// DigestMD5Client answers a ZooKeeper server (quorum learners use it):
// qop "auth" only, the realm the server offers, no authorization id. It
// is not safe for concurrent use.
type Client struct {
	User, Password string
	// ServiceProtocol and ServerName make the digest-uri
	// (QuorumProtocol/QuorumServerName for quorum SASL).
	ServiceProtocol, ServerName string
	step                        int
	rspauth                     string
}

// Complete reports whether the server proved it knows the password.
func (c *Client) Complete() bool { return c.step == 2 }

// Next takes the server's challenge and returns the response: first the
// digest-response to the challenge, then nothing once rspauth checks.
func (c *Client) Next(challenge []byte) ([]byte, error) {
	switch c.step {
	case 0:
		c.step = 3
		if len(challenge) > maxToken {
			return nil, fmt.Errorf("%w: challenge of %d bytes", ErrProtocol, len(challenge))
		}
		d, err := ParseDirectives(string(challenge))
		if err != nil {
			return nil, err
		}
		nonce, ok := d["nonce"]
		if !ok || nonce == "" {
			return nil, fmt.Errorf("%w: challenge without a nonce", ErrProtocol)
		}
		if q, ok := d["qop"]; ok && !hasToken(q, "auth") {
			return nil, fmt.Errorf("%w: server offers qop %q, not auth", ErrProtocol, q)
		}
		if a := d["algorithm"]; !strings.EqualFold(a, "md5-sess") {
			return nil, fmt.Errorf("%w: algorithm %q", ErrProtocol, a)
		}
		utf8cs := strings.EqualFold(d["charset"], "utf-8")
		realm := d["realm"]
		if i := strings.IndexByte(realm, ','); i >= 0 {
			realm = realm[:i] // several realms offered: the first
		}
		var b [18]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("digest-md5: cnonce: %w", err)
		}
		cnonce := base64.RawStdEncoding.EncodeToString(b[:])
		uri := c.ServiceProtocol + "/" + c.ServerName
		ha1 := ha1(c.User, realm, c.Password, nonce, cnonce, "", utf8cs)
		kd := func(a2 string) string {
			return hexMD5([]byte(ha1 + ":" + nonce + ":00000001:" + cnonce + ":auth:" + hexMD5([]byte(a2))))
		}
		c.rspauth = kd(":" + uri)
		var r strings.Builder
		if utf8cs {
			r.WriteString("charset=utf-8,")
		}
		r.WriteString(`username="` + quote(c.User) + `",realm="` + quote(realm) + `",nonce="` + quote(nonce) +
			`",nc=00000001,cnonce="` + cnonce + `",digest-uri="` + quote(uri) + `",maxbuf=65536,response=` +
			kd("AUTHENTICATE:"+uri) + ",qop=auth")
		c.step = 1
		return []byte(r.String()), nil
	case 1:
		c.step = 3
		d, err := ParseDirectives(string(challenge))
		if err != nil {
			return nil, err
		}
		if subtle.ConstantTimeCompare([]byte(strings.ToLower(d["rspauth"])), []byte(c.rspauth)) != 1 {
			return nil, fmt.Errorf("%w: the server's rspauth does not prove the password", ErrAuth)
		}
		c.step = 2
		return nil, nil
	}
	return nil, fmt.Errorf("%w: exchange already finished", ErrProtocol)
}

// ha1 is RFC 2831's H(A1) for md5-sess.
func ha1(user, realm, password, nonce, cnonce, authzid string, utf8cs bool) string {
	h := md5.New()
	h.Write(encode(user, utf8cs))
	h.Write([]byte(":"))
	h.Write(encode(realm, utf8cs))
	h.Write([]byte(":"))
	h.Write(encode(password, true))
	a1 := h.Sum(nil)
	a1 = append(a1, ":"+nonce+":"+cnonce...)
	if authzid != "" {
		a1 = append(a1, ":"+authzid...)
	}
	return hexMD5(a1)
}

func hasToken(list, tok string) bool {
	for _, t := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(t), tok) {
			return true
		}
	}
	return false
}

// quote escapes a quoted-string value.
func quote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}
