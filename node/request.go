package node

import (
	"strings"
	"time"

	"github.com/zkgo/zkgo/jute"
	"github.com/zkgo/zkgo/node/tree"
	"github.com/zkgo/zkgo/node/watch"
	"github.com/zkgo/zkgo/wire"
)

// handlePacket routes one decoded packet.
func (c *clients) handlePacket(cc *clientConn, p *wire.ClientPacket, now time.Time) {
	cc.stats.received++
	c.stats.received++
	cc.lastActive = c.msAt(now)
	switch p.Kind {
	case wire.KindFourLetter:
		c.resp.fourLetter(cc, p.Word, p.Raw)
	case wire.KindConnect:
		if cc.dead || cc.closing {
			return
		}
		c.host.processConnect(cc, p.Connect)
	case wire.KindRequest:
		c.processRequestAt(cc, p, now)
	}
}

// processRequest runs or queues a request so that replies stay in request
// order: writes are prepared at once (so pipelined writes share a group
// commit) and answered when applied; anything else waits until every
// earlier request of the connection has been answered.
func (c *clients) processRequest(cc *clientConn, p *wire.ClientPacket) {
	c.processRequestAt(cc, p, time.Now())
}

// processRequestAt is processRequest for a request that reached the owner
// goroutine at now (one clock read for a whole batch of packets).
func (c *clients) processRequestAt(cc *clientConn, p *wire.ClientPacket, now time.Time) {
	cc.lastSeq++
	cc.reqSeq = cc.lastSeq
	cc.reqAt = c.arrivalOf(now)
	if cc.session == 0 {
		if cc.connecting {
			c.queueRequest(cc, pendingItem{pkt: p, syncAfter: c.host.lastApplied()})
			return
		}
		if !cc.closing {
			c.log.Warn().Str("remote", cc.remote).Str("op", p.Header.Type.String()).
				Msg("request before the session was established; closing")
			c.closeConn(cc, "request before session established")
		}
		return
	}
	if c.cfg.EnforceAuth && p.Header.Type != wire.OpAuth && p.Header.Type != wire.OpSASL && !c.authEnforced(cc, p.Header.Xid) {
		return
	}
	if !c.roles.serving() {
		// Only a connection already closing gets here (becomeLooking
		// closes every client, and connects are refused until the
		// server serves again): with no leader link, forwarding its
		// closeSession crashed the owner. Java's request processors are
		// shut down while it is not running, so the request is dropped
		// and the session lives on until a leader expires it or the
		// client moves to another member.
		c.log.Debug().Str("session", cc.session.String()).Str("op", p.Header.Type.String()).
			Msg("dropping a request while not serving")
		return
	}
	if cc.closing || cc.dead {
		// Java still processes what it already read from a connection;
		// only the replies are lost. Keep session-changing requests.
		if p.Header.Type != wire.OpCloseSession {
			return
		}
	}
	switch p.Header.Type {
	case wire.OpAuth:
		// Java handles auth as soon as it is read, without touching the
		// session; the reply keeps its place in the connection's order.
		c.processAuth(cc, p)
		return
	case wire.OpSASL:
		c.queueOrRun(cc, p)
		return
	}
	if !p.Header.Type.Known() || p.Header.Type == wire.OpNotification {
		// Java answers unknown opcodes before the pipeline.
		c.queueOrRun(cc, p)
		return
	}
	if c.roles.isLearner() {
		// A learner tracks touches for the leader (which owns expiry) and
		// forwards writes and syncs (FollowerRequestProcessor).
		c.learner().touchLearner(cc)
		if forwardable(p.Header.Type) && cc.job == nil && !c.writesQueued(cc) && !c.sched.roundSpent() {
			c.learner().forwardRequest(cc, p)
			return
		}
		c.queueOrRun(cc, p)
		return
	}
	// Every request entering the pipeline touches the session; if the
	// session is gone or closing the request is dropped without a reply
	// (ZooKeeperServer.submitRequestNow, MissingSessionException).
	if !c.sessions.TouchWith(cc.session, cc.timeoutMs, c.msAt(now)) {
		c.log.Debug().Str("session", cc.session.String()).Str("op", p.Header.Type.String()).
			Msg("dropping request of a closed or expired session")
		return
	}
	if p.Header.Type.IsWrite() && p.Header.Type != wire.OpCreateSession && p.Header.Type != wire.OpError && cc.job == nil && !c.writesQueued(cc) {
		c.host.proposeClientWrite(cc, p)
		return
	}
	c.queueOrRun(cc, p)
}

