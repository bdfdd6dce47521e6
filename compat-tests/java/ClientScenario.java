import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Stat;

/**
 * Drives a server with ZooKeeper's own Java client (the 3.6+ API) and prints
 * a deterministic transcript: no session ids, zxids or times, events awaited
 * one by one with a "fence" change proving nothing else arrived in between.
 *
 * Usage: ClientScenario DIRECT_ADDR PROXIED_ADDR. The reconnect section talks
 * to the server through PROXIED_ADDR, a proxy run by the Go test: the program
 * prints "@@drop" and waits for a line on stdin (the proxy has cut the
 * connection and refuses new ones), then "@@resume" (the proxy accepts again).
 * compat-tests/javaclient_test.go requires the same transcript from Java
 * ZooKeeper 3.8 and zkgo. A line starting with FAIL is an expectation any
 * correct server meets; the exit status is then 1.
 */
public class ClientScenario {
    static final int TIMEOUT_S = 10;
    static final BufferedReader ctl = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    static boolean failed;
    static ZooKeeper self; // for ephemeralOwner formatting

    static void out(String s) {
        System.out.println(s);
        System.out.flush();
    }

    static void fail(String s) {
        failed = true;
        out("FAIL " + s);
    }

    static String stat(Stat s) {
        if (s == null) {
            return "null";
        }
        String eph = s.getEphemeralOwner() == 0 ? "0" : (self != null && s.getEphemeralOwner() == self.getSessionId() ? "self" : "other");
        return String.format("{v=%d cv=%d av=%d len=%d kids=%d eph=%s cz==mz:%b cz==pz:%b ctime==mtime:%b}",
            s.getVersion(), s.getCversion(), s.getAversion(), s.getDataLength(), s.getNumChildren(), eph,
            s.getCzxid() == s.getMzxid(), s.getCzxid() == s.getPzxid(), s.getCtime() == s.getMtime());
    }

    static String ev(WatchedEvent e) {
        if (e == null) {
            return "none";
        }
        return e.getType() + " " + e.getState() + " " + e.getPath();
    }

    /**
     * An event queue that is also a Watcher. Only the default watcher keeps
     * connection-state events (type None), which the client also hands to
     * every other watcher.
     */
    static class Events implements Watcher {
        final BlockingQueue<WatchedEvent> q = new LinkedBlockingQueue<>();
        final boolean states;

        Events() {
            this(false);
        }

        Events(boolean states) {
            this.states = states;
        }

        public void process(WatchedEvent e) {
            if (e.getType() == Watcher.Event.EventType.None && !states) {
                return;
            }
            q.add(e);
        }

        WatchedEvent next(String what) throws InterruptedException {
            WatchedEvent e = q.poll(TIMEOUT_S, TimeUnit.SECONDS);
            if (e == null) {
                fail("no event: " + what);
            }
            return e;
        }

        void show(String what) throws InterruptedException {
            out("  event after " + what + ": " + ev(next(what)));
        }
    }

