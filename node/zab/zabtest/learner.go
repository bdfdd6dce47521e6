package zabtest

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// The learner's side of the environment after its sync: a zab.Broadcast
// driven as node drives it (log, send, apply), the crash points of a
// learner's Ready, and packets injected as a faulty leader would send
// them.

// Crash points of a learner's Ready ("deliver FROM TO crash=POINT"): the
// learner crashes at the first packet whose Ready reaches the point, and
// loses what its store had not made durable.
const (
	// crashBeforeSync: the Ready's txns are appended, not yet durable.
	crashBeforeSync = "before-sync"
	// crashBeforeSend: everything the Ready persists is durable; its
	// messages are not sent.
	crashBeforeSend = "before-send"
)

// crashPeer is the "crash" command: p loses what its store had not made
// durable, its protocol state and the packets in flight to and from it.
func (e *Env) crashPeer(p *peer) string {
	p.store.Crash()
	p.learner = nil
	if e.leader != nil {
		if e.leader.id == p.id {
			e.leader = nil
		} else {
			delete(e.leader.learners, p.id)
		}
	}
	e.Net.Drop(p.id)
	return p.store.String()
}

// dropLeader is a learner leaving its leader (a broadcast step failed):
// the connection closes both ways.
func (e *Env) dropLeader(p *peer) {
	p.learner = nil
	if e.leader != nil {
		delete(e.leader.learners, p.id)
	}
	e.Net.Drop(p.id)
}

// cmdInject is "inject FROM TO TYPE [E:C]": a packet of the leader's
// that the model would not send on its own (a COMMIT out of order, a
// PING, a SYNC).
func (e *Env) cmdInject(words []string) (string, error) {
	if len(words) < 3 {
		return "", fmt.Errorf("inject FROM TO TYPE [E:C]")
	}
	from, err := e.peerArg(words, 0)
	if err != nil {
		return "", err
	}
	to, err := e.peerArg(words, 1)
	if err != nil {
		return "", err
	}
	var z wire.Zxid
	if len(words) > 3 {
		if z, err = ParseZxid(words[3]); err != nil {
			return "", err
		}
	}
	qp := wire.QuorumPacket{Zxid: z}
	switch words[2] {
	case "COMMIT":
		qp.Type = wire.PacketCommit
	case "PROPOSAL":
		qp.Type, qp.Data = wire.PacketProposal, wire.AppendTxnEntry(nil, Txn(z))
	case "INFORM":
		qp.Type, qp.Data = wire.PacketInform, wire.AppendTxnEntry(nil, Txn(z))
	case "PING":
		qp.Type = wire.PacketPing
	case "SYNC":
		qp.Type = wire.PacketSync
	case "UPTODATE":
		qp.Type, qp.Zxid = wire.PacketUpToDate, -1
	default:
		return "", fmt.Errorf("inject: unknown packet type %q", words[2])
	}
	return e.send(from.id, to.id, qp), nil
}

// startBroadcast begins p's broadcast phase from its sync's outcome.
func (e *Env) startBroadcast(p *peer) []string {
	l := p.learner
	b, r, err := zab.NewBroadcast(zab.BroadcastConfig{Observer: p.observer, LastZxid: p.store.LastZxid(), MaxRecord: 1 << 20},
		l.ls.Synced())
	l.bc = b
	out := e.broadcastReady(p, &r)
	if err != nil {
		out = append(out, "leaves the leader: "+err.Error())
		e.dropLeader(p)
	}
	return out
}

// learnerBroadcast is a follower's or observer's broadcast phase
// (zab.Broadcast): a PROPOSAL is logged and ACKed once durable
// (sync-log), a COMMIT applies the oldest pending proposal, an INFORM is
// logged (made durable at once) and applied.
func (e *Env) learnerBroadcast(p *peer, from int64, qp wire.QuorumPacket) ([]string, error) {
	l := p.learner
	r, err := l.bc.Step(&qp)
	out := e.broadcastReady(p, &r)
	if err != nil {
		out = append(out, "leaves the leader: "+err.Error())
		e.dropLeader(p)
	}
	return out, nil
}

// broadcastReady carries out a broadcast step as node does: log, send,
// apply, then the server layer's packets (a PING is answered with an
// empty touch table).
func (e *Env) broadcastReady(p *peer, r *zab.BroadcastReady) []string {
	l := p.learner
	var out []string
	for _, w := range r.Warnings {
		out = append(out, "warning: "+w)
	}
	for _, w := range r.Errors {
		out = append(out, "error: "+w)
	}
	if len(r.Append) > 0 {
		var fresh []*wire.TxnEntry
		for _, t := range r.Append {
			if t.Hdr.Zxid > p.store.LastZxid() {
				fresh = append(fresh, t)
			}
		}
		if err := p.store.Append(fresh...); err != nil {
			out = append(out, "log refuses: "+err.Error())
		}
		if p.observer {
			p.store.Sync()
		}
		out = append(out, "logged: "+p.store.String())
	}
	for _, m := range r.Messages {
		out = append(out, e.send(p.id, l.leader, m))
	}
	for _, t := range r.Apply {
		l.applied = append(l.applied, t.Hdr.Zxid)
	}
	if len(r.Apply) > 0 {
		var zs []string
		for _, t := range r.Apply {
			zs = append(zs, Zxid(t.Hdr.Zxid))
		}
		out = append(out, "applied "+strings.Join(zs, ","))
	}
	if r.Ping != nil {
		out = append(out, e.send(p.id, l.leader, wire.QuorumPacket{Type: wire.PacketPing, Zxid: r.Ping.Zxid,
			Data: wire.AppendTouchTable(nil, nil)}))
	}
	if r.Sync {
		out = append(out, "client sync answered")
	}
	return out
}

// learnerDurable sends a follower's ACKs of what its now durable log
// holds (zab.Broadcast.Durable).
func (e *Env) learnerDurable(p *peer) []string {
	l := p.learner
	if l == nil || l.bc == nil {
		return nil
	}
	r := l.bc.Durable(p.store.LastZxid())
	return e.broadcastReady(p, &r)
}

// crashAt reports whether p crashes at point, and crashes it.
func (e *Env) crashAt(p *peer, point string) bool {
	if e.crashPoint != point {
		return false
	}
	e.crashPoint = ""
	e.crashPeer(p)
	return true
}

func parseCrashPoint(kv map[string]string) (string, error) {
	v, ok := kv["crash"]
	if !ok {
		return "", nil
	}
	switch v {
	case crashBeforeSync, crashBeforeSend:
		return v, nil
	}
	return "", fmt.Errorf("crash=%s: not %s or %s", strconv.Quote(v), crashBeforeSync, crashBeforeSend)
}
