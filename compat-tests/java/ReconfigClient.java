import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.admin.ZooKeeperAdmin;
import org.apache.zookeeper.data.Stat;

// The reconfig steps of reconfig_clients_test.go through the Java client's
// ZooKeeperAdmin.reconfigure, as the super user. Arguments: connect
// string, observer id, observer spec, stale config version (hex). Each step
// prints "<step> OK", the configuration it returned and ".", or
// "<step> ERR <code>" and ".".
public class ReconfigClient {
    public static void main(String[] args) throws Exception {
        String connect = args[0], id = args[1], spec = args[2];
        long stale = Long.parseLong(args[3], 16);
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeperAdmin zk = new ZooKeeperAdmin(connect, 15000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        if (!connected.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("not connected to " + connect);
        }
        zk.addAuthInfo("digest", "super:pw".getBytes(StandardCharsets.UTF_8));
        step(zk, "add", spec, null, -1);
        step(zk, "stale", null, id, stale);
        step(zk, "remove", null, id, -1);
        zk.close();
    }

    static void step(ZooKeeperAdmin zk, String name, String joining, String leaving, long from) throws InterruptedException {
        try {
            byte[] cfg = zk.reconfigure(joining, leaving, null, from, new Stat());
            System.out.println(name + " OK");
            System.out.println(new String(cfg, StandardCharsets.UTF_8));
        } catch (KeeperException e) {
            System.out.println(name + " ERR " + e.code().name());
        }
        System.out.println(".");
    }
}
