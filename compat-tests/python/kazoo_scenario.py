#!/usr/bin/python3
"""Drive a ZooKeeper server with kazoo and print a deterministic transcript.

Usage: kazoo_scenario.py HOST:PORT

compat-tests/kazoo_test.go runs this against Java ZooKeeper 3.8 and zkgo and
requires the same transcript from both. Everything printed is independent of
session ids, timestamps and scheduling: callbacks are awaited one by one, and
a "fence" change (whose callback must be the next one) proves that nothing
unexpected arrived in between. A line starting with "FAIL" marks a broken
expectation that holds on any correct server (the script then exits 1).
"""

import logging
import queue
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import (BadVersionError, NodeExistsError, NoNodeError,
                              NotEmptyError)

TIMEOUT = 10
failed = False


def out(*args):
    print(*args, flush=True)


def fail(msg):
    global failed
    failed = True
    out("FAIL", msg)


def client(hosts):
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=TIMEOUT)
    return zk


def ename(e):
    return type(e).__name__ if e is not None else "None"


def stat_str(st):
    if st is None:
        return "None"
    return "v=%d cv=%d len=%d kids=%d eph=%s" % (
        st.version, st.cversion, st.dataLength, st.numChildren,
        "yes" if st.ephemeralOwner else "0")


def next_cb(q, what):
    try:
        return q.get(timeout=TIMEOUT)
    except queue.Empty:
        fail("no callback for " + what)
        return None


def lock_scenario(hosts):
    out("## lock")
    a, b = client(hosts), client(hosts)
    a.ensure_path("/lock-counter")
    la = a.Lock("/lock", "c1")
    lb = b.Lock("/lock", "c2")
    la.acquire(timeout=TIMEOUT)
    out("c1 acquired; contenders", la.contenders())
    got = threading.Event()

    def take():
        lb.acquire(timeout=TIMEOUT)
        got.set()

    th = threading.Thread(target=take)
    th.start()
    deadline = time.time() + TIMEOUT
    while len(la.contenders()) < 2 and time.time() < deadline:
        time.sleep(0.01)
    out("c2 waiting; contenders", la.contenders(), "c2 holds:", got.is_set())
    kids = sorted(k.split("__lock__")[1] for k in a.get_children("/lock"))
    out("lock nodes", kids)
    la.release()
    th.join(TIMEOUT)
    out("c1 released; c2 holds:", got.is_set(), "contenders", lb.contenders())
    lb.release()
    out("c2 released; lock nodes", a.get_children("/lock"))

    # Mutual exclusion under contention: a read-modify-write of a counter
    # under the lock never overlaps and never sees a BadVersion.
    state = {"inside": 0, "overlaps": 0, "badversion": 0, "errors": []}
    mu = threading.Lock()
    rounds = 15

    def worker(zk, ident):
        lk = zk.Lock("/lock", ident)
        for _ in range(rounds):
            try:
                with lk:
                    with mu:
                        state["inside"] += 1
                        if state["inside"] > 1:
                            state["overlaps"] += 1
                    data, st = zk.get("/lock-counter")
                    n = int(data or b"0")
                    time.sleep(0.002)
                    try:
                        zk.set("/lock-counter", str(n + 1).encode(), version=st.version)
                    except BadVersionError:
                        state["badversion"] += 1
                    with mu:
                        state["inside"] -= 1
            except Exception as e:  # noqa: BLE001 - reported in the transcript
                state["errors"].append(ename(e))

    ths = [threading.Thread(target=worker, args=(a, "w1")),
           threading.Thread(target=worker, args=(b, "w2"))]
    for t in ths:
        t.start()
    for t in ths:
        t.join(60)
    data, st = a.get("/lock-counter")
    out("contended: overlaps=%d badversion=%d errors=%s counter=%s version=%d" % (
        state["overlaps"], state["badversion"], state["errors"], data.decode(), st.version))
    if state["overlaps"] or state["badversion"] or state["errors"] or data != str(2 * rounds).encode():
        fail("lock did not give mutual exclusion")
    out("lock nodes after", a.get_children("/lock"))
    a.stop()
    b.stop()
    a.close()
    b.close()


