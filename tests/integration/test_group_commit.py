"""Group commit: pipelined writes share fsyncs; forceSync=no makes none.

With forceSync=yes (the default) every write is answered only after its txn is
fsynced, but the log-writer thread syncs everything waiting in one fdatasync, so 500
pipelined creates need far fewer than 500 syncs. With forceSync=no the log is written
and never synced. Only calls on log.<zxid> files count: the thread that prepares the next
log file ahead writes zeros into tmp.log.next and syncs them once, whatever forceSync says,
so that the header of a log is durable before the log is named. Counted with strace on
zkd's own system calls (zkd-only).
"""
import re
import socket
import struct

import pytest
import zkservers
import zktrace

N = 500

pytestmark = pytest.mark.skipif(zkservers.default_target() != "zkd",
                                reason="inspects zkd's own system calls")


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


def _ustr(s):
    return struct.pack(">i", len(s)) + s


def _create_body(path, data):
    acl = struct.pack(">i", 1) + struct.pack(">i", 31) + _ustr(b"world") + _ustr(b"anyone")
    return _ustr(path) + _ustr(data) + acl + struct.pack(">i", 0)


def _count_syncs(srv, tag):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=20)
    try:
        s.sendall(_frame(struct.pack(">iqiq", 0, 0, 30000, 0) + struct.pack(">i", 16)
                         + b"\0" * 16 + b"\0"))
        _recv_exact(s, 4 + 37)
        with zktrace.strace(srv.proc.pid, ["fsync", "fdatasync", "pwrite64"],
                            paths=True) as trace:
            stream = b"".join(_frame(struct.pack(">ii", i + 1, 1)
                                     + _create_body(b"/%s-%d" % (tag, i), b"d"))
                              for i in range(N))
            s.sendall(stream)
            for i in range(N):
                n = struct.unpack(">i", _recv_exact(s, 4))[0]
                xid, _zxid, err = struct.unpack(">iqi", _recv_exact(s, n)[:16])
                assert (xid, err) == (i + 1, 0)
    finally:
        s.close()
    # only calls on the transaction log itself: the thread that prepares the next log
    # file (zeros, then one fdatasync: src/store.c) may still be at its first file
    log = re.compile(r"\(\d+</[^>]*/log\.[0-9a-f]+>")
    return ([l for l in trace.calls("fsync", "fdatasync") if log.search(l)],
            [l for l in trace.calls("pwrite64") if log.search(l)])


def test_pipelined_writes_share_fsyncs(server_factory):
    srv = server_factory()
    syncs, writes = _count_syncs(srv, b"g")
    print("%d fsyncs and %d log writes for %d pipelined creates" % (len(syncs), len(writes), N))
    assert writes, "the log was never written"
    assert syncs, "no fsync at all with forceSync=yes"
    assert len(syncs) <= N // 5, "%d fsyncs for %d pipelined writes: no group commit" % (
        len(syncs), N)


def test_force_sync_no_writes_without_fsync(server_factory):
    srv = server_factory(cfg={"forceSync": "no"})
    syncs, writes = _count_syncs(srv, b"n")
    assert writes, "the log was never written"
    assert not syncs, "forceSync=no but zkd synced:\n%s" % "\n".join(syncs[:10])
