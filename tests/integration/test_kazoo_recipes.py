"""kazoo recipes against the server, with real contention between sessions.

Worker threads never hang the run: they are daemons, joined with timeouts, and report
failures through a list the test asserts on.
"""
import threading

import pytest
from kazoo.exceptions import LockTimeout
from kazoo.recipe.cache import TreeCache, TreeEvent

from test_kazoo_helpers import wait_until
from test_kazoo_helpers import path, zk, zk_factory  # noqa: F401  (fixtures)

# kazoo 2.8's recipes call the deprecated Event.isSet()
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FAST_CMD_RETRY = dict(max_tries=-1, delay=0.005, backoff=1.2, max_delay=0.05)


class Workers:
    def __init__(self):
        self.threads = []
        self.errors = []

    def start(self, fn, *args):
        def run():
            try:
                fn(*args)
            except BaseException as e:  # reported by join()
                self.errors.append(repr(e))
        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.threads.append(t)
        return t

    def join(self, timeout=30):
        for t in self.threads:
            t.join(timeout)
        assert not any(t.is_alive() for t in self.threads), "worker thread hung"
        assert self.errors == []


# ---------------------------------------------------------------------------------------
# Lock


def test_lock_mutual_exclusion(zk_factory, path):
    clients = [zk_factory() for _ in range(3)]
    clients[0].create(path + "-counter", b"0")
    holder = []
    overlaps = []
    w = Workers()

    def worker(c, name):
        lock = c.Lock(path, name)
        for _ in range(5):
            with lock:
                if holder:
                    overlaps.append((name, list(holder)))
                holder.append(name)
                v = int(c.get(path + "-counter")[0])
                c.set(path + "-counter", str(v + 1).encode())  # unconditional: lost updates
                holder.remove(name)                             # show up if exclusion fails

    for i, c in enumerate(clients):
        for j in range(2):
            w.start(worker, c, "w%d%d" % (i, j))
    w.join(60)
    assert overlaps == []
    assert clients[0].get(path + "-counter")[0] == b"30"
    assert clients[0].get_children(path) == []  # every lock node was removed


def test_lock_fifo_and_nonblocking(zk_factory, path):
    c1, c2, c3 = zk_factory(), zk_factory(), zk_factory()
    l1, l2, l3 = c1.Lock(path, "one"), c2.Lock(path, "two"), c3.Lock(path, "three")
    assert l1.acquire(timeout=5)
    probe = c2.Lock(path, "probe")
    assert probe.acquire(blocking=False) is False
    with pytest.raises(LockTimeout):
        probe.acquire(timeout=0.2)
    order = []
    release = {"two": threading.Event(), "three": threading.Event()}
    w = Workers()

    def contend(lock, name):
        assert lock.acquire(timeout=20)
        order.append(name)
        assert release[name].wait(20)
        lock.release()

    w.start(contend, l2, "two")
    wait_until(lambda: len(l1.contenders()) == 2)
    w.start(contend, l3, "three")
    wait_until(lambda: len(l1.contenders()) == 3)
    assert l1.contenders() == ["one", "two", "three"]
    l1.release()
    wait_until(lambda: order == ["two"])
    assert l1.contenders() == ["two", "three"]
    release["two"].set()
    wait_until(lambda: order == ["two", "three"])
    release["three"].set()
    w.join()
    assert c1.get_children(path) == []


def test_lock_freed_by_session_close(zk_factory, path):
    c1, c2 = zk_factory(), zk_factory()
    l1 = c1.Lock(path, "one")
    assert l1.acquire(timeout=5)
    got = threading.Event()
    w = Workers()

    def waiter():
        lock = c2.Lock(path, "two")
        assert lock.acquire(timeout=20)
        got.set()
        lock.release()

    w.start(waiter)
    wait_until(lambda: len(c2.get_children(path)) == 2)
    assert not got.is_set()
    c1.stop()  # the holder's ephemeral lock node goes with its session
    assert got.wait(10)
    w.join()


def test_read_write_lock(zk_factory, path):
    c1, c2, c3 = zk_factory(), zk_factory(), zk_factory()
    r1, r2 = c1.ReadLock(path, "r1"), c2.ReadLock(path, "r2")
    wl = c3.WriteLock(path, "w")
    assert r1.acquire(timeout=5) and r2.acquire(timeout=5)  # readers share
    assert wl.acquire(blocking=False) is False
    r1.release()
    assert wl.acquire(blocking=False) is False
    r2.release()
    assert wl.acquire(timeout=5)
    r3 = c1.ReadLock(path, "r3")
    assert r3.acquire(blocking=False) is False
    wl.release()
    assert r3.acquire(timeout=5)
    r3.release()


