package quorum

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Verifier is Java's QuorumVerifier, reduced to what a member decides with.
type Verifier interface {
	// ContainsQuorum reports whether the ids mapped to true form a quorum
	// (QuorumVerifier.containsQuorum). Ids that are not voters add
	// nothing.
	ContainsQuorum(set map[int64]bool) bool
	// Weight is a server's weight (QuorumVerifier.getWeight): 1 for every
	// id under Majority; the weight.N value (default 1 for voters) under
	// Hierarchical, 0 for an id without one. FLE never elects a server of
	// weight 0.
	Weight(id int64) int64
	// IsVoter reports whether id is a voting member (a participant).
	IsVoter(id int64) bool
	// Voters returns the voting members, ascending.
	Voters() []int64
	// Text is what QuorumVerifier.toString adds between the server.N lines
	// and the version line: "" for Majority, the group.N and weight.N
	// lines (each ending in a newline) for Hierarchical.
	Text() string
}

// Member is one server.N line: its id and whether it votes (a
// participant; observers do not).
type Member struct {
	ID    int64
	Voter bool
}

// Majority is QuorumMaj: a quorum is more than half of the voters.
type Majority struct {
	voters map[int64]bool
	sorted []int64
	half   int
}

// NewMajority returns the majority verifier over voters.
func NewMajority(voters []int64) *Majority {
	m := &Majority{voters: make(map[int64]bool, len(voters))}
	for _, id := range voters {
		m.voters[id] = true
	}
	for id := range m.voters {
		m.sorted = append(m.sorted, id)
	}
	slices.Sort(m.sorted)
	m.half = len(m.sorted) / 2
	return m
}

// ContainsQuorum implements Verifier.
func (m *Majority) ContainsQuorum(set map[int64]bool) bool {
	n := 0
	for id, in := range set {
		if in && m.voters[id] {
			n++
		}
	}
	return n > m.half
}

// Weight implements Verifier: QuorumMaj weighs every id 1.
func (m *Majority) Weight(int64) int64 { return 1 }

// IsVoter implements Verifier.
func (m *Majority) IsVoter(id int64) bool { return m.voters[id] }

// Voters implements Verifier.
func (m *Majority) Voters() []int64 { return slices.Clone(m.sorted) }

// Text implements Verifier.
func (m *Majority) Text() string { return "" }

// Hierarchical is QuorumHierarchical: servers are partitioned into groups,
// each server has a weight, and a quorum holds more than half of the
// weight of more than half of the groups whose weight is not zero.
type Hierarchical struct {
	voters      map[int64]bool
	sorted      []int64
	serverGroup map[int64]int64 // sid -> gid, every sid named in a group.N line
	serverW     map[int64]int64 // sid -> weight: weight.N lines, plus 1 for voters without one
	groupW      map[int64]int64 // gid -> sum of its members' weights
	numGroups   int             // group.N lines, less the groups of weight zero
}

// ContainsQuorum implements Verifier (QuorumHierarchical.containsQuorum).
func (h *Hierarchical) ContainsQuorum(set map[int64]bool) bool {
	sum := map[int64]int64{}
	any := false
	for sid, in := range set {
		if !in {
			continue
		}
		any = true
		gid, ok := h.serverGroup[sid]
		if !ok {
			continue
		}
		sum[gid] += h.serverW[sid]
	}
	if !any {
		return false
	}
	majGroups := 0
	for gid, w := range sum {
		if w > h.groupW[gid]/2 {
			majGroups++
		}
	}
	return majGroups > h.numGroups/2
}

// Weight implements Verifier.
func (h *Hierarchical) Weight(id int64) int64 { return h.serverW[id] }

// IsVoter implements Verifier.
func (h *Hierarchical) IsVoter(id int64) bool { return h.voters[id] }

// Voters implements Verifier.
func (h *Hierarchical) Voters() []int64 { return slices.Clone(h.sorted) }

// GroupOf returns the group of sid, if it is in one.
func (h *Hierarchical) GroupOf(sid int64) (int64, bool) {
	g, ok := h.serverGroup[sid]
	return g, ok
}

// Text implements Verifier: the group.N lines (members joined by ':') and
// the weight.N lines of QuorumHierarchical.toString, in the iteration
// order of Java's HashMaps.
func (h *Hierarchical) Text() string {
	var b strings.Builder
	sids := make([]int64, 0, len(h.serverGroup))
	for sid := range h.serverGroup {
		sids = append(sids, sid)
	}
	JavaHashOrder(sids)
	members := map[int64][]string{}
	var gids []int64
	for _, sid := range sids {
		gid := h.serverGroup[sid]
		if _, seen := members[gid]; !seen {
			gids = append(gids, gid)
		}
		members[gid] = append(members[gid], strconv.FormatInt(sid, 10))
	}
	JavaHashOrder(gids)
	for _, gid := range gids {
		b.WriteString("group." + strconv.FormatInt(gid, 10) + "=" + strings.Join(members[gid], ":") + "\n")
	}
	wids := make([]int64, 0, len(h.serverW))
	for sid := range h.serverW {
		wids = append(wids, sid)
	}
	JavaHashOrder(wids)
	for _, sid := range wids {
		b.WriteString("weight." + strconv.FormatInt(sid, 10) + "=" + strconv.FormatInt(h.serverW[sid], 10) + "\n")
	}
	return b.String()
}

// IsHierarchicalKey reports whether a zoo.cfg key makes the configuration
// hierarchical: Java's parseDynamicConfig takes every key that starts with
// "group" or "weight" (not only "group." and "weight.").
func IsHierarchicalKey(key string) bool {
	return strings.HasPrefix(key, "group") || strings.HasPrefix(key, "weight")
}

