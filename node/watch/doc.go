// Package watch keeps watch registrations and decides who is notified of
// an event, mirroring Java's WatchManager (3.6+, with persistent and
// persistent-recursive modes). The server keeps two Managers, for data
// watches (exists/getData, persistent) and child watches (getChildren,
// persistent), as Java's DataTree does.
//
// Package watch is pure: it returns the watchers to notify and the caller
// sends the events.
package watch
