"""kazoo against the server: watch notifications, their one-shot nature, ordering against
replies, and the DataWatch/ChildrenWatch recipes.

Server behaviour is read from WireLog (every notification frame as it arrives), because
kazoo's own watcher bookkeeping would silently swallow a duplicate notification.
"""
import threading

import pytest
from kazoo.exceptions import NoNodeError
from kazoo.protocol.states import WatchedEvent
from kazoo.security import OPEN_ACL_UNSAFE, make_digest_acl

from test_kazoo_helpers import (EV_CHANGED, EV_CHILD, EV_CREATED, EV_DELETED, IS_ZKD, WireLog,
                                event_barrier, wait_until)
from test_kazoo_helpers import path, zk, zk_factory  # noqa: F401  (fixtures)


@pytest.fixture
def ab(zk_factory):
    """(writer, observer, observer's WireLog)"""
    a = zk_factory()
    b = zk_factory()
    return a, b, WireLog(b)


def test_data_watch_one_shot(ab, path):
    a, b, log = ab
    a.create(path, b"0")
    seen = []
    assert b.get(path, watch=seen.append)[0] == b"0"
    a.set(path, b"1")
    a.set(path, b"2")
    event_barrier(b, a, log)
    assert log.events(path) == [(EV_CHANGED, path)]
    wait_until(lambda: seen)
    assert seen == [WatchedEvent("CHANGED", "CONNECTED", path)]
    # a new watch fires again, here for the deletion
    assert b.get(path, watch=seen.append)[0] == b"2"
    a.delete(path)
    wait_until(lambda: len(seen) == 2)
    assert seen[1] == WatchedEvent("DELETED", "CONNECTED", path)
    event_barrier(b, a, log)
    assert log.events(path) == [(EV_CHANGED, path), (EV_DELETED, path)]


def test_exists_watch_on_missing_node(ab, path):
    a, b, log = ab
    seen = []
    assert b.exists(path, watch=seen.append) is None  # NONODE, but the watch stays
    a.create(path, b"x")
    wait_until(lambda: seen)
    assert seen == [WatchedEvent("CREATED", "CONNECTED", path)]
    a.set(path, b"y")  # consumed: no second event
    event_barrier(b, a, log)
    assert log.events(path) == [(EV_CREATED, path)]
    # on an existing node the exists watch is a data watch
    assert b.exists(path, watch=seen.append).version == 1
    a.set(path, b"z")
    wait_until(lambda: len(seen) == 2)
    assert b.exists(path, watch=seen.append).version == 2
    a.delete(path)
    wait_until(lambda: len(seen) == 3)
    assert [e.type for e in seen] == ["CREATED", "CHANGED", "DELETED"]
    event_barrier(b, a, log)
    assert log.events(path) == [(EV_CREATED, path), (EV_CHANGED, path), (EV_DELETED, path)]


def test_child_watch(ab, path):
    a, b, log = ab
    a.create(path)
    seen = []
    assert b.get_children(path, watch=seen.append) == []
    a.create(path + "/c1")
    wait_until(lambda: seen)
    assert seen == [WatchedEvent("CHILD", "CONNECTED", path)]
    assert b.get_children(path, watch=seen.append) == ["c1"]
    a.set(path + "/c1", b"data")  # a child's data is not the parent's children
    a.set(path, b"data")          # nor is the parent's own data
    a.create(path + "/c1/grandchild")
    event_barrier(b, a, log)
    assert log.events(path) == [(EV_CHILD, path)]
    a.delete(path + "/c1/grandchild")
    a.delete(path + "/c1")
    wait_until(lambda: len(seen) == 2)
    assert seen[1] == WatchedEvent("CHILD", "CONNECTED", path)
    # a child watch on a node that is deleted gets NodeDeleted
    assert b.get_children(path, watch=seen.append) == []
    a.delete(path)
    wait_until(lambda: len(seen) == 3)
    assert seen[2] == WatchedEvent("DELETED", "CONNECTED", path)
    event_barrier(b, a, log)
    assert log.events(path) == [(EV_CHILD, path), (EV_CHILD, path), (EV_DELETED, path)]


