"""Replies to pipelined requests leave in batches, not one write(2) per reply.

zkd appends replies to a per-connection output buffer and writes it once per event-loop
turn. This counts, with strace, the write system calls zkd makes to one client's socket
while answering 500 pipelined requests sent in a single segment. (zkd-only: it inspects
zkd's own system calls; the equivalent ZooKeeper behaviour is not a compatibility
surface.)
"""
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time

import pytest
import zkservers

N = 500


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        d = sock.recv(n - len(buf))
        if not d:
            raise EOFError("closed")
        buf += d
    return buf


def _frame(payload):
    return struct.pack(">i", len(payload)) + payload


@pytest.mark.skipif(zkservers.default_target() != "zkd",
                    reason="inspects zkd's own system calls")
def test_pipelined_replies_are_batched(server_factory):
    if shutil.which("strace") is None:
        pytest.fail("strace is required (scripts/deps.sh installs it)")
    srv = server_factory()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        s.sendall(_frame(struct.pack(">iqiq", 0, 0, 30000, 0) + struct.pack(">i", 16)
                         + b"\0" * 16 + b"\0"))
        _recv_exact(s, 4 + 37)
        local_port = s.getsockname()[1]
        trace = tempfile.NamedTemporaryFile(prefix="zkd-strace-", delete=False)
        trace.close()
        st = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=write,writev,sendmsg,sendto",
                               "-o", trace.name, "-p", str(srv.proc.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            # strace prints nothing when attached with -qq; give it a moment to attach
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with open("/proc/%d/status" % srv.proc.pid) as f:
                    if re.search(r"TracerPid:\s+[1-9]", f.read()):
                        break
                time.sleep(0.02)
            else:
                pytest.fail("strace did not attach")
            path = b"/"
            body = struct.pack(">i", len(path)) + path + b"\0"
            stream = b"".join(_frame(struct.pack(">ii", i + 1, 3) + body) for i in range(N))
            s.sendall(stream)
            for i in range(N):
                n = struct.unpack(">i", _recv_exact(s, 4))[0]
                xid, _zxid, err = struct.unpack(">iqi", _recv_exact(s, n)[:16])
                assert (xid, err) == (i + 1, 0)
        finally:
            st.terminate()
            st.wait(timeout=10)
        with open(trace.name) as f:
            lines = f.read().splitlines()
        os.unlink(trace.name)
        # the client socket is the fd zkd writes replies to: count writes of reply-sized data
        writes = [l for l in lines if re.search(r"\b(write|writev|sendmsg|sendto)\(", l)]
        assert writes, "strace saw no writes at all"
        print("%d write calls for %d pipelined replies" % (len(writes), N))
        assert len(writes) <= N // 10, (
            "%d write calls for %d pipelined replies (expected batching):\n%s"
            % (len(writes), N, "\n".join(writes[:20])))
        assert local_port  # connection stayed up for the whole exchange
    finally:
        s.close()
