package node

// sessionlessCheck closes, on the tick, the connections that have not
// established a session within 10 s. It holds the connections not yet 10 s
// old, in registration order (register adds them), and the older ones
// still handshaking or answering a four-letter word; the statistics it
// counts in and the way a connection is closed (Server.closeConn) are set
// in New.
type sessionlessCheck struct {
	stats *stats
	close func(cc *clientConn, reason string)

	fresh []*clientConn
	head  int // fresh[:head] are looked at already
	late  []*clientConn
}

// add starts watching a connection just registered.
func (c *sessionlessCheck) add(cc *clientConn) { c.fresh = append(c.fresh, cc) }

// run closes connections that have not completed a handshake within 10s
// (Java's sessionlessCnxnTimeout). Each connection is looked at when its
// 10 s are up (fresh is in registration order), and after that each tick
// only while it is still handshaking or answering a four-letter word
// (late): not every connection every tick (6.5 ms at 100,000).
func (c *sessionlessCheck) run(now int64) {
	for c.head < len(c.fresh) {
		cc := c.fresh[c.head]
		if now-cc.openedAt <= sessionlessTimeoutMs {
			break
		}
		c.fresh[c.head] = nil
		c.head++
		if c.due(cc) {
			c.late = append(c.late, cc)
		}
	}
	if c.head > len(c.fresh)/2 {
		n := copy(c.fresh, c.fresh[c.head:])
		clear(c.fresh[n:])
		c.fresh, c.head = c.fresh[:n], 0
	}
	k := 0
	for _, cc := range c.late {
		if c.due(cc) {
			c.late[k] = cc
			k++
		}
	}
	clear(c.late[k:])
	c.late = c.late[:k]
}

// due closes cc if its 10 s are up without a session; it
// reports whether cc is to be looked at again (still handshaking, or a
// four-letter word's connection).
func (c *sessionlessCheck) due(cc *clientConn) bool {
	if cc.dead || cc.closing || cc.session != 0 {
		return false
	}
	if cc.connecting || cc.fourLetter {
		return true
	}
	c.stats.sessionlessExpired++
	c.close(cc, "no session established within 10s")
	return false
}
