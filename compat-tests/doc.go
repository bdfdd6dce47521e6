// Package compattest runs zkgo against the real things it must be compatible
// with: ZooKeeper 3.8's Java classes and servers, and the stock clients. See
// harness for how they are started. With CI=true a missing Java or ZooKeeper
// install fails these tests instead of skipping them.
package compattest
