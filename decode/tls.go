package decode

import (
	"strconv"
	"time"
)

// A connection that opens with a TLS record carries encrypted ZooKeeper
// traffic (a secure client port, TLS on a unified port, quorum TLS):
// nothing in it can be decoded without the session keys. Rather than
// report garbage, the decoder says so once and skips its bytes.

// tlsRecordType is the content type of the first record of a TLS
// connection (handshake).
const tlsRecordType = 0x16

// looksTLS reports whether b starts with a TLS handshake record header:
// type 22, protocol major version 3 (SSL 3.0 to TLS 1.3 records), and, when
// the length is there, a length a record can have. No ZooKeeper channel
// can start so: a client frame length of 0x1603.... exceeds any
// jute.maxbuffer, quorum packets start with a small type, election
// connections with a sid or a negative protocol version, four-letter
// words with a letter.
func looksTLS(b []byte) bool {
	if len(b) < 3 || b[0] != tlsRecordType || b[1] != 3 || b[2] > 4 {
		return false
	}
	if len(b) >= 5 {
		n := int(b[3])<<8 | int(b[4])
		return n > 0 && n <= 18432
	}
	return true
}

// checkTLS looks at the first bytes of capture direction dir; if they
// start a TLS connection the connection is marked and a note emitted.
func (c *Conn) checkTLS(dir Dir, b []byte, t time.Time) bool {
	if c.seen[dir] {
		return false
	}
	c.seen[dir] = true
	hd := dir
	if c.flip {
		hd ^= 1
	}
	if c.h[hd].mid || c.h[hd].started || !looksTLS(b) {
		return false
	}
	c.tls = true
	c.h[hd].t = t
	c.pre, c.preBytes = nil, 0
	c.d.counts.TLSConns++
	proto := strconv.Itoa(int(b[2]))
	switch c.tlsChannel() {
	case ChannelQuorum:
		c.d.note(c, hd, 0, int64(len(b)), "quorum TLS connection on the leader/learner port (sslQuorum or portUnification; "+
			"TLS handshake record, protocol 3."+proto+"): its Zab traffic is encrypted and cannot be decoded from a capture")
	case ChannelElection:
		c.d.note(c, hd, 0, int64(len(b)), "quorum TLS connection on the election port (sslQuorum or portUnification; "+
			"TLS handshake record, protocol 3."+proto+"): its initial message and notifications are encrypted and "+
			"cannot be decoded from a capture")
	default:
		c.d.note(c, hd, 0, int64(len(b)), "TLS connection (TLS handshake record, protocol 3."+proto+
			"): its ZooKeeper traffic is encrypted and cannot be decoded from a capture; decode on the plaintext side "+
			"(e.g. 'zkgo proxy --tls-listen ... --record') instead")
	}
	return true
}

// tlsChannel is the channel a TLS connection's ports say it carries (its
// content cannot): the channel already set from configured ports, else
// the accepting side's port, configured or well known.
func (c *Conn) tlsChannel() Channel {
	if c.info.Channel != ChannelUnknown {
		return c.info.Channel
	}
	if ch, ok := c.d.portChannel(c.info.Server.Port(), true); ok {
		return ch
	}
	if !c.sure {
		if ch, ok := c.d.portChannel(c.info.Client.Port(), true); ok {
			return ch
		}
	}
	return ChannelUnknown
}
