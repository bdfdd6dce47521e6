"""A short kazoo transcript over TLS (use_ssl=True, CA verified).

usage: kazoo_tls.py HOST:PORT NODE CA [CERT KEY]
"""
import os
import sys

from kazoo.client import KazooClient
from kazoo.handlers.threading import KazooTimeoutError


def main():
    addr, node, ca = sys.argv[1], "/" + sys.argv[2], sys.argv[3]
    kw = dict(use_ssl=True, ca=ca, verify_certs=True)
    if len(sys.argv) > 5:
        kw.update(certfile=sys.argv[4], keyfile=sys.argv[5])
    zk = KazooClient(hosts=addr, timeout=10.0, connection_retry={"max_tries": 1},
                     command_retry={"max_tries": 1}, **kw)
    try:
        zk.start(timeout=float(os.environ.get("KAZOO_START_TIMEOUT", "8")))
    except KazooTimeoutError:
        print("connect: no session")
        zk.stop()
        return
    except Exception:  # an SSL error raised straight from connect
        print("connect: no session")
        zk.stop()
        return
    print("connect: ok")
    zk.create(node, b"hello")
    data, st = zk.get(node)
    print("get: %s version %d" % (data.decode(), st.version))
    st = zk.set(node, b"world", version=0)
    print("set: version %d" % st.version)
    zk.create(node + "/child", b"", ephemeral=True)
    print("children: %s" % sorted(zk.get_children(node)))
    zk.stop()
    zk.close()


main()
