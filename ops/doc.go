// Package ops serves a zkgo server's operator interfaces as Java
// ZooKeeper 3.8 does: the Prometheus metrics of PrometheusMetricsProvider
// (metricsProvider.*) and the AdminServer (admin.*). Both read the server
// through its public methods, which run on the server's owner goroutine
// with bounded work, and serve on their own goroutines: nothing here runs
// on a gnet event loop.
package ops
