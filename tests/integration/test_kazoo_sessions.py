"""kazoo against the server: ephemerals, session close/expiry/resume, timeout negotiation.

A client "dies" by sitting behind a TcpProxy that is cut: the server sees the TCP
connection go away without a closeSession, exactly as for a crashed or partitioned client.
"""
import signal
import threading
import time

import pytest
from kazoo.exceptions import NoChildrenForEphemeralsError, NodeExistsError
from kazoo.protocol.states import KeeperState

from test_kazoo_helpers import (EV_CHILD, EV_DELETED, WireLog, event_barrier, raw_handshake,
                                track_keeper_states, wait_for_sessions, wait_until)
from test_kazoo_helpers import (fresh_server, path, proxy_factory, zk,  # noqa: F401  (fixtures)
                                zk_factory)

ZERO_PW = b"\0" * 16


def test_ephemeral_removed_on_close(zk_factory, path):
    a = zk_factory()
    b = zk_factory()
    b.create(path)
    a.create(path + "/e", b"x", ephemeral=True)
    for i in range(5):
        a.create(path + "/s-", ephemeral=True, sequence=True)
    with pytest.raises(NodeExistsError):
        b.create(path + "/e", ephemeral=True)
    log = WireLog(b)
    deleted = threading.Event()
    child = threading.Event()
    b.exists(path + "/e", watch=lambda ev: ev.type == "DELETED" and deleted.set())
    b.get_children(path, watch=lambda ev: ev.type == "CHILD" and child.set())
    czxid = b.exists(path + "/e").czxid
    a.stop()  # sends closeSession: the ephemerals are gone once the reply is back
    assert b.get_children(path) == []
    assert deleted.wait(10) and child.wait(10)
    event_barrier(b, b, log)
    # one NodeDeleted for the watched node, one NodeChildrenChanged for the parent (its
    # child watch is one-shot although six children went away)
    assert log.events(path + "/e") == [(EV_DELETED, path + "/e")]
    assert log.events(path) == [(EV_CHILD, path)]
    st = b.exists(path)
    assert (st.numChildren, st.cversion) == (0, 12)
    assert st.pzxid > czxid
    b.create(path + "/e", ephemeral=True)  # the name is free again


