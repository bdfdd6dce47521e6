package zabtest

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/zkgo/zkgo/node/quorum"
	"github.com/zkgo/zkgo/node/zab"
	"github.com/zkgo/zkgo/wire"
)

// The learner's side of the environment after its sync: a zab.Broadcast
// driven as node drives it (log, send, apply), the crash points of a
// learner's Ready, and a learner's crash or departure as the leader sees
// it (a dropped connection).

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
// It returns p's store as the crash left it, then what the leader did
// about it (a leader's crash ends its leadership; a learner's breaks its
// connection to the leader).
func (e *Env) crashPeer(p *peer) []string {
	p.store.Crash()
	out := []string{p.store.String()}
	return append(out, e.disconnect(p)...)
}

// disconnect ends p's protocol state and its connections: a leader's
// leadership ends; a learner's connection breaks, after a crash or when
// it leaves its leader (a broadcast step failed), and the leader drops it.
func (e *Env) disconnect(p *peer) []string {
	p.learner = nil
	var out []string
	if e.leader != nil {
		if e.leader.id == p.id {
			e.leaderGone()
		} else {
			out = e.leaderLost(p.id)
		}
	}
	e.Net.Drop(p.id)
	return out
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
		out = append(out, e.disconnect(p)...)
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
		out = append(out, e.disconnect(p)...)
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
	out = append(out, configLines(r.NextConfig, r.Activations)...)
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
	if leave := leaving(r.Activations); leave != "" {
		out = append(out, "leaves the leader: "+leave)
		out = append(out, e.disconnect(p)...)
	}
	return out
}

// configLines renders a learner's reconfiguration steps: the last seen
// configuration written, the activations.
func configLines(next *quorum.Config, acts []zab.LearnerActivation) []string {
	var out []string
	if next != nil {
		out = append(out, "write next config: "+ConfigLine(next))
	}
	for _, a := range acts {
		role := "participant"
		if a.Observer {
			role = "observer"
		}
		out = append(out, fmt.Sprintf("activate at %s: %s; designated leader %d; role %s", Zxid(a.Zxid), ConfigLine(a.Config), a.Designated, role))
	}
	return out
}

// leaving is the reason of the activation that makes the learner leave
// its leader, if any.
func leaving(acts []zab.LearnerActivation) string {
	for _, a := range acts {
		if a.Leave {
			return a.Reason
		}
	}
	return ""
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

// crashAt reports whether p crashes at point; if so it crashes p and
// returns what the leader did about it.
func (e *Env) crashAt(p *peer, point string) (bool, []string) {
	if e.crashPoint != point {
		return false, nil
	}
	e.crashPoint = ""
	return true, e.crashPeer(p)[1:]
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