// forwardable reports whether a learner sends op to the leader.
func forwardable(op wire.OpCode) bool {
	return op == wire.OpSync || (op.IsWrite() && op != wire.OpCreateSession && op != wire.OpError)
}

// writesQueued reports whether cc's pending queue holds a request still to
// be proposed or forwarded: a write read now waits behind it (in the
// queue) instead of being proposed ahead of it.
func (c *clients) writesQueued(cc *clientConn) bool {
	return cc.queuedWrites > 0 && len(cc.pending) > 0
}

func (c *clients) queueOrRun(cc *clientConn, p *wire.ClientPacket) {
	if len(cc.pending) == 0 && cc.job == nil && c.sched.roundSpent() {
		c.sched.startConnJob(cc, resumeJob{})
	}
	if len(cc.pending) > 0 || cc.job != nil {
		// addAuth only appends, so the slice keeps today's ids.
		it := pendingItem{pkt: p, auth: cc.auth, snap: true}
		if p.Header.Type == wire.OpSync {
			it.syncAfter = c.host.lastApplied()
		}
		c.queueRequest(cc, it)
		return
	}
	c.execRequest(cc, p)
}

// queueRequest appends the request being processed to cc's pending queue.
func (c *clients) queueRequest(cc *clientConn, it pendingItem) {
	it.seq, it.at = cc.reqSeq, cc.reqAt
	if it.write = forwardable(it.pkt.Header.Type); it.write {
		cc.queuedWrites++
	}
	cc.pending = append(cc.pending, it)
	c.outstandingN++
}

// drainPending answers queued requests from the head of cc's queue until it
// meets a write whose txn is not applied yet.
func (c *clients) drainPending(cc *clientConn) {
	ran := false
	for len(cc.pending) > 0 && cc.job == nil {
		it := cc.pending[0]
		if it.prop != nil {
			if !it.prop.applied {
				c.proposeQueuedWrites(cc)
				return
			}
			cc.pending = cc.pending[1:]
			c.outstandingN--
			c.host.replyWrite(it.prop)
			continue
		}
		if ran && c.sched.roundSpent() {
			// The rest in a later round (at least one request a call,
			// so that the queue moves whatever else the round did).
			c.sched.startConnJobSeq(cc, resumeJob{}, it.seq)
			return
		}
		ran = true
		cc.pending = cc.pending[1:]
		c.outstandingN--
		if it.write {
			cc.queuedWrites--
		}
		if cc.session == 0 {
			// The handshake failed; drop what was queued behind it.
			continue
		}
		n := len(cc.pending)
		c.queuedSync, c.syncAfter = it.pkt.Header.Type == wire.OpSync, it.syncAfter
		// The request keeps its place in the session's order: a job it
		// starts, a write it proposes, are numbered with it.
		cc.reqSeq, cc.reqAt = it.seq, it.at
		if it.snap {
			// Answer with the auth the request was read with.
			live := cc.auth
			cc.auth = it.auth
			c.processRequestQueued(cc, it.pkt)
			cc.auth = live
		} else {
			c.processRequestQueued(cc, it.pkt)
		}
		cc.reqSeq = cc.lastSeq
		c.queuedSync = false
		if len(cc.pending) == n+1 && cc.pending[n].prop != nil && n > 0 {
			// A write (or a learner's forwarded request) that waited in the
			// queue: its reply slot takes the packet's place, ahead of the
			// requests read after it, which must wait for its reply.
			slot := cc.pending[n]
			copy(cc.pending[1:], cc.pending[:n])
			cc.pending[0] = slot
		}
	}
	if len(cc.pending) == 0 {
		cc.pending = nil
		cc.queuedWrites = 0
	}
}