def watch_scenario(hosts):
    out("## watches")
    zk = client(hosts)
    other = client(hosts)

    dq = queue.Queue()

    def on_data(data, stat, event):
        dq.put((data, stat, event))

    zk.DataWatch("/dw", on_data)

    def show_data(what):
        cb = next_cb(dq, what)
        if cb is None:
            return
        data, stat, event = cb
        out("DataWatch after %s: data=%r stat={%s} event=%s" % (
            what, data, stat_str(stat), event.type if event else None))

    show_data("start (missing)")
    other.create("/dw", b"a")
    show_data("create")
    other.set("/dw", b"b")
    show_data("set")
    other.set("/dw", b"b")
    show_data("set same data")
    other.delete("/dw")
    show_data("delete")
    other.create("/dw", b"again")
    show_data("re-create")
    other.set_acls("/dw", other.get_acls("/dw")[0])  # setACL fires no watch
    other.set("/dw", b"fence")
    show_data("fence set")

    cq = queue.Queue()

    def on_children(children, event):
        cq.put((sorted(children), event))

    other.create("/cw")
    cw = zk.ChildrenWatch("/cw", on_children, send_event=True)

    def show_children(what):
        cb = next_cb(cq, what)
        if cb is None:
            return
        children, event = cb
        out("ChildrenWatch after %s: %s event=%s" % (what, children, event.type if event else None))

    show_children("start")
    other.create("/cw/c1")
    show_children("create c1")
    other.set("/cw/c1", b"x")  # no children change: nothing
    other.set("/cw", b"x")  # data change of the parent: nothing
    other.create("/cw/c2", ephemeral=True)
    show_children("create c2 (fence for the sets)")
    other.create("/cw/c1/grand")  # grandchild: nothing
    other.delete("/cw/c1/grand")
    other.delete("/cw/c1")
    show_children("delete c1")
    other.stop()  # closes the session: ephemeral c2 goes
    other.close()
    show_children("owner of c2 closed")
    zk.delete("/cw")  # ChildrenWatch stops without a callback on NoNode
    deadline = time.time() + TIMEOUT
    while not cw._stopped and time.time() < deadline:  # noqa: SLF001 - no public accessor
        time.sleep(0.01)
    out("ChildrenWatch stopped after delete of /cw:", cw._stopped)  # noqa: SLF001
    zk.create("/cw")
    zk.create("/cw/after")
    time.sleep(0.2)
    out("ChildrenWatch callbacks after delete of /cw:", cq.qsize())

    # A plain one-shot watch sees exactly one event.
    ev = queue.Queue()
    zk.create("/ow", b"1")
    zk.get("/ow", watch=ev.put)
    zk.set("/ow", b"2")
    zk.set("/ow", b"3")
    e = next_cb(ev, "one-shot")
    out("one-shot:", e.type if e else None, e.path if e else None)
    zk.exists("/ow-missing", watch=ev.put)
    zk.create("/ow-missing")
    e = next_cb(ev, "exists watch")
    out("exists watch:", e.type if e else None, e.path if e else None, "extra:", ev.qsize())
    zk.stop()
    zk.close()


def transaction_scenario(hosts):
    out("## transactions")
    zk = client(hosts)
    t = zk.transaction()
    t.create("/tx", b"1")
    t.create("/tx/a", b"")
    t.set_data("/tx", b"2")
    t.check("/tx", 1)
    res = t.commit()
    out("commit:", [r if isinstance(r, str) else ename(r) if isinstance(r, Exception) else stat_str(r) if hasattr(r, "version") else r for r in res])
    data, st = zk.get("/tx")
    out("/tx data=%r %s" % (data, stat_str(st)))

    t = zk.transaction()
    t.create("/tx/b", b"")
    t.check("/tx", 99)
    out("bad check:", [ename(r) for r in t.commit()])

    t = zk.transaction()
    t.create("/tx/c", b"")
    t.delete("/tx/missing")
    t.set_data("/tx", b"3")
    out("delete missing:", [ename(r) for r in t.commit()])

    t = zk.transaction()
    t.delete("/tx")
    out("delete non-empty:", [ename(r) for r in t.commit()])

    t = zk.transaction()
    t.create("/tx/a", b"")
    out("create existing:", [ename(r) for r in t.commit()])

    out("after failures: children", sorted(zk.get_children("/tx")), "data", zk.get("/tx")[0])
    t = zk.transaction()
    t.delete("/tx/a")
    t.delete("/tx")
    out("delete all:", [r if not isinstance(r, Exception) else ename(r) for r in t.commit()],
        "exists:", zk.exists("/tx") is not None)
    zk.stop()
    zk.close()


def ephemeral_scenario(hosts):
    out("## ephemeral sequential")
    zk = client(hosts)
    watcher = client(hosts)
    zk.ensure_path("/es")
    names = [zk.create("/es/n-", b"", ephemeral=True, sequence=True) for _ in range(3)]
    names.append(zk.create("/es/p-", b"", sequence=True))
    out("created", names)
    _, st = zk.get(names[0])
    out("ephemeralOwner is the session:", st.ephemeralOwner == zk.client_id[0], stat_str(st))
    try:
        zk.create(names[0] + "/child")
    except Exception as e:  # noqa: BLE001
        out("child of ephemeral:", ename(e))
    try:
        zk.create("/es/n-", ephemeral=True)
        zk.create("/es/n-", ephemeral=True)
    except NodeExistsError as e:
        out("duplicate ephemeral:", ename(e))
    path, st = zk.create("/es/d-", b"data", ephemeral=True, sequence=True, include_data=True)
    out("create2:", path, stat_str(st))
    kids, st = watcher.get_children("/es", include_data=True)
    out("children", sorted(kids), stat_str(st))
    gone = queue.Queue()
    watcher.get_children("/es", watch=gone.put)
    zk.stop()
    zk.close()
    e = next_cb(gone, "session close")
    out("after close:", e.type if e else None, e.path if e else None, sorted(watcher.get_children("/es")))
    try:
        watcher.delete("/es")
    except NotEmptyError as e:
        out("delete /es:", ename(e))
    watcher.delete("/es", recursive=True)
    out("recursive delete ok:", watcher.exists("/es") is None)
    try:
        watcher.get("/es")
    except NoNodeError as e:
        out("get deleted:", ename(e))
    watcher.stop()
    watcher.close()


def main():
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    hosts = sys.argv[1]
    lock_scenario(hosts)
    watch_scenario(hosts)
    transaction_scenario(hosts)
    ephemeral_scenario(hosts)
    out("## done")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
