package decode

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/zkgo/zkgo/wire"
)

// Election rounds for the statistics. Each peer instance (a sid's
// process, Message.Instance) goes through looking periods: a period
// starts with a LOOKING notification of a new logical clock and ends when
// the instance follows or leads (a FOLLOWING/LEADING/OBSERVING
// notification from it, its FOLLOWERINFO/OBSERVERINFO, or LEADERINFO
// from it as leader). A round groups the periods that overlap: a period
// joins the latest round while one of that round's periods is still
// looking, unless it starts a higher electionEpoch no one sent it (then
// the others have moved on). So a member that restarts and finds the
// leader is a round of its own, as in Java's logs ("LOOKING" then
// "FOLLOWING"), even though its logical clock starts again at 1.
//
// A LOOKING notification does not start a period when it is a resend:
// Java's QuorumCnxManager sends the last message again on every new
// connection, so an instance that already decided can send an old LOOKING
// vote as the first notification of a connection.

// maxElectionTracks bounds what the statistics keep per instance and per
// round on hostile input.
const maxElectionTracks = 4096

type instKey struct {
	sid  int64
	inst int
}

type lookPeriod struct {
	round   *electionRound
	decided bool
}

type instTrack struct {
	cur      *lookPeriod
	maxEpoch int64
}

type electionRound struct {
	first              time.Duration
	notifs             int64
	minEpoch, maxEpoch int64
	senders            map[int64]bool
	looking            []instKey
	open               int             // periods still looking
	final              map[int64]int64 // leaders named by decisions and FOLLOWING/LEADING notifications
	votes              map[instKey]wire.Notification
	decidedVote        map[int64]wire.Notification // a FOLLOWING/LEADING notification naming each leader
}

type electionStats struct {
	rounds  []*electionRound
	insts   map[instKey]*instTrack
	latest  map[int64]int   // a sid's latest instance
	recvMax map[int64]int64 // highest electionEpoch sent to a sid
	seen    map[int64]uint8 // per connection: bit d set once a notification went in direction d
}

func newElectionStats() electionStats {
	return electionStats{insts: map[instKey]*instTrack{}, latest: map[int64]int{}, recvMax: map[int64]int64{},
		seen: map[int64]uint8{}}
}

func (e *electionStats) track(k instKey) *instTrack {
	it := e.insts[k]
	if it == nil && len(e.insts) < maxElectionTracks {
		it = &instTrack{maxEpoch: -1}
		e.insts[k] = it
	}
	return it
}

func (e *electionStats) current() *electionRound {
	if len(e.rounds) == 0 {
		return nil
	}
	return e.rounds[len(e.rounds)-1]
}

func (e *electionStats) newRound(at time.Duration, epoch int64) *electionRound {
	if len(e.rounds) >= maxElectionTracks {
		return e.current()
	}
	r := &electionRound{first: at, minEpoch: epoch, maxEpoch: epoch, senders: map[int64]bool{},
		final: map[int64]int64{}, votes: map[instKey]wire.Notification{}, decidedVote: map[int64]wire.Notification{}}
	e.rounds = append(e.rounds, r)
	return r
}

// decide ends k's looking period with leader (-1: not known here).
func (e *electionStats) decide(k instKey, leader int64) {
	it := e.insts[k]
	if it == nil || it.cur == nil || it.cur.decided {
		return
	}
	it.cur.decided = true
	it.cur.round.open--
	if leader >= 0 {
		it.cur.round.final[leader]++
	}
}

func (e *electionStats) key(sid int64, inst int) instKey {
	if inst <= 0 {
		inst = max(e.latest[sid], 1)
	}
	return instKey{sid: sid, inst: inst}
}

