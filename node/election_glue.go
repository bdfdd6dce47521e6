package node

import (
	"context"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/zkgo/zkgo/node/election"
	"github.com/zkgo/zkgo/wire"
)

// electionMembers is q's members as the election service takes them;
// me (this server's entry before q) is added as a non-voter when q does
// not hold this server (it was removed, or has not been added yet).
func electionMembers(q *Quorum, me QuorumServer) map[int64]election.Member {
	members := make(map[int64]election.Member, len(q.Servers)+1)
	for id, m := range q.Servers {
		members[id] = election.Member{ID: id, Addr: m.ElectionAddr(), Voter: m.Type == Participant}
	}
	if _, ok := members[q.MyID]; !ok {
		members[q.MyID] = election.Member{ID: q.MyID, Addr: me.ElectionAddr(), Outside: true}
	}
	return members
}

// startElection starts fast leader election on this member's election
// port, as a full participant (it can be elected and lead).
func (qs *quorumSide) startElection(q *Quorum, p *peer) (Elector, error) {
	members := electionMembers(q, q.Me())
	cfg := election.Config{
		MyID:                 q.MyID,
		Members:              members,
		ConfigText:           []byte(q.Text()),
		CanLead:              true,
		ReconfigEnabled:      qs.reconfigOn(),
		Verifier:             q.Verifier,
		HandshakeTimeout:     p.electionHandshakeTimeout,
		MaxPendingHandshakes: p.maxPendingHandshakes,
		Logger:               qs.cfg.Logger, // the service adds component=election
	}
	// Config.validate refused a value that is not a number.
	if v := qs.cfg.Properties[cnxTimeoutKey]; v != "" {
		if ms, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && ms > 0 {
			cfg.CnxTimeout = time.Duration(ms) * time.Millisecond
		}
	}
	for key, dst := range map[string]*time.Duration{
		"zookeeper.fastleader.minNotificationInterval": &cfg.MinNotificationInterval,
		"zookeeper.fastleader.maxNotificationInterval": &cfg.MaxNotificationInterval,
	} {
		if ms, err := strconv.Atoi(qs.cfg.Properties[key]); err == nil && ms > 0 {
			*dst = time.Duration(ms) * time.Millisecond
		}
	}
	if strings.EqualFold(strings.TrimSpace(qs.cfg.Raw["quorumListenOnAllIPs"]), "true") {
		cfg.ListenAddr = ":" + strconv.Itoa(q.Me().ElectionPort)
	}
	if p.sec != nil {
		// Quorum TLS and SASL on the election port (quorumsec.go).
		cfg.Dial, cfg.AuthLearner, cfg.AuthServer = p.sec.electionHooks(func(sid int64) string {
			return q.Servers[sid].Host
		})
		addr := cfg.ListenAddr
		if addr == "" {
			addr = members[q.MyID].Addr
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		cfg.Listener = p.sec.listener(ln, false)
	}
	svc, err := election.Start(cfg)
	if err != nil {
		if cfg.Listener != nil {
			cfg.Listener.Close()
		}
		return nil, err
	}
	return fleElector{svc}, nil
}

// fleElector adapts election.Service to Elector.
type fleElector struct{ svc *election.Service }

func (e fleElector) LookForLeader(ctx context.Context, z wire.Zxid, epoch int64) (ElectionOutcome, error) {
	out, err := e.svc.LookForLeader(ctx, z, epoch)
	return ElectionOutcome{State: out.State, Leader: out.Vote.Leader, Zxid: out.Vote.Zxid,
		ElectionEpoch: out.Vote.ElectionEpoch, PeerEpoch: out.Vote.PeerEpoch}, err
}
func (e fleElector) SetPeerEpoch(epoch int64)            { e.svc.SetPeerEpoch(epoch) }
func (e fleElector) SetLooking(z wire.Zxid, epoch int64) { e.svc.SetLooking(z, epoch) }
func (e fleElector) Reconfigure(q *Quorum, me QuorumServer) error {
	return e.svc.Reconfigure(electionMembers(q, me), []byte(q.Text()), q.Verifier)
}
func (e fleElector) SetVote(state wire.ServerState, leader int64, z wire.Zxid) {
	e.svc.SetVote(state, leader, z)
}
func (e fleElector) Close() error { return e.svc.Close() }
