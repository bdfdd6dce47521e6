package compattest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/compat-tests/harness"
	"github.com/zkgo/zkgo/internal/rawzk"
	"github.com/zkgo/zkgo/node"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/wire"
)

// enforce.auth.enabled / enforce.auth.schemes (issue 14, point 5): the same
// client steps against Java 3.8.0 and zkgo, configured alike, must give the
// same transcript. Java (AuthenticationHelper.enforceAuthentication, called
// from ZooKeeperServer.processPacket) lets the handshake, auth and sasl
// packets and four-letter words through; every other request of a
// connection with no id of an enforced scheme gets a header-only reply with
// SESSIONCLOSEDREQUIRESASLAUTH and zxid 0, and the connection (not the
// session) is closed.

// enforceAuthProps are the zoo.cfg lines of both servers.
var enforceAuthProps = map[string]string{
	"enforce.auth.enabled": "true",
	"enforce.auth.schemes": "digest",
}

// enforceAuthTranscript runs the client steps against addr and returns one
// line per observation.
func enforceAuthTranscript(t *testing.T, addr string) string {
	t.Helper()
	var out []string
	logf := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	// ends reports how the connection ended after the last step.
	ends := func(c *rawzk.Client) string {
		select {
		case <-c.Done():
			return "closed"
		case <-time.After(2 * time.Second):
			return "open"
		}
	}
	hdr := func(h wire.ReplyHeader, err error) string {
		if err != nil {
			return "error: " + err.Error()
		}
		zxid := "zxid>0"
		if h.Zxid <= 0 {
			zxid = fmt.Sprintf("zxid=%d", h.Zxid)
		}
		return fmt.Sprintf("xid=%d err=%v %s", h.Xid, h.Err, zxid)
	}

	// Four-letter words are not requests: they are answered.
	ruok, err := harness.FourLetter(addr, "ruok")
	logf("ruok: %q %v", ruok, err)

	// 1. No auth: the handshake succeeds, the first request is refused and
	// the connection closed.
	c, err := rawzk.Dial(addr, rawzk.Options{TimeoutMs: 30000})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	logf("connect without auth: session=%v timeout=%d", c.SessionID() != 0, c.Connect.TimeOut)
	logf("getData / without auth: %s", hdr(c.Do(wire.OpGetData, &wire.GetDataRequest{Path: "/"}, nil)))
	logf("after refusal: %s", ends(c))
	sid, pw := c.SessionID(), c.Connect.Passwd
	c.Close()

	// 2. The session survives its refused connection: reconnecting to it
	// succeeds, and with a digest id it works.
	c, err = rawzk.Dial(addr, rawzk.Options{TimeoutMs: 30000, SessionID: sid, Passwd: pw})
	if err != nil {
		logf("reconnect to the refused session: %v", err)
	} else {
		logf("reconnect to the refused session: same=%v", c.SessionID() == sid)
		logf("auth digest: %s", hdr(c.Do(wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("alice:secret")}, nil)))
		logf("create /enforced after auth: %s", hdr(c.Do(wire.OpCreate,
			&wire.CreateRequest{Path: "/enforced", Data: []byte("x"), ACL: tree.OpenACLUnsafe}, nil)))
		var gd wire.GetDataResponse
		h, err := c.Do(wire.OpGetData, &wire.GetDataRequest{Path: "/enforced"}, &gd)
		logf("getData /enforced after auth: %s data=%q", hdr(h, err), gd.Data)
		logf("ping after auth: %s", hdr(c.Do(wire.OpPing, nil, nil)))
		logf("closeSession after auth: %s", hdr(c.Do(wire.OpCloseSession, nil, nil)))
		c.Close()
	}

	// 3. A ping is a request like any other.
	c, err = rawzk.Dial(addr, rawzk.Options{TimeoutMs: 30000})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	logf("ping without auth: %s", hdr(c.Do(wire.OpPing, nil, nil)))
	logf("after refusal: %s", ends(c))
	c.Close()

	// 4. So are setWatches and closeSession.
	c, err = rawzk.Dial(addr, rawzk.Options{TimeoutMs: 30000})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	logf("setWatches without auth: %s", hdr(c.Do(wire.OpSetWatches, &wire.SetWatches{RelativeZxid: 0, DataWatches: []string{"/"}}, nil)))
	logf("after refusal: %s", ends(c))
	c.Close()
	c, err = rawzk.Dial(addr, rawzk.Options{TimeoutMs: 30000})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	logf("closeSession without auth: %s", hdr(c.Do(wire.OpCloseSession, nil, nil)))
	logf("after refusal: %s", ends(c))
	c.Close()

	// 5. An auth of a scheme that is not enforced (ip) adds an id but does
	// not satisfy the check; whoAmI is refused too.
	c, err = rawzk.Dial(addr, rawzk.Options{TimeoutMs: 30000})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	logf("auth ip: %s", hdr(c.Do(wire.OpAuth, &wire.AuthPacket{Scheme: "ip", Auth: []byte("127.0.0.1")}, nil)))
	logf("whoAmI with an ip id only: %s", hdr(c.Do(wire.OpWhoAmI, nil, nil)))
	logf("after refusal: %s", ends(c))
	c.Close()

	// 6. An unknown scheme fails as it always does (AUTHFAILED, closed).
	c, err = rawzk.Dial(addr, rawzk.Options{TimeoutMs: 30000})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	logf("auth foo: %s", hdr(c.Do(wire.OpAuth, &wire.AuthPacket{Scheme: "foo", Auth: []byte("x")}, nil)))
	logf("after failed auth: %s", ends(c))
	c.Close()

	// 7. Pipelined: auth then a request in one write, before any reply.
	c, err = rawzk.Dial(addr, rawzk.Options{TimeoutMs: 30000})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	a, errA := c.Send(c.NextXid(), wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("bob:pw")})
	g, errG := c.Send(c.NextXid(), wire.OpExists, &wire.ExistsRequest{Path: "/enforced"})
	if errA != nil || errG != nil {
		t.Fatalf("send: %v %v", errA, errG)
	}
	for _, ch := range []<-chan rawzk.Reply{a, g} {
		select {
		case r, ok := <-ch:
			if !ok {
				logf("pipelined: closed")
				continue
			}
			logf("pipelined: err=%v", r.Header.Err)
		case <-time.After(10 * time.Second):
			logf("pipelined: no reply")
		}
	}
	logf("after pipelined requests: %s", ends(c))
	c.Close()
	return strings.Join(out, "\n")
}

