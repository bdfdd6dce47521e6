package decode

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/zkgo/zkgo/wire"
)

// feedStreams decodes b as direction dir of one connection of channel ch
// (ChannelUnknown: detected by content), fed in two chunks cut at cut, and
// prints every message in every format.
func feedStreams(ch Channel, dir Dir, b []byte, cut int) Counts {
	cfg := Config{NoWellKnownPorts: true}
	port := uint16(40000)
	switch ch {
	case ChannelClient:
		cfg.ClientPorts = []uint16{port}
	case ChannelQuorum:
		cfg.QuorumPorts = []uint16{port}
	case ChannelElection:
		cfg.ElectionPorts = []uint16{port}
	}
	var line []byte
	d := New(cfg, func(m *Message) {
		line = AppendLine(line[:0], m, false)
		line = AppendTree(line, m)
		line = AppendJSON(line, m)
	})
	t0 := time.Unix(1700000000, 0)
	c := d.Open(cliAddr, netip.AddrPortFrom(srvAddr.Addr(), port), t0, true)
	cut = min(max(cut, 0), len(b))
	c.Data(dir, b[:cut], t0)
	c.Data(dir, b[cut:], t0.Add(time.Millisecond))
	c.End(dir, t0.Add(2*time.Millisecond))
	d.Finish()
	return d.Counts()
}

// streamSeeds adds small seeds (a few messages each: big seeds make the
// fuzzer's minimisation slow) cut from the synthetic sessions.
func streamSeeds(f *testing.F, ch Channel) {
	r := rand.New(rand.NewPCG(1, 1))
	var fr []frame
	switch ch {
	case ChannelClient:
		fr, _ = clientSession(r)
	case ChannelQuorum:
		fr, _ = quorumSession()
		snap := append(qpBytes(wire.PacketSnap, 9, nil, nil), snapStream(1, 2, 4)...)
		f.Add(append(snap, qpBytes(wire.PacketCommit, 9, nil, nil)...), uint16(30), true)
	case ChannelElection:
		fr, _ = electionSession(wire.ElectionProtocolV1)
	}
	var to, from [][]byte
	for _, x := range fr {
		if x.dir == ToServer {
			to = append(to, x.b)
		} else {
			from = append(from, x.b)
		}
	}
	join := func(ms [][]byte, i, n int) []byte {
		var b []byte
		for ; i < len(ms) && n > 0; i, n = i+1, n-1 {
			if len(b)+len(ms[i]) > 600 {
				break
			}
			b = append(b, ms[i]...)
		}
		return b
	}
	f.Add(join(to, 0, 4), uint16(7), false)
	f.Add(join(from, 0, 4), uint16(40), true)
	f.Add(join(to, len(to)/2, 3), uint16(3), false)
	f.Add(join(from, len(from)/2, 3), uint16(1), true)
	if b := join(to, len(to)/3, 3); len(b) > 5 {
		f.Add(b[5:], uint16(2), false) // starts inside a message
	}
	f.Add([]byte("ruok\n"), uint16(2), false)
	f.Add([]byte{}, uint16(0), true)
}

// FuzzClientStream feeds arbitrary bytes to the client-channel decoder.
func FuzzClientStream(f *testing.F) {
	streamSeeds(f, ChannelClient)
	f.Fuzz(func(t *testing.T, b []byte, cut uint16, fromServer bool) {
		dir := ToServer
		if fromServer {
			dir = FromServer
		}
		feedStreams(ChannelClient, dir, b, int(cut))
	})
}

// FuzzQuorumStream feeds arbitrary bytes to the leader/learner decoder.
func FuzzQuorumStream(f *testing.F) {
	streamSeeds(f, ChannelQuorum)
	f.Fuzz(func(t *testing.T, b []byte, cut uint16, fromServer bool) {
		dir := ToServer
		if fromServer {
			dir = FromServer
		}
		feedStreams(ChannelQuorum, dir, b, int(cut))
	})
}

// FuzzElectionStream feeds arbitrary bytes to the election decoder.
func FuzzElectionStream(f *testing.F) {
	streamSeeds(f, ChannelElection)
	f.Fuzz(func(t *testing.T, b []byte, cut uint16, fromServer bool) {
		dir := ToServer
		if fromServer {
			dir = FromServer
		}
		feedStreams(ChannelElection, dir, b, int(cut))
	})
}

// FuzzDetect feeds arbitrary bytes to a connection whose channel must be
// found from its content.
func FuzzDetect(f *testing.F) {
	streamSeeds(f, ChannelClient)
	streamSeeds(f, ChannelQuorum)
	streamSeeds(f, ChannelElection)
	f.Fuzz(func(t *testing.T, b []byte, cut uint16, fromServer bool) {
		dir := ToServer
		if fromServer {
			dir = FromServer
		}
		feedStreams(ChannelUnknown, dir, b, int(cut))
	})
}

// FuzzCapture feeds arbitrary bytes as a capture file.
func FuzzCapture(f *testing.F) {
	for _, link := range []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL2, layers.LinkTypeNull} {
		for _, ng := range []bool{false, true} {
			cb := newCap(link, ng)
			fr, _ := quorumSession()
			s := newScript(cliAddr, netip.AddrPortFrom(srvAddr.Addr(), 2888), 1).syn()
			for _, x := range fr[:8] {
				s.send(x.dir, x.b)
			}
			s.split(200).reorder().write(cb)
			f.Add(cb.bytes())
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := New(Config{}, func(m *Message) {
			_ = AppendLine(nil, m, false)
			_ = AppendJSON(nil, m)
		})
		_, _ = d.ReadCapture(bytes.NewReader(b))
	})
}
