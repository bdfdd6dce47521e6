"""The reconfig steps of reconfig_clients_test.go through kazoo's
KazooClient.reconfig, as the super user.

Arguments: host:port, observer id, observer spec, stale config version
(hex). Each step prints "<step> OK", the configuration it returned and
".", or "<step> ERR <code>" and "." (kazoo's exception class mapped to the
server's error code name).
"""
import sys

from kazoo.client import KazooClient
from kazoo import exceptions

CODES = {
    exceptions.BadVersionError: "BADVERSION",
    exceptions.NewConfigNoQuorumError: "NEWCONFIGNOQUORUM",
    exceptions.ReconfigInProcessError: "RECONFIGINPROGRESS",
    exceptions.BadArgumentsError: "BADARGUMENTS",
    exceptions.NoAuthError: "NOAUTH",
    exceptions.UnimplementedError: "UNIMPLEMENTED",
}


def step(zk, name, joining, leaving, from_config):
    try:
        data, _ = zk.reconfig(joining=joining, leaving=leaving, new_members=None, from_config=from_config)
        print(name + " OK")
        print(data.decode("utf-8"))
    except exceptions.KazooException as e:
        print(name + " ERR " + CODES.get(type(e), type(e).__name__))
    print(".")


def main():
    addr, oid, spec, stale = sys.argv[1:5]
    zk = KazooClient(hosts=addr, auth_data=[("digest", "super:pw")])
    zk.start(timeout=30)
    step(zk, "add", spec, None, -1)
    step(zk, "stale", None, oid, int(stale, 16))
    step(zk, "remove", None, oid, -1)
    zk.stop()
    zk.close()


if __name__ == "__main__":
    main()
