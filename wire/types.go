package wire

import "strconv"

// Zxid is a ZooKeeper transaction id: epoch in the high 32 bits, counter in
// the low 32 bits.
type Zxid int64

// MakeZxid builds a zxid from an epoch and a counter.
func MakeZxid(epoch, counter uint32) Zxid { return Zxid(int64(epoch)<<32 | int64(counter)) }

// Epoch returns the high 32 bits.
func (z Zxid) Epoch() uint32 { return uint32(uint64(z) >> 32) }

// Counter returns the low 32 bits.
func (z Zxid) Counter() uint32 { return uint32(z) }

// String formats z as Java logs it: 0x followed by lowercase hex.
func (z Zxid) String() string { return "0x" + strconv.FormatUint(uint64(z), 16) }

// SessionID is a client session id; the top byte is the id of the server
// that created it.
type SessionID int64

// String formats id as Java logs it (0x + hex).
func (id SessionID) String() string { return "0x" + strconv.FormatUint(uint64(id), 16) }

// Xid is a client request id. Treat it as opaque except for the special
// values below.
type Xid int32

// Special xids (spec §10.2).
const (
	XidWatchEvent Xid = -1 // server -> client watch notification
	XidPing       Xid = -2 // ping request and reply
	XidAuth       Xid = -4 // auth packet as the Java client sends it
	XidSetWatches Xid = -8 // setWatches/setWatches2 as the Java client sends it
)

// Perm is an ACL permission bit set.
type Perm int32

// ACL permission bits (ZooDefs.Perms).
const (
	PermRead   Perm = 1 << 0
	PermWrite  Perm = 1 << 1
	PermCreate Perm = 1 << 2
	PermDelete Perm = 1 << 3
	PermAdmin  Perm = 1 << 4
	PermAll    Perm = PermRead | PermWrite | PermCreate | PermDelete | PermAdmin
)

// CreateMode is the flags field of a create request.
type CreateMode int32

// Create modes (CreateMode.java).
const (
	ModePersistent                  CreateMode = 0
	ModeEphemeral                   CreateMode = 1
	ModePersistentSequential        CreateMode = 2
	ModeEphemeralSequential         CreateMode = 3
	ModeContainer                   CreateMode = 4
	ModePersistentWithTTL           CreateMode = 5
	ModePersistentSequentialWithTTL CreateMode = 6
)

var createModeNames = [...]string{"PERSISTENT", "EPHEMERAL", "PERSISTENT_SEQUENTIAL", "EPHEMERAL_SEQUENTIAL",
	"CONTAINER", "PERSISTENT_WITH_TTL", "PERSISTENT_SEQUENTIAL_WITH_TTL"}

func (m CreateMode) String() string {
	if m >= 0 && int(m) < len(createModeNames) {
		return createModeNames[m]
	}
	return "CreateMode(" + strconv.Itoa(int(m)) + ")"
}

// Valid reports whether m is a known mode.
func (m CreateMode) Valid() bool { return m >= 0 && int(m) < len(createModeNames) }

// IsEphemeral reports whether nodes of mode m belong to a session.
func (m CreateMode) IsEphemeral() bool { return m == ModeEphemeral || m == ModeEphemeralSequential }

// IsSequential reports whether the server appends a sequence number.
func (m CreateMode) IsSequential() bool {
	return m == ModePersistentSequential || m == ModeEphemeralSequential || m == ModePersistentSequentialWithTTL
}

// IsContainer reports whether m is CONTAINER.
func (m CreateMode) IsContainer() bool { return m == ModeContainer }

// IsTTL reports whether m is one of the TTL modes.
func (m CreateMode) IsTTL() bool {
	return m == ModePersistentWithTTL || m == ModePersistentSequentialWithTTL
}

// AddWatchMode is the mode of an addWatch request.
type AddWatchMode int32

// addWatch modes (AddWatchMode.java).
const (
	AddWatchPersistent          AddWatchMode = 0
	AddWatchPersistentRecursive AddWatchMode = 1
)

func (m AddWatchMode) String() string {
	switch m {
	case AddWatchPersistent:
		return "PERSISTENT"
	case AddWatchPersistentRecursive:
		return "PERSISTENT_RECURSIVE"
	}
	return "AddWatchMode(" + strconv.Itoa(int(m)) + ")"
}

// WatcherType selects watches in checkWatches/removeWatches.
type WatcherType int32

// Watcher types (Watcher.WatcherType).
const (
	WatcherChildren WatcherType = 1
	WatcherData     WatcherType = 2
	WatcherAny      WatcherType = 3
)

func (t WatcherType) String() string {
	switch t {
	case WatcherChildren:
		return "Children"
	case WatcherData:
		return "Data"
	case WatcherAny:
		return "Any"
	}
	return "WatcherType(" + strconv.Itoa(int(t)) + ")"
}
