"""kazoo with SASL DIGEST-MD5 (pure-sasl): a node only its SASL user reads.

usage: kazoo_sasl.py HOST:PORT NODE USER PASSWORD
"""
import sys
import time

from kazoo.client import KazooClient, KazooState
from kazoo.protocol.states import KeeperState
from kazoo.security import make_acl


def main():
    addr, node, user, password = sys.argv[1:5]
    node = "/" + node
    zk = KazooClient(hosts=addr, timeout=10.0, connection_retry={"max_tries": 1},
                     command_retry={"max_tries": 1},
                     sasl_options={"mechanism": "DIGEST-MD5", "username": user, "password": password})
    seen = []
    zk.add_listener(seen.append)
    try:
        zk.start(timeout=8)
    except Exception as e:
        # kazoo reports CONNECTED before its SASL exchange. When the server
        # refuses the credentials quickly, start() can see the failure
        # first and raise a time-out for a session that was created; the
        # states seen say which happened. Listeners are called on kazoo's
        # callback thread, so the states may arrive just after start()
        # gave up: wait a moment for them.
        deadline = time.time() + 3
        while time.time() < deadline and (KazooState.CONNECTED not in seen or
                                           zk.client_state != KeeperState.AUTH_FAILED):
            time.sleep(0.05)
        if KazooState.CONNECTED not in seen or zk.client_state != KeeperState.AUTH_FAILED:
            print("connect: %s" % type(e).__name__)
            zk.stop()
            return
    print("connect: ok")
    if zk.client_state == KeeperState.AUTH_FAILED:
        print("error: AuthFailedError")
        zk.stop()
        zk.close()
        return
    try:
        zk.create(node, b"only " + user.encode(), acl=[make_acl("sasl", user, all=True)])
        data, _ = zk.get(node)
        print("get: %s" % data.decode())
        acl, _ = zk.get_acls(node)
        print("acl: %s" % [(a.id.scheme, a.id.id, a.perms) for a in acl])
        if user == "super":
            data, _ = zk.get("/sasl-kazoo")
            print("super reads /sasl-kazoo: %s" % data.decode())
    except Exception as e:
        print("error: %s" % type(e).__name__)
    zk.stop()
    zk.close()


main()
