"""Replies to pipelined requests leave in batches, not one write(2) per reply.

zkd appends replies to a per-connection output buffer and writes it once per event-loop
turn. This counts, with strace, the write system calls zkd makes to one client's socket
while answering 500 pipelined requests sent in a single segment. (zkd-only: it inspects
zkd's own system calls; the equivalent ZooKeeper behaviour is not a compatibility
surface.)
"""
import socket
import struct

import pytest
import zkservers
import zktrace

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
    srv = server_factory()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        s.sendall(_frame(struct.pack(">iqiq", 0, 0, 30000, 0) + struct.pack(">i", 16)
                         + b"\0" * 16 + b"\0"))
        _recv_exact(s, 4 + 37)
        local_port = s.getsockname()[1]
        with zktrace.strace(srv.proc.pid, ["write", "writev", "sendmsg", "sendto"]) as trace:
            path = b"/"
            body = struct.pack(">i", len(path)) + path + b"\0"
            stream = b"".join(_frame(struct.pack(">ii", i + 1, 3) + body) for i in range(N))
            s.sendall(stream)
            for i in range(N):
                n = struct.unpack(">i", _recv_exact(s, 4))[0]
                xid, _zxid, err = struct.unpack(">iqi", _recv_exact(s, n)[:16])
                assert (xid, err) == (i + 1, 0)
        # the client socket is the fd zkd writes replies to: count writes of reply-sized data
        writes = trace.calls("write", "writev", "sendmsg", "sendto")
        assert writes, "strace saw no writes at all"
        print("%d write calls for %d pipelined replies" % (len(writes), N))
        assert len(writes) <= N // 10, (
            "%d write calls for %d pipelined replies (expected batching):\n%s"
            % (len(writes), N, "\n".join(writes[:20])))
        assert local_port  # connection stayed up for the whole exchange
    finally:
        s.close()