def test_child_watch_on_root(ab, path):
    a, b, log = ab
    seen = []
    b.get_children("/", watch=seen.append)
    a.create(path)
    wait_until(lambda: seen)
    assert seen == [WatchedEvent("CHILD", "CONNECTED", "/")]
    assert (EV_CHILD, "/") in log.events("/")


def test_failed_reads_leave_no_watch(ab, path):
    a, b, log = ab
    seen = []
    with pytest.raises(NoNodeError):
        b.get(path, watch=seen.append)
    with pytest.raises(NoNodeError):
        b.get_children(path, watch=seen.append)
    a.create(path)
    a.create(path + "/c")
    a.set(path, b"x")
    event_barrier(b, a, log)
    assert log.events(path) == []


def test_one_event_per_connection_and_action(ab, path):
    a, b, log = ab
    a.create(path)
    # data watch (get), exist watch (exists) and child watch on the same node, all from one
    # connection: the server sends that connection a single notification per change
    b.get(path, watch=lambda e: None)
    b.exists(path, watch=lambda e: None)
    b.get_children(path, watch=lambda e: None)
    a.set(path, b"1")
    event_barrier(b, a, log)
    assert log.events(path) == [(EV_CHANGED, path)]
    b.get(path, watch=lambda e: None)
    b.exists(path, watch=lambda e: None)
    a.delete(path)  # the child watch is still armed too
    event_barrier(b, a, log)
    assert log.events(path) == [(EV_CHANGED, path), (EV_DELETED, path)]


def test_watch_fires_for_every_watching_client(zk_factory, path):
    a = zk_factory()
    watchers = [zk_factory() for _ in range(3)]
    a.create(path)
    fired = [threading.Event() for _ in watchers]
    for c, ev in zip(watchers, fired):
        c.get(path, watch=lambda e, ev=ev: e.type == "CHANGED" and ev.set())
    a.set(path, b"x")
    assert all(ev.wait(10) for ev in fired)


def test_set_acls_fires_no_watch(ab, path):
    a, b, log = ab
    a.create(path)
    seen = []
    b.get(path, watch=seen.append)
    b.get_children(path, watch=seen.append)
    a.set_acls(path, OPEN_ACL_UNSAFE)
    event_barrier(b, a, log)
    assert log.events(path) == []
    a.set(path, b"x")  # the data watch was still armed
    wait_until(lambda: seen)
    assert seen == [WatchedEvent("CHANGED", "CONNECTED", path)]


def test_event_precedes_reply_showing_the_change(ab, path):
    a, b, log = ab
    a.create(path, b"old")
    b.get(path, watch=lambda e: None)
    a.set(path, b"new")
    # a's write has completed, so b's next read shows it; the notification must have been
    # sent to b before that reply
    data, _ = b.get(path)
    assert data == b"new"
    entries = list(log.entries)
    i_event = next(i for i, e in enumerate(entries) if e[:3] == ("event", EV_CHANGED, path))
    i_reply = max(i for i, e in enumerate(entries) if e[:3] == ("reply", "GetData", path))
    assert i_event < i_reply, entries


def test_event_precedes_reply_to_own_write(zk, path):
    log = WireLog(zk)
    zk.create(path, b"old")
    zk.get(path, watch=lambda e: None)
    zk.get_children(path, watch=lambda e: None)
    zk.set(path, b"new")
    zk.create(path + "/c")
    entries = list(log.entries)
    i_ev_data = next(i for i, e in enumerate(entries) if e[:3] == ("event", EV_CHANGED, path))
    i_set = next(i for i, e in enumerate(entries) if e[:3] == ("reply", "SetData", path))
    i_ev_child = next(i for i, e in enumerate(entries) if e[:3] == ("event", EV_CHILD, path))
    i_create = next(i for i, e in enumerate(entries) if e[:3] == ("reply", "Create", path + "/c"))
    assert i_ev_data < i_set < i_ev_child < i_create, entries


