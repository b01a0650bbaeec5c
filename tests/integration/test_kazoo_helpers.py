"""Shared helpers and fixtures for the kazoo integration suite (test_kazoo_*.py).

This file holds no tests. The other test_kazoo_*.py modules import from it; pytest imports
it under the same module name, so there is exactly one copy.

Validate the suite against the reference first:
    ZK_TARGET=zookeeper /usr/bin/python3 -m pytest -q tests/integration/test_kazoo*.py
then judge zkd with ZK_TARGET=zkd (the default).
"""
import os
import socket
import struct
import sys
import threading
import time
import uuid

import pytest
from kazoo.client import KazooClient
from kazoo.protocol.serialization import Watch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import zkservers  # noqa: E402

TARGET = zkservers.default_target()
IS_ZKD = TARGET == "zkd"

# Raw notification type numbers (Watcher.Event.EventType) as they travel on the wire.
EV_CREATED, EV_DELETED, EV_CHANGED, EV_CHILD = 1, 2, 3, 4

# Reconnect quickly after a drop (kazoo's default backs off up to a minute).
FAST_RETRY = dict(max_tries=-1, delay=0.05, backoff=1.5, max_delay=0.5)


def wait_until(pred, timeout=10.0, interval=0.01, msg=None):
    """Poll pred() until it returns a truthy value (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(msg or "condition not met within %.1f s" % timeout)
        time.sleep(interval)


def uniq(prefix="/kz"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def now_ms():
    return int(time.time() * 1000)


def make_client(hosts, timeout=10.0, start=True, **kw):
    kw.setdefault("connection_retry", dict(FAST_RETRY))
    c = KazooClient(hosts=hosts, timeout=timeout, **kw)
    if start:
        c.start(timeout=15)
    return c


def stop_client(c):
    try:
        c.stop()
    except Exception:
        pass
    try:
        c.close()
    except Exception:
        pass


def wait_for_sessions(srv, timeout=30.0):
    """Return srv once it grants sessions. Apache ZooKeeper answers "ruok" (which is when
    Server.start() returns) a few hundred ms before it accepts ConnectRequests; until then
    it closes the connection without a reply."""
    def try_once():
        try:
            return raw_handshake(srv.port, 10000)["session_id"] != 0
        except OSError:
            return False
    wait_until(try_once, timeout=timeout, interval=0.05,
               msg="%s on port %d grants no session" % (srv.kind, srv.port))
    return srv


@pytest.fixture
def fresh_server(server_factory):
    """fresh_server(cfg=None, tick_ms=2000): a new server of the target kind, ready for
    sessions, stopped at the end of the test."""
    def make(**kw):
        return wait_for_sessions(server_factory(**kw))
    return make


def track_keeper_states(client):
    """Record kazoo's low-level KeeperState transitions (EXPIRED_SESSION, AUTH_FAILED, ...).
    KazooState listeners do not report LOST for a client that was never connected."""
    states = []
    orig = client._session_callback

    def cb(state):
        states.append(state)
        return orig(state)

    client._session_callback = cb
    return states


@pytest.fixture
def zk_factory(server, server_factory):
    """make(srv=None, hosts=None, timeout=10.0, start=True, **KazooClient kwargs).

    Every client is stopped and closed at the end of the test, before any server of the
    test (server_factory) is stopped.
    """
    clients = []

    def make(srv=None, hosts=None, timeout=10.0, start=True, **kw):
        c = make_client(hosts or (srv or server).hostport, timeout=timeout, start=False, **kw)
        clients.append(c)
        if start:
            c.start(timeout=15)
        return c

    yield make
    for c in reversed(clients):
        stop_client(c)


@pytest.fixture
def zk(zk_factory):
    return zk_factory()


@pytest.fixture
def path():
    """A fresh top-level path (not created)."""
    return uniq()


class WireLog:
    """Records what kazoo's connection thread reads, in arrival order.

    Entries are ("event", type, path, zxid) for watch notifications (xid -1) and
    ("reply", request_class_name, request_path, zxid, err) for replies to normal requests.
    Because it hooks the frame reader, it sees exactly what the server sent (kazoo's own
    client-side watcher bookkeeping would hide a duplicate notification).
    """

    def __init__(self, client):
        self.client = client
        self.entries = []
        conn = client._connection
        orig = conn._read_header

        def read_header(timeout):
            header, buf, offset = orig(timeout)
            if header.xid == -1:
                w, _ = Watch.deserialize(buf, offset)
                self.entries.append(("event", w.type, w.path, header.zxid))
            elif header.xid > 0:
                pending = client._pending
                req = pending[0][0] if pending else None
                self.entries.append(("reply", type(req).__name__, getattr(req, "path", None),
                                     header.zxid, header.err))
            return header, buf, offset

        conn._read_header = read_header

    def events(self, path=None):
        return [(e[1], e[2]) for e in list(self.entries)
                if e[0] == "event" and (path is None or e[2] == path)]

    def index(self, pred):
        for i, e in enumerate(list(self.entries)):
            if pred(e):
                return i
        return -1


def event_barrier(observer, writer, log):
    """Make sure every notification the server sent `observer` before now has been read.

    Leaves an exists watch on a fresh path, creates it with `writer`, and waits for the
    NodeCreated event in `log`. Notifications of one connection arrive in order, so anything
    sent earlier has been read by then. Returns the barrier path (deleted again).
    """
    p = uniq("/barrier")
    assert observer.exists(p, watch=lambda e: None) is None
    writer.create(p)
    wait_until(lambda: (EV_CREATED, p) in log.events(p), msg="barrier event for %s" % p)
    writer.delete(p)
    return p


class TcpProxy:
    """A loopback TCP forwarder in front of a server. cut() closes the listening port and every
    forwarded connection, so a client behind it loses the server without closing its session
    (as when a client host dies or is partitioned away)."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.lsock.settimeout(0.05)
        self.port = self.lsock.getsockname()[1]
        self.socks = []
        self.lock = threading.Lock()
        self.closed = False
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    @property
    def hostport(self):
        return "127.0.0.1:%d" % self.port

    def _accept_loop(self):
        while not self.closed:
            try:
                cs, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                us = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                us.settimeout(None)
                cs.settimeout(None)
            except OSError:
                cs.close()
                continue
            with self.lock:
                if self.closed:
                    cs.close()
                    us.close()
                    return
                self.socks += [cs, us]
            for a, b in ((cs, us), (us, cs)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                d = src.recv(65536)
                if not d:
                    break
                dst.sendall(d)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        with self.lock:
            self.closed = True
            socks, self.socks = self.socks, []
        try:
            self.lsock.close()
        except OSError:
            pass
        self.thread.join(5)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


@pytest.fixture
def proxy_factory():
    proxies = []

    def make(srv):
        p = TcpProxy(srv.port)
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        p.cut()


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        d = sock.recv(n - len(buf))
        if not d:
            raise ConnectionError("closed after %d of %d bytes" % (len(buf), n))
        buf += d
    return buf


def raw_handshake(port, timeout_ms, session_id=0, passwd=b"\0" * 16, read_only_byte=True,
                  close_session=True):
    """Send a ConnectRequest by hand and return the decoded ConnectResponse as a dict
    (keys: length, protocol_version, timeout, session_id, passwd, read_only).

    With close_session (and a session granted), a closeSession request follows, so no
    session is left behind.
    """
    body = struct.pack("!iqiq", 0, 0, timeout_ms, session_id)
    body += struct.pack("!i", len(passwd)) + passwd
    if read_only_byte:
        body += b"\0"
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(struct.pack("!i", len(body)) + body)
        n = struct.unpack("!i", _recv_exact(s, 4))[0]
        payload = _recv_exact(s, n)
        proto, to, sid, pwlen = struct.unpack_from("!iiqi", payload, 0)
        pw = payload[20:20 + pwlen]
        rest = payload[20 + pwlen:]
        res = dict(length=n, protocol_version=proto, timeout=to, session_id=sid, passwd=pw,
                   read_only=(rest[0] != 0) if rest else None)
        if close_session and to > 0:
            s.sendall(struct.pack("!iii", 8, 1, -11))
            hdr = _recv_exact(s, 4)
            _recv_exact(s, struct.unpack("!i", hdr)[0])
        return res
    finally:
        s.close()
