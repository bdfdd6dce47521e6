// Package xchk is the differential conformance harness: it drives Java
// ZooKeeper 3.8 (the oracle) and zkgo (the candidate) with the same
// operation stream, over raw-wire connections that can send any opcode,
// and compares what every session observes, reply by reply.
//
// A Checker runs Steps in lockstep on every Target: each Step is executed
// on each server (in parallel, the servers being independent), its outcome
// is rendered as normalised text lines, and the lines must be equal. The
// normalisation hides only what must differ between two servers:
//
//   - zxids become labels "#k" (the first op whose reply carried that
//     zxid) or "#k+d" (d txns after it), computed from each server's own
//     zxid sequence, so ordering and zxid consumption are still checked;
//   - ctime/mtime become "T" when plausible (between the start of the run
//     and now) and consistent (one time per txn); mtime equal to ctime is
//     shown as "=ctime";
//   - session ids become the harness's session names (S0, S1, ...), and
//     new-session ids are checked to be consecutive with server id 1;
//   - lists Java returns in HashSet order (children, getEphemerals, events
//     of one session close or expiry, container reaping) are compared as
//     sets (DIFFERENCES.md #5).
//
// Watch events are compared per session, in order, as the segment of
// events that arrived before each of the session's own replies, so their
// order relative to replies is checked too. Deliberate differences
// (compat-tests/DIFFERENCES.md) are recognised by exact patterns, counted
// and reported; anything else stops the run with a Divergence that shows
// both sides as a diff and the operation history that led to it.
//
// Gen produces a seeded random operation stream over a small path space;
// the seed and the op count are all that is needed to replay it. Tamper is
// a proxy that rewrites replies, so a test can prove that the harness
// notices a broken server. Nothing here is used by the server itself.
package xchk