def test_watch_event_zxid(ab, path):
    a, b, log = ab
    a.create(path)
    b.get(path, watch=lambda e: None)
    st = a.set(path, b"x")
    wait_until(lambda: log.events(path))
    zxid = next(e[3] for e in log.entries if e[0] == "event" and e[2] == path)
    if IS_ZKD:
        # ZooKeeper 3.9 puts the zxid of the triggering txn in the notification header
        # (reference/protocol.md §9)
        assert zxid == st.mzxid
    else:
        # ZooKeeper 3.8 always sends -1
        assert zxid == -1


def test_watch_event_after_losing_read_permission(zk_factory, path):
    owner = zk_factory(auth_data=[("digest", "o:o")])
    b = zk_factory()
    log = WireLog(b)
    owner.create(path, b"0")
    b.get(path, watch=lambda e: None)  # readable by everyone when the watch is set
    owner.set_acls(path, [make_digest_acl("o", "o", all=True)])
    owner.set(path, b"1")
    event_barrier(b, owner, log)
    # The notification is dropped for a connection that lacks READ on the node when the
    # watch fires. reference/protocol.md §9 dates this to 3.8.4/3.9.2, but Apache ZooKeeper
    # 3.8.0 already does it.
    assert log.events(path) == []


def test_transaction_fires_watches_after_apply(ab, path):
    a, b, log = ab
    a.create(path)
    a.create(path + "/d", b"0")
    b.get(path + "/d", watch=lambda e: None)
    b.get_children(path, watch=lambda e: None)
    b.exists(path + "/new", watch=lambda e: None)
    tx = a.transaction()
    tx.create(path + "/new")
    tx.set_data(path + "/d", b"1")
    tx.set_data(path + "/d", b"2")
    tx.delete(path + "/new")
    tx.create(path + "/new", b"again")
    assert len(tx.commit()) == 5
    event_barrier(b, a, log)
    evs = log.events(path) + log.events(path + "/d") + log.events(path + "/new")
    # every watch fires once: the exist watch on /new with its first event (created), the
    # data watch once although /d was set twice, the child watch once
    assert sorted(evs) == sorted([(EV_CHILD, path), (EV_CHANGED, path + "/d"),
                                  (EV_CREATED, path + "/new")])


def test_data_watch_recipe(zk_factory, path):
    a = zk_factory()
    b = zk_factory()
    calls = []

    @b.DataWatch(path)
    def watcher(data, stat):
        calls.append((data, stat.version if stat else None))

    wait_until(lambda: calls == [(None, None)])
    a.create(path, b"1")
    wait_until(lambda: calls[-1] == (b"1", 0))
    a.set(path, b"2")
    wait_until(lambda: calls[-1] == (b"2", 1))
    a.set(path, b"3")
    wait_until(lambda: calls[-1] == (b"3", 2))
    a.delete(path)
    wait_until(lambda: calls[-1] == (None, None))
    assert calls == [(None, None), (b"1", 0), (b"2", 1), (b"3", 2), (None, None)]


def test_children_watch_recipe(zk_factory, path):
    a = zk_factory()
    b = zk_factory()
    a.create(path)
    calls = []

    @b.ChildrenWatch(path)
    def watcher(children):
        calls.append(sorted(children))

    wait_until(lambda: calls == [[]])
    a.create(path + "/c1")
    wait_until(lambda: calls[-1] == ["c1"])
    a.create(path + "/c2")
    wait_until(lambda: calls[-1] == ["c1", "c2"])
    a.set(path + "/c1", b"data change is not a children change")
    a.delete(path + "/c1")
    wait_until(lambda: calls[-1] == ["c2"])
    assert calls == [[], ["c1"], ["c1", "c2"], ["c2"]]