// proposeQueuedWrites proposes (or, on a learner, forwards) the writes
// queued right behind cc's unanswered writes, in order, each in its place
// in the queue, so that a session's pipelined writes that had to queue
// (behind a job, or a learner's spent round) are still proposed together
// rather than one per commit. It stops at the first other request (a read
// runs after the earlier writes' replies) and when the round's time is
// spent.
func (c *clients) proposeQueuedWrites(cc *clientConn) {
	if c.cfg.EnforceAuth {
		// A request may then be refused, its error answered at once:
		// queued writes keep their turn at the head of the queue.
		return
	}
	for k := 1; k < len(cc.pending) && cc.queuedWrites > 0 && cc.job == nil && cc.session != 0; k++ {
		it := cc.pending[k]
		if it.prop != nil {
			continue
		}
		op := it.pkt.Header.Type
		if !it.write || (op == wire.OpSync && !c.roles.isLearner()) || c.sched.roundSpent() {
			return
		}
		n := len(cc.pending)
		cc.queuedWrites--
		c.outstandingN--
		cc.reqSeq, cc.reqAt = it.seq, it.at
		if it.snap {
			live := cc.auth
			cc.auth = it.auth
			c.processRequestQueued(cc, it.pkt)
			cc.auth = live
		} else {
			c.processRequestQueued(cc, it.pkt)
		}
		cc.reqSeq = cc.lastSeq
		if len(cc.pending) != n+1 || cc.pending[n].prop == nil {
			return // cannot happen: a queued write is always proposed here
		}
		// Its reply slot takes the request's place.
		cc.pending[k] = cc.pending[n]
		cc.pending[n] = pendingItem{}
		cc.pending = cc.pending[:n]
	}
}

// processRequestQueued runs a request taken from the pending queue: writes
// get prepared now (they were queued behind a handshake), others run.
func (c *clients) processRequestQueued(cc *clientConn, p *wire.ClientPacket) {
	switch {
	case p.Header.Type == wire.OpAuth:
		c.processAuth(cc, p)
	case c.cfg.EnforceAuth && p.Header.Type != wire.OpSASL && !c.authEnforced(cc, p.Header.Xid):
		// Queued behind the handshake: checked now, with the auth packets
		// read before it applied.
	case c.roles.isLearner() && forwardable(p.Header.Type):
		c.learner().forwardRequest(cc, p)
	case p.Header.Type.IsWrite():
		c.host.proposeClientWrite(cc, p)
	default:
		c.execRequest(cc, p)
	}
}

// processAuth handles an AuthPacket (ZooKeeperServer.processPacket): digest
// adds "digest:user:base64(sha1)" (and super when it matches the
// configured super digest), ip adds the client address; anything else is
// AUTHFAILED and the connection is closed.
func (c *clients) processAuth(cc *clientConn, p *wire.ClientPacket) {
	if p.BodyErr != nil {
		// Java fails reading the AuthPacket and drops the connection
		// without a reply.
		c.stats.authFailed++
		c.closeConnNow(cc, "undecodable auth packet")
		return
	}
	a, _ := p.Body.(*wire.AuthPacket)
	ok := false
	if a != nil {
		switch a.Scheme {
		case tree.SchemeDigest:
			// Java hashes the credential it decoded (the JVM charset; UTF-8
			// here) and holds the id as a Java string.
			id := wire.JavaString(tree.DigestID(wire.JavaUTF8(a.Auth)))
			if c.cfg.SuperDigest != "" && id == c.cfg.SuperDigest {
				cc.addAuth(wire.ID{Scheme: tree.SchemeSuper, ID: ""})
			}
			cc.addAuth(wire.ID{Scheme: tree.SchemeDigest, ID: id})
			ok = true
		case tree.SchemeIP:
			cc.addAuth(wire.ID{Scheme: tree.SchemeIP, ID: javaHostAddress(cc.ip())})
			ok = true
		case tree.SchemeX509:
			// The certificate authenticates; the auth data is ignored.
			var ids []wire.ID
			if ids, ok = c.x509IDs(cc); ok {
				for _, id := range ids {
					cc.addAuth(id)
				}
			}
		}
	}
	scheme := ""
	if a != nil {
		scheme = a.Scheme
	}
	if !ok {
		c.stats.authFailed++
	}
	if ok {
		c.log.Info().Str("session", cc.session.String()).Str("scheme", scheme).Str("remote", cc.remote).Msg("auth success")
		c.replyZxid(cc, p.Header.Xid, 0, wire.ErrOk, nil)
		return
	}
	c.log.Warn().Str("session", cc.session.String()).Str("scheme", scheme).Str("remote", cc.remote).
		Msg("Authentication failed for scheme")
	c.replyZxid(cc, p.Header.Xid, 0, wire.ErrAuthFailed, nil)
	c.closeConn(cc, "auth failed")
}

