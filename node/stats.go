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
}

func (st *stats) reset() {
	st.received, st.sentPackets = 0, 0
	st.minLatency, st.maxLatency, st.latencySum, st.latencyCount = 0, 0, 0, 0
	st.resetAt = time.Now()
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
