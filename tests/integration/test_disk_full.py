"""A full disk under the transaction log is fatal, reported clearly, and loses no
acknowledged write.

zkd runs in a private mount namespace (unshare) whose dataDir is a tiny tmpfs.
Clients write until the log cannot grow: zkd must exit with status 3 naming the
log file and the full disk, and a restart on a copy of that dataDir must hold
every write a client saw acknowledged.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException

import zkservers

pytestmark = pytest.mark.skipif(zkservers.default_target() != "zkd",
                                reason="runs zkd itself inside a mount namespace")


def unshare_prefix():
    """The unshare command that gives us a private mount namespace, or fail loudly."""
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is missing; run scripts/deps.sh")
    for prefix in (["unshare", "--mount", "--propagation", "private"],
                   ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"]):
        r = subprocess.run(prefix + ["true"], capture_output=True)
        if r.returncode == 0:
            return prefix
    pytest.fail("cannot create a mount namespace with unshare (as root or with user "
                "namespaces); this test needs one to give zkd a small filesystem")


def test_enospc_on_log_is_fatal_and_loses_nothing():
    prefix = unshare_prefix()
    work = tempfile.mkdtemp(prefix="zkt-diskfull-")
    mnt = os.path.join(work, "mnt")
    out = os.path.join(work, "out")
    os.makedirs(mnt)
    os.makedirs(out)
    port = zkservers.free_port()
    cfg = os.path.join(work, "zoo.cfg")
    with open(cfg, "w") as f:
        f.write("tickTime=2000\nclientPort=%d\nclientPortAddress=127.0.0.1\n"
                "dataDir=%s/data\nsnapCount=1000000\n" % (port, mnt))
    log_path = os.path.join(work, "server.log")
    script = ('mount -t tmpfs -o size=384k tmpfs "$1" || exit 90; "$2" "$3"; rc=$?; '
              'cp -a "$1/data" "$4/" || exit 91; exit $rc')
    proc = subprocess.Popen(prefix + ["sh", "-c", script, "sh", mnt, zkservers.zkd_bin(), cfg, out],
                            stdout=open(log_path, "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    client = None
    restarted = None
    try:
        deadline = time.time() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail("zkd exited during startup (%s):\n%s" % (proc.returncode,
                                                                      open(log_path).read()))
            try:
                if zkservers.four_letter(port, "srvr", timeout=1.0):
                    break
            except OSError:
                pass
            assert time.time() < deadline, "zkd did not start"
            time.sleep(0.05)
        client = KazooClient(hosts="127.0.0.1:%d" % port, timeout=10.0,
                             connection_retry={"max_tries": 0})
        client.start(timeout=10)
        acked = {}
        value = b"v" * 1000
        failed = False
        for i in range(2000):  # 384 KiB holds far fewer than 2000 records of 1 KiB
            path = "/n%04d" % i
            try:
                client.create(path, value + str(i).encode())
            except KazooException:
                failed = True
                break
            acked[path] = value + str(i).encode()
        assert failed, "the log never ran out of space"
        rc = proc.wait(timeout=30)
        text = open(log_path).read()
        assert rc == 3, "expected exit status 3 on a full disk, got %s:\n%s" % (rc, text)
        assert "FATAL" in text and "disk is full" in text and "log." in text, text
        assert len(acked) > 10, text
        # every acknowledged write is in what the full disk holds
        restarted = zkservers.Server(kind="zkd", cfg={"dataDir": os.path.join(out, "data")})
        restarted.start()
        c2 = KazooClient(hosts=restarted.hostport, timeout=10.0)
        c2.start(timeout=10)
        try:
            for path, data in acked.items():
                got = c2.get(path)[0]
                assert got == data, "acknowledged %s lost or changed after ENOSPC" % path
        finally:
            c2.stop()
            c2.close()
    finally:
        if client is not None:
            client.stop()
            client.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # our own process group, by PID
            proc.wait()
        if restarted is not None:
            restarted.stop()
        shutil.rmtree(work, ignore_errors=True)
