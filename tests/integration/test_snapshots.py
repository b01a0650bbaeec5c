"""Snapshots on demand (SIGUSR1) and by snapCount, log rolls, and autopurge.

zkd-only for the signal (ZooKeeper 3.8 has no snapshot command without its
AdminServer); the file layout checked here is ZooKeeper's.
"""
import os
import shutil
import signal
import tempfile
import time

import pytest
from kazoo.client import KazooClient

import zkservers

pytestmark = pytest.mark.skipif(zkservers.default_target() != "zkd",
                                reason="SIGUSR1 snapshots are a zkd feature")


def files(data_dir, prefix):
    d = os.path.join(data_dir, "version-2")
    return sorted((int(n.split(".", 1)[1], 16), n) for n in os.listdir(d)
                  if n.startswith(prefix + ".") and "tmp" not in n)


def wait_for(cond, what, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    pytest.fail("timed out waiting for " + what)


@pytest.fixture
def data_dir():
    d = tempfile.mkdtemp(prefix="zkt-snaps-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def client(srv):
    c = KazooClient(hosts=srv.hostport, timeout=10.0)
    c.start(timeout=10)
    return c


def test_sigusr1_snapshot_purge_and_restart(data_dir):
    srv = zkservers.Server(kind="zkd", cfg={"dataDir": data_dir, "snapCount": "1000000"})
    srv.start()
    try:
        assert [n for _, n in files(data_dir, "snapshot")] == ["snapshot.0"]
        c = client(srv)
        last = 0
        for round_ in range(6):
            for i in range(5):
                c.create("/r%d-%d" % (round_, i), b"x")
            last = c.exists("/r%d-4" % round_).czxid
            srv.proc.send_signal(signal.SIGUSR1)
            wait_for(lambda: last in [z for z, _ in files(data_dir, "snapshot")],
                     "snapshot.%x after SIGUSR1" % last)
        # each snapshot rolled the log: a new log file starts after it
        logs = files(data_dir, "log")
        assert len(logs) >= 6, logs
        c.stop()
        c.close()
    finally:
        srv.stop()
    snaps_before = files(data_dir, "snapshot")
    assert len(snaps_before) == 7, snaps_before

    # autopurge runs at startup: keep the 3 newest snapshots and the logs they need
    srv = zkservers.Server(kind="zkd", cfg={"dataDir": data_dir, "autopurge.purgeInterval": "1",
                                            "autopurge.snapRetainCount": "3"})
    srv.start()
    try:
        # a startup snapshot may be added (txns were replayed): wait for purge to settle
        wait_for(lambda: len(files(data_dir, "snapshot")) <= 4, "autopurge")
        snaps = files(data_dir, "snapshot")
        oldest_kept = snaps[-3][0] if len(snaps) >= 3 else snaps[0][0]
        logs = files(data_dir, "log")
        assert logs[0][0] <= oldest_kept, (snaps, logs)
        assert all(z >= snaps_before[-3][0] for z, _ in snaps), (snaps_before, snaps)
        c = client(srv)
        for round_ in range(6):
            for i in range(5):
                assert c.exists("/r%d-%d" % (round_, i)) is not None
        c.stop()
        c.close()
    finally:
        srv.stop()


def test_snap_count_rolls_logs_and_snapshots(data_dir):
    srv = zkservers.Server(kind="zkd", cfg={"dataDir": data_dir, "snapCount": "20"})
    srv.start()
    try:
        c = client(srv)
        for i in range(120):
            c.create("/n%d" % i, b"v")
        # snapCount 20: a snapshot every 10..20 txns
        wait_for(lambda: len(files(data_dir, "snapshot")) >= 6, "snapshots from snapCount")
        logs = files(data_dir, "log")
        assert len(logs) >= 6, logs
        # every log is named after its first txn: names strictly increase
        assert [z for z, _ in logs] == sorted(set(z for z, _ in logs))
        c.stop()
        c.close()
    finally:
        srv.stop()
    srv = zkservers.Server(kind="zkd", cfg={"dataDir": data_dir})
    srv.start()
    try:
        c = client(srv)
        assert len([n for n in c.get_children("/") if n.startswith("n")]) == 120
        c.stop()
        c.close()
    finally:
        srv.stop()
