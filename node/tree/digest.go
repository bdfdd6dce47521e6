package tree

import (
	"encoding/binary"
	"hash/crc32"
	"strings"
	"unsafe"

	"github.com/zkgo/zkgo/wire"
)

// DigestVersion is the TxnDigest/ZxidDigest version this digest matches
// (Java's DigestCalculator.DIGEST_VERSION).
const DigestVersion = 2

// digester computes node digests without allocating: the stat bytes go
// through a scratch array it owns (one per Tree, which is single-goroutine).
type digester struct {
	b [60]byte
}

// node mirrors DigestCalculator.calculateDigest: CRC32 over the path ("/"
// counted as ""), the data when non-nil, then czxid, mzxid, pzxid, ctime,
// mtime (i64), version, cversion, aversion (i32) and ephemeralOwner (i64).
// Nodes under /zookeeper/ contribute nothing.
func (d *digester) node(path string, data []byte, st *wire.StatPersisted) uint64 {
	if strings.HasPrefix(path, "/zookeeper/") {
		return 0
	}
	if path == "/" {
		path = ""
	}
	b := &d.b
	binary.BigEndian.PutUint64(b[0:], uint64(st.Czxid))
	binary.BigEndian.PutUint64(b[8:], uint64(st.Mzxid))
	binary.BigEndian.PutUint64(b[16:], uint64(st.Pzxid))
	binary.BigEndian.PutUint64(b[24:], uint64(st.Ctime))
	binary.BigEndian.PutUint64(b[32:], uint64(st.Mtime))
	binary.BigEndian.PutUint32(b[40:], uint32(st.Version))
	binary.BigEndian.PutUint32(b[44:], uint32(st.Cversion))
	binary.BigEndian.PutUint32(b[48:], uint32(st.Aversion))
	binary.BigEndian.PutUint64(b[52:], uint64(st.EphemeralOwner))
	// The CRC only reads the path's bytes: no copy of the string.
	crc := crc32.ChecksumIEEE(unsafe.Slice(unsafe.StringData(path), len(path)))
	if data != nil {
		crc = crc32.Update(crc, crc32.IEEETable, data)
	}
	crc = crc32.Update(crc, crc32.IEEETable, b[:])
	return uint64(crc)
}
