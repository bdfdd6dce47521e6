import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;

/**
 * A short transcript over whatever transport the zookeeper.* system
 * properties select (TLS with ClientCnxnSocketNetty in the TLS tests).
 * args: connectString, node name, wait seconds for the session, and
 * optionally "whoami" and an x509 id to protect a node with.
 */
public class TLSClient {
    public static void main(String[] args) throws Exception {
        String addr = args[0];
        String name = "/" + args[1];
        int wait = Integer.parseInt(args[2]);
        boolean whoami = args.length > 3 && args[3].equals("whoami");
        String x509 = args.length > 4 ? args[4] : null;
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(addr, 10000, e -> {
            if (e.getState() == KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        if (!connected.await(wait, TimeUnit.SECONDS)) {
            System.out.println("connect: no session");
            zk.close();
            System.exit(0);
        }
        System.out.println("connect: ok");
        try {
            if (whoami) {
                for (ClientInfo ci : zk.whoAmI()) {
                    System.out.println("whoami: " + ci.getAuthScheme() + " " + (ci.getAuthScheme().equals("ip") ? "<ip>" : ci.getUser()));
                }
            }
            zk.create(name, "hello".getBytes(StandardCharsets.UTF_8), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            Stat st = new Stat();
            byte[] d = zk.getData(name, false, st);
            System.out.println("get: " + new String(d, StandardCharsets.UTF_8) + " version " + st.getVersion());
            st = zk.setData(name, "world".getBytes(StandardCharsets.UTF_8), 0);
            System.out.println("set: version " + st.getVersion());
            zk.create(name + "/child", new byte[0], Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            List<String> kids = zk.getChildren(name, false);
            Collections.sort(kids);
            System.out.println("children: " + kids);
            if (x509 != null) {
                List<ACL> acl = Collections.singletonList(new ACL(ZooDefs_Perms_ALL, new Id("x509", x509)));
                zk.create(name + "/x509", "mine".getBytes(StandardCharsets.UTF_8), acl, CreateMode.PERSISTENT);
                System.out.println("x509 node: " + new String(zk.getData(name + "/x509", false, null), StandardCharsets.UTF_8));
                System.out.println("x509 acl: " + zk.getACL(name + "/x509", new Stat()));
            }
        } catch (KeeperException e) {
            System.out.println("error: " + e.code());
        }
        zk.close();
    }

    private static final int ZooDefs_Perms_ALL = org.apache.zookeeper.ZooDefs.Perms.ALL;
}