func (e *electionStats) notification(m *Message) {
	n := m.Notification
	bit := uint8(1) << m.Dir
	firstOnConn := e.seen[m.Conn.ID]&bit == 0
	if len(e.seen) < maxElectionTracks || !firstOnConn {
		e.seen[m.Conn.ID] |= bit
	}
	receiver := m.Conn.Sid
	if m.Dir == ToServer {
		receiver = m.Conn.ServerSid
	}
	var it *instTrack
	var k instKey
	if m.Sid >= 0 {
		k = e.key(m.Sid, m.Instance)
		if k.inst > e.latest[m.Sid] {
			e.latest[m.Sid] = k.inst
		}
		it = e.track(k)
	}
	epoch := n.ElectionEpoch
	var r *electionRound
	if it != nil && n.State == wire.ServerLooking {
		selfIncrement := epoch > it.maxEpoch && e.recvMax[m.Sid] < epoch
		var start bool
		switch {
		case it.cur == nil:
			start = true
		case it.cur.decided:
			start = !(firstOnConn && epoch <= it.maxEpoch)
		default:
			start = selfIncrement
		}
		if start {
			if it.cur != nil && !it.cur.decided {
				it.cur.decided = true // superseded by a new logical clock
				it.cur.round.open--
			}
			r = e.current()
			if r == nil || r.open == 0 || selfIncrement && epoch > r.maxEpoch {
				r = e.newRound(m.Rel, epoch)
			}
			r.open++
			r.looking = append(r.looking, k)
			it.cur = &lookPeriod{round: r}
		}
		r = it.cur.round
		if it.cur.decided {
			r = nil // a resend: counted in the current round below
		} else {
			v := *n
			v.Config = nil
			r.votes[k] = v
			r.minEpoch, r.maxEpoch = min(r.minEpoch, epoch), max(r.maxEpoch, epoch)
		}
	}
	if it != nil {
		it.maxEpoch = max(it.maxEpoch, epoch)
		if n.State != wire.ServerLooking {
			e.decide(k, n.Leader)
		}
	}
	if receiver >= 0 {
		e.recvMax[receiver] = max(e.recvMax[receiver], epoch)
	}
	if r == nil {
		if r = e.current(); r == nil {
			r = e.newRound(m.Rel, epoch)
		}
	}
	r.notifs++
	if m.Sid >= 0 {
		r.senders[m.Sid] = true
	}
	if n.State != wire.ServerLooking {
		// Evidence for the round of its electionEpoch.
		for i := len(e.rounds) - 1; i >= 0; i-- {
			if o := e.rounds[i]; epoch >= o.minEpoch && epoch <= o.maxEpoch || i == 0 {
				o.final[n.Leader]++
				if _, ok := o.decidedVote[n.Leader]; !ok {
					v := *n
					v.Config = nil
					o.decidedVote[n.Leader] = v
				}
				break
			}
		}
	}
}

// quorumPacket ends looking periods on the learner handshake: a learner's
// FOLLOWERINFO/OBSERVERINFO (it follows the connection's leader) and the
// leader's LEADERINFO.
func (e *electionStats) quorumPacket(m *Message) {
	switch m.Packet {
	case wire.PacketFollowerInfo, wire.PacketObserverInfo:
		if m.Sid >= 0 {
			e.decide(e.key(m.Sid, 0), m.Conn.ServerSid)
		}
	case wire.PacketLeaderInfo:
		if l := m.Conn.ServerSid; l >= 0 {
			e.decide(e.key(l, 0), l)
		}
	}
}

func (e *electionStats) report() ([]ElectionReport, map[string]int64) {
	out := []ElectionReport{}
	for _, r := range e.rounds {
		er := ElectionReport{ElectionEpoch: r.maxEpoch, FirstEpoch: r.minEpoch, Notifications: r.notifs, Leader: -1,
			At: r.first.Seconds(), Looking: []PeerInstance{}, Senders: []int64{}}
		for sid := range r.senders {
			er.Senders = append(er.Senders, sid)
		}
		slices.Sort(er.Senders)
		for _, k := range r.looking {
			er.Looking = append(er.Looking, PeerInstance{Sid: k.sid, Instance: k.inst})
		}
		var best, bestN int64 = -1, 0
		for l, n := range r.final {
			if n > bestN || n == bestN && l > best {
				best, bestN = l, n
			}
		}
		if best < 0 {
			// No decision seen: the leader most lookers voted for last.
			counts := map[int64]int64{}
			for _, v := range r.votes {
				counts[v.Leader]++
			}
			for l, n := range counts {
				if n > bestN || n == bestN && l > best {
					best, bestN = l, n
				}
			}
		}
		er.Leader = best
		if v, ok := r.decidedVote[best]; ok {
			er.LeaderZxid, er.PeerEpoch = v.Zxid.String(), v.PeerEpoch
		} else {
			var vote *wire.Notification
			for _, v := range r.votes {
				if v.Leader == best && (vote == nil || cmp.Compare(v.ElectionEpoch, vote.ElectionEpoch) > 0) {
					vote = &v
				}
			}
			if vote != nil {
				er.LeaderZxid, er.PeerEpoch = vote.Zxid.String(), vote.PeerEpoch
			}
		}
		out = append(out, er)
	}
	inst := map[string]int64{}
	for sid, n := range e.latest {
		inst[strconv.FormatInt(sid, 10)] = int64(n)
	}
	return out, inst
}