    static ZooKeeper connect(String addr, Watcher w) throws Exception {
        CountDownLatch up = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(addr, 10000, e -> {
            if (w != null) {
                w.process(e);
            }
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                up.countDown();
            }
        });
        if (!up.await(TIMEOUT_S, TimeUnit.SECONDS)) {
            throw new IllegalStateException("no session with " + addr);
        }
        return zk;
    }

    static String code(KeeperException e) {
        return e.code().name();
    }

    static void waitGone(ZooKeeper zk, String path, String what) throws Exception {
        long deadline = System.currentTimeMillis() + TIMEOUT_S * 1000L;
        while (zk.exists(path, false) != null) {
            if (System.currentTimeMillis() > deadline) {
                fail(what + " not reaped");
                return;
            }
            Thread.sleep(50);
        }
        out(what + " reaped");
    }

    static void control(String cmd) throws Exception {
        out("@@" + cmd);
        if (ctl.readLine() == null) {
            throw new IllegalStateException("control stream closed");
        }
    }

    public static void main(String[] args) throws Exception {
        String direct = args[0], proxied = args[1];
        ZooKeeper zk = connect(direct, null);
        self = zk;
        ZooKeeper other = connect(direct, null);

        out("## create2 / TTL / container");
        Stat st = new Stat();
        out("create2 " + zk.create("/j", "hi".getBytes(StandardCharsets.UTF_8), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, st) + " " + stat(st));
        out("exists stat equal: " + zk.exists("/j", false).equals(st));
        try {
            zk.create("/j", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, new Stat());
        } catch (KeeperException e) {
            out("create2 again: " + code(e));
        }
        st = new Stat();
        out("seq " + zk.create("/j/s-", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL, st) + " " + stat(st));
        st = new Stat();
        out("ttl " + zk.create("/j/ttl", "t".getBytes(StandardCharsets.UTF_8), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, st, 3600000) + " " + stat(st));
        st = new Stat();
        out("ttl-seq " + zk.create("/j/ttls-", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, st, 3600000) + " " + stat(st));
        st = new Stat();
        out("container " + zk.create("/j/box", null, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER, st) + " " + stat(st));
        zk.create("/j/box/item", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        zk.delete("/j/box/item", -1);
        waitGone(zk, "/j/box", "emptied container");
        zk.create("/j/short", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, null, 300);
        waitGone(zk, "/j/short", "ttl=300ms node");
        zk.delete("/j/ttl", -1);

        out("## addWatch");
        Events rec = new Events();
        Events per = new Events();
        zk.addWatch("/jr", rec, AddWatchMode.PERSISTENT_RECURSIVE);
        zk.addWatch("/jp", per, AddWatchMode.PERSISTENT);
        other.create("/jr", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        rec.show("create /jr");
        other.create("/jr/a", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        rec.show("create /jr/a");
        other.create("/jr/a/b", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        rec.show("create /jr/a/b");
        other.setData("/jr/a", "x".getBytes(StandardCharsets.UTF_8), -1);
        rec.show("set /jr/a");
        other.delete("/jr/a/b", -1);
        rec.show("delete /jr/a/b");
        other.setData("/jr", "fence".getBytes(StandardCharsets.UTF_8), -1);
        rec.show("set /jr (fence: no NodeChildrenChanged before it)");
        other.create("/jp", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        per.show("create /jp");
        other.create("/jp/c", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        per.show("create /jp/c");
        other.create("/jp/c/d", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        other.setData("/jp/c", null, -1);
        other.setData("/jp", null, -1);
        per.show("set /jp (fence: nothing for descendants)");
        zk.removeAllWatches("/jp", Watcher.WatcherType.Any, false);
        per.show("removeAllWatches /jp");
        other.setData("/jp", null, -1);
        other.setData("/jr", null, -1);
        rec.show("set /jr (fence for the removed /jp watch)");
        out("  persistent watcher queue after removal: " + per.q.size());

        out("## getEphemerals / getAllChildrenNumber");
        zk.create("/je", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        zk.create("/je/a", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        zk.create("/je/b-", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL);
        zk.create("/jex", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        other.create("/je/o", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        List<String> eph = new ArrayList<>(zk.getEphemerals());
        Collections.sort(eph);
        out("getEphemerals() " + eph);
        eph = new ArrayList<>(zk.getEphemerals("/je"));
        Collections.sort(eph);
        out("getEphemerals(/je) " + eph);
        out("other getEphemerals(/) " + other.getEphemerals("/"));
        out("getAllChildrenNumber(/je) " + zk.getAllChildrenNumber("/je"));
        out("getAllChildrenNumber(/jr) " + zk.getAllChildrenNumber("/jr"));
        try {
            zk.getAllChildrenNumber("/nope");
        } catch (KeeperException e) {
            out("getAllChildrenNumber(/nope) " + code(e));
        }

        out("## multiRead / multi");
        List<OpResult> res = zk.multi(Arrays.asList(Op.getData("/j"), Op.getChildren("/jr"), Op.getData("/missing"), Op.getChildren("/j/s-0000000000")));
        for (OpResult r : res) {
            if (r instanceof OpResult.GetDataResult) {
                OpResult.GetDataResult g = (OpResult.GetDataResult) r;
                out("  getData " + new String(g.getData(), StandardCharsets.UTF_8) + " " + stat(g.getStat()));
            } else if (r instanceof OpResult.GetChildrenResult) {
                out("  getChildren " + ((OpResult.GetChildrenResult) r).getChildren());
            } else if (r instanceof OpResult.ErrorResult) {
                out("  error " + KeeperException.Code.get(((OpResult.ErrorResult) r).getErr()));
            } else {
                out("  " + r.getClass().getSimpleName());
            }
        }
        try {
            zk.multi(Arrays.asList(Op.create("/jm", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT), Op.check("/j", 5)));
        } catch (KeeperException e) {
            StringBuilder b = new StringBuilder("failed multi " + code(e) + ":");
            for (OpResult r : e.getResults()) {
                b.append(' ').append(KeeperException.Code.get(((OpResult.ErrorResult) r).getErr()));
            }
            out(b.toString());
        }
        res = zk.multi(Arrays.asList(Op.create("/jm", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT), Op.setData("/jm", "m".getBytes(StandardCharsets.UTF_8), 0), Op.delete("/jm", 1)));
        StringBuilder b = new StringBuilder("multi:");
        for (OpResult r : res) {
            b.append(' ').append(r.getClass().getSimpleName());
        }
        out(b.toString());

        out("## whoAmI");
        out("whoAmI " + users(zk.whoAmI()));
        zk.addAuthInfo("digest", "alice:secret".getBytes(StandardCharsets.UTF_8));
        out("whoAmI after digest " + users(zk.whoAmI()));

        out("## removeWatches");
        Events dw = new Events();
        zk.getData("/j", dw, null);
        zk.getChildren("/j", dw);
        zk.removeWatches("/j", dw, Watcher.WatcherType.Data, false);
        dw.show("removeWatches Data");
        try {
            zk.removeWatches("/j", dw, Watcher.WatcherType.Data, false);
        } catch (KeeperException e) {
            out("removeWatches Data again: " + code(e));
        }
        other.setData("/j", "changed".getBytes(StandardCharsets.UTF_8), -1);
        other.create("/j/kid", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        dw.show("set + create child (only the child watch is left)");
        Events dw2 = new Events();
        zk.exists("/j", dw2);
        zk.removeAllWatches("/j", Watcher.WatcherType.Data, false);
        dw2.show("removeAllWatches Data");
        try {
            zk.removeAllWatches("/j", Watcher.WatcherType.Children, false);
        } catch (KeeperException e) {
            out("removeAllWatches Children with none: " + code(e));
        }

        out("## reconnect");
        Events pstate = new Events(true);
        ZooKeeper p = connect(proxied, pstate);
        pstate.q.clear();
        long sid = p.getSessionId();
        other.create("/jw", "0".getBytes(StandardCharsets.UTF_8), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        other.create("/jw/keep", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        other.create("/jwr", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        p.create("/jw-eph", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        Events pw = new Events();
        p.getData("/jw", pw, null);
        p.exists("/jw-new", pw);
        p.getChildren("/jw", pw);
        p.getData("/jw/keep", pw, null);
        p.addWatch("/jwr", pw, AddWatchMode.PERSISTENT_RECURSIVE);
        control("drop");
        pstate.show("drop");
        other.setData("/jw", "1".getBytes(StandardCharsets.UTF_8), -1);
        other.create("/jw-new", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        other.create("/jw/k", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        other.create("/jwr/x", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        control("resume");
        pstate.show("resume");
        out("same session: " + (p.getSessionId() == sid) + "; ephemeral kept: " + (other.exists("/jw-eph", false) != null));
        // setWatches2 catch-up: one event per one-shot watch whose node
        // changed while away; none for the recursive watch.
        List<String> caught = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            caught.add(ev(pw.next("catch-up " + i)));
        }
        out("  catch-up events: " + caught);
        other.setData("/jwr", null, -1);
        pw.show("set /jwr (fence: no catch-up for the recursive watch)");
        other.setData("/jw/keep", null, -1);
        pw.show("set /jw/keep (re-registered one-shot)");
        other.setData("/jw", null, -1);
        other.setData("/jwr", null, -1);
        pw.show("set /jw (fired already) + set /jwr");
        p.close();
        pstate.show("close");

        zk.close();
        other.close();
        out("## done");
        System.exit(failed ? 1 : 0);
    }

    static String users(List<ClientInfo> l) {
        List<String> s = new ArrayList<>();
        for (ClientInfo c : l) {
            s.add(c.getAuthScheme() + ":" + c.getUser());
        }
        // Unsorted: Java's ConcurrentHashMap order, which zkgo reproduces.
        return s.toString();
    }
}
