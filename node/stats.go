package node

import (
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// stats are the server-wide counters behind srvr/stat/mntr (ServerStats).
type stats struct {
	received    int64
	sentPackets int64
	connections int64
	expired     int64
	overloaded  atomic.Int64 // from event loops (Submit)

	minLatency, maxLatency   int64 // ms
	latencySum, latencyCount int64
	resetAt                  time.Time

	lastRespSize, minRespSize, maxRespSize int64 // -1 until the first reply
	authFailed                             int64
	digestMismatches                       int64
	connRejected                           int64
	sessionlessExpired                     int64
	connectRequests                        int64
	revalidates                            int64
	snapshots                              int64
	loadTime                               time.Duration
	// reads and updates are Java's readlatency and updatelatency as mntr
	// prints them (ServerStats.updateLatency: a request without a txn
	// header is a read, pings and syncs included), in whole ms.
	reads, updates javaCounter
}

// javaCounter is Java's AvgMinMaxCounter, the avg_/min_/max_/cnt_/sum_
// values mntr prints for a summary.
type javaCounter struct{ min, max, sum, cnt int64 }

func (c *javaCounter) add(v int64) {
	if c.cnt == 0 || v < c.min {
		c.min = v
	}
	if c.cnt == 0 || v > c.max {
		c.max = v
	}
	c.sum += v
	c.cnt++
}

// write prints the counter's values as mntr's name lines (Java's order).
func (c *javaCounter) write(line func(k, v string), name string) {
	line("avg_"+name, javaAvg(c.sum, c.cnt))
	line("min_"+name, strconv.FormatInt(c.min, 10))
	line("max_"+name, strconv.FormatInt(c.max, 10))
	line("cnt_"+name, strconv.FormatInt(c.cnt, 10))
	line("sum_"+name, strconv.FormatInt(c.sum, 10))
}

// reset is srst (ServerStats.reset).
func (st *stats) reset() {
	st.received, st.sentPackets = 0, 0
	st.minLatency, st.maxLatency, st.latencySum, st.latencyCount = 0, 0, 0, 0
	st.lastRespSize, st.minRespSize, st.maxRespSize = -1, -1, -1
	st.reads, st.updates = javaCounter{}, javaCounter{} // ServerMetrics.resetAll
	st.resetAt = time.Now()
}

// shownMin is the min latency as srvr shows it (0 with no data).
func (st *stats) shownMin() int64 {
	if st.latencyCount == 0 {
		return 0
	}
	return st.minLatency
}

// observeResp records a reply's size (client_response_size).
func (st *stats) observeResp(n int64) {
	st.lastRespSize = n
	if st.minRespSize < 0 || n < st.minRespSize {
		st.minRespSize = n
	}
	if n > st.maxRespSize {
		st.maxRespSize = n
	}
}

func (st *stats) observe(ms int64) {
	if st.latencyCount == 0 || ms < st.minLatency {
		st.minLatency = ms
	}
	if ms > st.maxLatency {
		st.maxLatency = ms
	}
	st.latencySum += ms
	st.latencyCount++
}

func (st *stats) avg() float64 {
	if st.latencyCount == 0 {
		return 0
	}
	return float64(st.latencySum) / float64(st.latencyCount)
}

// javaAvg formats total/count rounded to 4 decimals (HALF_UP) as Java's
// Double.toString prints it ("0.0", "2.1765", "2.5").
func javaAvg(total, count int64) string {
	if count == 0 {
		return "0.0"
	}
	q := (2*total*10000 + count) / (2 * count)
	ip, frac := q/10000, q%10000
	if frac == 0 {
		return strconv.FormatInt(ip, 10) + ".0"
	}
	f := strconv.FormatInt(frac+10000, 10)[1:]
	return strconv.FormatInt(ip, 10) + "." + strings.TrimRight(f, "0")
}
