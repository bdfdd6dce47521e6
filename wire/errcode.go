package wire

import "strconv"

// ErrCode is a ZooKeeper error code (KeeperException.Code). It implements
// error, so handlers can return the constants directly and callers can test
// them with errors.Is. ErrOk is never returned as an error.
type ErrCode int32

// Error codes of ZooKeeper 3.8.
const (
	ErrOk                           ErrCode = 0
	ErrSystemError                  ErrCode = -1
	ErrRuntimeInconsistency         ErrCode = -2
	ErrDataInconsistency            ErrCode = -3
	ErrConnectionLoss               ErrCode = -4
	ErrMarshallingError             ErrCode = -5
	ErrUnimplemented                ErrCode = -6
	ErrOperationTimeout             ErrCode = -7
	ErrBadArguments                 ErrCode = -8
	ErrUnknownSession               ErrCode = -12
	ErrNewConfigNoQuorum            ErrCode = -13
	ErrReconfigInProgress           ErrCode = -14
	ErrAPIError                     ErrCode = -100
	ErrNoNode                       ErrCode = -101
	ErrNoAuth                       ErrCode = -102
	ErrBadVersion                   ErrCode = -103
	ErrNoChildrenForEphemerals      ErrCode = -108
	ErrNodeExists                   ErrCode = -110
	ErrNotEmpty                     ErrCode = -111
	ErrSessionExpired               ErrCode = -112
	ErrInvalidCallback              ErrCode = -113
	ErrInvalidACL                   ErrCode = -114
	ErrAuthFailed                   ErrCode = -115
	ErrSessionMoved                 ErrCode = -118
	ErrNotReadOnly                  ErrCode = -119
	ErrEphemeralOnLocalSession      ErrCode = -120
	ErrNoWatcher                    ErrCode = -121
	ErrRequestTimeout               ErrCode = -122
	ErrReconfigDisabled             ErrCode = -123
	ErrSessionClosedRequireSASLAuth ErrCode = -124
	ErrQuotaExceeded                ErrCode = -125
	ErrThrottledOp                  ErrCode = -127
)

// AllErrCodes lists every code above.
var AllErrCodes = []ErrCode{
	ErrOk, ErrSystemError, ErrRuntimeInconsistency, ErrDataInconsistency, ErrConnectionLoss,
	ErrMarshallingError, ErrUnimplemented, ErrOperationTimeout, ErrBadArguments, ErrUnknownSession,
	ErrNewConfigNoQuorum, ErrReconfigInProgress, ErrAPIError, ErrNoNode, ErrNoAuth, ErrBadVersion,
	ErrNoChildrenForEphemerals, ErrNodeExists, ErrNotEmpty, ErrSessionExpired, ErrInvalidCallback,
	ErrInvalidACL, ErrAuthFailed, ErrSessionMoved, ErrNotReadOnly, ErrEphemeralOnLocalSession,
	ErrNoWatcher, ErrRequestTimeout, ErrReconfigDisabled, ErrSessionClosedRequireSASLAuth,
	ErrQuotaExceeded, ErrThrottledOp,
}