func TestCompat_EnforceAuth(t *testing.T) {
	harness.SkipShort(t)
	j := harness.StartJavaZK(t, harness.JavaOptions{Props: enforceAuthProps})
	waitServing(t, "java", j.Addr)
	want := enforceAuthTranscript(t, j.Addr)
	t.Logf("Java 3.8.0:\n%s", want)
	// zkgo reads the same zoo.cfg lines; only where it stores data and
	// which port it takes come from the harness.
	var cfgText strings.Builder
	cfgText.WriteString("clientPort=2181\ndataDir=/unused\n")
	for k, v := range enforceAuthProps {
		cfgText.WriteString(k + "=" + v + "\n")
	}
	parsed, err := node.ParseConfig(strings.NewReader(cfgText.String()))
	if err != nil {
		t.Fatal(err)
	}
	z := harness.StartZkgo(t, func(c *node.Config) {
		p := parsed
		p.DataDir, p.DataLogDir, p.ClientPort, p.ClientPortAddress = c.DataDir, "", 0, "127.0.0.1"
		p.FourLetterWords, p.Logger = c.FourLetterWords, c.Logger
		*c = p
	})
	got := enforceAuthTranscript(t, z.Addr)
	if got != want {
		t.Errorf("zkgo differs from Java 3.8.0 (-java +zkgo):\n%s", lineDiff(want, got))
	}
}
