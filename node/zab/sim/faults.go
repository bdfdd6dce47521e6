package sim

import (
	"fmt"
	"math/rand/v2"
)

// FaultKind is a kind of fault the schedule injects.
type FaultKind uint8

// Faults.
const (
	// FaultCrash: the peer crashes; it keeps its durable log and Keep of
	// the records after it (the last one may be torn: dropped at
	// recovery), and restarts after Dur.
	FaultCrash FaultKind = iota
	// FaultCrashMid: the peer crashes at its next Ready between the
	// persist and the send, and restarts after Dur. Shape 0: any Ready;
	// 1: its NEWLEADER ACK; 2: a leader's epochs; 3: another step of a
	// learner's sync (the Keep%3+1-th such step); 4: a follower's ACK; 5:
	// a leader's COMMIT.
	FaultCrashMid
	// FaultPause: the peer stops for Dur (no ticks, nothing received).
	FaultPause
	// FaultCut: the peer's quorum connections break.
	FaultCut
	// FaultPartition: the network splits for Dur (Shape 0: the peer
	// alone; 1: a random minority; 2: the peer bridges two sides).
	FaultPartition
	// FaultSlow: the peer's links get Dur/4 ms slower for Dur.
	FaultSlow
	// FaultDisk: the peer's next fsync or epoch write fails: it must stop
	// (acknowledge nothing more) and restarts after Dur.
	FaultDisk
	numFaultKinds
)

func (k FaultKind) String() string {
	return [...]string{"crash", "crash-mid-ready", "pause", "cut", "partition", "slow", "disk-fail"}[k]
}

// Fault is one entry of a run's fault schedule.
type Fault struct {
	At   int64
	Kind FaultKind
	// Peer is the target's id; 0 targets the leader at the time (or the
	// first peer up when there is none).
	Peer  int64
	Dur   int64
	Keep  int
	Shape int
}

func (f Fault) String() string {
	t := "leader"
	if f.Peer > 0 {
		t = fmt.Sprint(f.Peer)
	}
	s := fmt.Sprintf("t=%d %s %s", f.At, f.Kind, t)
	switch f.Kind {
	case FaultCrash:
		s += fmt.Sprintf(" keep=%d restart+%d", f.Keep, f.Dur)
	case FaultCrashMid:
		s += fmt.Sprintf(" at=%s restart+%d", readyKind(f.Shape), f.Dur)
	case FaultDisk:
		s += fmt.Sprintf(" restart+%d", f.Dur)
	case FaultPause, FaultSlow:
		s += fmt.Sprintf(" for %d", f.Dur)
	case FaultPartition:
		s += fmt.Sprintf(" shape=%d for %d", f.Shape, f.Dur)
	}
	return s
}

// QuietTail is the end of a run in which no random fault starts: the
// last fault's effects (a restart, a heal) end at least QuietTail-950 ms
// before the end, longer than livenessWindow.
const QuietTail = 5000

// genSchedule draws the fault schedule from the seed alone, so that a
// fault can be disabled (shrinking) without moving the others.
func genSchedule(cfg Config) []Fault {
	if cfg.FaultEvery < 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(cfg.Seed^0xfa177, cfg.Seed))
	weights := [numFaultKinds]int{FaultCrash: 6, FaultCrashMid: 6, FaultPause: 3, FaultCut: 3, FaultPartition: 4, FaultSlow: 2, FaultDisk: 2}
	total := 0
	for _, w := range weights {
		total += w
	}
	var out []Fault
	t := int64(200)
	for {
		t += 1 + int64(rng.ExpFloat64()*float64(cfg.FaultEvery))
		if t >= cfg.Duration-QuietTail {
			return out
		}
		x := rng.IntN(total)
		k := FaultKind(0)
		for x >= weights[k] {
			x -= weights[k]
			k++
		}
		f := Fault{At: t, Kind: k, Dur: 50 + int64(rng.IntN(900)), Keep: rng.IntN(4), Shape: rng.IntN(3)}
		if k == FaultCrashMid {
			// The NEWLEADER ACK, where the ZOOKEEPER-3911 family lives,
			// three times as often as each other kind.
			f.Shape = []int{0, 1, 1, 1, 2, 3, 4, 5}[rng.IntN(8)]
		}
		if rng.IntN(3) != 0 {
			f.Peer = 1 + int64(rng.IntN(cfg.Peers+cfg.Observers))
		}
		out = append(out, f)
	}
}

func (s *Sim) leaderID() int64 {
	var best int64
	var bestEpoch int64 = -1
	for _, p := range s.peers {
		if p.up && p.ld != nil && p.ld.zl.Epoch() > bestEpoch {
			best, bestEpoch = p.id, p.ld.zl.Epoch()
		}
	}
	return best
}

// inject applies fault i of the schedule.
func (s *Sim) inject(i int) {
	f := s.sched[i]
	id := f.Peer
	if id == 0 {
		id = s.leaderID()
		if id == 0 {
			for _, p := range s.peers {
				if p.up {
					id = p.id
					break
				}
			}
		}
		if id == 0 {
			return
		}
	}
	p := s.peer(id)
	s.faults++
	s.chk.disturb(s.now)
	s.tracef("FAULT #%d %s (peer %d)", i, f, id)
	switch f.Kind {
	case FaultCrash:
		p.crash(f.Keep, f.Dur)
	case FaultCrashMid:
		if p.up {
			p.armed, p.armRestart, p.armAt, p.armSkip = true, f.Dur, readyKind(f.Shape), 0
			if p.armAt == readyLearner {
				// any of the sync's steps: LEADERINFO's, the first
				// packet's (DIFF, TRUNC or SNAP), the next sync's
				p.armSkip = f.Keep % 3
			}
		}
	case FaultPause:
		if p.up {
			p.pausedUntil = max(p.pausedUntil, s.now+f.Dur)
			s.chk.disturb(p.pausedUntil)
		}
	case FaultCut:
		s.net.closeAll(id, "connection cut")
	case FaultPartition:
		s.net.partitionGen++
		s.net.group = map[int64]int{}
		switch f.Shape {
		case 0:
			s.net.group[id] = 1
		case 1:
			// a random minority, the target in it
			perm := s.rng.Perm(len(s.ids))
			s.net.group[id] = 1
			for _, j := range perm[:(len(s.ids)-1)/2] {
				s.net.group[s.ids[j]] = 1
			}
		case 2:
			// the target bridges; the others split in two
			for j, x := range s.ids {
				s.net.group[x] = j % 2
			}
			s.net.group[id] = -1
		}
		s.net.healAt = s.now + f.Dur
		s.chk.disturb(s.net.healAt)
		s.push(&event{at: s.net.healAt, kind: evHeal, gen: s.net.partitionGen})
		// Connections across the cut stay open: TCP holds the packets
		// until the heal, unless a timeout closes the connection first.
	case FaultSlow:
		s.net.slow[id] = f.Dur / 4
		s.chk.disturb(s.now + f.Dur)
		s.push(&event{at: s.now + f.Dur, kind: evUnslow, peer: id})
	case FaultDisk:
		if p.up {
			p.store.failing = true
			p.armRestart = f.Dur
		}
	}
}