// authEnforced is AuthenticationHelper.enforceAuthentication
// (zookeeper.enforce.auth.enabled): a request of a connection that holds no
// id of an enforced scheme is answered, header only, with
// SESSIONCLOSEDREQUIRESASLAUTH and zxid 0, and the connection (not the
// session) is closed. Java runs it on every packet but auth and sasl, pings
// and closeSession included; four-letter words never get here.
func (c *clients) authEnforced(cc *clientConn, xid wire.Xid) bool {
	for _, id := range cc.auth {
		for _, scheme := range c.cfg.EnforceAuthSchemes {
			if id.Scheme == scheme {
				return true
			}
		}
	}
	if cc.closing || cc.dead {
		return false
	}
	c.log.Error().Str("session", cc.session.String()).Str("remote", cc.remote).Strs("expected", c.cfg.EnforceAuthSchemes).
		Msg("Client authentication scheme(s) do not match any of the expected authentication schemes, closing session")
	c.replyZxid(cc, xid, 0, wire.ErrSessionClosedRequireSASLAuth, nil)
	c.closeConn(cc, "authentication required (enforce.auth.enabled)")
	return false
}

func (cc *clientConn) addAuth(id wire.ID) {
	for _, a := range cc.auth {
		if a.Scheme == id.Scheme && a.ID == id.ID {
			return
		}
	}
	cc.auth = append(cc.auth, id)
}

// execRequest answers a non-txn request (FinalRequestProcessor's read
// side) and registers watches.
func (c *clients) execRequest(cc *clientConn, p *wire.ClientPacket) {
	h := p.Header
	if c.sched.applyJob != nil && p.BodyErr == nil {
		// A txn is being applied in steps: a read of what it changed
		// already waits for the whole txn.
		if path, all := readPath(h.Type, p.Body); all || (path != "" && c.sched.readWaits(path)) {
			c.sched.deferRead(cc, p)
			return
		}
	}
	cc.stats.lastOpCode = h.Type
	job := cc.job
	c.execRead(cc, p)
	if cc.job == job && h.Type != wire.OpSASL {
		// Answered now (not a job's: a job that answers it counts it when
		// done). Java's SASL packets skip the pipeline and its stats.
		c.observeRead(cc)
	}
}

// readJob is a connection job that answers a read request (its latency is
// counted when it is done).
type readJob interface{ answersRead() }

func (*syncWaitJob) answersRead()   {}
func (*setWatchesJob) answersRead() {}
func (*namesReplyJob) answersRead() {}
func (*multiReadJob) answersRead()  {}

// observeRead counts the latency of the read just answered, from when it
// reached the owner goroutine (cc.reqAt), as Java's FinalRequestProcessor
// counts every request without a txn header (ServerStats.updateLatency):
// in srvr's and mntr's min/avg/max latency, the connection's (cons), and
// readlatency.
func (c *clients) observeRead(cc *clientConn) {
	took := c.sinceArrival(cc.reqAt)
	ms := took.Milliseconds()
	cc.stats.observe(ms)
	c.stats.observe(ms)
	c.stats.reads.add(ms)
	c.jsum.reads.add(float64(took.Nanoseconds()) / 1e6)
}

