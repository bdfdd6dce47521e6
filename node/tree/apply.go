package tree

import (
	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/wire"
)

// Event is a watch trigger produced by applying a txn, in the order Java's
// DataTree fires them. The watch manager maps types to watch tables:
// NodeCreated and NodeDataChanged fire data watches on Path; NodeDeleted
// fires data then child watches on Path; NodeChildrenChanged fires child
// watches on Path (the parent).
type Event struct {
	Path string
	Type wire.EventType
	// ACL is the ACL Java hands to the watch manager with this event (the
	// node's, or the parent's for NodeChildrenChanged); a watcher without
	// READ under it does not get the event (CVE-2024-23944).
	ACL []wire.ACL
}

// Result is the outcome of applying one txn (DataTree.ProcessTxnResult).
type Result struct {
	Err  wire.ErrCode
	Type wire.OpCode
	Path string    // created path (create*), else the txn's path
	Stat wire.Stat // create2/setData/setACL: the node's stat after the txn
	// Multi holds per-op results of a multi.
	Multi []Result
	// Events are the watch triggers, in order.
	Events []Event
	// Removed lists ephemeral paths deleted by closeSession.
	Removed []string
}

// Apply applies one txn to the tree and returns its result, mirroring
// DataTree.processTxn. Errors (NONODE, NODEEXISTS, ...) leave the tree
// unchanged for that op; replay after a fuzzy snapshot relies on that.
func (t *Tree) Apply(e *wire.TxnEntry) Result {
	res := t.ApplyHeld(e)
	t.applied(e.Hdr.Zxid)
	return res
}

// ApplyHeld applies e as Apply does, except that the txn does not count
// as applied (LastZxid) until Advance: the caller has work to finish first
// (the txn's watches to deliver).
func (t *Tree) ApplyHeld(e *wire.TxnEntry) Result {
	if j := t.BeginApply(e, false); j != nil {
		j.Step(-1)
		return *j.Result()
	}
	h := &e.Hdr
	res := Result{Type: h.Type}
	if t.quotaSetup {
		// The first txn after a snapshot was loaded: Java set up quota
		// tracking at the end of loading it.
		t.setupQuota()
	}
	t.applyOne(h.Type, e.Body, h, &res)
	return res
}

// ApplyHeldTouching is ApplyHeld that also adds to touched every path the
// txn changes (nodes created, deleted or changed, parents, quota stats),
// for a caller that holds reads of them back while the txn's watches fire
// across rounds.
func (t *Tree) ApplyHeldTouching(e *wire.TxnEntry, touched map[string]struct{}) Result {
	t.touched = touched
	res := t.ApplyHeld(e)
	t.touched = nil
	return res
}

// Advance counts the txn at zxid, applied by ApplyHeld, as applied.
func (t *Tree) Advance(zxid wire.Zxid) { t.applied(zxid) }

// applied records that the txn at zxid is applied.
func (t *Tree) applied(zxid wire.Zxid) {
	if zxid > t.LastZxid {
		t.LastZxid = zxid
	}
	t.prepApplied(zxid)
}

