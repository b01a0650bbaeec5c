"""Connection limits, checked against Apache ZooKeeper 3.8 and zkd alike.

maxClientCnxns bounds connections per client IP: the connection over the limit is
closed by the server at once, while the ones already open keep working.
"""
import socket
import struct
import time

import pytest

IO_TIMEOUT = 10.0


def _frame(payload):
    return struct.pack(">i", len(payload)) + payload


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        d = sock.recv(n - len(buf))
        if not d:
            raise EOFError("closed")
        buf += d
    return buf


def _handshake(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
    s.sendall(_frame(struct.pack(">iqiq", 0, 0, 30000, 0) + struct.pack(">i", 16) + b"\0" * 16
                     + b"\0"))
    n = struct.unpack(">i", _recv_exact(s, 4))[0]
    body = _recv_exact(s, n)
    timeout, sid = struct.unpack(">iq", body[4:16])
    assert timeout > 0 and sid != 0
    return s


def _exists_root(s, xid):
    path = b"/"
    s.sendall(_frame(struct.pack(">ii", xid, 3) + struct.pack(">i", len(path)) + path + b"\0"))
    n = struct.unpack(">i", _recv_exact(s, 4))[0]
    rxid, _zxid, err = struct.unpack(">iqi", _recv_exact(s, n)[:16])
    assert (rxid, err) == (xid, 0)


def _is_closed(sock, within):
    """True if the server closes this connection within `within` seconds."""
    sock.settimeout(within)
    try:
        sock.sendall(_frame(struct.pack(">iqiq", 0, 0, 30000, 0) + struct.pack(">i", 16)
                            + b"\0" * 16 + b"\0"))
        return sock.recv(4096) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def _wait_for_session(port, deadline_s=30.0):
    end = time.monotonic() + deadline_s
    while True:
        try:
            return _handshake(port)
        except (OSError, EOFError, AssertionError):
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def test_max_client_cnxns_per_ip(server_factory):
    srv = server_factory(cfg={"maxClientCnxns": "3"})
    first = _wait_for_session(srv.port)
    socks = [first, _handshake(srv.port), _handshake(srv.port)]
    try:
        extra = socket.create_connection(("127.0.0.1", srv.port), timeout=IO_TIMEOUT)
        try:
            assert _is_closed(extra, 5.0), "the 4th connection from one IP was not refused"
        finally:
            extra.close()
        # the three admitted connections are unaffected
        for i, s in enumerate(socks):
            _exists_root(s, i + 1)
        # closing one frees a slot
        socks.pop().close()
        deadline = time.monotonic() + 10
        while True:
            try:
                socks.append(_handshake(srv.port))
                break
            except (OSError, EOFError):
                if time.monotonic() > deadline:
                    pytest.fail("no connection slot after closing one")
                time.sleep(0.05)
        _exists_root(socks[-1], 9)
    finally:
        for s in socks:
            s.close()
