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
	if noDigest(path) {
		return 0
	}
	return d.finish(dataCRC(path, data), st)
}

// noDigest reports the paths the digest leaves out (under /zookeeper/).
func noDigest(path string) bool { return strings.HasPrefix(path, "/zookeeper/") }

// dataCRC is the CRC32 of a node's path and data, the part of its digest
// that a change of its stat alone leaves as it is. Nodes and outstanding
// changes keep it, so that a parent's cversion/pzxid update (every create
// and delete under it) costs a CRC over 60 bytes, not over its data.
func dataCRC(path string, data []byte) uint32 {
	if path == "/" {
		path = ""
	}
	// The CRC only reads the path's bytes: no copy of the string.
	crc := crc32.ChecksumIEEE(unsafe.Slice(unsafe.StringData(path), len(path)))
	if data != nil {
		crc = crc32.Update(crc, crc32.IEEETable, data)
	}
	return crc
}

// finish completes a node digest from its dataCRC and its stat.
func (d *digester) finish(prefix uint32, st *wire.StatPersisted) uint64 {
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
	return uint64(crc32.Update(prefix, crc32.IEEETable, b[:]))
}

// nodeDigest is the digest of the tree node n at path, from its cached
// dataCRC.
func (t *Tree) nodeDigest(path string, n *Node) uint64 {
	if noDigest(path) {
		return 0
	}
	return t.dg.finish(n.dcrc, &n.Stat)
}