func (t *Tree) applyOne(typ wire.OpCode, body jute.Record, h *wire.TxnHeader, res *Result) {
	zxid, now := h.Zxid, h.Time
	switch typ {
	case wire.OpCreate, wire.OpCreate2:
		c, ok := body.(*wire.CreateTxn)
		if !ok {
			res.Err = wire.ErrMarshallingError
			return
		}
		owner := int64(0)
		if c.Ephemeral {
			owner = int64(h.ClientID)
		}
		res.Path = c.Path
		res.Err = t.createNode(c.Path, c.Data, c.ACL, owner, c.ParentCVersion, zxid, now, res)
	case wire.OpCreateContainer:
		c, ok := body.(*wire.CreateContainerTxn)
		if !ok {
			res.Err = wire.ErrMarshallingError
			return
		}
		res.Path = c.Path
		res.Err = t.createNode(c.Path, c.Data, c.ACL, ContainerOwner, c.ParentCVersion, zxid, now, res)
	case wire.OpCreateTTL:
		c, ok := body.(*wire.CreateTTLTxn)
		if !ok {
			res.Err = wire.ErrMarshallingError
			return
		}
		res.Path = c.Path
		res.Err = t.createNode(c.Path, c.Data, c.ACL, TTLOwner(c.TTL), c.ParentCVersion, zxid, now, res)
	case wire.OpDelete, wire.OpDeleteContainer:
		d, ok := body.(*wire.DeleteTxn)
		if !ok {
			res.Err = wire.ErrMarshallingError
			return
		}
		res.Path = d.Path
		res.Err = t.deleteNode(d.Path, zxid, res)
	case wire.OpSetData, wire.OpReconfig:
		s, ok := body.(*wire.SetDataTxn)
		if !ok {
			res.Err = wire.ErrMarshallingError
			return
		}
		res.Path = s.Path
		res.Err = t.setData(s.Path, s.Data, s.Version, zxid, now, res)
	case wire.OpSetACL:
		s, ok := body.(*wire.SetACLTxn)
		if !ok {
			res.Err = wire.ErrMarshallingError
			return
		}
		res.Path = s.Path
		res.Err = t.setACL(s.Path, s.ACL, s.Version, res)
	case wire.OpCloseSession:
		// Applied by an ApplyJob (Apply); a closeSession in a multi is
		// not a valid sub-txn.
		res.Err = wire.ErrUnimplemented
	case wire.OpError:
		if et, ok := body.(*wire.ErrorTxn); ok {
			res.Err = et.Err
		}
	case wire.OpCheck:
		if c, ok := body.(*wire.CheckVersionTxn); ok {
			res.Path = c.Path
		}
	case wire.OpMulti:
		// Applied by an ApplyJob (Apply) unless the body is not a multi.
		res.Err = wire.ErrMarshallingError
	case wire.OpCreateSession:
		// Session bookkeeping lives outside the tree.
	default:
		res.Err = wire.ErrUnimplemented
	}
}

func (t *Tree) createNode(path string, data []byte, acl []wire.ACL, owner int64, parentCVersion int32,
	zxid wire.Zxid, now int64, res *Result) wire.ErrCode {
	if path == "/" || len(path) == 0 {
		return wire.ErrNodeExists
	}
	parentPath := wire.ParentPath(path)
	parent := t.nodes.get(parentPath)
	if parent == nil {
		return wire.ErrNoNode
	}
	// The ACL goes into the cache before the existence check, as in Java's
	// DataTree.createNode: replaying the create of a node that a fuzzy
	// snapshot caught with an ACL index its ACL map lacked recreates that
	// entry (at the same index). Like Java, a NODEEXISTS keeps the reference.
	aclIdx := t.acls.Intern(acl)
	name := wire.BaseName(path)
	if parent.HasChild(name) {
		// Replay of a create already in a fuzzy snapshot: Java still moves
		// the parent's cversion/pzxid forward (FileTxnSnapLog).
		t.bumpParent(parentPath, parent, parentCVersion, zxid)
		if n := t.nodes.get(path); n != nil && n.Stat.Czxid == zxid && n.ACL != aclIdx {
			// The node this txn made, caught by the snapshot: its list is
			// this one, whatever index the snapshot gave it (which the
			// snapshot's ACL map may lack: ACLCache.AddRef).
			old := n.ACL
			t.changeNode(path, n, func(n *Node) { n.ACL = aclIdx })
			t.acls.Release(old)
		}
		return wire.ErrNodeExists
	}
	t.touch(parentPath)
	t.bumpParent(parentPath, parent, parentCVersion, zxid)
	// Null data stays null: the stat says 0 bytes, getData returns a null
	// buffer (length -1), as Java does.
	n := newNode(path, data, aclIdx,
		wire.StatPersisted{Czxid: zxid, Mzxid: zxid, Pzxid: zxid, Ctime: now, Mtime: now, EphemeralOwner: owner})
	// The children set is not part of a node's digest: no changeNode.
	t.addNode(path, n)
	t.addChild(parentPath, parent, n)
	// The stat is taken before the quota step, as Java copies it: a new
	// zookeeper_stats node reports the data it was created with.
	res.Stat = t.StatOf(n)
	t.quotaCreated(parentPath, name, path, len(data))
	res.Events = append(res.Events, Event{path, wire.EventNodeCreated, t.acls.Get(n.ACL)},
		Event{parentPath, wire.EventNodeChildrenChanged, t.acls.Get(parent.ACL)})
	return wire.ErrOk
}

