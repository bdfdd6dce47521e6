package zabtest

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/wire"
)

// link is one direction between two peers.
type link struct{ from, to int64 }

// Network is a set of ordered links between peers, one per direction, as
// TCP gives Zab. A cut link drops what is sent on it and what was in
// flight, as a broken connection does.
type Network struct {
	queues map[link][]wire.QuorumPacket
	cut    map[link]bool
}

// NewNetwork returns a network with every link up and empty.
func NewNetwork() *Network {
	return &Network{queues: map[link][]wire.QuorumPacket{}, cut: map[link]bool{}}
}

// Send puts qp on the link from -> to, unless the link is cut.
func (n *Network) Send(from, to int64, qp wire.QuorumPacket) {
	l := link{from, to}
	if n.cut[l] {
		return
	}
	n.queues[l] = append(n.queues[l], qp)
}

// Deliver takes up to max packets (all when max <= 0) off the link from ->
// to, oldest first.
func (n *Network) Deliver(from, to int64, max int) []wire.QuorumPacket {
	l := link{from, to}
	q := n.queues[l]
	if max <= 0 || max > len(q) {
		max = len(q)
	}
	out := q[:max:max]
	if rest := q[max:]; len(rest) > 0 {
		n.queues[l] = rest
	} else {
		delete(n.queues, l)
	}
	return out
}

// Pending is the number of packets in flight from -> to.
func (n *Network) Pending(from, to int64) int { return len(n.queues[link{from, to}]) }

// Cut breaks both directions between a and b; what is in flight is lost.
func (n *Network) Cut(a, b int64) {
	for _, l := range []link{{a, b}, {b, a}} {
		n.cut[l] = true
		delete(n.queues, l)
	}
}

// Partition cuts every link between peers of different groups.
func (n *Network) Partition(groups ...[]int64) {
	for i, g := range groups {
		for _, h := range groups[i+1:] {
			for _, a := range g {
				for _, b := range h {
					n.Cut(a, b)
				}
			}
		}
	}
}

// Drop empties every link to and from id (its connections broke).
func (n *Network) Drop(id int64) {
	for l := range n.queues {
		if l.from == id || l.to == id {
			delete(n.queues, l)
		}
	}
}

// Close empties both directions between a and b (their connection
// closed); a later connection may use them.
func (n *Network) Close(a, b int64) {
	delete(n.queues, link{a, b})
	delete(n.queues, link{b, a})
}

// Heal restores every link (empty).
func (n *Network) Heal() { n.cut = map[link]bool{} }

// links returns the links with packets in flight, by sender then
// receiver.
func (n *Network) links() []link {
	links := make([]link, 0, len(n.queues))
	for l := range n.queues {
		links = append(links, l)
	}
	sort.Slice(links, func(i, j int) bool {
		if links[i].from != links[j].from {
			return links[i].from < links[j].from
		}
		return links[i].to < links[j].to
	})
	return links
}

// String lists the packets in flight, link by link.
func (n *Network) String() string {
	var b strings.Builder
	for _, l := range n.links() {
		for _, qp := range n.queues[l] {
			fmt.Fprintf(&b, "%d->%d %s\n", l.from, l.to, Packet(qp))
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// Zxid renders z as epoch:counter.
func Zxid(z wire.Zxid) string {
	if z < 0 {
		return strconv.FormatInt(int64(z), 10)
	}
	return fmt.Sprintf("%d:%d", z.Epoch(), z.Counter())
}

// Packet renders a quorum packet as its type and zxid; a PROPOSAL shows
// the txn's zxid and path when it is a create, and the configuration when
// it is a reconfig; COMMITANDACTIVATE and INFORMANDACTIVATE show the
// designated leader; NEWLEADER its configuration, if any.
func Packet(qp wire.QuorumPacket) string {
	s := qp.Type.String() + " " + Zxid(qp.Zxid)
	txn := func(data []byte) {
		e, err := wire.DecodeTxnEntry(data, 1<<20)
		if err != nil {
			return
		}
		switch b := e.Body.(type) {
		case *wire.CreateTxn:
			s += " " + b.Path
		case *wire.SetDataTxn:
			if e.Hdr.Type == wire.OpReconfig {
				s += " reconfig " + configText(b.Data)
			}
		}
	}
	switch qp.Type {
	case wire.PacketProposal:
		txn(qp.Data)
	case wire.PacketCommitAndActivate, wire.PacketInformAndActivate:
		if len(qp.Data) >= 8 {
			s += fmt.Sprintf(" leader=%d", int64(binary.BigEndian.Uint64(qp.Data)))
			if qp.Type == wire.PacketInformAndActivate {
				txn(qp.Data[8:])
			}
		}
	case wire.PacketNewLeader:
		if len(qp.Data) > 0 {
			s += " config " + configText(qp.Data)
		}
	}
	return s
}

func configText(data []byte) string {
	c, err := quorum.ParseConfigText(string(data), false)
	if err != nil {
		return fmt.Sprintf("(%q: %v)", data, err)
	}
	return ConfigLine(c)
}
