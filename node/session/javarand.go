package session

import "github.com/zkgo/zkgo/wire"

// superSecret is ZooKeeperServer.superSecret, mixed into password seeds.
const superSecret = 0xB3415C00

// javaRandom reproduces java.util.Random's 48-bit LCG.
type javaRandom struct{ seed int64 }

const (
	lcgMult = 0x5DEECE66D
	lcgAdd  = 0xB
	lcgMask = (1 << 48) - 1
)

func newJavaRandom(seed int64) *javaRandom {
	return &javaRandom{seed: (seed ^ lcgMult) & lcgMask}
}

func (r *javaRandom) next(bits uint) int32 {
	r.seed = (r.seed*lcgMult + lcgAdd) & lcgMask
	return int32(uint64(r.seed) >> (48 - bits))
}

// nextBytes fills b as Random.nextBytes does: each nextInt supplies four
// bytes, least significant first.
func (r *javaRandom) nextBytes(b []byte) {
	for i := 0; i < len(b); {
		rnd := r.next(32)
		for n := min(len(b)-i, 4); n > 0; n-- {
			b[i] = byte(rnd)
			i++
			rnd >>= 8
		}
	}
}

// Password returns the 16-byte password Java derives for a session id
// (ZooKeeperServer.generatePasswd), so clients of Java servers can
// reconnect to zkgo and vice versa.
func Password(id wire.SessionID) []byte {
	b := make([]byte, 16)
	newJavaRandom(int64(id) ^ superSecret).nextBytes(b)
	return b
}

// InitialSessionID is SessionTrackerImpl.initializeNextSessionId: the low
// 56 bits come from the clock (ms, shifted left 24 then logically right 8),
// the top byte is the server id.
func InitialSessionID(serverID int64, nowMs int64) wire.SessionID {
	next := int64(uint64(nowMs<<24) >> 8)
	next |= serverID << 56
	if next == -1<<63 { // EphemeralType.CONTAINER_EPHEMERAL_OWNER
		next++
	}
	return wire.SessionID(next)
}
