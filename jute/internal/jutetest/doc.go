// Package jutetest holds records generated from all.jute, a schema that
// uses every Jute type, to test jutegen beyond what ZooKeeper's schema needs.
package jutetest

//go:generate go run ../../cmd/jutegen -in all.jute -out records_gen.go -pkg jutetest