// execRead is execRequest's answer.
func (c *clients) execRead(cc *clientConn, p *wire.ClientPacket) {
	h := p.Header
	w := watch.Watcher(cc.id)
	if p.BodyErr != nil && h.Type.Known() && h.Type != wire.OpNotification {
		c.reply(cc, h.Xid, wire.ErrMarshallingError, nil)
		return
	}
	if nullReadPath(p.Body) {
		// Java dereferences the null path (NPE): MARSHALLINGERROR.
		c.reply(cc, h.Xid, wire.ErrMarshallingError, nil)
		return
	}
	switch h.Type {
	case wire.OpPing:
		c.reply(cc, wire.XidPing, wire.ErrOk, nil)
		if h.Xid != wire.XidPing {
			// Java answers pings with xid -2 whatever was sent.
		}
		return
	case wire.OpExists:
		r := p.Body.(*wire.ExistsRequest)
		if strings.IndexByte(r.Path, 0) >= 0 {
			c.reply(cc, h.Xid, wire.ErrBadArguments, nil)
			return
		}
		if r.Watch {
			c.dataW.Add(r.Path, w, watch.Standard)
		}
		n := (*c.tree).Get(r.Path)
		if n == nil {
			c.reply(cc, h.Xid, wire.ErrNoNode, nil)
			return
		}
		c.reply(cc, h.Xid, wire.ErrOk, &wire.ExistsResponse{Stat: (*c.tree).StatOf(n)})
	case wire.OpGetData:
		r := p.Body.(*wire.GetDataRequest)
		resp, code := c.getData(cc, r.Path, r.Watch)
		if code != wire.ErrOk {
			c.reply(cc, h.Xid, code, nil)
			return
		}
		c.reply(cc, h.Xid, wire.ErrOk, resp)
	case wire.OpGetChildren:
		r := p.Body.(*wire.GetChildrenRequest)
		children, _, code := c.getChildren(cc, r.Path, r.Watch)
		if code != wire.ErrOk {
			c.reply(cc, h.Xid, code, nil)
			return
		}
		c.replyNames(cc, h.Xid, children, nil)
	case wire.OpGetChildren2:
		r := p.Body.(*wire.GetChildren2Request)
		children, st, code := c.getChildren(cc, r.Path, r.Watch)
		if code != wire.ErrOk {
			c.reply(cc, h.Xid, code, nil)
			return
		}
		c.replyNames(cc, h.Xid, children, &st)
	case wire.OpGetACL:
		r := p.Body.(*wire.GetACLRequest)
		n := (*c.tree).Get(r.Path)
		if n == nil {
			c.reply(cc, h.Xid, wire.ErrNoNode, nil)
			return
		}
		acl := (*c.tree).ACLOf(n)
		if tree.IsUndefinedACL(acl) {
			// An index no txn defined (tree.UndefinedACL): Java fails
			// the request the same way.
			c.reply(cc, h.Xid, wire.ErrMarshallingError, nil)
			return
		}
		if !c.checkACL(acl, wire.PermRead|wire.PermAdmin, cc.auth) {
			c.reply(cc, h.Xid, wire.ErrNoAuth, nil)
			return
		}
		if !c.checkACL(acl, wire.PermAdmin, cc.auth) {
			// CVE-2019-0201: without ADMIN, digest hashes are redacted.
			red := make([]wire.ACL, len(acl))
			for i, a := range acl {
				red[i] = a
				if a.ID.Scheme == tree.SchemeDigest {
					user, _, _ := strings.Cut(a.ID.ID, ":")
					red[i].ID = wire.ID{Scheme: a.ID.Scheme, ID: user + ":x"}
				}
			}
			acl = red
		}
		c.reply(cc, h.Xid, wire.ErrOk, &wire.GetACLResponse{ACL: acl, Stat: (*c.tree).StatOf(n)})
	case wire.OpGetAllChildrenNumber:
		r := p.Body.(*wire.GetAllChildrenNumberRequest)
		n := (*c.tree).Get(r.Path)
		if n == nil {
			c.reply(cc, h.Xid, wire.ErrNoNode, nil)
			return
		}
		if !c.checkACL((*c.tree).ACLOf(n), wire.PermRead, cc.auth) {
			c.reply(cc, h.Xid, wire.ErrNoAuth, nil)
			return
		}
		count := (*c.tree).CountDescendants(r.Path)
		if r.Path == "" {
			// Java counts the keys of its node map that start with path+"/":
			// for "" that is every node, the root included.
			count = (*c.tree).CountDescendants("/") + 1
		}
		c.reply(cc, h.Xid, wire.ErrOk, &wire.GetAllChildrenNumberResponse{TotalNumber: int32(count)})
	case wire.OpGetEphemerals:
		r := p.Body.(*wire.GetEphemeralsRequest)
		c.replyNames(cc, h.Xid, ephemeralsWithPrefix((*c.tree).Ephemerals(cc.session), r.PrefixPath), nil)
	case wire.OpSync:
		z := c.host.lastApplied()
		if c.queuedSync {
			// It waited in the connection's queue: what was committed
			// when it arrived, not the writes its session sent after it.
			z = min(z, c.syncAfter)
		}
		if z > (*c.tree).LastZxid {
			// Txns committed before it are still being applied.
			c.sched.startConnJob(cc, &syncWaitJob{pkt: p, zxid: z})
			return
		}
		r := p.Body.(*wire.SyncRequest)
		c.reply(cc, h.Xid, wire.ErrOk, &wire.SyncResponse{Path: r.Path, Nulls: r.Nulls})
	case wire.OpSetWatches:
		r := p.Body.(*wire.SetWatches)
		c.sched.runConnJob(cc, newSetWatchesJob(h.Xid, r.RelativeZxid, r.DataWatches, r.ExistWatches, r.ChildWatches, []string{}, []string{}))
	case wire.OpSetWatches2:
		r := p.Body.(*wire.SetWatches2)
		c.sched.runConnJob(cc, newSetWatchesJob(h.Xid, r.RelativeZxid, r.DataWatches, r.ExistWatches, r.ChildWatches,
			r.PersistentWatches, r.PersistentRecursiveWatches))
	case wire.OpAddWatch:
		r := p.Body.(*wire.AddWatchRequest)
		switch r.Mode {
		case wire.AddWatchPersistent:
			c.childW.Add(r.Path, w, watch.Persistent)
			c.dataW.Add(r.Path, w, watch.Persistent)
		case wire.AddWatchPersistentRecursive:
			c.childW.Add(r.Path, w, watch.PersistentRecursive)
			c.dataW.Add(r.Path, w, watch.PersistentRecursive)
		default:
			// WatcherMode.fromZooDef throws; Java reports MARSHALLINGERROR.
			c.reply(cc, h.Xid, wire.ErrMarshallingError, nil)
			return
		}
		c.reply(cc, h.Xid, wire.ErrOk, &wire.ErrorResponse{Err: wire.ErrOk})
	case wire.OpCheckWatches, wire.OpRemoveWatches:
		var path string
		var typ wire.WatcherType
		if r, ok := p.Body.(*wire.CheckWatchesRequest); ok {
			path, typ = r.Path, r.Type
		} else {
			r := p.Body.(*wire.RemoveWatchesRequest)
			path, typ = r.Path, r.Type
		}
		remove := h.Type == wire.OpRemoveWatches
		found, fails := false, false
		switch typ {
		case wire.WatcherChildren:
			found, fails = c.watchOp(c.childW, path, w, remove)
		case wire.WatcherData:
			found, fails = c.watchOp(c.dataW, path, w, remove)
		case wire.WatcherAny:
			// Java asks the child table, then the data table; either may fail.
			ch, cf := c.watchOp(c.childW, path, w, remove)
			d, df := false, false
			if !cf {
				d, df = c.watchOp(c.dataW, path, w, remove)
			}
			found, fails = ch || d, cf || df
		default:
			// WatcherType.fromInt throws; Java reports MARSHALLINGERROR.
			c.reply(cc, h.Xid, wire.ErrMarshallingError, nil)
			return
		}
		if fails {
			// Java's path iterator failed on a relative path.
			c.reply(cc, h.Xid, wire.ErrMarshallingError, nil)
			return
		}
		if !found {
			c.reply(cc, h.Xid, wire.ErrNoWatcher, nil)
			return
		}
		c.reply(cc, h.Xid, wire.ErrOk, nil)
	case wire.OpWhoAmI:
		infos := make([]wire.ClientInfo, 0, len(cc.auth))
		for _, id := range tree.JavaAuthOrder(cc.auth) {
			infos = append(infos, wire.ClientInfo{AuthScheme: id.Scheme, User: tree.AuthUser(id)})
		}
		c.reply(cc, h.Xid, wire.ErrOk, &wire.WhoAmIResponse{ClientInfo: infos})
	case wire.OpMultiRead:
		c.multiRead(cc, p)
	case wire.OpSASL:
		c.processSASL(cc, h.Xid, p)
	default:
		// Java answers an unknown opcode with UNIMPLEMENTED (zxid -1) and
		// closes the connection; zkgo keeps the session usable
		// (compat-tests/DIFFERENCES.md).
		c.log.Warn().Str("session", cc.session.String()).Int32("op", int32(h.Type)).Msg("Received packet of unknown type")
		c.replyZxid(cc, h.Xid, -1, wire.ErrUnimplemented, nil)
	}
}

