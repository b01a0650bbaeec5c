/*
 * Integration checks driven by the real ZooKeeper Java client (Debian zookeeper 3.8 jar).
 *
 *   java -cp <classes>:/usr/share/java/zookeeper.jar:/etc/zookeeper/conf ZkdJavaTest \
 *        HOST:PORT [--target=zkd|zookeeper] [--mode=no-extended]
 *
 * Prints one line per check, "ok <name>" or "FAIL <name>: <detail>", and exits 1 when any
 * check failed (2 on a usage error). Each check works below its own fresh path under
 * /jclient-<pid>, so one failing check does not cascade.
 *
 * Covers what kazoo and the C client cannot send: addWatch (persistent and persistent-
 * recursive), removeWatches/checkWatches on persistent watches, containers, TTL nodes,
 * whoAmI, getEphemerals, getAllChildrenNumber, multiRead, setWatches2 after a reconnect.
 *
 * --mode=no-extended: the server runs with extendedTypesEnabled=false; only the checks that
 * depend on that run (TTL creates must fail with UNIMPLEMENTED, containers still work).
 *
 * The expectations were validated against Apache ZooKeeper 3.8 (Debian 3.8.0-11+deb12u2,
 * which carries the CVE-2024-23944 fix: watch events are not delivered to a connection
 * without READ on the node). The container/TTL sweep is ZooKeeper's ContainerManager; the
 * test harness makes it run every second (see test_clients.py).
 */
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.proto.Create2Response;
import org.apache.zookeeper.proto.CreateTTLRequest;
import org.apache.zookeeper.proto.ReplyHeader;
import org.apache.zookeeper.proto.RequestHeader;

public class ZkdJavaTest {
    static final int SESSION_TIMEOUT_MS = 10000;
    static final long CONNECT_TIMEOUT_MS = 15000;
    static final long EVENT_TIMEOUT_MS = 10000;
    /* Sweeps run every second in the test config; allow generous slack for slow machines. */
    static final long REAP_TIMEOUT_MS = 20000;

    static final String JUSER = "juser:jpass";
    static final String JUSER_ID = "juser:P0nCh3tpMc0nJ9aiFEhowZMeJRw=";

    static String hostport;
    static boolean isZkd;
    static String root;
    static int checks;
    static int failures;
    static final List<ZooKeeper> openHandles = new ArrayList<>();

    /* ------------------------------------------------------------------ harness */

    static class CheckFailed extends RuntimeException {
        CheckFailed(String msg) {
            super(msg);
        }
    }

    interface Check {
        void run() throws Exception;
    }

    static void expect(boolean cond, String msg) {
        if (!cond) {
            throw new CheckFailed(msg);
        }
    }

    static String where(Throwable t) {
        List<String> helpers = Arrays.asList("expect", "expectCode", "expectEvents", "barrier", "code", "open");
        for (StackTraceElement e : t.getStackTrace()) {
            if (e.getClassName().startsWith("ZkdJavaTest") && !helpers.contains(e.getMethodName())) {
                return " [ZkdJavaTest.java:" + e.getLineNumber() + "]";
            }
        }
        return "";
    }

    static void run(String name, Check c) {
        checks++;
        try {
            c.run();
            System.out.println("ok " + name);
        } catch (CheckFailed f) {
            failures++;
            System.out.println("FAIL " + name + ": " + f.getMessage() + where(f));
        } catch (Throwable t) {
            failures++;
            System.out.println("FAIL " + name + ": unexpected " + t + where(t));
        } finally {
            closeAll();
        }
        System.out.flush();
    }

