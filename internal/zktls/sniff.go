package zktls

import "net"

// tlsRecordHandshake is the content type of a TLS handshake record, the
// first byte of any TLS client's first flight.
const tlsRecordHandshake = 0x16

// Sniff reads the first bytes of a connection on a port that takes TLS
// and plaintext and says whether they start a TLS record (Netty's
// SslHandler.isEncrypted on five bytes, as Java's UnifiedServerSocket and
// DualModeSslHandler use it). A first byte other than 0x16 is plaintext at
// once. The bytes read are returned to be replayed (PrefixConn).
func Sniff(c net.Conn) (pre []byte, isTLS bool, err error) {
	b := make([]byte, 0, 5)
	for len(b) < 5 {
		n, err := c.Read(b[len(b):5])
		b = b[:len(b)+n]
		if len(b) > 0 && b[0] != tlsRecordHandshake {
			return b, false, nil
		}
		if err != nil {
			return b, false, err
		}
	}
	return b, IsTLSRecord(b), nil
}

// IsTLSRecord reports whether b starts with a TLS record header: a known
// content type (20-23), protocol major version 3, and a length a record
// can have.
func IsTLSRecord(b []byte) bool {
	if len(b) < 5 {
		return false
	}
	if b[0] < 20 || b[0] > 23 || b[1] != 3 {
		return false
	}
	n := int(b[3])<<8 | int(b[4])
	return n > 0 && n <= 18432
}

// PrefixConn replays bytes read to sniff the protocol before reading on.
type PrefixConn struct {
	net.Conn
	Pre []byte
}

func (p *PrefixConn) Read(b []byte) (int, error) {
	if len(p.Pre) > 0 {
		n := copy(b, p.Pre)
		p.Pre = p.Pre[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}