func (c *clients) watchOp(m *watch.Manager, path string, w watch.Watcher, remove bool) (found, fails bool) {
	if remove {
		return m.Remove(path, w), false
	}
	return m.CheckJava38(path, w)
}

func (c *clients) checkACL(acl []wire.ACL, perm wire.Perm, auth []wire.ID) bool {
	if c.cfg.SkipACL {
		return true
	}
	return tree.CheckACL(acl, perm, auth)
}

func (c *clients) getData(cc *clientConn, path string, wantWatch bool) (*wire.GetDataResponse, wire.ErrCode) {
	n := (*c.tree).Get(path)
	if n == nil {
		return nil, wire.ErrNoNode
	}
	if !c.checkACL((*c.tree).ACLOf(n), wire.PermRead, cc.auth) {
		return nil, wire.ErrNoAuth
	}
	if wantWatch {
		c.dataW.Add(path, watch.Watcher(cc.id), watch.Standard)
	}
	return &wire.GetDataResponse{Data: n.Data(), Stat: (*c.tree).StatOf(n)}, wire.ErrOk
}

func (c *clients) getChildren(cc *clientConn, path string, wantWatch bool) ([]string, wire.Stat, wire.ErrCode) {
	n := (*c.tree).Get(path)
	if n == nil {
		return nil, wire.Stat{}, wire.ErrNoNode
	}
	if !c.checkACL((*c.tree).ACLOf(n), wire.PermRead, cc.auth) {
		return nil, wire.Stat{}, wire.ErrNoAuth
	}
	if wantWatch {
		c.childW.Add(path, watch.Watcher(cc.id), watch.Standard)
	}
	return n.ChildNames(), (*c.tree).StatOf(n), wire.ErrOk
}

