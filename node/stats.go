package node

import (
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
}

// reset is srst (ServerStats.reset).
func (st *stats) reset() {
	st.received, st.sentPackets = 0, 0
	st.minLatency, st.maxLatency, st.latencySum, st.latencyCount = 0, 0, 0, 0
	st.lastRespSize, st.minRespSize, st.maxRespSize = -1, -1, -1
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
