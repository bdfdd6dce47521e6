// Package testutil holds helpers shared by tests: random record values,
// polling, free ports, loggers and the Java requirement check. It is
// imported only by _test files and test-only packages.
package testutil
