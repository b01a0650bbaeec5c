"""kazoo against the server: multi transactions (client.transaction())."""
import pytest
from kazoo.exceptions import (BadArgumentsError, BadVersionError, NodeExistsError, NoNodeError,
                              NotEmptyError, RolledBackError, RuntimeInconsistency)

from test_kazoo_helpers import path, zk, zk_factory  # noqa: F401  (fixtures)


def types(results):
    return [type(r) for r in results]


def test_txn_success_results(zk, path):
    zk.create(path)
    zk.create(path + "/a", b"0")
    zk.create(path + "/del")
    tx = zk.transaction()
    tx.check(path + "/a", 0)
    tx.create(path + "/new", b"n")
    tx.set_data(path + "/a", b"1")
    tx.delete(path + "/del")
    tx.create(path + "/s-", b"", sequence=True)
    tx.create(path + "/eph", ephemeral=True)
    res = tx.commit()
    assert len(res) == 6
    assert res[0] is True
    assert res[1] == path + "/new"
    st_a = zk.exists(path + "/a")
    assert res[2] == st_a
    assert (st_a.version, st_a.dataLength) == (1, 1)
    assert res[3] is True
    assert res[4] == path + "/s-0000000003"  # a, del, new were created before: counter 3
    assert res[5] == path + "/eph"
    # all ops of a multi share one zxid and one timestamp
    st_new = zk.exists(path + "/new")
    st_seq = zk.exists(res[4])
    st_eph = zk.exists(path + "/eph")
    parent = zk.exists(path)
    assert st_new.czxid == st_a.mzxid == st_seq.czxid == st_eph.czxid == parent.pzxid
    assert st_new.ctime == st_a.mtime == st_seq.ctime == st_eph.ctime
    assert st_eph.ephemeralOwner == zk.client_id[0] and st_new.ephemeralOwner == 0
    assert zk.exists(path + "/del") is None
    # 5 creates + 1 delete
    assert (parent.cversion, parent.numChildren) == (6, 4)
    assert zk.get(path + "/new")[0] == b"n"


def test_txn_all_or_nothing(zk, path):
    zk.create(path)
    zk.create(path + "/a", b"0")
    before_parent = zk.exists(path)
    before_a = zk.get(path + "/a")
    tx = zk.transaction()
    tx.create(path + "/new", b"n")
    tx.create(path + "/s-", sequence=True)
    tx.set_data(path + "/a", b"x", version=5)
    tx.delete(path + "/a")
    tx.check(path + "/a", 0)
    res = tx.commit()
    # before the failing op: RolledBack (code 0); the failing op: its error; after it:
    # RuntimeInconsistency (code -2)
    assert types(res) == [RolledBackError, RolledBackError, BadVersionError,
                          RuntimeInconsistency, RuntimeInconsistency]
    assert zk.exists(path + "/new") is None
    assert zk.get_children(path) == ["a"]
    assert zk.get(path + "/a") == before_a
    assert zk.exists(path) == before_parent
    # the failed multi did not advance the parent's sequence counter
    assert zk.create(path + "/s-", sequence=True) == path + "/s-0000000001"


def test_txn_check_op(zk, path):
    zk.create(path, b"x")
    zk.set(path, b"y")
    tx = zk.transaction()
    tx.check(path, 1)
    assert tx.commit() == [True]
    tx = zk.transaction()
    tx.check(path, 0)
    tx.set_data(path, b"z")
    assert types(tx.commit()) == [BadVersionError, RuntimeInconsistency]
    assert zk.get(path)[0] == b"y"
    tx = zk.transaction()
    tx.set_data(path, b"z")
    tx.check(path + "/missing", 0)
    assert types(tx.commit()) == [RolledBackError, NoNodeError]
    assert zk.get(path)[0] == b"y"


@pytest.mark.parametrize("case", ["create_exists", "create_no_parent", "delete_missing",
                                  "delete_not_empty", "delete_bad_version", "set_missing",
                                  "delete_system_node"])
def test_txn_failure_codes(zk, path, case):
    zk.create(path + "/full/child", makepath=True)
    tx = zk.transaction()
    tx.create(path + "/first")
    exc = {
        "create_exists": lambda: (tx.create(path + "/full"), NodeExistsError),
        "create_no_parent": lambda: (tx.create(path + "/none/x"), NoNodeError),
        "delete_missing": lambda: (tx.delete(path + "/none"), NoNodeError),
        "delete_not_empty": lambda: (tx.delete(path + "/full"), NotEmptyError),
        "delete_bad_version": lambda: (tx.delete(path + "/full/child", version=3), BadVersionError),
        "set_missing": lambda: (tx.set_data(path + "/none", b""), NoNodeError),
        "delete_system_node": lambda: (tx.delete("/zookeeper/quota"), BadArgumentsError),
    }[case]()[1]
    tx.create(path + "/last")
    assert types(tx.commit()) == [RolledBackError, exc, RuntimeInconsistency]
    assert sorted(zk.get_children(path)) == ["full"]
    assert zk.exists(path).cversion == 1


def test_txn_ops_see_earlier_ops(zk, path):
    zk.create(path)
    tx = zk.transaction()
    tx.create(path + "/p")
    tx.create(path + "/p/c", b"1")       # parent created by the op before
    tx.set_data(path + "/p/c", b"2", version=0)
    tx.set_data(path + "/p/c", b"3", version=1)
    tx.check(path + "/p/c", 2)
    tx.delete(path + "/p/c", version=2)
    tx.create(path + "/p/c", b"4")       # re-created after the delete
    tx.create(path + "/tmp")
    tx.delete(path + "/tmp")
    res = tx.commit()
    assert res[0] == path + "/p" and res[1] == path + "/p/c"
    assert (res[2].version, res[3].version) == (1, 2)
    assert res[4:] == [True, True, path + "/p/c", path + "/tmp", True]
    data, st = zk.get(path + "/p/c")
    assert (data, st.version) == (b"4", 0)
    p = zk.exists(path + "/p")
    assert (p.cversion, p.numChildren) == (3, 1)
    assert zk.exists(path + "/tmp") is None
    assert zk.exists(path).cversion == 3  # p, tmp created; tmp deleted


def test_txn_empty(zk):
    assert zk.transaction().commit() == []


def test_txn_delete_then_fail_keeps_node(zk, path):
    zk.create(path + "/x", b"keep", makepath=True)
    tx = zk.transaction()
    tx.delete(path + "/x")
    tx.create(path + "/x/child")  # parent gone within the multi
    assert types(tx.commit()) == [RolledBackError, NoNodeError]
    assert zk.get(path + "/x")[0] == b"keep"


def test_txn_pipelined_with_plain_ops(zk, path):
    zk.create(path)
    r1 = zk.create_async(path + "/a")
    tx = zk.transaction()
    tx.set_data(path + "/a", b"t", version=0)
    tx.create(path + "/b")
    r2 = tx.commit_async()
    r3 = zk.get_async(path + "/a")
    assert r1.get(timeout=10) == path + "/a"
    res = r2.get(timeout=10)
    assert res[0].version == 1 and res[1] == path + "/b"
    assert r3.get(timeout=10)[0] == b"t"
