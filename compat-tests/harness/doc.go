// Package harness starts the real things compat-tests compare zkgo with:
// the Java toolchain and ZooKeeper's jars, Java ZooKeeper servers, and the
// stock clients. Everything binds port 0, lives in t.TempDir and is cleaned
// up with t.Cleanup.
//
// When CI=true a missing dependency fails the test instead of skipping it:
// CI installs Java ZooKeeper, so its absence there is a broken build.
package harness