// bumpParent applies DataTree.createNode's parent update: parentCVersion -1
// (an old CreateTxnV0) means "current + 1"; the parent moves forward only.
func (t *Tree) bumpParent(parentPath string, parent *Node, parentCVersion int32, zxid wire.Zxid) {
	if parentCVersion == -1 {
		parentCVersion = parent.Stat.Cversion + 1
	}
	if parentCVersion > parent.Stat.Cversion {
		t.changeNode(parentPath, parent, func(p *Node) {
			p.Stat.Cversion = parentCVersion
			p.Stat.Pzxid = zxid
		})
	}
}

func (t *Tree) deleteNode(path string, zxid wire.Zxid, res *Result) wire.ErrCode {
	n := t.nodes.get(path)
	if n == nil || path == "/" {
		return wire.ErrNoNode
	}
	parentPath := wire.ParentPath(path)
	parent := t.nodes.get(parentPath)
	if parent == nil {
		return wire.ErrNoNode
	}
	acl := t.acls.Get(n.ACL)
	t.touch(parentPath)
	t.removeNode(path, n)
	t.removeChild(parent, wire.BaseName(path), n.children.descendants())
	if zxid > parent.Stat.Pzxid {
		t.changeNode(parentPath, parent, func(p *Node) { p.Stat.Pzxid = zxid })
	}
	t.quotaDeleted(parentPath, wire.BaseName(path), path, n.dataLen())
	res.Events = append(res.Events, Event{path, wire.EventNodeDeleted, acl},
		Event{parentPath, wire.EventNodeChildrenChanged, t.acls.Get(parent.ACL)})
	return wire.ErrOk
}

func (t *Tree) setData(path string, data []byte, version int32, zxid wire.Zxid, now int64, res *Result) wire.ErrCode {
	n := t.nodes.get(path)
	if n == nil {
		return wire.ErrNoNode
	}
	oldLen := n.dataLen()
	t.changeNode(path, n, func(n *Node) {
		n.setData(data)
		n.Stat.Version = version
		n.Stat.Mtime = now
		n.Stat.Mzxid = zxid
	})
	t.quotaDataChanged(path, oldLen, len(data))
	res.Stat = t.StatOf(n)
	res.Events = append(res.Events, Event{path, wire.EventNodeDataChanged, t.acls.Get(n.ACL)})
	return wire.ErrOk
}

func (t *Tree) setACL(path string, acl []wire.ACL, version int32, res *Result) wire.ErrCode {
	n := t.nodes.get(path)
	if n == nil {
		return wire.ErrNoNode
	}
	t.changeNode(path, n, func(n *Node) {
		t.acls.Release(n.ACL)
		n.ACL = t.acls.Intern(acl)
		n.Stat.Aversion = version
	})
	res.Stat = t.StatOf(n)
	return wire.ErrOk
}

// KillSession deletes a session's ephemerals outside any txn (startup
// cleanup of sessions that no longer exist, ZooKeeperServer.loadData).
func (t *Tree) KillSession(id wire.SessionID, zxid wire.Zxid) {
	j := t.beginKill(&wire.TxnEntry{Hdr: wire.TxnHeader{ClientID: id, Zxid: zxid, Type: wire.OpCloseSession}}, nil, false)
	j.Step(-1)
	t.touched = nil
}