// Name returns the Java enum constant name, e.g. "NONODE".
func (e ErrCode) Name() string {
	switch e {
	case ErrOk:
		return "OK"
	case ErrSystemError:
		return "SYSTEMERROR"
	case ErrRuntimeInconsistency:
		return "RUNTIMEINCONSISTENCY"
	case ErrDataInconsistency:
		return "DATAINCONSISTENCY"
	case ErrConnectionLoss:
		return "CONNECTIONLOSS"
	case ErrMarshallingError:
		return "MARSHALLINGERROR"
	case ErrUnimplemented:
		return "UNIMPLEMENTED"
	case ErrOperationTimeout:
		return "OPERATIONTIMEOUT"
	case ErrBadArguments:
		return "BADARGUMENTS"
	case ErrUnknownSession:
		return "UNKNOWNSESSION"
	case ErrNewConfigNoQuorum:
		return "NEWCONFIGNOQUORUM"
	case ErrReconfigInProgress:
		return "RECONFIGINPROGRESS"
	case ErrAPIError:
		return "APIERROR"
	case ErrNoNode:
		return "NONODE"
	case ErrNoAuth:
		return "NOAUTH"
	case ErrBadVersion:
		return "BADVERSION"
	case ErrNoChildrenForEphemerals:
		return "NOCHILDRENFOREPHEMERALS"
	case ErrNodeExists:
		return "NODEEXISTS"
	case ErrNotEmpty:
		return "NOTEMPTY"
	case ErrSessionExpired:
		return "SESSIONEXPIRED"
	case ErrInvalidCallback:
		return "INVALIDCALLBACK"
	case ErrInvalidACL:
		return "INVALIDACL"
	case ErrAuthFailed:
		return "AUTHFAILED"
	case ErrSessionMoved:
		return "SESSIONMOVED"
	case ErrNotReadOnly:
		return "NOTREADONLY"
	case ErrEphemeralOnLocalSession:
		return "EPHEMERALONLOCALSESSION"
	case ErrNoWatcher:
		return "NOWATCHER"
	case ErrRequestTimeout:
		return "REQUESTTIMEOUT"
	case ErrReconfigDisabled:
		return "RECONFIGDISABLED"
	case ErrSessionClosedRequireSASLAuth:
		return "SESSIONCLOSEDREQUIRESASLAUTH"
	case ErrQuotaExceeded:
		return "QUOTAEXCEEDED"
	case ErrThrottledOp:
		return "THROTTLEDOP"
	}
	return "UNKNOWN(" + strconv.Itoa(int(e)) + ")"
}

// String returns the Java name.
func (e ErrCode) String() string { return e.Name() }

// Error implements error with the message KeeperException uses.
func (e ErrCode) Error() string {
	switch e {
	case ErrOk:
		return "ok"
	case ErrSystemError:
		return "zk: system error"
	case ErrRuntimeInconsistency:
		return "zk: runtime inconsistency"
	case ErrDataInconsistency:
		return "zk: data inconsistency"
	case ErrConnectionLoss:
		return "zk: connection loss"
	case ErrMarshallingError:
		return "zk: marshalling error"
	case ErrUnimplemented:
		return "zk: unimplemented"
	case ErrOperationTimeout:
		return "zk: operation timeout"
	case ErrBadArguments:
		return "zk: bad arguments"
	case ErrUnknownSession:
		return "zk: unknown session"
	case ErrNewConfigNoQuorum:
		return "zk: new config has no quorum"
	case ErrReconfigInProgress:
		return "zk: reconfig in progress"
	case ErrAPIError:
		return "zk: api error"
	case ErrNoNode:
		return "zk: no node"
	case ErrNoAuth:
		return "zk: not authenticated"
	case ErrBadVersion:
		return "zk: bad version"
	case ErrNoChildrenForEphemerals:
		return "zk: ephemeral nodes may not have children"
	case ErrNodeExists:
		return "zk: node exists"
	case ErrNotEmpty:
		return "zk: directory not empty"
	case ErrSessionExpired:
		return "zk: session expired"
	case ErrInvalidCallback:
		return "zk: invalid callback"
	case ErrInvalidACL:
		return "zk: invalid ACL"
	case ErrAuthFailed:
		return "zk: auth failed"
	case ErrSessionMoved:
		return "zk: session moved"
	case ErrNotReadOnly:
		return "zk: not a read-only call"
	case ErrEphemeralOnLocalSession:
		return "zk: ephemeral on local session"
	case ErrNoWatcher:
		return "zk: no watcher"
	case ErrRequestTimeout:
		return "zk: request timeout"
	case ErrReconfigDisabled:
		return "zk: reconfig disabled"
	case ErrSessionClosedRequireSASLAuth:
		return "zk: session closed because client failed to authenticate"
	case ErrQuotaExceeded:
		return "zk: quota exceeded"
	case ErrThrottledOp:
		return "zk: op throttled due to high load"
	}
	return "zk: unknown error " + strconv.Itoa(int(e))
}