def test_no_children_for_ephemerals(zk, path):
    zk.create(path, ephemeral=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create(path + "/c")
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create(path + "/c", ephemeral=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create(path + "/s-", sequence=True)
    tx = zk.transaction()
    tx.create(path + "/c")
    assert [type(r) for r in tx.commit()] == [NoChildrenForEphemeralsError]
    st = zk.exists(path)
    assert (st.numChildren, st.cversion, st.ephemeralOwner) == (0, 0, zk.client_id[0])
    assert zk.get_children(path) == []


def test_session_resume_keeps_ephemerals(server, zk_factory, proxy_factory, path):
    proxy = proxy_factory(server)
    a = zk_factory(hosts=proxy.hostport, timeout=10.0)
    observer = zk_factory()
    a.create(path)
    a.create(path + "/e", b"x", ephemeral=True)
    sid, pw = a.client_id
    proxy.cut()
    wait_until(lambda: not a.connected, msg="client behind the cut proxy still connected")
    # a dropped TCP connection does not end the session
    assert observer.exists(path + "/e").ephemeralOwner == sid
    b = zk_factory(client_id=(sid, pw), timeout=10.0)
    assert b.client_id == (sid, pw)
    data, st = b.get(path + "/e")
    assert data == b"x" and st.ephemeralOwner == sid
    _, st2 = b.create(path + "/e2", ephemeral=True, include_data=True)
    assert st2.ephemeralOwner == sid
    assert sorted(observer.get_children(path)) == ["e", "e2"]
    b.stop()  # closing the resumed session removes the ephemerals of both "lives"
    assert observer.get_children(path) == []
    r = raw_handshake(server.port, 10000, session_id=sid, passwd=pw)
    assert (r["timeout"], r["session_id"], r["passwd"]) == (0, 0, ZERO_PW)


def test_resume_with_wrong_password(server, zk_factory, path):
    a = zk_factory()
    a.create(path, ephemeral=True)
    sid, pw = a.client_id
    bad_pw = bytes(x ^ 0xFF for x in pw)
    r = raw_handshake(server.port, 10000, session_id=sid, passwd=bad_pw)
    # refused: timeOut 0, sessionId 0, a zero password
    assert (r["timeout"], r["session_id"], r["passwd"]) == (0, 0, ZERO_PW)
    b = zk_factory(client_id=(sid, bad_pw), start=False)
    states = track_keeper_states(b)
    b.start(timeout=15)
    # kazoo sees the refusal as an expired session, then starts a brand-new session
    assert KeeperState.EXPIRED_SESSION in states
    assert b.connected and b.client_id[0] not in (0, sid)
    # the real session is untouched (ZooKeeper may drop a's connection when the
    # impostor connects; a then reconnects with the right password)
    assert b.exists(path).ephemeralOwner == sid
    assert a.retry(a.exists, path).ephemeralOwner == sid
    assert a.client_id[0] == sid


def test_resume_closed_session(server, zk_factory):
    a = zk_factory()
    sid, pw = a.client_id
    a.stop()
    r = raw_handshake(server.port, 10000, session_id=sid, passwd=pw)
    assert (r["timeout"], r["session_id"], r["passwd"]) == (0, 0, ZERO_PW)
    b = zk_factory(client_id=(sid, pw), start=False)
    states = track_keeper_states(b)
    b.start(timeout=15)
    assert KeeperState.EXPIRED_SESSION in states
    assert b.client_id[0] not in (0, sid)


def test_ephemerals_removed_on_session_expiry(fresh_server, zk_factory, proxy_factory, path):
    srv = fresh_server(tick_ms=200)  # session timeouts may range over 400..4000 ms
    proxy = proxy_factory(srv)
    a = zk_factory(hosts=proxy.hostport, timeout=1.0)
    b = zk_factory(srv, timeout=4.0)
    b.create(path)
    a.create(path + "/eph", ephemeral=True)
    a.create(path + "/seq-", ephemeral=True, sequence=True)
    sid, pw = a.client_id
    log = WireLog(b)
    deleted = threading.Event()
    child = threading.Event()
    b.exists(path + "/eph", watch=lambda ev: ev.type == "DELETED" and deleted.set())
    b.get_children(path, watch=lambda ev: ev.type == "CHILD" and child.set())
    t_cut = time.monotonic()
    proxy.cut()
    assert deleted.wait(15), "ephemeral not removed after the session timed out"
    elapsed = time.monotonic() - t_cut
    assert child.wait(10)
    assert b.get_children(path) == []
    # not on the disconnect itself: only once the 1 s session timed out (the last ping
    # may have been up to ~1/3 of the timeout before the cut)
    assert elapsed >= 0.4, "ephemeral removed %.2f s after the disconnect" % elapsed
    event_barrier(b, b, log)
    assert log.events(path + "/eph") == [(EV_DELETED, path + "/eph")]
    assert log.events(path) == [(EV_CHILD, path)]
    # the expired session cannot be resumed
    r = raw_handshake(srv.port, 1000, session_id=sid, passwd=pw)
    assert (r["timeout"], r["session_id"], r["passwd"]) == (0, 0, ZERO_PW)
    c = zk_factory(srv, client_id=(sid, pw), timeout=4.0, start=False)
    states = track_keeper_states(c)
    c.start(timeout=15)
    assert KeeperState.EXPIRED_SESSION in states
    assert c.client_id[0] not in (0, sid)


def test_session_survives_while_client_pings(fresh_server, zk_factory, path):
    # A live client keeps a short session alive well past its timeout.
    srv = fresh_server(tick_ms=200)
    a = zk_factory(srv, timeout=1.0)
    b = zk_factory(srv, timeout=4.0)
    a.create(path, ephemeral=True)
    sid = a.client_id[0]
    deadline = time.monotonic() + 2.5  # 2.5 session timeouts
    while time.monotonic() < deadline:
        assert b.exists(path).ephemeralOwner == sid
        time.sleep(0.2)
    assert a.client_id[0] == sid and a.connected


# ---------------------------------------------------------------------------------------
# Handshake and timeout negotiation (ConnectRequest sent by hand: kazoo does not keep the
# negotiated value)


def test_handshake_reply_and_timeout_clamping(server):
    # module server: tickTime 2000 → sessions between 2*tick = 4000 and 20*tick = 40000 ms
    for asked, granted in [(1, 4000), (1000, 4000), (3999, 4000), (4000, 4000), (10000, 10000),
                           (40000, 40000), (40001, 40000), (100000, 40000)]:
        r = raw_handshake(server.port, asked)
        assert r["timeout"] == granted, "asked %d" % asked
        assert r["protocol_version"] == 0
        assert r["session_id"] != 0
        assert len(r["passwd"]) == 16 and r["passwd"] != ZERO_PW
        assert r["length"] == 37 and r["read_only"] is False
    # an old-style ConnectRequest without the readOnly byte gets a reply without it
    r = raw_handshake(server.port, 10000, read_only_byte=False)
    assert r["length"] == 36 and r["read_only"] is None
    assert r["timeout"] == 10000 and r["session_id"] != 0


def test_timeout_bounds_small_tick(fresh_server):
    srv = fresh_server(tick_ms=200)
    assert raw_handshake(srv.port, 100)["timeout"] == 400
    assert raw_handshake(srv.port, 1000)["timeout"] == 1000
    assert raw_handshake(srv.port, 5000)["timeout"] == 4000


def test_timeout_bounds_from_config(fresh_server):
    srv = fresh_server(cfg={"minSessionTimeout": "3000", "maxSessionTimeout": "6000"})
    assert raw_handshake(srv.port, 1000)["timeout"] == 3000
    assert raw_handshake(srv.port, 5000)["timeout"] == 5000
    assert raw_handshake(srv.port, 9000)["timeout"] == 6000


def test_distinct_sessions(server, zk_factory):
    ids = set()
    pws = set()
    for _ in range(5):
        c = zk_factory()
        ids.add(c.client_id[0])
        pws.add(c.client_id[1])
    assert len(ids) == 5 and len(pws) == 5
    assert 0 not in ids


# ---------------------------------------------------------------------------------------
# Restart


def restart(srv):
    """SIGTERM the server, wait for it, start it again on the same port and dataDir."""
    srv.proc.send_signal(signal.SIGTERM)
    rc = srv.proc.wait(30)
    srv.proc = None
    if srv.kind == "zkd":
        assert rc == 0, "zkd exited with %s on SIGTERM" % rc
    srv.start()
    wait_for_sessions(srv)


def test_restart_keeps_data_and_sessions(fresh_server, zk_factory, path):
    srv = fresh_server()
    c = zk_factory(srv, timeout=10.0)  # long enough to outlive the restart
    c.create(path + "/a", b"x", makepath=True)
    c.set(path + "/a", b"y")
    c.create(path + "/s-", sequence=True)
    c.create(path + "/e", b"eph", ephemeral=True)
    c.set_acls(path + "/a", c.get_acls(path + "/a")[0])
    sid = c.client_id
    before = {p: c.get(p) for p in (path, path + "/a", path + "/s-0000000001", path + "/e")}
    restart(srv)
    wait_until(lambda: c.connected, timeout=30, msg="client did not reconnect after restart")
    # the session was persisted: the client resumed it, its ephemeral is still there
    assert c.client_id == sid
    after = {p: c.get(p) for p in before}
    assert after == before
    assert sorted(c.get_children(path)) == ["a", "e", "s-0000000001"]
    _, st = c.create(path + "/s-", sequence=True, include_data=True)
    assert c.get_children(path).count("s-0000000003") == 1  # the counter survived
    assert st.czxid > max(s.mzxid for _, s in before.values())
    c.stop()
    other = zk_factory(srv)
    assert other.exists(path + "/e") is None