// ErrJavaRuntime marks configuration errors Java raises as unchecked
// exceptions (NumberFormatException, IllegalArgumentException,
// NullPointerException) rather than as ConfigException: a reconfig that
// meets one fails with MARSHALLINGERROR in Java, not BADARGUMENTS.
var ErrJavaRuntime = errors.New("quorum: an unchecked exception in Java")

// runtimeError is an error that errors.Is ErrJavaRuntime, with its own
// message.
type runtimeError struct{ error }

func (e runtimeError) Unwrap() error        { return e.error }
func (e runtimeError) Is(target error) bool { return target == ErrJavaRuntime }

func javaRuntime(err error) error { return runtimeError{err} }

// ErrNoVoters is returned when a configuration has no voting member.
var ErrNoVoters = errors.New("quorum: no voting members")

// Parse builds the verifier of a configuration: Hierarchical when any key
// of props is a hierarchical key (IsHierarchicalKey), else Majority. props
// may hold other keys; they are ignored. The rules and messages are those
// of QuorumHierarchical.parse: every voter must be in exactly one group,
// voters without a weight.N line weigh 1, and every other server named in
// a group must have a weight (Java fails with a NullPointerException
// there).
func Parse(members []Member, props map[string]string) (Verifier, error) {
	var voters []int64
	for _, m := range members {
		if m.Voter {
			voters = append(voters, m.ID)
		}
	}
	hier := false
	for k := range props {
		if IsHierarchicalKey(k) {
			hier = true
			break
		}
	}
	if !hier {
		return NewMajority(voters), nil
	}
	h := &Hierarchical{
		voters:      map[int64]bool{},
		serverGroup: map[int64]int64{},
		serverW:     map[int64]int64{},
		groupW:      map[int64]int64{},
	}
	for _, id := range voters {
		h.voters[id] = true
	}
	for id := range h.voters {
		h.sorted = append(h.sorted, id)
	}
	slices.Sort(h.sorted)
	keys := make([]string, 0, len(props))
	for k := range props {
		if IsHierarchicalKey(k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := props[k]
		id, err := keyID(k)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(k, "group") {
			h.numGroups++
			for _, s := range javaSplit(v, ':') {
				sid, err := javaParseLong(s)
				if err != nil {
					return nil, javaRuntime(fmt.Errorf("%s: server id %q is not a number", k, s))
				}
				if _, dup := h.serverGroup[sid]; dup {
					// Java's message, missing space included.
					return nil, fmt.Errorf("Server %dis in multiple groups", sid)
				}
				h.serverGroup[sid] = id
			}
			continue
		}
		w, err := javaParseLong(v)
		if err != nil {
			return nil, javaRuntime(fmt.Errorf("%s: weight %q is not a number", k, v))
		}
		h.serverW[id] = w
	}
	for _, sid := range h.sorted {
		if _, ok := h.serverGroup[sid]; !ok {
			return nil, fmt.Errorf("Server %dis not in a group", sid)
		}
		if _, ok := h.serverW[sid]; !ok {
			h.serverW[sid] = 1
		}
	}
	grouped := make([]int64, 0, len(h.serverGroup))
	for sid := range h.serverGroup {
		grouped = append(grouped, sid)
	}
	slices.Sort(grouped)
	for _, sid := range grouped {
		w, ok := h.serverW[sid]
		if !ok {
			return nil, javaRuntime(fmt.Errorf("group.%d: server %d is not a participant and has no weight.%d line "+
				"(Java 3.8 fails to start with a NullPointerException)", h.serverGroup[sid], sid, sid))
		}
		h.groupW[h.serverGroup[sid]] += w
	}
	for _, w := range h.groupW {
		if w == 0 {
			h.numGroups--
		}
	}
	return h, nil
}

// keyID is the number after the first '.' of a group/weight key, as Java
// reads it (Long.parseLong(key.substring(key.indexOf('.') + 1))).
func keyID(k string) (int64, error) {
	_, rest, ok := strings.Cut(k, ".")
	if !ok {
		rest = k
	}
	id, err := javaParseLong(rest)
	if err != nil {
		return 0, javaRuntime(fmt.Errorf("%s: %q is not a number", k, rest))
	}
	return id, nil
}

// javaParseLong is Long.parseLong: an optional sign and decimal digits, no
// surrounding space.
func javaParseLong(s string) (int64, error) {
	if s == "" || s == "+" || s == "-" {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseInt(strings.TrimPrefix(s, "+"), 10, 64)
}

// javaSplit is String.split with a one-character separator: trailing
// empty strings are dropped.
func javaSplit(s string, sep byte) []string {
	parts := strings.Split(s, string(sep))
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if len(parts) == 0 {
		// "".split(":") is [""]: Long.parseLong("") then fails.
		return []string{""}
	}
	return parts
}

// JavaHashOrder sorts ids in the iteration order of a java.util.HashMap
// with Long keys holding exactly these keys: by bucket ((h ^ h>>>16) &
// (capacity-1), h being Long.hashCode), then by value (the order within a
// bucket is insertion order in Java; for ids below the capacity every
// bucket holds one key). The capacity is the default 16, doubled while the
// map holds more than three quarters of it.
func JavaHashOrder(ids []int64) {
	capacity := int64(16)
	for int64(len(ids)) > capacity*3/4 {
		capacity *= 2
	}
	bucket := func(v int64) int64 {
		h := int32(v ^ int64(uint64(v)>>32))
		h ^= int32(uint32(h) >> 16)
		return int64(h) & (capacity - 1)
	}
	sort.Slice(ids, func(i, j int) bool {
		bi, bj := bucket(ids[i]), bucket(ids[j])
		if bi != bj {
			return bi < bj
		}
		return ids[i] < ids[j]
	})
}
