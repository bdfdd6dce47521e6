package node

import (
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Four-letter words whose output grows with the server's state (cons,
// stat, dump, wchc, wchp: a line per connection, session, ephemeral or
// watch) are built a bounded number of lines per owner round; those that
// read the disk or the OS (mntr's descriptor count, conf and dirs' directory
// sizes, envi) get that part from a goroutine first. Like Java's, whose
// commands read the server's concurrent tables while requests go on, a long
// listing is not one instant's state: a connection closed or a watch fired
// while it is built may or may not be in it. Listings of up to 4096 items
// stay sorted; longer ones come in map order (Java's are in hash order).

// fourLetterJob builds one four-letter word's output across rounds.
type fourLetterJob struct {
	word    string
	pre     chan any // the prefetch's result
	preV    any
	fetched bool
	gen     func(pre any) iter.Seq[string]
	next    func() (string, bool)
	stop    func()
	out     []byte   // the piece being filled
	pieces  [][]byte // those filled
	size    int      // bytes in pieces
	joined  chan []byte
}

// fourLetterJob returns the job for a word built across rounds, or nil for
// a word answered at once.
func (s *Server) fourLetterJob(word string) connJob {
	j := &fourLetterJob{word: word}
	one := func(fn func(b *strings.Builder, pre any)) func(any) iter.Seq[string] {
		return func(pre any) iter.Seq[string] {
			return func(yield func(string) bool) {
				var b strings.Builder
				fn(&b, pre)
				yield(b.String())
			}
		}
	}
	switch word {
	case "cons":
		j.gen = func(any) iter.Seq[string] { return s.consLines(true, true) }
	case "stat":
		j.gen = func(any) iter.Seq[string] { return s.statLines() }
	case "dump":
		j.gen = func(any) iter.Seq[string] { return s.dumpLines() }
	case "wchc":
		j.gen = func(any) iter.Seq[string] { return s.wchcLines() }
	case "wchp":
		j.gen = func(any) iter.Seq[string] { return s.wchpLines() }
	case "crst":
		// Resetting every connection's stats (6 ms at 100,000).
		j.gen = func(any) iter.Seq[string] {
			return func(yield func(string) bool) {
				for cc := range s.eachConn() {
					cc.stats.reset()
					if !yield("") {
						return
					}
				}
				yield("Connection stats reset.\n")
			}
		}
	case "mntr":
		j.prefetch(s, func() any { return readFDCounts() })
		j.gen = one(func(b *strings.Builder, pre any) { s.writeMntr(b, pre.(fdCounts)) })
	case "conf":
		j.prefetch(s, func() any { return s.readDirSizes() })
		j.gen = one(func(b *strings.Builder, pre any) { s.writeConf(b, pre.(dirSizes)) })
	case "dirs":
		j.prefetch(s, func() any { return s.readDirSizes() })
		j.gen = one(func(b *strings.Builder, pre any) { writeDirs(b, pre.(dirSizes)) })
	case "envi":
		// Host, user, working directory and memory: all from the OS.
		j.prefetch(s, func() any {
			var b strings.Builder
			writeEnvi(&b)
			return b.String()
		})
		j.gen = one(func(b *strings.Builder, pre any) { b.WriteString(pre.(string)) })
	default:
		return nil
	}
	return j
}

// prefetch runs fn on a goroutine; the job waits for its result.
func (j *fourLetterJob) prefetch(s *Server, fn func() any) {
	j.pre = make(chan any, 1)
	s.goRoutine(func() {
		j.pre <- fn()
		s.poke()
	})
}

func (j *fourLetterJob) step(s *Server, cc *clientConn, budget int) (int, bool) {
	if j.pre != nil && !j.fetched {
		select {
		case j.preV = <-j.pre:
			j.fetched = true
		default:
			return 0, false // its goroutine pokes the owner when done
		}
	}
	if j.joined != nil {
		select {
		case out := <-j.joined:
			s.answerFourLetter(cc, j.word, out)
			return 1, true
		default:
			return 0, false // its goroutine pokes the owner when done
		}
	}
	if j.next == nil {
		j.next, j.stop = iter.Pull(j.gen(j.preV))
	}
	for used := 0; used < budget; used += fourLetterLineOps {
		line, ok := j.next()
		if !ok {
			j.stop()
			j.next = nil
			if j.pieces == nil {
				s.answerFourLetter(cc, j.word, j.out)
				return used + 1, true
			}
			// A long output (the admin socket takes it in one write):
			// the pieces are joined on a goroutine.
			pieces := append(j.pieces, j.out)
			size := j.size + len(j.out)
			j.pieces, j.out = nil, nil
			j.joined = make(chan []byte, 1)
			s.goRoutine(func() {
				out := make([]byte, 0, size)
				for _, p := range pieces {
					out = append(out, p...)
				}
				j.joined <- out
				s.poke()
			})
			return used + 1, false
		}
		if len(j.out)+len(line) > replyChunk && len(j.out) > 0 {
			j.pieces = append(j.pieces, j.out)
			j.size += len(j.out)
			j.out = make([]byte, 0, replyChunk+replyChunk/4)
		}
		j.out = append(j.out, line...)
	}
	return budget, false
}

// fourLetterLineOps is what a listing's line counts against a round's
// budget (a cons line formats a dozen numbers).
const fourLetterLineOps = 4

func (j *fourLetterJob) drop(*Server) {
	if j.next != nil {
		j.stop()
	}
}

// eachConn yields the client connections: by id up to 4096, in map order
// beyond.
func (s *Server) eachConn() iter.Seq[*clientConn] {
	if len(s.conns) <= 4096 {
		return slices.Values(s.sortedConns())
	}
	return maps.Values(s.conns)
}

func (s *Server) consLines(full, trailer bool) iter.Seq[string] {
	return func(yield func(string) bool) {
		for c := range s.eachConn() {
			if !yield(s.connLine(c, full) + "\n") {
				return
			}
		}
		if trailer {
			yield("\n")
		}
	}
}

// statLines is stat: srvr with the clients.
func (s *Server) statLines() iter.Seq[string] {
	return func(yield func(string) bool) {
		if !yield("Zookeeper version: "+VersionString+"\n") || !yield("Clients:\n") {
			return
		}
		for line := range s.consLines(false, false) {
			if !yield(line) {
				return
			}
		}
		var b strings.Builder
		b.WriteString("\n")
		s.writeStatTail(&b)
		yield(b.String())
	}
}

func (s *Server) wchcLines() iter.Seq[string] {
	return func(yield func(string) bool) {
		for w := range s.dataW.EachWatcher() {
			if !yield(s.watcherSession(w) + "\n") {
				return
			}
			for p := range s.dataW.EachPathOf(w) {
				if !yield("\t" + p + "\n") {
					return
				}
			}
		}
		yield("\n")
	}
}

func (s *Server) wchpLines() iter.Seq[string] {
	return func(yield func(string) bool) {
		for p := range s.dataW.EachPath() {
			if !yield(p + "\n") {
				return
			}
			for w := range s.dataW.EachWatcherOf(p) {
				if !yield("\t" + s.watcherSession(w) + "\n") {
					return
				}
			}
		}
		yield("\n")
	}
}

// dumpLines is the dump command: session expiry buckets, ephemerals by
// session, and connection expiry buckets.
func (s *Server) dumpLines() iter.Seq[string] {
	return func(yield func(string) bool) {
		now := s.nowMs()
		wallNow := time.Now()
		at := func(bucket int64) string { return javaDate(wallNow.Add(time.Duration(bucket-now) * time.Millisecond)) }

		times := s.sessions.Buckets()
		total := 0
		for _, t := range times {
			total += s.sessions.BucketLen(t)
		}
		if !yield("SessionTracker dump:\n") ||
			!yield("Session Sets ("+strconv.Itoa(len(times))+")/("+strconv.Itoa(total)+"):\n") {
			return
		}
		for _, t := range times {
			if !yield(strconv.Itoa(s.sessions.BucketLen(t)) + " expire at " + at(t) + ":\n") {
				return
			}
			for id := range s.sessions.EachInBucket(t) {
				if !yield("\t0x" + strconv.FormatUint(uint64(id), 16) + "\n") {
					return
				}
			}
		}
		if !yield("ephemeral nodes dump:\n") ||
			!yield("Sessions with Ephemerals ("+strconv.Itoa(s.tree.EphemeralSessionCount())+"):\n") {
			return
		}
		for id := range s.tree.EachEphemeralSession() {
			if !yield("0x" + strconv.FormatUint(uint64(id), 16) + ":\n") {
				return
			}
			for p := range s.tree.EachEphemeral(id) {
				if !yield("\t" + p + "\n") {
					return
				}
			}
		}
		// Connections expire in buckets of the sessionless timeout. The
		// grouping pass yields nothing, a line's worth of work at a time.
		byT := map[int64][]*clientConn{}
		n := 0
		for c := range s.eachConn() {
			to := int64(sessionlessTimeoutMs)
			if c.session != 0 {
				to = int64(c.timeoutMs)
			}
			t := ((c.lastActive+to)/sessionlessTimeoutMs + 1) * sessionlessTimeoutMs
			byT[t] = append(byT[t], c)
			n++
			if !yield("") {
				return
			}
		}
		ct := slices.Sorted(maps.Keys(byT))
		if !yield("Connections dump:\n") ||
			!yield("Connections Sets ("+strconv.Itoa(len(ct))+")/("+strconv.Itoa(n)+"):\n") {
			return
		}
		for _, t := range ct {
			if !yield(strconv.Itoa(len(byT[t])) + " expire at " + at(t) + ":\n") {
				return
			}
			for _, c := range byT[t] {
				if !yield("\tip: " + javaSocketAddr(c.remote) + " sessionId: 0x" + strconv.FormatUint(uint64(c.session), 16) + "\n") {
					return
				}
			}
		}
	}
}
