package node

import (
	"cmp"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zkgo/zkgo/node/watch"
	"github.com/zkgo/zkgo/wire"
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
// The sort too is spread across rounds (sortedSteps).

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
func (rp *responder) fourLetterJob(word string) connJob {
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
		j.gen = func(any) iter.Seq[string] { return rp.consLines(true, true) }
	case "stat":
		j.gen = func(any) iter.Seq[string] { return rp.statLines() }
	case "dump":
		j.gen = func(any) iter.Seq[string] { return rp.dumpLines() }
	case "wchc":
		j.gen = func(any) iter.Seq[string] { return rp.wchcLines() }
	case "wchp":
		j.gen = func(any) iter.Seq[string] { return rp.wchpLines() }
	case "crst":
		// Resetting every connection's stats (6 ms at 100,000).
		j.gen = func(any) iter.Seq[string] {
			return func(yield func(string) bool) {
				for cc := range rp.eachConn(yield) {
					cc.stats.reset()
					if !yield("") {
						return
					}
				}
				yield("Connection stats reset.\n")
			}
		}
	case "mntr":
		j.prefetch(rp.s, func() any { return readFDCounts() })
		j.gen = one(func(b *strings.Builder, pre any) { rp.writeMntr(b, pre.(fdCounts)) })
	case "conf":
		j.prefetch(rp.s, func() any { return rp.readDirSizes() })
		j.gen = one(func(b *strings.Builder, pre any) { rp.writeConf(b, pre.(dirSizes)) })
	case "dirs":
		j.prefetch(rp.s, func() any { return rp.readDirSizes() })
		j.gen = one(func(b *strings.Builder, pre any) { writeDirs(b, pre.(dirSizes)) })
	case "envi":
		// Host, user, working directory and memory: all from the OS.
		j.prefetch(rp.s, func() any {
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
	s.lp.goRoutine(func() {
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
			s.resp.answerFourLetter(cc, j.word, out)
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
				s.resp.answerFourLetter(cc, j.word, j.out)
				return used + 1, true
			}
			// A long output (the admin socket takes it in one write):
			// the pieces are joined on a goroutine.
			pieces := append(j.pieces, j.out)
			size := j.size + len(j.out)
			j.pieces, j.out = nil, nil
			j.joined = make(chan []byte, 1)
			s.lp.goRoutine(func() {
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

// maxSortedListing is the length up to which a listing is sorted; beyond,
// it comes in map order (DIFFERENCES row 5).
const maxSortedListing = 4096

// sortStep is how many items a listing's sort takes between two yields of
// work: a piece sorted or merged in about a line's time.
const sortStep = 32

// sortedSteps yields the n items of seq in cmp's order when n is at most
// maxSortedListing, in seq's order beyond. The items are copied at once
// (at most maxSortedListing), then sorted sortStep at a time, an empty
// line to work after each piece, so that the sort is spread across rounds
// as the listing's lines are (sorting 4096 connections or paths in one
// step cost cons and wchp a step of their own).
func sortedSteps[T any](n int, seq iter.Seq[T], cmp func(a, b T) int, work func(string) bool) iter.Seq[T] {
	return func(yield func(T) bool) {
		if n > maxSortedListing {
			for v := range seq {
				if !yield(v) {
					return
				}
			}
			return
		}
		items := make([]T, 0, n)
		for v := range seq {
			items = append(items, v)
		}
		items, ok := sortInSteps(items, cmp, func() bool { return work("") })
		if !ok {
			return
		}
		for _, v := range items {
			if !yield(v) {
				return
			}
		}
	}
}

// sortInSteps sorts s by cmp (a stable merge sort of sorted runs of
// sortStep items), calling work after each sortStep items it sorts or
// merges, but the last; it stops, reporting false, when work does. It
// returns the sorted items (s or a buffer of the same length).
func sortInSteps[T any](s []T, cmp func(a, b T) int, work func() bool) ([]T, bool) {
	done := 0 // items handled since the last call of work
	step := func(k int) bool {
		if done += k; done >= sortStep {
			done = 0
			return work()
		}
		return true
	}
	for i := 0; i < len(s); i += sortStep {
		slices.SortStableFunc(s[i:min(i+sortStep, len(s))], cmp)
		if i+sortStep < len(s) && !step(sortStep) {
			return nil, false
		}
	}
	if len(s) <= sortStep {
		return s, true
	}
	buf := make([]T, len(s))
	for width := sortStep; width < len(s); width *= 2 {
		for lo := 0; lo < len(s); lo += 2 * width {
			mid, hi := min(lo+width, len(s)), min(lo+2*width, len(s))
			a, b := lo, mid
			for k := lo; k < hi; k++ {
				if b >= hi || (a < mid && cmp(s[a], s[b]) <= 0) {
					buf[k] = s[a]
					a++
				} else {
					buf[k] = s[b]
					b++
				}
				if !step(1) {
					return nil, false
				}
			}
		}
		s, buf = buf, s
	}
	return s, true
}

// eachConn yields the client connections: by id up to 4096 (sorted in
// steps, each an empty line to work), in map order beyond.
func (rp *responder) eachConn(work func(string) bool) iter.Seq[*clientConn] {
	return sortedSteps(len(rp.conns), maps.Values(rp.conns), func(a, b *clientConn) int { return cmp.Compare(a.id, b.id) }, work)
}

func (rp *responder) consLines(full, trailer bool) iter.Seq[string] {
	return func(yield func(string) bool) {
		for c := range rp.eachConn(yield) {
			if !yield(rp.connLine(c, full) + "\n") {
				return
			}
		}
		if trailer {
			yield("\n")
		}
	}
}

// statLines is stat: srvr with the clients.
func (rp *responder) statLines() iter.Seq[string] {
	return func(yield func(string) bool) {
		if !yield("Zookeeper version: "+VersionString+"\n") || !yield("Clients:\n") {
			return
		}
		for line := range rp.consLines(false, false) {
			if !yield(line) {
				return
			}
		}
		var b strings.Builder
		b.WriteString("\n")
		rp.writeStatTail(&b)
		yield(b.String())
	}
}

func (rp *responder) wchcLines() iter.Seq[string] {
	return func(yield func(string) bool) {
		m := rp.dataW
		for w := range sortedSteps(m.WatcherCount(), m.UnsortedWatchers(), cmp.Compare[watch.Watcher], yield) {
			if !yield(rp.watcherSession(w) + "\n") {
				return
			}
			for p := range sortedSteps(m.PathCountOf(w), m.UnsortedPathsOf(w), strings.Compare, yield) {
				if !yield("\t" + p + "\n") {
					return
				}
			}
		}
		yield("\n")
	}
}

func (rp *responder) wchpLines() iter.Seq[string] {
	return func(yield func(string) bool) {
		m := rp.dataW
		for p := range sortedSteps(m.PathCount(), m.UnsortedPaths(), strings.Compare, yield) {
			if !yield(p + "\n") {
				return
			}
			for w := range sortedSteps(m.WatcherCountOf(p), m.UnsortedWatchersOf(p), cmp.Compare[watch.Watcher], yield) {
				if !yield("\t" + rp.watcherSession(w) + "\n") {
					return
				}
			}
		}
		yield("\n")
	}
}

// dumpLines is the dump command: session expiry buckets, ephemerals by
// session, and connection expiry buckets.
func (rp *responder) dumpLines() iter.Seq[string] {
	return func(yield func(string) bool) {
		now := rp.s.lp.nowMs()
		wallNow := time.Now()
		at := func(bucket int64) string { return javaDate(wallNow.Add(time.Duration(bucket-now) * time.Millisecond)) }

		times := rp.sessions.Buckets()
		total := 0
		for _, t := range times {
			total += rp.sessions.BucketLen(t)
		}
		if !yield("SessionTracker dump:\n") ||
			!yield("Session Sets ("+strconv.Itoa(len(times))+")/("+strconv.Itoa(total)+"):\n") {
			return
		}
		for _, t := range times {
			if !yield(strconv.Itoa(rp.sessions.BucketLen(t)) + " expire at " + at(t) + ":\n") {
				return
			}
			for id := range sortedSteps(rp.sessions.BucketLen(t), rp.sessions.UnsortedBucket(t), cmp.Compare[wire.SessionID], yield) {
				if !yield("\t0x" + strconv.FormatUint(uint64(id), 16) + "\n") {
					return
				}
			}
		}
		if !yield("ephemeral nodes dump:\n") ||
			!yield("Sessions with Ephemerals ("+strconv.Itoa(rp.s.tree.EphemeralSessionCount())+"):\n") {
			return
		}
		for id := range sortedSteps(rp.s.tree.EphemeralSessionCount(), rp.s.tree.UnsortedEphemeralSessions(), cmp.Compare[wire.SessionID], yield) {
			if !yield("0x" + strconv.FormatUint(uint64(id), 16) + ":\n") {
				return
			}
			for p := range sortedSteps(rp.s.tree.SessionEphemeralCount(id), rp.s.tree.UnsortedEphemerals(id), strings.Compare, yield) {
				if !yield("\t" + p + "\n") {
					return
				}
			}
		}
		// Connections expire in buckets of the sessionless timeout. The
		// grouping pass yields nothing, a line's worth of work at a time.
		byT := map[int64][]*clientConn{}
		n := 0
		for c := range rp.eachConn(yield) {
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
