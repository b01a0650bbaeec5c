"""A client alone on the server, writing one request at a time, then pipelining.

zkd syncs the single outstanding write of a client that has been alone for 100 ms on its
event loop instead of the log-writer thread (docs/ARCHITECTURE.md, "A lone writer syncs
on the loop"). Goal: that path answers everything a lone client sends, in order and
without waiting for a timer: a set queued behind a get that waits for an earlier set
starts only when that set is applied, and must be synced and answered then, not at the
loop's next timer (up to a second later; the first version of the path stalled there).
Method: kazoo, alone on a fresh server; 300 ms of depth-1 sets, then bursts of
set/get/set sent back to back. The bound on a burst (0.5 s) is far above a burst's
normal time (about a millisecond) and under the stall; it detects the stall, it does not
measure speed. Server-agnostic: passes against ZooKeeper (ZK_TARGET=zookeeper).
"""
import time

from kazoo.client import KazooClient

BURSTS = 100


def test_pipelined_writes_of_a_lone_client_are_answered_in_order_without_a_stall(server_factory):
    s = server_factory()
    zk = KazooClient(hosts=s.hostport, timeout=10)
    zk.start(timeout=15)
    try:
        zk.create("/lone", b"0")
        end = time.monotonic() + 0.3
        n = 0
        while time.monotonic() < end:
            n += 1
            zk.set("/lone", b"%d" % n)
        assert zk.get("/lone")[1].version == n
        worst = 0.0
        for i in range(BURSTS):
            t0 = time.monotonic()
            a = zk.set_async("/lone", b"a%d" % i)
            b = zk.get_async("/lone")
            c = zk.set_async("/lone", b"c%d" % i)
            sc = c.get(timeout=10)
            worst = max(worst, time.monotonic() - t0)
            sa = a.get(timeout=10)
            data, sb = b.get(timeout=10)
            # the get sees the first set and not the second; versions follow the order
            assert data == b"a%d" % i
            assert sb.version == sa.version == n + 2 * i + 1
            assert sc.version == sa.version + 1
            assert sc.mzxid > sa.mzxid
            time.sleep(0.01)
        assert zk.get("/lone")[0] == b"c%d" % (BURSTS - 1)
        assert worst < 0.5, "a burst took %.3f s: a write waited for a timer" % worst
    finally:
        zk.stop()
        zk.close()
