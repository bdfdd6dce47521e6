import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.admin.ZooKeeperAdmin;
import org.apache.zookeeper.data.Stat;

/**
 * Drives a server with ZooKeeper's own Java client through every operation
 * its API sends, for compat-tests/decode_test.go: the test captures the
 * traffic and checks `zkgo decode` sees exactly what this program sent.
 * It prints one line per opcode, "OP <name> <requests> <errors>", using
 * the names of Request.op2String; pings and closeSession are the client's
 * own business and are not counted here.
 *
 * Usage: DecodeWorkload HOST:PORT
 */
public class DecodeWorkload {
    static final Map<String, int[]> ops = new TreeMap<>();

    interface Call {
        void run() throws Exception;
    }

    static void op(String name, Call c) throws Exception {
        int[] n = ops.computeIfAbsent(name, k -> new int[2]);
        n[0]++;
        try {
            c.run();
        } catch (KeeperException e) {
            n[1]++;
        }
    }

    public static void main(String[] args) throws Exception {
        String addr = args[0];
        CountDownLatch connected = new CountDownLatch(1);
        Watcher w = e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        };
        ZooKeeper zk = new ZooKeeper(addr, 30000, w);
        if (!connected.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("not connected");
        }
        byte[] data = "java".getBytes(StandardCharsets.UTF_8);
        Stat st = new Stat();
        op("create", () -> zk.create("/jdec", data, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
        op("create", () -> zk.create("/jdec", data, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT)); // NODEEXISTS
        op("create2", () -> zk.create("/jdec/c2", data, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, st));
        op("createContainer", () -> zk.create("/jdec/box", data, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER));
        op("createTTL", () -> zk.create("/jdec/ttl", data, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, st, 600000));
        op("create", () -> zk.create("/jdec/e-", data, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL));
        op("exists", () -> zk.exists("/jdec", true));
        op("exists", () -> { // the API answers null; the wire carries NONODE
            if (zk.exists("/jdec/none", false) == null) {
                throw new KeeperException.NoNodeException("/jdec/none");
            }
        });
        op("getData", () -> zk.getData("/jdec", true, st));
        op("getData", () -> zk.getData("/jdec/none", false, st)); // NONODE
        op("setData", () -> zk.setData("/jdec", "java2".getBytes(StandardCharsets.UTF_8), -1));
        op("setData", () -> zk.setData("/jdec", data, 42)); // BADVERSION
        op("getACL", () -> zk.getACL("/jdec", st));
        op("setACL", () -> zk.setACL("/jdec/c2", Ids.OPEN_ACL_UNSAFE, -1));
        op("getChildren", () -> zk.getChildren("/jdec", true));
        op("getChildren2", () -> zk.getChildren("/jdec", false, st));
        CountDownLatch synced = new CountDownLatch(1);
        op("sync", () -> zk.sync("/jdec", (rc, path, ctx) -> synced.countDown(), null));
        synced.await(30, TimeUnit.SECONDS);
        op("multi", () -> zk.multi(Arrays.asList(
            Op.create("/jdec/m", data, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
            Op.check("/jdec/m", 0),
            Op.setData("/jdec/m", data, 0),
            Op.delete("/jdec/m", -1))));
        op("multiRead", () -> zk.multi(Arrays.asList(Op.getChildren("/jdec"), Op.getData("/jdec"))));
        Watcher dataWatch = e -> { };
        op("getData", () -> zk.getData("/jdec/c2", dataWatch, st));
        op("checkWatches", () -> zk.removeWatches("/jdec/c2", dataWatch, Watcher.WatcherType.Data, false));
        op("getData", () -> zk.getData("/jdec/c2", true, st));
        op("removeWatches", () -> zk.removeAllWatches("/jdec/c2", Watcher.WatcherType.Data, false));
        op("addWatch", () -> zk.addWatch("/jdec", AddWatchMode.PERSISTENT_RECURSIVE));
        op("getEphemerals", () -> zk.getEphemerals("/jdec"));
        op("getAllChildrenNumber", () -> zk.getAllChildrenNumber("/jdec"));
        op("whoAmI", () -> zk.whoAmI());
        ops.computeIfAbsent("auth", k -> new int[2])[0]++;
        zk.addAuthInfo("digest", "java:secret".getBytes(StandardCharsets.UTF_8));
        op("whoAmI", () -> zk.whoAmI());
        op("delete", () -> zk.delete("/jdec/c2", -1));
        op("delete", () -> zk.delete("/jdec", -1)); // NOTEMPTY
        zk.close();

        CountDownLatch adminUp = new CountDownLatch(1);
        ZooKeeperAdmin admin = new ZooKeeperAdmin(addr, 30000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                adminUp.countDown();
            }
        });
        adminUp.await(30, TimeUnit.SECONDS);
        op("reconfig", () -> admin.reconfigure(null, "2", null, -1, new Stat())); // disabled: an error
        admin.close();

        for (Map.Entry<String, int[]> e : ops.entrySet()) {
            System.out.println("OP " + e.getKey() + " " + e.getValue()[0] + " " + e.getValue()[1]);
        }
        System.out.flush();
    }
}
