package node

import (
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/node/watch"
	"github.com/zkgo/zkgo/wire"
)

// notifier fires the watches of applied txns and sends their events,
// mirroring DataTree's calls into the data and child WatchManagers. What
// it needs is its fields: the two watch managers, the connections by id
// (a watcher is its connection's id), whether ACLs are skipped
// (skipACL), and how an event is sent (Server.sendEvent). They are set
// in Start and not replaced. The scheduler holds it: a txn's watches are
// fired at once when few, across rounds otherwise (fireStep).
type notifier struct {
	dataW, childW *watch.Manager
	conns         map[uint64]*clientConn
	skipACL       bool
	send          func(cc *clientConn, ev wire.WatcherEvent)
}

// trigger delivers the watch events of an applied txn at once.
func (n *notifier) trigger(events []tree.Event) {
	n.deliver(n.collect(events, nil))
}

// delivery is a watch event owed to a connection.
type delivery struct {
	cc *clientConn
	ev *tree.Event
}

// collect fires the watches of events (consuming one-shot ones)
// and appends to out what each watching connection is to be sent, in
// event order.
func (n *notifier) collect(events []tree.Event, out []delivery) []delivery {
	for i := range events {
		ev := &events[i]
		var ws []watch.Watcher
		switch ev.Type {
		case wire.EventNodeCreated, wire.EventNodeDataChanged:
			ws = n.dataW.Trigger(ev.Path, ev.Type, nil)
		case wire.EventNodeChildrenChanged:
			ws = n.childW.Trigger(ev.Path, ev.Type, nil)
		case wire.EventNodeDeleted:
			ws = n.dataW.Trigger(ev.Path, ev.Type, nil)
			var seen map[watch.Watcher]struct{}
			if len(ws) > 0 && n.childW.Watched(ev.Path) {
				seen = make(map[watch.Watcher]struct{}, len(ws))
				for _, w := range ws {
					seen[w] = struct{}{}
				}
			}
			ws = append(ws, n.childW.Trigger(ev.Path, ev.Type, seen)...)
		}
		out = n.addDeliveries(out, ev, ws)
	}
	return out
}

// fanOut is how many watchers an event may fire (its path's watchers).
func (n *notifier) fanOut(ev *tree.Event) int {
	switch ev.Type {
	case wire.EventNodeCreated, wire.EventNodeDataChanged:
		return n.dataW.WatcherCountOf(ev.Path)
	case wire.EventNodeChildrenChanged:
		return n.childW.WatcherCountOf(ev.Path)
	case wire.EventNodeDeleted:
		return n.dataW.WatcherCountOf(ev.Path) + n.childW.WatcherCountOf(ev.Path)
	}
	return 0
}

// addDeliveries appends the events owed to watchers ws of ev (those whose
// connection is there and may read the node: CVE-2024-23944, checked when
// the watch fires; a filtered one-shot watch is still consumed).
func (n *notifier) addDeliveries(out []delivery, ev *tree.Event, ws []watch.Watcher) []delivery {
	for _, w := range ws {
		cc := n.conns[uint64(w)]
		if cc == nil || !(n.skipACL || tree.CheckACL(ev.ACL, wire.PermRead, cc.auth)) {
			continue
		}
		out = append(out, delivery{cc, ev})
	}
	return out
}

// deliver sends watch events (a connection gone meanwhile gets nothing).
func (n *notifier) deliver(ds []delivery) {
	for _, d := range ds {
		n.send(d.cc, wire.WatcherEvent{Type: d.ev.Type, State: wire.StateSyncConnected, Path: d.ev.Path})
	}
}
