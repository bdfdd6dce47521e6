// Package session tracks client sessions and their expiry the way Java's
// SessionTrackerImpl and ExpiryQueue do: sessions sit in buckets of
// tickTime width keyed by their rounded-up expiry time, touching a session
// moves it to a later bucket, and each tick expires whole buckets.
//
// Package session is pure: callers pass the time (milliseconds of a
// monotonic clock) in; it starts no goroutines and reads no clocks.
package session