# ---------------------------------------------------------------------------------------
# Election, Party


def test_election(zk_factory, path):
    clients = {n: zk_factory() for n in ("one", "two", "three")}
    leaders = []
    stop = {n: threading.Event() for n in clients}
    elections = {n: c.Election(path, n) for n, c in clients.items()}
    threads = []

    def lead(name):
        leaders.append(name)
        stop[name].wait(30)

    def run(name):
        try:
            elections[name].run(lead, name)
        except Exception:
            pass  # "two" loses its session while leading

    def start(name):
        t = threading.Thread(target=run, args=(name,), daemon=True)
        t.start()
        threads.append(t)

    start("one")
    wait_until(lambda: leaders == ["one"])
    start("two")
    wait_until(lambda: len(elections["one"].contenders()) == 2)
    start("three")
    wait_until(lambda: len(elections["one"].contenders()) == 3)
    assert elections["one"].contenders() == ["one", "two", "three"]
    stop["one"].set()  # the leader steps down
    wait_until(lambda: leaders == ["one", "two"])
    clients["two"].stop()  # the next leader dies: its ephemeral goes with the session
    wait_until(lambda: leaders == ["one", "two", "three"])
    assert elections["three"].contenders() == ["three"]
    for e in stop.values():
        e.set()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)


def test_party(zk_factory, path):
    c1, c2 = zk_factory(), zk_factory()
    p1, p2 = c1.Party(path, "one"), c2.Party(path, "two")
    p1.join()
    p2.join()
    assert len(p1) == 2 and sorted(p1) == ["one", "two"]
    c2.stop()  # members are ephemeral
    assert list(p1) == ["one"]
    p1.leave()
    assert len(p1) == 0
    s1 = c1.ShallowParty(path + "-shallow", "alpha")
    s1.join()
    s3 = zk_factory().ShallowParty(path + "-shallow", "beta")
    s3.join()
    assert sorted(s1) == ["alpha", "beta"]
    s3.leave()
    assert list(s1) == ["alpha"]


# ---------------------------------------------------------------------------------------
# Queues


def test_queue_priority_and_consumers(zk_factory, path):
    c1, c2 = [zk_factory(command_retry=dict(FAST_CMD_RETRY)) for _ in range(2)]
    q1, q2 = c1.Queue(path), c2.Queue(path)
    q1.put(b"low", priority=200)
    q1.put(b"high", priority=1)
    q1.put(b"mid")
    q1.put(b"mid2")
    assert len(q2) == 4
    assert [q2.get(), q1.get(), q2.get(), q1.get()] == [b"high", b"mid", b"mid2", b"low"]
    assert q1.get() is None and len(q1) == 0
    # two sessions draining one queue: every item exactly once
    items = [b"i%03d" % i for i in range(40)]
    for it in items:
        q1.put(it)
    got = {1: [], 2: []}
    w = Workers()

    def drain(q, key):
        while True:
            v = q.get()
            if v is None:
                return
            got[key].append(v)

    w.start(drain, c1.Queue(path), 1)
    w.start(drain, c2.Queue(path), 2)
    w.join(60)
    assert sorted(got[1] + got[2]) == items
    assert got[1] == sorted(got[1]) and got[2] == sorted(got[2])


def test_locking_queue(zk_factory, path):
    c1, c2 = zk_factory(), zk_factory()
    lq1, lq2 = c1.LockingQueue(path), c2.LockingQueue(path)
    lq1.put_all([b"a", b"b"])
    lq1.put(b"c", priority=200)
    assert len(lq2) == 3
    assert lq2.get(timeout=5) == b"a"  # locked by c2
    assert lq1.get(timeout=5) == b"b"  # c1 skips the locked entry
    assert lq1.holds_lock() and lq2.holds_lock()
    assert lq2.consume() is True
    assert lq2.holds_lock() is False
    assert lq1.release() is True       # back into the queue
    assert lq2.get(timeout=5) == b"b"
    assert lq2.consume() is True
    assert lq1.get(timeout=5) == b"c"
    c1.stop()                          # a holder's session ends: its lock goes
    assert lq2.get(timeout=5) == b"c"
    assert lq2.consume() is True
    assert len(lq2) == 0
    assert lq2.get(timeout=0.2) is None


# ---------------------------------------------------------------------------------------
# Barriers


