/*
 * Integration checks driven by Apache Curator 5.4 (Debian libcurator-{client,framework,recipes}-java)
 * on top of the Debian ZooKeeper 3.8 Java client.
 *
 *   java -cp <classes>:/usr/share/java/curator-recipes.jar:/usr/share/java/curator-framework.jar:\
 *        /usr/share/java/curator-client.jar:/usr/share/java/guava.jar:/usr/share/java/slf4j-api.jar:\
 *        /usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar CuratorTest HOST:PORT [filter]
 *
 * (filter: run only the checks whose name contains it.)
 * Prints one line per check, "ok <name>" or "FAIL <name>: <detail>", and exits 1 when any check
 * failed (2 on a usage error). Each check works below its own fresh path under /curator-<pid>
 * with its own clients, which are closed when the check ends, so one failure does not cascade.
 *
 * Real recipe usage with contention between several clients (separate sessions). Every wait is
 * bounded; no check relies on a sleep for correctness. What the recipes put on the wire:
 * createContainer (19) for creatingParentContainersIfNeeded, create2 (15) for storingStatIn and
 * background creates, createTTL (21), multi (14) with check, addWatch (106) persistent and
 * persistent-recursive (PersistentWatcher, CuratorCache), removeWatches (18), getData on
 * /zookeeper/config (EnsembleTracker), reconfig (refused: RECONFIGDISABLED), sync, setAuth,
 * closeSession, setWatches2 (105) after a reconnect through a TCP relay that the test cuts, and
 * a session takeover (reconnect with id+password from another connection, then close) to
 * expire a session. Not covered: ServiceDiscovery (curator-x-discovery, Debian
 * libcurator-discovery-java, is not among the test dependencies).
 *
 * The server must sweep containers and TTL nodes every second (test_curator_go.py arranges it).
 * Expectations were validated against Apache ZooKeeper 3.8 (Debian 3.8.0).
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
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.CuratorEvent;
import org.apache.curator.framework.api.CuratorEventType;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.api.transaction.OperationType;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.barriers.DistributedBarrier;
import org.apache.curator.framework.recipes.barriers.DistributedDoubleBarrier;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.cache.NodeCache;
import org.apache.curator.framework.recipes.cache.PathChildrenCache;
import org.apache.curator.framework.recipes.cache.TreeCache;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.framework.recipes.nodes.GroupMember;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.curator.framework.recipes.nodes.PersistentTtlNode;
import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueConsumer;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.SharedCountListener;
import org.apache.curator.framework.recipes.shared.SharedCountReader;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.framework.recipes.watch.PersistentWatcher;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;

public class CuratorTest {
    static final int SESSION_TIMEOUT_MS = 10000;
    static final int CONNECT_TIMEOUT_MS = 10000;
    static final long WAIT_MS = 10000;      // bound for any single expected event
    static final long REAP_WAIT_MS = 15000; // container/TTL sweep runs every second in the test config

    static String hostport;
    static String root;
    static int failures;
    /* Everything a check opened; closed in reverse order when the check ends. */
    static final List<AutoCloseable> opened = new ArrayList<>();

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
        List<String> helpers = Arrays.asList("expect", "waitFor", "awaitEvent", "client", "expectThrows");
        for (StackTraceElement e : t.getStackTrace()) {
            if (e.getClassName().startsWith("CuratorTest") && !helpers.contains(e.getMethodName())) {
                return " [CuratorTest.java:" + e.getLineNumber() + "]";
            }
        }
        return "";
    }

    static void run(String name, Check c) {
        long t0 = now();
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
            long t1 = now();
            closeAll();
            System.err.println("# " + name + ": " + (t1 - t0) + " ms + " + (now() - t1) + " ms closing");
        }
        System.out.flush();
    }

    static <T extends AutoCloseable> T track(T c) {
        synchronized (opened) {
            opened.add(c);
        }
        return c;
    }

    static void closeAll() {
        List<AutoCloseable> l;
        synchronized (opened) {
            l = new ArrayList<>(opened);
            opened.clear();
        }
        Collections.reverse(l);
        /* recipes first (newest first), then the clients, in parallel: each close waits for its
         * closeSession round trip and for the client's threads */
        List<Thread> closers = new ArrayList<>();
        for (AutoCloseable c : l) {
            if (c instanceof CuratorFramework) {
                Thread t = new Thread(() -> closeQuietly(c), "closer");
                closers.add(t);
            } else {
                closeQuietly(c);
            }
        }
        for (Thread t : closers) {
            t.start();
        }
        for (Thread t : closers) {
            try {
                t.join(15000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            // best effort
        }
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

    static void waitFor(String what, long ms, BooleanSupplier cond) throws InterruptedException {
        long deadline = now() + ms;
        while (!cond.getAsBoolean()) {
            if (now() > deadline) {
                throw new CheckFailed("timed out after " + ms + " ms waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    /* Takes events off q until one matches; fails after WAIT_MS, listing what was seen. */
    static String awaitEvent(BlockingQueue<String> q, String want) throws InterruptedException {
        return awaitEvent(q, want, e -> e.equals(want));
    }

    static String awaitEvent(BlockingQueue<String> q, String what, Predicate<String> p)
            throws InterruptedException {
        List<String> seen = new ArrayList<>();
        long deadline = now() + WAIT_MS;
        while (true) {
            long left = deadline - now();
            String e = left > 0 ? q.poll(left, TimeUnit.MILLISECONDS) : null;
            if (e == null) {
                throw new CheckFailed("no event " + what + " within " + WAIT_MS + " ms; saw " + seen);
            }
            if (p.test(e)) {
                return e;
            }
            seen.add(e);
        }
    }

    interface KOp {
        void run() throws Exception;
    }

    static void expectThrows(Class<? extends Exception> want, String what, KOp op) throws Exception {
        try {
            op.run();
        } catch (Exception e) {
            expect(want.isInstance(e), what + ": threw " + e + ", expected " + want.getSimpleName());
            return;
        }
        throw new CheckFailed(what + ": succeeded, expected " + want.getSimpleName());
    }

    /* ------------------------------------------------------------------ clients */

    static CuratorFramework client() throws Exception {
        return client(hostport, null);
    }

    static CuratorFramework client(String hp, String digestAuth) throws Exception {
        CuratorFrameworkFactory.Builder bld = CuratorFrameworkFactory.builder()
                .connectString(hp)
                .sessionTimeoutMs(SESSION_TIMEOUT_MS)
                .connectionTimeoutMs(CONNECT_TIMEOUT_MS)
                .retryPolicy(new ExponentialBackoffRetry(100, 5));
        if (digestAuth != null) {
            bld = bld.authorization("digest", b(digestAuth));
        }
        CuratorFramework c = track(bld.build());
        c.start();
        if (!c.blockUntilConnected(CONNECT_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
            throw new CheckFailed("no connection to " + hp + " within " + CONNECT_TIMEOUT_MS + " ms");
        }
        return c;
    }

    static long sessionId(CuratorFramework c) throws Exception {
        return c.getZookeeperClient().getZooKeeper().getSessionId();
    }

    /* Children of a recipe's parent node; none when the node is gone: recipes create their
     * parents as containers, which the server's sweep may already have reaped once empty. */
    static List<String> childrenLeft(CuratorFramework c, String path) throws Exception {
        try {
            return c.getChildren().forPath(path);
        } catch (KeeperException.NoNodeException e) {
            return Collections.emptyList();
        }
    }

    /* Runs the tasks on their own threads and returns their results (bounded). */
    static <T> List<T> parallel(List<java.util.concurrent.Callable<T>> tasks) throws Exception {
        ExecutorService ex = Executors.newFixedThreadPool(tasks.size());
        try {
            List<Future<T>> fs = new ArrayList<>();
            for (java.util.concurrent.Callable<T> t : tasks) {
                fs.add(ex.submit(t));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : fs) {
                out.add(f.get(30, TimeUnit.SECONDS));
            }
            return out;
        } finally {
            ex.shutdownNow();
        }
    }

    /* A TCP relay in front of the server, so a client's connection can be cut and kept down. */

    /* Expires a session on the server: attach to it from a second connection with its id and
     * password (the server drops the first connection), then close it there. */
    static void killSession(long id, byte[] passwd) throws Exception {
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper killer = new ZooKeeper(hostport, SESSION_TIMEOUT_MS, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        }, id, passwd);
        try {
            expect(connected.await(WAIT_MS, TimeUnit.MILLISECONDS), "session takeover did not connect");
            expect(killer.getSessionId() == id, "takeover got session 0x" + Long.toHexString(killer.getSessionId())
                    + ", expected 0x" + Long.toHexString(id));
        } finally {
            killer.close(5000);
        }
    }

    /* ------------------------------------------------------------------ checks: framework */

    static void checkConnect() throws Exception {
        BlockingQueue<ConnectionState> states = new LinkedBlockingQueue<>();
        CuratorFramework c = track(CuratorFrameworkFactory.builder().connectString(hostport)
                .sessionTimeoutMs(SESSION_TIMEOUT_MS).connectionTimeoutMs(CONNECT_TIMEOUT_MS)
                .retryPolicy(new RetryNTimes(3, 100)).build());
        c.getConnectionStateListenable().addListener((cl, st) -> states.add(st));
        c.start();
        expect(c.blockUntilConnected(CONNECT_TIMEOUT_MS, TimeUnit.MILLISECONDS), "blockUntilConnected timed out");
        ConnectionState st = states.poll(WAIT_MS, TimeUnit.MILLISECONDS);
        expect(st == ConnectionState.CONNECTED, "first connection state " + st + ", expected CONNECTED");
        expect(c.getZookeeperClient().isConnected(), "isConnected false");
        long sid = sessionId(c);
        expect(sid != 0, "session id 0");
        CuratorFramework c2 = client();
        expect(sessionId(c2) != sid && sessionId(c2) != 0, "second client has session 0x"
                + Long.toHexString(sessionId(c2)));
        int negotiated = c.getZookeeperClient().getZooKeeper().getSessionTimeout();
        expect(negotiated == SESSION_TIMEOUT_MS, "negotiated session timeout " + negotiated);
        expect(c.checkExists().forPath("/") != null, "/ missing");
        expect(c.checkExists().forPath("/zookeeper") != null, "/zookeeper missing");
    }

    static void checkEnsembleTracker() throws Exception {
        CuratorFramework c = client();
        /* Curator's EnsembleTracker reads /zookeeper/config with a watch when the client starts;
         * this read is queued behind it on the same session. */
        Stat st = new Stat();
        byte[] cfg = c.getConfig().storingStatIn(st).forEnsemble();
        expect(cfg != null && cfg.length == 0, "standalone /zookeeper/config data '" + s(cfg) + "'");
        expect(c.getData().forPath("/zookeeper/config").length == 0, "getData /zookeeper/config not empty");
        c.create().forPath(P("/x"), b("1")); // one more round trip after the tracker's callback
        String cs = c.getZookeeperClient().getCurrentConnectionString();
        expect(hostport.equals(cs), "connection string became '" + cs + "', expected '" + hostport + "'");
        expect(c.getZookeeperClient().isConnected(), "not connected after the ensemble tracker ran");
    }

    static void checkCreateContainersEphemeralSequential() throws Exception {
        CuratorFramework c = client();
        CuratorFramework other = client();
        Stat st = new Stat();
        String got = c.create().storingStatIn(st).creatingParentContainersIfNeeded()
                .withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(P("/cpc/a/b/item-"), b("v1"));
        expect(got.matches(java.util.regex.Pattern.quote(P("/cpc/a/b/item-")) + "\\d{10}"),
                "sequential path " + got);
        expect(st.getEphemeralOwner() == sessionId(c), "create2 stat ephemeralOwner 0x"
                + Long.toHexString(st.getEphemeralOwner()));
        expect(st.getCzxid() > 0 && st.getCzxid() == st.getMzxid() && st.getVersion() == 0
                && st.getDataLength() == 2, "create2 stat " + st);
        Stat seen = other.checkExists().forPath(got);
        expect(seen != null && seen.getCzxid() == st.getCzxid() && seen.getEphemeralOwner() == sessionId(c),
                "other client's stat " + seen);
        for (String parent : new String[] {P("/cpc"), P("/cpc/a"), P("/cpc/a/b")}) {
            Stat ps = other.checkExists().forPath(parent);
            expect(ps != null && ps.getEphemeralOwner() == 0, "parent " + parent + " stat " + ps);
        }
        String got2 = c.create().creatingParentContainersIfNeeded()
                .withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(P("/cpc/a/b/item-"), b("v2"));
        long n1 = Long.parseLong(got.substring(got.length() - 10));
        long n2 = Long.parseLong(got2.substring(got2.length() - 10));
        expect(n2 == n1 + 1, "sequence numbers " + n1 + " then " + n2);
        List<String> kids = other.getChildren().forPath(P("/cpc/a/b"));
        Collections.sort(kids);
        expect(kids.size() == 2, "children " + kids);

        /* protected ephemeral sequential names (_c_<uuid>-...) */
        String prot = c.create().creatingParentContainersIfNeeded().withProtection()
                .withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(P("/cpc/prot/lock-"), b("p"));
        expect(prot.matches(java.util.regex.Pattern.quote(P("/cpc/prot/_c_")) + "[0-9a-f-]{36}-lock-\\d{10}"),
                "protected path " + prot);
        expect(other.checkExists().forPath(prot).getEphemeralOwner() == sessionId(c), "protected node owner");

        /* Background create: Curator uses create2 and hands over the Stat. */
        BlockingQueue<CuratorEvent> evs = new LinkedBlockingQueue<>();
        c.create().creatingParentsIfNeeded().inBackground((cl, e) -> evs.add(e)).forPath(P("/bg/n"), b("xyz"));
        CuratorEvent e = evs.poll(WAIT_MS, TimeUnit.MILLISECONDS);
        expect(e != null, "no background create callback");
        expect(e.getType() == CuratorEventType.CREATE && e.getResultCode() == 0
                && P("/bg/n").equals(e.getName()), "background create " + e);
        expect(e.getStat() != null && e.getStat().getDataLength() == 3 && e.getStat().getCzxid() > 0,
                "background create stat " + e.getStat());
        c.create().inBackground((cl, ev) -> evs.add(ev)).forPath(P("/bg/n"), b("again"));
        e = evs.poll(WAIT_MS, TimeUnit.MILLISECONDS);
        expect(e != null && e.getResultCode() == KeeperException.Code.NODEEXISTS.intValue(),
                "background create of an existing node: " + e);

        /* Closing the owner removes its ephemerals. */
        c.close();
        expect(other.checkExists().forPath(got) == null && other.checkExists().forPath(got2) == null,
                "ephemerals survive their session's close");
    }

    static void checkCreateOrSetData() throws Exception {
        CuratorFramework c = client();
        c.create().creatingParentsIfNeeded().forPath(P("/osd"));
        String p = c.create().orSetData().forPath(P("/osd/n"), b("one"));
        expect(P("/osd/n").equals(p), "returned path " + p);
        Stat st = new Stat();
        expect("one".equals(s(c.getData().storingStatIn(st).forPath(P("/osd/n")))) && st.getVersion() == 0,
                "after first orSetData: version " + st.getVersion());
        c.create().orSetData().forPath(P("/osd/n"), b("two"));
        expect("two".equals(s(c.getData().storingStatIn(st).forPath(P("/osd/n")))) && st.getVersion() == 1,
                "after second orSetData: version " + st.getVersion());
        c.create().orSetData(1).forPath(P("/osd/n"), b("three"));
        expect("three".equals(s(c.getData().storingStatIn(st).forPath(P("/osd/n")))) && st.getVersion() == 2,
                "after orSetData(1): version " + st.getVersion());
        expectThrows(KeeperException.BadVersionException.class, "orSetData with a stale version",
                () -> c.create().orSetData(1).forPath(P("/osd/n"), b("four")));
        /* idempotent create (Curator 5): same data is success, different data is NodeExists */
        c.create().idempotent().forPath(P("/osd/i"), b("d"));
        c.create().idempotent().forPath(P("/osd/i"), b("d"));
        expectThrows(KeeperException.NodeExistsException.class, "idempotent create with other data",
                () -> c.create().idempotent().forPath(P("/osd/i"), b("e")));
    }

    static void checkSetGetDataVersions() throws Exception {
        CuratorFramework c = client();
        CuratorFramework other = client();
        c.create().creatingParentsIfNeeded().forPath(P("/sgd/n"), b("a"));
        Stat st = new Stat();
        c.getData().storingStatIn(st).forPath(P("/sgd/n"));
        expect(st.getVersion() == 0 && st.getDataLength() == 1, "initial stat " + st);
        Stat st1 = c.setData().withVersion(0).forPath(P("/sgd/n"), b("bb"));
        expect(st1.getVersion() == 1 && st1.getDataLength() == 2 && st1.getMzxid() > st.getMzxid()
                && st1.getCzxid() == st.getCzxid() && st1.getMtime() >= st.getMtime(), "setData stat " + st1);
        expectThrows(KeeperException.BadVersionException.class, "setData with version 0 again",
                () -> c.setData().withVersion(0).forPath(P("/sgd/n"), b("x")));
        Stat st2 = other.setData().forPath(P("/sgd/n"), b("ccc")); // version -1: unconditional
        expect(st2.getVersion() == 2, "unconditional setData version " + st2.getVersion());
        Stat got = new Stat();
        byte[] d = c.getData().storingStatIn(got).forPath(P("/sgd/n"));
        expect("ccc".equals(s(d)) && got.equals(st2), "getData " + s(d) + " " + got + " vs " + st2);
        expectThrows(KeeperException.NoNodeException.class, "getData of a missing node",
                () -> c.getData().forPath(P("/sgd/missing")));
        expectThrows(KeeperException.NoNodeException.class, "setData of a missing node",
                () -> c.setData().forPath(P("/sgd/missing"), b("x")));
        /* getData with a watcher (usingWatcher) fires on the other client's change */
        BlockingQueue<String> evs = new LinkedBlockingQueue<>();
        c.getData().usingWatcher((Watcher) e -> evs.add(e.getType() + " " + e.getPath())).forPath(P("/sgd/n"));
        other.setData().forPath(P("/sgd/n"), b("dddd"));
        awaitEvent(evs, "NodeDataChanged " + P("/sgd/n"));
        /* delete with a version */
        expectThrows(KeeperException.BadVersionException.class, "delete with a stale version",
                () -> c.delete().withVersion(1).forPath(P("/sgd/n")));
        c.delete().withVersion(3).forPath(P("/sgd/n"));
        expect(c.checkExists().forPath(P("/sgd/n")) == null, "node still exists after delete");
        expectThrows(KeeperException.NoNodeException.class, "second delete",
                () -> c.delete().forPath(P("/sgd/n")));
        c.delete().quietly().forPath(P("/sgd/n"));
    }

    static void checkChildrenExistsDeleteRecursive() throws Exception {
        CuratorFramework c = client();
        c.create().creatingParentsIfNeeded().forPath(P("/tree/a/x/1"));
        c.create().creatingParentsIfNeeded().forPath(P("/tree/a/x/2"));
        c.create().creatingParentsIfNeeded().forPath(P("/tree/a/y"));
        c.create().forPath(P("/tree/b"));
        List<String> kids = c.getChildren().forPath(P("/tree"));
        Collections.sort(kids);
        expect(kids.equals(Arrays.asList("a", "b")), "children " + kids);
        Stat st = c.checkExists().forPath(P("/tree/a/x"));
        expect(st != null && st.getNumChildren() == 2 && st.getCversion() == 2, "stat of /tree/a/x " + st);
        expect(c.checkExists().forPath(P("/tree/nope")) == null, "checkExists of a missing node");
        expectThrows(KeeperException.NotEmptyException.class, "plain delete of a parent",
                () -> c.delete().forPath(P("/tree/a")));
        c.delete().deletingChildrenIfNeeded().forPath(P("/tree/a"));
        expect(c.checkExists().forPath(P("/tree/a")) == null, "/tree/a survives deletingChildrenIfNeeded");
        kids = c.getChildren().forPath(P("/tree"));
        expect(kids.equals(Collections.singletonList("b")), "children after recursive delete " + kids);
        /* sync (background only in Curator) */
        BlockingQueue<CuratorEvent> evs = new LinkedBlockingQueue<>();
        c.sync().inBackground((cl, e) -> evs.add(e)).forPath(P("/tree"));
        CuratorEvent e = evs.poll(WAIT_MS, TimeUnit.MILLISECONDS);
        expect(e != null && e.getType() == CuratorEventType.SYNC && e.getResultCode() == 0
                && P("/tree").equals(e.getPath()), "sync callback " + e);
    }

    static void checkTransaction() throws Exception {
        CuratorFramework c = client();
        CuratorFramework other = client();
        c.create().creatingParentsIfNeeded().forPath(P("/txn/base"), b("0"));
        c.create().forPath(P("/txn/gone"));
        List<CuratorOp> ops = Arrays.asList(
                c.transactionOp().create().forPath(P("/txn/new"), b("n")),
                c.transactionOp().create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(P("/txn/seq-"), b("s")),
                c.transactionOp().check().withVersion(0).forPath(P("/txn/base")),
                c.transactionOp().setData().withVersion(0).forPath(P("/txn/base"), b("1")),
                c.transactionOp().delete().forPath(P("/txn/gone")));
        List<CuratorTransactionResult> res = c.transaction().forOperations(ops);
        expect(res.size() == 5, "result count " + res.size());
        expect(res.get(0).getType() == OperationType.CREATE && P("/txn/new").equals(res.get(0).getResultPath()),
                "result 0 " + res.get(0).getType() + " " + res.get(0).getResultPath());
        expect(res.get(1).getType() == OperationType.CREATE
                && res.get(1).getResultPath().matches(java.util.regex.Pattern.quote(P("/txn/seq-")) + "\\d{10}"),
                "result 1 " + res.get(1).getResultPath());
        expect(res.get(2).getType() == OperationType.CHECK, "result 2 " + res.get(2).getType());
        expect(res.get(3).getType() == OperationType.SET_DATA && res.get(3).getResultStat() != null
                && res.get(3).getResultStat().getVersion() == 1, "result 3 stat " + res.get(3).getResultStat());
        expect(res.get(4).getType() == OperationType.DELETE && P("/txn/gone").equals(res.get(4).getForPath()),
                "result 4 " + res.get(4).getType());
        expect("1".equals(s(other.getData().forPath(P("/txn/base")))), "base data after commit");
        expect(other.checkExists().forPath(P("/txn/gone")) == null, "deleted node still there");
        /* all ops of one multi get the same zxid */
        Stat sNew = other.checkExists().forPath(P("/txn/new"));
        Stat sBase = other.checkExists().forPath(P("/txn/base"));
        expect(sNew.getCzxid() == sBase.getMzxid(), "multi ops with different zxids "
                + sNew.getCzxid() + " / " + sBase.getMzxid());

        /* A failing transaction: nothing is applied, the failing op is reported. */
        List<CuratorOp> bad = Arrays.asList(
                c.transactionOp().create().forPath(P("/txn/never"), b("x")),
                c.transactionOp().setData().forPath(P("/txn/base"), b("2")),
                c.transactionOp().check().withVersion(0).forPath(P("/txn/base")), // version is 1
                c.transactionOp().delete().forPath(P("/txn/new")));
        try {
            c.transaction().forOperations(bad);
            throw new CheckFailed("failing transaction succeeded");
        } catch (KeeperException.BadVersionException e) {
            List<org.apache.zookeeper.OpResult> rs = e.getResults();
            expect(rs != null && rs.size() == 4, "multi results " + rs);
            int[] want = {KeeperException.Code.OK.intValue(), KeeperException.Code.OK.intValue(),
                KeeperException.Code.BADVERSION.intValue(), KeeperException.Code.RUNTIMEINCONSISTENCY.intValue()};
            for (int i = 0; i < 4; i++) {
                org.apache.zookeeper.OpResult r = rs.get(i);
                int got = r instanceof org.apache.zookeeper.OpResult.ErrorResult
                        ? ((org.apache.zookeeper.OpResult.ErrorResult) r).getErr() : -999;
                expect(got == want[i], "multi result " + i + " err " + got + ", expected " + want[i]);
            }
        }
        expect(other.checkExists().forPath(P("/txn/never")) == null, "failed transaction created a node");
        expect("1".equals(s(other.getData().forPath(P("/txn/base")))), "failed transaction changed data");
        expect(other.checkExists().forPath(P("/txn/new")) != null, "failed transaction deleted a node");

        /* background transaction */
        BlockingQueue<CuratorEvent> evs = new LinkedBlockingQueue<>();
        c.transaction().inBackground((cl, e) -> evs.add(e)).forOperations(
                c.transactionOp().check().withVersion(1).forPath(P("/txn/base")),
                c.transactionOp().delete().forPath(P("/txn/new")));
        CuratorEvent e = evs.poll(WAIT_MS, TimeUnit.MILLISECONDS);
        expect(e != null && e.getType() == CuratorEventType.TRANSACTION && e.getResultCode() == 0
                && e.getOpResults() != null && e.getOpResults().size() == 2, "background transaction " + e);
        expect(other.checkExists().forPath(P("/txn/new")) == null, "background transaction did not delete");
    }

    static void checkAclAuth() throws Exception {
        CuratorFramework owner = client(hostport, "cur:secret");
        CuratorFramework anon = client();
        CuratorFramework friend = client(hostport, "cur:secret");
        CuratorFramework stranger = client(hostport, "cur:wrong");
        owner.create().creatingParentsIfNeeded().withACL(ZooDefs.Ids.CREATOR_ALL_ACL).forPath(P("/acl/n"), b("s"));
        /* getACL needs READ (ZooKeeper 3.8 as packaged by Debian, and 3.9) */
        expectThrows(KeeperException.NoAuthException.class, "anonymous getACL",
                () -> anon.getACL().forPath(P("/acl/n")));
        List<ACL> acl = friend.getACL().forPath(P("/acl/n"));
        expect(acl.size() == 1 && "digest".equals(acl.get(0).getId().getScheme())
                && acl.get(0).getId().getId().startsWith("cur:") && acl.get(0).getPerms() == ZooDefs.Perms.ALL,
                "ACL " + acl);
        expect("s".equals(s(friend.getData().forPath(P("/acl/n")))), "same credentials cannot read");
        expectThrows(KeeperException.NoAuthException.class, "anonymous getData",
                () -> anon.getData().forPath(P("/acl/n")));
        expectThrows(KeeperException.NoAuthException.class, "wrong password setData",
                () -> stranger.setData().forPath(P("/acl/n"), b("x")));
        /* world-readable but only the digest user may write */
        List<ACL> mixed = Arrays.asList(new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE),
                new ACL(ZooDefs.Perms.ALL, new Id("digest", acl.get(0).getId().getId())));
        Stat st = owner.setACL().withVersion(0).withACL(mixed).forPath(P("/acl/n"));
        expect(st.getAversion() == 1, "aversion after setACL " + st.getAversion());
        expect("s".equals(s(anon.getData().forPath(P("/acl/n")))), "anonymous read after setACL");
        expect(anon.getACL().forPath(P("/acl/n")).size() == 2, "anonymous getACL after setACL");
        expectThrows(KeeperException.NoAuthException.class, "anonymous write after setACL",
                () -> anon.setData().forPath(P("/acl/n"), b("x")));
        friend.setData().forPath(P("/acl/n"), b("t"));
        expect("t".equals(s(anon.getData().forPath(P("/acl/n")))), "write by credentials");
    }

    static void checkRemoveWatches() throws Exception {
        CuratorFramework c = client();
        c.create().creatingParentsIfNeeded().forPath(P("/rw/n"));
        BlockingQueue<String> evs = new LinkedBlockingQueue<>();
        Watcher w = e -> evs.add(e.getType() + " " + e.getPath());
        c.checkExists().usingWatcher(w).forPath(P("/rw/n"));
        c.watchers().remove(w).forPath(P("/rw/n"));
        awaitEvent(evs, "DataWatchRemoved " + P("/rw/n"));
        expectThrows(KeeperException.NoWatcherException.class, "removing the watcher twice",
                () -> c.watchers().remove(w).forPath(P("/rw/n")));
        /* a watcher still set elsewhere keeps working */
        c.getChildren().usingWatcher(w).forPath(P("/rw"));
        c.create().forPath(P("/rw/m"));
        awaitEvent(evs, "NodeChildrenChanged " + P("/rw"));

        /* addWatch through the framework, then remove it on the server (removeWatches, Any) */
        CuratorFramework other = client();
        BlockingQueue<String> pevs = new LinkedBlockingQueue<>();
        Watcher pw = e -> pevs.add(e.getType() + " " + e.getPath());
        c.watchers().add().withMode(AddWatchMode.PERSISTENT_RECURSIVE).usingWatcher(pw).forPath(P("/rw"));
        other.create().forPath(P("/rw/m/deep"));
        awaitEvent(pevs, "NodeCreated " + P("/rw/m/deep"));
        c.watchers().remove(pw).ofType(Watcher.WatcherType.Any).forPath(P("/rw"));
        awaitEvent(pevs, "PersistentWatchRemoved " + P("/rw"));
        /* no event after the removal: a change under /rw, then one to a sentinel watched by a
         * one-shot watch; events of a session arrive in order, so the sentinel's comes last */
        c.create().forPath(P("/sentinel"));
        c.checkExists().usingWatcher(pw).forPath(P("/sentinel"));
        other.setData().forPath(P("/rw/m/deep"), b("x"));
        other.setData().forPath(P("/sentinel"), b("x"));
        String e = awaitEvent(pevs, "NodeDataChanged " + P("/sentinel"), x -> true);
        expect(e.equals("NodeDataChanged " + P("/sentinel")), "event after the watch was removed: " + e);

        /* reconfig on a standalone server without reconfigEnabled */
        expectThrows(KeeperException.ReconfigDisabledException.class, "reconfig",
                () -> c.reconfig().joining("server.2=127.0.0.1:2888:3888;2182").forEnsemble());
        expect(c.checkExists().forPath(P("/rw")) != null, "client unusable after reconfig was refused");
    }

    static void checkTtlAndContainerReaping() throws Exception {
        CuratorFramework c = client();
        CuratorFramework other = client();
        /* containers: parents made by creatingParentContainersIfNeeded disappear once empty */
        c.create().creatingParentsIfNeeded().forPath(P("/reap"));
        c.create().creatingParentContainersIfNeeded().forPath(P("/reap/c1/c2/leaf"), b("l"));
        /* a container that keeps a child is never reaped */
        c.create().creatingParentContainersIfNeeded().forPath(P("/reap/k1/leaf"), b("l"));
        /* TTL node (createTTL): reaped after its TTL once it has no children */
        Stat ts = new Stat();
        c.create().withTtl(300).storingStatIn(ts).creatingParentsIfNeeded()
                .withMode(CreateMode.PERSISTENT_WITH_TTL).forPath(P("/reap/ttl"), b("t"));
        expect(ts.getCzxid() > 0 && ts.getEphemeralOwner() == 0 && ts.getDataLength() == 1, "TTL create stat " + ts);
        Stat cs = other.checkExists().forPath(P("/reap/c1"));
        expect(cs != null && cs.getEphemeralOwner() == 0, "container stat " + cs);
        c.delete().forPath(P("/reap/c1/c2/leaf"));
        long t0 = now();
        waitFor("containers /reap/c1/c2 and /reap/c1 to be reaped", REAP_WAIT_MS, () -> {
            try {
                return other.checkExists().forPath(P("/reap/c1")) == null;
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        waitFor("TTL node /reap/ttl to be reaped", Math.max(1000, REAP_WAIT_MS - (now() - t0)), () -> {
            try {
                return other.checkExists().forPath(P("/reap/ttl")) == null;
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        expect(other.checkExists().forPath(P("/reap/k1/leaf")) != null, "container with a child was reaped");
        expect(other.checkExists().forPath(P("/reap")) != null, "persistent parent was reaped");
    }


    static void checkPersistentTtlNode() throws Exception {
        CuratorFramework c = client();
        CuratorFramework other = client();
        c.create().creatingParentsIfNeeded().forPath(P("/pttl"));
        /* a container at the path, kept alive by a TTL child "touch" that is re-written every ttl/2 */
        PersistentTtlNode n = track(new PersistentTtlNode(c, P("/pttl/node"), 1000, b("payload")));
        n.start();
        expect(n.waitForInitialCreate(WAIT_MS, TimeUnit.MILLISECONDS), "PersistentTtlNode not created");
        expect("payload".equals(s(other.getData().forPath(P("/pttl/node")))), "PersistentTtlNode data");
        String touch = P("/pttl/node/") + PersistentTtlNode.DEFAULT_CHILD_NODE_NAME;
        waitFor("the touch node to be re-written twice", WAIT_MS, () -> {
            try {
                Stat st = other.checkExists().forPath(touch);
                return st != null && st.getVersion() >= 2;
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        expect(other.checkExists().forPath(P("/pttl/node")) != null, "PersistentTtlNode vanished while touched");
        n.close();
        /* untouched, the TTL child expires, then the empty container goes */
        waitFor("the PersistentTtlNode to be reaped after close", REAP_WAIT_MS, () -> {
            try {
                return other.checkExists().forPath(P("/pttl/node")) == null;
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
    }

    /* ------------------------------------------------------------------ checks: session */

    static void checkSessionExpiryAndPersistentNode() throws Exception {
        try (TcpRelay proxy = new TcpRelay(hostport)) {
            BlockingQueue<ConnectionState> states = new LinkedBlockingQueue<>();
            CuratorFramework c = track(CuratorFrameworkFactory.builder().connectString(proxy.hostport())
                    .sessionTimeoutMs(SESSION_TIMEOUT_MS).connectionTimeoutMs(CONNECT_TIMEOUT_MS)
                    .retryPolicy(new ExponentialBackoffRetry(100, 5)).build());
            c.getConnectionStateListenable().addListener((cl, st) -> states.add(st));
            c.start();
            expect(c.blockUntilConnected(CONNECT_TIMEOUT_MS, TimeUnit.MILLISECONDS), "no connection via proxy");
            expect(states.poll(WAIT_MS, TimeUnit.MILLISECONDS) == ConnectionState.CONNECTED, "no CONNECTED state");
            CuratorFramework other = client();
            c.create().creatingParentsIfNeeded().forPath(P("/sx"));

            PersistentNode pn = track(new PersistentNode(c, CreateMode.EPHEMERAL, false, P("/sx/pn"), b("alive")));
            pn.start();
            expect(pn.waitForInitialCreate(WAIT_MS, TimeUnit.MILLISECONDS), "PersistentNode not created");
            ZooKeeper zk = c.getZookeeperClient().getZooKeeper();
            long sid = zk.getSessionId();
            byte[] pw = zk.getSessionPasswd();
            Stat st = other.checkExists().forPath(P("/sx/pn"));
            expect(st != null && st.getEphemeralOwner() == sid, "PersistentNode owner " + st);
            expect("alive".equals(s(other.getData().forPath(pn.getActualPath()))), "PersistentNode data");
            /* a plain ephemeral of the same session, which must not come back */
            c.create().withMode(CreateMode.EPHEMERAL).forPath(P("/sx/plain"));

            proxy.cut();
            awaitState(states, ConnectionState.SUSPENDED);
            killSession(sid, pw);
            waitFor("the expired session's ephemerals to go", WAIT_MS, () -> {
                try {
                    return other.checkExists().forPath(P("/sx/plain")) == null;
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            proxy.restore();
            awaitState(states, ConnectionState.LOST);
            awaitState(states, ConnectionState.RECONNECTED);
            long sid2 = sessionId(c);
            expect(sid2 != 0 && sid2 != sid, "session after expiry 0x" + Long.toHexString(sid2));
            /* PersistentNode recreates its ephemeral under the new session */
            waitFor("PersistentNode to be recreated by session 0x" + Long.toHexString(sid2), WAIT_MS, () -> {
                try {
                    Stat s2 = other.checkExists().forPath(P("/sx/pn"));
                    return s2 != null && s2.getEphemeralOwner() == sid2;
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            expect(other.checkExists().forPath(P("/sx/plain")) == null, "plain ephemeral came back");
            c.create().forPath(P("/sx/after"), b("ok")); // the client works again
            pn.close();
            expect(other.checkExists().forPath(P("/sx/pn")) == null, "PersistentNode.close left the node");
        }
    }

    static void awaitState(BlockingQueue<ConnectionState> q, ConnectionState want) throws InterruptedException {
        List<ConnectionState> seen = new ArrayList<>();
        long deadline = now() + 2 * WAIT_MS;
        while (true) {
            long left = deadline - now();
            ConnectionState s = left > 0 ? q.poll(left, TimeUnit.MILLISECONDS) : null;
            if (s == null) {
                throw new CheckFailed("no connection state " + want + " within " + 2 * WAIT_MS + " ms; saw " + seen);
            }
            if (s == want) {
                return;
            }
            seen.add(s);
        }
    }

    /* ------------------------------------------------------------------ checks: recipes */

    static void checkMutexContention() throws Exception {
        final int clients = 3;
        final int rounds = 10;
        CuratorFramework c0 = client();
        c0.create().creatingParentsIfNeeded().forPath(P("/mutex/counter"), b("0"));
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger maxInside = new AtomicInteger();
        List<java.util.concurrent.Callable<String>> tasks = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            CuratorFramework c = client();
            InterProcessMutex m = new InterProcessMutex(c, P("/mutex/lock"));
            tasks.add(() -> {
                for (int r = 0; r < rounds; r++) {
                    if (!m.acquire(WAIT_MS, TimeUnit.MILLISECONDS)) {
                        return "acquire timed out";
                    }
                    try {
                        int in = inside.incrementAndGet();
                        maxInside.accumulateAndGet(in, Math::max);
                        /* unprotected read-modify-write: only mutual exclusion keeps it exact */
                        int v = Integer.parseInt(s(c.getData().forPath(P("/mutex/counter"))));
                        c.setData().forPath(P("/mutex/counter"), b(Integer.toString(v + 1)));
                        inside.decrementAndGet();
                    } finally {
                        m.release();
                    }
                }
                return "done";
            });
        }
        List<String> res = parallel(tasks);
        expect(res.stream().allMatch("done"::equals), "workers: " + res);
        expect(maxInside.get() == 1, "up to " + maxInside.get() + " holders at once");
        String v = s(c0.getData().forPath(P("/mutex/counter")));
        expect(Integer.toString(clients * rounds).equals(v), "counter " + v + ", expected " + clients * rounds);
        List<String> left = childrenLeft(c0, P("/mutex/lock"));
        expect(left.isEmpty(), "lock nodes left " + left);
    }

    static void checkMutexReentrancyAndRelease() throws Exception {
        CuratorFramework a = client();
        CuratorFramework b = client();
        CuratorFramework cc = client();
        InterProcessMutex ma = new InterProcessMutex(a, P("/rmutex"));
        InterProcessMutex mb = new InterProcessMutex(b, P("/rmutex"));
        InterProcessMutex mc = new InterProcessMutex(cc, P("/rmutex"));
        expect(ma.acquire(WAIT_MS, TimeUnit.MILLISECONDS), "first acquire");
        expect(ma.acquire(WAIT_MS, TimeUnit.MILLISECONDS), "reentrant acquire");
        expect(ma.isAcquiredInThisProcess() && ma.isOwnedByCurrentThread(), "not owned after acquire");
        expect(a.getChildren().forPath(P("/rmutex")).size() == 1, "reentrancy created a second lock node");
        expect(!mb.acquire(200, TimeUnit.MILLISECONDS), "second client acquired a held lock");
        ma.release();
        expect(!mb.acquire(200, TimeUnit.MILLISECONDS), "lock free after one of two releases");
        ma.release();
        expect(!ma.isAcquiredInThisProcess(), "still owned after full release");
        expect(mb.acquire(WAIT_MS, TimeUnit.MILLISECONDS), "second client cannot acquire after release");
        /* a waiter gets the lock when the holder's session closes (ephemeral lock node removed) */
        AtomicReference<String> got = new AtomicReference<>("pending");
        Thread waiter = new Thread(() -> {
            try {
                boolean ok = mc.acquire(WAIT_MS, TimeUnit.MILLISECONDS);
                got.set(ok ? "acquired" : "timed out");
                if (ok) {
                    mc.release(); // the lock belongs to this thread
                }
            } catch (Exception e) {
                got.set(e.toString());
            }
        });
        waiter.start();
        waitFor("the third client to queue for the lock", WAIT_MS, () -> {
            try {
                return a.getChildren().forPath(P("/rmutex")).size() == 2;
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        b.close(); // holder goes away without releasing
        waiter.join(WAIT_MS + 5000);
        expect("acquired".equals(got.get()), "waiter after holder's close: " + got.get());
        List<String> left = childrenLeft(a, P("/rmutex"));
        expect(left.isEmpty(), "lock nodes left " + left);
    }

    static void checkReadWriteLock() throws Exception {
        CuratorFramework a = client();
        CuratorFramework b = client();
        CuratorFramework c = client();
        InterProcessReadWriteLock la = new InterProcessReadWriteLock(a, P("/rwlock"));
        InterProcessReadWriteLock lb = new InterProcessReadWriteLock(b, P("/rwlock"));
        InterProcessReadWriteLock lc = new InterProcessReadWriteLock(c, P("/rwlock"));
        expect(la.readLock().acquire(WAIT_MS, TimeUnit.MILLISECONDS), "reader a");
        expect(lb.readLock().acquire(WAIT_MS, TimeUnit.MILLISECONDS), "reader b alongside a");
        expect(!lc.writeLock().acquire(200, TimeUnit.MILLISECONDS), "writer acquired while readers hold");
        la.readLock().release();
        expect(!lc.writeLock().acquire(200, TimeUnit.MILLISECONDS), "writer acquired while one reader holds");
        lb.readLock().release();
        expect(lc.writeLock().acquire(WAIT_MS, TimeUnit.MILLISECONDS), "writer after readers left");
        expect(!la.readLock().acquire(200, TimeUnit.MILLISECONDS), "reader acquired while writer holds");
        /* the writer may also read (downgrade path) */
        expect(lc.readLock().acquire(WAIT_MS, TimeUnit.MILLISECONDS), "writer's own read lock");
        lc.writeLock().release();
        expect(!lb.writeLock().acquire(200, TimeUnit.MILLISECONDS), "second writer while a reader holds");
        lc.readLock().release();
        expect(lb.writeLock().acquire(WAIT_MS, TimeUnit.MILLISECONDS), "second writer after all released");
        lb.writeLock().release();
    }

    static void checkSemaphore() throws Exception {
        CuratorFramework a = client();
        CuratorFramework b = client();
        CuratorFramework c = client();
        InterProcessSemaphoreV2 sa = new InterProcessSemaphoreV2(a, P("/sem"), 2);
        InterProcessSemaphoreV2 sb = new InterProcessSemaphoreV2(b, P("/sem"), 2);
        InterProcessSemaphoreV2 sc = new InterProcessSemaphoreV2(c, P("/sem"), 2);
        Lease la = sa.acquire(WAIT_MS, TimeUnit.MILLISECONDS);
        Lease lb = sb.acquire(WAIT_MS, TimeUnit.MILLISECONDS);
        expect(la != null && lb != null, "two leases of two");
        expect(sc.acquire(200, TimeUnit.MILLISECONDS) == null, "third lease granted beyond the limit");
        Collection<String> parts = sa.getParticipantNodes();
        expect(parts.size() == 2, "participants " + parts);
        sa.returnLease(la);
        Lease lc = sc.acquire(WAIT_MS, TimeUnit.MILLISECONDS);
        expect(lc != null, "no lease after one was returned");
        /* a lease comes back when its holder's session closes */
        AtomicReference<Object> got = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                got.set(sa.acquire(WAIT_MS, TimeUnit.MILLISECONDS));
            } catch (Exception e) {
                got.set(e);
            }
        });
        t.start();
        b.close();
        t.join(WAIT_MS + 5000);
        expect(got.get() instanceof Lease, "lease after holder's close: " + got.get());
        sa.returnLease((Lease) got.get());
        sc.returnLease(lc);
        /* multiple leases at once */
        Collection<Lease> two = sa.acquire(2, WAIT_MS, TimeUnit.MILLISECONDS);
        expect(two != null && two.size() == 2, "acquire(2) " + two);
        expect(sc.acquire(200, TimeUnit.MILLISECONDS) == null, "lease beyond the limit after acquire(2)");
        sa.returnAll(two);
    }

    static LeaderLatch singleLeader(List<LeaderLatch> latches, String why) throws Exception {
        long deadline = now() + WAIT_MS;
        while (true) {
            List<LeaderLatch> leaders = new ArrayList<>();
            for (LeaderLatch l : latches) {
                if (l.hasLeadership()) {
                    leaders.add(l);
                }
            }
            if (leaders.size() > 1) {
                List<String> ids = new ArrayList<>();
                for (LeaderLatch l : leaders) {
                    ids.add(l.getId());
                }
                throw new CheckFailed(why + ": several leaders " + ids);
            }
            if (leaders.size() == 1) {
                return leaders.get(0);
            }
            if (now() > deadline) {
                throw new CheckFailed(why + ": no leader within " + WAIT_MS + " ms");
            }
            Thread.sleep(20);
        }
    }

    static void checkLeaderLatch() throws Exception {
        List<LeaderLatch> latches = new ArrayList<>();
        List<CuratorFramework> clients = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            CuratorFramework c = client();
            clients.add(c);
            LeaderLatch l = track(new LeaderLatch(c, P("/latch"), "p" + i));
            latches.add(l);
        }
        for (LeaderLatch l : latches) {
            l.start();
        }
        LeaderLatch first = singleLeader(latches, "start");
        waitFor("all three latch participants", WAIT_MS, () -> {
            try {
                return first.getParticipants().size() == 3;
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        for (LeaderLatch l : latches) {
            String lid = l.getLeader().getId();
            expect(first.getId().equals(lid), l.getId() + " sees leader " + lid + ", expected " + first.getId());
        }
        /* closing the leader's latch moves leadership */
        first.close();
        List<LeaderLatch> rest = new ArrayList<>(latches);
        rest.remove(first);
        LeaderLatch second = singleLeader(rest, "after the leader closed its latch");
        expect(!first.hasLeadership(), "closed latch still leader");
        /* closing the leader's client (session close) moves it again */
        clients.get(latches.indexOf(second)).close();
        rest.remove(second);
        LeaderLatch third = rest.get(0);
        expect(third.await(WAIT_MS, TimeUnit.MILLISECONDS), "last participant never became leader");
        expect(third.getLeader().getId().equals(third.getId()), "leader id " + third.getLeader().getId());
    }

    static void checkLeaderSelector() throws Exception {
        AtomicInteger leadersNow = new AtomicInteger();
        AtomicInteger maxLeaders = new AtomicInteger();
        AtomicInteger terms = new AtomicInteger();
        BlockingQueue<String> took = new LinkedBlockingQueue<>();
        List<LeaderSelector> sels = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            CuratorFramework c = client();
            String id = "s" + i;
            LeaderSelector sel = new LeaderSelector(c, P("/selector"), new LeaderSelectorListenerAdapter() {
                @Override
                public void takeLeadership(CuratorFramework cl) throws Exception {
                    int n = leadersNow.incrementAndGet();
                    maxLeaders.accumulateAndGet(n, Math::max);
                    terms.incrementAndGet();
                    took.add(id);
                    try {
                        Thread.sleep(Long.MAX_VALUE); // hold leadership until closed (interrupted)
                    } finally {
                        leadersNow.decrementAndGet();
                    }
                }
            });
            sel.setId(id);
            sel.autoRequeue();
            track(sel);
            sels.add(sel);
        }
        for (LeaderSelector s : sels) {
            s.start();
        }
        String first = took.poll(WAIT_MS, TimeUnit.MILLISECONDS);
        expect(first != null, "no leader elected");
        LeaderSelector leader = sels.get(Integer.parseInt(first.substring(1)));
        waitFor("all three selector participants", WAIT_MS, () -> {
            try {
                return leader.getParticipants().size() == 3;
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        expect(leader.hasLeadership(), "elected selector does not report leadership");
        for (LeaderSelector s : sels) {
            expect(first.equals(s.getLeader().getId()), s.getId() + " sees leader " + s.getLeader().getId());
            expect(s == leader || !s.hasLeadership(), s.getId() + " also claims leadership");
        }
        leader.close();
        String second = took.poll(WAIT_MS, TimeUnit.MILLISECONDS);
        expect(second != null && !second.equals(first), "after the leader closed: next leader " + second);
        LeaderSelector next = sels.get(Integer.parseInt(second.substring(1)));
        waitFor("the new leader to be visible to all", WAIT_MS, () -> {
            try {
                return second.equals(next.getLeader().getId()) && next.getParticipants().size() == 2;
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        next.close();
        String third = took.poll(WAIT_MS, TimeUnit.MILLISECONDS);
        expect(third != null && !third.equals(first) && !third.equals(second), "third leader " + third);
        expect(maxLeaders.get() == 1, "up to " + maxLeaders.get() + " leaders at once");
        expect(terms.get() == 3, "leadership terms " + terms.get());
    }

    static void checkAtomicLong() throws Exception {
        final int clients = 3;
        final int threads = 2;
        final int incs = 10;
        CuratorFramework c0 = client();
        List<java.util.concurrent.Callable<String>> tasks = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            CuratorFramework c = client();
            for (int t = 0; t < threads; t++) {
                DistributedAtomicLong al = new DistributedAtomicLong(c, P("/along"), new RetryNTimes(1000, 1));
                tasks.add(() -> {
                    for (int k = 0; k < incs; k++) {
                        AtomicValue<Long> v = al.increment();
                        if (!v.succeeded()) {
                            return "increment failed after retries";
                        }
                        if (v.postValue() != v.preValue() + 1) {
                            return "pre " + v.preValue() + " post " + v.postValue();
                        }
                    }
                    return "done";
                });
            }
        }
        List<String> res = parallel(tasks);
        expect(res.stream().allMatch("done"::equals), "workers " + res);
        DistributedAtomicLong al = new DistributedAtomicLong(c0, P("/along"), new RetryNTimes(3, 10));
        AtomicValue<Long> v = al.get();
        long want = (long) clients * threads * incs;
        expect(v.succeeded() && v.postValue() == want, "value " + v.postValue() + ", expected " + want);
        AtomicValue<Long> cas = al.compareAndSet(want, 100L);
        expect(cas.succeeded() && al.get().postValue() == 100L, "compareAndSet");
        expect(!al.compareAndSet(want, 5L).succeeded(), "compareAndSet with a stale expected value succeeded");
    }

    static void checkBarriers() throws Exception {
        CuratorFramework a = client();
        CuratorFramework b = client();
        DistributedBarrier ba = new DistributedBarrier(a, P("/barrier"));
        DistributedBarrier bb = new DistributedBarrier(b, P("/barrier"));
        ba.setBarrier();
        expect(!bb.waitOnBarrier(200, TimeUnit.MILLISECONDS), "passed a set barrier");
        AtomicReference<String> res = new AtomicReference<>("pending");
        Thread t = new Thread(() -> {
            try {
                res.set(bb.waitOnBarrier(WAIT_MS, TimeUnit.MILLISECONDS) ? "passed" : "timed out");
            } catch (Exception e) {
                res.set(e.toString());
            }
        });
        t.start();
        ba.removeBarrier();
        t.join(WAIT_MS + 5000);
        expect("passed".equals(res.get()), "waiter after removeBarrier: " + res.get());

        /* double barrier: three members enter together and leave together */
        DistributedDoubleBarrier lonely = new DistributedDoubleBarrier(a, P("/dbarrier-lonely"), 3);
        expect(!lonely.enter(300, TimeUnit.MILLISECONDS), "entered a double barrier alone");
        List<java.util.concurrent.Callable<String>> tasks = new ArrayList<>();
        AtomicInteger entered = new AtomicInteger();
        for (int i = 0; i < 3; i++) {
            CuratorFramework c = client();
            DistributedDoubleBarrier db = new DistributedDoubleBarrier(c, P("/dbarrier"), 3);
            tasks.add(() -> {
                if (!db.enter(WAIT_MS, TimeUnit.MILLISECONDS)) {
                    return "enter timed out";
                }
                int n = entered.incrementAndGet();
                if (!db.leave(WAIT_MS, TimeUnit.MILLISECONDS)) {
                    return "leave timed out";
                }
                /* nobody leaves before all have entered */
                return entered.get() == 3 ? "done" : "left with " + n + " entered";
            });
        }
        List<String> out = parallel(tasks);
        expect(out.stream().allMatch("done"::equals), "members " + out);
        List<String> left = childrenLeft(a, P("/dbarrier"));
        expect(left.isEmpty(), "double barrier nodes left " + left);
    }

    static void checkCuratorCache() throws Exception {
        CuratorFramework c = client();
        CuratorFramework w = client();
        c.create().creatingParentsIfNeeded().forPath(P("/cc/a/b"), b("b"));
        c.setData().forPath(P("/cc/a"), b("a"));
        c.setData().forPath(P("/cc"), b("root"));
        BlockingQueue<String> evs = new LinkedBlockingQueue<>();
        CountDownLatch init = new CountDownLatch(1);
        CuratorCache cache = track(CuratorCache.build(w, P("/cc")));
        cache.listenable().addListener(new CuratorCacheListener() {
            @Override
            public void event(Type type, ChildData oldData, ChildData data) {
                ChildData d = data != null ? data : oldData;
                evs.add(type + " " + d.getPath() + " " + s(d.getData())
                        + (oldData != null && data != null ? " old=" + s(oldData.getData()) : ""));
            }

            @Override
            public void initialized() {
                init.countDown();
            }
        });
        cache.start();
        expect(init.await(WAIT_MS, TimeUnit.MILLISECONDS), "CuratorCache never initialized");
        expect(cache.size() == 3, "initial cache size " + cache.size());
        Optional<ChildData> ab = cache.get(P("/cc/a/b"));
        expect(ab.isPresent() && "b".equals(s(ab.get().getData())), "initial /cc/a/b " + ab);
        expect("root".equals(s(cache.get(P("/cc")).get().getData())), "initial /cc data");
        List<String> initial = new ArrayList<>();
        evs.drainTo(initial);
        Collections.sort(initial);
        expect(initial.equals(Arrays.asList("NODE_CREATED " + P("/cc") + " root",
                "NODE_CREATED " + P("/cc/a") + " a", "NODE_CREATED " + P("/cc/a/b") + " b")),
                "initial events " + initial);
        /* descendants at any depth, changed by another client */
        c.create().forPath(P("/cc/a/b/c"), b("c"));
        awaitEvent(evs, "NODE_CREATED " + P("/cc/a/b/c") + " c");
        c.setData().forPath(P("/cc/a/b/c"), b("c2"));
        awaitEvent(evs, "NODE_CHANGED " + P("/cc/a/b/c") + " c2 old=c");
        c.setData().forPath(P("/cc/a"), b("a2"));
        awaitEvent(evs, "NODE_CHANGED " + P("/cc/a") + " a2 old=a");
        c.delete().forPath(P("/cc/a/b/c"));
        awaitEvent(evs, "NODE_DELETED " + P("/cc/a/b/c") + " c2");
        c.create().creatingParentsIfNeeded().forPath(P("/cc/x/y/z"), b("deep"));
        awaitEvent(evs, "NODE_CREATED " + P("/cc/x/y/z") + " deep");
        c.delete().deletingChildrenIfNeeded().forPath(P("/cc/x"));
        awaitEvent(evs, "NODE_DELETED " + P("/cc/x"), e -> e.startsWith("NODE_DELETED " + P("/cc/x") + " "));
        expect(!cache.get(P("/cc/x/y/z")).isPresent() && !cache.get(P("/cc/x")).isPresent(),
                "deleted nodes still cached");
        expect(cache.size() == 3, "final cache size " + cache.size());
    }

    static void checkPersistentWatcher() throws Exception {
        CuratorFramework c = client();
        CuratorFramework w = client();
        c.create().creatingParentsIfNeeded().forPath(P("/pw/rec"));
        c.create().creatingParentsIfNeeded().forPath(P("/pw/one"));
        BlockingQueue<String> rec = new LinkedBlockingQueue<>();
        BlockingQueue<String> one = new LinkedBlockingQueue<>();
        PersistentWatcher pr = track(new PersistentWatcher(w, P("/pw/rec"), true));
        pr.getListenable().addListener(e -> rec.add(e.getType() + " " + e.getPath()));
        PersistentWatcher po = track(new PersistentWatcher(w, P("/pw/one"), false));
        po.getListenable().addListener(e -> one.add(e.getType() + " " + e.getPath()));
        CountDownLatch reset = new CountDownLatch(2);
        pr.getResetListenable().addListener(reset::countDown);
        po.getResetListenable().addListener(reset::countDown);
        pr.start();
        po.start();
        expect(reset.await(WAIT_MS, TimeUnit.MILLISECONDS), "persistent watches not set (addWatch)");

        c.create().forPath(P("/pw/rec/x"));
        awaitEvent(rec, "NodeCreated " + P("/pw/rec/x"));
        c.create().forPath(P("/pw/rec/x/y"), b("1"));
        awaitEvent(rec, "NodeCreated " + P("/pw/rec/x/y"));
        c.setData().forPath(P("/pw/rec/x/y"), b("2"));
        awaitEvent(rec, "NodeDataChanged " + P("/pw/rec/x/y"));
        c.setData().forPath(P("/pw/rec/x/y"), b("3")); // still armed: persistent
        awaitEvent(rec, "NodeDataChanged " + P("/pw/rec/x/y"));
        c.delete().forPath(P("/pw/rec/x/y"));
        awaitEvent(rec, "NodeDeleted " + P("/pw/rec/x/y"));
        c.setData().forPath(P("/pw/rec"), b("r"));
        String e = awaitEvent(rec, "NodeDataChanged " + P("/pw/rec"),
                ev -> ev.equals("NodeDataChanged " + P("/pw/rec")) || ev.startsWith("NodeChildrenChanged"));
        expect(!e.startsWith("NodeChildrenChanged"), "recursive watch delivered " + e);

        c.setData().forPath(P("/pw/one"), b("1"));
        awaitEvent(one, "NodeDataChanged " + P("/pw/one"));
        c.setData().forPath(P("/pw/one"), b("2"));
        awaitEvent(one, "NodeDataChanged " + P("/pw/one"));
        c.create().forPath(P("/pw/one/kid"));
        awaitEvent(one, "NodeChildrenChanged " + P("/pw/one"));
        c.setData().forPath(P("/pw/one/kid"), b("k")); // not watched by a non-recursive watch
        c.delete().forPath(P("/pw/one/kid"));
        e = awaitEvent(one, "NodeChildrenChanged " + P("/pw/one"), ev -> !ev.startsWith("None"));
        expect(e.equals("NodeChildrenChanged " + P("/pw/one")), "non-recursive watch delivered " + e);
        expect(rec.stream().noneMatch(x -> x.startsWith("NodeChildrenChanged")), "recursive saw " + rec);
    }

    static void checkNodeCache() throws Exception {
        CuratorFramework c = client();
        CuratorFramework w = client();
        c.create().creatingParentsIfNeeded().forPath(P("/nc"));
        NodeCache nc = track(new NodeCache(w, P("/nc/n")));
        BlockingQueue<String> evs = new LinkedBlockingQueue<>();
        nc.getListenable().addListener(() -> {
            ChildData d = nc.getCurrentData();
            evs.add(d == null ? "gone" : s(d.getData()));
        });
        nc.start(true);
        expect(nc.getCurrentData() == null, "initial data of a missing node " + nc.getCurrentData());
        c.create().forPath(P("/nc/n"), b("v1"));
        awaitEvent(evs, "v1");
        c.setData().forPath(P("/nc/n"), b("v2"));
        awaitEvent(evs, "v2");
        expect(nc.getCurrentData().getStat().getVersion() == 1, "cached stat " + nc.getCurrentData().getStat());
        c.delete().forPath(P("/nc/n"));
        awaitEvent(evs, "gone");
        c.create().forPath(P("/nc/n"), b("v3"));
        awaitEvent(evs, "v3");
    }

    static void checkPathChildrenCache() throws Exception {
        CuratorFramework c = client();
        CuratorFramework w = client();
        c.create().creatingParentsIfNeeded().forPath(P("/pcc/c1"), b("one"));
        PathChildrenCache pcc = track(new PathChildrenCache(w, P("/pcc"), true));
        BlockingQueue<String> evs = new LinkedBlockingQueue<>();
        pcc.getListenable().addListener((cl, e) -> evs.add(e.getType()
                + (e.getData() != null ? " " + e.getData().getPath() + " " + s(e.getData().getData()) : "")));
        pcc.start(PathChildrenCache.StartMode.POST_INITIALIZED_EVENT);
        awaitEvent(evs, "CHILD_ADDED " + P("/pcc/c1") + " one");
        awaitEvent(evs, "INITIALIZED");
        c.create().forPath(P("/pcc/c2"), b("two"));
        awaitEvent(evs, "CHILD_ADDED " + P("/pcc/c2") + " two");
        c.setData().forPath(P("/pcc/c1"), b("uno"));
        awaitEvent(evs, "CHILD_UPDATED " + P("/pcc/c1") + " uno");
        c.delete().forPath(P("/pcc/c2"));
        awaitEvent(evs, "CHILD_REMOVED " + P("/pcc/c2") + " two");
        List<ChildData> cur = pcc.getCurrentData();
        expect(cur.size() == 1 && P("/pcc/c1").equals(cur.get(0).getPath())
                && "uno".equals(s(cur.get(0).getData())), "current children " + cur);
    }

    static void checkTreeCache() throws Exception {
        CuratorFramework c = client();
        CuratorFramework w = client();
        c.create().creatingParentsIfNeeded().forPath(P("/tc/a/b"), b("b"));
        TreeCache tc = track(TreeCache.newBuilder(w, P("/tc")).setCacheData(true).build());
        BlockingQueue<String> evs = new LinkedBlockingQueue<>();
        tc.getListenable().addListener((cl, e) -> evs.add(e.getType()
                + (e.getData() != null ? " " + e.getData().getPath() + " " + s(e.getData().getData()) : "")));
        tc.start();
        awaitEvent(evs, "INITIALIZED");
        expect(tc.getCurrentData(P("/tc/a/b")) != null && "b".equals(s(tc.getCurrentData(P("/tc/a/b")).getData())),
                "initial /tc/a/b");
        expect(tc.getCurrentChildren(P("/tc")).keySet().equals(Collections.singleton("a")), "children of /tc");
        c.create().forPath(P("/tc/a/b/c"), b("c"));
        awaitEvent(evs, "NODE_ADDED " + P("/tc/a/b/c") + " c");
        c.setData().forPath(P("/tc/a/b/c"), b("c2"));
        awaitEvent(evs, "NODE_UPDATED " + P("/tc/a/b/c") + " c2");
        c.delete().forPath(P("/tc/a/b/c"));
        awaitEvent(evs, "NODE_REMOVED " + P("/tc/a/b/c") + " c2");
        c.delete().deletingChildrenIfNeeded().forPath(P("/tc/a"));
        awaitEvent(evs, "NODE_REMOVED " + P("/tc/a/b") + " b");
        awaitEvent(evs, "NODE_REMOVED " + P("/tc/a"), e -> e.startsWith("NODE_REMOVED " + P("/tc/a") + " "));
        expect(tc.getCurrentChildren(P("/tc")).isEmpty(), "children after delete " + tc.getCurrentChildren(P("/tc")));
    }

    static void checkSharedCount() throws Exception {
        CuratorFramework a = client();
        CuratorFramework b = client();
        SharedCount ca = track(new SharedCount(a, P("/count"), 7));
        SharedCount cb = track(new SharedCount(b, P("/count"), 99)); // seed ignored: node exists
        ca.start();
        cb.start();
        expect(ca.getCount() == 7 && cb.getCount() == 7, "seeded counts " + ca.getCount() + " / " + cb.getCount());
        BlockingQueue<String> seen = new LinkedBlockingQueue<>();
        cb.addListener(new SharedCountListener() {
            @Override
            public void countHasChanged(SharedCountReader r, int n) {
                seen.add(Integer.toString(n));
            }

            @Override
            public void stateChanged(CuratorFramework cl, ConnectionState st) {
            }
        });
        ca.setCount(11);
        awaitEvent(seen, "11");
        waitFor("b's count to read 11", WAIT_MS, () -> cb.getCount() == 11);
        waitFor("a's count to read 11", WAIT_MS, () -> ca.getCount() == 11);
        VersionedValue<Integer> stale = ca.getVersionedValue();
        VersionedValue<Integer> vb = cb.getVersionedValue();
        expect(vb.getValue() == 11 && vb.getVersion() == stale.getVersion(), "versioned values " + vb.getValue()
                + "@" + vb.getVersion() + " / " + stale.getValue() + "@" + stale.getVersion());
        expect(cb.trySetCount(vb, 12), "trySetCount with the current version failed");
        expect(!ca.trySetCount(stale, 13), "trySetCount with a stale version succeeded");
        waitFor("a's count to read 12", WAIT_MS, () -> ca.getCount() == 12);
        expect(ca.trySetCount(ca.getVersionedValue(), 13), "trySetCount after refresh failed");
        awaitEvent(seen, "13");
    }


    static void checkWatchesSurviveReconnect() throws Exception {
        try (TcpRelay proxy = new TcpRelay(hostport)) {
            BlockingQueue<ConnectionState> states = new LinkedBlockingQueue<>();
            CuratorFramework c = client(proxy.hostport(), null);
            c.getConnectionStateListenable().addListener((cl, st) -> states.add(st));
            CuratorFramework other = client();
            other.create().creatingParentsIfNeeded().forPath(P("/rc/tree/a"), b("a0"));
            other.create().forPath(P("/rc/one"), b("o0"));
            long sid = sessionId(c);
            /* a persistent recursive watch (CuratorCache), a one-shot data watch (NodeCache), a
             * one-shot child watch set by hand */
            BlockingQueue<String> cevs = new LinkedBlockingQueue<>();
            CountDownLatch init = new CountDownLatch(1);
            CuratorCache cache = track(CuratorCache.build(c, P("/rc/tree")));
            cache.listenable().addListener(CuratorCacheListener.builder()
                    .forCreates(d -> cevs.add("created " + d.getPath() + " " + s(d.getData())))
                    .forChanges((o, d) -> cevs.add("changed " + d.getPath() + " " + s(d.getData())))
                    .forDeletes(d -> cevs.add("deleted " + d.getPath()))
                    .forInitialized(init::countDown).build());
            cache.start();
            expect(init.await(WAIT_MS, TimeUnit.MILLISECONDS), "cache not initialized");
            cevs.clear();
            NodeCache nc = track(new NodeCache(c, P("/rc/one")));
            BlockingQueue<String> nevs = new LinkedBlockingQueue<>();
            nc.getListenable().addListener(() -> nevs.add(nc.getCurrentData() == null ? "gone"
                    : s(nc.getCurrentData().getData())));
            nc.start(true);
            BlockingQueue<String> wevs = new LinkedBlockingQueue<>();
            c.getChildren().usingWatcher((Watcher) e -> wevs.add(e.getType() + " " + e.getPath())).forPath(P("/rc"));

            proxy.cut();
            awaitState(states, ConnectionState.SUSPENDED);
            /* changes while the client is away */
            other.setData().forPath(P("/rc/tree/a"), b("a1"));
            other.create().forPath(P("/rc/tree/b"), b("b0"));
            other.setData().forPath(P("/rc/one"), b("o1"));
            other.create().forPath(P("/rc/new"));
            proxy.restore();
            awaitState(states, ConnectionState.RECONNECTED);
            expect(sessionId(c) == sid, "session changed across a reconnect");
            /* one-shot watches re-registered with setWatches fire for what was missed */
            awaitEvent(wevs, "NodeChildrenChanged " + P("/rc"));
            awaitEvent(nevs, "o1");
            /* the cache catches up and its persistent recursive watch works again */
            awaitEvent(cevs, "changed " + P("/rc/tree/a") + " a1");
            awaitEvent(cevs, "created " + P("/rc/tree/b") + " b0");
            other.create().forPath(P("/rc/tree/b/c"), b("c0"));
            awaitEvent(cevs, "created " + P("/rc/tree/b/c") + " c0");
            other.delete().forPath(P("/rc/tree/a"));
            awaitEvent(cevs, "deleted " + P("/rc/tree/a"));
            other.setData().forPath(P("/rc/one"), b("o2"));
            awaitEvent(nevs, "o2");
        }
    }

    static void checkDistributedQueue() throws Exception {
        final int producers = 2;
        final int items = 10;
        QueueSerializer<String> ser = new QueueSerializer<String>() {
            @Override
            public byte[] serialize(String item) {
                return b(item);
            }

            @Override
            public String deserialize(byte[] bytes) {
                return s(bytes);
            }
        };
        List<String> consumed = new CopyOnWriteArrayList<>();
        for (int i = 0; i < 2; i++) {
            CuratorFramework c = client();
            QueueConsumer<String> qc = new QueueConsumer<String>() {
                @Override
                public void consumeMessage(String m) {
                    consumed.add(m);
                }

                @Override
                public void stateChanged(CuratorFramework cl, ConnectionState st) {
                }
            };
            DistributedQueue<String> q = track(QueueBuilder.builder(c, qc, ser, P("/queue/items"))
                    .lockPath(P("/queue/locks")).buildQueue());
            q.start();
        }
        List<java.util.concurrent.Callable<String>> tasks = new ArrayList<>();
        for (int p = 0; p < producers; p++) {
            CuratorFramework c = client();
            DistributedQueue<String> q = track(QueueBuilder.builder(c, null, ser, P("/queue/items")).buildQueue());
            q.start();
            String who = "p" + p;
            tasks.add(() -> {
                for (int k = 0; k < items; k++) {
                    q.put(who + "-" + k);
                }
                return "done";
            });
        }
        List<String> res = parallel(tasks);
        expect(res.stream().allMatch("done"::equals), "producers " + res);
        waitFor("all " + producers * items + " items to be consumed", WAIT_MS,
                () -> consumed.size() >= producers * items);
        List<String> sorted = new ArrayList<>(consumed);
        Collections.sort(sorted);
        List<String> want = new ArrayList<>();
        for (int p = 0; p < producers; p++) {
            for (int k = 0; k < items; k++) {
                want.add("p" + p + "-" + k);
            }
        }
        Collections.sort(want);
        expect(sorted.equals(want), "consumed " + sorted);
        expect(consumed.size() == producers * items, "consumed " + consumed.size() + " items (duplicates?)");
    }

    static void checkGroupMember() throws Exception {
        List<GroupMember> members = new ArrayList<>();
        List<CuratorFramework> clients = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            CuratorFramework c = client();
            clients.add(c);
            GroupMember m = track(new GroupMember(c, P("/group"), "m" + i, b("d" + i)));
            members.add(m);
            m.start();
        }
        for (GroupMember m : members) {
            waitFor("a member to see all three", WAIT_MS, () -> m.getCurrentMembers().size() == 3);
        }
        expect("d1".equals(s(members.get(0).getCurrentMembers().get("m1"))), "member data "
                + members.get(0).getCurrentMembers());
        members.get(1).setThisData(b("new"));
        waitFor("m1's new data to reach m0", WAIT_MS,
                () -> "new".equals(s(members.get(0).getCurrentMembers().get("m1"))));
        clients.get(2).close(); // session close removes its member node
        waitFor("m2 to leave the group", WAIT_MS, () -> members.get(0).getCurrentMembers().size() == 2
                && !members.get(0).getCurrentMembers().containsKey("m2"));
    }

    /* ------------------------------------------------------------------ main */

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: CuratorTest HOST:PORT");
            System.exit(2);
        }
        hostport = args[0];
        root = "/curator-" + ProcessHandle.current().pid();
        long t0 = now();
        try (CuratorFramework setup = CuratorFrameworkFactory.newClient(hostport, SESSION_TIMEOUT_MS,
                CONNECT_TIMEOUT_MS, new RetryNTimes(3, 200))) {
            setup.start();
            if (!setup.blockUntilConnected(CONNECT_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                System.out.println("FAIL setup: no connection to " + hostport);
                System.exit(1);
            }
            setup.create().forPath(root);
        }
        String only = args.length > 1 ? args[1] : null; // optional: run the checks whose name contains it
        Object[][] all = {
            {"connect_state_listener", (Check) CuratorTest::checkConnect},
            {"ensemble_tracker_connection_string", (Check) CuratorTest::checkEnsembleTracker},
            {"create_parent_containers_ephemeral_sequential", (Check) CuratorTest::checkCreateContainersEphemeralSequential},
            {"create_or_set_data", (Check) CuratorTest::checkCreateOrSetData},
            {"set_get_data_versions", (Check) CuratorTest::checkSetGetDataVersions},
            {"children_exists_delete_recursive_sync", (Check) CuratorTest::checkChildrenExistsDeleteRecursive},
            {"transaction", (Check) CuratorTest::checkTransaction},
            {"acl_digest_auth", (Check) CuratorTest::checkAclAuth},
            {"add_remove_watches_reconfig", (Check) CuratorTest::checkRemoveWatches},
            {"container_and_ttl_reaping", (Check) CuratorTest::checkTtlAndContainerReaping},
            {"persistent_ttl_node", (Check) CuratorTest::checkPersistentTtlNode},
            {"session_expiry_persistent_node", (Check) CuratorTest::checkSessionExpiryAndPersistentNode},
            {"mutex_three_clients", (Check) CuratorTest::checkMutexContention},
            {"mutex_reentrant_release_on_close", (Check) CuratorTest::checkMutexReentrancyAndRelease},
            {"read_write_lock", (Check) CuratorTest::checkReadWriteLock},
            {"semaphore_v2", (Check) CuratorTest::checkSemaphore},
            {"leader_latch", (Check) CuratorTest::checkLeaderLatch},
            {"leader_selector", (Check) CuratorTest::checkLeaderSelector},
            {"distributed_atomic_long", (Check) CuratorTest::checkAtomicLong},
            {"barriers", (Check) CuratorTest::checkBarriers},
            {"curator_cache", (Check) CuratorTest::checkCuratorCache},
            {"persistent_watcher", (Check) CuratorTest::checkPersistentWatcher},
            {"node_cache", (Check) CuratorTest::checkNodeCache},
            {"path_children_cache", (Check) CuratorTest::checkPathChildrenCache},
            {"tree_cache", (Check) CuratorTest::checkTreeCache},
            {"shared_count", (Check) CuratorTest::checkSharedCount},
            {"distributed_queue", (Check) CuratorTest::checkDistributedQueue},
            {"group_member", (Check) CuratorTest::checkGroupMember},
            {"watches_survive_reconnect", (Check) CuratorTest::checkWatchesSurviveReconnect},
        };
        for (Object[] c : all) {
            String name = (String) c[0];
            if (only == null || name.contains(only)) {
                run(name, (Check) c[1]);
            }
        }
        System.out.println((failures == 0 ? "all Curator checks passed" : failures + " Curator check(s) FAILED")
                + " in " + (now() - t0) + " ms");
        System.out.flush();
        System.exit(failures == 0 ? 0 : 1);
    }
}
