package tree

import (
	"sort"

	"github.com/zkgo/zkgo/wire"
)

// JavaStringHash is String.hashCode of a string held in Java's form
// (wire.JavaString): over its UTF-16 units.
func JavaStringHash(s string) int32 {
	var h int32
	for _, u := range wire.JavaUnits(s) {
		h = 31*h + int32(u)
	}
	return h
}

// idHash is the generated Id.hashCode: 37*(37*17 + scheme) + id.
func idHash(id wire.ID) int32 {
	r := int32(17)
	r = 37*r + JavaStringHash(id.Scheme)
	r = 37*r + JavaStringHash(id.ID)
	return r
}

// JavaAuthOrder orders a connection's auth ids as Java iterates them: they
// live in a ConcurrentHashMap key set (16 slots; bucket = spread(hash) &
// 15; insertion order within a bucket). ids is in insertion order. (A
// connection would need more than 12 ids for the table to resize.)
func JavaAuthOrder(ids []wire.ID) []wire.ID {
	type e struct {
		id     wire.ID
		bucket int32
		seq    int
	}
	size := int32(16)
	for int(float64(size)*0.75) < len(ids) {
		size *= 2
	}
	es := make([]e, len(ids))
	for i, id := range ids {
		h := idHash(id)
		spread := (h ^ int32(uint32(h)>>16)) & 0x7fffffff
		es[i] = e{id: id, bucket: spread & (size - 1), seq: i}
	}
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].bucket != es[j].bucket {
			return es[i].bucket < es[j].bucket
		}
		return es[i].seq < es[j].seq
	})
	out := make([]wire.ID, len(ids))
	for i := range es {
		out[i] = es[i].id
	}
	return out
}