// multiRead answers a multiRead: each getData/getChildren runs on its own
// and a failure becomes an ErrorResult for that op only.
func (c *clients) multiRead(cc *clientConn, p *wire.ClientPacket) {
	m := p.Body.(*wire.MultiRequest)
	reads, writes := 0, 0
	for _, op := range m.Ops {
		switch op.Op.(type) {
		case *wire.GetDataRequest, *wire.GetChildrenRequest:
			reads++
		default:
			writes++
		}
	}
	switch {
	case reads > 0 && writes > 0:
		// MultiOperationRecord refuses mixed kinds while deserializing.
		c.reply(cc, p.Header.Xid, wire.ErrMarshallingError, nil)
		return
	case writes > 0:
		// Java builds the response, then fails on the first write op: the
		// error goes out with the (empty) response body.
		c.reply(cc, p.Header.Xid, wire.ErrMarshallingError, &wire.MultiResponse{})
		return
	}
	c.sched.runConnJob(cc, &multiReadJob{xid: p.Header.Xid, ops: m.Ops})
}

// opAbbrev is the short op name Java's cons output uses (lastOp).
func opAbbrev(op wire.OpCode) string {
	switch op {
	case wire.OpPing:
		return "PING"
	case wire.OpGetData:
		return "GETD"
	case wire.OpSetData:
		return "SETD"
	case wire.OpExists:
		return "EXIS"
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL:
		return "CREA"
	case wire.OpDelete, wire.OpDeleteContainer:
		return "DELE"
	case wire.OpGetChildren, wire.OpGetChildren2:
		return "GETC"
	case wire.OpGetACL:
		return "GETA"
	case wire.OpSetACL:
		return "SETA"
	case wire.OpSync:
		return "SYNC"
	case wire.OpMulti:
		return "MULT"
	case wire.OpMultiRead:
		return "MLTR"
	case wire.OpCloseSession:
		return "CLOS"
	case wire.OpSetWatches:
		return "SETW"
	case wire.OpSetWatches2:
		return "STW2"
	case wire.OpCheck:
		return "CHEC"
	case wire.OpCreateSession:
		return "SESS"
	case wire.OpReconfig:
		return "RECO"
	case wire.OpAddWatch:
		return "ADDW"
	case wire.OpWhoAmI:
		return "HOMI"
	case wire.OpGetEphemerals:
		return "GETE"
	case wire.OpGetAllChildrenNumber:
		return "GETACN"
	case wire.OpRemoveWatches:
		return "REMW"
	case wire.OpCheckWatches:
		return "CHKW"
	}
	return "NA"
}

var _ jute.Record = (*wire.GetDataResponse)(nil)

// nullReadPath reports a read whose path is null on the wire.
func nullReadPath(body any) bool {
	switch r := body.(type) {
	case *wire.ExistsRequest:
		return r.Nulls.Has(0)
	case *wire.GetDataRequest:
		return r.Nulls.Has(0)
	case *wire.GetChildrenRequest:
		return r.Nulls.Has(0)
	case *wire.GetChildren2Request:
		return r.Nulls.Has(0)
	case *wire.GetACLRequest:
		return r.Nulls.Has(0)
	case *wire.GetAllChildrenNumberRequest:
		return r.Nulls.Has(0)
	}
	return false
}