def test_barrier(zk_factory, path):
    c1, c2 = zk_factory(), zk_factory()
    b1, b2 = c1.Barrier(path), c2.Barrier(path)
    assert b2.wait(timeout=0.05) is True  # no barrier node: nothing to wait for
    b1.create()
    assert b2.wait(timeout=0.2) is False
    passed = threading.Event()
    w = Workers()
    w.start(lambda: b2.wait(timeout=20) and passed.set())
    assert not passed.is_set()
    b1.remove()
    assert passed.wait(10)
    w.join()
    assert c1.exists(path) is None


def test_double_barrier(zk_factory, path):
    c1, c2 = zk_factory(), zk_factory()
    d1, d2 = c1.DoubleBarrier(path, 2, "one"), c2.DoubleBarrier(path, 2, "two")
    entered = {1: threading.Event(), 2: threading.Event()}
    may_leave = threading.Event()
    left = {1: threading.Event(), 2: threading.Event()}
    w = Workers()

    def member(d, k):
        d.enter()
        entered[k].set()
        assert may_leave.wait(20)
        d.leave()
        left[k].set()

    w.start(member, d1, 1)
    # one is in, waiting for two
    wait_until(lambda: c2.exists(path) and len(c2.get_children(path)) == 1)
    assert not entered[1].is_set()
    w.start(member, d2, 2)
    assert entered[1].wait(10) and entered[2].wait(10)
    assert d1.participating and d2.participating
    may_leave.set()
    assert left[1].wait(10) and left[2].wait(10)
    w.join()
    assert c1.get_children(path) == []


# ---------------------------------------------------------------------------------------
# Counter, Semaphore


def test_counter(zk_factory, path):
    c = zk_factory()
    counter = c.Counter(path)
    counter += 5
    assert counter.value == 5 and (counter.pre_value, counter.post_value) == (0, 5)
    counter -= 2
    assert counter.value == 3
    assert c.get(path)[0] == b"3"
    fc = c.Counter(path + "-f", default=1.5)
    fc += 2.25
    assert fc.value == 3.75


def test_counter_contention(zk_factory, path):
    clients = [zk_factory(command_retry=dict(FAST_CMD_RETRY)) for _ in range(2)]
    w = Workers()

    def bump(c):
        counter = c.Counter(path)
        for _ in range(25):
            counter += 1

    for c in clients:
        for _ in range(2):
            w.start(bump, c)
    w.join(60)
    assert clients[0].Counter(path).value == 100
    # each increment is one conditional setData
    assert clients[0].exists(path).version == 100


def test_semaphore(zk_factory, path):
    c1, c2, c3 = zk_factory(), zk_factory(), zk_factory()
    s1 = c1.Semaphore(path, "one", max_leases=2)
    s2 = c2.Semaphore(path, "two", max_leases=2)
    s3 = c3.Semaphore(path, "three", max_leases=2)
    assert s1.acquire(timeout=5) and s2.acquire(timeout=5)
    assert s3.acquire(blocking=False) is False
    assert sorted(s1.lease_holders()) == ["one", "two"]
    got = threading.Event()
    w = Workers()
    w.start(lambda: s3.acquire(timeout=20) and got.set())
    s1.release()
    assert got.wait(10)
    w.join()
    assert sorted(s2.lease_holders()) == ["three", "two"]
    c2.stop()  # a lease holder's session ends: its lease goes
    wait_until(lambda: s3.lease_holders() == ["three"])
    s3.release()
    assert s1.lease_holders() == []


# ---------------------------------------------------------------------------------------
# TreeCache (many data and child watches at once)


def test_tree_cache(zk_factory, path):
    a, b = zk_factory(), zk_factory()
    a.create(path + "/x", b"1", makepath=True)
    cache = TreeCache(b, path)
    events = []
    cache.listen(lambda ev: events.append((ev.event_type,
                                           ev.event_data.path if ev.event_data else None)))
    cache.start()
    try:
        wait_until(lambda: (TreeEvent.INITIALIZED, None) in events)
        assert cache.get_data(path + "/x").data == b"1"
        a.set(path + "/x", b"2")
        a.create(path + "/y/z", b"deep", makepath=True)
        wait_until(lambda: cache.get_data(path + "/y/z") is not None
                   and cache.get_data(path + "/x").data == b"2")
        assert cache.get_data(path + "/y/z").data == b"deep"
        assert sorted(cache.get_children(path)) == ["x", "y"]
        a.delete(path + "/x")
        wait_until(lambda: (TreeEvent.NODE_REMOVED, path + "/x") in events)
        assert cache.get_data(path + "/x") is None
        assert (TreeEvent.NODE_UPDATED, path + "/x") in events
        assert (TreeEvent.NODE_ADDED, path + "/y/z") in events
        assert cache.get_children(path) == frozenset(["y"])
    finally:
        cache.close()