    static String P(String suffix) {
        return root + suffix;
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] d) {
        return d == null ? "(null)" : new String(d, StandardCharsets.UTF_8);
    }

    static long now() {
        return System.nanoTime() / 1000000L;
    }

    /* Runs op and returns the KeeperException code it threw, or OK. */
    interface KOp {
        void run() throws Exception;
    }

    static KeeperException.Code code(KOp op) throws Exception {
        try {
            op.run();
            return KeeperException.Code.OK;
        } catch (KeeperException e) {
            return e.code();
        }
    }

    static void expectCode(KeeperException.Code want, String what, KOp op) throws Exception {
        KeeperException.Code got = code(op);
        expect(got == want, what + ": got " + got + ", expected " + want);
    }

    static String statStr(Stat st) {
        return st == null ? "null" : st.toString().trim().replace('\n', ' ');
    }

    /* ------------------------------------------------------------------ connections */

    static class SessionWatcher implements Watcher {
        final CountDownLatch connected = new CountDownLatch(1);
        volatile int connects;
        volatile int disconnects;
        volatile Event.KeeperState last;
        final Rec events = new Rec(); // watch events for the default watcher (watch=true)

        @Override
        public synchronized void process(WatchedEvent e) {
            events.process(e);
            if (e.getType() == Event.EventType.None) {
                last = e.getState();
                if (e.getState() == Event.KeeperState.SyncConnected) {
                    connects++;
                    connected.countDown();
                } else if (e.getState() == Event.KeeperState.Disconnected) {
                    disconnects++;
                }
                notifyAll();
            }
        }

        synchronized boolean awaitConnects(int n, long timeoutMs) throws InterruptedException {
            long deadline = now() + timeoutMs;
            while (connects < n) {
                long left = deadline - now();
                if (left <= 0) {
                    return false;
                }
                wait(left);
            }
            return true;
        }

        synchronized boolean awaitDisconnects(int n, long timeoutMs) throws InterruptedException {
            long deadline = now() + timeoutMs;
            while (disconnects < n) {
                long left = deadline - now();
                if (left <= 0) {
                    return false;
                }
                wait(left);
            }
            return true;
        }
    }

    /* A ZooKeeper handle that can also send hand-made requests (to reach server-side argument
     * checks the Java API performs on the client). */
    static class RawZk extends ZooKeeper {
        final SessionWatcher sw;

        RawZk(String hp, SessionWatcher sw) throws IOException {
            super(hp, SESSION_TIMEOUT_MS, sw);
            this.sw = sw;
        }

        int rawCreateTtl(int opcode, String path, int flags, long ttl) throws InterruptedException {
            RequestHeader h = new RequestHeader();
            h.setType(opcode);
            CreateTTLRequest req = new CreateTTLRequest(path, new byte[0], Ids.OPEN_ACL_UNSAFE, flags, ttl);
            ReplyHeader r = cnxn.submitRequest(h, req, new Create2Response(), null);
            return r.getErr();
        }
    }

    static RawZk open(String hp) throws Exception {
        SessionWatcher sw = new SessionWatcher();
        RawZk zk = new RawZk(hp, sw);
        synchronized (openHandles) {
            openHandles.add(zk);
        }
        if (!sw.connected.await(CONNECT_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
            throw new CheckFailed("no session with " + hp + " within " + CONNECT_TIMEOUT_MS + " ms");
        }
        return zk;
    }

    static RawZk open() throws Exception {
        return open(hostport);
    }

    static void closeAll() {
        synchronized (openHandles) {
            for (ZooKeeper zk : openHandles) {
                try {
                    zk.close(5000);
                } catch (Exception e) {
                    // best effort
                }
            }
            openHandles.clear();
        }
    }

    static void mk(ZooKeeper zk, String path) throws Exception {
        zk.create(path, null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
    }

    static void mk(ZooKeeper zk, String path, String data) throws Exception {
        zk.create(path, b(data), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
    }

    /* Asynchronous exists("/"): its callback runs on the client's event thread after every
     * watch event received before the reply, so after barrier() all such events have been
     * delivered. The server must send a watch event before any later reply. */
    static void barrier(ZooKeeper zk) throws Exception {
        CountDownLatch l = new CountDownLatch(1);
        AtomicInteger rc = new AtomicInteger(999);
        zk.exists("/", false, (r, p, c, st) -> {
            rc.set(r);
            l.countDown();
        }, null);
        expect(l.await(EVENT_TIMEOUT_MS, TimeUnit.MILLISECONDS), "barrier timed out");
        expect(rc.get() == 0, "barrier exists failed: " + rc.get());
    }

    /* Polls until exists(path) == null. */
    static boolean waitGone(ZooKeeper zk, String path, long timeoutMs) throws Exception {
        long deadline = now() + timeoutMs;
        while (now() < deadline) {
            if (zk.exists(path, false) == null) {
                return true;
            }
            Thread.sleep(100);
        }
        return zk.exists(path, false) == null;
    }

    /* ------------------------------------------------------------------ event recorder */

    static class Rec implements Watcher {
        final List<String> events = new ArrayList<>();

        @Override
        public synchronized void process(WatchedEvent e) {
            if (e.getType() == Event.EventType.None) {
                return; // connection state changes reach every watcher object; not counted
            }
            events.add(e.getType() + " " + e.getPath()
                + (e.getState() == Event.KeeperState.SyncConnected ? "" : " state=" + e.getState()));
            notifyAll();
        }

        synchronized boolean await(int n, long timeoutMs) throws InterruptedException {
            long deadline = now() + timeoutMs;
            while (events.size() < n) {
                long left = deadline - now();
                if (left <= 0) {
                    return false;
                }
                wait(left);
            }
            return true;
        }

        synchronized List<String> snapshot() {
            return new ArrayList<>(events);
        }

        synchronized int size() {
            return events.size();
        }

        synchronized void clear() {
            events.clear();
        }
    }

    static String ev(Watcher.Event.EventType t, String path) {
        return t + " " + path;
    }

    static final Watcher.Event.EventType CREATED = Watcher.Event.EventType.NodeCreated;
    static final Watcher.Event.EventType DELETED = Watcher.Event.EventType.NodeDeleted;
    static final Watcher.Event.EventType CHANGED = Watcher.Event.EventType.NodeDataChanged;
    static final Watcher.Event.EventType CHILDREN = Watcher.Event.EventType.NodeChildrenChanged;

    /* Waits for the expected number of events, then (after a barrier) compares exactly. */
    static void expectEvents(ZooKeeper zk, Rec r, String what, String... want) throws Exception {
        r.await(want.length, EVENT_TIMEOUT_MS);
        barrier(zk);
        List<String> got = r.snapshot();
        expect(got.equals(Arrays.asList(want)), what + ": events " + got + ", expected " + Arrays.asList(want));
    }

    /* ------------------------------------------------------------------ proxy */

    /* A forwarding TCP proxy for one upstream; cut() closes every forwarded connection and
     * refuses new ones (accept + close) until resume(). Used to make the Java client
     * reconnect and re-register its watches (setWatches / setWatches2). */

    /* ------------------------------------------------------------------ checks */

    static void checkCreateStat() throws Exception {
        ZooKeeper zk = open();
        mk(zk, P("/cs"));
        Stat parent0 = zk.exists(P("/cs"), false);
        Stat st = new Stat();
        String path = zk.create(P("/cs/n"), b("hello"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, st);
        expect(path.equals(P("/cs/n")), "path " + path);
        expect(st.getCzxid() > 0 && st.getCzxid() == st.getMzxid() && st.getCzxid() == st.getPzxid(),
            "zxids " + statStr(st));
        expect(st.getCtime() > 0 && st.getCtime() == st.getMtime(), "times " + statStr(st));
        expect(st.getVersion() == 0 && st.getCversion() == 0 && st.getAversion() == 0, "versions " + statStr(st));
        expect(st.getEphemeralOwner() == 0 && st.getDataLength() == 5 && st.getNumChildren() == 0,
            "misc " + statStr(st));
        long wall = System.currentTimeMillis();
        expect(Math.abs(st.getCtime() - wall) < 600000, "ctime " + st.getCtime() + " vs now " + wall);
        Stat ex = zk.exists(P("/cs/n"), false);
        expect(st.equals(ex), "create2 stat " + statStr(st) + " != exists stat " + statStr(ex));
        Stat parent1 = zk.exists(P("/cs"), false);
        expect(parent1.getPzxid() == st.getCzxid() && parent1.getCversion() == parent0.getCversion() + 1
            && parent1.getNumChildren() == 1, "parent after create " + statStr(parent1));
        // ephemeral create2 reports the session as owner
        Stat es = new Stat();
        zk.create(P("/cs/e"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL, es);
        expect(es.getEphemeralOwner() == zk.getSessionId(), "ephemeral owner " + Long.toHexString(es.getEphemeralOwner())
            + " session " + Long.toHexString(zk.getSessionId()));
        // sequential create2
        Stat ss = new Stat();
        String sp = zk.create(P("/cs/s-"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL, ss);
        expect(sp.equals(P("/cs/s-0000000002")), "sequential path " + sp);
        expect(ss.equals(zk.exists(sp, false)), "sequential create2 stat differs from exists");
        expectCode(KeeperException.Code.NODEEXISTS, "create2 existing",
            () -> zk.create(P("/cs/n"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, new Stat()));
        expectCode(KeeperException.Code.NONODE, "create2 missing parent",
            () -> zk.create(P("/cs/x/y"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, new Stat()));
        // getChildren with a Stat (getChildren2): the stat is the listed node's
        Stat cst = new Stat();
        List<String> kids = zk.getChildren(P("/cs"), false, cst);
        Collections.sort(kids);
        expect(kids.equals(Arrays.asList("e", "n", "s-0000000002")), "children " + kids);
        Stat pex = zk.exists(P("/cs"), false);
        expect(cst.equals(pex), "getChildren stat " + statStr(cst) + " != exists " + statStr(pex));
        expect(cst.getNumChildren() == 3 && cst.getCversion() == 3, "parent " + statStr(cst));
        // getData returns the same stat
        Stat gst = new Stat();
        byte[] d = zk.getData(P("/cs/n"), false, gst);
        expect(s(d).equals("hello") && gst.equals(st), "getData " + s(d) + " " + statStr(gst));
        // null data stays null
        zk.create(P("/cs/null"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        expect(zk.getData(P("/cs/null"), false, null) == null, "null data did not come back as null");
    }

    static void checkWatchesStandard() throws Exception {
        ZooKeeper zk = open();
        ZooKeeper other = open();
        mk(zk, P("/ws"), "0");
        Rec r = new Rec();
        // exists on a missing node leaves a watch
        expect(zk.exists(P("/ws/n"), r) == null, "node exists");
        mk(other, P("/ws/n"), "x");
        expectEvents(zk, r, "exists watch on missing node", ev(CREATED, P("/ws/n")));
        // getData watch: one-shot
        r.clear();
        zk.getData(P("/ws/n"), r, null);
        other.setData(P("/ws/n"), b("1"), -1);
        other.setData(P("/ws/n"), b("2"), -1);
        expectEvents(zk, r, "getData watch", ev(CHANGED, P("/ws/n")));
        // getChildren watch: one-shot, fired by child create, not by grandchild or data
        r.clear();
        zk.getChildren(P("/ws"), r);
        other.setData(P("/ws"), b("x"), -1);
        mk(other, P("/ws/n/grand"));
        mk(other, P("/ws/c1"));
        mk(other, P("/ws/c2"));
        expectEvents(zk, r, "getChildren watch", ev(CHILDREN, P("/ws")));
        // getChildren(path, watcher, stat) watch + exists watch: delete gives both their event
        r.clear();
        Rec r2 = new Rec();
        zk.getChildren(P("/ws/c1"), r, new Stat());
        zk.exists(P("/ws/c1"), r2);
        other.delete(P("/ws/c1"), -1);
        expectEvents(zk, r, "child watch on deleted node", ev(DELETED, P("/ws/c1")));
        expectEvents(zk, r2, "exists watch on deleted node", ev(DELETED, P("/ws/c1")));
        // default watcher via watch=true: getData and exists on one path, one event
        RawZk dz = open();
        dz.getData(P("/ws/c2"), true, null);
        dz.exists(P("/ws/c2"), true);
        other.setData(P("/ws/c2"), b("y"), -1);
        other.setData(P("/ws/c2"), b("z"), -1);
        expectEvents(dz, dz.sw.events, "default watcher", ev(CHANGED, P("/ws/c2")));
        // a watch set by getData on a missing node is not left behind
        dz.sw.events.clear();
        expectCode(KeeperException.Code.NONODE, "getData missing", () -> dz.getData(P("/ws/none"), true, null));
        expectCode(KeeperException.Code.NONODE, "getChildren missing", () -> dz.getChildren(P("/ws/none"), true));
        mk(other, P("/ws/none"));
        mk(other, P("/ws/none/kid"));
        barrier(dz);
        expect(dz.sw.events.size() == 0, "watch left by a failed read: " + dz.sw.events.snapshot());
    }

    static void checkPersistentWatch() throws Exception {
        ZooKeeper zk = open();
        ZooKeeper other = open();
        String p = P("/pw");
        mk(zk, p, "0");
        Rec r = new Rec();
        zk.addWatch(p, r, AddWatchMode.PERSISTENT);
        other.setData(p, b("1"), -1);
        mk(other, p + "/c");
        other.setData(p + "/c", b("x"), -1);   // child data: not for a non-recursive watch
        mk(other, p + "/c/grand");             // grandchild: neither
        other.setData(p, b("2"), -1);          // still armed after triggers
        other.delete(p + "/c/grand", -1);
        other.delete(p + "/c", -1);
        other.delete(p, -1);
        mk(other, p, "again");                 // survives the node's deletion
        other.setData(p, b("3"), -1);
        expectEvents(zk, r, "persistent watch",
            ev(CHANGED, p), ev(CHILDREN, p), ev(CHANGED, p), ev(CHILDREN, p), ev(DELETED, p),
            ev(CREATED, p), ev(CHANGED, p));
        // persistent watch on a path that does not exist yet
        Rec m = new Rec();
        zk.addWatch(P("/pw-missing"), m, AddWatchMode.PERSISTENT);
        mk(other, P("/pw-missing"), "x");
        other.setData(P("/pw-missing"), b("y"), -1);
        expectEvents(zk, m, "persistent watch on missing path", ev(CREATED, P("/pw-missing")),
            ev(CHANGED, P("/pw-missing")));
        // the watching session's own writes trigger it too
        r.clear();
        zk.setData(p, b("own"), -1);
        expectEvents(zk, r, "own write", ev(CHANGED, p));
    }

    static void checkPersistentRecursiveWatch() throws Exception {
        ZooKeeper zk = open();
        ZooKeeper other = open();
        String p = P("/pr");
        mk(zk, p, "0");
        Rec r = new Rec();
        zk.addWatch(p, r, AddWatchMode.PERSISTENT_RECURSIVE);
        mk(other, p + "/a");
        mk(other, p + "/a/b");
        other.setData(p + "/a/b", b("x"), -1);
        other.setData(p, b("1"), -1);
        mk(other, P("/pr-sibling"));           // shares the string prefix, not a descendant
        mk(other, P("/prx"));
        other.setData(p + "/a/b", b("y"), -1); // persistence over several triggers
        other.delete(p + "/a/b", -1);
        other.delete(p + "/a", -1);
        expectEvents(zk, r, "persistent recursive watch (no NodeChildrenChanged)",
            ev(CREATED, p + "/a"), ev(CREATED, p + "/a/b"), ev(CHANGED, p + "/a/b"), ev(CHANGED, p),
            ev(CHANGED, p + "/a/b"), ev(DELETED, p + "/a/b"), ev(DELETED, p + "/a"));
        // A standard child watch on the same connection and path still gets NodeChildrenChanged,
        // while the recursive watch gets NodeCreated for the same create. (The 3.8 Java client
        // also hands the NodeChildrenChanged it received for the child watch to recursive
        // watchers of the path and its ancestors: client-side fan-out, ZKWatchManager.
        // materialize -> addPersistentWatches. The server sends each event once.)
        r.clear();
        Rec cw = new Rec();
        zk.getChildren(p, cw);
        mk(other, p + "/z");
        expectEvents(zk, r, "recursive watch alongside a child watch", ev(CREATED, p + "/z"), ev(CHILDREN, p));
        expectEvents(zk, cw, "child watch alongside a recursive watch", ev(CHILDREN, p));
        // multi: every op's event, in op order
        r.clear();
        other.multi(Arrays.asList(
            Op.create(p + "/m1", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
            Op.setData(p + "/z", b("q"), -1),
            Op.delete(p + "/z", -1)));
        expectEvents(zk, r, "recursive watch and multi",
            ev(CREATED, p + "/m1"), ev(CHANGED, p + "/z"), ev(DELETED, p + "/z"));
        // recursive watch on the root of the test tree sees deep events
        Rec rr = new Rec();
        zk.addWatch(P("/pr/m1"), rr, AddWatchMode.PERSISTENT_RECURSIVE);
        mk(other, P("/pr/m1/x"));
        mk(other, P("/pr/m1/x/y"));
        expectEvents(zk, rr, "nested recursive watch", ev(CREATED, P("/pr/m1/x")), ev(CREATED, P("/pr/m1/x/y")));
    }

    static void checkWatchAclFilter() throws Exception {
        // CVE-2024-23944 (fixed in 3.8.4/3.9.2 and in Debian's 3.8.0-11+deb12u2): events for a
        // node the watching connection cannot READ are not delivered.
        ZooKeeper owner = open();
        owner.addAuthInfo("digest", b(JUSER));
        ZooKeeper spy = open();
        String p = P("/aw");
        mk(owner, p);
        Rec r = new Rec();
        spy.addWatch(p, r, AddWatchMode.PERSISTENT_RECURSIVE);
        owner.create(p + "/secret", b("s"), Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
        owner.setData(p + "/secret", b("t"), -1);
        mk(owner, p + "/open");
        expectEvents(spy, r, "recursive watch over a node without READ", ev(CREATED, p + "/open"));
    }

    static void checkRemoveWatches() throws Exception {
        ZooKeeper zk = open();
        ZooKeeper other = open();
        String p = P("/rw");
        mk(zk, p, "0");
        // data watch removed by watcher object (checkWatches on the wire)
        Rec r = new Rec();
        zk.getData(p, r, null);
        zk.removeWatches(p, r, Watcher.WatcherType.Data, false);
        other.setData(p, b("1"), -1);
        expectEvents(zk, r, "removed data watch", ev(Watcher.Event.EventType.DataWatchRemoved, p));
        expectCode(KeeperException.Code.NOWATCHER, "removeWatches with nothing left",
            () -> zk.removeWatches(p, r, Watcher.WatcherType.Data, false));
        // child watch removed with removeAllWatches (removeWatches on the wire)
        Rec c = new Rec();
        zk.getChildren(p, c);
        zk.removeAllWatches(p, Watcher.WatcherType.Children, false);
        mk(other, p + "/kid");
        expectEvents(zk, c, "removed child watch", ev(Watcher.Event.EventType.ChildWatchRemoved, p));
        expectCode(KeeperException.Code.NOWATCHER, "removeAllWatches with nothing left",
            () -> zk.removeAllWatches(p, Watcher.WatcherType.Any, false));
        // wrong type: a data watch is not removed by type Children
        Rec d = new Rec();
        zk.getData(p, d, null);
        expectCode(KeeperException.Code.NOWATCHER, "remove Children when only a data watch exists",
            () -> zk.removeWatches(p, d, Watcher.WatcherType.Children, false));
        other.setData(p, b("2"), -1);
        expectEvents(zk, d, "data watch kept", ev(CHANGED, p));
        // persistent watch removed with type Any (3.8 has no Persistent watcher type)
        Rec pw = new Rec();
        zk.addWatch(p, pw, AddWatchMode.PERSISTENT);
        other.setData(p, b("3"), -1);
        pw.await(1, EVENT_TIMEOUT_MS);
        zk.removeWatches(p, pw, Watcher.WatcherType.Any, false);
        other.setData(p, b("4"), -1);
        mk(other, p + "/kid2");
        expectEvents(zk, pw, "removed persistent watch",
            ev(CHANGED, p), ev(Watcher.Event.EventType.PersistentWatchRemoved, p));
        // persistent recursive watch removed with removeAllWatches (opcode 18: the server drops
        // it). A separate path: removeWatches(watcher) above sent checkWatches (17), which
        // leaves the server-side persistent watch on p in place, and how a second addWatch
        // mode on the same path combines with it differs between 3.8 (one mode per path,
        // replaced) and 3.9 (modes accumulate).
        String q = P("/rw-rec");
        mk(zk, q, "0");
        Rec rw = new Rec();
        zk.addWatch(q, rw, AddWatchMode.PERSISTENT_RECURSIVE);
        mk(other, q + "/kid3");
        rw.await(1, EVENT_TIMEOUT_MS);
        zk.removeAllWatches(q, Watcher.WatcherType.Any, false);
        mk(other, q + "/kid4");
        other.setData(q, b("5"), -1);
        expectEvents(zk, rw, "removed recursive watch",
            ev(CREATED, q + "/kid3"), ev(Watcher.Event.EventType.PersistentWatchRemoved, q));
        expectCode(KeeperException.Code.NOWATCHER, "removeAllWatches after removing the recursive watch",
            () -> zk.removeAllWatches(q, Watcher.WatcherType.Any, false));
        // After removal the server must not hold a watch: re-adding works and fires once.
        Rec again = new Rec();
        zk.getData(p, again, null);
        other.setData(p, b("6"), -1);
        expectEvents(zk, again, "data watch after removals", ev(CHANGED, p));
    }

    static void checkContainer() throws Exception {
        ZooKeeper zk = open();
        mk(zk, P("/ct"));
        Stat st = new Stat();
        String cp = zk.create(P("/ct/used"), b("c"), Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER, st);
        expect(cp.equals(P("/ct/used")), "path " + cp);
        expect(st.getEphemeralOwner() == 0, "container ephemeralOwner " + Long.toHexString(st.getEphemeralOwner()));
        expect(st.equals(zk.exists(P("/ct/used"), false)), "create2 stat differs from exists");
        zk.create(P("/ct/unused"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER);
        zk.create(P("/ct/keep"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER);
        mk(zk, P("/ct/keep/child"));
        mk(zk, P("/ct/used/child"));
        zk.delete(P("/ct/used/child"), -1);
        long t0 = now();
        expect(waitGone(zk, P("/ct/used"), REAP_TIMEOUT_MS),
            "emptied container still exists after " + REAP_TIMEOUT_MS + " ms");
        long took = now() - t0;
        // The sweep ran; a never-used container and one with a child stay.
        // (znode.container.maxNeverUsedIntervalMs is 0 = keep forever in the test config.)
        barrier(zk);
        expect(zk.exists(P("/ct/unused"), false) != null, "never-used container was removed");
        expect(zk.exists(P("/ct/keep"), false) != null, "container with a child was removed");
        // Containers are reaped only by the sweep: a plain persistent node that lost its child
        // stays.
        mk(zk, P("/ct/plain"));
        mk(zk, P("/ct/plain/c"));
        zk.delete(P("/ct/plain/c"), -1);
        // A container inside a multi (createContainer sub-op; the result carries a Stat).
        List<OpResult> res = zk.multi(Arrays.asList(
            Op.create(P("/ct/m"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER),
            Op.create(P("/ct/m/c"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT)));
        expect(res.get(0) instanceof OpResult.CreateResult, "multi result " + res.get(0));
        OpResult.CreateResult cr = (OpResult.CreateResult) res.get(0);
        expect(cr.getPath().equals(P("/ct/m")) && cr.getStat() != null && cr.getStat().getEphemeralOwner() == 0,
            "container create result " + cr.getPath() + " stat " + statStr(cr.getStat()));
        zk.delete(P("/ct/m/c"), -1);
        expect(waitGone(zk, P("/ct/m"), REAP_TIMEOUT_MS), "container from multi not reaped");
        expect(zk.exists(P("/ct/plain"), false) != null, "plain node reaped like a container");
        // Deleting the last child of the kept container makes it a candidate too.
        zk.delete(P("/ct/keep/child"), -1);
        expect(waitGone(zk, P("/ct/keep"), REAP_TIMEOUT_MS), "container not reaped after its child went");
        expect(zk.exists(P("/ct/unused"), false) != null, "never-used container was removed (2)");
        expect(took >= 0, "clock");
    }

    static void checkTtl() throws Exception {
        RawZk zk = open();
        ZooKeeper other = open();
        mk(zk, P("/ttl"));
        Stat st = new Stat();
        String tp = zk.create(P("/ttl/short"), b("t"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, st, 500);
        expect(tp.equals(P("/ttl/short")), "path " + tp);
        expect(st.getEphemeralOwner() == 0, "TTL ephemeralOwner " + Long.toHexString(st.getEphemeralOwner()));
        expect(st.equals(zk.exists(tp, false)), "create2 stat differs from exists");
        // sequential TTL
        String sp = zk.create(P("/ttl/seq-"), null, Ids.OPEN_ACL_UNSAFE,
            CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, new Stat(), 500);
        expect(sp.equals(P("/ttl/seq-0000000001")), "sequential TTL path " + sp);
        // a TTL node with a child is not removed
        zk.create(P("/ttl/parent"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, new Stat(), 500);
        mk(zk, P("/ttl/parent/child"));
        // a long TTL stays
        zk.create(P("/ttl/long"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, new Stat(), 3600000);
        // a TTL node that keeps being modified stays (expiry counts from mtime)
        zk.create(P("/ttl/busy"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, new Stat(), 4000);
        long busyUntil = now() + 6000;
        expect(waitGone(zk, tp, REAP_TIMEOUT_MS), "TTL node (500 ms) still exists after " + REAP_TIMEOUT_MS + " ms");
        expect(waitGone(zk, sp, REAP_TIMEOUT_MS), "sequential TTL node not removed");
        while (now() < busyUntil) {
            other.setData(P("/ttl/busy"), b("tick"), -1);
            Thread.sleep(500);
        }
        // last touch just now; TTL 4000 ms, sweep every 1000 ms: it must still be there
        expect(zk.exists(P("/ttl/busy"), false) != null, "TTL node removed although modified within its TTL");
        expect(zk.exists(P("/ttl/parent"), false) != null, "TTL node with a child was removed");
        expect(zk.exists(P("/ttl/long"), false) != null, "TTL node with 1 h TTL was removed");
        zk.delete(P("/ttl/parent/child"), -1);
        expect(waitGone(zk, P("/ttl/parent"), REAP_TIMEOUT_MS), "TTL node not removed after its child went");
        expect(waitGone(zk, P("/ttl/busy"), REAP_TIMEOUT_MS), "TTL node not removed after modifications stopped");
        expect(zk.exists(P("/ttl/long"), false) != null, "TTL node with 1 h TTL was removed (2)");
        // TTL create inside a multi (createTTL sub-op)
        List<OpResult> res = zk.multi(Arrays.asList(
            Op.create(P("/ttl/m"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, 3600000)));
        expect(res.get(0) instanceof OpResult.CreateResult
            && ((OpResult.CreateResult) res.get(0)).getPath().equals(P("/ttl/m")), "multi TTL result " + res.get(0));
        expect(zk.exists(P("/ttl/m"), false).getEphemeralOwner() == 0, "multi TTL node owner");
        // Server-side argument checks, with requests the Java API would refuse to build:
        // createTTL (21) with a TTL mode and ttl 0 or beyond 2^40-1 -> BADARGUMENTS
        int err = zk.rawCreateTtl(ZooDefs.OpCode.createTTL, P("/ttl/zero"), 5, 0);
        expect(err == KeeperException.Code.BADARGUMENTS.intValue(), "createTTL ttl=0: err " + err);
        err = zk.rawCreateTtl(ZooDefs.OpCode.createTTL, P("/ttl/neg"), 5, -5);
        expect(err == KeeperException.Code.BADARGUMENTS.intValue(), "createTTL ttl=-5: err " + err);
        err = zk.rawCreateTtl(ZooDefs.OpCode.createTTL, P("/ttl/huge"), 5, 1L << 40);
        expect(err == KeeperException.Code.BADARGUMENTS.intValue(), "createTTL ttl=2^40: err " + err);
        err = zk.rawCreateTtl(ZooDefs.OpCode.createTTL, P("/ttl/max"), 5, (1L << 40) - 1);
        expect(err == 0, "createTTL ttl=2^40-1: err " + err);
        // createTTL with a non-TTL mode (persistent, flags 0) and a valid ttl -> BADARGUMENTS
        err = zk.rawCreateTtl(ZooDefs.OpCode.createTTL, P("/ttl/nonttl"), 0, 1000);
        expect(err == KeeperException.Code.BADARGUMENTS.intValue(), "createTTL with flags 0: err " + err);
        // unknown create mode -> BADARGUMENTS
        err = zk.rawCreateTtl(ZooDefs.OpCode.createTTL, P("/ttl/badflags"), 7, 1000);
        expect(err == KeeperException.Code.BADARGUMENTS.intValue(), "createTTL with flags 7: err " + err);
        for (String n : new String[] {"/ttl/zero", "/ttl/neg", "/ttl/huge", "/ttl/nonttl", "/ttl/badflags"}) {
            expect(zk.exists(P(n), false) == null, n + " was created");
        }
        // the session is still healthy after the errors
        expect(zk.exists(P("/ttl/max"), false) != null, "createTTL max ttl node missing");
        // Java's own validation: TTL mode with ttl 0 is refused before sending
        boolean refused = false;
        try {
            zk.create(P("/ttl/api0"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, new Stat(), 0);
        } catch (IllegalArgumentException e) {
            refused = true;
        } catch (KeeperException e) {
            refused = e.code() == KeeperException.Code.BADARGUMENTS;
        }
        expect(refused, "TTL create with ttl 0 accepted");
    }

    static void checkNoExtendedTypes() throws Exception {
        RawZk zk = open();
        mk(zk, P("/nx"));
        expectCode(KeeperException.Code.UNIMPLEMENTED, "TTL create without extendedTypesEnabled",
            () -> zk.create(P("/nx/ttl"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, new Stat(), 1000));
        expectCode(KeeperException.Code.UNIMPLEMENTED, "sequential TTL create without extendedTypesEnabled",
            () -> zk.create(P("/nx/sttl-"), null, Ids.OPEN_ACL_UNSAFE,
                CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, new Stat(), 1000));
        int err = zk.rawCreateTtl(ZooDefs.OpCode.createTTL, P("/nx/raw"), 5, 1000);
        expect(err == KeeperException.Code.UNIMPLEMENTED.intValue(), "raw createTTL: err " + err);
        expect(zk.exists(P("/nx/ttl"), false) == null && zk.exists(P("/nx/raw"), false) == null,
            "TTL node created although extended types are off");
        // TTL inside a multi
        try {
            zk.multi(Arrays.asList(
                Op.create(P("/nx/a"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.create(P("/nx/m"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, 1000)));
            expect(false, "multi with a TTL create succeeded");
        } catch (KeeperException e) {
            expect(e.code() == KeeperException.Code.UNIMPLEMENTED, "multi with TTL: " + e.code());
            List<OpResult> rs = e.getResults();
            expect(rs != null && rs.size() == 2 && rs.get(1) instanceof OpResult.ErrorResult
                && ((OpResult.ErrorResult) rs.get(1)).getErr() == KeeperException.Code.UNIMPLEMENTED.intValue(),
                "multi results " + rs);
        }
        expect(zk.exists(P("/nx/a"), false) == null, "failed multi applied");
        // containers do not need extended types
        Stat st = new Stat();
        zk.create(P("/nx/container"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER, st);
        expect(st.getEphemeralOwner() == 0, "container owner " + Long.toHexString(st.getEphemeralOwner()));
        // ordinary nodes are fine
        zk.create(P("/nx/eph"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL, st);
        expect(st.getEphemeralOwner() == zk.getSessionId(), "ephemeral owner");
    }

    static void checkWhoAmI() throws Exception {
        ZooKeeper zk = open();
        List<ClientInfo> infos = zk.whoAmI();
        expect(infos != null, "whoAmI returned null");
        List<String> got = new ArrayList<>();
        for (ClientInfo ci : infos) {
            got.add(ci.getAuthScheme() + ":" + ci.getUser());
        }
        expect(got.equals(Collections.singletonList("ip:127.0.0.1")), "whoAmI " + got);
        zk.addAuthInfo("digest", b(JUSER));
        got.clear();
        for (ClientInfo ci : zk.whoAmI()) {
            got.add(ci.getAuthScheme() + ":" + ci.getUser());
        }
        Collections.sort(got);
        expect(got.equals(Arrays.asList("digest:juser", "ip:127.0.0.1")), "whoAmI after digest auth " + got);
        // a second digest identity accumulates
        zk.addAuthInfo("digest", b("second:pw"));
        got.clear();
        for (ClientInfo ci : zk.whoAmI()) {
            got.add(ci.getAuthScheme() + ":" + ci.getUser());
        }
        Collections.sort(got);
        expect(got.equals(Arrays.asList("digest:juser", "digest:second", "ip:127.0.0.1")), "whoAmI with two ids " + got);
        // and the identity works for ACLs: CREATOR_ALL expands to both digest ids
        zk.create(P("/who"), null, Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
        List<ACL> acl = zk.getACL(P("/who"), new Stat());
        List<String> ids = new ArrayList<>();
        for (ACL a : acl) {
            ids.add(a.getId().getScheme() + ":" + a.getId().getId() + "/" + a.getPerms());
        }
        Collections.sort(ids);
        expect(ids.size() == 2 && ids.get(0).equals("digest:" + JUSER_ID + "/31") && ids.get(1).startsWith("digest:second:"),
            "CREATOR_ALL_ACL expanded to " + ids);
        // a fresh session is not affected
        ZooKeeper z2 = open();
        got.clear();
        for (ClientInfo ci : z2.whoAmI()) {
            got.add(ci.getAuthScheme() + ":" + ci.getUser());
        }
        expect(got.equals(Collections.singletonList("ip:127.0.0.1")), "other session whoAmI " + got);
        expectCode(KeeperException.Code.NOAUTH, "other session reads digest-only node", () -> z2.getData(P("/who"), false, null));
    }

    static void checkGetEphemerals() throws Exception {
        ZooKeeper zk = open();
        ZooKeeper other = open();
        mk(zk, P("/ge"));
        mk(zk, P("/ge/ab"));
        expect(zk.getEphemerals().isEmpty(), "fresh session has ephemerals " + zk.getEphemerals());
        String[] mine = {"/ge/a1", "/ge/a2", "/ge/ab/e", "/ge/b1"};
        for (String n : mine) {
            zk.create(P(n), null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        }
        String seq = zk.create(P("/ge/s-"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL);
        other.create(P("/ge/a3-other"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        mk(zk, P("/ge/a4-persistent"));
        List<String> all = new ArrayList<>(zk.getEphemerals());
        Collections.sort(all);
        List<String> want = new ArrayList<>();
        for (String n : mine) {
            want.add(P(n));
        }
        want.add(seq);
        Collections.sort(want);
        expect(all.equals(want), "getEphemerals() " + all + ", expected " + want);
        List<String> slash = new ArrayList<>(zk.getEphemerals("/"));
        Collections.sort(slash);
        expect(slash.equals(want), "getEphemerals(\"/\") " + slash);
        // plain string prefix: "/ge/a" matches /ge/a1, /ge/a2 and /ge/ab/e
        List<String> pre = new ArrayList<>(zk.getEphemerals(P("/ge/a")));
        Collections.sort(pre);
        expect(pre.equals(Arrays.asList(P("/ge/a1"), P("/ge/a2"), P("/ge/ab/e"))), "getEphemerals(/ge/a) " + pre);
        List<String> exact = zk.getEphemerals(P("/ge/b1"));
        expect(exact.equals(Collections.singletonList(P("/ge/b1"))), "getEphemerals(/ge/b1) " + exact);
        expect(zk.getEphemerals(P("/ge/zzz")).isEmpty(), "prefix without match");
        expect(zk.getEphemerals(P("/nonexistent")).isEmpty(), "prefix of a missing path");
        // the prefix is not a path component: "/ge/a1" also matches "/ge/a1" only, "/ge/ab"
        // matches the ephemeral below the persistent /ge/ab
        expect(zk.getEphemerals(P("/ge/ab")).equals(Collections.singletonList(P("/ge/ab/e"))),
            "getEphemerals(/ge/ab) " + zk.getEphemerals(P("/ge/ab")));
        List<String> theirs = other.getEphemerals(P("/ge"));
        expect(theirs.equals(Collections.singletonList(P("/ge/a3-other"))), "other session " + theirs);
        zk.delete(P("/ge/a1"), -1);
        List<String> after = new ArrayList<>(zk.getEphemerals(P("/ge/a")));
        Collections.sort(after);
        expect(after.equals(Arrays.asList(P("/ge/a2"), P("/ge/ab/e"))), "after delete " + after);
    }

    static void checkAllChildrenNumber() throws Exception {
        ZooKeeper zk = open();
        mk(zk, P("/acn"));
        expect(zk.getAllChildrenNumber(P("/acn")) == 0, "empty node");
        for (String n : new String[] {"/acn/a", "/acn/b", "/acn/a/x", "/acn/a/y", "/acn/a/x/z"}) {
            mk(zk, P(n));
        }
        zk.create(P("/acn/b/e"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        int n = zk.getAllChildrenNumber(P("/acn"));
        expect(n == 6, "getAllChildrenNumber(/acn) " + n);
        expect(zk.getAllChildrenNumber(P("/acn/a")) == 3, "getAllChildrenNumber(/acn/a) " + zk.getAllChildrenNumber(P("/acn/a")));
        expect(zk.getAllChildrenNumber(P("/acn/a/x/z")) == 0, "leaf");
        expectCode(KeeperException.Code.NONODE, "missing node", () -> zk.getAllChildrenNumber(P("/acn/missing")));
        int z = zk.getAllChildrenNumber("/zookeeper");
        expect(z == 2, "getAllChildrenNumber(/zookeeper) " + z + " (config, quota)");
        // READ is needed
        zk.create(P("/acn/private"), null, Arrays.asList(new ACL(ZooDefs.Perms.WRITE, Ids.ANYONE_ID_UNSAFE)),
            CreateMode.PERSISTENT);
        expectCode(KeeperException.Code.NOAUTH, "getAllChildrenNumber without READ",
            () -> zk.getAllChildrenNumber(P("/acn/private")));
    }

    static void checkMulti() throws Exception {
        ZooKeeper zk = open();
        mk(zk, P("/mu"));
        mk(zk, P("/mu/x"), "x");
        mk(zk, P("/mu/old"));
        List<OpResult> res = zk.multi(Arrays.asList(
            Op.check(P("/mu/x"), 0),
            Op.create(P("/mu/new"), b("n"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
            Op.create(P("/mu/s-"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL),
            Op.setData(P("/mu/x"), b("xx"), 0),
            Op.delete(P("/mu/old"), 0)));
        expect(res.size() == 5, "result count " + res.size());
        expect(res.get(0) instanceof OpResult.CheckResult, "check result " + res.get(0));
        expect(res.get(1) instanceof OpResult.CreateResult
            && ((OpResult.CreateResult) res.get(1)).getPath().equals(P("/mu/new")), "create result " + res.get(1));
        expect(res.get(2) instanceof OpResult.CreateResult
            && ((OpResult.CreateResult) res.get(2)).getPath().equals(P("/mu/s-0000000003")),
            "sequential create result " + ((OpResult.CreateResult) res.get(2)).getPath());
        expect(res.get(3) instanceof OpResult.SetDataResult, "setData result " + res.get(3));
        Stat sst = ((OpResult.SetDataResult) res.get(3)).getStat();
        expect(sst.getVersion() == 1 && sst.getDataLength() == 2, "setData stat " + statStr(sst));
        expect(res.get(4) instanceof OpResult.DeleteResult, "delete result " + res.get(4));
        expect(zk.exists(P("/mu/old"), false) == null, "delete not applied");
        Stat nst = zk.exists(P("/mu/new"), false);
        expect(nst.getCzxid() == sst.getMzxid(), "ops of one multi have different zxids");
        // failure: per-op ErrorResults, nothing applied, exception names the first error
        try {
            zk.multi(Arrays.asList(
                Op.create(P("/mu/a"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.setData(P("/mu/x"), b("bad"), 0),
                Op.delete(P("/mu/new"), -1)));
            expect(false, "multi with a stale version succeeded");
        } catch (KeeperException e) {
            expect(e.code() == KeeperException.Code.BADVERSION, "exception code " + e.code());
            List<OpResult> rs = e.getResults();
            expect(rs != null && rs.size() == 3, "results " + rs);
            int[] errs = new int[3];
            for (int i = 0; i < 3; i++) {
                expect(rs.get(i) instanceof OpResult.ErrorResult, "result " + i + " is " + rs.get(i));
                errs[i] = ((OpResult.ErrorResult) rs.get(i)).getErr();
            }
            expect(errs[0] == 0 && errs[1] == KeeperException.Code.BADVERSION.intValue()
                && errs[2] == KeeperException.Code.RUNTIMEINCONSISTENCY.intValue(),
                "per-op errors " + Arrays.toString(errs));
        }
        expect(zk.exists(P("/mu/a"), false) == null, "failed multi applied its create");
        expect(zk.exists(P("/mu/new"), false) != null, "failed multi applied its delete");
        // async multi delivers the same result shape
        CountDownLatch l = new CountDownLatch(1);
        List<OpResult> ares = new ArrayList<>();
        AtomicInteger arc = new AtomicInteger(999);
        zk.multi(Arrays.asList(Op.check(P("/mu/x"), 7)), (rc, path, ctx, opResults) -> {
            arc.set(rc);
            if (opResults != null) {
                ares.addAll(opResults);
            }
            l.countDown();
        }, null);
        expect(l.await(EVENT_TIMEOUT_MS, TimeUnit.MILLISECONDS), "async multi timed out");
        expect(arc.get() == KeeperException.Code.BADVERSION.intValue(), "async multi rc " + arc.get());
        expect(ares.size() == 1 && ares.get(0) instanceof OpResult.ErrorResult
            && ((OpResult.ErrorResult) ares.get(0)).getErr() == KeeperException.Code.BADVERSION.intValue(),
            "async multi results " + ares);
        // create with Stat in a multi is not available in 3.8's Op; ephemeral create in multi
        List<OpResult> er = zk.multi(Arrays.asList(
            Op.create(P("/mu/eph"), null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL)));
        expect(er.get(0) instanceof OpResult.CreateResult, "ephemeral in multi " + er.get(0));
        expect(zk.exists(P("/mu/eph"), false).getEphemeralOwner() == zk.getSessionId(), "ephemeral owner from multi");
    }

    static void checkMultiRead() throws Exception {
        ZooKeeper zk = open();
        ZooKeeper other = open();
        mk(zk, P("/mr"), "root");
        mk(zk, P("/mr/a"), "A");
        mk(zk, P("/mr/b"));
        zk.create(P("/mr/private"), b("p"), Arrays.asList(new ACL(ZooDefs.Perms.WRITE, Ids.ANYONE_ID_UNSAFE)),
            CreateMode.PERSISTENT);
        Rec r = new Rec();
        zk.getData(P("/mr/a"), r, null); // a real watch, for contrast
        List<OpResult> res = other.multi(Arrays.asList(
            Op.getData(P("/mr/a")),
            Op.getChildren(P("/mr")),
            Op.getData(P("/mr/missing")),
            Op.getChildren(P("/mr/missing")),
            Op.getData(P("/mr/private")),
            Op.getData(P("/mr"))));
        expect(res.size() == 6, "result count " + res.size());
        expect(res.get(0) instanceof OpResult.GetDataResult, "getData result " + res.get(0));
        OpResult.GetDataResult g = (OpResult.GetDataResult) res.get(0);
        expect(s(g.getData()).equals("A") && g.getStat().equals(zk.exists(P("/mr/a"), false)),
            "getData result " + s(g.getData()) + " " + statStr(g.getStat()));
        expect(res.get(1) instanceof OpResult.GetChildrenResult, "getChildren result " + res.get(1));
        List<String> kids = new ArrayList<>(((OpResult.GetChildrenResult) res.get(1)).getChildren());
        Collections.sort(kids);
        expect(kids.equals(Arrays.asList("a", "b", "private")), "children " + kids);
        int[] want = {KeeperException.Code.NONODE.intValue(), KeeperException.Code.NONODE.intValue(),
            KeeperException.Code.NOAUTH.intValue()};
        for (int i = 0; i < 3; i++) {
            OpResult o = res.get(2 + i);
            expect(o instanceof OpResult.ErrorResult && ((OpResult.ErrorResult) o).getErr() == want[i],
                "result " + (2 + i) + ": " + o + (o instanceof OpResult.ErrorResult ? " err " + ((OpResult.ErrorResult) o).getErr() : "")
                + ", expected error " + want[i]);
        }
        // an error does not stop later reads
        expect(res.get(5) instanceof OpResult.GetDataResult
            && s(((OpResult.GetDataResult) res.get(5)).getData()).equals("root"), "read after errors " + res.get(5));
        // multiRead sets no watches: a change after it notifies only the real watch
        Rec r2 = new Rec();
        other.getData(P("/mr/b"), r2, null);
        zk.multi(Arrays.asList(Op.getData(P("/mr/a")), Op.getChildren(P("/mr"))));
        other.setData(P("/mr/a"), b("A2"), -1);
        mk(other, P("/mr/c"));
        other.setData(P("/mr/b"), b("B2"), -1);
        expectEvents(zk, r, "real watch", ev(CHANGED, P("/mr/a")));
        expectEvents(other, r2, "other session's watch", ev(CHANGED, P("/mr/b")));
        // mixing reads and writes is rejected by the client
        boolean refused = false;
        try {
            zk.multi(Arrays.asList(Op.getData(P("/mr/a")), Op.setData(P("/mr/a"), b("x"), -1)));
        } catch (IllegalArgumentException e) {
            refused = true;
        }
        expect(refused, "mixed read/write multi was not refused by the client");
    }

    static void checkSync() throws Exception {
        ZooKeeper zk = open();
        ZooKeeper other = open();
        mk(zk, P("/sync"), "0");
        other.setData(P("/sync"), b("1"), -1);
        CountDownLatch l = new CountDownLatch(1);
        AtomicInteger rc = new AtomicInteger(999);
        String[] echoed = {null};
        zk.sync(P("/sync"), (r, path, ctx) -> {
            rc.set(r);
            echoed[0] = path;
            l.countDown();
        }, "ctx");
        expect(l.await(EVENT_TIMEOUT_MS, TimeUnit.MILLISECONDS), "sync callback timed out");
        expect(rc.get() == 0, "sync rc " + rc.get());
        expect(P("/sync").equals(echoed[0]), "sync path " + echoed[0]);
        expect(s(zk.getData(P("/sync"), false, null)).equals("1"), "read after sync");
        // sync of a missing path still succeeds in ZooKeeper (it is only a barrier)
        CountDownLatch l2 = new CountDownLatch(1);
        AtomicInteger rc2 = new AtomicInteger(999);
        zk.sync(P("/sync/missing"), (r, path, ctx) -> {
            rc2.set(r);
            l2.countDown();
        }, null);
        expect(l2.await(EVENT_TIMEOUT_MS, TimeUnit.MILLISECONDS), "sync callback timed out (2)");
        expect(rc2.get() == 0, "sync of a missing path rc " + rc2.get());
    }

    static void checkAclJava() throws Exception {
        ZooKeeper zk = open();
        zk.addAuthInfo("digest", b(JUSER));
        ZooKeeper anon = open();
        mk(zk, P("/jacl"));
        zk.create(P("/jacl/n"), b("d"), Arrays.asList(
            new ACL(ZooDefs.Perms.ALL, new Id("digest", JUSER_ID)),
            new ACL(ZooDefs.Perms.READ, Ids.ANYONE_ID_UNSAFE)), CreateMode.PERSISTENT);
        Stat st = new Stat();
        List<ACL> acl = anon.getACL(P("/jacl/n"), st);
        List<String> ids = new ArrayList<>();
        for (ACL a : acl) {
            ids.add(a.getId().getScheme() + ":" + a.getId().getId() + "/" + a.getPerms());
        }
        Collections.sort(ids);
        expect(ids.equals(Arrays.asList("digest:juser:x/31", "world:anyone/1")), "non-admin getACL " + ids);
        expectCode(KeeperException.Code.NOAUTH, "setData without WRITE", () -> anon.setData(P("/jacl/n"), b("x"), -1));
        expectCode(KeeperException.Code.BADVERSION, "setACL wrong aversion",
            () -> zk.setACL(P("/jacl/n"), Ids.OPEN_ACL_UNSAFE, 5));
        Stat s2 = zk.setACL(P("/jacl/n"), Ids.OPEN_ACL_UNSAFE, 0);
        expect(s2.getAversion() == 1, "aversion " + s2.getAversion());
        anon.setData(P("/jacl/n"), b("x"), -1);
        // super-user digest is not configured: "super:..." is an ordinary digest identity
        expectCode(KeeperException.Code.INVALIDACL, "world id other than anyone",
            () -> zk.create(P("/jacl/bad"), null, Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("world", "nobody"))),
                CreateMode.PERSISTENT));
        expectCode(KeeperException.Code.INVALIDACL, "unknown scheme",
            () -> zk.create(P("/jacl/bad"), null, Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("nosuch", "x"))),
                CreateMode.PERSISTENT));
        expectCode(KeeperException.Code.INVALIDACL, "auth scheme without authenticated ids",
            () -> anon.create(P("/jacl/bad"), null, Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT));
        // ip ACLs
        zk.create(P("/jacl/ip"), b("i"), Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("ip", "127.0.0.1"))),
            CreateMode.PERSISTENT);
        expect(s(anon.getData(P("/jacl/ip"), false, null)).equals("i"), "ip ACL read from 127.0.0.1");
        zk.create(P("/jacl/cidr"), b("c"), Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("ip", "127.0.0.0/8"))),
            CreateMode.PERSISTENT);
        expect(s(anon.getData(P("/jacl/cidr"), false, null)).equals("c"), "ip CIDR ACL read from 127.0.0.1");
        zk.create(P("/jacl/otherip"), b("o"), Arrays.asList(
            new ACL(ZooDefs.Perms.ALL, new Id("ip", "10.1.2.3")),
            new ACL(ZooDefs.Perms.ALL, new Id("digest", JUSER_ID))), CreateMode.PERSISTENT);
        expectCode(KeeperException.Code.NOAUTH, "ip ACL for another address",
            () -> anon.getData(P("/jacl/otherip"), false, null));
        expectCode(KeeperException.Code.INVALIDACL, "malformed ip ACL",
            () -> zk.create(P("/jacl/badip"), null, Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("ip", "not-an-ip"))),
                CreateMode.PERSISTENT));
        // exists on a node without READ: 3.8.0 answers; 3.8.4+/3.9.2 and zkd refuse
        KeeperException.Code c = code(() -> anon.exists(P("/jacl/otherip"), false));
        if (isZkd) {
            expect(c == KeeperException.Code.NOAUTH, "exists without READ (3.9 behaviour): " + c);
        } else {
            expect(c == KeeperException.Code.OK, "exists without READ (3.8.0 behaviour): " + c);
        }
    }

    static void checkSetWatches2() throws Exception {
        ZooKeeper m = open();
        String p = P("/sw2");
        mk(m, p);
        mk(m, p + "/data", "0");
        mk(m, p + "/pers", "0");
        try (TcpRelay px = new TcpRelay(hostport)) {
            SessionWatcher sw = new SessionWatcher();
            ZooKeeper w = new ZooKeeper(px.hostport(), SESSION_TIMEOUT_MS, sw);
            synchronized (openHandles) {
                openHandles.add(w);
            }
            expect(sw.connected.await(CONNECT_TIMEOUT_MS, TimeUnit.MILLISECONDS), "no session through the proxy");
            long sid = w.getSessionId();
            w.create(p + "/eph", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            Rec rec = new Rec();
            Rec pers = new Rec();
            Rec data = new Rec();
            Rec missing = new Rec();
            w.addWatch(p, rec, AddWatchMode.PERSISTENT_RECURSIVE);
            w.addWatch(p + "/pers", pers, AddWatchMode.PERSISTENT);
            w.getData(p + "/data", data, null);
            w.exists(p + "/missing", missing);
            mk(m, p + "/before");
            expectEvents(w, rec, "recursive watch before the cut", ev(CREATED, p + "/before"));
            rec.clear();
            px.cut();
            expect(sw.awaitDisconnects(1, EVENT_TIMEOUT_MS), "client did not notice the cut");
            m.setData(p + "/data", b("1"), -1);
            mk(m, p + "/missing");
            mk(m, p + "/during");                // not replayed for persistent watches
            px.restore();
            expect(sw.awaitConnects(2, CONNECT_TIMEOUT_MS), "client did not reconnect");
            expect(w.getSessionId() == sid, "session changed over the reconnect");
            // standard watches: catch-up events from setWatches2 (sent before its reply)
            expectEvents(w, data, "data watch catch-up", ev(CHANGED, p + "/data"));
            expectEvents(w, missing, "exist watch catch-up", ev(CREATED, p + "/missing"));
            // Persistent watches get no catch-up events (/during is not reported). The Java
            // client hands the two catch-up events above to the recursive watcher on the
            // ancestor as well (client-side fan-out); their order is not fixed.
            List<String> got = rec.snapshot();
            Collections.sort(got);
            List<String> want = new ArrayList<>(Arrays.asList(ev(CHANGED, p + "/data"), ev(CREATED, p + "/missing")));
            Collections.sort(want);
            expect(got.equals(want), "recursive watcher events at reconnect " + got + ", expected " + want);
            rec.clear();
            // persistent watches are re-armed
            mk(m, p + "/after");
            m.setData(p + "/pers", b("1"), -1);
            expectEvents(w, rec, "recursive watch after reconnect",
                ev(CREATED, p + "/after"), ev(CHANGED, p + "/pers"));
            expectEvents(w, pers, "persistent watch after reconnect", ev(CHANGED, p + "/pers"));
            expect(m.exists(p + "/eph", false) != null, "ephemeral lost over the reconnect");
            w.close(5000);
        }
    }

    /* ------------------------------------------------------------------ main */

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: ZkdJavaTest HOST:PORT [--target=zkd|zookeeper] [--mode=no-extended]");
            System.exit(2);
        }
        hostport = args[0];
        String mode = "all";
        for (int i = 1; i < args.length; i++) {
            if (args[i].startsWith("--target=")) {
                isZkd = args[i].substring(9).equals("zkd");
            } else if (args[i].startsWith("--mode=")) {
                mode = args[i].substring(7);
            } else {
                System.err.println("unknown argument " + args[i]);
                System.exit(2);
            }
        }
        root = "/jclient-" + ProcessHandle.current().pid() + (mode.equals("all") ? "" : "-" + mode);
        try {
            ZooKeeper zk = open();
            zk.create(root, null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            closeAll();
            System.out.println("ok connect");
        } catch (Throwable t) {
            System.out.println("FAIL connect: " + t);
            closeAll();
            System.exit(1);
        }
        long t0 = now();
        if (mode.equals("no-extended")) {
            run("no_extended_types", ZkdJavaTest::checkNoExtendedTypes);
        } else if (mode.equals("all")) {
            run("create_stat", ZkdJavaTest::checkCreateStat);
            run("watches_standard", ZkdJavaTest::checkWatchesStandard);
            run("persistent_watch", ZkdJavaTest::checkPersistentWatch);
            run("persistent_recursive_watch", ZkdJavaTest::checkPersistentRecursiveWatch);
            run("watch_acl_filter", ZkdJavaTest::checkWatchAclFilter);
            run("remove_watches", ZkdJavaTest::checkRemoveWatches);
            run("whoami", ZkdJavaTest::checkWhoAmI);
            run("get_ephemerals", ZkdJavaTest::checkGetEphemerals);
            run("all_children_number", ZkdJavaTest::checkAllChildrenNumber);
            run("multi", ZkdJavaTest::checkMulti);
            run("multi_read", ZkdJavaTest::checkMultiRead);
            run("sync", ZkdJavaTest::checkSync);
            run("acl", ZkdJavaTest::checkAclJava);
            run("setwatches2_reconnect", ZkdJavaTest::checkSetWatches2);
            run("container", ZkdJavaTest::checkContainer);
            run("ttl", ZkdJavaTest::checkTtl);
        } else {
            System.err.println("unknown mode " + mode);
            System.exit(2);
        }
        System.out.println((checks + 1) + " checks, " + failures + " failed (" + (now() - t0) + " ms)");
        System.exit(failures == 0 ? 0 : 1);
    }
}
